"""A lean WebSocket client for the benchmarks: asyncio protocol, counts without decoding.

All peers are read by this same client code. It counts lines
without decoding a message: the occurrences of a byte pattern in its receive buffer (terminado's
escaped newlines), or for our server the span of seq numbers of each `lines` message (two
searches per message, whatever its size), so that fifty clients in one process keep up with a
server sending hundreds of MB/s. A message callback is there for the figures that need the
content (latency).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
from collections.abc import Callable

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


# Count our server's lines by their seq numbers: a `lines` message holds consecutive seqs, so
# the first and the last say how many it holds without reading the rest of it.
SEQS = b'"seq":'
TEXTS = b'"texts":['  # a batch of lines: `texts[i]` is the line of seq + i
_DIGITS = frozenset(b"0123456789")


def _seq_after(buf: bytearray, index: int) -> int:
    index += len(SEQS)
    while buf[index] == 0x20:  # the stdlib's encoder puts a space after the colon
        index += 1
    end = index
    while buf[end] in _DIGITS:
        end += 1
    return int(buf[index:end])


def _seq_range(buf: bytearray, start: int, end: int) -> tuple[int, int] | None:
    """The first and the last seq of a `lines` message (None when it holds no line): the last
    record's seq, or the last of its batch (`{"seq", ..., "texts": ["…", …]}`), counted by the
    `","` between its texts. A text that ends in a quote and a comma, or is a lone comma, would
    be miscounted: none of the bench's is, and a miscount would show as lines lost or repeated.

    Counting a batch reads the message through, so the answer is kept for the other clients
    in this process: fifty clients of one server are sent the very same messages (one
    encoding for all), and one of them reading each is enough."""
    first = buf.find(SEQS, start, end)
    if first < 0:
        return None
    seq = _seq_after(buf, first)
    known = _LAST_SEQS.get((seq, end - start))
    if known is not None:
        return seq, known
    last = buf.rfind(SEQS, start, end)
    texts = buf.find(TEXTS, last, end)
    last_seq = _seq_after(buf, last)
    if texts >= 0:
        last_seq += buf.count(b'","', texts, end)
        if len(_LAST_SEQS) > 100_000:
            _LAST_SEQS.clear()
        _LAST_SEQS[(seq, end - start)] = last_seq
    return seq, last_seq


# (first seq, length) of a message with a batch -> its last seq, for the other clients
_LAST_SEQS: dict[tuple[int, int], int] = {}


class WSClient(asyncio.Protocol):
    def __init__(
        self,
        pattern: bytes = b"",
        on_message: Callable[[WSClient, bytes, float], None] | None = None,
        stall: bool = False,
        marker: bytes = b"",
        since: int | None = None,
    ) -> None:
        self.pattern = pattern
        self.marker = marker  # with SEQS: the first message holding it starts the clock
        self.on_message = on_message
        self.stall = stall  # stop reading right after the handshake
        self.count = 0  # occurrences of pattern so far
        self.messages = 0
        self.received = 0  # payload bytes
        self.gaps = 0  # our server's `gap` messages: lines this client will never get
        self.missed = 0  # lines a `gap` announced
        # With SEQS and `since`: lines that never came and no gap announced (a seq skipped)
        self.unannounced = 0
        self.next_seq = None if since is None else since + 1
        self.repeated = 0  # lines whose seq came again
        self.first_time: float | None = None
        self.first_hit_time: float | None = None  # the first message holding the pattern
        self.first_hit_count = 0  # and how many it held
        self.last_time: float | None = None
        self.target: int | None = None
        self.reached: asyncio.Future[float] | None = None
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._buf = bytearray()
        self._open = False

    @property
    def lost(self) -> int:
        """Lines this client will never get: announced by a gap, or skipped without one."""
        return self.missed + self.unannounced

    # -- waiting --------------------------------------------------------------------------------

    def expect(self, count: int) -> asyncio.Future[float]:
        """A future set to the monotonic time at which `count` occurrences have arrived (lines
        announced as missed by a `gap` count too: they will never come)."""
        self.target = count
        self.reached = asyncio.get_running_loop().create_future()
        self._check(time.monotonic())
        return self.reached

    def _check(self, now: float) -> None:
        reached = self.reached
        if reached is None or reached.done():
            return
        if self.count + self.missed + self.unannounced >= self.target:
            reached.set_result(now)

    # -- asyncio protocol -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(None)
        if self.reached is not None and not self.reached.done():
            self.reached.set_exception(
                ConnectionError(f"closed after {self.count} of {self.target}")
            )

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        buf = self._buf
        buf += data
        if not self._open:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                self.transport.close()
                return
            self._open = True
            self.opened.set_result(None)
            if self.stall:
                self.transport.pause_reading()
        self._parse(now)

    def _parse(self, now: float) -> None:
        buf = self._buf
        size = len(buf)
        pos = 0
        pattern = self.pattern
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if b1 & 0x80:
                raise ConnectionError("a server must not mask its frames")
            end = pos + head + length
            if end > size:
                break
            opcode = b0 & 0x0F
            start = pos + head
            pos = end
            if opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                self.messages += 1
                self.received += length
                if self.first_time is None:
                    self.first_time = now
                self.last_time = now
                if pattern is SEQS:
                    seqs = _seq_range(buf, start, end)
                    hits = 0 if seqs is None else seqs[1] - seqs[0] + 1
                    if seqs is not None and self.next_seq is not None:
                        if seqs[0] > self.next_seq:
                            self.unannounced += seqs[0] - self.next_seq
                        elif seqs[0] < self.next_seq:
                            # sent before: only the seqs beyond the last one seen are new
                            again = min(self.next_seq - seqs[0], hits)
                            self.repeated += again
                            hits -= again
                        self.next_seq = max(self.next_seq, seqs[1] + 1)
                    if (
                        hits
                        and self.first_hit_time is None
                        and (not self.marker or buf.find(self.marker, start, end) >= 0)
                    ):
                        self.first_hit_time, self.first_hit_count = now, hits
                    self.count += hits
                elif pattern:
                    hits = buf.count(pattern, start, end)
                    if hits and self.first_hit_time is None:
                        self.first_hit_time, self.first_hit_count = now, hits
                    self.count += hits
                if buf.find(b'"gap"', start, min(end, start + 32)) >= 0:
                    gap = json.loads(bytes(buf[start:end]))
                    self.gaps += 1
                    self.missed += gap["to_seq"] - gap["from_seq"] + 1
                    if self.next_seq is not None:
                        self.next_seq = max(self.next_seq, gap["to_seq"] + 1)
                if self.on_message is not None:
                    self.on_message(self, bytes(buf[start:end]), now)
            elif opcode == OP_PING:
                self._send(OP_PONG, bytes(buf[start:end]))
            elif opcode == OP_CLOSE:
                self.transport.close()
        del buf[:pos]
        self._check(now)

    # -- sending (masked, as a client must) -------------------------------------------------------

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        length = len(payload)
        if length < 126:
            header = bytes([0x80 | opcode, 0x80 | length])
        elif length < 65536:
            header = bytes([0x80 | opcode, 0x80 | 126]) + length.to_bytes(2, "big")
        else:
            header = bytes([0x80 | opcode, 0x80 | 127]) + length.to_bytes(8, "big")
        self.transport.write(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._send(OP_TEXT, text.encode())

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def connect(
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    pattern: bytes = b"",
    on_message: Callable[[WSClient, bytes, float], None] | None = None,
    stall: bool = False,
    marker: bytes = b"",
    since: int | None = None,
    host: str = "127.0.0.1",
    timeout: float = 20.0,
) -> WSClient:
    loop = asyncio.get_running_loop()
    client = WSClient(pattern, on_message, stall, marker, since)
    await loop.create_connection(lambda: client, host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in (headers or {}).items()),
    ]
    client.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    try:
        await asyncio.wait_for(asyncio.shield(client.opened), timeout)
    except BaseException:
        client.close()
        raise
    return client
