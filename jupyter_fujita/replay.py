"""The replay cache: a bounded ring of numbered log lines, and the wake-ups of its readers.

Every line gets a `seq` that grows by one for the life of the log and never repeats, so a
reader that knows the last seq it saw can ask for what came after and learn of any gap. With
a `LogStore` (logstore.py) every line also goes to disk: the cache is then the hot tail, a
reader behind it reads from disk (`read_log`), and seqs and the log's id go on after a restart.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, repeat
from typing import TYPE_CHECKING, Any, overload

from .broadcast import Broadcast
from .wire import Batch, Line, Piece, piece_lines, request_of

if TYPE_CHECKING:
    from .logstore import LogStore

# What a cached line costs beyond its text's characters: a plain line's str header, list slot
# and prefix sum (bench's memory step: 161 B for a 100-byte line). Used to keep the byte budget
# close to the memory really held; the few lines with meta, held as Lines, cost more.
LINE_OVERHEAD = 64
# About what the JSON of a line adds to its text: sizes a message from the prefix sums alone.
LINE_JSON = 70
# A reader behind the cache reads this many messages' worth from disk per trip to a thread (a
# trip costs more than the reading), and sends them one message at a time, paced as ever: with
# the WebSocket's 256 KiB messages, 512 KiB a trip, what a reader holds at most.
DISK_MESSAGES = 2
# Disk reads kept for the next readers at the same position (fan-out: fifty browsers behind
# the cache ask for the same lines, in step): at most DISK_MESSAGES messages each, ~8 MiB in all.
SHARED_READS = 16
# _pre's sums lose their first value once past this (see _add_sums).
PRE_REBASE = 1 << 30
EARLIER_RUNS = "— The Jupyter server restarted: the lines above are from earlier runs —"


@dataclass(slots=True)
class Slice:
    """What a reader gets: the lines after its position, and what it missed before them."""

    lines: list[Line]
    position: int  # the reader now stands after this seq: its next read starts here
    gap_from: int | None = None  # first seq that is gone, if any
    gap_to: int | None = None  # last seq that is gone
    weight: int | None = None  # the lines' JSON bytes as the cache reckons them, if it read them


@dataclass(slots=True)
class Cut:
    """A Slice as the wire sends it (`ReplayCache.read_pieces`): a plain batch's lines as one
    Batch, made of the cached texts without a Line each; the others as Lines."""

    pieces: list[Piece]
    position: int
    gap_from: int | None = None
    gap_to: int | None = None


@dataclass(slots=True)
class Appended:
    """What one append added, as the takers get it: seqs `first` on, `count` lines whose texts
    are `chars` long, and those lines as the wire sends them (the disk is given the same)."""

    first: int
    count: int
    chars: int
    pieces: list[Piece]


class NewLines(Sequence[Line]):
    """The lines of a batch just appended, each made a Line only when asked for: the output
    reader looks at few lines of a flood, and a line it set no meta on stays cached as its
    text alone (`ReplayCache`)."""

    def __init__(self, first: int, stream: str, time: float, texts: list[str]) -> None:
        self.first, self.stream, self.time, self.texts = first, stream, time, texts
        self.made: dict[int, Line] = {}

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, index: int) -> Line: ...
    @overload
    def __getitem__(self, index: slice) -> list[Line]: ...
    def __getitem__(self, index: int | slice) -> Line | list[Line]:
        if isinstance(index, slice):
            return [self[at] for at in range(len(self.texts))[index]]
        if index < 0:
            index += len(self.texts)
        line = self.made.get(index)
        if line is None:
            text = self.texts[index]  # IndexError past the end: how iteration stops
            line = self.made[index] = Line(self.first + index, self.stream, self.time, text)
        return line

    def with_meta(self) -> list[int]:
        """The indexes of the lines that got meta, in order."""
        if not self.made:
            return []
        return sorted(index for index, line in self.made.items() if line.meta is not None)


# Where the runs of a batch begin (an index in it), and whether each is plain (no meta).
Runs = list[tuple[int, bool]]


def _runs(count: int, marked: list[int]) -> Runs:
    """Where the runs of plain lines and of lines with meta (`marked`, their indexes in order)
    begin among a batch's `count` lines: a batch of request lines with one 500 in it still
    goes out mostly as Batches."""
    if not marked:
        return [(0, True)]
    runs: Runs = [] if marked[0] == 0 else [(0, True)]
    for index, at in enumerate(marked):
        if index == 0 or marked[index - 1] != at - 1:
            runs.append((at, False))  # a run of lines with meta begins
        if at + 1 < count and (index + 1 == len(marked) or marked[index + 1] != at + 1):
            runs.append((at + 1, True))
    return runs


class ReplayCache:
    """A ring of lines bounded by count and by bytes.

    The ring is a list with a moving head rather than a deque: readers index it by seq, and a
    list gives O(1) indexing and cheap slicing where a deque would walk its blocks. It holds a
    line as its text alone unless the line has meta: a flood costs no Line a line; the batch
    tables give a text its seq, stream and time when a reader asks for a Line.
    """

    def __init__(
        self,
        max_lines: int = 10_000,
        max_bytes: int = 16 * 1024 * 1024,
        store: LogStore | None = None,
    ) -> None:
        if max_lines < 1 or max_bytes < 1:
            raise ValueError("the cache needs room for at least one line")
        self.store = store
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self._lines: list[Line | str | None] = []
        self._head = 0  # index in _lines of the oldest live line; those before it are None
        self._bytes = 0
        # _pre[i]: characters of text in _lines[:i] (len(_lines) + 1 entries): the size of any
        # run of lines in O(1), so a byte bound is found by bisection, not by walking lines
        self._pre = array("i", [0])
        self._next_seq = 1
        # The first seq of each run of a batch appended (while any of its lines may be cached),
        # whether it is plain (`_runs`), and the stream and time of its lines.
        self._batch_seqs = array("q")
        self._batch_plain = bytearray()
        self._batch_streams: list[str] = []
        self._batch_times = array("d")
        # Names this log for its whole life: a reader resuming with a seq from another log (an
        # earlier Jupyter server's) is told to start over instead of being handed a false tail.
        self.id = secrets.token_hex(6)
        self.clears = 0  # bumped by clear(), so readers can tell a clear from a gap
        self._cleared_through = 0  # lines up to this seq were cleared on purpose: not a gap
        self._changed = Broadcast()
        # Readers that take new lines as they are appended, a turn sooner than a wake-up.
        self.takers: set[Callable[[Appended], None]] = set()  # called with what was appended
        self.shared_reads = SharedReads()
        self.on_disk_failed: Callable[[], None] | None = None  # after the log said so
        if store is not None:
            store.on_fail = self._say_disk_failed
            if store.failed is not None:
                self._say_disk_failed(store.failed)
            else:
                self._go_on_from(store)

    def _say_disk_failed(self, message: str) -> None:
        self.append("fujita", [f"The log is kept in memory only from here: {message}"], time.time())
        if self.on_disk_failed is not None:
            self.on_disk_failed()

    @property
    def disk_failed(self) -> str | None:
        """Why the log is no longer written to disk (None while it is, or with no disk log)."""
        return self.store.failed if self.store is not None else None

    def _go_on_from(self, store: LogStore) -> None:
        """The log of an earlier server: its id and seqs go on, its newest lines come back,
        with a line of the supervisor's saying where the earlier runs end."""
        self.id = store.log_id
        self._next_seq = store.next_seq
        self._cleared_through = store.first_seq - 1  # what predates the disk is no gap
        if store.next_seq == store.first_seq:
            return
        after = max(store.first_seq, store.next_seq - self.max_lines) - 1
        earlier = store.read(after, self.max_bytes // 2, store.next_seq)
        if not earlier or earlier[-1].seq + 1 != store.next_seq:
            return  # lines lost with a killed server: no tail to show in order
        self._lines.extend(earlier)
        self._add_sums([line.text for line in earlier])
        # lines of many batches, as the disk gave them: kept as Lines, a run not plain
        self._add_run(earlier[0].seq, False, earlier[0].stream, earlier[0].time)
        self._trim()
        self.append("fujita", [EARLIER_RUNS], earlier[-1].time)

    # -- writing ----------------------------------------------------------------------------

    def append(
        self,
        stream: str,
        texts: list[str],
        time: float,
        annotate: Callable[[NewLines], object] | None = None,
    ) -> NewLines:
        """Append lines that arrived together, and return them. `annotate` reads them first and
        may set their `meta` (a line it asks for is made a Line then). Then the readers that can
        send at once take them (`takers`), in this very turn, and the others are woken, once for
        the whole batch."""
        first = self._next_seq
        count = len(texts)
        base = len(self._lines)
        self._lines.extend(texts)
        chars = self._add_sums(texts)
        self._next_seq = first + count
        new = NewLines(first, stream, time, texts)
        if annotate is not None:
            annotate(new)
        marked = new.with_meta()
        for index in marked:
            self._lines[base + index] = new.made[index]
        for start, plain in _runs(count, marked):
            self._add_run(first + start, plain, stream, time)
        if self.takers or self.store is not None:
            # the usual batch, one plain run, is its texts as they came
            pieces: list[Piece] = (
                self._pieces(base, base + count) if marked else [Batch(first, stream, time, texts)]
            )
            appended = Appended(first, count, chars, pieces)
            for take in list(self.takers):  # first: a waiting client's line goes out before all
                take(appended)
            if self.store is not None and count:
                self.store.append(pieces, count, chars)
        self._trim()
        self._wake()
        return new

    def _add_run(self, seq: int, plain: bool, stream: str, time: float) -> None:
        self._batch_seqs.append(seq)
        self._batch_plain.append(plain)
        self._batch_streams.append(stream)
        self._batch_times.append(time)

    async def room(self) -> None:
        """Once the disk has room for more lines: output is read only then (LogStore.room)."""
        if self.store is not None:
            await self.store.room()

    def clear(self) -> None:
        if self.store is not None:
            self.store.clear()
        self._lines = []
        self._pre = array("i", [0])
        self._batch_seqs = array("q")
        self._batch_plain = bytearray()
        self._batch_streams = []
        self._batch_times = array("d")
        self._head = 0
        self._bytes = 0
        self._cleared_through = self.last_seq
        self.clears += 1
        self.shared_reads.clear()
        self._wake()

    def _add_sums(self, texts: list[str]) -> int:
        """Extend _pre by the texts' running sums; return the texts' length. The sums are 4-byte
        numbers (a cached line costs 4 bytes less than with 8-byte ones), kept small by taking
        the first off once they pass PRE_REBASE, and widened to 8 bytes should one not fit (a
        cache of gigabytes)."""
        pre = self._pre
        if pre[-1] > PRE_REBASE and pre[0] > PRE_REBASE // 2:
            base = pre[0]
            pre = self._pre = array(pre.typecode, [total - base for total in pre])
        size = len(pre)
        sums = list(accumulate(map(len, texts), initial=pre[-1]))  # fromlist: no per-item call
        try:
            pre.fromlist(sums)
        except OverflowError:  # fromlist added none of them
            pre = self._pre = array("q", pre)
            pre.fromlist(sums)
        del pre[size]  # the initial sum, there already
        return pre[-1] - pre[size - 1]

    def _weight(self, start: int, stop: int, per_line: int) -> int:
        """Characters of _lines[start:stop], plus per_line for each line."""
        return self._pre[stop] - self._pre[start] + per_line * (stop - start)

    def _trim(self) -> None:
        lines = self._lines
        end = len(lines)
        old_head = self._head
        # The oldest line that may stay: within max_lines, then within max_bytes (bisection:
        # fewer lines never weigh more), keeping at least one.
        low, high = max(old_head, end - self.max_lines), max(old_head, end - 1)
        if self._weight(low, end, LINE_OVERHEAD) <= self.max_bytes:
            high = low  # within the bytes already, as mostly: no bisection
        while low < high:
            middle = (low + high) // 2
            if self._weight(middle, end, LINE_OVERHEAD) > self.max_bytes:
                low = middle + 1
            else:
                high = middle
        head = low
        if head > old_head:
            # Let the lines that left go now, not at the next compaction: until then the list
            # would keep as many dead lines alive as live ones, twice the budget.
            lines[old_head:head] = repeat(None, head - old_head)
        if head > 4096 and head * 2 > len(lines):
            del lines[:head]
            del self._pre[:head]
            head = 0
            # the batches wholly gone: all before the one holding the first cached line
            first = self._next_seq - len(lines)
            gone = max(bisect_right(self._batch_seqs, first) - 1, 0)
            del self._batch_seqs[:gone]
            del self._batch_plain[:gone]
            del self._batch_streams[:gone]
            del self._batch_times[:gone]
        self._head = head
        self._bytes = self._weight(head, len(lines), LINE_OVERHEAD)

    def _wake(self) -> None:
        self._changed.notify()

    # -- reading ----------------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        """Seq of the oldest cached line (next_seq when empty)."""
        return self._next_seq - (len(self._lines) - self._head)

    @property
    def oldest_seq(self) -> int:
        """Seq of the oldest line a reader can still get: on disk, else in memory."""
        if self.store is not None and self.store.failed is None:
            return max(min(self.store.first_seq, self.first_seq), self._cleared_through + 1)
        return self.first_seq

    @property
    def cleared_through(self) -> int:
        return self._cleared_through

    @property
    def last_seq(self) -> int:
        """Seq of the newest line ever appended (0 before the first)."""
        return self._next_seq - 1

    @property
    def size(self) -> int:
        return len(self._lines) - self._head

    @property
    def nbytes(self) -> int:
        return self._bytes

    def read(self, after: int, max_lines: int | None = None, max_bytes: int | None = None) -> Slice:
        """Lines with seq > after, oldest first, at most max_lines of them and no more than
        max_bytes of JSON (`weight` says how much, as the cache reckons it), each made a Line
        (the feed reads them as `read_pieces` gives them, without).

        At least one line is returned when any is there, however long, so a reader always moves.
        """
        start, stop, position, gap_from, gap_to = self._span(after, max_lines, max_bytes)
        if start == stop:
            return Slice([], position, gap_from, gap_to, 0)
        lines = self._made(start, stop)
        weight = self._weight(start, stop, LINE_JSON)
        return Slice(lines, position, gap_from, gap_to, weight)

    def read_pieces(self, after: int, max_bytes: int) -> Cut:
        """What `read` reads, as the wire sends it (`Cut`)."""
        start, stop, position, gap_from, gap_to = self._span(after, None, max_bytes)
        return Cut(self._pieces(start, stop), position, gap_from, gap_to)

    def _seq_at(self, index: int) -> int:
        return self._next_seq - (len(self._lines) - index)

    def _span(
        self, after: int, max_lines: int | None, max_bytes: int | None
    ) -> tuple[int, int, int, int | None, int | None]:
        """Where in _lines the lines `read` reads lie (start, stop), the position after them,
        and the gap before them."""
        after = max(after, self._cleared_through)
        first = self.first_seq
        gap_from = gap_to = None
        if after + 1 < first and after < self.last_seq:
            gap_from, gap_to = after + 1, min(first - 1, self.last_seq)
            after = first - 1
        start = self._head + (after + 1 - first)
        stop = len(self._lines)
        if max_lines is not None:
            stop = min(stop, start + max_lines)
        if max_bytes is not None and start < stop:
            # the most lines from start within max_bytes of JSON, at least one
            low, high = start + 1, stop
            while low < high:
                middle = (low + high + 1) // 2
                if self._weight(start, middle, LINE_JSON) <= max_bytes:
                    low = middle
                else:
                    high = middle - 1
            stop = low
        # from _head on there is no None
        start = max(start, self._head)
        stop = max(start, stop)
        return start, stop, after if start == stop else self._seq_at(stop) - 1, gap_from, gap_to

    def _run_spans(self, start: int, stop: int) -> list[tuple[int, int, int]]:
        """The runs (`_runs`) that _lines[start:stop] (cached) lie in: for each, the part of
        start..stop in it and the run's index in the batch tables."""
        seqs = self._batch_seqs
        offset = self._seq_at(0)  # _lines[i] has seq offset + i
        at = max(bisect_right(seqs, offset + start) - 1, 0)
        spans = []
        while start < stop:
            end = min(stop, seqs[at + 1] - offset) if at + 1 < len(seqs) else stop
            spans.append((start, end, at))
            start, at = end, at + 1
        return spans

    def _made(self, start: int, stop: int) -> list[Line]:
        """_lines[start:stop] as Lines: a text alone made a Line of its run's stream and time."""
        lines: list[Line] = []
        offset = self._seq_at(0)
        for begin, end, at in self._run_spans(start, stop):
            stream, time = self._batch_streams[at], self._batch_times[at]
            run: list[Any] = self._lines[begin:end]  # cached: each a Line or a text, no None
            seqs = range(offset + begin, offset + end)
            if self._batch_plain[at]:
                lines += map(Line, seqs, repeat(stream), repeat(time), run)
            else:
                lines += [
                    item if isinstance(item, Line) else Line(seq, stream, time, item)
                    for seq, item in zip(seqs, run, strict=True)
                ]
        return lines

    def _pieces(self, start: int, stop: int) -> list[Piece]:
        """_lines[start:stop] as the wire sends them: a plain run as one Batch of its texts
        (nothing made a line), the lines of another as Lines."""
        cut: list[Piece] = []
        offset = self._seq_at(0)
        for begin, end, at in self._run_spans(start, stop):
            if self._batch_plain[at]:
                texts: list[Any] = self._lines[begin:end]  # a plain run holds texts alone
                stream, time = self._batch_streams[at], self._batch_times[at]
                cut.append(Batch(offset + begin, stream, time, texts))
            else:
                cut.append(self._made(begin, end))
        return cut

    def tail(self, count: int) -> list[Line]:
        """The newest `count` cached lines."""
        start = max(self._head, len(self._lines) - count) if count > 0 else len(self._lines)
        return self._made(start, len(self._lines))

    async def wait_beyond(self, seq: int, clears: int) -> None:
        """Return once a line newer than seq exists or the cache was cleared since `clears`."""
        while self.last_seq <= seq and self.clears == clears:
            await self._changed.wait()


@dataclass(slots=True)
class LineFilter:
    """Which lines a reader wants: request lines of a status (`"5xx"`, `"404"`), and/or lines
    containing a text (case-insensitive)."""

    status: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if self.status is not None:
            status = self.status.lower()
            if not (
                len(status) == 3
                and status[0] in "12345"
                and (status[1:] == "xx" or status[1:].isdigit())
            ):
                raise ValueError(f"status must be like 5xx or 404, not {self.status!r}")
            self.status = status
        if self.text is not None:
            self.text = self.text.casefold()

    def __bool__(self) -> bool:
        return self.status is not None or bool(self.text)

    def keeps(self, line: Line) -> bool:
        if self.text and self.text not in line.text.casefold():
            return False
        if self.status is not None:
            request = request_of(line)
            if request is None:
                return False
            code = str(request.status)
            return code == self.status or (self.status[1:] == "xx" and code[0] == self.status[0])
        return True

    def apply(self, lines: list[Line]) -> list[Line]:
        return [line for line in lines if self.keeps(line)] if self else lines

    def needle(self) -> bytes | None:
        """Bytes that the JSON record of every kept line holds once lowercased, if there are
        such: the disk then decodes only the records that hold them (`LogStore.search`)."""
        text = self.text
        if text and text.isascii() and text.isprintable() and not {'"', "\\"} & set(text):
            return text.encode()  # ASCII's case folding is lower(); JSON leaves it as it is
        return None  # a status: a request line's record may hold it as text or as a Request


def _behind_cache(
    cache: ReplayCache, after: int
) -> tuple[LogStore, int, int | None, int | None] | None:
    """For a reader after seq `after` (past any clear) whose next lines have left the cache and
    are to be read from disk: the store, flushed (lines that left the cache this turn are on
    disk now), the position to read after, and the gap of what left the disk budget before it.
    None when the next lines are in the cache, or there is no disk to read."""
    store = cache.store
    if store is None or store.failed is not None or after + 1 >= cache.first_seq:
        return None
    store.flush()
    if after + 1 < store.first_seq:
        return store, store.first_seq - 1, after + 1, store.first_seq - 1
    return store, after, None, None


async def search_log(cache: ReplayCache, after: int, only: LineFilter, max_lines: int) -> Slice:
    """The lines after seq `after` that `only` keeps, looking at up to max_lines lines, from
    disk too, off the event loop; `position` is the last seq looked at."""
    after = max(after, cache.cleared_through)
    gap_from = gap_to = None
    disk = _behind_cache(cache, after)
    if disk is not None:
        store, after, gap_from, gap_to = disk
        stop = min(cache.first_seq, after + 1 + max_lines)
        found, looked = await asyncio.to_thread(
            store.search, after, stop, only.needle(), only.keeps
        )
        room = max_lines - (looked - after)
        if looked > after and (looked + 1 < cache.first_seq or room <= 0):
            return Slice(found, looked, gap_from, gap_to)
        if looked > after:  # reached the cache: go on there
            rest = await search_log(cache, looked, only, room)
            return Slice(found + rest.lines, rest.position, gap_from, gap_to)
    piece = cache.read(after, max_lines)
    lines = await asyncio.to_thread(only.apply, piece.lines)
    if gap_from is not None:  # the disk's gap, and the cache's after it if any
        piece.gap_from, piece.gap_to = gap_from, piece.gap_to or gap_to
    return Slice(lines, piece.position, piece.gap_from, piece.gap_to)


async def read_log(
    cache: ReplayCache, after: int, max_lines: int | None = None, max_bytes: int | None = None
) -> Slice:
    """Like `cache.read`, going to disk (in a thread) for lines that have left the cache: a gap
    is then only what left the disk budget, or was cleared."""
    after = max(after, cache.cleared_through)
    disk = _behind_cache(cache, after)
    if disk is None:
        return cache.read(after, max_lines, max_bytes)
    store, after, gap_from, gap_to = disk
    budget = max_bytes if max_bytes is not None else 1 << 62
    # Decoded no further than asked: a search pages through the disk max_lines at a time.
    stop = cache.first_seq if max_lines is None else min(cache.first_seq, after + 1 + max_lines)
    lines = await asyncio.to_thread(store.read, after, budget, stop)
    if not lines:  # nothing more on disk before the cache: go on from the cache
        piece = cache.read(max(after, cache.first_seq - 1), max_lines, max_bytes)
        if piece.gap_from is None and after + 1 < cache.first_seq:
            piece.gap_from, piece.gap_to = after + 1, cache.first_seq - 1
        if gap_from is not None:
            piece.gap_from = gap_from
        return piece
    if lines[-1].seq + 1 == cache.first_seq:  # reached the cache: go on there if room is left
        room = None if max_lines is None else max_lines - len(lines)
        if room is None or room > 0:
            spent = sum(len(line.text) + LINE_JSON for line in lines)
            rest = None if max_bytes is None else max_bytes - spent
            if rest is None or rest > 0:
                lines += cache.read(lines[-1].seq, room, rest).lines
    return Slice(lines, lines[-1].seq, gap_from, gap_to)


@dataclass(slots=True)
class EncodedSlice:
    """What a reader behind the cache gets from disk: messages' lines as they lie there."""

    bodies: list[bytes]  # each the inside of one message's `lines` array, about max_bytes
    position: int
    gap_from: int | None = None
    gap_to: int | None = None


async def read_encoded(
    cache: ReplayCache, after: int, max_bytes: int, message_bytes: int
) -> EncodedSlice | None:
    """Lines that have left the cache, as the disk holds them (the API's own records: nothing
    is decoded or encoded again), cut into messages. None when the reader is not behind the
    cache or the disk cannot say: `read_log` then answers."""
    disk = _behind_cache(cache, max(after, cache.cleared_through))
    if disk is None:
        return None
    store, after, gap_from, gap_to = disk

    def read() -> _Read | None:
        found = store.read_encoded(after, max_bytes)
        return None if found is None else (found.messages(message_bytes), found.last_seq)

    shared = await cache.shared_reads.get((after, max_bytes, message_bytes), read)
    return None if shared is None else EncodedSlice(*shared, gap_from, gap_to)


_Read = tuple[list[bytes], int]  # messages' bodies as the disk holds them, the position after


class SharedReads:
    """The latest disk reads of readers behind the cache, by position, for the readers that come
    to the same position next (or meanwhile: they wait for the same read). A read once made is
    good for every reader: what the disk holds under a seq never changes, and a cleared log's
    positions are never asked again. Readers that share a read stay in step: they go on from
    the same position."""

    def __init__(self, size: int = SHARED_READS) -> None:
        self.size = size
        self._recent: OrderedDict[tuple[int, int, int], asyncio.Future[_Read | None]] = (
            OrderedDict()
        )

    async def get(
        self, key: tuple[int, int, int], read: Callable[[], _Read | None]
    ) -> _Read | None:
        """What `read` (run in a thread) answers for `key`, read once."""
        future = self._recent.get(key)
        if future is None:
            future = self._recent[key] = asyncio.ensure_future(asyncio.to_thread(read))
            future.add_done_callback(lambda done: self._forget_nothing(key, done))
            if len(self._recent) > self.size:
                self._recent.popitem(last=False)
        # shielded: a reader that goes away does not cancel the read the others wait for
        return await asyncio.shield(future)

    def _forget_nothing(self, key: tuple[int, int, int], done: asyncio.Future[Any]) -> None:
        """A read that found nothing, or failed, is not kept: the next reader asks again."""
        if done.cancelled() or done.exception() is not None or done.result() is None:
            if self._recent.get(key) is done:
                del self._recent[key]

    def clear(self) -> None:
        self._recent.clear()


def _messages(lines: list[Line], max_bytes: int, weight: int | None = None) -> list[list[Line]]:
    """Lines cut into messages of about max_bytes of JSON each (at least one line each); their
    `weight`, when known, spares adding it up line by line (each reader, each message)."""
    if weight is None:
        weight = sum(len(line.text) for line in lines) + LINE_JSON * len(lines)
    if weight <= max_bytes:
        return [lines] if lines else []
    messages: list[list[Line]] = []
    current: list[Line] = []
    spent = 0
    for line in lines:
        if current and spent + len(line.text) + LINE_JSON > max_bytes:
            messages.append(current)
            current, spent = [], 0
        current.append(line)
        spent += len(line.text) + LINE_JSON
    messages.append(current)
    return messages


def _gap_messages(gap_from: int | None, gap_to: int | None) -> list[dict[str, Any]]:
    """The message that says lines were lost before a reader's next ones ([] when none were)."""
    return [] if gap_from is None else [{"type": "gap", "from_seq": gap_from, "to_seq": gap_to}]


def message_lines(message: dict[str, Any]) -> list[Line]:
    """The lines of a LogFeed's "lines" message, each a Line, however it carries them."""
    return message["lines"] if "lines" in message else piece_lines(message["pieces"])


class LogFeed:
    """One log reader: its position in the log, and its messages from the cached lines after
    `since` on, forever (`messages`).

    Messages: {"type": "lines", "log_id", "pieces": [Piece, ...]} (the lines as the wire sends
    them: a plain batch's as one Batch), or {"type": "lines", "log_id", "lines": [Line, ...]}
    (each line a record of its own: a filtered reader's, and lines read from disk), {"type":
    "gap", "from_seq", "to_seq"}, {"type": "cleared"}. With `encoded`, an
    unfiltered reader behind the cache gets {"type": "lines", "log_id", "encoded_lines": bytes}
    instead, the inside of the `lines` array as the disk holds it. The reader is paced by its
    consumer: the next message is read only when the previous one was taken, so a slow
    consumer holds nothing but a position.

    A consumer that can send at once may take the lines just appended from a reader that waits
    for them (`take_new`), in the turn they came, rather than one event-loop turn later when
    `messages` wakes; both go on from the same position.
    """

    def __init__(
        self,
        cache: ReplayCache,
        since: int = 0,
        max_bytes: int = 64 * 1024,
        log_id: str | None = None,
        only: LineFilter | None = None,
        encoded: bool = False,
    ) -> None:
        self.cache = cache
        self.position = since
        self.max_bytes = max_bytes
        self.log_id = log_id
        self.only = only
        self.encoded = encoded
        self._clears = cache.clears
        self._waiting = False  # `messages` waits on the cache: nothing of its own is under way

    def take_new(self, new: Appended) -> list[dict[str, Any]]:
        """A message of the lines just appended (`new`), taken now while `messages` waits for
        them (at most a message's worth: `messages` sends the rest, paced); [] when it does not
        wait for these very lines, or when what comes next is its own to say (a clear). When
        they fit in a message, it is made of the append's own pieces: nothing is read again."""
        waits_for_them = self._waiting and new.first == self.position + 1
        if not waits_for_them or not new.count or self.cache.clears != self._clears:
            return []
        if self.only or new.chars + LINE_JSON * new.count > self.max_bytes:
            return self._read_cached()  # filtered, or over a message: cut as `messages` cuts
        self.position = new.first + new.count - 1
        return [{"type": "lines", "log_id": self.cache.id, "pieces": new.pieces}]

    def _read_cached(self) -> list[dict[str, Any]]:
        """The next message's worth from the cache, where the reader stands. Unfiltered, the
        slices are the same for every client at that position, weighed from the cache's sums,
        and encoded once for all (SharedEncodings)."""
        if self.only:
            return self._lines_messages(self.cache.read(self.position, max_bytes=self.max_bytes))
        cut = self.cache.read_pieces(self.position, self.max_bytes)
        self.position = cut.position
        messages = _gap_messages(cut.gap_from, cut.gap_to)
        if cut.pieces:
            messages.append({"type": "lines", "log_id": self.cache.id, "pieces": cut.pieces})
        return messages

    def _lines_messages(self, piece: Slice) -> list[dict[str, Any]]:
        """A slice's gap and lines, each line a record of its own (filtered, or from disk)."""
        self.position = piece.position
        messages = _gap_messages(piece.gap_from, piece.gap_to)
        lines, weight = (
            (self.only.apply(piece.lines), None) if self.only else (piece.lines, piece.weight)
        )
        messages += [
            {"type": "lines", "log_id": self.cache.id, "lines": message}
            for message in _messages(lines, self.max_bytes, weight)
        ]
        return messages

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        cache, max_bytes = self.cache, self.max_bytes
        if self.position > cache.last_seq or (self.log_id is not None and self.log_id != cache.id):
            # a seq from another log (an earlier server's): what the reader holds is not this log
            yield {"type": "cleared"}
            self.position = 0
        while True:
            if cache.clears != self._clears:
                self._clears = cache.clears
                self.position = cache.last_seq
                yield {"type": "cleared"}
            on_disk = self.position + 1 < cache.first_seq
            if on_disk and self.encoded and not self.only:
                found = await read_encoded(
                    cache, self.position, max_bytes * DISK_MESSAGES, message_bytes=max_bytes
                )
                if found is not None:
                    self.position = found.position
                    for message in _gap_messages(found.gap_from, found.gap_to):
                        yield message
                    for body in found.bodies:
                        yield {"type": "lines", "log_id": cache.id, "encoded_lines": body}
                    continue
            before = self.position
            if on_disk:
                piece = await read_log(cache, self.position, max_bytes=max_bytes * DISK_MESSAGES)
                messages = self._lines_messages(piece)
            else:
                messages = self._read_cached()
            for message in messages:
                yield message
            if self.position == before:
                if self.position < cache.last_seq:
                    # Lines exist but none could be read (a segment rotated away under the
                    # read): try again shortly, never in a loop that does not yield.
                    await asyncio.sleep(0.01)
                else:
                    self._waiting = True
                    try:
                        await cache.wait_beyond(self.position, self._clears)
                    finally:
                        self._waiting = False
