"""Records of running process groups, one JSON file each, so that the next Jupyter server can
end the groups a killed one left behind.

A record names its group (pid, pgid, the child's start time) and the server that owns it (pid
and start time): a pid and its start time name one process for good.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from . import oskit

log = logging.getLogger(__name__)


class GroupRecords:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, name: str) -> Path:
        return self.folder / f"{name}-{os.getpid()}.json"

    def write(self, name: str, pid: int, command: list[str]) -> None:
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

    def remove(self, name: str) -> None:
        """Forget the group (it has ended). A record that cannot go is only logged: the next
        server finds its group gone and drops it then."""
        try:
            self._path(name).unlink(missing_ok=True)
        except OSError as error:
            log.warning("cannot remove the record of %s: %s", name, error)

    def orphans(self) -> list[int]:
        """Process groups recorded by a server that has died and still running; their records go.

        A live server's records (this one's other processes included) are left alone.
        """
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
