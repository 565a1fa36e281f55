"""A real `jupyter server` process: however it ends, runserver does not outlive it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest
from conftest import copy_demo_site, free_port
from servers import JupyterServer
from waiting import wait_until

from jupyter_fujita import oskit
from jupyter_fujita.replay import EARLIER_RUNS


@pytest.fixture
def server_factory(tmp_path):
    started: list[JupyterServer] = []
    copy_demo_site(tmp_path / "root")

    def start(django_port: int | None = None) -> JupyterServer:
        server = JupyterServer(tmp_path, django_port or free_port())
        started.append(server)
        return server

    yield start
    for server in started:
        server.end()


def assert_nothing_left(pgid: int, port: int, after: str = "") -> None:
    def members() -> list[str]:  # what is left, and in what state, to say so
        left = []
        for pid in oskit.group_members(pgid):
            try:
                process = psutil.Process(pid)
                left.append(f"{pid} {process.status()} {' '.join(process.cmdline()[-3:])}")
            except psutil.Error:
                pass
        return left

    what = f"process group {pgid} to end{after}"
    wait_until(lambda: not oskit.group_members(pgid), 15, what, members)
    wait_until(lambda: oskit.port_is_free("127.0.0.1", port), 15, f"port {port} to be freed{after}")


@pytest.mark.parametrize(
    "how", ["SIGTERM", "SIGINT without a terminal", "SIGINT twice", "jupyter server stop"]
)
def test_server_shutdown_stops_runserver(server_factory, how):
    server = server_factory()
    pgid = server.start_django()
    assert len(oskit.group_members(pgid)) == 2
    if how == "SIGTERM":
        server.proc.send_signal(signal.SIGTERM)
    elif how == "SIGINT without a terminal":  # JupyterHub's way: the extension's stop must run
        server.proc.send_signal(signal.SIGINT)
    elif how == "SIGINT twice":  # Ctrl-C, then Ctrl-C again to skip the confirmation
        server.proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        server.proc.send_signal(signal.SIGINT)
    else:
        subprocess.run(
            [sys.executable, "-m", "jupyter_server", "stop", str(server.port)],
            env=server.env,
            check=True,
            capture_output=True,
            timeout=60,
        )
    server.proc.wait(60)
    assert_nothing_left(pgid, server.django_port)
    log = Path(server.log.name).read_text()
    assert "Traceback" not in log, log
    # Stopped by the extension (not by the parent-death signal): the supervisor said so.
    assert "Shutting down" in log, log


def test_runserver_dies_with_a_killed_server_and_the_next_server_starts_clean(server_factory):
    first = server_factory()
    pgid = first.start_django()
    first.proc.kill()  # SIGKILL: no shutdown code runs
    first.proc.wait(30)
    assert_nothing_left(pgid, first.django_port)
    second = server_factory(first.django_port)
    assert second.start_django() != pgid
    records = list((second.runtime / "jupyter_fujita").glob("*.json"))
    assert [r.name for r in records] == [f"django-{second.proc.pid}.json"]


def test_the_log_survives_a_restart_of_the_jupyter_server(server_factory):
    first = server_factory()
    first.start_django()
    urllib.request.urlopen(f"http://127.0.0.1:{first.django_port}/?before=restart").read()
    wait_until(
        lambda: any(
            "before=restart" in l["text"]
            for l in first.request("GET", "processes/django/log")["lines"]
        ),
        15,
        "the request line",
    )
    before = first.request("GET", "processes/django/log")
    first.end()  # SIGTERM: a clean shutdown

    second = server_factory(first.django_port)
    after = second.request("GET", "processes/django/log")
    assert after["log_id"] == before["log_id"]
    texts = [line["text"] for line in after["lines"]]
    assert any("before=restart" in text for text in texts)
    assert texts[-1] == EARLIER_RUNS  # the faces show where the earlier runs end
    assert after["last_seq"] > before["last_seq"]
    second.start_django()
    newest = second.request("GET", "processes/django/log")["lines"]
    assert newest[-1]["seq"] > after["last_seq"]  # seqs go on


KILL_PATHS = {
    "SIGINT without a terminal": signal.SIGINT,  # JupyterHub's way
    "SIGTERM": signal.SIGTERM,
    "SIGKILL": signal.SIGKILL,  # no shutdown code runs: the parent-death signal does it
}


@pytest.mark.timeout(900)  # about 6 s a cycle: a Jupyter server and Django started each time
def test_fifty_kill_path_cycles_in_a_row_leave_no_process_and_no_port(server_factory):
    django_port = free_port()
    ways = list(KILL_PATHS)
    for cycle in range(50):
        how = ways[cycle % len(ways)]
        server = server_factory(django_port)
        pgid = server.start_django()
        members = oskit.group_members(pgid)
        assert len(members) == 2, (cycle, how)
        server.proc.send_signal(KILL_PATHS[how])
        server.proc.wait(60)
        assert_nothing_left(pgid, django_port, f" (cycle {cycle}: {how})")
        server.end()
