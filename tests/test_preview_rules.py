"""The preview's rules, one by one: what Django gets, and what the browser gets back."""

from __future__ import annotations

from jupyter_fujita.extension import preview_mode
from jupyter_fujita.preview_rules import (
    Gate,
    request_headers,
    response_headers,
    rewrite_css,
    rewrite_html,
    set_cookie,
    site_cookies,
    without_token,
)

GATE = Gate("/user/alice/fujita/site/django", "http://127.0.0.1:8000")
HOST = "hub.example.com"


def headers_for(*pairs: tuple[str, str]) -> dict[str, str]:
    return dict(request_headers(pairs, GATE, HOST))


def test_django_sees_its_own_address_as_host_whatever_the_browser_used():
    assert headers_for(("Host", HOST))["Host"] == "127.0.0.1:8000"


def test_a_same_origin_origin_is_mapped_and_a_foreign_one_kept_for_django_to_refuse():
    assert headers_for(("Origin", "https://hub.example.com"))["Origin"] == "http://127.0.0.1:8000"
    assert headers_for(("Origin", "https://evil.example"))["Origin"] == "https://evil.example"
    assert headers_for(("Origin", "null"))["Origin"] == "null"


def test_jupyters_authorization_goes_in_any_case_or_spacing_and_basic_stays():
    for value in ("token abc", "Token\tabc", "BEARER abc", "  bearer   abc", "token"):
        assert "Authorization" not in headers_for(("Authorization", value)), value
    assert headers_for(("Authorization", "Basic YTpi"))["Authorization"] == "Basic YTpi"


def test_forgeable_forwarding_headers_and_jupyters_xsrf_header_never_pass():
    sent = headers_for(
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Host", "evil"),
        ("Forwarded", "for=1.2.3.4"),
        ("X-Real-IP", "1.2.3.4"),
        ("X-XSRFToken", "secret"),
        ("Accept-Encoding", "gzip"),
        ("Accept", "text/html"),
    )
    assert sent == {"Accept": "text/html", "Host": "127.0.0.1:8000"}


def test_one_odd_cookie_does_not_make_the_others_vanish_and_jupyters_are_removed():
    header = '_xsrf=1; username-127-0-0-1-8888=2; jupyterhub-session-id=3; odd="a b"; x=1'
    assert site_cookies(header) == 'odd="a b"; x=1'
    assert site_cookies("_xsrf=1") is None


def test_the_referer_is_the_sites_own_page_or_nothing():
    referer = f"https://{HOST}/user/alice/fujita/site/django/notes/?token=abc&page=2"
    assert headers_for(("Referer", referer))["Referer"] == "http://127.0.0.1:8000/notes/?page=2"
    assert "Referer" not in headers_for(("Referer", f"https://{HOST}/user/alice/lab?token=abc"))
    assert "Referer" not in headers_for(("Referer", "https://elsewhere.example/"))


def test_the_token_leaves_the_query_and_nothing_else_changes():
    assert without_token("token=abc&page=2&tokens=1") == "page=2&tokens=1"
    assert without_token("a=%20b&token") == "a=%20b"


def test_redirects_get_the_prefix_once():
    moved = dict(response_headers([("Location", "/admin/login/?next=/admin/")], GATE))
    assert moved["Location"] == "/user/alice/fujita/site/django/admin/login/?next=/admin/"
    absolute = dict(response_headers([("Location", "http://127.0.0.1:8000/x/")], GATE))
    assert absolute["Location"] == "/user/alice/fujita/site/django/x/"
    for kept in ("https://example.com/", "relative/", "//cdn.example/x", GATE.prefix + "/x"):
        assert dict(response_headers([("Location", kept)], GATE))["Location"] == kept


def test_cookies_are_scoped_under_the_prefix_and_never_named_like_jupyters():
    assert set_cookie("sessionid=1; HttpOnly; Path=/", GATE) == (
        "sessionid=1; HttpOnly; Path=/user/alice/fujita/site/django/"
    )
    assert set_cookie("a=1; Domain=example.com; path=/user/alice/", GATE) == (
        "a=1; Path=/user/alice/fujita/site/django/user/alice/"
    )
    assert set_cookie("b=1", GATE).endswith("; Path=/user/alice/fujita/site/django/")
    for name in ("_xsrf", "username-127-0-0-1-8888", "jupyterhub-session-id"):
        assert set_cookie(f"{name}=1; Path=/", GATE) is None


def test_html_urls_of_the_site_get_the_prefix_and_others_stay():
    page = (
        b'<html><head><link href="/static/a.css"></head><body>'
        b'<a href="/notes/">n</a> <a href="notes/">r</a> <a href="//cdn.x/y">c</a>'
        b'<a href="https://example.com/">e</a> <img src="http://127.0.0.1:8000/media/c.png"'
        b' srcset="/m/1.png 1x, /m/2.png 2x"> <form action="/upload/">'
        b'<div hx-post="/api/" data-ajax--url="/admin/autocomplete/" style="background:url(/b.png)">'
        b'<meta http-equiv="refresh" content="0; url=/next/"></body></html>'
    )
    out = rewrite_html(page, GATE, b"<script></script>")
    p = b"/user/alice/fujita/site/django"
    for expected in (
        b'href="' + p + b'/static/a.css"',
        b'<a href="' + p + b'/notes/">',
        b'<a href="notes/">',
        b'<a href="//cdn.x/y">',
        b'<a href="https://example.com/">',
        b'src="' + p + b'/media/c.png"',
        b'srcset="' + p + b"/m/1.png 1x, " + p + b'/m/2.png 2x"',
        b'action="' + p + b'/upload/"',
        b'hx-post="' + p + b'/api/"',
        b'data-ajax--url="' + p + b'/admin/autocomplete/"',
        b"url(" + p + b"/b.png)",
        b"url=" + p + b"/next/",
        b"<head><script></script>",
    ):
        assert expected in out, expected
    assert rewrite_html(out, GATE) == out  # the prefix is put on once


def test_css_urls_and_imports_get_the_prefix():
    css = b'@import "/static/base.css"; body { background: url( "/static/a.png" ) }'
    assert rewrite_css(css, GATE) == (
        b'@import "/user/alice/fujita/site/django/static/base.css"; '
        b'body { background: url( "/user/alice/fujita/site/django/static/a.png" ) }'
    )


def test_the_preview_is_linked_first_where_the_browser_is_elsewhere():
    assert preview_mode("auto", "127.0.0.1", {}) == "offered"
    assert preview_mode("auto", "localhost", {}) == "offered"
    assert preview_mode("auto", "0.0.0.0", {}) == "on"
    assert preview_mode("auto", "", {}) == "on"
    assert preview_mode("auto", "127.0.0.1", {"JUPYTERHUB_SERVICE_PREFIX": "/user/a/"}) == "on"
    assert preview_mode(True, "127.0.0.1", {}) == "on"
    assert preview_mode(False, "0.0.0.0", {"JUPYTERHUB_API_TOKEN": "x"}) == "off"
