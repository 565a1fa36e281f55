"""The %fujita line magic: the panel, the actions, the status and the log, from a notebook.

Whatever goes wrong (an unknown word, no server, a failed action) is one printed line, never a
traceback.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .client import LIFECYCLE, JSON, Backend, ClientError, connect
from .logstyle import traceback_lines
from .processes import ALL

TRACEBACK_LINES = 400  # a traceback longer than this is cut (Django's own are about 40 lines)
# the hints' actions a user types; restart is LIFECYCLE's
HINT_ACTIONS = ("migrate", "merge-migrations", "next-port")
COMMANDS = ("panel", "status", "log", "send", "preview", *LIFECYCLE, *HINT_ACTIONS)
# The commands whose first word may name the process (`%fujita start worker`), `all` included
# for the lifecycle's.
NAMED = ("panel", "log", "preview", *LIFECYCLE, *HINT_ACTIONS)


def one_line(status: JSON) -> str:
    return f"{status['name']}: {status['state']} — {status['message']}"


def named(
    command: str, words: list[str], name: str, names: list[str]
) -> tuple[str, str, list[str]]:
    """(command, process, words): `%fujita worker` is the panel of `worker`, and a process's
    name after a command (`%fujita start worker`, `%fujita log css 20`) names the process."""
    if command not in COMMANDS and command in names:
        return "panel", command, words
    everyone = [*names, ALL] if command in LIFECYCLE else names
    if command in NAMED and words and words[0] in everyone:
        return command, words[0], words[1:]
    return command, name, words


def check(command: str, words: list[str], address: str | None, errors: bool) -> None:
    """The words that go together, or a UsageError saying which do not."""
    if command not in COMMANDS:
        raise UsageError(f"unknown command or process {command!r}")
    if address is not None and command not in ("start", "restart"):
        raise UsageError("--address goes with start or restart")
    if errors and command != "log":
        raise UsageError("--errors goes with log")
    if command == "send" and not words:
        raise UsageError("send needs the text to send, e.g. %fujita send c")
    if words and command not in ("log", "send"):
        raise UsageError(f"{command} takes no words, not {' '.join(words)!r}")


def describe(status: JSON) -> list[str]:
    """The one-line status, then the error's place and the hints, one line each."""
    lines = [one_line(status)]
    if status.get("manage_py"):
        settings = f" (settings: {status['settings']})" if status.get("settings") else ""
        lines.append(f"  project: {status['manage_py']}{settings}")
    error = status.get("error")
    if error and error.get("file"):
        lines.append(f"  {error['exception'] or error['kind']} at {error['file']}:{error['line']}")
    lines += [
        f"  hint: {hint['message']}"
        + (f" (%fujita {hint['action']})" if hint.get("action") else "")
        for hint in status.get("hints") or []
    ]
    return lines


@magics_class
class FujitaMagics(Magics):
    _backend: Backend | None = None

    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = connect()
        return self._backend

    @magic_arguments()
    @argument(
        "command",
        nargs="?",
        default="panel",
        help="panel (the default), start, stop, restart, migrate, next-port, status, log, send "
        "or preview",
    )
    @argument("words", nargs="*", help="log: how many lines (default 50); send: the text")
    @argument("--name", default="django", help="the process (default: django)")
    @argument("--address", metavar="HOST:PORT", help="start or restart: where Django listens")
    @argument(
        "--errors",
        action="store_true",
        help="log: the current error and the last N failed (5xx) requests, with tracebacks",
    )
    @argument("-h", "--help", action="store_true", help="this text")
    @line_magic
    def fujita(self, line: str) -> Any:
        """Run and watch Django from a notebook.

        %fujita                      show the Django panel (and return it)
        %fujita worker               the panel of another process (Procfile, Fujita.processes)
        %fujita start | stop | restart [NAME | all] [--address HOST:PORT]
                                     act, then print the resulting status; NAME (default
                                     django) starts what it depends on first; all: every process
        %fujita migrate | merge-migrations | next-port
                                     do what a hint suggests (apply migrations, merge two that
                                     conflict, move to a free port)
        %fujita status               the one-line status of every process, its error and hints
        %fujita log [NAME] [N] [--errors]
                                     the last N lines of the log (default 50)
        %fujita send TEXT            write TEXT and a newline to runserver's stdin (answer pdb: c)
        %fujita preview              show the site in the notebook, through the Jupyter server

        Whatever goes wrong (an unknown word, no server, a failed action) is one printed line,
        never a traceback.
        """
        try:
            # partial: words after an option (`log --errors 5`) come back as extras
            args, extras = parse_argstring(self.fujita, line, partial=True)
            if args.help:
                print(self.fujita.__doc__)
                return None
            unknown = next((word for word in extras if word.startswith("--")), None)
            if unknown is not None:
                raise UsageError(f"unknown option {unknown.partition('=')[0]}")
            words = [*args.words, *extras]
            command, name, words = args.command, args.name, words
            if command not in COMMANDS or (command in NAMED and words):
                command, name, words = named(command, words, name, self._names())
            check(command, words, args.address, args.errors)
        except UsageError as error:
            print(f"fujita: {error} (see %fujita --help)")
            return None
        try:
            return self._run(command, name, words, args.address, args.errors)
        except ClientError as error:
            print(f"fujita: {error}")
        return None

    def _names(self) -> list[str]:
        """The processes there are; none when the server cannot be reached (the command then
        says what it can)."""
        try:
            return [status["name"] for status in self.backend().statuses()]
        except ClientError:
            return []

    def _preview(self, name: str) -> Any:
        from IPython.display import IFrame

        status = next((s for s in self.backend().statuses() if s["name"] == name), None)
        if status is None or not (status.get("preview_url") or status.get("url")):
            raise ClientError("Django is not running: start it first (%fujita start)")
        address = status.get("preview_url") or status["url"]
        print(f"{one_line(status)}\n  preview: {address}")
        return IFrame(address, width="100%", height=480)

    def _run(
        self, command: str, name: str, words: list[str], address: str | None, errors: bool
    ) -> Any:
        if command == "panel":
            from .widget import FujitaPanel

            return FujitaPanel(name, backend=self.backend())
        backend = self.backend()
        if command in LIFECYCLE:
            answer = backend.lifecycle(name, command, address)
            for status in answer.get("processes", [answer]):  # all: every process's
                print(one_line(status))
        elif command in HINT_ACTIONS:
            print(one_line(backend.hint_action(name, command)))
        elif command == "preview":
            return self._preview(name)
        elif command == "send":
            print(one_line(backend.stdin(name, " ".join(words) + "\n")))
        elif command == "status":
            for status in backend.statuses():
                print("\n".join(describe(status)))
        elif command == "log":
            count = words[0] if words else "50"
            if not count.isdigit():
                raise ClientError(f"log takes a number of lines, not {count!r}")
            if errors:
                self._print_errors(backend, name, int(count))
                return None
            for line in backend.log(name, int(count)):
                print(line["text"])
        return None

    def _print_errors(self, backend: Backend, name: str, count: int) -> None:
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
    def _print_traceback(backend: Backend, name: str, seq: int) -> None:
        for line in traceback_lines(backend.log(name, TRACEBACK_LINES, since=seq - 1), seq):
            print("    " + line["text"])
