"""Sans-I/O message sync engine (spec ws-protocol §6, §7).

The engine owns no socket, no clock and no database. It is fed decoded protocol objects and
answers with *actions* (:mod:`openim_sdk.sync.actions`): "send this request", "deliver these
messages", "merge this ack", "the server was reset", "this gap was given up". Same inputs give
the same outputs, which is what lets the tests drive it with hypothesis against a model server.

Connection phases
-----------------
::

    OFFLINE --on_connected--> CONNECTING --on_newest_seqs--> SYNCING --(all settled)--> LIVE
       ^                          |  on_newest_seqs_failed -> LIVE (pushes still handled)   |
       +------------------------ on_disconnected (from any phase) ------------------------+

``on_connected`` answers ``RequestNewestSeqs`` (1001) and ``RequestReadSeqs`` (1006). The
1001 reply starts SYNCING (``SyncStarted``); when no live pull is outstanding and no
conversation has an unrequested gap, ``SyncFinished`` is emitted and the phase is LIVE. Pulls
are only emitted while connected; ``on_disconnected`` forgets outstanding requests (their seqs
are asked again after the next connect, without being charged an attempt).

Per-conversation state
----------------------
``synced``  every seq <= synced is settled: delivered, known missing, or deliberately skipped.
            Seeded from the store's local max seqs.
``target``  highest seq known to exist on the server (1001 maxSeqs, pushed or pulled seqs).
``buffer``  messages received with seq > synced + 1, waiting for the seqs below them.
``missing`` seqs > synced that will never come (status-4 placeholders, given-up seqs).
``seen``    seqs delivered (or known to be placeholders) in this session: the (conversation,
            seq) de-duplication set for history pages.

Rules
-----
* Advancing: while ``synced + 1`` is buffered (deliver it) or missing (skip it), increment
  ``synced``. Deliveries are therefore in seq order and each seq at most once.
* Push (2001): seq 0 -> delivered at once (untracked). seq <= synced or already buffered ->
  dropped. Otherwise buffered and ``target`` raised; seq == synced + 1 delivers immediately,
  anything else leaves a gap that the pump pulls.
* Window: a chat conversation never tracks more than ``page`` seqs behind ``target``: on
  connect the range is ``[max(local+1, server_max-page+1), server_max]``; a push far ahead
  moves ``synced`` up to ``target - page``. Skipped seqs are left to ``request_history``.
  Notification (``n_``) conversations are never skipped (they carry state changes) except on
  a fresh install (``fresh_install=True``: their old notifications are ignored, like the Go SDK);
  they are caught up ``page`` seqs at a time, in seq order.
* Pump: for every conversation with a gap, the lowest unrequested seqs inside
  ``(synced, min(target, synced+page)]`` are requested: a first attempt of a contiguous run as a
  1002 range (``Pull``), retries as explicit 1005 seqs (``PullSeqs``); at most
  ``max_conversations_per_request`` conversations per request, ``max_inflight`` live requests.
* Pull replies: returned messages are ingested like pushes; ``status 4`` entries mark their seq
  missing (not delivered, never pulled again). A requested seq still absent after the reply is
  asked again until it has been pulled ``max_attempts`` times, then marked missing and reported
  (``GapGiveUp``). ``isEnd`` (1002: nothing past the highest returned seq; 1005 asc: nothing
  past ``endSeq``) gives up the seqs beyond the end at once when something is buffered above
  them (else see "a pull whose isEnd" below). A failed request counts as an
  empty reply. Every seq is thus pulled a bounded number of times: no pull loop.
* Reconnect: the 1001 maxSeqs are compared with ``synced``; only what is missing is pulled.
* Replies know what they answer. Every 1001 carries a request id, and the engine keeps, per
  request, each conversation's ``target`` (highest seq known to exist) and ``epoch`` at the
  moment it asked (the *floor*). All of that was seen from the server before the request left,
  so a server whose history did not go back answers at least the floor. A reply is applied for
  a conversation as follows: ``server_max >= synced`` -> pull what is missing, as above;
  ``floor <= server_max < synced`` -> the reply is merely older than pushes or pulls applied
  since the request (the race of issue 18): nothing to do; ``server_max < floor`` -> a rewind is
  *suspected*. A reply for a conversation reset since the request (other epoch), a duplicate, or
  a reply of a request forgotten at a reconnect is ignored. Failures are matched the same way.
* Rewind: a suspicion is confirmed by a probe, a 1005 (asc) for the seqs just above
  ``server_max`` (at most ``page``). The server answers seqs above its max with ``isEnd`` and
  ``endSeq = max``; only ``isEnd`` with ``endSeq`` below the probed ``target`` (and no message
  above it) proves that seqs we knew of are gone. Then, if we hold seqs above ``server_max``,
  ``Resync(cid, synced, server_max)`` is emitted; the conversation restarts from there (new
  epoch: older replies for it are ignored), the engine forgets the clientMsgIDs it delivered
  above it and the seqs it saw there, delivers the probe's messages (stored after the 1001
  answer, so new on the server) and pulls again what was buffered or pushed meanwhile (the
  server decides what exists). Any other probe answer (everything served, no ``isEnd``, failures
  beyond ``max_attempts``) drops the suspicion: nothing is deleted on a single observation, and
  nothing a fresh pull returns stays deleted.
* A pull whose ``isEnd`` says the server ends below seqs we asked for, with nothing buffered above
  them, lowers ``target`` instead of giving them up (the belief in them predates a rewind).
* Own messages: ``on_send_ack`` (1003: clientMsgID, serverMsgID, sendTime, no seq) is
  remembered; when the seq-bearing copy of that clientMsgID reaches its place in the stream, a
  ``Merge`` is emitted instead of a ``Deliver`` entry. If the copy came first it was delivered
  normally (the store merges rows by clientMsgID anyway).
* De-duplication by clientMsgID: a message whose clientMsgID was already delivered or merged
  (bounded memory of ``dedup_window`` IDs) is settled but not delivered again.
* History: ``request_history(cid, before_seq, count, floor=1)`` asks (1005, order desc) for the
  newest ``count`` seqs in ``[floor, before_seq)`` that are <= synced and not yet seen in this session.
  Replies are delivered with ``source="history"``; ``HistoryEnd`` reports reaching the bottom.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from ..protocol.constants import MsgStatus
from ..protocol.conversation_id import is_notification_conversation
from ..protocol.pb.msg import msg_pb2
from ..protocol.pb.sdkws import sdkws_pb2
from .actions import (
    Action,
    DeliverySource,
    GapGiveUp,
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
from .history_pages import HistoryPages
from .rewind import RewindProbe
from .state import (
    Conv,
    ConversationState,
    Out,
    Phase,
    PullReply,
    Request,
)


class SyncEngine(RewindProbe, HistoryPages):
    """The client side of OpenIM's seq sync as a deterministic state machine (no I/O).

    ``local_max_seqs``: per conversation, the highest seq already held locally (store).
    ``fresh_install``: nothing is stored locally yet; old notifications are then skipped.
    """

    def __init__(
        self,
        user_id: str,
        local_max_seqs: Mapping[str, int] | None = None,
        *,
        config: SyncConfig | None = None,
        fresh_install: bool = False,
    ) -> None:
        self.user_id = user_id
        self.config = config or SyncConfig()
        self._fresh_install = fresh_install
        self._phase = Phase.OFFLINE
        self._convs: dict[str, Conv] = {}
        self._requests: dict[int, Request] = {}
        self._next_request_id = 1
        self._dirty: set[str] = set()
        self._delivered_ids: OrderedDict[str, tuple[str, int]] = OrderedDict()  # -> (cid, seq)
        self._newest: dict[int, dict[str, tuple[int, int]]] = {}  # 1001 id -> cid -> (floor, epoch)
        self._pending_acks: OrderedDict[str, tuple[str, int]] = OrderedDict()
        for cid, seq in sorted((local_max_seqs or {}).items()):
            conv = self._conv(cid)
            conv.synced = conv.target = max(0, int(seq))

    # ------------------------------------------------------------------ introspection

    @property
    def phase(self) -> Phase:
        return self._phase

    def synced_seqs(self) -> dict[str, int]:
        """Per conversation, the seq up to which everything is settled (persist it as max seq)."""
        return {cid: c.synced for cid, c in sorted(self._convs.items())}

    def conversation_state(self, conversation_id: str) -> ConversationState | None:
        c = self._convs.get(conversation_id)
        if c is None:
            return None
        return ConversationState(
            conversation_id,
            c.synced,
            c.target,
            tuple(sorted(c.buffer)),
            tuple(sorted(c.missing)),
            tuple(sorted(c.inflight)),
        )

    def outstanding_requests(self) -> tuple[int, ...]:
        return tuple(sorted(self._requests))

    # ------------------------------------------------------------------ connection events

    def on_connected(self) -> list[Action]:
        """A (re)connect succeeded: ask for the newest seqs (1001) and read state (1006)."""
        self._release_requests()
        self._phase = Phase.CONNECTING
        rid = self._new_request_id()
        self._newest[rid] = {cid: (c.target, c.epoch) for cid, c in self._convs.items()}
        return [RequestNewestSeqs(rid), RequestReadSeqs()]

    def on_disconnected(self) -> list[Action]:
        self._release_requests()
        self._phase = Phase.OFFLINE
        return []

    def _take_newest(self, request_id: int | None) -> dict[str, tuple[int, int]] | None:
        """The floors recorded for a 1001 still awaited (``None``: the latest one), or None."""
        if request_id is None:
            request_id = max(self._newest, default=0)
        return self._newest.pop(request_id, None)

    def on_newest_seqs(self, resp: sdkws_pb2.GetMaxSeqResp, request_id: int | None = None) -> list[Action]:
        """The 1001 reply to ``RequestNewestSeqs(request_id)`` (``None``: the latest one): compare
        with what we hold and pull what is missing. A reply to no awaited request is ignored."""
        floors = self._take_newest(request_id)
        if floors is None:
            return []
        out = Out()
        out.add(SyncStarted())
        min_seqs = dict(resp.minSeqs)
        for cid in sorted(resp.maxSeqs):
            server_max = int(resp.maxSeqs[cid])
            if server_max <= 0:
                continue
            conv = self._conv(cid)
            floor, epoch = floors.get(cid, (0, 0))
            if conv.epoch != epoch:
                continue  # reset since the request: this answer is about the old history
            if min_seqs.get(cid, 0) > 0:
                conv.min_seq = int(min_seqs[cid])
            if server_max < floor:
                self._suspect_rewind(conv, server_max, out)
                continue
            if server_max < conv.synced:
                continue  # older than what was applied since the request: nothing is missing
            if self._fresh_install and conv.notification and conv.synced == 0 and not conv.buffer:
                conv.synced = conv.target = server_max
                continue
            conv.target = max(conv.target, server_max)
            if conv.min_seq > conv.synced + 1:
                self._skip_to(conv, conv.min_seq - 1)
            self._apply_window(conv)
            self._advance(conv, out)
            self._dirty.add(cid)
        self._fresh_install = False
        self._phase = Phase.SYNCING
        self._pump(out)
        return out.actions()

    def on_newest_seqs_failed(self, reason: str = "", request_id: int | None = None) -> list[Action]:
        """The 1001 failed; ignored when it is not the one awaited (an older connection's)."""
        if self._take_newest(request_id) is None:
            return []
        self._phase = Phase.LIVE
        return [SyncFailed(reason)]

    def on_read_seqs(self, resp: msg_pb2.GetConversationsHasReadAndMaxSeqResp) -> list[Action]:
        """The 1006 reply, passed on as :class:`ReadSeqs`."""
        entries = tuple(
            ReadSeq(cid, int(s.hasReadSeq), int(s.maxSeq), int(s.maxSeqTime))
            for cid, s in sorted(resp.seqs.items())
        )
        return [ReadSeqs(entries)] if entries else []

    # ------------------------------------------------------------------ messages

    def on_push(self, push: sdkws_pb2.PushMessages) -> list[Action]:
        """A 2001 push: accept contiguous seqs, drop seen ones, buffer the rest and pull gaps."""
        out = Out()
        for mapping in (push.msgs, push.notificationMsgs):
            for cid in sorted(mapping):
                conv = self._conv(cid)
                for msg in sorted(mapping[cid].Msgs, key=lambda m: m.seq):
                    if msg.seq <= 0:
                        self._emit(conv, msg, "push", out)
                    else:
                        self._ingest(conv, msg, "push")
                self._apply_window(conv)
                self._advance(conv, out)
                if self._needs(conv):
                    self._dirty.add(cid)
        self._pump(out)
        return out.actions()

    def on_send_ack(self, client_msg_id: str, server_msg_id: str, send_time: int) -> list[Action]:
        """A 1003 ack for a message this device sent (no seq yet)."""
        if not client_msg_id or client_msg_id in self._delivered_ids:
            return []
        self._pending_acks[client_msg_id] = (server_msg_id, int(send_time))
        self._pending_acks.move_to_end(client_msg_id)
        while len(self._pending_acks) > self.config.dedup_window:
            self._pending_acks.popitem(last=False)
        return []

    def on_pull_reply(self, request_id: int, resp: PullReply) -> list[Action]:
        """The reply (1002 or 1005) to a ``Pull``/``PullSeqs`` this engine emitted."""
        return self._pull_reply(request_id, resp, failed=False)

    def on_pull_failed(self, request_id: int) -> list[Action]:
        """The request failed or timed out; counts as an empty reply (a probe is asked again)."""
        return self._pull_reply(request_id, sdkws_pb2.PullMessageBySeqsResp(), failed=True)

    def _pull_reply(self, request_id: int, resp: PullReply, failed: bool) -> list[Action]:
        req = self._requests.pop(request_id, None)
        if req is None:
            return []  # stale (disconnect, resync), duplicate or unknown
        out = Out()
        if req.kind == "history":
            self._history_reply(req, resp, out)
        elif req.kind == "probe":
            self._probe_reply(req, resp, failed, out)
        else:
            self._live_reply(req, resp, out)
        self._pump(out)
        return out.actions()

    def on_server_reset(self, conversation_id: str, server_max: int) -> list[Action]:
        """The adapter found proof that the server's history of a conversation is not the one held
        locally (a different message at a seq we hold: the server's data was replaced). Forget the
        conversation above ``server_max`` (answered with :class:`Resync`), as a 1001 reply would."""
        conv = self._conv(conversation_id)
        out = Out()
        out.add(Resync(conversation_id, conv.synced, server_max))
        self._reset(conv, max(0, server_max))
        return out.actions()

    # ------------------------------------------------------------------ internals

    def _conv(self, cid: str) -> Conv:
        conv = self._convs.get(cid)
        if conv is None:
            conv = self._convs[cid] = Conv(cid, is_notification_conversation(cid))
        return conv

    def _new_request_id(self) -> int:
        rid = self._next_request_id
        self._next_request_id += 1
        return rid

    def _release_requests(self) -> None:
        self._newest.clear()
        for req in self._requests.values():
            for cid, seqs in req.seqs.items():
                conv = self._convs.get(cid)
                if conv is None or conv.epoch != req.epochs[cid]:
                    continue
                if req.kind == "history":
                    conv.history_inflight.difference_update(seqs)
                    continue
                if req.kind == "probe":
                    conv.probe = None  # the next 1001 suspects again if there is reason to
                    continue
                for s in seqs:
                    if conv.inflight.get(s) == req.request_id:
                        del conv.inflight[s]
                        if conv.attempts.get(s, 0) > 0:
                            conv.attempts[s] -= 1  # never answered: not a failed attempt
                self._dirty.add(cid)
        self._requests.clear()

    def _skip_to(self, conv: Conv, seq: int) -> None:
        """Declare every seq <= ``seq`` settled without delivering it (left to history)."""
        if seq <= conv.synced:
            return
        conv.synced = seq
        for table in (conv.buffer, conv.attempts):
            for s in [s for s in table if s <= seq]:
                del table[s]
        conv.missing = {s for s in conv.missing if s > seq}

    def _apply_window(self, conv: Conv) -> None:
        if not conv.notification and conv.target - conv.synced > self.config.page:
            self._skip_to(conv, conv.target - self.config.page)

    def _ingest(self, conv: Conv, msg: sdkws_pb2.MsgData, source: DeliverySource) -> None:
        seq = int(msg.seq)
        if seq <= conv.synced and conv.probe is not None:
            conv.probe.pushed = max(conv.probe.pushed, seq)  # pulled again if the rewind is confirmed
            return
        if seq <= conv.synced or seq in conv.buffer or seq in conv.missing:
            return
        if msg.status == MsgStatus.DELETED:
            conv.missing.add(seq)
            conv.seen.add(seq)
        else:
            conv.buffer[seq] = (msg, source)
        conv.target = max(conv.target, seq)

    def _advance(self, conv: Conv, out: Out) -> None:
        while True:
            nxt = conv.synced + 1
            if nxt in conv.buffer:
                msg, source = conv.buffer.pop(nxt)
                conv.seen.add(nxt)
                self._emit(conv, msg, source, out)
            elif nxt in conv.missing:
                conv.missing.discard(nxt)
            else:
                return
            conv.synced = nxt
            conv.attempts.pop(nxt, None)

    def _remember(self, client_msg_id: str, cid: str, seq: int) -> None:
        self._delivered_ids[client_msg_id] = (cid, seq)
        self._delivered_ids.move_to_end(client_msg_id)
        while len(self._delivered_ids) > self.config.dedup_window:
            self._delivered_ids.popitem(last=False)

    def _emit(self, conv: Conv, msg: sdkws_pb2.MsgData, source: DeliverySource, out: Out) -> None:
        cmid = msg.clientMsgID
        if cmid:
            seen = self._delivered_ids.get(cmid)
            # the same clientMsgID is a duplicate within a conversation, but not across a notification
            # conversation and a chat: an isSendMsg tip comes as both (n_ copy and sg_/si_ copy)
            if seen is not None and (seen[0] == conv.cid or not (
                    conv.notification or is_notification_conversation(seen[0]))):
                return
            self._remember(cmid, conv.cid, int(msg.seq))
            ack = self._pending_acks.pop(cmid, None)
            if ack is not None and msg.seq > 0:
                server_msg_id = msg.serverMsgID or ack[0]
                send_time = int(msg.sendTime) or ack[1]
                out.add(Merge(conv.cid, cmid, int(msg.seq), server_msg_id, send_time, msg, source))
                return
        out.message(conv.cid, source, conv.notification, msg)

    def _needs(self, conv: Conv) -> list[int]:
        hi = min(conv.target, conv.synced + self.config.page)
        return [
            s
            for s in range(conv.synced + 1, hi + 1)
            if s not in conv.buffer and s not in conv.missing and s not in conv.inflight
        ]

    def _pump(self, out: Out) -> None:
        if self._phase is not Phase.OFFLINE:
            live = sum(1 for r in self._requests.values() if r.kind == "live")
            fresh: list[tuple[Conv, list[int]]] = []
            retry: list[tuple[Conv, list[int]]] = []
            for cid in sorted(self._dirty):
                conv = self._convs[cid]
                need = self._needs(conv)
                if not need:
                    self._dirty.discard(cid)
                    continue
                contiguous = need[-1] - need[0] + 1 == len(need)
                if contiguous and all(conv.attempts.get(s, 0) == 0 for s in need):
                    fresh.append((conv, need))
                else:
                    retry.append((conv, need))
            per = self.config.max_conversations_per_request
            for group, by_seqs in ((fresh, False), (retry, True)):
                for i in range(0, len(group), per):
                    if live >= self.config.max_inflight:
                        break
                    self._send(group[i : i + per], by_seqs, out)
                    live += 1
        if (
            self._phase is Phase.SYNCING
            and not self._dirty
            and not any(r.kind == "live" for r in self._requests.values())
        ):
            self._phase = Phase.LIVE
            out.add(SyncFinished())

    def _send(self, chunk: Iterable[tuple[Conv, list[int]]], by_seqs: bool, out: Out) -> None:
        rid = self._new_request_id()
        seqs: dict[str, tuple[int, ...]] = {}
        epochs: dict[str, int] = {}
        for conv, need in chunk:
            seqs[conv.cid] = tuple(need)
            epochs[conv.cid] = conv.epoch
            for s in need:
                conv.inflight[s] = rid
                conv.attempts[s] = conv.attempts.get(s, 0) + 1
            self._dirty.discard(conv.cid)
        self._requests[rid] = Request(rid, "live", by_seqs, False, seqs, epochs)
        if by_seqs:
            out.add(PullSeqs(rid, tuple(seqs.items())))
        else:
            out.add(Pull(rid, tuple(SeqRange(cid, s[0], s[-1], len(s)) for cid, s in seqs.items())))

    @staticmethod
    def _reply_for(resp: PullReply, cid: str) -> sdkws_pb2.PullMsgs | None:
        if cid in resp.msgs:
            return resp.msgs[cid]
        if cid in resp.notificationMsgs:
            return resp.notificationMsgs[cid]
        return None

    def _live_reply(self, req: Request, resp: PullReply, out: Out) -> None:
        for cid, seqs in req.seqs.items():
            conv = self._convs.get(cid)
            if conv is None or conv.epoch != req.epochs[cid]:
                continue
            for s in seqs:
                if conv.inflight.get(s) == req.request_id:
                    del conv.inflight[s]
            pm = self._reply_for(resp, cid)
            returned: list[int] = []
            end_cut: int | None = None
            if pm is not None:
                for msg in pm.Msgs:
                    if msg.seq > 0:
                        returned.append(int(msg.seq))
                        self._ingest(conv, msg, "pull")
                if pm.isEnd:
                    if req.by_seqs:
                        end_cut = int(pm.endSeq) if pm.endSeq > 0 else None
                    elif returned:
                        end_cut = max(returned)
            gave_up_end: list[int] = []
            gave_up_attempts: list[int] = []
            for s in seqs:
                if s <= conv.synced or s in conv.buffer or s in conv.missing or s in conv.inflight:
                    continue
                if end_cut is not None and s > end_cut:
                    gave_up_end.append(s)
                elif conv.attempts.get(s, 0) >= self.config.max_attempts:
                    gave_up_attempts.append(s)
                else:
                    self._dirty.add(cid)
            if gave_up_end and not any(b > min(gave_up_end) for b in conv.buffer):
                # Nothing waits above: the server simply ends lower than we believed (the belief
                # came before a rewind). Wait for those seqs instead of skipping them for good.
                conv.target = max(conv.synced, min(gave_up_end) - 1, *conv.inflight)
                for s in gave_up_end:
                    conv.attempts.pop(s, None)
            elif gave_up_end:
                conv.missing.update(gave_up_end)
                out.add(GapGiveUp(cid, tuple(gave_up_end), "end"))
            if gave_up_attempts:
                conv.missing.update(gave_up_attempts)
                out.add(GapGiveUp(cid, tuple(gave_up_attempts), "attempts"))
            self._apply_window(conv)
            self._advance(conv, out)
            if self._needs(conv):
                self._dirty.add(cid)
