"""Revoke and delete notifications that arrive before the message they name (issue 18).

They travel in the ``n_`` conversation, whose seqs are independent of the chat conversation's,
so one can be applied before the message it names is stored: a pull reply the server computed
before the revoke, a push that crossed it, a message outside the sync window that only comes
with history later. :class:`PendingEdits` remembers them (bounded) and rewrites the message
when it arrives, so it is stored already revoked or deleted. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence

from ..protocol.constants import ContentType, MsgStatus
from ..protocol.pb.sdkws import sdkws_pb2


class PendingEdits:
    """Revokes keyed by clientMsgID, deletes keyed by (conversationID, seq); oldest forgotten
    first beyond ``limit`` entries each."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._revokes: OrderedDict[str, bytes] = OrderedDict()
        self._deletes: OrderedDict[tuple[str, int], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._revokes) + len(self._deletes)

    def revoke_later(self, client_msg_id: str, notification_content: bytes) -> None:
        """The revoke notification's content becomes the message's content when it arrives."""
        if client_msg_id:
            self._revokes[client_msg_id] = notification_content
            self._trim(self._revokes)

    def delete_later(self, conversation_id: str, seqs: Iterable[int]) -> None:
        for seq in seqs:
            if seq > 0:
                self._deletes[(conversation_id, int(seq))] = None
        self._trim(self._deletes)

    def apply(self, conversation_id: str, msgs: Sequence[sdkws_pb2.MsgData]) -> list[sdkws_pb2.MsgData]:
        """``msgs`` with the pending edits applied (edited ones are copies); each edit once."""
        out: list[sdkws_pb2.MsgData] = []
        for m in msgs:
            content = self._revokes.pop(m.clientMsgID, None)
            key = (conversation_id, int(m.seq))
            deleted = m.seq > 0 and key in self._deletes
            if deleted:
                del self._deletes[key]
            if content is None and not deleted:
                out.append(m)
                continue
            edited = sdkws_pb2.MsgData()
            edited.CopyFrom(m)
            if content is not None and m.contentType != ContentType.MSG_REVOKE_NOTIFICATION:
                edited.contentType = ContentType.MSG_REVOKE_NOTIFICATION
                edited.content = content
            if deleted:
                edited.status = MsgStatus.DELETED
            out.append(edited)
        return out

    def _trim(self, table: OrderedDict[str, bytes] | OrderedDict[tuple[str, int], None]) -> None:
        while len(table) > self.limit:
            table.popitem(last=False)
