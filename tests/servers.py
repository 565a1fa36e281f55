"""A real `jupyter server` in a subprocess, for tests that need a whole server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from conftest import free_port
from waiting import wait_until

TOKEN = "fujita-test-token"


class JupyterServer:
    """`jupyter server` in a subprocess, with its config and runtime dirs in a temp dir."""

    def __init__(
        self,
        tmp: Path,
        django_port: int,
        port: int | None = None,
        app: str = "jupyter_server",
        base_url: str = "/",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.port = port or free_port()
        self.django_port = django_port
        self.base_url = base_url
        self.root = tmp / "root"
        self.root.mkdir(exist_ok=True)
        self.runtime = tmp / "runtime"
        env = dict(os.environ)
        for name, sub in (("CONFIG", "config"), ("DATA", "data"), ("RUNTIME", "runtime")):
            env[f"JUPYTER_{name}_DIR"] = str(tmp / sub)
        env["JUPYTERLAB_SETTINGS_DIR"] = str(tmp / "lab-settings")
        env["JUPYTERLAB_WORKSPACES_DIR"] = str(tmp / "lab-workspaces")
        env["JUPYTER_PLATFORM_DIRS"] = "1"
        env.pop("JUPYTER_FUJITA_URL", None)
        env.pop("JUPYTER_FUJITA_TOKEN", None)
        self.env = env
        self.log = (tmp / f"server-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                app,
                "--no-browser",
                "--allow-root",
                f"--port={self.port}",
                "--ip=127.0.0.1",
                f"--IdentityProvider.token={TOKEN}",
                f"--ServerApp.base_url={base_url}",
                f"--ServerApp.root_dir={self.root}",
                f"--Fujita.address=127.0.0.1:{django_port}",
                *extra_args,
            ],
            env=env,
            stdin=subprocess.DEVNULL,  # no terminal, as under JupyterHub and CI
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._answers, 60, "the Jupyter server to answer")
        except BaseException:
            self.end()  # no test holds it yet: end it here, or it outlives the run
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def _answers(self) -> bool:
        assert self.proc.poll() is None, "the Jupyter server exited"
        try:
            self.request("GET", "processes")
        except OSError:
            return False
        return True

    def request(self, method: str, path: str) -> dict:
        request = urllib.request.Request(
            f"{self.url}fujita/api/{path}",
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
        """SIGTERM (a clean shutdown that stops Django), SIGKILL if that hangs."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait(30)
        self.log.close()
