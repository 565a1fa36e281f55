"""FujitaPanel: the ipywidgets face of the supervisor, for notebooks.

It listens to the supervisor through a background task on the kernel's event loop (so it goes
on updating while the kernel is idle), renders the log as escaped text at the code font's line
height, red only for real errors (tracebacks, 5xx requests), narrows it to a filter with the
matches highlighted, and keeps only the last `max_lines` lines.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import ipywidgets as widgets
from traitlets import Int, Unicode, observe

from .client import JSON, Backend, ClientError, Lifecycle, Watch, connect
from .logstyle import LineStyler
from .wire import ACTIVE


class LifecycleButton(NamedTuple):
    label: str
    busy: str  # the label while its action runs
    icon: str
    enabled_when: frozenset[str]  # the states in which the action makes sense


LIFECYCLE_BUTTONS: dict[Lifecycle, LifecycleButton] = {
    "start": LifecycleButton("Start", "Starting…", "play", frozenset({"stopped", "crashed"})),
    "stop": LifecycleButton("Stop", "Stopping…", "stop", ACTIVE),
    "restart": LifecycleButton("Restart", "Restarting…", "refresh", ACTIVE | {"crashed"}),
}
BADGE_COLOURS = {
    "running": "#2e7d32",
    "starting": "#f9a825",
    "reloading": "#f9a825",
    "stopping": "#f9a825",
    "broken": "#c62828",
    "crashed": "#c62828",
    "paused": "#6a1b9a",
}
LINE_STYLES = {  # by LineStyler's kind; plain stderr (request lines, the reloader) is not red
    "error": "color: var(--jp-error-color1, #c62828)",
    "warn": "color: var(--jp-warn-color0, #e65100)",
    "fujita": "color: var(--jp-ui-font-color2, #666); font-style: italic",
}
# ipywidgets' HTML sets a line height for one-line labels (28 px): the log sets the code's own.
LOG_STYLE = (
    "font-family: var(--jp-code-font-family, monospace); "
    "font-size: var(--jp-code-font-size, 12px); "
    "line-height: var(--jp-code-line-height, 1.3); white-space: pre-wrap"
)
MATCH_STYLE = (
    "background: var(--jp-search-selected-match-background-color, #fff176); "
    "color: var(--jp-search-selected-match-color, inherit)"
)
RENDER_DELAY = 0.1  # seconds: log updates are coalesced into one render per tick


class FujitaPanel(widgets.VBox):
    """Start / Stop / Restart, the state, the site link and the live log of one process."""

    state = Unicode("unknown", help="The process state, as the supervisor reports it.")
    connection = Unicode("connecting", help="'connected', or 'disconnected: <why>'.")
    url = Unicode("", help="The site's URL while Django is up, else ''.")
    preview_url = Unicode("", help="The site through the Jupyter server (a path on it), or ''.")
    max_lines = Int(500, help="How many of the newest log lines the panel shows.")

    def __init__(
        self,
        name: str = "django",
        backend: Backend | None = None,
        max_lines: int = 500,
        **kwargs: Any,
    ) -> None:
        self.process = name
        self.backend = backend or connect()
        self._lines: deque[tuple[int, str, str]] = deque(maxlen=max_lines)  # seq, kind, text
        self._styler = LineStyler()
        self._render_pending = False
        self._busy = ""
        self._status: JSON = {}
        self.buttons = {action: self._button(action) for action in LIFECYCLE_BUTTONS}
        self.start_button = self.buttons["start"]
        self.stop_button = self.buttons["stop"]
        self.restart_button = self.buttons["restart"]
        self.badge = widgets.HTML()
        self.status_line = widgets.HTML()
        self.error_line = widgets.HTML()
        self.hints_box = widgets.HBox()
        self.debugger_input = widgets.Text(
            placeholder="pdb: c to continue, n for next line", continuous_update=False
        )
        # continuous_update=False: the value changes on Enter (or leaving the box), then it is sent
        self.debugger_input.observe(self._on_debugger_input, "value")
        send = widgets.Button(description="Send", tooltip="Send this line to the debugger")
        send.on_click(lambda _: self.send_to_debugger(self.debugger_input.value))
        self.debugger_box = widgets.HBox([self.debugger_input, send])
        self.debugger_box.add_class("jp-fujita-panel-debugger")
        self.download_link = widgets.HTML(_download_link(self.backend.log_text_path(name)))
        self.download_link.add_class("jp-fujita-panel-download")
        self.filter_box = widgets.Text(placeholder="Filter lines", continuous_update=True)
        self.filter_box.add_class("jp-fujita-panel-filter")
        self.filter_box.observe(lambda _: self._schedule_render(), "value")
        self.log_view = widgets.HTML(layout=widgets.Layout(max_height="320px", overflow="auto"))
        self.log_view.add_class("jp-fujita-panel-log")
        toolbar = widgets.HBox(
            [
                self.start_button,
                self.stop_button,
                self.restart_button,
                self.badge,
                self.download_link,
            ]
        )
        super().__init__(
            children=[
                toolbar,
                self.status_line,
                self.error_line,
                self.hints_box,
                self.debugger_box,
                self.filter_box,
                self.log_view,
            ],
            **kwargs,
        )
        self.add_class("jp-fujita-panel")
        self.max_lines = max_lines
        self._refresh_controls()
        self._watch: Watch | None = self.backend.watch(
            name, self._on_status, self._on_log, self._on_connection
        )

    @observe("max_lines")
    def _resize(self, change: dict[str, Any]) -> None:
        self._lines = deque(self._lines, maxlen=max(1, change["new"]))
        self._schedule_render()

    # -- what the buttons do --------------------------------------------------------------------

    def _button(self, action: Lifecycle) -> widgets.Button:
        look = LIFECYCLE_BUTTONS[action]
        button = widgets.Button(
            description=look.label, icon=look.icon, tooltip=f"{look.label} Django"
        )
        button.on_click(
            lambda _: self._act(action, lambda: self.backend.lifecycle_async(self.process, action))
        )
        return button

    def _act(self, what: str, change: Callable[[], Awaitable[JSON]]) -> None:
        """Make a change on the kernel's loop; the buttons wait, the answer is the new status."""
        self._busy = what
        self._refresh_controls()

        async def act() -> None:
            try:
                self._on_status(await change())
            except ClientError as error:
                self._show_message(f"Could not {what}: {error}")
            finally:
                self._busy = ""
                self._refresh_controls()

        asyncio.ensure_future(act())

    def send_to_debugger(self, text: str) -> None:
        """A line for the paused debugger, on runserver's stdin."""
        self.debugger_input.value = ""
        self._act(
            "send to the debugger", lambda: self.backend.stdin_async(self.process, text + "\n")
        )

    def _on_debugger_input(self, change: dict[str, Any]) -> None:
        if change["new"]:  # not the box emptied after sending
            self.send_to_debugger(change["new"])

    def _hint_button(self, hint: JSON) -> widgets.Button:
        button = widgets.Button(
            description=hint.get("label") or hint["message"],
            tooltip=hint["message"],
            disabled=bool(self._busy),
        )
        button.add_class("jp-fujita-panel-hint")
        action = hint["action"]
        button.on_click(
            lambda _: self._act(
                action, lambda: self.backend.hint_action_async(self.process, action)
            )
        )
        return button

    # -- what the supervisor says --------------------------------------------------------------

    def _on_status(self, status: JSON) -> None:
        self._status = status
        self.state = status["state"]
        self.url = status.get("url") or ""
        self._refresh_controls()

    def _on_connection(self, connection: str) -> None:
        self.connection = connection
        self._refresh_controls()

    def _on_log(self, message: JSON) -> None:
        kind = message["type"]
        if kind == "lines":
            kinds = self._styler.kind
            self._lines.extend((ln["seq"], kinds(ln), ln["text"]) for ln in message["lines"])
        elif kind == "gap":
            missed = message["to_seq"] - message["from_seq"] + 1
            self._lines.append((message["to_seq"], "fujita", f"… {missed} lines not shown …"))
        elif kind == "cleared":
            self._lines.clear()
            self._styler = LineStyler()
        self._schedule_render()

    # -- rendering ------------------------------------------------------------------------------

    def _refresh_controls(self) -> None:
        state = self.state
        connected = self.connection in ("connected", "connecting")
        for action, button in self.buttons.items():
            look = LIFECYCLE_BUTTONS[action]
            button.disabled = bool(self._busy) or not connected or state not in look.enabled_when
            button.description = look.busy if self._busy == action else look.label
        colour = BADGE_COLOURS.get(state, "#757575")
        self.badge.value = (
            f'<span data-fujita-state="{html.escape(state)}" style="background:{colour};'
            'color:white;border-radius:8px;padding:2px 8px;font-size:85%">'
            f"{html.escape(state)}</span>"
        )
        if not connected:
            self._show_message(f"Disconnected from {self.backend.describe()}; reconnecting…")
        elif self._status:
            self._show_message(
                self._status.get("message", ""),
                self._status.get("url"),
                self._status.get("preview_url"),
            )
        self._show_error(self._status.get("error"))
        hints = self._status.get("hints") or []
        self.hints_box.children = [self._hint_button(hint) for hint in hints]
        self.debugger_box.layout.display = "flex" if state == "paused" else "none"

    def _show_error(self, error: JSON | None) -> None:
        if not error:
            self.error_line.value = ""
            return
        what = html.escape(f"{error.get('exception') or error['kind']}: {error['message']}")
        where = f" — {html.escape(error['file'])}:{error['line']}" if error.get("file") else ""
        self.error_line.value = (
            '<span class="jp-fujita-panel-error" style="color: var(--jp-error-color1, #c62828)">'
            f"{what}{where}</span>"
        )

    def _show_message(
        self, message: str, url: str | None = None, preview_url: str | None = None
    ) -> None:
        text = html.escape(message)
        if url:
            link = html.escape(url, quote=True)
            text = text.replace(
                html.escape(url), f'<a href="{link}" target="_blank" rel="noopener">{link}</a>'
            )
        if preview_url:  # through Jupyter: works where 127.0.0.1 is not the browser's machine
            link = html.escape(preview_url, quote=True)
            text += f' · <a href="{link}" target="_blank" rel="noopener">preview</a>'
        self.preview_url = preview_url or ""
        self.status_line.value = f'<span class="jp-fujita-panel-message">{text}</span>'

    def _schedule_render(self) -> None:
        if self._render_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._render()
            return
        self._render_pending = True
        loop.call_later(RENDER_DELAY, self._render)

    def _render(self) -> None:
        self._render_pending = False
        query = self.filter_box.value.strip()
        match = re.compile(re.escape(query), re.IGNORECASE) if query else None
        rows = []
        for seq, kind, text in self._lines:
            if match is not None and not match.search(text):
                continue
            style = LINE_STYLES.get(kind)
            body = _highlighted(text, match) if match is not None else html.escape(text)
            attributes = f' data-kind="{kind}" style="{style}"' if style else ""
            rows.append(f'<div data-seq="{seq}"{attributes}>{body or "&nbsp;"}</div>')
        self.log_view.value = f'<div style="{LOG_STYLE}">' + "".join(rows) + "</div>"

    def log_text(self) -> str:
        """The log the panel shows, as plain text, one line per line."""
        return "\n".join(text for _, _, text in self._lines)

    def close(self) -> None:
        """Closing the panel ends its streams."""
        if self._watch is not None:
            self._watch.close()
            self._watch = None
        super().close()


def _download_link(path: str | None) -> str:
    """A link to the whole log as text on the Jupyter server, opened in a new tab; none without
    a server (an embedded supervisor keeps its log in the kernel: `log_text()`)."""
    if path is None:
        return ""
    href = html.escape(path, quote=True)
    return (
        f'<a href="{href}" target="_blank" rel="noopener" download '
        'title="Download the whole log as text (every run kept on disk)">Download</a>'
    )


def _highlighted(text: str, match: re.Pattern[str]) -> str:
    """The text escaped, each match in a <mark>."""
    out, end = [], 0
    for found in match.finditer(text):
        out.append(html.escape(text[end : found.start()]))
        out.append(
            f'<mark class="jp-fujita-panel-match" style="{MATCH_STYLE}">'
            f"{html.escape(found.group())}</mark>"
        )
        end = found.end()
    out.append(html.escape(text[end:]))
    return "".join(out)
