"""Records of running process groups, one JSON file each, so that the next Jupyter server can
end the groups a killed one left behind.

A record names its group (pid, pgid, the child's start time) and the server that owns it (pid
and start time): a pid and its start time name one process for good.

The files are written, read and removed in a thread of their own, one job at a time in the
order given: the event loop never waits on the disk (a small write can, under the writeback of
a flood), and a record's removal never overtakes the next run's write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import oskit

log = logging.getLogger(__name__)


class GroupRecords:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fujita-records")

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}-{os.getpid()}.json"

    async def write(self, name: str, pid: int, command: list[str]) -> None:
        """Record a group; raises OSError when the record cannot be written."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._disk, self._write, name, pid, command)

    def remove(self, name: str) -> None:
        """Forget the group (it has ended), soon: in the records' thread."""
        self._disk.submit(self._remove, name)

    async def orphans(self) -> list[int]:
        """Process groups recorded by a server that has died and still running; their records go.

        A live server's records (this one's other processes included) are left alone.
        """
        return await asyncio.get_running_loop().run_in_executor(self._disk, self._orphans)

    def wait(self) -> None:
        """Until every job given so far is done (at shutdown)."""
        self._disk.submit(lambda: None).result()

    def _write(self, name: str, pid: int, command: list[str]) -> None:
        record = {
            "pid": pid,
            "pgid": pid,  # the child leads its own session, so its pid is its group's id
            "start_time": oskit.process_start_time(pid),
            "owner_pid": os.getpid(),
            "owner_start_time": oskit.process_start_time(os.getpid()),
            "command": command,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        self._path(name).write_text(json.dumps(record))

    def _remove(self, name: str) -> None:
        """A record that cannot go is only logged: the next server finds its group gone and
        drops it then."""
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as error:
            log.warning("cannot remove the record of %s: %s", name, error)

    def _orphans(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        groups = []
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text())
                pid, pgid = int(record["pid"]), int(record["pgid"])
                owner = int(record["owner_pid"])
            except (OSError, ValueError, KeyError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if oskit.process_start_time(owner) == record.get("owner_start_time"):
                continue
            # A pid in use as a group id is never handed out again, so a group whose leader is
            # gone is still the recorded one; a live leader must be the very same process.
            leader_start = oskit.process_start_time(pid)
            same_group = leader_start is None or (
                leader_start == record.get("start_time") and oskit.process_group(pid) == pgid
            )
            if same_group and oskit.group_members(pgid):
                groups.append(pgid)
            path.unlink(missing_ok=True)
        return groups
