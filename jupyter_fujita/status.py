"""What a supervisor says of itself: its Status record, the sentence that sums it up, and how a
runserver ended, in words."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

from .project import DjangoProject
from .wire import ACTIVE, Status

if TYPE_CHECKING:
    from .supervisor import Supervisor

# Django's autoreloader exits with its serving child's return code: a child killed by signal N
# returns -N, and sys.exit(-N) leaves the parent with 256 - N. Only the signals that end a
# process from outside or by a fault are read that way; other codes in 192..255 are an exit's.
_RELAYED_SIGNALS = frozenset(
    {signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGHUP}
)


def status_of(supervisor: Supervisor) -> Status:
    state, run, project = supervisor.state, supervisor.run, supervisor.project
    manage_py, settings = project.identity()
    return Status(
        name=supervisor.name,
        state=state,
        pid=run.proc.pid if run.proc and state not in ("stopped", "crashed") else None,
        returncode=run.returncode,
        url=run.url if state in ACTIVE else None,
        message=utf8(message(supervisor)),
        command=[utf8(part) for part in run.command],
        cwd=utf8(run.cwd) if run.cwd else run.cwd,
        started=run.started,
        ended=run.ended,
        restarts=supervisor.restarts,
        last_seq=supervisor.cache.last_seq,
        error=run.error,
        hints=list(supervisor.hints.values()),
        debugger=run.debugger if state == "paused" else None,
        # Where the site is previewed through Jupyter, while it is up and previewing is on or
        # offered (the faces link it first only when `preview` is "on").
        preview_url=project.preview_prefix
        if state in ACTIVE and project.preview_mode != "off"
        else None,
        preview=project.preview_mode,
        reach_probe=project.reach_probe if project.preview_mode == "offered" else None,
        manage_py=manage_py,
        settings=settings,
        log_disk_failed=supervisor.cache.disk_failed,
        kind="django" if isinstance(project, DjangoProject) else "program",
        source=project.source,
        depends_on=[] if isinstance(project, DjangoProject) else list(project.spec.depends_on),
    )


def message(supervisor: Supervisor) -> str:
    state, run = supervisor.state, supervisor.run
    title = "Django" if isinstance(supervisor.project, DjangoProject) else supervisor.name
    if state == "running":
        return f"{title} is running" + (f" at {run.url}" if run.url else "")
    if state == "starting":
        if run.slow:
            return f"Still starting: {supervisor.slow_reason()}. Look at the log, or restart."
        return f"{title} is starting"
    if state == "reloading":
        return "Django is reloading after a code change"
    if state == "broken" and run.error:
        return f"Waiting for a fix: {run.error.summary()}"
    if state == "paused" and run.debugger:
        return f"Paused in the debugger at {run.debugger.file}:{run.debugger.line}"
    if state == "stopping":
        return f"{title} is stopping"
    if state == "crashed":
        error = run.error
        if error and error.kind in ("port", "spawn", "record"):
            return error.message
        # an `exit` error says only how it ended, which the sentence says already
        why = f": {error.summary()}" if error and error.kind != "exit" else ""
        ended = describe_exit(run.returncode) if run.returncode is not None else "ended"
        return f"{title} {ended}{why}"
    return f"{title} is stopped"


def describe_exit(returncode: int) -> str:
    """How a runserver ended, for people: "exited with code 1", "killed by SIGKILL"."""
    if returncode < 0:
        return f"killed by {_signal_name(-returncode)}"
    if 0 < 256 - returncode < 65 and (256 - returncode) in _RELAYED_SIGNALS:
        return f"killed by {_signal_name(256 - returncode)} (its server process; code {returncode})"
    return f"exited with code {returncode}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def utf8(text: str) -> str:
    """Text from the OS (a path, a command) as valid Unicode: a file name that is not UTF-8
    arrives with lone surrogates, which no JSON encoder takes."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text
