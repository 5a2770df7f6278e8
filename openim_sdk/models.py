"""What an app sees: messages and conversations as plain dataclasses, built from cache rows."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .protocol.constants import ContentType, MsgStatus, SessionType, is_notification_content
from .protocol.conversation_id import is_notification_conversation
from .store import StoredMessage, preview_text
from .store.text import search_text

if TYPE_CHECKING:
    from .store.conversations import _ConversationRow


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
    local_ex: str = ""

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
        """A one-line human preview of the content (whitespace folded, at most 200 characters):
        for lists and notifications. The whole text is :attr:`full_text`."""
        return preview_text(self.content_type, self.content_json)

    @property
    def full_text(self) -> str:
        """The whole text, as sent: a text's ``content``, the ``text`` of an @-text, quote,
        advanced or Markdown text, a file's name, a card's nickname... ('' for media without text)."""
        return search_text(self.content_type, self.content_json)

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
            at_user_ids=at, ex=row.ex, local_ex=row.local_ex,
        )


@dataclass
class Conversation:
    """A conversation as the local cache knows it: the Go core's ``LocalConversation``.

    ``latest_msg`` is the latest message as the official core's ``MsgStruct`` JSON (``""`` when
    none); ``latest_text``/``latest_time``/``latest_client_msg_id`` are its preview, send time and
    clientMsgID. ``group_at_type``: 0 normal, 1 @me, 2 @all, 3 @all and @me, 4 group notice.
    A conversation with ``latest_time == 0`` is hidden (the official list leaves it out).
    """

    conversation_id: str
    conversation_type: int = SessionType.SINGLE_CHAT
    user_id: str = ""  # the peer, for single chats
    group_id: str = ""
    show_name: str = ""
    face_url: str = ""
    latest_text: str = ""
    latest_time: int = 0
    latest_client_msg_id: str = ""
    latest_msg: str = ""
    unread_count: int = 0
    is_pinned: bool = False
    recv_msg_opt: int = 0
    draft: str = ""
    draft_time: int = 0
    max_seq: int = 0
    min_seq: int = 0
    has_read_seq: int = 0
    group_at_type: int = 0
    is_private_chat: bool = False
    burn_duration: int = 30
    is_not_in_group: bool = False
    attached_info: str = ""
    ex: str = ""
    update_unread_count_time: int = 0
    msg_destruct_time: int = 604800
    is_msg_destruct: bool = False

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

    @property
    def is_hidden(self) -> bool:
        """No latest message (never had one, hidden, or cleared): left out of the official list."""
        return self.latest_time == 0

    @property
    def activity_time(self) -> int:
        """What the list is sorted by: the latest message or the draft, whichever is newer."""
        return max(self.latest_time, self.draft_time)

    @property
    def latest_message(self) -> dict[str, Any]:
        """``latest_msg`` decoded (``{}`` when none)."""
        try:
            value = json.loads(self.latest_msg) if self.latest_msg else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    @classmethod
    def from_row(cls, row: _ConversationRow) -> Conversation:
        return cls(
            conversation_id=row.conversation_id, conversation_type=row.conversation_type,
            user_id=row.user_id, group_id=row.group_id, show_name=row.show_name, face_url=row.face_url,
            latest_text=row.latest_msg_preview, latest_time=row.latest_msg_send_time,
            latest_client_msg_id=row.latest_msg_client_id, latest_msg=row.latest_msg,
            unread_count=row.unread_count, is_pinned=row.is_pinned, recv_msg_opt=row.recv_msg_opt,
            draft=row.draft, draft_time=row.draft_time, max_seq=row.max_seq, min_seq=row.min_seq,
            has_read_seq=row.has_read_seq, group_at_type=row.group_at_type, is_private_chat=row.is_private_chat,
            burn_duration=row.burn_duration, is_not_in_group=row.is_not_in_group, attached_info=row.attached_info,
            ex=row.ex, update_unread_count_time=row.update_unread_count_time,
            msg_destruct_time=row.msg_destruct_time, is_msg_destruct=row.is_msg_destruct,
        )

    def to_row(self) -> _ConversationRow:
        """The cache row for this conversation (the inverse of :meth:`from_row`)."""
        from .store.conversations import _ConversationRow

        return _ConversationRow(
            conversation_id=self.conversation_id, conversation_type=self.conversation_type,
            user_id=self.user_id, group_id=self.group_id, show_name=self.show_name, face_url=self.face_url,
            recv_msg_opt=self.recv_msg_opt, unread_count=self.unread_count, is_pinned=self.is_pinned,
            draft=self.draft, draft_time=self.draft_time, latest_msg_client_id=self.latest_client_msg_id,
            latest_msg_preview=self.latest_text, latest_msg_send_time=self.latest_time,
            has_read_seq=self.has_read_seq, max_seq=self.max_seq, min_seq=self.min_seq, ex=self.ex,
            group_at_type=self.group_at_type, is_private_chat=self.is_private_chat,
            burn_duration=self.burn_duration, is_not_in_group=self.is_not_in_group,
            attached_info=self.attached_info, latest_msg=self.latest_msg,
            update_unread_count_time=self.update_unread_count_time, msg_destruct_time=self.msg_destruct_time,
            is_msg_destruct=self.is_msg_destruct,
        )
