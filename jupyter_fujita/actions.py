"""What a user does to a running Django besides start, stop and restart: the hint actions
(migrate, merge-migrations, next-port, restart), offered by the hints that name them, and a line sent to stdin
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
from .runserver_output import MigrationConflict, find_migration_conflict
from .wire import ACTIVE, Hint, Status

if TYPE_CHECKING:
    from .supervisor import Supervisor

HINT_ACTIONS = ("migrate", "merge-migrations", "next-port", "restart")
DJANGO_ONLY = ("migrate", "merge-migrations", "next-port")
MANAGE_TIMEOUT = 600.0  # seconds a one-shot `manage.py migrate` (or makemigrations) may take
NEXT_PORTS = 100  # how many ports above the taken one next-port tries
STDIN_MAX_BYTES = 4096
STDIN_WRITE_TIMEOUT = 5.0  # seconds a write to a full stdin pipe may wait for a reader


async def run_hint_action(supervisor: Supervisor, action: str) -> Status:
    """Do what a hint suggests."""
    if action in DJANGO_ONLY and supervisor.what != "runserver":
        raise NoSuchAction(f"No action {shown(action)} for {supervisor.name}: it is Django's.")
    if action in ("migrate", "merge-migrations"):
        async with supervisor.lock:
            if action == "merge-migrations":
                await _manage(supervisor, "makemigrations", "--merge", "--noinput")
            await _manage(supervisor, "migrate", "--noinput")
        supervisor.say("Migrations applied")
        supervisor.hints.pop("migrations", None)
        supervisor.hints.pop("migration-conflict", None)
        supervisor.notify()
        return supervisor.status()
    if action == "next-port":
        host, port = supervisor.django.host_port
        last = min(port + NEXT_PORTS, 65535)
        free = next((p for p in range(port + 1, last + 1) if oskit.port_is_free(host, p)), None)
        if free is None:
            raise Conflict(f"No free port on {host} between {port + 1} and {last}.")
        supervisor.say(f"Port {port} is taken: moving to {host}:{free}")
        return await supervisor.restart(wait=supervisor.start_wait, address=f"{host}:{free}")
    if action == "restart":
        return await supervisor.restart(wait=supervisor.start_wait)
    raise NoSuchAction(f"No action {shown(action)}: use {' or '.join(HINT_ACTIONS)}.")


async def _manage(supervisor: Supervisor, *args: str) -> None:
    """A one-shot `manage.py <args>`, supervised, its output in the log; ActionFailed when it
    fails, naming the migrations in conflict when that is why."""
    project = supervisor.django
    command = [project.python, project.locate().name, *args]
    supervisor.say(f"Running: {shlex.join(command)}")
    said_after = supervisor.cache.last_seq
    proc = supervisor.popen(command, project.cwd())
    readers = asyncio.gather(*supervisor.read_pipes(proc, watch=False))
    try:
        returncode = await asyncio.wait_for(oskit.wait_exit(proc.proc), MANAGE_TIMEOUT)
    except asyncio.TimeoutError:
        await supervisor.end_group(proc.pid)
        returncode = await oskit.wait_exit(proc.proc)
    finally:
        await supervisor.end_group(proc.pid)
        await readers
    if returncode == 0:
        return
    supervisor.say(f"{args[0]} failed with code {returncode}")
    said = "\n".join(line.text for line in supervisor.cache.read(said_after).lines)
    conflict = find_migration_conflict(said, project.root)
    if conflict is not None:
        supervisor.hints.pop("migrations", None)
        supervisor.hints["migration-conflict"] = migration_conflict_hint(conflict)
        supervisor.notify()
        raise ActionFailed(f"{conflict.message}.")
    raise ActionFailed(f"manage.py {args[0]} failed with code {returncode}: see the log.")


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


def migration_conflict_hint(conflict: MigrationConflict) -> Hint:
    return Hint(
        "migration-conflict",
        conflict.message + (f" ({', '.join(conflict.files)})" if conflict.files else ""),
        "merge-migrations",
        "Merge and apply",
        conflict.files[0] if conflict.files else None,
    )


def debugger_pin_hint(pin: str) -> Hint:
    return Hint("debugger-pin", f"Werkzeug debugger PIN {pin}: its console asks for it")


def slow_start_hint(reason: str) -> Hint:
    return Hint("slow-start", f"{reason}: look at the log, or restart", "restart", "Restart")
