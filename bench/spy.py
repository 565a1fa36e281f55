"""Where our server's time went: py-spy sampling it (every thread) through one more run.

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
    """`run()` once more with py-spy on process `pid`; raw stacks copied into `keep` if set."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(pyspy).exists():
        figure.detail["profile_ours"] = None
        return
    out = folder / f"spy-{figure.key}.txt"
    command = [pyspy, "record", "--pid", str(pid), "--format", "raw"]
    command += ["--output", str(out), "--rate", "250", "--nonblocking"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.sleep(1.0)  # attached
        await run()
    finally:
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 60)
    if not out.exists():
        figure.detail["profile_ours"] = None
        return
    figure.detail["profile_ours"] = summary(out.read_text())
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copy(out, keep / f"{figure.key}.txt")


def summary(raw: str, top: int = 15) -> dict[str, Any]:
    """py-spy's raw stacks, summed: samples whose innermost frame is each function (all threads;
    a thread waiting in Python code, as a pool thread for work, counts where it waits)."""
    own: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        leaf = stack.rsplit(";", 1)[-1]
        name, _, where = leaf.partition(" (")
        module = where.split(":", 1)[0]
        own[f"{name} ({module})"] += int(count)
        total += int(count)
    return {
        "tool": "py-spy on our server (one more run), innermost frame, all threads",
        "samples": total,
        "top": [{"function": f, "share": n / total} for f, n in own.most_common(top)],
    }
