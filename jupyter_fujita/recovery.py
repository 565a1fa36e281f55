"""Back on its feet by itself: a supervised process that is broken or crashed comes back when
its fix is saved, and (opt-in) after a crash, with back-off.

- **A saved fix.** While a process is `broken` or `crashed` on an error that names a file, the
  project's files are watched (watchfiles). When one is saved: a crashed runserver is started
  again; a broken one is given RELOADER_GRACE seconds for Django's own reloader to act (its
  StatReloader misses an edit saved within a second of the error), then restarted if it is
  still broken.
- **`autorestart`** (the processes named). A crash (not a stop) is followed by a start after 1, 2, 4 … 60 seconds;
  after `max_crashes` crashes in a row it gives up and says so. Running again resets the count.

Every such start is a line of the supervisor's in the log. This follows the manager's status
feed like any other listener: the supervisor knows nothing of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from pathlib import Path

from watchfiles import PythonFilter, awatch

from .errors import FujitaError
from .manager import ProcessManager
from .supervisor import Supervisor
from .wire import Status

log = logging.getLogger(__name__)
RELOADER_GRACE = 2.5  # seconds: Django's StatReloader ticks each second
BACKOFF_MAX = 60.0
WATCHED = PythonFilter(extra_extensions=(".html", ".txt", ".json", ".env", ".cfg", ".toml"))


class Recovery:
    def __init__(
        self, manager: ProcessManager, autorestart: set[str] | None = None, max_crashes: int = 5
    ) -> None:
        self.manager = manager
        self.autorestart = autorestart or set()  # the names of the processes it restarts
        self.max_crashes = max_crashes
        self._crashes: dict[str, int] = {}
        self._watches: dict[str, asyncio.Task[None]] = {}
        self._restarts: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow())

    async def stop(self) -> None:
        tasks = [self._task, *self._watches.values(), *self._restarts.values()]
        for task in tasks:
            if task is not None:
                task.cancel()
        for task in tasks:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _follow(self) -> None:
        async for message in self.manager.status_feed():
            statuses = message.get("processes") or [message.get("process")]
            for status in statuses:
                if status is not None:
                    try:
                        self._on_status(status)
                    except Exception:  # noqa: BLE001 - one odd status must not end recovery
                        log.exception("jupyter_fujita: recovery of %s", status.name)

    def _on_status(self, status: Status) -> None:
        name, state = status.name, status.state
        if state == "running":
            self._crashes[name] = 0
        if state in ("broken", "crashed") and status.error is not None and status.error.file:
            self._watch(name)
        else:
            self._unwatch(name)
        if state == "crashed" and name in self.autorestart and name not in self._restarts:
            self._crashes[name] = self._crashes.get(name, 0) + 1
            self._schedule_restart(name)
        elif state in ("stopped", "stopping"):  # stopped by someone: no restart pending
            restart = self._restarts.pop(name, None)
            if restart is not None:
                restart.cancel()

    # -- a saved fix --------------------------------------------------------------------------

    def _watch(self, name: str) -> None:
        if name not in self._watches:
            self._watches[name] = asyncio.create_task(self._watch_files(name))

    def _unwatch(self, name: str) -> None:
        task = self._watches.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _watch_files(self, name: str) -> None:
        supervisor = self.manager.get(name)
        root = Path(supervisor.project.cwd())
        async for changes in awatch(root, watch_filter=WATCHED, debounce=200, step=50):
            if supervisor.stopped_after_crash:
                return  # stopped by someone since it crashed: a saved file does not undo that
            saved = sorted({Path(path).name for _, path in changes})
            if supervisor.state == "broken":
                # Django's reloader may act on its own: give it its tick first.
                deadline = time.monotonic() + RELOADER_GRACE
                while supervisor.state == "broken" and time.monotonic() < deadline:
                    await supervisor.wait_for(lambda: supervisor.state != "broken", 0.25)
                if supervisor.state != "broken":
                    continue
                say(supervisor, f"Saw {', '.join(saved)} saved; Django did not reload: restarting")
                await _quietly(supervisor.restart(only_from="broken"))
            elif supervisor.state == "crashed":
                say(supervisor, f"Saw {', '.join(saved)} saved: starting again")
                await _quietly(supervisor.start(only_from="crashed"))

    # -- autorestart --------------------------------------------------------------------------

    def _schedule_restart(self, name: str) -> None:
        crashes = self._crashes[name]
        supervisor = self.manager.get(name)
        if crashes > self.max_crashes:
            say(supervisor, f"Crashed {crashes - 1} times in a row: not restarting it again")
            return
        delay = min(BACKOFF_MAX, 2.0 ** (crashes - 1))
        say(supervisor, f"Crashed ({_ordinal(crashes)} in a row): starting again in {delay:g} s")
        self._restarts[name] = asyncio.create_task(self._restart_later(supervisor, delay))

    async def _restart_later(self, supervisor: Supervisor, delay: float) -> None:
        await asyncio.sleep(delay)
        self._restarts.pop(supervisor.name, None)
        await _quietly(supervisor.start(only_from="crashed"))  # unless someone acted meanwhile


def say(supervisor: Supervisor, text: str) -> None:
    supervisor.cache.append("fujita", [text], time.time())


async def _quietly(action: Awaitable[Status]) -> None:
    """Run a start or restart to its end even if the task asking is cancelled meanwhile (a
    transition is never cut in half); an error is the state's to tell."""
    try:
        await asyncio.shield(action)
    except FujitaError as error:  # no manage.py any more, say
        log.info("jupyter_fujita: recovery could not start: %s", error.message)


def _ordinal(number: int) -> str:
    suffix = {1: "st", 2: "nd", 3: "rd"}.get(number if number < 20 else number % 10, "th")
    return f"{number}{suffix}"
