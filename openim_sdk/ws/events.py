"""Events a :class:`~openim_sdk.ws.connection.LongConnection` reports.

Every state change and every error of the long connection becomes one of these, delivered
in order through the connection's listeners and event queues. :class:`Stopped` is always
the last one.
"""

from __future__ import annotations

from dataclasses import dataclass

from openim_sdk.protocol.envelope import WsResponse
from openim_sdk.protocol.errors import CodecError, OpenIMError
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

__all__ = [
    "Connected",
    "Disconnected",
    "ErrorOccurred",
    "Event",
    "Kicked",
    "PushReceived",
    "Reconnecting",
    "StatusChange",
    "Stopped",
    "TokenInvalid",
    "UnsolicitedFrame",
]


def _parse(
    cls: type[sdkws_pb2.PushMessages] | type[sdkws_pb2.SubUserOnlineStatusTips], data: bytes
) -> object:
    msg = cls()
    try:
        msg.ParseFromString(data)
    except Exception as e:  # protobuf DecodeError and friends
        raise CodecError(message=f"bad {cls.__name__} payload", detail=str(e)) from None
    return msg


@dataclass(frozen=True)
class Connected:
    """A handshake succeeded. ``reconnect`` is False only for the first connection of a run."""

    operation_id: str
    reconnect: bool = False


@dataclass(frozen=True)
class Disconnected:
    """An established connection ended; a reconnect follows unless a fatal event comes next."""

    reason: str
    error: OpenIMError | None = None


@dataclass(frozen=True)
class Reconnecting:
    """The next connection attempt (``attempt`` >= 1) starts after ``delay`` seconds."""

    attempt: int
    delay: float
    error: OpenIMError | None = None


@dataclass(frozen=True)
class PushReceived:
    """A 2001 push frame; :attr:`push` decodes its ``sdkws.PushMessages`` payload."""

    resp: WsResponse

    @property
    def push(self) -> sdkws_pb2.PushMessages:
        """The decoded payload; raises CodecError if it is not a PushMessages."""
        msg = _parse(sdkws_pb2.PushMessages, self.resp.data)
        assert isinstance(msg, sdkws_pb2.PushMessages)
        return msg


@dataclass(frozen=True)
class Kicked:
    """The server kicked this session (2002, or 1506 right after losing a live connection). Fatal."""

    error: OpenIMError


@dataclass(frozen=True)
class TokenInvalid:
    """The handshake was refused with a token error 1501-1507. Fatal."""

    error: OpenIMError


@dataclass(frozen=True)
class StatusChange:
    """A 2005 frame: online-status tips of subscribed users (reply or unsolicited update)."""

    resp: WsResponse
    solicited: bool = False

    @property
    def tips(self) -> sdkws_pb2.SubUserOnlineStatusTips:
        """The decoded payload; raises CodecError if it is not a SubUserOnlineStatusTips."""
        msg = _parse(sdkws_pb2.SubUserOnlineStatusTips, self.resp.data)
        assert isinstance(msg, sdkws_pb2.SubUserOnlineStatusTips)
        return msg

    @property
    def statuses(self) -> dict[str, list[int]]:
        """userID -> online platform IDs (empty list = offline)."""
        return {e.userID: list(e.onlinePlatformIDs) for e in self.tips.subscribers}


@dataclass(frozen=True)
class UnsolicitedFrame:
    """A frame that matches no pending request and no server-initiated kind (e.g. a late reply)."""

    resp: WsResponse


@dataclass(frozen=True)
class ErrorOccurred:
    """A non-fatal error: undecodable frame, failing on-connect hook, unexpected text frame..."""

    error: OpenIMError
    where: str = ""


@dataclass(frozen=True)
class Stopped:
    """The connection loop ended for good. ``error`` is None after :meth:`close`/:meth:`logout`."""

    error: OpenIMError | None = None


Event = (
    Connected
    | Disconnected
    | Reconnecting
    | PushReceived
    | Kicked
    | TokenInvalid
    | StatusChange
    | UnsolicitedFrame
    | ErrorOccurred
    | Stopped
)
