"""The few named errors the core raises; the extension maps each to its HTTP status in one place."""


def shown(value: object, limit: int = 60) -> str:
    """repr() of a value a caller sent, cut short: an error names the bad input without
    echoing megabytes of it into the answer and the server's log."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text)} characters)"


class FujitaError(Exception):
    """Base of the errors a caller is told about (never a crash of the supervisor)."""

    status = 500

    @property
    def message(self) -> str:
        return str(self)


class BadRequest(FujitaError):
    status = 400


class TooLarge(FujitaError):
    """A request body beyond its limit."""

    status = 413


class NoSuchProcess(FujitaError):
    status = 404

    def __init__(self, name: str) -> None:
        super().__init__(f"No process named {name!r}.")


class NotConfigured(FujitaError):
    """The process cannot start as configured (no manage.py, say)."""

    status = 409


class Conflict(FujitaError):
    """The request contradicts the current state (a different address while running, say)."""

    status = 409


class NoSuchAction(FujitaError):
    status = 404


class NoSuchRun(FujitaError):
    status = 404


class ActionFailed(FujitaError):
    """An action ran and failed (`manage.py migrate` exited non-zero): its output is in the log."""

    status = 409
