"""OpenIM long connection (msg-gateway WebSocket) client: :class:`LongConnection` and its events."""

from openim_sdk.ws.backoff import DEFAULT_BACKOFF, BackoffPolicy, FixedBackoff, FullJitterBackoff
from openim_sdk.ws.connection import SDK_VERSION, ConnectedHook, ConnState, EventCallback, LongConnection
from openim_sdk.ws.events import (
    Connected,
    Disconnected,
    ErrorOccurred,
    Event,
    Kicked,
    PushReceived,
    Reconnecting,
    StatusChange,
    Stopped,
    TokenInvalid,
    UnsolicitedFrame,
)

__all__ = [
    "DEFAULT_BACKOFF",
    "BackoffPolicy",
    "FixedBackoff",
    "FullJitterBackoff",
    "SDK_VERSION",
    "ConnState",
    "Connected",
    "ConnectedHook",
    "Disconnected",
    "ErrorOccurred",
    "Event",
    "EventCallback",
    "Kicked",
    "LongConnection",
    "PushReceived",
    "Reconnecting",
    "StatusChange",
    "Stopped",
    "TokenInvalid",
    "UnsolicitedFrame",
]
