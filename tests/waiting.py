"""Waiting in tests: poll a condition until it holds, or fail at once, loudly.

A wait that times out must be the failure the test reports, saying what it waited for and what
it saw last, not a quiet `False` that shows up later as some other, misleading assertion.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

POLL = 0.05  # seconds between two looks: short beside every timeout the tests use


def timed_out(what: str, timeout: float, last: object) -> AssertionError:
    return AssertionError(f"timed out after {timeout} s waiting for {what}; last seen: {last!r}")


def wait_until(
    condition: Callable[[], Any],
    timeout: float,
    what: str,
    seen: Callable[[], object] | None = None,
) -> Any:
    """Poll condition() until it is truthy and return that value; else raise, naming `what`
    and the last value seen (seen(), or condition's own last answer)."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise timed_out(what, timeout, seen() if seen else value)
        time.sleep(POLL)
    return value


async def wait_for(
    condition: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "",
    seen: Callable[[], object] | None = None,
) -> Any:
    """wait_until on the event loop; condition may be a coroutine function."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            last = seen() if seen else value
            raise timed_out(what or _source(condition), timeout, last)
        await asyncio.sleep(POLL)


async def wait_for_state(supervisor: Any, state: str, timeout: float = 30.0) -> None:
    """Wait for a Supervisor to reach `state`; a timeout says where it stood and its last lines."""
    await wait_for(
        lambda: supervisor.state == state,
        timeout,
        f"{supervisor.name} to be {state}",
        seen=lambda: where(supervisor),
    )


def where(supervisor: Any) -> str:
    """A supervisor's state, its message and its last few lines, for a failure's message."""
    lines = [line.text for line in supervisor.cache.tail(5)]
    return f"{supervisor.state} ({supervisor.status().message}); last lines: {lines}"


def _source(condition: Callable[[], Any]) -> str:
    try:
        return inspect.getsource(condition).strip()
    except (OSError, TypeError):
        return repr(condition)
