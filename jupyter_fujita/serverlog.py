"""What the Jupyter server's own log says about the supervised processes: one INFO line per
change of state, one WARNING per error found, so that `jupyter lab`'s terminal (and a hub's
log) tells when Django started, broke or crashed, and why, without opening the page."""

from __future__ import annotations

import logging

from .supervisor import Supervisor


class StateLogger:
    """A manager listener (see ProcessManager.listeners) that writes to `log`."""

    def __init__(self, log: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.log = log
        self._states: dict[str, str] = {}
        self._errors: dict[str, tuple[object, ...]] = {}

    def __call__(self, supervisor: Supervisor) -> None:
        name, state = supervisor.name, supervisor.state
        if self._states.get(name, "stopped") != state:
            self._states[name] = state
            status = supervisor.status()
            self.log.info("jupyter_fujita: %s state=%s: %s", name, state, status.message)
        error = supervisor.run.error
        key = (error.kind, error.message, error.file, error.line, error.seq) if error else ()
        if key != self._errors.get(name, ()):
            self._errors[name] = key
            if error is not None:
                self.log.warning(
                    "jupyter_fujita: %s: %s error: %s", name, error.kind, error.summary()
                )
