"""The site previewed through Jupyter (base_url /user/alice/): real server, real runserver on a
project shaped like real ones (tests/shop_site.py), real HTTP. Plain runserver is the reference
for the direct address; through the preview everything a browser does must work."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import psutil
import pytest
from conftest import free_port
from waiting import wait_for
from chat_site import make_chat_site
from shop_site import ADMIN_PASSWORD, PIXEL_PNG, make_shop_site
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from jupyter_fujita.project import DjangoProject
from jupyter_fujita.wire import request_of

BASE = "/user/alice/"
PREFIX = "/user/alice/fujita/site/django/"


@pytest.fixture
def jp_base_url():
    return BASE


@pytest.fixture
def jp_server_config(django_port):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}, "allow_remote_access": True},
        "Fujita": {"address": f"127.0.0.1:{django_port}", "stop_timeout": 3.0},
    }


@pytest.fixture
def shop(jp_root_dir: Path) -> Path:
    return make_shop_site(jp_root_dir)


@pytest.fixture
def manager(jp_serverapp):
    return jp_serverapp.web_app.settings["fujita_manager"]


class Browser:
    """Enough of a browser: a cookie jar honouring cookie paths, no auto-redirects, Jupyter's
    token in an Authorization header unless told otherwise, and the Origin and Referer a
    browser sends on Jupyter's origin."""

    def __init__(self, server, host: str | None = None) -> None:
        self.port = server.port
        self.token = server.identity_provider.token
        self.host = host or f"127.0.0.1:{self.port}"
        self.cookies: dict[tuple[str, str], str] = {}  # (name, path) -> value

    def cookie(self, name: str) -> str | None:
        return next((v for (k, _), v in self.cookies.items() if k == name), None)

    async def request(
        self,
        path: str,
        method: str = "GET",
        body: bytes | str | None = None,
        headers: dict | None = None,
        auth: bool = True,
        streaming_callback=None,
    ):
        all_headers = {"Host": self.host, **(headers or {})}
        jar = "; ".join(f"{k}={v}" for (k, p), v in self.cookies.items() if path.startswith(p))
        if jar:
            all_headers["Cookie"] = "; ".join(filter(None, [all_headers.get("Cookie"), jar]))
        if auth:
            all_headers["Authorization"] = f"token {self.token}"
        client = AsyncHTTPClient(force_instance=True, max_body_size=1 << 40)
        response = await client.fetch(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            body=body,
            headers=all_headers,
            follow_redirects=False,
            raise_error=False,
            allow_nonstandard_methods=True,
            streaming_callback=streaming_callback,
            request_timeout=120,
        )
        for header in response.headers.get_list("Set-Cookie"):
            pair, *attributes = [part.strip() for part in header.split(";")]
            name, _, value = pair.partition("=")
            path_of = next((a[5:] for a in attributes if a.lower().startswith("path=")), "/")
            self.cookies[(name, path_of)] = value
        return response

    def form_headers(self, page: str) -> dict[str, str]:
        return {
            "Origin": f"http://{self.host}",
            "Referer": f"http://{self.host}{page}",
            "Content-Type": "application/x-www-form-urlencoded",
        }

    async def admin_login(self, prefix: str = PREFIX):
        page = await self.request(prefix + "admin/login/")
        assert page.code == 200, page.code
        csrf = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)[1].decode()
        form = urlencode(
            {
                "csrfmiddlewaretoken": csrf,
                "username": "alice",
                "password": ADMIN_PASSWORD,
                "next": "/admin/",
            }
        )
        headers = self.form_headers(prefix + "admin/login/")
        return await self.request(prefix + "admin/login/", "POST", form, headers)


async def start(jp_fetch) -> dict:
    response = await jp_fetch(
        "fujita", "api", "processes", "django", "start", method="POST", body=b""
    )
    status = json.loads(response.body)
    assert status["state"] == "running", status["message"]
    assert status["preview_url"] == PREFIX
    return status


@pytest.fixture
def plain_runserver(shop):
    """The reference: `python manage.py runserver PORT` as a user runs it, no jupyter_fujita."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=shop,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield f"http://127.0.0.1:{port}"
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)
    assert not [p for p in psutil.process_iter(["pid"]) if _in_group(p, proc.pid)]


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


async def fetch(url: str, **kwargs):
    return await AsyncHTTPClient().fetch(url, raise_error=False, follow_redirects=False, **kwargs)


CSRF_VALUE = re.compile(rb'(name="csrfmiddlewaretoken" value=")[^"]+')
PAGES = ["", "upload/", "admin/login/", "static/gallery/site.css", "media/photos/cat.png", "nope/"]


async def test_the_direct_address_serves_what_plain_runserver_serves(
    shop, plain_runserver, jp_fetch, django_port, manager
):
    await start(jp_fetch)
    ours = f"http://127.0.0.1:{django_port}"
    await wait_for_answer(plain_runserver)
    for page in PAGES:
        reference, answer = await fetch(f"{plain_runserver}/{page}"), await fetch(f"{ours}/{page}")
        assert answer.code == reference.code, page
        assert answer.headers.get("Content-Type") == reference.headers.get("Content-Type"), page
        body = CSRF_VALUE.sub(rb"\1-", answer.body).replace(ours.encode(), b"SITE")
        expected = CSRF_VALUE.sub(rb"\1-", reference.body).replace(
            plain_runserver.encode(), b"SITE"
        )
        assert body == expected, page
    home = (await fetch(f"{ours}/")).body
    assert b'href="/static/gallery/site.css"' in home
    assert b'src="/media/photos/cat.png"' in home
    assert (await fetch(f"{ours}/media/photos/cat.png")).body == PIXEL_PNG
    log = [line.text for line in manager.get("django").cache.tail(200)]
    assert any("using settings 'shop.settings.dev'" in text for text in log), log[-10:]


async def wait_for_answer(url: str) -> None:
    async def answers() -> bool:
        try:
            return (await fetch(url + "/")).code == 200
        except OSError:
            return False

    for _ in range(200):
        if await answers():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered")


async def test_through_the_preview_pages_static_and_media_work(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    home = await browser.request(PREFIX)
    assert home.code == 200
    assert f'href="{PREFIX}static/gallery/site.css"'.encode() in home.body
    assert f'src="{PREFIX}media/photos/cat.png"'.encode() in home.body
    assert f'<a href="{PREFIX}upload/">Upload</a>'.encode() in home.body
    css = await browser.request(PREFIX + "static/gallery/site.css")
    assert css.code == 200
    assert f"url({PREFIX}static/gallery/paper.png)".encode() in css.body
    assert (await browser.request(PREFIX + "static/gallery/paper.png")).body == PIXEL_PNG
    image = await browser.request(PREFIX + "media/photos/cat.png")
    assert (image.code, image.body) == (200, PIXEL_PNG)


async def test_a_cached_fragment_is_right_at_both_addresses(
    shop, jp_fetch, jp_serverapp, django_port
):
    await start(jp_fetch)
    direct = f"http://127.0.0.1:{django_port}/"
    first = (await fetch(direct)).body  # fills {% cache %} from the direct address
    through = (await Browser(jp_serverapp).request(PREFIX)).body
    again = (await fetch(direct)).body
    cached = re.compile(rb'<p id="cached"><a href="([^"]+)"')
    assert cached.search(first)[1] == b"/upload/" == cached.search(again)[1]
    assert cached.search(through)[1] == f"{PREFIX}upload/".encode()


async def test_redirects_carry_the_prefix_once_and_the_admin_login_works(
    shop, jp_fetch, jp_serverapp
):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.request(PREFIX + "admin/")
    assert response.code == 302
    assert response.headers["Location"] == f"{PREFIX}admin/login/?next=/admin/"
    login = await browser.admin_login()
    assert login.code == 302, login.body[:500]
    assert login.headers["Location"] == PREFIX + "admin/"
    # scoped to the prefix: no other previewed site and no page of Jupyter's gets it
    assert [path for name, path in browser.cookies if name == "sessionid"] == [PREFIX]
    assert b"Site administration" in (await browser.request(PREFIX + "admin/")).body


async def test_behind_a_hub_with_its_defaults_the_first_request_works(shop, jp_fetch, jp_serverapp):
    """A hub's proxy keeps the browser's Host: Django never sees it, so no ALLOWED_HOSTS or
    CSRF_TRUSTED_ORIGINS entry is needed, whoever started Django and however."""
    await start(jp_fetch)
    browser = Browser(jp_serverapp, host="hub.example.com")
    home = await browser.request(PREFIX, headers={"X-Forwarded-Proto": "https"})
    assert home.code == 200, home.body[:300]
    login = await browser.admin_login()
    assert login.code == 302, login.body[:800]
    assert b"Site administration" in (await browser.request(PREFIX + "admin/")).body


async def test_fetch_with_the_csrf_header_and_a_multipart_upload_work(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    page = await browser.request(PREFIX + "upload/")
    csrf = browser.cookie("csrftoken")
    assert csrf, browser.cookies
    echo = await browser.request(
        PREFIX + "api/echo/",
        "POST",
        json.dumps({"hello": "fujita"}),
        {
            "Content-Type": "application/json",
            "X-CSRFToken": csrf,
            "Origin": f"http://{browser.host}",
        },
    )
    assert echo.code == 200, echo.body[:300]
    assert json.loads(echo.body) == {"got": {"hello": "fujita"}, "method": "POST"}

    form_token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.body)[1]
    boundary = b"fujita-boundary"
    body = b"\r\n".join(
        [
            b"--" + boundary,
            b'Content-Disposition: form-data; name="csrfmiddlewaretoken"',
            b"",
            form_token,
            b"--" + boundary,
            b'Content-Disposition: form-data; name="photo"; filename="dog.png"',
            b"Content-Type: image/png",
            b"",
            PIXEL_PNG,
            b"--" + boundary + b"--",
            b"",
        ]
    )
    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary.decode()}",
        "Origin": f"http://{browser.host}",
    }
    upload = await browser.request(PREFIX + "upload/", "POST", body, headers)
    assert upload.code == 302, upload.body[:500]
    assert upload.headers["Location"] == PREFIX
    home = await browser.request(PREFIX)
    assert f'src="{PREFIX}media/photos/dog.png"'.encode() in home.body
    assert (await browser.request(PREFIX + "media/photos/dog.png")).body == PIXEL_PNG


async def test_a_write_from_another_site_is_refused(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.request(
        PREFIX + "api/echo/", "POST", "{}", {"Origin": "https://evil.example"}
    )
    assert response.code == 403
    assert "another site" in json.loads(response.body)["message"]


async def test_head_and_not_modified_answers_pass_through(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    head = await browser.request(PREFIX + "static/gallery/site.css", "HEAD")
    assert head.code == 200
    assert head.body == b""
    modified = head.headers["Last-Modified"]
    again = await browser.request(
        PREFIX + "static/gallery/site.css", headers={"If-Modified-Since": modified}
    )
    assert again.code == 304
    assert again.body == b""


async def test_a_300_mb_download_streams_through_with_bounded_memory(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    me = psutil.Process()  # the Jupyter server runs in this process
    baseline = me.memory_info().rss
    received = 0
    peak = baseline

    def on_chunk(chunk: bytes) -> None:
        nonlocal received, peak
        received += len(chunk)
        if received % (8 << 20) < len(chunk):
            peak = max(peak, me.memory_info().rss)

    response = await Browser(jp_serverapp).request(
        PREFIX + "download/?mb=300", streaming_callback=on_chunk
    )
    assert response.code == 200
    assert received == 300 << 20
    assert peak - baseline <= 32 << 20, f"Jupyter grew by {(peak - baseline) >> 20} MB"


async def test_not_up_is_a_503_page_that_reloads_itself_or_json(
    shop, jp_fetch, jp_serverapp, caplog
):
    browser = Browser(jp_serverapp)
    with caplog.at_level(logging.INFO):
        page = await browser.request(PREFIX, headers={"Accept": "text/html"})
        api = await browser.request(PREFIX + "api/echo/", headers={"Accept": "*/*"})
    assert page.code == 503
    assert page.headers["Retry-After"]
    assert b"<h1>Django is stopped</h1>" in page.body
    assert b"http-equiv='refresh'" in page.body
    assert api.code == 503
    assert json.loads(api.body)["state"] == "stopped"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_a_broken_site_is_a_503_that_names_the_file(shop, jp_fetch, jp_serverapp, manager):
    (shop / "shop/urls.py").write_text("urlpatterns = [\n")  # a SyntaxError at import
    response = await jp_fetch(
        "fujita", "api", "processes", "django", "start", method="POST", body=b""
    )
    assert json.loads(response.body)["state"] in ("broken", "crashed")
    page = await Browser(jp_serverapp).request(PREFIX, headers={"Accept": "text/html"})
    assert page.code == 503
    assert b"shop/urls.py:" in page.body, page.body


async def test_no_credential_of_jupyter_or_the_hub_reaches_django(
    shop, jp_fetch, jp_serverapp, monkeypatch
):
    for name in ("JPY_API_TOKEN", "JUPYTERHUB_API_TOKEN"):
        monkeypatch.setenv(name, "hub-secret")
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    token = browser.token
    for auth in (f"token {token}", f"Token\t{token}", f"BEARER {token}", f"  token  {token}"):
        seen = await browser.request(
            PREFIX + f"seen/?token={token}&page=2",
            headers={
                "Authorization": auth,
                "Cookie": "_xsrf=x1; username-127-0-0-1-8888=u1; jupyterhub-session-id=h1; "
                'odd="a b; c d"; theme=dark',
                "Referer": f"http://{browser.host}{PREFIX}upload/?token={token}",
                "X-Forwarded-Host": "evil.example",
                "X-XSRFToken": "x1",
            },
            auth=False,
        )
        assert seen.code == 200, (auth, seen.code)
        meta = json.loads(seen.body)["meta"]
        text = json.dumps(meta)
        assert token not in text and "hub-secret" not in text, auth
        for name in ("JPY_API_TOKEN", "JUPYTERHUB_API_TOKEN", "JUPYTER_FUJITA_TOKEN"):
            assert name not in meta
        assert "HTTP_AUTHORIZATION" not in meta
        assert meta["QUERY_STRING"] == "page=2"
        assert meta["HTTP_REFERER"].endswith("/upload/")
        assert "HTTP_X_FORWARDED_HOST" not in meta and "HTTP_X_XSRFTOKEN" not in meta
        cookies = json.loads(seen.body)["cookies"]
        assert cookies.get("theme") == "dark"  # one odd cookie does not make the others vanish
        assert not {"_xsrf", "username-127-0-0-1-8888", "jupyterhub-session-id"} & set(cookies)
    # the site's own Basic auth passes (Jupyter's login cookie, from the requests above, admits)
    basic = await browser.request(
        PREFIX + "seen/", headers={"Authorization": "Basic YTpi"}, auth=False
    )
    assert json.loads(basic.body)["meta"]["HTTP_AUTHORIZATION"] == "Basic YTpi"


async def test_a_token_login_leaves_the_address_bar(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.request(
        PREFIX + f"upload/?token={browser.token}&page=2",
        headers={"Sec-Fetch-Mode": "navigate", "Accept": "text/html"},
        auth=False,
    )
    assert response.code == 302
    assert response.headers["Location"] == PREFIX + "upload/?page=2"


async def test_no_django_cookie_can_touch_a_jupyter_cookie(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    response = await Browser(jp_serverapp).request(PREFIX + "cookies/")
    set_cookies = response.headers.get_list("Set-Cookie")
    django = [c for c in set_cookies if not c.startswith("username-127-0-0-1-" + str(0))]
    assert not [c for c in django if c.startswith("_xsrf=from-django")]
    assert not [c for c in django if "from-django" in c]
    theme = next(c for c in django if c.startswith("theme="))
    assert f"Path={PREFIX}" in theme
    hubwide = next(c for c in django if c.startswith("hubwide="))
    assert "domain" not in hubwide.lower() and f"Path={PREFIX}user/alice/" in hubwide


async def test_preview_requests_count_as_activity(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    before = jp_serverapp.web_app.last_activity()
    await asyncio.sleep(0.01)
    await Browser(jp_serverapp).request(PREFIX)
    assert jp_serverapp.web_app.last_activity() > before


async def test_requests_at_the_direct_address_count_as_activity(
    site, jp_fetch, jp_serverapp, django_port, manager
):
    """Seen in Django's request log (the demo site's default format)."""
    await start(jp_fetch)
    fujita = jp_serverapp.extension_manager.extension_apps["jupyter_fujita"]
    app = next(iter(fujita))
    before = jp_serverapp.web_app.last_activity()
    await fetch(f"http://127.0.0.1:{django_port}/notes/")
    await wait_for(
        lambda: any(request_of(line) for line in manager.get("django").cache.tail(20)),
        10,
        "the request line",
    )
    app._note_site_activity()
    assert jp_serverapp.web_app.last_activity() > before


async def test_two_previewed_sites_stay_logged_in_side_by_side(
    shop, jp_fetch, jp_serverapp, jp_root_dir, manager
):
    other_root = jp_root_dir / "other"
    other_root.mkdir()
    make_shop_site(other_root)
    other = DjangoProject(other_root, f"127.0.0.1:{free_port()}")
    other.preview_prefix, other.preview_mode = BASE + "fujita/site/other/", "on"
    manager.add("other", other)
    await start(jp_fetch)
    other_status = await manager.get("other").start(wait=60)
    assert other_status.state == "running", other_status.message
    browser = Browser(jp_serverapp)
    assert (await browser.admin_login()).code == 302
    assert (await browser.admin_login(BASE + "fujita/site/other/")).code == 302
    for prefix in (PREFIX, BASE + "fujita/site/other/"):
        assert b"Site administration" in (await browser.request(prefix + "admin/")).body
    await manager.get("other").stop()


async def test_without_jupyter_auth_the_site_is_not_served(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    response = await browser.request(PREFIX, auth=False)
    assert response.code in (302, 403)
    if response.code == 302:
        assert "/login" in response.headers["Location"]
    assert b"Shop" not in response.body
    post = await browser.request(PREFIX + "api/echo/", "POST", body="{}", auth=False)
    assert post.code == 403


async def test_the_preview_may_be_framed_by_jupyterlab_only(
    shop, jp_fetch, jp_serverapp, django_port
):
    await start(jp_fetch)
    through = await Browser(jp_serverapp).request(PREFIX)
    assert through.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in through.headers["Content-Security-Policy"]
    direct = await fetch(f"http://127.0.0.1:{django_port}/")
    assert direct.headers["X-Frame-Options"] == "DENY"


async def test_the_shim_script_is_served_to_the_previewed_page(shop, jp_fetch, jp_serverapp):
    await start(jp_fetch)
    browser = Browser(jp_serverapp)
    home = await browser.request(PREFIX)
    src = re.search(rb'<script src="([^"]+preview-shim\.js)"', home.body)[1].decode()
    shim = await browser.request(src)
    assert shim.code == 200 and b"XMLHttpRequest" in shim.body


@pytest.fixture
def chat(jp_root_dir: Path) -> Path:
    return make_chat_site(jp_root_dir)


async def test_a_channels_websocket_works_through_the_preview(
    chat, jp_fetch, jp_serverapp, jp_http_port
):
    status = await start(jp_fetch)
    assert "Daphne" in " ".join(
        line.text
        for line in jp_serverapp.web_app.settings["fujita_manager"].get("django").cache.tail(50)
    ), status
    url = f"ws://127.0.0.1:{jp_http_port}{PREFIX}ws/echo/"
    token = jp_serverapp.identity_provider.token
    headers = {"Authorization": f"token {token}", "Origin": f"http://127.0.0.1:{jp_http_port}"}
    socket = await websocket_connect(HTTPRequest(url, headers=headers))
    await socket.write_message("hello")
    assert await socket.read_message() == "echo hello at /ws/echo/"
    socket.close()
    foreign = {**headers, "Origin": "https://evil.example"}
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(HTTPRequest(url, headers=foreign))
    assert refused.value.code == 403
