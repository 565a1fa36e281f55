"""What the preview changes on the way to Django and on the way back: pure rules, no I/O.

Django runs exactly as plain `manage.py runserver` runs it (the user's settings, the site at its
own root `/`, its own address as Host). The preview makes that site work under Jupyter's prefix
from the outside, the way a reverse proxy in front of an unprefixed app does:

- on the way in, the request is made to look as if the browser had opened the direct address:
  Host is the direct address, a same-origin Origin and Referer are mapped onto it, and
  everything that belongs to Jupyter or the hub (its cookies, its token in the query or the
  Authorization header, forwarded-for headers anyone can forge) is removed;
- on the way back, root-relative and direct-address URLs in redirects, cookies, HTML and CSS
  get the prefix, and cookies can never touch Jupyter's.

Because Django never learns about the prefix, the site at its own address is untouched, a
`{% cache %}` fragment is the same for both roots, and ALLOWED_HOSTS needs no entry for a hub.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# Cookies of Jupyter, JupyterHub and the preview origin's own: names, or name prefixes (a
# trailing "-").
JUPYTER_COOKIES = ("_xsrf", "username-", "jupyterhub-", "fujita-preview")
# Never forwarded: hop-by-hop headers, what anyone can forge about the path to us, the headers
# we set ourselves, and Jupyter's XSRF token header (a Jupyter credential).
HOP_BY_HOP = frozenset(
    "connection keep-alive proxy-authenticate proxy-authorization proxy-connection te trailer "
    "transfer-encoding upgrade".split()
)
DROPPED_REQUEST = HOP_BY_HOP | {
    "host",
    "content-length",
    "cookie",
    "origin",
    "referer",
    "forwarded",
    "x-real-ip",
    "x-xsrftoken",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-proto",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-scheme",
    # Django would compress for the browser; the proxy must read HTML and CSS to rewrite them.
    "accept-encoding",
}
DROPPED_RESPONSE = HOP_BY_HOP | {"content-length"}
JUPYTER_AUTH = re.compile(r"\s*(token|bearer)(\s|$)", re.IGNORECASE)
# Bodies the preview reads and rewrites; bigger ones pass through as they are, streamed.
REWRITE_LIMIT = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Gate:
    """One previewed site: its prefix on the Jupyter server and its direct address."""

    prefix: str  # "/user/alice/fujita/site/django", no trailing slash
    direct: str  # "http://127.0.0.1:8000", no trailing slash

    @property
    def direct_origins(self) -> tuple[str, ...]:
        """The direct address as a browser or Django may write it."""
        split = urlsplit(self.direct)
        host, port = split.hostname or "", split.port
        names = {host, "localhost", "127.0.0.1"} if host in ("127.0.0.1", "localhost") else {host}
        return tuple(f"http://{name}:{port}" for name in sorted(names))

    def outward(self, url: str) -> str:
        """A URL Django wrote, as the browser must see it under the prefix."""
        for origin in self.direct_origins:
            if url == origin or url.startswith(origin + "/"):
                url = url[len(origin) :] or "/"
                break
        if not url.startswith("/") or url.startswith("//"):
            return url  # relative, another site, or scheme-relative: not ours to move
        if url == self.prefix or url.startswith(self.prefix + "/"):
            return url
        return self.prefix + url

    def inward(self, url: str, browser_host: str) -> str | None:
        """A URL of the browser's (Referer) as Django would have seen it; None when it is not
        a page of this site under the prefix (it then goes unsent, like a stripped Referer)."""
        split = urlsplit(url)
        if split.netloc != browser_host:
            return None
        path = split.path
        if path != self.prefix and not path.startswith(self.prefix + "/"):
            return None
        query = without_token(split.query)
        return self.direct + (path[len(self.prefix) :] or "/") + (f"?{query}" if query else "")


def is_jupyter_cookie(name: str) -> bool:
    return any(
        name.startswith(known) if known.endswith("-") else name == known
        for known in JUPYTER_COOKIES
    )


def cookie_pairs(header: str) -> list[str]:
    """The `name=value` items of a Cookie header, kept as the browser wrote them.

    Split on ";" only: a parser that rejects one odd cookie (a space or a quote in its value)
    must not make the others vanish, as http.cookies' does.
    """
    return [item.strip() for item in header.split(";") if item.strip()]


def site_cookies(header: str) -> str | None:
    """The Cookie header Django gets: the browser's cookies less Jupyter's."""
    kept = [pair for pair in cookie_pairs(header) if not is_jupyter_cookie(pair.partition("=")[0])]
    return "; ".join(kept) or None


def without_token(query: str) -> str:
    """The query string less Jupyter's `token` parameter, otherwise byte for byte."""
    if "token" not in query:
        return query
    kept = [part for part in query.split("&") if part.split("=", 1)[0] != "token"]
    return "&".join(kept)


def has_token(query: str) -> bool:
    return any(part.split("=", 1)[0] == "token" for part in query.split("&"))


def request_headers(
    headers: Iterable[tuple[str, str]], gate: Gate, browser_host: str
) -> list[tuple[str, str]]:
    """The headers Django gets for a browser's request through the preview."""
    forwarded: list[tuple[str, str]] = []
    cookies: list[str] = []
    for name, value in headers:
        lower = name.lower()
        if lower == "cookie":
            cookies.append(value)
        elif lower == "authorization" and JUPYTER_AUTH.match(value):
            continue  # Jupyter's token (any case, any spacing); Basic auth is the site's
        elif lower == "origin":
            forwarded.append(("Origin", gate.direct if same_origin(value, browser_host) else value))
        elif lower == "referer":
            referer = gate.inward(value, browser_host)
            if referer:
                forwarded.append(("Referer", referer))
        elif lower not in DROPPED_REQUEST:
            forwarded.append((name, value))
    kept = site_cookies("; ".join(cookies))
    if kept:
        forwarded.append(("Cookie", kept))
    forwarded.append(("Host", urlsplit(gate.direct).netloc))
    return forwarded


def same_origin(origin: str, browser_host: str) -> bool:
    """The browser says the request comes from Jupyter's own origin (scheme aside: a hub may
    end TLS before Jupyter, which then sees http)."""
    return origin != "null" and urlsplit(origin).netloc == browser_host


# -- on the way back ------------------------------------------------------------------------------

_COOKIE_PATH = re.compile(r";\s*path\s*=[^;]*", re.IGNORECASE)
_COOKIE_DOMAIN = re.compile(r";\s*domain\s*=[^;]*", re.IGNORECASE)


def set_cookie(value: str, gate: Gate) -> str | None:
    """A Set-Cookie of Django's, scoped under the prefix; None for one named like Jupyter's.

    Whatever Path Django gives (`/`, the hub's `/user/alice/`, none), the browser keeps the
    cookie for the preview's paths only, and without Domain for this host only: it can neither
    replace nor shadow a cookie of Jupyter's or of another previewed site.
    """
    name = value.partition("=")[0].strip()
    if is_jupyter_cookie(name):
        return None
    match = _COOKIE_PATH.search(value)
    path = match.group(0).split("=", 1)[1].strip() if match else "/"
    if not path.startswith("/"):
        path = "/"
    value = _COOKIE_DOMAIN.sub("", _COOKIE_PATH.sub("", value))
    return f"{value}; Path={gate.prefix}{path}"


def response_headers(headers: Iterable[tuple[str, str]], gate: Gate) -> list[tuple[str, str]]:
    """Django's answer headers as the browser gets them through the preview."""
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in DROPPED_RESPONSE:
            continue
        if lower == "location":
            value = gate.outward(value)
        elif lower == "set-cookie":
            scoped = set_cookie(value, gate)
            if scoped is None:
                continue
            value = scoped
        elif lower == "x-frame-options" and value.strip().upper() == "DENY":
            value = "SAMEORIGIN"  # JupyterLab's preview tab frames the site from Jupyter's origin
        kept.append((name, value))
    return kept


def rewritable(content_type: str) -> str | None:
    """'html' or 'css' when the preview rewrites bodies of this type."""
    kind = content_type.split(";")[0].strip().lower()
    return {"text/html": "html", "application/xhtml+xml": "html", "text/css": "css"}.get(kind)


# URLs in markup: attributes that hold one URL (htmx's and data-*-url ones included), srcset's
# lists, CSS url() and @import, a meta refresh. Bytes patterns: UTF-8 and Latin-1 alike.
_URL_ATTRIBUTE = re.compile(
    rb"""(?P<lead>\s(?:href|src|action|formaction|poster|data|background|cite|manifest|ping"""
    rb"""|hx-(?:get|post|put|patch|delete)|data-[\w-]*url)\s*=\s*)"""
    rb"""(?P<quote>["']?)(?P<url>(?:/|http://(?:127\.0\.0\.1|localhost):\d+/)[^"'\s>]*)""",
    re.IGNORECASE,
)
_SRCSET = re.compile(rb"""(?P<lead>\ssrcset\s*=\s*)(?P<quote>["'])(?P<list>[^"']*)""", re.I)
_CSS_URL = re.compile(
    rb"""(?P<lead>url\(\s*|@import\s+)(?P<quote>["']?)(?P<url>/[^"')\s]*)""", re.IGNORECASE
)
_REFRESH = re.compile(
    rb"""(?P<lead>content\s*=\s*["']\s*\d+\s*;\s*url\s*=\s*)(?P<url>/[^"'\s>]*)""", re.I
)
_HEAD = re.compile(rb"<head(\s[^>]*)?>", re.IGNORECASE)


def rewrite_css(body: bytes, gate: Gate) -> bytes:
    def moved(match: re.Match[bytes]) -> bytes:
        return match["lead"] + match["quote"] + _outward_bytes(match["url"], gate)

    return _CSS_URL.sub(moved, body)


def rewrite_html(body: bytes, gate: Gate, shim_tag: bytes = b"") -> bytes:
    """HTML with its site URLs under the prefix, and `shim_tag` (a script that does the same
    for URLs the page's own scripts build) first in its <head>."""

    def attribute(match: re.Match[bytes]) -> bytes:
        return match["lead"] + match["quote"] + _outward_bytes(match["url"], gate)

    def srcset(match: re.Match[bytes]) -> bytes:
        items = []
        for item in match["list"].split(b","):
            parts = item.strip().split(None, 1)
            if parts:
                parts[0] = _outward_bytes(parts[0], gate)
            items.append(b" ".join(parts))
        return match["lead"] + match["quote"] + b", ".join(items)

    def refresh(match: re.Match[bytes]) -> bytes:
        return match["lead"] + _outward_bytes(match["url"], gate)

    body = _URL_ATTRIBUTE.sub(attribute, body)
    body = _SRCSET.sub(srcset, body)
    body = _REFRESH.sub(refresh, body)
    body = rewrite_css(body, gate)  # <style> blocks and style="" attributes
    if shim_tag:
        head = _HEAD.search(body)
        at = head.end() if head else 0
        body = body[:at] + shim_tag + body[at:]
    return body


def _outward_bytes(url: bytes, gate: Gate) -> bytes:
    return gate.outward(url.decode("latin-1")).encode("latin-1")
