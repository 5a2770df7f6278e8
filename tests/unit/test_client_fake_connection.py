"""OpenIMClient's logic over a fake long connection and a mocked REST transport (no sockets):
refusals carry the server's code and are not retried, transient failures are, pushes become
events once, online-only messages are never cached."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.models import Message
from openim_sdk.protocol.constants import (
    ONLINE_ONLY_OPTIONS,
    ContentType,
    MsgStatus,
    ReqIdentifier,
    SessionType,
)
from openim_sdk.protocol.envelope import WsResponse
from openim_sdk.protocol.errors import NetworkError, OpenIMError, RelationError, error_for_code
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from openim_sdk.session.sender import compose
from openim_sdk.ws import events as wse


class FakeConnection:
    """Stands in for LongConnection: connects at start, answers sync requests with "nothing new"
    and SEND_MSG with what the test scripted."""

    def __init__(self) -> None:
        self.connected = False
        self.sends: list[sdkws_pb2.MsgData] = []
        self.send_answers: list[OpenIMError | None] = []
        self._hooks: list[Callable[[Any], Awaitable[None]]] = []
        self._listeners: list[Callable[[Any], Awaitable[None]]] = []

    def on_connected(self, hook: Callable[[Any], Awaitable[None]]) -> None:
        self._hooks.append(hook)

    def on_event(self, cb: Callable[[Any], Awaitable[None]]) -> None:
        self._listeners.append(cb)

    async def start(self) -> None:
        self.connected = True
        for hook in self._hooks:
            await hook(self)

    async def close(self) -> None:
        self.connected = False
        for cb in self._listeners:
            await cb(wse.Stopped())

    async def event(self, e: Any) -> None:
        for cb in self._listeners:
            await cb(e)

    async def request(self, ident: int, data: bytes) -> WsResponse:
        if ident == ReqIdentifier.GET_NEWEST_SEQ:
            return WsResponse(ident, data=sdkws_pb2.GetMaxSeqResp().SerializeToString())
        if ident == ReqIdentifier.GET_CONV_MAX_READ_SEQ:
            return WsResponse(ident, data=msg_pb2.GetConversationsHasReadAndMaxSeqResp().SerializeToString())
        if ident == ReqIdentifier.SEND_MSG:
            md = sdkws_pb2.MsgData.FromString(data)
            self.sends.append(md)
            error = self.send_answers.pop(0) if self.send_answers else None
            if error is not None:
                raise error
            ack = msg_pb2.SendMsgResp(serverMsgID=f"srv-{len(self.sends)}", clientMsgID=md.clientMsgID,
                                      sendTime=1_700_000_000_000)
            return WsResponse(ident, data=ack.SerializeToString())
        raise NetworkError(message=f"unexpected request {ident}")


def rest() -> RestClient:
    def handler(request: httpx.Request) -> httpx.Response:
        data: dict[str, Any] = {}
        if request.url.path == "/user/get_users_info":  # every user asked about exists
            data = {"usersInfo": [{"userID": u, "nickname": u} for u in json.loads(request.content)["userIDs"]]}
        return httpx.Response(200, json={"errCode": 0, "errMsg": "", "errDlt": "", "data": data})

    return RestClient("http://rest.invalid", "token", http=httpx.AsyncClient(transport=httpx.MockTransport(handler)))


def client_over(conn: FakeConnection, tmp_path: Any, **kw: Any) -> OpenIMClient:
    return OpenIMClient("http://rest.invalid", "ws://ws.invalid", "me", "token", data_dir=tmp_path,
                        rest_sync=False, connection=conn, rest=rest(), **kw)  # type: ignore[arg-type]


async def until(events: Any, kind: type[ev.Event]) -> Any:
    async def find() -> Any:
        async for e in events:
            if isinstance(e, kind):
                return e
        raise AssertionError("stream ended")

    return await asyncio.wait_for(find(), 5)


async def test_a_refusal_carries_the_server_code_and_is_not_retried(tmp_path):
    conn = FakeConnection()
    conn.send_answers = [error_for_code(1302, "BlockedByPeer")]
    async with client_over(conn, tmp_path) as client:
        await client.wait_synced(5)
        events = client.events()
        with pytest.raises(RelationError) as caught:
            await client.send_text("peer", "hello?", wait=True)
        assert caught.value.code == 1302
        failed = await until(events, ev.MessageSendFailed)
        assert (failed.code, failed.reason) == (1302, "BlockedByPeer")
        assert failed.message.status == MsgStatus.SEND_FAILED
        await client.flush(5)
        assert len(conn.sends) == 1


async def test_a_refusal_answered_before_the_row_is_written_marks_the_row_once_it_is(tmp_path):
    """A wait=True send goes on the wire before its row is written, so the refusal can come first
    (this fake answers at once): settling it waits for the row, which ends failed, with its
    MessageSendFailed (before, the UPDATE found no row and the row was then written "sending")."""
    conn = FakeConnection()
    async with client_over(conn, tmp_path) as client:
        await client.wait_synced(5)
        store, sender = client._store(), client._sender
        md = compose("me", 5, ("si_me_peer", SessionType.SINGLE_CHAT, "peer", ""), ContentType.TEXT,
                     b'{"content": "early"}', client_msg_id="cm-early", now_ms=1)
        seen: list[bool] = []  # at each status change: was the row there?
        real = store.set_message_status

        def spy(cmid: str, status: int) -> None:
            seen.append(store.message(cmid) is not None)
            real(cmid, status)

        store.set_message_status = spy  # type: ignore[method-assign]
        events = client.events()
        written: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        sender.composed("cm-early", written)
        refusing = asyncio.ensure_future(sender.refused("cm-early", error_for_code(1302, "BlockedByPeer")))
        for _ in range(20):  # give the refusal every chance to reach the cache (thread hops included)
            await asyncio.sleep(0)
            await asyncio.to_thread(lambda: None)
        assert seen == [] and not refusing.done()  # it waits for the row
        row = await asyncio.to_thread(store.insert_outgoing, md, "si_me_peer")
        written.set_result(Message.from_row(row))
        await asyncio.wait_for(refusing, 5)
        assert seen == [True]
        assert (await client.message("cm-early")).status == MsgStatus.SEND_FAILED  # type: ignore[union-attr]
        failed = await until(events, ev.MessageSendFailed)
        assert failed.message.client_msg_id == "cm-early" and failed.code == 1302


async def test_a_network_failure_is_retried_and_order_kept(tmp_path):
    """One request failing while the connection lives (a timeout) with a window of 1: the message
    goes out again before the next one. (With a wider window, sends already in flight cannot be
    called back; a dropped connection fails them all, so they go out again in order.)"""
    conn = FakeConnection()
    conn.send_answers = [NetworkError(message="timed out"), None, None]
    async with client_over(conn, tmp_path, send_window=1) as client:
        await client.wait_synced(5)
        first = await client.send_text("peer", "one")
        second = await client.send_text("peer", "two")
        await client.flush(5)
        sent = await client.wait_sent(first.client_msg_id)
        assert sent.status == MsgStatus.SEND_SUCCESS and sent.server_msg_id
        texts = [json.loads(m.content)["content"] for m in conn.sends]
        assert texts == ["one", "one", "two"]
        assert (await client.message(second.client_msg_id)).status == MsgStatus.SEND_SUCCESS  # type: ignore[union-attr]


def push(*msgs: sdkws_pb2.MsgData) -> wse.PushReceived:
    pm = sdkws_pb2.PushMessages()
    for m in msgs:
        pm.msgs["si_me_peer"].Msgs.append(m)
    return wse.PushReceived(WsResponse(ReqIdentifier.PUSH_MSG, data=pm.SerializeToString()))


async def test_pushes_are_shown_once_and_online_only_messages_are_not_cached(tmp_path):
    conn = FakeConnection()
    async with client_over(conn, tmp_path) as client:
        await client.wait_synced(5)
        events = client.events()
        hello = sdkws_pb2.MsgData(sendID="peer", recvID="me", clientMsgID="c1", sessionType=1,
                                  contentType=ContentType.TEXT, content=b'{"content":"hi"}', seq=1,
                                  sendTime=1, status=MsgStatus.SEND_SUCCESS)
        await conn.event(push(hello))
        got = await until(events, ev.MessageReceived)
        assert got.message.text == "hi" and not got.offline and not got.is_self
        signal = sdkws_pb2.MsgData(sendID="peer", recvID="me", clientMsgID="c2", sessionType=1,
                                   contentType=ContentType.CUSTOM, content=b'{"data":"x"}', sendTime=2)
        signal.options.update(ONLINE_ONLY_OPTIONS)
        await conn.event(push(hello, signal))  # hello again: already shown
        nxt = await until(events, ev.OnlineOnlyMessage | ev.MessageReceived)  # type: ignore[arg-type]
        assert isinstance(nxt, ev.OnlineOnlyMessage) and nxt.message.client_msg_id == "c2"
        assert await client.message("c2") is None


@pytest.mark.parametrize(("code", "kind"), [(1501, ev.TokenExpired), (1502, ev.TokenInvalid)])
async def test_token_refusals_end_the_session_with_their_own_event(tmp_path, code, kind):
    conn = FakeConnection()
    async with client_over(conn, tmp_path) as client:
        await client.wait_synced(5)
        events = client.events()
        await conn.event(wse.TokenInvalid(error_for_code(code)))
        got = await until(events, ev.TokenExpired)
        assert type(got) is kind and got.error.code == code
        ended = await until(events, ev.SessionEnded)
        assert ended.reason == ev.ConnectionState.TOKEN_INVALID and not client.connected


async def test_kicked_and_connection_events(tmp_path):
    conn = FakeConnection()
    client = client_over(conn, tmp_path)
    events = client.events()
    async with client:
        await client.wait_synced(5)
        await conn.event(wse.Kicked(error_for_code(1506)))
        seen = []
        async for e in events:
            seen.append(type(e))
        assert seen.index(ev.Connecting) < seen.index(ev.Connected) < seen.index(ev.SyncStarted)
        assert seen.index(ev.SyncFinished) < seen.index(ev.Kicked) < seen.index(ev.SessionEnded)


async def test_the_servers_read_state_on_connect_is_reported_per_conversation(tmp_path):
    """1006 on connect (no REST sync here): every chat it names is reported with its new unread
    count, the notification conversation is not, and the unread total follows once."""
    from openim_sdk.session.conversations import record_messages
    from openim_sdk.store import LocalStore

    chats = {"si_me_p1": "p1", "si_me_p2": "p2"}
    with LocalStore(tmp_path / "openim.sqlite3") as store:  # a cache from an earlier run
        for cid, peer in chats.items():
            msgs = [sdkws_pb2.MsgData(sendID=peer, recvID="me", clientMsgID=f"{peer}-{n}", sessionType=1,
                                      contentType=ContentType.TEXT, content=b'{"content":"x"}', seq=n,
                                      sendTime=1000 + n, status=MsgStatus.SEND_SUCCESS,
                                      options={"unreadCount": True, "conversationUpdate": True})
                    for n in (1, 2, 3)]
            store.upsert_messages(msgs, cid)
            record_messages(store, cid, msgs, "me")
        store.set_max_seqs({cid: 3 for cid in chats})

    class ReadState(FakeConnection):
        async def request(self, ident: int, data: bytes) -> WsResponse:
            if ident == ReqIdentifier.GET_NEWEST_SEQ:
                return WsResponse(ident, data=sdkws_pb2.GetMaxSeqResp(maxSeqs={c: 3 for c in chats}).SerializeToString())
            if ident == ReqIdentifier.GET_CONV_MAX_READ_SEQ:
                resp = msg_pb2.GetConversationsHasReadAndMaxSeqResp()
                resp.seqs["si_me_p1"].hasReadSeq, resp.seqs["si_me_p1"].maxSeq = 2, 3
                resp.seqs["si_me_p2"].hasReadSeq, resp.seqs["si_me_p2"].maxSeq = 3, 3
                resp.seqs["n_me_sys"].hasReadSeq, resp.seqs["n_me_sys"].maxSeq = 0, 0
                return WsResponse(ident, data=resp.SerializeToString())
            return await super().request(ident, data)

    client = client_over(ReadState(), tmp_path)
    events = client.events()
    async with client:
        await client.wait_synced(5)
        assert {c.conversation_id: c.unread_count for c in await client.conversations()} == {"si_me_p1": 1, "si_me_p2": 0}
        seen: list[Any] = []
        while True:
            try:
                seen.append(await asyncio.wait_for(events.__anext__(), 0.3))
            except TimeoutError:
                break
        changed = [(e.conversation.conversation_id, e.conversation.unread_count) for e in seen
                   if isinstance(e, ev.ConversationChanged)]
        assert sorted(changed) == [("si_me_p1", 1), ("si_me_p2", 0)]
        assert [e.total for e in seen if isinstance(e, ev.UnreadTotalChanged)] == [1]
