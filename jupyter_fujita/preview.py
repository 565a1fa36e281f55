"""The preview route: the supervised site, served through the Jupyter server behind its auth.

`{base_url}fujita/site/{name}/...` is forwarded to runserver's own address with the prefix
taken off, so Django runs exactly as plain runserver does (forwarding.py; preview_rules.py says
what changes on the way in and out). With `Fujita.preview_origin` set, the route only sends
the browser, with a one-time ticket, to that origin of the preview's own (preview_origin.py).
"""

from __future__ import annotations

import html
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from .errors import FujitaError
from .forwarding import SAFE_METHODS, SiteForwarding
from .handlers import AUTH_RESOURCE
from .preview_rules import Gate, has_token, without_token
from .project import DjangoProject
from .supervisor import Supervisor

SHIM = Path(__file__).resolve().parent / "preview_shim.js"


def preview_path(base_url: str, name: str) -> str:
    return url_path_join(base_url, "fujita", "site", name) + "/"


class SitePreviewHandler(SiteForwarding, JupyterHandler):
    """The site under Jupyter's prefix, for users Jupyter lets `read` (and `execute` to write)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    async def get(self, name: str, path: str = "") -> None:
        await self._serve(name)

    head = post = put = patch = delete = options = get

    async def _serve(self, name: str) -> None:
        method = self.request.method or "GET"
        action = "read" if method in SAFE_METHODS else "execute"
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"Not authorized to {action} fujita.")
        self.refuse_cross_site(method)
        try:
            supervisor: Supervisor = self.settings["fujita_manager"].get(name)
        except FujitaError as error:
            raise web.HTTPError(404, error.message) from None
        if not isinstance(supervisor.project, DjangoProject):
            raise web.HTTPError(404, f"{name} is not a site: only django is previewed.")
        self.settings["fujita_last_activity"] = datetime.now(timezone.utc)
        origin = self.settings.get("fujita_preview_origin")
        if origin is not None and name == origin.name:
            await origin.send_there(self)
            return
        if method == "GET" and has_token(self.request.query) and self.is_navigation():
            # Jupyter has set its login cookie by now: the token leaves the address bar, and so
            # never reaches a Referer or the site's own pages.
            query = without_token(self.request.query)
            self.redirect(self.request.path + (f"?{query}" if query else ""))
            return
        await self.serve_site(supervisor)

    def site_prefix(self, supervisor: Supervisor) -> str:
        return preview_path(self.base_url, supervisor.name).rstrip("/")

    def shim_tag(self, gate: Gate) -> bytes:
        src = url_path_join(self.base_url, "fujita", "preview-shim.js")
        data = html.escape(json.dumps({"prefix": gate.prefix, "direct": gate.direct_origins}))
        return f'<script src="{html.escape(src)}" data-fujita="{data}"></script>'.encode()


class PreviewShimHandler(JupyterHandler):
    """The script a previewed page loads first: it puts the prefix on the URLs the page's own
    scripts build (fetch, XMLHttpRequest, history, EventSource, links and forms made later)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    def get(self) -> None:
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish(SHIM.read_bytes())


class _Reached(web.RequestHandler):
    def get(self) -> None:
        self.set_status(204)
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Cache-Control", "no-store")


class ReachProbe:
    """Tells a page whether its browser runs on this machine, without touching the site.

    A page that would ask Django's own address whether it answers would send the site a
    request (a GET / with whatever side effects the view has). Instead this listens on a free
    port of the loopback interface, beside Django, and answers 204: a browser on this machine
    reaches it; one that reaches Jupyter through an SSH tunnel does not (the tunnel forwards
    Jupyter's port, not a port picked at random).
    """

    def __init__(self) -> None:
        self._server: HTTPServer | None = None
        self.url: str | None = None

    def start(self) -> str:
        sockets = bind_sockets(0, "127.0.0.1")
        self._server = HTTPServer(web.Application([(r"/", _Reached)]))
        self._server.add_sockets(sockets)
        self.url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()


class AddSlashHandler(JupyterHandler):
    @web.authenticated
    def get(self, name: str) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(preview_path(self.base_url, name) + query)


def preview_handlers() -> list[tuple[Any, ...]]:
    return [
        (r"fujita/preview-shim\.js", PreviewShimHandler),
        (r"fujita/site/(?P<name>[^/]+)", AddSlashHandler),
        (r"fujita/site/(?P<name>[^/]+)/(?P<path>.*)", SitePreviewHandler),
    ]
