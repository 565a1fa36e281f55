"""Every line of a process's log on disk, within a byte budget, surviving the Jupyter server.

One folder per process: `log.json` (the log's id and the seq to go on from) and append-only
segment files `<first seq>.jsonl` of JSON records, one a line, the records the API sends: a
plain batch as one `Batch`, the lines of another each as a `Line` with meta's keys beside its
fields (`wire.records`). A seq inside a Batch is found from the Batch's first. The replay
cache keeps the hot tail in memory; a reader behind it reads here, and is sent the records as
they lie (`read_encoded`).
Costs:

- writing: the lines of one event-loop turn are handed at the end of that turn (after
  runserver_output has annotated them) to a writer thread, which encodes them in one msgspec
  call and writes them: the event loop never waits on the disk;
- finding a seq: a bisection over the segments, then over a sparse index (where a write
  began, for writes at least INDEX_STRIDE lines apart: 16 bytes per entry), then the lines
  skipped from there. The writer notes an entry as it writes, no work a line; a segment of an
  earlier server's life is indexed by one scan (every INDEX_STRIDE-th line) when first read;
- rotation: when the folder passes `max_bytes`, whole segments go, oldest first.

Disk trouble (a full disk, a folder that cannot be written) is not fatal: `failed` says what
happened and the store stops writing; the log goes on in memory. Reads are synchronous, meant
for a thread (`asyncio.to_thread`): a read first waits for the writer to write what it was
handed, files are only appended to, and a reader reads no further than the size the segment
had when it asked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import secrets
import threading
from array import array
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO, NamedTuple

import msgspec

from .wire import Batch, Line, Piece, StoredLine, records

log = logging.getLogger(__name__)

INDEX_STRIDE = 64
SEGMENT_BYTES = 8 * 1024 * 1024
# About what a line's record adds to its text (`{"seq":…,"stream":…,"time":…,"text":""}`), and
# a line of a Batch (`"…",`): the writer's backlog and a segment being written are sized by them
# before they are encoded.
RECORD_BYTES = 64
BATCH_LINE_BYTES = 3
# About the bytes of lines the writer may have yet to write: past this the pipes are not read
# (`room`), so a disk slower than the output holds back the process, whose writes then wait on
# a full pipe, rather than filling memory.
WRITE_BACKLOG = 2 * 1024 * 1024
# Where the latest reads ended, kept so that each reader's next read starts there (readers go on
# from where they stopped: a fan-out of fifty in step needs a few).
RESUME_POINTS = 64
_decoder = msgspec.json.Decoder(StoredLine)


class _Span(msgspec.Struct):
    """A record's seqs, read without decoding its texts."""

    seq: int
    texts: list[msgspec.Raw] | None = None


_span_decoder = msgspec.json.Decoder(_Span)
_encoder = msgspec.json.Encoder()  # msgspec holds the GIL while it encodes: threads may share it
BATCH_KEY = b',"texts":['  # in a record: it is a Batch


@dataclass(slots=True)
class Segment:
    first_seq: int
    path: Path
    size: int = 0  # bytes written: what readers may read
    count: int = 0  # lines written; -1 while unknown (a segment of an earlier server's life)
    planned: int = 0  # about the bytes of the lines handed to the writer: the budget's guide
    # The index: the record of seq seqs[i] begins at offsets[i], ascending.
    seqs: array[int] = field(default_factory=lambda: array("q"))
    offsets: array[int] = field(default_factory=lambda: array("q"))

    @property
    def last_seq(self) -> int:
        return self.first_seq + self.count - 1


class Place(NamedTuple):
    """Where to look for a seq's record: its segment, and the offset of a record at or before
    it (an index entry's); the records from there are read by their seqs."""

    segment: Segment
    offset: int


class LogStore:
    def __init__(
        self,
        folder: Path,
        max_bytes: int = 256 * 1024 * 1024,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.failed: str | None = None
        self.on_fail: Callable[[str], None] | None = None  # told once, when the disk fails
        self.log_id = secrets.token_hex(6)
        self.next_seq = 1
        self._segments: list[Segment] = []
        self._queue: list[Piece] = []  # batches: a plain one as its Batch
        self._queued_lines = 0
        self._queued_bytes = 0  # about what the queued batches' records weigh
        self._flush_scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None  # told of a failed write
        self._writer = _Writer(self._written_wrong)
        self._handed_bytes = 0  # to the writer, which counts what it wrote
        # Readers run in threads, several at once: one at a time indexes an earlier segment.
        self._index_lock = threading.Lock()
        # seq -> where its record begins (`_note_resume`)
        self._resume: OrderedDict[int, tuple[Segment, int]] = OrderedDict()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._recover()
        except (OSError, ValueError) as error:
            self._fail(f"cannot use {folder}: {error}")

    # -- state --------------------------------------------------------------------------------

    @property
    def first_seq(self) -> int:
        """The oldest seq on disk (next_seq when there is none)."""
        return self._segments[0].first_seq if self._segments else self.next_seq

    @property
    def nbytes(self) -> int:
        return sum(max(segment.size, segment.planned) for segment in self._segments)

    @property
    def backlog(self) -> int:
        """About the bytes of the lines handed to the writer and not yet written."""
        return self._handed_bytes - self._writer.done_bytes

    def wait_written(self) -> None:
        """Until what was handed to the writer so far is written (readers, in their threads)."""
        self._writer.wait()

    async def room(self) -> None:
        """Once the writer's backlog is under WRITE_BACKLOG (at once, mostly)."""
        while self.failed is None and self.backlog > WRITE_BACKLOG:
            await asyncio.sleep(0.002)

    def _recover(self) -> None:
        """Pick up the log of an earlier server: its id, its segments, where its seqs ended."""
        meta = self.folder / "log.json"
        if meta.exists():
            saved = json.loads(meta.read_text())
            self.log_id, self.next_seq = str(saved["log_id"]), int(saved["next_seq"])
        for path in sorted(self.folder.glob("*.jsonl"), key=lambda p: int(p.stem)):
            size = path.stat().st_size
            self._segments.append(Segment(int(path.stem), path, size, -1, size))
        if self._segments:
            last = self._segments[-1]
            self._index(last)
            if last.path.stat().st_size > last.size:
                # A record the server was killed writing: cut, so that this life's records
                # follow the last whole one instead of being glued to it.
                os.truncate(last.path, last.size)
            last.planned = last.size
            self.next_seq = max(self.next_seq, last.last_seq + 1)
        self._save_meta()

    def _save_meta(self) -> None:
        meta = {"log_id": self.log_id, "next_seq": self.next_seq}
        tmp = self.folder / "log.json.tmp"
        tmp.write_text(json.dumps(meta))
        tmp.replace(self.folder / "log.json")

    def _written_wrong(self, message: str) -> None:
        """The writer's thread could not write: said on the event loop, where the log is."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._fail, message)
        else:
            self._fail(message)

    def _fail(self, message: str) -> None:
        if self.failed is None:
            self.failed = message
            log.warning("jupyter_fujita: the log is kept in memory only: %s", message)
            if self.on_fail is not None:
                self.on_fail(message)

    # -- writing ------------------------------------------------------------------------------

    def append(self, pieces: list[Piece], count: int, chars: int) -> None:
        """Queue lines that arrived together for disk, written at the end of this event-loop
        turn: `pieces` are their runs, a plain run as one Batch and the lines of another as
        they are (their meta is read by then); `count` lines in all, their texts `chars` long
        (the cache has both)."""
        if self.failed is not None or not count:
            return
        weight = chars
        for piece in pieces:
            if isinstance(piece, Batch):
                weight += RECORD_BYTES + BATCH_LINE_BYTES * len(piece.texts)
            else:
                weight += RECORD_BYTES * len(piece)
        self._queue.extend(pieces)
        self._queued_bytes += weight
        self._queued_lines += count
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop yet (the server is still starting): write now
            self.flush()
            return
        self._flush_scheduled = True
        self._loop = loop
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        batches, self._queue = self._queue, []
        count, self._queued_lines = self._queued_lines, 0
        weight, self._queued_bytes = self._queued_bytes, 0
        if not batches or self.failed is not None:
            return
        first = _first_seq(batches[0])
        segment = self._segments[-1] if self._segments else None
        if segment is None or segment.planned >= self.segment_bytes or segment.count < 0:
            segment = Segment(first, self.folder / f"{first}.jsonl")
            self._segments.append(segment)
        segment.planned += weight
        self._handed_bytes += weight
        self._writer.write(_Job(segment, batches, first, count, weight))
        # log.json is written when the store opens and closes only (a rename costs
        # milliseconds): after a crash, the last segment says where seqs stand.
        self.next_seq = first + count
        while len(self._segments) > 1 and self.nbytes > self.max_bytes:
            # Readers that have it open read on; new ones no longer see it.
            self._writer.remove(self._segments.pop(0).path)

    def save_file(self, name: str, data: bytes) -> None:
        """Replace the file `name` in the log's folder by `data`, whole (written beside it, then
        renamed), in the writer's thread, in order with the lines: the run history beside the
        log. A failure is logged; the log goes on."""
        self._writer.replace(self.folder / name, data)

    def clear(self) -> None:
        """Remove every line on disk; seqs go on from where they were. Waits for the writer:
        the files are gone when this returns."""
        self._queue = []
        self._queued_chars = 0
        for segment in self._segments:
            self._writer.remove(segment.path)
        self._segments = []
        self.wait_written()

    def close(self) -> None:
        self.flush()
        self._writer.close()
        if self.failed is None:
            try:
                self._save_meta()
            except OSError as error:
                self._fail(f"writing {self.folder}: {error.strerror or error}")

    # -- reading (in a thread) ----------------------------------------------------------------

    def read(self, after: int, max_bytes: int, stop: int) -> list[Line]:
        """Lines with after < seq < stop, oldest first, about max_bytes of them (at least one
        when any is there). Lines older than first_seq are gone: the caller reports the gap."""
        self.wait_written()
        out: list[Line] = []
        budget = max_bytes
        seq = max(after + 1, self.first_seq)
        while seq < stop and budget > 0:
            place = self._locate(seq)
            if place is None:
                break
            lines = self._read_segment(place, seq, budget, stop)
            if not lines:
                break
            out += lines
            budget -= sum(len(line.text) + 60 for line in lines)
            seq = lines[-1].seq + 1
        return out

    def _read_segment(self, place: Place, seq: int, budget: int, stop: int) -> list[Line]:
        segment, offset = place
        lines: list[Line] = []
        spent = 0
        for record in _records(segment.path, offset, segment.size):
            if _last_seq(record) < seq:
                continue  # before the reader's seq: not decoded
            for line in _decoder.decode(record).lines():
                if line.seq < seq:
                    continue  # never hand back what the reader has: it would go round for ever
                if line.seq >= stop:
                    return lines
                lines.append(line)
                spent += len(line.text) + 60
            if spent >= budget:
                break
        return lines

    def read_encoded(self, after: int, max_bytes: int) -> EncodedLines | None:
        """The records after seq `after` as they lie on disk, from one segment, about max_bytes
        of them (at least one; a Batch that began before is cut to begin there); None when there
        are none, or the index does not hold."""
        self.wait_written()
        seq = max(after + 1, self.first_seq)
        place = self._locate(seq)
        if place is None:
            return None
        segment, offset = place
        data, after_data, following = _whole_records(segment.path, offset, segment.size, max_bytes)
        first = seq_at(data, 0) if data else -1
        if first != seq:  # an index entry's record, before the reader's: find the one holding it
            found = _record_holding(segment.path, offset, segment.size, seq)
            if found is None:
                return None  # rotated away meanwhile, or a segment not what its index says
            offset, first = found
            data, after_data, following = _whole_records(
                segment.path, offset, segment.size, max_bytes
            )
            if not data or seq_at(data, 0) != first:
                return None
        if first < seq:  # a Batch holding seq: its lines from seq on
            end = data.find(b"\n")
            end = len(data) if end < 0 else end
            whole = _decoder.decode(memoryview(data)[:end])
            assert whole.texts is not None
            cut = Batch(seq, whole.stream, whole.time, whole.texts[seq - first :])
            data = _encoder.encode(cut) + data[end:]
        # The seq after them, when the read saw the next record begin: no batch counted.
        last_seq = following - 1 if following >= 0 else _last_seq(data, data.rfind(b"\n") + 1)
        self._note_resume(last_seq + 1, segment, after_data)
        return EncodedLines(data, last_seq)

    def _note_resume(self, seq: int, segment: Segment, offset: int) -> None:
        """Where the record of `seq` begins, found by a read that ended just before it: the
        reader's next read starts there, nothing skipped."""
        resume = self._resume  # readers in several threads: each step below is one C call
        resume[seq] = (segment, offset)
        while len(resume) > RESUME_POINTS:
            try:
                resume.popitem(last=False)  # the oldest
            except KeyError:  # another reader emptied it meanwhile
                break

    def search(
        self, after: int, stop: int, needle: bytes | None, keeps: Callable[[Line], bool]
    ) -> tuple[list[Line], int]:
        """The lines with after < seq < stop that `keeps` keeps, and the last seq looked at.

        `needle`, when given, is what every kept line's record holds once lowercased: a block
        of records in ASCII is lowercased and searched for it in one call, and only the
        records that hold it are decoded (a block with other characters is decoded whole, as
        Unicode case folding is not ASCII's).
        """
        self.wait_written()
        found: list[Line] = []
        looked = after
        seq = max(after + 1, self.first_seq)
        while seq < stop:
            place = self._locate(seq)
            if place is None:
                break
            segment, offset = place  # the records before seq are filtered out by their seq
            block = b""
            for block in _blocks(segment.path, offset, segment.size):
                # All before this block was looked at: its first record says to where (the
                # last record of each block is not counted, a batch's texts unread).
                looked = max(looked, seq_at(block, 0) - 1)
                if looked >= stop - 1:
                    break
                if needle is not None and block.isascii():
                    records = _holding(block, needle)
                else:
                    records = block.split(b"\n")
                for record in records:
                    for line in _decoder.decode(record).lines():
                        if seq <= line.seq < stop and keeps(line):
                            found.append(line)
            else:  # the segment's last block, looked at to its end
                if block:
                    looked = max(looked, _last_seq(block, block.rfind(b"\n") + 1))
            if looked < seq:
                break  # rotated away under the search
            seq = looked + 1
        return found, min(looked, stop - 1)

    def _locate(self, seq: int) -> Place | None:
        """Where to look for the record of `seq`, its segment indexed as far as it is written;
        None when no segment holds it."""
        segments = list(self._segments)
        at = bisect_right([segment.first_seq for segment in segments], seq) - 1
        while 0 <= at < len(segments):
            segment = segments[at]
            if segment.count < 0:
                self._index(segment)
            if seq <= segment.last_seq:
                break
            at += 1
        else:
            return None
        resume = self._resume.get(seq)
        if resume is not None and resume[0] is segment and resume[1] < segment.size:
            return Place(segment, resume[1])
        # Entries whose writes are not out yet are for seqs past last_seq: never picked here.
        entry = bisect_right(segment.seqs, seq) - 1
        if entry < 0:
            return None
        return Place(segment, segment.offsets[entry])

    def _index(self, segment: Segment) -> None:
        """Count and index the lines of a segment of an earlier server's life, once."""
        with self._index_lock:
            if segment.count >= 0:
                return  # another reader did
            with segment.path.open("rb") as file:
                data = file.read()
            segment.size = data.rfind(b"\n") + 1  # whole records only: readers stop there
            # Where the records start, from their lengths (a split and a sum, in C); a last
            # record without its newline (the server died writing it) is not a record. The
            # segment's seqs follow on from its first: its last record says how many it holds.
            records = data.split(b"\n")[:-1]
            before = list(accumulate(map(len, records), initial=0))  # newlines aside
            strided = range(0, len(records), INDEX_STRIDE)
            segment.seqs = array("q", (seq_at(records[k], 0) for k in strided))
            segment.offsets = array("q", (before[k] + k for k in strided))
            segment.count = _last_seq(records[-1]) - segment.first_seq + 1 if records else 0


@dataclass(slots=True)
class EncodedLines:
    """Records of the log as they lie on disk: whole JSON records, one a line (a plain
    batch's: one a Batch)."""

    data: bytes
    last_seq: int

    def messages(self, max_bytes: int) -> list[bytes]:
        """The records cut into runs of about max_bytes (at least one record each), each run
        joined by commas: the inside of a message's `lines` array. A record holds no raw
        newline (JSON escapes them), so newlines are where records end."""
        data, bodies, start, end = self.data, [], 0, len(self.data)
        while start < end:
            cut = end
            if end - start > max_bytes:
                cut = data.rfind(b"\n", start, start + max_bytes)
                if cut < 0:
                    cut = data.find(b"\n", start + max_bytes)
                    cut = end if cut < 0 else cut
            bodies.append(data[start:cut].replace(b"\n", b","))
            start = cut + 1
        return bodies


def seq_at(data: bytes, start: int) -> int:
    """The seq of the record at data[start:]: records begin with it (`{"seq":12,...`)."""
    if not data.startswith(b'{"seq":', start):
        return -1
    return int(data[start + 7 : data.index(b",", start)])


def _last_seq(data: bytes, start: int = 0) -> int:
    """The seq of the last line of the record at data[start:] (up to data's end): a Batch's
    lines follow on from its seq."""
    first = seq_at(data, start)
    if first < 0:  # not a record as this version writes them: read it
        stored = _decoder.decode(memoryview(data)[start:])
        return stored.seq + len(stored.texts or [None]) - 1
    if data.find(BATCH_KEY, start) < 0:  # a record's texts are JSON strings: quotes escaped
        return first
    texts = _span_decoder.decode(memoryview(data)[start:]).texts
    return first + len(texts or [None]) - 1


def _record_holding(path: Path, start: int, end: int, seq: int) -> tuple[int, int] | None:
    """The offset and the first seq of the record holding `seq`, read from the record at offset
    `start` on; None when no record there holds it (or the segment was rotated away). For a
    read that did not start at seq's own record: `read_encoded` tries that first."""
    offset = start
    for block in _blocks(path, start, end):
        for record in block.split(b"\n"):
            first = seq_at(record, 0)
            if first > seq or first < 0:
                return None
            if seq <= _last_seq(record):
                return offset, first
            offset += len(record) + 1
    return None


def _whole_records(path: Path, start: int, end: int, max_bytes: int) -> tuple[bytes, int, int]:
    """The whole records of a segment from the one at offset `start` on, about max_bytes of
    them (at least one), without the last newline; the offset just after them; and the seq of
    the record after them when the read saw it begin, else -1. b"" when the segment was rotated
    away meanwhile. `end` is the segment's size when asked: no further is read."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return b"", start, -1
    with file:
        file.seek(start)
        block = file.read(min(max_bytes, end - start))
        cut = block.rfind(b"\n")
        if cut > 0 or len(block) == end - start:  # mostly: one read, one copy
            cut = max(cut, 0)
            return block[:cut], start + cut + 1, _seq_begun(block, cut + 1)
        data = bytearray(block)  # a record longer than max_bytes: read on to its end
        while start + len(data) < end:
            more = file.read(min(max(max_bytes, 64 * 1024), end - start - len(data)))
            if not more:
                break
            data += more
            if b"\n" in more:
                break
    cut = data.rfind(b"\n")
    if cut <= 0:
        return b"", start, -1
    return bytes(memoryview(data)[:cut]), start + cut + 1, _seq_begun(data, cut + 1)


def _seq_begun(data: bytes | bytearray, start: int) -> int:
    """The seq of a record of which data holds the beginning from `start`, else -1."""
    if data.find(b",", start, start + 32) < 0:
        return -1
    return seq_at(bytes(data[start : start + 32]), 0)


def _records(path: Path, start: int, end: int) -> Iterator[bytes]:
    """The records of a segment from offset start up to end (its size when asked)."""
    for block in _blocks(path, start, end):
        yield from block.split(b"\n")


def _blocks(path: Path, start: int, end: int, chunk: int = 256 * 1024) -> Iterator[bytes]:
    """The records of a segment from offset start up to end (its size when asked), a chunk's
    worth of whole records at a time, newline-separated; nothing when the segment was rotated
    away meanwhile."""
    try:
        file = path.open("rb")
    except FileNotFoundError:
        return
    with file:
        file.seek(start)
        position, rest = start, b""
        while position < end:
            data = file.read(min(chunk, end - position))
            if not data:
                break
            position += len(data)
            data = rest + data if rest else data
            cut = data.rfind(b"\n")
            rest = data[cut + 1 :]
            if cut > 0:
                yield data[:cut]
        if rest:
            yield rest


def _holding(block: bytes, needle: bytes) -> list[bytes]:
    """The records of an ASCII block that hold `needle` once lowercased."""
    lowered = block.lower()
    records = []
    at = lowered.find(needle)
    while at >= 0:
        begin = lowered.rfind(b"\n", 0, at) + 1
        end = lowered.find(b"\n", at)
        end = len(lowered) if end < 0 else end
        records.append(block[begin:end])
        at = lowered.find(needle, end)
    return records


class _Writer:
    """The thread that encodes and writes the segments, removes them, and saves the files beside
    them. The event loop hands it lines and goes on: a write() held the loop for tens of
    milliseconds under the kernel's writeback, and freeing an 8 MiB file as long (the
    benchmark's watchdog caught both). The records are encoded here too: made, written and
    freed in one thread, their memory is reused at once (freed by another thread later, it had
    the server's RSS grow by ~20 MB in a flood). What it was handed is done in order; a
    segment's size and count grow once its bytes are in the file, so readers never read past
    them."""

    def __init__(self, failed: Callable[[str], None]) -> None:
        self._failed = failed
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._done = threading.Condition()
        self._handed = self._finished = 0
        self.done_bytes = 0  # of what it was handed, written or given up on
        self._thread: threading.Thread | None = None
        self._file: BinaryIO | None = None
        self._path: Path | None = None
        self._broken = False  # after a failed write nothing more is written
        self._encoder = msgspec.json.Encoder()  # the thread's own

    def write(self, job: _Job) -> None:
        self._hand(job)

    def remove(self, path: Path) -> None:
        self._hand(_Job(None, [], 0, 0, 0, path))

    def replace(self, path: Path, data: bytes) -> None:
        self._hand(_Job(None, [], 0, 0, 0, path, data))

    def _hand(self, job: _Job) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fujita-log-writer", daemon=True)
            self._thread.start()
        self._handed += 1
        self._jobs.put(job)

    def wait(self) -> None:
        """Until what was handed over so far is done (readers, in their threads)."""
        handed = self._handed
        with self._done:
            self._done.wait_for(lambda: self._finished >= handed)

    def close(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while True:
            jobs = [self._jobs.get()]
            while not self._jobs.empty():
                jobs.append(self._jobs.get())
            try:
                self._do([job for job in jobs if job is not None])
            finally:  # whatever happened, nobody waits for these for ever
                self.done_bytes += sum(job.weight for job in jobs if job is not None)
                with self._done:
                    self._finished += sum(job is not None for job in jobs)
                    self._done.notify_all()
            if None in jobs:  # closed
                self._close_file()
                return

    def _do(self, jobs: list[_Job]) -> None:
        start = 0
        for end, job in enumerate(jobs):  # writes to one segment in a row: one open, one flush
            if job.segment is None or (jobs[start].segment is not job.segment):
                self._write(jobs[start:end])
                start = end
            if job.segment is None:
                self._replace(job) if job.data is not None else self._remove(job)
                start = end + 1
        self._write(jobs[start:])

    def _write(self, jobs: list[_Job]) -> None:
        if not jobs or self._broken:
            return
        segment = jobs[0].segment
        assert segment is not None
        try:
            if self._path != segment.path:
                self._close_file()
                self._file, self._path = segment.path.open("ab"), segment.path
            assert self._file is not None
            written = 0
            for job in jobs:  # encoded, written and freed here: memory the loop never waits on
                data = self._encoder.encode_lines(records(job.batches))
                first = job.first_seq
                if not segment.seqs or first - segment.seqs[-1] >= INDEX_STRIDE:
                    segment.seqs.append(first)  # before size and count: read past neither
                    segment.offsets.append(segment.size + written)
                self._file.write(data)
                written += len(data)
            self._file.flush()
        except Exception as error:  # noqa: BLE001 - a full disk, mostly; the log goes on in memory
            self._broken = True
            why = error.strerror if isinstance(error, OSError) else None
            self._failed(f"writing {segment.path.parent}: {why or error}")
            return
        segment.size += written  # the size first: a reader that sees a line reads it
        segment.count += sum(job.count for job in jobs)

    def _remove(self, job: _Job) -> None:
        assert job.path is not None
        if job.path == self._path:
            self._close_file()
        try:
            job.path.unlink(missing_ok=True)
        except OSError as error:  # left behind: the next server's start finds it, and goes on
            log.warning("jupyter_fujita: cannot remove %s: %s", job.path, error)

    def _replace(self, job: _Job) -> None:
        assert job.path is not None and job.data is not None
        try:
            tmp = job.path.with_name(job.path.name + ".tmp")
            tmp.write_bytes(job.data)
            tmp.replace(job.path)
        except OSError as error:
            log.warning("jupyter_fujita: cannot save %s: %s", job.path, error)

    def _close_file(self) -> None:
        if self._file is not None:
            file, self._file, self._path = self._file, None, None
            try:
                file.close()
            except OSError:
                pass  # what it held was flushed at each write


@dataclass(slots=True)
class _Job:
    """Write `batches` (`count` lines from `first_seq` on, about `weight` bytes) at the end of
    `segment`; or, without one, replace `path` by `data`, or remove it when there is no data."""

    segment: Segment | None
    batches: list[Piece]
    first_seq: int
    count: int
    weight: int
    path: Path | None = None
    data: bytes | None = None


def _first_seq(batch: Piece) -> int:
    return batch.seq if isinstance(batch, Batch) else batch[0].seq
