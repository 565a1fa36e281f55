"""Property-based fuzzing of a running server: hypothesis draws requests over the described API
(and beyond it), each answer must be JSON with a status the description gives for it (never a
500), a 200 must fit its schema, and afterwards the server is healthy with no stray process.

The project is a stand-in manage.py (a real process): it listens where runserver would and
prints Django's start line, so start, stop, restart, stdin and the actions all really run,
fast. Every address the fuzz may send is either refused by parsing or one of a few free
loopback ports: nothing else is ever looked up or listened on.
"""

from __future__ import annotations

import asyncio
import json
import re
import textwrap
import urllib.error
import urllib.parse
import urllib.request

import jsonschema
import psutil
import pytest
from conftest import assert_group_gone, free_port
from waiting import wait_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jupyter_fujita import oskit
from jupyter_fujita.project import parse_address
from jupyter_fujita.handlers import OPENAPI

API = ("fujita", "api")
SPEC = json.loads(OPENAPI.read_text())
FAKE_DJANGO = textwrap.dedent(
    """
    import socket, sys, threading
    if sys.argv[1:2] != ["runserver"]:
        sys.exit(0)  # migrate and the like: nothing to do
    host, _, port = sys.argv[2].rpartition(":")
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, int(port)))
    server.listen()
    drain = lambda: [None for _ in iter(lambda: sys.stdin.buffer.read(4096), b"")]
    threading.Thread(target=drain, daemon=True).start()
    print(f"Starting development server at http://{host}:{port}/", flush=True)
    while True:
        server.accept()[0].close()
    """
)
LONE_SURROGATES = ["\ud800", "a\udfffb", "\udcff:8000"]


@pytest.fixture
def ports() -> list[int]:
    return [free_port() for _ in range(3)]


@pytest.fixture
def jp_server_config(ports):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}},
        "Fujita": {"address": f"127.0.0.1:{ports[0]}", "stop_timeout": 3.0, "start_wait": 2.0},
    }


def operation_for(method: str, path: str) -> dict | None:
    """The described operation a concrete path and method fall under, if any. Concrete paths
    before templated ones, as OpenAPI says (processes/all/stop is not processes/{name}/stop)."""
    for template, operations in sorted(SPEC["paths"].items(), key=lambda item: "{" in item[0]):
        pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, "/" + path):
            return operations.get(method.lower())
    return None


def schema_of(operation: dict, code: int) -> dict | None:
    content = operation["responses"][str(code)].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return {**schema, "components": SPEC["components"]} if schema else None


def safe_address(ports: list[int]):
    """Addresses to send: refused by parsing, or a free loopback port of this test."""

    def refused_or_ours(address: str) -> bool:
        try:
            host, port = parse_address(address)
        except ValueError:
            return True
        return host == "127.0.0.1" and port in ports

    ours = st.sampled_from([f"127.0.0.1:{port}" for port in ports])
    odd = st.sampled_from(
        LONE_SURROGATES + ["x" * 257, "127.0.0.1:0", "127.0.0.1:65536", ":", "", "[::1", "8000x"]
    )
    return st.one_of(ours, odd, st.text(max_size=40).filter(refused_or_ours))


def seconds():
    """`wait` values: a few short ones, and text that must be refused (never a long wait)."""

    def refused_or_short(text: str) -> bool:
        try:
            return not 0 <= float(text) <= 3600 or float(text) <= 1
        except ValueError:
            return True

    return st.one_of(
        st.sampled_from(["0", "0.5", "1"]), st.text(max_size=8).filter(refused_or_short)
    )


def json_values():
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )


def requests(ports: list[int]):
    names = st.one_of(st.just("django"), st.text(min_size=1, max_size=12))
    actions = st.one_of(
        st.sampled_from(["start", "stop", "restart", "log", "stdin"]),
        st.text(min_size=1, max_size=10),
    )
    hints = st.one_of(
        st.sampled_from(["migrate", "next-port", "restart"]), st.text(min_size=1, max_size=10)
    )
    paths = st.one_of(
        st.just("processes"),
        names.map(lambda n: f"processes/{n}"),
        st.tuples(names, actions).map(lambda t: f"processes/{t[0]}/{t[1]}"),
        st.tuples(names, hints).map(lambda t: f"processes/{t[0]}/actions/{t[1]}"),
        st.sampled_from(["status/ws", "processes/django/log/ws", "openapi.json", "nothing/here"]),
    )
    query_values = st.one_of(
        st.integers(min_value=-5, max_value=10**6).map(str), st.text(max_size=12)
    )
    queries = st.fixed_dictionaries(
        {},
        optional={
            "wait": seconds(),
            "since": query_values,
            "limit": query_values,
            "status": st.one_of(st.sampled_from(["2xx", "404", "5xx"]), st.text(max_size=6)),
            "q": st.text(max_size=12),
        },
    )
    texts = st.one_of(st.text(max_size=50), st.sampled_from(LONE_SURROGATES), st.just("y" * 5000))
    bodies = st.one_of(
        st.none(),
        json_values().map(json.dumps),
        safe_address(ports).map(lambda a: json.dumps({"address": a})),
        texts.map(lambda t: json.dumps({"text": t})),
        st.binary(max_size=64),
        st.integers(min_value=10, max_value=20_000).map(lambda n: "[" * n + "]" * n),
    )
    methods = st.sampled_from(["GET", "POST", "DELETE", "PUT", "PATCH"])
    anything = st.tuples(methods, paths, queries, bodies)
    # Mostly the described operations, on the real process, so that states really change.
    described = st.sampled_from(
        [(m.upper(), t) for t, ops in SPEC["paths"].items() for m in ops if not t.endswith("/ws")]
    )
    django = st.one_of(st.just("django"), st.just("django"), names)
    concrete = st.tuples(described, django, hints).map(
        lambda t: (t[0][0], t[0][1][1:].replace("{name}", t[1]).replace("{action}", t[2]))
    )
    aimed = st.tuples(concrete, queries, bodies).map(lambda t: (*t[0], t[1], t[2]))
    return st.one_of(aimed, aimed, aimed, anything)


def send(base: str, token: str, method: str, path: str, query: dict, body) -> tuple[int, dict, str]:
    quoted = "/".join(urllib.parse.quote(part, safe="") for part in path.split("/"))
    url = f"{base}fujita/api/{quoted}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if method in ("POST", "PUT", "PATCH") and data is None:
        data = b""
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Authorization": f"token {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            code, raw, kind = response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        code, raw, kind = error.code, error.read(), error.headers["Content-Type"]
    if code == 200 and url.split("?")[0].endswith("/log.txt"):
        # the one answer documented as text: the log, streamed as a download
        assert kind == "text/plain; charset=utf-8", (code, kind)
        return code, raw.decode("utf-8"), url
    assert kind and kind.startswith("application/json"), (code, kind, raw[:200])
    return code, json.loads(raw), url


async def test_fuzzed_requests_get_documented_json_answers_and_leave_the_server_healthy(
    jp_serverapp, jp_root_dir, jp_base_url, jp_http_port, jp_ws_fetch, jp_fetch, ports
):
    (jp_root_dir / "manage.py").write_text(FAKE_DJANGO)
    manager = jp_serverapp.web_app.settings["fujita_manager"]
    supervisor = manager.get("django")
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    token = jp_serverapp.identity_provider.token
    groups: set[int] = set()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests(ports))
    def fuzz(request) -> None:
        method, path, query, body = request
        code, answer, url = send(base, token, method, path, query, body)
        if supervisor.run.pgid:
            groups.add(supervisor.run.pgid)
        assert code != 500, (url, answer)
        operation = operation_for(method, path)
        if operation is None:
            assert code in (404, 405), (method, url, code, answer)
            return
        assert str(code) in operation["responses"], (method, url, body, code, answer)
        schema = schema_of(operation, code)
        if schema:
            jsonschema.Draft202012Validator(schema).validate(answer)

    await asyncio.to_thread(fuzz)

    # Healthy afterwards: status answers, stop ends everything, both sockets give their first
    # message, and no process of any run is left.
    status = json.loads((await jp_fetch(*API, "processes", "django")).body)
    assert status["name"] == "django"
    stopped = json.loads(
        (await jp_fetch(*API, "processes", "django", "stop", method="POST", body=b"")).body
    )
    assert stopped["state"] in ("stopped", "crashed"), stopped
    # A line to read: the fuzz may have cleared the log last, with Django stopped.
    supervisor.say("after the fuzz")
    for parts, first in (
        (("status", "ws"), "snapshot"),
        (("processes", "django", "log", "ws"), "lines"),
    ):
        ws = await jp_ws_fetch(*API, *parts)
        message = json.loads(await asyncio.wait_for(ws.read_message(), 10))
        assert message["type"] in (first, "gap"), message
        ws.close()
    for pgid in groups:
        assert_group_gone(pgid)
    for port in ports:
        await wait_for(lambda p=port: oskit.port_is_free("127.0.0.1", p), 10, f"port {port}")
    assert stray_manage_py() == []


def stray_manage_py() -> list[int]:
    """Live descendants of this test process running a manage.py."""
    strays = []
    for process in psutil.Process().children(recursive=True):
        try:
            if process.status() != psutil.STATUS_ZOMBIE and "manage.py" in process.cmdline():
                strays.append(process.pid)
        except psutil.Error:  # ended meanwhile
            pass
    return strays
