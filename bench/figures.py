"""A figure of the benchmark and the one way rounds are run: ours, then the peer, round after round.

A round measures ours, then the peer, on the same child with the same client; a figure keeps
every round's value, the lines each side lost, the CPU each side's processes spent, and each
round's ratio, so that a noisy machine moves both sides of a ratio together. Shown: the median
of the rounds and the worst one; judged: the median (a figure may say it shows something else,
a pooled percentile or a peak, and then that is judged).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import psutil

from .bars import BARS, Bar, Sizes


@dataclass
class Run:
    """One side of one round: its value, the lines its client(s) lost, what else it saw."""

    value: float
    lost: int | None = None  # None: not what this figure measures
    extra: dict[str, Any] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds, by process


@dataclass
class Figure:
    key: str
    spec: Bar  # its title, unit, direction and bars, sizes filled in
    ours: list[float] = field(default_factory=list)  # one value per round
    peer: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # ours / peer, per round
    lost: dict[str, list[int | None]] = field(default_factory=lambda: {"ours": [], "peer": []})
    cpu: dict[str, list[dict[str, float]]] = field(default_factory=lambda: {"ours": [], "peer": []})
    ours_value: float | None = None  # what the table shows and the bar judges; default median
    peer_value: float | None = None
    value_is: str = "median of rounds"
    passed: bool | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, key: str, sizes: Sizes) -> Figure:
        """The figure `key` names in the table of bars, its sizes filled in."""
        spec = BARS[key]

        def fill(text: str | None) -> str | None:
            return None if text is None else text.format(**sizes.__dict__)

        filled = replace(spec, title=fill(spec.title), bar=fill(spec.bar), peer=fill(spec.peer))
        return cls(fill(key), filled)

    def add(self, ours: Run, peer: Run | None = None) -> None:
        self.ours.append(ours.value)
        self.lost["ours"].append(ours.lost)
        self.cpu["ours"].append(ours.cpu)
        for who, run in (("ours", ours), ("peer", peer)):
            if run is not None and (run.lost or run.extra.get("repeated")):
                kinds = ("announced", "unannounced", "repeated", "timed_out", "closed_by_server")
                self.detail.setdefault(f"{who}_lost_kinds", []).append(
                    {k: run.extra[k] for k in kinds if k in run.extra}
                )
        if peer is not None:
            self.peer.append(peer.value)
            self.lost["peer"].append(peer.lost)
            self.cpu["peer"].append(peer.cpu)
            self.ratios.append(ours.value / peer.value if peer.value else float("inf"))

    def worst(self, values: list[float]) -> float:
        return max(values) if self.spec.better == "lower" else min(values)

    def show_worst(self) -> None:
        """Show and judge each side's worst round: for a bar that says "never more than"."""
        self.ours_value = self.worst(self.ours)
        self.peer_value = self.worst(self.peer) if self.peer else None
        self.value_is = "the worst round"
        self.judge()

    @property
    def value(self) -> float:
        return self.ours_value if self.ours_value is not None else statistics.median(self.ours)

    @property
    def peer_shown(self) -> float | None:
        if self.peer_value is not None:
            return self.peer_value
        return statistics.median(self.peer) if self.peer else None

    def judge(self) -> bool:
        """Pass when the value is within its limit, the median ratio within its bar, and, for a
        figure that says so, ours lost no line."""

        def within(value: float, bar: float) -> bool:
            return value >= bar if self.spec.better == "higher" else value <= bar

        ok = not (self.spec.lossless and sum(n or 0 for n in self.lost["ours"]))
        if self.spec.limit is not None:
            ok = ok and within(self.value, self.spec.limit)
        if self.spec.ratio is not None:
            ok = (
                ok and bool(self.ratios) and within(statistics.median(self.ratios), self.spec.ratio)
            )
        self.passed = ok
        return ok

    def summary(self, values: list[float]) -> dict[str, Any]:
        return {"median": statistics.median(values), "worst": self.worst(values), "rounds": values}

    def to_json(self) -> dict[str, Any]:
        def side(values: list[float], shown: float | None, name: str, who: str) -> dict | None:
            if not values:
                return None
            cpu = self.cpu[who]
            return {
                "name": name,
                "value": shown,
                **self.summary(values),
                "lost": self.lost[who],
                "cpu": {
                    k: sum(c[k] for c in cpu) / len(cpu)
                    for k in CPU_PARTS
                    if cpu and all(k in c for c in cpu)
                }
                or None,
            }

        return {
            "key": self.key,
            "title": self.spec.title,
            "unit": self.spec.unit,
            "better": self.spec.better,
            "bar": self.spec.bar,
            "limit": self.spec.limit,
            "ratio_bar": self.spec.ratio,
            "lossless": self.spec.lossless,
            "value_is": self.value_is,
            "pass": self.passed,
            "ours": side(self.ours, self.value, "jupyter_fujita", "ours"),
            "peer": side(self.peer, self.peer_shown, self.spec.peer, "peer"),
            "ratio": self.summary(self.ratios) if self.ratios else None,
            "detail": self.detail,
        }


# -- where the CPU went, per side and round ------------------------------------------------------

CPU_PARTS = ("server", "child", "bench")  # the server process, what it ran, the bench's clients


def cpu_now(server: Any | None) -> dict[str, float]:
    """CPU seconds so far: the bench's own process, and a server's own and its children's
    (running, or ended and reaped: a burst child is gone by the end of its round)."""
    now = {"bench": time.process_time()}
    if server is not None and server.ps is not None:
        try:
            times = server.ps.cpu_times()
            now["server"] = times.user + times.system
            child = times.children_user + times.children_system
            for kid in server.ps.children(recursive=True):
                try:
                    kt = kid.cpu_times()
                    child += kt.user + kt.system
                except psutil.Error:
                    pass
            now["child"] = child
        except psutil.Error:
            pass
    return now


Side = tuple[Any, Callable[[], Awaitable[Run]]]  # (the server whose CPU counts, or None; a run)


async def measure(side: Side) -> Run:
    server, run = side
    before = cpu_now(server)
    result = await run()
    after = cpu_now(server)
    result.cpu = {k: after[k] - before[k] for k in after if k in before}
    return result


async def rounds(figure: Figure, count: int, ours: Side, peer: Side | None = None) -> list:
    """The rounds of a figure, interleaved: ours, then the peer; judged at the end. Returns the
    (ours, peer) runs, for figures read off the same rounds."""
    runs = []
    for index in range(count):
        a = await measure(ours)
        b = await measure(peer) if peer is not None else None
        figure.add(a, b)
        runs.append((a, b))
        text = f"   {figure.key} {index + 1}/{count}: ours {a.value:,.2f}"
        if a.lost:
            text += f" (lost {a.lost:,})"
        if b is not None:
            text += f"  peer {b.value:,.2f}  x{figure.ratios[-1]:.2f}"
            if b.lost:
                text += f" (lost {b.lost:,})"
        say(text)
    figure.judge()
    return runs


def read_off(figure: Figure, runs: list, name: str) -> None:
    """Another figure from the same rounds: each side's `extra[name]` as its value."""
    for a, b in runs:
        figure.add(
            Run(a.extra[name], a.lost, cpu=a.cpu),
            None if b is None else Run(b.extra[name], b.lost, cpu=b.cpu),
        )
    figure.judge()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    low = int(k)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def load() -> list[float]:
    return list(os.getloadavg())
