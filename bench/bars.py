"""What a run measures: its sizes, and each figure with the bar it must reach, in one table.

The bars are issue 16's targets (like for like, as shipped) and issue 15's costs of the log on
disk. A title may name a size (`{flood_lines:,}`), filled in from the run's `Sizes`. The table's
order is the order in which a whole run makes the figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Sizes:
    rounds: int  # rounds of the cheap figures
    heavy_rounds: int  # rounds of the figures that move a lot of lines
    ingest_lines: int
    e2e_lines: int
    fanout_lines: int  # per client, with `clients` clients
    clients: int
    latency_lines: int  # per round and side, at 10 lines/s
    memory_lines: int
    django_lines: int
    flood_lines: int
    stall_lines: int  # the flood one client sleeps through
    search_bytes: int  # at least this much log text on disk to search
    page_lines: int
    page_rounds: int
    idle_seconds: float
    idle_windows: int
    replay_small: int = 10_000
    replay_big: int = 100_000


FULL = Sizes(
    rounds=5,
    heavy_rounds=3,
    ingest_lines=300_000,
    e2e_lines=300_000,
    fanout_lines=50_000,
    clients=50,
    latency_lines=100,  # a round's p99 is then its second worst sample, not its worst
    memory_lines=10_000,  # the default cache: Fujita.cache_lines
    django_lines=200_000,
    flood_lines=1_000_000,
    stall_lines=10_000_000,
    search_bytes=200_000_000,  # most of the default disk budget, Fujita.log_bytes (256 MiB)
    page_lines=200_000,
    page_rounds=3,
    idle_seconds=30.0,
    idle_windows=3,
)
QUICK = replace(  # a smoke run: what differs from the full one
    FULL,
    rounds=2,
    heavy_rounds=2,
    ingest_lines=50_000,
    e2e_lines=50_000,
    fanout_lines=5_000,
    latency_lines=12,
    django_lines=30_000,
    flood_lines=50_000,
    stall_lines=300_000,
    search_bytes=20_000_000,
    page_lines=10_000,
    page_rounds=1,
    idle_seconds=4.0,
    idle_windows=2,
    replay_big=30_000,  # still three times the cache: most of it from disk
)


@dataclass(frozen=True)
class Bar:
    title: str
    unit: str
    better: str  # "higher" | "lower": for ours and the peer
    bar: str  # the bar, in words
    peer: str | None = None
    limit: float | None = None  # the bar on ours' value, in `unit`, in the `better` direction
    ratio: float | None = None  # the bar on the median ratio ours ÷ peer
    lossless: bool = False  # passing needs 0 lines lost by ours


TERMINADO = "terminado, 1 client"
SEED = "seed: one message per line"
TERMINAL = "the same flood in a Jupyter terminal"
MARKERS = "marker flood on stdout"
REQUESTS = "runserver request lines on stderr"
FANOUT = "end to end, {clients} clients, lines/s delivered in all"
E2E_BAR = "≥ 3× terminado, 0 lost"
FANOUT_BAR = "≥ 8× terminado's {clients} clients, 0 lost"
FANOUT_PEER = "terminado, {clients} clients on one terminal"
LATENCY = "latency at 10 lines/s, child write → client receive"


def both(
    key: str, title: str, unit: str, better: str, bar: str, peer: str, **bars: float | bool
) -> dict[str, Bar]:
    """The same figure for each workload: request lines, then the marker flood."""
    return {
        f"{key}_{name}": Bar(f"{title}: {what}", unit, better, bar, peer, **bars)
        for name, what in (("requests", REQUESTS), ("markers", MARKERS))
    }


BARS = {
    "memory_per_line": Bar(
        "memory per cached 100-byte line", "B", "lower", "≤ 250 B",
        "lean record: a slots dataclass per line, in a list", limit=250,
    ),
    "ingest_requests": Bar(
        f"ingest: {REQUESTS}", "lines/s", "higher", "≥ 4× the seed design",
        "seed: read_until per line", ratio=4,
    ),
    "ingest_markers": Bar(
        f"ingest: {MARKERS}, the log on disk", "lines/s", "higher", "≥ 1 M lines/s",
        "seed: read_until per line", limit=1e6,
    ),
    **both(
        "e2e_1_client", "end to end, 1 client", "lines/s", "higher", E2E_BAR, TERMINADO,
        ratio=3, lossless=True,
    ),
    **both(
        "e2e_{clients}_clients", FANOUT, "lines/s", "higher", FANOUT_BAR, FANOUT_PEER,
        ratio=8, lossless=True,
    ),
    "latency_p50": Bar(
        f"{LATENCY}, p50", "ms", "lower", "≤ 2 ms and ≤ 1.2× one-message-per-line", SEED,
        limit=2, ratio=1.2,
    ),
    "latency_p99": Bar(
        f"{LATENCY}, p99", "ms", "lower", "≤ 5 ms and ≤ 1.2× one-message-per-line", SEED,
        limit=5, ratio=1.2,
    ),
    "replay_10k": Bar(
        "replay of {replay_small:,} lines to a new client", "ms", "lower", "≤ 25 ms", SEED,
        limit=25,
    ),
    "replay_100k_blocking": Bar(
        "replay of {replay_big:,} lines (from disk beyond the cache): longest wait of a "
        "concurrent GET", "ms", "lower", "≤ 50 ms", SEED, limit=50,
    ),
    "e2e_django_view": Bar(
        "end to end through runserver: a view's burst, 1 client", "lines/s", "higher", E2E_BAR,
        TERMINADO, ratio=3, lossless=True,
    ),
    "idle_cpu": Bar(
        "idle: Django quiet, 3 clients connected", "% CPU", "lower", "≤ 1%",
        "terminado, same Django, 3 clients", limit=1.0,
    ),
    "status_p99_flood": Bar(
        "GET /api/status p99 during a {flood_lines:,}-line flood", "ms", "lower", "≤ 50 ms",
        TERMINAL, limit=50,
    ),
    "flood_reader": Bar(
        "a client reading a {flood_lines:,}-line flood: its lines/s", "lines/s", "higher",
        "0 lost", f"{TERMINAL}, 1 client", lossless=True,
    ),
    "loop_stall": Bar(
        "longest event-loop stall of the server during the floods and the search",
        "ms", "lower", "≤ 20 ms", f"{TERMINAL}, same server", limit=20,
    ),
    "loop_disk": Bar(
        "… the loop thread's own disk reads and writes meanwhile", "kB", "lower",
        "0 kB: the disk is left to threads", limit=0,
    ),
    "stalled_rss_growth": Bar(
        "a client stops reading during a {stall_lines:,}-line flood: server RSS growth", "MB",
        "lower", "≤ 32 MB", limit=32,
    ),
    "stalled_others_rate": Bar(
        "a client stops reading during a {flood_lines:,}-line flood: the other 2 clients' "
        "rate, with it / without", "lines/s", "higher", "keep their rate (ratio ≥ 0.8), 0 lost",
        "same, no stalled client", ratio=0.8, lossless=True,
    ),
    "search_disk": Bar(
        "search of the whole log, on disk (GET log?q=, page after page)", "MB/s", "higher",
        "≥ 50 MB/s", "grep -ci over the same segment files", limit=50,
    ),
    "page_last_line": Bar(
        "the page: a view's {page_lines:,}-line flood, view returned → last line on screen",
        "ms", "lower", "≤ 1 s", "a JupyterLab terminal", limit=1000,
    ),
    "page_longest_task": Bar(
        "… the page's longest task meanwhile", "ms", "lower", "≤ 50 ms",
        "a JupyterLab terminal", limit=50,
    ),
    "page_fps": Bar(
        "… frames per second meanwhile", "fps", "higher", "≥ 50 fps", "a JupyterLab terminal",
        limit=50,
    ),
}  # fmt: skip


def keys(sizes: Sizes) -> list[str]:
    """The figures' keys in a whole run, in order."""
    return [key.format(**sizes.__dict__) for key in BARS]
