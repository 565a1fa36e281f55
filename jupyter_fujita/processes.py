"""The other processes of a Django project beside runserver: a Celery worker, a Tailwind or Vite
watcher, `manage.py qcluster`, a mail catcher.

They come from `Fujita.processes` (name -> {command, cwd, env, ready: {log, port}, depends_on,
autostart, autorestart}) and from a `Procfile` or `Procfile.dev` beside manage.py (the format
honcho, foreman and overmind read: `name: command` a line). A Procfile entry that runs
`manage.py runserver` is the `django` process, which keeps all its Django knowledge; the others
become `Program`s, supervised the same way (group stop, log, states) with readiness read from
a log pattern or a port. This module reads and checks configuration, and describes what runs
for a program (`Program`, `ReadyWatcher`); the supervisor runs it.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .runserver_output import Event, Ready
from .wire import Line

PROCFILES = ("Procfile.dev", "Procfile")  # the development one first, as overmind does
PROCFILE_LINE = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)\s*:\s*(?P<command>.+)$")
NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ALL = "all"  # processes/all/start|stop|restart: every process; no process may take the name
RUNSERVER = re.compile(r"(?:^|\s)(?:\S*/)?manage\.py\s+(?:runserver|runserver_plus)\b")
RUNSERVER_PLUS = "runserver_plus"
SPEC_KEYS = {"command", "cwd", "env", "ready", "depends_on", "autostart", "autorestart"}
DJANGO = "django"
RESERVED = (DJANGO, ALL)


class ConfigError(ValueError):
    """A process configuration that cannot be used; the message names the process and key."""


@dataclass(slots=True)
class ProcessSpec:
    name: str
    command: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    ready_log: re.Pattern[str] | None = None
    ready_port: int | None = None
    depends_on: list[str] = field(default_factory=list)
    autostart: bool = False
    autorestart: bool = False
    source: str = "Fujita.processes"  # or "Procfile", "Procfile.dev"


def read_procfile(path: Path) -> dict[str, str]:
    """`name: command` entries of a Procfile, in order; comments and blank lines skipped."""
    entries: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(errors="replace").splitlines(), 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        match = PROCFILE_LINE.match(text)
        if match is None:
            raise ConfigError(f"{path.name} line {number}: expected 'name: command', not {raw!r}")
        entries[match["name"]] = match["command"].strip()
    return entries


def find_procfile(folder: Path) -> Path | None:
    return next((folder / name for name in PROCFILES if (folder / name).is_file()), None)


def runs_runserver(command: str) -> bool:
    return RUNSERVER.search(command) is not None


@dataclass(slots=True)
class RunserverEntry:
    """A Procfile's entry that runs runserver: it is the `django` process."""

    command: str
    source: str  # Procfile or Procfile.dev


def load_specs(
    configured: dict[str, Any], project_dir: Path | None
) -> tuple[dict[str, ProcessSpec], RunserverEntry | None]:
    """The processes beside `django`, and the Procfile entry that is `django`'s (or None).

    Configured entries win over a Procfile's of the same name."""
    specs: dict[str, ProcessSpec] = {}
    django_entry: RunserverEntry | None = None
    procfile = find_procfile(project_dir) if project_dir is not None else None
    if procfile is not None:
        for name, command in read_procfile(procfile).items():
            if runs_runserver(command):
                django_entry = RunserverEntry(command, procfile.name)
                continue
            if name in RESERVED:
                raise ConfigError(f"{procfile.name}: {name!r} is a name jupyter_fujita keeps")
            specs[name] = ProcessSpec(
                name, shell_command(command), procfile.parent, source=procfile.name
            )
    for name, options in configured.items():
        specs[name] = spec_from_config(name, options, project_dir)
    for spec in specs.values():
        for dependency in spec.depends_on:
            if dependency != DJANGO and dependency not in specs:
                raise ConfigError(f"{spec.name}: depends_on names {dependency!r}, no such process")
    check_no_cycle(specs)
    return specs, django_entry


def shell_command(command: str) -> list[str]:
    """A Procfile command runs in a shell, as honcho runs it ($PORT, pipes, `&&`)."""
    return ["/bin/sh", "-c", command]


def spec_from_config(name: str, options: Any, project_dir: Path | None) -> ProcessSpec:
    if not NAME.match(name) or name in RESERVED:
        raise ConfigError(
            f"Fujita.processes: {name!r} is not a usable name (letters, digits, - and _; "
            f"'{DJANGO}' is runserver's, '{ALL}' means every process)"
        )
    if not isinstance(options, dict):
        raise ConfigError(
            f"Fujita.processes[{name!r}] must be a dict, not {type(options).__name__}"
        )
    unknown = set(options) - SPEC_KEYS
    if unknown:
        raise ConfigError(f"Fujita.processes[{name!r}]: unknown key(s) {sorted(unknown)}")
    command = options.get("command")
    if isinstance(command, str) and command.strip():
        argv = shell_command(command)
    elif isinstance(command, list) and command and all(isinstance(a, str) for a in command):
        argv = list(command)
    else:
        raise ConfigError(f"Fujita.processes[{name!r}]: command must be a string or a list")
    base = project_dir or Path.cwd()
    cwd = Path(os.path.expanduser(str(options.get("cwd", base))))
    cwd = cwd if cwd.is_absolute() else base / cwd
    env = options.get("env", {})
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise ConfigError(f"Fujita.processes[{name!r}]: env must map names to strings")
    ready = options.get("ready", {})
    if not isinstance(ready, dict) or set(ready) - {"log", "port"}:
        raise ConfigError(f"Fujita.processes[{name!r}]: ready is {{'log': regex, 'port': int}}")
    try:
        ready_log = re.compile(ready["log"]) if ready.get("log") else None
    except re.error as error:
        raise ConfigError(f"Fujita.processes[{name!r}]: ready.log: {error}") from None
    port = ready.get("port")
    if port is not None and (not isinstance(port, int) or not 0 < port < 65536):
        raise ConfigError(f"Fujita.processes[{name!r}]: ready.port must be a port number")
    depends = options.get("depends_on", [])
    if isinstance(depends, str):
        depends = [depends]
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise ConfigError(f"Fujita.processes[{name!r}]: depends_on must be a list of names")
    return ProcessSpec(
        name,
        argv,
        cwd,
        dict(env),
        ready_log,
        port,
        list(depends),
        bool(options.get("autostart", False)),
        bool(options.get("autorestart", False)),
    )


def check_no_cycle(specs: dict[str, ProcessSpec]) -> None:
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in done or name not in specs:
            return
        if name in visiting:
            raise ConfigError(f"depends_on goes round in a circle: {' -> '.join(path + [name])}")
        visiting.add(name)
        for dependency in specs[name].depends_on:
            visit(dependency, path + [name])
        visiting.discard(name)
        done.add(name)

    for name in specs:
        visit(name, [])


def start_order(depends_on: Mapping[str, list[str]], *names: str) -> list[str]:
    """`names` and what they depend on, dependencies first (django included when named), each
    once. `depends_on` maps a name to the names it depends on (checked to hold no circle)."""
    order: list[str] = []

    def visit(current: str) -> None:
        if current in order:
            return
        for dependency in depends_on.get(current, []):
            visit(dependency)
        order.append(current)

    for name in names:
        visit(name)
    return order


@dataclass(slots=True)
class Program:
    """What runs for a process that is not runserver: its command, folder and environment;
    readiness from `ready_port` (the port accepts connections) and/or `ready_log`.

    It answers what the supervisor asks of a DjangoProject, where that applies: no address to
    move, no site to preview, no settings of its own."""

    spec: ProcessSpec
    # The project's environment (Jupyter's secrets left out, .env, Fujita.env, the settings
    # module): a worker needs the same settings as runserver.
    base_env: Callable[[], dict[str, str]]
    # Its folder goes first on PATH, so that `python manage.py ...` in a Procfile is the
    # Python that runs Django, whichever environment started Jupyter.
    python: str = sys.executable
    preview_prefix = None
    preview_mode = "off"
    reach_probe = None

    @property
    def root(self) -> Path:
        return self.spec.cwd

    @property
    def source(self) -> str:
        return self.spec.source

    def command(self) -> list[str]:
        return list(self.spec.command)

    def cwd(self) -> Path:
        return self.spec.cwd

    def env(self) -> dict[str, str]:
        env = self.base_env()
        env["PATH"] = os.pathsep.join(
            filter(None, [os.path.dirname(self.python), env.get("PATH", "")])
        )
        env.update(self.spec.env)
        return env

    def pick_port(self) -> None:
        """Nothing to pick: a program's port is its own."""

    @property
    def host_port(self) -> tuple[str, int] | None:
        port = self.spec.ready_port
        return ("127.0.0.1", port) if port else None

    @property
    def ready_url(self) -> str | None:
        """Where readiness is awaited: the ready port, or nowhere (ready when it says so)."""
        port = self.spec.ready_port
        return f"http://127.0.0.1:{port}/" if port else None

    def identity(self) -> tuple[str | None, str | None]:
        return None, None

    def describe(self) -> str:
        return shlex.join(self.spec.command)


class ReadyWatcher:
    """Reads a program's lines for its readiness pattern, and nothing else: it is not Django.
    Answers as RunserverWatcher does, so the supervisor reads both alike."""

    def __init__(self, program: Program) -> None:
        self.pattern = program.spec.ready_log
        self.url = program.ready_url
        self.ready = False
        self.last_error = None

    def reset(self) -> None:
        self.ready = False

    def at_spawn(self) -> list[Event]:
        """With no pattern to wait for, readiness starts at once (the port, or nothing)."""
        if self.pattern is None:
            self.ready = True
            return [Ready(self.url)]
        return []

    def feed_batch(
        self, lines: Sequence[Line], partial: bool = False, texts: list[str] | None = None
    ) -> list[Event]:
        """Ready once, in the batch in which the pattern is first seen."""
        if self.ready or self.pattern is None:
            return []
        if any(map(self.pattern.search, [line.text for line in lines] if texts is None else texts)):
            self.ready = True
            return [Ready(self.url)]
        return []
