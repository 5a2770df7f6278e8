"""OpenIM v3.8 client SDK for Python.

The public surface is importable from the package root, as httpx does::

    from openim_sdk import OpenIMClient, RestClient, OpenIMError, MessageReceived

Names load on first use (PEP 562), so ``import openim_sdk`` stays cheap for the CLI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that owns it
_EXPORTS: dict[str, str] = {
    "OpenIMClient": "openim_sdk.client",
    "EventStream": "openim_sdk.client",
    "RestClient": "openim_sdk.rest",
    "OpenIMError": "openim_sdk.protocol.errors",
    "NetworkError": "openim_sdk.protocol.errors",
    "TokenError": "openim_sdk.protocol.errors",
    "KickedError": "openim_sdk.protocol.errors",
    "ArgsError": "openim_sdk.protocol.errors",
    "NotFoundError": "openim_sdk.protocol.errors",
    "MessageError": "openim_sdk.protocol.errors",
    "UserNotFoundError": "openim_sdk.protocol.errors",
    "RegisteredAlreadyError": "openim_sdk.protocol.errors",
    "explain": "openim_sdk.protocol.errors",
    "ContentType": "openim_sdk.protocol.constants",
    "SessionType": "openim_sdk.protocol.constants",
    "MsgStatus": "openim_sdk.protocol.constants",
    "Message": "openim_sdk.models",
    "Conversation": "openim_sdk.models",
    "User": "openim_sdk.social.models",
    "Friend": "openim_sdk.social.models",
    "FriendApplication": "openim_sdk.social.models",
    "BlacklistEntry": "openim_sdk.social.models",
    "Group": "openim_sdk.social.models",
    "GroupMember": "openim_sdk.social.models",
    "GroupApplication": "openim_sdk.social.models",
    "Event": "openim_sdk.events",
    "ConnectionState": "openim_sdk.events",
    "ConnectionStateChanged": "openim_sdk.events",
    "MessageReceived": "openim_sdk.events",
    "MessageUpdated": "openim_sdk.events",
    "MessageSent": "openim_sdk.events",
    "MessageSendFailed": "openim_sdk.events",
    "MessageRevoked": "openim_sdk.events",
    "MessageDeleted": "openim_sdk.events",
    "ConversationChanged": "openim_sdk.events",
    "NewConversation": "openim_sdk.events",
    "UnreadTotalChanged": "openim_sdk.events",
    "SyncStarted": "openim_sdk.events",
    "SyncFinished": "openim_sdk.events",
    "SessionEnded": "openim_sdk.events",
    "ErrorEvent": "openim_sdk.events",
}

__all__ = [
    "__version__",
    "ArgsError",
    "BlacklistEntry",
    "ConnectionState",
    "ConnectionStateChanged",
    "ContentType",
    "Conversation",
    "ConversationChanged",
    "ErrorEvent",
    "Event",
    "EventStream",
    "Friend",
    "FriendApplication",
    "Group",
    "GroupApplication",
    "GroupMember",
    "KickedError",
    "Message",
    "MessageDeleted",
    "MessageError",
    "MessageReceived",
    "MessageRevoked",
    "MessageSendFailed",
    "MessageSent",
    "MessageUpdated",
    "MsgStatus",
    "NetworkError",
    "NewConversation",
    "NotFoundError",
    "OpenIMClient",
    "OpenIMError",
    "RegisteredAlreadyError",
    "RestClient",
    "SessionEnded",
    "SessionType",
    "SyncFinished",
    "SyncStarted",
    "TokenError",
    "UnreadTotalChanged",
    "User",
    "UserNotFoundError",
    "explain",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'openim_sdk' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # for type checkers and IDEs: the same names, eagerly
    from .client import EventStream, OpenIMClient
    from .events import (
        ConnectionState,
        ConnectionStateChanged,
        ConversationChanged,
        ErrorEvent,
        Event,
        MessageDeleted,
        MessageReceived,
        MessageRevoked,
        MessageSendFailed,
        MessageSent,
        MessageUpdated,
        NewConversation,
        SessionEnded,
        SyncFinished,
        SyncStarted,
        UnreadTotalChanged,
    )
    from .models import Conversation, Message
    from .protocol.constants import ContentType, MsgStatus, SessionType
    from .protocol.errors import (
        ArgsError,
        KickedError,
        MessageError,
        NetworkError,
        NotFoundError,
        OpenIMError,
        RegisteredAlreadyError,
        TokenError,
        UserNotFoundError,
        explain,
    )
    from .rest import RestClient
    from .social.models import (
        BlacklistEntry,
        Friend,
        FriendApplication,
        Group,
        GroupApplication,
        GroupMember,
        User,
    )
