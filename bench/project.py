"""The child every peer runs: a tiny Django project whose manage.py is also a line generator.

Every server (ours, terminado, the seed reference) runs `python manage.py runserver ADDRESS` in
a project folder of its own. What that command does is read from `bench_child.json` next to
manage.py, rewritten before each run:

- `{"mode": "burst", "lines": N}`: write N 100-byte lines to stdout as fast as a pipe takes
  them (64 KiB writes), then exit;
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


def burst(count):
    sys.stdout.flush()
    fd = sys.stdout.fileno()
    block = LINE * PER_WRITE
    full, rest = divmod(count, PER_WRITE)
    for _ in range(full):
        _write_all(fd, block)
    if rest:
        _write_all(fd, LINE * rest)


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
    from benchsite.burst import burst, paced

    if mode == "burst":
        burst(control["lines"])
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
    burst(int(request.GET.get("n", "1000")))
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
