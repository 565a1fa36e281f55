"""The servers under test, each a real process of its own on 127.0.0.1 and a free port.

- `JupyterServer`: `python -m jupyter_server` with our extension, in a temp dir of its own;
- `TermPeer`: terminado's TermSocket + NamedTermManager (bench/termpeer.py);
- `SeedPeer`: the seed design's reference (bench/seed.py).

Each is started in a session of its own; `stop()` asks it to end (SIGTERM), then kills its group,
then any descendant still there, by pid, and says which it had to kill.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO

import psutil
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from .project import make_project

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent
LOG_WS = "/fujita/api/processes/django/log/ws"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    name = "server"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.project = folder / "project"
        self.manage_py = make_project(self.project)
        self.port = free_port()
        self.django_port = free_port()
        self.proc: subprocess.Popen | None = None
        self.ps: psutil.Process | None = None
        self._log = None
        self._copier: threading.Thread | None = None
        self._seen: dict[int, psutil.Process] = {}

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    @property
    def headers(self) -> dict[str, str]:
        return {}

    def child_command(self) -> list[str]:
        return [PYTHON, "manage.py", "runserver", f"127.0.0.1:{self.django_port}"]

    def start(self) -> None:
        self._log = open(self.folder / f"{self.name}.log", "wb")
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env(),
            cwd=self.folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        # Its output into a pipe, as a terminal or JupyterHub's spawner gives it, copied to the
        # file by a thread of the bench: a file as its stderr would have the server's own log
        # lines count as disk writes of its event loop.
        assert self.proc.stdout is not None
        self._copier = threading.Thread(
            target=_copy, args=(self.proc.stdout.fileno(), self._log), daemon=True
        )
        self._copier.start()
        self.ps = psutil.Process(self.proc.pid)

    async def ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: see {self.folder / (self.name + '.log')}")
            try:
                await self.fetch(path)
                return
            except (OSError, ConnectionError, Exception):  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    async def fetch(self, path: str, method: str = "GET", timeout: float = 60.0) -> Any:
        request = HTTPRequest(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            headers=self.headers,
            body=b"" if method == "POST" else None,
            request_timeout=timeout,
        )
        response = await AsyncHTTPClient().fetch(request)
        return json.loads(response.body) if response.body else None

    async def status(self) -> dict:
        raise NotImplementedError

    @staticmethod
    def child_ended(status: dict) -> bool:
        raise NotImplementedError

    async def wait_child_ended(self, timeout: float = 120.0) -> dict:
        """Until the child it runs has ended; its last status."""
        deadline = time.monotonic() + timeout
        while True:
            status = await self.status()
            if self.child_ended(status):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}'s child still running: {status}")
            await asyncio.sleep(0.02)

    # -- what the OS says about it ----------------------------------------------------------------

    def rss(self) -> int:
        return self.ps.memory_info().rss

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def remember_descendants(self) -> None:
        """Note every descendant now, so that stop() can check each has gone."""
        try:
            for child in self.ps.children(recursive=True):
                self._seen.setdefault(child.pid, child)
        except psutil.Error:
            pass

    def stop(self) -> list[int]:
        """End it and everything it started; returns the pids that had to be killed."""
        if self.proc is None:
            return []
        self.remember_descendants()
        killed = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                killed.append(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the group we created, whatever is left
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        _, alive = psutil.wait_procs(list(self._seen.values()), timeout=5)
        for child in alive:
            try:
                if child.status() != psutil.STATUS_ZOMBIE:
                    child.kill()
                    killed.append(child.pid)
            except psutil.Error:
                pass
        if self._copier is not None:
            self._copier.join(10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self._log.close()
        self.proc = None
        return killed


def _copy(fd: int, to: BinaryIO) -> None:
    while chunk := os.read(fd, 65536):  # until the server and all it ran have closed it
        to.write(chunk)
        to.flush()


class JupyterServer(Server):
    name = "jupyter"
    stages_path = "/bench/stages"  # the latency rounds' probe (stages.py), in bench.looplag

    module = "jupyter_server"

    def __init__(self, folder: Path, *options: str) -> None:
        """As shipped: the Fujita traits at their defaults, unless `options` says otherwise."""
        super().__init__(folder)
        self.token = secrets.token_hex(16)
        self.options = list(options)

    def env(self) -> dict[str, str]:
        env = dict(os.environ, PYTHONPATH=str(ROOT))  # bench.looplag, idle until asked
        for kind in ("CONFIG", "DATA", "RUNTIME"):
            path = self.folder / "jupyter" / kind.lower()
            path.mkdir(parents=True, exist_ok=True)
            env[f"JUPYTER_{kind}_DIR"] = str(path)
        enabled = self.folder / "jupyter" / "config" / "jupyter_server_config.d"
        enabled.mkdir(exist_ok=True)
        looplag = {"ServerApp": {"jpserver_extensions": {"bench.looplag": True}}}
        (enabled / "bench_looplag.json").write_text(json.dumps(looplag))
        env.pop("JUPYTER_FUJITA_URL", None)
        env.pop("JUPYTER_FUJITA_TOKEN", None)
        return env

    def command(self) -> list[str]:
        return [
            PYTHON,
            "-m",
            self.module,
            "--no-browser",
            "--allow-root",
            f"--port={self.port}",
            "--port-retries=0",
            "--ip=127.0.0.1",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.project}",
            f"--Fujita.address=127.0.0.1:{self.django_port}",
            f"--Fujita.manage_py={self.manage_py}",
            "--Fujita.stop_timeout=3",
            *self.options,
        ]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    async def wait_ready(self) -> None:
        await self.ready("/api/status")

    async def status(self) -> dict:
        return await self.fetch("/fujita/api/processes/django")

    async def start_child(self, wait: float = 0) -> dict:
        return await self.fetch(f"/fujita/api/processes/django/start?wait={wait:g}", "POST")

    async def stop_child(self) -> dict:
        return await self.fetch("/fujita/api/processes/django/stop", "POST")

    async def clear(self) -> None:
        await self.fetch("/fujita/api/processes/django/log", "DELETE")

    @staticmethod
    def child_ended(status: dict) -> bool:
        return status["state"] in ("crashed", "stopped")  # a burst child exits: `crashed`, code 0


class LabServer(JupyterServer):
    """JupyterLab itself, with the installed labextension, for the page figures."""

    name = "lab"
    module = "jupyterlab"

    def command(self) -> list[str]:
        return [*super().command(), "--LabApp.expose_app_in_browser=True"]

    async def wait_ready(self) -> None:
        await self.ready("/api/status")


class BenchModuleServer(Server):
    """A peer that runs one of bench's own modules: `python -m bench.<module> --port P --cwd
    PROJECT [options] --command <runserver>`."""

    module = ""

    def options(self) -> list[str]:
        return []

    def command(self) -> list[str]:
        where = ["--port", str(self.port), "--cwd", str(self.project), *self.options()]
        return [PYTHON, "-m", f"bench.{self.module}", *where, "--command", *self.child_command()]

    def env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(ROOT))


class TermPeer(BenchModuleServer):
    name = "terminado"
    module = "termpeer"

    async def wait_ready(self) -> None:
        await self.ready("/ping")

    async def kill(self, name: str) -> None:
        await self.fetch(f"/kill/{name}", "POST")


class SeedPeer(BenchModuleServer):
    name = module = "seed"
    stages_path = "/stages"  # the latency rounds' probe (stages.py)

    def __init__(self, folder: Path, ring: int) -> None:
        super().__init__(folder)
        self.ring = ring

    def options(self) -> list[str]:
        return ["--ring", str(self.ring)]

    async def wait_ready(self) -> None:
        await self.ready("/status")

    async def status(self) -> dict:
        return await self.fetch("/status")

    async def start_child(self) -> None:
        await self.fetch("/start", "POST")

    @staticmethod
    def child_ended(status: dict) -> bool:
        return not status["running"]
