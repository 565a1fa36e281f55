"""What the peers' own server processes share: serve until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

from tornado import web


async def serve_until_signalled(app: web.Application, port: int) -> None:
    app.listen(port, address="127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
