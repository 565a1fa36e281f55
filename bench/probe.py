"""A user poking the server while it works: sequential GETs, each one's latency recorded.

`python -m bench.probe --port P --path /api/status [--token T] --out FILE`: runs until SIGTERM,
then writes `[[monotonic start, seconds], ...]` to FILE. A separate process, so that what it
measures is the server's event loop and not the benchmark's own. `Probe` drives it from the
bench: start, warm, finish, and the latencies inside a window.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Probe:
    """One probe process, from its start to its samples."""

    def __init__(self, folder: Path, port: int, path: str, token: str = "", interval=0.005):
        self.out = folder / f"probe-{time.monotonic_ns()}.json"
        command = [sys.executable, "-m", "bench.probe", "--port", str(port), "--path", path]
        command += ["--token", token, "--interval", str(interval), "--out", str(self.out)]
        self.proc = subprocess.Popen(command, cwd=ROOT, start_new_session=True)

    async def warm(self) -> None:
        await asyncio.sleep(0.3)  # its interpreter is up and its first requests are done

    def finish(self) -> list[tuple[float, float]]:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        samples = json.loads(self.out.read_text())
        self.out.unlink()
        return [tuple(s) for s in samples]

    @staticmethod
    def during(samples: list[tuple[float, float]], t0: float, t1: float) -> list[float]:
        """Latencies of the requests that were in flight at some point of [t0, t1] (at least
        the first one sent after t0, should the window be shorter than the probe's pace)."""
        inside = [lat for start, lat in samples if start < t1 and start + lat > t0]
        if not inside:
            inside = [lat for start, lat in samples if start >= t0][:1]
        if not inside:
            raise RuntimeError("the probe made no request during the window")
        return inside


async def probed(probe: Probe, work) -> tuple[list[float], float, float]:
    """Run `work()` (a coroutine function returning its (start, end)) with the probe going; the
    latencies of the requests in flight during it, and its window."""
    try:
        await probe.warm()
        t0, t1 = await work()
    finally:
        samples = probe.finish()
    return Probe.during(samples, t0, t1), t0, t1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    headers = {"Authorization": f"token {args.token}"} if args.token else {}
    samples: list[tuple[float, float]] = []
    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
    while running:
        start = time.monotonic()
        try:
            connection.request("GET", args.path, headers=headers)
            response = connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=30)
            continue
        samples.append((start, time.monotonic() - start))
        time.sleep(args.interval)
    with open(args.out, "w") as out:
        json.dump(samples, out)


if __name__ == "__main__":
    main()
