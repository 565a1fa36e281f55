"""The steps of a run: each makes its figures and measures them with `figures.rounds`.

Our server runs as shipped: `Fujita.cache_lines`, `cache_bytes` and `log_bytes` at their
defaults, so a reader behind the memory cache reads from disk. Two workloads: the marker flood
(100-byte lines on stdout, which the Django reader skips with one search a batch) and what
runserver really prints (request lines on stderr, a 500 and its traceback in every 1,000).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from . import inproc
from .figures import Figure, Run, Sizes, load, percentile, rounds, say
from .probe import Probe, probed
from .project import MARKER, set_mode
from .servers import LOG_WS, PYTHON, JupyterServer, SeedPeer, TermPeer
from .wsclient import SEQS, WSClient, connect

NEWLINE = b"\\n"  # a newline inside a JSON string, as terminado sends pty output
MiB = 1024 * 1024


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    mode: str  # of the child (project.py)
    stream: str
    marker: bytes  # in every line of the burst, in none of the supervisor's own


MARKERS = Workload("markers", "marker flood on stdout", "burst", "stdout", MARKER.encode())
REQUESTS = Workload(
    "requests", "runserver request lines on stderr", "requests", "stderr", b"HTTP/1.1"
)
WORKLOADS = (REQUESTS, MARKERS)


def burst_timeout(lines: int) -> float:
    return 15.0 + lines / 50_000  # generous: a miss should be a slow figure, not a hang


async def until_all(
    futures: list[asyncio.Future], timeout: float, clients: list[WSClient] = (), idle: float = 5.0
) -> float | None:
    """When the last of the futures was set; None if some were not within the timeout, or no
    client received a new line for `idle` seconds (what their clients did not get then is counted
    as lost, and the run goes on)."""
    deadline = time.monotonic() + timeout
    pending = set(futures)
    seen, quiet_since = -1, time.monotonic()
    while pending and time.monotonic() < deadline:
        _, pending = await asyncio.wait(pending, timeout=0.25)
        received = sum(c.count + c.lost for c in clients)  # new lines: repeats are no progress
        if received != seen:
            seen, quiet_since = received, time.monotonic()
        elif clients and time.monotonic() - quiet_since > idle:
            break
    for future in pending:
        future.cancel()
    errors = [f.exception() for f in futures if f.done() and not f.cancelled() and f.exception()]
    if any(not isinstance(error, ConnectionError) for error in errors):
        raise errors[0]
    # a connection the server closed before all its lines came: those lines are lost
    return None if pending or errors else max(f.result() for f in futures)


def steady_rates(clients: list[WSClient], end: float) -> dict[str, float]:
    """Throughput once lines flow: from the first message that held any to the last line, so
    that the child's start (the same ~50 ms for every peer) does not weigh on the faster one.
    The lines of that first message are not counted: they arrived before the clock started."""
    clients = [c for c in clients if c.first_hit_time is not None] or clients[:1]
    if clients[0].first_hit_time is None:
        return {"total_rate": 0.0, "rate": 0.0}
    start = min(c.first_hit_time for c in clients)
    first = min(clients, key=lambda c: c.first_hit_time)
    delivered = sum(c.count for c in clients) - first.first_hit_count
    return {
        "total_rate": delivered / (end - start),
        "rate": delivered / len(clients) / (end - start),
    }


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
        steps = [
            ("memory", self.memory),
            ("ingest", self.ingest),
            ("e2e", self.e2e),
            ("fanout", self.fanout),
            ("latency", self.latency),
            ("replay", self.replay),
            ("django", self.django_and_idle),
            ("stalled", self.stalled),
            ("flood", self.flood),
            ("page", self.page),
        ]
        for name, step in steps:
            if only and name not in only:
                continue
            say(f"-- {name}")
            started = time.monotonic()
            self.steps[name] = {"loadavg_before": load()}
            await step()
            self.steps[name]["seconds"] = time.monotonic() - started
            say(f"   {self.steps[name]['seconds']:.1f} s")
            for server in self.servers:
                server.remember_descendants()
        return self.figures

    async def spy(self, figure: Figure, run) -> None:
        """One more run of ours with py-spy sampling our server (every thread): where its time
        went, by function, kept in the figure's detail; the raw stacks in `spy_dir` if set."""
        if self.sizes.rounds < 3 and self.spy_dir is None:
            return  # a quick run: no profiles unless the page is written
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(pyspy).exists():
            figure.detail["profile_ours"] = None
            return
        out = self.folder / f"spy-{figure.key}.txt"
        command = [pyspy, "record", "--pid", str(self.ours.proc.pid), "--format", "raw"]
        command += ["--output", str(out), "--rate", "250", "--nonblocking"]
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await asyncio.sleep(1.0)  # attached
            await run()
        finally:
            proc.send_signal(signal.SIGINT)
            await asyncio.to_thread(proc.wait, 60)
        if not out.exists():
            figure.detail["profile_ours"] = None
            return
        figure.detail["profile_ours"] = spy_summary(out.read_text())
        if self.spy_dir is not None:
            self.spy_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(out, self.spy_dir / f"{figure.key}.txt")

    def figure(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    # -- one burst, one side ----------------------------------------------------------------------

    async def ours_burst(
        self,
        work: Workload,
        lines: int,
        clients: int = 1,
        stalled: int = 0,
        sample_rss: list[int] | None = None,
    ) -> Run:
        """Clients connected, then the child writes `lines`; lines/s until every client has all
        (per client, and in all: `extra`), and the lines they lost (a gap, or a seq skipped)."""
        server = self.ours
        base = (await server.status())["last_seq"]
        set_mode(server.project, work.mode, lines=lines)
        path = f"{LOG_WS}?since={base}"
        stalls = [
            await connect(server.port, path, server.headers, stall=True) for _ in range(stalled)
        ]
        readers = [
            await connect(
                server.port, path, server.headers, pattern=SEQS, marker=work.marker, since=base
            )
            for _ in range(clients)
        ]
        # counted by seq: the supervisor's "Starting: ..." line, then the burst
        done = [reader.expect(lines + 1) for reader in readers]
        sampler = None
        if sample_rss is not None:
            sampler = asyncio.ensure_future(self._sample_rss(server, sample_rss))
        t0 = time.monotonic()
        await server.start_child(0)
        try:
            end = await until_all(done, burst_timeout(lines * clients), readers)
            closed_early = sum(r.closed.done() for r in readers)
        finally:
            if sampler is not None:
                sampler.cancel()
            for client in readers + stalls:
                client.close()
        await server.wait_child_ended()
        timed_out = end is None
        end = end or time.monotonic()
        rates = steady_rates(readers, end)
        # what a reader never got: announced by a gap, skipped, or not there by the timeout
        lost = sum(r.lost + max(0, lines + 1 - r.count - r.lost) for r in readers)
        extra = {
            **rates,
            "seconds": end - t0,
            "gaps": sum(r.gaps for r in readers),
            "announced": sum(r.missed for r in readers),
            "unannounced": sum(r.unannounced for r in readers),
            "repeated": sum(r.repeated for r in readers),
            "timed_out": timed_out,
            "closed_by_server": closed_early,
        }
        if lost or extra["repeated"]:
            say(f"   ours lost lines: {extra}")
        return Run(rates["total_rate"] if clients > 1 else rates["rate"], lost, extra)

    async def _sample_rss(self, server: JupyterServer, into: list[int]) -> None:
        while True:
            into.append(server.rss())
            await asyncio.sleep(0.02)

    async def term_burst(self, work: Workload, lines: int, clients: int = 1) -> Run:
        """terminado: `clients` clients on one terminal (one pty); the child waits until all are
        connected, then writes; lines/s until every client has them all."""
        name = self._name("burst")
        go = self.term.folder / f"go-{name}"
        set_mode(self.term.project, work.mode, lines=lines, go=str(go))
        readers = [
            await connect(self.term.port, f"/websocket/{name}", pattern=NEWLINE)
            for _ in range(clients)
        ]
        try:
            done = [reader.expect(lines) for reader in readers]
            go.touch()
            end = await until_all(done, burst_timeout(lines * clients), readers)
        finally:
            for reader in readers:
                reader.close()
            await self.term.kill(name)
            go.unlink(missing_ok=True)
        rates = steady_rates(readers, end or time.monotonic())
        lost = sum(max(0, lines - r.count) for r in readers)
        return Run(rates["total_rate"] if clients > 1 else rates["rate"], lost, rates)

    # -- in the bench's process --------------------------------------------------------------------

    async def memory(self) -> None:
        s = self.sizes
        fig = self.figure(
            "memory_per_line",
            "memory per cached 100-byte line",
            "B",
            "lower",
            "≤ 250 B",
            peer_name="lean record: a slots dataclass per line, in a list",
            limit=250,
        )

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
        folder = self.ours.project  # the same child as everywhere, run in this process
        for work in WORKLOADS:
            fig = self.figure(
                f"ingest_{work.name}",
                f"ingest: {work.title}",
                "lines/s",
                "higher",
                "≥ 4× the seed design",
                peer_name="seed: read_until per line",
                ratio_bar=4,
            )
            args = (folder, work.mode, work.stream, s.ingest_lines)
            ours = (None, lambda a=args: inproc.ingest_ours(*a))
            peer = (None, lambda a=args: inproc.ingest_seed(*a))
            await rounds(
                fig,
                s.rounds,
                (None, lambda run=ours[1]: inproc.collected(run)),
                (None, lambda run=peer[1]: inproc.collected(run)),
            )
            fig.detail["lines"] = s.ingest_lines
            for side, (_, run) in (("ours", ours), ("peer", peer)):
                fig.detail[f"profile_{side}"] = await inproc.profiled(run, s.ingest_lines)

    # -- end to end ------------------------------------------------------------------------------

    async def e2e(self) -> None:
        s = self.sizes
        for work in WORKLOADS:
            fig = self.figure(
                f"e2e_1_client_{work.name}",
                f"end to end, 1 client: {work.title}",
                "lines/s",
                "higher",
                "≥ 3× terminado, 0 lost",
                peer_name="terminado, 1 client",
                ratio_bar=3,
                lossless=True,
            )
            ours = (self.ours, lambda w=work: self.ours_burst(w, s.e2e_lines))
            peer = (self.term, lambda w=work: self.term_burst(w, s.e2e_lines))
            await rounds(fig, s.rounds, ours, peer)
            fig.detail["lines"] = s.e2e_lines
            await self.spy(fig, ours[1])

    async def fanout(self) -> None:
        s = self.sizes
        n = s.clients
        for work in WORKLOADS:
            fig = self.figure(
                f"e2e_{n}_clients_{work.name}",
                f"end to end, {n} clients, lines/s delivered in all: {work.title}",
                "lines/s",
                "higher",
                f"≥ 8× terminado's {n} clients, 0 lost",
                peer_name=f"terminado, {n} clients on one terminal",
                ratio_bar=8,
                lossless=True,
            )
            ours = (self.ours, lambda w=work: self.ours_burst(w, s.fanout_lines, clients=n))
            peer = (self.term, lambda w=work: self.term_burst(w, s.fanout_lines, clients=n))
            await rounds(fig, s.heavy_rounds, ours, peer)
            fig.detail["lines_per_client"] = s.fanout_lines
            await self.spy(fig, ours[1])

    # -- latency at 10 lines/s -------------------------------------------------------------------

    async def latency(self) -> None:
        s = self.sizes
        p50 = self.figure(
            "latency_p50",
            "latency at 10 lines/s, child write → client receive, p50",
            "ms",
            "lower",
            "≤ 2 ms and ≤ 1.2× one-message-per-line",
            peer_name="seed: one message per line",
            limit=2,
            ratio_bar=1.2,
        )
        p99 = self.figure(
            "latency_p99",
            "latency at 10 lines/s, child write → client receive, p99",
            "ms",
            "lower",
            "≤ 5 ms and ≤ 1.2× one-message-per-line",
            peer_name="seed: one message per line",
            limit=5,
            ratio_bar=1.2,
        )
        ours = (self.ours, lambda: self._latency(self.ours, s.latency_lines))
        peer = (self.seed, lambda: self._latency(self.seed, s.latency_lines))
        runs = await rounds(p50, s.rounds, ours, peer)
        pooled = {"ours": [], "peer": []}
        for a, b in runs:
            pooled["ours"] += a.extra["samples"]
            pooled["peer"] += b.extra["samples"]
            p99.add(
                Run(percentile(a.extra["samples"], 99), a.lost, cpu=a.cpu),
                Run(percentile(b.extra["samples"], 99), b.lost, cpu=b.cpu),
            )
        for fig, q in ((p50, 50), (p99, 99)):
            fig.ours_value = percentile(pooled["ours"], q)
            fig.peer_value = percentile(pooled["peer"], q)
            fig.value_is = f"p{q} of all rounds' samples ({len(pooled['ours'])} a side)"
            fig.judge()

    async def _latency(self, server: Any, count: int) -> Run:
        ours = server is self.ours
        base = (await server.status())["last_seq"]
        set_mode(server.project, "paced", lines=count, interval=0.1)
        samples: list[float] = []
        done = asyncio.get_running_loop().create_future()

        def on_message(client: WSClient, payload: bytes, now: float) -> None:
            for line in json.loads(payload).get("lines", ()):
                words = line["text"].split(" ", 3)
                if words[0] == MARKER and words[1] == "lat":
                    if int(words[3].split(" ", 1)[0]) > 0:  # the first line rides the spawn
                        samples.append((now - float(words[2])) * 1000)
            if len(samples) >= count - 1 and not done.done():
                done.set_result(None)

        path = f"{LOG_WS}?since={base}" if ours else f"/ws?since={base}"
        client = await connect(server.port, path, server.headers, on_message=on_message)
        await (server.start_child(0) if ours else server.start_child())
        try:
            await asyncio.wait_for(done, 30 + count * 0.2)
        finally:
            client.close()
        await server.wait_child_ended()
        return Run(percentile(samples, 50), max(0, count - 1 - len(samples)), {"samples": samples})

    # -- replay ----------------------------------------------------------------------------------

    async def replay(self) -> None:
        s = self.sizes
        small = self.figure(
            "replay_10k",
            f"replay of {s.replay_small:,} lines to a new client",
            "ms",
            "lower",
            "≤ 25 ms",
            peer_name="seed: one message per line",
            limit=25,
        )
        big = self.figure(
            "replay_100k_blocking",
            f"replay of {s.replay_big:,} lines (from disk beyond the cache): "
            "longest wait of a concurrent GET",
            "ms",
            "lower",
            "≤ 50 ms",
            peer_name="seed: one message per line",
            limit=50,
        )
        await self.ours_burst(MARKERS, s.replay_big, clients=1)
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
        lost = client.lost + max(0, count - client.count - client.lost)
        return t1 or time.monotonic(), lost

    # -- the real path: a Django view under runserver; then idle ---------------------------------

    async def django_and_idle(self) -> None:
        s = self.sizes
        fig = self.figure(
            "e2e_django_view",
            "end to end through runserver: a view's burst, 1 client",
            "lines/s",
            "higher",
            "≥ 3× terminado, 0 lost",
            peer_name="terminado, 1 client",
            ratio_bar=3,
            lossless=True,
        )
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
            client = await connect(
                server.port,
                f"{LOG_WS}?since={base}",
                server.headers,
                pattern=SEQS,
                marker=MARKERS.marker,
                since=base,
            )
            try:
                done = client.expect(lines)
                await http.fetch(django_burst_request(server.django_port, lines))
                end = await until_all([done], burst_timeout(lines), [client])
                rate = steady_rates([client], end or time.monotonic())["rate"]
            finally:
                client.close()
            return Run(rate, client.lost + max(0, lines - client.count - client.lost))

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
            await self.idle(term_name)
        finally:
            term_client.close()
            await self.term.kill(term_name)
            await server.stop_child()

    async def idle(self, term_name: str) -> None:
        """Django quiet under each, 3 clients each, both servers' CPU over the same window."""
        s = self.sizes
        fig = self.figure(
            "idle_cpu",
            "idle: Django quiet, 3 clients connected",
            "% CPU",
            "lower",
            "≤ 1%",
            peer_name="terminado, same Django, 3 clients",
            limit=1.0,
        )
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

    # -- a client that stops reading -------------------------------------------------------------

    async def stalled(self) -> None:
        s = self.sizes
        server = self.ours
        growth = self.figure(
            "stalled_rss_growth",
            f"a client stops reading, {s.flood_lines:,} lines flowing: server RSS growth",
            "MiB",
            "lower",
            "≤ cache budget (16 MiB) + 8 MiB",
            limit=16 + 8,
        )
        others = self.figure(
            "stalled_others_rate",
            "… the other 2 clients' rate, with the stalled one / without",
            "lines/s",
            "higher",
            "keep their rate (ratio ≥ 0.8), 0 lost",
            peer_name="same, no stalled client",
            ratio_bar=0.8,
            lossless=True,
        )
        await self.ours_burst(MARKERS, 1_000)  # warm
        await asyncio.sleep(0.2)
        baseline = server.rss()

        async def run(stalled: int) -> Run:
            samples: list[int] = [baseline]
            result = await self.ours_burst(
                MARKERS, s.flood_lines, clients=2, stalled=stalled, sample_rss=samples
            )
            return Run(result.extra["rate"], result.lost, {**result.extra, "peak": max(samples)})

        runs = await rounds(
            others, s.heavy_rounds, (server, lambda: run(1)), (server, lambda: run(0))
        )
        for with_stall, _ in runs:
            growth.add(Run((with_stall.extra["peak"] - baseline) / MiB))
        growth.ours_value = max(growth.ours)
        growth.value_is = "the worst round: peak RSS while a client stalls, above the start's"
        growth.detail["baseline_rss_mib"] = baseline / MiB
        growth.judge()

    # -- Jupyter stays usable during a flood -----------------------------------------------------

    async def flood(self) -> None:
        s = self.sizes
        fig = self.figure(
            "status_p99_flood",
            f"GET /api/status p99 during a {s.flood_lines:,}-line flood",
            "ms",
            "lower",
            "≤ 50 ms",
            peer_name="the same flood in a Jupyter terminal",
            limit=50,
        )
        server = self.ours

        def probe() -> Probe:
            return Probe(self.folder, server.port, "/api/status", server.token, interval=0.01)

        async def ours() -> Run:
            result: dict = {}

            async def work() -> tuple[float, float]:
                t0 = time.monotonic()
                result["run"] = await self.ours_burst(MARKERS, s.flood_lines)
                return t0, t0 + result["run"].extra["seconds"]

            latencies, t0, t1 = await probed(probe(), work)
            run = result["run"]
            return Run(
                percentile(latencies, 99) * 1000, run.lost, {**run.extra, "flood_s": t1 - t0}
            )

        async def peer() -> Run:
            latencies, t0, t1 = await probed(probe(), lambda: self._terminal_flood(s.flood_lines))
            return Run(percentile(latencies, 99) * 1000, extra={"flood_s": t1 - t0})

        await rounds(fig, s.heavy_rounds, (server, ours), (server, peer))

    async def _terminal_flood(self, lines: int) -> tuple[float, float]:
        """The same child run from a Jupyter terminal, one client reading; its start and end."""
        server = self.ours
        set_mode(server.project, "burst", lines=lines)
        name = (await server.fetch("/api/terminals", "POST"))["name"]
        ended = asyncio.get_running_loop().create_future()
        prompt = asyncio.get_running_loop().create_future()

        def on_message(client: WSClient, payload: bytes, now: float) -> None:
            if payload.startswith(b'["disconnect"') and not ended.done():
                ended.set_result(now)
            elif payload.startswith(b'["stdout"') and not prompt.done():
                prompt.set_result(now)

        client = await connect(
            server.port, f"/terminals/websocket/{name}", server.headers, on_message=on_message
        )
        try:
            await asyncio.wait_for(prompt, 30)
            await asyncio.sleep(0.3)
            command = f"cd {server.project} && exec {PYTHON} manage.py runserver x\r"
            t0 = time.monotonic()
            client.send_text(json.dumps(["stdin", command]))
            t1 = await asyncio.wait_for(ended, burst_timeout(lines))
        finally:
            client.close()
            try:
                await server.fetch(f"/api/terminals/{name}", "DELETE")
            except Exception:  # noqa: BLE001 - already gone with its process
                pass
        return t0, t1

    # -- the page: the same flood in the sidebar and in a JupyterLab terminal ----------------------

    async def page(self) -> None:
        from .page import page_figures

        await page_figures(self)


def spy_summary(raw: str, top: int = 15) -> dict[str, Any]:
    """py-spy's raw stacks, summed: samples whose innermost frame is each function (all threads;
    a thread waiting in Python code, as a pool thread for work, counts where it waits)."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.rsplit(";", 1)[-1]
        name, _, where = leaf.partition(" (")
        module = where.split(":", 1)[0]
        own[f"{name} ({module})"] += int(count)
        total += int(count)
    return {
        "tool": "py-spy on our server (one more run), innermost frame, all threads",
        "samples": total,
        "top": [{"function": f, "share": n / total} for f, n in own.most_common(top)],
    }


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
