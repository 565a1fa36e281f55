"""Shared fixtures: a real Django project in a temp dir, free ports, a real Jupyter server."""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import textwrap
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from jupyter_fujita import oskit
from jupyter_fujita.manager import ProcessManager

pytest_plugins = ["pytest_jupyter.jupyter_server"]

DEMO_SITE = Path(__file__).resolve().parent.parent / "notebooks" / "demo_site"


_HANDED_OUT: set[int] = set()
_RANDOM = random.SystemRandom()  # not the global one, which hypothesis seeds for its examples


def free_port() -> int:
    """A loopback port free now, and not handed out before in this session.

    Picked below Linux's ephemeral range (32768 and up), not by binding port 0: a port from
    that range can be taken by any outgoing connection (the tests make many) between the
    moment it is picked and the moment the test's server binds it."""
    while True:
        port = _RANDOM.randint(20000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def manage_py(settings_module: str) -> str:
    """The manage.py startproject writes, for a fixture project."""
    return f"""
        import os
        import sys

        if __name__ == "__main__":
            os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings_module}")
            from django.core.management import execute_from_command_line

            execute_from_command_line(sys.argv)
    """


def write_files(folder: Path, files: dict[str, str]) -> None:
    """A fixture project's files (indented text, as written in the test module) under folder."""
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())


def http_status(url: str, timeout: float = 60.0) -> int:
    """The status code of a GET: a 404 or a 500 is an answer here, not a failure."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def copy_demo_site(root: Path, procfile: bool = False) -> Path:
    """A fresh copy of the demo project under root; returns the folder holding manage.py.
    Its Procfile.dev (a worker and a CSS watcher beside runserver) only when asked for: most
    tests are about runserver alone."""
    site = root / "site"
    skipped = ["db.sqlite3", "__pycache__"] + ([] if procfile else ["Procfile.dev"])
    shutil.copytree(DEMO_SITE, site, ignore=shutil.ignore_patterns(*skipped))
    return site


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))


async def let_reloader_settle() -> None:
    """Django's StatReloader records mtimes on its first tick, a second after it starts, and
    compares later ticks with them: an edit made before that first tick goes unseen."""
    await asyncio.sleep(1.5)


TEST_VIEWS = '''

def boom(request):
    """Test only: a view that raises."""
    raise ValueError("boom for the test")


def pause(request):
    """Test only: a view that stops in the debugger."""
    from django.http import HttpResponse

    breakpoint()
    return HttpResponse("after the pause")
'''


def add_views(site: Path, code: str, routes: dict[str, str]) -> Path:
    """Views of a test's own in a copy of the demo site: `code` is appended to pages/views.py,
    and each route (such as "boom/") is served by the view function named beside it."""
    views = site / "pages" / "views.py"
    views.write_text(views.read_text() + code)
    paths = "".join(f'path("{route}", views.{view}),\n    ' for route, view in routes.items())
    edit(site / "mysite" / "urls.py", 'path("", views.home', paths + 'path("", views.home')
    return site


def add_test_views(site: Path) -> Path:
    """boom/ (raises) and pause/ (stops at breakpoint()) in a copy of the demo site."""
    return add_views(site, TEST_VIEWS, {"boom/": "boom", "pause/": "pause"})


def assert_group_gone(pgid: int | None) -> None:
    if pgid is not None:
        assert oskit.group_members(pgid) == [], f"process group {pgid} still has members"


@pytest.fixture
def manager(jp_asyncio_loop):
    """A ProcessManager of the test's own, with no Jupyter server; afterwards every process
    group it started is gone. (Tests on a Jupyter server take the server's instead.)"""
    manager = ProcessManager()
    yield manager
    jp_asyncio_loop.run_until_complete(manager.shutdown())
    for supervisor in manager:
        assert_group_gone(supervisor.run.pgid)


@pytest.fixture
def django_port() -> int:
    return free_port()


@pytest.fixture
def jp_server_config(django_port):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}},
        "Fujita": {"address": f"127.0.0.1:{django_port}", "stop_timeout": 3.0},
    }


@pytest.fixture
def site(jp_root_dir: Path) -> Path:
    return copy_demo_site(jp_root_dir)
