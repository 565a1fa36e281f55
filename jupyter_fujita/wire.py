"""What the server sends: the records of the REST API, the feed and the kernel client, typed once.

labextension/src/tokens.ts mirrors this module (IStatus, IDjangoError, ICheck, IHint,
IDebuggerLocation, ILine, ILineBatch): a field changed here is changed there, and in
openapi.json, whose test (tests/test_openapi.py) holds a Status to it. The records are msgspec
Structs, encoded by msgspec as they are (`msgspec.json.encode`, or `msgspec.to_builtins` for a
plain dict).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat
from operator import attrgetter
from typing import Any, Literal

import msgspec

State = Literal[
    "stopped", "starting", "running", "reloading", "broken", "paused", "stopping", "crashed"
]
# The states in which a runserver process group exists (it serves, or could again on its own).
ACTIVE: frozenset[State] = frozenset({"starting", "running", "reloading", "broken", "paused"})


class Check(msgspec.Struct, omit_defaults=True):
    """One line of a SystemCheckError's report; `file` and `line` when its object was found."""

    id: str
    level: str
    object: str
    message: str
    file: str | None = None
    line: int | None = None


class DjangoError(msgspec.Struct):
    """What went wrong, as far as the output tells (or the supervisor saw: port, spawn, ...)."""

    kind: str  # syntax, import, settings, system-check, exception, port, permission, spawn, ...
    message: str
    exception: str | None = None
    file: str | None = None
    line: int | None = None
    seq: int | None = None
    checks: list[Check] = msgspec.field(default_factory=list)

    def summary(self) -> str:
        """'SyntaxError in mysite/urls.py line 12' style, for status messages."""
        if self.checks:
            first = self.checks[0]
            more = f" (and {len(self.checks) - 1} more)" if len(self.checks) > 1 else ""
            return f"{self.exception or 'System check'} {first.id}: {first.message}{more}"
        what = self.exception or self.message
        if self.file:
            where = f" in {self.file}" + (f" line {self.line}" if self.line else "")
            return what + where
        return what if what == self.message else f"{what}: {self.message}"


class Hint(msgspec.Struct, omit_defaults=True):
    """Something the user can do about the state: `action` names the hint action that does it
    (none for a hint that only informs); `file` is the user's file it is about."""

    kind: str  # migrations, migration-conflict, port, slow-start, debugger-pin
    message: str
    action: str | None = None  # migrate, merge-migrations, next-port, restart
    label: str | None = None  # the button's words
    file: str | None = None


class DebuggerLocation(msgspec.Struct):
    """Where a request waits in pdb; `seq` is the prompt's line."""

    file: str
    line: int
    function: str
    seq: int


class Status(msgspec.Struct):
    name: str
    state: State
    pid: int | None
    returncode: int | None
    url: str | None
    message: str
    command: list[str]
    cwd: str | None
    started: str | None
    ended: str | None
    restarts: int
    last_seq: int
    error: DjangoError | None
    hints: list[Hint]
    debugger: DebuggerLocation | None
    preview_url: str | None
    preview: str  # on, offered, off
    reach_probe: str | None
    manage_py: str | None = None
    settings: str | None = None
    log_disk_failed: str | None = None  # why the log is kept in memory only (disk trouble)
    kind: str = "django"  # django (runserver), program (a worker, a watcher: Fujita.processes)
    source: str = "Fujita"  # Fujita (its settings), Fujita.processes, Procfile, Procfile.dev
    depends_on: list[str] = msgspec.field(default_factory=list)  # started first, in order


Stream = Literal["stdout", "stderr", "fujita"]


class Line(msgspec.Struct, gc=False, omit_defaults=True):
    """One log line. gc=False: a cache holds up to millions of lines, and objects the cycle
    collector tracks make each full collection walk all of them; a Line holds plain data
    (meta included: JSON values read from the line), never anything that refers back to it.

    On the wire `meta`'s keys sit beside the others (`line_json`): {"request": Request},
    {"frame": {file, line}}, {"partial": true}. A plain line encodes as itself. `stream` is a
    Stream, kept `str` so that decoding the disk log checks nothing per line.
    """

    seq: int
    stream: str
    time: float
    text: str
    # What the output reader (runserver_output) read in the line, if anything. One slot for
    # all of it keeps a plain line small.
    meta: dict[str, Any] | None = None


class Request(msgspec.Struct, gc=False, omit_defaults=True):
    """A request line as read (`meta["request"]`): what the faces colour, filter and link.
    gc=False, as Line: a line's meta holding it is then not tracked by the cycle collector
    either (a dict in a dict is), so a flood of request lines costs it no collections."""

    method: str
    path: str
    status: int
    size: int | None
    traceback_seq: int | None = None  # the 500's traceback, when its lines came first


# runserver's request line and Werkzeug's (runserver_plus), whatever the LOGGING format around
# it. Such a line comes without `request` unless a traceback waits for it (a flood of them then
# goes out as Batches): whoever wants its request reads it from the text (`request_of`; the
# faces' `line_records`, `lineRecords`).
REQUEST_LINE = re.compile(
    r'"(?P<method>[A-Z]+) (?P<path>\S*) HTTP/[\d.]+" (?P<status>\d{3}) (?P<size>\d+|-)'
)


def request_in(text: str) -> Request | None:
    """The request of a line of runserver's, read from its text."""
    match = REQUEST_LINE.search(text)
    if match is None:
        return None
    method, path, status, size = match.group(1, 2, 3, 4)
    return Request(method, path, int(status), None if size == "-" else int(size))


def request_of(line: Line) -> Request | None:
    """The request a line records: its meta's, or one read from the text of a stderr line that
    came without (request lines, as `REQUEST_LINE` says)."""
    if line.meta is not None:
        request: Request | None = line.meta.get("request")
        return request
    return request_in(line.text) if line.stream == "stderr" else None


class RequestRecord(msgspec.Struct, gc=False, omit_defaults=True):
    """A request line as the API sends it (`line_json`'s record), a Struct that msgspec encodes
    natively: the busiest lines of a site cost no dict each on their way to the disk and the
    wire."""

    seq: int
    stream: str
    time: float
    text: str
    request: Request


def wire_lines(lines: list[Line]) -> Sequence[Line | RequestRecord | dict[str, Any]]:
    """Lines ready for msgspec to encode as the API sends them: a plain Line as itself, a
    request line as a RequestRecord, another with meta through line_json. The log on disk
    holds the same records (logstore.py), so a reader behind the cache is sent them as they
    lie there."""
    if not any(map(_meta, lines)):  # most batches: no Python frame a line
        return lines
    return [
        line
        if (meta := line.meta) is None
        else RequestRecord(line.seq, line.stream, line.time, line.text, meta["request"])
        if len(meta) == 1 and "request" in meta
        else line_json(line)
        for line in lines
    ]


class Batch(msgspec.Struct, gc=False):
    """Plain lines read together (one stream, one time, no meta) as one record: `texts[i]` is
    the line of seq `seq + i`. The busiest output (a flood, a burst) goes to the disk and the
    wire in batches: a line costs its text and a comma, not a record of its own."""

    seq: int
    stream: str
    time: float
    texts: list[str]

    def lines(self) -> list[Line]:
        count = len(self.texts)
        seqs = range(self.seq, self.seq + count)
        return list(map(Line, seqs, repeat(self.stream, count), repeat(self.time), self.texts))


Record = Line | RequestRecord | Batch | dict[str, Any]  # what the disk and the wire hold


Piece = Batch | list[Line]  # lines read together: a plain run as one Batch, others as they are


def seqs_of(cut: list[Piece]) -> tuple[int, int]:
    """The first and the last seq of pieces' lines."""
    first, last = cut[0], cut[-1]
    return (
        first.seq if isinstance(first, Batch) else first[0].seq,
        last.seq + len(last.texts) - 1 if isinstance(last, Batch) else last[-1].seq,
    )


def piece_lines(cut: list[Piece]) -> list[Line]:
    """The lines of pieces, each a Line."""
    lines: list[Line] = []
    for piece in cut:
        lines += piece.lines() if isinstance(piece, Batch) else piece
    return lines


def records(cut: list[Piece]) -> list[Record]:
    """The records of pieces as the API sends them and the disk holds them: a Batch as itself,
    the lines of another piece as `wire_lines` makes them."""
    found: list[Record] = []
    for piece in cut:
        if isinstance(piece, Batch):
            found.append(piece)
        else:
            found.extend(wire_lines(piece))
    return found


class StoredLine(msgspec.Struct):
    """A record of the log on disk, read back: a Line's fields and its meta's keys (`meta`
    itself in the segments of an earlier version, which kept meta nested), or a Batch's."""

    seq: int
    stream: str
    time: float
    text: str = ""
    request: Request | None = None
    frame: dict[str, Any] | None = None
    partial: bool | None = None
    meta: dict[str, Any] | None = None
    texts: list[str] | None = None  # a Batch

    def lines(self) -> list[Line]:
        if self.texts is not None:
            return Batch(self.seq, self.stream, self.time, self.texts).lines()
        return [self.line()]

    def line(self) -> Line:
        if self.meta is not None and isinstance(self.meta.get("request"), dict):
            # the earlier layout's request, a dict: a Request, as every reader expects
            self.meta["request"] = msgspec.convert(self.meta["request"], Request)
        if self.request is None and self.frame is None and self.partial is None:
            return Line(self.seq, self.stream, self.time, self.text, self.meta)
        meta = dict(self.meta or {})
        for key in ("request", "frame", "partial"):
            value = getattr(self, key)
            if value is not None:
                meta[key] = value
        return Line(self.seq, self.stream, self.time, self.text, meta)


_meta = attrgetter("meta")


def line_json(line: Line) -> dict[str, Any]:
    """A Line as the API sends it: meta's keys merged into the record, and the request of a
    request line that came without (`request_of`)."""
    record: dict[str, Any] = {
        "seq": line.seq,
        "stream": line.stream,
        "time": line.time,
        "text": line.text,
    }
    if line.meta:
        record.update(line.meta)
    elif (request := request_of(line)) is not None:
        record["request"] = request
    return record
