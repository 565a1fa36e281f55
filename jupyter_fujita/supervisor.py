"""One supervised process: its lifecycle (start, stop, restart), the state its output and exit
put it in, and the end of its whole process group. Mostly runserver (a DjangoProject, read by
RunserverWatcher); the project's other processes (a Program, read by ReadyWatcher: a worker, a
watcher) are supervised the same way, with only readiness to read in their output.

runserver is two processes: the autoreloader parent and the child that serves (re-executed on
every code change). It runs in a session of its own, so its process group holds both, and stop
signals the group, escalating SIGINT -> SIGTERM -> SIGKILL. EOF on the pipes proves nothing
(a child can outlive its parent with the pipes open); the group is gone when the OS says so.

Its pipes are read in pipes.py, its output understood in runserver_output.py, the hint actions
and stdin are in actions.py, and what it says of itself (Status) in status.py.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import psutil
from tornado.iostream import PipeIOStream
from tornado.process import Subprocess

from . import actions, oskit
from .broadcast import Broadcast
from .errors import BadRequest, Conflict, shown
from .pipes import close_pipes, drain, read_pipe
from .processes import Program, ReadyWatcher
from .project import LOOPBACK_FOR, DjangoProject, parse_address
from .records import GroupRecords
from .replay import ReplayCache
from .runs import RunHistory
from .runserver_output import (
    Broken,
    Checking,
    DebuggerPin,
    Event,
    Failed,
    Paused,
    Ready,
    Reloading,
    RunserverWatcher,
    UnappliedMigrations,
)
from .status import describe_exit, status_of
from .wire import ACTIVE, DebuggerLocation, DjangoError, Hint, Line, State, Status

log = logging.getLogger(__name__)

LIFECYCLE_ACTIONS = ("start", "stop", "restart")  # the transitions a user asks for by name
READINESS_POLL = 0.05  # seconds between connection attempts once the start line is seen


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class CurrentRun:
    """One start of runserver, from its spawn to its end (and after, until the next start): a
    fresh one at each start, so nothing of the last run leaks into the next."""

    command: list[str] = field(default_factory=list)
    cwd: str | None = None
    started: str | None = None
    proc: Subprocess | None = None
    pgid: int | None = None  # the session leader's pid is its group's id
    url: str | None = None  # set once the port accepts connections
    error: DjangoError | None = None
    debugger: DebuggerLocation | None = None
    ended: str | None = None
    returncode: int | None = None
    stop_requested: bool = False
    # Lines sent to stdin that no prompt has shown up for yet: pdb reads one per prompt,
    # and a prompt printed after its answer was sent must not pause a request that goes on.
    answers_ahead: int = 0
    # Starting for longer than start_wait is said, with a hint, rather than left silent.
    slow: bool = False
    start_line_seen: bool = False


class Supervisor:
    """Owns one runserver process group.

    The locking rule: the transitions callers ask for (start, stop, restart, and migrate, which
    must not run beside them) hold `lock` from the state they check to the state they leave, so
    fifty concurrent starts spawn one process and a stop never interleaves with a spawn half
    done. What the process does moves the state without the lock: its output's events
    (`_on_event`), the port answering (`_await_port`), its exit (`_finish`), the slow-start
    timer, and an answer to the debugger (`actions.send_stdin`: paused -> running). Those act
    only from an active state, check and set with no await between, and the readiness probe is
    cancelled by every change that leaves starting or reloading.
    """

    def __init__(
        self,
        name: str,
        project: DjangoProject | Program,
        cache: ReplayCache,
        *,
        stop_timeout: float = 5.0,
        start_wait: float = 30.0,
        max_line_bytes: int = 64 * 1024,
        records: GroupRecords | None = None,
        on_change: Callable[[Supervisor], None] | None = None,
    ) -> None:
        self.name = name
        self.project = project
        self.cache = cache
        cache.on_disk_failed = self.notify  # the status says it too
        self.stop_timeout = stop_timeout
        self.start_wait = start_wait
        self.max_line_bytes = max_line_bytes
        self.records = records
        self.on_change = on_change
        self.watcher: RunserverWatcher | ReadyWatcher = (
            RunserverWatcher(project.root)
            if isinstance(project, DjangoProject)
            else ReadyWatcher(project)
        )
        self.runs = RunHistory(cache.store)
        self.lock = asyncio.Lock()
        self._changed = Broadcast()
        self.state: State = "stopped"
        self.run = CurrentRun()
        self.restarts = 0
        self.stopped_after_crash = False
        self.hints: dict[str, Hint] = {}  # by kind
        self._run_task: asyncio.Task[None] | None = None
        self._ready_task: asyncio.Task[None] | None = None
        self._slow_timer: asyncio.TimerHandle | None = None
        self._escaped: list[psutil.Process] = []  # processes that left the group (setsid)

    # -- public, awaitable transitions --------------------------------------------------------

    async def start(
        self, wait: float = 0.0, address: str | None = None, only_from: State | None = None
    ) -> Status:
        """Start unless already up; wait up to `wait` seconds for it to be up, broken or ended.

        `address` (host:port) replaces the configured one for this and later starts.
        `only_from` starts only from that state, checked under the lock: what recovery asks,
        so that a stop someone made meanwhile is never undone.
        """
        async with self.lock:
            if only_from is not None and (self.state != only_from or self.stopped_after_crash):
                return self.status()  # someone else acted meanwhile
            if self.state not in ACTIVE:
                await self._set_address(address)
                await self._spawn()
            elif address is not None and (
                await self._check_address(address)  # a bad one is 400 whatever the state
                != self.django.address
            ):
                raise Conflict(
                    f"Django is already running on {self.django.address}: "
                    f"restart it to move it to {address}."
                )
        if wait > 0:
            await self.wait_for(self._settled, wait)
        return self.status()

    async def stop(self) -> Status:
        """Stop the whole group; returns once it has ended and its port is free."""
        if self.state == "crashed":
            # It stays "crashed" (its error still shown), but someone said stop: recovery
            # must not start it again.
            self.stopped_after_crash = True
        async with self.lock:
            await self._stop()
        return self.status()

    async def restart(
        self, wait: float = 0.0, address: str | None = None, only_from: State | None = None
    ) -> Status:
        async with self.lock:
            if only_from is not None and self.state != only_from:
                return self.status()  # someone else acted meanwhile (see start)
            checked = await self._check_address(address)  # a bad one leaves Django as it is
            await self._stop()
            await self._set_address(checked)
            self.restarts += 1
            await self._spawn()
        if wait > 0:
            await self.wait_for(self._settled, wait)
        return self.status()

    async def run_hint_action(self, action: str) -> Status:
        """Do what a hint suggests: migrate, next-port or restart (see actions.py)."""
        return await actions.run_hint_action(self, action)

    async def send_stdin(self, text: str) -> Status:
        """Write a line to runserver's stdin, for a paused debugger (see actions.py)."""
        return await actions.send_stdin(self, text)

    async def _check_address(self, address: str | None) -> str | None:
        """The address if runserver could bind it (free or not); BadRequest otherwise.

        Checked in full before anything changes: an address that cannot work never becomes the
        configured one, where it would spoil every later start and status.
        """
        if address is None:
            return None
        if not isinstance(self.project, DjangoProject):
            raise BadRequest(f"{self.name} is not Django: it has no address to move.")
        try:
            host, port = parse_address(address)
        except ValueError as error:
            detail = str(error)
            why = "" if detail.startswith("not a host:port") else f" ({detail})"
            raise BadRequest(f"address must be host:port, not {shown(address)}{why}.") from None
        loop = asyncio.get_running_loop()
        try:
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as error:
            raise BadRequest(f"address {shown(address)}: cannot resolve {host}: {error}") from None
        try:
            oskit.port_is_free(host, port)  # in use is fine here: start says so as a crash
        except OSError as error:
            raise BadRequest(
                f"address {shown(address)}: cannot listen there: {error.strerror}"
            ) from None
        return address

    async def _set_address(self, address: str | None) -> None:
        checked = await self._check_address(address)
        if checked is not None:
            self.django.address = checked

    @property
    def django(self) -> DjangoProject:
        """The project, where only runserver's will do (its address, its port errors)."""
        assert isinstance(self.project, DjangoProject), f"{self.name} is not Django"
        return self.project

    @property
    def what(self) -> str:
        """What runs, in messages: "runserver", or the process's name."""
        return "runserver" if isinstance(self.project, DjangoProject) else self.name

    def _settled(self) -> bool:
        return self.state not in ("starting", "stopping")

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until condition() holds after some state change, or timeout; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return condition()
        return True

    def status(self) -> Status:
        return status_of(self)

    @property
    def alive(self) -> bool:
        return self._run_task is not None and not self._run_task.done()

    # -- spawning and reading -----------------------------------------------------------------

    async def _spawn(self) -> None:
        self.stopped_after_crash = False
        self.project.pick_port()  # port 0: a free one for this run
        command = self.project.command()  # raises NotConfigured before anything changes
        cwd = self.project.cwd()
        for pgid in await self.records.orphans() if self.records else []:
            self.say(f"Ending process group {pgid} left by an earlier Jupyter server")
            await self.end_group(pgid)
        self.watcher.reset()
        self.hints.pop("port", None)
        self.hints.pop("debugger-pin", None)  # Werkzeug says it again (the same) if it is on
        started = _utc_now()
        run = self.run = CurrentRun(command, str(cwd), started)
        if not self._port_is_usable():
            return
        self.say(f"Starting: {shlex.join(command)}  (in {cwd})")
        self.runs.begin(started, self.cache.last_seq, command)
        try:
            proc = self.popen(command, cwd, stdin=Subprocess.STREAM)  # stdin answers pdb
        except (OSError, ValueError) as error:  # ValueError: what argv or env cannot encode
            self.say(f"Could not start: {error}")
            why = getattr(error, "strerror", None) or str(error)
            run.error = DjangoError("spawn", f"Could not start {command[0]}: {why}")
            run.ended = _utc_now()
            self.set_state("crashed")
            return
        run.proc, run.pgid = proc, proc.pid
        if self.records:
            try:
                await self.records.write(self.name, proc.pid, command)
            except OSError as error:
                await self._unspawn(proc, error)
                return
        self.set_state("starting")
        self._slow_timer = asyncio.get_running_loop().call_later(
            self.start_wait, self._start_is_slow
        )
        self._run_task = asyncio.create_task(self._supervise(proc))
        if isinstance(self.watcher, ReadyWatcher):
            for event in self.watcher.at_spawn():  # no pattern: readiness starts now
                self._on_event(event)

    def _port_is_usable(self) -> bool:
        """Before a start: its port free (runserver's, a program's ready port); if not, it
        crashes at once with the reason, and Django is offered the next free port."""
        host_port = self.project.host_port
        if host_port is None:
            return True
        host, port = host_port
        try:
            free, why = oskit.port_is_free(host, port), "is already in use by another program"
        except OSError as error:  # configured, so checked once, but interfaces come and go
            free, why = False, f"cannot be listened on: {error.strerror}"
        if free:
            return True
        self.say(f"Not starting: {host}:{port} {why}.")
        self.run.error = DjangoError("port", f"Port {port} on {host} {why}")
        self.run.ended = self.run.started
        if isinstance(self.project, DjangoProject):
            self.hints["port"] = actions.port_hint(host, port)
        self.set_state("crashed")
        return False

    def _start_is_slow(self) -> None:
        self._slow_timer = None
        if self.state != "starting":
            return
        self.run.slow = True
        self.say(f"Still starting after {self.start_wait:g} s: {self.slow_reason()}")
        self.hints["slow-start"] = actions.slow_start_hint(self.slow_reason())
        self.notify()

    def slow_reason(self) -> str:
        if isinstance(self.project, Program):
            return f"{self.name} is not ready after {self.start_wait:g} s"
        if self.run.start_line_seen:
            return "Django printed its start line but its port does not accept connections"
        return f"no start line from Django after {self.start_wait:g} s"

    async def _unspawn(self, proc: Subprocess, error: OSError) -> None:
        """The group could not be recorded (a full disk, say): end it at once. Unrecorded, it
        would outlive a killed Jupyter server unseen; and nothing runs that we do not own."""
        folder = self.records.folder if self.records else ""
        why = error.strerror or str(error)
        self.say(f"Could not record the process group in {folder}: {why}. Ending it.")
        await self.end_group(proc.pid)
        self.run.returncode = await oskit.wait_exit(proc.proc)
        close_pipes(proc)
        self.run.error = DjangoError(
            "record", f"Not started: could not record the process in {folder} ({why})"
        )
        self.run.ended = _utc_now()
        self.set_state("crashed")

    def popen(self, command: list[str], cwd: Any, stdin: Any = subprocess.DEVNULL) -> Subprocess:
        """A command of the project's (runserver, migrate) in a process group of its own."""
        env = self.project.env()
        argv, prepare = oskit.child_spawn(command, cwd, env.get("PATH"))
        return Subprocess(
            argv,
            stdin=stdin,
            stdout=Subprocess.STREAM,
            stderr=Subprocess.STREAM,
            cwd=cwd,
            env=env,
            start_new_session=True,  # its own process group, so stop reaches the reloader child
            preexec_fn=prepare,
        )

    async def _supervise(self, proc: Subprocess) -> None:
        """Read both pipes until the process group has ended, then settle the final state."""
        readers = self.read_pipes(proc)
        returncode = await oskit.wait_exit(proc.proc)
        # The parent is gone; its reloader child may not be (and may hold the port and pipes).
        if self.run.pgid is not None:
            await self.end_group(self.run.pgid)
        await drain(readers, proc)
        self._finish(returncode)

    def read_pipes(self, proc: Subprocess, watch: bool = True) -> list[asyncio.Task[None]]:
        """Tasks reading stdout and stderr into the log; `watch`: the output reader reads the
        lines too (runserver's, not a one-shot command's)."""
        pipes: list[tuple[str, PipeIOStream]] = [("stdout", proc.stdout), ("stderr", proc.stderr)]
        return [
            asyncio.create_task(
                read_pipe(
                    pipe,
                    self.max_line_bytes,
                    functools.partial(self._publish, name, watch),
                    self.cache.room,
                )
            )
            for name, pipe in pipes
        ]

    def _publish(self, stream: str, watch: bool, texts: list[str], partial: bool) -> None:
        events: list[Event] = []

        def annotate(lines: Sequence[Line]) -> None:  # before any client has them
            if partial:
                for line in lines:
                    line.meta = {"partial": True}
            if not watch:
                return
            try:
                events.extend(self.watcher.feed_batch(lines, partial, texts))
            except Exception:  # a line it cannot make sense of must not stop the log
                log.exception("jupyter_fujita: cannot read %s's output", self.name)

        self.cache.append(stream, texts, time.time(), annotate)
        for event in events:
            self._on_event(event)

    def say(self, text: str) -> None:
        """A line of the supervisor's own in the log."""
        self.cache.append("fujita", [text], time.time())

    # -- what the output means ----------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if self.state not in ACTIVE:
            return  # stopping: what the group says on its way out changes nothing
        run = self.run
        if isinstance(event, Ready):
            run.start_line_seen = True
            self._cancel_readiness()
            if event.url is None:  # a program with no port: ready when its log said so
                run.error = None
                self.set_state("running")
            else:
                self._ready_task = asyncio.create_task(self._await_port(event.url))
        elif isinstance(event, Reloading):
            run.answers_ahead = 0  # a new child: nothing reads what was sent to the old one
            if run.pgid is not None:
                self._note_escapees(run.pgid)  # the old child's, before it goes
            self._cancel_readiness()
            self.set_state("reloading")
        elif isinstance(event, Broken):
            self._cancel_readiness()
            run.error = event.error
            self.set_state("broken")
        elif isinstance(event, Checking):
            said_again = ("migrations", "migration-conflict")
            if [self.hints.pop(kind) for kind in said_again if kind in self.hints]:
                self.notify()  # the hints are gone until the checks (or migrate) say them again
        elif isinstance(event, UnappliedMigrations):
            self.hints["migrations"] = actions.migrations_hint(event.count, event.apps)
            self.notify()
        elif isinstance(event, DebuggerPin):
            self.hints["debugger-pin"] = actions.debugger_pin_hint(event.pin)
            self.notify()
        elif isinstance(event, Paused):
            if run.answers_ahead > 0:  # its answer is already on the way
                run.answers_ahead -= 1
                return
            run.debugger = DebuggerLocation(event.file, event.line, event.function, event.seq)
            self.set_state("paused")
        elif isinstance(event, Failed) and event.error.kind in ("port", "permission"):
            host, port = self.django.host_port  # Django's words do not say which port
            event.error.message = event.error.message.format(host=host, port=port)
            run.error = event.error  # shown at once; the exit that follows makes it a crash
        # Other Failed: a fatal error that matters only if the process ends.

    async def _await_port(self, url: str) -> None:
        """Running means the start line was seen and the port accepts connections."""
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        host = LOOPBACK_FOR.get(host, host)
        port = parts.port or 80
        while self.state in ACTIVE:
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(READINESS_POLL)
                continue
            writer.close()
            self.run.url = url
            self.run.error = None
            self.set_state("running")
            return

    def _cancel_readiness(self) -> None:
        if self._ready_task is not None:
            self._ready_task.cancel()
            self._ready_task = None

    # -- stopping -----------------------------------------------------------------------------

    async def _stop(self) -> None:
        if not self.alive:
            if self.state != "crashed":
                self.set_state("stopped")
            return
        self.run.stop_requested = True
        self._cancel_readiness()
        self.set_state("stopping")
        self.say("Stopping: SIGINT to the process group")
        if self.run.pgid is not None:
            await self.end_group(self.run.pgid)
        if self._run_task is not None:
            await self._run_task
        host_port = self.project.host_port
        if host_port is not None:
            await self._wait(lambda: oskit.port_is_free(*host_port), self.stop_timeout)

    async def end_group(self, pgid: int) -> None:
        """Signal the group, and every process that left it, escalating until none of them is
        left (zombies aside)."""
        self._note_escapees(pgid)
        escaped = self._escaped

        def left() -> bool:
            return bool(oskit.group_members(pgid)) or any(map(oskit.alive, escaped))

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if not left():
                break
            if sig != signal.SIGINT:
                self.say(f"Still running after {self.stop_timeout:g} s: sending {sig.name}")
            oskit.signal_group(pgid, sig)
            for process in escaped:
                oskit.signal_process(process, sig)
            if await self._wait(lambda: not left(), self.stop_timeout):
                break
            self._note_escapees(pgid)  # one may have left while the others were signalled
        else:
            log.error("process group %s (or what left it) survived SIGKILL", pgid)
        self._escaped = [process for process in escaped if oskit.alive(process)]

    def _note_escapees(self, pgid: int) -> None:
        """Remember processes that left the group while their parents can still tell of them:
        once the parents are gone, nothing links them to this group any more."""
        known = {process.pid for process in self._escaped}
        for process in oskit.escaped_descendants(pgid):
            if process.pid not in known:
                self.say(f"Process {process.pid} left the process group: it is ended with it")
                self._escaped.append(process)

    @staticmethod
    async def _wait(condition: Callable[[], bool], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.005
        while not condition():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
        return True

    def _finish(self, returncode: int) -> None:
        run = self.run
        run.returncode = returncode
        run.ended = _utc_now()
        self._cancel_readiness()
        if self.records:
            self.records.remove(self.name)
        if run.stop_requested:
            self.say(f"Stopped (exit code {returncode})")
            self.runs.end(run.ended, returncode, None, self.cache.last_seq)
            self.set_state("stopped")
            return
        ended = describe_exit(returncode)
        self.say(ended[0].upper() + ended[1:])
        if returncode == 0 and isinstance(self.project, Program):
            self.runs.end(run.ended, returncode, None, self.cache.last_seq)
            self.set_state("stopped")  # its work done (a one-off build, say): not a crash
            return
        run.error = (
            self.watcher.last_error or run.error or DjangoError("exit", f"{self.what} {ended}")
        )
        if run.error.kind == "port" and isinstance(self.project, DjangoProject):
            self.hints["port"] = actions.port_hint(*self.project.host_port)
        self.runs.end(run.ended, returncode, run.error, self.cache.last_seq)
        self.set_state("crashed")

    # -- the state, and who hears of it ---------------------------------------------------------

    def set_state(self, state: State) -> None:
        if state != "starting":
            if self._slow_timer is not None:
                self._slow_timer.cancel()
                self._slow_timer = None
            self.run.slow = False
            self.hints.pop("slow-start", None)
        self.state = state
        self.notify()

    def notify(self) -> None:
        """Tell whoever waits or listens that the status changed (the state, or what it shows)."""
        self._changed.notify()
        if self.on_change is not None:
            self.on_change(self)
