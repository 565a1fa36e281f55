"""Where our server's time went: py-spy sampling it through one more run, whichever thread holds
the GIL (Python runs one thread at a time: the samples share out its CPU).

The summary (the share of samples whose innermost frame is each function) goes into the
figure's detail, so that the page explains a miss with what the run measured; the raw stacks
are kept in docs/performance-profiles/ when the page is written.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from .figures import Figure


async def spy(figure: Figure, pid: int, run: Any, folder: Path, keep: Path | None) -> None:
    """`run()` once more with py-spy on process `pid` (ours, or the bench's own for the figures
    measured in it); raw stacks copied into `keep` if set."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(pyspy).exists():
        figure.detail["spy_ours"] = None
        return
    out = folder / f"spy-{figure.key}.txt"
    command = [pyspy, "record", "--pid", str(pid), "--format", "raw"]
    command += ["--output", str(out), "--rate", "250", "--nonblocking", "--gil"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.sleep(1.0)  # attached
        await run()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 60)
    if not out.exists():
        figure.detail["spy_ours"] = None
        return
    figure.detail["spy_ours"] = summary(out.read_text())
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, keep / f"{figure.key}.txt")


# The parts of our server, by module: a sample counts for the innermost of our frames in it
# (a C call, a library's code, counts for the part of ours that made it).
PARTS = {
    "runserver_output.py": "reading Django's output",
    "logstore.py": "the log on disk",
    "replay.py": "the replay cache and its readers",
    "handlers.py": "encoding and sending",
    "wire.py": "encoding and sending",
    "pipes.py": "reading the pipes",
    "lines.py": "reading the pipes",
    "supervisor.py": "the supervisor",
}
OTHER_OURS = "the rest of jupyter_fujita"
OUTSIDE = "no frame of ours (the event loop between callbacks, tornado, asyncio)"


def summary(raw: str, top: int = 15) -> dict[str, Any]:
    """py-spy's raw stacks, summed: samples whose innermost frame is each function (of the
    thread holding the GIL), and samples by the part of our server they were spent in."""
    own: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        name, _, where = frames[-1].partition(" (")
        module = where.split(":", 1)[0]
        own[f"{name} ({module})"] += int(count)
        ours = next((f for f in reversed(frames) if "(jupyter_fujita/" in f), None)
        if ours is None:
            parts[OUTSIDE] += int(count)
        else:
            file = ours.split("(jupyter_fujita/", 1)[1].split(":", 1)[0]
            parts[PARTS.get(file, OTHER_OURS)] += int(count)
        total += int(count)
    return {
        "tool": "py-spy (one more run), innermost frame of the thread holding the GIL",
        "samples": total,
        "top": [{"function": f, "share": n / total} for f, n in own.most_common(top)],
        "parts": [{"part": p, "share": n / total} for p, n in parts.most_common()],
    }
