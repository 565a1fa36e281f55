"""Hostile and broken requests against a real server: each gets a short 4xx JSON answer, and the
server is as healthy afterwards as before (status, stop and the status WebSocket all answer)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from waiting import wait_for
from tornado.httpclient import HTTPClientError

API = ("fujita", "api")
START = ("processes", "django", "start")


@pytest.fixture
def manager(jp_serverapp):
    return jp_serverapp.web_app.settings["fujita_manager"]


@pytest.fixture
def call(jp_fetch):
    """The status and JSON body of a request; fails on anything but a JSON object answer."""

    async def call(*parts, method="POST", body=None, **kwargs):
        if method == "POST" and body is None:
            body = b""
        response = await jp_fetch(
            *API, *parts, method=method, body=body, raise_error=False, **kwargs
        )
        assert response.headers["Content-Type"].startswith("application/json"), response.body[:200]
        answer = json.loads(response.body)
        assert isinstance(answer, dict)
        return response.code, answer

    return call


async def assert_healthy(call, jp_ws_fetch, configured_address: str) -> None:
    """What a broken request used to spoil: status, stop and the status feed still answer."""
    code, status = await call("processes", "django", method="GET")
    assert code == 200 and status["state"] == "stopped", status
    assert status["command"] == [] or status["command"][-1] == configured_address
    code, stopped = await call("processes", "django", "stop")
    assert code == 200 and stopped["state"] == "stopped"
    ws = await jp_ws_fetch(*API, "status", "ws")
    snapshot = json.loads(await asyncio.wait_for(ws.read_message(), 10))
    assert snapshot["type"] == "snapshot"
    assert [p["state"] for p in snapshot["processes"]] == ["stopped"]
    ws.close()


BAD_ADDRESSES = [
    ("\ud800:8000", "host"),  # a lone surrogate: JSON carries it, UTF-8 and argv cannot
    ("127.0.0.1:\uff18\uff10\uff10\uff10", "host:port"),  # full-width digits pass str.isdigit
    ("x" * 257 + ":8000", "at most 256"),
    ("192.0.2.1:8000", "cannot listen"),  # TEST-NET: no interface of this machine has it
    ("a" * 64 + ".invalid:8000", "cannot resolve"),  # a label too long: fails with no lookup
    ("bad host!:8000", "host"),
]


@pytest.mark.parametrize(("address", "match"), BAD_ADDRESSES)
async def test_a_bad_address_is_400_and_changes_nothing(
    site, call, jp_ws_fetch, manager, django_port, address, match
):
    configured = manager.get("django").project.address
    for action in ("start", "restart"):
        body = json.dumps({"address": address})
        code, answer = await call("processes", "django", action, body=body)
        assert code == 400 and match in answer["message"], answer
        assert len(answer["message"]) < 400  # names the input without echoing all of it
    assert manager.get("django").project.address == configured == f"127.0.0.1:{django_port}"
    await assert_healthy(call, jp_ws_fetch, configured)


async def test_a_big_body_is_413_with_a_short_answer(jp_serverapp, call, jp_ws_fetch, manager):
    body = json.dumps({"address": "1" * (10 * 1024 * 1024)})
    code, answer = await call(*START, body=body)
    assert code == 413 and "at most 65536" in answer["message"]
    assert len(answer["message"]) < 200
    await assert_healthy(call, jp_ws_fetch, manager.get("django").project.address)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("[" * 100_000 + "]" * 100_000, "at most"),  # beyond 64 KiB: 413 before any parsing
        ("[" * 5_000 + "]" * 5_000, "deeper"),
        ('{"address": ' + "[" * 20 + "]" * 20 + "}", "deeper"),
        ('{"address": "[[[[[[[[[[[[[[[[[[[["}', "host"),  # brackets in a string do not nest
        (b"\xff\xfe{}", "JSON"),
        ('{"address": "127.0.0.1:1", "address": 5}', "string"),
    ],
)
async def test_a_malformed_body_is_4xx_json(jp_serverapp, call, jp_ws_fetch, manager, body, match):
    code, answer = await call(*START, body=body)
    assert code in (400, 413) and match in answer["message"], answer
    await assert_healthy(call, jp_ws_fetch, manager.get("django").project.address)


async def test_stdin_with_a_lone_surrogate_is_400(jp_serverapp, call):
    code, answer = await call("processes", "django", "stdin", body='{"text": "\\ud800\\n"}')
    assert code == 400 and "surrogate" in answer["message"]


async def test_an_unknown_action_is_404_whatever_its_body(jp_serverapp, call):
    code, answer = await call("processes", "django", "explode", body="not json at all")
    assert code == 404 and "explode" in answer["message"]


async def test_a_huge_query_argument_is_named_not_echoed(jp_serverapp, call):
    code, answer = await call(
        "processes", "django", "log", method="GET", params={"since": "9" * 20_000 + "x"}
    )
    assert code == 400 and "since" in answer["message"] and len(answer["message"]) < 200


@pytest.mark.parametrize(
    ("path", "params", "headers", "status"),
    [
        ("processes/nope/log/ws", {}, {}, 404),
        ("processes/django/log/ws", {"since": "-1"}, {}, 400),
        ("processes/django/log/ws", {"status": "ok"}, {}, 400),
        ("status/ws", {}, {"Authorization": "token wrong"}, 403),
    ],
)
async def test_a_refused_websocket_handshake_is_json(
    jp_serverapp, jp_ws_fetch, path, params, headers, status
):
    with pytest.raises(HTTPClientError) as caught:
        await jp_ws_fetch(*API, *path.split("/"), params=params, headers=headers)
    assert caught.value.code == status
    assert "message" in json.loads(caught.value.response.body)


async def test_a_plain_get_of_a_websocket_path_is_400_json(jp_serverapp, call):
    code, answer = await call("status", "ws", method="GET")
    assert code == 400 and "WebSocket" in answer["message"]


async def test_a_status_that_cannot_be_encoded_is_logged_and_the_feed_goes_on(
    jp_serverapp, jp_ws_fetch, call, manager
):
    """Fault injection: one status no encoder takes must not silence the status socket."""
    logged: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: logged.append(record.getMessage())
    jp_serverapp.log.addHandler(handler)
    try:
        ws = await jp_ws_fetch(*API, "status", "ws")
        assert json.loads(await asyncio.wait_for(ws.read_message(), 10))["type"] == "snapshot"
        supervisor = manager.get("django")
        supervisor.hints["bad"] = {"kind": object()}  # what no JSON encoder takes
        supervisor.notify()
        await wait_for(lambda: any("cannot encode" in m for m in logged), 10, "the error logged")
        del supervisor.hints["bad"]
        supervisor.notify()
        message = json.loads(await asyncio.wait_for(ws.read_message(), 10))
        assert message["type"] == "status" and message["process"]["hints"] == []
        ws.close()
    finally:
        jp_serverapp.log.removeHandler(handler)


async def test_text_from_the_os_that_is_not_utf8_is_shown_replaced(jp_serverapp, call, manager):
    """A folder named in bytes that are not UTF-8 reaches Python as lone surrogates."""
    supervisor = manager.get("django")
    supervisor.run.command, supervisor.run.cwd = ["python", "manage.py"], "/srv/caf\udce9"
    code, status = await call("processes", "django", method="GET")
    assert code == 200 and status["cwd"] == "/srv/caf\ufffd"


async def test_a_restart_to_a_bad_address_leaves_django_running_where_it_was(
    site, call, manager, django_port
):
    code, running = await call(*START)
    assert code == 200 and running["state"] == "running", running
    for action in ("restart", "start"):
        code, answer = await call("processes", "django", action, body='{"address": "\\ud800:1"}')
        assert code == 400, answer
    code, status = await call("processes", "django", method="GET")
    assert (status["state"], status["pid"]) == ("running", running["pid"])
    assert status["url"] == f"http://127.0.0.1:{django_port}/"
    code, stopped = await call("processes", "django", "stop")
    assert stopped["state"] == "stopped"
