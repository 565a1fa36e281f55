"""docs/performance.md and docs/performance.png, written from one run's JSON and nothing else.

Every figure, every sentence about a result, and every explanation of a miss come from the
results (`docs/performance.json`, committed beside the page): the rounds, the lines lost, the
CPU each side's processes spent, and the profiles the run recorded. What is written here by hand
is only how the bench measures.
"""

from __future__ import annotations

from pathlib import Path

from . import report

METHOD = """\
## Method

- **As shipped.** Our server is `python -m jupyter_server` with jupyter_fujita and its traits at
  their defaults (`cache_lines` 10,000, `cache_bytes` 16 MiB, `log_bytes` 256 MiB): a reader
  behind the memory cache reads from the log on disk. Every server is a real process on
  127.0.0.1 and a free port, in a temp dir, ended (with all it started) when the bench ends.
- **Peers.** *terminado*, JupyterLab's terminal backend (`TermSocket`, `NamedTermManager`,
  `bench/termpeer.py`): *n* clients on one terminal name share one pty, as *n* browsers on one
  JupyterLab terminal do; the child waits until all are connected. *The seed design*
  (`bench/seed.py`): one `read_until(b"\\n")` per line into a ring of dicts, one WebSocket message
  per line. *A lean record* (memory): a `@dataclass(slots=True)` per line in a list. *A
  JupyterLab terminal* (the flood and the page figures).
- **Workloads** (`bench/project.py`), written by the child every peer runs: *request lines*,
  what runserver prints, on stderr (`[02/Dec/2026 07:33:36] "GET /shop/items/123/ HTTP/1.1" 200
  18`, with a 500 and its 7-line traceback in every 1,000 lines), which the Django reader skips
  up to the next line worth reading, a substring search a kind of line (their clients read
  each request from its text), and reads line by line from the 500's log record to its
  request line; *the marker flood*, 100-byte lines on stdout that the Django reader skips with
  one search a batch; and a Django view under the real runserver writing a burst.
- **Clients** (`bench/wsclient.py`): one lean asyncio WebSocket client for every peer. Ours are
  counted by seq: a line is *lost* when a `gap` announces it or when a seq is skipped without
  one (a batch's last seq is counted from its texts once per message the bench's clients
  share, as all fifty are sent the same bytes); terminado's lines by escaped newline, lost
  being what never arrived.
- **Rounds** (`bench/figures.py`, `rounds`): ours, then the peer, round after round; a ratio is
  ours ÷ peer within a round. Shown: the median of the rounds and, in brackets, the worst
  round; judged: the median (or what a figure's `value_is` says: a pooled percentile, or the
  worst round where the bar says "never more than"). A figure marked "0 lost" fails when ours
  lost a line. Every figure and its bar are in one table, `bench/bars.py`.
- **The log on disk** (issue 15's costs): a client reading a {flood_lines:,}-line flood, its lost
  lines counted by seq, against the same flood in a Jupyter terminal; one client that never
  reads during a {stall_lines:,}-line flood (nobody else connected), the server's RSS sampled every
  20 ms against its RSS before those rounds; the search, `GET log?since=&q=` page after page
  over the whole retained log for a text found nowhere (so every line is read), in MB/s of the
  log's text (100 B a line) from the first page asked to the last answered, against
  `grep -ci` over the same segment files.
- **Loop stalls** (`bench/looplag.py`): a server extension of the bench's own, idle until a
  figure starts it: a 1 ms asyncio timer in our server whose lateness is how long the loop was
  held, during the {flood_lines:,}-line flood (and the same flood in a Jupyter terminal on the same
  server), the {stall_lines:,}-line flood and the search; while the loop is held past 20 ms, a
  watchdog thread looks at the loop thread's stack every 5 ms, which says what held it. Of the
  longest stall, the loop thread's CPU time and its wait for a core (the kernel's schedstat) are
  kept: the rest it slept, waiting for the GIL or in a blocking call. And the bytes the loop
  thread read from or wrote to disk meanwhile, against the server's other threads'
  (`/proc/self/task/<id>/io`): a loop that moved none did not wait on the disk's data.
- **Latency** (`bench/stages.py`): the child writes a line every 100 ms with its
  `time.monotonic()` in it, and exits 100 ms after its last (a line written as the child exits
  waits for the exit); the client notes when each arrives. In the same rounds one probe in both
  servers, at the two points of tornado both use (where it reads the pipe, where it writes the
  WebSocket message), splits each line's time into stages, and points inside the server's work
  (ours: the splitter, the cache's append, the encoding; the seed: its ring's append) split that
  stage further: which stage the slowest lines spent their time in, ours against the seed.
- **Where the time went**: each side's CPU per round (psutil: the server process, the children
  it ran, the bench's own process that runs the clients), and a profile of ours: py-spy
  sampling whichever thread of our server holds the GIL in one extra run of each end-to-end
  figure (of the bench's own process for the in-process ingest; raw stacks in
  `docs/performance-profiles/`), by function and by the part of our server (reading Django's
  output, the log on disk, the cache, encoding and sending), and cProfile for the ingest. For
  a missed rate, the CPU our side spent a line, the rate that cost allows a core (Python runs
  one thread at a time) against what the bar needs, and that cost shared out by part as the
  samples fell: what the work the peers do not do (reading Django's output, the log on disk)
  takes of it, and whether the rest is within the bar. For a missed ratio, its rounds.
- **The page**: a real `jupyter lab` with the installed labextension in Debian's Chromium
  (Playwright, headless; the sidebar and the terminal each in a page of its own, as two tabs,
  so that neither's leftover work counts against the other): the page asks a view for the
  flood; from the view's response to the first animation frame showing its last line; the
  longest task (PerformanceObserver `longtask`) and frames per second
  (`requestAnimationFrame`) over the same window. Where the
  page's time went: Chromium's sampling profiler (by function) and its trace (by kind of work:
  script, style, layout, paint), each in one more sidebar flood.
"""


def fmt_share(share: float) -> str:
    return f"{share * 100:.0f}%"


def shortfall(figure: dict) -> str:
    """By how much a figure missed its bar, in words, from its numbers."""
    parts = []
    lower = figure["better"] == "lower"
    value, limit, unit = figure["ours"]["value"], figure["limit"], figure["unit"]
    if limit is not None and (value > limit if lower else value < limit):
        parts.append(f"{report.fmt(value, unit)} against {report.fmt(limit, unit)}")
    ratio, bar = figure["ratio"], figure["ratio_bar"]
    if ratio and bar is not None:
        median = ratio["median"]
        if median > bar if lower else median < bar:
            parts.append(f"median ratio {median:.2f} against {bar:g}")
    lost = sum(n or 0 for n in figure["ours"]["lost"])
    if figure["lossless"] and lost:
        parts.append(f"{lost:,} lines lost")
    return "; ".join(parts) or "a side condition"


def lines_of(figure: dict) -> int | None:
    detail = figure["detail"]
    if "lines" in detail:
        return detail["lines"]
    if "lines_per_client" in detail:
        return detail["lines_per_client"] * int(figure["key"].split("_")[1])
    return None


def cpu_text(figure: dict) -> list[str]:
    lines = lines_of(figure)
    out = []
    for who in ("ours", "peer"):
        side = figure[who]
        if not side or not side.get("cpu"):
            continue
        cpu = side["cpu"]
        parts = []
        for part in ("server", "child", "bench"):
            if part in cpu and cpu[part] is not None:
                text = f"{part} {cpu[part]:.2f} s"
                if lines:
                    text += f" ({cpu[part] / lines * 1e6:.1f} µs a line)"
                parts.append(text)
        out.append(f"  - {side['name']}: {', '.join(parts)}")
    return out


def line_cost(figure: dict) -> tuple[float, float, float, str] | None:
    """For a lines/s figure with a bar: our CPU a line (seconds), how busy it kept the process
    (its CPU over the lines' time), the rate the bar needs and which process it was; None for
    other figures."""
    lines = lines_of(figure)
    ours = figure["ours"]
    cpu = ours.get("cpu") or {}
    part = "server" if cpu.get("server") else "bench"  # ingest runs in the bench's process
    if figure["unit"] != "lines/s" or not lines or not cpu.get(part) or not ours["value"]:
        return None
    if figure["ratio_bar"] is not None and figure["peer"]:
        need = figure["ratio_bar"] * figure["peer"]["value"]
    elif figure["limit"] is not None:
        need = figure["limit"]
    else:
        return None
    return cpu[part] / lines, cpu[part] / (lines / ours["value"]), need, part


def ceiling_text(figure: dict) -> list[str]:
    """For a missed lines/s figure: the rate our CPU a line allows a core (Python runs one thread
    at a time: beyond a core go only the calls that let go of it, reads and writes), against the
    rate the bar needs, and how busy the process was."""
    cost = line_cost(figure)
    if cost is None:
        return []
    per_line, busy, need, part = cost
    where = "our server" if part == "server" else "the process that reads (the bench's own)"
    return [
        f"- The cost a line: {where} spent {per_line * 1e6:.2f} µs of CPU a line, busy"
        f" {fmt_share(busy)} of one core while the lines came (its CPU over their time). At that"
        f" cost a core's worth of CPU takes {report.fmt(1 / per_line, 'lines/s')} lines/s; the bar"
        f" needs {report.fmt(need, 'lines/s')}, {1e6 / need:.2f} µs a line.",
    ]


# What our server does that the peers do not: terminado and the seed design neither read
# Django's output nor keep a log on disk (spy.PARTS names the parts).
OURS_ONLY = ("reading Django's output", "the log on disk")


def parts_cost_text(figure: dict) -> list[str]:
    """For a missed lines/s figure with a py-spy run: its CPU a line shared out by part as the
    samples fell, and what is left without the work the peer does not do, against the bar."""
    cost = line_cost(figure)
    spy = figure["detail"].get("spy_ours")
    if cost is None or not isinstance(spy, dict) or not spy.get("parts"):
        return []
    per_line, _, need, _ = cost
    shares = {row["part"]: row["share"] for row in spy["parts"]}
    each = ", ".join(f"{part} {share * per_line * 1e6:.2f} µs" for part, share in shares.items())
    extra = sum(shares.get(part, 0.0) for part in OURS_ONLY) * per_line
    rest, budget = per_line - extra, 1 / need
    verdict = "within" if rest <= budget else "above"
    return [
        f"- That cost a line shared out as py-spy's samples fell: {each}.",
        f"- Of it, the work the peer does not do (it neither reads Django's output nor keeps a"
        f" log on disk): {extra * 1e6:.2f} µs a line. The rest, {rest * 1e6:.2f} µs, is"
        f" {verdict} the {budget * 1e6:.2f} µs a line the bar needs.",
    ]


def ratio_rounds_text(figure: dict) -> list[str]:
    """A missed ratio's rounds: how far they scatter, and how many reach the bar."""
    ratio, bar = figure["ratio"], figure["ratio_bar"]
    if not ratio or bar is None or not ratio.get("rounds"):
        return []
    rounds = ratio["rounds"]
    lower = figure["better"] == "lower"
    reached = sum(value <= bar if lower else value >= bar for value in rounds)
    listed = ", ".join(f"{value:.2f}" for value in rounds)
    return [
        f"- Ratio by round: {listed}; from {min(rounds):.2f} to {max(rounds):.2f}, {reached} of"
        f" {len(rounds)} rounds reach the bar's {bar:g}.",
    ]


def profile_text(figure: dict) -> list[str]:
    detail = figure["detail"]
    out = []
    spy = detail.get("spy_ours")
    if isinstance(spy, dict) and spy.get("top"):
        top = ", ".join(f"`{row['function']}` {fmt_share(row['share'])}" for row in spy["top"][:8])
        tool = spy.get("tool", "py-spy on our server")
        out.append(f"- {tool}, {spy['samples']:,} samples: {top}.")
        if spy.get("parts"):
            parts = ", ".join(f"{row['part']} {fmt_share(row['share'])}" for row in spy["parts"])
            out.append(
                "- The same samples by the part of our server they were spent in (a sample counts"
                f" for the innermost of our frames in it): {parts}."
            )
    trace = detail.get("trace_ours")
    if isinstance(trace, dict) and trace.get("ms"):
        spent = ", ".join(f"{what} {ms:,.0f} ms" for what, ms in trace["ms"].items())
        out.append(f"- {trace['tool']}: its tasks {trace['tasks_ms']:,.0f} ms in all; {spent}.")
        if trace.get("events_ms"):
            named = ", ".join(f"`{name}` {ms:,.0f} ms" for name, ms in trace["events_ms"].items())
            out.append(
                "- The same trace by the events Chromium names (an event's time counts in the "
                f"events around it too): {named}."
            )
    for side in ("ours", "peer"):
        rows = detail.get(f"profile_{side}")
        if isinstance(rows, list) and rows:
            name = figure[side]["name"] if figure[side] else side
            top = ", ".join(
                f"`{row['function']}` {row['own_us_per_line']:.2f} µs" for row in rows[:6]
            )
            out.append(f"- cProfile, {name}, own time a line: {top}.")
    return out


def plain(value: object) -> str:
    """A detail's value, floats to three significant figures."""
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    return str(value)


def figure_facts(figure: dict) -> list[str]:
    """The numbers of a figure beyond the table: rounds, and what its detail recorded."""
    out = []
    unit = figure["unit"]
    rounds = ", ".join(report.fmt(v, unit) for v in figure["ours"]["rounds"])
    out.append(f"- Rounds, ours: {rounds}.")
    if figure["peer"]:
        rounds = ", ".join(report.fmt(v, unit) for v in figure["peer"]["rounds"])
        out.append(f"- Rounds, {figure['peer']['name']}: {rounds}.")
    if figure["value_is"] != "median of rounds":
        out.append(f"- The value shown is {figure['value_is']}.")
    for who in ("ours", "peer"):
        kinds = figure["detail"].get(f"{who}_lost_kinds")
        if kinds and "announced" in kinds[0]:
            total = {k: sum(int(r.get(k, 0)) for r in kinds) for k in kinds[0]}
            name = figure[who]["name"] if figure[who] else who
            out.append(
                f"- Lines {name} lost or got twice, in {len(kinds)} of the rounds: "
                f"{total.get('announced', 0):,} announced by a gap, "
                f"{total.get('unannounced', 0):,} skipped without one, "
                f"{total.get('repeated', 0):,} sent twice; "
                f"{total.get('timed_out', 0)} of those rounds ended with lines missing "
                "(no new line for 5 s, or the round's time was up)."
            )
    detail = figure["detail"]
    if "busy_ms" in detail:  # the loop stalls
        rounds = "; ".join(
            f"{during}: {report.fmt(stall, 'ms')}, of it {report.fmt(cpu, 'ms')} on the loop "
            f"thread's CPU and {report.fmt(queued, 'ms')} waiting for a core, the rest asleep "
            f"({report.fmt(busy, 'ms')} of CPU in its busiest tick; {over} ticks late by more "
            "than 20 ms)"
            for during, stall, cpu, queued, busy, over in zip(
                detail["during"], figure["ours"]["rounds"], detail["longest_cpu_ms"],
                detail["longest_queued_ms"], detail["busy_ms"], detail["over_20ms"], strict=True,
            )
        )  # fmt: skip
        out.append(f"- Round by round, ours: {rounds}.")
    if "other_threads_written_kb" in detail:  # the loop's disk
        rounds = "; ".join(
            f"{during}: the loop {report.fmt(loop, 'kB')}, the other threads "
            f"{report.fmt(written, 'kB')} written and {report.fmt(read, 'kB')} read"
            for during, loop, written, read in zip(
                detail["during"], figure["ours"]["rounds"], detail["other_threads_written_kb"],
                detail["other_threads_read_kb"], strict=True,
            )
        )  # fmt: skip
        out.append(
            "- Round by round, bytes read from or written to disk (`/proc/self/task/<id>/io`; "
            f"page-cache hits are not disk reads): {rounds}."
        )
    if "gc_ms" in detail:
        collections = ", ".join(report.fmt(ms, "ms") for ms in detail["gc_ms"])
        out.append(
            "- The longest garbage collection in our server's loop thread, round by round: "
            f"{collections}."
        )
    slow = detail.get("slow_callbacks")
    if slow:
        callbacks = "; ".join(
            f"`{name}` ×{row['count']} (the longest {report.fmt(row['ms'], 'ms')}, "
            f"{report.fmt(row['cpu_ms'], 'ms')} of it on the loop thread's CPU)"
            for name, row in sorted(slow.items(), key=lambda item: -item[1]["ms"])[:8]
        )
        out.append(
            f"- The loop's callbacks that ran longer than 10 ms, by what they run: {callbacks}."
        )
    held = detail.get("held_in")
    if held:
        looks = "; ".join(f"`{row['stack']}` ×{row['looks']}" for row in held)
        out.append(
            "- What held our server's loop past 20 ms (the loop thread's innermost frames, looked "
            f"at every 5 ms while it was held; innermost first): {looks}."
        )
    for key, value in figure["detail"].items():
        if key.startswith(("profile_", "trace_", "spy_")) or key.endswith("_lost_kinds"):
            continue
        if key in (
            "held_in",
            "during",
            "busy_ms",
            "over_20ms",
            "gc_ms",
            "slow_callbacks",
            "stages",
        ):
            continue
        if key.startswith(("longest_", "other_threads_")):
            continue
        if key in ("lines", "lines_per_client", "how"):
            continue
        out.append(f"- `{key}`: {plain(value)}.")
    return out


def stages_text(figure: dict) -> list[str]:
    """A latency figure's lines split into stages, ours against the peer: where the time went,
    and which stage the slowest lines spent theirs in."""
    stages = figure["detail"].get("stages")
    if not stages or not stages.get("ours") or not stages.get("peer"):
        return []
    ours, peer = stages["ours"], stages["peer"]
    name = figure["peer"]["name"]

    def ms(value: float) -> str:
        return f"{value:.2f}"

    rows = [
        f"  - {stage}: {ms(row['p50'])} / {ms(row['p99'])} ms against "
        f"{ms(peer['stages'][stage]['p50'])} / {ms(peer['stages'][stage]['p99'])} ms"
        for stage, row in ours["stages"].items()
    ]
    chain = list(ours["stages"])[:3]  # the fourth is part of the third

    def most(key: str) -> tuple[str, float]:
        return max(
            ((s, ours["stages"][s][key] - peer["stages"][s][key]) for s in chain),
            key=lambda item: item[1],
        )

    tail = "; ".join(
        f"{stage} {ms(ours['stages'][stage]['tail_mean'])} ms against "
        f"{ms(peer['stages'][stage]['tail_mean'])}"
        for stage in chain
    )
    at_p50, at_tail = most("p50"), most("tail_mean")
    out = [
        "- Where a line's time went (`bench/stages.py`: one probe in both servers, where tornado "
        "reads the pipe and where it writes the WebSocket message; "
        f"{ours['lines']} lines a side), p50 / p99, ours against {name}:",
        *rows,
        f"- In the slowest 1% of lines ({ours['tail_lines']} a side, by their whole latency), "
        f"each stage on average, ours against {name}: {tail}.",
        f"- Ours is furthest behind at p50 in {at_p50[0]} (+{ms(at_p50[1])} ms), and in the "
        f"slowest lines in {at_tail[0]} (+{ms(at_tail[1])} ms).",
    ]
    for who, side in (("ours", ours), (name, peer)):
        work = side.get("work_p50")
        if work:
            parts = "; ".join(f"{part} {ms(value)} ms" for part, value in work.items())
            out.append(f"- The server's work split at points inside it, p50, {who}: {parts}.")
    return out


def machine_text(results: dict) -> list[str]:
    m = results["machine"]
    load = ", ".join(f"{x:.2f}" for x in m["loadavg_at_start"])
    end = results.get("loadavg_at_end")
    lines = [
        f"- {m['nproc']} cores: {m['cpu']}; load average {load} at the start"
        + (f", {', '.join(f'{x:.2f}' for x in end)} at the end" if end else "")
        + ".",
        f"- Python {m['python']} on {m['platform']}",
        f"- tornado {m['tornado']}, jupyter_server {m['jupyter_server']}, "
        f"terminado {m['terminado']}, Django {m['django']}, jupyter_fujita {m['jupyter_fujita']}",
    ]
    steps = results.get("steps") or {}
    if steps:
        per = "; ".join(
            f"{name} {info.get('seconds', 0):.0f} s (load {info['loadavg_before'][0]:.2f})"
            for name, info in steps.items()
        )
        lines.append(f"- Steps, their time and the 1-minute load average before each: {per}.")
        busy = [name for name, info in steps.items() if info["loadavg_before"][0] > m["nproc"]]
        if busy:
            lines.append(
                f"- Before {len(busy)} of the {len(steps)} steps ({', '.join(busy)}) the "
                f"1-minute load average was above the machine's {m['nproc']} cores: their "
                "figures are slower than the code on a quiet machine, and noisier; the ratios, "
                "ours and the peer measured in interleaved rounds, suffer less."
            )
    return lines


def write_docs(results: dict, docs: Path) -> None:
    docs.mkdir(parents=True, exist_ok=True)
    report.plot(results, docs / "performance.png")
    code = results.get("code", {})
    figures = results["figures"]
    missed = [f for f in figures if f["pass"] is False]
    lines = [
        "# Performance",
        "",
        "The log stream from `runserver` to many browsers, measured as shipped against its bars",
        "(issue 16) and against its peers in the same run. This page is written by",
        "`python -m bench --docs` from one full run; its JSON is `performance.json`, beside it.",
        "",
        "## Latest results",
        "",
        f"{'Quick' if results['quick'] else 'Full'} run of {results['started']}, "
        f"{results['seconds']:.0f} s, code at `{code.get('commit', '?')}`"
        f"{' with uncommitted changes' if code.get('dirty') else ''}: "
        f"**{len(figures) - len(missed)} of {len(figures)} bars reached**.",
        "",
        report.markdown_table(results),
        "",
        "Ratios are ours ÷ the peer, per round: above 1 is ours ahead where higher is better",
        "(lines/s, MB/s, frames/s), below 1 where lower is (ms, bytes, MB, CPU). In brackets: the",
        "worst round (for a pooled percentile, the worst round's own).",
        "",
        "![ratios against their bars, and absolute figures against theirs](performance.png)",
        "",
        "## The machine",
        "",
        *machine_text(results),
        "",
        "## Running it",
        "",
        "```sh",
        "pip install -e '.[bench]'        # matplotlib for the plot, py-spy for the profiles",
        "python -m bench                  # the full run; prints the table",
        "python -m bench --quick          # smoke run, well under 2 minutes, same table shape",
        "python -m bench --json out.json  # the results as JSON as well",
        "python -m bench --docs           # rewrite this page, its plot, JSON and profiles",
        "python -m bench --only e2e,fanout   # some steps (see --help)",
        "```",
        "",
        METHOD.format(**results["sizes"]),
    ]
    if missed:
        lines += [
            "## Where a bar is missed",
            "",
            "Each miss with what the run recorded about it: its rounds, the CPU each side's",
            "processes spent per round, and where our server's time went.",
            "",
        ]
        for figure in missed:
            lines += [f"### {figure['title']}", "", f"- Missed by: {shortfall(figure)}."]
            lines += figure_facts(figure)
            lines += ratio_rounds_text(figure)
            lines += stages_text(figure)
            cpu = cpu_text(figure)
            if cpu:
                lines += ["- CPU per round:", *cpu]
            lines += ceiling_text(figure)
            lines += profile_text(figure)
            lines += parts_cost_text(figure)
            lines += [""]
    passed = [f for f in figures if f["pass"]]
    if passed:
        lines += ["## Where a bar is reached", ""]
        for figure in passed:
            lines.append(
                f"- {figure['title']}: {report.fmt(figure['ours']['value'], figure['unit'])}"
                f" against {figure['bar']}."
            )
            # what the figure was taken from, where it is more than rounds of one thing
            rounds = [fact for fact in figure_facts(figure) if fact.startswith("- Round by")]
            lines += ["  " + fact for fact in rounds + stages_text(figure)]
        lines += [""]
    lines += [
        "## The JSON",
        "",
        "`{schema, quick, started, seconds, code, machine, sizes, steps, loadavg_at_end,",
        "killed_leftovers, figures}`; each figure is `{key, title, unit, better, bar, limit,",
        "ratio_bar, lossless, value_is, pass, ours, peer, ratio, detail}`, where `ours` and",
        "`peer` are `{name, value, median, worst, rounds, lost, cpu}` and `ratio` is",
        "`{median, worst, rounds}`.",
        "",
    ]
    (docs / "performance.md").write_text("\n".join(lines))
