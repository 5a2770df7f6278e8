"""OpenIMClient against the real bundled server: sync, send, history, offline queue, restarts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.constants import MsgStatus
from openim_sdk.rest import RestClient
from server_stub import ServerApp

from .conftest import server_config


async def users(server: ServerApp, *ids: str, platform: int = 7) -> dict[str, str]:
    admin = await RestClient.admin(server.api_url)
    async with admin:
        await admin.user.user_register(users=[{"userID": u, "nickname": u.title()} for u in ids])
        return {u: await admin.mint_user_token(u, platform) for u in ids}


def make_client(server: ServerApp, tmp_path: Any, uid: str, token: str, **kw: Any) -> OpenIMClient:
    kw.setdefault("backoff", (0.05, 0.1, 0.2))
    return OpenIMClient(server.api_url, server.ws_url, uid, token, data_dir=tmp_path / f"data-{uid}", **kw)


async def next_event(events: Any, pred: Callable[[ev.Event], bool], timeout: float = 10) -> Any:
    async def find() -> ev.Event:
        async for e in events:
            if pred(e):
                return e
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(find(), timeout)


@pytest.mark.parametrize("encoding", ["json", "gob"])
async def test_send_receive_read(server, tmp_path, encoding):
    tok = await users(server, "alice", "bob")
    async with make_client(server, tmp_path, "alice", tok["alice"], encoding=encoding) as a, \
            make_client(server, tmp_path, "bob", tok["bob"], encoding=encoding) as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        a_events, b_events = a.events(), b.events()
        sent = await a.send_text("bob", "hello bob")
        assert sent.status == MsgStatus.SENDING and sent.text == "hello bob"
        got = await next_event(b_events, lambda e: isinstance(e, ev.MessageReceived) and not e.is_self)
        assert got.message.text == "hello bob" and got.message.seq == 1
        assert got.message.client_msg_id == sent.client_msg_id
        upd = await next_event(a_events, lambda e: isinstance(e, ev.MessageUpdated)
                               and e.message.status == MsgStatus.SEND_SUCCESS)
        assert upd.message.server_msg_id
        # the sender's own copy gets its seq from the sender-sync push, in one row
        for _ in range(50):
            mine = await a.messages(sent.conversation_id)
            if mine and mine[-1].seq == 1:
                break
            await asyncio.sleep(0.05)
        assert [(m.client_msg_id, m.seq) for m in mine] == [(sent.client_msg_id, 1)]
        conv = next(c for c in await b.conversations() if c.conversation_id == sent.conversation_id)
        assert conv.unread_count == 1 and conv.latest_text == "hello bob" and conv.user_id == "alice"
        await b.mark_read(conv.conversation_id)
        conv = await b.conversation(conv.conversation_id)
        assert conv is not None and conv.unread_count == 0
        receipt = await next_event(a_events, lambda e: isinstance(e, ev.ReadReceipt))
        assert receipt.user_id == "bob" and receipt.has_read_seq == 1
        assert a.peer_read_seq(sent.conversation_id) == 1


async def test_history_pages_from_server(server, tmp_path):
    tok = await users(server, "carol", "dave")
    async with make_client(server, tmp_path, "dave", tok["dave"]) as d:
        await d.wait_synced(10)
        for i in range(120):
            await d.send_text("carol", f"m{i}")
        cid = (await d.conversations())[0].conversation_id
        for _ in range(200):
            rows = await d.messages(cid, limit=200)
            if rows and all(m.status == MsgStatus.SEND_SUCCESS and m.seq for m in rows):
                break
            await asyncio.sleep(0.05)
    # a fresh device for carol: the on-connect sync takes only the newest page, older pages on demand
    async with make_client(server, tmp_path, "carol", tok["carol"], sync_config=None) as c:
        await c.wait_synced(10)
        page = await c.messages(cid, limit=50)
        assert [m.text for m in page] == [f"m{i}" for i in range(70, 120)]
        assert [m.seq for m in page] == list(range(71, 121))
        older = await c.messages(cid, before_seq=page[0].seq, limit=50)
        assert [m.seq for m in older] == list(range(21, 71))
        oldest = await c.messages(cid, before_seq=older[0].seq, limit=50)
        assert [m.seq for m in oldest] == list(range(1, 21))
        assert await c.messages(cid, before_seq=1, limit=50) == []
        found = await c.search("m42")
        assert [m.seq for m in found] == [43]


async def test_offline_queue_survives_server_restart(tmp_path):
    cfg = server_config(tmp_path)
    srv = ServerApp(cfg)
    await srv.__aenter__()
    api_port, ws_port = srv.api_port, srv.ws_port
    tok = await users(srv, "erin", "frank")
    client = make_client(srv, tmp_path, "erin", tok["erin"])
    try:
        async with client:
            await client.wait_synced(10)
            events = client.events()
            await srv.__aexit__(None, None, None)
            await next_event(events, lambda e: isinstance(e, ev.ConnectionStateChanged)
                             and e.state == ev.ConnectionState.RECONNECTING)
            queued = await client.send_text("frank", "sent while the server was down")
            assert queued.status == MsgStatus.SENDING
            srv = ServerApp(server_config(tmp_path, api_port=api_port, ws_port=ws_port))
            await srv.__aenter__()
            upd = await next_event(events, lambda e: isinstance(e, ev.MessageUpdated)
                                   and e.message.client_msg_id == queued.client_msg_id, timeout=20)
            assert upd.message.status == MsgStatus.SEND_SUCCESS
        async with make_client(srv, tmp_path, "frank", tok["frank"]) as f:
            await f.wait_synced(10)
            rows = await f.messages(queued.conversation_id)
            assert [m.text for m in rows] == ["sent while the server was down"]
    finally:
        await srv.__aexit__(None, None, None)


async def test_unsent_messages_survive_a_client_restart(server, tmp_path):
    tok = await users(server, "gina", "hank")
    bad = make_client(server, tmp_path, "gina", tok["gina"])
    bad.ws.ws_url = "ws://127.0.0.1:9"  # unreachable: the message stays queued in the cache
    async with bad:
        queued = await bad.send_text("hank", "queued across restarts")
        await asyncio.sleep(0.2)
    async with make_client(server, tmp_path, "gina", tok["gina"]) as good:
        events = good.events()
        upd = await next_event(events, lambda e: isinstance(e, ev.MessageUpdated)
                               and e.message.client_msg_id == queued.client_msg_id)
        assert upd.message.status == MsgStatus.SEND_SUCCESS
    async with make_client(server, tmp_path, "hank", tok["hank"]) as h:
        await h.wait_synced(10)
        assert [m.text for m in await h.messages(queued.conversation_id)] == ["queued across restarts"]


async def test_restart_delivers_nothing_twice(server, tmp_path):
    tok = await users(server, "ivy", "jack")
    async with make_client(server, tmp_path, "jack", tok["jack"]) as j:
        await j.wait_synced(10)
        for i in range(5):
            await j.send_text("ivy", f"x{i}")
        await j.flush(10)
    seen: list[str] = []
    for _ in range(2):  # ivy's client starts twice on the same data dir
        async with make_client(server, tmp_path, "ivy", tok["ivy"]) as i:
            i.on(ev.MessageReceived)(lambda e: seen.append(e.message.client_msg_id))
            await i.wait_synced(10)
            await asyncio.sleep(0.3)
    assert len(seen) == 5 and len(set(seen)) == 5


async def test_kick_ends_the_session(server, tmp_path):
    tok = await users(server, "kim")
    async with make_client(server, tmp_path, "kim", tok["kim"]) as k:
        await k.wait_synced(10)
        events = k.events()
        admin = await RestClient.admin(server.api_url)
        async with admin:
            newer = await admin.mint_user_token("kim", 7)
        other = make_client(server, tmp_path / "other", "kim", newer)
        async with other:
            end = await next_event(events, lambda e: isinstance(e, ev.SessionEnded))
            assert end.reason == ev.ConnectionState.KICKED
            assert k.state == ev.ConnectionState.KICKED


async def test_friends_groups_and_group_chat(server, tmp_path):
    tok = await users(server, "lea", "max", "ned")
    async with make_client(server, tmp_path, "lea", tok["lea"]) as lea, \
            make_client(server, tmp_path, "max", tok["max"]) as mx:
        await lea.wait_synced(10)
        await mx.wait_synced(10)
        lea_events, max_events = lea.events(), mx.events()
        await lea.api.friend.add_friend(from_user_id="lea", to_user_id="max", req_msg="hi")
        await mx.api.friend.add_friend_response(from_user_id="lea", to_user_id="max", handle_result=1)
        await next_event(lea_events, lambda e: isinstance(e, ev.FriendsChanged))
        assert [f.user_id for f in await lea.friends.list()] == ["max"]
        created = await lea.api.group.create_group(owner_user_id="lea", member_user_ids=["max", "ned"],
                                                   group_info={"groupName": "crew", "groupType": 2})
        gid = created.groupInfo.groupID
        await next_event(max_events, lambda e: isinstance(e, ev.GroupsChanged))
        assert [g.group_name for g in await mx.groups.list()] == ["crew"]
        sent = await lea.send_at_text(gid, "hello crew @max", ["max"])
        got = await next_event(max_events, lambda e: isinstance(e, ev.MessageReceived) and not e.is_self)
        assert got.message.group_id == gid and got.message.text == "hello crew @max"
        assert got.message.at_user_ids == ["max"] and got.message.conversation_id == f"sg_{gid}"
        assert sent.conversation_id == f"sg_{gid}"
        conv = await mx.conversation(f"sg_{gid}")
        # unread: the "group created" tip (stored in the chat's timeline, counted as upstream does) and hi
        assert conv is not None and conv.is_group and conv.unread_count == 2
        members = await mx.groups.members(gid)
        assert sorted(m.user_id for m in members) == ["lea", "max", "ned"]


async def test_cache_from_a_replaced_server_does_not_swallow_new_messages(tmp_path):
    """The server's database is replaced under the same address: a push at a seq the cache holds
    for another message must not be dropped as already seen."""
    old = ServerApp(server_config(tmp_path / "old"))
    async with old:
        tok = await users(old, "oli", "pam")
        async with make_client(old, tmp_path, "oli", tok["oli"]) as o, \
                make_client(old, tmp_path, "pam", tok["pam"]) as p:
            await o.wait_synced(10)
            await p.wait_synced(10)
            for text in ("old one", "old two"):
                await o.send_text("pam", text)
            await o.flush(10)
            for _ in range(100):
                if len(await p.messages("si_oli_pam")) == 2:
                    break
                await asyncio.sleep(0.05)
    new = ServerApp(server_config(tmp_path / "new"))
    async with new:
        tok = await users(new, "oli", "pam")
        async with make_client(new, tmp_path, "oli", tok["oli"]) as o, \
                make_client(new, tmp_path, "pam", tok["pam"]) as p:
            await o.wait_synced(10)
            await p.wait_synced(10)
            events = p.events()
            fresh = await o.send_text("pam", "after the reset")
            got = await next_event(events, lambda e: isinstance(e, ev.MessageReceived) and not e.is_self)
            assert got.message.client_msg_id == fresh.client_msg_id and got.message.seq == 1
            assert [m.text for m in await p.messages("si_oli_pam")] == ["after the reset"]


async def test_download_history_fills_every_conversation_once_in_order(server, tmp_path):
    from openim_sdk.sync.actions import SyncConfig

    peers = ["hp0", "hp1", "hp2", "hp3", "hp4", "hp5"]
    tok = await users(server, "hist", *peers)
    sent: dict[str, list[str]] = {}
    for i, p in enumerate(peers):
        async with make_client(server, tmp_path, p, tok[p]) as c:
            await c.wait_synced(10)
            for n in range(12 + i):
                m = await c.send_text("hist", f"{p} old {n}", wait=True)
                sent.setdefault(m.conversation_id, []).append(m.client_msg_id)
    # the newest 3 of each on connect; the rest in pieces of up to 5 seqs, so a conversation has
    # several pieces and one request carries pieces of several conversations (never two of one)
    cfg = SyncConfig(page=3, history_page=5)
    async with make_client(server, tmp_path, "hist", tok["hist"], sync_config=cfg) as h:
        await h.wait_synced(10)
        before = {c.conversation_id: (c.unread_count, c.latest_text) for c in await h.conversations()}
        seen: list[tuple[int, int]] = []
        added = await h.download_history(progress=lambda done, total: seen.append((done, total)))
        assert added == sum(len(ids) for ids in sent.values()) - 3 * len(sent)
        assert seen and seen[-1][0] == seen[-1][1] == added
        for cid, ids in sent.items():
            rows = await h.messages(cid, limit=100)
            assert [m.client_msg_id for m in rows] == ids  # all of them, once, in seq order
            assert [m.seq for m in rows] == list(range(1, len(ids) + 1))
        after = {c.conversation_id: (c.unread_count, c.latest_text) for c in await h.conversations()}
        assert after == before  # history changes no conversation state
        assert [m.text for m in await h.search("hp3 old 1")][-1:] == ["hp3 old 1"]
        assert await h.download_history() == 0  # nothing left to fetch
