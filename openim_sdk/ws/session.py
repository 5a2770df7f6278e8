"""One live socket of the long connection: reads and routes frames (replies to their waiters,
pushes, kicks, status changes), answers the server's text pings, and sends the heartbeat; it
ends by saying why (:class:`SessionEnd`). The reconnect loop
(:class:`~openim_sdk.ws.connection.LongConnection`) owns what happens next."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from openim_sdk.protocol.constants import ReqIdentifier
from openim_sdk.protocol.envelope import Encoding, WsResponse, decode_response
from openim_sdk.protocol.errors import (
    CodecError,
    InvalidResponseError,
    KickedError,
    NetworkError,
    OpenIMError,
)
from openim_sdk.rest._transport import new_operation_id
from openim_sdk.ws.events import ErrorOccurred, Event, PushReceived, StatusChange, UnsolicitedFrame
from openim_sdk.ws.handshake import handshake_result
from openim_sdk.ws.requests import PendingRequests

log = logging.getLogger("openim_sdk.ws")


class SessionEnd(Exception):
    """Why a live session ended (``error`` fatal or not)."""

    def __init__(self, reason: str, error: OpenIMError | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True, slots=True)
class SessionSettings:
    encoding: Encoding
    compress: bool
    max_frame: int
    heartbeat_interval: float
    pong_timeout: float
    text_heartbeat: bool


def _log_extra(operation_id: str) -> dict[str, str]:
    return {"operationID": operation_id}


class LiveSession:
    """``closing()``: the connection is being closed or logged out (a 2003 reply then ends it)."""

    def __init__(self, ws: ClientConnection, cfg: SessionSettings, pending: PendingRequests,
                 emit: Callable[[Event], None], closing: Callable[[], bool]) -> None:
        self._ws = ws
        self._cfg = cfg
        self._pending = pending
        self._emit = emit
        self._closing = closing
        self.heartbeat_error: OpenIMError | None = None

    async def run(self, early: bytes | None, name: str) -> SessionEnd:
        """Until the socket ends; ``early``: a binary frame that came before the handshake result."""
        heartbeat = asyncio.create_task(self._heartbeat(), name=name)
        try:
            if early is not None:
                end = await self._on_binary(early)
                if end is not None:
                    return end
            return await self._read_loop()
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await heartbeat

    async def _read_loop(self) -> SessionEnd:
        ws = self._ws
        try:
            async for msg in ws:
                if isinstance(msg, str):
                    end = await self._on_text(msg)
                else:
                    end = await self._on_binary(msg)
                if end is not None:
                    return end
        except ConnectionClosed:
            pass
        if self.heartbeat_error is not None:
            return SessionEnd("heartbeat timeout", self.heartbeat_error)
        code = ws.close_code
        reason = f"connection closed (code {code}{', ' + ws.close_reason if ws.close_reason else ''})"
        return SessionEnd(reason, NetworkError(message="connection lost", detail=reason))

    async def _on_binary(self, frame: bytes) -> SessionEnd | None:
        try:
            resp = decode_response(frame, self._cfg.encoding, self._cfg.compress, max_size=self._cfg.max_frame)
        except CodecError as e:
            # A broken frame means a broken stream: drop this connection and redial.
            log.error("ws undecodable frame: %s", e)
            self._emit(ErrorOccurred(e, where="decode"))
            return SessionEnd("undecodable frame", NetworkError(message="undecodable frame", detail=str(e)))
        return self._on_frame(resp)

    def _on_frame(self, resp: WsResponse) -> SessionEnd | None:
        ident = resp.req_identifier
        pending = self._pending.answer(resp)
        if pending is not None:
            log.debug(
                "ws reply %s errCode=%s [operationID=%s]",
                ident,
                resp.err_code,
                pending.operation_id,
                extra=_log_extra(pending.operation_id),
            )
            if ident == ReqIdentifier.SUB_USER_ONLINE_STATUS and resp.err_code == 0 and resp.data:
                self._emit(StatusChange(resp, solicited=True))
            return None
        if ident == ReqIdentifier.PUSH_MSG:
            log.debug("ws push [operationID=%s]", resp.operation_id, extra=_log_extra(resp.operation_id))
            self._emit(PushReceived(resp))
            return None
        if ident == ReqIdentifier.KICK_ONLINE_MSG:
            err = KickedError(
                message="kicked offline",
                detail="the server sent 2002 KickOnlineMsg",
                operation_id=resp.operation_id,
            )
            return SessionEnd("kicked", err)
        if ident == ReqIdentifier.SUB_USER_ONLINE_STATUS:
            self._emit(StatusChange(resp))
            return None
        if ident == ReqIdentifier.LOGOUT_MSG and self._closing():
            return SessionEnd("logged out", None)
        log.warning("ws unsolicited frame %s msgIncr=%r", ident, resp.msg_incr)
        self._emit(UnsolicitedFrame(resp))
        return None

    async def _on_text(self, text: str) -> SessionEnd | None:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc.get("type") == "ping":
            reply = json.dumps({"type": "pong", "body": doc.get("body")}, separators=(",", ":"))
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(reply)
            return None
        if isinstance(doc, dict) and doc.get("type") == "pong":
            return None
        if isinstance(doc, dict) and isinstance(doc.get("errCode"), int):
            err = handshake_result(text, "")
            if err is None:  # a repeated success frame
                return None
            return SessionEnd(f"server error {err.code}", err)
        err2 = InvalidResponseError(message="unexpected text frame", detail=text[:200])
        log.warning("ws %s", err2)
        self._emit(ErrorOccurred(err2, where="text"))
        return None

    async def _heartbeat(self) -> None:
        ws, cfg = self._ws, self._cfg
        while True:
            await asyncio.sleep(cfg.heartbeat_interval)
            opid = new_operation_id()
            try:
                waiter = await ws.ping(opid.encode())
                if cfg.text_heartbeat:
                    await ws.send(json.dumps({"type": "ping", "body": opid}, separators=(",", ":")))
                log.debug("ws ping [operationID=%s]", opid, extra=_log_extra(opid))
                await asyncio.wait_for(waiter, timeout=cfg.pong_timeout)
            except ConnectionClosed:
                return
            except TimeoutError:
                self.heartbeat_error = NetworkError(
                    message="heartbeat timeout",
                    detail=f"no pong within {cfg.pong_timeout} s",
                    operation_id=opid,
                )
                log.warning("ws %s", self.heartbeat_error, extra=_log_extra(opid))
                await ws.close(code=1011, reason="keepalive ping timeout")
                return
