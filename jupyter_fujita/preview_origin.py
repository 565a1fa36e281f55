"""The preview on an origin of its own (`Fujita.preview_origin`: a port, or scheme://host:port).

On Jupyter's origin a previewed page's scripts could use the user's Jupyter session: read its
API, start a kernel, script the JupyterLab page that frames it. On another origin (another
port) the browser's same-origin policy and Jupyter's own origin check stop all of that, and
the site sits at the origin's root, so nothing needs a prefix.

The Jupyter server also listens on that port, for the preview alone. A browser gets there from
the preview route on Jupyter's origin, which (Jupyter's login and authorization passed) sends
it to `/__fujita__/enter?ticket=…`: a one-time ticket, good for a minute, signed with a secret
of this server's, that becomes a signed cookie of the preview origin. Every request there needs
that cookie; a write needs a ticket that was issued to a user Jupyter lets `execute`.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from jupyter_core.utils import ensure_async
from tornado import web
from tornado.httpserver import HTTPServer

from .forwarding import SAFE_METHODS, SiteForwarding
from .manager import ProcessManager
from .preview_rules import without_token
from .supervisor import Supervisor

log = logging.getLogger(__name__)
TICKET_SECONDS = 60
COOKIE = "fujita-preview"  # the preview origin's own; never forwarded to Django
ENTER = "/__fujita__/enter"


class PreviewOrigin:
    """The preview of one process (`name`) served at `origin` by this Jupyter server."""

    def __init__(
        self, origin: str, name: str, manager: ProcessManager, jupyter_port: Callable[[], int]
    ) -> None:
        """`origin` is a port (the host and scheme the browser uses for Jupyter) or a whole
        scheme://host:port."""
        if origin.isdigit():
            self.fixed, self.port = None, int(origin)
        else:
            split = urlsplit(origin)
            if split.scheme not in ("http", "https") or not split.hostname or not split.port:
                raise ValueError(
                    f"Fujita.preview_origin must be a port or scheme://host:port, not {origin!r}"
                )
            self.fixed, self.port = f"{split.scheme}://{split.netloc}", split.port
        self.name = name
        self.manager = manager
        self.jupyter_port = jupyter_port
        self.secret = secrets.token_bytes(32)
        self._used: dict[str, float] = {}  # ticket nonce -> expiry, so a ticket works once
        self._server: HTTPServer | None = None

    def listen(self, address: str) -> None:
        app = web.Application(
            [(r"/.*", OriginSiteHandler, {"gate": self})],
            cookie_secret=self.secret,
            xsrf_cookies=False,
        )
        self._server = HTTPServer(app, xheaders=False)
        self._server.listen(self.port, address=address)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def origin_for(self, request: Any) -> str:
        """The preview origin as the browser that sent `request` to Jupyter must write it."""
        if self.fixed:
            return self.fixed
        host = urlsplit(f"//{request.host}").hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
        scheme = request.headers.get("X-Forwarded-Proto", request.protocol).split(",")[0]
        return f"{scheme.strip()}://{host}:{self.port}"

    async def send_there(self, handler: Any) -> None:
        """From the preview route on Jupyter's origin: a navigation goes to the same page on
        the preview origin with a ticket; nothing else is served on Jupyter's origin."""
        origin = self.origin_for(handler.request)
        if handler.request.method not in ("GET", "HEAD"):
            raise web.HTTPError(409, f"The preview is served at {origin}.")
        can_write = await ensure_async(
            handler.authorizer.is_authorized(handler, handler.current_user, "execute", "fujita")
        )
        prefix = handler.site_prefix(self.manager.get(self.name))
        path = handler.request.path[len(prefix) :] or "/"
        query = without_token(handler.request.query)
        target = path + (f"?{query}" if query else "")
        entry = urlencode({"ticket": self.ticket(can_write), "next": target})
        handler.redirect(f"{origin}{ENTER}?{entry}")

    def ticket(self, can_write: bool) -> str:
        payload = {"w": can_write, "exp": time.time() + TICKET_SECONDS, "n": secrets.token_hex(8)}
        return web.create_signed_value(self.secret, "ticket", json.dumps(payload)).decode()

    def redeem(self, ticket: str) -> bool | None:
        """The ticket's write permission, once; None when it is forged, stale or used."""
        raw = web.decode_signed_value(self.secret, "ticket", ticket, max_age_days=1)
        if raw is None:
            return None
        payload = json.loads(raw)
        now = time.time()
        self._used = {n: t for n, t in self._used.items() if t > now}
        if payload["exp"] < now or payload["n"] in self._used:
            return None
        self._used[payload["n"]] = payload["exp"]
        return bool(payload["w"])


class OriginSiteHandler(SiteForwarding):
    """Every request to the preview origin: the entry with a ticket, or the site."""

    log = log

    def initialize(self, gate: PreviewOrigin) -> None:
        self.gate = gate

    def site_prefix(self, supervisor: Supervisor) -> str:
        return ""  # the site is at this origin's root

    async def get(self) -> None:
        await self._serve()

    head = post = put = patch = delete = options = get

    async def _serve(self) -> None:
        if self.request.path == ENTER:
            self._enter()
            return
        raw = self.get_signed_cookie(COOKIE)
        if raw is None:
            raise web.HTTPError(
                403, "Open the site from Jupyter (its Django sidebar or fujita/site/) first."
            )
        method = self.request.method or "GET"
        if method not in SAFE_METHODS and not json.loads(raw).get("w"):
            raise web.HTTPError(403, "Not authorized to execute fujita.")
        self.refuse_cross_site(method)
        supervisor = self.gate.manager.get(self.gate.name)
        # JupyterLab's Preview tab, on Jupyter's origin, may frame the site; no other page may.
        host = urlsplit(f"//{self.request.host}").hostname or ""
        jupyter = f"{self.request.protocol}://{host}:{self.gate.jupyter_port()}"
        self.add_header("Content-Security-Policy", f"frame-ancestors {jupyter}")
        await self.serve_site(supervisor)

    def _enter(self) -> None:
        can_write = self.gate.redeem(self.get_query_argument("ticket", ""))
        if can_write is None:
            raise web.HTTPError(
                403, "This link has expired or was used: open the site from Jupyter again."
            )
        self.set_signed_cookie(
            COOKIE, json.dumps({"w": can_write}), expires_days=None, httponly=True, samesite="Lax"
        )
        target = self.get_query_argument("next", "/")
        if not target.startswith("/") or target.startswith("//"):
            target = "/"  # never a redirect to another site
        self.redirect(target)
