"""A loop-lag probe inside the Jupyter server: how long its event loop kept a 1 ms timer waiting,
and what the loop was running meanwhile.

A server extension of the bench's own (`bench.looplag`, enabled in the bench's servers only),
idle until asked, so that it costs the other figures nothing: `POST /bench/looplag` starts it,
`GET /bench/looplag` stops it and answers `{"longest_ms", "longest_busy_ms", "over_20ms",
"ticks", "held_in"}`. A timer due in 1 ms that fires late was held up by whatever the loop ran
meanwhile (a disk read, an encode): the longest lateness is the longest stall, less at most the
1 ms it waited by design. Of that, the CPU time the loop's own thread spent (`longest_busy_ms`,
the most in one tick) is work the loop ran; the rest it waited: for the GIL while another thread
held it, or for a core on a busy machine.
While the loop is held past 20 ms a watchdog thread looks at the loop thread's stack every 5 ms
(`held_in`: its innermost frames, counted): what held it, when it is Python code (a long call
into C that keeps the GIL is seen just after it returns). Each callback the loop runs is timed
too (`slow_callbacks`: those over 10 ms, by what they run, with their CPU), and each garbage
collection in the loop's thread (`gc_ms`: the longest of each generation): a tick's own work,
named. Of the longest stall, the probe keeps the loop thread's CPU and its wait for a core (the
kernel's schedstat): what is left it slept, waiting for the GIL or in a blocking call. And it
counts the bytes the loop thread, and the server's other threads, read from and wrote to disk
(`/proc/self/task/<id>/io`): a loop that moved none cannot have waited on the disk's data.
`LoopLag` drives it from the bench. The extension also serves the latency rounds' probe
(`stages.py`) at `/bench/stages`.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from jupyter_fujita.handlers import SharedEncodings
from jupyter_fujita.lines import LineSplitter
from jupyter_fujita.replay import ReplayCache

from .stages import Stages

INTERVAL = 0.001
HELD = 0.020  # the bar: the loop held longer than this
LOOK_EVERY = 0.005
SLOW_CALLBACK = 0.010


class Watch:
    """The timer, the watchdog, and what they saw."""

    def __init__(self) -> None:
        self.task: asyncio.Task | None = None
        self.halt = threading.Event()
        self.longest = 0.0
        self.longest_busy = 0.0
        self.longest_parts = (0.0, 0.0)  # of the longest stall: on the CPU, waiting for a core
        self.disk_at_start: dict[str, int] = {}
        self.over_20ms = 0
        self.ticks = 0
        self.last_tick = time.perf_counter()
        self.held_in: Counter[str] = Counter()
        self.slow_callbacks: dict[str, dict[str, float]] = {}
        self.gc_longest = [0.0, 0.0, 0.0]
        self._gc_started = 0.0
        self._loop_thread = 0
        self._run = asyncio.events.Handle._run

    def start(self) -> None:
        self.stop()
        self.longest, self.longest_busy, self.over_20ms, self.ticks = 0.0, 0.0, 0, 0
        self.longest_parts = (0.0, 0.0)
        self.disk_at_start = disk_bytes()
        self.held_in.clear()
        self.slow_callbacks, self.gc_longest = {}, [0.0, 0.0, 0.0]
        self._time_callbacks(threading.get_ident())
        self.last_tick = time.perf_counter()
        self.task = asyncio.ensure_future(self._tick())
        self.halt = threading.Event()
        loop_thread = threading.get_ident()
        threading.Thread(target=self._watchdog, args=(loop_thread,), daemon=True).start()

    def stop(self) -> None:
        self.halt.set()
        asyncio.events.Handle._run = self._run  # type: ignore[method-assign]
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)
        if self.task is not None:
            self.task.cancel()
            self.task = None

    async def _tick(self) -> None:
        try:
            schedstat = os.open(f"/proc/self/task/{threading.get_native_id()}/schedstat", 0)
        except OSError:  # a kernel without schedstats: no wait for a core is told apart
            schedstat = -1
        try:
            while True:
                asked, cpu, queued = time.perf_counter(), time.thread_time(), _queued(schedstat)
                await asyncio.sleep(INTERVAL)
                self.last_tick = now = time.perf_counter()
                late, busy = now - asked - INTERVAL, time.thread_time() - cpu
                self.ticks += 1
                if late > self.longest:
                    self.longest = late
                    self.longest_parts = (busy, _queued(schedstat) - queued)
                self.longest_busy = max(self.longest_busy, busy)
                self.over_20ms += late > HELD
        finally:
            if schedstat >= 0:
                os.close(schedstat)

    def _time_callbacks(self, loop_thread: int) -> None:
        run, slow = self._run, self.slow_callbacks

        def timed(handle: asyncio.Handle) -> None:
            frame = _coroutine_frame(handle)  # gone once the coroutine returns: held for its name
            wall, cpu = time.perf_counter(), time.thread_time()
            run(handle)
            took = time.perf_counter() - wall
            if took > SLOW_CALLBACK:
                name = callback_name(handle, frame)
                row = slow.setdefault(name, {"count": 0, "ms": 0.0, "cpu_ms": 0.0})
                row["count"] += 1
                if took * 1000 > row["ms"]:
                    row["ms"], row["cpu_ms"] = took * 1000, (time.thread_time() - cpu) * 1000

        asyncio.events.Handle._run = timed  # type: ignore[method-assign,assignment]
        self._loop_thread = loop_thread
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if threading.get_ident() != self._loop_thread:
            return
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            took, generation = time.perf_counter() - self._gc_started, info["generation"]
            self.gc_longest[generation] = max(self.gc_longest[generation], took)

    def _watchdog(self, loop_thread: int) -> None:
        while not self.halt.wait(LOOK_EVERY):
            if time.perf_counter() - self.last_tick > HELD + INTERVAL:
                frame = sys._current_frames().get(loop_thread)
                if frame is not None:
                    self.held_in[innermost(frame)] += 1


def _queued(schedstat: int) -> float:
    """Seconds the thread has waited on a run queue for a core (schedstat's second field, ns)."""
    return int(os.pread(schedstat, 100, 0).split()[1]) / 1e9 if schedstat >= 0 else 0.0


def disk_bytes() -> dict[str, int]:
    """Bytes read from and written to disk so far by the loop's thread (the caller) and by the
    whole process, dead threads included. Page-cache hits are not disk reads; a write counts when
    it dirties the page cache, as the writer makes it."""

    def read(path: str) -> tuple[int, int]:
        fields = dict(line.split(": ") for line in Path(path).read_text().splitlines())
        return int(fields["read_bytes"]), int(fields["write_bytes"])

    loop = read(f"/proc/self/task/{threading.get_native_id()}/io")
    process = read("/proc/self/io")
    return {
        "loop_read": loop[0], "loop_written": loop[1],
        "process_read": process[0], "process_written": process[1],
    }  # fmt: skip


def _coroutine_frame(handle: asyncio.Handle) -> Any:
    task = getattr(getattr(handle, "_callback", None), "__self__", None)
    return getattr(task.get_coro(), "cr_frame", None) if isinstance(task, asyncio.Task) else None


def callback_name(handle: asyncio.Handle, frame: Any = None) -> str:
    """What a loop callback runs: a task's coroutine (and the object it is a method of), else
    the function."""
    callback = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        owner = frame.f_locals.get("self") if frame is not None else None
        of = f" of {type(owner).__name__}" if owner is not None else ""
        return f"task {task.get_coro().__qualname__}{of}"  # type: ignore[union-attr]
    inner = getattr(callback, "func", callback)  # a functools.partial's function
    return getattr(inner, "__qualname__", repr(inner))[:120]


def innermost(frame: Any, depth: int = 4) -> str:
    """The innermost frames of a stack, `function (file:line)`, innermost first."""
    names = []
    while frame is not None and len(names) < depth:
        code = frame.f_code
        where = "/".join(code.co_filename.rsplit("/", 2)[-2:])
        names.append(f"{code.co_qualname} ({where}:{frame.f_lineno})")
        frame = frame.f_back
    return " < ".join(names)


class LoopLagHandler(APIHandler):
    @web.authenticated
    def post(self) -> None:
        self.settings["bench_looplag"].start()
        self.finish({"started": True})

    @web.authenticated
    def get(self) -> None:
        watch = self.settings["bench_looplag"]
        watch.stop()
        now = disk_bytes()
        disk = {k: now[k] - watch.disk_at_start.get(k, now[k]) for k in now}
        held_in = [{"stack": stack, "looks": n} for stack, n in watch.held_in.most_common(5)]
        self.finish(
            {
                "longest_ms": watch.longest * 1000,
                "longest_busy_ms": watch.longest_busy * 1000,
                "longest_cpu_ms": watch.longest_parts[0] * 1000,
                "longest_queued_ms": watch.longest_parts[1] * 1000,
                "disk": disk,
                "over_20ms": watch.over_20ms,
                "ticks": watch.ticks,
                "held_in": held_in,
                "slow_callbacks": [
                    {"callback": name, **row}
                    for name, row in sorted(
                        watch.slow_callbacks.items(), key=lambda item: -item[1]["ms"]
                    )[:8]
                ],
                "gc_ms": [seconds * 1000 for seconds in watch.gc_longest],
            }
        )


class StagesHandler(APIHandler):
    """The latency rounds' probe (stages.py): POST starts it, GET stops it and answers."""

    @web.authenticated
    def post(self) -> None:
        self.settings["bench_stages"].start()
        self.finish({"started": True})

    @web.authenticated
    def get(self) -> None:
        self.finish(self.settings["bench_stages"].stop())


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "bench.looplag"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    web_app = serverapp.web_app
    web_app.settings["bench_looplag"] = Watch()
    web_app.settings["bench_stages"] = Stages(
        (
            (LineSplitter, "feed", "splitting the read into lines"),
            (ReplayCache, "append", "the cache, the Django reader, the cut to send"),
            (SharedEncodings, "encode", "encoding the message"),
        )
    )
    base = web_app.settings["base_url"]
    web_app.add_handlers(
        ".*$",
        [
            (url_path_join(base, "bench/looplag"), LoopLagHandler),
            (url_path_join(base, "bench/stages"), StagesHandler),
        ],
    )


class LoopLag:
    """The probe of one server, around some work: `async with LoopLag(server) as lag: ...`, then
    `lag.result`."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.result: dict[str, Any] = {}

    async def __aenter__(self) -> LoopLag:
        await self.server.fetch("/bench/looplag", "POST")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.result = await self.server.fetch("/bench/looplag")

    @property
    def stall(self) -> dict[str, Any]:
        """What a round keeps: the longest stall, the loop's own CPU in its busiest tick, how
        many passed 20 ms, what held the loop."""
        r = self.result
        return {
            "stall_ms": r["longest_ms"],
            "busy_ms": r["longest_busy_ms"],
            "longest_cpu_ms": r["longest_cpu_ms"],
            "longest_queued_ms": r["longest_queued_ms"],
            "disk": r["disk"],
            "over_20ms": r["over_20ms"],
            "held_in": r["held_in"],
            "slow_callbacks": r["slow_callbacks"],
            "gc_ms": r["gc_ms"],
        }
