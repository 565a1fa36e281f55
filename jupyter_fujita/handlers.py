"""REST and WebSocket handlers: parse the request, call the manager, answer JSON. Nothing else.

Every handler is authenticated the jupyter_server way and authorized on resource `fujita`
(`read` for GET and WebSockets, `execute` for POST and DELETE). Core errors become JSON
`{"message"}` with their status in `_handle_request_exception`, the one place that maps them.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import OrderedDict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from .errors import BadRequest, FujitaError, NoSuchAction, NoSuchRun, TooLarge, shown
from .logstore import seq_at
from .manager import ProcessManager
from .processes import ALL
from .replay import Appended, LineFilter, LogFeed, read_log, search_log
from .runs import runs_json
from .supervisor import LIFECYCLE_ACTIONS
from .wire import Line, Piece, line_json, records, seqs_of, wire_lines

OPENAPI = Path(__file__).resolve().parent / "openapi.json"
AUTH_RESOURCE = "fujita"
# The actions are named, never derived from the HTTP method: jupyter_server's bare
# `@authorized` maps POST and DELETE to `write`, but every change here runs the user's code
# (runserver, migrate, pdb's stdin), which is `execute`, as docs/api.md says.
READ = "read"
EXECUTE = "execute"
_json = msgspec.json.Encoder()  # ~4x the stdlib's speed on many small records
NAME = r"(?P<name>[^/]+)"
# One log message carries at most about this much JSON: big enough to batch a burst (a browser
# takes in about one message per frame during a flood: 64 KiB showed a 200,000-line flood in
# 8.1 s, 256 KiB in 5.4 s), small enough that a client is never handed megabytes at once.
MESSAGE_BYTES = 256 * 1024
# The most lines one GET log page reads (it may read them from disk); a filtered page (q=,
# status=) scans more, in a thread, to find its matches.
PAGE_LINES = 10_000
SCAN_LINES = 200_000
# Request bodies are small objects ({"address": ...}, {"text": ...}): anything beyond these is
# refused before it is parsed, so no body costs more than a glance.
BODY_MAX_BYTES = 64 * 1024
BODY_MAX_DEPTH = 8


def json_depth(raw: bytes) -> int:
    """How deep brackets nest in a JSON text, strings skipped: checked before parsing, since a
    parser recurses once per level and a 64 KiB body can nest 32,000 deep."""
    if raw.count(b"[") + raw.count(b"{") <= BODY_MAX_DEPTH:
        return 0  # cannot nest too deep: skip the byte-by-byte walk
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def encode_message(message: dict[str, Any]) -> bytes:
    """JSON of a feed message, its Line and Status records included."""
    if "encoded_lines" in message:  # lines from disk, already the API's records
        body: bytes = message["encoded_lines"]
        head = b'{"type":"lines","log_id":"%s","lines":[' % message["log_id"].encode()
        return b"".join((head, body, b"]}"))  # one copy of the body, not two
    if message["type"] == "lines":
        pieces = message.get("pieces")
        message = {
            "type": "lines",
            "log_id": message["log_id"],
            "lines": wire_lines(message["lines"]) if pieces is None else records(pieces),
        }
    return _json.encode(message)  # Status records (wire.py) encode as they are


class SharedEncodings:
    """Clients reading at the same position get the same batch: encode it once for all.

    Only contiguous lines are shared: (log_id, first seq, last seq) names them, cut as the cache
    cuts them (`pieces`) or each a record, and (log_id, first seq, length) records from disk (a
    log's records never change).
    """

    def __init__(self, size: int = 32) -> None:
        self.size = size
        self._recent: OrderedDict[tuple[str, str, int, int], bytes] = OrderedDict()

    def encode(self, message: dict[str, Any]) -> bytes:
        pieces: list[Piece] | None = message.get("pieces")
        lines: list[Line] = message.get("lines", [])
        body: bytes | None = message.get("encoded_lines")
        if body is not None and seq_at(body, 0) >= 0:
            key = (message["log_id"], "records", seq_at(body, 0), len(body))
        elif pieces:
            key = (message["log_id"], "pieces", *seqs_of(pieces))
        elif lines and lines[-1].seq - lines[0].seq + 1 == len(lines):
            key = (message["log_id"], "lines", lines[0].seq, lines[-1].seq)
        else:
            return encode_message(message)
        encoded = self._recent.get(key)
        if encoded is None:
            encoded = self._recent[key] = encode_message(message)
            if len(self._recent) > self.size:
                self._recent.popitem(last=False)
        return encoded


class FujitaMixin(JupyterHandler):
    """What every handler of ours shares: the manager, and parsing of query arguments."""

    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> ProcessManager:
        manager: ProcessManager = self.settings["fujita_manager"]
        return manager

    def int_argument(self, name: str, default: int | None = None) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a whole number, not {shown(raw)}.") from None
        if value < 0:
            raise BadRequest(f"{name} must not be negative, not {value}.")
        return value

    def line_filter(self) -> LineFilter:
        try:
            return LineFilter(
                self.get_query_argument("status", None) or None,
                self.get_query_argument("q", None) or None,
            )
        except ValueError as error:
            raise BadRequest(str(error)) from None

    def seconds_argument(self, name: str, default: float) -> float:
        raw = self.get_query_argument(name, None)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise BadRequest(f"{name} must be a number of seconds, not {shown(raw)}.") from None
        if not 0 <= value <= 3600:
            raise BadRequest(f"{name} must be between 0 and 3600 seconds, not {value}.")
        return value


class FujitaHandler(FujitaMixin, APIHandler):
    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, FujitaError):
            self.log.info("%s %s: %s", e.status, self._request_summary(), e.message)
            if not self._finished:
                self.send_error(e.status, exc_info=sys.exc_info())
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, FujitaError):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"message": error.message}))
            return
        super().write_error(status_code, **kwargs)

    def json_body(self, allowed: frozenset[str] = frozenset({"address"})) -> dict[str, Any]:
        """The request's JSON object (empty when there is no body), within the limits."""
        raw = self.request.body
        if not raw:
            return {}
        if len(raw) > BODY_MAX_BYTES:
            raise TooLarge(f"The body is {len(raw)} bytes; at most {BODY_MAX_BYTES} are taken.")
        if json_depth(raw) > BODY_MAX_DEPTH:
            raise BadRequest(f"The body nests deeper than {BODY_MAX_DEPTH} levels.")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadRequest("The body must be JSON (UTF-8).") from None
        if not isinstance(body, dict):
            raise BadRequest("The body must be a JSON object.")
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise BadRequest(f"Unknown field(s) {', '.join(unknown)}: expected {sorted(allowed)}.")
        return body

    def answer(self, data: object) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(_json.encode(data))


class ProcessesHandler(FujitaHandler):
    @web.authenticated
    @authorized(READ)
    async def get(self) -> None:
        self.answer({"processes": self.manager.statuses()})


class ProcessHandler(FujitaHandler):
    @web.authenticated
    @authorized(READ)
    async def get(self, name: str) -> None:
        self.answer(self.manager.get(name).status())


class LifecycleHandler(FujitaHandler):
    """start, stop, restart: of one process (start starts what it depends on first), or of
    every process (`all`)."""

    @web.authenticated
    @authorized(EXECUTE)
    async def post(self, name: str, action: str) -> None:
        # What is asked is checked before how: an unknown action is 404 whatever its body.
        if action not in LIFECYCLE_ACTIONS:
            raise NoSuchAction(f"No action {shown(action)}: use start, stop or restart.")
        wait = self.seconds_argument("wait", self.settings["fujita_start_wait"])
        address = self.json_body().get("address")
        if address is not None and not isinstance(address, str):
            raise BadRequest('address must be a string such as "127.0.0.1:8001".')
        if name == ALL:
            if address is not None:
                raise BadRequest("address moves one process: not all of them.")
            await self._every_process(action, wait)
            return
        supervisor = self.manager.get(name)
        if action == "start":
            status = await self.manager.start(name, wait=wait, address=address)
        elif action == "stop":
            status = await supervisor.stop()
        else:
            status = await supervisor.restart(wait=wait, address=address)
        self.answer(status)

    async def _every_process(self, action: str, wait: float) -> None:
        if action == "start":
            statuses = await self.manager.start_all(wait)
        elif action == "stop":
            statuses = await self.manager.stop_all()
        else:
            statuses = await self.manager.restart_all(wait)
        self.answer({"processes": statuses})


class LogHandler(FujitaHandler):
    @web.authenticated
    @authorized(READ)
    async def get(self, name: str) -> None:
        cache = self.manager.get(name).cache
        since = self.int_argument("since")
        limit = self.int_argument("limit")
        only = self.line_filter()
        if since is None:
            lines, gap = only.apply(cache.tail(cache.size)) if only else cache.tail(cache.size), 0
            if limit is not None:
                lines = lines[len(lines) - limit :] if limit else []
            next_since = cache.last_seq
        else:
            # One page reads at most PAGE_LINES lines (from disk too); a search looks at up to
            # SCAN_LINES, off the event loop. `next_since` says where the next page starts.
            after = min(since, cache.last_seq)
            if only:
                piece = await search_log(cache, after, only, SCAN_LINES)
            else:
                page = min(limit, PAGE_LINES) if limit is not None else PAGE_LINES
                piece = await read_log(cache, after, max_lines=page)
            lines = piece.lines
            if only and limit is not None and len(lines) > limit:
                lines = lines[:limit]
                piece.position = lines[-1].seq
            gap = 0
            if piece.gap_from is not None and piece.gap_to is not None:
                gap = piece.gap_to - piece.gap_from + 1
            next_since = piece.position
        self.answer(
            {
                "lines": [line_json(line) for line in lines],
                "log_id": cache.id,
                "first_seq": cache.oldest_seq,
                "last_seq": cache.last_seq,
                "next_since": next_since,
                "gap": gap,
            }
        )

    @web.authenticated
    @authorized(EXECUTE)
    async def delete(self, name: str) -> None:
        self.manager.get(name).cache.clear()
        self.answer({"cleared": True})


class RunsHandler(FujitaHandler):
    @web.authenticated
    @authorized(READ)
    async def get(self, name: str) -> None:
        supervisor = self.manager.get(name)
        supervisor.runs.forget_before(supervisor.cache.oldest_seq)
        self.answer({"runs": runs_json(supervisor.runs)})


class LogTextHandler(FujitaHandler):
    """The log as plain text, one line each, streamed: a run's (`?run=N`) or all of it."""

    @web.authenticated
    @authorized(READ)
    async def get(self, name: str) -> None:
        supervisor = self.manager.get(name)
        cache = supervisor.cache
        after, last = cache.oldest_seq - 1, cache.last_seq
        number = self.int_argument("run")
        if number is not None:
            run = supervisor.runs.get(number)
            if run is None:
                raise NoSuchRun(f"No run {number} of {name!r} in the log: see its runs.")
            after, last = run.first_seq - 1, run.last_seq if run.last_seq is not None else last
        filename = f"{name}-run-{number}.log" if number is not None else f"{name}.log"
        text_plain = "text/plain; charset=utf-8"
        self.set_header("Content-Type", text_plain)
        self.set_header("Content-Disposition", f'attachment; filename="{filename}"')
        while after < last:
            piece = await read_log(cache, after, max_bytes=MESSAGE_BYTES * 4)
            lines = [line for line in piece.lines if line.seq <= last]
            if not lines:
                break
            self.write("".join(f"{line.text}\n" for line in lines))
            await self.flush()  # one piece at a time: the download is paced by the browser
            after = piece.position
        # APIHandler.finish says JSON unless told: an empty log's answer has sent no headers yet
        self.finish(set_content_type=text_plain)


class HintActionHandler(FujitaHandler):
    """migrate, next-port, restart: what a hint offers (actions.py)."""

    @web.authenticated
    @authorized(EXECUTE)
    async def post(self, name: str, action: str) -> None:
        self.answer(await self.manager.get(name).run_hint_action(action))


class StdinHandler(FujitaHandler):
    @web.authenticated
    @authorized(EXECUTE)
    async def post(self, name: str) -> None:
        supervisor = self.manager.get(name)
        text = self.json_body(allowed=frozenset({"text"})).get("text")
        if not isinstance(text, str) or not text:
            raise BadRequest('The body must be {"text": "..."} with some text, e.g. "c\\n".')
        self.answer(await supervisor.send_stdin(text))


class OpenAPIHandler(FujitaHandler):
    """The REST API's OpenAPI 3.1 description (openapi.json beside this module)."""

    @web.authenticated
    @authorized(READ)
    async def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(OPENAPI.read_bytes())


class NotFoundHandler(FujitaHandler):
    """Anything else under fujita/api/ gets a JSON 404, not Jupyter's HTML page."""

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        raise web.HTTPError(404, f"No such API path: {self.request.path}")


# -- WebSockets -------------------------------------------------------------------------------


class FujitaSocket(FujitaMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """Authenticated on connect; each client's feed runs as one task, paced by its own socket:
    the next message is read from the source only once the previous one was written out."""

    _feed: asyncio.Task[None] | None = None

    def set_default_headers(self) -> None:
        """JupyterHandler's defaults make no sense on a WebSocket upgrade."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A refused handshake answers JSON like the REST API, not Jupyter's HTML page."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, FujitaError):
            message = error.message
        elif isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        else:
            message = self._reason
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message}))

    def check_handshake(self) -> None:
        """What tornado checks before the upgrade, checked first so a refusal is JSON too
        (tornado answers these in plain text of its own)."""
        headers = self.request.headers
        if headers.get("Upgrade", "").lower() != "websocket":
            raise web.HTTPError(400, 'Can "Upgrade" only to "WebSocket".')
        if "upgrade" not in [
            part.strip().lower() for part in headers.get("Connection", "").split(",")
        ]:
            raise web.HTTPError(400, '"Connection" must be "Upgrade".')
        origin = headers.get("Origin", headers.get("Sec-Websocket-Origin"))
        if origin is not None and not self.check_origin(origin):
            raise web.HTTPError(403, "Cross origin websockets not allowed")
        if headers.get("Sec-WebSocket-Version") not in ("7", "8", "13"):
            self.set_header("Sec-WebSocket-Version", "7, 8, 13")
            raise web.HTTPError(426, "Sec-WebSocket-Version must be 13.")

    async def authorize(self) -> None:
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, READ, AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403, "Not authorized to read fujita.")

    def start_feed(self, feed: AsyncIterator[dict[str, Any]]) -> None:
        self._feed = asyncio.create_task(self._send_all(feed))

    async def _send_all(self, feed: AsyncIterator[dict[str, Any]]) -> None:
        try:
            async for message in feed:
                written = self._send(message)
                if written is not None:
                    await written
        except WebSocketClosedError:
            pass

    def _send(self, message: dict[str, Any]) -> asyncio.Future[None] | None:
        """Write one message out (bytes, sent as text); the future is done once it is. None
        when it could not be encoded: one such record must not end the feed."""
        encodings: SharedEncodings = self.settings["fujita_encodings"]
        try:
            data = encodings.encode(message)
        except Exception:
            self.log.exception("jupyter_fujita: cannot encode a %s message", message["type"])
            return None
        return self.write_message(data)

    def on_close(self) -> None:
        if self._feed is not None:
            self._feed.cancel()
            self._feed = None

    def on_message(self, message: str | bytes) -> None:
        """Clients have nothing to say; what they send is ignored."""


class LogSocket(FujitaSocket):
    @ws_authenticated
    async def get(self, name: str) -> None:
        await self.authorize()
        self.check_handshake()
        try:
            self.supervisor = self.manager.get(name)
            self.since = self.int_argument("since", 0)
            self.log_id = self.get_query_argument("log_id", None) or None
            self.only = self.line_filter()
        except FujitaError as error:
            raise web.HTTPError(error.status, error.message) from None
        await super().get(name)

    def open(self, name: str) -> None:
        super().open()
        cache = self.supervisor.cache
        self._reader = LogFeed(cache, self.since or 0, MESSAGE_BYTES, self.log_id, self.only, True)
        self._written: asyncio.Future[None] | None = None
        cache.takers.add(self._send_new)
        self.start_feed(self._reader.messages())

    def _send_new(self, new: Appended) -> None:
        """Lines just read, sent in the turn they came (a turn sooner than the feed's task
        would) while nothing of this socket's is under way: the feed waits for lines and the
        last of these writes is out. Otherwise the feed's task sends them, paced."""
        if self._written is not None and not self._written.done():
            return
        try:
            for message in self._reader.take_new(new):
                self._written = self._send(message) or self._written
        except WebSocketClosedError:
            pass  # on_close follows
        except Exception:  # called as runserver's lines are read: reading them must go on
            self.log.exception("jupyter_fujita: cannot send new lines to a log client")

    def on_close(self) -> None:
        self.supervisor.cache.takers.discard(self._send_new)
        super().on_close()


class StatusSocket(FujitaSocket):
    @ws_authenticated
    async def get(self) -> None:
        await self.authorize()
        self.check_handshake()
        await super().get()

    def open(self) -> None:
        super().open()
        self.start_feed(self.manager.status_feed())


def handlers() -> list[tuple[str, type]]:
    api = "fujita/api"
    return [
        (rf"{api}/processes", ProcessesHandler),
        (rf"{api}/processes/{NAME}", ProcessHandler),
        (rf"{api}/processes/{NAME}/log", LogHandler),
        (rf"{api}/processes/{NAME}/log/ws", LogSocket),
        (rf"{api}/processes/{NAME}/log\.txt", LogTextHandler),
        (rf"{api}/processes/{NAME}/runs", RunsHandler),
        (rf"{api}/processes/{NAME}/actions/(?P<action>[^/]+)", HintActionHandler),
        (rf"{api}/processes/{NAME}/stdin", StdinHandler),
        (rf"{api}/processes/{NAME}/(?P<action>[^/]+)", LifecycleHandler),
        (rf"{api}/status/ws", StatusSocket),
        (rf"{api}/openapi\.json", OpenAPIHandler),
        (rf"{api}(?:/.*)?", NotFoundHandler),
    ]
