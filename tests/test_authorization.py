"""Who may do what: every route of the API against every kind of caller, in a real server.

docs/api.md: `read` on `fujita` to watch (GET, both WebSockets), `execute` for every change.
The project has no manage.py here, so a change that gets through answers 409 ("cannot start as
configured") rather than starting Django: the status alone tells authorization passed.
"""

from __future__ import annotations

import json

import pytest
from jupyter_server.auth.authorizer import Authorizer
from tornado.httpclient import HTTPClientError

API = ("fujita", "api")
WS = "WS"

ROUTES = [
    ("GET", "processes"),
    ("GET", "processes/django"),
    ("POST", "processes/django/start"),
    ("POST", "processes/django/stop"),
    ("POST", "processes/django/restart"),
    ("POST", "processes/all/start"),
    ("POST", "processes/all/stop"),
    ("GET", "processes/django/log"),
    ("DELETE", "processes/django/log"),
    ("POST", "processes/django/actions/migrate"),
    ("POST", "processes/django/stdin"),
    (WS, "processes/django/log/ws"),
    (WS, "status/ws"),
    ("GET", "openapi.json"),
]
BODIES = {"processes/django/stdin": json.dumps({"text": "c\n"})}

REFUSED = {route: 403 for route in ROUTES}
WATCH = {route: (101 if route[0] == WS else 200) for route in ROUTES if route[0] in ("GET", WS)}
EXPECTED = {
    "no credentials": REFUSED,
    "wrong token": REFUSED,
    "read only": REFUSED | WATCH,
    "read and write, no execute": REFUSED | WATCH,  # what the bare `@authorized` let through
    "full": REFUSED
    | WATCH
    | {
        ("POST", "processes/django/start"): 409,  # no manage.py: the handler ran
        ("POST", "processes/django/stop"): 200,
        ("POST", "processes/django/restart"): 409,
        ("POST", "processes/all/start"): 409,  # django has no manage.py: the handler ran
        ("POST", "processes/all/stop"): 200,
        ("DELETE", "processes/django/log"): 200,
        ("POST", "processes/django/actions/migrate"): 409,
        ("POST", "processes/django/stdin"): 409,  # nothing running to read it
    },
}
HEADERS = {"no credentials": {"Authorization": ""}, "wrong token": {"Authorization": "token nope"}}


class ReadOnlyAuthorizer(Authorizer):
    """Grants `read` on fujita and nothing else of ours (the rest of Jupyter as usual)."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return resource != "fujita" or action == "read"


class NoExecuteAuthorizer(Authorizer):
    """Grants everything but `execute`: a user who may edit files but not run code."""

    def is_authorized(self, handler, user, action, resource) -> bool:
        return action != "execute"


@pytest.fixture(params=list(EXPECTED))
def caller(request) -> str:
    return request.param


@pytest.fixture
def jp_server_config(django_port, caller):
    config = {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}},
        "Fujita": {"address": f"127.0.0.1:{django_port}", "stop_timeout": 3.0},
    }
    if caller == "read only":
        config["ServerApp"]["authorizer_class"] = ReadOnlyAuthorizer
    elif caller.startswith("read and write"):
        config["ServerApp"]["authorizer_class"] = NoExecuteAuthorizer
    return config


async def answer(jp_fetch, jp_ws_fetch, method: str, path: str, headers: dict) -> int:
    """The status the route gives this caller; a refusal must be JSON with a message."""
    parts = path.split("/")
    if method == WS:
        try:
            ws = await jp_ws_fetch(*API, *parts, headers=headers)
        except HTTPClientError as error:
            assert json.loads(error.response.body)["message"]
            return error.code
        ws.close()
        return 101
    body = BODIES.get(path, "") if method == "POST" else None
    response = await jp_fetch(
        *API, *parts, method=method, body=body, headers=headers, raise_error=False
    )
    assert isinstance(json.loads(response.body), dict), response.body  # refusals too
    return response.code


async def test_each_route_answers_each_caller_as_documented(
    jp_serverapp, jp_fetch, jp_ws_fetch, caller
):
    manager = jp_serverapp.web_app.settings["fujita_manager"]
    cache = manager.get("django").cache
    cache.append("stdout", ["a line that only an executor may clear"], 1.0)
    headers = HEADERS.get(caller, {})
    seen = {
        (method, path): await answer(jp_fetch, jp_ws_fetch, method, path, headers)
        for method, path in ROUTES
    }
    assert seen == EXPECTED[caller]
    if caller != "full":  # nothing changed for a caller who may only watch, or not even that
        assert cache.size == 1
        assert manager.get("django").state == "stopped"
