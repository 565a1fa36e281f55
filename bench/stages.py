"""Where a paced line's latency goes inside a server: when the server took the line out of the
child's pipe, and when its WebSocket write of the line began and ended.

The same probe in our server (through the bench's server extension, `looplag.py`) and in the
seed (`seed.py`), at the same two points of tornado both use: `PipeIOStream.read_from_fd` (the
kernel handed the server the bytes) and `WebSocketHandler.write_message` (the frame is built and
sent). Installed only for the latency rounds, so that it costs the other figures nothing. A
line is known by the index the paced child writes into it (`fujita-bench lat <time> <index>`);
with the child's write time in the text and the client's receive time, each line's latency
splits into: the pipe and the wake-up (child write → server read), the server's own work (read
→ write begins), and the write and the client's read (write begins → client receive).
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from tornado.iostream import PipeIOStream
from tornado.websocket import WebSocketHandler

from .figures import percentile

# A paced line's head, in the pipe's bytes and in a message's JSON alike.
PACED = re.compile(rb"fujita-bench lat [0-9.]+ ([0-9]+) ")


class Stages:
    """The probe of one server process; `start` patches the two points and the inner ones,
    `stop` restores them and answers what they saw: {"read": {index: t}, "write": {index: [begun, ended]},
    "passed": {name: {index: t}}}, in `time.monotonic()` seconds (system-wide on Linux, as the
    child's and the client's are)."""

    def __init__(self, inner: tuple[tuple[type, str, str], ...] = ()) -> None:
        """`inner`: points inside the server's work, (class, method, name), each timed as it is
        called for the line read last (our server's own steps; the seed has none)."""
        self.inner = inner
        self.read: dict[int, float] = {}
        self.write: dict[int, list[float]] = {}
        self.passed: dict[str, dict[int, float]] = {}
        self._current: int | None = None  # the index of the line read last
        self._originals: list[tuple[type, str, Any]] = []

    def start(self) -> None:
        self.stop()
        self.read, self.write, self.passed = {}, {}, {name: {} for _, _, name in self.inner}
        read_from_fd, write_message = PipeIOStream.read_from_fd, WebSocketHandler.write_message
        stages = self

        def timed_read(stream: PipeIOStream, buf: Any) -> int | None:
            size = read_from_fd(stream, buf)
            now = time.monotonic()
            if size:
                for match in PACED.finditer(bytes(memoryview(buf)[:size])):
                    stages._current = int(match[1])
                    stages.read.setdefault(stages._current, now)
            return size

        def timed_write(socket: WebSocketHandler, message: Any, binary: bool = False) -> Any:
            begun = time.monotonic()
            written = write_message(socket, message, binary)
            ended = time.monotonic()
            data = message.encode() if isinstance(message, str) else message
            if isinstance(data, bytes):
                for match in PACED.finditer(data):
                    stages.write.setdefault(int(match[1]), [begun, ended])
            return written

        def timed_inner(method: Any, name: str) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                if stages._current is not None:
                    stages.passed[name].setdefault(stages._current, time.monotonic())
                return method(*args, **kwargs)

            return timed

        self._patch(PipeIOStream, "read_from_fd", timed_read)
        self._patch(WebSocketHandler, "write_message", timed_write)
        for owner, method, name in self.inner:
            self._patch(owner, method, timed_inner(getattr(owner, method), name))

    def _patch(self, owner: type, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, getattr(owner, name)))
        setattr(owner, name, replacement)

    def stop(self) -> dict[str, Any]:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals, self._current = [], None
        return {"read": self.read, "write": self.write, "passed": self.passed}


STAGES = (
    "the pipe and the wake-up (child write → server read)",
    "the server's work (read → its WebSocket write begins)",
    "the write and the client's read (→ client receive)",
    "of it, tornado's write_message call (the client may have the line before it returns)",
)
HAND_OVER = "tornado hands the read to its reader"  # the server's work up to the first inner point


def split(sent: dict[int, float], received: dict[int, float], seen: dict[str, Any]) -> list:
    """Each paced line's stages in ms, as STAGES names them, then (where the server has inner
    points, `parts(seen)`) its work split at them; for the lines the probe saw at both points.
    `sent` is the child's write time by index, `received` the client's receive time, `seen` a
    server's `Stages.stop()` as JSON (its keys strings)."""
    read = {int(k): v for k, v in seen["read"].items()}
    write = {int(k): v for k, v in seen["write"].items()}
    passed = [{int(k): v for k, v in times.items()} for times in seen["passed"].values()]
    rows = []
    for index, t0 in sent.items():
        if index not in read or index not in write or index not in received:
            continue
        begun, ended = write[index]
        row = [
            (read[index] - t0) * 1000,
            (begun - read[index]) * 1000,
            (received[index] - begun) * 1000,
            (ended - begun) * 1000,
        ]
        points = [read[index], *(times.get(index) for times in passed), begun]
        if passed and None not in points:
            row += [(b - a) * 1000 for a, b in itertools.pairwise(points)]  # type: ignore[operator]
        rows.append(row)
    return rows


def parts(seen: dict[str, Any]) -> list[str]:
    """The names of the server's work's parts that `split` adds to a row, in order."""
    return [HAND_OVER, *seen["passed"]] if seen["passed"] else []


def summary(rows: list[list[float]], names: list[str]) -> dict[str, Any]:
    """Each stage's p50 and p99 over all lines, and its mean over the slowest 1% of lines (by
    their whole latency, the first three stages' sum): which stage a tail's time is in. And the
    p50 of each part of the server's work (`names`, from `parts`), where it has them."""
    if not rows:
        return {}
    by_total = sorted(rows, key=lambda row: sum(row[:3]))
    tail = by_total[-max(1, len(rows) // 100) :]
    whole = [row[len(STAGES) :] for row in rows if len(row) == len(STAGES) + len(names)]
    return {
        "lines": len(rows),
        "tail_lines": len(tail),
        "stages": {
            name: {
                "p50": percentile([row[k] for row in rows], 50),
                "p99": percentile([row[k] for row in rows], 99),
                "tail_mean": sum(row[k] for row in tail) / len(tail),
            }
            for k, name in enumerate(STAGES)
        },
        "work_p50": {
            name: percentile([row[k] for row in whole], 50) for k, name in enumerate(names)
        }
        if whole and names
        else {},
    }
