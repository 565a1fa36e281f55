"""A real `jupyter server` process: however it ends, runserver does not outlive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import copy_demo_site, free_port

from jupyter_fujita import oskit

TOKEN = "fujita-test-token"


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


class JupyterServer:
    """`jupyter server` in a subprocess, with its config and runtime dirs in a temp dir."""

    def __init__(self, tmp: Path, django_port: int) -> None:
        self.port = free_port()
        self.django_port = django_port
        self.root = tmp / "root"
        self.root.mkdir(exist_ok=True)
        self.runtime = tmp / "runtime"
        env = dict(os.environ)
        for name, sub in (("CONFIG", "config"), ("DATA", "data"), ("RUNTIME", "runtime")):
            env[f"JUPYTER_{name}_DIR"] = str(tmp / sub)
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        self.env = env
        self.log = (tmp / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root",
                f"--port={self.port}", "--ip=127.0.0.1", f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.root_dir={self.root}", f"--Fujita.address=127.0.0.1:{django_port}",
            ],
            env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        wait_until(self._answers, 60, "the Jupyter server to answer")

    def _answers(self) -> bool:
        assert self.proc.poll() is None, "the Jupyter server exited"
        try:
            self.request("GET", "processes")
        except OSError:
            return False
        return True

    def request(self, method: str, path: str) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/fujita/api/{path}",
            method=method,
            data=b"" if method == "POST" else None,
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def start_django(self) -> int:
        status = self.request("POST", "processes/django/start")
        assert status["state"] == "running", status["message"]
        return status["pid"]

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(30)
        self.log.close()


@pytest.fixture
def server_factory(tmp_path):
    started: list[JupyterServer] = []
    copy_demo_site(tmp_path / "root")

    def start(django_port: int | None = None) -> JupyterServer:
        server = JupyterServer(tmp_path, django_port or free_port())
        started.append(server)
        return server

    yield start
    for server in started:
        server.end()


def assert_nothing_left(pgid: int, port: int) -> None:
    wait_until(lambda: not oskit.group_members(pgid), 15, f"process group {pgid} to end")
    wait_until(lambda: oskit.port_is_free("127.0.0.1", port), 15, f"port {port} to be freed")


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT twice", "jupyter server stop"])
def test_server_shutdown_stops_runserver(server_factory, how):
    server = server_factory()
    pgid = server.start_django()
    assert len(oskit.group_members(pgid)) == 2
    if how == "SIGTERM":
        server.proc.send_signal(signal.SIGTERM)
    elif how == "SIGINT twice":  # Ctrl-C, then Ctrl-C again to skip the confirmation
        server.proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGINT)
    else:
        subprocess.run(
            [sys.executable, "-m", "jupyter_server", "stop", str(server.port)],
            env=server.env, check=True, capture_output=True, timeout=60,
        )
    server.proc.wait(60)
    assert_nothing_left(pgid, server.django_port)
    log = Path(server.log.name).read_text()
    assert "Traceback" not in log, log


def test_runserver_dies_with_a_killed_server_and_the_next_server_starts_clean(server_factory):
    first = server_factory()
    pgid = first.start_django()
    first.proc.kill()  # SIGKILL: no shutdown code runs
    first.proc.wait(30)
    assert_nothing_left(pgid, first.django_port)
    second = server_factory(first.django_port)
    assert second.start_django() != pgid
    records = list((second.runtime / "jupyter_fujita").glob("*.json"))
    assert [r.name for r in records] == [f"django-{second.proc.pid}.json"]
