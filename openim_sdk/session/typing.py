"""Typing: who is typing where (an online-only message, content type 113, never stored).

The part keeps the "is typing" state with a time-to-live on the session's monotonic clock, turns
incoming typing messages into :class:`~openim_sdk.events.TypingChanged` and builds the message to
tell a peer we type; the client only sends it.
"""

from __future__ import annotations

import json

from .. import events as ev
from ..protocol.constants import ONLINE_ONLY_OPTIONS, ContentType, MsgFrom, SessionType
from ..protocol.conversation_id import single_conversation_id
from ..protocol.pb.sdkws import sdkws_pb2
from .context import SessionContext

#: Seconds a "typing" lasts without a refresh (the official apps send one every few seconds).
TYPING_TTL = 6.0


class Typing:
    def __init__(self, ctx: SessionContext, ttl: float = TYPING_TTL) -> None:
        self._ctx = ctx
        self._ttl = ttl
        self._until: dict[tuple[str, str], float] = {}

    def on_message(self, conversation_id: str, m: sdkws_pb2.MsgData) -> None:
        """A typing message arrived (ours from another device are ignored)."""
        if m.sendID == self._ctx.user_id:
            return
        try:
            tips = json.loads(m.content or b"{}").get("msgTips", "")
        except (ValueError, AttributeError):
            tips = ""
        typing = tips != "no"
        cid = (single_conversation_id(m.sendID, m.recvID) if m.sessionType == SessionType.SINGLE_CHAT
               else conversation_id)
        self._until[(cid, m.sendID)] = self._ctx.monotonic() + self._ttl if typing else 0.0
        self._ctx.emit(ev.TypingChanged(cid, m.sendID, typing))

    def is_typing(self, conversation_id: str, user_id: str) -> bool:
        return self._until.get((conversation_id, user_id), 0.0) > self._ctx.monotonic()

    def message(self, recv_id: str, typing: bool, *, client_msg_id: str, platform_id: int) -> sdkws_pb2.MsgData:
        """The online-only message telling ``recv_id`` we (stopped) typing."""
        md = sdkws_pb2.MsgData(
            sendID=self._ctx.user_id, recvID=recv_id, clientMsgID=client_msg_id, senderPlatformID=platform_id,
            sessionType=SessionType.SINGLE_CHAT, msgFrom=MsgFrom.USER, contentType=ContentType.TYPING,
            createTime=self._ctx.now_ms(), content=json.dumps({"msgTips": "yes" if typing else "no"}).encode(),
        )
        md.options.update(ONLINE_ONLY_OPTIONS)
        return md
