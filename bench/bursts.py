"""One burst of lines, one side: the child writes, clients read, and what they got is counted.

Two workloads: the marker flood (100-byte lines on stdout, which the Django reader skips with
one search a batch) and what runserver really prints (request lines on stderr, a 500 and its
traceback in every 1,000). Our clients count lines by seq, so a line is lost when a `gap`
announces it or a seq is skipped; terminado's by escaped newline, lost being what never came.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from .figures import Run, say
from .project import MARKER, set_mode
from .servers import LOG_WS, JupyterServer, TermPeer
from .wsclient import SEQS, WSClient, connect

NEWLINE = b"\\n"  # a newline inside a JSON string, as terminado sends pty output


@dataclass(frozen=True)
class Workload:
    name: str
    mode: str  # of the child (project.py)
    stream: str
    marker: bytes  # in every line of the burst, in none of the supervisor's own


MARKERS = Workload("markers", "burst", "stdout", MARKER.encode())
REQUESTS = Workload("requests", "requests", "stderr", b"HTTP/1.1")
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
    if end <= start:  # every line came in one read (a small burst, as a warm-up's): no window
        return {"total_rate": 0.0, "rate": 0.0}
    first = min(clients, key=lambda c: c.first_hit_time)
    delivered = sum(c.count for c in clients) - first.first_hit_count
    return {
        "total_rate": delivered / (end - start),
        "rate": delivered / len(clients) / (end - start),
    }


async def readers_of(server: JupyterServer, base: int, marker: bytes, count: int = 1) -> list:
    """`count` clients of our log from after seq `base`, counting by seq."""
    path = f"{LOG_WS}?since={base}"
    return [
        await connect(server.port, path, server.headers, pattern=SEQS, marker=marker, since=base)
        for _ in range(count)
    ]


def lost_by(readers: list[WSClient], expected: int) -> int:
    """What the readers never got: announced by a gap, skipped, or not there by the end."""
    return sum(r.lost + max(0, expected - r.count - r.lost) for r in readers)


async def ours_burst(
    server: JupyterServer, work: Workload, lines: int, clients: int = 1, stalled: int = 0
) -> Run:
    """Clients connected (and `stalled` more that never read), then the child writes `lines`;
    lines/s until every client has all (per client; in all for several), and what they lost."""
    base = (await server.status())["last_seq"]
    set_mode(server.project, work.mode, lines=lines)
    path = f"{LOG_WS}?since={base}"
    stalls = [await connect(server.port, path, server.headers, stall=True) for _ in range(stalled)]
    readers = await readers_of(server, base, work.marker, clients)
    # counted by seq: the supervisor's "Starting: ..." line, then the burst
    done = [reader.expect(lines + 1) for reader in readers]
    t0 = time.monotonic()
    await server.start_child(0)
    try:
        end = await until_all(done, burst_timeout(lines * clients), readers)
        closed_early = sum(r.closed.done() for r in readers)
    finally:
        for client in readers + stalls:
            client.close()
    await server.wait_child_ended()
    timed_out = end is None
    end = end or time.monotonic()
    rates = steady_rates(readers, end)
    lost = lost_by(readers, lines + 1)
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


async def term_burst(
    term: TermPeer, name: str, work: Workload, lines: int, clients: int = 1
) -> Run:
    """terminado: `clients` clients on one terminal (one pty) named `name`; the child waits
    until all are connected, then writes; lines/s until every client has them all."""
    go = term.folder / f"go-{name}"
    set_mode(term.project, work.mode, lines=lines, go=str(go))
    readers = [
        await connect(term.port, f"/websocket/{name}", pattern=NEWLINE) for _ in range(clients)
    ]
    try:
        done = [reader.expect(lines) for reader in readers]
        go.touch()
        end = await until_all(done, burst_timeout(lines * clients), readers)
    finally:
        for reader in readers:
            reader.close()
        await term.kill(name)
        go.unlink(missing_ok=True)
    rates = steady_rates(readers, end or time.monotonic())
    lost = sum(max(0, lines - r.count) for r in readers)
    return Run(rates["total_rate"] if clients > 1 else rates["rate"], lost, rates)


async def unread_flood(server: JupyterServer, lines: int, stalled: int = 1) -> dict[str, Any]:
    """The child writes `lines` marker lines while `stalled` clients never read and nobody else
    is connected; the server's RSS sampled every 20 ms until the child has ended."""
    base = (await server.status())["last_seq"]
    set_mode(server.project, MARKERS.mode, lines=lines)
    path = f"{LOG_WS}?since={base}"
    stalls = [await connect(server.port, path, server.headers, stall=True) for _ in range(stalled)]
    rss = [server.rss()]
    t0 = time.monotonic()
    await server.start_child(0)
    deadline = t0 + burst_timeout(lines)
    try:
        status = await server.status()
        while not server.child_ended(status) or status["last_seq"] <= base + lines:
            if time.monotonic() > deadline:
                raise TimeoutError(f"a {lines:,}-line flood still going: {status}")
            for _ in range(5):  # the status asked for every 0.1 s only: it costs the loop too
                rss.append(server.rss())
                await asyncio.sleep(0.02)
            status = await server.status()
    finally:
        for client in stalls:
            client.close()
    return {"seconds": time.monotonic() - t0, "rss": rss}
