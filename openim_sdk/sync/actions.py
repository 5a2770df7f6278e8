"""Inputs and outputs of the sans-I/O :class:`~openim_sdk.sync.engine.SyncEngine`.

Every output is a small frozen dataclass ("action"). The adapter that owns the socket and the
store executes them in the order given. Requests carry an engine-assigned ``request_id``; the
adapter hands the matching reply back with ``on_pull_reply(request_id, resp)`` (or
``on_pull_failed(request_id)`` on an error/timeout).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..protocol.pb.msg import msg_pb2
from ..protocol.pb.sdkws import sdkws_pb2

DeliverySource = Literal["push", "pull", "history"]


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """Tunables of the engine.

    page: newest messages fetched per chat conversation on connect, the maximum size of one
        pulled range, and the window kept for a chat conversation when a push reveals a gap
        wider than that (older seqs are left to :meth:`SyncEngine.request_history`).
    max_conversations_per_request: conversations (ranges) per 1002/1005 request.
    max_inflight: live pull requests outstanding at once (history requests are not counted).
    max_attempts: times one seq is pulled before it is given up (:class:`GapGiveUp`).
    dedup_window: how many delivered clientMsgIDs are remembered for de-duplication.
    history_page: the most seqs one history request (:meth:`SyncEngine.request_history`) asks
        for; the bundled server and open-im-server answer up to 1,000 per conversation.
    """

    page: int = 50
    max_conversations_per_request: int = 20
    max_inflight: int = 4
    max_attempts: int = 3
    dedup_window: int = 20_000
    history_page: int = 1000

    def __post_init__(self) -> None:
        if self.page < 1 or self.max_conversations_per_request < 1 or self.max_inflight < 1:
            raise ValueError("page, max_conversations_per_request and max_inflight must be >= 1")
        if self.max_attempts < 1 or self.dedup_window < 1 or self.history_page < 1:
            raise ValueError("max_attempts, dedup_window and history_page must be >= 1")


# ---------------------------------------------------------------------------------------------
# Requests the adapter must send


@dataclass(frozen=True, slots=True)
class RequestNewestSeqs:
    """Send a 1001 GetNewestSeq; feed the reply to ``on_newest_seqs(resp, request_id)`` (a failure
    to ``on_newest_seqs_failed(reason, request_id)``). The engine remembers what it held when it
    asked, so a reply applied after later pushes is read as what it is: older than them."""

    request_id: int = 0

    def to_pb(self, user_id: str) -> sdkws_pb2.GetMaxSeqReq:
        return sdkws_pb2.GetMaxSeqReq(userID=user_id)


@dataclass(frozen=True, slots=True)
class RequestReadSeqs:
    """Send a 1006 GetConversationsHasReadAndMaxSeq (all conversations); feed ``on_read_seqs``."""

    conversation_ids: tuple[str, ...] = ()

    def to_pb(self, user_id: str) -> msg_pb2.GetConversationsHasReadAndMaxSeqReq:
        return msg_pb2.GetConversationsHasReadAndMaxSeqReq(
            userID=user_id, conversationIDs=list(self.conversation_ids)
        )


@dataclass(frozen=True, slots=True)
class SeqRange:
    conversation_id: str
    begin: int
    end: int
    num: int


@dataclass(frozen=True, slots=True)
class Pull:
    """Send a 1002 PullMessageBySeqs (order asc) with these ranges."""

    request_id: int
    ranges: tuple[SeqRange, ...]

    def to_pb(self, user_id: str) -> sdkws_pb2.PullMessageBySeqsReq:
        return sdkws_pb2.PullMessageBySeqsReq(
            userID=user_id,
            seqRanges=[
                sdkws_pb2.SeqRange(conversationID=r.conversation_id, begin=r.begin, end=r.end, num=r.num)
                for r in self.ranges
            ],
            order=sdkws_pb2.PullOrderAsc,
        )


@dataclass(frozen=True, slots=True)
class PullSeqs:
    """Send a 1005 GetSeqMessage for these explicit seqs (retries of a gap, history pages)."""

    request_id: int
    seqs: tuple[tuple[str, tuple[int, ...]], ...]
    descending: bool = False

    def to_pb(self, user_id: str) -> msg_pb2.GetSeqMessageReq:
        return msg_pb2.GetSeqMessageReq(
            userID=user_id,
            conversations=[msg_pb2.ConversationSeqs(conversationID=c, seqs=list(s)) for c, s in self.seqs],
            order=sdkws_pb2.PullOrderDesc if self.descending else sdkws_pb2.PullOrderAsc,
        )


# ---------------------------------------------------------------------------------------------
# Events for the application / store


@dataclass(frozen=True, slots=True)
class Deliver:
    """New messages of one conversation, ascending by seq (seq-0 pushes: arrival order).

    ``source == "history"`` marks older messages fetched by ``request_history``; they are
    ascending among themselves but older than what was already delivered live.
    """

    conversation_id: str
    messages: tuple[sdkws_pb2.MsgData, ...]
    source: DeliverySource = "push"
    notification: bool = False


@dataclass(frozen=True, slots=True)
class Merge:
    """The seq-bearing copy of a message this device sent (its 1003 ack was seen first).

    Update the local row ``client_msg_id`` (seq, serverMsgID, sendTime, status) instead of
    inserting a new one. Emitted in the message's seq position, instead of a Deliver entry.
    """

    conversation_id: str
    client_msg_id: str
    seq: int
    server_msg_id: str
    send_time: int
    message: sdkws_pb2.MsgData = field(compare=False)
    source: DeliverySource = "push"


@dataclass(frozen=True, slots=True)
class ReadSeq:
    conversation_id: str
    has_read_seq: int
    max_seq: int
    max_seq_time: int


@dataclass(frozen=True, slots=True)
class ReadSeqs:
    """Read state from a 1006 reply."""

    entries: tuple[ReadSeq, ...]


@dataclass(frozen=True, slots=True)
class Resync:
    """Confirmed: the server's history of the conversation went back (data reset, restore from
    a backup). Emitted only after proof, never on a single 1001 reply: either a probe pull of the
    seqs above ``server_max`` came back with the server's end below what we hold, or the adapter
    saw a different message at a seq it holds (``on_server_reset``).

    The engine now tracks the conversation from ``server_max`` and has forgotten the messages it
    delivered above it (a re-pull of one of them is delivered again); the application drops its
    local copies above ``server_max``. Messages the probe returned follow as a ``Deliver``.
    """

    conversation_id: str
    local_max: int
    server_max: int


@dataclass(frozen=True, slots=True)
class GapGiveUp:
    """These seqs could not be obtained (``attempts`` pulls, or the server said it has no more).

    They are skipped by the live stream; ``request_history`` may still fetch them later.
    """

    conversation_id: str
    seqs: tuple[int, ...]
    reason: Literal["attempts", "end"]


@dataclass(frozen=True, slots=True)
class HistoryEnd:
    """Nothing older than ``min_seq`` exists for this conversation (server minimum reached)."""

    conversation_id: str
    min_seq: int


@dataclass(frozen=True, slots=True)
class SyncStarted:
    """The on-connect sync began (1001 answered)."""


@dataclass(frozen=True, slots=True)
class SyncFinished:
    """Every range the on-connect sync asked for is settled; the engine is live."""


@dataclass(frozen=True, slots=True)
class SyncFailed:
    """The 1001 request failed; call ``on_connected`` again after reconnecting."""

    reason: str = ""


Action = (
    RequestNewestSeqs
    | RequestReadSeqs
    | Pull
    | PullSeqs
    | Deliver
    | Merge
    | ReadSeqs
    | Resync
    | GapGiveUp
    | HistoryEnd
    | SyncStarted
    | SyncFinished
    | SyncFailed
)
