"""The session side of the outbox: reads queued messages from the cache, sends them over the
connection and settles the answers in the cache and the events (the :class:`SendPort` the
:class:`~openim_sdk.session.outbox.OutboxDriver` runs against).

A refusal keeps the server's error: ``MessageSendFailed.error`` (``code``, ``reason``) and
:meth:`MessageSender.error_of` (what ``OpenIMClient.wait_sent`` raises).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from .. import events as ev
from ..models import Message
from ..protocol.constants import MsgStatus, ReqIdentifier
from ..protocol.errors import NetworkError, OpenIMError
from ..protocol.pb.msg import msg_pb2
from .context import SessionContext
from .emitter import as_openim
from .sync_driver import SyncDriver

log = logging.getLogger(__name__)

ERRORS_KEPT = 1_000


class Connection(Protocol):
    @property
    def connected(self) -> bool: ...

    async def request(self, req_identifier: int, data: bytes) -> Any: ...


class MessageSender:
    def __init__(self, ctx: SessionContext, conn: Connection, sync: SyncDriver,
                 session_connected: Callable[[], bool]) -> None:
        self._ctx = ctx
        self._conn = conn
        self._sync = sync
        self._session_connected = session_connected
        self._errors: dict[str, OpenIMError] = {}

    def error_of(self, client_msg_id: str) -> OpenIMError | None:
        """Why the server refused this message (this process's last attempt), if it did."""
        return self._errors.get(client_msg_id)

    @property
    def can_send(self) -> bool:
        return self._session_connected() and self._conn.connected

    async def payload(self, client_msg_id: str) -> bytes | None:
        row = await self._ctx.run(self._ctx.store.message, client_msg_id)
        if row is None or row.status == MsgStatus.SEND_SUCCESS:
            return None  # deleted meanwhile, or its numbered copy already arrived
        md = row.to_msg()
        md.status = 0
        md.sendTime = 0
        return md.SerializeToString()

    async def transmit(self, client_msg_id: str, payload: bytes) -> bytes:
        self._errors.pop(client_msg_id, None)
        if not self._conn.connected:  # never wait for the next connection: an earlier send may be
            raise NetworkError(message="not connected")  # on its way back to the queue
        resp = await self._conn.request(ReqIdentifier.SEND_MSG, payload)
        return bytes(resp.data)

    async def accepted(self, client_msg_id: str, reply: bytes) -> None:
        store = self._ctx.store
        ack = msg_pb2.SendMsgResp.FromString(reply)

        def settle() -> Message | None:
            current = store.message(client_msg_id)
            if current is not None and current.seq == 0:  # the push may already have numbered it
                store.merge_sent(client_msg_id, 0, ack.serverMsgID, ack.sendTime)
                current = store.message(client_msg_id)
            return Message.from_row(current) if current is not None else None

        async with self._sync.lock:
            sent = await self._ctx.run(settle)
            if self._sync.engine is not None:
                self._sync.engine.on_send_ack(client_msg_id, ack.serverMsgID, ack.sendTime)
        if sent is not None:
            self._sync.report_sent(sent)

    async def refused(self, client_msg_id: str, error: BaseException) -> None:
        err = as_openim(error)
        self._errors[client_msg_id] = err
        while len(self._errors) > ERRORS_KEPT:
            self._errors.pop(next(iter(self._errors)))
        store = self._ctx.store
        await self._ctx.run(store.set_message_status, client_msg_id, MsgStatus.SEND_FAILED)
        failed = await self._ctx.run(store.message, client_msg_id)
        log.info("send of %s refused: %s", client_msg_id, err)
        if failed is not None:
            self._ctx.emit(ev.MessageSendFailed(Message.from_row(failed), err))

    async def retrying(self, client_msg_id: str, error: BaseException) -> None:
        if not isinstance(error, OpenIMError):  # a local surprise: say so, the message is kept
            log.error("send of %s failed", client_msg_id, exc_info=error)
            self._ctx.emit(ev.ErrorEvent(as_openim(error), "send"))
        else:
            log.info("send of %s will be retried: %s", client_msg_id, error)
