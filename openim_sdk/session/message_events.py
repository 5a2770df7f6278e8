"""Message-level notifications: revoke (2101), delete (2102), read receipt (2200), business (2001).

Each handler changes the cache first and then emits the event the official core would
(``OnNewRecvMessageRevoked``, deletes from another device, ``OnRecvC2CReadReceipt``,
``OnRecvCustomBusinessMessage``).

How a part handles notifications (the same for friends/groups 1200-1520 and conversations
1300/1701-1703): build it with the session's :class:`~openim_sdk.session.context.NotificationRouter`
and register the content types it owns in its constructor::

    class Friends:
        def __init__(self, ctx: SessionContext, router: NotificationRouter) -> None:
            self._ctx = ctx
            router.register(range(1201, 1211), self._on_friend_notification)

        async def _on_friend_notification(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
            ...  # detail: the decoded "detail" JSON (use jsoncodec.from_go_json for the tips message)

The client builds every part at construction and dispatches each notification message once
(``router.dispatch(m)``) after it is stored, in seq order, under the session lock: a handler may
read and write the cache (``await ctx.run(...)``) and emit events, and must not wait on the
connection's replies (spawn that work with ``ctx.spawn`` instead).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..models import Message
from ..protocol import jsoncodec
from ..protocol.constants import ContentType
from ..protocol.pb.sdkws import sdkws_pb2
from ..sync.pending import PendingEdits
from .context import NotificationRouter, SessionContext
from .conversations import record_read

if TYPE_CHECKING:
    from ..store.conversations import _ConversationRow as ConversationRow

log = logging.getLogger(__name__)

ConversationChanged = Callable[["ConversationRow | None"], Awaitable[None]]


class MessageEvents:
    """Owns revokes, deletes, read receipts (and the peers' read seqs) and business notifications."""

    CONTENT_TYPES = (
        ContentType.MSG_REVOKE_NOTIFICATION,
        ContentType.DELETE_MSGS_NOTIFICATION,
        ContentType.HAS_READ_RECEIPT,
        ContentType.BUSINESS_NOTIFICATION,
    )

    def __init__(self, ctx: SessionContext, router: NotificationRouter, pending: PendingEdits,
                 conversation_changed: ConversationChanged) -> None:
        self._ctx = ctx
        self._pending = pending
        self._conversation_changed = conversation_changed
        self._peer_read: dict[str, int] = {}
        router.register([ContentType.MSG_REVOKE_NOTIFICATION], self._on_revoke)
        router.register([ContentType.DELETE_MSGS_NOTIFICATION], self._on_delete)
        router.register([ContentType.HAS_READ_RECEIPT], self._on_read)
        router.register([ContentType.BUSINESS_NOTIFICATION], self._on_business)

    def peer_read_seq(self, conversation_id: str) -> int:
        """The highest seq the other side of a single chat is known to have read."""
        return self._peer_read.get(conversation_id, 0)

    async def _on_revoke(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        store = self._ctx.store
        tips = jsoncodec.from_go_json(sdkws_pb2.RevokeMsgTips, detail)
        if not tips.clientMsgID:
            return
        row = await self._ctx.run(store.message, tips.clientMsgID)
        if row is None:  # the message is not here yet: revoke it on arrival
            self._pending.revoke_later(tips.clientMsgID, m.content)
            return
        md = row.to_msg()
        md.contentType = ContentType.MSG_REVOKE_NOTIFICATION
        md.content = m.content
        await self._ctx.run(store.upsert_messages, [md], row.conversation_id)
        updated = await self._ctx.run(store.message, tips.clientMsgID)
        if updated is not None:
            self._ctx.emit(ev.MessageRevoked(Message.from_row(updated), tips.revokerUserID))

    async def _on_delete(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        tips = jsoncodec.from_go_json(sdkws_pb2.DeleteMsgsTips, detail)
        rows = await self._ctx.run(self._ctx.store.mark_deleted, tips.conversationID, tips.seqs)
        self._pending.delete_later(tips.conversationID, set(tips.seqs) - {r.seq for r in rows})
        for r in rows:
            self._ctx.emit(ev.MessageDeleted(Message.from_row(r)))

    async def _on_read(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        store = self._ctx.store
        tips = jsoncodec.from_go_json(sdkws_pb2.MarkAsReadTips, detail)
        cid = tips.conversationID
        read = tips.hasReadSeq or max(tips.seqs, default=0)
        if tips.markAsReadUserID == self._ctx.user_id:  # read on another of our devices
            conv = await self._ctx.run(record_read, store, cid, read)
            await self._conversation_changed(conv.to_row() if conv is not None else None)
        else:
            self._peer_read[cid] = max(self._peer_read.get(cid, 0), read)
        self._ctx.emit(ev.ReadReceipt(cid, tips.markAsReadUserID, read))

    async def _on_business(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        key, data = detail.get("key"), detail.get("data")
        if not isinstance(key, str):
            log.info("business notification %s without a key", m.clientMsgID)
            return
        self._ctx.emit(ev.BusinessNotification(key, data if isinstance(data, str) else "", m.sendID,
                                               m.sendTime))
