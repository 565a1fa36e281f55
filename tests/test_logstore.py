"""The log on disk: every line kept within its budget, read back by seq, surviving a restart,
and disk trouble survived."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Callable

import msgspec

from jupyter_fujita.client import line_records
from jupyter_fujita.handlers import encode_message
from jupyter_fujita import logstore
from jupyter_fujita.logstore import LogStore, seq_at
from jupyter_fujita.wire import Line, Request, StoredLine
from jupyter_fujita.replay import (
    EARLIER_RUNS,
    LineFilter,
    ReplayCache,
    SharedReads,
    LogFeed,
    read_encoded,
    read_log,
    search_log,
)


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
    seen, after = [], 0
    while True:
        piece = await read_log(cache, after, max_bytes=7_000)
        if not piece.lines:
            break
        assert piece.gap_from is None
        seen += [line.seq for line in piece.lines]
        after = piece.position
    assert seen == list(range(1, 5_001))
    assert len(list((tmp_path / "log").glob("*.jsonl"))) > 5  # written by the time it was read
    # any seq, straight from the sparse index
    for seq in (1, 63, 64, 65, 1_000, 4_900):
        assert store.read(seq - 1, 100, 6_000)[0].seq == seq


def record_seqs(data: bytes) -> list[int]:
    """The seqs of the lines of newline-separated records (a Batch holds several)."""
    decoder = msgspec.json.Decoder(StoredLine)
    return [line.seq for record in data.split(b"\n") for line in decoder.decode(record).lines()]


def every_third_a_frame(lines: list[Line]) -> None:
    """An output reader's annotation: some lines of the batch carry meta (records of their own),
    so the batch is no Batch."""
    for line in lines[::3]:
        line.meta = {"frame": {"file": "shop/views.py", "line": line.seq}}


def entries_hold_their_records(folder, segment) -> None:
    """Each index entry of the segment is the offset of its seq's record in the file."""
    data = (folder / f"{segment.first_seq}.jsonl").read_bytes()
    assert segment.seqs[0] == segment.first_seq and list(segment.seqs) == sorted(segment.seqs)
    for seq, offset in zip(segment.seqs, segment.offsets, strict=True):
        assert offset == 0 or data[offset - 1] == ord("\n")
        assert data[offset:].startswith(b'{"seq":%d,' % seq)


async def test_the_index_points_at_the_records_this_life_and_the_next(tmp_path):
    """The writer notes where writes begin (no closer than INDEX_STRIDE lines); a segment of an
    earlier life is indexed by a scan, every INDEX_STRIDE-th record. Either way every seq is
    found, across segments, from writes of odd sizes and characters of several bytes, in Batches
    (plain batches) and in records of a line (batches with meta)."""
    folder = tmp_path / "log"
    store = LogStore(folder, segment_bytes=10_000)
    cache = ReplayCache(100, 1 << 20, store)
    for batch in range(40):  # batches of odd sizes, across stride and segment boundaries
        texts = [f"{batch} {i} " + "é" * (i % 7) for i in range(batch * 7 % 150)]
        cache.append("stdout", texts, 1, every_third_a_frame if batch % 3 == 0 else None)
        await settle()
    last = cache.last_seq
    store.flush()
    store.wait_written()
    segments = list(store._segments)
    assert len(segments) > 2
    for segment in segments:
        entries_hold_their_records(folder, segment)
        gaps = [b - a for a, b in zip(segment.seqs, segment.seqs[1:], strict=False)]
        assert all(gap >= 64 for gap in gaps), gaps  # the index stays sparse
    for seq in (1, 2, 63, 64, 65, 300, last - 1, last):
        assert store.read(seq - 1, 100, seq + 1)[0].seq == seq
    store.close()
    again = LogStore(folder)  # an earlier life's segments: each indexed by a scan when read
    for seq in (1, 64, 65, 300, last):
        assert again.read(seq - 1, 100, seq + 1)[0].seq == seq
    for segment in again._segments:
        again._index(segment)
        entries_hold_their_records(folder, segment)
        records = segment.path.read_bytes().split(b"\n")[:-1]
        assert list(segment.seqs) == [seq_at(record, 0) for record in records[::64]]
        assert segment.count == len(record_seqs(b"\n".join(records)))
    for seq in range(1, last + 1):  # every line, from a Batch's first to its last
        assert again.read(seq - 1, 100, seq + 1)[0].seq == seq
    assert again._segments[-1].last_seq == last
    again.close()


async def test_a_reader_goes_on_where_its_last_read_ended(tmp_path):
    """read_encoded notes where its records ended: the next read of the next seq starts there,
    skipping nothing; reads page through a segment in pieces and across segments (a read that
    ended a segment does not point into the next one), each line once."""
    store = LogStore(tmp_path / "log", max_bytes=60_000, segment_bytes=20_000)
    cache = ReplayCache(100, 1 << 20, store)
    await fill(cache, 10)  # 1,000 lines of ~58 bytes: several segments
    store.flush()
    seqs, after = [], store.first_seq - 1
    while (found := store.read_encoded(after, 3_000)) is not None:
        seqs += record_seqs(found.data)
        after = found.last_seq
        place = store._locate(after + 1)
        if place is not None and after < cache.last_seq:
            segment, offset = place
            assert after + 1 in store._resume  # or a segment's first line
            data = segment.path.read_bytes()
            assert data[offset:].startswith(b'{"seq":%d,' % (after + 1))
    assert seqs == list(range(store.first_seq, cache.last_seq + 1))


async def test_meta_and_odd_text_come_back_as_they_were(tmp_path):
    store = LogStore(tmp_path / "log")
    cache = ReplayCache(2, 1 << 20, store)

    def read(lines: list[Line]) -> None:
        lines[0].meta = {"request": Request("GET", "/", 500, 1, traceback_seq=7)}

    cache.append("stderr", ['"GET / HTTP/1.1" 500 1', "tab\there é \x00 \\n"], 1.0, read)
    await settle()
    back = store.read(0, 1 << 20, 100)
    assert [(line.text, line.meta) for line in back] == [
        ('"GET / HTTP/1.1" 500 1', {"request": Request("GET", "/", 500, 1, traceback_seq=7)}),
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


async def test_a_record_cut_by_a_killed_server_is_dropped_and_the_log_goes_on_after_it(tmp_path):
    """A server killed while its writer wrote leaves the last segment ending in part of a
    record: the next server starts (the cache comes back), reads every whole line, and writes
    its own after the last whole record, not glued to the cut one."""
    cache = ReplayCache(1_000, 1 << 20, LogStore(tmp_path / "log"))
    await fill(cache, 2)
    cache.store.close()
    [segment] = (tmp_path / "log").glob("*.jsonl")
    with segment.open("ab") as file:
        file.write(b'{"seq":201,"stream":"stdout","time":1.0,"texts":["cut he')

    again = ReplayCache(1_000, 1 << 20, LogStore(tmp_path / "log"))
    assert [line.seq for line in again.tail(1_000)] == list(range(1, 202))  # and EARLIER_RUNS
    again.append("stdout", ["after the restart"], 2.0)
    await settle()
    again.store.close()
    back = LogStore(tmp_path / "log").read(0, 1 << 30, 10**9)
    assert [line.seq for line in back] == list(range(1, 203))
    assert [line.text for line in back[-2:]] == [EARLIER_RUNS, "after the restart"]


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
    cache.store.wait_written()
    shutil.rmtree(tmp_path / "log")
    (tmp_path / "log").write_text("no longer a folder")
    await fill(cache, 1, size=10)
    for _ in range(500):  # the writer's thread finds out, and tells the event loop
        if cache.store.failed:
            break
        await asyncio.sleep(0.01)
    await fill(cache, 3, size=10)
    said = [line.text for line in cache.tail(100) if line.stream == "fujita"]
    assert len(said) == 1 and "memory only" in said[0]
    assert cache.tail(1)[0].text.startswith("b2 l9")


async def test_readers_in_several_threads_each_get_every_line_in_order(tmp_path):
    store = LogStore(tmp_path / "log", segment_bytes=50_000)
    cache = ReplayCache(50, 1 << 20, store)

    async def reader() -> list[int]:
        seen, after = [], 0
        while after < 6_000:
            piece = await read_log(cache, after, max_bytes=3_000)
            assert piece.gap_from is None
            seen += [line.seq for line in piece.lines]
            after = piece.position
            if not piece.lines:
                await asyncio.sleep(0.001)
        return seen

    readers = [asyncio.create_task(reader()) for _ in range(6)]
    await fill(cache, 60)  # written while they read
    for seen in await asyncio.gather(*readers):
        assert seen == list(range(1, 6_001))


async def test_a_disk_behind_the_output_holds_the_output_back_not_memory(tmp_path, monkeypatch):
    """A write that takes its time (a disk under writeback, a network folder): the event loop
    goes on, and once WRITE_BACKLOG bytes wait for the disk the pipes are not read (`room`)
    until the writer has caught up; nothing is lost."""
    store = LogStore(tmp_path / "log")
    cache = ReplayCache(100, 1 << 20, store)
    disk = threading.Event()
    write = logstore._Writer._write

    def held_write(writer, jobs):
        assert disk.wait(30)
        write(writer, jobs)

    monkeypatch.setattr(logstore._Writer, "_write", held_write)
    text = "x" * 1_000
    while store.backlog <= logstore.WRITE_BACKLOG:
        cache.append("stdout", [text] * 1_000, 1.0)
        await settle()
    room = asyncio.create_task(cache.room())
    await asyncio.sleep(0.2)
    assert not room.done()  # the pipes would wait here
    disk.set()
    await asyncio.wait_for(room, 10)
    assert store.backlog <= logstore.WRITE_BACKLOG
    piece = await read_log(cache, 0, max_lines=5)
    assert [line.seq for line in piece.lines] == [1, 2, 3, 4, 5] and piece.gap_from is None


async def feed_messages(cache: ReplayCache, encoded: bool, count: int) -> list[dict]:
    """The first `count` lines a log feed sends, as a client decodes them."""
    lines: list[dict] = []
    feed = LogFeed(cache, 0, 3_000, encoded=encoded).messages()
    async for message in feed:
        decoded = msgspec.json.decode(encode_message(message))
        assert decoded["type"] == "lines", decoded
        lines += line_records(decoded["lines"])
        if len(lines) >= count:
            break
    await feed.aclose()
    return lines


async def test_a_reader_behind_the_cache_is_sent_the_disk_records_as_the_cache_would_send_them(
    tmp_path,
):
    store = LogStore(tmp_path / "log", segment_bytes=20_000)
    cache = ReplayCache(100, 1 << 20, store)
    for batch in range(30):

        def read(lines: list[Line], batch: int = batch) -> None:
            lines[7].meta = {"request": Request("GET", f"/{batch}/7", 200, None)}
            lines[8].meta = {"frame": {"file": "shop/views.py", "line": batch}}

        texts = [f'"GET /{batch}/{i} HTTP/1.1" 200 5' for i in range(99)]
        cache.append("stderr", texts, 2.5, read if batch % 2 else None)  # Batches, and lines
        cache.append("stdout", ['odd "text"\twith é and \\n'], 2.5)
        await settle()
    # what the cache's own path sends for every line, from memory
    from_memory = encode_message(
        {"type": "lines", "log_id": cache.id, "lines": store.read(0, 1 << 30, 10**9)}
    )
    expected = line_records(msgspec.json.decode(from_memory)["lines"])
    assert len(expected) == 3_000 and expected[107]["request"]["status"] == 200
    sent = await feed_messages(cache, encoded=True, count=3_000)
    assert sent == expected
    # straight from the disk for all but the cache's 100 lines, several records a message
    found = await read_encoded(cache, 0, 50_000, message_bytes=3_000)
    assert found is not None and len(found.bodies) > 5
    # from any seq, inside the sparse index's stride too
    for after in (0, 62, 63, 64, 1_000, 2_850):  # inside Batches too: cut to begin there
        found = await read_encoded(cache, after, 5_000, message_bytes=3_000)
        first = line_records(msgspec.json.decode(b"[" + found.bodies[0] + b"]"))[0]
        assert first == expected[after]
    # a reader within the cache is not the disk's: read_log answers it
    assert await read_encoded(cache, 2_950, 5_000, message_bytes=3_000) is None


async def test_readers_behind_the_cache_at_one_position_share_one_disk_read(tmp_path, monkeypatch):
    """Fifty browsers behind the cache, in step, as after a flood: each disk read is made once
    for all of them, and every one of them is sent the same lines."""
    store = LogStore(tmp_path / "log", segment_bytes=20_000)
    cache = ReplayCache(100, 1 << 20, store)
    await fill(cache, 30)
    positions: list[int] = []
    read_encoded_of_store = store.read_encoded

    def counted(after: int, max_bytes: int) -> logstore.EncodedLines | None:
        positions.append(after)
        return read_encoded_of_store(after, max_bytes)

    monkeypatch.setattr(store, "read_encoded", counted)
    sent = await asyncio.gather(*(feed_messages(cache, True, 2_900) for _ in range(50)))
    assert len(sent[0]) >= 2_900 and all(lines == sent[0] for lines in sent)
    assert [line["seq"] for line in sent[0]] == list(range(1, len(sent[0]) + 1))
    assert len(positions) > 5 and len(positions) == len(set(positions)), positions


async def test_a_shared_read_is_made_once_kept_while_recent_and_outlives_a_reader():
    shared = SharedReads(size=2)
    calls: list[str] = []

    def read(answer: tuple[list[bytes], int] | None) -> Callable[[], object]:
        return lambda: calls.append("read") or answer

    assert await shared.get((0, 1, 1), read(([b"a"], 5))) == ([b"a"], 5)
    assert await shared.get((0, 1, 1), read(([b"other"], 9))) == ([b"a"], 5)
    assert len(calls) == 1
    # nothing found is not kept: the next reader asks the disk again
    assert await shared.get((7, 1, 1), read(None)) is None
    assert await shared.get((7, 1, 1), read(([b"b"], 8))) == ([b"b"], 8)
    # the oldest goes past `size`, and all go with a clear of the log
    await shared.get((9, 1, 1), read(([b"c"], 10)))
    assert await shared.get((0, 1, 1), read(([b"a2"], 5))) == ([b"a2"], 5)
    shared.clear()
    assert await shared.get((9, 1, 1), read(([b"c2"], 10))) == ([b"c2"], 10)
    # a reader that goes away mid-read leaves the read to the others waiting for it
    gate = threading.Event()

    def slow() -> tuple[list[bytes], int]:
        gate.wait(10)
        return [b"slow"], 11

    first = asyncio.ensure_future(shared.get((11, 1, 1), slow))
    second = asyncio.ensure_future(shared.get((11, 1, 1), slow))
    await asyncio.sleep(0.01)
    first.cancel()
    gate.set()
    assert await second == ([b"slow"], 11)


def test_a_segment_of_the_earlier_layout_meta_nested_still_reads(tmp_path):
    folder = tmp_path / "log"
    folder.mkdir()
    old = {"seq": 1, "stream": "stderr", "time": 1.0, "text": "x", "meta": {"partial": True}}
    (folder / "1.jsonl").write_bytes(msgspec.json.encode(old) + b"\n")
    line = LogStore(folder).read(0, 1 << 20, 10)[0]
    assert (line.seq, line.text, line.meta) == (1, "x", {"partial": True})
    request = {"method": "GET", "path": "/", "status": 500, "size": 3}
    old = {"seq": 2, "stream": "stderr", "time": 1.0, "text": "y", "meta": {"request": request}}
    (folder / "2.jsonl").write_bytes(msgspec.json.encode(old) + b"\n")
    found, _ = LogStore(folder).search(1, 10, None, LineFilter(status="5xx").keeps)
    assert [line.meta for line in found] == [{"request": Request("GET", "/", 500, 3)}]


async def test_a_search_of_the_disk_finds_what_the_plain_filter_finds(tmp_path, monkeypatch):
    prefiltered = []
    holding = logstore._holding
    monkeypatch.setattr(
        logstore,
        "_holding",
        lambda block, needle: prefiltered.append(needle) or holding(block, needle),
    )
    store = LogStore(tmp_path / "log", segment_bytes=8_000)
    cache = ReplayCache(50, 1 << 20, store)
    texts = [
        "plain warning here",
        "WARNING in capitals",
        'quoted "warning"',
        "back\\slash warning",
        "café WARNING",  # a block that is not ASCII: decoded whole
        "\u212a kelvin sign folds to k",  # its case folding is ASCII's k
        "seq stream text: words that are also the record's keys",
        '"GET /x HTTP/1.1" 500 1',
        '"GET /y HTTP/1.1" 404 1',
    ]
    for batch in range(40):
        # the first segment's blocks hold other characters than ASCII, the later ones do not
        batch_texts = (
            texts if batch < 5 else [text.encode("ascii", "replace").decode() for text in texts]
        )
        lines = cache.append("stderr", [f"{batch}: {text}" for text in batch_texts], 1.0)
        lines[7].meta = {"request": Request("GET", "/x", 500, 5)}
        lines[8].meta = {"request": Request("GET", "/y", 404, 5)}
        await settle()
    everything = store.read(0, 1 << 30, 10**9) + cache.tail(cache.size)
    everything = list({line.seq: line for line in everything}.values())
    assert len(everything) == 40 * len(texts)
    for only in (
        LineFilter(text="warning"),
        LineFilter(text="K"),
        LineFilter(text='"warning"'),
        LineFilter(text="seq"),
        LineFilter(text="é"),
        LineFilter(status="5xx"),
        LineFilter(status="404", text="get"),
        LineFilter(text="nowhere at all"),
    ):
        expected = [line.seq for line in only.apply(everything)]
        found, after = [], 0
        while after < cache.last_seq:
            piece = await search_log(cache, after, only, max_lines=70)
            assert piece.gap_from is None and piece.position > after
            found += [line.seq for line in piece.lines]
            after = piece.position
        assert found == expected, only
    assert len(LineFilter(text="warning").apply(everything)) == 5 * 40
    assert {b"warning", b"k", b"get", b"nowhere at all"} <= set(prefiltered)


async def test_a_search_behind_the_disk_budget_says_what_is_gone(tmp_path):
    store = LogStore(tmp_path / "log", max_bytes=30_000, segment_bytes=10_000)
    cache = ReplayCache(50, 1 << 20, store)
    await fill(cache, 40)
    piece = await search_log(cache, 0, LineFilter(text="l7 "), max_lines=1_000)
    assert (piece.gap_from, piece.gap_to) == (1, store.first_seq - 1)
    assert piece.lines and all("l7 " in line.text for line in piece.lines)
