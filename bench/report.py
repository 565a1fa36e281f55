"""The results as a table, as JSON, and as docs/performance.md with its plot."""

from __future__ import annotations

import math
import os
import platform
from importlib.metadata import version
from pathlib import Path
from typing import Any

SCHEMA = 2


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("tornado", "jupyter_server", "terminado", "django", "jupyter_fujita"):
        try:
            versions[name] = version(name)
        except Exception:  # noqa: BLE001 - not installed: say so
            versions[name] = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_at_start": list(os.getloadavg()),
        **versions,
    }


def fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "lines/s":
        return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.0f} k"
    if unit == "ms":
        return f"{value:.2f} ms" if value < 10 else f"{value:.0f} ms"
    if unit == "B":
        return f"{value:.0f} B"
    if unit == "kB":
        return f"{value:,.0f} kB"
    if unit in ("MiB", "MB"):
        return f"{value:.1f} {unit}"
    if unit == "MB/s":
        return f"{value:.0f} MB/s"
    if unit == "% CPU":
        return f"{value:.2f} %"
    if unit == "fps":
        return f"{value:.0f} fps"
    return f"{value:g} {unit}"


def ratio_text(figure: dict) -> str:
    ratio = figure["ratio"]
    if not ratio:
        return "–"
    return f"{ratio['median']:.2f} ({ratio['worst']:.2f})"


def result_text(figure: dict) -> str:
    return {True: "pass", False: "MISS", None: "–"}[figure["pass"]]


def side_text(figure: dict, who: str) -> str:
    """The value shown, and the worst round when the value is a median of several."""
    side = figure[who]
    if not side:
        return "–"
    text = fmt(side["value"], figure["unit"])
    if len(side["rounds"]) > 1 and figure["value_is"] != "the worst round":
        text += f" ({fmt(side['worst'], figure['unit'])})"
    return text


def lost_text(figure: dict) -> str:
    """Lines lost over all rounds, each side; "–" where the figure does not count lines."""

    def total(side: dict | None) -> str:
        if side is None or all(n is None for n in side["lost"]):
            return "–"
        return f"{sum(n or 0 for n in side['lost']):,}"

    return total(figure["ours"]) + (f" / {total(figure['peer'])}" if figure["peer"] else "")


def rows(results: dict) -> list[list[str]]:
    table = [
        [
            "figure",
            "ours (worst round)",
            "peer (worst round)",
            "lines lost, ours / peer",
            "ratio (worst round)",
            "bar",
            "result",
        ]
    ]
    for f in results["figures"]:
        table.append(
            [
                f["title"],
                side_text(f, "ours"),
                side_text(f, "peer"),
                lost_text(f),
                ratio_text(f),
                f["bar"],
                result_text(f),
            ]
        )
    return table


def text_table(results: dict) -> str:
    table = rows(results)
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = []
    for index, row in enumerate(table):
        lines.append(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(results: dict) -> str:
    table = rows(results)
    out = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
    for row in table[1:]:
        row = row[:-1] + ["**MISS**" if row[-1] == "MISS" else row[-1]]
        out.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    return "\n".join(out)


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures = results["figures"]
    ratio_figs = [f for f in figures if f["ratio"] and f["ratio_bar"] is not None]
    limit_figs = [f for f in figures if f["limit"] is not None]
    fig, (left, right) = plt.subplots(1, 2, figsize=(14, 5.5), gridspec_kw={"wspace": 0.75})

    def color(ok: bool) -> str:
        return "#2e7d32" if ok else "#c62828"

    # Left: each ratio against its bar, as "times better than the bar asks" (log scale).
    names, medians, mins, bars = [], [], [], []
    for f in ratio_figs:
        flip = f["better"] == "lower"  # for those, ours/peer below the bar is good: invert
        med, low = f["ratio"]["median"], f["ratio"]["worst"]
        bar = f["ratio_bar"]
        if flip:
            med, low, bar = 1 / med, 1 / low, 1 / bar
        names.append(f["key"])
        medians.append(med)
        mins.append(low)
        bars.append(bar)
    if not names:  # a partial run (--only): nothing to draw here
        left.set_axis_off()
        names, medians, mins, bars = [""], [1.0], [1.0], [1.0]
    ys = range(len(names))
    left.barh(
        ys, medians, color=[color(m >= b) for m, b in zip(medians, bars, strict=True)], alpha=0.8
    )
    left.scatter(mins, ys, color="black", marker="|", s=200, zorder=3, label="worst round")
    left.scatter(bars, ys, color="black", marker="D", s=30, zorder=3, label="bar")
    left.set_yticks(list(ys), names)
    left.set_xscale("log")
    left.invert_yaxis()
    left.set_xlabel("ours vs peer, median of rounds, log scale (× ahead; ms figures inverted)")
    left.set_title("Ratios, one interleaved pass")
    left.legend(loc="lower right", fontsize=8)

    # Right: each absolute figure as a fraction of its limit (< 1 is within the bar when lower
    # is better; > 1 when higher is better).
    names, shares, oks = [], [], []
    for f in limit_figs:
        value = f["ours"]["value"]
        # as "how much of the bar it uses": ≤ 1 passes, whichever way the figure is better
        if f["better"] == "higher":
            share = f["limit"] / max(value, 1e-9)
        elif f["limit"]:
            share = value / f["limit"]
        else:  # a bar of 0: met at 0, else far off
            share = 0.0 if value <= 0 else 10.0
        share = max(share, 2e-3)  # a 0.00 % idle CPU or 0 MB growth still shows, at the floor
        names.append(f"{f['key']} ({fmt(value, f['unit'])})")
        shares.append(share)
        oks.append(share <= 1)
    if not names:
        right.set_axis_off()
        names, shares, oks = [""], [1.0], [True]
    ys = range(len(names))
    right.barh(ys, shares, color=[color(ok) for ok in oks], alpha=0.8)
    right.axvline(1.0, color="black", linestyle="--", linewidth=1)
    right.set_xscale("log")
    right.set_xlim(1e-3, max(10.0, max(shares) * 2))
    right.set_yticks(list(ys), names)
    right.invert_yaxis()
    right.set_xlabel("ours against its bar, log scale (dashed line: the bar; left of it passes)")
    right.set_title("Absolute figures against their bars")
    m = results["machine"]
    fig.suptitle(
        f"jupyter_fujita benchmarks — {m['nproc']} × {m['cpu']}, Python {m['python']}, "
        f"{'quick' if results['quick'] else 'full'} run",
        fontsize=10,
    )
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
