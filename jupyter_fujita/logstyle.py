"""How a log line should look in the notebook faces: which lines are real errors (a traceback, a
5xx request, "Internal Server Error"), which are warnings (4xx), which are the supervisor's own,
and where a traceback that starts at a given line ends. Plain stderr is not an error: Django
writes its request lines and "Watching for file changes" there.

Works on Line JSON (`{"seq", "stream", "text", "request"?, "frame"?}`), one line after another,
keeping the little state a traceback needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

TRACEBACK_START = "Traceback (most recent call last):"
ERROR_STARTS = ("Internal Server Error:", "Exception in thread ", "Error: ", "CommandError:")
CHAIN = ("During handling of the above exception", "The above exception was the direct cause")


class LineStyler:
    """kind(line) -> "error" | "warn" | "fujita" | "": fed every line in order."""

    def __init__(self) -> None:
        self._in_traceback = False

    def kind(self, line: dict[str, Any]) -> str:
        text = line.get("text", "")
        stream = line.get("stream")
        if stream == "fujita":
            return "fujita"
        if stream != "stderr":
            return ""
        if self._in_traceback:
            if text.startswith((" ", "\t")) or not text or text == TRACEBACK_START:
                return "error"
            self._in_traceback = False  # the exception line ends it
            return "error"
        if text == TRACEBACK_START:
            self._in_traceback = True
            return "error"
        if text.startswith(CHAIN):
            return "error"
        request = line.get("request")
        if request and isinstance(request.get("status"), int):
            status = request["status"]
            return "error" if status >= 500 else "warn" if status >= 400 else ""
        if text.startswith(ERROR_STARTS):
            return "error"
        return ""


def styled(lines: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str]]:
    styler = LineStyler()
    for line in lines:
        yield line, styler.kind(line)


def traceback_lines(lines: list[dict[str, Any]], start_seq: int) -> list[dict[str, Any]]:
    """The traceback that starts at `start_seq` (its header, or "Exception in thread ..." or
    "Internal Server Error: ..." just before it), through its exception line, chains included."""
    out: list[dict[str, Any]] = []
    started = in_traceback = False
    for line in lines:
        if line["seq"] < start_seq or line.get("stream") == "stdout":
            continue
        text = line["text"]
        if not started:
            started = True
            out.append(line)
            in_traceback = text == TRACEBACK_START
            continue
        if in_traceback:
            out.append(line)
            if not (text.startswith((" ", "\t")) or not text or text == TRACEBACK_START):
                in_traceback = False  # the exception line; a chain may follow
            continue
        if text == TRACEBACK_START or text.startswith(CHAIN) or not text:
            out.append(line)
            in_traceback = in_traceback or text == TRACEBACK_START
            continue
        break
    while out and not out[-1]["text"]:
        out.pop()
    return out
