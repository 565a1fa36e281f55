"""What the output reader (runserver_output) reads in runserver's output, on text captured from Django 5.2 and 6."""

import json
from pathlib import Path

import msgspec
import pytest

from jupyter_fujita.errors import NotConfigured
from jupyter_fujita.project import DjangoProject, find_manage_py, parse_address
from jupyter_fujita.replay import Line, NewLines
from jupyter_fujita.runserver_output import Broken, Failed, Ready, Reloading, RunserverWatcher
from jupyter_fujita.client import line_records
from jupyter_fujita.wire import Request, RequestRecord, line_json, request_of, wire_lines

URLS_SYNTAX_ERROR = """\
Exception in thread django-main-thread:
Traceback (most recent call last):
  File "/usr/lib/python3.11/threading.py", line 1045, in _bootstrap_inner
    self.run()
  File "/venv/lib/python3.11/site-packages/django/core/management/commands/runserver.py", line 134, in inner_run
    self.check(**check_kwargs)
  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import
  File "{root}/site/mysite/urls.py", line 12
    path("", views.home
        ^
SyntaxError: '(' was never closed"""

MODELS_IMPORT_ERROR = """\
Traceback (most recent call last):
  File "{root}/site/manage.py", line 10, in <module>
    execute_from_command_line(sys.argv)
  File "/venv/lib/python3.11/site-packages/django/apps/config.py", line 269, in import_models
    self.models_module = import_module(models_module_name)
                         ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  File "{root}/site/pages/models.py", line 15, in <module>
    import notamodule
  File "/venv/lib/python3.11/site-packages/other/thing.py", line 3, in <module>
    raise ModuleNotFoundError("No module named 'notamodule'")
ModuleNotFoundError: No module named 'notamodule'"""

CHAINED = """\
Traceback (most recent call last):
  File "{root}/site/a.py", line 1, in f
    g()
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "{root}/site/b.py", line 7, in g
    h()
django.core.exceptions.ImproperlyConfigured: SECRET_KEY must not be empty"""


def feed_all(watcher, text, stream="stderr", first_seq=1):
    events = []
    for offset, line in enumerate(text.splitlines()):
        event = watcher.feed(Line(first_seq + offset, stream, 0.0, line))
        if event is not None:
            events.append(event)
    return events


@pytest.mark.parametrize(
    "line",
    [
        "Starting development server at http://127.0.0.1:8000/",  # Django 5
        "Starting WSGI development server at http://127.0.0.1:8000/",  # Django 6
        "Starting ASGI development server at http://127.0.0.1:8000/",
    ],
)
def test_start_line_of_django_5_and_6_reads_as_ready(tmp_path, line):
    ready = RunserverWatcher(tmp_path).feed(Line(1, "stdout", 0.0, line))
    assert ready == Ready("http://127.0.0.1:8000/")


def test_start_line_on_stderr_or_in_prose_is_not_ready(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    assert (
        watcher.feed(Line(1, "stderr", 0.0, "Starting development server at http://x:1/")) is None
    )
    assert (
        watcher.feed(Line(2, "stdout", 0.0, "Not Starting development server at http://x/")) is None
    )


def test_syntax_error_in_the_reloader_thread_is_broken_with_file_and_line(tmp_path):
    events = feed_all(
        RunserverWatcher(tmp_path), URLS_SYNTAX_ERROR.format(root=tmp_path), first_seq=40
    )
    assert len(events) == 1 and isinstance(events[0], Broken)
    error = events[0].error
    assert (error.kind, error.exception, error.file, error.line) == (
        "syntax",
        "SyntaxError",
        "site/mysite/urls.py",
        12,
    )
    assert error.message == "'(' was never closed"
    assert error.seq == 40  # the "Exception in thread" line opens it
    assert error.summary() == "SyntaxError in site/mysite/urls.py line 12"


def test_import_error_points_at_the_deepest_project_frame_not_site_packages(tmp_path):
    events = feed_all(RunserverWatcher(tmp_path), MODELS_IMPORT_ERROR.format(root=tmp_path))
    assert isinstance(events[0], Failed)
    error = events[0].error
    assert (error.kind, error.file, error.line) == ("import", "site/pages/models.py", 15)


def test_chained_traceback_reports_the_last_exception(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    events = feed_all(watcher, CHAINED.format(root=tmp_path))
    error = events[-1].error
    assert (error.kind, error.exception, error.file) == (
        "settings",
        "ImproperlyConfigured",
        "site/b.py",
    )
    assert error.seq == 1  # the chain starts with the first traceback
    assert watcher.last_error == error


def test_chained_traceback_in_the_reloader_thread_stays_broken(tmp_path):
    text = "Exception in thread django-main-thread:\n" + CHAINED.format(root=tmp_path)
    events = feed_all(RunserverWatcher(tmp_path), text)
    assert all(isinstance(event, Broken) for event in events)
    assert events[-1].error.exception == "ImproperlyConfigured"


def test_stdout_lines_between_traceback_lines_do_not_break_it(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    lines = URLS_SYNTAX_ERROR.format(root=tmp_path).splitlines()
    events = []
    for seq, line in enumerate(lines, 1):
        events.append(watcher.feed(Line(seq, "stderr", 0.0, line)))
        events.append(watcher.feed(Line(100 + seq, "stdout", 0.0, "Django version 5.2")))
    assert [type(e) for e in events if e] == [Broken]


def test_reload_and_port_in_use_are_recognised(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    changed = Line(1, "stderr", 0.0, "/p/site/pages/views.py changed, reloading.")
    assert watcher.feed(changed) == Reloading("/p/site/pages/views.py")
    event = watcher.feed(Line(2, "stderr", 0.0, "Error: That port is already in use."))
    assert isinstance(event, Failed) and event.error.kind == "port"


def test_manage_py_is_found_in_the_root_then_one_folder_down(tmp_path):
    assert find_manage_py(tmp_path) is None
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "manage.py").write_text("")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "manage.py").write_text("")
    assert find_manage_py(tmp_path) is None
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "manage.py").write_text("")
    assert find_manage_py(tmp_path) == tmp_path / "b" / "manage.py"
    (tmp_path / "manage.py").write_text("")
    assert find_manage_py(tmp_path) == tmp_path / "manage.py"


def test_missing_manage_py_names_the_setting(tmp_path):
    with pytest.raises(NotConfigured, match="Fujita.manage_py"):
        DjangoProject(tmp_path).command()
    with pytest.raises(NotConfigured, match="not a file"):
        DjangoProject(tmp_path, manage_py=Path("/nonexistent/manage.py")).command()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:8001", ("127.0.0.1", 8001)),
        ("8002", ("127.0.0.1", 8002)),
        ("[::1]:8003", ("::1", 8003)),
    ],
)
def test_addresses_parse(address, expected):
    assert parse_address(address) == expected


@pytest.mark.parametrize("address", ["", "host:", "127.0.0.1:99999", "127.0.0.1:http"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError):
        parse_address(address)


@pytest.mark.parametrize(
    "text",
    [
        '[02/Dec/2026 04:50:01] "GET /x/?a=1 HTTP/1.1" 500 145',  # runserver's own
        '[2026-12-02 04:50:01][INFO][django.server] "GET /x/?a=1 HTTP/1.1" 500 145',
        'INFO 2026-12-02 04:50:01,123 basehttp 4242 "GET /x/?a=1 HTTP/1.1" 500 145',
        '\x1b[31mERROR\x1b[0m django.server: "GET /x/?a=1 HTTP/1.1" 500 145',
        '127.0.0.1 - - [02/Dec/2026 04:50:01] "GET /x/?a=1 HTTP/1.1" 500 145',  # Werkzeug
        '{"levelname": "ERROR", "message": "\\"GET /x/?a=1 HTTP/1.1\\" 500 145"}',
        "HTTP GET /x/?a=1 500 [0.01, 127.0.0.1:46516]",  # Daphne
    ],
)
def test_a_request_line_is_read_in_any_format(tmp_path, text):
    line = Line(7, "stderr", 0.0, text)
    assert RunserverWatcher(tmp_path).feed(line) is None
    request = line.meta["request"]
    assert (request.method, request.path, request.status) == ("GET", "/x/?a=1", 500)


def test_a_json_record_holding_its_traceback_is_tied_to_the_request(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    record = Line(
        3,
        "stderr",
        0.0,
        '{"message": "Internal Server Error: /boom/", "exc_info": '
        '"Traceback (most recent call last):\\n  File \\"x.py\\", line 1\\nValueError: boom"}',
    )
    request = Line(4, "stderr", 0.0, '{"message": "\\"GET /boom/ HTTP/1.1\\" 500 9"}')
    assert watcher.feed(record) is None and watcher.feed(request) is None
    assert request.meta["request"].traceback_seq == 3
    assert watcher.last_error is None


def test_a_reload_is_read_behind_a_logging_prefix(tmp_path):
    watcher = RunserverWatcher(tmp_path)
    text = "[02/Dec/2026 04:50:01][INFO][django.utils.autoreload] /srv/app/views.py changed, reloading."
    assert watcher.feed(Line(1, "stderr", 0.0, text)) == Reloading("/srv/app/views.py")


def test_a_stderr_batch_reads_as_its_lines_one_by_one(tmp_path):
    """feed_batch's skip of the lines between those worth reading gives the very events,
    requests and annotations that reading line by line gives, however the lines are cut into
    batches."""
    views = tmp_path / "site" / "views.py"
    texts = [
        '[02/Dec/2026 04:50:01] "GET /a/ HTTP/1.1" 200 5',
        "Internal Server Error: /boom/",
        "Traceback (most recent call last):",
        f'  File "{views}", line 9, in boom',
        "    raise ValueError('x')",
        '[02/Dec/2026 04:50:02] "GET /in/the/traceback HTTP/1.1" 200 5',  # another thread's
        "ValueError: x",
        '[02/Dec/2026 04:50:02] "GET /other/ HTTP/1.1" 200 5',  # before the 500's own
        '[02/Dec/2026 04:50:02] "GET /boom/ HTTP/1.1" 500 145',
        '{"message": "\\"GET /j/ HTTP/1.1\\" 404 3"}',
        '\x1b[32mINFO\x1b[0m "GET /colour/ HTTP/1.1" 200 1',
        "HTTP GET /daphne/ 404 [0.01, 127.0.0.1:46516]",
        "",
        'a line that says " nothing"',
        f"{views} changed, reloading.",
        "Error: That port is already in use.",
        '[02/Dec/2026 04:50:03] "POST /b/?q=1 HTTP/1.1" 302 0',
        "Exception in thread django-main-thread:",
        "Traceback (most recent call last):",
        f'  File "{views}", line 3, in <module>',
        "SyntaxError: invalid syntax",
        '[02/Dec/2026 04:50:04] "GET /c/ HTTP/1.1" 200 -',
        '[02/Dec/2026 04:50:04] "GET /busy/ HTTP/1.1" 503 0',  # no traceback waits for it
        "Traceback (most recent call last):",
        f'  File "{views}", line 4, in <module>',
        "KeyError: 'k'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        f'  File "{views}", line 5, in <module>',
        "OSError: o",
        '[02/Dec/2026 04:50:05] "GET /d/ HTTP/1.1" 404 3',
        'a line that says " nothing" either',
        '[02/Dec/2026 04:50:05] "GET /e/ HTTP/1.1" 200 -',
    ]
    one_by_one = [Line(seq, "stderr", 0.0, text) for seq, text in enumerate(texts, 1)]
    watcher = RunserverWatcher(tmp_path)
    expected = [event for line in one_by_one if (event := watcher.feed(line)) is not None]
    assert len(expected) >= 4  # the reload, the port, the syntax error, the OSError
    assert sum(bool(line.meta and "request" in line.meta) for line in one_by_one) >= 7
    for size in (1, 2, 3, 7, len(texts)):
        # as the cache hands them over (NewLines): a Line made of those the reader asks for
        watcher, events, batched = RunserverWatcher(tmp_path), [], []
        for start in range(0, len(texts), size):
            batch = NewLines(start + 1, "stderr", 0.0, texts[start : start + size])
            events += watcher.feed_batch(batch, texts=batch.texts)
            asked = len(batch.made)
            batched += batch  # the lines asked for as the reader left them, the others made now
        assert events == expected, size
        assert list(map(_read, batched)) == list(map(_read, one_by_one)), size
    assert asked < len(texts)  # read whole, the lines between records were never asked for
    # Lines between records are skipped: no meta, their requests read from the text.
    assert batched[0].meta is None and batched[-1].meta is None
    assert request_of(batched[-1]) == Request("GET", "/e/", 200, None)
    assert batched[22].meta is None and request_of(batched[22]) == Request("GET", "/busy/", 503, 0)
    assert batched[8].meta == {"request": Request("GET", "/boom/", 500, 145, traceback_seq=3)}


def _read(line: Line) -> tuple[Request | None, dict[str, object]]:
    """What a line says to whoever reads it: its request, and the rest of its meta."""
    rest = {key: value for key, value in (line.meta or {}).items() if key != "request"}
    return request_of(line), rest


def test_a_request_line_reaches_the_faces_as_the_rest_api_writes_it(tmp_path):
    """What the wire sends of request lines (a 500 as a RequestRecord with its link to its
    traceback, the others as plain text), read as the faces read it (`line_records`), is what
    the REST API answers (`line_json`): plain lines and annotated ones as well."""
    texts = [
        '[02/Dec/2026 04:50:01] "GET /a/?q=1 HTTP/1.1" 200 5',
        "Internal Server Error: /boom/",
        "Traceback (most recent call last):",
        f'  File "{tmp_path / "views.py"}", line 9, in boom',
        "ValueError: x",
        '[02/Dec/2026 04:50:02] "GET /boom/ HTTP/1.1" 500 145',
        '[02/Dec/2026 04:50:03] "GET /c/ HTTP/1.1" 304 -',
        "a plain line",
    ]
    lines = [Line(seq, "stderr", 1.5, text) for seq, text in enumerate(texts, 1)]
    RunserverWatcher(tmp_path).feed_batch(lines)
    records = wire_lines(lines)
    assert [type(record) for record in records].count(RequestRecord) == 1
    assert lines[5].meta["request"].traceback_seq == 3
    read = line_records(json.loads(msgspec.json.encode(records)))
    assert read == [msgspec.to_builtins(line_json(line)) for line in lines]
    statuses = [line.get("request", {}).get("status") for line in read]
    assert statuses == [200, None, None, None, None, 500, 304, None]
