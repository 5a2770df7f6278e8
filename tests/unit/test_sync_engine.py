"""SyncEngine: example tests per rule, and hypothesis tests against a model server."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.sync import (
    Action,
    Deliver,
    GapGiveUp,
    HistoryEnd,
    Merge,
    Phase,
    Pull,
    PullSeqs,
    ReadSeqs,
    RequestNewestSeqs,
    RequestReadSeqs,
    Resync,
    SeqRange,
    SyncConfig,
    SyncEngine,
    SyncFailed,
    SyncFinished,
    SyncStarted,
)
from openim_sdk.sync._intervals import IntervalSet

ME = "u1"
SI = "si_u1_u2"
SG = "sg_g1"
NN = "n_u1_u1"


# --------------------------------------------------------------------------- model server


class ModelServer:
    """Stores messages by seq (``None`` = allocated but missing) and answers 1001/1002/1005."""

    def __init__(self) -> None:
        self.convs: dict[str, list[sdkws_pb2.MsgData | None]] = defaultdict(list)
        self._n = 0

    def append(self, cid: str, *, missing: bool = False, sender: str = "u2") -> sdkws_pb2.MsgData:
        msgs = self.convs[cid]
        self._n += 1
        m = sdkws_pb2.MsgData(
            sendID=sender,
            clientMsgID=f"c{self._n}",
            serverMsgID=f"s{self._n}",
            seq=len(msgs) + 1,
            sendTime=1000 + self._n,
            status=2,
            content=b'{"content":"x"}',
            contentType=101,
        )
        msgs.append(None if missing else m)
        return m

    def max_seq(self, cid: str) -> int:
        return len(self.convs[cid])

    def newest(self) -> sdkws_pb2.GetMaxSeqResp:
        return sdkws_pb2.GetMaxSeqResp(maxSeqs={c: len(m) for c, m in self.convs.items() if m})

    def _get(self, cid: str, seq: int) -> sdkws_pb2.MsgData:
        m = self.convs[cid][seq - 1]
        return m if m is not None else sdkws_pb2.MsgData(seq=seq, status=4)

    @staticmethod
    def _target(resp: sdkws_pb2.PullMessageBySeqsResp | msg_pb2.GetSeqMessageResp, cid: str):
        return resp.notificationMsgs[cid] if cid.startswith("n_") else resp.msgs[cid]

    def answer(self, action: Pull | PullSeqs, keep=lambda cid, seq: True):
        if isinstance(action, Pull):
            resp = sdkws_pb2.PullMessageBySeqsResp()
            for r in action.ranges:
                mx = self.max_seq(r.conversation_id)
                begin, end = max(r.begin, 1), min(r.end, mx)
                if end < begin:
                    continue
                if not r.conversation_id.startswith("n_") and end - begin + 1 > r.num:
                    begin = end - r.num + 1
                msgs = [self._get(r.conversation_id, s) for s in range(begin, end + 1)]
                msgs = [m for m in msgs if keep(r.conversation_id, m.seq)]
                if msgs:
                    pm = self._target(resp, r.conversation_id)
                    pm.Msgs.extend(msgs)
                    pm.isEnd = mx <= r.end
            return resp
        resp2 = msg_pb2.GetSeqMessageResp()
        for cid, seqs in action.seqs:
            mx = self.max_seq(cid)
            pm = self._target(resp2, cid)
            pm.Msgs.extend(self._get(cid, s) for s in seqs if 1 <= s <= mx and keep(cid, s))
            if any(s > mx for s in seqs) and not action.descending:
                pm.isEnd, pm.endSeq = True, mx
            if any(s < 1 for s in seqs) and action.descending:
                pm.isEnd, pm.endSeq = True, 1
        return resp2


def push_of(cid: str, *msgs: sdkws_pb2.MsgData) -> sdkws_pb2.PushMessages:
    p = sdkws_pb2.PushMessages()
    (p.notificationMsgs if cid.startswith("n_") else p.msgs)[cid].Msgs.extend(msgs)
    return p


def delivered(actions: list[Action], cid: str | None = None) -> list[int]:
    return [
        m.seq
        for a in actions
        if isinstance(a, Deliver) and cid in (None, a.conversation_id)
        for m in a.messages
    ]


def pulls(actions: list[Action]) -> list[Pull | PullSeqs]:
    return [a for a in actions if isinstance(a, Pull | PullSeqs)]


def connect(engine: SyncEngine, server: ModelServer) -> list[Action]:
    newest, reads = engine.on_connected()
    assert isinstance(newest, RequestNewestSeqs) and reads == RequestReadSeqs()
    return engine.on_newest_seqs(server.newest(), newest.request_id)


def drain(engine: SyncEngine, server: ModelServer, actions: list[Action], limit: int = 200) -> list[Action]:
    """Answer every request perfectly until none is left; returns every action seen."""
    seen = list(actions)
    queue = pulls(actions)
    for _ in range(limit):
        if not queue:
            return seen
        req = queue.pop(0)
        new = engine.on_pull_reply(req.request_id, server.answer(req))
        seen += new
        queue += pulls(new)
    raise AssertionError("pull loop did not terminate")


# --------------------------------------------------------------------------- examples


def test_contiguous_push_is_delivered_and_duplicate_dropped():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    connect(e, s)
    m1 = s.append(SI)
    acts = e.on_push(push_of(SI, m1))
    assert acts == [Deliver(SI, (m1,), "push", False)]
    assert e.on_push(push_of(SI, m1)) == []
    assert e.synced_seqs()[SI] == 1


def test_gap_is_buffered_pulled_and_delivered_in_order():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    connect(e, s)
    _m1, m2, m3 = s.append(SI), s.append(SI), s.append(SI)
    acts = e.on_push(push_of(SI, m3))
    assert delivered(acts) == []
    (p,) = pulls(acts)
    assert isinstance(p, Pull) and p.ranges == (SeqRange(SI, 1, 2, 2),)
    assert e.conversation_state(SI).buffered == (3,)  # type: ignore[union-attr]
    acts = e.on_pull_reply(p.request_id, s.answer(p))
    assert delivered(acts) == [1, 2, 3]
    assert [a.source for a in acts if isinstance(a, Deliver)] == ["pull", "push"]
    # a late push of the gap is now a duplicate
    assert e.on_push(push_of(SI, m2)) == []


def test_gap_filled_by_push_before_pull_reply():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    connect(e, s)
    m1, m2 = s.append(SI), s.append(SI)
    (p,) = pulls(e.on_push(push_of(SI, m2)))
    assert delivered(e.on_push(push_of(SI, m1))) == [1, 2]
    assert delivered(e.on_pull_reply(p.request_id, s.answer(p))) == []


def test_on_connect_pulls_only_newest_page_and_notifications_in_chunks():
    s = ModelServer()
    for _ in range(10):
        s.append(SI)
    for _ in range(7):
        s.append(NN)
    for _ in range(4):
        s.append(SG)
    e = SyncEngine(ME, {SI: 2, SG: 3}, config=SyncConfig(page=3))
    acts = connect(e, s)
    assert acts[0] == SyncStarted()
    (p,) = pulls(acts)
    assert isinstance(p, Pull)
    assert set(p.ranges) == {SeqRange(NN, 1, 3, 3), SeqRange(SG, 4, 4, 1), SeqRange(SI, 8, 10, 3)}
    acts = drain(e, s, acts)
    assert delivered(acts, SI) == [8, 9, 10]
    assert delivered(acts, SG) == [4]
    assert delivered(acts, NN) == list(range(1, 8))
    assert all(a.notification for a in acts if isinstance(a, Deliver) and a.conversation_id == NN)
    assert acts[-1] == SyncFinished() and e.phase is Phase.LIVE


def test_requests_are_bounded():
    s = ModelServer()
    cids = [f"si_u1_x{i:02d}" for i in range(25)]
    for c in cids:
        for _ in range(5):
            s.append(c)
    cfg = SyncConfig(page=2, max_conversations_per_request=4, max_inflight=3)
    e = SyncEngine(ME, config=cfg)
    acts = connect(e, s)
    ps = pulls(acts)
    assert len(ps) == 3
    for p in ps:
        assert isinstance(p, Pull) and len(p.ranges) <= 4
        assert all(r.end - r.begin + 1 <= 2 and r.num == 2 for r in p.ranges)
    acts = drain(e, s, acts)
    for c in cids:
        assert delivered(acts, c) == [4, 5]
    assert max(len(e.outstanding_requests()), 0) == 0


def test_placeholders_are_not_delivered_nor_pulled_again():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    connect(e, s)
    s.append(SI)
    s.append(SI, missing=True)
    m3 = s.append(SI)
    acts = drain(e, s, e.on_push(push_of(SI, m3)))
    assert delivered(acts) == [1, 3]
    assert len(pulls(acts)) == 1
    assert e.conversation_state(SI).synced == 3  # type: ignore[union-attr]


def test_partial_replies_are_retried_then_given_up():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0}, config=SyncConfig(max_attempts=3))
    connect(e, s)
    for _ in range(4):
        s.append(SI)
    m5 = s.append(SI)
    acts = e.on_push(push_of(SI, m5))
    (p,) = pulls(acts)
    # the server never returns seq 2
    keep = lambda cid, seq: seq != 2  # noqa: E731
    acts = e.on_pull_reply(p.request_id, s.answer(p, keep))
    assert delivered(acts) == [1]
    (p2,) = pulls(acts)
    assert isinstance(p2, PullSeqs) and p2.seqs == ((SI, (2,)),)
    acts = e.on_pull_failed(p2.request_id)
    (p3,) = pulls(acts)
    acts = e.on_pull_reply(p3.request_id, s.answer(p3, keep))
    assert GapGiveUp(SI, (2,), "attempts") in acts
    assert delivered(acts) == [3, 4, 5]
    assert pulls(acts) == []


def test_is_end_gives_up_beyond_the_end_at_once():
    s = ModelServer()
    e = SyncEngine(ME, {SG: 0})
    connect(e, s)
    s.append(SG)
    s.append(SG)
    # a push claims seq 4 but the server (user maxSeq bound) only serves up to 2
    acts = e.on_push(push_of(SG, sdkws_pb2.MsgData(clientMsgID="x4", seq=4, status=2)))
    (p,) = pulls(acts)
    acts = e.on_pull_reply(p.request_id, s.answer(p))
    assert GapGiveUp(SG, (3,), "end") in acts
    assert delivered(acts) == [1, 2, 4]


def test_empty_replies_never_loop():
    s = ModelServer()
    e = SyncEngine(ME, config=SyncConfig(page=5, max_attempts=4))
    for _ in range(5):
        s.append(SI)
    acts = connect(e, s)
    n = 0
    queue = pulls(acts)
    while queue:
        n += 1
        assert n < 50
        req = queue.pop()
        new = e.on_pull_reply(req.request_id, sdkws_pb2.PullMessageBySeqsResp())
        queue += pulls(new)
    assert n == 4
    assert e.synced_seqs()[SI] == 5 and e.phase is Phase.LIVE


def test_server_rewind_is_probed_then_confirmed():
    s = ModelServer()
    s.append(SI)
    e = SyncEngine(ME, {SI: 9})
    acts = connect(e, s)
    assert not any(isinstance(a, Resync) for a in acts)  # one 1001 proves nothing yet
    (probe,) = pulls(acts)
    assert isinstance(probe, PullSeqs) and probe.seqs == ((SI, tuple(range(2, 10))),) and not probe.descending
    assert e.synced_seqs()[SI] == 9
    acts = e.on_pull_reply(probe.request_id, s.answer(probe))  # isEnd, endSeq 1
    assert Resync(SI, 9, 1) in acts
    assert e.synced_seqs()[SI] == 1
    m2 = s.append(SI)
    assert delivered(e.on_push(push_of(SI, m2))) == [2]


def test_stale_newest_seq_reply_after_a_push_is_not_a_rewind():
    """Issue 18: 1001 answered max 3, then seq 4 was pushed and applied, then the reply came."""
    s = ModelServer()
    for _ in range(3):
        s.append(SI)
    e = SyncEngine(ME, {SI: 3})
    newest, _ = e.on_connected()
    assert isinstance(newest, RequestNewestSeqs)
    reply = s.newest()  # the server answers max 3 ...
    m4 = s.append(SI)
    assert delivered(e.on_push(push_of(SI, m4))) == [4]  # ... then pushes seq 4, applied first
    acts = e.on_newest_seqs(reply, newest.request_id)
    assert not any(isinstance(a, Resync) for a in acts) and pulls(acts) == []
    assert e.synced_seqs()[SI] == 4 and acts[-1] == SyncFinished()
    assert e.on_newest_seqs(reply, newest.request_id) == []  # a duplicate is ignored
    m5 = s.append(SI)
    assert delivered(e.on_push(push_of(SI, m5))) == [5]


def test_probe_that_finds_the_messages_deletes_nothing():
    s = ModelServer()
    for _ in range(6):
        s.append(SI)
    e = SyncEngine(ME, {SI: 6})
    newest, _ = e.on_connected()
    acts = e.on_newest_seqs(sdkws_pb2.GetMaxSeqResp(maxSeqs={SI: 2}), newest.request_id)  # a wrong answer
    (probe,) = pulls(acts)
    acts = e.on_pull_reply(probe.request_id, s.answer(probe))  # all of 3..6 served, no isEnd
    assert acts == [] or not any(isinstance(a, Resync) for a in acts)
    assert delivered(acts) == [] and e.synced_seqs()[SI] == 6


def test_probe_failures_never_confirm():
    s = ModelServer()
    s.append(SI)
    e = SyncEngine(ME, {SI: 5}, config=SyncConfig(max_attempts=2))
    (probe,) = pulls(connect(e, s))
    (again,) = pulls(e.on_pull_failed(probe.request_id))
    assert isinstance(again, PullSeqs) and again.seqs == probe.seqs
    assert e.on_pull_failed(again.request_id) == []
    assert e.synced_seqs()[SI] == 5
    (probe,) = pulls(connect(e, s))  # the next connect suspects again, and this time it is proven
    assert Resync(SI, 5, 1) in e.on_pull_reply(probe.request_id, s.answer(probe))


def test_rewind_delivers_what_the_probe_and_pushes_found_and_forgets_old_ids():
    s = ModelServer()
    msgs = [s.append(SI) for _ in range(6)]
    e = SyncEngine(ME, {SI: 0})
    assert delivered(drain(e, s, connect(e, s))) == [1, 2, 3, 4, 5, 6]
    # restore from a backup holding 1..3, then seq 4 is stored again with the same message
    s.convs[SI][3:] = []
    e.on_disconnected()
    newest, _ = e.on_connected()
    acts = e.on_newest_seqs(s.newest(), newest.request_id)
    (probe,) = pulls(acts)
    s.convs[SI].append(msgs[3])
    reply = s.answer(probe)  # returns seq 4 (stored after the 1001 answer), isEnd, endSeq 4
    m5 = s.append(SI)
    assert e.on_push(push_of(SI, m5)) == []  # a seq we hold: noted while the rewind is checked
    acts = e.on_pull_reply(probe.request_id, reply)
    assert acts[0] == Resync(SI, 6, 3)
    assert delivered(acts) == [4]  # the re-pulled message is delivered again
    (p,) = pulls(acts)  # the push that came meanwhile is asked of the server, not trusted
    assert isinstance(p, Pull) and p.ranges == (SeqRange(SI, 5, 5, 1),)
    assert delivered(e.on_pull_reply(p.request_id, s.answer(p))) == [5]
    assert e.synced_seqs()[SI] == 5


def test_a_confirmed_rewind_never_settles_seqs_above_the_servers_end():
    """A push seen before the rewind (seq 5) must not make the window skip past what remains."""
    s = ModelServer()
    for _ in range(4):
        s.append(SI)
    e = SyncEngine(ME, {SI: 0}, config=SyncConfig(page=3))
    connect(e, ModelServer())  # the 1001 was answered before these existed
    m5 = s.append(SI)
    e.on_push(push_of(SI, m5))  # window: 1..2 left to history, 3..4 pulled, 5 buffered
    del s.convs[SI][1:]  # restored from a backup holding seq 1 only
    e.on_disconnected()
    acts = drain(e, s, connect(e, s))
    assert any(isinstance(a, Resync) for a in acts)
    assert e.synced_seqs()[SI] == 1 and delivered(acts) == []
    m2 = s.append(SI)
    assert delivered(e.on_push(push_of(SI, m2))) == [2]


def test_newest_reply_for_a_reset_conversation_and_old_failures_are_ignored():
    s = ModelServer()
    for _ in range(4):
        s.append(SI)
    e = SyncEngine(ME, {SI: 4})
    newest, _ = e.on_connected()
    e.on_server_reset(SI, 2)  # the adapter proved a reset meanwhile
    assert pulls(e.on_newest_seqs(sdkws_pb2.GetMaxSeqResp(maxSeqs={SI: 1}), newest.request_id)) == []
    assert e.synced_seqs()[SI] == 2
    old, _ = e.on_connected()
    fresh, _ = e.on_connected()  # a reconnect forgot ``old``
    assert e.on_newest_seqs_failed("gone", old.request_id) == []
    assert e.on_newest_seqs(s.newest(), old.request_id) == []
    assert e.phase is Phase.CONNECTING
    acts = e.on_newest_seqs(s.newest(), fresh.request_id)
    assert acts[0] == SyncStarted() and e.phase is not Phase.CONNECTING


def test_reconnect_pulls_only_missing_and_reissues_lost_requests():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0}, config=SyncConfig(max_attempts=1))
    for _ in range(3):
        s.append(SI)
    acts = connect(e, s)
    (p,) = pulls(acts)
    e.on_disconnected()
    assert e.phase is Phase.OFFLINE
    assert e.on_pull_reply(p.request_id, s.answer(p)) == []  # stale reply ignored
    for _ in range(2):
        s.append(SI)
    acts = connect(e, s)
    (p2,) = pulls(acts)
    assert isinstance(p2, Pull) and p2.ranges == (SeqRange(SI, 1, 5, 5),)  # not charged an attempt
    acts = drain(e, s, acts)
    assert delivered(acts) == [1, 2, 3, 4, 5]
    acts = connect(e, s)
    assert pulls(acts) == [] and acts[-1] == SyncFinished()


def test_pushes_while_offline_do_not_pull():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    s.append(SI)
    m2 = s.append(SI)
    assert e.on_push(push_of(SI, m2)) == []
    acts = drain(e, s, connect(e, s))
    assert delivered(acts) == [1, 2]


def test_ack_then_push_merges():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    connect(e, s)
    m1 = s.append(SI, sender=ME)
    assert e.on_send_ack(m1.clientMsgID, "srv", 77) == []
    acts = e.on_push(push_of(SI, m1))
    assert acts == [Merge(SI, m1.clientMsgID, 1, m1.serverMsgID, m1.sendTime, m1)]
    assert e.on_push(push_of(SI, m1)) == []


def test_push_then_ack_delivers_once():
    s = ModelServer()
    e = SyncEngine(ME, {SI: 0})
    connect(e, s)
    m1 = s.append(SI, sender=ME)
    assert delivered(e.on_push(push_of(SI, m1))) == [1]
    assert e.on_send_ack(m1.clientMsgID, "srv", 77) == []
    m2 = s.append(SI)
    assert delivered(e.on_push(push_of(SI, m2))) == [2]


def test_dedup_by_client_msg_id_across_seqs():
    e = SyncEngine(ME, {SI: 0})
    e.on_connected()
    a = sdkws_pb2.MsgData(clientMsgID="same", seq=1)
    b = sdkws_pb2.MsgData(clientMsgID="same", seq=2)
    c = sdkws_pb2.MsgData(clientMsgID="other", seq=3)
    acts = e.on_push(push_of(SI, a, b, c))
    assert delivered(acts) == [1, 3]
    assert e.synced_seqs()[SI] == 3


def test_a_tip_in_the_notification_conversation_and_in_the_chat_is_delivered_in_both():
    """An isSendMsg notification comes twice under one clientMsgID: the n_ copy (online) and the
    chat copy with a seq (the timeline). Both are delivered; a repeat inside one of them is not."""
    e = SyncEngine(ME, {"sg_g": 0})
    e.on_connected()
    n_copy = sdkws_pb2.MsgData(clientMsgID="tip", seq=0, contentType=1501)
    chat_copy = sdkws_pb2.MsgData(clientMsgID="tip", seq=1, contentType=1501)
    assert [a.conversation_id for a in e.on_push(push_of("n_g", n_copy)) if isinstance(a, Deliver)] == ["n_g"]
    assert delivered(e.on_push(push_of("sg_g", chat_copy)), "sg_g") == [1]
    assert e.on_push(push_of("sg_g", chat_copy)) == []
    other = sdkws_pb2.MsgData(clientMsgID="tip", seq=2)  # the same ID again in a chat: a duplicate
    assert delivered(e.on_push(push_of("sg_g", other)), "sg_g") == []


def test_seq_zero_pushes_are_delivered_immediately():
    e = SyncEngine(ME, {SI: 5})
    e.on_connected()
    typing = sdkws_pb2.MsgData(clientMsgID="t1", seq=0, contentType=113)
    acts = e.on_push(push_of(SI, typing))
    assert acts == [Deliver(SI, (typing,), "push", False)]
    assert e.on_push(push_of(SI, typing)) == []
    assert e.synced_seqs()[SI] == 5


def test_history_pages_and_end():
    s = ModelServer()
    for _ in range(8):
        s.append(SI)
    e = SyncEngine(ME, config=SyncConfig(page=3))
    drain(e, s, connect(e, s))
    acts = e.request_history(SI, 6, 3)
    (p,) = acts
    assert isinstance(p, PullSeqs) and p.descending and p.seqs == ((SI, (3, 4, 5)),)
    acts = e.on_pull_reply(p.request_id, s.answer(p))
    assert acts == [Deliver(SI, tuple(s.convs[SI][2:5]), "history", False)]  # type: ignore[arg-type]
    # already seen seqs are skipped: before 9 means 1..2 are left
    (p,) = e.request_history(SI, 9, 3)
    assert isinstance(p, PullSeqs) and p.seqs == ((SI, (1, 2)),)
    acts = e.on_pull_reply(p.request_id, s.answer(p))
    assert delivered(acts) == [1, 2] and acts[-1] == HistoryEnd(SI, 1)
    assert e.request_history(SI, 9, 3) == [HistoryEnd(SI, 1)]
    assert e.request_history("si_u1_unknown", 9, 3) == []


def test_history_of_several_conversations_in_one_request_and_one_run_of_deliveries():
    s = ModelServer()
    for _ in range(6):
        s.append(SI)
        s.append(SG)
    e = SyncEngine(ME, config=SyncConfig(page=2))
    drain(e, s, connect(e, s))
    other = "si_u1_u9"
    (p,) = e.request_histories([(SI, 5, 10, 1), (SG, 5, 2, 1), (SI, 3, 1, 1), (other, 9, 3, 1)])
    assert isinstance(p, PullSeqs) and p.seqs == ((SI, (1, 2, 3, 4)), (SG, (3, 4)))  # SI once; unknown: none
    # asked already (in flight): not asked again (nothing else below it: its end); SG's rest is
    end, q = e.request_histories([(SI, 5, 10, 1), (SG, 5, 10, 1)])
    assert end == HistoryEnd(SI, 1) and isinstance(q, PullSeqs) and q.seqs == ((SG, (1, 2)),)
    acts = e.on_pull_reply(p.request_id, s.answer(p))
    kinds = [type(a).__name__ for a in acts]
    assert kinds == ["Deliver", "Deliver", "HistoryEnd"]  # the deliveries adjacent: one write
    assert delivered(acts, SI) == [1, 2, 3, 4] and delivered(acts, SG) == [3, 4]
    assert acts[-1] == HistoryEnd(SI, 1)
    acts = e.on_pull_reply(q.request_id, s.answer(q))
    assert delivered(acts, SG) == [1, 2] and acts[-1] == HistoryEnd(SG, 1)
    assert e.request_histories([(SI, 5, 10, 1), (SG, 9, 10, 1)]) == [HistoryEnd(SI, 1), HistoryEnd(SG, 1)]


def test_download_takes_pieces_of_different_conversations_per_request():
    from collections import deque

    from openim_sdk.session.history import take_pieces

    pieces = deque([("a", 6, 9), ("a", 1, 5), ("b", 1, 3), ("a", 0, 0), ("c", 1, 2), ("d", 1, 1)])
    assert take_pieces(pieces, 3) == [("a", 6, 9), ("b", 1, 3), ("c", 1, 2)]
    assert list(pieces) == [("a", 1, 5), ("a", 0, 0), ("d", 1, 1)]  # the rest, in order
    assert take_pieces(pieces, 3) == [("a", 1, 5), ("d", 1, 1)]
    assert take_pieces(pieces, 3) == [("a", 0, 0)] and not pieces


def test_history_reply_with_is_end_sets_min():
    e = SyncEngine(ME, {SI: 10})
    e.on_connected()
    (p,) = e.request_history(SI, 11, 3)
    resp = msg_pb2.GetSeqMessageResp()
    resp.msgs[SI].isEnd = True
    resp.msgs[SI].endSeq = 10
    resp.msgs[SI].Msgs.append(sdkws_pb2.MsgData(clientMsgID="m10", seq=10))
    acts = e.on_pull_reply(p.request_id, resp)
    assert delivered(acts) == [10] and acts[-1] == HistoryEnd(SI, 10)
    assert e.request_history(SI, 10, 3) == [HistoryEnd(SI, 10)]


def test_fresh_install_skips_old_notifications():
    s = ModelServer()
    for _ in range(5):
        s.append(NN)
    s.append(SI)
    e = SyncEngine(ME, fresh_install=True)
    acts = drain(e, s, connect(e, s))
    assert delivered(acts, NN) == [] and delivered(acts, SI) == [1]
    m6 = s.append(NN)
    assert delivered(e.on_push(push_of(NN, m6))) == [6]


def test_min_seq_from_newest_reply_bounds_the_pull():
    e = SyncEngine(ME, {SG: 0})
    e.on_connected()
    acts = e.on_newest_seqs(sdkws_pb2.GetMaxSeqResp(maxSeqs={SG: 10}, minSeqs={SG: 9}))
    (p,) = pulls(acts)
    assert isinstance(p, Pull) and p.ranges == (SeqRange(SG, 9, 10, 2),)


def test_read_seqs_and_failures():
    e = SyncEngine(ME)
    e.on_connected()
    resp = msg_pb2.GetConversationsHasReadAndMaxSeqResp()
    resp.seqs[SI].hasReadSeq = 3
    resp.seqs[SI].maxSeq = 5
    (a,) = e.on_read_seqs(resp)
    assert isinstance(a, ReadSeqs) and a.entries[0].has_read_seq == 3 and a.entries[0].max_seq == 5
    assert e.on_newest_seqs_failed("timeout") == [SyncFailed("timeout")]
    assert e.on_pull_reply(12345, sdkws_pb2.PullMessageBySeqsResp()) == []


def test_to_pb():
    p = Pull(1, (SeqRange(SI, 1, 3, 3),)).to_pb(ME)
    assert p.userID == ME and p.seqRanges[0].conversationID == SI and p.seqRanges[0].num == 3
    q = PullSeqs(2, ((SI, (1, 2)),), descending=True).to_pb(ME)
    assert list(q.conversations[0].seqs) == [1, 2] and q.order == sdkws_pb2.PullOrderDesc
    assert RequestNewestSeqs().to_pb(ME).userID == ME
    assert RequestReadSeqs().to_pb(ME).userID == ME
    with pytest.raises(ValueError):
        SyncConfig(page=0)


@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 6)), max_size=30), st.integers(0, 70))
def test_interval_set_matches_python_set(ops, probe):
    iv, ref = IntervalSet(), set()
    for lo, width in ops:
        iv.add_range(lo, lo + width)
        ref.update(range(lo, lo + width + 1))
    assert set(iv) == ref and len(iv) == len(ref)
    assert (probe in iv) == (probe in ref)
    assert iv.missing_in(5, 40) == [x for x in range(5, 41) if x not in ref]
    expect = max([x for x in range(-1, probe + 1) if x not in ref])
    assert iv.prev_absent(probe) == expect
    los = [lo for lo, _ in iv.intervals()]
    assert los == sorted(los)


# --------------------------------------------------------------------------- properties

CIDS = (SI, SG, NN)
CFG = SyncConfig(page=3, max_conversations_per_request=2, max_inflight=2, max_attempts=2)


Reply = sdkws_pb2.PullMessageBySeqsResp | msg_pb2.GetSeqMessageResp


class SyncMachine(RuleBasedStateMachine):
    """Random interleavings against a model server: pushes dropped, duplicated and reordered;
    every reply (1001 and pulls) computed by the server at one moment and applied at any later
    one, before or after pushes of newer messages, duplicated, or after a reconnect made it
    stale; lossy and failed pulls; history requests; and real rewinds (the server restored from
    a backup that lacks its newest messages).

    The model cache applies the engine's actions like the client does (``Resync`` drops the
    cached seqs above ``server_max``). Invariants: only messages the server held are delivered,
    each clientMsgID at most once, live ones in seq order; a ``Resync`` never drops a message the
    server still holds; at the end every message the server holds is cached exactly once."""

    @initialize(
        pre=st.lists(st.sampled_from(CIDS), max_size=8),
        local=st.fixed_dictionaries({c: st.integers(0, 3) for c in CIDS}),
    )
    def setup(self, pre, local):
        self.server = ModelServer()
        for cid in pre:
            self.server.append(cid)
        self.local = {c: min(n, self.server.max_seq(c)) for c, n in local.items()}
        self.engine = SyncEngine(ME, self.local, config=CFG)
        self.ever: dict[str, sdkws_pb2.MsgData] = {}  # every message the server ever held
        for msgs in self.server.convs.values():
            self.ever.update((m.clientMsgID, m) for m in msgs if m is not None)
        self.pushes: list[sdkws_pb2.PushMessages] = []
        self.requests: list[Pull | PullSeqs] = []  # sent, not yet answered by the server
        self.replies: list[tuple[Pull | PullSeqs, Reply]] = []  # answered, not yet applied
        self.newest: list[int] = []  # 1001 sent, not yet answered
        self.newest_replies: list[tuple[int, sdkws_pb2.GetMaxSeqResp]] = []
        self.cache: dict[str, dict[int, str]] = defaultdict(dict)  # cid -> seq -> clientMsgID
        self.live: dict[str, list[int]] = defaultdict(list)
        self.delivered: dict[str, int] = defaultdict(int)
        self.rewound: set[str] = set()  # rewound on the server, not yet resynced by the engine
        self.handle(self.engine.on_connected())

    def handle(self, actions: list[Action]) -> None:
        for a in actions:
            if isinstance(a, RequestNewestSeqs):
                self.newest.append(a.request_id)
            if isinstance(a, Pull | PullSeqs):
                self.requests.append(a)
                if isinstance(a, Pull):
                    assert len(a.ranges) <= CFG.max_conversations_per_request
                    assert all(r.end - r.begin + 1 <= CFG.page for r in a.ranges)
                else:
                    assert all(len(s) <= CFG.page for _, s in a.seqs)
            if isinstance(a, Resync):
                self.resync(a)
            msgs: tuple[sdkws_pb2.MsgData, ...] = ()
            cid, source = "", ""
            if isinstance(a, Deliver):
                msgs, cid, source = a.messages, a.conversation_id, a.source
            elif isinstance(a, Merge):
                msgs, cid, source = (a.message,), a.conversation_id, a.source
            for m in msgs:
                assert m == self.ever.get(m.clientMsgID), "delivered what the server held"
                self.delivered[m.clientMsgID] += 1
                assert self.delivered[m.clientMsgID] == 1, f"{m.clientMsgID} delivered twice"
                assert self.cache[cid].get(m.seq, m.clientMsgID) == m.clientMsgID, (cid, m.seq)
                self.cache[cid][m.seq] = m.clientMsgID
                if source != "history":
                    prev = self.live[cid]
                    assert not prev or prev[-1] < m.seq, f"{cid}: {prev[-1:]} then {m.seq}"
                    prev.append(m.seq)

    def held(self, cid: str, seq: int) -> str | None:
        msgs = self.server.convs[cid]
        m = msgs[seq - 1] if 1 <= seq <= len(msgs) else None
        return m.clientMsgID if m is not None else None

    def resync(self, a: Resync) -> None:
        cid = a.conversation_id
        assert a.server_max < a.local_max
        for seq in [s for s in self.cache[cid] if s > a.server_max]:
            cmid = self.cache[cid].pop(seq)
            assert self.held(cid, seq) != cmid, f"{cid}#{seq} dropped while the server holds it"
            self.delivered[cmid] -= 1  # dropped from the cache: a re-pull may deliver it again
        self.live[cid] = [s for s in self.live[cid] if s <= a.server_max]
        self.rewound.discard(cid)
        event("rewind confirmed")

    @rule(
        cid=st.sampled_from(CIDS),
        fate=st.sampled_from(["push", "push", "push", "drop", "dup", "missing"]),
        own=st.booleans(),
    )
    def new_message(self, cid, fate, own):
        if cid in self.rewound:
            # A rewind refilled past the local max cannot be told by seqs alone (the client
            # compares clientMsgIDs of pushes with the cache for that): wait for the resync.
            return
        m = self.server.append(cid, missing=fate == "missing", sender=ME if own else "u2")
        if fate != "missing":
            self.ever[m.clientMsgID] = m
        if own:
            self.handle(self.engine.on_send_ack(m.clientMsgID, m.serverMsgID, m.sendTime))
        if fate in ("push", "dup"):
            self.pushes.append(push_of(cid, m))
        if fate == "dup":
            self.pushes.append(push_of(cid, m))

    @rule(i=st.integers(0, 100))
    def deliver_push(self, i):
        if self.pushes:
            self.handle(self.engine.on_push(self.pushes.pop(i % len(self.pushes))))

    @rule(i=st.integers(0, 100), mode=st.sampled_from(["full", "full", "lossy", "empty"]))
    def server_answers(self, i, mode):
        """The server computes a reply now; it is applied later (``apply_reply``)."""
        if not self.requests:
            return
        req = self.requests.pop(i % len(self.requests))
        keep = {"full": lambda c, s: True, "lossy": lambda c, s: s % 2 == 0, "empty": lambda c, s: False}[
            mode
        ]
        self.replies.append((req, self.server.answer(req, keep)))

    @rule(i=st.integers(0, 100), dup=st.booleans())
    def apply_reply(self, i, dup):
        if self.replies:
            req, resp = self.replies[i % len(self.replies)] if dup else self.replies.pop(i % len(self.replies))
            self.handle(self.engine.on_pull_reply(req.request_id, resp))

    @rule(i=st.integers(0, 100))
    def pull_fails(self, i):
        if self.requests:
            self.handle(self.engine.on_pull_failed(self.requests.pop(i % len(self.requests)).request_id))

    @rule(i=st.integers(0, 100))
    def server_answers_newest(self, i):
        if self.newest:
            rid = self.newest.pop(i % len(self.newest))
            self.newest_replies.append((rid, self.server.newest()))

    @rule(i=st.integers(0, 100), dup=st.booleans())
    def apply_newest(self, i, dup):
        if self.newest_replies:
            k = i % len(self.newest_replies)
            rid, resp = self.newest_replies[k] if dup else self.newest_replies.pop(k)
            acts = self.engine.on_newest_seqs(resp, rid)
            if acts and any(resp.maxSeqs.get(c, 0) < s for c, s in self.engine.synced_seqs().items()):
                event("1001 applied below what is held")
            self.handle(acts)

    @rule(i=st.integers(0, 100))
    def newest_fails(self, i):
        if self.newest:
            self.handle(self.engine.on_newest_seqs_failed("timeout", self.newest.pop(i % len(self.newest))))

    @rule()
    def reconnect(self):
        """Requests not yet answered are lost; replies already on their way may still arrive."""
        self.handle(self.engine.on_disconnected())
        self.requests.clear()
        self.newest.clear()
        self.handle(self.engine.on_connected())

    @rule(cid=st.sampled_from(CIDS), keep=st.integers(1, 6))
    def rewind(self, cid, keep):
        """The server is restored from a backup holding only its first ``keep`` seqs (at least
        one: a 1001 leaves out conversations at 0, as it does those the user deleted)."""
        msgs = self.server.convs[cid]
        if keep >= len(msgs):
            return
        del msgs[keep:]
        self.rewound.add(cid)
        # the restart lost the pushes still on their way
        self.pushes = [p for p in self.pushes if all(m.seq <= keep for pm in (p.msgs, p.notificationMsgs)
                                                      for c, ms in pm.items() if c == cid for m in ms.Msgs)]

    @rule(cid=st.sampled_from(CIDS), back=st.integers(0, 5), count=st.integers(1, 4))
    def history(self, cid, back, count):
        st_ = self.engine.conversation_state(cid)
        if st_ is not None:
            self.handle(self.engine.request_history(cid, st_.synced + 1 - back, count))

    @invariant()
    def bounded_inflight(self):
        if hasattr(self, "engine"):
            live = [r for r in self.engine._requests.values() if r.kind == "live"]
            assert len(live) <= CFG.max_inflight

    def teardown(self):
        if not hasattr(self, "engine"):
            return
        # Quiesce: late replies arrive, then every pending push; the next connect's replies are
        # perfect and immediate; must terminate.
        for req, resp in self.replies:
            self.handle(self.engine.on_pull_reply(req.request_id, resp))
        for rid, newest in self.newest_replies:
            self.handle(self.engine.on_newest_seqs(newest, rid))
        self.engine.on_disconnected()
        self.requests.clear()
        for p in self.pushes:
            self.handle(self.engine.on_push(p))
        self.newest.clear()
        self.handle(self.engine.on_connected())
        (rid,) = self.newest
        self.handle(self.engine.on_newest_seqs(self.server.newest(), rid))
        for _ in range(500):
            if not self.requests:
                break
            req = self.requests.pop(0)
            self.handle(self.engine.on_pull_reply(req.request_id, self.server.answer(req)))
        assert not self.requests, "pull loop did not terminate"
        assert self.engine.phase is Phase.LIVE
        for cid in CIDS:
            mx = self.server.max_seq(cid)
            assert self.engine.synced_seqs().get(cid, 0) == mx
        # History sweep: everything not delivered live can be fetched, each exactly once.
        for cid in CIDS:
            for _ in range(100):
                acts = self.engine.request_history(cid, 10**9, CFG.page)
                reqs = pulls(acts)
                self.handle(acts)
                self.requests.clear()
                if not reqs:
                    break
                self.handle(self.engine.on_pull_reply(reqs[0].request_id, self.server.answer(reqs[0])))
            else:
                raise AssertionError("history sweep did not end")
        for cid in CIDS:
            real = {i + 1: m.clientMsgID for i, m in enumerate(self.server.convs[cid]) if m is not None}
            assert self.cache[cid] == real, (cid, self.cache[cid], real)


SyncMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("SYNC_EXAMPLES", "60")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSyncMachine = SyncMachine.TestCase


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 30),
    order=st.randoms(use_true_random=False),
    drop=st.sets(st.integers(1, 30)),
    dup=st.sets(st.integers(1, 30)),
)
def test_reordered_pushes_with_perfect_pulls_deliver_all_live_in_order(n, order, drop, dup):
    """With a page large enough for no windowing, every message is delivered live, once, in order."""
    s = ModelServer()
    e = SyncEngine(ME, {SG: 0}, config=SyncConfig(page=64))
    connect(e, s)
    msgs = [s.append(SG) for _ in range(n)]
    frames = [m for m in msgs if m.seq not in drop] + [m for m in msgs if m.seq in dup]
    order.shuffle(frames)
    acts: list[Action] = []
    for m in frames:
        acts += e.on_push(push_of(SG, m))
    if not frames or max(m.seq for m in frames) < n:
        acts += e.on_push(push_of(SG, msgs[-1]))
    acts = drain(e, s, acts)
    assert delivered(acts) == list(range(1, n + 1))
