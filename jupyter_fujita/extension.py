"""The jupyter_server extension: configuration traits, wiring, and the server's start and stop."""

from __future__ import annotations

import gc
import hashlib
import ipaddress
import os
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_core.paths import jupyter_data_dir, jupyter_path
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.serverapp import ServerApp
from tornado.ioloop import PeriodicCallback
from traitlets import Bool, Dict, Enum, Float, Int, List, Unicode, Union, validate

from .project import MANAGE_COMMAND, DjangoProject, parse_address
from .handlers import SharedEncodings, handlers
from .manager import ProcessManager
from .errors import NotConfigured
from .processes import RUNSERVER_PLUS, ConfigError, Program, load_specs
from .preview import ReachProbe, preview_handlers, preview_path
from .preview_origin import PreviewOrigin
from .recovery import Recovery
from .serverlog import StateLogger
from .wire import request_of

DEFAULT_PROCESS = "django"
# Output this recent counts as activity, so an idle-culled server spares a Django in use.
ACTIVITY_WINDOW = 60.0
LOOPBACK_HOSTS = {"", "0.0.0.0", "::", "localhost"}
ACTIVITY_POLL_MS = 10_000  # how often requests seen in Django's log are counted as activity


def default_log_dir(root: Path) -> Path:
    """A folder per server root in Jupyter's data dir: two projects never share a log."""
    digest = hashlib.sha256(str(root).encode()).hexdigest()[:12]
    return Path(jupyter_data_dir()) / "jupyter_fujita" / "logs" / f"{root.name or 'root'}-{digest}"


def listens_beyond_loopback(ip: str) -> bool:
    """Jupyter's `ip` reaches other machines ("" and 0.0.0.0 are every interface)."""
    if ip == "localhost":
        return False
    try:
        return not ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return True  # a host name: someone else's browser may use it


def labextension_installed(data_dirs: list[str]) -> bool:
    """The JupyterLab sidebar is installed in one of Jupyter's data dirs (it is not when the
    package was installed without Node.js: see hatch_build.py)."""
    return any(
        (Path(folder) / "labextensions" / "jupyter-fujita" / "package.json").is_file()
        for folder in data_dirs
    )


def preview_mode(setting: bool | str, ip: str, environ: dict[str, str]) -> str:
    """ "on" (the faces link the preview first), "offered" (they link the direct address and
    offer the preview when the page cannot reach it) or "off" (no route at all)."""
    if setting is True or setting is False:
        return "on" if setting else "off"
    under_hub = "JUPYTERHUB_SERVICE_PREFIX" in environ or "JUPYTERHUB_API_TOKEN" in environ
    return "on" if under_hub or listens_beyond_loopback(ip) else "offered"


class Fujita(ExtensionApp):
    """Supervises `manage.py runserver` inside the Jupyter server."""

    name = "jupyter_fujita"
    load_other_extensions = True
    # None only until the server links the extension, which is before any method here runs
    serverapp: ServerApp

    manage_py = Unicode(
        "",
        help="Path to the project's manage.py. Default: found under the server's root dir "
        "(the root itself, then one folder down).",
    ).tag(config=True)
    address = Unicode("127.0.0.1:8000", help="host:port that runserver binds.").tag(config=True)
    python = Unicode(sys.executable, help="The Python that runs manage.py.").tag(config=True)
    autostart = Bool(False, help="Start runserver when the Jupyter server starts.").tag(config=True)
    autorestart = Bool(
        False,
        help="Start runserver again after a crash, waiting 1, 2, 4 ... 60 s, and giving up "
        "after autorestart_limit crashes in a row.",
    ).tag(config=True)
    autorestart_limit = Int(5, help="Crashes in a row after which autorestart gives up.").tag(
        config=True
    )
    processes = Dict(
        help="The project's other processes, beside runserver (which is `django`): name -> "
        "{command (a shell string or an argv list), cwd, env, ready: {log: regex, port: int}, "
        "depends_on: [names], autostart, autorestart}. A Procfile.dev or Procfile beside "
        "manage.py adds its entries (its runserver entry is `django`); these win over them.",
    ).tag(config=True)
    cache_lines = Int(10_000, help="Log lines kept for replay.").tag(config=True)
    cache_bytes = Int(16 * 1024 * 1024, help="Bytes of log text kept for replay.").tag(config=True)
    max_line_bytes = Int(64 * 1024, help="Longer lines are cut and marked.").tag(config=True)
    log_dir = Unicode(
        "",
        help="Where every line of every run is kept (a folder per process). Default: "
        "jupyter_fujita/logs/<a name for the server's root dir> in Jupyter's data dir.",
    ).tag(config=True)
    log_bytes = Int(
        256 * 1024 * 1024, help="Bytes of log kept on disk per process; the oldest go first."
    ).tag(config=True)
    stop_timeout = Float(5.0, help="Seconds per stop step (SIGINT, SIGTERM, SIGKILL).").tag(
        config=True
    )
    preview = Union(
        [Bool(), Enum(["auto"])],
        default_value="auto",
        help="Serve the site through Jupyter at {base_url}fujita/site/django/ (Django itself "
        "runs unchanged). 'auto': linked first under JupyterHub or when Jupyter listens beyond "
        "loopback, else offered when the browser cannot reach Django's own address. "
        "True: always linked first. False: no preview route.",
    ).tag(config=True)
    preview_origin = Unicode(
        "",
        help="Serve the preview on an origin of its own, so that a previewed page's scripts "
        "cannot use the Jupyter session: a port (on the host the browser uses for Jupyter) or "
        "scheme://host:port. The Jupyter server listens there too, for the preview alone.",
    ).tag(config=True)
    freeze_startup_objects = Bool(
        True,
        help="Once the server has started, leave the objects it has built out of the cycle "
        "collector's full collections (gc.freeze): these walk the whole heap on the event "
        "loop, about 200,000 objects of a Jupyter server, 40 ms and more on a busy machine, "
        "while the objects built at start-up live as long as the server anyway.",
    ).tag(config=True)
    start_wait = Float(
        30.0,
        help="How long POST start waits for Django to be up before it answers; still starting "
        "after that long, the status says so and hints at a restart.",
    ).tag(config=True)

    runserver_command = Unicode(
        "runserver",
        help="The manage.py command that serves: runserver, or runserver_plus "
        "(django-extensions: Werkzeug's debugger in the browser). Channels' Daphne needs "
        "nothing here: listed in INSTALLED_APPS, it is runserver.",
    ).tag(config=True)
    runserver_args = List(
        Unicode(),
        help="More arguments for runserver, after the address (e.g. --nothreading, --nostatic). "
        "On the command line, one per flag: --Fujita.runserver_args=--nothreading "
        "--Fujita.runserver_args=--nostatic.",
    ).tag(config=True)
    env = Dict(
        value_trait=Unicode(),
        help="Environment variables for runserver (over the server's and the .env file's). "
        "On the command line, one per flag: --Fujita.env=DEBUG=1 --Fujita.env=KEY=VALUE.",
    ).tag(config=True)
    env_file = Unicode(
        ".env",
        help="A .env file whose variables runserver gets, read at each start when it exists; "
        "relative to manage.py's folder. '' reads none.",
    ).tag(config=True)
    # Not `settings`: ExtensionApp.settings is the web app's settings dict.
    settings_module = Unicode(
        "",
        help="DJANGO_SETTINGS_MODULE for runserver (e.g. mysite.settings_dev). "
        "Default: what the environment, the .env file or manage.py says.",
    ).tag(config=True)

    @validate("address")
    def _valid_address(self, proposal: dict[str, Any]) -> str:
        address: str = proposal["value"]
        parse_address(address)  # ValueError names the bad value
        return address

    @validate("runserver_command")
    def _valid_command(self, proposal: dict[str, Any]) -> str:
        command: str = proposal["value"]
        if not MANAGE_COMMAND.match(command):
            raise ValueError(
                f"Fujita.runserver_command must name a manage.py command, not {command!r}"
            )
        return command

    @validate("cache_lines", "cache_bytes", "max_line_bytes", "log_bytes")
    def _positive(self, proposal: dict[str, Any]) -> int:
        value: int = proposal["value"]
        if value < 1:
            raise ValueError(f"Fujita.{proposal['trait'].name} must be at least 1")
        return value

    def initialize_settings(self) -> None:
        root = Path(self.serverapp.root_dir).expanduser().resolve()
        manage_py = Path(self.manage_py).expanduser() if self.manage_py else None
        if manage_py is not None and not manage_py.is_absolute():
            manage_py = root / manage_py
        self.manager = ProcessManager(
            Path(self.serverapp.runtime_dir) / "jupyter_fujita",
            log_dir=Path(self.log_dir).expanduser() if self.log_dir else default_log_dir(root),
            log_bytes=self.log_bytes,
        )
        self.manager.listeners.append(StateLogger(self.log))
        project = DjangoProject(root, self.address, self.python, manage_py)
        project.runserver_command = self.runserver_command
        project.runserver_args = list(self.runserver_args)
        project.extra_env = {str(key): str(value) for key, value in self.env.items()}
        project.env_file = self.env_file
        project.env_file_required = self.env_file not in ("", ".env")
        project.settings = self.settings_module
        project.preview_mode = preview_mode(self.preview, self.serverapp.ip, dict(os.environ))
        if project.preview_mode != "off":
            project.preview_prefix = preview_path(self.serverapp.base_url, DEFAULT_PROCESS)
        self.manager.add(
            DEFAULT_PROCESS,
            project,
            cache_lines=self.cache_lines,
            cache_bytes=self.cache_bytes,
            max_line_bytes=self.max_line_bytes,
            stop_timeout=self.stop_timeout,
            start_wait=self.start_wait,
        )
        self._add_programs(project)
        self.preview_origin_server = None
        if self.preview_origin and project.preview_mode != "off":
            self.preview_origin_server = PreviewOrigin(
                self.preview_origin, DEFAULT_PROCESS, self.manager, lambda: self.serverapp.port
            )
        self.settings.update(
            fujita_preview_origin=self.preview_origin_server,
            fujita_manager=self.manager,
            fujita_start_wait=self.start_wait,
            fujita_encodings=SharedEncodings(),
        )

    def _add_programs(self, project: DjangoProject) -> None:
        """The processes beside runserver, from Fujita.processes and the Procfile; a bad
        configuration is logged and leaves runserver alone."""
        try:
            folder = project.cwd()
        except NotConfigured:
            folder = project.root  # no manage.py (yet): configured processes still run
        try:
            specs, procfile_django = load_specs(self.processes, folder)
        except (ConfigError, OSError) as error:
            self.log.error("jupyter_fujita: processes beside runserver not started: %s", error)
            return
        if procfile_django is not None:
            # Its address and arguments stay Fujita's (the port is the supervisor's to pick);
            # only which runserver it is carries over.
            project.source = procfile_django.source
            if RUNSERVER_PLUS in procfile_django.command and self.runserver_command == "runserver":
                project.runserver_command = RUNSERVER_PLUS
        for name, spec in specs.items():
            self.manager.add(
                name,
                Program(spec, project.env, self.python),
                cache_lines=self.cache_lines,
                cache_bytes=self.cache_bytes,
                max_line_bytes=self.max_line_bytes,
                stop_timeout=self.stop_timeout,
                start_wait=self.start_wait,
            )

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())
        if self.preview is not False:
            self.handlers.extend(preview_handlers())

    async def _start_jupyter_server_extension(self, serverapp: ServerApp) -> None:
        self._export_environment()
        if not labextension_installed(jupyter_path()):
            self.log.warning(
                "jupyter_fujita: the JupyterLab sidebar is not installed (the package was "
                "installed without Node.js); the API and %%fujita work. For the sidebar, install "
                "Node.js >= 20 and install jupyter_fujita again."
            )
        if self.preview_origin_server is not None:
            self.preview_origin_server.listen(self.serverapp.ip)
        self.reach_probe = None
        project = self.manager.get(DEFAULT_PROCESS).project
        if project.preview_mode == "offered":
            self.reach_probe = ReachProbe()
            project.reach_probe = self.reach_probe.start()
        self._activity = PeriodicCallback(self._note_site_activity, ACTIVITY_POLL_MS)
        self._activity.start()
        autorestart = {DEFAULT_PROCESS} if self.autorestart else set()
        autorestart |= {
            s.name
            for s in self.manager
            if isinstance(s.project, Program) and s.project.spec.autorestart
        }
        self.recovery = Recovery(self.manager, autorestart, self.autorestart_limit)
        self.recovery.start()
        autostart = [DEFAULT_PROCESS] if self.autostart else []
        autostart += [
            s.name
            for s in self.manager
            if isinstance(s.project, Program) and s.project.spec.autostart
        ]
        for name in autostart:
            try:
                await self.manager.start(name)
            except Exception as error:  # a broken project must not stop the server
                self.log.error("jupyter_fujita: autostart of %s failed: %s", name, error)
        self._stop_on_sigint()
        if self.freeze_startup_objects:
            freeze_startup_objects()

    def _stop_on_sigint(self) -> None:
        """SIGINT stops the server the way SIGTERM does, extensions' stop included.

        jupyter_server handles SIGINT only when stdin is a terminal (to ask for confirmation);
        otherwise SIGINT raises KeyboardInterrupt out of the event loop and the server exits
        without stopping its extensions, leaving runserver to the parent-death signal alone.
        JupyterHub stops single-user servers exactly that way. Only Python's own default is
        replaced, so a handler someone else installed stays."""
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        signal.signal(signal.SIGINT, self.serverapp._signal_stop)
        self._sigint_installed = True

    def _export_environment(self) -> None:
        """Kernels started by this server inherit where to find the API, and its token."""
        ip = self.serverapp.ip
        local = "127.0.0.1" if ip in LOOPBACK_HOSTS else ip
        url = self.serverapp._get_urlparts(path=self.serverapp.base_url, ip=local).geturl()
        os.environ["JUPYTER_FUJITA_URL"] = url.rstrip("/") + "/fujita/api/"
        os.environ["JUPYTER_FUJITA_TOKEN"] = self.serverapp.identity_provider.token or ""

    def current_activity(self) -> bool:
        now = time.time()
        for supervisor in self.manager:
            if supervisor.state in ("starting", "stopping", "reloading"):
                return True
            newest = supervisor.cache.tail(1)
            if newest and now - newest[0].time < ACTIVITY_WINDOW:
                return True
        return False

    def _note_site_activity(self) -> None:
        """Requests to Django's own address count as Jupyter activity, as the preview's do:
        JupyterHub's idle culler reads `last_activity`, where every `*_last_activity` setting
        counts."""
        newest = max(
            (
                line.time
                for supervisor in self.manager
                for line in supervisor.cache.tail(50)
                if request_of(line) is not None
            ),
            default=None,
        )
        if newest is None:
            return
        seen = datetime.fromtimestamp(newest, timezone.utc)
        settings = self.serverapp.web_app.settings  # the live dict, not the extension's copy
        known = settings.get("fujita_last_activity")
        if known is None or seen > known:
            settings["fujita_last_activity"] = seen

    async def stop_extension(self) -> None:
        """The Jupyter server is shutting down: stop every child, free every port."""
        activity = getattr(self, "_activity", None)
        if activity is not None:
            activity.stop()
        recovery = getattr(self, "recovery", None)
        if recovery is not None:
            await recovery.stop()  # first: nothing is started again while everything stops
        if self.preview_origin_server is not None:
            self.preview_origin_server.stop()
        reach_probe = getattr(self, "reach_probe", None)
        if reach_probe is not None:
            reach_probe.stop()
        await self.manager.shutdown()
        if getattr(self, "_sigint_installed", False):
            # a process that outlives this server (a test runner, say) gets Python's default back
            if signal.getsignal(signal.SIGINT) == self.serverapp._signal_stop:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self._sigint_installed = False


def freeze_startup_objects() -> None:
    """gc.freeze once a process: what start-up left as garbage is collected first; a process
    where something froze objects already is left as it is."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
