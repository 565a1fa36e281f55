"""Reading the processes beside runserver: Procfiles and Fujita.processes, checked."""

from __future__ import annotations


import pytest

from jupyter_fujita.processes import (
    ConfigError,
    Program,
    ReadyWatcher,
    RunserverEntry,
    load_specs,
    read_procfile,
    spec_from_config,
    start_order,
)
from jupyter_fujita.runserver_output import Ready
from jupyter_fujita.wire import Line

PROCFILE = """\
# what `honcho start` runs
web: python manage.py runserver 0.0.0.0:$PORT
worker: celery -A shop worker -l info
css:    npx tailwindcss -i in.css -o static/out.css --watch
"""


def test_a_procfiles_runserver_entry_is_django_and_the_others_are_processes(tmp_path):
    (tmp_path / "Procfile").write_text(PROCFILE)
    specs, django = load_specs({}, tmp_path)
    assert django == RunserverEntry("python manage.py runserver 0.0.0.0:$PORT", "Procfile")
    assert list(specs) == ["worker", "css"]
    assert specs["worker"].command == ["/bin/sh", "-c", "celery -A shop worker -l info"]
    assert specs["worker"].source == "Procfile" and specs["worker"].cwd == tmp_path
    assert specs["css"].autostart is False  # started only when configured or asked


def test_procfile_dev_is_read_before_procfile(tmp_path):
    (tmp_path / "Procfile").write_text("a: echo a\n")
    (tmp_path / "Procfile.dev").write_text("b: echo b\n")
    specs, _ = load_specs({}, tmp_path)
    assert list(specs) == ["b"] and specs["b"].source == "Procfile.dev"


def test_a_bad_procfile_line_is_named(tmp_path):
    (tmp_path / "Procfile").write_text("web: ok\nthis is not an entry\n")
    with pytest.raises(ConfigError, match="Procfile line 2"):
        read_procfile(tmp_path / "Procfile")


def test_configured_processes_win_and_are_checked(tmp_path):
    (tmp_path / "Procfile").write_text("worker: celery worker\n")
    specs, _ = load_specs(
        {
            "worker": {"command": ["python", "-m", "worker"], "ready": {"log": "ready"}},
            "mail": {
                "command": "python -m aiosmtpd -n",
                "ready": {"port": 1025},
                "depends_on": "worker",
                "autostart": True,
                "env": {"A": "1"},
                "cwd": "sub",
            },
        },
        tmp_path,
    )
    assert specs["worker"].command == ["python", "-m", "worker"]
    assert specs["worker"].source == "Fujita.processes"
    assert specs["mail"].ready_port == 1025 and specs["mail"].depends_on == ["worker"]
    assert specs["mail"].cwd == tmp_path / "sub" and specs["mail"].env == {"A": "1"}
    depends_on = {name: spec.depends_on for name, spec in specs.items()}
    assert start_order(depends_on, "mail") == ["worker", "mail"]
    assert start_order(depends_on, "worker", "mail") == ["worker", "mail"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"command": ""}, "command must be"),
        ({"command": "x", "colour": "red"}, "unknown key"),
        ({"command": "x", "ready": {"log": "("}}, "ready.log"),
        ({"command": "x", "ready": {"port": 70000}}, "ready.port"),
        ({"command": "x", "env": {"A": 1}}, "env must"),
        ({"command": "x", "depends_on": ["nobody"]}, "no such process"),
        ("echo hi", "must be a dict"),
    ],
)
def test_bad_process_configuration_is_a_clear_error(tmp_path, options, message):
    with pytest.raises(ConfigError, match=message):
        load_specs({"job": options}, tmp_path)


def test_django_is_not_a_name_to_take_and_cycles_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="runserver's"):
        load_specs({"django": {"command": "x"}}, tmp_path)
    with pytest.raises(ConfigError, match="circle: a -> b -> a"):
        load_specs(
            {"a": {"command": "x", "depends_on": ["b"]}, "b": {"command": "y", "depends_on": "a"}},
            tmp_path,
        )


def test_readiness_is_read_from_the_pattern_once(tmp_path):
    spec = spec_from_config(
        "worker", {"command": "celery worker", "ready": {"log": r"celery@\S+ ready"}}, tmp_path
    )
    watcher = ReadyWatcher(Program(spec, dict))
    assert watcher.at_spawn() == []
    assert watcher.feed_batch([Line(1, "stderr", 0.0, "starting")]) == []
    assert watcher.feed_batch([Line(2, "stderr", 0.0, "[x] celery@box ready.")]) == [Ready(None)]
    assert watcher.feed_batch([Line(3, "stderr", 0.0, "celery@box ready.")]) == []


def test_without_a_pattern_readiness_starts_at_spawn_on_the_port_if_any(tmp_path):
    spec = spec_from_config("mail", {"command": "mailpit", "ready": {"port": 8025}}, tmp_path)
    assert ReadyWatcher(Program(spec, dict)).at_spawn() == [Ready("http://127.0.0.1:8025/")]
    spec = spec_from_config("beat", {"command": "celery beat"}, tmp_path)
    assert ReadyWatcher(Program(spec, dict)).at_spawn() == [Ready(None)]
