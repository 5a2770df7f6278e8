"""History pages (spec ws-protocol §6): asking for older messages not yet seen (1005, order desc)
and taking their replies in, for one conversation or several in one request. Part of
:class:`~openim_sdk.sync.engine.SyncEngine`, kept apart because paging back is its own rule:
it never moves ``synced`` and never delivers a seq twice (``seen``)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from ..protocol.constants import MsgStatus
from ..protocol.conversation_id import is_notification_conversation
from ..protocol.pb.sdkws import sdkws_pb2
from .actions import Action, DeliverySource, HistoryEnd, PullSeqs, SyncConfig
from .paging import older_unseen
from .state import Conv, Out, PullReply, Request, by_seq


class HistoryPages:
    """Mixed into the engine, which provides the state and the rules used here."""

    config: SyncConfig
    _convs: dict[str, Conv]
    _requests: dict[int, Request]
    _pending_acks: OrderedDict[str, tuple[str, int]]
    _delivered_ids: OrderedDict[str, tuple[str, int]]

    def _new_request_id(self) -> int:
        raise NotImplementedError

    def _emit(self, conv: Conv, msg: sdkws_pb2.MsgData, source: DeliverySource, out: Out) -> None:
        raise NotImplementedError

    @staticmethod
    def _reply_for(resp: PullReply, cid: str) -> sdkws_pb2.PullMsgs | None:
        raise NotImplementedError

    def request_history(self, conversation_id: str, before_seq: int, count: int, floor: int = 1) -> list[Action]:
        """Fetch up to ``count`` (<= ``history_page``) messages older than ``before_seq`` not yet
        seen, none below ``floor`` (to fill one hole of a cached page without re-pulling what is
        under it)."""
        return self.request_histories([(conversation_id, before_seq, count, floor)])

    def request_histories(self, wants: Sequence[tuple[str, int, int, int]]) -> list[Action]:
        """:meth:`request_history` for several conversations at once, ``(conversationID,
        before_seq, count, floor)`` each: one 1005 request for all of them (so one reply and one
        write), a :class:`HistoryEnd` for each with nothing left to ask. A conversation named
        twice is asked once (its first entry)."""
        out: list[Action] = []
        asked: dict[str, tuple[int, ...]] = {}
        for conversation_id, before_seq, count, floor in wants:
            conv = self._convs.get(conversation_id)
            if conv is None or conversation_id in asked:
                continue
            bottom = max(1, conv.min_seq)
            seqs, exhausted = older_unseen(conv.seen, conv.history_inflight, min(before_seq - 1, conv.synced),
                                           max(bottom, floor), bottom, max(1, min(count, self.config.history_page)))
            if not seqs:
                if exhausted:
                    out.append(HistoryEnd(conversation_id, bottom))
                continue
            conv.history_inflight.update(seqs)
            asked[conversation_id] = tuple(seqs)
        if asked:
            rid = self._new_request_id()
            self._requests[rid] = Request(
                rid, "history", True, True, asked, {cid: self._convs[cid].epoch for cid in asked})
            out.append(PullSeqs(rid, tuple(asked.items()), descending=True))
        return out

    def _emit_history(self, conv: Conv, msg: sdkws_pb2.MsgData, out: Out) -> None:
        """:meth:`_emit` for an older message a history page brought: never delivered twice (it is
        below ``synced`` and unseen), so its clientMsgID is only checked, not remembered -- the
        de-duplication window stays for live messages, where a second copy can really come."""
        if self._pending_acks and msg.clientMsgID in self._pending_acks:
            self._emit(conv, msg, "history", out)  # our own send, acked: a Merge
            return
        seen = self._delivered_ids.get(msg.clientMsgID) if msg.clientMsgID else None
        if seen is not None and (seen[0] == conv.cid or not (
                conv.notification or is_notification_conversation(seen[0]))):
            return
        out.message(conv.cid, "history", conv.notification, msg)

    def _history_reply(self, req: Request, resp: PullReply, out: Out) -> None:
        ends: list[HistoryEnd] = []  # after every delivery: a reply's deliveries stay adjacent (one write)
        for cid, seqs in req.seqs.items():
            conv = self._convs.get(cid)
            if conv is None or conv.epoch != req.epochs[cid]:
                continue
            conv.history_inflight.difference_update(seqs)
            wanted = set(seqs)
            pm = self._reply_for(resp, cid)
            reached_end = min(seqs) <= max(1, conv.min_seq)
            if pm is not None:
                seen = conv.seen
                fresh = sorted((m for m in pm.Msgs if m.seq in wanted and m.seq not in seen), key=by_seq)
                run_lo = run_hi = -1
                for msg in fresh:  # mark seen a run at a time (a page is usually one run)
                    seq = int(msg.seq)
                    if seq != run_hi + 1:
                        seen.add_range(run_lo, run_hi)
                        run_lo = seq
                    run_hi = seq
                seen.add_range(run_lo, run_hi)
                for msg in fresh:
                    if msg.status != MsgStatus.DELETED:
                        self._emit_history(conv, msg, out)
                if pm.isEnd and pm.endSeq > 0 and req.descending:
                    conv.min_seq = max(conv.min_seq, int(pm.endSeq))
                    reached_end = True
            if reached_end:
                ends.append(HistoryEnd(cid, max(1, conv.min_seq)))
        for end in ends:
            out.add(end)
