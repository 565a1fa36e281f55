"""The preview route: the supervised site, served through the Jupyter server behind its auth.

`{base_url}fujita/site/{name}/...` is proxied, prefix kept, to runserver, which was started
with settings that make Django at home under that prefix (preview_support/). Jupyter's own
credentials (the token parameter, the Authorization header, Jupyter's cookies) never reach
Django, so none lands in the site's log.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, urlencode

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from jupyter_server_proxy.handlers import ProxyHandler
from tornado import web

from .errors import FujitaError
from .supervisor import ACTIVE, Supervisor

AUTH_RESOURCE = "fujita"
JUPYTER_COOKIES = ("_xsrf", "username-", "jupyterhub-")  # names, or name prefixes


def preview_path(base_url: str, name: str) -> str:
    return url_path_join(base_url, "fujita", "site", name) + "/"


class SitePreviewHandler(ProxyHandler):
    """jupyter-server-proxy's handler, aimed at a supervised process by name."""

    async def prepare(self, *args: Any, **kwargs: Any) -> None:
        await super().prepare(*args, **kwargs)  # authenticated, or redirected to Jupyter's login
        action = "read" if self.request.method in ("GET", "HEAD", "OPTIONS") else "execute"
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, action, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, f"Not authorized to {action} fujita.")

    def _target(self, name: str) -> tuple[str, int]:
        try:
            supervisor: Supervisor = self.settings["fujita_manager"].get(name)
        except FujitaError as error:
            raise web.HTTPError(404, error.message) from None
        if supervisor.state not in ACTIVE:
            raise web.HTTPError(503, f"Django is {supervisor.state}: start it to preview the site.")
        self.proxy_base = url_path_join("fujita", "site", name)
        host, port = supervisor.project.host_port
        return {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host), port

    async def _forward(self, name: str, proxied_path: str) -> Any:
        host, port = self._target(name)
        return await self.proxy(host, port, proxied_path)

    async def http_get(self, name: str, proxied_path: str = "") -> Any:  # type: ignore[override]
        return await self._forward(name, proxied_path)

    async def open(self, name: str, proxied_path: str = "") -> Any:  # type: ignore[override]
        host, port = self._target(name)
        return await self.proxy_open(host, port, proxied_path)

    def post(self, name: str, proxied_path: str = "") -> Any:  # type: ignore[override]
        return self._forward(name, proxied_path)

    put = delete = patch = options = head = post

    # -- what reaches Django --------------------------------------------------------------------

    def proxy_request_headers(self) -> Any:
        headers = super().proxy_request_headers()
        if headers.get("Authorization", "").lower().startswith(("token ", "bearer ")):
            del headers["Authorization"]
        if "Cookie" in headers:
            kept = [
                f"{morsel.key}={morsel.coded_value}"
                for morsel in SimpleCookie(headers["Cookie"]).values()
                if not morsel.key.startswith(JUPYTER_COOKIES)
            ]
            del headers["Cookie"]
            if kept:
                headers["Cookie"] = "; ".join(kept)
        # The browser's real scheme (a hub terminates TLS before Jupyter): Django trusts this
        # header in the preview settings, so it is always set here, never passed through.
        headers["X-Forwarded-Proto"] = (
            self.request.headers.get("X-Forwarded-Proto", self.request.protocol)
            .split(",")[0]
            .strip()
        )
        return headers

    def get_client_uri(self, protocol: str, host: str, port: int, proxied_path: str) -> str:
        uri = super().get_client_uri(protocol, host, port, proxied_path)
        base, _, query = uri.partition("?")
        if not proxied_path and not base.endswith("/"):
            base += "/"  # the site's root is the prefix with its slash
        kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "token"]
        return f"{base}?{urlencode(kept)}" if kept else base

    def _rewrite_location_header(
        self, location: str, host: str, port: int, proxied_path: str
    ) -> str:
        """Django already puts the prefix in its redirects (SCRIPT_NAME): never add it twice."""
        context = self._get_context_path(host, port)
        if location.startswith(context.rstrip("/") + "/") or location == context.rstrip("/"):
            return location
        return super()._rewrite_location_header(location, host, port, proxied_path)


class AddSlashHandler(JupyterHandler):
    @web.authenticated
    def get(self, name: str) -> None:
        query = f"?{self.request.query}" if self.request.query else ""
        self.redirect(preview_path(self.base_url, name) + query)


def preview_handlers() -> list[tuple[Any, ...]]:
    proxy_options = {
        "absolute_url": True,  # Django sees the whole path, prefix included
        "host_allowlist": ["localhost", "127.0.0.1", "::1"],
    }
    return [
        (r"fujita/site/(?P<name>[^/]+)", AddSlashHandler),
        (r"fujita/site/(?P<name>[^/]+)/(?P<proxied_path>.*)", SitePreviewHandler, proxy_options),
    ]
