"""What an app sees: messages and conversations as plain dataclasses, built from cache rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .protocol.constants import ContentType, MsgStatus, SessionType, is_notification_content
from .protocol.conversation_id import is_notification_conversation
from .store import Conversation as ConversationRow
from .store import StoredMessage, preview_text


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
    content_json: str = "{}"
    seq: int = 0
    server_msg_id: str = ""
    send_time: int = 0
    create_time: int = 0
    status: int = MsgStatus.SENDING
    is_read: bool = False
    sender_nickname: str = ""
    at_user_ids: list[str] = field(default_factory=list)
    ex: str = ""

    @cached_property
    def content(self) -> dict[str, Any]:
        """The content element (``{"content": "hi"}`` for a text), ``{}`` if unreadable."""
        try:
            value = json.loads(self.content_json) if self.content_json else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @property
    def text(self) -> str:
        """A one-line human preview of the content."""
        return preview_text(self.content_type, self.content_json)

    @property
    def is_notification(self) -> bool:
        return is_notification_content(self.content_type)

    @property
    def is_revoked(self) -> bool:
        return self.content_type == ContentType.MSG_REVOKE_NOTIFICATION

    @property
    def time(self) -> int:
        return self.send_time or self.create_time

    @classmethod
    def from_row(cls, row: StoredMessage) -> Message:
        at: list[str] = []
        if row.content_type == ContentType.AT_TEXT and row.raw:
            at = list(row.to_msg().atUserIDList)
        return cls(
            client_msg_id=row.client_msg_id, conversation_id=row.conversation_id, send_id=row.send_id,
            recv_id=row.recv_id, group_id=row.group_id, session_type=row.session_type,
            content_type=row.content_type, content_json=row.content, seq=row.seq,
            server_msg_id=row.server_msg_id, send_time=row.send_time, create_time=row.create_time,
            status=row.status, is_read=row.is_read, sender_nickname=row.sender_nickname,
            at_user_ids=at, ex=row.ex,
        )


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
    def is_group(self) -> bool:
        return self.conversation_type == SessionType.READ_GROUP_CHAT

    @property
    def is_notification(self) -> bool:
        return is_notification_conversation(self.conversation_id)

    @classmethod
    def from_row(cls, row: ConversationRow) -> Conversation:
        return cls(
            conversation_id=row.conversation_id, conversation_type=row.conversation_type,
            user_id=row.user_id, group_id=row.group_id, show_name=row.show_name, face_url=row.face_url,
            latest_text=row.latest_msg_preview, latest_time=max(row.latest_msg_send_time, row.draft_time),
            latest_client_msg_id=row.latest_msg_client_id, unread_count=row.unread_count,
            is_pinned=row.is_pinned, recv_msg_opt=row.recv_msg_opt, draft=row.draft, max_seq=row.max_seq,
            has_read_seq=row.has_read_seq,
        )
