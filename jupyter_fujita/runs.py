"""The history of a process's runs: each start, its end, how it ended, and its lines' seqs.

Kept beside the log on disk (`runs.json` in the log's folder) when there is one, so the
history, like the log, survives a restart of the Jupyter server; in memory otherwise. At most
MAX_RUNS are kept, and none whose lines have all left the log.
"""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Any, cast

import msgspec

from .wire import DjangoError

if TYPE_CHECKING:
    from .logstore import LogStore

log = logging.getLogger(__name__)
MAX_RUNS = 200
FILE = "runs.json"


class Run(msgspec.Struct, omit_defaults=False):
    number: int
    started: str
    first_seq: int
    command: list[str]
    ended: str | None = None
    returncode: int | None = None
    signal: str | None = None  # "SIGKILL" when a signal ended it
    error: DjangoError | None = None
    last_seq: int | None = None  # null while it runs


class RunHistory:
    def __init__(self, store: LogStore | None = None) -> None:
        self.store = store
        self.runs: list[Run] = []
        path = store.folder / FILE if store is not None else None
        if path is not None and path.exists():  # once, as the server starts
            try:
                self.runs = msgspec.json.decode(path.read_bytes(), type=list[Run])
            except (OSError, msgspec.DecodeError) as error:
                log.warning("jupyter_fujita: ignoring %s: %s", path, error)
        for run in self.runs:
            if run.ended is None:  # its server ended without saying how it ended
                run.ended, run.last_seq = run.started, run.last_seq or run.first_seq

    def begin(self, started: str, first_seq: int, command: list[str]) -> Run:
        number = self.runs[-1].number + 1 if self.runs else 1
        run = Run(number, started, first_seq, command)
        self.runs.append(run)
        del self.runs[:-MAX_RUNS]
        self._save()
        return run

    def end(self, ended: str, returncode: int, error: DjangoError | None, last_seq: int) -> None:
        if not self.runs or self.runs[-1].ended is not None:
            return
        run = self.runs[-1]
        run.ended, run.returncode, run.error, run.last_seq = ended, returncode, error, last_seq
        if returncode < 0:
            try:
                run.signal = signal.Signals(-returncode).name
            except ValueError:
                run.signal = f"signal {-returncode}"
        self._save()

    def forget_before(self, seq: int) -> None:
        """Drop the runs whose every line has left the log."""
        kept = [run for run in self.runs if run.last_seq is None or run.last_seq >= seq]
        if len(kept) != len(self.runs):
            self.runs = kept
            self._save()

    def get(self, number: int) -> Run | None:
        return next((run for run in self.runs if run.number == number), None)

    def _save(self) -> None:
        if self.store is not None:  # by the log's writer thread: the event loop never waits
            self.store.save_file(FILE, msgspec.json.encode(self.runs))


def runs_json(history: RunHistory) -> list[dict[str, Any]]:
    return cast("list[dict[str, Any]]", msgspec.to_builtins(history.runs))  # typed Any
