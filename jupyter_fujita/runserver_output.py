"""Reading runserver's output: the events it means (ready, reloading, broken, ...) and the errors.

The supervisor is generic; it feeds each line to a `RunserverWatcher` and acts on the events it
returns (ready, reloading, waiting for a fix, an error). What runserver prints was measured with
Django 5.2 and 6.x through pipes:

- stdout: "Performing system checks...", the start line ("Starting development server at
  http://127.0.0.1:8000/", Django 6: "Starting WSGI development server at ..."), the pdb prompt;
- stderr: "Watching for file changes with StatReloader", request lines, "<path> changed,
  reloading.", tracebacks, "Error: That port is already in use.";
- "Exception in thread django-main-thread:" + a traceback means the reloader is alive but the
  code does not import: Django waits for a file change, with its port closed.

django-extensions' runserver_plus (Werkzeug) says it in other words: "Development server is
running at ..." on stdout; on stderr " * Detected change in '<path>', reloading", " * Debugger
PIN: 123-456-789", and "Error occurred during checks: SyntaxError(...)" when the code does not
import (Werkzeug then serves anyway, every request failing, until a file changes).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sysconfig
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from pathlib import Path

from .project import SKIP_DIRS
from .wire import Check, DjangoError, Line, Request, request_in

# Django 5 "Starting development server at", Django 6 "Starting WSGI development server at",
# Channels' Daphne "Starting ASGI/Daphne version 4.2.3 development server at".
# django-extensions' runserver_plus: "Development server is running at".
START_LINE = re.compile(
    r"^(?:Starting (?:[A-Z]+ |ASGI/Daphne version \S+ )?development server at"
    r"|Development server is running at) (?P<url>https?://\S+)"
)
# Found anywhere in a line: the project's LOGGING may put a prefix of its own ("[time][INFO]
# [django.utils.autoreload] ...") before what Django says. A path starts after a space or "]"
# (a slash inside a date such as [02/Dec/2026 ...] does not).
RELOADING = re.compile(r"(?:^|[\s\]])(?P<path>(?:/|[A-Za-z]:\\).*?) changed, reloading\.$")
WERKZEUG_RELOADING = re.compile(r"^ \* Detected change in '(?P<path>.+)', reloading$")
WERKZEUG_PIN = re.compile(r"^ \* Debugger PIN: (?P<pin>[\d-]+)$")
# runserver_plus's checks, failed: the exception's repr, e.g.
# SyntaxError("'(' was never closed", ('/app/views.py', 17, 5, 'x = (\n', 17, 0))
CHECKS_FAILED = re.compile(
    r"^Error occurred during checks: (?P<exception>[A-Za-z_]\w*)\((?P<args>.*)\)$"
)
# `manage.py migrate` refusing two leaves: "... migration graph: (0002_a, 0002_b in pages)."
MIGRATION_CONFLICT = re.compile(r"multiple leaf nodes in the migration graph: \((?P<apps>.+)\)")
CHECKS_START = "Performing system checks..."
THREAD_EXCEPTION = "Exception in thread django-main-thread:"
TRACEBACK_START = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
EXCEPTION_LINE = re.compile(r"^(?P<exception>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
CHECK_LINE = re.compile(r"^(?P<object>.+?): \((?P<id>[\w.]+)\) (?P<message>.*)$")
CHECK_LEVEL = re.compile(r"^(?P<level>ERRORS|WARNINGS|INFOS|DEBUGS|CRITICALS):$")
# What a stderr line holds when `_feed_stderr` does anything with it, while nothing that spans
# lines is being read (`_between_records`): how it starts, after a newline, or a word anywhere in
# it. Every other line changes nothing the watcher holds and gets no meta (a request line keeps
# none: the faces read its request from its text, `request_of`), so the lines between two hits
# are skipped in C, a needle's search at a time.
STDERR_STARTS = re.compile(r"\n(?:\{|HTTP |Exception in thread|Traceback|Error| \* )")
STDERR_WORDS = ("\x1b", "Internal Server Error", " changed, reloading.\n")
# A request line's status that a traceback read before it may be waiting for (`_server_errors`)
SERVER_ERROR_STATUS = re.compile(r'" [5-9]\d\d ')
_text = attrgetter("text")  # a batch's texts without a Python frame a line
# Daphne's (Channels' runserver): "HTTP GET /nope 404 [0.01, 127.0.0.1:46516]"
DAPHNE_REQUEST_LINE = re.compile(
    r"^HTTP (?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) \[(?P<duration>[\d.]+), "
)
SERVER_ERROR = re.compile(r"Internal Server Error: (?P<path>\S*)")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# Keys of a JSON-lines log record (python-json-logger and structlog style) holding the message
# and a traceback.
JSON_MESSAGE_KEYS = ("message", "msg", "event")
JSON_TRACEBACK_KEYS = ("exc_info", "exc_text", "exception", "stack_info")
MIGRATIONS = re.compile(
    r"^You have (?P<count>\d+) unapplied migration\(s\)\..*for app\(s\): (?P<apps>.+)\.$"
)
# "Invalid block tag on line 3: 'endfo', expected 'endblock'. ..." (and the like)
TEMPLATE_ERROR = re.compile(r"on line (?P<line>\d+): '(?P<tag>[^']+)'")
MISSING_MODULE = re.compile(r"^No module named '(?P<module>[\w.]+)'")
PDB_WHERE = re.compile(r"^> (?P<file>.+)\((?P<line>\d+)\)(?P<func>[^(]*)\(\)")
PDB_PROMPT = "(Pdb)"
# How the stdout lines that mean something begin (see _feed_stdout), after a newline: a batch
# with none of them is skipped whole. (The literal newline first lets the regex engine skip
# ahead: much faster than ^ with re.M, or one substring search per prefix.)
STDOUT_WORTH_READING = re.compile(
    r"\n(?:Starting |You have |> |Performing system checks|Development server is)"
)
# Django's words name no port: the messages are templates the supervisor fills in.
PORT_ERRORS = {
    "Error: That port is already in use.": (
        "port",
        "Port {port} on {host} is already in use by another program",
    ),
    "Error: You don't have permission to access that port.": (
        "permission",
        "No permission to use port {port} on {host}",
    ),
    "Error: That IP address can't be assigned to.": (
        "port",
        "{host} is not an address of this machine (port {port})",
    ),
}


@dataclass(slots=True)
class Ready:
    url: str | None  # None: nothing to connect to (a program ready when its log says so)


@dataclass(slots=True)
class Reloading:
    path: str


@dataclass(slots=True)
class Checking:
    """Django (re)starts its checks: what they said last time no longer holds."""


@dataclass(slots=True)
class Broken:
    """The code does not import; Django waits for a file change."""

    error: DjangoError


@dataclass(slots=True)
class Failed:
    """An error that ends or prevents serving (reported with the exit that follows)."""

    error: DjangoError


@dataclass(slots=True)
class UnappliedMigrations:
    count: int
    apps: list[str]


@dataclass(slots=True)
class Paused:
    """A request stopped in the debugger: pdb shows its prompt."""

    file: str
    line: int
    function: str
    seq: int


@dataclass(slots=True)
class DebuggerPin:
    """Werkzeug's debugger (runserver_plus) asks for this PIN before its console runs code."""

    pin: str


Event = Ready | Reloading | Checking | Broken | Failed | UnappliedMigrations | Paused | DebuggerPin


@dataclass(slots=True)
class MigrationConflict:
    """Two migrations of an app that both claim to be its latest, as `migrate` reports them."""

    leaves: dict[str, list[str]]  # app label -> its leaf migrations' names
    files: list[str]  # their files, relative to the project, where found

    @property
    def message(self) -> str:
        apps = "; ".join(f"{', '.join(names)} in {app}" for app, names in self.leaves.items())
        return f"Conflicting migrations ({apps}): merge them with makemigrations --merge"


def find_migration_conflict(text: str, root: Path) -> MigrationConflict | None:
    """The conflict `migrate` names in `text` ("... multiple leaf nodes in the migration graph:
    (0002_a, 0002_b in pages)."), with the files of those migrations under `root`."""
    match = MIGRATION_CONFLICT.search(text)
    if match is None:
        return None
    leaves: dict[str, list[str]] = {}
    for part in match["apps"].split("; "):
        names, _, app = part.rpartition(" in ")
        leaves[app] = [name.strip() for name in names.split(",")]
    files = []
    for app, names in leaves.items():
        for name in names:
            found = [
                path
                for path in sorted(root.glob(f"**/migrations/{name}.py"))
                if not SKIP_DIRS & set(path.parts)
            ]
            # The app's own folder first: another app may have a migration of the same name.
            found.sort(key=lambda path: path.parent.parent.name != app)
            if found:
                files.append(str(found[0].relative_to(root)))
    return MigrationConflict(leaves, files)


_KIND_BY_EXCEPTION = {
    "SyntaxError": "syntax",
    "IndentationError": "syntax",
    "TabError": "syntax",
    "ModuleNotFoundError": "import",
    "ImportError": "import",
    "ImproperlyConfigured": "settings",
    "SystemCheckError": "system-check",
}

PLACED_PATHS = 10_000  # frame paths remembered (a bound: a log can name any number of files)
# Installed code of any Python (Fujita.python may not be the server's own).
_INSTALLED = re.compile(r"[/\\](?:site|dist)-packages[/\\]")


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {
        paths.get("stdlib"),
        paths.get("platstdlib"),
        paths.get("purelib"),
        paths.get("platlib"),
    }
    return tuple(os.path.join(d, "") for d in dirs if d)


class _Traceback:
    """A traceback being read, line by line, from its header to its exception line."""

    def __init__(self, seq: int, in_main_thread: bool, request: bool = False) -> None:
        self.seq = seq
        self.in_main_thread = in_main_thread
        self.request = request  # a request's 500: reported on its request line, not as a state
        self.frames: list[tuple[str, int, str | None]] = []


def _joined(texts: Iterable[str]) -> str:
    """A batch's texts each after a newline, and a newline at the end: its lines' starts and
    ends for one search. One string (a flood's batch is a quarter MiB, each copy of which
    costs)."""
    return "\n".join(chain(("",), texts, ("",)))  # texts hold no newline


class _NextHits:
    """Where the next stderr line worth reading is, in a batch's joined text: each needle's next
    hit is found once and kept until passed, so the batch is scanned once a needle however many
    lines are read."""

    def __init__(self, joined: str) -> None:
        self._joined = joined
        self._next: dict[str | re.Pattern[str], int] = {}

    def first(self, offset: int, server_errors: bool) -> int:
        """The first hit at or after `offset` (`len(joined)` if none); a 5xx status counts when
        a traceback waits for its request line."""
        needles: tuple[str | re.Pattern[str], ...] = (STDERR_STARTS, *STDERR_WORDS)
        if server_errors:
            needles += (SERVER_ERROR_STATUS,)
        return min(self._next_of(needle, offset) for needle in needles)

    def _next_of(self, needle: str | re.Pattern[str], offset: int) -> int:
        at = self._next.get(needle, -1)
        if at < offset:
            if isinstance(needle, str):
                at = self._joined.find(needle, offset)
            else:
                match = needle.search(self._joined, offset)
                at = -1 if match is None else match.start()
            at = len(self._joined) if at < 0 else at
            self._next[needle] = at
        return at


class RunserverWatcher:
    """Reads runserver's lines: returns events for the supervisor, and annotates lines (`meta`)
    with what they are: requests, traceback frames inside the project, partial prompts.

    One per supervised process; reset at each start. stdout and stderr are read apart (lines of
    the two written in the same millisecond may arrive in either order).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root = root.resolve()
        self._libraries = _library_dirs()
        self._placed: dict[str, str | None] = {}  # a frame's path -> _inside_project's answer
        self.reset()

    def reset(self) -> None:
        self._traceback: _Traceback | None = None
        self._ended: _Traceback | None = None  # the traceback just read, which a chain may extend
        self._thread_exception_seq: int | None = None
        self._checks_of: Broken | Failed | None = None  # a SystemCheckError whose checks follow
        self._check_level = "ERROR"
        self._server_error_path: str | None = None  # "Internal Server Error: <path>" seen
        self._server_errors: dict[
            str, int
        ] = {}  # path -> seq of its traceback, until its request line
        self._pdb_where: tuple[str, int, str] | None = None
        self._serving = False  # the start line seen, no reload since
        self._checks_failed = False  # runserver_plus serves code that did not import
        self.last_error: DjangoError | None = None

    def feed_batch(
        self, lines: Sequence[Line], partial: bool = False, texts: list[str] | None = None
    ) -> list[Event]:
        """The events of lines that arrived together (`texts`: their texts, if the caller holds
        them). One search over a stdout batch skips the per-line work in a flood that holds
        nothing read there; a stderr batch is read where its lines say to (`STDERR_STARTS`).
        Only the lines read are asked for (`lines[i]`): the cache makes a Line of those alone
        (`NewLines`)."""
        if lines and not partial:
            # a batch's lines share a stream, which the cache's NewLines says without a Line
            stream = getattr(lines, "stream", None) or lines[0].stream
            joined = _joined(map(_text, lines) if texts is None else texts)
            if stream == "stdout" and not STDOUT_WORTH_READING.search(joined):
                return []
            if stream == "stderr":
                return self._feed_stderr_batch(lines, joined)
        events = []
        for line in lines:
            event = self.feed(line)
            if event is not None:
                events.append(event)
        return events

    def _feed_stderr_batch(self, lines: Sequence[Line], joined: str) -> list[Event]:
        """A stderr batch (`joined`: its texts, `_joined`): between records that span lines,
        the lines up to the next one worth reading (`STDERR_STARTS`, `STDERR_WORDS`) are
        skipped; the others are read as `feed` reads them."""
        hits = _NextHits(joined)
        events = []
        index = offset = 0  # the line read next, and the newline before it in `joined`
        while index < len(lines):
            if self._between_records():
                hit = hits.first(offset, bool(self._server_errors))
                if hit == len(joined):
                    break
                start = joined.rfind("\n", offset, hit + 1)  # the hit's line
                index += joined.count("\n", offset, start)
                offset = start
            line = lines[index]
            event = self._feed_stderr(line)
            if event is not None:
                events.append(event)
            offset += len(line.text) + 1
            index += 1
        return events

    def _between_records(self) -> bool:
        """Whether no traceback, check report or chain is being read: the next line then means
        something only if `STDERR_STARTS` or `STDERR_WORDS` say so."""
        return (
            self._traceback is None
            and self._checks_of is None
            and self._ended is None
            and self._thread_exception_seq is None
        )

    def feed(self, line: Line) -> Event | None:
        if line.stream == "stdout":
            return self._feed_stdout(line)
        if line.stream == "stderr":
            return self._feed_stderr(line)
        return None

    # -- stdout: checks, migrations, the start line, the debugger --------------------------------

    def _feed_stdout(self, line: Line) -> Event | None:
        text = line.text
        if text.startswith(("Starting ", "Development server is")):
            match = START_LINE.match(text)
            if match and self._checks_failed:
                return None  # Werkzeug serves anyway; the code is still broken
            if match:
                self.last_error = None
                self._serving = True
                return Ready(match["url"])
        elif text == CHECKS_START:
            return Checking()
        elif text.startswith("You have "):
            match = MIGRATIONS.match(text)
            if match:
                apps = [app.strip() for app in match["apps"].split(",")]
                return UnappliedMigrations(int(match["count"]), apps)
        elif text.startswith("> "):
            match = PDB_WHERE.match(text)
            if match:
                file = self._relative(match["file"])
                self._pdb_where = (file, int(match["line"]), match["func"] or "<module>")
        elif line.meta and line.meta.get("partial") and text.rstrip().endswith(PDB_PROMPT):
            file, number, function = self._pdb_where or ("?", 0, "?")
            return Paused(file, number, function, line.seq)
        return None

    # -- stderr: tracebacks, requests, reloads, fatal errors -------------------------------------

    def _feed_stderr(self, line: Line) -> Event | None:
        text = line.text
        if "\x1b" in text:
            text = ANSI_ESCAPE.sub("", text)  # a colourising formatter's escapes
        if self._traceback is not None:
            return self._feed_traceback(self._traceback, line, text)
        if self._checks_of is not None:
            taken, event = self._feed_checks(text)
            if taken:
                return event
        if text.startswith("{") and self._feed_json(line, text):
            return None
        if ('" ' in text or text.startswith("HTTP ")) and self._annotate_request(line, text):
            # Python writes a chain's tracebacks, and a thread's heading and its traceback,
            # back to back: a request line between them is another thread's, and ends them.
            self._ended = self._thread_exception_seq = None
            return None
        if text.startswith(("During handling", "The above exception")) and self._ended:
            self._traceback = self._ended  # the chain goes on: same start, same thread
            return None
        if text == THREAD_EXCEPTION:
            self._thread_exception_seq = line.seq
            return None
        if text == TRACEBACK_START:
            in_main = self._thread_exception_seq is not None
            start = self._thread_exception_seq if in_main else line.seq
            path = self._server_error_path
            self._traceback = _Traceback(start or line.seq, in_main, path is not None)
            self._thread_exception_seq = None
            if path is not None:
                self._server_errors[path] = line.seq
                self._server_error_path = None
            return None
        self._thread_exception_seq = None
        if text:
            self._ended = None
        if "Internal Server Error" in text:
            match = SERVER_ERROR.search(text)
            if match:
                self._server_error_path = match["path"]
                return None
        if text in PORT_ERRORS:
            kind, message = PORT_ERRORS[text]
            self.last_error = DjangoError(kind, message, seq=line.seq)
            return Failed(self.last_error)
        if text.endswith(" changed, reloading."):
            match = RELOADING.search(text)
            if match:
                self._serving = False
                return Reloading(match["path"])
        if text.startswith(" * "):
            return self._feed_werkzeug(text)
        if text.startswith("Error occurred during checks: "):
            return self._feed_checks_failed(line, text)
        return None

    def _feed_werkzeug(self, text: str) -> Event | None:
        """What runserver_plus's Werkzeug says of itself: a reload, the debugger's PIN."""
        match = WERKZEUG_RELOADING.match(text)
        if match:
            self._serving = self._checks_failed = False
            return Reloading(match["path"])
        match = WERKZEUG_PIN.match(text)
        if match:
            return DebuggerPin(match["pin"])
        return None

    def _feed_checks_failed(self, line: Line, text: str) -> Event | None:
        """runserver_plus's word that the code does not import: the exception's repr, whose
        arguments are read as Python literals (a SyntaxError's hold the file and line)."""
        match = CHECKS_FAILED.match(text)
        if match is None:
            return None
        try:
            args = ast.literal_eval(f"({match['args']},)")
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            args = ()
        message = next((arg for arg in args if isinstance(arg, str)), "")
        error = self._error_from(_Traceback(line.seq, True), match["exception"], message)
        where = next(
            (
                arg
                for arg in args
                if isinstance(arg, tuple)
                and len(arg) > 1
                and isinstance(arg[0], str)
                and isinstance(arg[1], int)
            ),
            None,
        )
        if where is not None:
            error.file, error.line = self._relative(where[0]), where[1]
            if self._inside_project(where[0]) is not None:
                line.meta = {"frame": {"file": error.file, "line": error.line}}
        self.last_error = error
        self._serving = False
        self._checks_failed = True
        return Broken(error)

    def _feed_json(self, line: Line, text: str) -> bool:
        """A JSON-lines log record (python-json-logger, structlog): its message read as a line
        of its own, a traceback it holds tied to its request. False when it is not JSON."""
        try:
            record = json.loads(text)
        except ValueError:
            return False
        if not isinstance(record, dict):
            return False
        message = next((v for k in JSON_MESSAGE_KEYS if isinstance(v := record.get(k), str)), "")
        if self._annotate_request(line, message):
            return True
        match = SERVER_ERROR.search(message)
        if match:
            held = any(
                isinstance(v := record.get(k), str) and TRACEBACK_START in v
                for k in JSON_TRACEBACK_KEYS
            )
            if held:  # the traceback is in this very record
                self._server_errors[match["path"]] = line.seq
            else:  # it follows on lines of its own
                self._server_error_path = match["path"]
        return True

    def _annotate_request(self, line: Line, text: str) -> bool:
        request = request_in(text)
        if request is None:
            match = DAPHNE_REQUEST_LINE.match(text)
            if match is None:
                return False
            method, path, code = match.group(1, 2, 3)
            request = Request(method, path, int(code), None)
        if request.status >= 500 and self._server_errors:
            request.traceback_seq = self._server_errors.pop(request.path.partition("?")[0], None)
        line.meta = {"request": request}
        return True

    def _feed_traceback(self, tb: _Traceback, line: Line, text: str) -> Event | None:
        frame = FRAME.match(text)
        if frame:
            tb.frames.append((frame["file"], int(frame["line"]), frame["func"]))
            relative = self._inside_project(frame["file"])
            if relative is not None:
                line.meta = {"frame": {"file": relative, "line": int(frame["line"])}}
            return None
        if text.startswith((" ", "\t")) or not text:
            return None  # source lines, carets, blank lines inside the traceback
        if text == TRACEBACK_START:
            tb.frames.clear()  # a chained traceback: the last exception is the one to show
            return None
        if text.startswith(("During handling", "The above exception")):
            return None
        self._traceback = None
        self._ended = tb
        match = EXCEPTION_LINE.match(text)
        if match is None:
            return None
        error = self._error_from(tb, match["exception"], (match["message"] or "").strip())
        if error.exception == "TemplateSyntaxError":
            found = self._template_line(error.message)
            if found is not None:  # the template's frames are Django's: point at the template
                error.file, error.line = found
                line.meta = {"frame": {"file": found[0], "line": found[1]}}
        if tb.request:
            return None  # the request line will point at it
        if self._serving and not tb.in_main_thread:
            # Raised in a request's thread while Django serves, logged in words we do not
            # know: handled by Django, never the reason a crash is given.
            return None
        self.last_error = error
        event = Broken(error) if tb.in_main_thread else Failed(error)
        if error.kind == "system-check":
            self._checks_of = event  # its checks are listed on the lines that follow
        return event

    def _feed_checks(self, text: str) -> tuple[bool, Event | None]:
        """A line of a SystemCheckError's report, as (taken, event): the error again once the
        report is complete (its checks listed), no event while it goes on; not taken past its
        end."""
        event = self._checks_of
        assert isinstance(event, (Broken, Failed))
        error = event.error
        level = CHECK_LEVEL.match(text)
        if level:
            self._check_level = level["level"].rstrip("S")
            return True, None
        match = CHECK_LINE.match(text)
        if match:
            check = Check(match["id"], self._check_level, match["object"], match["message"])
            self._locate_check_object(check)
            error.checks.append(check)
            if len(error.checks) == 1:
                error.message = f"{match['id']}: {match['message']}"
                if error.file is None or Path(error.file).name == "manage.py":
                    error.file, error.line = check.file, check.line
            return True, None
        if not text or text.startswith(("\t", "    ")):
            return True, None  # blank lines and hints ("\tHINT: ...") inside the report
        self._checks_of = None
        if text.startswith("System check identified"):
            return True, event
        return False, None

    def _error_from(self, tb: _Traceback, exception: str, message: str) -> DjangoError:
        short = exception.rpartition(".")[2]
        kind = _KIND_BY_EXCEPTION.get(short, "exception")
        frame = self._project_frame(tb.frames, syntax=kind == "syntax")
        file = line = None
        if frame is not None:
            file, line = self._relative(frame[0]), frame[1]
        missing = MISSING_MODULE.match(message) if kind == "import" else None
        if missing and (file is None or Path(file).name == "manage.py"):
            # Imported by Django on the settings' say-so (INSTALLED_APPS, MIDDLEWARE, ...):
            # the settings line naming the module is what to fix, not manage.py.
            found = self._settings_line_naming(missing["module"])
            if found is not None:
                file, line = found
        return DjangoError(kind, message or short, short, file, line, tb.seq)

    def _settings_files(self) -> list[Path]:
        """The project's settings modules: settings.py files and settings packages' modules,
        up to three folders down."""
        found: list[Path] = []
        patterns = ("settings.py", "*/settings.py", "*/settings/*.py", "*/*/settings.py")
        for pattern in (*patterns, "*/*/settings/*.py"):
            found += sorted(self._root.glob(pattern))
        return [path for path in found if not SKIP_DIRS & set(path.parts)]

    def _settings_line_naming(self, module: str) -> tuple[str, int] | None:
        """Where a settings file names `module` (or a dotted path inside it), quoted."""
        top = module.split(".")[0]
        quoted = re.compile(rf"""["']{re.escape(top)}(?:\.[\w.]*)?["']""")
        for path in self._settings_files():
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            for number, text in enumerate(lines, 1):
                if quoted.search(text):
                    return str(path.relative_to(self._root)), number
        return None

    def _template_line(self, message: str) -> tuple[str, int] | None:
        """The template a TemplateSyntaxError is about: Django names the line and the tag, not
        the file, so the project's templates are searched for that tag on that line."""
        match = TEMPLATE_ERROR.search(message)
        if match is None:
            return None
        number, tag = int(match["line"]), match["tag"]
        used = re.compile(r"\{%-?\s*" + re.escape(tag) + r"\b")
        for path in sorted(self._root.glob("**/templates/**/*")):
            if SKIP_DIRS & set(path.parts) or not path.is_file():
                continue
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            if number <= len(lines) and used.search(lines[number - 1]):
                return str(path.relative_to(self._root)), number
        return None

    def _locate_check_object(self, check: Check) -> None:
        """A system check's object ("pages.Note.title", "pages.Note"): the model's file and the
        line of the field (or of the class) in the app's models."""
        parts = check.object.split(".")
        if len(parts) < 2 or not all(part.isidentifier() for part in parts):
            return
        app, model, field_name = parts[0], parts[1], parts[2] if len(parts) > 2 else None
        candidates = [
            self._root / app / "models.py",
            *sorted((self._root / app).glob("models/*.py")),
        ]
        candidates += sorted(self._root.glob(f"*/{app}/models.py"))
        for path in candidates:
            try:
                lines = path.read_text(errors="replace").splitlines()
            except OSError:
                continue
            start = next((n for n, t in enumerate(lines) if re.match(rf"class {model}\b", t)), None)
            if start is None:
                continue
            number = start
            if field_name:
                assignment = re.compile(rf"\s+{field_name}\s*[:=]")
                number = next(
                    (n for n in range(start + 1, len(lines)) if assignment.match(lines[n])),
                    start,
                )
            check.file, check.line = str(path.relative_to(self._root)), number + 1
            return

    def _project_frame(
        self, frames: list[tuple[str, int, str | None]], syntax: bool
    ) -> tuple[str, int, str | None] | None:
        if syntax and frames and frames[-1][2] is None:
            return frames[-1]  # a SyntaxError's own frame names the broken file, without ", in"
        for frame in reversed(frames):
            if self._inside_project(frame[0]) is not None:
                return frame
        return None  # nothing of the project's own: no file to point at

    def _is_project_code(self, path: str) -> bool:
        return not (
            path.startswith("<") or path.startswith(self._libraries) or _INSTALLED.search(path)
        )

    def _inside_project(self, path: str) -> str | None:
        """The path relative to the root when it is the project's own code, else None.
        Remembered: every traceback names the same few files, and resolving one is a system
        call per folder (it was most of the time a traceback took to read)."""
        try:
            return self._placed[path]
        except KeyError:
            pass
        placed = None
        if self._is_project_code(path):
            try:
                placed = str(Path(path).resolve().relative_to(self._root))
            except (ValueError, OSError):
                pass
        if len(self._placed) < PLACED_PATHS:
            self._placed[path] = placed
        return placed

    def _relative(self, path: str) -> str:
        return self._inside_project(path) or path
