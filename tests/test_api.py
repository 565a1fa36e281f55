"""The REST and WebSocket API in a real Jupyter server (base_url /user/alice/), real runserver."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest
import websocket
from conftest import assert_group_gone
from waiting import timed_out, wait_for
from tornado.httpclient import HTTPClientError

from jupyter_fujita import oskit
from jupyter_fujita.client import line_records

API = ("fujita", "api")


@pytest.fixture
def jp_base_url():
    return "/user/alice/"


@pytest.fixture
def manager(jp_serverapp):
    return jp_serverapp.web_app.settings["fujita_manager"]


@pytest.fixture
def fetch_json(jp_fetch):
    async def fetch(*parts, method="GET", **kwargs):
        if method == "POST":
            kwargs.setdefault("body", b"")
        response = await jp_fetch(*API, *parts, method=method, **kwargs)
        return json.loads(response.body)

    return fetch


@pytest.fixture
def running(fetch_json, site, manager, jp_asyncio_loop):
    """Django started through the API (pytest-jupyter runs no async fixtures)."""
    status = jp_asyncio_loop.run_until_complete(
        fetch_json("processes", "django", "start", method="POST")
    )
    assert status["state"] == "running", status["message"]
    return status


async def expect_error(call, status: int, match: str = "") -> dict:
    with pytest.raises(HTTPClientError) as caught:
        await call
    assert caught.value.code == status
    body = json.loads(caught.value.response.body)
    assert match in body["message"]
    return body


async def next_message(ws, timeout: float = 20.0) -> dict:
    raw = await asyncio.wait_for(ws.read_message(), timeout)
    assert raw is not None, "the socket was closed"
    return json.loads(raw)


async def read_lines_until(ws, predicate, timeout: float = 20.0) -> list[dict]:
    """Collect line records from a log socket until one satisfies predicate."""
    lines: list[dict] = []

    async def read() -> None:
        while not any(predicate(line) for line in lines):
            message = await next_message(ws, timeout)
            if message["type"] == "lines":
                lines.extend(line_records(message["lines"]))

    try:
        await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        raise timed_out("a line the test expects", timeout, lines[-3:]) from None
    return lines


def http_get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status


# -- the happy path ---------------------------------------------------------------------------


def test_the_start_up_objects_are_left_out_of_full_collections_and_garbage_is_not_kept():
    """Fujita.freeze_startup_objects, on by default: a full collection, which holds the event
    loop while it walks the heap, then walks only what came after the start (the bench once
    caught one of 67 ms over a Jupyter server's 200,000 objects). Start-up's garbage is
    collected first, not kept forever; a process that froze objects itself is left alone."""
    code = """if True:
        import gc, weakref
        from jupyter_fujita.extension import freeze_startup_objects
        class Node: pass
        kept = [Node() for _ in range(5000)]
        cycle = Node(); cycle.me = cycle; dead = weakref.ref(cycle); del cycle
        assert gc.get_freeze_count() == 0
        freeze_startup_objects()
        frozen = gc.get_freeze_count()
        assert frozen > 5000, frozen
        assert dead() is None
        assert not any(o is kept for o in gc.get_objects())  # out of every collection
        freeze_startup_objects()
        assert gc.get_freeze_count() == frozen
    """
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


async def test_start_answers_running_with_the_url_and_the_site_answers(
    running, fetch_json, django_port
):
    assert running["url"] == f"http://127.0.0.1:{django_port}/"
    assert running["message"] == f"Django is running at http://127.0.0.1:{django_port}/"
    assert running["error"] is None and running["pid"] > 0
    assert await asyncio.to_thread(http_get, running["url"]) == 200
    listing = await fetch_json("processes")
    assert [p["name"] for p in listing["processes"]] == ["django"]
    assert (await fetch_json("processes", "django"))["state"] == "running"


async def test_log_socket_replays_the_cache_then_streams_a_live_request_line(running, jp_ws_fetch):
    ws = await jp_ws_fetch(*API, "processes", "django", "log", "ws")
    replayed = await read_lines_until(ws, lambda l: "development server at" in l["text"])
    assert replayed[0]["seq"] == 1 and replayed[0]["stream"] == "fujita"
    assert [l["seq"] for l in replayed] == list(range(1, len(replayed) + 1))
    await asyncio.to_thread(http_get, running["url"] + "?from=test")
    live = await read_lines_until(ws, lambda l: '"GET /?from=test HTTP/1.1" 200' in l["text"])
    assert live[-1]["stream"] == "stderr"
    assert live[0]["seq"] > replayed[-1]["seq"]
    ws.close()


async def test_reconnect_with_since_gets_only_newer_lines(running, jp_ws_fetch, fetch_json):
    log = await fetch_json("processes", "django", "log")
    last = log["last_seq"]
    await asyncio.to_thread(http_get, running["url"] + "?after=reconnect")
    ws = await jp_ws_fetch(*API, "processes", "django", "log", "ws", params={"since": last})
    lines = await read_lines_until(ws, lambda l: "after=reconnect" in l["text"])
    assert lines[0]["seq"] == last + 1
    ws.close()


async def test_status_socket_sends_a_snapshot_then_each_change(running, jp_ws_fetch, fetch_json):
    ws = await jp_ws_fetch(*API, "status", "ws")
    snapshot = await next_message(ws)
    assert snapshot["type"] == "snapshot"
    assert [(p["name"], p["state"]) for p in snapshot["processes"]] == [("django", "running")]
    stopped = await fetch_json("processes", "django", "stop", method="POST")
    assert stopped["state"] == "stopped"
    states = []
    while "stopped" not in states:
        message = await next_message(ws)
        assert message["type"] == "status" and message["process"]["name"] == "django"
        states.append(message["process"]["state"])
    assert states == ["stopping", "stopped"]
    ws.close()


async def test_log_since_and_limit_page_through_the_cache(running, fetch_json):
    everything = await fetch_json("processes", "django", "log")
    assert everything["first_seq"] == 1 and everything["gap"] == 0
    assert [l["seq"] for l in everything["lines"]] == list(range(1, everything["last_seq"] + 1))
    page = await fetch_json("processes", "django", "log", params={"since": 2, "limit": 3})
    assert [l["seq"] for l in page["lines"]] == [3, 4, 5]
    # Django may still be printing (its start-up warnings): compare each answer with itself.
    tail = await fetch_json("processes", "django", "log", params={"limit": 2})
    assert [l["seq"] for l in tail["lines"]] == [tail["last_seq"] - 1, tail["last_seq"]]


async def test_a_reader_behind_a_small_cache_reads_the_rest_from_disk(
    jp_serverapp, fetch_json, manager
):
    cache = manager.get("django").cache
    cache.max_lines = 10
    cache.append("stdout", [f"line {i}" for i in range(50)], 1.0)
    assert cache.first_seq == 41
    page = await fetch_json("processes", "django", "log", params={"since": 5})
    assert page["gap"] == 0 and page["first_seq"] == 1
    assert [line["text"] for line in page["lines"]] == [f"line {i}" for i in range(5, 50)]


async def test_a_reader_behind_the_disk_budget_learns_of_the_gap(jp_serverapp, fetch_json, manager):
    cache = manager.get("django").cache
    cache.max_lines = 10
    cache.store.segment_bytes, cache.store.max_bytes = 2_000, 6_000
    for batch in range(20):  # a turn of the event loop each, as a pipe gives them
        cache.append("stdout", [f"batch {batch} line {i} " + "x" * 40 for i in range(10)], 1.0)
        await asyncio.sleep(0)
    page = await fetch_json("processes", "django", "log", params={"since": 5, "limit": 5})
    first = page["first_seq"]
    assert first > 6 and page["gap"] == first - 6
    assert [line["seq"] for line in page["lines"]] == list(range(first, first + 5))
    assert page["next_since"] == first + 4


async def test_clearing_the_log_keeps_seq_counting_and_tells_sockets(
    running, fetch_json, jp_ws_fetch
):
    ws = await jp_ws_fetch(*API, "processes", "django", "log", "ws")
    # "running" comes with the start line; the banner's last line can come a read later
    await read_lines_until(ws, lambda l: "howto/deployment" in l["text"])
    assert await fetch_json("processes", "django", "log", method="DELETE") == {"cleared": True}
    while (await next_message(ws))["type"] != "cleared":
        pass
    log = await fetch_json("processes", "django", "log")
    assert log["lines"] == [] and log["last_seq"] > 0
    await asyncio.to_thread(http_get, running["url"])
    lines = await read_lines_until(ws, lambda l: '"GET / HTTP/1.1"' in l["text"])
    assert lines[0]["seq"] == log["last_seq"] + 1
    ws.close()


async def test_a_since_from_an_earlier_server_is_answered_with_cleared_then_everything(
    jp_serverapp, jp_ws_fetch, manager
):
    manager.get("django").cache.append("stdout", ["one", "two"], 1.0)
    ws = await jp_ws_fetch(*API, "processes", "django", "log", "ws", params={"since": 9999})
    assert (await next_message(ws))["type"] == "cleared"
    lines = await read_lines_until(ws, lambda l: l["text"] == "two")
    assert [l["text"] for l in lines] == ["one", "two"]
    ws.close()


async def test_stop_frees_the_port_and_leaves_no_process(running, fetch_json, manager, django_port):
    pgid = manager.get("django").run.pgid
    status = await fetch_json("processes", "django", "stop", method="POST")
    assert status["state"] == "stopped" and status["pid"] is None
    assert_group_gone(pgid)
    assert oskit.port_is_free("127.0.0.1", django_port)


async def test_restart_gives_a_new_pid(running, fetch_json):
    status = await fetch_json("processes", "django", "restart", method="POST")
    assert status["state"] == "running" and status["pid"] != running["pid"]
    assert status["restarts"] == 1
    assert_group_gone(running["pid"])


async def test_fifty_concurrent_starts_over_http_give_one_process(site, fetch_json, manager):
    statuses = await asyncio.gather(
        *(fetch_json("processes", "django", "start", method="POST") for _ in range(50))
    )
    assert {s["pid"] for s in statuses} == {statuses[0]["pid"]}
    assert len(oskit.group_members(manager.get("django").run.pgid)) == 2


async def test_server_shutdown_with_django_running_leaves_nothing(
    running, jp_serverapp, manager, django_port
):
    pgid = manager.get("django").run.pgid
    await jp_serverapp._cleanup()  # what Ctrl-C, SIGTERM and `jupyter server stop` run
    assert_group_gone(pgid)
    assert oskit.port_is_free("127.0.0.1", django_port)


async def test_kernels_inherit_where_the_api_is_and_its_token(jp_serverapp, jp_http_port):
    # What the server runs once it listens (pytest-jupyter's server does not run it by itself).
    await jp_serverapp.extension_manager.start_all_extensions()
    assert os.environ["JUPYTER_FUJITA_URL"] == (
        f"http://127.0.0.1:{jp_serverapp.port}/user/alice/fujita/api/"
    )
    assert os.environ["JUPYTER_FUJITA_TOKEN"] == jp_serverapp.identity_provider.token


# -- bad input --------------------------------------------------------------------------------


async def test_unknown_process_is_404(jp_serverapp, fetch_json, jp_ws_fetch):
    await expect_error(fetch_json("processes", "nope"), 404, "No process named 'nope'")
    await expect_error(fetch_json("processes", "nope", "start", method="POST"), 404)
    await expect_error(fetch_json("processes", "nope", "log"), 404)
    with pytest.raises(HTTPClientError) as caught:
        await jp_ws_fetch(*API, "processes", "nope", "log", "ws")
    assert caught.value.code == 404


async def test_unknown_action_and_path_are_json_404(jp_serverapp, fetch_json):
    await expect_error(fetch_json("processes", "django", "explode", method="POST"), 404, "explode")
    await expect_error(fetch_json("nothing", "here"), 404, "No such API path")


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("GET", ("processes", "django", "start")),
        ("PUT", ("processes", "django")),
        ("POST", ("processes",)),
        ("POST", ("processes", "django", "log")),
    ],
)
async def test_wrong_method_is_405(jp_serverapp, fetch_json, method, parts):
    body = b"" if method in ("PUT", "POST") else None
    await expect_error(fetch_json(*parts, method=method, body=body), 405)


@pytest.mark.parametrize(
    "params",
    [{"since": "abc"}, {"since": "-1"}, {"limit": "1.5"}, {"limit": "-3"}, {"since": ""}],
)
async def test_since_and_limit_must_be_whole_non_negative_numbers(
    jp_serverapp, fetch_json, jp_ws_fetch, params
):
    body = await expect_error(fetch_json("processes", "django", "log", params=params), 400)
    assert next(iter(params)) in body["message"]
    if "since" in params:
        with pytest.raises(HTTPClientError) as caught:
            await jp_ws_fetch(*API, "processes", "django", "log", "ws", params=params)
        assert caught.value.code == 400


async def test_wait_must_be_a_number_of_seconds(jp_serverapp, fetch_json):
    await expect_error(
        fetch_json("processes", "django", "start", method="POST", params={"wait": "soon"}),
        400,
        "wait",
    )


@pytest.mark.parametrize("headers", [{"Authorization": ""}, {"Authorization": "token wrong"}])
async def test_no_or_wrong_token_is_refused_everywhere(
    jp_serverapp, fetch_json, jp_ws_fetch, headers
):
    for call in (
        fetch_json("processes", headers=headers),
        fetch_json("processes", "django", "start", method="POST", headers=headers),
        fetch_json("processes", "django", "log", method="DELETE", headers=headers),
    ):
        with pytest.raises(HTTPClientError) as caught:
            await call
        assert caught.value.code in (401, 403)
    for parts in (("processes", "django", "log", "ws"), ("status", "ws")):
        with pytest.raises(HTTPClientError) as caught:
            await jp_ws_fetch(*API, *parts, headers=headers)
        assert caught.value.code in (401, 403)
    assert jp_serverapp.web_app.settings["fujita_manager"].get("django").state == "stopped"


async def test_websocket_from_a_foreign_origin_is_refused(
    jp_serverapp, jp_http_port, jp_fetch, jp_ws_fetch
):
    """A browser's cookie-authenticated socket from another site (token requests are not CSRF-able)."""
    cookie = cookie_header(await login_cookies(jp_fetch, jp_serverapp.identity_provider.token))
    for parts in (("processes", "django", "log", "ws"), ("status", "ws")):
        # the login cookie is named after the host it was set for
        browser = {"Authorization": "", "Cookie": cookie, "Host": f"127.0.0.1:{jp_http_port}"}
        same_site = await jp_ws_fetch(
            *API, *parts, headers=browser | {"Origin": f"http://127.0.0.1:{jp_http_port}"}
        )
        same_site.close()
        with pytest.raises(HTTPClientError) as caught:
            await jp_ws_fetch(*API, *parts, headers=browser | {"Origin": "http://evil.example"})
        assert caught.value.code == 403
        assert "message" in json.loads(caught.value.response.body)  # JSON, not tornado's text


async def login_cookies(jp_fetch, token: str) -> dict[str, str]:
    """Log in through Jupyter's form, as a browser does; returns the cookies it set."""

    def cookies_of(response) -> dict[str, str]:
        return dict(c.split(";")[0].split("=", 1) for c in response.headers.get_list("Set-Cookie"))

    cookies = cookies_of(await jp_fetch("login", headers={"Authorization": ""}))
    response = await jp_fetch(
        "login",
        method="POST",
        body=f"_xsrf={cookies['_xsrf']}&password={token}",
        headers={"Authorization": "", "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())},
        follow_redirects=False,
        raise_error=False,
    )
    assert response.code == 302, response.body
    return cookies | cookies_of(response)


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def test_cookie_authenticated_post_needs_the_xsrf_token(
    jp_serverapp, jp_fetch, site, manager
):
    cookies = await login_cookies(jp_fetch, jp_serverapp.identity_provider.token)
    path = (*API, "processes", "django", "start")
    refused = await jp_fetch(
        *path,
        method="POST",
        body=b"",
        headers={"Authorization": "", "Cookie": cookie_header(cookies)},
        raise_error=False,
    )
    assert refused.code == 403
    assert manager.get("django").state == "stopped"
    accepted = await jp_fetch(
        *path,
        method="POST",
        body=b"",
        params={"wait": "0"},
        headers={
            "Authorization": "",
            "Cookie": cookie_header(cookies),
            "X-XSRFToken": cookies["_xsrf"],
        },
        raise_error=False,
    )
    assert accepted.code == 200, accepted.body
    assert json.loads(accepted.body)["state"] in ("starting", "running")


async def test_no_manage_py_is_409_naming_the_setting(jp_serverapp, fetch_json, manager):
    body = await expect_error(
        fetch_json("processes", "django", "start", method="POST"), 409, "Fujita.manage_py"
    )
    assert "No manage.py found" in body["message"]
    assert manager.get("django").state == "stopped"


async def test_port_taken_by_another_program_is_crashed_with_a_port_error(
    site, fetch_json, django_port
):
    with socket.socket() as other:
        other.bind(("127.0.0.1", django_port))
        other.listen()
        status = await fetch_json("processes", "django", "start", method="POST")
    assert status["state"] == "crashed"
    assert status["error"]["kind"] == "port"
    assert "already in use" in status["message"]


# -- a client that stops reading ---------------------------------------------------------------


async def test_a_client_that_stops_reading_slows_nobody_and_later_gets_every_line_from_disk(
    jp_serverapp, jp_http_port, jp_ws_fetch, fetch_json, manager
):
    cache = manager.get("django").cache
    cache.max_lines, cache.max_bytes = 2_000, 1 << 20
    token = jp_serverapp.identity_provider.token
    # A client that does not read: a small receive buffer, and no recv() until later.
    stalled = await asyncio.to_thread(
        websocket.create_connection,
        f"ws://127.0.0.1:{jp_http_port}/user/alice/fujita/api/processes/django/log/ws",
        header=[f"Authorization: token {token}"],
        sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)],
        timeout=60,
    )
    live = await jp_ws_fetch(*API, "processes", "django", "log", "ws")
    for batch in range(100):
        cache.append("stdout", [f"{batch} " + "x" * 200] * 1000, 1.0)
        await asyncio.sleep(0)
    # The server still answers, and the live client gets the newest line.
    assert (await fetch_json("processes", "django"))["last_seq"] == 100_000
    await read_lines_until(live, lambda l: l["seq"] == 100_000, timeout=60)
    live.close()
    gaps, last = [], 0
    while last < 100_000:
        message = json.loads(await asyncio.to_thread(stalled.recv))
        if message["type"] == "gap":
            assert message["from_seq"] == last + 1
            gaps.append(message)
            last = message["to_seq"]
        elif message["type"] == "lines":
            seqs = [l["seq"] for l in line_records(message["lines"])]
            assert seqs == list(range(last + 1, last + 1 + len(seqs)))  # nothing silently lost
            last = seqs[-1]
    # The cache held 2,000 lines; the other 98,000 came from disk: none skipped.
    assert gaps == [], gaps
    stalled.close()


async def test_a_child_flooding_its_pipes_leaves_the_server_responsive_and_bounded(
    jp_serverapp, jp_root_dir, fetch_json, manager
):
    (jp_root_dir / "manage.py").write_text(
        "import sys\n"
        "out = sys.stdout.buffer\n"
        "line = b'%07d ' + b'f' * 92 + b'\\n'\n"
        "for i in range(1_000_000):\n"
        "    out.write(line % i)\n"
        "out.write(b'x' * (10 * 1024 * 1024) + b'\\n')\n"
    )
    status = await fetch_json("processes", "django", "start", method="POST", params={"wait": "0"})
    assert status["state"] == "starting"
    answered = 0

    async def flood_ended() -> bool:
        nonlocal answered
        answered += 1  # each GET is answered while a million lines flow in
        return (await fetch_json("processes", "django"))["state"] != "starting"

    await wait_for(flood_ended, 120, "the flood to end")
    cache = manager.get("django").cache
    assert cache.last_seq >= 1_000_001
    assert cache.size <= 10_000 and cache.nbytes <= 16 * 1024 * 1024
    tail = await fetch_json("processes", "django", "log", params={"limit": 3})
    assert "line cut at 65536 bytes" in tail["lines"][-2]["text"]
    assert answered > 0


async def test_start_on_another_address_moves_django_there(site, fetch_json, django_port):
    from conftest import free_port

    other = free_port()
    body = json.dumps({"address": f"127.0.0.1:{other}"})
    status = await fetch_json("processes", "django", "start", method="POST", body=body)
    assert status["state"] == "running" and status["url"] == f"http://127.0.0.1:{other}/"
    await expect_error(
        fetch_json(
            "processes",
            "django",
            "start",
            method="POST",
            body=json.dumps({"address": f"127.0.0.1:{django_port}"}),
        ),
        409,
        "restart it to move it",
    )


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("not json", "JSON"),
        ("[1]", "JSON object"),
        ('{"port": 1}', "Unknown field"),
        ('{"address": 8001}', "string"),
        ('{"address": "nowhere"}', "host:port"),
    ],
)
async def test_a_bad_start_body_is_400(site, fetch_json, manager, body, match):
    await expect_error(
        fetch_json("processes", "django", "start", method="POST", body=body), 400, match
    )
    assert manager.get("django").state == "stopped"


async def test_a_since_from_another_log_is_answered_with_cleared_even_when_it_looks_valid(
    jp_serverapp, jp_ws_fetch, fetch_json, manager
):
    manager.get("django").cache.append("stdout", ["one", "two", "three"], 1.0)
    log = await fetch_json("processes", "django", "log")
    same = await jp_ws_fetch(
        *API, "processes", "django", "log", "ws", params={"since": 1, "log_id": log["log_id"]}
    )
    message = await next_message(same)
    assert message["type"] == "lines" and message["log_id"] == log["log_id"]
    assert [l["text"] for l in line_records(message["lines"])] == ["two", "three"]
    same.close()
    other = await jp_ws_fetch(
        *API, "processes", "django", "log", "ws", params={"since": 1, "log_id": "earlier-server"}
    )
    assert (await next_message(other))["type"] == "cleared"
    lines = await read_lines_until(other, lambda l: l["text"] == "three")
    assert [l["text"] for l in lines] == ["one", "two", "three"]
    other.close()


# -- Django-aware endpoints ---------------------------------------------------------------------


async def test_hint_actions_and_stdin_refuse_bad_input(site, fetch_json, manager):
    await expect_error(
        fetch_json("processes", "django", "actions", "dance", method="POST"), 404, "dance"
    )
    await expect_error(
        fetch_json("processes", "django", "stdin", method="POST", body='{"text": "c\\n"}'),
        409,
        "not running",
    )
    for body, match in [("{}", "text"), ('{"text": 1}', "text"), ('{"txt": "c"}', "Unknown field")]:
        await expect_error(
            fetch_json("processes", "django", "stdin", method="POST", body=body), 400, match
        )
    await fetch_json("processes", "django", "start", method="POST")
    await expect_error(
        fetch_json(
            "processes", "django", "stdin", method="POST", body=json.dumps({"text": "x" * 5000})
        ),
        400,
        "at most 4096",
    )


async def test_migrate_through_the_api_clears_the_hint(site, fetch_json):
    status = await fetch_json("processes", "django", "start", method="POST")
    assert [hint["action"] for hint in status["hints"]] == ["migrate"]
    status = await fetch_json("processes", "django", "actions", "migrate", method="POST")
    assert status["hints"] == [] and status["state"] == "running"


async def test_log_filters_by_request_status_and_text(running, fetch_json, jp_ws_fetch, manager):
    for path in ("", "missing/", "?find=me"):
        try:
            await asyncio.to_thread(http_get, running["url"] + path)
        except OSError:
            pass  # the 404
    cache = manager.get("django").cache
    await wait_for(
        lambda: any("find=me" in l.text for l in cache.tail(cache.size)), 10, "the request line"
    )
    not_found = await fetch_json("processes", "django", "log", params={"status": "4xx"})
    assert [l["request"]["path"] for l in not_found["lines"]] == ["/missing/"]
    assert not_found["lines"][0]["request"]["status"] == 404
    found = await fetch_json("processes", "django", "log", params={"q": "FIND=ME"})
    assert [l["request"]["status"] for l in found["lines"]] == [200]
    ok = await fetch_json("processes", "django", "log", params={"status": "200", "limit": 1})
    assert [l["request"]["path"] for l in ok["lines"]] == ["/?find=me"]
    await expect_error(
        fetch_json("processes", "django", "log", params={"status": "ok"}), 400, "5xx"
    )
    ws = await jp_ws_fetch(*API, "processes", "django", "log", "ws", params={"status": "4xx"})
    lines = await read_lines_until(ws, lambda l: True)
    assert {l["request"]["status"] for l in lines} == {404}
    ws.close()


async def test_runs_are_listed_and_a_runs_log_downloads_as_text(site, fetch_json, jp_fetch):
    first = await fetch_json("processes", "django", "start", method="POST")
    assert first["state"] == "running", first["message"]
    await fetch_json("processes", "django", "stop", method="POST")
    second = await fetch_json("processes", "django", "start", method="POST")
    assert second["state"] == "running"
    runs = (await fetch_json("processes", "django", "runs"))["runs"]
    assert [run["number"] for run in runs] == [1, 2]
    assert runs[0]["returncode"] is not None and runs[0]["last_seq"] >= runs[0]["first_seq"]
    assert runs[0]["error"] is None and runs[1]["ended"] is None and runs[1]["last_seq"] is None
    text = (await jp_fetch(*API, "processes", "django", "log.txt", params={"run": "1"})).body
    lines = text.decode().splitlines()
    assert lines[0].startswith("Starting: ") and "Stopped (exit code" in lines[-1]
    assert not any("Stopped (exit code" in line for line in lines[:-1])
    whole = await jp_fetch(*API, "processes", "django", "log.txt")
    assert whole.headers["Content-Disposition"] == 'attachment; filename="django.log"'
    assert len(whole.body.decode().splitlines()) > len(lines)
    with pytest.raises(HTTPClientError) as missing:
        await jp_fetch(*API, "processes", "django", "log.txt", params={"run": "9"})
    assert missing.value.code == 404


async def test_a_search_reads_the_disk_too(jp_serverapp, fetch_json, manager):
    cache = manager.get("django").cache
    cache.max_lines = 10
    for batch in range(10):
        texts = [f"line {batch}-{i}" for i in range(100)]
        if batch == 2:
            texts[50] = "the one WARNING that matters"
        cache.append("stderr", texts, 1.0)
        await asyncio.sleep(0)
    assert cache.first_seq > 300  # the match left memory long ago
    page = await fetch_json("processes", "django", "log", params={"since": 0, "q": "warning"})
    assert [line["text"] for line in page["lines"]] == ["the one WARNING that matters"]
    assert page["next_since"] == cache.last_seq
