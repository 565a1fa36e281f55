"""A wake-up for every waiter at once, each time something changed.

An asyncio.Event that is set and at once replaced: whoever waits now is woken, whoever starts
waiting after the change waits for the next one. Waiters keep nothing but their own position
(a seq, a version, a state), which they compare once woken.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Broadcast:
    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake everyone waiting now."""
        self._event.set()
        self._event = asyncio.Event()

    def wait(self) -> Coroutine[Any, Any, bool]:
        """Until the next notify. The event is taken now, not when the coroutine first runs (as
        under asyncio.wait_for, in a task of its own): a change in between still wakes it."""
        return self._event.wait()
