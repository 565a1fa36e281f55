"""What the supervisor asks of the operating system: process groups, ports, and parent death.

Linux first (/proc, prctl); elsewhere the same calls fall back to what POSIX offers.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psutil

_PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1


def child_spawn(
    command: list[str], cwd: str | os.PathLike[str], path: str | None
) -> tuple[list[str], Callable[[], None] | None]:
    """The argv and preexec_fn that start `command` as prepare_child says.

    Without a preexec_fn Python spawns with vfork, and the event loop is held about a
    millisecond; with one, fork copies the Jupyter server's page tables, then waits while the
    child runs Python code before exec: about 15 ms a start. So where util-linux's `setpriv`
    can set the parent-death signal, it does, and exec resets the signals this server handles;
    prepare_child is left for a server that ignores SIGINT or SIGQUIT (exec keeps them
    ignored), a system without setpriv, and a program that is not there (`path`: the child's
    PATH), whose spawn then fails in Python, saying why, as ever.
    """
    setpriv = _setpriv()
    ignored = signal.SIG_IGN in (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGQUIT))
    if setpriv is None or ignored or not _runnable(command[0], cwd, path):
        return command, prepare_child
    return [setpriv, "--pdeathsig", "TERM", "--", *command], None


def _runnable(program: str, cwd: str | os.PathLike[str], path: str | None) -> bool:
    if "/" not in program:
        return shutil.which(program, path=path) is not None
    full = os.path.join(cwd, program)  # an absolute program stays as it is
    return os.path.isfile(full) and os.access(full, os.X_OK)


@functools.cache
def _setpriv() -> str | None:
    """util-linux's setpriv, when it knows --pdeathsig (2.33 and later)."""
    path = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if path is None:
        return None
    try:
        probe = subprocess.run(
            [path, "--pdeathsig", "TERM", "--", "true"], capture_output=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return path if probe.returncode == 0 else None


def prepare_child() -> None:
    """Run in the child between fork and exec.

    - SIGINT and SIGQUIT back to their defaults: a server started as a background job of a
      shell inherits them ignored, and an ignored SIGINT would make the first stop step a no-op;
    - SIGTERM to the child when the Jupyter server dies, even by SIGKILL: runserver's own
      handler then ends its reloader child, so the port is freed.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        raw = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2 :].decode().split()


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, as the OS sees them.

    Zombies are left out: an orphan reparented to a PID 1 that does not reap lingers as one.
    A group with no process at all is told by one signal 0, not a look at every process.
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return []
    except PermissionError:
        pass
    if not _PROC.is_dir():
        return [pgid]
    members = []
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        # fields[0] is the state, fields[2] the process group
        if fields and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def escaped_descendants(pgid: int) -> list[psutil.Process]:
    """Descendants of the group's processes that are in another process group: what a
    `setsid` or `os.setpgrp()` in the supervised code (a view, say) left running, out of reach
    of a signal to the group. Found through the parent links (psutil, which does the same on
    macOS) while their parents are alive, so the caller keeps what it found."""
    found: dict[int, psutil.Process] = {}
    for pid in group_members(pgid):
        try:
            children = psutil.Process(pid).children(recursive=True)
        except psutil.Error:
            continue
        for child in children:
            try:
                if os.getpgid(child.pid) != pgid:
                    found[child.pid] = child
            except OSError:  # ended meanwhile
                continue
    return list(found.values())


def alive(process: psutil.Process) -> bool:
    """Still running and still the same process (psutil compares its start time), zombies
    aside."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def signal_process(process: psutil.Process, sig: int) -> None:
    """Signal one process unless its pid now names another one (psutil checks)."""
    try:
        process.send_signal(sig)
    except psutil.Error:
        pass


def signal_group(pgid: int, sig: int) -> bool:
    """Send sig to the whole group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    return True


def process_start_time(pid: int) -> int | None:
    """Start time of pid in clock ticks since boot: with the pid, it names one process for good."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return int(fields[19])


def process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def port_is_free(host: str, port: int) -> bool:
    """True when nothing listens on host:port (bound the way runserver binds it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


async def wait_exit(popen: subprocess.Popen[bytes]) -> int:
    """Wait for a child to exit without threads or a SIGCHLD handler: a pidfd becomes readable
    when the process ends. Works on any thread's event loop (a SIGCHLD handler needs the main
    thread, and is bound to one loop for good)."""
    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: poll, gently
        while popen.poll() is None:
            await asyncio.sleep(0.1)
        return popen.returncode
    loop = asyncio.get_running_loop()
    exited = loop.create_future()

    def on_exit() -> None:
        loop.remove_reader(pidfd)
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(pidfd, on_exit)
    try:
        await exited
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return popen.wait()
