"""Configurations of the preview and the address: off, and port 0 on a shared hub."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from conftest import free_port
from tornado.httpclient import AsyncHTTPClient


@pytest.fixture
def jp_server_config(request):
    fujita = {"stop_timeout": 3.0, **request.param}
    return {"ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}}, "Fujita": fujita}


async def through_jupyter(server, port: int, base_url: str):
    return await AsyncHTTPClient().fetch(
        f"http://127.0.0.1:{port}{base_url}fujita/site/django/",
        headers={"Authorization": f"token {server.identity_provider.token}"},
        raise_error=False,
        follow_redirects=False,
    )


async def act(jp_fetch, action: str) -> dict:
    response = await jp_fetch(
        "fujita", "api", "processes", "django", action, method="POST", body=b""
    )
    return json.loads(response.body)


@pytest.mark.parametrize(
    "jp_server_config", [{"preview": False, "address": f"127.0.0.1:{free_port()}"}], indirect=True
)
async def test_with_the_preview_off_there_is_no_route_and_no_link(
    site, jp_fetch, jp_serverapp, jp_http_port, jp_base_url
):
    status = await act(jp_fetch, "start")
    assert status["state"] == "running", status["message"]
    assert (status["preview_url"], status["preview"]) == (None, "off")
    refused = await through_jupyter(jp_serverapp, jp_http_port, jp_base_url)
    assert refused.code in (302, 404)  # Jupyter's own not-found handling: no site
    assert b"Hello from Django" not in (refused.body or b"")
    await act(jp_fetch, "stop")


@pytest.mark.parametrize(
    "jp_server_config", [{"preview": True, "address": "127.0.0.1:0"}], indirect=True
)
async def test_port_zero_picks_a_free_port_at_each_start_and_the_links_follow(
    site, jp_fetch, jp_serverapp, jp_http_port, jp_base_url
):
    status = await act(jp_fetch, "start")
    assert status["state"] == "running", status["message"]
    port = urlsplit(status["url"]).port
    assert port and port != 0
    assert status["command"][-1] == f"127.0.0.1:{port}"
    direct = await AsyncHTTPClient().fetch(status["url"])
    assert b"Hello from Django" in direct.body
    through = await through_jupyter(jp_serverapp, jp_http_port, jp_base_url)
    assert b"Hello from Django" in through.body
    restarted = await act(jp_fetch, "restart")
    assert restarted["state"] == "running", restarted["message"]
    new_port = urlsplit(restarted["url"]).port
    assert (await AsyncHTTPClient().fetch(restarted["url"])).code == 200
    assert restarted["command"][-1] == f"127.0.0.1:{new_port}"
    stopped = await act(jp_fetch, "stop")
    assert stopped["state"] == "stopped"
