"""The seed design, rebuilt as the reference peer: one `read_until(b"\\n")` per line into a ring,
one WebSocket message per line to every client.

Used in-process (ingest, memory) and as a small tornado server in a subprocess (latency, replay):
`python -m bench.seed --port P --cwd DIR --command python manage.py runserver ADDR --ring N`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import time
from collections import deque
from collections.abc import Callable

from tornado import web

from bench.serving import serve_until_signalled
from bench.stages import Stages
from tornado.iostream import StreamClosedError
from tornado.process import Subprocess
from tornado.websocket import WebSocketClosedError, WebSocketHandler


class SeedLog:
    """A ring of line dicts; every appended line goes to each listener at once."""

    def __init__(self, max_lines: int) -> None:
        self.lines: deque[dict] = deque(maxlen=max_lines)
        self.last_seq = 0
        self.listeners: list[Callable[[str], None]] = []
        self.first_time: float | None = None  # perf_counter() when the first line arrived

    def append(self, stream: str, text: str) -> None:
        self.last_seq += 1
        line = {"seq": self.last_seq, "stream": stream, "time": time.time(), "text": text}
        self.lines.append(line)
        if self.listeners:
            message = json.dumps({"type": "lines", "lines": [line]})
            for listener in self.listeners:
                listener(message)

    async def read(self, stream, name: str) -> None:
        try:
            raw = await stream.read_until(b"\n")
            if self.first_time is None:  # outside the loop: the bench's probe costs it nothing
                self.first_time = time.perf_counter()
            self.append(name, raw[:-1].decode("utf-8", "replace"))
            while True:
                raw = await stream.read_until(b"\n")
                self.append(name, raw[:-1].decode("utf-8", "replace"))
        except StreamClosedError:
            pass


def spawn(command: list[str], cwd: str) -> Subprocess:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return Subprocess(
        command,
        stdin=subprocess.DEVNULL,
        stdout=Subprocess.STREAM,
        stderr=Subprocess.STREAM,
        cwd=cwd,
        env=env,
        start_new_session=True,
    )


async def run_child(log: SeedLog, command: list[str], cwd: str) -> int:
    """Spawn the child, read both pipes line by line until EOF, return its exit code."""
    proc = spawn(command, cwd)
    readers = [log.read(proc.stdout, "stdout"), log.read(proc.stderr, "stderr")]
    returncode, *_ = await asyncio.gather(proc.wait_for_exit(raise_error=False), *readers)
    return returncode


# -- the server -----------------------------------------------------------------------------


class StartHandler(web.RequestHandler):
    def post(self) -> None:
        app = self.application
        if app.child is None or app.child.done():
            app.child = asyncio.ensure_future(run_child(app.log, app.command, app.cwd))
        self.write({"started": True})


class StatusHandler(web.RequestHandler):
    def get(self) -> None:
        app = self.application
        running = app.child is not None and not app.child.done()
        self.write({"last_seq": app.log.last_seq, "running": running})


class StagesHandler(web.RequestHandler):
    """The latency rounds' probe (stages.py), as our server has it: POST starts, GET stops."""

    def post(self) -> None:
        self.application.stages.start()
        self.write({"started": True})

    def get(self) -> None:
        self.write(self.application.stages.stop())


class LogSocket(WebSocketHandler):
    def open(self) -> None:
        log = self.application.log
        since = int(self.get_query_argument("since", "0"))
        for line in list(log.lines):  # the replay: one message per line, all at once
            if line["seq"] > since:
                self.write_message(json.dumps({"type": "lines", "lines": [line]}))
        log.listeners.append(self._send)

    def _send(self, message: str) -> None:
        try:
            self.write_message(message)
        except WebSocketClosedError:
            pass

    def on_close(self) -> None:
        listeners = self.application.log.listeners
        if self._send in listeners:
            listeners.remove(self._send)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--ring", type=int, default=10_000)
    parser.add_argument("--command", nargs="+", required=True)
    args = parser.parse_args()

    async def serve() -> None:
        app = web.Application(
            [
                (r"/start", StartHandler),
                (r"/status", StatusHandler),
                (r"/stages", StagesHandler),
                (r"/ws", LogSocket),
            ]
        )
        app.log, app.child = SeedLog(args.ring), None
        app.stages = Stages(((SeedLog, "append", "the ring and the JSON"),))
        app.command, app.cwd = args.command, args.cwd
        await serve_until_signalled(app, args.port)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
