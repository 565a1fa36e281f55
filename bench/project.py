"""The child every peer runs: a tiny Django project whose manage.py is also a line generator.

Every server (ours, terminado, the seed reference) runs `python manage.py runserver ADDRESS` in
a project folder of its own. What that command does is read from `bench_child.json` next to
manage.py, rewritten before each run:

- `{"mode": "burst", "lines": N}`: write N 100-byte marker lines to stdout as fast as a pipe
  takes them (64 KiB writes), then exit;
- `{"mode": "requests", "lines": N}`: write N lines of what runserver really prints, to stderr
  like runserver: request lines (`[02/Dec/2026 07:33:36] "GET /shop/items/123/ HTTP/1.1" 200
  5123`), with a 500 and its traceback in every 1,000 lines, in ~64 KiB writes, then exit;
- either may carry `"go": PATH`: the child waits until PATH exists before it writes, so that
  every client of a terminal is connected when the first line comes;
- `{"mode": "paced", "lines": N, "interval": S}`: one line every S seconds, each carrying the
  `time.monotonic()` of its write (system-wide on Linux, so another process can subtract it);
- `{"mode": "django"}`: the real `runserver`, whose view `/burst?n=N` writes N lines to stdout.
"""

from __future__ import annotations

import json
from pathlib import Path

MARKER = "fujita-bench"
LINE_BYTES = 100  # with its newline

BURST_PY = f'''"""Writing 100-byte lines to stdout, shared by manage.py and the view."""

import os
import sys
import time

MARKER = {MARKER!r}
LINE = (MARKER + " " + "x" * ({LINE_BYTES} - len(MARKER) - 2) + "\\n").encode()
assert len(LINE) == {LINE_BYTES}
PER_WRITE = 655  # lines per write: 65,500 bytes


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def burst(count, go=None, last=None):
    """count marker lines; with `last`, the final one is that text instead (a page can wait
    for it)."""
    _wait_for(go)
    sys.stdout.flush()
    fd = sys.stdout.fileno()
    block = LINE * PER_WRITE
    full, rest = divmod(count, PER_WRITE)
    for _ in range(full):
        _write_all(fd, block)
    if rest:
        _write_all(fd, LINE * rest)
    if last:
        _write_all(fd, (last + "\\n").encode())


def _wait_for(go):
    while go and not os.path.exists(go):
        time.sleep(0.001)


def request_block():
    """1,000 lines as runserver writes them to stderr: request lines and one 500 with its
    traceback (Django's "Internal Server Error" log record, then the request line)."""
    stamp = "[02/Dec/2026 07:33:36] "
    paths = ["/", "/shop/items/%d/", "/static/css/site.css", "/api/cart/%d", "/accounts/login/"]
    codes = [("200", "5123"), ("200", "18"), ("304", "0"), ("404", "2317"), ("302", "0")]
    failure = [
        "Internal Server Error: /shop/checkout/",
        "Traceback (most recent call last):",
        '  File "/srv/venv/lib/python3.11/site-packages/django/core/handlers/exception.py", '
        'line 55, in inner',
        "    response = get_response(request)",
        '  File "/srv/site/shop/views.py", line 42, in checkout',
        "    total = sum(item.price for item in cart) / len(cart)",
        "ZeroDivisionError: division by zero",
        stamp + '"POST /shop/checkout/ HTTP/1.1" 500 145',
    ]
    lines = []
    for index in range(1000 - len(failure)):
        path = paths[index % len(paths)]
        if "%d" in path:
            path = path % (index * 7919 % 10007)
        code, size = codes[index % len(codes)]
        lines.append(stamp + '"GET %s HTTP/1.1" %s %s' % (path, code, size))
    lines[500:500] = failure
    return [(line + "\\n").encode() for line in lines]


def requests(count, go=None):
    block = request_block()
    whole = b"".join(block)
    _wait_for(go)
    fd = sys.stderr.fileno()
    full, rest = divmod(count, len(block))
    for _ in range(full):
        _write_all(fd, whole)
    if rest:
        _write_all(fd, b"".join(block[:rest]))


def paced(count, interval):
    fd = sys.stdout.fileno()
    start = time.monotonic()
    for index in range(count):
        # sleep to a schedule, so a slow write does not shift the ones after it
        delay = start + index * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        head = "%s lat %.6f %d " % (MARKER, time.monotonic(), index)
        _write_all(fd, (head + "y" * ({LINE_BYTES} - 1 - len(head)) + "\\n").encode())
    # Exit an interval after the last line, not with it: the child's exit kept the server from
    # its last line for milliseconds (on both sides), each round's slowest line.
    time.sleep(interval)
'''

MANAGE_PY = '''#!/usr/bin/env python
"""The benchmark child: a line generator or Django's runserver, as bench_child.json says."""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main():
    control = json.loads((HERE / "bench_child.json").read_text())
    mode = control["mode"]
    if mode == "django":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
        return
    from benchsite.burst import burst, paced, requests

    if mode == "burst":
        burst(control["lines"], control.get("go"))
    elif mode == "requests":
        requests(control["lines"], control.get("go"))
    elif mode == "paced":
        paced(control["lines"], control["interval"])
    else:
        raise SystemExit("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
'''

SETTINGS_PY = """SECRET_KEY = "bench-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchsite.urls"
INSTALLED_APPS = []
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
"""

URLS_PY = """from django.http import HttpResponse
from django.urls import path

from .burst import burst


def burst_view(request):
    # n lines in all: n - 1 markers, then the `last` text if given (what a page waits for)
    count, last = int(request.GET.get("n", "1000")), request.GET.get("last")
    burst(count - 1 if last else count, last=last)
    return HttpResponse("ok")


urlpatterns = [path("burst", burst_view)]
"""


def make_project(folder: Path) -> Path:
    """Write the project into folder; returns the path of its manage.py."""
    package = folder / "benchsite"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text("")
    (package / "burst.py").write_text(BURST_PY)
    (package / "settings.py").write_text(SETTINGS_PY)
    (package / "urls.py").write_text(URLS_PY)
    manage = folder / "manage.py"
    manage.write_text(MANAGE_PY)
    set_mode(folder, "burst", lines=1)
    return manage


def set_mode(folder: Path, mode: str, **options: object) -> None:
    """What the next `python manage.py runserver` in folder does."""
    (folder / "bench_child.json").write_text(json.dumps({"mode": mode, **options}))
