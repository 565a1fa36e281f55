"""Each figure of the benchmark: how it is measured, ours and the peer, round after round.

A round measures ours, then the peer, with the same child and the same client; a figure keeps
every round's value, and the ratio of each round's pair, so that a noisy machine moves both
sides of a ratio together.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
from time import perf_counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from jupyter_fujita.django import DjangoProject
from jupyter_fujita.lines import LineSplitter
from jupyter_fujita.replay import ReplayCache
from jupyter_fujita.supervisor import Supervisor

from . import seed as seedref
from .project import LINE_BYTES, MARKER, set_mode
from .servers import LOG_WS, PYTHON, JupyterServer, SeedPeer, TermPeer, free_port
from .wsclient import SEQS, WSClient, connect

MARK = MARKER.encode()
NEWLINE = b"\\n"  # a newline inside a JSON string, as terminado sends pty output
MiB = 1024 * 1024


# -- sizes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    rounds: int  # rounds of the cheap figures
    heavy_rounds: int  # rounds of the figures that move a lot of lines
    ingest_lines: int
    e2e_lines: int
    fanout_lines: int  # per client, with `clients` clients
    clients: int
    latency_lines: int  # per round and side, at 10 lines/s
    memory_lines: int
    django_lines: int
    flood_lines: int
    idle_seconds: float
    idle_windows: int
    replay_small: int = 10_000
    replay_big: int = 100_000


FULL = Sizes(
    rounds=5,
    heavy_rounds=3,
    ingest_lines=500_000,
    e2e_lines=500_000,
    fanout_lines=100_000,
    clients=50,
    latency_lines=50,
    memory_lines=200_000,
    django_lines=300_000,
    flood_lines=1_000_000,
    idle_seconds=30.0,
    idle_windows=3,
)
QUICK = Sizes(
    rounds=2,
    heavy_rounds=2,
    ingest_lines=100_000,
    e2e_lines=100_000,
    fanout_lines=10_000,
    clients=50,
    latency_lines=12,
    memory_lines=50_000,
    django_lines=50_000,
    flood_lines=100_000,
    idle_seconds=5.0,
    idle_windows=2,
)


# -- a figure ---------------------------------------------------------------------------------


@dataclass
class Figure:
    key: str
    title: str
    unit: str
    better: str  # "higher" | "lower": for ours and the peer
    bar: str  # the bar, in words
    peer_name: str | None = None
    ours: list[float] = field(default_factory=list)  # one value per round
    peer: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # ours / peer, per round
    limit: float | None = None  # the bar on ours' value, in `unit`, in the `better` direction
    ratio_bar: float | None = None  # the bar on the median ratio, in the `better` direction
    ours_value: float | None = None  # what the table shows and the bar judges; default median
    peer_value: float | None = None
    passed: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def judge(self, also: bool = True) -> bool:
        """Pass when the value is within its limit and the median ratio within its bar."""

        def within(value: float, bar: float) -> bool:
            return value >= bar if self.better == "higher" else value <= bar

        ok = also
        if self.limit is not None:
            ok = ok and within(self.value, self.limit)
        if self.ratio_bar is not None:
            ok = ok and bool(self.ratios) and within(statistics.median(self.ratios), self.ratio_bar)
        self.passed = ok
        return ok

    def add(self, ours: float, peer: float | None = None) -> None:
        self.ours.append(ours)
        if peer is not None:
            self.peer.append(peer)
            self.ratios.append(ours / peer if peer else float("inf"))

    @property
    def value(self) -> float:
        return self.ours_value if self.ours_value is not None else statistics.median(self.ours)

    @property
    def peer_shown(self) -> float | None:
        if self.peer_value is not None:
            return self.peer_value
        return statistics.median(self.peer) if self.peer else None

    def summary(self, values: list[float]) -> dict[str, float] | None:
        if not values:
            return None
        return {"min": min(values), "median": statistics.median(values)}

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "unit": self.unit,
            "better": self.better,
            "bar": self.bar,
            "limit": self.limit,
            "ratio_bar": self.ratio_bar,
            "pass": self.passed,
            "ours": {"value": self.value, **self.summary(self.ours), "rounds": self.ours},
            "peer": None
            if not self.peer
            else {
                "name": self.peer_name,
                "value": self.peer_shown,
                **self.summary(self.peer),
                "rounds": self.peer,
            },
            "ratio": None
            if not self.ratios
            else {
                **self.summary(self.ratios),
                "rounds": self.ratios,
            },
            "detail": self.detail,
        }


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def wait_all(futures: list[asyncio.Future], timeout: float) -> list[float]:
    return list(await asyncio.wait_for(asyncio.gather(*futures), timeout))


def burst_timeout(lines: int) -> float:
    return 60.0 + lines / 5_000  # generous: a miss should be a slow figure, not a hang


# -- a probe: another process asking a server for a page, over and over -------------------------


class Probe:
    def __init__(self, folder: Path, port: int, path: str, token: str = "", interval=0.005):
        self.out = folder / f"probe-{time.monotonic_ns()}.json"
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "bench.probe",
                "--port",
                str(port),
                "--path",
                path,
                "--token",
                token,
                "--interval",
                str(interval),
                "--out",
                str(self.out),
            ],
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )

    async def warm(self) -> None:
        await asyncio.sleep(0.3)  # its interpreter is up and its first requests are done

    def finish(self) -> list[tuple[float, float]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        samples = json.loads(self.out.read_text())
        self.out.unlink()
        return [tuple(s) for s in samples]

    @staticmethod
    def during(samples: list[tuple[float, float]], t0: float, t1: float) -> list[float]:
        """Latencies of the requests that were in flight at some point of [t0, t1] (at least
        the first one sent after t0, should the window be shorter than the probe's pace)."""
        inside = [lat for start, lat in samples if start < t1 and start + lat > t0]
        if not inside:
            inside = [lat for start, lat in samples if start >= t0][:1]
        if not inside:
            raise RuntimeError("the probe made no request during the window")
        return inside


# -- the benchmark ----------------------------------------------------------------------------


class Bench:
    def __init__(self, folder: Path, sizes: Sizes) -> None:
        self.folder = folder
        self.sizes = sizes
        big = (
            max(
                sizes.e2e_lines,
                sizes.fanout_lines,
                sizes.replay_big,
                sizes.memory_lines,
                sizes.django_lines,
            )
            + 10_000
        )
        # A: cache for the whole burst. B: a cache bounded by its byte budget (16 MiB).
        self.a = JupyterServer(self._dir("a"), cache_lines=big, cache_bytes=1 << 40)
        self.b = JupyterServer(
            self._dir("b"), cache_lines=10 * sizes.flood_lines, cache_bytes=16 * MiB
        )
        self.term = TermPeer(self._dir("terminado"))
        self.seed = SeedPeer(self._dir("seed"), ring=big)
        self.servers = [self.a, self.b, self.term, self.seed]
        self.figures: list[Figure] = []
        self._names = 0

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
            ("memory", self.memory),  # first: the servers are fresh
            ("ingest", self.ingest),
            ("e2e", self.e2e),
            ("fanout", self.fanout),
            ("latency", self.latency),
            ("replay", self.replay),
            ("django", self.django_and_idle),
            ("stalled", self.stalled),
            ("flood", self.flood),
        ]
        for name, step in steps:
            if only and name not in only:
                continue
            say(f"-- {name}")
            started = time.monotonic()
            await step()
            say(f"   {time.monotonic() - started:.1f} s")
            for server in self.servers:
                server.remember_descendants()
        return self.figures

    def figure(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    # -- one burst, one side ----------------------------------------------------------------------

    async def ours_burst(
        self,
        server: JupyterServer,
        lines: int,
        clients: int = 1,
        stalled: int = 0,
        sample_rss: list[int] | None = None,
    ) -> dict:
        """Clients connected, then the child writes `lines`; the time until every client has all.

        Returns lines/s per client and in total, and what the clients missed (gaps).
        """
        base = (await server.status())["last_seq"]
        set_mode(server.project, "burst", lines=lines)
        path = f"{LOG_WS}?since={base}"
        stalls = [
            await connect(server.port, path, server.headers, stall=True) for _ in range(stalled)
        ]
        readers = [
            await connect(server.port, path, server.headers, pattern=SEQS, marker=MARK)
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
            if readers:
                times = await wait_all(done, burst_timeout(lines * clients))
            else:  # only filling the cache
                await server.wait_child_ended()
                times = [time.monotonic()]
        finally:
            if sampler is not None:
                sampler.cancel()
            for client in readers + stalls:
                client.close()
        elapsed = max(times) - t0
        await server.wait_child_ended()
        result = {
            "seconds": elapsed,
            "gaps": sum(r.gaps for r in readers),
            "missed": sum(r.missed for r in readers),
            "messages": sum(r.messages for r in readers),
        }
        if readers:
            result.update(steady_rates(readers, max(times)))
            result["wall_rate"] = sum(r.count for r in readers) / elapsed
        return result

    async def _sample_rss(self, server: JupyterServer, into: list[int]) -> None:
        while True:
            into.append(server.rss())
            await asyncio.sleep(0.02)

    async def term_burst(self, lines: int) -> float:
        """terminado: the connection spawns the child; lines/s until the client has them all."""
        set_mode(self.term.project, "burst", lines=lines)
        name = self._name("burst")
        client = await connect(self.term.port, f"/websocket/{name}", pattern=NEWLINE)
        try:
            t1 = await asyncio.wait_for(client.expect(lines), burst_timeout(lines))
        finally:
            client.close()
            await self.term.kill(name)
        return steady_rates([client], t1)["rate"]

    # -- memory per cached line ------------------------------------------------------------------

    async def memory(self) -> None:
        s = self.sizes
        fig = self.figure(
            "memory_per_line",
            "memory per cached 100-byte line",
            "B",
            "lower",
            "≤ 300 B",
            peer_name="seed ring (dict per line)",
            limit=300,
        )
        # Real servers, fresh: RSS before and after the cache takes in a burst.
        await self.ours_burst(self.a, 1_000)  # warm: code loaded, first allocations made
        await self.a.clear()
        await asyncio.sleep(0.2)
        before = self.a.rss()
        await self.ours_burst(self.a, s.memory_lines, clients=0)
        await asyncio.sleep(0.2)
        ours_rss = (self.a.rss() - before) / s.memory_lines
        await self.a.clear()
        set_mode(self.seed.project, "burst", lines=1_000)
        await self.seed.start_child()
        await self.seed.wait_child_ended()
        await asyncio.sleep(0.2)
        before = self.seed.rss()
        set_mode(self.seed.project, "burst", lines=s.memory_lines)
        await self.seed.start_child()
        await self.seed.wait_child_ended()
        await asyncio.sleep(0.2)
        seed_rss = (self.seed.rss() - before) / s.memory_lines
        fig.ours_value, fig.peer_value = ours_rss, seed_rss
        fig.detail["server_rss_per_line"] = {"ours": ours_rss, "peer": seed_rss}
        # In-process, exact: what Python allocated for the lines (tracemalloc), interleaved.
        traced = []
        for _ in range(s.rounds):
            ours, peer = traced_ours(s.memory_lines), traced_seed(s.memory_lines)
            fig.add(ours, peer)
            traced.append((ours, peer))
        fig.detail["tracemalloc_per_line_rounds"] = traced
        fig.detail["note"] = (
            "value: RSS growth of the real server per cached line; rounds: "
            "bytes Python allocated per line (tracemalloc), in-process"
        )
        fig.judge()
        say(f"   RSS/line ours {ours_rss:.0f} B seed {seed_rss:.0f} B; traced {traced}")

    # -- ingest ----------------------------------------------------------------------------------

    async def ingest(self) -> None:
        s = self.sizes
        fig = self.figure(
            "ingest",
            "ingest into the replay cache",
            "lines/s",
            "higher",
            "≥ 4× the per-line read_until design",
            peer_name="seed: read_until per line",
            ratio_bar=4,
        )
        folder = self.a.project  # the same child as everywhere, run in this process
        for _ in range(s.rounds):
            ours = await ingest_ours(folder, s.ingest_lines)
            gc.collect()  # the last round's cache goes before the next one fills
            peer = await ingest_seed(folder, s.ingest_lines)
            gc.collect()
            fig.add(ours, peer)
            say(f"   ours {ours:,.0f}  seed {peer:,.0f}  x{ours / peer:.2f}")
        fig.judge()

    # -- end to end ------------------------------------------------------------------------------

    async def e2e(self) -> None:
        s = self.sizes
        fig = self.figure(
            "e2e_1_client",
            "end to end, 1 WebSocket client",
            "lines/s",
            "higher",
            "≥ 2.5× terminado",
            peer_name="terminado, 1 client",
            ratio_bar=2.5,
        )
        await self.a.clear()
        gaps = 0
        self._term_rates: list[float] = []
        for _ in range(s.rounds):
            ours = await self.ours_burst(self.a, s.e2e_lines)
            await self.a.clear()
            peer = await self.term_burst(s.e2e_lines)
            self._term_rates.append(peer)
            gaps += ours["missed"]
            fig.add(ours["rate"], peer)
            say(
                f"   ours {ours['rate']:,.0f} ({ours['messages']} msgs)  terminado {peer:,.0f}  "
                f"x{ours['rate'] / peer:.2f}"
            )
        fig.detail["lines"] = s.e2e_lines
        fig.detail["missed_lines"] = gaps
        fig.judge(gaps == 0)

    async def fanout(self) -> None:
        s = self.sizes
        fig = self.figure(
            "e2e_50_clients",
            f"end to end, {s.clients} clients, total lines/s delivered",
            "lines/s",
            "higher",
            "≥ 15× terminado's single client",
            peer_name="terminado, 1 client",
            ratio_bar=15,
        )
        gaps = 0
        for _ in range(s.heavy_rounds):
            await self.a.clear()
            ours = await self.ours_burst(self.a, s.fanout_lines, clients=s.clients)
            await self.a.clear()
            peer = await self.term_burst(s.e2e_lines)
            gaps += ours["missed"]
            fig.add(ours["total_rate"], peer)
            say(
                f"   ours {ours['total_rate']:,.0f}  terminado(1) {peer:,.0f}  "
                f"x{ours['total_rate'] / peer:.2f}"
            )
        fig.detail["lines_per_client"] = s.fanout_lines
        fig.detail["missed_lines"] = gaps
        fig.judge(gaps == 0)

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
            "≤ 10 ms and ≤ 1.2× one-message-per-line",
            peer_name="seed: one message per line",
            limit=10,
            ratio_bar=1.2,
        )
        pooled: dict[str, list[float]] = {"ours": [], "peer": []}
        await self.a.clear()
        for _ in range(s.rounds):
            ours = await self._latency_ours(s.latency_lines)
            peer = await self._latency_seed(s.latency_lines)
            pooled["ours"] += ours
            pooled["peer"] += peer
            p50.add(percentile(ours, 50), percentile(peer, 50))
            p99.add(percentile(ours, 99), percentile(peer, 99))
            say(
                f"   p50 ours {percentile(ours, 50):.2f} seed {percentile(peer, 50):.2f}  "
                f"p99 ours {percentile(ours, 99):.2f} seed {percentile(peer, 99):.2f} ms"
            )
        for fig, q in ((p50, 50), (p99, 99)):
            fig.ours_value = percentile(pooled["ours"], q)
            fig.peer_value = percentile(pooled["peer"], q)
            fig.detail["samples"] = {k: len(v) for k, v in pooled.items()}
            fig.detail["note"] = f"value: p{q} of all rounds' samples; ratio: per round"
        p50.judge()
        p99.judge()

    @staticmethod
    def _latency_collector(count: int) -> tuple[list[float], asyncio.Future, Any]:
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

        return samples, done, on_message

    async def _latency_ours(self, count: int) -> list[float]:
        server = self.a
        base = (await server.status())["last_seq"]
        set_mode(server.project, "paced", lines=count, interval=0.1)
        samples, done, on_message = self._latency_collector(count)
        client = await connect(
            server.port, f"{LOG_WS}?since={base}", server.headers, on_message=on_message
        )
        await server.start_child(0)
        try:
            await asyncio.wait_for(done, 30 + count * 0.2)
        finally:
            client.close()
        await server.wait_child_ended()
        await server.clear()
        return samples

    async def _latency_seed(self, count: int) -> list[float]:
        base = (await self.seed.status())["last_seq"]
        set_mode(self.seed.project, "paced", lines=count, interval=0.1)
        samples, done, on_message = self._latency_collector(count)
        client = await connect(self.seed.port, f"/ws?since={base}", on_message=on_message)
        await self.seed.start_child()
        try:
            await asyncio.wait_for(done, 30 + count * 0.2)
        finally:
            client.close()
        await self.seed.wait_child_ended()
        return samples

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
            f"replay of {s.replay_big:,} lines: longest wait of a concurrent GET",
            "ms",
            "lower",
            "≤ 50 ms",
            peer_name="seed: one message per line",
            limit=50,
        )
        await self.a.clear()
        await self.ours_burst(self.a, s.replay_big, clients=0)
        ours_last = (await self.a.status())["last_seq"]
        set_mode(self.seed.project, "burst", lines=s.replay_big)
        await self.seed.start_child()
        seed_last = (await self.seed.wait_child_ended())["last_seq"]
        ours_ws = (self.a.port, LOG_WS, self.a.headers)
        seed_ws = (self.seed.port, "/ws", {})
        full_times: dict[str, list[float]] = {"ours": [], "peer": []}
        for _ in range(s.rounds):
            ours = await self._replay(*ours_ws, ours_last, s.replay_small)
            peer = await self._replay(*seed_ws, seed_last, s.replay_small)
            small.add(ours * 1000, peer * 1000)
            probe = Probe(self.folder, self.a.port, "/api/status", self.a.token)
            ours_block, ours_time = await self._replay_probed(
                probe, *ours_ws, ours_last, s.replay_big
            )
            probe = Probe(self.folder, self.seed.port, "/status")
            peer_block, peer_time = await self._replay_probed(
                probe, *seed_ws, seed_last, s.replay_big
            )
            big.add(ours_block, peer_block)
            full_times["ours"].append(ours_time * 1000)
            full_times["peer"].append(peer_time * 1000)
            say(
                f"   10k ours {ours * 1000:.1f} ms seed {peer * 1000:.1f} ms; 100k: blocked "
                f"ours {ours_block:.1f} ms seed {peer_block:.1f} ms, took ours "
                f"{ours_time * 1000:.0f} ms seed {peer_time * 1000:.0f} ms"
            )
        big.detail["replay_100k_ms"] = full_times
        small.judge()
        big.judge()
        await self.a.clear()

    async def _replay(self, port: int, path: str, headers: dict, last: int, count: int) -> float:
        """Seconds from the connection's first byte until `count` replayed lines arrived."""
        t0 = time.monotonic()
        client = await connect(port, f"{path}?since={last - count}", headers, pattern=SEQS)
        try:
            t1 = await asyncio.wait_for(client.expect(count), burst_timeout(count))
        finally:
            client.close()
        return t1 - t0

    async def _replay_probed(
        self, probe: Probe, port: int, path: str, headers: dict, last: int, count: int
    ) -> tuple[float, float]:
        try:
            await probe.warm()
            t0 = time.monotonic()
            took = await self._replay(port, path, headers, last, count)
            await asyncio.sleep(0.05)
        finally:
            samples = probe.finish()
        return max(Probe.during(samples, t0, t0 + took)) * 1000, took

    # -- the real path: a Django view under runserver; then idle ---------------------------------

    async def django_and_idle(self) -> None:
        s = self.sizes
        fig = self.figure(
            "e2e_django_view",
            "end to end through runserver: a view's burst, 1 client",
            "lines/s",
            "higher",
            "≥ 2.5× terminado",
            peer_name="terminado, 1 client",
            ratio_bar=2.5,
        )
        server = self.a
        await server.clear()
        set_mode(server.project, "django")
        set_mode(self.term.project, "django")
        status = await server.start_child(wait=60)
        if status["state"] != "running":
            raise RuntimeError(f"Django did not start under jupyter_fujita: {status}")
        term_name = self._name("django")
        term_client = await connect(self.term.port, f"/websocket/{term_name}", pattern=NEWLINE)
        try:
            await wait_port(self.term.django_port, 60)
            await asyncio.sleep(0.5)  # its start-up lines are through
            http = AsyncHTTPClient()
            for _ in range(s.heavy_rounds):
                base = (await server.status())["last_seq"]
                client = await connect(
                    server.port, f"{LOG_WS}?since={base}", server.headers, pattern=SEQS, marker=MARK
                )
                done = client.expect(s.django_lines)
                await http.fetch(django_burst_request(server.django_port, s.django_lines))
                ours = steady_rates([client], await asyncio.wait_for(done, 120))["rate"]
                client.close()
                term_client.count, term_client.first_hit_time = 0, None
                done = term_client.expect(s.django_lines)
                await http.fetch(django_burst_request(self.term.django_port, s.django_lines))
                peer = steady_rates([term_client], await asyncio.wait_for(done, 120))["rate"]
                await asyncio.sleep(0.2)  # the request's log line, after the burst
                fig.add(ours, peer)
                say(f"   ours {ours:,.0f}  terminado {peer:,.0f}  x{ours / peer:.2f}")
            fig.detail["lines"] = s.django_lines
            fig.judge()
            await self.idle(term_name)
        finally:
            term_client.close()
            await self.term.kill(term_name)
            await server.stop_child()
            await server.clear()

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
        server = self.a
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
                before = (server.cpu_seconds(), self.term.cpu_seconds())
                await asyncio.sleep(window)
                after = (server.cpu_seconds(), self.term.cpu_seconds())
                ours, peer = ((a - b) / window * 100 for a, b in zip(after, before, strict=True))
                # a ratio of two near-zero CPU figures says nothing: add ours only
                fig.ours.append(ours)
                fig.peer.append(peer)
            end = (server.cpu_seconds(), self.term.cpu_seconds())
            fig.ours_value = (end[0] - start[0]) / s.idle_seconds * 100
            fig.peer_value = (end[1] - start[1]) / s.idle_seconds * 100
            fig.detail["seconds"] = s.idle_seconds
            fig.detail["note"] = (
                "value: CPU over the whole window (psutil, 10 ms ticks); "
                "rounds: sub-windows; both servers measured in the same window"
            )
            fig.judge()
            say(f"   ours {fig.ours_value:.2f}%  terminado {fig.peer_value:.2f}%")
        finally:
            for client in clients:
                client.close()

    # -- a client that stops reading -------------------------------------------------------------

    async def stalled(self) -> None:
        s = self.sizes
        server = self.b
        budget = server.cache_bytes
        growth = self.figure(
            "stalled_rss_growth",
            f"a client stops reading, {s.flood_lines:,} lines flowing: server RSS growth",
            "MiB",
            "lower",
            f"≤ cache budget ({budget / MiB:.0f} MiB) + 8 MiB",
            limit=budget / MiB + 8,
        )
        others = self.figure(
            "stalled_others_rate",
            "… the other 2 clients' rate, with the stalled one / without",
            "lines/s",
            "higher",
            "keep their rate (ratio ≥ 0.8); lines a gap skipped don't count",
            peer_name="same, no stalled client",
            ratio_bar=0.8,
        )
        await self.ours_burst(server, 1_000)  # warm
        await asyncio.sleep(0.2)
        baseline = server.rss()
        samples: list[int] = []
        missed = {"with": 0, "without": 0}
        for _ in range(s.heavy_rounds):
            with_stall = await self.ours_burst(
                server, s.flood_lines, clients=2, stalled=1, sample_rss=samples
            )
            without = await self.ours_burst(server, s.flood_lines, clients=2, sample_rss=samples)
            growth.ours.append((max(samples) - baseline) / MiB)
            missed["with"] += with_stall["missed"]
            missed["without"] += without["missed"]
            others.add(with_stall["rate"], without["rate"])
            say(
                f"   growth {(max(samples) - baseline) / MiB:.1f} MiB; others "
                f"{with_stall['rate']:,.0f} vs {without['rate']:,.0f} lines/s each"
            )
        growth.ours_value = max(growth.ours)
        growth.detail["baseline_rss_mib"] = baseline / MiB
        growth.detail["note"] = "value: the peak over all rounds, from the fresh server's RSS"
        others.detail["missed_lines"] = missed
        growth.judge()
        others.judge()

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
        server = self.b
        for _ in range(s.heavy_rounds):
            probe = Probe(self.folder, server.port, "/api/status", server.token, interval=0.01)
            try:
                await probe.warm()
                t0 = time.monotonic()
                result = await self.ours_burst(server, s.flood_lines)
                t1 = t0 + result["seconds"]
            finally:
                samples = probe.finish()
            ours = percentile(Probe.during(samples, t0, t1), 99) * 1000
            probe = Probe(self.folder, server.port, "/api/status", server.token, interval=0.01)
            try:
                await probe.warm()
                t0, t1 = await self._terminal_flood(server, s.flood_lines)
            finally:
                samples = probe.finish()
            peer = percentile(Probe.during(samples, t0, t1), 99) * 1000
            fig.add(ours, peer)
            fig.detail.setdefault("missed_lines", []).append(result["missed"])
            fig.detail.setdefault("flood_seconds", []).append(
                {"ours": result["seconds"], "peer": t1 - t0}
            )
            say(
                f"   p99 ours {ours:.1f} ms  Jupyter terminal {peer:.1f} ms "
                f"(flood {result['seconds']:.2f} s vs {t1 - t0:.2f} s)"
            )
        fig.judge()

    async def _terminal_flood(self, server: JupyterServer, lines: int) -> tuple[float, float]:
        """The same child run from a Jupyter terminal, one client reading; its start and end."""
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


# -- helpers that run in this process -----------------------------------------------------------


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


async def ingest_ours(folder: Path, lines: int) -> float:
    """Our Supervisor + ReplayCache, in this process: lines/s from the child's first batch to
    the last line stored."""
    cache = TimedCache(lines + 100, 1 << 40)
    project = DjangoProject(folder, f"127.0.0.1:{free_port()}", PYTHON, folder / "manage.py")
    supervisor = Supervisor("bench", project, cache, stop_timeout=3)
    set_mode(folder, "burst", lines=lines)
    await supervisor.start()
    target = lines + 1  # the supervisor's own "Starting: ..." line comes first
    while cache.last_seq < target:
        await asyncio.wait_for(cache.wait_beyond(cache.last_seq, cache.clears), 60)
    elapsed = cache.last_time - cache.first_time
    await supervisor.wait_for(lambda: not supervisor.alive, 30)
    return (lines - cache.first_count) / elapsed


class TimedCache(ReplayCache):
    """Our cache, noting when the child's first batch arrived and when the last was stored (two
    clock reads per batch of hundreds of lines)."""

    first_time = last_time = 0.0
    first_count = 0

    def append(self, stream: str, texts: list[str], time: float) -> Any:
        if not self.first_count and stream == "stdout":
            self.first_time, self.first_count = perf_counter(), len(texts)
        appended = super().append(stream, texts, time)
        self.last_time = perf_counter()
        return appended


async def ingest_seed(folder: Path, lines: int) -> float:
    """The seed's reader, in this process: lines/s from spawn to the last line in its ring."""
    log = seedref.SeedLog(lines + 100)
    set_mode(folder, "burst", lines=lines)
    proc = seedref.spawn([PYTHON, "manage.py", "runserver", "x"], str(folder))
    stderr = asyncio.ensure_future(log.read(proc.stderr, "stderr"))
    await log.read(proc.stdout, "stdout")  # returns at EOF, just after the last line
    elapsed = time.perf_counter() - log.first_time  # from the first line
    await stderr
    await proc.wait_for_exit(raise_error=False)
    assert log.last_seq == lines, log.last_seq
    return (lines - 1) / elapsed


def burst_chunks(lines: int) -> list[bytes]:
    line = (MARKER + " " + "x" * (LINE_BYTES - len(MARKER) - 2) + "\n").encode()
    block = line * 655
    full, rest = divmod(lines, 655)
    return [block] * full + ([line * rest] if rest else [])


def traced_ours(lines: int) -> float:
    """Bytes Python allocates per line our cache holds (read path: 64 KiB chunks, splitter)."""
    chunks = burst_chunks(lines)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    cache = ReplayCache(lines + 1, 1 << 40)
    splitter = LineSplitter()
    for chunk in chunks:
        cache.append("stdout", splitter.feed(chunk), time.time())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert cache.size == lines
    del cache
    return (after - before) / lines


def traced_seed(lines: int) -> float:
    chunks = burst_chunks(lines)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    log = seedref.SeedLog(lines + 1)
    for chunk in chunks:
        for raw in chunk.split(b"\n")[:-1]:
            log.append("stdout", raw.decode("utf-8", "replace"))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert len(log.lines) == lines
    del log
    return (after - before) / lines


def django_burst_request(port: int, lines: int) -> HTTPRequest:
    return HTTPRequest(f"http://127.0.0.1:{port}/burst?n={lines}", request_timeout=300)


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
