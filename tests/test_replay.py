"""The replay cache: bounded by lines and bytes, seqs that never repeat, gaps reported."""

import asyncio

import msgspec
import pytest

from jupyter_fujita import replay
from jupyter_fujita.client import line_records
from jupyter_fujita.handlers import encode_message
from jupyter_fujita.replay import (
    LINE_JSON,
    LINE_OVERHEAD,
    LineFilter,
    LogFeed,
    ReplayCache,
    message_lines,
)
from jupyter_fujita.wire import line_json


def test_cache_keeps_the_newest_lines_within_its_line_bound():
    cache = ReplayCache(max_lines=5)
    cache.append("stdout", [f"line {i}" for i in range(1, 13)], 1.0)
    assert cache.size == 5
    assert [line.text for line in cache.tail(10)] == [f"line {i}" for i in range(8, 13)]
    assert (cache.first_seq, cache.last_seq) == (8, 12)


def test_cache_keeps_within_its_byte_budget_but_always_the_newest_line():
    cache = ReplayCache(max_lines=1000, max_bytes=3 * (LINE_OVERHEAD + 100))
    cache.append("stdout", ["x" * 100] * 10, 1.0)
    assert cache.size == 3
    assert cache.nbytes <= cache.max_bytes
    cache.append("stdout", ["y" * 10_000], 2.0)
    assert [line.text[0] for line in cache.tail(5)] == ["y"]


def test_seq_keeps_counting_across_a_clear():
    cache = ReplayCache()
    cache.append("stdout", ["a", "b"], 1.0)
    cache.clear()
    assert cache.size == 0 and cache.last_seq == 2
    cache.append("stderr", ["c"], 2.0)
    assert [(line.seq, line.stream, line.text) for line in cache.tail(5)] == [(3, "stderr", "c")]


def test_cleared_lines_are_not_reported_as_a_gap():
    cache = ReplayCache(max_lines=10)
    cache.append("stdout", ["a", "b", "c"], 1.0)
    cache.clear()
    cache.append("stdout", ["d"], 2.0)
    piece = cache.read(0)
    assert piece.gap_from is None and [line.text for line in piece.lines] == ["d"]
    cache.append("stdout", [str(i) for i in range(20)], 3.0)
    assert cache.read(0).gap_from == 4  # lines lost after the clear are a gap again


async def test_a_feed_from_before_a_clear_waits_for_new_lines_instead_of_spinning():
    cache = ReplayCache()
    cache.append("stdout", ["a", "b"], 1.0)
    cache.clear()
    feed = LogFeed(cache, since=0).messages()
    pending = asyncio.ensure_future(feed.__anext__())
    await asyncio.sleep(0.05)
    assert not pending.done()  # parked on the cache, not looping
    cache.append("stdout", ["c"], 2.0)
    message = await asyncio.wait_for(pending, 1)
    assert [line.text for line in message_lines(message)] == ["c"]


async def test_lines_taken_at_once_from_a_waiting_feed_are_not_sent_again_by_it():
    """A taker (LogFeed.take_new) gets a waiting reader's new lines as they are appended,
    annotated first; the feed's `messages` goes on after them. A feed that does not wait, or
    whose next message is a clear, gives nothing there."""
    cache = ReplayCache()
    cache.append("stdout", ["a"], 1.0)
    feed = LogFeed(cache)
    taken: list[dict] = []
    cache.takers.add(lambda new: taken.extend(feed.take_new(new)))
    messages = feed.messages()
    assert [line.text for line in message_lines(await messages.__anext__())] == ["a"]
    cache.append("stdout", ["x"], 1.5)  # `messages` has not come to wait yet: its own to send
    assert taken == [] and [line.text for line in message_lines(await messages.__anext__())] == [
        "x"
    ]
    pending = asyncio.ensure_future(messages.__anext__())
    await asyncio.sleep(0.01)  # now it waits

    def annotate(lines):
        lines[0].meta = {"partial": True}

    cache.append("stdout", ["b", "c"], 2.0, annotate)
    [message] = taken
    assert [(line.text, line.meta) for line in message_lines(message)] == [
        ("b", {"partial": True}),
        ("c", None),
    ]
    assert feed.position == 4
    taken.clear()
    await asyncio.sleep(0.01)  # the feed woke, found nothing new, and waits again
    cache.append("stdout", ["d"], 3.0)
    assert [line.text for line in message_lines(taken[0])] == ["d"]
    assert not pending.done()  # b, c and d not again
    cache.clear()
    assert (await asyncio.wait_for(pending, 1))["type"] == "cleared"
    await messages.aclose()


async def test_a_waiting_feed_takes_a_message_s_worth_at_once_and_a_filtered_one_its_own_lines():
    """Lines just appended that fit in a message go out at once as the append made them (a
    plain batch as one Batch); more than a message's worth is cut as
    `messages` cuts, the rest sent by it; a filtered feed takes only the lines it wants."""
    cache = ReplayCache()
    whole = LogFeed(cache, max_bytes=4 * (LINE_JSON + 10))
    only = LogFeed(cache, max_bytes=64 * 1024, only=LineFilter(None, "keep"))
    taken: dict[str, list[dict]] = {"whole": [], "only": []}
    cache.takers.add(lambda new: taken["whole"].extend(whole.take_new(new)))
    cache.takers.add(lambda new: taken["only"].extend(only.take_new(new)))
    waiting = [asyncio.ensure_future(feed.messages().__anext__()) for feed in (whole, only)]
    await asyncio.sleep(0.01)
    cache.append("stdout", ["keep 1", "drop 2"], 1.0)
    [message] = taken["whole"]
    assert [type(piece).__name__ for piece in message["pieces"]] == ["Batch"]
    assert [line.text for line in message_lines(message)] == ["keep 1", "drop 2"]
    assert [line.text for line in message_lines(taken["only"][0])] == ["keep 1"]
    assert (whole.position, only.position) == (2, 2)
    await asyncio.sleep(0.01)  # the feeds woke, found nothing new, and wait again
    taken["whole"].clear()
    cache.append("stdout", [f"{i:010d}" for i in range(3, 13)], 2.0)  # ten: over a message
    [message] = taken["whole"]
    assert [line.seq for line in message_lines(message)] == [3, 4, 5, 6]
    assert whole.position == 6
    for pending in waiting:
        pending.cancel()


def test_reader_behind_the_cache_is_told_of_the_gap_then_goes_on_from_the_oldest():
    cache = ReplayCache(max_lines=10)
    cache.append("stdout", [str(i) for i in range(1, 31)], 1.0)
    piece = cache.read(5)
    assert (piece.gap_from, piece.gap_to) == (6, 20)
    assert [line.seq for line in piece.lines] == list(range(21, 31))
    assert cache.read(25).gap_from is None
    assert [line.seq for line in cache.read(25, max_lines=2).lines] == [26, 27]
    assert cache.read(30).lines == []


def test_read_respects_the_byte_limit_but_always_moves():
    cache = ReplayCache()
    cache.append("stdout", ["z" * 1000] * 50, 1.0)
    assert 1 < len(cache.read(0, max_bytes=10_000).lines) < 15
    assert len(cache.read(0, max_bytes=1).lines) == 1


def test_ring_compacts_without_losing_order():
    """Through compactions, each line keeps its seq, stream, time and meta: a plain line is
    cached as its text alone, and made a Line of its batch's stream and time when read."""

    def mark_the_seventh(lines):
        lines[7].meta = {"partial": True}

    cache = ReplayCache(max_lines=100)
    for batch in range(200):
        stream = ("stdout", "stderr")[batch % 2]
        cache.append(stream, [f"{batch}-{i}" for i in range(50)], float(batch), mark_the_seventh)
    lines = cache.read(cache.first_seq - 1).lines
    assert [line.seq for line in lines] == list(range(cache.last_seq - 99, cache.last_seq + 1))
    for line in lines:
        batch, index = map(int, line.text.split("-"))
        assert line.seq == batch * 50 + index + 1
        assert (line.stream, line.time) == (("stdout", "stderr")[batch % 2], float(batch))
        assert line.meta == ({"partial": True} if index == 7 else None)
    assert len(cache._lines) < 10_000  # the head is compacted, memory stays bounded
    assert sum(isinstance(item, str) for item in cache._lines) == 98  # no Line for plain ones


async def test_waiters_wake_on_new_lines_and_on_clear():
    cache = ReplayCache()
    waiter = asyncio.ensure_future(cache.wait_beyond(0, cache.clears))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    cache.append("stdout", ["hello"], 1.0)
    await asyncio.wait_for(waiter, 1)
    waiter = asyncio.ensure_future(cache.wait_beyond(1, cache.clears))
    cache.clear()
    await asyncio.wait_for(waiter, 1)


def test_cache_refuses_a_size_of_nothing():
    with pytest.raises(ValueError):
        ReplayCache(max_lines=0)


class Sized(str):
    """A text that says it is this long: a cache of gigabytes without the gigabytes."""

    size = 0

    def __len__(self) -> int:
        return self.size


def big(size: int) -> Sized:
    text = Sized("x")
    text.size = size
    return text


def test_the_sums_behind_the_byte_budget_stay_right_past_four_bytes(monkeypatch):
    monkeypatch.setattr(replay, "PRE_REBASE", 10_000)
    cache = ReplayCache(max_lines=50, max_bytes=1 << 40)
    rebased, last_sum = 0, 0
    for batch in range(600):  # past a compaction of the ring: the first sum is taken off
        cache.append("stdout", [f"{batch:03} {'y' * 300}"] * 10, 1.0)
        rebased += cache._pre[-1] < last_sum
        last_sum = cache._pre[-1]
    assert rebased and cache._pre.typecode == "i"

    def json_bytes(lines):
        return sum(len(line.text) + LINE_JSON for line in lines)

    tail = cache.tail(50)
    assert cache.nbytes == sum(len(line.text) for line in tail) + 50 * LINE_OVERHEAD
    piece = cache.read(cache.last_seq - 50, max_bytes=json_bytes(tail[:7]))
    assert piece.lines == tail[:7]
    # sums past what 4 bytes hold: 8-byte sums from then on, the budget still right
    lines = cache.append("stdout", [big(3 << 30), big(3 << 30), "small"], 1.0)
    assert cache._pre.typecode == "q"
    assert cache.nbytes == sum(len(line.text) for line in cache.tail(50)) + 50 * LINE_OVERHEAD
    assert cache.read(cache.last_seq - 3, max_bytes=1 << 31).lines == lines[:1]
    both = (3 << 30) + len("small") + 2 * LINE_JSON
    assert cache.read(cache.last_seq - 2, max_bytes=both).lines == lines[1:]
    assert cache.read(cache.last_seq - 2, max_bytes=both - 1).lines == lines[1:2]


async def test_a_plain_batch_goes_out_as_one_record_and_a_line_with_meta_as_its_own():
    """What the wire sends from the cache: each plain batch (lines read together, none with
    meta) as one Batch record, from the reader's seq on; of a batch with meta, its runs of
    plain lines as Batches and each line with meta as its own; a filtered reader's lines line
    by line. Expanded, they are the lines the REST log answers."""
    cache = ReplayCache()

    def a_frame(lines):
        lines[1].meta = {"frame": {"file": "shop/views.py", "line": 3}}

    cache.append("stdout", ["a", "b", "c"], 1.0)
    cache.append("stderr", ["tb", "frame", "error"], 2.0, a_frame)
    cache.append("stdout", ["d", "e"], 3.0)
    feed = LogFeed(cache, since=1).messages()
    message = await feed.__anext__()
    await feed.aclose()
    records = msgspec.json.decode(encode_message(message))["lines"]
    assert records == [
        {"seq": 2, "stream": "stdout", "time": 1.0, "texts": ["b", "c"]},
        {"seq": 4, "stream": "stderr", "time": 2.0, "texts": ["tb"]},
        {
            "seq": 5,
            "stream": "stderr",
            "time": 2.0,
            "text": "frame",
            "frame": {"file": "shop/views.py", "line": 3},
        },
        {"seq": 6, "stream": "stderr", "time": 2.0, "texts": ["error"]},
        {"seq": 7, "stream": "stdout", "time": 3.0, "texts": ["d", "e"]},
    ]
    assert line_records(records) == [line_json(line) for line in cache.read(1).lines]
    # messages cut inside batches: each piece a Batch of its own lines
    small = LogFeed(cache, since=0, max_bytes=2 * LINE_JSON + 2).messages()
    pieces: list[list[dict]] = []
    while not pieces or line_records(pieces[-1])[-1]["seq"] < 8:
        pieces.append(msgspec.json.decode(encode_message(await small.__anext__()))["lines"])
    await small.aclose()
    assert pieces[0] == [{"seq": 1, "stream": "stdout", "time": 1.0, "texts": ["a", "b"]}]
    assert pieces[1][0] == {"seq": 3, "stream": "stdout", "time": 1.0, "texts": ["c"]}
    assert [line["seq"] for piece in pieces for line in line_records(piece)] == list(range(1, 9))
    # a filtered reader's lines are some of a batch's: each a line
    only = LogFeed(cache, since=0, only=LineFilter(text="e")).messages()
    records = msgspec.json.decode(encode_message(await only.__anext__()))["lines"]
    await only.aclose()
    assert [(record["seq"], record["text"]) for record in records] == [
        (5, "frame"),
        (6, "error"),
        (8, "e"),
    ]
