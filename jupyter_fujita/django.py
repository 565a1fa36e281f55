"""Everything that knows Django: finding manage.py, the runserver command, and reading its output.

The supervisor is generic; it feeds each line to a `RunserverWatcher` and acts on the events it
returns (ready, reloading, waiting for a fix, an error). What runserver prints was measured with
Django 5.2 and 6.x through pipes:

- stdout: "Performing system checks...", the start line ("Starting development server at
  http://127.0.0.1:8000/", Django 6: "Starting WSGI development server at ..."), the pdb prompt;
- stderr: "Watching for file changes with StatReloader", request lines, "<path> changed,
  reloading.", tracebacks, "Error: That port is already in use.";
- "Exception in thread django-main-thread:" + a traceback means the reloader is alive but the
  code does not import: Django waits for a file change, with its port closed.
"""

from __future__ import annotations

import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import NotConfigured

# Folders never searched for manage.py: they hold installed code, not the user's project.
_SKIP_DIRS = {"node_modules", "site-packages", "__pycache__", "venv", "env"}

START_LINE = re.compile(r"^Starting (?:[A-Z]+ )?development server at (?P<url>https?://\S+)")
RELOADING = re.compile(r"^(?P<path>.+) changed, reloading\.$")
THREAD_EXCEPTION = "Exception in thread django-main-thread:"
TRACEBACK_START = "Traceback (most recent call last):"
FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>.+))?$')
EXCEPTION_LINE = re.compile(r"^(?P<exception>[A-Za-z_][\w.]*)(?::\s?(?P<message>.*))?$")
PORT_ERRORS = {
    "Error: That port is already in use.": ("port", "The port is already in use"),
    "Error: You don't have permission to access that port.": (
        "permission",
        "No permission to use that port",
    ),
    "Error: That IP address can't be assigned to.": ("port", "That IP address can't be used"),
}


def find_manage_py(root: Path) -> Path | None:
    """manage.py in the root itself, else in one folder directly below it (first by name)."""
    candidate = root / "manage.py"
    if candidate.is_file():
        return candidate
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return None
    for folder in folders:
        if folder.name.startswith(".") or folder.name in _SKIP_DIRS:
            continue
        candidate = folder / "manage.py"
        if candidate.is_file():
            return candidate
    return None


def parse_address(address: str) -> tuple[str, int]:
    """'127.0.0.1:8000', '8000' or '[::1]:8000' -> (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", address
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"not a host:port address: {address!r}")
    return host, int(port)


@dataclass(slots=True)
class DjangoProject:
    """What runs: a manage.py (configured or found under root), a Python and an address."""

    root: Path
    address: str = "127.0.0.1:8000"
    python: str = sys.executable
    manage_py: Path | None = None  # None: look under root at each start
    extra_env: dict[str, str] = field(default_factory=dict)

    def locate(self) -> Path:
        manage_py = self.manage_py or find_manage_py(self.root)
        if manage_py is None:
            raise NotConfigured(
                f"No manage.py found in {self.root} or one folder below it: "
                "set Fujita.manage_py to its path."
            )
        if not manage_py.is_file():
            raise NotConfigured(f"Fujita.manage_py is {manage_py}, which is not a file.")
        return manage_py

    def command(self) -> list[str]:
        return [self.python, self.locate().name, "runserver", self.address]

    def cwd(self) -> Path:
        return self.locate().parent

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.extra_env)
        env["PYTHONUNBUFFERED"] = "1"  # lines arrive as they are written, not per 8 KiB
        return env

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_address(self.address)


# -- reading the output -------------------------------------------------------------------------


@dataclass(slots=True)
class DjangoError:
    kind: str
    message: str
    exception: str | None = None
    file: str | None = None
    line: int | None = None
    seq: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "exception": self.exception,
            "file": self.file,
            "line": self.line,
            "seq": self.seq,
        }

    def summary(self) -> str:
        """'SyntaxError in mysite/urls.py line 12' style, for status messages."""
        what = self.exception or self.message
        if self.file:
            where = f" in {self.file}" + (f" line {self.line}" if self.line else "")
            return what + where
        return what if what == self.message else f"{what}: {self.message}"


@dataclass(slots=True)
class Ready:
    url: str


@dataclass(slots=True)
class Reloading:
    path: str


@dataclass(slots=True)
class Broken:
    """The code does not import; Django waits for a file change."""

    error: DjangoError


@dataclass(slots=True)
class Failed:
    """An error that ends or prevents serving (reported with the exit that follows)."""

    error: DjangoError


Event = Ready | Reloading | Broken | Failed

_KIND_BY_EXCEPTION = {
    "SyntaxError": "syntax",
    "IndentationError": "syntax",
    "TabError": "syntax",
    "ModuleNotFoundError": "import",
    "ImportError": "import",
    "ImproperlyConfigured": "settings",
    "SystemCheckError": "system-check",
}


# Installed code of any Python (Fujita.python may not be the server's own).
_INSTALLED = re.compile(r"[/\\](?:site|dist)-packages[/\\]")


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = {paths.get("stdlib"), paths.get("platstdlib"), paths.get("purelib"), paths.get("platlib")}
    return tuple(os.path.join(d, "") for d in dirs if d)


class _Traceback:
    """A traceback being read, line by line, from its header to its exception line."""

    def __init__(self, seq: int, in_main_thread: bool) -> None:
        self.seq = seq
        self.in_main_thread = in_main_thread
        self.frames: list[tuple[str, int, str | None]] = []


class RunserverWatcher:
    """Turns runserver's lines into events. One per supervised process; reset at each start."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._libraries = _library_dirs()
        self._traceback: _Traceback | None = None
        self._ended: _Traceback | None = None  # the traceback just read, which a chain may extend
        self._thread_exception_seq: int | None = None
        self.last_error: DjangoError | None = None

    def reset(self) -> None:
        self._traceback = None
        self._ended = None
        self._thread_exception_seq = None
        self.last_error = None

    def feed(self, stream: str, text: str, seq: int) -> Event | None:
        if stream == "stdout":
            match = START_LINE.match(text)
            if match:
                self.last_error = None
                return Ready(match["url"])
            return None
        if stream != "stderr":
            return None
        return self._feed_stderr(text, seq)

    def _feed_stderr(self, text: str, seq: int) -> Event | None:
        if self._traceback is not None:
            return self._feed_traceback(self._traceback, text, seq)
        if text == THREAD_EXCEPTION:
            self._thread_exception_seq = seq
            return None
        if text.startswith(("During handling", "The above exception")) and self._ended:
            self._traceback = self._ended  # the chain goes on: same start, same thread
            return None
        if text == TRACEBACK_START:
            in_main = self._thread_exception_seq is not None
            start = self._thread_exception_seq if in_main else seq
            self._traceback = _Traceback(start or seq, in_main)
            self._thread_exception_seq = None
            return None
        self._thread_exception_seq = None
        if text:
            self._ended = None
        if text in PORT_ERRORS:
            kind, message = PORT_ERRORS[text]
            self.last_error = DjangoError(kind, message, seq=seq)
            return Failed(self.last_error)
        match = RELOADING.match(text)
        if match:
            return Reloading(match["path"])
        return None

    def _feed_traceback(self, tb: _Traceback, text: str, seq: int) -> Event | None:
        frame = FRAME.match(text)
        if frame:
            tb.frames.append((frame["file"], int(frame["line"]), frame["func"]))
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
        self.last_error = error
        return Broken(error) if tb.in_main_thread else Failed(error)

    def _error_from(self, tb: _Traceback, exception: str, message: str) -> DjangoError:
        short = exception.rpartition(".")[2]
        kind = _KIND_BY_EXCEPTION.get(short, "exception")
        frame = self._project_frame(tb.frames, syntax=kind == "syntax")
        file = line = None
        if frame is not None:
            file, line = self._relative(frame[0]), frame[1]
        return DjangoError(kind, message or short, short, file, line, tb.seq)

    def _project_frame(
        self, frames: list[tuple[str, int, str | None]], syntax: bool
    ) -> tuple[str, int, str | None] | None:
        if syntax and frames and frames[-1][2] is None:
            return frames[-1]  # a SyntaxError's own frame names the broken file, without ", in"
        for frame in reversed(frames):
            path = frame[0]
            if path.startswith("<") or path.startswith(self._libraries) or _INSTALLED.search(path):
                continue
            return frame
        return frames[-1] if frames else None

    def _relative(self, path: str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root.resolve()))
        except ValueError:
            return path
