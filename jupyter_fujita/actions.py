"""What a user does to a running Django besides start, stop and restart: the hint actions
(migrate, next-port, restart), offered by the hints that name them, and a line sent to stdin
(what a paused debugger reads).

Lifecycle actions (start, stop, restart) are the supervisor's own transitions; these build on
them and on its output.
"""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING

from . import oskit
from .errors import ActionFailed, BadRequest, Conflict, NoSuchAction, shown
from .wire import ACTIVE, Hint, Status

if TYPE_CHECKING:
    from .supervisor import Supervisor

HINT_ACTIONS = ("migrate", "next-port", "restart")
MIGRATE_TIMEOUT = 600.0  # seconds `manage.py migrate` may take
NEXT_PORTS = 100  # how many ports above the taken one next-port tries
STDIN_MAX_BYTES = 4096
STDIN_WRITE_TIMEOUT = 5.0  # seconds a write to a full stdin pipe may wait for a reader


async def run_hint_action(supervisor: Supervisor, action: str) -> Status:
    """Do what a hint suggests."""
    if action == "migrate":
        async with supervisor.lock:
            await _migrate(supervisor)
        return supervisor.status()
    if action == "next-port":
        host, port = supervisor.project.host_port
        last = min(port + NEXT_PORTS, 65535)
        free = next((p for p in range(port + 1, last + 1) if oskit.port_is_free(host, p)), None)
        if free is None:
            raise Conflict(f"No free port on {host} between {port + 1} and {last}.")
        supervisor.say(f"Port {port} is taken: moving to {host}:{free}")
        return await supervisor.restart(wait=supervisor.start_wait, address=f"{host}:{free}")
    if action == "restart":
        return await supervisor.restart(wait=supervisor.start_wait)
    raise NoSuchAction(f"No action {shown(action)}: use {' or '.join(HINT_ACTIONS)}.")


async def _migrate(supervisor: Supervisor) -> None:
    """`manage.py migrate`, supervised, its output in the log; the hint goes on success."""
    project = supervisor.project
    command = [project.python, project.locate().name, "migrate", "--noinput"]
    supervisor.say(f"Running: {shlex.join(command)}")
    proc = supervisor.popen(command, project.cwd())
    readers = asyncio.gather(*supervisor.read_pipes(proc, watch=False))
    try:
        returncode = await asyncio.wait_for(oskit.wait_exit(proc.proc), MIGRATE_TIMEOUT)
    except asyncio.TimeoutError:
        await supervisor.end_group(proc.pid)
        returncode = await oskit.wait_exit(proc.proc)
    finally:
        await supervisor.end_group(proc.pid)
        await readers
    if returncode != 0:
        supervisor.say(f"migrate failed with code {returncode}")
        raise ActionFailed(f"manage.py migrate failed with code {returncode}: see the log.")
    supervisor.say("Migrations applied")
    supervisor.hints.pop("migrations", None)
    supervisor.notify()


async def send_stdin(supervisor: Supervisor, text: str) -> Status:
    """Write to runserver's stdin: what a paused debugger reads."""
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
        raise BadRequest("text must be valid Unicode (it holds a lone surrogate).") from None
    if len(data) > STDIN_MAX_BYTES:
        raise BadRequest(f"text is {len(data)} bytes; at most {STDIN_MAX_BYTES} go to stdin.")
    run = supervisor.run
    proc = run.proc
    if not supervisor.alive or proc is None or proc.stdin is None or supervisor.state not in ACTIVE:
        raise Conflict("Django is not running: there is nothing to send text to.")
    try:
        await asyncio.wait_for(asyncio.shield(proc.stdin.write(data)), STDIN_WRITE_TIMEOUT)
    except asyncio.TimeoutError:
        # Nothing reads stdin (no debugger waits) and the pipe is full: say so, rather than
        # hold the request until a reader comes. What was sent is still delivered then.
        raise Conflict("Django is not reading its stdin: no debugger is waiting.") from None
    supervisor.say(f"Sent to stdin: {shown(text)}")
    answers = text.count("\n")
    if supervisor.state == "paused":
        run.answers_ahead += max(answers - 1, 0)  # the first answers the prompt shown
        run.debugger = None  # the request goes on; a new prompt pauses it again
        supervisor.set_state("running")
    else:
        run.answers_ahead += answers
    return supervisor.status()


# -- the hints that offer them ----------------------------------------------------------------


def port_hint(host: str, port: int) -> Hint:
    return Hint(
        "port",
        f"Port {port} on {host} is in use by another program",
        "next-port",
        "Start on the next free port",
    )


def migrations_hint(count: int, apps: list[str]) -> Hint:
    plural = "s" * (count != 1)
    return Hint(
        "migrations",
        f"{count} unapplied migration{plural} ({', '.join(apps)})",
        "migrate",
        f"Apply {count} migration{plural}",
    )


def slow_start_hint(reason: str) -> Hint:
    return Hint("slow-start", f"{reason}: look at the log, or restart", "restart", "Restart")
