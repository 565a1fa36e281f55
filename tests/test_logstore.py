"""The log on disk: every line kept within its budget, read back by seq, surviving a restart,
and disk trouble survived."""

from __future__ import annotations

import asyncio
import shutil

from jupyter_fujita.logstore import LogStore
from jupyter_fujita.replay import EARLIER_RUNS, ReplayCache, read_log


async def settle() -> None:
    await asyncio.sleep(0)  # the store writes at the end of the event-loop turn
    await asyncio.sleep(0)


async def fill(cache: ReplayCache, batches: int, size: int = 100, stream: str = "stdout") -> None:
    for batch in range(batches):
        cache.append(stream, [f"b{batch} l{i} " + "x" * 50 for i in range(size)], 1.0)
        await settle()


async def test_every_line_is_read_back_in_order_across_segments(tmp_path):
    store = LogStore(tmp_path / "log", segment_bytes=20_000)
    cache = ReplayCache(100, 1 << 20, store)
    await fill(cache, 50)
    assert len(list((tmp_path / "log").glob("*.jsonl"))) > 5
    seen, after = [], 0
    while True:
        piece = await read_log(cache, after, max_bytes=7_000)
        if not piece.lines:
            break
        assert piece.gap_from is None
        seen += [line.seq for line in piece.lines]
        after = piece.position
    assert seen == list(range(1, 5_001))
    # any seq, straight from the sparse index
    for seq in (1, 63, 64, 65, 1_000, 4_900):
        assert store.read(seq - 1, 100, 6_000)[0].seq == seq


async def test_meta_and_odd_text_come_back_as_they_were(tmp_path):
    store = LogStore(tmp_path / "log")
    cache = ReplayCache(2, 1 << 20, store)
    lines = cache.append("stderr", ['"GET / HTTP/1.1" 500 1', "tab\there é \x00 \\n"], 1.0)
    lines[0].meta = {"request": {"method": "GET", "status": 500}}
    await settle()
    back = store.read(0, 1 << 20, 100)
    assert [(line.text, line.meta) for line in back] == [
        ('"GET / HTTP/1.1" 500 1', {"request": {"method": "GET", "status": 500}}),
        ("tab\there é \x00 \\n", None),
    ]


async def test_the_oldest_segments_go_first_and_a_reader_behind_them_learns_of_the_gap(tmp_path):
    store = LogStore(tmp_path / "log", max_bytes=30_000, segment_bytes=10_000)
    cache = ReplayCache(50, 1 << 20, store)
    await fill(cache, 40)
    assert store.nbytes <= 30_000 + 10_000
    first = store.first_seq
    assert first > 1
    piece = await read_log(cache, 0, max_lines=10)
    assert (piece.gap_from, piece.gap_to) == (1, first - 1)
    assert [line.seq for line in piece.lines] == list(range(first, first + 10))


async def test_after_a_restart_seqs_and_the_id_go_on_and_the_tail_comes_back(tmp_path):
    cache = ReplayCache(1_000, 1 << 20, LogStore(tmp_path / "log"))
    await fill(cache, 3)
    cache.store.close()
    log_id, last = cache.id, cache.last_seq

    again = ReplayCache(1_000, 1 << 20, LogStore(tmp_path / "log"))
    assert again.id == log_id
    texts = [line.text for line in again.tail(1_000)]
    assert len(texts) == last + 1 and texts[-1] == EARLIER_RUNS
    new = again.append("stdout", ["after the restart"], 2.0)
    assert new[0].seq == last + 2


async def test_clearing_removes_the_files_and_seqs_go_on(tmp_path):
    cache = ReplayCache(10, 1 << 20, LogStore(tmp_path / "log"))
    await fill(cache, 2)
    cache.clear()
    assert list((tmp_path / "log").glob("*.jsonl")) == []
    new = cache.append("stdout", ["after"], 1.0)
    await settle()
    assert new[0].seq == 201
    piece = await read_log(cache, 0)
    assert [line.text for line in piece.lines] == ["after"] and piece.gap_from is None


async def test_a_folder_that_cannot_be_made_leaves_the_log_in_memory_and_says_so(tmp_path):
    (tmp_path / "log").write_text("a file where the folder should be")
    cache = ReplayCache(10, 1 << 20, LogStore(tmp_path / "log" / "django"))
    assert cache.store.failed
    assert cache.tail(1)[0].text.startswith("The log is kept in memory only from here:")
    await fill(cache, 1, size=5)
    assert [line.text for line in cache.tail(5)][-1].startswith("b0 l4")


async def test_a_disk_that_fails_later_is_said_once_and_the_log_goes_on(tmp_path):
    cache = ReplayCache(100, 1 << 20, LogStore(tmp_path / "log", segment_bytes=1_000))
    await fill(cache, 2, size=10)
    shutil.rmtree(tmp_path / "log")
    (tmp_path / "log").write_text("no longer a folder")
    await fill(cache, 3, size=10)
    said = [line.text for line in cache.tail(100) if line.stream == "fujita"]
    assert len(said) == 1 and "memory only" in said[0]
    assert cache.tail(1)[0].text.startswith("b2 l9")
