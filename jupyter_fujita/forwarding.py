"""Forwarding one browser request to the supervised site, and its answer back.

A mixin of tornado handlers, shared by the preview route on Jupyter's origin (preview.py) and
the preview's own origin (preview_origin.py): they differ in who may ask, and in the prefix
put on the site's URLs (none on an origin of its own). What changes on the way is said by
preview_rules.py. HTTP goes through a small HTTP/1.1 client of tornado's with the browser as
its pace: a chunk of the answer is read from Django only once the previous one was written to
the browser, so a 300 MB download does not sit in Jupyter's memory. A WebSocket handshake is
rewritten like any request, then the two connections are joined byte for byte.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
from typing import Any

from tornado import httputil, web
from tornado.http1connection import HTTP1Connection, HTTP1ConnectionParameters
from tornado.iostream import IOStream, StreamClosedError
from tornado.tcpclient import TCPClient

from .preview_rules import (
    REWRITE_LIMIT,
    Gate,
    request_headers,
    response_headers,
    rewritable,
    rewrite_css,
    rewrite_html,
    same_origin,
    without_token,
)
from .project import LOOPBACK_FOR
from .supervisor import Supervisor

CONNECT_TIMEOUT = 5.0
MAX_ANSWER_BYTES = 1 << 40
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class SiteForwarding(web.RequestHandler):
    """Forwards the request to a supervisor's site. Subclasses say the prefix (`site_prefix`),
    and the script tag previewed pages load first (`shim_tag`, none without a prefix)."""

    log: logging.Logger

    def site_prefix(self, supervisor: Supervisor) -> str:
        raise NotImplementedError

    def shim_tag(self, gate: Gate) -> bytes:
        return b""

    def check_xsrf_cookie(self) -> None:
        """The site's forms carry Django's CSRF token, not Jupyter's. Writes from another
        origin are refused in `refuse_cross_site` instead, and Django checks its own token."""

    def compute_etag(self) -> None:
        return None  # the answer is Django's, ETag and 304s included: tornado adds none

    async def serve_site(self, supervisor: Supervisor) -> None:
        if self.request.headers.get("Upgrade", "").lower() == "websocket":
            await self._tunnel(supervisor)
        else:
            await self._forward(supervisor)

    def refuse_cross_site(self, method: str) -> None:
        # A WebSocket handshake is a GET that browsers send with cookies from any site.
        upgrade = "Upgrade" in self.request.headers
        if method in SAFE_METHODS and not upgrade:
            return
        origin = self.request.headers.get("Origin")
        cross = origin is not None and not same_origin(origin, self.request.host)
        if cross or self.request.headers.get("Sec-Fetch-Site") == "cross-site":
            raise web.HTTPError(403, "A write to the preview from another site is refused.")

    def is_navigation(self) -> bool:
        mode = self.request.headers.get("Sec-Fetch-Mode")
        return mode == "navigate" or (mode is None and self._wants_html())

    def _wants_html(self) -> bool:
        return "text/html" in self.request.headers.get("Accept", "")

    def _gate(self, supervisor: Supervisor) -> tuple[Gate, str, int]:
        """The rules for this site, and where to connect to it."""
        address = supervisor.project.host_port
        assert address is not None, f"{supervisor.name} has no port to forward to"
        host, port = address
        connect_to = LOOPBACK_FOR.get(host, host)
        url_host = f"[{connect_to}]" if ":" in connect_to else connect_to
        return Gate(self.site_prefix(supervisor), f"http://{url_host}:{port}"), connect_to, port

    async def _connect(self, supervisor: Supervisor) -> tuple[Gate, IOStream] | None:
        gate, host, port = self._gate(supervisor)
        try:
            stream = await TCPClient().connect(host, port, timeout=CONNECT_TIMEOUT)
        except (OSError, StreamClosedError, TimeoutError):
            self._not_up(supervisor)  # starting, reloading, broken or stopped: nothing listens
            return None
        return gate, stream

    def _target(self, gate: Gate) -> str:
        """The request's path and query as Django gets them: prefix and token off."""
        path = self.request.path[len(gate.prefix) :] or "/"
        query = without_token(self.request.query)
        return path + (f"?{query}" if query else "")

    async def _tunnel(self, supervisor: Supervisor) -> None:
        """A WebSocket (Channels, say): the handshake rewritten like any request, then the two
        connections joined byte for byte until either side closes."""
        connected = await self._connect(supervisor)
        if connected is None:
            return
        gate, upstream = connected
        head = [f"GET {self._target(gate)} HTTP/1.1"]
        for key, value in request_headers(self.request.headers.get_all(), gate, self.request.host):
            head.append(f"{key}: {value}")
        head += ["Connection: Upgrade", "Upgrade: websocket", "", ""]
        browser = self.detach()
        try:
            await upstream.write("\r\n".join(head).encode("latin-1"))
        except StreamClosedError:
            browser.close()
            return
        await asyncio.gather(_pipe(upstream, browser), _pipe(browser, upstream))

    async def _forward(self, supervisor: Supervisor) -> None:
        connected = await self._connect(supervisor)
        if connected is None:
            return
        gate, stream = connected
        connection = HTTP1Connection(
            stream,
            True,
            HTTP1ConnectionParameters(
                no_keep_alive=True,
                chunk_size=64 * 1024,
                decompress=False,
                max_body_size=MAX_ANSWER_BYTES,  # streamed: only the browser's pace bounds it
            ),
        )
        headers = httputil.HTTPHeaders()
        for key, value in request_headers(self.request.headers.get_all(), gate, self.request.host):
            headers.add(key, value)
        headers["Connection"] = "close"
        body = self.request.body
        if body or self.request.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        start_line = httputil.RequestStartLine(
            self.request.method or "GET", self._target(gate), "HTTP/1.1"
        )
        answer = _Answer(self, gate, stream)
        try:
            await connection.write_headers(start_line, headers, body or None)
            connection.finish()
            complete = await connection.read_response(answer)
        except (StreamClosedError, httputil.HTTPInputError) as error:
            self.log.debug("preview of %s: %s", supervisor.name, error)
            complete = False
        finally:
            stream.close()
        if complete:
            self.finish()
        elif not answer.started:
            self._not_up(supervisor)  # Django went away before it answered (a reload, say)
        else:
            # Part of the answer is out: the browser must see it cut short, not complete.
            self.detach().close()

    def _not_up(self, supervisor: Supervisor) -> None:
        """503 with what is going on; a page reloads itself until Django serves again."""
        status = supervisor.status()
        self.set_status(503)
        self.set_header("Retry-After", "2")
        self.set_header("Cache-Control", "no-store")
        error = status.error
        where = None
        if error is not None and error.file:
            where = error.file + (f":{error.line}" if error.line else "")
        if not self._wants_html():
            self.set_header("Content-Type", "application/json")
            self.finish(
                json.dumps({"message": status.message, "state": status.state, "where": where})
            )
            return
        details = f"<p><code>{html.escape(where)}</code></p>" if where else ""
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            "<!doctype html><html><head><meta charset='utf-8'>"
            "<meta http-equiv='refresh' content='2'>"
            f"<title>Django is {html.escape(status.state)}</title></head>"
            "<body style='font-family: system-ui, sans-serif; margin: 2em'>"
            f"<h1>Django is {html.escape(status.state)}</h1>"
            f"<p>{html.escape(status.message)}</p>{details}"
            "<p>This page reloads itself until the site answers.</p></body></html>"
        )

    def _log(self) -> None:
        """The site's own errors are in Django's log, and a 503 while it starts is expected:
        neither is an error of Jupyter's (whose request log would dump the headers)."""
        status = self.get_status()
        level = logging.DEBUG if status < 400 else logging.INFO
        self.log.log(level, "%d %s (preview)", status, self._request_summary())

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Refusals are short JSON for scripts and plain text for people, never Jupyter's page
        (which would run Jupyter's templates on the site's path)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        message = getattr(error, "log_message", None) or self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))


async def _pipe(source: IOStream, sink: IOStream) -> None:
    try:
        while True:
            await sink.write(await source.read_bytes(64 * 1024, partial=True))
    except StreamClosedError:
        pass
    finally:
        source.close()
        sink.close()


class _Answer(httputil.HTTPMessageDelegate):
    """Django's answer, passed to the browser: streamed as it comes, or read whole (up to
    REWRITE_LIMIT) when it is HTML or CSS whose URLs need the prefix."""

    def __init__(self, handler: SiteForwarding, gate: Gate, upstream: IOStream) -> None:
        self.handler = handler
        self.gate = gate
        self.upstream = upstream
        self.kind: str | None = None
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.started = False

    def headers_received(
        self,
        start_line: httputil.RequestStartLine | httputil.ResponseStartLine,
        headers: httputil.HTTPHeaders,
    ) -> None:
        assert isinstance(start_line, httputil.ResponseStartLine)
        self.started = True
        handler = self.handler
        handler.set_status(start_line.code, start_line.reason or None)
        # Django's answer, not Jupyter's: its headers replace the defaults Jupyter set (two
        # Content-Security-Policy headers both apply, so Jupyter's frame-ancestors stays).
        forwarded = response_headers(headers.get_all(), self.gate)
        replaced = {name.lower() for name, _ in forwarded} - {"content-security-policy"}
        for name in {"content-type", "server", "date", "access-control-allow-origin"} | replaced:
            handler.clear_header(name)
        for name, value in forwarded:
            handler.add_header(name, value)
        length = headers.get("Content-Length")
        if "Content-Encoding" not in headers:
            self.kind = rewritable(headers.get("Content-Type", ""))
        if self.kind and length and int(length) > REWRITE_LIMIT:
            self.kind = None
        if self.kind is None and length is not None:
            handler.set_header("Content-Length", length)

    def data_received(self, chunk: bytes) -> Any:
        if self.kind is not None:
            self.held.append(chunk)
            self.held_bytes += len(chunk)
            if self.held_bytes <= REWRITE_LIMIT:
                return None
            self.kind = None  # too big to rewrite: pass it on as it is
            chunk = b"".join(self.held)
            self.held = []
        self.handler.write(chunk)
        return self._sent()  # the next chunk is read once this one is on its way

    async def _sent(self) -> None:
        try:
            await self.handler.flush()
        except StreamClosedError:
            self.upstream.close()  # the browser went away: read no more of Django's answer

    def finish(self) -> None:
        if self.kind is None:
            return
        body = b"".join(self.held)
        if self.kind == "css":
            body = rewrite_css(body, self.gate)
        else:
            body = rewrite_html(body, self.gate, self.handler.shim_tag(self.gate))
        self.handler.write(body)
