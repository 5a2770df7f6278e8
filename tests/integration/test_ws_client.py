"""LongConnection against the bundled reference server (in-process, ephemeral ports)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openim_sdk.protocol.constants import ContentType, MsgFrom, Platform, ReqIdentifier, SessionType
from openim_sdk.protocol.errors import KickedError
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from openim_sdk.ws import Connected, Event, Kicked, LongConnection, PushReceived, Stopped
from server_stub import ServerApp

TIMEOUT = 10.0


@pytest.fixture
async def rest(server: ServerApp) -> AsyncIterator[RestClient]:
    api = await RestClient.admin(server.api_url)
    async with api:
        await api.user.user_register(users=[{"userID": u, "nickname": u} for u in ("alice", "bob")])
        yield api


def ws_conn(server: ServerApp, user_id: str, token: str, **kw: Any) -> LongConnection:
    opts: dict[str, Any] = {"backoff": (0.05, 0.1), "jitter": 0.0, "request_timeout": 5.0}
    opts.update(kw)
    return LongConnection(server.ws_url, user_id, token, **opts)


async def next_event(q: asyncio.Queue[Event], cls: type[Any], timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        ev = await asyncio.wait_for(q.get(), timeout=max(deadline - time.monotonic(), 0.01))
        if isinstance(ev, cls):
            return ev


def text_msg(send_id: str, recv_id: str, text: str) -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(
        sendID=send_id,
        recvID=recv_id,
        clientMsgID=uuid.uuid4().hex,
        sessionType=SessionType.SINGLE_CHAT,
        contentType=ContentType.TEXT,
        content=json.dumps({"content": text}, separators=(",", ":")).encode(),
        msgFrom=MsgFrom.USER,
        createTime=int(time.time() * 1000),
        senderPlatformID=Platform.LINUX,
    )


@pytest.mark.parametrize("encoding", ["json", "gob"])
@pytest.mark.parametrize("compress", [True, False])
async def test_send_text_push_and_newest_seq(
    server: ServerApp, rest: RestClient, encoding: Any, compress: bool
) -> None:
    alice_tok = await rest.mint_user_token("alice", Platform.LINUX)
    bob_tok = await rest.mint_user_token("bob", Platform.LINUX)
    alice = ws_conn(server, "alice", alice_tok, encoding=encoding, compress=compress)
    bob = ws_conn(server, "bob", bob_tok, encoding=encoding, compress=compress)
    bob_events = bob.subscribe()
    async with alice, bob:
        await alice.wait_connected(TIMEOUT)
        await bob.wait_connected(TIMEOUT)
        await next_event(bob_events, Connected)

        msg = text_msg("alice", "bob", "hi")
        resp = await alice.request(ReqIdentifier.SEND_MSG, msg.SerializeToString())
        sent = msg_pb2.SendMsgResp()
        sent.ParseFromString(resp.data)
        assert sent.clientMsgID == msg.clientMsgID
        assert sent.serverMsgID
        assert sent.sendTime > 0

        push_ev = await next_event(bob_events, PushReceived)
        pulled = [m for pm in push_ev.push.msgs.values() for m in pm.Msgs]
        assert [m.clientMsgID for m in pulled] == [msg.clientMsgID]
        assert pulled[0].content == b'{"content":"hi"}'
        assert pulled[0].seq >= 1
        conv_id = next(iter(push_ev.push.msgs))

        newest = await bob.request(
            ReqIdentifier.GET_NEWEST_SEQ, sdkws_pb2.GetMaxSeqReq(userID="bob").SerializeToString()
        )
        seqs = sdkws_pb2.GetMaxSeqResp()
        seqs.ParseFromString(newest.data)
        assert seqs.maxSeqs[conv_id] == pulled[0].seq


async def test_second_login_same_platform_kicks_first(server: ServerApp, rest: RestClient) -> None:
    tok1 = await rest.mint_user_token("alice", Platform.LINUX)
    first = ws_conn(server, "alice", tok1)
    q = first.subscribe()
    await first.start()
    try:
        await first.wait_connected(TIMEOUT)
        # A JWT minted within the same second is identical, and the same token never kicks.
        tok2 = await rest.mint_user_token("alice", Platform.LINUX)
        while tok2 == tok1:
            await asyncio.sleep(0.2)
            tok2 = await rest.mint_user_token("alice", Platform.LINUX)
        async with ws_conn(server, "alice", tok2, encoding="gob") as second:
            await second.wait_connected(TIMEOUT)
            kicked = await next_event(q, Kicked)
            assert isinstance(kicked.error, KickedError)
            stopped = await next_event(q, Stopped)
            assert isinstance(stopped.error, KickedError)
            assert first.state == "stopped"
            # the newcomer is unaffected
            resp = await second.request(
                ReqIdentifier.GET_NEWEST_SEQ, sdkws_pb2.GetMaxSeqReq(userID="alice").SerializeToString()
            )
            assert resp.err_code == 0
            assert second.connected
    finally:
        await first.close()


async def test_background_subscribe_and_logout(server: ServerApp, rest: RestClient) -> None:
    alice_tok = await rest.mint_user_token("alice", Platform.LINUX)
    bob_tok = await rest.mint_user_token("bob", Platform.WEB)
    bob = ws_conn(server, "bob", bob_tok, platform_id=Platform.WEB)
    async with ws_conn(server, "alice", alice_tok) as alice:
        await alice.set_background(False)
        async with bob:
            await bob.wait_connected(TIMEOUT)
            statuses = await alice.subscribe_online_status(["bob"])
            assert statuses.get("bob") == [int(Platform.WEB)]
        q = alice.subscribe()
        await alice.logout()
        stopped = await next_event(q, Stopped)
        assert stopped.error is None
