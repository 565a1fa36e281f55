"""The jupyter_server extension: configuration traits, wiring, and the server's start and stop."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Float, Int, Unicode, validate

from .django import DjangoProject, parse_address
from .handlers import SharedEncodings, handlers
from .manager import ProcessManager
from .preview import preview_handlers, preview_path

DEFAULT_PROCESS = "django"
# Output this recent counts as activity, so an idle-culled server spares a Django in use.
ACTIVITY_WINDOW = 60.0
LOOPBACK_HOSTS = {"", "0.0.0.0", "::", "localhost"}


def known_public_origins(configured: str) -> list[str]:
    """Origins browsers use for this server: configured, or JupyterHub's public URL."""
    origins = [configured.rstrip("/")] if configured else []
    for variable in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_PUBLIC_HUB_URL"):
        url = urlsplit(os.environ.get(variable, ""))
        if url.scheme and url.netloc:
            origins.append(f"{url.scheme}://{url.netloc}")
    return list(dict.fromkeys(origins))


class Fujita(ExtensionApp):
    """Supervises `manage.py runserver` inside the Jupyter server."""

    name = "jupyter_fujita"
    load_other_extensions = True

    manage_py = Unicode(
        "",
        help="Path to the project's manage.py. Default: found under the server's root dir "
        "(the root itself, then one folder down).",
    ).tag(config=True)
    address = Unicode("127.0.0.1:8000", help="host:port that runserver binds.").tag(config=True)
    python = Unicode(sys.executable, help="The Python that runs manage.py.").tag(config=True)
    autostart = Bool(False, help="Start runserver when the Jupyter server starts.").tag(config=True)
    cache_lines = Int(10_000, help="Log lines kept for replay.").tag(config=True)
    cache_bytes = Int(16 * 1024 * 1024, help="Bytes of log text kept for replay.").tag(config=True)
    max_line_bytes = Int(64 * 1024, help="Longer lines are cut and marked.").tag(config=True)
    stop_timeout = Float(5.0, help="Seconds per stop step (SIGINT, SIGTERM, SIGKILL).").tag(
        config=True
    )
    preview = Bool(
        True,
        help="Serve the site through Jupyter at {base_url}fujita/site/django/, starting Django "
        "with settings that make it work under that prefix (the user's files untouched).",
    ).tag(config=True)
    public_origin = Unicode(
        "",
        help="Where browsers reach Jupyter, e.g. https://hub.example.com, when it is not what "
        "they send (learned otherwise from the start request and JupyterHub's environment).",
    ).tag(config=True)
    start_wait = Float(
        30.0,
        help="How long POST start waits for Django to be up before it answers; still starting "
        "after that long, the status says so and hints at a restart.",
    ).tag(config=True)

    @validate("address")
    def _valid_address(self, proposal: dict) -> str:
        parse_address(proposal["value"])  # ValueError names the bad value
        return proposal["value"]

    @validate("cache_lines", "cache_bytes", "max_line_bytes")
    def _positive(self, proposal: dict) -> int:
        if proposal["value"] < 1:
            raise ValueError(f"Fujita.{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    def initialize_settings(self) -> None:
        root = Path(self.serverapp.root_dir).expanduser().resolve()
        manage_py = Path(self.manage_py).expanduser() if self.manage_py else None
        if manage_py is not None and not manage_py.is_absolute():
            manage_py = root / manage_py
        self.manager = ProcessManager(Path(self.serverapp.runtime_dir) / "jupyter_fujita")
        project = DjangoProject(root, self.address, self.python, manage_py)
        if self.preview:
            project.preview_prefix = preview_path(self.serverapp.base_url, DEFAULT_PROCESS)
            project.public_origins = known_public_origins(self.public_origin)
        self.manager.add(
            DEFAULT_PROCESS,
            project,
            cache_lines=self.cache_lines,
            cache_bytes=self.cache_bytes,
            max_line_bytes=self.max_line_bytes,
            stop_timeout=self.stop_timeout,
            start_wait=self.start_wait,
        )
        self.settings.update(
            fujita_manager=self.manager,
            fujita_start_wait=self.start_wait,
            fujita_encodings=SharedEncodings(),
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(handlers())
        if self.preview:
            self.handlers.extend(preview_handlers())

    async def _start_jupyter_server_extension(self, serverapp) -> None:  # type: ignore[override]
        self._export_environment()
        if self.autostart:
            supervisor = self.manager.get(DEFAULT_PROCESS)
            try:
                await supervisor.start()
            except Exception as error:  # a broken project must not stop the server
                self.log.error("jupyter_fujita: autostart failed: %s", error)
        self._stop_on_sigint()

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

    async def stop_extension(self) -> None:
        """The Jupyter server is shutting down: stop every child, free every port."""
        await self.manager.shutdown()
        if getattr(self, "_sigint_installed", False):
            # a process that outlives this server (a test runner, say) gets Python's default back
            if signal.getsignal(signal.SIGINT) == self.serverapp._signal_stop:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self._sigint_installed = False
