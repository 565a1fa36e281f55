"""The %fujita line magic: the panel, the actions, the status and the log, from a notebook.

Whatever goes wrong (an unknown word, no server, a failed action) is one printed line, never a
traceback.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.magic import Magics, line_magic, magics_class

from .client import ClientError, EmbeddedBackend, RemoteBackend, connect
from .logstyle import traceback_lines

USAGE = """\
%fujita                      show the Django panel (and return it)
%fujita start | stop | restart [--address HOST:PORT]
                             act, then print the resulting status
%fujita migrate | next-port  do what a hint suggests (apply migrations, move to a free port)
%fujita status               the one-line status of every process, its error and hints
%fujita log [N] [--errors]   the last N lines of the log (default 50); --errors: the current
                             error and the last N requests that failed (5xx), each with its
                             traceback
%fujita send TEXT            write TEXT and a newline to runserver's stdin (answer pdb: c, n)
%fujita preview              show the site in the notebook, through the Jupyter server
%fujita --help               this text
Options: --name NAME (the process, default django), --address HOST:PORT (start, restart)."""

TRACEBACK_LINES = 400  # a traceback longer than this is cut (Django's own are about 40 lines)
ACTIONS = ("start", "stop", "restart", "migrate", "next-port")
COMMANDS = ("panel", "status", "log", "send", "preview", *ACTIONS)


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
        if word == "--errors":
            options["errors"] = "yes"
            continue
        if rest and rest[0] == "send":
            rest.append(word)  # send's text is taken as it is
            continue
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
    if "errors" in options and command != "log":
        raise UsageError("--errors goes with log")
    if command == "send" and not rest:
        raise UsageError("send needs the text to send, e.g. %fujita send c")
    return command, rest, options


def describe(status: dict[str, Any]) -> list[str]:
    """The one-line status, then the error's place and the hints, one line each."""
    lines = [one_line(status)]
    if status.get("manage_py"):
        settings = f" (settings: {status['settings']})" if status.get("settings") else ""
        lines.append(f"  project: {status['manage_py']}{settings}")
    error = status.get("error")
    if error and error.get("file"):
        lines.append(f"  {error['exception'] or error['kind']} at {error['file']}:{error['line']}")
    lines += [
        f"  hint: {hint['message']} (%fujita {hint['action']})"
        for hint in status.get("hints") or []
    ]
    return lines


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

    def _preview(self, name: str) -> Any:
        from IPython.display import IFrame

        status = next((s for s in self.backend().statuses() if s["name"] == name), None)
        if status is None or not (status.get("preview_url") or status.get("url")):
            raise ClientError("Django is not running: start it first (%fujita start)")
        address = status.get("preview_url") or status["url"]
        print(f"{one_line(status)}\n  preview: {address}")
        return IFrame(address, width="100%", height=480)

    def _run(self, command: str, args: list[str], options: dict[str, str]) -> Any:
        name = options.get("name", "django")
        if command == "panel":
            from .widget import FujitaPanel

            return FujitaPanel(name, backend=self.backend())
        backend = self.backend()
        if command in ACTIONS:
            print(one_line(backend.act(name, command, options.get("address"))))
        elif command == "preview":
            return self._preview(name)
        elif command == "send":
            print(one_line(backend.send(name, " ".join(args) + "\n")))
        elif command == "status":
            for status in backend.statuses():
                print("\n".join(describe(status)))
        elif command == "log":
            count = args[0] if args else "50"
            if not count.isdigit():
                raise ClientError(f"log takes a number of lines, not {count!r}")
            if "errors" in options:
                self._print_errors(backend, name, int(count))
                return None
            for line in backend.log(name, int(count)):
                print(line["text"])
        return None

    def _print_errors(
        self, backend: RemoteBackend | EmbeddedBackend, name: str, count: int
    ) -> None:
        """The current error with its traceback, then each failed request with its own."""
        status = next((s for s in backend.statuses() if s["name"] == name), None)
        error = (status or {}).get("error")
        if status and error:
            print("\n".join(describe(status)[1:2] or [status["message"]]))
            if isinstance(error.get("seq"), int):
                self._print_traceback(backend, name, error["seq"])
        for line in backend.log(name, count, status="5xx"):
            print(line["text"])
            seq = (line.get("request") or {}).get("traceback_seq")
            if isinstance(seq, int):
                self._print_traceback(backend, name, seq)

    @staticmethod
    def _print_traceback(backend: RemoteBackend | EmbeddedBackend, name: str, seq: int) -> None:
        for line in traceback_lines(backend.log(name, TRACEBACK_LINES, since=seq - 1), seq):
            print("    " + line["text"])
