"""Splitting a pipe's bytes into text lines: bulk reads in, bounded lines out.

Bytes are split on b"\\n" before decoding: UTF-8 never puts a newline byte inside a character,
so everything up to the last newline of a chunk decodes in one call, and only the partial tail
waits for more bytes.
"""

from __future__ import annotations


class LineSplitter:
    def __init__(self, max_line_bytes: int = 64 * 1024) -> None:
        self.max_line_bytes = max_line_bytes
        self._tail = b""
        self._skipping = False  # inside an overlong line whose head was already published
        self.fed = 0  # counts feed() calls, so a timer can tell whether more bytes came

    def feed(self, data: bytes | bytearray, size: int | None = None) -> list[str]:
        """The complete lines that `data[:size]` finishes, without their newlines. A reused read
        buffer is read where it lies: a flood's chunk is never copied whole (each copy of a
        quarter MiB costs its pages again)."""
        self.fed += 1
        size = len(data) if size is None else size
        texts: list[str] = []
        end = data.rfind(b"\n", 0, size)
        if end < 0:
            self._keep(bytes(data[:size]), texts)
            return texts
        start = 0  # where the lines not yet taken begin
        if self._skipping or self._tail:
            first = data.find(b"\n", 0, end + 1)  # ends the line an earlier read began
            if not self._skipping:
                texts.extend(self._decode(self._tail + data[:first]))
            self._tail, self._skipping = b"", False
            start = first + 1
        if start <= end:
            texts.extend(self._decode(data, start, end))
        self._keep(bytes(data[end + 1 : size]), texts)
        return texts

    def flush(self) -> list[str]:
        """What is left at EOF: a final line without its newline is not lost."""
        tail, self._tail = self._tail, b""
        if not tail or self._skipping:
            self._skipping = False
            return []
        return self._decode(tail)

    @property
    def pending(self) -> bytes:
        return self._tail

    def take_partial(self) -> str:
        """The unterminated tail, as text, now (a prompt waiting for input); it is not kept."""
        tail, self._tail = self._tail, b""
        return tail.decode("utf-8", "replace").rstrip("\r")

    def _keep(self, rest: bytes, texts: list[str]) -> None:
        if self._skipping:
            return
        tail = self._tail + rest if self._tail else rest
        if len(tail) > self.max_line_bytes:
            texts.append(self._cut(tail))
            self._skipping = True
            tail = b""
        self._tail = tail

    def _decode(self, data: bytes | bytearray, start: int = 0, end: int | None = None) -> list[str]:
        """The lines of `data[start:end]`, newline-separated."""
        end = len(data) if end is None else end
        limit = self.max_line_bytes
        if end - start > limit and _has_longer_line(data, start, end, limit):
            texts = [
                self._cut(raw) if len(raw) > limit else raw.decode("utf-8", "replace")
                for raw in data[start:end].split(b"\n")
            ]
        else:  # no line is too long: one decode for all, from where the bytes lie
            texts = str(memoryview(data)[start:end], "utf-8", "replace").split("\n")
        if data.find(b"\r", start, end) >= 0:
            texts = [text.rstrip("\r") for text in texts]
        return texts

    def _cut(self, raw: bytes | bytearray) -> str:
        head = raw[: self.max_line_bytes].decode("utf-8", "replace")
        return f"{head} [… line cut at {self.max_line_bytes} bytes]"


def _has_longer_line(block: bytes | bytearray, start: int, end: int, limit: int) -> bool:
    """Whether a line of block[start:end] (newline-separated) is longer than limit bytes: a few
    rfind calls a block, however many lines it holds."""
    while end - start > limit:
        newline = block.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False
