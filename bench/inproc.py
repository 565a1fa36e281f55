"""The figures measured inside the bench's own process: ingest and memory per cached line.

Ingest: our `Supervisor` with its `ReplayCache` and `LogStore` as a server builds them (default
sizes, the log on disk), against the seed design's `read_until` loop, on the same child.
Memory: bytes Python allocates per cached line (tracemalloc), our cache against a lean record,
a `@dataclass(slots=True)` per line in a list, fed the same texts.
"""

from __future__ import annotations

import asyncio
import cProfile
import gc
import pstats
import shutil
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter
from typing import Any

from jupyter_fujita.project import DjangoProject
from jupyter_fujita.lines import LineSplitter
from jupyter_fujita.logstore import LogStore
from jupyter_fujita.replay import ReplayCache
from jupyter_fujita.supervisor import Supervisor

from . import seed as seedref
from .figures import Run
from .project import LINE_BYTES, MARKER, set_mode
from .servers import PYTHON, free_port

DEFAULT_LINES, DEFAULT_BYTES = 10_000, 16 * 1024 * 1024  # Fujita.cache_lines / cache_bytes


class TimedCache(ReplayCache):
    """Our cache, noting when the child's first batch arrived and when the last was stored (two
    clock reads per batch of hundreds of lines)."""

    first_time = last_time = 0.0
    first_count = 0
    stream = "stdout"

    def append(self, stream: str, texts: list[str], time: float, annotate: Any = None) -> Any:
        if not self.first_count and stream == self.stream:
            self.first_time, self.first_count = perf_counter(), len(texts)
        appended = super().append(stream, texts, time, annotate)
        self.last_time = perf_counter()
        return appended


async def collected(run) -> Run:
    """`run()` after a collection: the last round's lines are gone before this one's come."""
    gc.collect()
    return await run()


async def ingest_ours(folder: Path, mode: str, stream: str, lines: int) -> Run:
    """Lines/s from the child's first batch to the last line stored, as a server runs it."""
    logs = Path(tempfile.mkdtemp(prefix="fjingest-"))
    try:
        cache = TimedCache(DEFAULT_LINES, DEFAULT_BYTES, LogStore(logs))
        cache.stream = stream
        project = DjangoProject(folder, f"127.0.0.1:{free_port()}", PYTHON, folder / "manage.py")
        supervisor = Supervisor("bench", project, cache, stop_timeout=3)
        set_mode(folder, mode, lines=lines)
        start = cache.last_seq
        await supervisor.start()
        target = start + lines + 1  # the supervisor's own "Starting: ..." line comes first
        while cache.last_seq < target:
            await asyncio.wait_for(cache.wait_beyond(cache.last_seq, cache.clears), 60)
        elapsed = cache.last_time - cache.first_time
        await supervisor.wait_for(lambda: not supervisor.alive, 30)
        cache.store.flush()
        return Run((lines - cache.first_count) / elapsed, 0)  # it waited for every line
    finally:
        shutil.rmtree(logs, ignore_errors=True)


async def ingest_seed(folder: Path, mode: str, stream: str, lines: int) -> Run:
    """The seed's reader: lines/s from the first line to the last one in its ring."""
    log = seedref.SeedLog(DEFAULT_LINES)
    set_mode(folder, mode, lines=lines)
    proc = seedref.spawn([PYTHON, "manage.py", "runserver", "x"], str(folder))
    await asyncio.gather(log.read(proc.stdout, "stdout"), log.read(proc.stderr, "stderr"))
    elapsed = time.perf_counter() - log.first_time  # both pipes at EOF: just after the last line
    await proc.wait_for_exit(raise_error=False)
    assert log.last_seq == lines, log.last_seq
    return Run((lines - 1) / elapsed, 0)  # asserted: every line


@dataclass(slots=True)
class LeanLine:
    """The lean peer: the four fields of a line, no dict, no spare slot."""

    seq: int
    stream: str
    time: float
    text: str


def marker_chunks(lines: int) -> list[bytes]:
    line = (MARKER + " " + "x" * (LINE_BYTES - len(MARKER) - 2) + "\n").encode()
    block = line * 655
    full, rest = divmod(lines, 655)
    return [block] * full + ([line * rest] if rest else [])


def _traced(fill, lines: int) -> float:
    chunks = marker_chunks(lines)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = fill(chunks)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return (after - before) / lines


def parts() -> dict[str, dict[str, int]]:
    """What one cached line is made of, in bytes (sys.getsizeof, which counts the cycle
    collector's header of the objects it tracks): why the totals are what they are."""
    text = "x" * (LINE_BYTES - 1)
    cache = ReplayCache(DEFAULT_LINES, DEFAULT_BYTES)
    ours = cache.append("stdout", [text], 0.0)[0]
    lean = LeanLine(1_000_000, "stdout", 0.0, text)
    seq = sys.getsizeof(1_000_000)
    return {
        "ours": {"text": sys.getsizeof(text), "record (Line, gc=False)": sys.getsizeof(ours),
                 "seq int": seq, "list slot": 8, "prefix sum": cache._pre.itemsize},
        "peer": {"text": sys.getsizeof(text), "record (slots dataclass)": sys.getsizeof(lean),
                 "seq int": seq, "list slot": 8},
    }  # fmt: skip


def traced_ours(lines: int) -> Run:
    """Bytes per line our cache (default sizes) holds, fed as the supervisor feeds it."""

    def fill(chunks: list[bytes]) -> ReplayCache:
        cache = ReplayCache(DEFAULT_LINES, DEFAULT_BYTES)
        splitter = LineSplitter()
        for chunk in chunks:
            cache.append("stdout", splitter.feed(chunk), time.time())
        assert cache.size == lines, cache.size
        return cache

    return Run(_traced(fill, lines))


def traced_lean(lines: int) -> Run:
    def fill(chunks: list[bytes]) -> list[LeanLine]:
        held: list[LeanLine] = []
        splitter = LineSplitter()
        seq = 0
        for chunk in chunks:
            now = time.time()
            for text in splitter.feed(chunk):
                seq += 1
                held.append(LeanLine(seq, "stdout", now, text))
        return held

    return Run(_traced(fill, lines))


async def profiled(run, lines: int, top: int = 12) -> list[dict[str, Any]]:
    """One more run of `run()` under cProfile: the functions that took most of it, by own time,
    in µs per line."""
    gc.collect()
    profile = cProfile.Profile()
    profile.enable()
    try:
        await run()
    finally:
        profile.disable()
    stats = pstats.Stats(profile).stats
    rows = []
    for (file, line, name), (_, calls, own, cumulative, _) in stats.items():
        where = f"{Path(file).name}:{line}" if line else file
        rows.append(
            {
                "function": f"{name} ({where})",
                "calls": calls,
                "own_us_per_line": own / lines * 1e6,
                "cumulative_us_per_line": cumulative / lines * 1e6,
            }
        )
    rows.sort(key=lambda row: row["own_us_per_line"], reverse=True)
    return rows[:top]
