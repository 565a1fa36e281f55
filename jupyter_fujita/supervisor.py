"""One supervised runserver: spawn, read its pipes, track its state, stop its whole group.

runserver is two processes: the autoreloader parent and the child that serves (re-executed on
every code change). It runs in a session of its own, so its process group holds both, and stop
signals the group, escalating SIGINT -> SIGTERM -> SIGKILL. EOF on the pipes proves nothing
(a child can outlive its parent with the pipes open); the group is gone when the OS says so.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import psutil
from tornado.iostream import StreamClosedError
from tornado.process import Subprocess

from . import oskit
from .errors import ActionFailed, BadRequest, Conflict, NoSuchAction, shown
from .lines import LineSplitter
from .project import DjangoProject, parse_address
from .records import GroupRecords
from .replay import ReplayCache
from .runs import RunHistory
from .runserver_output import (
    Broken,
    Checking,
    DjangoError,
    Event,
    Failed,
    Paused,
    Ready,
    Reloading,
    RunserverWatcher,
    UnappliedMigrations,
)

log = logging.getLogger(__name__)

ACTIVE = frozenset({"starting", "running", "reloading", "broken", "paused"})
READ_CHUNK = 64 * 1024
READINESS_POLL = 0.05  # seconds between connection attempts once the start line is seen
PARTIAL_IDLE = 0.25  # an unterminated tail idle this long is published (a prompt, say)
STDIN_MAX_BYTES = 4096
STDIN_WRITE_TIMEOUT = 5.0  # seconds a write to a full stdin pipe may wait for a reader
ACTIONS = ("migrate", "next-port", "restart")
ONE_SHOT_TIMEOUT = 600.0  # seconds a one-shot command (migrate) may take
DRAIN_TIMEOUT = 2.0  # after the group has ended, how long the pipes may take to say EOF


@dataclass(slots=True)
class Status:
    name: str
    state: str
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
    hints: list[dict[str, str]]
    debugger: dict[str, Any] | None
    preview_url: str | None
    preview: str
    reach_probe: str | None
    manage_py: str | None = None
    settings: str | None = None


def _utf8(text: str) -> str:
    """Text from the OS (a path, a command) as valid Unicode: a file name that is not UTF-8
    arrives with lone surrogates, which no JSON encoder takes."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def status_json(status: Status) -> dict[str, Any]:
    return {
        "name": status.name,
        "state": status.state,
        "pid": status.pid,
        "returncode": status.returncode,
        "url": status.url,
        "message": _utf8(status.message),
        "command": [_utf8(part) for part in status.command],
        "cwd": _utf8(status.cwd) if status.cwd else status.cwd,
        "started": status.started,
        "ended": status.ended,
        "restarts": status.restarts,
        "last_seq": status.last_seq,
        "error": status.error.to_json() if status.error else None,
        "hints": status.hints,
        "debugger": status.debugger,
        "preview_url": status.preview_url,
        "preview": status.preview,
        "reach_probe": status.reach_probe,
        "manage_py": status.manage_py,
        "settings": status.settings,
    }


# Django's autoreloader exits with its serving child's return code: a child killed by signal N
# returns -N, and sys.exit(-N) leaves the parent with 256 - N. Only the signals that end a
# process from outside or by a fault are read that way; other codes in 192..255 are an exit's.
_RELAYED_SIGNALS = frozenset(
    {signal.SIGKILL, signal.SIGTERM, signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGHUP}
)


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


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Supervisor:
    """Owns one runserver process group. Every transition is serialized by one lock."""

    def __init__(
        self,
        name: str,
        project: DjangoProject,
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
        self.stop_timeout = stop_timeout
        self.start_wait = start_wait
        self.max_line_bytes = max_line_bytes
        self.records = records
        self.on_change = on_change
        self.watcher = RunserverWatcher(project.root)
        self.runs = RunHistory(cache.store.folder if cache.store is not None else None)
        # One lock around start/stop/restart: fifty concurrent starts spawn one process, and a
        # stop never interleaves with a spawn half done.
        self._lock = asyncio.Lock()
        self._changed = asyncio.Event()
        self.state = "stopped"
        self.proc: Subprocess | None = None
        self.pgid: int | None = None
        self.returncode: int | None = None
        self.url: str | None = None
        self.error: DjangoError | None = None
        self.command: list[str] = []
        self.cwd: str | None = None
        self.started: str | None = None
        self.ended: str | None = None
        self.restarts = 0
        self.stopped_after_crash = False
        self.hints: dict[str, dict[str, str]] = {}  # kind -> {kind, message, action, label}
        self.debugger: dict[str, Any] | None = None
        self._stop_requested = False
        # Lines sent to stdin that no prompt has shown up for yet: pdb reads one per prompt,
        # and a prompt printed after its answer was sent must not pause a request that goes on.
        self._answers_ahead = 0
        self._run_task: asyncio.Task[None] | None = None
        self._ready_task: asyncio.Task[None] | None = None
        # Starting for longer than start_wait is said, with a hint, rather than left silent.
        self._slow_timer: asyncio.TimerHandle | None = None
        self._slow = False
        self._start_line_seen = False
        self._escaped: list[psutil.Process] = []  # processes that left the group (setsid)

    # -- public, awaitable transitions --------------------------------------------------------

    async def start(
        self, wait: float = 0.0, address: str | None = None, only_from: str | None = None
    ) -> Status:
        """Start unless already up; wait up to `wait` seconds for it to be up, broken or ended.

        `address` (host:port) replaces the configured one for this and later starts.
        `only_from` starts only from that state, checked under the lock: what recovery asks,
        so that a stop someone made meanwhile is never undone.
        """
        async with self._lock:
            if only_from is not None and (self.state != only_from or self.stopped_after_crash):
                return self.status()  # someone else acted meanwhile
            if self.state not in ACTIVE:
                await self._set_address(address)
                await self._spawn()
            elif address is not None and address != self.project.address:
                await self._check_address(address)  # a bad one is 400 whatever the state
                raise Conflict(
                    f"Django is already running on {self.project.address}: "
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
        async with self._lock:
            await self._stop()
        return self.status()

    async def restart(
        self, wait: float = 0.0, address: str | None = None, only_from: str | None = None
    ) -> Status:
        async with self._lock:
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

    async def send(self, text: str) -> Status:
        """Write to runserver's stdin: what a paused debugger reads."""
        try:
            data = text.encode()
        except UnicodeEncodeError:  # a lone surrogate, which JSON can carry and UTF-8 cannot
            raise BadRequest("text must be valid Unicode (it holds a lone surrogate).") from None
        if len(data) > STDIN_MAX_BYTES:
            raise BadRequest(f"text is {len(data)} bytes; at most {STDIN_MAX_BYTES} go to stdin.")
        proc = self.proc
        if not self.alive or proc is None or proc.stdin is None or self.state not in ACTIVE:
            raise Conflict("Django is not running: there is nothing to send text to.")
        try:
            await asyncio.wait_for(asyncio.shield(proc.stdin.write(data)), STDIN_WRITE_TIMEOUT)
        except asyncio.TimeoutError:
            # Nothing reads stdin (no debugger waits) and the pipe is full: say so, rather than
            # hold the request until a reader comes. What was sent is still delivered then.
            raise Conflict("Django is not reading its stdin: no debugger is waiting.") from None
        self._say(f"Sent to stdin: {shown(text)}")
        answers = text.count("\n")
        if self.state == "paused":
            self._answers_ahead += max(answers - 1, 0)  # the first answers the prompt shown
            self.debugger = None  # the request goes on; a new prompt pauses it again
            self._set_state("running")
        else:
            self._answers_ahead += answers
        return self.status()

    async def run_action(self, action: str) -> Status:
        """Do what a hint suggests."""
        if action == "migrate":
            async with self._lock:
                await self._migrate()
            return self.status()
        if action == "next-port":
            host, port = self.project.host_port
            free = next(
                (p for p in range(port + 1, min(port + 101, 65536)) if oskit.port_is_free(host, p)),
                None,
            )
            if free is None:
                raise Conflict(f"No free port on {host} between {port + 1} and {port + 100}.")
            self._say(f"Port {port} is taken: moving to {host}:{free}")
            return await self.restart(wait=30, address=f"{host}:{free}")
        if action == "restart":
            return await self.restart(wait=self.start_wait)
        raise NoSuchAction(f"No action {shown(action)}: use {' or '.join(ACTIONS)}.")

    async def _migrate(self) -> None:
        """`manage.py migrate`, supervised, its output in the log; the hint goes on success."""
        command = [self.project.python, self.project.locate().name, "migrate", "--noinput"]
        self._say(f"Running: {shlex.join(command)}")
        proc = self._popen(command, self.project.cwd())
        readers = asyncio.gather(
            self._read(proc.stdout, "stdout", watch=False),
            self._read(proc.stderr, "stderr", watch=False),
        )
        try:
            returncode = await asyncio.wait_for(oskit.wait_exit(proc.proc), ONE_SHOT_TIMEOUT)
        except asyncio.TimeoutError:
            await self._end_group(proc.pid)
            returncode = await oskit.wait_exit(proc.proc)
        finally:
            await self._end_group(proc.pid)
            await readers
        if returncode != 0:
            self._say(f"migrate failed with code {returncode}")
            raise ActionFailed(f"manage.py migrate failed with code {returncode}: see the log.")
        self._say("Migrations applied")
        self.hints.pop("migrations", None)
        self._set_state(self.state)

    def _hint_next_port(self) -> None:
        host, port = self.project.host_port
        self.hints["port"] = {
            "kind": "port",
            "message": f"Port {port} on {host} is in use by another program",
            "action": "next-port",
            "label": "Start on the next free port",
        }

    async def _check_address(self, address: str | None) -> str | None:
        """The address if runserver could bind it (free or not); BadRequest otherwise.

        Checked in full before anything changes: an address that cannot work never becomes the
        configured one, where it would spoil every later start and status.
        """
        if address is None:
            return None
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
            self.project.address = checked

    def _settled(self) -> bool:
        return self.state not in ("starting", "stopping")

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until condition() holds after some state change, or timeout; returns it."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except asyncio.TimeoutError:
                return condition()
        return True

    def status(self) -> Status:
        return Status(
            name=self.name,
            state=self.state,
            pid=self.proc.pid if self.proc and self.state not in ("stopped", "crashed") else None,
            returncode=self.returncode,
            url=self.url if self.state in ACTIVE else None,
            message=self._message(),
            command=self.command,
            cwd=self.cwd,
            started=self.started,
            ended=self.ended,
            restarts=self.restarts,
            last_seq=self.cache.last_seq,
            error=self.error,
            hints=list(self.hints.values()),
            debugger=self.debugger if self.state == "paused" else None,
            preview_url=self._preview_url(),
            preview=self.project.preview_mode,
            reach_probe=self.project.reach_probe
            if self.project.preview_mode == "offered"
            else None,
            manage_py=self.project.identity()[0],
            settings=self.project.identity()[1],
        )

    def _preview_url(self) -> str | None:
        """Where the site is previewed through Jupyter, while it is up and previewing is on or
        offered (the faces link it first only when `preview` is "on")."""
        if self.state not in ACTIVE or self.project.preview_mode == "off":
            return None
        return self.project.preview_prefix

    @property
    def alive(self) -> bool:
        return self._run_task is not None and not self._run_task.done()

    # -- spawning and reading -----------------------------------------------------------------

    async def _spawn(self) -> None:
        self.stopped_after_crash = False
        self.project.pick_port()  # port 0: a free one for this run
        command = self.project.command()  # raises NotConfigured before anything changes
        cwd = self.project.cwd()
        self.command, self.cwd = command, str(cwd)
        for pgid in self.records.orphans() if self.records else []:
            self._say(f"Ending runserver group {pgid} left by an earlier Jupyter server")
            await self._end_group(pgid)
        self.watcher.reset()
        self._answers_ahead = 0
        self._stop_requested = False
        self.error = None
        self.returncode = None
        self.url = None
        self.ended = None
        self.debugger = None
        self.hints.pop("port", None)
        self.started = _utc_now()
        host, port = self.project.host_port
        try:
            free, why = oskit.port_is_free(host, port), "is already in use by another program"
        except OSError as error:  # configured, so checked once, but interfaces come and go
            free, why = False, f"cannot be listened on: {error.strerror}"
        if not free:
            self._say(f"Not starting: {host}:{port} {why}.")
            self.error = DjangoError("port", f"Port {port} on {host} {why}")
            self.ended = self.started
            self._hint_next_port()
            self._set_state("crashed")
            return
        self._say(f"Starting: {shlex.join(command)}  (in {cwd})")
        self.runs.begin(self.started, self.cache.last_seq, command)
        try:
            proc = self._popen(command, cwd, stdin=Subprocess.STREAM)  # stdin answers pdb
        except (OSError, ValueError) as error:  # ValueError: what argv or env cannot encode
            self._say(f"Could not start: {error}")
            why = getattr(error, "strerror", None) or str(error)
            self.error = DjangoError("spawn", f"Could not start {command[0]}: {why}")
            self.ended = _utc_now()
            self._set_state("crashed")
            return
        self.proc = proc
        self.pgid = proc.pid  # the session leader's pid is its group's id
        if self.records:
            try:
                self.records.write(self.name, proc.pid, command)
            except OSError as error:
                await self._unspawn(proc, error)
                return
        self._set_state("starting")
        self._slow, self._start_line_seen = False, False
        self._slow_timer = asyncio.get_running_loop().call_later(
            self.start_wait, self._start_is_slow
        )
        self._run_task = asyncio.create_task(self._run(proc))

    def _start_is_slow(self) -> None:
        self._slow_timer = None
        if self.state != "starting":
            return
        self._slow = True
        self._say(f"Still starting after {self.start_wait:g} s: {self._slow_reason()}")
        self.hints["slow-start"] = {
            "kind": "slow-start",
            "message": f"{self._slow_reason()}: look at the log, or restart",
            "action": "restart",
            "label": "Restart",
        }
        self._set_state("starting")

    def _slow_reason(self) -> str:
        if self._start_line_seen:
            return "Django printed its start line but its port does not accept connections"
        return f"no start line from Django after {self.start_wait:g} s"

    async def _unspawn(self, proc: Subprocess, error: OSError) -> None:
        """The group could not be recorded (a full disk, say): end it at once. Unrecorded, it
        would outlive a killed Jupyter server unseen; and nothing runs that we do not own."""
        folder = self.records.folder if self.records else ""
        why = error.strerror or str(error)
        self._say(f"Could not record the process group in {folder}: {why}. Ending it.")
        await self._end_group(proc.pid)
        self.returncode = await oskit.wait_exit(proc.proc)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        self.error = DjangoError(
            "record", f"Not started: could not record the process in {folder} ({why})"
        )
        self.ended = _utc_now()
        self._set_state("crashed")

    def _popen(self, command: list[str], cwd: Any, stdin: Any = subprocess.DEVNULL) -> Subprocess:
        return Subprocess(
            command,
            stdin=stdin,
            stdout=Subprocess.STREAM,
            stderr=Subprocess.STREAM,
            cwd=cwd,
            env=self.project.env(),
            start_new_session=True,  # its own process group, so stop reaches the reloader child
            preexec_fn=oskit.prepare_child,
        )

    async def _run(self, proc: Subprocess) -> None:
        """Read both pipes until the process group has ended, then settle the final state."""
        readers = [
            asyncio.create_task(self._read(proc.stdout, "stdout")),
            asyncio.create_task(self._read(proc.stderr, "stderr")),
        ]
        returncode = await oskit.wait_exit(proc.proc)
        # The parent is gone; its reloader child may not be (and may hold the port and pipes).
        if self.pgid is not None:
            await self._end_group(self.pgid)
        done, pending = await asyncio.wait(readers, timeout=DRAIN_TIMEOUT)
        for task in pending:  # a grandchild that left the group keeps a pipe open: stop reading
            task.cancel()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        await asyncio.gather(*pending, return_exceptions=True)
        self._finish(returncode)

    async def _read(self, stream: Any, name: str, watch: bool = True) -> None:
        """Read a pipe in bulk until EOF; `watch`: let the Django watcher read the lines too."""
        splitter = LineSplitter(self.max_line_bytes)
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await stream.read_bytes(READ_CHUNK, partial=True)
                texts = splitter.feed(data)
                if texts:
                    self._publish(name, texts, watch)
                if splitter.pending:
                    fed = splitter.fed
                    loop.call_later(PARTIAL_IDLE, self._publish_idle_tail, splitter, fed, name)
                # A read of buffered bytes completes without yielding: under a flood this loop
                # would keep the event loop to itself. Let requests and sockets in between chunks.
                await asyncio.sleep(0)
        except StreamClosedError:
            pass
        finally:
            texts = splitter.flush()
            if texts:
                self._publish(name, texts, watch)

    def _publish_idle_tail(self, splitter: LineSplitter, fed: int, stream: str) -> None:
        """Text without a newline that stayed idle (pdb's "(Pdb) ") is shown, marked partial."""
        if splitter.fed == fed and splitter.pending:
            self._publish(stream, [splitter.take_partial()], partial=True)

    def _publish(
        self, stream: str, texts: list[str], watch: bool = True, partial: bool = False
    ) -> None:
        lines = self.cache.append(stream, texts, time.time())
        if partial:
            for line in lines:
                line.meta = {"partial": True}
        if not watch:
            return
        for event in self.watcher.feed_batch(lines, partial):
            self._on_event(event)

    def _say(self, text: str) -> None:
        """A line of the supervisor's own in the log."""
        self.cache.append("fujita", [text], time.time())

    # -- what the output means ----------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if self.state not in ACTIVE:
            return  # stopping: what the group says on its way out changes nothing
        if isinstance(event, Ready):
            self._start_line_seen = True
            self._cancel_readiness()
            self._ready_task = asyncio.create_task(self._await_port(event.url))
        elif isinstance(event, Reloading):
            self._answers_ahead = 0  # a new child: nothing reads what was sent to the old one
            if self.pgid is not None:
                self._note_escapees(self.pgid)  # the old child's, before it goes
            self._cancel_readiness()
            self._set_state("reloading")
        elif isinstance(event, Broken):
            self._cancel_readiness()
            self.error = event.error
            self._set_state("broken")
        elif isinstance(event, Checking):
            if self.hints.pop("migrations", None) is not None:
                self._set_state(self.state)  # the hint is gone until the checks say it again
        elif isinstance(event, UnappliedMigrations):
            count = event.count
            self.hints["migrations"] = {
                "kind": "migrations",
                "message": f"{count} unapplied migration{'s' * (count != 1)} "
                f"({', '.join(event.apps)})",
                "action": "migrate",
                "label": f"Apply {count} migration{'s' * (count != 1)}",
            }
            self._set_state(self.state)
        elif isinstance(event, Paused):
            if self._answers_ahead > 0:  # its answer is already on the way
                self._answers_ahead -= 1
                return
            self.debugger = {
                "file": event.file,
                "line": event.line,
                "function": event.function,
                "seq": event.seq,
            }
            self._set_state("paused")
        elif isinstance(event, Failed) and event.error.kind in ("port", "permission"):
            host, port = self.project.host_port  # Django's words do not say which port
            event.error.message = event.error.message.format(host=host, port=port)
            self.error = event.error  # shown at once; the exit that follows makes it a crash
        # Other Failed: a fatal error that matters only if the process ends.

    async def _await_port(self, url: str) -> None:
        """Running means the start line was seen and the port accepts connections."""
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        port = parts.port or 80
        while self.state in ACTIVE:
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(READINESS_POLL)
                continue
            writer.close()
            self.url = url
            self.error = None
            self._set_state("running")
            return

    def _cancel_readiness(self) -> None:
        if self._ready_task is not None:
            self._ready_task.cancel()
            self._ready_task = None

    # -- stopping -----------------------------------------------------------------------------

    async def _stop(self) -> None:
        if not self.alive:
            if self.state != "crashed":
                self._set_state("stopped")
            return
        self._stop_requested = True
        self._cancel_readiness()
        self._set_state("stopping")
        self._say("Stopping: SIGINT to the process group")
        if self.pgid is not None:
            await self._end_group(self.pgid)
        if self._run_task is not None:
            await self._run_task
        host, port = self.project.host_port
        await self._wait(lambda: oskit.port_is_free(host, port), self.stop_timeout)

    async def _end_group(self, pgid: int) -> None:
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
                self._say(f"Still running after {self.stop_timeout:g} s: sending {sig.name}")
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
                self._say(f"Process {process.pid} left the process group: it is ended with it")
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
        self.returncode = returncode
        self.ended = _utc_now()
        self._cancel_readiness()
        if self.records:
            self.records.remove(self.name)
        if self._stop_requested:
            self._say(f"Stopped (exit code {returncode})")
            self.runs.end(self.ended, returncode, None, self.cache.last_seq)
            self._set_state("stopped")
            return
        ended = describe_exit(returncode)
        self._say(ended[0].upper() + ended[1:])
        self.error = (
            self.watcher.last_error or self.error or DjangoError("exit", f"runserver {ended}")
        )
        if self.error.kind == "port":
            self._hint_next_port()
        self.runs.end(self.ended, returncode, self.error.to_json(), self.cache.last_seq)
        self._set_state("crashed")

    # -- the state and what it says -----------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != "starting":
            if self._slow_timer is not None:
                self._slow_timer.cancel()
                self._slow_timer = None
            self._slow = False
            self.hints.pop("slow-start", None)
        self.state = state
        self._changed.set()
        self._changed = asyncio.Event()
        if self.on_change is not None:
            self.on_change(self)

    def _message(self) -> str:
        state = self.state
        if state == "running":
            return f"Django is running at {self.url}"
        if state == "starting":
            if self._slow:
                return f"Still starting: {self._slow_reason()}. Look at the log, or restart."
            return "Django is starting"
        if state == "reloading":
            return "Django is reloading after a code change"
        if state == "broken" and self.error:
            return f"Waiting for a fix: {self.error.summary()}"
        if state == "paused" and self.debugger:
            where = f"{self.debugger['file']}:{self.debugger['line']}"
            return f"Paused in the debugger at {where}"
        if state == "stopping":
            return "Django is stopping"
        if state == "crashed":
            if self.error and self.error.kind in ("port", "spawn", "record"):
                return self.error.message
            # an `exit` error says only how it ended, which the sentence says already
            why = f": {self.error.summary()}" if self.error and self.error.kind != "exit" else ""
            ended = describe_exit(self.returncode) if self.returncode is not None else "ended"
            return f"Django {ended}{why}"
        return "Django is stopped"
