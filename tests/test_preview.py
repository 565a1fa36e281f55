"""The site previewed through Jupyter (base_url /user/alice/), with Django's prefix, host and
CSRF traps solved without editing the user's settings: real server, real Django, real proxy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from conftest import copy_demo_site, edit, free_port, wait_for
from tornado.httpclient import AsyncHTTPClient

from jupyter_fujita.django import DjangoProject

BASE = "/user/alice/"
PREFIX = "/user/alice/fujita/site/django/"
PROBE_VIEW = '''

def probe(request):
    """Test only: what Django thinks its URLs are."""
    from django.http import JsonResponse
    from django.urls import reverse

    return JsonResponse({"reverse": reverse("notes"), "absolute": request.build_absolute_uri()})
'''


@pytest.fixture
def jp_base_url():
    return BASE


@pytest.fixture
def jp_server_config(django_port):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}, "allow_remote_access": True},
        "Fujita": {"address": f"127.0.0.1:{django_port}", "stop_timeout": 3.0},
    }


def prepare_site(site: Path) -> Path:
    """Migrations applied, an admin user, and a view that shows reverse() and absolute URLs."""
    views = site / "pages" / "views.py"
    views.write_text(views.read_text() + PROBE_VIEW)
    edit(
        site / "mysite" / "urls.py",
        'path("", views.home',
        'path("probe/", views.probe),\n    path("", views.home',
    )
    env = dict(
        os.environ,
        DJANGO_SUPERUSER_PASSWORD="s3cret-pass",
        DJANGO_SUPERUSER_EMAIL="alice@example.com",
    )
    for command in (["migrate", "-v0"], ["createsuperuser", "--noinput", "--username", "alice"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=site, env=env, check=True)
    return site


@pytest.fixture
def prepared(site):
    return prepare_site(site)


class Browser:
    """Enough of a browser: a cookie jar honouring cookie paths, no auto-redirects, and Jupyter's
    token in an Authorization header unless the test says otherwise."""

    def __init__(self, server, headers: dict[str, str] | None = None) -> None:
        self.port = server.port
        self.token = server.identity_provider.token
        self.cookies: dict[tuple[str, str], str] = {}  # (name, path) -> value
        self.headers = headers or {}

    async def request(
        self,
        path: str,
        method: str = "GET",
        body: str | None = None,
        params: dict | None = None,
        headers: dict | None = None,
        auth: bool = True,
    ):
        all_headers = {**self.headers, **(headers or {})}
        jar = "; ".join(f"{k}={v}" for (k, p), v in self.cookies.items() if path.startswith(p))
        if jar:
            all_headers["Cookie"] = jar
        if auth:
            all_headers["Authorization"] = f"token {self.token}"
        url = f"http://127.0.0.1:{self.port}{path}" + (f"?{urlencode(params)}" if params else "")
        response = await AsyncHTTPClient().fetch(
            url,
            method=method,
            body=body,
            headers=all_headers,
            follow_redirects=False,
            raise_error=False,
        )
        for header in response.headers.get_list("Set-Cookie"):
            for morsel in SimpleCookie(header).values():
                self.cookies[(morsel.key, morsel["path"] or "/")] = morsel.value
        return response

    async def admin_login(self, prefix: str = PREFIX, origin: str | None = None) -> object:
        page = await self.request(prefix + "admin/login/")
        assert page.code == 200, page.code
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)[1].decode()
        form = urlencode(
            {
                "csrfmiddlewaretoken": token,
                "username": "alice",
                "password": "s3cret-pass",
                "next": prefix + "admin/",
            }
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": (origin or "") + prefix + "admin/login/",
        }
        if origin:
            headers["Origin"] = origin
        return await self.request(prefix + "admin/login/", "POST", body=form, headers=headers)


async def start(jp_fetch, headers: dict | None = None) -> dict:
    response = await jp_fetch(
        "fujita",
        "api",
        "processes",
        "django",
        "start",
        method="POST",
        body=b"",
        headers=headers or {},
    )
    status = json.loads(response.body)
    assert status["state"] == "running", status["message"]
    assert status["preview_url"] == PREFIX
    return status


async def test_admin_redirects_keep_the_prefix_and_its_css_answers(
    prepared, jp_fetch, jp_serverapp
):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.request(PREFIX + "admin/")
    assert response.code == 302
    assert response.headers["Location"] == f"{PREFIX}admin/login/?next={PREFIX}admin/"
    page = await browser.request(PREFIX + "admin/login/")
    css = re.search(rb'href="([^"]+base\.css)"', page.body)[1].decode()
    assert css.startswith(PREFIX + "static/")
    assert (await browser.request(css)).code == 200


async def test_admin_login_with_csrf_succeeds_through_the_preview(prepared, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.admin_login()
    assert response.code == 302, response.body[:500]
    assert response.headers["Location"] == PREFIX + "admin/"
    # scoped to the prefix: another previewed site cannot clobber it
    assert [path for name, path in browser.cookies if name == "sessionid"] == [PREFIX]
    admin = await browser.request(PREFIX + "admin/")
    assert b"Site administration" in admin.body


async def test_reverse_and_absolute_urls_carry_the_prefix(
    prepared, jp_fetch, jp_serverapp, jp_http_port
):
    await start(jp_fetch)
    probe = json.loads((await Browser(jp_serverapp).request(PREFIX + "probe/")).body)
    assert probe["reverse"] == PREFIX + "notes/"
    assert probe["absolute"] == f"http://127.0.0.1:{jp_http_port}{PREFIX}probe/"


async def test_direct_access_keeps_working(prepared, jp_fetch, django_port):
    from tornado.httpclient import AsyncHTTPClient

    await start(jp_fetch)
    response = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{django_port}/probe/")
    assert json.loads(response.body)["reverse"] == "/notes/"


async def test_without_jupyter_auth_the_site_is_not_served(prepared, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.request(PREFIX, auth=False)
    assert response.code in (302, 403)
    if response.code == 302:
        assert "/login" in response.headers["Location"]
    assert b"Hello from Django" not in response.body
    post = await browser.request(PREFIX + "admin/login/", "POST", body="x=1", auth=False)
    assert post.code == 403


async def test_behind_a_hub_the_login_still_succeeds(prepared, jp_fetch, jp_serverapp):
    hub = {"Host": "hub.example.com", "X-Forwarded-Proto": "https"}
    await start(jp_fetch, {**hub, "Origin": "https://hub.example.com"})
    browser = Browser(jp_serverapp, hub)
    response = await browser.admin_login(origin="https://hub.example.com")
    assert response.code == 302, response.body[:800]
    admin = await browser.request(PREFIX + "admin/")
    assert b"Site administration" in admin.body


async def test_a_token_in_the_url_never_reaches_the_log(prepared, jp_fetch, jp_serverapp, manager):
    await start(jp_fetch)
    token = jp_serverapp.identity_provider.token
    response = await Browser(jp_serverapp).request(PREFIX, params={"token": token, "page": "1"})
    assert response.code == 200

    def lines():
        return [line.text for line in manager.get("django").cache.tail(1000)]

    try:
        await wait_for(
            lambda: any("/user/alice/fujita/site/django/?page=1 " in t for t in lines()), 10
        )
    except AssertionError:
        raise AssertionError(lines()[-3:]) from None
    assert not any(token in t for t in lines())


async def test_two_previewed_sites_stay_logged_in_side_by_side(
    prepared, jp_fetch, jp_serverapp, jp_root_dir, manager, jp_asyncio_loop
):
    other_root = jp_root_dir / "other"
    prepare_site(copy_demo_site(other_root))
    other = DjangoProject(other_root, f"127.0.0.1:{free_port()}")
    other.preview_prefix = BASE + "fujita/site/other/"
    manager.add("other", other)
    await start(jp_fetch)
    other_status = await manager.get("other").start(wait=60)
    assert other_status.state == "running", other_status.message
    assert manager.get("django").state == "running", manager.get("django").status().message
    browser = Browser(jp_serverapp)
    assert (await browser.admin_login()).code == 302
    assert (await browser.admin_login(BASE + "fujita/site/other/")).code == 302
    for prefix in (PREFIX, BASE + "fujita/site/other/"):
        assert b"Site administration" in (await browser.request(prefix + "admin/")).body


async def test_a_stopped_site_is_a_clear_503(site, jp_fetch, jp_serverapp):
    response = await Browser(jp_serverapp).request(PREFIX)
    assert response.code == 503


@pytest.fixture
def manager(jp_serverapp):
    return jp_serverapp.web_app.settings["fujita_manager"]


async def test_the_preview_may_be_framed_by_jupyterlab_only(
    prepared, jp_fetch, jp_serverapp, django_port
):
    await start(jp_fetch)
    through = await Browser(jp_serverapp).request(PREFIX)
    assert through.headers["X-Frame-Options"] == "SAMEORIGIN"
    direct = await AsyncHTTPClient().fetch(f"http://127.0.0.1:{django_port}/")
    assert direct.headers["X-Frame-Options"] == "DENY"
