"""Named supervisors, started in the order their dependencies ask, the fan-out of their status
changes, and the shutdown of all of them.

Status listeners are not called back: they wait for the manager's version to move and then read
the statuses that changed since the version they last saw. A slow listener thus holds nothing
but its own version number, whatever happens meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from .broadcast import Broadcast
from .errors import ActionFailed, NoSuchProcess
from .logstore import LogStore
from .records import GroupRecords
from .processes import Program, start_order
from .project import DjangoProject
from .replay import ReplayCache
from .supervisor import Supervisor
from .wire import Status


class ProcessManager:
    def __init__(
        self,
        record_dir: Path | None = None,
        log_dir: Path | None = None,
        log_bytes: int = 256 * 1024 * 1024,
    ) -> None:
        # where running groups are recorded, for the next server to end if this one is killed
        self.records = GroupRecords(record_dir) if record_dir else None
        # where each process's log is kept on disk (a folder per name); None: memory only
        self.log_dir = log_dir
        self.log_bytes = log_bytes
        self._supervisors: dict[str, Supervisor] = {}
        self._versions: dict[str, int] = {}  # name -> manager version of its last change
        self.version = 0
        self._changed = Broadcast()
        # Called at once on every change, in order: unlike the status feed, which gives a slow
        # reader the latest status only, these see each state a process passes through.
        self.listeners: list[Callable[[Supervisor], None]] = []

    def add(
        self,
        name: str,
        project: DjangoProject | Program,
        *,
        cache_lines: int = 10_000,
        cache_bytes: int = 16 * 1024 * 1024,
        max_line_bytes: int = 64 * 1024,
        stop_timeout: float = 5.0,
        start_wait: float = 30.0,
    ) -> Supervisor:
        store = LogStore(self.log_dir / name, self.log_bytes) if self.log_dir else None
        supervisor = Supervisor(
            name,
            project,
            ReplayCache(cache_lines, cache_bytes, store),
            stop_timeout=stop_timeout,
            start_wait=start_wait,
            max_line_bytes=max_line_bytes,
            records=self.records,
            on_change=self._on_change,
        )
        self._supervisors[name] = supervisor
        self._on_change(supervisor)
        return supervisor

    def get(self, name: str) -> Supervisor:
        try:
            return self._supervisors[name]
        except KeyError:
            raise NoSuchProcess(name) from None

    def __iter__(self) -> Iterator[Supervisor]:
        return iter(self._supervisors.values())

    # -- starting and stopping by dependency ----------------------------------------------------

    def depends_on(self) -> dict[str, list[str]]:
        return {
            name: list(s.project.spec.depends_on) if isinstance(s.project, Program) else []
            for name, s in self._supervisors.items()
        }

    async def start(self, name: str, wait: float = 0.0, address: str | None = None) -> Status:
        """Start `name` after what it depends on, each of those running before the next starts;
        ActionFailed (and `name` not started) when one of them does not come up."""
        supervisor = self.get(name)
        for dependency in start_order(self.depends_on(), name)[:-1]:
            await self._start_dependency(dependency, name)
        return await supervisor.start(wait=wait, address=address)

    async def _start_dependency(self, dependency: str, of: str) -> None:
        supervisor = self.get(dependency)
        status = await supervisor.start(wait=supervisor.start_wait)
        if status.state != "running":
            raise ActionFailed(
                f"{of} was not started: {dependency}, which it depends on, is {status.state} "
                f"({status.message})."
            )

    async def start_all(self, wait: float = 0.0) -> list[Status]:
        """Every process, dependencies first; one that fails to come up holds back only what
        depends on it."""
        failed: set[str] = set()
        depends_on = self.depends_on()
        for name in start_order(depends_on, *self._supervisors):
            if failed & set(start_order(depends_on, name)[:-1]):
                failed.add(name)
                continue
            status = await self.get(name).start(wait=wait or self.get(name).start_wait)
            if status.state != "running":
                failed.add(name)
        return self.statuses()

    async def stop_all(self) -> list[Status]:
        """Every process, those that depend on others first."""
        for name in reversed(start_order(self.depends_on(), *self._supervisors)):
            await self.get(name).stop()
        return self.statuses()

    async def restart_all(self, wait: float = 0.0) -> list[Status]:
        await self.stop_all()
        return await self.start_all(wait)

    def statuses(self) -> list[Status]:
        return [supervisor.status() for supervisor in self._supervisors.values()]

    # -- status fan-out -----------------------------------------------------------------------

    def _on_change(self, supervisor: Supervisor) -> None:
        self.version += 1
        self._versions[supervisor.name] = self.version
        self._changed.notify()
        for listener in self.listeners:
            listener(supervisor)

    def changed_since(self, version: int) -> list[Status]:
        return [
            self._supervisors[name].status()
            for name, changed in self._versions.items()
            if changed > version
        ]

    async def wait_beyond(self, version: int) -> None:
        while self.version <= version:
            await self._changed.wait()

    async def status_feed(self) -> AsyncIterator[dict[str, Any]]:
        """A snapshot of every status, then each change: {"type": "snapshot", "processes"},
        {"type": "status", "process"}, with Status records (not yet JSON)."""
        version = self.version
        yield {"type": "snapshot", "processes": self.statuses()}
        while True:
            await self.wait_beyond(version)
            changed = self.changed_since(version)
            version = self.version
            for status in changed:
                yield {"type": "status", "process": status}

    # -- shutdown -----------------------------------------------------------------------------

    async def shutdown(self) -> None:
        """Stop every child; nothing is left running, no port held; every log line on disk."""
        await asyncio.gather(*(s.stop() for s in self._supervisors.values()))
        for supervisor in self._supervisors.values():
            if supervisor.cache.store is not None:
                supervisor.cache.store.close()
        if self.records is not None:
            self.records.wait()
