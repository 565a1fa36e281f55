"""The steps of a run: each takes its figures from the table of bars (bars.py) and measures them
with `figures.rounds`, ours against a peer.

Our server runs as shipped: `Fujita.cache_lines`, `cache_bytes` and `log_bytes` at their
defaults, so a reader behind the memory cache reads from the log on disk (in the server's own
temp data dir).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from jupyter_fujita.client import line_records

from . import inproc
from .bars import Sizes
from .bursts import (
    MARKERS,
    NEWLINE,
    WORKLOADS,
    burst_timeout,
    lost_by,
    ours_burst,
    readers_of,
    steady_rates,
    term_burst,
    unread_flood,
    until_all,
)
from .figures import Figure, Run, load, percentile, read_off, rounds, say
from .looplag import LoopLag
from .stages import parts, split, summary
from .probe import Probe, probed
from .project import LINE_BYTES, MARKER, set_mode
from .servers import LOG_WS, PYTHON, JupyterServer, SeedPeer, TermPeer
from .spy import spy
from .wsclient import SEQS, WSClient, connect

# The steps of a whole run, in order: each a method of `Bench`.
STEPS = (
    "memory", "ingest", "e2e", "fanout", "latency", "replay", "django", "flood", "stalled",
    "search", "page",
)  # fmt: skip
NEEDLE = "no-such-text-in-the-log"  # a search that finds nothing reads every line


class Bench:
    def __init__(self, folder: Path, sizes: Sizes) -> None:
        self.folder = folder
        self.sizes = sizes
        self.ours = JupyterServer(self._dir("ours"))  # the defaults a user gets
        self.term = TermPeer(self._dir("terminado"))
        self.seed = SeedPeer(self._dir("seed"), ring=sizes.replay_big + 10_000)
        self.servers: list[Any] = [self.ours, self.term, self.seed]
        self.figures: list[Figure] = []
        self.steps: dict[str, dict[str, Any]] = {}  # per step: seconds, load average before
        self._names = 0
        self.spy_dir: Path | None = None  # where py-spy's raw stacks are kept, if anywhere

    def _dir(self, name: str) -> Path:
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _name(self, prefix: str) -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    async def start(self) -> None:
        for server in self.servers:
            server.start()
        await asyncio.gather(*(server.wait_ready() for server in self.servers))

    def stop(self) -> list[int]:
        killed = []
        for server in self.servers:
            killed += server.stop()
        return killed

    async def run(self, only: set[str] | None = None) -> list[Figure]:
        for name in STEPS:
            if only and name not in only:
                continue
            say(f"-- {name}")
            started = time.monotonic()
            self.steps[name] = {"loadavg_before": load()}
            await getattr(self, name)()
            self.steps[name]["seconds"] = time.monotonic() - started
            say(f"   {self.steps[name]['seconds']:.1f} s")
            for server in self.servers:
                server.remember_descendants()
        return self.figures

    def figure(self, key: str) -> Figure:
        """The figure the table of bars names `key`: made on first use, the same one after."""
        made = Figure.of(key, self.sizes)
        for figure in self.figures:
            if figure.key == made.key:
                return figure
        self.figures.append(made)
        return made

    async def spy(self, figure: Figure, run: Any, pid: int | None = None) -> None:
        """Where our server's time went in one more run (spy.py), in our server's process or
        `pid`'s; a quick run does without, unless it writes the page."""
        if self.sizes.rounds >= 3 or self.spy_dir is not None:
            pid = self.ours.proc.pid if pid is None else pid
            await spy(figure, pid, run, self.folder, self.spy_dir)

    # -- in the bench's process --------------------------------------------------------------------

    async def memory(self) -> None:
        s = self.sizes
        fig = self.figure("memory_per_line")

        async def ours() -> Run:
            return inproc.traced_ours(s.memory_lines)

        async def lean() -> Run:
            return inproc.traced_lean(s.memory_lines)

        await rounds(fig, s.rounds, (None, ours), (None, lean))
        fig.detail["lines"] = s.memory_lines
        fig.detail["how"] = "bytes Python allocated per line held (tracemalloc), in-process"
        fig.detail["parts"] = inproc.parts()

    async def ingest(self) -> None:
        s = self.sizes
        for work in WORKLOADS:
            fig = self.figure(f"ingest_{work.name}")
            args = (self.ours.project, work.mode, work.stream, s.ingest_lines)

            async def ours(a: tuple = args) -> Run:
                return await inproc.ingest_ours(*a)

            async def seed(a: tuple = args) -> Run:
                return await inproc.ingest_seed(*a)

            await rounds(
                fig,
                s.rounds,
                (None, lambda run=ours: inproc.collected(run)),
                (None, lambda run=seed: inproc.collected(run)),
            )
            fig.detail["lines"] = s.ingest_lines
            for side, run in (("ours", ours), ("peer", seed)):
                fig.detail[f"profile_{side}"] = await inproc.profiled(run, s.ingest_lines)
            await self.spy(fig, ours, os.getpid())  # ours runs in the bench's own process

    # -- end to end ------------------------------------------------------------------------------

    async def e2e(self) -> None:
        await self._end_to_end(1, self.sizes.e2e_lines, self.sizes.rounds)

    async def fanout(self) -> None:
        s = self.sizes
        await self._end_to_end(s.clients, s.fanout_lines, s.heavy_rounds)

    async def _end_to_end(self, clients: int, lines: int, count: int) -> None:
        """Each workload to `clients` clients of ours and of one terminado terminal."""
        for work in WORKLOADS:
            many = "e2e_{clients}_clients_" if clients > 1 else "e2e_1_client_"
            fig = self.figure(many + work.name)

            async def ours(w: Any = work) -> Run:
                return await ours_burst(self.ours, w, lines, clients=clients)

            async def peer(w: Any = work) -> Run:
                return await term_burst(self.term, self._name("burst"), w, lines, clients)

            await rounds(fig, count, (self.ours, ours), (self.term, peer))
            fig.detail["lines_per_client" if clients > 1 else "lines"] = lines
            await self.spy(fig, ours)

    # -- latency at 10 lines/s -------------------------------------------------------------------

    async def latency(self) -> None:
        s = self.sizes
        p50, p99 = self.figure("latency_p50"), self.figure("latency_p99")
        ours = (self.ours, lambda: self._latency(self.ours, s.latency_lines))
        peer = (self.seed, lambda: self._latency(self.seed, s.latency_lines))
        runs = await rounds(p50, s.rounds, ours, peer)
        for a, b in runs:
            a.extra["p99"] = percentile(a.extra["samples"], 99)
            b.extra["p99"] = percentile(b.extra["samples"], 99)
        read_off(p99, runs, "p99")
        pooled = {
            "ours": [ms for a, _ in runs for ms in a.extra["samples"]],
            "peer": [ms for _, b in runs for ms in b.extra["samples"]],
        }
        for fig, q in ((p50, 50), (p99, 99)):
            fig.ours_value = percentile(pooled["ours"], q)
            fig.peer_value = percentile(pooled["peer"], q)
            fig.value_is = f"p{q} of all rounds' samples ({len(pooled['ours'])} a side)"
            fig.judge()
        p99.detail["stages"] = {
            who: summary(
                [row for run in side for row in run.extra["stages"]], side[0].extra["parts"]
            )
            for who, side in (("ours", [a for a, _ in runs]), ("peer", [b for _, b in runs]))
        }

    async def _latency(self, server: Any, count: int) -> Run:
        ours = server is self.ours
        base = (await server.status())["last_seq"]
        set_mode(server.project, "paced", lines=count, interval=0.1)
        sent: dict[int, float] = {}
        received: dict[int, float] = {}
        done = asyncio.get_running_loop().create_future()

        def on_message(client: WSClient, payload: bytes, now: float) -> None:
            for line in line_records(json.loads(payload).get("lines", [])):
                words = line["text"].split(" ", 4)
                if words[0] == MARKER and words[1] == "lat":
                    index = int(words[3])
                    if index > 0:  # the first line rides the spawn
                        sent[index], received[index] = float(words[2]), now
            if len(received) >= count - 1 and not done.done():
                done.set_result(None)

        path = f"{LOG_WS}?since={base}" if ours else f"/ws?since={base}"
        await server.fetch(server.stages_path, "POST")
        client = await connect(server.port, path, server.headers, on_message=on_message)
        await (server.start_child(0) if ours else server.start_child())
        try:
            await asyncio.wait_for(done, 30 + count * 0.2)
        finally:
            client.close()
            seen = await server.fetch(server.stages_path)
        await server.wait_child_ended()
        samples = [(received[i] - sent[i]) * 1000 for i in sorted(received)]
        return Run(
            percentile(samples, 50),
            max(0, count - 1 - len(samples)),
            {"samples": samples, "stages": split(sent, received, seen), "parts": parts(seen)},
        )

    # -- replay ----------------------------------------------------------------------------------

    async def replay(self) -> None:
        s = self.sizes
        small, big = self.figure("replay_10k"), self.figure("replay_100k_blocking")
        await ours_burst(self.ours, MARKERS, s.replay_big)
        ours_last = (await self.ours.status())["last_seq"]
        set_mode(self.seed.project, "burst", lines=s.replay_big)
        await self.seed.start_child()
        seed_last = (await self.seed.wait_child_ended())["last_seq"]
        ours_ws = (self.ours.port, LOG_WS, self.ours.headers, ours_last)
        seed_ws = (self.seed.port, "/ws", {}, seed_last)

        async def took(ws: tuple, count: int) -> Run:
            t0 = time.monotonic()
            t1, lost = await self._replay(*ws, count)
            return Run((t1 - t0) * 1000, lost)

        async def blocked(ws: tuple, probe_path: str, token: str) -> Run:
            probe = Probe(self.folder, ws[0], probe_path, token)
            result: dict = {}

            async def work() -> tuple[float, float]:
                t0 = time.monotonic()
                t1, result["lost"] = await self._replay(*ws, s.replay_big)
                return t0, t1

            latencies, t0, t1 = await probed(probe, work)
            return Run(max(latencies) * 1000, result["lost"], {"replay_ms": (t1 - t0) * 1000})

        await rounds(
            small,
            s.rounds,
            (self.ours, lambda: took(ours_ws, s.replay_small)),
            (self.seed, lambda: took(seed_ws, s.replay_small)),
        )
        runs = await rounds(
            big,
            s.rounds,
            (self.ours, lambda: blocked(ours_ws, "/api/status", self.ours.token)),
            (self.seed, lambda: blocked(seed_ws, "/status", "")),
        )
        big.detail["replay_100k_ms"] = {
            "ours": [a.extra["replay_ms"] for a, _ in runs],
            "peer": [b.extra["replay_ms"] for _, b in runs],
        }

    async def _replay(
        self, port: int, path: str, headers: dict, last: int, count: int
    ) -> tuple[float, int]:
        """When `count` replayed lines had arrived at a new client, and how many it lost."""
        since = last - count
        client = await connect(port, f"{path}?since={since}", headers, pattern=SEQS, since=since)
        try:
            t1 = await until_all([client.expect(count)], burst_timeout(count), [client])
        finally:
            client.close()
        return t1 or time.monotonic(), lost_by([client], count)

    # -- the real path: a Django view under runserver; then idle ---------------------------------

    async def django(self) -> None:
        s = self.sizes
        fig = self.figure("e2e_django_view")
        server = self.ours
        set_mode(server.project, "django")
        set_mode(self.term.project, "django")
        status = await server.start_child(wait=60)
        if status["state"] != "running":
            raise RuntimeError(f"Django did not start under jupyter_fujita: {status}")
        term_name = self._name("django")
        term_client = await connect(self.term.port, f"/websocket/{term_name}", pattern=NEWLINE)
        http = AsyncHTTPClient()
        lines = s.django_lines

        async def ours() -> Run:
            base = (await server.status())["last_seq"]
            [client] = await readers_of(server, base, MARKERS.marker)
            try:
                done = client.expect(lines)
                await http.fetch(django_burst_request(server.django_port, lines))
                end = await until_all([done], burst_timeout(lines), [client])
                rate = steady_rates([client], end or time.monotonic())["rate"]
            finally:
                client.close()
            return Run(rate, lost_by([client], lines))

        async def peer() -> Run:
            term_client.count, term_client.first_hit_time = 0, None
            done = term_client.expect(lines)
            await http.fetch(django_burst_request(self.term.django_port, lines))
            end = await until_all([done], burst_timeout(lines), [term_client])
            rate = steady_rates([term_client], end or time.monotonic())["rate"]
            await asyncio.sleep(0.2)  # the request's log line, after the burst
            return Run(rate, max(0, lines - term_client.count))

        try:
            await wait_port(self.term.django_port, 60)
            await asyncio.sleep(0.5)  # its start-up lines are through
            await rounds(fig, s.heavy_rounds, (server, ours), (self.term, peer))
            fig.detail["lines"] = lines
            await self.spy(fig, ours)
            await self.idle(term_name)
        finally:
            term_client.close()
            await self.term.kill(term_name)
            await server.stop_child()

    async def idle(self, term_name: str) -> None:
        """Django quiet under each, 3 clients each, both servers' CPU over the same window."""
        s = self.sizes
        fig = self.figure("idle_cpu")
        server = self.ours
        base = (await server.status())["last_seq"]
        clients = [
            await connect(server.port, f"{LOG_WS}?since={base}", server.headers) for _ in range(3)
        ]
        # terminado has one client on this terminal already: two more make three
        clients += [await connect(self.term.port, f"/websocket/{term_name}") for _ in range(2)]
        try:
            await asyncio.sleep(1.0)
            window = s.idle_seconds / s.idle_windows
            start = (server.cpu_seconds(), self.term.cpu_seconds())
            for _ in range(s.idle_windows):
                # both servers in the same window: not a rounds() pair, measured side by side
                before = (server.cpu_seconds(), self.term.cpu_seconds())
                await asyncio.sleep(window)
                after = (server.cpu_seconds(), self.term.cpu_seconds())
                ours, peer = ((a - b) / window * 100 for a, b in zip(after, before, strict=True))
                fig.ours.append(ours)
                fig.peer.append(peer)
                fig.lost["ours"].append(None)  # no line flows: none to lose
                fig.lost["peer"].append(None)
            end = (server.cpu_seconds(), self.term.cpu_seconds())
            fig.ours_value = (end[0] - start[0]) / s.idle_seconds * 100
            fig.peer_value = (end[1] - start[1]) / s.idle_seconds * 100
            fig.value_is = f"CPU over the whole {s.idle_seconds:g} s window (psutil)"
            fig.judge()
            say(f"   ours {fig.ours_value:.2f}%  terminado {fig.peer_value:.2f}%")
        finally:
            for client in clients:
                client.close()

    # -- floods: Jupyter stays usable, a reader loses nothing, the loop is not held up -----------

    def _loop_stalls(self, runs: list, during: str) -> None:
        """The longest loop stalls of these rounds, into the figure of all of them, with what
        held our server's loop (looplag.py)."""
        stall, disk = self.figure("loop_stall"), self.figure("loop_disk")
        held = Counter({row["stack"]: row["looks"] for row in stall.detail.get("held_in", ())})
        for a, b in runs:
            stall.add(
                Run(a.extra["stall_ms"], cpu=a.cpu),
                None if b is None else Run(b.extra["stall_ms"], cpu=b.cpu),
            )
            stall.detail.setdefault("during", []).append(during)
            stall.detail.setdefault("over_20ms", []).append(a.extra["over_20ms"])
            stall.detail.setdefault("busy_ms", []).append(a.extra["busy_ms"])
            stall.detail.setdefault("longest_cpu_ms", []).append(a.extra["longest_cpu_ms"])
            stall.detail.setdefault("longest_queued_ms", []).append(a.extra["longest_queued_ms"])
            moved = a.extra["disk"]
            disk.add(Run((moved["loop_read"] + moved["loop_written"]) / 1e3, cpu=a.cpu))
            disk.detail.setdefault("during", []).append(during)
            for what in ("read", "written"):  # the log's writer and readers: the disk is used
                others = (moved[f"process_{what}"] - moved[f"loop_{what}"]) / 1e3
                disk.detail.setdefault(f"other_threads_{what}_kb", []).append(others)
            held.update({row["stack"]: row["looks"] for row in a.extra["held_in"]})
            stall.detail.setdefault("gc_ms", []).append(max(a.extra["gc_ms"]))
            slow = stall.detail.setdefault("slow_callbacks", {})
            for row in a.extra["slow_callbacks"]:
                kept = slow.setdefault(row["callback"], {"count": 0, "ms": 0.0, "cpu_ms": 0.0})
                kept["count"] += row["count"]
                if row["ms"] > kept["ms"]:
                    kept["ms"], kept["cpu_ms"] = row["ms"], row["cpu_ms"]
        stall.detail["held_in"] = [{"stack": k, "looks": n} for k, n in held.most_common(8)]
        stall.show_worst()
        disk.show_worst()

    async def flood(self) -> None:
        s = self.sizes
        p99, reader = self.figure("status_p99_flood"), self.figure("flood_reader")
        server = self.ours

        def probe() -> Probe:
            return Probe(self.folder, server.port, "/api/status", server.token, interval=0.01)

        async def ours() -> Run:
            result: dict = {}

            async def work() -> tuple[float, float]:
                t0 = time.monotonic()
                result["run"] = await ours_burst(server, MARKERS, s.flood_lines)
                return t0, t0 + result["run"].extra["seconds"]

            async with LoopLag(server) as lag:
                latencies, t0, t1 = await probed(probe(), work)
            run = result["run"]
            extra = {**run.extra, "flood_s": t1 - t0, **lag.stall}
            return Run(percentile(latencies, 99) * 1000, run.lost, extra)

        async def peer() -> Run:
            flood: dict = {}

            async def work() -> tuple[float, float]:
                flood.update(await self._terminal_flood(s.flood_lines))
                return flood["t0"], flood["t1"]

            async with LoopLag(server) as lag:
                latencies, t0, t1 = await probed(probe(), work)
            extra = {"rate": flood["rate"], "flood_s": t1 - t0, **lag.stall}
            return Run(percentile(latencies, 99) * 1000, flood["lost"], extra)

        runs = await rounds(p99, s.heavy_rounds, (server, ours), (server, peer))
        read_off(reader, runs, "rate")
        self._loop_stalls(runs, f"{s.flood_lines:,}-line flood, 1 client reading")

    async def _terminal_flood(self, lines: int) -> dict[str, Any]:
        """The same child run from a Jupyter terminal, one client reading: its start and end,
        its lines/s from the first marker line on, and the lines the client did not get."""
        server = self.ours
        set_mode(server.project, "burst", lines=lines)
        name = (await server.fetch("/api/terminals", "POST"))["name"]
        ended = asyncio.get_running_loop().create_future()
        prompt = asyncio.get_running_loop().create_future()
        first: list[tuple[float, int]] = []  # when the first marker came, and the count then
        marker = MARKER.encode()

        def on_message(client: WSClient, payload: bytes, now: float) -> None:
            if payload.startswith(b'["disconnect"') and not ended.done():
                ended.set_result(now)
            elif payload.startswith(b'["stdout"') and not prompt.done():
                prompt.set_result(now)
            elif not first and marker in payload:
                first.append((now, client.count))

        client = await connect(
            server.port,
            f"/terminals/websocket/{name}",
            server.headers,
            pattern=NEWLINE,
            on_message=on_message,
        )
        try:
            await asyncio.wait_for(prompt, 30)
            await asyncio.sleep(0.3)
            command = f"cd {server.project} && exec {PYTHON} manage.py runserver x\r"
            client.count = 0  # the prompt's lines are not the flood's
            t0 = time.monotonic()
            client.send_text(json.dumps(["stdin", command]))
            t1 = await asyncio.wait_for(ended, burst_timeout(lines))
        finally:
            client.close()
            try:
                await server.fetch(f"/api/terminals/{name}", "DELETE")
            except Exception:  # noqa: BLE001 - already gone with its process
                pass
        # the count holds the command's echo too: a line or two more than the flood's
        start, before = first[0] if first else (t0, 0)
        rate = (client.count - before) / (t1 - start) if t1 > start else 0.0
        return {"t0": t0, "t1": t1, "rate": rate, "lost": max(0, lines - client.count)}

    # -- a client that stops reading -------------------------------------------------------------

    async def stalled(self) -> None:
        s = self.sizes
        server = self.ours
        growth, others = self.figure("stalled_rss_growth"), self.figure("stalled_others_rate")
        await ours_burst(server, MARKERS, 1_000)  # warm
        await asyncio.sleep(0.2)
        baseline = server.rss()  # before this step's floods: theirs count too

        async def sleeper() -> Run:
            async with LoopLag(server) as lag:
                flood = await unread_flood(server, s.stall_lines)
            extra = {"seconds": flood["seconds"], **lag.stall}
            return Run((max(flood["rss"]) - baseline) / 1e6, extra=extra)

        runs = await rounds(growth, s.heavy_rounds, (server, sleeper))
        growth.show_worst()
        growth.detail["baseline_rss_mb"] = baseline / 1e6
        growth.detail["flood_seconds"] = [a.extra["seconds"] for a, _ in runs]
        self._loop_stalls(runs, f"{s.stall_lines:,}-line flood, 1 client stalled")

        async def with_stalled(stalled: int) -> Run:
            run = await ours_burst(server, MARKERS, s.flood_lines, clients=2, stalled=stalled)
            return Run(run.extra["rate"], run.lost, run.extra)

        await rounds(
            others,
            s.heavy_rounds,
            (server, lambda: with_stalled(1)),
            (server, lambda: with_stalled(0)),
        )

    # -- search over all of the log, on disk -----------------------------------------------------

    async def search(self) -> None:
        s = self.sizes
        fig = self.figure("search_disk")
        server = self.ours
        log = "/fujita/api/processes/django/log"
        held = await server.fetch(f"{log}?limit=0")
        wanted = s.search_bytes // LINE_BYTES
        if held["last_seq"] - held["first_seq"] < wanted:  # a partial run: fill the disk first
            await unread_flood(server, wanted, stalled=0)
            held = await server.fetch(f"{log}?limit=0")
        first, last = held["first_seq"], held["last_seq"]
        text = (last - first + 1) * LINE_BYTES  # the log's text, as the child wrote it
        files = sorted(self.ours.folder.glob("jupyter/data/jupyter_fujita/logs/*/django/*.jsonl"))

        async def ours() -> Run:
            since, pages, found = first - 1, 0, 0
            async with LoopLag(server) as lag:
                t0 = time.monotonic()
                while since < last:
                    page = await server.fetch(f"{log}?since={since}&q={NEEDLE}&limit=100")
                    if page["next_since"] <= since:
                        raise RuntimeError(f"the search stopped at {since}: {page}")
                    since, pages, found = page["next_since"], pages + 1, found + len(page["lines"])
                seconds = time.monotonic() - t0
            extra = {"pages": pages, "found": found, **lag.stall}
            return Run(text / seconds / 1e6, extra=extra)

        async def grep() -> Run:
            t0 = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                "grep", "-ci", NEEDLE, *map(str, files), stdout=asyncio.subprocess.DEVNULL
            )
            await proc.wait()
            return Run(text / (time.monotonic() - t0) / 1e6)

        runs = await rounds(fig, s.heavy_rounds, (server, ours), (None, grep))
        fig.detail["lines"] = last - first + 1
        fig.detail["text_mb"] = text / 1e6
        fig.detail["disk_mb"] = sum(f.stat().st_size for f in files) / 1e6
        fig.detail["how"] = f"lines × {LINE_BYTES} B of text over the seconds from the first "
        fig.detail["how"] += "page asked to the last answered"
        fig.detail["pages"] = runs[0][0].extra["pages"]
        await self.spy(fig, ours)
        self._loop_stalls([(a, None) for a, _ in runs], "search of the whole log")

    # -- the page: the same flood in the sidebar and in a JupyterLab terminal ----------------------

    async def page(self) -> None:
        from .page import page_figures

        await page_figures(self)


def django_burst_request(port: int, lines: int, last: str = "") -> HTTPRequest:
    query = f"n={lines}" + (f"&last={last}" if last else "")
    return HTTPRequest(f"http://127.0.0.1:{port}/burst?{query}", request_timeout=300)


async def wait_port(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
