"""What an app sees: messages and conversations as plain dataclasses, decoded from MsgData."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .protocol.constants import ContentType, MsgStatus, SessionType
from .protocol.conversation_id import conversation_id_for, is_notification_conversation
from .protocol.pb.sdkws import sdkws_pb2

_LABELS = {
    ContentType.PICTURE: "[picture]",
    ContentType.VOICE: "[voice]",
    ContentType.VIDEO: "[video]",
    ContentType.FILE: "[file]",
    ContentType.CARD: "[card]",
    ContentType.LOCATION: "[location]",
    ContentType.CUSTOM: "[custom]",
    ContentType.MERGER: "[chat history]",
    ContentType.FACE: "[sticker]",
    ContentType.MSG_REVOKE_NOTIFICATION: "[message revoked]",
}


@dataclass
class Message:
    """One chat message (or system notification) as stored in the local cache."""

    client_msg_id: str
    conversation_id: str
    send_id: str
    recv_id: str = ""
    group_id: str = ""
    session_type: int = SessionType.SINGLE_CHAT
    content_type: int = ContentType.TEXT
    content: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    server_msg_id: str = ""
    send_time: int = 0
    create_time: int = 0
    status: int = MsgStatus.SENDING
    is_read: bool = False
    sender_nickname: str = ""
    at_user_ids: list[str] = field(default_factory=list)
    ex: str = ""

    @property
    def text(self) -> str:
        """A one-line human preview of the content."""
        return preview(self.content_type, self.content)

    @property
    def is_notification(self) -> bool:
        return ContentType.NOTIFICATION_BEGIN <= self.content_type <= ContentType.NOTIFICATION_END

    @property
    def time(self) -> int:
        return self.send_time or self.create_time

    @classmethod
    def from_msg_data(cls, md: sdkws_pb2.MsgData, conversation_id: str | None = None) -> Message:
        try:
            content = json.loads(md.content.decode("utf-8")) if md.content else {}
        except (UnicodeDecodeError, ValueError):
            content = {"raw": md.content.decode("utf-8", "replace")}
        if not isinstance(content, dict):
            content = {"value": content}
        if conversation_id is None:
            notif = dict(md.options).get("isNotNotification") is False
            try:
                conversation_id = conversation_id_for(md.sessionType, md.sendID, md.recvID, md.groupID,
                                                      notification=notif)
            except ValueError:
                conversation_id = ""
        return cls(
            client_msg_id=md.clientMsgID, conversation_id=conversation_id, send_id=md.sendID,
            recv_id=md.recvID, group_id=md.groupID, session_type=md.sessionType,
            content_type=md.contentType, content=content, seq=md.seq, server_msg_id=md.serverMsgID,
            send_time=md.sendTime, create_time=md.createTime, status=md.status or MsgStatus.SEND_SUCCESS,
            is_read=md.isRead, sender_nickname=md.senderNickname, at_user_ids=list(md.atUserIDList), ex=md.ex,
        )


def preview(content_type: int, content: dict[str, Any]) -> str:
    if content_type == ContentType.TEXT:
        return str(content.get("content", ""))
    if content_type in (ContentType.AT_TEXT, ContentType.QUOTE, ContentType.ADVANCED_TEXT,
                        ContentType.MARKDOWN_TEXT):
        return str(content.get("text", ""))
    if content_type == ContentType.FILE:
        return f"[file] {content.get('fileName', '')}".strip()
    if content_type in _LABELS:
        return _LABELS[ContentType(content_type)]
    if ContentType.NOTIFICATION_BEGIN <= content_type <= ContentType.NOTIFICATION_END:
        try:
            name = ContentType(content_type).name.replace("_", " ").lower()
        except ValueError:
            name = f"notification {content_type}"
        return f"[{name}]"
    return f"[{content_type}]"


@dataclass
class Conversation:
    """A conversation as the local cache knows it."""

    conversation_id: str
    conversation_type: int = SessionType.SINGLE_CHAT
    user_id: str = ""  # the peer, for single chats
    group_id: str = ""
    show_name: str = ""
    face_url: str = ""
    latest_text: str = ""
    latest_time: int = 0
    latest_client_msg_id: str = ""
    unread_count: int = 0
    is_pinned: bool = False
    recv_msg_opt: int = 0
    draft: str = ""
    max_seq: int = 0
    has_read_seq: int = 0

    @property
    def title(self) -> str:
        return self.show_name or self.group_id or self.user_id or self.conversation_id

    @property
    def is_muted(self) -> bool:
        return self.recv_msg_opt != 0

    @property
    def is_notification(self) -> bool:
        return is_notification_conversation(self.conversation_id)
