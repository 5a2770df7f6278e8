"""Events an :class:`~openim_sdk.client.OpenIMClient` emits, by ``async for`` or ``@client.on``.

The session never dies silently: every failure becomes an :class:`ErrorEvent` and the loop
goes on; token errors and kicks end it loudly with :class:`SessionEnded`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .models import Conversation, Message
from .protocol.errors import OpenIMError


class ConnectionState(StrEnum):
    CONNECTING = "connecting"
    SYNCING = "syncing"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    KICKED = "kicked"
    TOKEN_INVALID = "token_invalid"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Event:
    """Base class of every event."""


@dataclass(frozen=True)
class ConnectionStateChanged(Event):
    state: ConnectionState
    detail: str = ""


@dataclass(frozen=True)
class MessageReceived(Event):
    """A new message in a conversation (pushed or pulled), delivered once, in seq order."""

    message: Message
    is_self: bool = False


@dataclass(frozen=True)
class MessageUpdated(Event):
    """A known message changed: sent (seq assigned), failed, revoked, read."""

    message: Message


@dataclass(frozen=True)
class ConversationChanged(Event):
    conversation: Conversation


@dataclass(frozen=True)
class TypingChanged(Event):
    conversation_id: str
    user_id: str
    typing: bool


@dataclass(frozen=True)
class ReadReceipt(Event):
    """``user_id`` has read ``conversation_id`` up to ``has_read_seq`` (a peer, or another device)."""

    conversation_id: str
    user_id: str
    has_read_seq: int


@dataclass(frozen=True)
class SyncFinished(Event):
    """The on-connect sync caught up (``new_messages`` delivered)."""

    new_messages: int


@dataclass(frozen=True)
class ErrorEvent(Event):
    error: OpenIMError
    where: str = ""


@dataclass(frozen=True)
class SessionEnded(Event):
    """The session stopped for good (kicked, token invalid, closed). Log in again to go on."""

    reason: ConnectionState
    error: OpenIMError | None = None
