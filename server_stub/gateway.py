"""The msg-gateway WebSocket server (spec ws-protocol §1-4), on ``websockets``' asyncio server."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import time
import urllib.parse
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame
from websockets.http11 import Request, Response

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import PlatformClass, ReqIdentifier, is_valid_platform, platform_class
from openim_sdk.protocol.envelope import WsRequest, WsResponse, decode_request
from openim_sdk.protocol.errors import (
    ArgsError,
    CodecError,
    OpenIMError,
    ServerInternalError,
    TokenInvalidError,
)

from .metrics import request_started
from .push import next_conn_id
from .wire import encode_response
from .ws_handlers import HANDLERS, WsHandler
from .ws_pipeline import Outcome, Pipeline, Start, overlaps

if TYPE_CHECKING:
    from .app import ServerCore

log = logging.getLogger("server_stub.gateway")

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_CLOSE = object()
_BATCH = 32  # frames sent together at most (GatewayConnection.send_frames)


class ConnArgsError(OpenIMError):
    default_code = 1602


def parse_bool(text: str) -> bool:
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


@dataclass
class ConnArgs:
    user_id: str = ""
    token: str = ""
    platform_id: int = 0
    operation_id: str = ""
    compress: bool = False
    sdk_type: str = ""
    msg_resp: bool = False
    background: bool = False


def parse_args(path: str, headers: Headers) -> ConnArgs:
    """Steps 2-3 of the handshake validation (spec §1.3). Raises OpenIMError."""
    query = urllib.parse.urlsplit(path).query
    q: dict[str, str] = {}
    for k, v in urllib.parse.parse_qsl(query, keep_blank_values=True):
        q.setdefault(k, v)
    a = ConnArgs()
    present_op = True
    if q.get("v"):
        raw = q["v"]
        try:
            obj = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
            if not isinstance(obj, dict):
                raise ValueError("not an object")
            a.token = str(obj.get("token") or "")
            a.user_id = str(obj.get("userID") or "")
            pid = obj.get("platformID") or 0
            if not isinstance(pid, int) or isinstance(pid, bool):
                raise ValueError("platformID is not int")
            a.platform_id = pid
            a.operation_id = str(obj.get("operationID") or "")
            a.compress = obj.get("compression") == "gzip"
            a.sdk_type = str(obj.get("sdkType") or "")
            a.msg_resp = bool(obj.get("sendResponse"))
            a.background = bool(obj.get("background"))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise ConnArgsError(detail=f"invalid v parameter: {exc}") from None
    else:
        try:
            a.platform_id = int(q.get("platformID", ""))
        except ValueError:
            raise ConnArgsError(detail="platformID is not int") from None
        if "isMsgResp" in q:
            try:
                a.msg_resp = parse_bool(q["isMsgResp"])
            except ValueError:
                raise ConnArgsError(detail="isMsgResp is not bool") from None
        if "isBackground" in q:  # absent: accepted (pre-patch.14 clients)
            try:
                a.background = parse_bool(q["isBackground"])
            except ValueError as exc:
                raise ServerInternalError(detail=str(exc)) from None
        a.token = q.get("token", "")
        a.user_id = q.get("sendID", "")
        present_op = "operationID" in q
        a.operation_id = q.get("operationID", "")
        comp = q.get("compression", "") or headers.get("compression", "")
        a.compress = comp == "gzip"
        a.sdk_type = q.get("sdkType", "")
    if present_op and not a.operation_id:
        raise ConnArgsError(detail="operationID is empty")
    if not a.token:
        raise ConnArgsError(detail="token is empty")
    if not a.user_id:
        raise ConnArgsError(detail="sendID is empty")
    if not is_valid_platform(a.platform_id):
        raise ConnArgsError(detail=f"platformID {a.platform_id} is invalid")
    if a.sdk_type not in ("", "go", "js"):
        raise ConnArgsError(detail=f"sdkType {a.sdk_type} is invalid")
    return a


def _error_json(err: OpenIMError) -> str:
    return json.dumps({"errCode": err.code, "errMsg": err.message, "errDlt": err.detail}, separators=(",", ":"))


class GatewayConnection(ServerConnection):
    """Records the time of every received frame (data or control) for the read deadline."""

    last_activity: float = 0.0
    openim: Any = None

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame):
            self.last_activity = time.monotonic()
        super().process_event(event)

    async def send_frames(self, frames: list[str | bytes]) -> None:
        """Send whole messages (str: text, bytes: binary) together: one ``send_context`` (state
        check, one write, one flow-control wait) where ``send`` would go through it for each."""
        async with self.send_context():
            for frame in frames:
                if isinstance(frame, str):
                    self.protocol.send_text(frame.encode())
                else:
                    self.protocol.send_binary(frame)

    def send_data(self) -> None:
        """Hand the protocol's outgoing data to the transport, consecutive chunks joined into one
        write: an ack and a push queued together leave in one syscall (issue 16). An empty chunk
        is the protocol's end-of-stream mark: half-close when the transport can, else close."""
        chunks: list[bytes] = []
        for data in self.protocol.data_to_send():
            if data:
                chunks.append(data)
                continue
            if chunks:
                self.transport.write(b"".join(chunks))
                chunks = []
            if self.transport.can_write_eof():
                with contextlib.suppress(Exception):
                    self.transport.write_eof()
            else:
                self.transport.close()
        if chunks:
            self.transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))


@dataclass(eq=False, slots=True)
class Client:
    """One connection's state. An idle connection costs its websockets connection, the handler
    task's frame and this object: outgoing frames wait in a deque, and the writer task exists only
    while frames are waiting (bench/idle_connections.py; read deadlines and web pings are the
    gateway's one sweeper task)."""

    ws: GatewayConnection
    user_id: str
    platform_id: int
    token: str
    encoding: str
    compress: bool
    operation_id: str
    queue_size: int = 256
    is_background: bool = False
    conn_id: str = field(default_factory=next_conn_id)
    subscriptions: set[str] = field(default_factory=set)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    out: deque[Any] = field(default_factory=deque, init=False, repr=False)
    next_ping: float = field(default=0.0, init=False, repr=False)
    _closing: bool = field(default=False, init=False, repr=False)
    _timed_out: bool = field(default=False, init=False, repr=False)
    _writer: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    def _put(self, frame: Any) -> None:
        self.out.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())

    def enqueue(self, frame: Any) -> None:
        """Queue ``frame``; frames leave in the order they were queued. More than ``queue_size``
        waiting closes the connection (1011), as a full queue did before."""
        if self._closing:
            return
        if len(self.out) >= self.queue_size:
            log.warning("outbound queue full, closing %s/%s", self.user_id, self.conn_id)
            self._closing = True
            asyncio.ensure_future(self.ws.close(1011, "write queue full"))
            return
        self._put(frame)

    def close_after_flush(self) -> None:
        if not self._closing:
            self._closing = True
            if len(self.out) >= self.queue_size:
                asyncio.ensure_future(self.ws.close())
            else:
                self._put(_CLOSE)

    def kick(self) -> None:
        resp = WsResponse(req_identifier=int(ReqIdentifier.KICK_ONLINE_MSG))
        self.enqueue(encode_response(resp, self.encoding, self.compress))
        self.close_after_flush()

    async def _write(self) -> None:
        """Send the waiting frames, then end (the next :meth:`enqueue` starts a new writer; there
        is no await between the last check of the deque and the end, so no frame is left behind)."""
        try:
            out = self.out
            while out:
                if out[0] is _CLOSE:
                    await self.ws.close()
                    return
                batch: list[str | bytes] = []  # what is waiting now, up to the close mark: sent together
                while out and out[0] is not _CLOSE and len(batch) < _BATCH:
                    batch.append(out.popleft())
                await self.ws.send_frames(batch)
        except ConnectionClosed:
            self._closing = True  # nothing more can be sent on this connection
            self.out.clear()
        finally:
            self._writer = None

    async def flush_and_close(self, timeout: float) -> None:
        """Send what is queued, then close; give up (cancel the writer) after ``timeout`` seconds."""
        self.close_after_flush()
        writer = self._writer
        if writer is not None and not writer.done():
            try:
                await asyncio.wait_for(asyncio.shield(writer), timeout)
            except (TimeoutError, asyncio.CancelledError):
                writer.cancel()




class Gateway:
    def __init__(self, core: ServerCore) -> None:
        self.core = core
        self.config = core.config
        self.server: Server | None = None
        self._live: set[Client] = set()  # handshaken connections, for the sweeper
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, host: str, port: int) -> int:
        self.server = await serve(
            self._handler, host, port,  # type: ignore[arg-type]  # our ServerConnection subclass
            process_request=self._process_request,
            create_connection=GatewayConnection,
            max_size=self.config.ws_max_frame,
            ping_interval=None, ping_timeout=None, compression=None,
            max_queue=64, close_timeout=2,
        )
        self._sweeper = asyncio.create_task(self._sweep(), name="ws-sweeper")
        sock = next(iter(self.server.sockets))
        return int(sock.getsockname()[1])

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        if self.server is not None:
            self.server.close(close_connections=True)
            await self.server.wait_closed()
            self.server = None

    # -- handshake -------------------------------------------------------------------------

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        # the cap is checked first; like every handshake error it comes as a text frame after the
        # upgrade when the client asked for isMsgResp (ws_server.go wsHandler/handlerError)
        over = OpenIMError(1601, detail="too many connections") \
            if self.core.hub.count() >= self.config.ws_max_conn else None
        try:
            args = parse_args(request.path, request.headers)
        except OpenIMError as err:
            return self._http_error(conn, over or err)
        if over is not None:
            if not args.msg_resp:
                return self._http_error(conn, over)
            conn.openim = (args, over)  # type: ignore[attr-defined]
            return None
        failure: OpenIMError | None = None
        try:
            claims = await self.core.tokens.parse(args.token)
            if claims.user_id != args.user_id or claims.platform_id != args.platform_id:
                raise TokenInvalidError(detail="token does not match sendID/platformID")
        except OpenIMError as err:
            if not args.msg_resp:
                return self._http_error(conn, err)
            failure = err
        conn.openim = (args, failure)  # type: ignore[attr-defined]
        return None

    @staticmethod
    def _http_error(conn: ServerConnection, err: OpenIMError) -> Response:
        log.info("ws handshake refused: %s", err)
        resp = conn.respond(200, _error_json(err))
        del resp.headers["Content-Type"]
        resp.headers["Content-Type"] = "application/json; charset=utf-8"
        return resp

    # -- connection --------------------------------------------------------------------------

    async def _handler(self, ws: GatewayConnection) -> None:
        args, failure = ws.openim
        if failure is not None:
            await ws.send(_error_json(failure))
            await ws.close()
            return
        if args.msg_resp:
            await ws.send('{"errCode":0,"errMsg":"","errDlt":""}')
        client = Client(ws, args.user_id, args.platform_id, args.token,
                        "json" if args.sdk_type == "js" else "gob", args.compress, args.operation_id,
                        queue_size=self.config.ws_queue_size)
        ws.last_activity = time.monotonic()
        if args.platform_id == 5:  # web: the server pings (the sweeper, every ws_ping_period)
            client.next_ping = ws.last_activity + self.config.ws_ping_period
        self._live.add(client)
        before = self.core.hub.of(args.user_id)
        kicked = self.core.hub.register(client)
        self.core.webhooks.user_online(client, kicked)
        await self._login_tokens(client, before, kicked)
        log.info("ws connected user=%s platform=%d conn=%s enc=%s gzip=%s", client.user_id, client.platform_id,
                 client.conn_id, client.encoding, client.compress, extra={"operationID": args.operation_id})
        try:
            await self._read_loop(client)
        finally:
            self._live.discard(client)
            self.core.hub.unregister(client)
            self.core.webhooks.user_offline(client)
            await client.flush_and_close(2)
            client.closed.set()
            log.info("ws closed user=%s conn=%s", client.user_id, client.conn_id,
                     extra={"operationID": args.operation_id})

    async def _login_tokens(self, client: Client, before: list[Client], kicked: list[Client]) -> None:
        """The token side of ``multiTerminalLoginChecker`` (internal/msggateway/ws_server.go): policy 1
        invalidates the other tokens of the platform whenever the user already had a connection there,
        policy 5 whenever a non-PC login finds any connection; policy 4 kicks exactly the tokens of the
        connections it closed."""
        policy, pid = self.config.multi_login_policy, client.platform_id
        if policy == 1 and any(c.platform_id == pid for c in before) or \
                policy == 5 and before and platform_class(pid) != PlatformClass.PC:
            await self.core.tokens.invalidate_others(client.user_id, pid, client.token)
        elif policy == 4 and kicked:
            await self.core.tokens.kick_tokens(client.user_id, [c.token for c in kicked])

    async def _sweep(self) -> None:
        """One task for every connection's timers: the read deadline (no frame, data or control,
        for ``ws_read_timeout`` seconds: close 1000 "read timeout") and the server's pings to web
        clients every ``ws_ping_period`` seconds. Checked every tenth of the read timeout (at most
        every second), so a deadline is enforced within that much of its time."""
        timeout, period = self.config.ws_read_timeout, self.config.ws_ping_period
        tick = max(0.02, min(1.0, timeout / 10))
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for client in list(self._live):
                ws = client.ws
                if not client._timed_out and now - ws.last_activity >= timeout:
                    client._timed_out = True
                    log.info("read deadline passed, closing %s", client.conn_id)
                    asyncio.ensure_future(ws.close(1000, "read timeout"))
                elif client.next_ping and now >= client.next_ping:
                    client.next_ping = now + period
                    asyncio.ensure_future(self._ping(ws))

    @staticmethod
    async def _ping(ws: GatewayConnection) -> None:
        try:
            await ws.ping(b"")
        except ConnectionClosed:
            return

    async def _read_loop(self, client: Client) -> None:
        """Read requests until the connection ends; sends overlap, everything else is a barrier
        (server_stub/ws_pipeline.py). Requests already started are answered before this returns."""
        ws = client.ws
        pipe = Pipeline(lambda outcome: self._finish(client, outcome))
        try:
            while True:
                await pipe.room()  # back-pressure: at most MAX_IN_FLIGHT requests waiting
                try:
                    frame = await ws.recv()
                except ConnectionClosed:
                    return
                if isinstance(frame, str):
                    refused = self._on_text(client, frame)
                    if refused is not None:
                        await pipe.drain()
                        await ws.close(*refused)
                        return
                    continue
                try:
                    req = decode_request(frame, client.encoding, client.compress, self.config.ws_max_frame)  # type: ignore[arg-type]
                except OpenIMError as err:
                    log.info("bad frame from %s: %s", client.conn_id, err)
                    await pipe.drain()
                    await ws.close(1007, "bad frame")
                    return
                handler = HANDLERS.get(req.req_identifier)
                if req.send_id != client.user_id or handler is None:
                    await pipe.drain()  # the requests before it are answered first
                    await ws.close(1008, "sendID mismatch" if req.send_id != client.user_id
                                   else "unknown reqIdentifier")
                    return
                request_started.set(time.perf_counter())  # push latency is timed from here (metrics.py)
                if overlaps(req.req_identifier):
                    pipe.start(self._runner(client, req, handler))  # copies the context: request_started
                    continue
                await pipe.drain()
                self._finish(client, await self._answer(client, req, handler, None))
                if req.req_identifier == ReqIdentifier.LOGOUT_MSG:
                    client.close_after_flush()
                    return
        finally:
            await pipe.drain()

    def _runner(self, client: Client, req: WsRequest, handler: WsHandler) -> Start:
        return lambda queued: self._answer(client, req, handler, queued)

    async def _answer(self, client: Client, req: WsRequest, handler: WsHandler,
                      queued: Callable[[], None] | None) -> Outcome:
        """Run ``handler``; every failure becomes an answer in OpenIM's error format."""
        try:
            data, after = await handler(self, client, req, queued)
            return req, WsResponse(req.req_identifier, req.msg_incr, req.operation_id, 0, "", data), after
        except OpenIMError as err:
            resp = WsResponse(req.req_identifier, req.msg_incr, req.operation_id, err.code, err.message, b"")
        except DecodeError as exc:  # upstream: non-coded 500; undecodable input is an ArgsError here
            resp = WsResponse(req.req_identifier, req.msg_incr, req.operation_id, ArgsError.default_code,
                              "ArgsError", b"")
            log.info("protobuf decode failed: %s", exc, extra={"operationID": req.operation_id})
        except Exception:  # a bug must not take the connection down: 500, as upstream for non-coded errors
            resp = WsResponse(req.req_identifier, req.msg_incr, req.operation_id, 500,
                              "ServerInternalError", b"")
            log.exception("ws %d handler failed", req.req_identifier, extra={"operationID": req.operation_id})
        return req, resp, None

    def _finish(self, client: Client, outcome: Outcome) -> None:
        """Queue the answer, then run what follows it (a send's pushes)."""
        req, resp, after = outcome
        client.enqueue(encode_response(resp, client.encoding, client.compress))
        self.core.metrics.ws_request(req.req_identifier, resp.err_code)
        log.info("ws %d user=%s -> %d", req.req_identifier, client.user_id, resp.err_code,
                 extra={"operationID": req.operation_id})
        if after is not None:
            after()

    def _on_text(self, client: Client, text: str) -> tuple[int, str] | None:
        """Answer a text heartbeat; for any other text frame, the close code and reason for this
        connection: 1007 when it is not decodable JSON (malformed, nested deeper than
        ``jsoncodec.MAX_DEPTH``, lone surrogates), 1003 when it is JSON but not a ping/pong."""
        try:
            obj = jsoncodec.loads(text)
            if not isinstance(obj, dict) or obj.get("type") not in ("ping", "pong"):
                return 1003, "bad text frame: not a ping/pong"
            if obj["type"] == "ping":
                body = jsoncodec.dumps(obj.get("body")).decode("utf-8")
                client.enqueue('{"type":"pong","body":' + body + "}")
            return None
        except (CodecError, RecursionError, ValueError, UnicodeError) as exc:
            log.info("bad text frame from %s: %s", client.conn_id, exc)
            return 1007, "bad text frame: invalid JSON"
