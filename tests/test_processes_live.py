"""Several processes beside runserver, on real processes: a worker loop, a process that crashes at
start, a dependency chain, a watcher that writes files, start all and stop all; then the same
through a real Jupyter server reading the demo project's Procfile.dev."""

from __future__ import annotations

import json
import socket
import sys
import textwrap
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError
from conftest import copy_demo_site, free_port
from waiting import wait_for, wait_for_state

from jupyter_fujita import oskit
from jupyter_fujita.errors import ActionFailed
from jupyter_fujita.manager import ProcessManager
from jupyter_fujita.processes import Program, spec_from_config
from jupyter_fujita.project import DjangoProject

PY = sys.executable


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return [PY, str(path)]


WORKER = """
    import time
    print("worker ready", flush=True)
    n = 0
    while True:
        n += 1
        print(f"job {n} done", flush=True)
        time.sleep(0.1)
"""

CRASHER = """
    import sys
    print("cannot connect to the broker", file=sys.stderr, flush=True)
    sys.exit(3)
"""

# Listens on the port it is given (as a mail catcher or Vite would), after a pause.
LISTENER = """
    import socket, sys, time
    time.sleep(0.3)
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen()
    while True:
        connection, _ = server.accept()
        connection.close()
"""


def add(manager: ProcessManager, tmp_path: Path, name: str, **options):
    spec = spec_from_config(name, options, tmp_path)
    return manager.add(name, Program(spec, dict), stop_timeout=3.0, start_wait=20.0)


def texts(supervisor) -> list[str]:
    return [line.text for line in supervisor.cache.tail(supervisor.cache.size)]


async def test_a_worker_is_running_once_its_log_says_so_and_stops_with_its_group(manager, tmp_path):
    worker = add(
        manager, tmp_path, "worker", command=script(tmp_path, "w", WORKER), ready={"log": "ready"}
    )
    status = await manager.start("worker", wait=20)
    assert (status.state, status.kind, status.message) == (
        "running",
        "program",
        "worker is running",
    )
    await wait_for(lambda: "job 3 done" in texts(worker), 20, "three jobs in the worker's log")
    pgid = worker.run.pgid
    status = await worker.stop()
    assert status.state == "stopped"
    assert oskit.group_members(pgid) == []


async def test_a_process_that_crashes_at_start_is_crashed_with_its_code(manager, tmp_path):
    add(manager, tmp_path, "broker", command=script(tmp_path, "c", CRASHER), ready={"log": "up"})
    status = await manager.start("broker", wait=20)
    assert (status.state, status.returncode) == ("crashed", 3)
    assert status.message == "broker exited with code 3"
    assert status.error.kind == "exit" and status.hints == []


async def test_a_process_whose_work_is_done_is_stopped_not_crashed(manager, tmp_path):
    add(manager, tmp_path, "build", command=[PY, "-c", "print('built 3 files')"])
    supervisor = manager.get("build")
    await manager.start("build")
    await wait_for_state(supervisor, "stopped", 20)
    assert supervisor.status().returncode == 0 and supervisor.status().error is None
    assert "built 3 files" in texts(supervisor)


async def test_start_brings_up_what_it_depends_on_first_and_stop_all_frees_every_port(
    manager, tmp_path
):
    port = free_port()
    listener = script(tmp_path, "l", LISTENER)
    add(manager, tmp_path, "mail", command=[*listener, str(port)], ready={"port": port})
    add(
        manager,
        tmp_path,
        "worker",
        command=script(tmp_path, "w", WORKER),
        ready={"log": "ready"},
        depends_on=["mail"],
    )
    add(manager, tmp_path, "beat", command=script(tmp_path, "b", WORKER), depends_on="worker")
    status = await manager.start("beat", wait=20)
    assert status.state == "running" and status.depends_on == ["worker"]
    mail, worker = manager.get("mail").status(), manager.get("worker").status()
    assert (mail.state, mail.url, worker.state) == (
        "running",
        f"http://127.0.0.1:{port}/",
        "running",
    )
    assert mail.started <= worker.started <= status.started
    groups = [s.run.pgid for s in manager]
    statuses = await manager.stop_all()
    assert [s.state for s in statuses] == ["stopped"] * 3
    assert all(oskit.group_members(pgid) == [] for pgid in groups)
    assert oskit.port_is_free("127.0.0.1", port)


async def test_a_dependency_that_does_not_come_up_holds_back_what_depends_on_it(manager, tmp_path):
    add(manager, tmp_path, "broker", command=script(tmp_path, "c", CRASHER), ready={"log": "up"})
    add(manager, tmp_path, "worker", command=script(tmp_path, "w", WORKER), depends_on=["broker"])
    add(manager, tmp_path, "css", command=script(tmp_path, "x", WORKER))
    with pytest.raises(ActionFailed, match="worker was not started: broker, which it depends on"):
        await manager.start("worker")
    assert manager.get("worker").state == "stopped"
    states = {s.name: s.state for s in await manager.start_all(wait=20)}
    assert states == {"broker": "crashed", "worker": "stopped", "css": "running"}


async def test_a_port_in_use_stops_a_program_before_it_starts(manager, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        add(manager, tmp_path, "mail", command=[PY, "-c", "pass"], ready={"port": port})
        status = await manager.start("mail")
    assert (status.state, status.error.kind) == ("crashed", "port")
    assert f"Port {port} on 127.0.0.1" in status.message
    assert status.hints == []  # next-port is Django's: a program's port is its own


async def test_a_program_has_no_address_and_no_django_actions(manager, tmp_path):
    from jupyter_fujita.errors import BadRequest, NoSuchAction

    worker = add(manager, tmp_path, "worker", command=script(tmp_path, "w", WORKER))
    with pytest.raises(BadRequest, match="worker is not Django"):
        await worker.start(address="127.0.0.1:9")
    with pytest.raises(NoSuchAction, match="it is Django's"):
        await worker.run_hint_action("migrate")


async def test_the_demo_css_watcher_rebuilds_when_a_style_changes(manager, tmp_path):
    site = copy_demo_site(tmp_path, procfile=True)
    django = DjangoProject(site.parent, f"127.0.0.1:{free_port()}", PY)
    spec = spec_from_config(
        "css",
        {"command": "python manage.py build_css --watch", "ready": {"log": "css: watching"}},
        site,
    )
    css = manager.add("css", Program(spec, django.env, PY), stop_timeout=3.0)
    status = await manager.start("css", wait=30)
    assert status.state == "running", status.message
    built = site / "pages" / "static" / "pages" / "site.css"
    (site / "pages" / "styles" / "nav.css").write_text("nav a { color: rebeccapurple; }\n")
    await wait_for(lambda: "rebeccapurple" in built.read_text(), 20, "site.css rebuilt")
    wrote = [text for text in texts(css) if text.startswith("css: wrote")]
    assert len(wrote) == 2, texts(css)


# -- through a real Jupyter server, from the demo's Procfile.dev ----------------------------

API = ("fujita", "api")


@pytest.fixture
def jp_server_config(django_port, procfile_site):
    # The Procfile is read when the server starts: the project is there before it.
    return {
        "ServerApp": {"jpserver_extensions": {"jupyter_fujita": True}},
        "Fujita": {
            "address": f"127.0.0.1:{django_port}",
            "stop_timeout": 3.0,
            "processes": {
                "worker": {
                    "ready": {"log": "worker ready"},
                    "command": "python manage.py notes_worker --every 0.2",
                    "depends_on": ["css"],
                },
            },
        },
    }


@pytest.fixture
def procfile_site(jp_root_dir: Path) -> Path:
    return copy_demo_site(jp_root_dir, procfile=True)


async def test_the_demo_procfile_runs_runserver_a_worker_and_a_watcher(jp_fetch):
    async def call(*parts: str, method: str = "GET") -> dict:
        body = b"" if method == "POST" else None
        return json.loads((await jp_fetch(*API, *parts, method=method, body=body)).body)

    listing = {s["name"]: s for s in (await call("processes"))["processes"]}
    assert {name: (s["kind"], s["source"], s["state"]) for name, s in listing.items()} == {
        "django": ("django", "Procfile.dev", "stopped"),
        "worker": ("program", "Fujita.processes", "stopped"),  # configured: wins over the file
        "css": ("program", "Procfile.dev", "stopped"),
    }
    assert listing["worker"]["depends_on"] == ["css"]
    worker = await call("processes", "worker", "start", method="POST")
    assert worker["state"] == "running", worker["message"]
    assert (await call("processes", "css"))["state"] == "running"  # its dependency, first
    everything = await call("processes", "all", "start", method="POST")
    assert {s["name"]: s["state"] for s in everything["processes"]} == {
        "django": "running",
        "worker": "running",
        "css": "running",
    }
    log = await call("processes", "worker", "log")
    assert "worker ready: looking for new notes" in [line["text"] for line in log["lines"]]
    with pytest.raises(HTTPClientError) as refused:  # only django's site is previewed
        await jp_fetch("fujita", "site", "css", "index.html")
    assert refused.value.code == 404
    stopped = await call("processes", "all", "stop", method="POST")
    assert [s["state"] for s in stopped["processes"]] == ["stopped"] * 3
