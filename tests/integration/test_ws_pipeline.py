"""One connection's requests in flight (server_stub/ws_pipeline.py, issue 16): sends fired
without waiting keep their order end to end (seqs, acks, pushes), the other requests wait for
the sends before them, and in-flight sends really overlap (they share a writer batch)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp

from .conftest import Api, WsClient, ws_url
from .test_webhooks import hooks, start
from .webhook_receiver import Receiver


def _text(send: str, recv: str, cmid: str) -> bytes:
    return sdkws_pb2.MsgData(sendID=send, recvID=recv, clientMsgID=cmid, sessionType=1, msgFrom=100,
                             contentType=101, content=json.dumps({"content": cmid}).encode(),
                             createTime=1, status=1).SerializeToString()


def _pull(user: str, cid: str, end: int) -> bytes:
    return sdkws_pb2.PullMessageBySeqsReq(userID=user, seqRanges=[sdkws_pb2.SeqRange(
        conversationID=cid, begin=1, end=end, num=end)]).SerializeToString()


async def _answers(c: WsClient, incrs: list[str]) -> tuple[list[Any], list[sdkws_pb2.MsgData]]:
    """Every answer to ``incrs`` (in the order they came) and the pushes seen meanwhile."""
    answers: list[Any] = []
    pushes: list[sdkws_pb2.MsgData] = []
    while len(answers) < len(incrs):
        resp = await c.recv(10)
        if resp.req_identifier == 2001:
            pushes += [m for conv in sdkws_pb2.PushMessages.FromString(resp.data).msgs.values() for m in conv.Msgs]
        else:
            answers.append(resp)
    return answers, pushes


async def _pushes(c: WsClient, n: int, have: list[sdkws_pb2.MsgData]) -> list[sdkws_pb2.MsgData]:
    out = list(have)
    while len(out) < n:
        resp = await c.recv(10)
        if resp.req_identifier == 2001:
            out += [m for conv in sdkws_pb2.PushMessages.FromString(resp.data).msgs.values() for m in conv.Msgs]
    return out


async def test_sends_fired_without_waiting_keep_their_order(server: ServerApp, admin: Api) -> None:
    await admin.register("alice", "bob")
    ta, tb = await admin.user_token("alice", 5), await admin.user_token("bob", 3)
    bad = {7, 23}  # to a user who does not exist: 1004, in their place among the acks
    async with connect(ws_url(server, "alice", ta, sdkType="js")) as wa, connect(ws_url(server, "bob", tb, 3)) as wb:
        a, b = WsClient(wa, "alice", "json"), WsClient(wb, "bob")
        sent: list[tuple[str, str]] = []  # (msgIncr, clientMsgID) in send order
        for i in range(40):
            cmid = f"m{i}"
            sent.append((await a.send_req(1003, _text("alice", "nobody" if i in bad else "bob", cmid)), cmid))
        pull = await a.send_req(1002, _pull("alice", "si_alice_bob", 100))  # not waiting for the sends
        for i in range(40, 50):
            sent.append((await a.send_req(1003, _text("alice", "bob", f"m{i}")), f"m{i}"))
        answers, own = await _answers(a, [incr for incr, _ in sent] + [pull])

        # every answer in request order, each for its own request
        assert [r.msg_incr for r in answers] == [incr for incr, _ in sent[:40]] + [pull] + \
            [incr for incr, _ in sent[40:]]
        acks = [r for r in answers if r.req_identifier == 1003]
        for i, ((incr, cmid), ack) in enumerate(zip(sent, acks, strict=True)):
            assert ack.msg_incr == incr
            if i in bad:
                assert ack.err_code == 1004, ack
            else:
                assert ack.err_code == 0, ack
                assert msg_pb2.SendMsgResp.FromString(ack.data).clientMsgID == cmid
        # the pull came after the 40 sends before it: it sees all 38 stored ones, in order
        pulled = sdkws_pb2.PullMessageBySeqsResp.FromString(answers[40].data).msgs["si_alice_bob"].Msgs
        stored = [cmid for i, (_, cmid) in enumerate(sent) if i not in bad]
        assert [(m.clientMsgID, m.seq) for m in pulled] == [(c, s) for s, c in enumerate(stored[:38], 1)]
        # seqs follow the send order; the receiver's and the sender's pushes come in seq order
        expect = [(c, s) for s, c in enumerate(stored, 1)]
        assert [(m.clientMsgID, m.seq) for m in await _pushes(b, len(stored), [])] == expect
        assert [(m.clientMsgID, m.seq) for m in await _pushes(a, len(stored), own)] == expect


async def test_order_holds_when_earlier_sends_take_longer(tmp_path: Any) -> None:
    """beforeSendSingleMsg answers the earlier messages more slowly: were the sends of one
    connection started without waiting for the one before to queue its store, later ones would
    overtake them (the seq order would follow the webhook's answers, not the sends)."""
    def slow_for_early(body: dict[str, Any]) -> dict[str, Any]:
        n = int(json.loads(body["content"])["content"][1:])
        import time

        time.sleep(max(0, 12 - n) * 0.004)  # the receiver's thread: m0 waits longest
        return {"actionCode": 0, "nextCode": 0}

    with Receiver() as r:
        r.replies["callbackBeforeSendSingleMsgCommand"] = slow_for_early
        srv = await start(tmp_path, hooks(r.url, "beforeSendSingleMsg"))
        try:
            api = Api(__import__("httpx").AsyncClient(base_url=srv.api_url, timeout=10))
            data = await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"})
            api.token = data["token"]
            await api.register("alice", "bob")
            ta = await api.user_token("alice", 5)
            await api.client.aclose()
            async with connect(ws_url(srv, "alice", ta)) as wa:
                a = WsClient(wa, "alice")
                incrs = [await a.send_req(1003, _text("alice", "bob", f"m{i}")) for i in range(12)]
                answers, own = await _answers(a, incrs)
                assert [x.msg_incr for x in answers] == incrs and all(x.err_code == 0 for x in answers)
                pushed = await _pushes(a, 12, own)
                assert [(m.clientMsgID, m.seq) for m in pushed] == [(f"m{i}", i + 1) for i in range(12)]
        finally:
            await srv.stop()


async def test_in_flight_sends_share_one_writer_batch(server: ServerApp, admin: Api) -> None:
    """While another connection holds SQLite's write lock, the writer cannot commit: one
    websocket's 8 sends fired without waiting all reach it (in the batch it is stuck on, or
    queued behind it) -- one send at a time per connection could never have more than one there.
    Once the lock goes they are committed in at most two batches and acked in order."""
    await admin.register("alice", "bob")
    ta = await admin.user_token("alice", 5)
    storage = server.core.storage
    async with connect(ws_url(server, "alice", ta)) as wa:
        a = WsClient(wa, "alice")
        assert (await a.request(1003, _text("alice", "bob", "warm"))).err_code == 0
        done = storage.stats.batches
        blocker = sqlite3.connect(server.config.resolved_data_path(), isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the writer's next BEGIN IMMEDIATE waits (busy timeout)
        try:
            incrs = [await a.send_req(1003, _text("alice", "bob", f"p{i}")) for i in range(8)]
            for _ in range(800):  # until all 8 are at the writer (a wait, not a timing assertion)
                at_writer = storage.queued_ops() + storage.stats.running
                if at_writer >= 8:
                    break
                await asyncio.sleep(0.005)
        finally:
            blocker.execute("COMMIT")
            blocker.close()
        assert at_writer == 8, at_writer
        answers, _ = await _answers(a, incrs)
    assert [x.msg_incr for x in answers] == incrs and all(x.err_code == 0 for x in answers)
    batches = list(storage.stats.recent)[done - storage.stats.batches:]
    assert sum(batches) == 8 and len(batches) <= 2, batches
