"""Reading a runserver's pipes: bulk reads split into lines, published as they come.

A chunk's complete lines are published at once; an unterminated tail that stays idle (pdb's
"(Pdb) " prompt, say) is published too, marked partial, since nothing will end it until the
user answers.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Awaitable, Callable

from tornado.iostream import PipeIOStream, StreamClosedError
from tornado.process import Subprocess

from .lines import LineSplitter

# A pipe holds this much (Linux's default is 64 KiB) and one read takes up to this much: under a
# flood, each read's fixed cost (a loop turn, a wake-up of the readers, a disk write) is then
# shared by ~2,600 lines of 100 bytes instead of ~650.
READ_CHUNK = 256 * 1024
PARTIAL_IDLE = 0.25  # an unterminated tail idle this long is published (a prompt, say)
DRAIN_TIMEOUT = 2.0  # after the group has ended, how long the pipes may take to say EOF

# Called with the lines of one read, and whether they are an idle tail (partial).
Publish = Callable[[list[str], bool], None]


async def read_pipe(
    stream: PipeIOStream,
    max_line_bytes: int,
    publish: Publish,
    room: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Read a pipe in bulk until EOF, publishing its lines; a final line without its newline is
    not lost. Each read waits for `room` first: where the lines go may be behind."""
    splitter = LineSplitter(max_line_bytes)
    loop = asyncio.get_running_loop()
    _widen(stream)
    # One buffer for every read: read_bytes would allocate a chunk a read and copy what it
    # read twice more (into the stream's buffer, then out of it). Reading a flood of 100-byte
    # lines, the CPU a line went from about 0.15 µs to 0.05.
    chunk = bytearray(READ_CHUNK)
    try:
        while True:
            size = await stream.read_into(chunk, partial=True)
            texts = splitter.feed(chunk, size)
            if texts:
                publish(texts, False)
            if splitter.pending:
                loop.call_later(PARTIAL_IDLE, _publish_idle_tail, splitter, splitter.fed, publish)
            # A read of buffered bytes completes without yielding: under a flood this loop
            # would keep the event loop to itself. Let requests and sockets in between chunks.
            await asyncio.sleep(0)
            if room is not None:
                await room()
    except StreamClosedError:
        pass
    finally:
        texts = splitter.flush()
        if texts:
            publish(texts, False)


def _widen(stream: PipeIOStream) -> None:
    """Let the pipe hold READ_CHUNK bytes, and each read take as much."""
    stream.read_chunk_size = READ_CHUNK
    try:
        fcntl.fcntl(stream.fileno(), fcntl.F_SETPIPE_SZ, READ_CHUNK)
    except (OSError, AttributeError):
        pass  # not Linux, or past the system's limit: the pipe stays as it was, and works


def _publish_idle_tail(splitter: LineSplitter, fed: int, publish: Publish) -> None:
    """Text without a newline that stayed idle since `fed` is shown, marked partial."""
    if splitter.fed == fed and splitter.pending:
        publish([splitter.take_partial()], True)


async def drain(readers: list[asyncio.Task[None]], proc: Subprocess) -> None:
    """Once the group has ended: give the readers DRAIN_TIMEOUT to reach EOF, then stop them (a
    grandchild that left the group may keep a pipe open) and close the pipes."""
    _, pending = await asyncio.wait(readers, timeout=DRAIN_TIMEOUT)
    for task in pending:
        task.cancel()
    close_pipes(proc)
    await asyncio.gather(*pending, return_exceptions=True)


def close_pipes(proc: Subprocess) -> None:
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
