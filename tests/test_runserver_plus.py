"""django-extensions' runserver_plus (Werkzeug) and migration conflicts, on real processes.

runserver_plus words everything its own way (see runserver_output's docstring); the lines
below were copied from django-extensions 4.1 / Werkzeug 3.1 writing through pipes.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from conftest import (
    add_test_views,
    copy_demo_site,
    edit,
    free_port,
    http_status,
    let_reloader_settle,
)
from waiting import wait_for, wait_for_state, where

from jupyter_fujita.errors import ActionFailed
from jupyter_fujita.extension import Fujita
from jupyter_fujita.project import DjangoProject
from jupyter_fujita.replay import Line
from jupyter_fujita.wire import Request, request_of
from jupyter_fujita.runserver_output import (
    Broken,
    DebuggerPin,
    Ready,
    Reloading,
    RunserverWatcher,
    find_migration_conflict,
)

CHECKS_FAILED = (
    "Error occurred during checks: SyntaxError(\"'(' was never closed\", "
    "('{root}/pages/views.py', 17, 5, 'x = (\\n', 17, 0))"
)


def test_start_reload_and_pin_lines_read_as_events(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    start = Line(1, "stdout", 0.0, "Development server is running at http://127.0.0.1:8123/")
    assert watcher.feed_batch([start]) == [Ready("http://127.0.0.1:8123/")]
    pin = Line(2, "stderr", 0.0, " * Debugger PIN: 666-209-875")
    assert watcher.feed(pin) == DebuggerPin("666-209-875")
    change = Line(3, "stderr", 0.0, f" * Detected change in '{tmp_path}/pages/views.py', reloading")
    assert watcher.feed(change) == Reloading(f"{tmp_path}/pages/views.py")


def test_a_failed_check_is_broken_at_its_file_and_line_and_the_start_line_does_not_undo_it(
    tmp_path,
):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "views.py").write_text("x = (\n")
    watcher = RunserverWatcher(tmp_path)
    failed = Line(1, "stderr", 0.0, CHECKS_FAILED.format(root=tmp_path))
    event = watcher.feed(failed)
    assert isinstance(event, Broken)
    assert (event.error.kind, event.error.exception) == ("syntax", "SyntaxError")
    assert (event.error.file, event.error.line) == ("pages/views.py", 17)
    assert event.error.message == "'(' was never closed"
    assert failed.meta == {"frame": {"file": "pages/views.py", "line": 17}}
    # Werkzeug serves anyway: its start line is no sign of health until a file changes.
    start = Line(2, "stdout", 0.0, "Development server is running at http://127.0.0.1:8123/")
    assert watcher.feed_batch([start]) == []
    watcher.feed(Line(3, "stderr", 0.0, f" * Detected change in '{tmp_path}/x.py', reloading"))
    assert watcher.feed_batch([start]) == [Ready("http://127.0.0.1:8123/")]


def test_a_mangled_checks_line_is_still_broken_without_a_file(tmp_path):
    line = Line(1, "stderr", 0.0, "Error occurred during checks: KeyError(<object at 0x1>)")
    event = RunserverWatcher(tmp_path).feed(line)
    assert isinstance(event, Broken)
    assert (event.error.exception, event.error.file) == ("KeyError", None)


def test_a_migration_conflict_names_both_files(tmp_path):
    migrations = tmp_path / "pages" / "migrations"
    migrations.mkdir(parents=True)
    for name in ("0002_a", "0002_b"):
        (migrations / f"{name}.py").write_text("")
    said = (
        "CommandError: Conflicting migrations detected; multiple leaf nodes in the migration "
        "graph: (0002_a, 0002_b in pages).\nTo fix them run 'python manage.py makemigrations "
        "--merge'"
    )
    conflict = find_migration_conflict(said, tmp_path)
    assert conflict is not None
    assert conflict.leaves == {"pages": ["0002_a", "0002_b"]}
    assert conflict.files == ["pages/migrations/0002_a.py", "pages/migrations/0002_b.py"]
    assert conflict.message.startswith("Conflicting migrations (0002_a, 0002_b in pages)")
    assert find_migration_conflict("CommandError: no such table", tmp_path) is None


# -- real processes ---------------------------------------------------------------------------


@pytest.fixture
def site(tmp_path) -> Path:
    site = add_test_views(copy_demo_site(tmp_path))
    edit(
        site / "mysite" / "settings.py",
        '    "pages",\n',
        '    "pages",\n    "django_extensions",\n',
    )
    return site


def plus(manager, site: Path):
    project = DjangoProject(site.parent, f"127.0.0.1:{free_port()}", sys.executable)
    project.runserver_command = "runserver_plus"
    return manager.add("django", project)


async def test_runserver_plus_runs_with_its_pin_and_request_lines(manager, site):
    supervisor = plus(manager, site)
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    assert status.command[2] == "runserver_plus"
    assert await asyncio.to_thread(http_status, status.url) == 200
    assert await asyncio.to_thread(http_status, status.url + "boom/") == 500
    await wait_for(
        lambda: [h for h in supervisor.status().hints if h.kind == "debugger-pin"],
        20,
        "the debugger PIN's hint",
        lambda: where(supervisor),
    )
    pin = next(h for h in supervisor.status().hints if h.kind == "debugger-pin")
    assert pin.message.startswith("Werkzeug debugger PIN ")
    lines = supervisor.cache.tail(supervisor.cache.size)
    requests = [request for line in lines if (request := request_of(line)) is not None]
    assert Request("GET", "/boom/", 500, None) in requests
    # The view's traceback was handled by Werkzeug's debugger: no crash, no error.
    assert supervisor.status().state == "running"
    assert supervisor.status().error is None


async def test_runserver_plus_broken_code_then_fixed(manager, site):
    supervisor = plus(manager, site)
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    await let_reloader_settle()
    views = site / "pages" / "views.py"
    views.write_text(views.read_text() + "\nx = (\n")
    await wait_for_state(supervisor, "broken", 30)
    error = supervisor.status().error
    assert (error.kind, error.file) == ("syntax", "site/pages/views.py")
    assert views.read_text().splitlines()[error.line - 1] == "x = ("
    await let_reloader_settle()  # Werkzeug's stat reloader, like Django's, needs its first tick
    views.write_text(views.read_text().replace("\nx = (\n", "\n"))
    await wait_for_state(supervisor, "running", 60)
    assert supervisor.status().error is None


async def test_a_migration_conflict_points_at_both_files_and_merge_applies_them(manager, tmp_path):
    site = copy_demo_site(tmp_path)
    migrations = site / "pages" / "migrations"
    for name in ("0002_a", "0002_b"):
        (migrations / f"{name}.py").write_text(
            "from django.db import migrations\n\n\n"
            "class Migration(migrations.Migration):\n"
            '    dependencies = [("pages", "0001_initial")]\n'
            "    operations = []\n"
        )
    project = DjangoProject(site.parent, f"127.0.0.1:{free_port()}", sys.executable)
    supervisor = manager.add("django", project)
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    assert "migrate" in [hint.action for hint in status.hints]
    with pytest.raises(ActionFailed, match=r"Conflicting migrations \(0002_a, 0002_b in pages\)"):
        await supervisor.run_hint_action("migrate")
    conflict = next(h for h in supervisor.status().hints if h.kind == "migration-conflict")
    assert (conflict.action, conflict.file) == (
        "merge-migrations",
        "site/pages/migrations/0002_a.py",
    )
    assert "site/pages/migrations/0002_b.py" in conflict.message
    status = await supervisor.run_hint_action("merge-migrations")
    assert [hint.kind for hint in status.hints] == []
    assert len(list(migrations.glob("0003_merge_*.py"))) == 1
    texts = [line.text for line in supervisor.cache.tail(supervisor.cache.size)]
    assert "Migrations applied" in texts


@pytest.mark.parametrize("command", ["runserver plus", "../x", "Runserver", ""])
def test_runserver_command_must_name_a_manage_py_command(command):
    with pytest.raises(ValueError, match="must name a manage.py command"):
        Fujita(runserver_command=command)
