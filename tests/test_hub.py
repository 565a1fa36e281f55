"""Under a real JupyterHub with its defaults (configurable-http-proxy, DummyAuthenticator,
SimpleLocalProcessSpawner, no public_url), over http and https: a user logs in with Chromium,
and the first request to the preview after autostart works, admin login and fetch() included.

The browser reaches the hub by a name of its own (`hub.example.test`, mapped to 127.0.0.1 in
Chromium), so nothing can pass for being loopback by accident."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import ARTIFACTS, CHROMIUM
from conftest import free_port
from waiting import wait_until
from playwright.async_api import async_playwright, expect
from shop_site import ADMIN_PASSWORD, make_shop_site

from jupyter_fujita import oskit

CHP = Path(__file__).resolve().parent / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
HUB_NAME = "hub.example.test"
SERVICE_TOKEN = "fujita-hub-test-service-token"
PASSWORD = "alice-password"


class Hub:
    """`jupyterhub` in its own session, its files in a temp dir; ended by its process group."""

    def __init__(self, tmp: Path, scheme: str) -> None:
        self.port, self.django_port = free_port(), free_port()
        self.scheme = scheme
        home = tmp / "home" / "alice"
        make_shop_site(home)
        ssl = ""
        if scheme == "https":
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
                + ["-subj", f"/CN={HUB_NAME}", "-keyout", "key.pem", "-out", "cert.pem"],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
            ssl = f"c.JupyterHub.ssl_key = {str(tmp / 'key.pem')!r}\n"
            ssl += f"c.JupyterHub.ssl_cert = {str(tmp / 'cert.pem')!r}\n"
        singleuser = Path(sys.executable).with_name("jupyterhub-singleuser")
        env = {
            "JUPYTER_CONFIG_DIR": str(tmp / "config"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "JUPYTER_DATA_DIR": str(tmp / "data"),
            "JUPYTER_PLATFORM_DIRS": "1",
        }
        (tmp / "hub_config.py").write_text(
            textwrap.dedent(f"""
                c.JupyterHub.ip = "127.0.0.1"
                c.JupyterHub.port = {self.port}
                c.JupyterHub.hub_port = {free_port()}
                c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
                c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
                c.JupyterHub.db_url = "sqlite:///{tmp / "hub.sqlite"}"
                c.JupyterHub.cookie_secret_file = {str(tmp / "cookie_secret")!r}
                c.JupyterHub.authenticator_class = "dummy"
                c.DummyAuthenticator.password = {PASSWORD!r}
                c.Authenticator.allowed_users = {{"alice"}}
                c.JupyterHub.spawner_class = "simple"
                c.SimpleLocalProcessSpawner.home_dir_template = {str(tmp / "home" / "{username}")!r}
                c.Spawner.cmd = [{str(singleuser)!r}]
                c.Spawner.args = [
                    "--allow-root",
                    "--Fujita.address=127.0.0.1:{self.django_port}",
                    "--Fujita.autostart=True",
                ]
                c.Spawner.environment = {env!r}
                c.Spawner.start_timeout = 60
                c.Spawner.http_timeout = 60
                c.JupyterHub.services = [{{"name": "test", "api_token": {SERVICE_TOKEN!r}}}]
                c.JupyterHub.load_roles = [
                    {{"name": "test", "scopes": ["admin:users", "admin:servers"],
                      "services": ["test"]}}
                ]
            """)
            + ssl
        )
        self.log = (tmp / "hub.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "hub_config.py")],
            cwd=tmp,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")},
        )
        wait_until(self._answers, 60, "JupyterHub to answer")

    @property
    def url(self) -> str:
        return f"{self.scheme}://{HUB_NAME}:{self.port}"

    def api(self, method: str, path: str) -> dict:
        import ssl as ssl_module

        request = urllib.request.Request(
            f"{self.scheme}://127.0.0.1:{self.port}/hub/api/{path}",
            method=method,
            data=b"{}" if method == "POST" else None,
            headers={"Authorization": f"token {SERVICE_TOKEN}"},
        )
        context = ssl_module._create_unverified_context() if self.scheme == "https" else None
        with urllib.request.urlopen(request, timeout=30, context=context) as response:
            body = response.read()
            return json.loads(body) if body else {}

    def _answers(self) -> bool:
        assert self.proc.poll() is None, "JupyterHub exited: see its log"
        try:
            self.api("GET", "users")
        except (OSError, urllib.error.HTTPError):
            return False
        return True

    def spawn(self) -> None:
        self.api("POST", "users/alice/server")
        wait_until(
            lambda: self.api("GET", "users/alice")["servers"].get("", {}).get("ready"),
            90,
            "alice's server to be ready",
        )

    def end(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()
        wait_until(
            lambda: not oskit.group_members(self.proc.pid),
            15,
            "the hub's processes to end",
            seen=lambda: oskit.group_members(self.proc.pid),
        )
        assert oskit.port_is_free("127.0.0.1", self.django_port), "Django's port is still taken"


@pytest.fixture(params=["http", "https"])
def hub(request, tmp_path):
    if not CHP.exists():
        pytest.fail(f"{CHP} is missing: run `npm ci --prefix tests/hub` (bash .ci/run does)")
    hub = Hub(tmp_path, request.param)
    try:
        hub.spawn()
        yield hub
    finally:
        hub.end()


async def test_the_first_preview_request_under_a_hub_with_its_defaults_works(hub):
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                f"--host-resolver-rules=MAP {HUB_NAME} 127.0.0.1",
                "--disable-background-networking",
            ],
        )
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        try:
            await page.goto(f"{hub.url}/hub/login")
            await page.fill("input[name=username]", "alice")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("input[type=submit], button[type=submit]")
            await page.wait_for_url("**/user/alice/lab**", timeout=60_000)

            # as JupyterLab asks: with the _xsrf cookie's value in X-XSRFToken
            status = await page.evaluate(
                """() => {
                    const xsrf = document.cookie.split('; ').find(c => c.startsWith('_xsrf='));
                    const headers = xsrf ? {'X-XSRFToken': xsrf.slice(6)} : {};
                    return fetch('/user/alice/fujita/api/processes/django', {headers})
                        .then(r => r.json());
                }"""
            )
            assert status.get("state") == "running", status
            assert (status["preview"], status["preview_url"]) == (
                "on",
                "/user/alice/fujita/site/django/",
            )

            site = f"{hub.url}/user/alice/fujita/site/django/"
            seen = json.loads(await (await page.goto(site + "seen/")).text())
            leaked = [k for k in seen["meta"] if k.startswith(("JUPYTERHUB_", "JPY_"))]
            assert leaked == [], leaked  # the hub's token and friends never reach Django
            response = await page.goto(site)
            assert response.status == 200, await response.text()
            await expect(page.locator("nav a", has_text="Upload")).to_have_attribute(
                "href", "/user/alice/fujita/site/django/upload/"
            )
            cat = page.locator('img[alt="cat.png"]')
            assert await cat.evaluate("img => img.complete && img.naturalWidth") == 1
            await page.click("#ping")
            await expect(page.locator("#answer")).to_contain_text("200 ", timeout=10_000)

            await page.goto(site + "admin/")
            await page.fill("#id_username", "alice")
            await page.fill("#id_password", ADMIN_PASSWORD)
            await page.click("input[type=submit]")
            await expect(page.locator("#site-name")).to_be_visible(timeout=20_000)
            assert page.url == site + "admin/"
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"hub-{hub.scheme}.png"))
            raise
        finally:
            await browser.close()
