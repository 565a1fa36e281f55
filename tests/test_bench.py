"""The benchmarks still run: `python -m bench --quick` prints the table and writes the JSON.

Only the shape is checked, never a speed: speed is measured by the bench itself, side by side
with its peers, and shown in docs/performance.md.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = [
    "memory_per_line", "ingest", "e2e_1_client", "e2e_50_clients", "latency_p50",
    "latency_p99", "replay_10k", "replay_100k_blocking", "e2e_django_view", "idle_cpu",
    "stalled_rss_growth", "stalled_others_rate", "status_p99_flood",
]  # fmt: skip


def test_the_quick_bench_prints_every_figure_and_its_json(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "of 13 bars reached" in result.stdout
    report = json.loads(out.read_text())
    assert report["quick"] is True and report["killed_leftovers"] == []
    assert [figure["key"] for figure in report["figures"]] == FIGURES
    for figure in report["figures"]:
        assert figure["title"] in result.stdout
        assert isinstance(figure["pass"], bool) and figure["ours"]["rounds"]
        low = 0 if figure["key"] == "idle_cpu" else 1e-12
        assert figure["ours"]["value"] >= low
        if figure["peer"] is not None:
            assert figure["peer"]["value"] >= low and figure["peer"]["rounds"]
        if figure["ratio"] is not None:
            assert figure["ratio"]["min"] > 0 and figure["ratio"]["median"] > 0
