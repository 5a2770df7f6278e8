"""Sans-I/O message sync: seq tracking, gap detection and pull scheduling (spec ws-protocol §7)."""

from .actions import (
    Action,
    Deliver,
    GapGiveUp,
    HistoryEnd,
    Merge,
    Pull,
    PullSeqs,
    ReadSeq,
    ReadSeqs,
    RequestNewestSeqs,
    RequestReadSeqs,
    Resync,
    SeqRange,
    SyncConfig,
    SyncFailed,
    SyncFinished,
    SyncStarted,
)
from .engine import SyncEngine
from .state import ConversationState, Phase, PullReply

__all__ = [
    "Action",
    "ConversationState",
    "Deliver",
    "GapGiveUp",
    "HistoryEnd",
    "Merge",
    "Phase",
    "Pull",
    "PullReply",
    "PullSeqs",
    "ReadSeq",
    "ReadSeqs",
    "RequestNewestSeqs",
    "RequestReadSeqs",
    "Resync",
    "SeqRange",
    "SyncConfig",
    "SyncEngine",
    "SyncFailed",
    "SyncFinished",
    "SyncStarted",
]
