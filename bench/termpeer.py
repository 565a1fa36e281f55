"""terminado, JupyterLab's terminal backend, as the peer: its TermSocket and NamedTermManager
running the same child command, in a small tornado app of its own.

`python -m bench.termpeer --port P --cwd DIR --command python manage.py runserver ADDR`.
Each WebSocket at /websocket/NAME with a new NAME spawns a new child in a pty (the connection
is what starts it, as a terminal does); `POST /kill/NAME` ends that child's process group.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from terminado import NamedTermManager, TermSocket
from tornado import web

from bench.serving import serve_until_signalled


class KillHandler(web.RequestHandler):
    def post(self, name: str) -> None:
        manager: NamedTermManager = self.application.settings["term_manager"]
        term = manager.terminals.pop(name, None)
        if term is not None and term.ptyproc.isalive():
            try:
                term.killpg(signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.write({"killed": term is not None})


class PingHandler(web.RequestHandler):
    def get(self) -> None:
        self.write({"ok": True})


def kill_all(manager: NamedTermManager) -> None:
    for term in list(manager.terminals.values()):
        if term.ptyproc.isalive():
            try:
                term.killpg(signal.SIGKILL)
            except ProcessLookupError:
                pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--command", nargs="+", required=True)
    args = parser.parse_args()
    os.environ["PYTHONUNBUFFERED"] = "1"  # as our supervisor sets it

    async def serve() -> None:
        manager = NamedTermManager(
            shell_command=args.command, max_terminals=10_000, term_settings={"cwd": args.cwd}
        )
        app = web.Application(
            [
                (r"/websocket/([^/]+)", TermSocket, {"term_manager": manager}),
                (r"/kill/([^/]+)", KillHandler),
                (r"/ping", PingHandler),
            ],
            term_manager=manager,
        )
        await serve_until_signalled(app, args.port)
        kill_all(manager)

    asyncio.run(serve())


if __name__ == "__main__":
    main()
