"""WebSocket gateway of the bundled server: handshake, envelopes, send/push, seq pulls, heartbeats."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp

from .conftest import Api, WsClient, ws_url


async def _users(admin: Api) -> tuple[str, str]:
    await admin.register("alice", "bob")
    return await admin.user_token("alice", 5), await admin.user_token("bob", 3)


async def test_handshake_failures(server: ServerApp, admin: Api) -> None:
    ta, _ = await _users(admin)
    async with httpx.AsyncClient() as c:
        base = server.ws_url.replace("ws://", "http://")
        cases = [
            ("/?sendID=alice&token=x&platformID=abc&operationID=1", 1602),
            ("/?sendID=alice&token=x&platformID=5&operationID=1&isBackground=maybe", 500),
            ("/?sendID=alice&platformID=5&operationID=1", 1602),
            ("/?sendID=alice&token=x&platformID=99&operationID=1", 1602),
            ("/?sendID=alice&token=x&platformID=5&operationID=1&sdkType=py", 1602),
            ("/?sendID=alice&token=garbage&platformID=5&operationID=1", 1503),
            (f"/?sendID=bob&token={ta}&platformID=5&operationID=1", 1502),
            (f"/?sendID=alice&token={ta}&platformID=3&operationID=1", 1502),
        ]
        for path, code in cases:
            r = await c.get(base + path, headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                                  "Sec-WebSocket-Version": "13",
                                                  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
            assert r.status_code == 200, path
            assert r.headers["content-type"].startswith("application/json")
            assert r.json()["errCode"] == code, (path, r.text)
    # isMsgResp: token failures come as a text frame after the upgrade
    async with connect(ws_url(server, "alice", "garbage", isMsgResp="true")) as ws:
        assert json.loads(await ws.recv())["errCode"] == 1503
    async with connect(ws_url(server, "alice", ta, isMsgResp="true")) as ws:
        assert await ws.recv() == '{"errCode":0,"errMsg":"","errDlt":""}'


def _text(send: str, recv: str, cmid: str, text: str = "hi") -> bytes:
    return sdkws_pb2.MsgData(sendID=send, recvID=recv, clientMsgID=cmid, sessionType=1, msgFrom=100,
                             contentType=101, content=json.dumps({"content": text}).encode(),
                             createTime=1, status=1).SerializeToString()


@pytest.mark.parametrize("sdk_type,compress", [("js", False), ("go", True)])
async def test_send_push_pull(server: ServerApp, admin: Api, sdk_type: str, compress: bool) -> None:
    ta, tb = await _users(admin)
    ta2 = await admin.user_token("alice", 2)  # alice's second device
    extra = {"sdkType": sdk_type, **({"compression": "gzip"} if compress else {})}
    enc = "json" if sdk_type == "js" else "gob"
    async with connect(ws_url(server, "alice", ta, **extra)) as wa, \
            connect(ws_url(server, "alice", ta2, 2, **extra)) as wa2, \
            connect(ws_url(server, "bob", tb, 3, **extra)) as wb:
        a, a2, b = WsClient(wa, "alice", enc, compress), WsClient(wa2, "alice", enc, compress), \
            WsClient(wb, "bob", enc, compress)
        for i in range(1, 4):
            resp = await a.request(1003, _text("alice", "bob", f"m{i}"))
            assert resp.err_code == 0
            ack = msg_pb2.SendMsgResp.FromString(resp.data)
            assert ack.clientMsgID == f"m{i}" and ack.serverMsgID and ack.sendTime
            for cl in (a, a2, b):
                push = sdkws_pb2.PushMessages.FromString((await cl.next_push()).data)
                m = push.msgs["si_alice_bob"].Msgs[0]
                assert (m.clientMsgID, m.seq, m.status) == (f"m{i}", i, 2)
        # envelope sendID is checked by the server; MsgData.sendID too (stricter)
        bad = await a.request(1003, _text("bob", "alice", "forged"))
        assert bad.err_code == 1001
        newest = sdkws_pb2.GetMaxSeqResp.FromString(
            (await b.request(1001, sdkws_pb2.GetMaxSeqReq(userID="bob").SerializeToString())).data)
        assert newest.maxSeqs["si_alice_bob"] == 3
        req = sdkws_pb2.PullMessageBySeqsReq(userID="bob", seqRanges=[sdkws_pb2.SeqRange(
            conversationID="si_alice_bob", begin=1, end=3, num=2)])
        pulled = sdkws_pb2.PullMessageBySeqsResp.FromString((await b.request(1002, req.SerializeToString())).data)
        assert [m.seq for m in pulled.msgs["si_alice_bob"].Msgs] == [2, 3]
        assert pulled.msgs["si_alice_bob"].isEnd
        req5 = msg_pb2.GetSeqMessageReq(userID="bob", conversations=[msg_pb2.ConversationSeqs(
            conversationID="si_alice_bob", seqs=[1, 3, 9])], order=0)
        got = msg_pb2.GetSeqMessageResp.FromString((await b.request(1005, req5.SerializeToString())).data)
        pm = got.msgs["si_alice_bob"]
        assert [m.seq for m in pm.Msgs] == [1, 3] and pm.isEnd and pm.endSeq == 3
        r6 = msg_pb2.GetConversationsHasReadAndMaxSeqResp.FromString((await a.request(
            1006, msg_pb2.GetConversationsHasReadAndMaxSeqReq(userID="alice").SerializeToString())).data)
        assert r6.seqs["si_alice_bob"].maxSeq == 3 and r6.seqs["si_alice_bob"].hasReadSeq == 3
        r7 = msg_pb2.GetLastMessageResp.FromString((await b.request(1007, msg_pb2.GetLastMessageReq(
            userID="bob", conversationIDs=["si_alice_bob"]).SerializeToString())).data)
        assert r7.msgs["si_alice_bob"].clientMsgID == "m3"
        # logout: reply then close
        assert (await b.request(2003, b"")).err_code == 0
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(wb.recv(), 3)


async def test_heartbeat_oversize_and_kick(server: ServerApp, admin: Api) -> None:
    ta, tb = await _users(admin)
    async with connect(ws_url(server, "alice", ta)) as wa, connect(ws_url(server, "bob", tb, 3)) as wb:
        await wa.send('{"type":"ping","body":"x1"}')
        assert await asyncio.wait_for(wa.recv(), 3) == '{"type":"pong","body":"x1"}'
        await wa.send(b"\x00" * 51201)
        with pytest.raises(websockets.ConnectionClosed) as exc:
            await asyncio.wait_for(wa.recv(), 3)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == 1009
        # bob unaffected
        b = WsClient(wb, "bob")
        assert (await b.request(1001, sdkws_pb2.GetMaxSeqReq(userID="bob").SerializeToString())).err_code == 0
    # policy 1: a new login on the same platform kicks the old connection with 2002
    async with connect(ws_url(server, "bob", tb, 3)) as old:
        tb2 = await admin.user_token("bob", 3)
        async with connect(ws_url(server, "bob", tb2, 3)):
            kick = await WsClient(old, "bob").recv()
            assert kick.req_identifier == 2002
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(old.recv(), 3)
    async with httpx.AsyncClient() as c:  # the kicked token is now refused
        r = await c.get(ws_url(server, "bob", tb, 3).replace("ws://", "http://"))
        assert r.json()["errCode"] == 1506


async def test_rest_send_and_read(server: ServerApp, admin: Api, http: httpx.AsyncClient) -> None:
    ta, tb = await _users(admin)
    async with connect(ws_url(server, "bob", tb, 3)) as wb:
        b = WsClient(wb, "bob")
        data = await admin.ok("/msg/send_msg", {"sendID": "alice", "recvID": "bob", "content": {"content": "yo"},
                                                "contentType": 101, "sessionType": 1})
        push = sdkws_pb2.PushMessages.FromString((await b.next_push()).data)
        m = push.msgs["si_alice_bob"].Msgs[0]
        assert m.clientMsgID == data["clientMsgID"] and m.seq == 1 and m.content == b'{"content":"yo"}'
        bob = Api(http, tb)
        await bob.ok("/msg/mark_msgs_as_read", {"conversationID": "si_alice_bob", "seqs": [1], "userID": "bob"})
        receipt = sdkws_pb2.PushMessages.FromString((await b.next_push()).data)
        assert receipt.notificationMsgs["n_alice_bob"].Msgs[0].contentType == 2200
        alice = Api(http, ta)
        await alice.ok("/msg/revoke_msg", {"conversationID": "si_alice_bob", "seq": 1, "userID": "alice"})
        env = await alice.call("/msg/revoke_msg", {"conversationID": "si_alice_bob", "seq": 1, "userID": "alice"})
        assert env["errCode"] == 1404
        pulled = await bob.ok("/msg/pull_msg_by_seq", {"userID": "bob", "seqRanges": [
            {"conversationID": "si_alice_bob", "begin": 1, "end": 1, "num": 1}], "order": 0})
        assert pulled["msgs"]["si_alice_bob"]["Msgs"][0]["contentType"] == 2101
        assert pulled["msgs"]["si_alice_bob"]["Msgs"][0]["isRead"] is True
        seqs = await bob.ok("/msg/get_conversations_has_read_and_max_seq", {"userID": "bob"})
        assert seqs["seqs"]["si_alice_bob"]["hasReadSeq"] == 1
        conv = await bob.ok("/conversation/get_conversations", {"ownerUserID": "bob",
                                                                "conversationIDs": ["si_alice_bob"]})
        assert conv["conversations"][0]["userID"] == "alice"
        inc = await bob.ok("/conversation/get_incremental_conversations", {"userID": "bob", "versionID": "",
                                                                           "version": 0})
        assert inc["full"] is True
        assert (await admin.ok("/msg/check_msg_is_send_success", {}))["status"] == 0


async def test_resend_of_the_same_client_msg_id_is_idempotent(server: ServerApp, admin: Api) -> None:
    """A resend whose ack was lost (same sender, conversation and clientMsgID) is answered with the
    first copy's ack and stored once; another message, or another sender's same ID, is stored."""
    ta, tb = await _users(admin)
    async with connect(ws_url(server, "alice", ta)) as wa, connect(ws_url(server, "bob", tb, 3)) as wb:
        a, b = WsClient(wa, "alice"), WsClient(wb, "bob")
        first = msg_pb2.SendMsgResp.FromString((await a.request(1003, _text("alice", "bob", "dup-1"))).data)
        again = msg_pb2.SendMsgResp.FromString((await a.request(1003, _text("alice", "bob", "dup-1", "x"))).data)
        assert (again.serverMsgID, again.sendTime) == (first.serverMsgID, first.sendTime)
        assert (await b.request(1003, _text("bob", "alice", "dup-1"))).err_code == 0
        assert (await a.request(1003, _text("alice", "bob", "dup-2"))).err_code == 0
        newest = sdkws_pb2.GetMaxSeqResp.FromString(
            (await a.request(1001, sdkws_pb2.GetMaxSeqReq(userID="alice").SerializeToString())).data)
        assert newest.maxSeqs["si_alice_bob"] == 3
        pulled = sdkws_pb2.PullMessageBySeqsResp.FromString((await a.request(1002, sdkws_pb2.PullMessageBySeqsReq(
            userID="alice", seqRanges=[sdkws_pb2.SeqRange(conversationID="si_alice_bob", begin=1, end=3, num=3)],
        ).SerializeToString())).data)
        msgs = pulled.msgs["si_alice_bob"].Msgs
        assert [(m.sendID, m.clientMsgID) for m in msgs] == [("alice", "dup-1"), ("bob", "dup-1"),
                                                              ("alice", "dup-2")]
        assert json.loads(msgs[0].content)["content"] == "hi"  # the first copy, not the resend's text
