"""The Django project that runs: finding manage.py, the runserver command, its environment and
address.

What runs is decided here; what runserver prints is read in `runserver_output`.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .dotenv import read_env_file
from .errors import NotConfigured

# Folders never searched for manage.py (nor for settings and templates): they hold installed
# code, not the user's project.
SKIP_DIRS = {"node_modules", "site-packages", "__pycache__", "venv", "env"}
# What a manage.py made by startproject says its settings are.
SETTINGS_DEFAULT = re.compile(r"""DJANGO_SETTINGS_MODULE['"]\s*,\s*['"](?P<module>[\w.]+)['"]""")


def find_manage_py(root: Path) -> Path | None:
    """manage.py in the root itself, else in one folder directly below it (first by name)."""
    candidate = root / "manage.py"
    if candidate.is_file():
        return candidate
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:
        return None
    for folder in folders:
        if folder.name.startswith(".") or folder.name in SKIP_DIRS:
            continue
        candidate = folder / "manage.py"
        if candidate.is_file():
            return candidate
    return None


ADDRESS_MAX_CHARS = 256
MANAGE_COMMAND = re.compile(r"^[a-z_][a-z0-9_]*$")  # a manage.py command's name (runserver_plus)
# A host name or an IP literal (an IPv6 one with its scope): ASCII only, since the address ends
# up in a command line, a URL and JSON, and runserver takes nothing else.
_HOST = re.compile(r"[A-Za-z0-9._%:-]+", re.ASCII)
_PORT = re.compile(r"[0-9]{1,5}", re.ASCII)
# Where to connect, on this machine, to a server bound to every interface.
LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def parse_address(address: str) -> tuple[str, int]:
    """'127.0.0.1:8000', '8000' or '[::1]:8000' -> (host, port); ValueError names what is wrong."""
    if len(address) > ADDRESS_MAX_CHARS:
        raise ValueError(f"an address has at most {ADDRESS_MAX_CHARS} characters")
    host, sep, port = address.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", address
    host = host.strip("[]") or "127.0.0.1"
    if not _PORT.fullmatch(port) or not 0 <= int(port) < 65536:
        raise ValueError(f"not a host:port address: {address!r}")
    if not _HOST.fullmatch(host):
        raise ValueError(f"not a host name or IP address: {host!r}")
    return host, int(port)


# Never in runserver's environment: runserver copies its environment into every request's
# META, so a view (or a debug page) could read them. Kernels get the API's URL and token
# from the server's environment, runserver does not.
JUPYTER_SECRETS = ("JUPYTERHUB_", "JPY_", "JUPYTER_FUJITA_", "JUPYTER_TOKEN", "JUPYTER_PASSWORD")


def free_port(host: str) -> int:
    """A port nobody listens on now, for an address configured with port 0."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(slots=True)
class DjangoProject:
    """What runs: a manage.py (configured or found under root), a Python and an address.

    Port 0 in `address` picks a free port at each start (`pick_port`). `preview_prefix` is
    where the Jupyter server previews the site (None: no preview route) and `preview_mode`
    whether the faces link it first ("on") or only offer it ("offered"); neither changes
    what runserver runs.

    What the user adds: `runserver_command` (runserver_plus, say), then `runserver_args`
    after the address; the environment is the server's (less Jupyter's secrets), then
    `env_file` (relative to manage.py's folder, read at each start when present; "" for none),
    then `extra_env`, then `settings` as DJANGO_SETTINGS_MODULE.
    """

    root: Path
    address: str = "127.0.0.1:8000"
    python: str = sys.executable
    manage_py: Path | None = None  # None: look under root at each start
    extra_env: dict[str, str] = field(default_factory=dict)
    preview_prefix: str | None = None
    preview_mode: str = "off"
    bound_address: str | None = None  # this run's address when `address` has port 0
    reach_probe: str | None = None  # a URL beside Django's that says whether a browser is local
    runserver_command: str = "runserver"  # or runserver_plus (django-extensions)
    source: str = "Fujita"  # where its command comes from: Fujita's settings, or a Procfile
    runserver_args: list[str] = field(default_factory=list)
    env_file: str = ".env"
    env_file_required: bool = False  # configured by the user: a missing file is an error
    settings: str = ""
    # (manage.py as shown, settings module), found again at each start: status() reads it often
    _identity: tuple[str | None, str | None] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def locate(self) -> Path:
        manage_py = self.manage_py or find_manage_py(self.root)
        if manage_py is None:
            raise NotConfigured(
                f"No manage.py found in {self.root} or one folder below it: "
                "set Fujita.manage_py to its path."
            )
        if not manage_py.is_file():
            raise NotConfigured(f"Fujita.manage_py is {manage_py}, which is not a file.")
        return manage_py

    def command(self) -> list[str]:
        self._identity = None  # a start: look again at which project and settings run
        self.env_file_path(strict=True)  # a configured .env that is not there stops the start
        address = self.bound_address or self.address
        return [
            self.python,
            self.locate().name,
            self.runserver_command,
            address,
            *self.runserver_args,
        ]

    def cwd(self) -> Path:
        return self.locate().parent

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(JUPYTER_SECRETS)}
        env.update(self.env_file_values())
        env.update(self.extra_env)
        if self.settings:
            env["DJANGO_SETTINGS_MODULE"] = self.settings
        env["PYTHONUNBUFFERED"] = "1"  # lines arrive as they are written, not per 8 KiB
        return env

    def env_file_path(self, strict: bool = False) -> Path | None:
        """The .env file that applies, when there is one. `strict`: a file the user configured
        that is not there raises NotConfigured (the default `.env` may be absent)."""
        if not self.env_file:
            return None
        path = Path(self.env_file).expanduser()
        if not path.is_absolute():
            try:
                path = self.cwd() / path
            except NotConfigured:
                return None
        if path.is_file():
            return path
        if strict and self.env_file_required:
            raise NotConfigured(f"Fujita.env_file is {path}, which is not a file.")
        return None

    def env_file_values(self) -> dict[str, str]:
        path = self.env_file_path()
        if path is None:
            return {}
        try:
            values, _skipped = read_env_file(path)
        except OSError:
            return {}
        return values

    def identity(self) -> tuple[str | None, str | None]:
        """(manage.py relative to the root, or absolute outside it; the settings module runserver
        gets, from the environment or else manage.py's default), None where unknown."""
        if self._identity is None:
            try:
                manage_py = self.locate()
            except NotConfigured:
                self._identity = (None, None)
                return self._identity
            try:
                shown = str(manage_py.resolve().relative_to(self.root.resolve()))
            except ValueError:
                shown = str(manage_py)
            settings = self.env().get("DJANGO_SETTINGS_MODULE")
            if not settings:
                try:
                    found = SETTINGS_DEFAULT.search(manage_py.read_text(errors="replace"))
                except OSError:
                    found = None
                settings = found["module"] if found else None
            self._identity = (shown, settings)
        return self._identity

    def pick_port(self) -> None:
        """Before each start: a free port for an address with port 0, the address otherwise."""
        host, port = parse_address(self.address)
        self.bound_address = None
        if port == 0:
            bracketed = f"[{host}]" if ":" in host else host
            self.bound_address = f"{bracketed}:{free_port(host)}"

    @property
    def host_port(self) -> tuple[str, int]:
        return parse_address(self.bound_address or self.address)
