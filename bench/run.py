"""`python -m bench [--quick] [--json PATH] [--docs] [--only a,b]`: run, print the table."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from . import report
from .bars import FULL, QUICK
from .figures import say
from .steps import STEPS, Bench

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, 2 rounds")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    parser.add_argument(
        "--docs", action="store_true", help="rewrite docs/performance.md and docs/performance.png"
    )
    parser.add_argument(
        "--only", metavar="STEPS", help=f"comma-separated subset of: {', '.join(STEPS)}"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server logs)")
    parser.add_argument(
        "--from-json",
        metavar="PATH",
        help="measure nothing: print (and with --docs, write) saved results",
    )
    return parser.parse_args(argv)


def code_version() -> dict:
    """The commit measured, and whether the tree differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
        ).stdout.strip()

    try:
        dirty = bool(git("status", "--porcelain", "--", "jupyter_fujita"))
        return {"commit": git("rev-parse", "--short", "HEAD") or None, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def finish(results: dict, args: argparse.Namespace) -> None:
    print(report.text_table(results))
    passed = sum(1 for f in results["figures"] if f["pass"])
    print(
        f"\n{passed} of {len(results['figures'])} bars reached; "
        f"{results['seconds']:.0f} s, {'quick' if results['quick'] else 'full'} run"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, allow_nan=False))
    if args.docs:
        from .docs import write_docs

        (ROOT / "docs" / "performance.json").write_text(
            json.dumps(results, indent=1, allow_nan=False) + "\n"
        )
        write_docs(results, ROOT / "docs")


async def measure(bench: Bench, only: set[str] | None) -> None:
    await bench.start()
    await bench.run(only)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.from_json:
        finish(json.loads(Path(args.from_json).read_text()), args)
        return 0
    only = set(args.only.split(",")) if args.only else None
    if only and only - set(STEPS):
        raise SystemExit(f"unknown steps: {', '.join(sorted(only - set(STEPS)))}")
    sizes = QUICK if args.quick else FULL
    folder = Path(tempfile.mkdtemp(prefix="fjbench-"))
    started = time.monotonic()
    results = {
        "schema": report.SCHEMA,
        "quick": args.quick,
        "started": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "code": code_version(),
        "machine": report.machine(),
        "sizes": sizes.__dict__,
    }
    bench = Bench(folder, sizes)
    if args.docs:
        bench.spy_dir = ROOT / "docs" / "performance-profiles"
    failed = None
    killed: list[int] = []
    try:
        asyncio.run(measure(bench, only))
    except BaseException as error:  # noqa: BLE001 - clean up first, then say what went wrong
        failed = error
    finally:
        killed = bench.stop()
        if killed:
            say(f"had to kill leftover processes: {killed}")
    if failed is not None:
        say(f"bench failed: {failed!r}; server logs in {folder}")
        if not isinstance(failed, Exception):
            raise failed
        raise SystemExit(1) from failed
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    results["seconds"] = time.monotonic() - started
    results["killed_leftovers"] = killed
    results["loadavg_at_end"] = list(os.getloadavg())
    results["steps"] = bench.steps
    results["figures"] = [figure.to_json() for figure in bench.figures]
    finish(results, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
