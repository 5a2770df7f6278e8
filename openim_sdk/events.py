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
class Connecting(Event):
    """The connection is being opened (official ``OnConnecting``)."""


@dataclass(frozen=True)
class Connected(Event):
    """The connection is open and the handshake passed (official ``OnConnectSuccess``); the
    on-connect sync follows (:class:`SyncStarted`)."""


@dataclass(frozen=True)
class ConnectFailed(Event):
    """A connection attempt failed (official ``OnConnectFailed``); another one follows unless the
    session ended."""

    error: OpenIMError | None = None


@dataclass(frozen=True)
class MessageReceived(Event):
    """A new message in a conversation, delivered once per process, in seq order.

    ``offline`` tells a message pulled by the on-connect sync (sent while this device was away,
    official ``OnRecvOfflineNewMessage``) from one pushed live (``OnRecvNewMessage``)."""

    message: Message
    is_self: bool = False
    offline: bool = False


@dataclass(frozen=True)
class OnlineOnlyMessage(Event):
    """A message sent "online only" (not stored on the server, never cached here; official
    ``OnRecvOnlineOnlyMessage``), e.g. a custom signal; typing has its own :class:`TypingChanged`."""

    message: Message


@dataclass(frozen=True)
class MessageUpdated(Event):
    """A known message changed: sent (seq assigned), failed, revoked, read."""

    message: Message


@dataclass(frozen=True)
class MessageSent(MessageUpdated):
    """The server accepted a message this device sent (``server_msg_id`` set; ``seq`` once pushed)."""


@dataclass(frozen=True)
class MessageSendFailed(MessageUpdated):
    """The server refused a message this device sent; ``error`` says why (``code``: the server's
    errCode, e.g. 1402; ``reason``: its name, e.g. ``"MutedInGroup"``). ``resend()`` retries."""

    error: OpenIMError | None = None

    @property
    def code(self) -> int:
        return self.error.code if self.error is not None else 0

    @property
    def reason(self) -> str:
        return self.error.name if self.error is not None else ""

    @property
    def retryable(self) -> bool:
        """Whether sending it again can help (a network failure), not a refusal (muted, blocked...)."""
        from .session.outbox import is_transient

        return self.error is None or is_transient(self.error)

    @property
    def explanation(self) -> str:
        """One line for people: ``"you are muted in this group (1402 MutedInGroup)"``."""
        from .protocol.errors import explain

        return explain(self.error) if self.error is not None else "the server did not take it"


@dataclass(frozen=True)
class MessageRevoked(MessageUpdated):
    """A message was revoked; ``message`` is now the revoke placeholder."""

    revoker_user_id: str = ""


@dataclass(frozen=True)
class MessageDeleted(MessageUpdated):
    """A message was deleted for us (official ``OnMsgDeleted``: here, or on another device by
    notification 2102); ``message`` has status DELETED. A MessageUpdated, so views that drop
    deleted rows on updates need nothing new."""


@dataclass(frozen=True)
class BusinessNotification(Event):
    """A custom business notification (content type 2001, ``/msg/send_business_notification``;
    official ``OnRecvCustomBusinessMessage``): ``key`` and ``data`` as the sender gave them."""

    key: str
    data: str
    send_id: str = ""
    send_time: int = 0


@dataclass(frozen=True)
class ConversationChanged(Event):
    conversation: Conversation


@dataclass(frozen=True)
class NewConversation(ConversationChanged):
    """A conversation the cache did not have (official ``OnNewConversation``). A subclass of
    :class:`ConversationChanged`, so a listener of changes also sees new ones."""


@dataclass(frozen=True)
class ConversationCleared(Event):
    """The history of these conversations was cleared on another device of ours (1703); the
    cache dropped their messages (their ConversationChanged follow)."""

    conversation_ids: tuple[str, ...]


@dataclass(frozen=True)
class UnreadTotalChanged(Event):
    """The unread count over all conversations that notify (receive option 0) changed."""

    total: int


@dataclass(frozen=True)
class FriendsChanged(Event):
    """The cached friend list changed (login sync or a friend notification)."""


@dataclass(frozen=True)
class GroupsChanged(Event):
    """The cached joined-group list changed (login sync or a group notification)."""


@dataclass(frozen=True)
class OnlineStatusChanged(Event):
    """A subscribed user's online platforms (empty = offline)."""

    user_id: str
    platform_ids: tuple[int, ...]


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
class SyncStarted(Event):
    """The on-connect message sync began."""


@dataclass(frozen=True)
class SyncProgress(Event):
    """The on-connect sync delivered more messages (official ``OnSyncServerProgress``):
    ``new_messages`` so far, in ``conversations`` conversations."""

    new_messages: int
    conversations: int = 0


@dataclass(frozen=True)
class SyncFinished(Event):
    """The on-connect sync caught up (``new_messages`` delivered)."""

    new_messages: int


@dataclass(frozen=True)
class SyncFailed(Event):
    """The on-connect sync could not ask the server for its newest seqs (official
    ``OnSyncServerFailed``); the session goes on with pushes and retries at the next connect."""

    reason: str = ""


@dataclass(frozen=True)
class ServerHistoryRewound(Event):
    """The server's history of ``conversation_id`` went back to ``server_max`` (its data was reset
    or restored from a backup), proven before anything was dropped (a pull above ``server_max``
    came back empty, or a pushed message differs from the one cached at its seq), never by one
    newest-seq reply: the cached messages above ``server_max`` (up to ``local_max``) were dropped;
    what the server holds there now follows as ordinary ``MessageReceived`` events."""

    conversation_id: str
    local_max: int
    server_max: int


@dataclass(frozen=True)
class ErrorEvent(Event):
    error: OpenIMError
    where: str = ""


@dataclass(frozen=True)
class Kicked(Event):
    """Another login took this session's place (WS 2002, or a 1506 refusal after a drop)."""

    error: OpenIMError | None = None


@dataclass(frozen=True)
class TokenExpired(Event):
    """The token was refused (1501-1507; official ``OnUserTokenExpired``): log in again.
    :class:`TokenInvalid` (a subclass) tells the codes other than 1501 apart."""

    error: OpenIMError | None = None


@dataclass(frozen=True)
class TokenInvalid(TokenExpired):
    """The token was refused as invalid rather than expired (1502-1507, official
    ``OnUserTokenInvalid``); still a :class:`TokenExpired` for listeners of that."""


@dataclass(frozen=True)
class SessionEnded(Event):
    """The session stopped for good (kicked, token invalid, closed). Log in again to go on."""

    reason: ConnectionState
    error: OpenIMError | None = None
