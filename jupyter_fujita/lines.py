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

    def feed(self, data: bytes) -> list[str]:
        """The complete lines that data finishes, without their newlines."""
        self.fed += 1
        texts: list[str] = []
        end = data.rfind(b"\n")
        if end < 0:
            self._keep(data, texts)
            return texts
        complete = self._tail + data[:end] if self._tail else data[:end]
        self._tail = b""
        if self._skipping:
            cut = complete.find(b"\n")
            complete = b"" if cut < 0 else complete[cut + 1 :]
            self._skipping = False
            if cut < 0:
                self._keep(data[end + 1 :], texts)
                return texts
        texts.extend(self._decode(complete))
        self._keep(data[end + 1 :], texts)
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

    def _decode(self, block: bytes) -> list[str]:
        limit = self.max_line_bytes
        if _has_longer_line(block, limit):
            texts = [
                self._cut(raw) if len(raw) > limit else raw.decode("utf-8", "replace")
                for raw in block.split(b"\n")
            ]
        else:  # no line is too long: one decode for all
            texts = block.decode("utf-8", "replace").split("\n")
        if b"\r" in block:
            texts = [text.rstrip("\r") for text in texts]
        return texts

    def _cut(self, raw: bytes) -> str:
        head = raw[: self.max_line_bytes].decode("utf-8", "replace")
        return f"{head} [… line cut at {self.max_line_bytes} bytes]"


def _has_longer_line(block: bytes, limit: int) -> bool:
    """Whether a line of block (newline-separated) is longer than limit bytes: a few rfind
    calls a block, however many lines it holds."""
    start, end = 0, len(block)
    while end - start > limit:
        newline = block.rfind(b"\n", start, start + limit + 1)
        if newline < 0:
            return True
        start = newline + 1
    return False
