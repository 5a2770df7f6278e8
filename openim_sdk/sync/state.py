"""The sync engine's state: per-conversation tracking, outstanding requests, and the collector
that turns a step's decisions into actions. Plain data; the rules are in
:mod:`openim_sdk.sync.engine` (and :mod:`openim_sdk.sync.rewind`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from ..protocol.pb.msg import msg_pb2
from ..protocol.pb.sdkws import sdkws_pb2
from ._intervals import IntervalSet
from .actions import Action, Deliver, DeliverySource

PullReply = sdkws_pb2.PullMessageBySeqsResp | msg_pb2.GetSeqMessageResp


def by_seq(m: sdkws_pb2.MsgData) -> int:
    return int(m.seq)


class Phase(StrEnum):
    OFFLINE = "offline"
    CONNECTING = "connecting"
    SYNCING = "syncing"
    LIVE = "live"


@dataclass(slots=True)
class Probe:
    """A suspected rewind being checked: the 1001 said ``floor`` below what we knew existed."""

    request_id: int
    floor: int
    top: int = 0  # ``target`` when the probe was sent: the highest seq known to have existed
    attempts: int = 1
    pushed: int = 0  # highest seq <= synced pushed meanwhile: pulled again if confirmed


@dataclass(slots=True)
class Conv:
    cid: str
    notification: bool
    synced: int = 0
    target: int = 0
    min_seq: int = 0
    epoch: int = 0
    buffer: dict[int, tuple[sdkws_pb2.MsgData, DeliverySource]] = field(default_factory=dict)
    missing: set[int] = field(default_factory=set)
    inflight: dict[int, int] = field(default_factory=dict)  # seq -> request id
    attempts: dict[int, int] = field(default_factory=dict)  # seq -> pulls issued
    seen: IntervalSet = field(default_factory=IntervalSet)
    history_inflight: set[int] = field(default_factory=set)
    probe: Probe | None = None


Kind = Literal["live", "history", "probe"]


@dataclass(slots=True)
class Request:
    request_id: int
    kind: Kind
    by_seqs: bool  # 1005 (explicit seqs) rather than 1002 (ranges)
    descending: bool
    seqs: dict[str, tuple[int, ...]]
    epochs: dict[str, int]


@dataclass(frozen=True, slots=True)
class ConversationState:
    """A read-only snapshot of one conversation's sync state (for tests and diagnostics)."""

    conversation_id: str
    synced: int
    target: int
    buffered: tuple[int, ...]
    missing: tuple[int, ...]
    inflight: tuple[int, ...]


class Out:
    """Collects actions; consecutive messages of one conversation/source become one Deliver."""

    def __init__(self) -> None:
        self._items: list[Action | tuple[str, DeliverySource, bool, list[sdkws_pb2.MsgData]]] = []

    def add(self, action: Action) -> None:
        self._items.append(action)

    def message(self, cid: str, source: DeliverySource, notification: bool, msg: sdkws_pb2.MsgData) -> None:
        last = self._items[-1] if self._items else None
        if isinstance(last, tuple) and last[0] == cid and last[1] == source:
            last[3].append(msg)
        else:
            self._items.append((cid, source, notification, [msg]))

    def actions(self) -> list[Action]:
        out: list[Action] = []
        for item in self._items:
            if isinstance(item, tuple):
                cid, source, notification, msgs = item
                out.append(Deliver(cid, tuple(msgs), source, notification))
            else:
                out.append(item)
        return out
