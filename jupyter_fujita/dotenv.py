"""Reading a `.env` file: the variables a project keeps beside its manage.py.

The common subset of the format that python-dotenv, docker compose and foreman agree on, without
a dependency: `KEY=VALUE` lines, an optional leading `export `, `#` comments (whole lines, or
after an unquoted value and a space), blank lines, and values in single quotes (taken as they
are) or double quotes (`\\n`, `\\t`, `\\"` and `\\\\` understood). No variable expansion: `$HOME`
stays `$HOME`, so what a file says is what runserver gets. A line that is none of these is
skipped and reported, never fatal: a typo in `.env` must not keep Django from starting.
"""

from __future__ import annotations

import re
from pathlib import Path

_LINE = re.compile(r"^\s*(?:export\s+)?(?P<key>[A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(?P<value>.*)$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_env(text: str) -> tuple[dict[str, str], list[int]]:
    """The variables of a .env text, and the numbers (from 1) of the lines that were skipped."""
    values: dict[str, str] = {}
    skipped: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        value = _value(match["value"]) if match else None
        if match is None or value is None:
            skipped.append(number)
            continue
        values[match["key"]] = value
    return values, skipped


def read_env_file(path: Path) -> tuple[dict[str, str], list[int]]:
    """parse_env of a file (UTF-8; undecodable bytes replaced)."""
    return parse_env(path.read_text(encoding="utf-8", errors="replace"))


def _value(text: str) -> str | None:
    """An unquoted, 'single' or "double" quoted value; None when a quote is not closed."""
    text = text.strip()
    if text[:1] == "'":
        end = text.find("'", 1)
        return None if end < 0 else text[1:end]
    if text[:1] == '"':
        out: list[str] = []
        index = 1
        while index < len(text):
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                following = text[index + 1]
                out.append(_ESCAPES.get(following, "\\" + following))
                index += 2
                continue
            if char == '"':
                return "".join(out)
            out.append(char)
            index += 1
        return None
    comment = re.search(r"\s#", text)
    return (text[: comment.start()] if comment else text).strip()
