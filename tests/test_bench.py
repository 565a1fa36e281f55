"""The quick bench runs, and its figures are sane: a reading client loses no line, and each ratio
the design claims is above 1, so that a tenfold slowdown fails here, not only on the page.

These are sanity floors for a loaded 2-core CI machine, not the bars: the bars are judged by
the full run, side by side with its peers, and shown in docs/performance.md.
"""

import json
import subprocess
import sys
from pathlib import Path

import msgspec

from bench.bars import QUICK, keys
from bench.docs import ceiling_text, parts_cost_text, ratio_rounds_text
from bench.spy import OUTSIDE, summary
from bench.stages import HAND_OVER, parts, split
from bench.stages import summary as stage_summary
from bench.wsclient import _seq_range

ROOT = Path(__file__).resolve().parent.parent
FIGURES = keys(QUICK)  # every figure of the table of bars, in its order
# Each ratio the design claims ahead of its peer (ours ÷ peer; for ms and bytes, the peer ÷
# ours), with the floor a quick run on a loaded CI machine must keep. Where the product is ahead
# today the floor is 1 or more; where it is not yet by its bar (request lines: ingest, one
# client; see docs/performance.md) the floor sits well below today's ratio and well above a
# tenfold slowdown.
AHEAD = {
    "ingest_markers": 1.0,
    "ingest_requests": 0.4,
    "e2e_1_client_markers": 0.5,
    "e2e_1_client_requests": 0.25,
    "e2e_50_clients_requests": 2.0,
    "e2e_50_clients_markers": 2.0,
    "e2e_django_view": 0.5,
    "latency_p50": 0.25,
    "replay_10k": 1.0,
    "replay_100k_blocking": 1.0,
    "memory_per_line": 0.9,
}
# What issue 15 asks of the log on disk, as floors a quick run on a loaded machine keeps: ingest
# at a tenth of its bar, search at 40% of it (today's figure is several times the bar); in full
# where it is a bound the product keeps.
FLOORS = {"ingest_markers": 100_000, "search_disk": 20}  # lines/s, MB/s
CAN_BE_ZERO = ("idle_cpu", "page_last_line", "page_longest_task", "loop_disk")
CEILINGS = {"stalled_rss_growth": 32, "loop_disk": 0}  # MB; kB (the loop leaves the disk alone)


def test_the_quick_bench_is_sane(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"of {len(FIGURES)} bars reached" in result.stdout
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["killed_leftovers"] == []
    assert [figure["key"] for figure in report["figures"]] == FIGURES
    figures = {figure["key"]: figure for figure in report["figures"]}
    for key, figure in figures.items():
        assert figure["title"] in result.stdout
        assert isinstance(figure["pass"], bool) and figure["ours"]["rounds"], key
        low = 0 if key in CAN_BE_ZERO else 1e-12
        assert figure["ours"]["value"] >= low, key
        # a reading client of ours loses no line: the log is durable
        assert sum(n or 0 for n in figure["ours"]["lost"]) == 0, (key, figure["ours"]["lost"])
        if figure["peer"] is not None:
            assert figure["peer"]["value"] >= low and figure["peer"]["rounds"], key
    for key, floor in AHEAD.items():
        figure = figures[key]
        ratio = figure["ratio"]["median"]
        ahead = ratio if figure["better"] == "higher" else 1 / ratio
        assert ahead > floor, (key, figure["ratio"])
    for key, floor in FLOORS.items():
        assert figures[key]["ours"]["value"] >= floor, (key, figures[key]["ours"])
    for key, ceiling in CEILINGS.items():
        assert figures[key]["ours"]["value"] <= ceiling, (key, figures[key]["ours"])
    # the disk figure can fail: the floods' rounds saw the log's writer thread write
    assert max(figures["loop_disk"]["detail"]["other_threads_written_kb"]) > 0
    # the latency's stages: the probe saw every line in both servers, in time order
    latency = figures["latency_p99"]
    for who in ("ours", "peer"):
        stages = latency["detail"]["stages"][who]
        assert stages["lines"] == len(latency[who]["rounds"]) * (QUICK.latency_lines - 1), who
        assert all(row["p50"] > 0 for row in stages["stages"].values()), (who, stages)
    assert len(latency["detail"]["stages"]["ours"]["work_p50"]) == 4
    assert len(latency["detail"]["stages"]["peer"]["work_p50"]) == 2


def test_a_missed_rate_is_set_against_what_its_cost_a_line_allows():
    """The page's "cost a line" for a missed lines/s figure comes from the figure's own CPU,
    lines and bar: 300,000 lines in 1.5 s of server CPU at 200 k lines/s is 5 µs a line, the
    server busy all the 1.5 s, 200 k a core; 3x a peer's 700 k needs 2.1 M."""
    figure = {
        "unit": "lines/s", "ratio_bar": 3, "limit": None, "detail": {"lines": 300_000},
        "ours": {"value": 200_000, "cpu": {"server": 1.5, "bench": 0.1}},
        "peer": {"value": 700_000},
    }  # fmt: skip
    [text] = ceiling_text(figure)
    assert "5.00 µs of CPU a line, busy 100% of one core" in text, text
    assert "takes 200 k lines/s; the bar needs 2.10 M, 0.48 µs a line" in text, text
    assert ceiling_text({**figure, "unit": "ms"}) == []


def test_a_missed_rate_cost_is_shared_out_by_part_and_weighed_without_the_peers_missing_work():
    """5 µs a line shared out as the samples fell (reading Django's output 50%, the log on
    disk 30%, the cache 20%): 4 µs of it is work the peer does not do, and the 1 µs left is
    above the 0.48 µs the bar needs; with a bar of 1 M/s it would be within."""
    figure = {
        "unit": "lines/s", "ratio_bar": 3, "limit": None, "ours": {"value": 200_000,
        "cpu": {"server": 1.5}}, "peer": {"value": 700_000}, "detail": {"lines": 300_000,
        "spy_ours": {"parts": [{"part": "reading Django's output", "share": 0.5},
        {"part": "the log on disk", "share": 0.3},
        {"part": "the replay cache and its readers", "share": 0.2}]}},
    }  # fmt: skip
    each, rest = parts_cost_text(figure)
    assert "reading Django's output 2.50 µs, the log on disk 1.50 µs, the replay" in each, each
    assert "4.00 µs a line. The rest, 1.00 µs, is above the 0.48 µs a line" in rest, rest
    easier = {**figure, "peer": {"value": 333_333}}
    assert "is within the 1.00 µs a line" in parts_cost_text(easier)[1]
    assert parts_cost_text({**figure, "detail": {"lines": 300_000}}) == []  # no samples


def test_a_paced_line_splits_into_stages_and_its_servers_work_into_parts():
    """Line 1 written at 10.0 s, read at 10.0002, passing the splitter at 10.0003, its write
    begun at 10.0005 and ended at 10.0009, received at 10.0007: 0.2 ms in the pipe, 0.3 ms of
    the server's work (0.1 handing the read over, 0.2 after the splitter), 0.2 ms to the client,
    0.4 ms in write_message. A line the probe missed at a point is left out."""
    seen = {
        "read": {"1": 10.0002, "2": 10.1001},
        "write": {"1": [10.0005, 10.0009]},
        "passed": {"splitting": {"1": 10.0003}},
    }
    rows = split({1: 10.0, 2: 10.1}, {1: 10.0007, 2: 10.1009}, seen)
    assert [[round(ms, 6) for ms in row] for row in rows] == [[0.2, 0.3, 0.2, 0.4, 0.1, 0.2]]
    result = stage_summary(rows, parts(seen))
    assert result["lines"] == 1 and result["tail_lines"] == 1
    assert list(result["work_p50"]) == [HAND_OVER, "splitting"]
    assert [round(row["p50"], 6) for row in result["stages"].values()] == [0.2, 0.3, 0.2, 0.4]


def test_a_missed_ratio_says_how_its_rounds_scatter():
    figure = {"better": "lower", "ratio_bar": 1.2, "ratio": {"rounds": [1.35, 0.99, 1.65]}}
    [text] = ratio_rounds_text(figure)
    assert "1.35, 0.99, 1.65; from 0.99 to 1.65, 1 of 3 rounds reach the bar's 1.2." in text
    higher = {"better": "higher", "ratio_bar": 3, "ratio": {"rounds": [2.2, 3.3]}}
    assert "1 of 2 rounds reach" in ratio_rounds_text(higher)[0]
    assert ratio_rounds_text({**figure, "ratio_bar": None}) == []


def test_profile_samples_count_for_the_innermost_part_of_ours():
    """A py-spy sample counts for the innermost frame of ours in its stack, whatever library
    or C code it was in then; a stack without one of ours counts apart."""
    raw = "\n".join([
        "run (threading.py:1);_Writer._write (jupyter_fujita/logstore.py:5);encode (msgspec:1) 3",
        "run (asyncio/events.py:80);_publish (jupyter_fujita/supervisor.py:9);"
        "append (jupyter_fujita/replay.py:2);feed_batch (jupyter_fujita/runserver_output.py:3) 1",
        "_run_once (asyncio/base_events.py:1);select (selectors.py:4) 4",
    ])  # fmt: skip
    parts = {row["part"]: row["share"] for row in summary(raw)["parts"]}
    assert parts == {"the log on disk": 0.375, "reading Django's output": 0.125, OUTSIDE: 0.5}


def test_the_bench_client_counts_the_lines_of_a_message_by_their_seqs():
    """Our server's messages are counted without decoding them: from the first record's seq to
    the last line of the last record, a batch's lines counted by the separators between its
    texts, as the server encodes them (msgspec: no spaces)."""
    records = [
        {"seq": 5, "stream": "stderr", "time": 1.0, "text": 'a "quoted", text'},
        {"seq": 6, "stream": "stdout", "time": 1.0, "texts": ['b","c', "d\\", "", 'e,"f']},
    ]
    message = msgspec.json.encode({"type": "lines", "log_id": "x", "lines": records})
    assert _seq_range(bytearray(message), 0, len(message)) == (5, 9)
    single = msgspec.json.encode({"type": "lines", "log_id": "x", "lines": records[:1]})
    assert _seq_range(bytearray(single), 0, len(single)) == (5, 5)
