"""What the supervisor understands of Django, scenario by scenario, on a real runserver.

The scenarios where Django versions word things differently run on each LTS and the newest:
Django 4.2 in a venv of this Python, 5.2 on this Python, 6 in a venv of a Python >= 3.12, each
venv made once per session.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
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

from jupyter_fujita import oskit
from jupyter_fujita.project import DjangoProject
from jupyter_fujita.supervisor import Supervisor


def newer_python() -> str | None:
    """A Python >= 3.12 (Django 6 needs one), from PATH or pyenv."""
    candidates = [shutil.which(name) for name in ("python3.13", "python3.12")]
    pyenv = Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()
    candidates += sorted(map(str, pyenv.glob("versions/3.1[2-9]*/bin/python3")), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info >= (3, 12))"],
            capture_output=True,
            text=True,
        )
        if probe.stdout.strip() == "True":
            return candidate
    return None


@pytest.fixture(scope="session")
def django6_python(tmp_path_factory) -> str:
    base = newer_python()
    if base is None:
        pytest.skip("Django 6 needs Python >= 3.12, and none is installed here")
    venv = tmp_path_factory.mktemp("django6") / "venv"
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "django>=6,<7"],
        check=True,
        capture_output=True,
    )
    return python


@pytest.fixture(scope="session")
def django42_python(tmp_path_factory) -> str:
    """Django 4.2 LTS, in a venv of this Python."""
    venv = tmp_path_factory.mktemp("django42") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "django>=4.2,<5"],
        check=True,
        capture_output=True,
    )
    return python


@pytest.fixture(params=["django42", "django5", "django6"])
def python(request) -> str:
    if request.param == "django5":
        return sys.executable
    return request.getfixturevalue(f"{request.param}_python")


@pytest.fixture
def site(tmp_path) -> Path:
    return add_test_views(copy_demo_site(tmp_path))


def supervise(manager, site: Path, python: str = sys.executable, port: int | None = None):
    project = DjangoProject(site.parent, f"127.0.0.1:{port or free_port()}", python)
    return manager.add("django", project)


def texts(supervisor: Supervisor) -> list[str]:
    return [line.text for line in supervisor.cache.tail(supervisor.cache.size)]


async def test_start_line_of_each_django_reads_as_running(manager, site, python):
    supervisor = supervise(manager, site, python)
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    assert await asyncio.to_thread(http_status, status.url) == 200


async def test_settings_syntax_error_is_crashed_with_file_and_line(manager, site, python):
    edit(site / "mysite" / "settings.py", "DEBUG = True", "DEBUG = (True")
    status = await supervise(manager, site, python).start(wait=60)
    assert status.state == "crashed"
    error = status.error
    assert (error.kind, error.exception, error.file) == (
        "syntax",
        "SyntaxError",
        "site/mysite/settings.py",
    )
    settings_lines = (site / "mysite" / "settings.py").read_text().splitlines()
    assert "DEBUG = (True" in settings_lines[error.line - 1] or error.line == len(settings_lines)


async def test_urls_syntax_error_is_broken_then_runs_once_fixed(manager, site, python):
    urls = site / "mysite" / "urls.py"
    edit(urls, '"admin/", admin.site.urls),', '"admin/", admin.site.urls,')
    supervisor = supervise(manager, site, python)
    status = await supervisor.start(wait=60)
    assert status.state == "broken"
    assert status.message.startswith(
        "Waiting for a fix: SyntaxError in site/mysite/urls.py line "
    ), status.message
    await let_reloader_settle()
    edit(urls, '"admin/", admin.site.urls,', '"admin/", admin.site.urls),')
    await wait_for_state(supervisor, "running", 60)
    assert supervisor.status().error is None


async def test_missing_module_in_models_is_an_import_error_there(manager, site):
    edit(
        site / "pages" / "models.py",
        "from django.db import models",
        "import notamodule\nfrom django.db import models",
    )
    status = await supervise(manager, site).start(wait=60)
    assert status.state in ("broken", "crashed"), status.message
    assert (status.error.kind, status.error.exception) == ("import", "ModuleNotFoundError")
    assert (status.error.file, status.error.line) == ("site/pages/models.py", 2)


async def test_a_system_check_error_carries_its_check_ids(manager, site):
    edit(site / "mysite" / "settings.py", '    "django.contrib.messages",\n', "")
    supervisor = supervise(manager, site)
    status = await supervisor.start(wait=60)
    assert status.state == "broken", status.message
    await wait_for(
        lambda: supervisor.run.error.checks, 10, "the system checks", lambda: where(supervisor)
    )
    error = supervisor.status().error
    assert error.kind == "system-check"
    assert "admin.E406" in [check.id for check in error.checks]
    assert "admin.E406" in supervisor.status().message


async def test_port_taken_is_a_port_error_and_next_port_runs_it_elsewhere(manager, site):
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        supervisor = supervise(manager, site, port=port)
        status = await supervisor.start(wait=60)
        assert (status.state, status.error.kind) == ("crashed", "port")
        assert "next-port" in [hint.action for hint in status.hints]
        status = await supervisor.run_hint_action("next-port")
    assert status.state == "running", status.message
    assert not status.url.endswith(f":{port}/")
    assert "next-port" not in [hint.action for hint in status.hints]
    assert any(f"Port {port} is taken: moving to" in t for t in texts(supervisor))


async def test_unapplied_migrations_hint_then_migrate_clears_it_and_the_admin_answers(
    manager, site
):
    supervisor = supervise(manager, site)
    status = await supervisor.start(wait=60)
    [hint] = status.hints
    assert (hint.kind, hint.action) == ("migrations", "migrate")
    assert hint.label.startswith("Apply ") and "auth" in hint.message
    status = await supervisor.run_hint_action("migrate")
    assert status.hints == []
    assert any(t.strip().startswith("Applying auth.") for t in texts(supervisor))
    assert texts(supervisor)[-1] == "Migrations applied"
    assert await asyncio.to_thread(http_status, status.url + "admin/login/") == 200


async def test_a_view_raising_gives_a_500_request_line_linked_to_its_traceback(
    manager, site, python
):
    supervisor = supervise(manager, site, python)
    status = await supervisor.start(wait=60)
    assert await asyncio.to_thread(http_status, status.url + "boom/") == 500

    def request_line():
        return next(
            (
                l
                for l in supervisor.cache.tail(200)
                if l.meta and "request" in l.meta and l.meta["request"].path == "/boom/"
            ),
            None,
        )

    await wait_for(request_line, 10)
    request = request_line().meta["request"]
    assert (request.method, request.status) == ("GET", 500)
    traceback_line = next(l for l in supervisor.cache.tail(500) if l.seq == request.traceback_seq)
    assert traceback_line.text == "Traceback (most recent call last):"
    frames = [l.meta["frame"] for l in supervisor.cache.tail(500) if l.meta and "frame" in l.meta]
    assert {"file": "site/pages/views.py", "line": frames[-1]["line"]} == frames[-1]
    assert (
        supervisor.state == "running" and supervisor.run.error is None
    )  # one bad request is no crash


async def test_breakpoint_pauses_then_continue_finishes_the_request(manager, site, python):
    supervisor = supervise(manager, site, python)
    status = await supervisor.start(wait=60)
    request = asyncio.ensure_future(asyncio.to_thread(http_status, status.url + "pause/"))
    await wait_for_state(supervisor, "paused", 30)
    paused = supervisor.status()
    assert paused.debugger.file == "site/pages/views.py"
    assert paused.debugger.function == "pause"
    assert paused.message == f"Paused in the debugger at site/pages/views.py:{paused.debugger.line}"
    prompt = next(l for l in supervisor.cache.tail(50) if l.seq == paused.debugger.seq)
    assert prompt.text.startswith("(Pdb)") and prompt.meta == {"partial": True}
    await supervisor.send_stdin("c\n")
    assert await asyncio.wait_for(request, 30) == 200
    assert supervisor.state == "running" and supervisor.status().debugger is None


async def test_two_answers_in_quick_succession_leave_the_request_running(manager, site):
    """`n` then `c` 50 ms apart: the prompt that `n` brings shows after `c` was sent."""
    supervisor = supervise(manager, site)
    status = await supervisor.start(wait=60)
    request = asyncio.ensure_future(asyncio.to_thread(http_status, status.url + "pause/"))
    await wait_for_state(supervisor, "paused", 30)
    await supervisor.send_stdin("n\n")
    await asyncio.sleep(0.05)  # the pace under test, not a wait for something
    await supervisor.send_stdin("c\n")
    assert await asyncio.wait_for(request, 30) == 200
    # The second prompt is published once idle; it must not pause a finished request.
    await wait_for(lambda: sum(t.startswith("(Pdb)") for t in texts(supervisor)) >= 2, 10)
    assert supervisor.state == "running" and supervisor.status().debugger is None
    request = asyncio.ensure_future(asyncio.to_thread(http_status, status.url + "pause/"))
    await wait_for_state(supervisor, "paused", 30)  # pauses again
    await supervisor.send_stdin("c\n")
    assert await asyncio.wait_for(request, 30) == 200


async def test_stdin_refuses_too_much_text_and_a_stopped_process(manager, site):
    from jupyter_fujita.errors import BadRequest, Conflict

    supervisor = supervise(manager, site)
    with pytest.raises(Conflict):
        await supervisor.send_stdin("c\n")
    await supervisor.start(wait=60)
    with pytest.raises(BadRequest):
        await supervisor.send_stdin("x" * 5000)


# LOGGING formats people use, for Django's own loggers (requests, errors, reloads).
LOGGING_FORMATS = {
    "bracketed": "{'format': '[{asctime}][{levelname}][{name}] {message}', 'style': '{'}",
    "verbose": "{'format': '{levelname} {asctime} {module} {process:d} {message}', 'style': '{'}",
    "json-lines": "{'()': 'mysite.logformat.JsonLines'}",
    "colourised": "{'()': 'mysite.logformat.Colours'}",
}
LOG_FORMATTERS = '''
import json
import logging


class JsonLines(logging.Formatter):
    """python-json-logger style: one JSON object a record, the traceback in exc_info."""

    def format(self, record):
        data = {"asctime": self.formatTime(record), "levelname": record.levelname,
                "name": record.name, "message": record.getMessage()}
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data)


class Colours(logging.Formatter):
    """A colourising formatter: the level in colour, then the message."""

    def format(self, record):
        colour = "\\x1b[31m" if record.levelno >= logging.ERROR else "\\x1b[32m"
        text = f"{colour}{record.levelname}\\x1b[0m {record.name}: {record.getMessage()}"
        if record.exc_info:
            text += "\\n" + self.formatException(record.exc_info)
        return text
'''


def use_logging_format(site: Path, formatter: str) -> None:
    (site / "mysite" / "logformat.py").write_text(LOG_FORMATTERS)
    with (site / "mysite" / "settings.py").open("a") as settings:
        settings.write(
            f"""
LOGGING = {{
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {{"custom": {formatter}}},
    "handlers": {{"console": {{"class": "logging.StreamHandler", "formatter": "custom"}}}},
    "loggers": {{
        "django": {{"handlers": ["console"], "level": "INFO", "propagate": False}},
        "django.server": {{"handlers": ["console"], "level": "INFO", "propagate": False}},
    }},
}}
"""
        )


@pytest.mark.parametrize("fmt", sorted(LOGGING_FORMATS))
async def test_a_500_is_tied_to_its_traceback_whatever_the_logging_format(manager, site, fmt):
    use_logging_format(site, LOGGING_FORMATS[fmt])
    supervisor = supervise(manager, site)
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    assert await asyncio.to_thread(http_status, status.url + "boom/") == 500

    def request_line():
        return next(
            (
                line
                for line in supervisor.cache.tail(500)
                if line.meta and getattr(line.meta.get("request"), "path", None) == "/boom/"
            ),
            None,
        )

    await wait_for(request_line, 10, "the request line of /boom/")
    request = request_line().meta["request"]
    assert (request.method, request.status) == ("GET", 500), request
    assert request.traceback_seq is not None, [line.text for line in supervisor.cache.tail(40)]
    start = next(line for line in supervisor.cache.tail(500) if line.seq == request.traceback_seq)
    assert (
        "Traceback (most recent call last):" in start.text or "Internal Server Error" in start.text
    )
    assert supervisor.state == "running" and supervisor.run.error is None

    # The serving child dies: the crash is not blamed on the request's handled exception.
    child = next(
        pid for pid in oskit.group_members(supervisor.run.pgid) if pid != supervisor.run.proc.pid
    )
    os.kill(child, 9)
    await wait_for_state(supervisor, "crashed", 20)
    assert supervisor.run.error is not None and supervisor.run.error.exception != "ValueError", (
        supervisor.run.error
    )


async def test_a_missing_installed_app_points_at_its_line_in_the_settings(manager, site):
    edit(site / "mysite" / "settings.py", '    "pages",\n', '    "pages",\n    "nosuchapp",\n')
    status = await supervise(manager, site).start(wait=60)
    assert status.state in ("broken", "crashed"), status.message
    assert (status.error.kind, status.error.exception) == ("import", "ModuleNotFoundError")
    settings = (site / "mysite" / "settings.py").read_text().splitlines()
    assert status.error.file == "site/mysite/settings.py"
    assert settings[status.error.line - 1].strip() == '"nosuchapp",'


async def test_a_model_check_error_points_at_the_field(manager, site):
    edit(site / "pages" / "models.py", "auto_now_add=True)", "auto_now_add=True, default=None)")
    supervisor = supervise(manager, site)
    status = await supervisor.start(wait=60)
    assert status.state in ("broken", "crashed"), status.message
    await wait_for(
        lambda: supervisor.run.error and supervisor.run.error.checks,
        10,
        "the system checks",
        lambda: where(supervisor),
    )
    check = supervisor.run.error.checks[0]
    assert (check.id, check.object) == ("fields.E160", "pages.Note.created")
    assert (check.file, check.line) == ("site/pages/models.py", 8)
    assert (supervisor.run.error.file, supervisor.run.error.line) == ("site/pages/models.py", 8)


async def test_a_port_taken_while_django_starts_is_named_and_the_next_one_offered(manager, site):
    port = free_port()
    supervisor = supervise(manager, site, port=port)
    await supervisor.start()  # our own check found the port free...
    with socket.socket() as squatter:  # ...and another program takes it before Django binds
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        await wait_for_state(supervisor, "crashed", 60)
        status = supervisor.status()
        assert status.error.kind == "port"
        assert (
            status.error.message == f"Port {port} on 127.0.0.1 is already in use by another program"
        )
        assert "next-port" in [hint.action for hint in status.hints]


async def test_a_template_syntax_error_points_at_the_template_and_its_line(manager, site):
    template = site / "pages" / "templates" / "pages" / "home.html"
    edit(template, "{% endblock %}", "{% endblok %}")
    supervisor = supervise(manager, site)
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    assert await asyncio.to_thread(http_status, status.url) == 500

    def exception_line():
        return next(
            (
                line
                for line in supervisor.cache.tail(300)
                if "TemplateSyntaxError" in line.text and line.meta and "frame" in line.meta
            ),
            None,
        )

    await wait_for(exception_line, 10, "the TemplateSyntaxError line")
    frame = exception_line().meta["frame"]
    lines = template.read_text().splitlines()
    assert frame["file"] == "site/pages/templates/pages/home.html"
    assert "{% endblok %}" in lines[frame["line"] - 1]


async def test_daphnes_runserver_reads_as_running_with_its_request_lines(manager, tmp_path):
    """Channels: with `daphne` in INSTALLED_APPS, runserver is Daphne's."""
    from chat_site import make_chat_site

    site = make_chat_site(tmp_path)
    supervisor = manager.add("django", DjangoProject(site.parent, f"127.0.0.1:{free_port()}"))
    status = await supervisor.start(wait=60)
    assert status.state == "running", status.message
    assert await asyncio.to_thread(http_status, status.url + "nope/") == 404

    def request():
        return next(
            (
                l.meta["request"]
                for l in supervisor.cache.tail(100)
                if l.meta and "request" in l.meta
            ),
            None,
        )

    await wait_for(request, 10, "Daphne's request line")
    assert (request().method, request().path, request().status) == ("GET", "/nope/", 404)
