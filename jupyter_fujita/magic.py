"""The %fujita line magic: the panel, the actions, the status and the log, from a notebook.

Whatever goes wrong (an unknown word, no server, a failed action) is one printed line, never a
traceback.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .client import ClientError, EmbeddedBackend, RemoteBackend, connect

USAGE = """\
%fujita                      show the Django panel (and return it)
%fujita start | stop | restart [--address HOST:PORT]
                             act, then print the resulting status
%fujita status               the one-line status of every process
%fujita log [N]              the last N lines of the log (default 50)
%fujita --help               this text
Options: --name NAME (the process, default django), --address HOST:PORT (start, restart)."""

ACTIONS = ("start", "stop", "restart")
COMMANDS = ("panel", "status", "log", *ACTIONS)


class UsageError(Exception):
    pass


def one_line(status: dict[str, Any]) -> str:
    return f"{status['name']}: {status['state']} — {status['message']}"


def parse(line: str) -> tuple[str, list[str], dict[str, str]]:
    """'start --address 127.0.0.1:8001' -> ('start', [], {'address': '127.0.0.1:8001'})."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise UsageError(str(error)) from None
    options: dict[str, str] = {}
    rest: list[str] = []
    while words:
        word = words.pop(0)
        if word in ("-h", "--help"):
            return "help", [], {}
        if word.startswith("--"):
            key, _, value = word[2:].partition("=")
            if key not in ("address", "name"):
                raise UsageError(f"unknown option --{key}")
            if not value:
                if not words:
                    raise UsageError(f"--{key} needs a value")
                value = words.pop(0)
            options[key] = value
        else:
            rest.append(word)
    command = rest.pop(0) if rest else "panel"
    if command not in COMMANDS:
        raise UsageError(f"unknown command {command!r}")
    if "address" in options and command not in ("start", "restart"):
        raise UsageError("--address goes with start or restart")
    return command, rest, options


@magics_class
class FujitaMagics(Magics):
    _backend: RemoteBackend | EmbeddedBackend | None = None

    def backend(self) -> RemoteBackend | EmbeddedBackend:
        if self._backend is None:
            self._backend = connect()
        return self._backend

    @line_magic
    def fujita(self, line: str) -> Any:
        try:
            command, args, options = parse(line)
        except UsageError as error:
            print(f"fujita: {error} (see %fujita --help)")
            return None
        if command == "help":
            print(USAGE)
            return None
        try:
            return self._run(command, args, options)
        except ClientError as error:
            print(f"fujita: {error}")
        return None

    def _run(self, command: str, args: list[str], options: dict[str, str]) -> Any:
        name = options.get("name", "django")
        if command == "panel":
            from .widget import FujitaPanel

            return FujitaPanel(name, backend=self.backend())
        if command in ACTIONS:
            print(one_line(self.backend().act(name, command, options.get("address"))))
        elif command == "status":
            for status in self.backend().statuses():
                print(one_line(status))
        elif command == "log":
            count = args[0] if args else "50"
            if not count.isdigit():
                raise ClientError(f"log takes a number of lines, not {count!r}")
            for line in self.backend().log(name, int(count)):
                print(line["text"])
        return None
