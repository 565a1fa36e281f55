"""The supervisor against a real `manage.py runserver` (and real misbehaving children), no Jupyter."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import urllib.request
from pathlib import Path

import msgspec
import psutil
import pytest
from conftest import assert_group_gone, copy_demo_site, edit, free_port, let_reloader_settle
from waiting import wait_for, wait_for_state, where

from jupyter_fujita import oskit
from jupyter_fujita.client import line_records
from jupyter_fujita.handlers import encode_message
from jupyter_fujita.project import DjangoProject
from jupyter_fujita.replay import LogFeed
from jupyter_fujita.manager import ProcessManager
from jupyter_fujita.supervisor import Supervisor


@pytest.fixture
def manager(tmp_path, jp_asyncio_loop):
    manager = ProcessManager(tmp_path / "records")
    yield manager
    groups = [s.run.pgid for s in manager]
    jp_asyncio_loop.run_until_complete(manager.shutdown())
    for pgid in groups:
        assert_group_gone(pgid)


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def site(tmp_path) -> Path:
    return copy_demo_site(tmp_path)


def supervise(manager: ProcessManager, root: Path, port: int, **options) -> Supervisor:
    return manager.add("django", DjangoProject(root, f"127.0.0.1:{port}"), **options)


def fake_manage_py(root: Path, body: str) -> None:
    """A child that is not Django: a real process doing what a test needs through the pipes."""
    (root / "manage.py").write_text(textwrap.dedent(body))


def texts(supervisor: Supervisor) -> list[str]:
    return [line.text for line in supervisor.cache.tail(supervisor.cache.size)]


async def fetch(url: str) -> tuple[int, str]:
    def get() -> tuple[int, str]:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()

    return await asyncio.to_thread(get)


async def test_start_reaches_running_with_the_url_and_the_site_answers(manager, site, port):
    supervisor = supervise(manager, site.parent, port)
    status = await supervisor.start(wait=30)
    assert status.state == "running", status.message
    assert status.url == f"http://127.0.0.1:{port}/"
    assert status.message == f"Django is running at http://127.0.0.1:{port}/"
    assert status.command[1:] == ["manage.py", "runserver", f"127.0.0.1:{port}"]
    assert status.cwd == str(site)
    code, body = await fetch(status.url)
    assert code == 200 and "Hello from Django" in body
    await wait_for(lambda: any('"GET / HTTP/1.1" 200' in t for t in texts(supervisor)), 10)
    assert texts(supervisor)[0].startswith("Starting: ")


async def test_stop_frees_the_port_and_leaves_no_process_of_the_group(manager, site, port):
    supervisor = supervise(manager, site.parent, port)
    await supervisor.start(wait=30)
    pgid = supervisor.run.pgid
    members = oskit.group_members(pgid)
    assert len(members) == 2  # the autoreloader and the child that serves
    status = await supervisor.stop()
    assert status.state == "stopped" and status.pid is None
    assert oskit.group_members(pgid) == []
    for pid in members:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split(
            ") "
        )[1].startswith("Z")
    assert oskit.port_is_free("127.0.0.1", port)
    assert texts(supervisor)[-1].startswith("Stopped")


async def test_fifty_concurrent_starts_give_one_process(manager, site, port):
    supervisor = supervise(manager, site.parent, port)
    statuses = await asyncio.gather(*(supervisor.start() for _ in range(50)))
    assert len({s.pid for s in statuses}) == 1
    await wait_for_state(supervisor, "running", 30)
    assert len(oskit.group_members(supervisor.run.pgid)) == 2
    assert sum(t.startswith("Starting: ") for t in texts(supervisor)) == 1


async def test_stop_during_starting_works(manager, site, port):
    supervisor = supervise(manager, site.parent, port)
    starting = asyncio.ensure_future(supervisor.start(wait=30))
    await wait_for(lambda: supervisor.state == "starting", 10)
    pgid = supervisor.run.pgid
    status = await supervisor.stop()
    assert status.state == "stopped"
    assert (await starting).state == "stopped"
    assert_group_gone(pgid)
    assert oskit.port_is_free("127.0.0.1", port)


async def test_restart_gives_a_new_pid(manager, site, port):
    supervisor = supervise(manager, site.parent, port)
    first = await supervisor.start(wait=30)
    second = await supervisor.restart(wait=30)
    assert second.state == "running" and second.pid != first.pid
    assert second.restarts == 1
    assert_group_gone(first.pid)


async def test_port_taken_by_another_program_crashes_at_once_with_a_port_error(manager, site):
    with __import__("socket").socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        supervisor = supervise(manager, site.parent, port)
        status = await supervisor.start(wait=30)
    assert status.state == "crashed"
    assert status.error.kind == "port"
    assert "in use" in status.message and str(port) in status.message
    assert supervisor.run.proc is None  # nothing was spawned


async def test_broken_urls_is_not_running_then_fixed_runs_by_itself(manager, site, port):
    urls = site / "mysite" / "urls.py"
    edit(urls, '"admin/", admin.site.urls),', '"admin/", admin.site.urls,')
    supervisor = supervise(manager, site.parent, port)
    status = await supervisor.start(wait=30)
    assert status.state == "broken", status.message
    assert status.error.exception == "SyntaxError"
    assert status.error.file == "site/mysite/urls.py"
    assert status.message.startswith("Waiting for a fix: SyntaxError in site/mysite/urls.py line")
    assert oskit.port_is_free("127.0.0.1", port)
    assert len(oskit.group_members(supervisor.run.pgid)) == 2  # alive, waiting for a change
    await let_reloader_settle()
    edit(urls, '"admin/", admin.site.urls,', '"admin/", admin.site.urls),')
    await wait_for_state(supervisor, "running", 30)
    assert supervisor.status().error is None
    assert (await fetch(supervisor.run.url))[0] == 200


async def test_views_broken_while_running_reloads_then_is_broken_then_runs(manager, site, port):
    views = site / "pages" / "views.py"
    supervisor = supervise(manager, site.parent, port)
    await supervisor.start(wait=30)
    seen: list[str] = []
    supervisor.on_change = lambda s: seen.append(s.state)
    await let_reloader_settle()
    edit(views, "def notes(request):", "def notes(request:")
    await wait_for_state(supervisor, "broken", 30)
    await let_reloader_settle()
    assert "reloading" in seen
    assert supervisor.run.error.file == "site/pages/views.py"
    edit(views, "def notes(request:", "def notes(request):")
    await wait_for_state(supervisor, "running", 30)


async def test_broken_settings_crash_with_the_syntax_error_then_start_once_fixed(
    manager, site, port
):
    settings = site / "mysite" / "settings.py"
    edit(settings, "DEBUG = True", "DEBUG = (True")
    supervisor = supervise(manager, site.parent, port)
    status = await supervisor.start(wait=30)
    assert status.state == "crashed" and status.returncode == 1
    assert (status.error.kind, status.error.file) == ("syntax", "site/mysite/settings.py")
    assert any(t.startswith("SyntaxError") for t in texts(supervisor))
    assert "Django exited with code 1: SyntaxError in site/mysite/settings.py" in status.message
    edit(settings, "DEBUG = (True", "DEBUG = True")
    assert (await supervisor.start(wait=30)).state == "running"


async def test_stop_escalates_to_sigkill_for_a_child_that_ignores_signals(manager, tmp_path, port):
    fake_manage_py(
        tmp_path,
        """
        import signal, sys, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stubborn", flush=True)
        time.sleep(600)
        """,
    )
    supervisor = supervise(manager, tmp_path, port, stop_timeout=0.3)
    await supervisor.start()
    await wait_for(lambda: "stubborn" in texts(supervisor), 10)
    status = await supervisor.stop()
    assert status.state == "stopped" and status.returncode == -signal.SIGKILL
    assert any("sending SIGKILL" in t for t in texts(supervisor))
    assert_group_gone(supervisor.run.pgid)


async def test_a_child_that_exits_by_itself_is_crashed_and_its_last_line_kept(
    manager, tmp_path, port
):
    fake_manage_py(tmp_path, 'import sys\nsys.stdout.write("no newline at the end")\nsys.exit(4)\n')
    supervisor = supervise(manager, tmp_path, port)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 10)
    status = supervisor.status()
    assert status.returncode == 4 and "exited with code 4" in status.message
    assert "no newline at the end" in texts(supervisor)


async def test_output_the_reader_chokes_on_is_still_logged_and_reading_goes_on(
    manager, tmp_path, port, monkeypatch, caplog
):
    """A bug in reading runserver's output (runserver_output) costs its events, never the
    log: the lines are kept, the pipes read on, and the server log says what failed."""
    fake_manage_py(
        tmp_path, 'import sys, time\nprint("choke", flush=True)\ntime.sleep(0.3)\nprint("after")\n'
    )
    supervisor = supervise(manager, tmp_path, port)
    feed_batch = supervisor.watcher.feed_batch

    def choking(lines, partial=False, texts=None):
        if any(line.text == "choke" for line in lines):
            raise ValueError("a reader's bug")
        return feed_batch(lines, partial, texts)

    monkeypatch.setattr(supervisor.watcher, "feed_batch", choking)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 10)  # it ends, exit code 0 without a start line
    assert {"choke", "after"} <= set(texts(supervisor))
    assert "cannot read django's output" in caplog.text and "a reader's bug" in caplog.text


async def test_grandchild_left_behind_by_the_parent_is_ended(manager, tmp_path, port):
    """What runserver's reloader child does when its parent dies: keep the pipes open."""
    fake_manage_py(
        tmp_path,
        """
        import subprocess, sys
        child = subprocess.Popen([sys.executable, "-c", "import time; print('child', flush=True); time.sleep(600)"])
        print("parent leaves", child.pid, flush=True)
        """,
    )
    supervisor = supervise(manager, tmp_path, port)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 15)
    assert_group_gone(supervisor.run.pgid)


async def test_ten_megabyte_line_and_binary_garbage_stay_bounded(manager, tmp_path, port):
    fake_manage_py(
        tmp_path,
        """
        import os, sys
        out = sys.stdout.buffer
        out.write(b"x" * (10 * 1024 * 1024) + b"\\n")
        out.write(os.urandom(200_000).replace(b"\\n", b"") + b"\\n")
        out.write(b"done\\n")
        out.flush()
        """,
    )
    supervisor = supervise(manager, tmp_path, port, max_line_bytes=64 * 1024)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 30)
    lines = texts(supervisor)
    assert "done" in lines
    assert all(len(text) < 70 * 1024 for text in lines)
    assert sum("line cut at 65536 bytes" in text for text in lines) == 2
    assert any("\ufffd" in text for text in lines)


async def test_two_hundred_thousand_lines_a_second_keep_the_cache_bounded(manager, tmp_path, port):
    fake_manage_py(
        tmp_path,
        """
        import sys
        line = b"%07d " + b"y" * 92 + b"\\n"
        out = sys.stdout.buffer
        for i in range(300_000):
            out.write(line % i)
        out.write(b"end\\n")
        """,
    )
    supervisor = supervise(manager, tmp_path, port, cache_lines=5_000, cache_bytes=1 << 20)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 60)
    cache = supervisor.cache
    assert cache.last_seq == 300_000 + 3  # "Starting", the lines, "end", "Exited"
    assert cache.size <= 5_000 and cache.nbytes <= 1 << 20
    assert texts(supervisor)[-2] == "end"


async def test_a_group_left_by_a_dead_jupyter_server_is_ended_on_the_next_start(
    manager, site, port, tmp_path
):
    # A runserver started by "an earlier server": its owner is a process that has exited.
    owner = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    orphan = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        cwd=site,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await wait_for(lambda: not oskit.port_is_free("127.0.0.1", port), 30, "the orphan's port")
        records = tmp_path / "records"
        records.mkdir()
        (records / "django-1.json").write_text(
            json.dumps(
                {
                    "pid": orphan.pid,
                    "pgid": orphan.pid,
                    "start_time": oskit.process_start_time(orphan.pid),
                    "owner_pid": int(owner.stdout),
                    "owner_start_time": 1,
                }
            )
        )
        supervisor = supervise(manager, site.parent, port)
        status = await supervisor.start(wait=30)
        assert status.state == "running", status.message
        assert orphan.poll() is not None
        assert_group_gone(orphan.pid)
        assert any("left by an earlier Jupyter server" in t for t in texts(supervisor))
    finally:
        if orphan.poll() is None:
            os.killpg(orphan.pid, signal.SIGKILL)
        orphan.wait()


async def test_a_live_process_of_another_server_is_left_alone(manager, site, port, tmp_path):
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        records = tmp_path / "records"
        records.mkdir()
        (records / "django-1.json").write_text(
            json.dumps(
                {
                    "pid": sleeper.pid,
                    "pgid": sleeper.pid,
                    "start_time": oskit.process_start_time(sleeper.pid),
                    "owner_pid": os.getppid(),
                    "owner_start_time": oskit.process_start_time(os.getppid()),
                }
            )
        )
        supervisor = supervise(manager, site.parent, port)
        await supervisor.start(wait=30)
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_child_is_spawned_with_no_python_code_between_fork_and_exec(tmp_path):
    """Without a preexec_fn Python spawns with vfork (a start held the event loop ~15 ms with
    fork); setpriv sets the parent-death signal instead. Where setpriv cannot do it all, the
    Python preparation is back: a server that ignores SIGINT, a program that is not there."""
    path = os.environ.get("PATH")
    argv, prepare = oskit.child_spawn([sys.executable, "-c", "pass"], tmp_path, path)
    assert prepare is None
    assert argv[1:] == ["--pdeathsig", "TERM", "--", sys.executable, "-c", "pass"]
    assert subprocess.run(argv, timeout=30).returncode == 0
    assert oskit.child_spawn(["no-such-program-here"], tmp_path, path) == (
        ["no-such-program-here"],
        oskit.prepare_child,
    )
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        assert oskit.child_spawn(["true"], tmp_path, path)[1] is oskit.prepare_child
    finally:
        signal.signal(signal.SIGINT, previous)


async def test_sigint_stops_django_even_when_the_server_ignores_sigint(manager, site, port):
    """A Jupyter server started as a shell's background job inherits SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        supervisor = supervise(manager, site.parent, port, stop_timeout=10)
        await supervisor.start(wait=30)
    finally:
        signal.signal(signal.SIGINT, previous)
    await fetch(supervisor.run.url)
    await supervisor.stop()
    assert not any("sending SIGTERM" in t for t in texts(supervisor))
    assert supervisor.run.returncode == 0


FILE_EVENTS = ("open", "os.remove", "os.rename", "os.mkdir")  # sys.audit's names


async def test_the_event_loop_touches_no_file_of_the_log_or_the_records(
    tmp_path, site, port, jp_asyncio_loop
):
    """Under a flood's writeback even a small write can hold a thread for tens of milliseconds:
    the log's segments, the run history and the process records are all written, read and
    removed off the event loop, through a start, requests, a restart and a stop."""
    manager = ProcessManager(tmp_path / "records", log_dir=tmp_path / "logs")
    supervisor = supervise(manager, site.parent, port)  # opening the store reads it: once
    loop_thread, ours = threading.get_ident(), (str(tmp_path / "records"), str(tmp_path / "logs"))
    seen: list[tuple[str, str]] | None = []
    everywhere: list[str] = []

    def hook(event: str, args: tuple) -> None:
        if seen is None or event not in FILE_EVENTS or not args:
            return
        path = os.fsdecode(args[0]) if isinstance(args[0], (str, bytes, os.PathLike)) else ""
        if path.startswith(ours):
            everywhere.append(path)
            if threading.get_ident() == loop_thread:
                seen.append((event, path))

    sys.addaudithook(hook)  # for good: `seen = None` makes it idle
    try:
        assert (await supervisor.start(wait=30)).state == "running"
        for _ in range(3):
            assert (await fetch(supervisor.run.url))[0] == 200
        assert (await supervisor.restart(wait=30)).state == "running"
        await fetch(supervisor.run.url)
        assert (await supervisor.stop()).state == "stopped"
        manager.records.wait()
        await asyncio.to_thread(supervisor.cache.store.wait_written)
        assert seen == []
        # the hook saw the work, done by the threads: segments, runs.json, the records
        names = {Path(path).name for path in everywhere}
        assert "runs.json.tmp" in names and any(n.endswith(".jsonl") for n in names), names
        assert f"django-{os.getpid()}.json" in names, names
    finally:
        seen = None
        await manager.shutdown()


async def test_a_group_that_cannot_be_recorded_is_ended_and_the_start_says_why(
    tmp_path, site, port, jp_asyncio_loop
):
    """A full disk, or here a file where the records folder should be (which fails for root
    too): runserver must not run unrecorded, where a killed server would leave it behind."""
    records = tmp_path / "records"
    records.write_text("not a folder")
    manager = ProcessManager(records)
    supervisor = supervise(manager, site.parent, port)
    try:
        status = await supervisor.start(wait=30)
        assert status.state == "crashed" and status.pid is None
        assert status.error.kind == "record"
        assert status.message.startswith("Not started: could not record the process in")
        assert_group_gone(supervisor.run.pgid)
        assert oskit.port_is_free("127.0.0.1", port)
        assert (await supervisor.stop()).state == "crashed"  # nothing left to stop
        records.unlink()  # space again: the next start runs, recorded
        assert (await supervisor.start(wait=30)).state == "running"
        assert [p.name for p in records.glob("*.json")] == [f"django-{os.getpid()}.json"]
    finally:
        pgid = supervisor.run.pgid
        await manager.shutdown()
        assert_group_gone(pgid)


async def test_no_start_line_after_start_wait_says_so_and_hints_at_a_restart(
    manager, tmp_path, port
):
    fake_manage_py(tmp_path, 'import time\nprint("thinking", flush=True)\ntime.sleep(600)\n')
    supervisor = supervise(manager, tmp_path, port, start_wait=0.5)
    status = await supervisor.start(wait=0)
    assert status.message == "Django is starting" and status.hints == []
    await wait_for(
        lambda: "slow-start" in supervisor.hints,
        10,
        "the slow-start hint",
        lambda: where(supervisor),
    )
    status = supervisor.status()
    assert status.state == "starting"
    assert status.message == (
        "Still starting: no start line from Django after 0.5 s. Look at the log, or restart."
    )
    assert [(h.kind, h.action) for h in status.hints] == [("slow-start", "restart")]
    assert any(t.startswith("Still starting after 0.5 s") for t in texts(supervisor))
    first = supervisor.run.pgid
    status = await supervisor.run_hint_action("restart")  # what the hint's button does
    assert status.restarts == 1 and supervisor.run.pgid != first
    assert_group_gone(first)
    stopped = await supervisor.stop()
    assert stopped.state == "stopped" and stopped.hints == []


async def test_a_child_killed_by_a_signal_reads_killed_by_it(manager, tmp_path, port):
    fake_manage_py(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    supervisor = supervise(manager, tmp_path, port)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 10)
    status = supervisor.status()
    assert status.returncode == -signal.SIGKILL
    assert status.message == "Django killed by SIGKILL"
    assert "Killed by SIGKILL" in texts(supervisor)


async def test_django_whose_serving_child_is_killed_reads_killed_by_sigkill(manager, site, port):
    """The autoreloader passes its child's -9 to sys.exit: the parent ends with code 247."""
    supervisor = supervise(manager, site.parent, port)
    await supervisor.start(wait=30)
    members = oskit.group_members(supervisor.run.pgid)
    child = next(pid for pid in members if pid != supervisor.run.pgid)
    os.kill(child, signal.SIGKILL)
    await wait_for_state(supervisor, "crashed", 15)
    status = supervisor.status()
    assert status.returncode == 247
    assert status.message.startswith("Django killed by SIGKILL (its server process; code 247)")


async def test_stdin_that_nobody_reads_is_refused_once_the_pipe_is_full(manager, tmp_path, port):
    fake_manage_py(
        tmp_path, 'import time\nprint("not reading stdin", flush=True)\ntime.sleep(600)\n'
    )
    supervisor = supervise(manager, tmp_path, port)
    await supervisor.start()
    await wait_for(lambda: "not reading stdin" in texts(supervisor), 10)
    from jupyter_fujita.errors import Conflict

    with pytest.raises(Conflict, match="not reading its stdin"):
        for _ in range(64):  # 256 KiB, well beyond a pipe's buffer
            await supervisor.send_stdin("x" * 4095 + "\n")
    assert (await supervisor.stop()).state == "stopped"


async def test_a_process_that_left_the_group_is_found_through_the_tree_and_ended(
    manager, tmp_path, port
):
    """What `setsid` in a view does: a grandchild in a session of its own, holding the port,
    out of reach of a signal to the group."""
    fake_manage_py(
        tmp_path,
        f"""
        import subprocess, sys, time
        escapee = subprocess.Popen(
            [sys.executable, "-c", "import socket, time; s = socket.socket(); "
             "s.bind(('127.0.0.1', {port})); s.listen(); print('escaped', flush=True); "
             "time.sleep(600)"],
            start_new_session=True,
        )
        print("escapee", escapee.pid, flush=True)
        time.sleep(600)
        """,
    )
    supervisor = supervise(manager, tmp_path, port, stop_timeout=2)
    await supervisor.start()
    await wait_for(lambda: "escaped" in texts(supervisor), 10, "the escapee to listen")
    escapee = int(next(t for t in texts(supervisor) if t.startswith("escapee ")).split()[1])
    assert oskit.process_group(escapee) != supervisor.run.pgid
    status = await supervisor.stop()
    assert status.state == "stopped"
    assert not psutil.pid_exists(escapee) or psutil.Process(escapee).status() == "zombie"
    assert oskit.port_is_free("127.0.0.1", port)
    assert any("left the process group" in t for t in texts(supervisor))


async def test_fifty_start_stop_cycles_leave_no_process_and_no_port(manager, site, port):
    supervisor = supervise(manager, site.parent, port)
    for cycle in range(50):
        status = await supervisor.start(wait=30)
        assert status.state == "running", (cycle, status.message)
        pgid = supervisor.run.pgid
        assert (await supervisor.stop()).state == "stopped"
        assert_group_gone(pgid)
        assert oskit.port_is_free("127.0.0.1", port), cycle


async def test_what_the_output_reader_reads_in_lines_reaches_the_wire(manager, tmp_path, port):
    """What the output reader reads reaches the wire: a plain stdout batch as one Batch record,
    runserver's request lines as Batch text too (the faces read their requests), even a 503
    that no traceback waits for; a 500 linked to its traceback as a record with its request
    (the disk holds the same records: test_logstore)."""
    fake_manage_py(
        tmp_path,
        """
        import sys, time
        sys.stdout.write("plain one\\nplain two\\n"); sys.stdout.flush()
        time.sleep(0.2)
        sys.stderr.write('[03/Dec/2026 10:00:00] "GET /shop/ HTTP/1.1" 404 179\\n'
                         '[03/Dec/2026 10:00:00] "GET /shop/cart/ HTTP/1.1" 200 52\\n'
                         '[03/Dec/2026 10:00:00] "GET /shop/busy/ HTTP/1.1" 503 0\\n'
                         'Internal Server Error: /shop/pay/\\n'
                         'Traceback (most recent call last):\\n'
                         '  File "/srv/shop/views.py", line 3, in pay\\n'
                         'ValueError: declined\\n'
                         '[03/Dec/2026 10:00:01] "POST /shop/pay/ HTTP/1.1" 500 145\\n')
        """,
    )
    supervisor = supervise(manager, tmp_path, port)
    await supervisor.start()
    await wait_for_state(supervisor, "crashed", 10)
    feed = LogFeed(supervisor.cache).messages()
    message = await feed.__anext__()
    await feed.aclose()
    records = msgspec.json.decode(encode_message(message))["lines"]
    batch = next(record for record in records if record["stream"] == "stdout")
    assert batch["texts"] == ["plain one", "plain two"]
    requests = next(record for record in records if "GET /shop/" in str(record.get("texts")))
    assert len(requests["texts"]) == 7  # up to the 500's own line
    failed = next(record for record in records if "POST /shop/pay/" in record.get("text", ""))
    traceback_seq = requests["seq"] + 4
    assert failed["request"] == {
        "method": "POST",
        "path": "/shop/pay/",
        "status": 500,
        "size": 145,
        "traceback_seq": traceback_seq,
    }
    read = [line.get("request") for line in line_records(records) if line["stream"] == "stderr"]
    assert read[:3] + read[-1:] == [
        {"method": "GET", "path": "/shop/", "status": 404, "size": 179},
        {"method": "GET", "path": "/shop/cart/", "status": 200, "size": 52},
        {"method": "GET", "path": "/shop/busy/", "status": 503, "size": 0},
        failed["request"],
    ]
    assert read[3:-1] == [None] * 4
