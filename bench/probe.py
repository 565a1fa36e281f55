"""A user poking the server while it works: sequential GETs, each one's latency recorded.

`python -m bench.probe --port P --path /api/status [--token T] --out FILE`: runs until SIGTERM,
then writes `[[monotonic start, seconds], ...]` to FILE. A separate process, so that what it
measures is the server's event loop and not the benchmark's own.
"""

from __future__ import annotations

import argparse
import http.client
import json
import signal
import time


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
