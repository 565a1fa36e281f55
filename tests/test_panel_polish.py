"""The notebook panel and %fujita, read as a person reads them, in a real kernel against a real
Jupyter server and runserver: normal line spacing, red only for real errors, the filter and its
highlight, and `%fujita log --errors` with the tracebacks."""

from __future__ import annotations

import html
import json
import re
import urllib.error
import urllib.request

import pytest
from conftest import add_test_views, copy_demo_site, free_port, http_status
from kernels import Kernel
from servers import TOKEN, JupyterServer
from waiting import wait_until

from jupyter_fujita import oskit
from jupyter_fujita.logstyle import LineStyler, traceback_lines


@pytest.fixture
def server(tmp_path, monkeypatch):
    for name, sub in (("CONFIG", "config"), ("DATA", "data"), ("RUNTIME", "runtime")):
        monkeypatch.setenv(f"JUPYTER_{name}_DIR", str(tmp_path / sub))
    add_test_views(copy_demo_site(tmp_path / "root"))
    server = JupyterServer(tmp_path, free_port())
    monkeypatch.setenv("JUPYTER_FUJITA_URL", f"http://127.0.0.1:{server.port}/fujita/api/")
    monkeypatch.setenv("JUPYTER_FUJITA_TOKEN", TOKEN)
    yield server
    server.end()
    assert oskit.port_is_free("127.0.0.1", server.django_port)


@pytest.fixture
def kernel(server, tmp_path):
    kernel = Kernel(tmp_path)
    kernel.run("%load_ext jupyter_fujita")
    yield kernel
    kernel.shutdown()


def test_only_tracebacks_and_5xx_are_errors_plain_stderr_is_not():
    styler = LineStyler()
    lines = [
        ("stderr", "Watching for file changes with StatReloader", None),
        ("stderr", '[02/Dec/2026 10:00:00] "GET / HTTP/1.1" 200 10', {"status": 200}),
        ("stderr", '[02/Dec/2026 10:00:00] "GET /x HTTP/1.1" 404 10', {"status": 404}),
        ("stderr", "Internal Server Error: /boom/", None),
        ("stderr", "Traceback (most recent call last):", None),
        ("stderr", '  File "/site/pages/views.py", line 3, in boom', None),
        ("stderr", '    raise ValueError("boom")', None),
        ("stderr", "ValueError: boom", None),
        ("stderr", '[02/Dec/2026 10:00:01] "GET /boom/ HTTP/1.1" 500 99', {"status": 500}),
        ("stdout", "Starting development server at http://127.0.0.1:8000/", None),
        ("fujita", "Stopping", None),
    ]
    kinds = [
        styler.kind({"stream": s, "text": t, **({"request": r} if r else {})}) for s, t, r in lines
    ]
    assert kinds == [
        "",
        "",
        "warn",
        "error",
        "error",
        "error",
        "error",
        "error",
        "error",
        "",
        "fujita",
    ]


def test_a_traceback_is_cut_from_its_start_through_its_exception_line_chains_included():
    texts = [
        "Exception in thread django-main-thread:",
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'x'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "b.py", line 2, in <module>',
        "ValueError: y",
        "Watching for file changes with StatReloader",
    ]
    lines = [{"seq": 10 + i, "stream": "stderr", "text": t} for i, t in enumerate(texts)]
    assert [line["text"] for line in traceback_lines(lines, 10)] == texts[:-1]


def test_the_panel_reads_like_code_red_only_for_errors_and_highlights_the_filter(server, kernel):
    assert kernel.run("%fujita start").startswith("django: running")
    base = f"http://127.0.0.1:{server.django_port}/"
    assert http_status(base + "?fruit=apple") == 200
    assert http_status(base + "missing/") == 404
    assert http_status(base + "boom/") == 500
    kernel.run("from jupyter_fujita import FujitaPanel\npanel = FujitaPanel()")
    kernel.wait_for("'GET /boom/ HTTP/1.1\" 500' in panel.log_text()")
    kernel.wait_for("'data-seq' in panel.log_view.value")
    rows = json.loads(
        kernel.run(
            "import json, re\n"
            'print(json.dumps(re.findall(r\'<div data-seq="\\d+"(?: data-kind="(\\w+)")?[^>]*>'
            "(.*?)</div>', panel.log_view.value)))"
        )
    )
    kinds = {html.unescape(text): kind for kind, text in rows}
    watching = next(t for t in kinds if t.startswith("Watching for file changes"))
    assert kinds[watching] == ""  # plain stderr: not red
    assert kinds[next(t for t in kinds if '"GET /?fruit=apple HTTP/1.1" 200' in t)] == ""
    assert kinds[next(t for t in kinds if '"GET /missing/ HTTP/1.1" 404' in t)] == "warn"
    assert kinds[next(t for t in kinds if '"GET /boom/ HTTP/1.1" 500' in t)] == "error"
    assert kinds["Traceback (most recent call last):"] == "error"
    assert kinds["ValueError: boom for the test"] == "error"
    value = kernel.run("print(panel.log_view.value)")
    assert "line-height: var(--jp-code-line-height" in value
    # the filter narrows the lines and marks what matched
    kernel.run("panel.filter_box.value = 'APPLE'")
    kernel.wait_for("'<mark' in panel.log_view.value")
    value = kernel.run("print(panel.log_view.value)")
    assert value.count("<div data-seq=") == 1
    assert '<mark class="jp-fujita-panel-match"' in value and ">apple</mark>" in value
    kernel.run("panel.filter_box.value = ''")
    kernel.wait_for("panel.log_view.value.count('<div data-seq=') > 5")


def test_log_errors_prints_each_failed_request_with_its_traceback(server, kernel):
    kernel.run("%fujita start")
    assert http_status(f"http://127.0.0.1:{server.django_port}/boom/") == 500
    wait_until(lambda: "500" in kernel.run("%fujita log 5 --errors"), 20, "the 5xx line")
    out = kernel.run("%fujita log 5 --errors").splitlines()
    request = next(i for i, line in enumerate(out) if '"GET /boom/ HTTP/1.1" 500' in line)
    traceback = out[request + 1 :]
    assert traceback[0] == "    Traceback (most recent call last):"
    assert any(line.startswith('      File "') and "views.py" in line for line in traceback)
    assert traceback[-1] == "    ValueError: boom for the test"
    kernel.run("%fujita stop")


def test_status_names_the_project_and_its_settings_module(server, kernel):
    lines = kernel.run("%fujita status").splitlines()
    assert lines[0] == "django: stopped — Django is stopped"
    assert lines[1] == "  project: site/manage.py (settings: mysite.settings)"


def test_the_panel_downloads_the_whole_log_as_text_from_the_jupyter_server(server, kernel):
    assert kernel.run("%fujita start").startswith("django: running")
    assert http_status(f"http://127.0.0.1:{server.django_port}/?from=download") == 200
    kernel.run("from jupyter_fujita import FujitaPanel\npanel = FujitaPanel()")
    kernel.wait_for("'from=download' in panel.log_text()")
    link = kernel.run("print(panel.download_link.value)")
    # a path on the Jupyter server (the browser's way to it), opened in a new tab
    href = html.unescape(re.search(r'href="([^"]+)"', link)[1])
    assert href == "/fujita/api/processes/django/log.txt"
    assert 'target="_blank"' in link and ">Download</a>" in link
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}{href}", headers={"Authorization": f"token {TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        text = response.read().decode()
    shown = json.loads(kernel.run("import json\nprint(json.dumps(panel.log_text().splitlines()))"))
    assert text.splitlines() == shown  # the run's lines, the same the panel shows
    assert text.count("Starting: ") == 1 and '"GET /?from=download HTTP/1.1" 200' in text
