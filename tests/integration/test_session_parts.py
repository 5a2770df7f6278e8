"""The session parts against the real bundled server: refusals that say why, business
notifications, online-only messages, connection/sync events, history both ways, and two
processes sharing one profile."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from openim_sdk import events as ev
from openim_sdk.protocol.constants import ONLINE_ONLY_OPTIONS, ContentType, MsgStatus
from openim_sdk.protocol.errors import MessageError
from openim_sdk.rest import RestClient

from .test_client import make_client, next_event, users


async def test_muted_member_send_fails_with_1402_in_event_and_exception(server, tmp_path):
    tok = await users(server, "gowner", "gmute")
    async with make_client(server, tmp_path, "gowner", tok["gowner"]) as owner, \
            make_client(server, tmp_path, "gmute", tok["gmute"]) as muted:
        await owner.wait_synced(10)
        await muted.wait_synced(10)
        created = await owner.api.group.create_group(owner_user_id="gowner", member_user_ids=["gmute"],
                                                     group_info={"groupName": "quiet", "groupType": 2})
        gid = created.groupInfo.groupID
        await owner.api.group.mute_group_member(group_id=gid, user_id="gmute", muted_seconds=3600)
        events = muted.events()
        with pytest.raises(MessageError) as caught:
            await muted.send_text(gid, "can I speak?", group=True, wait=True)
        assert caught.value.code == 1402 and caught.value.name == "MutedInGroup"
        failed = await next_event(events, lambda e: isinstance(e, ev.MessageSendFailed))
        assert failed.code == 1402 and failed.reason == "MutedInGroup"
        assert failed.message.status == MsgStatus.SEND_FAILED
        await muted.flush(5)  # a permanent refusal is not retried: nothing is left queued
        row = await muted.message(failed.message.client_msg_id)
        assert row is not None and row.status == MsgStatus.SEND_FAILED
        assert muted.send_error(row.client_msg_id) is not None
        # the owner (not muted) still sends, and wait=True returns the sent message
        ok = await owner.send_text(gid, "you are muted", group=True, wait=True)
        assert ok.status == MsgStatus.SEND_SUCCESS and ok.server_msg_id


async def test_business_notification_and_online_only_message(server, tmp_path):
    tok = await users(server, "biz", "peer")
    async with make_client(server, tmp_path, "biz", tok["biz"]) as b, \
            make_client(server, tmp_path, "peer", tok["peer"]) as p:
        await b.wait_synced(10)
        await p.wait_synced(10)
        events = b.events()
        admin = await RestClient.admin(server.api_url)
        async with admin:
            await admin.msg.send_business_notification(body={
                "key": "order.paid", "data": '{"id": 7}', "sendUserID": "peer", "recvUserID": "biz"})
        got = await next_event(events, lambda e: isinstance(e, ev.BusinessNotification))
        assert (got.key, got.data, got.send_id) == ("order.paid", '{"id": 7}', "peer")
        await p.send_message("biz", ContentType.CUSTOM, {"data": "ping", "description": "", "extension": ""},
                             options=dict(ONLINE_ONLY_OPTIONS))
        online = await next_event(events, lambda e: isinstance(e, ev.OnlineOnlyMessage)
                                  or (isinstance(e, ev.MessageReceived) and not e.is_self))
        assert isinstance(online, ev.OnlineOnlyMessage)
        assert online.message.content == {"data": "ping", "description": "", "extension": ""}
        assert await b.message(online.message.client_msg_id) is None  # never cached


async def test_connection_and_sync_events_and_offline_messages(server, tmp_path):
    tok = await users(server, "conn", "away")
    async with make_client(server, tmp_path, "conn", tok["conn"]) as c:
        await c.wait_synced(10)
        for i in range(3):
            await c.send_text("away", f"while away {i}")
        await c.flush(10)
    client = make_client(server, tmp_path, "away", tok["away"])
    events = client.events()
    async with client:
        seen: list[ev.Event] = []
        while not any(isinstance(e, ev.SyncFinished) for e in seen):
            seen.append(await asyncio.wait_for(events.__anext__(), 10))
        kinds = [type(e) for e in seen]
        assert kinds.index(ev.Connecting) < kinds.index(ev.Connected) < kinds.index(ev.SyncStarted)
        received = [e for e in seen if isinstance(e, ev.MessageReceived)]
        assert [e.message.text for e in received] == [f"while away {i}" for i in range(3)]
        assert all(e.offline for e in received)
        assert any(isinstance(e, ev.SyncProgress) and e.new_messages == 3 for e in seen)
        finished = next(e for e in seen if isinstance(e, ev.SyncFinished))
        assert finished.new_messages == 3
        async with make_client(server, tmp_path, "conn", tok["conn"]) as c:
            await c.wait_synced(10)
            await c.send_text("away", "live now")
            live = await next_event(events, lambda e: isinstance(e, ev.MessageReceived))
            assert live.message.text == "live now" and not live.offline


async def test_connect_failed_event(server, tmp_path):
    tok = await users(server, "nowhere")
    client = make_client(server, tmp_path, "nowhere", tok["nowhere"])
    client.ws.ws_url = "ws://127.0.0.1:9"  # unreachable
    events = client.events()
    async with client:
        failed = await next_event(events, lambda e: isinstance(e, ev.ConnectFailed))
        assert failed.error is not None


async def test_history_pages_newer_than_a_seq_pull_holes(server, tmp_path):
    tok = await users(server, "hold", "hnew")
    async with make_client(server, tmp_path, "hold", tok["hold"]) as h:
        await h.wait_synced(10)
        for i in range(60):
            await h.send_text("hnew", f"n{i}")
        await h.flush(20)
    async with make_client(server, tmp_path, "hnew", tok["hnew"]) as c:
        await c.wait_synced(10)
        cid = "si_hnew_hold"
        newest = await c.messages(cid, limit=10)
        assert [m.seq for m in newest] == list(range(51, 61))
        page = await c.messages(cid, after_seq=20, limit=15)  # not cached yet: pulled
        assert [m.seq for m in page] == list(range(21, 36))
        assert [m.text for m in page] == [f"n{i}" for i in range(20, 35)]
        older = await c.messages(cid, before_seq=21, limit=50)
        assert [m.seq for m in older] == list(range(1, 21))
        assert [m.seq for m in await c.messages_after(cid, 55, limit=50)] == list(range(56, 61))


async def test_two_processes_on_one_profile_both_show_every_live_message(server, tmp_path):
    """``openim watch -p bob`` and ``openim chat -p bob`` share one cache: each must be shown every
    message, not only those it happened to write to the cache first."""
    count = 30
    tok = await users(server, "two_a", "two_b")
    shared = tmp_path / "shared-profile"
    child = Path(__file__).with_name("profile_child.py")
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, str(child), server.api_url, server.ws_url, "two_b", tok["two_b"], str(shared), str(count),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE) for _ in range(2)]
    try:
        for p in procs:
            assert p.stdout is not None
            line = await asyncio.wait_for(p.stdout.readline(), 60)
            assert line.strip() == b"READY", (line, await p.stderr.read() if p.stderr else b"")
        async with make_client(server, tmp_path, "two_a", tok["two_a"]) as a:
            await a.wait_synced(10)
            for i in range(count):
                await a.send_text("two_b", f"m{i}")
            await a.flush(20)
        outs = []
        for p in procs:
            assert p.stdout is not None
            outs.append(json.loads(await asyncio.wait_for(p.stdout.readline(), 60)))
            assert await asyncio.wait_for(p.wait(), 30) == 0
        expected = [f"m{i}" for i in range(count)]
        assert outs == [expected, expected]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()


async def test_sends_called_one_after_the_other_keep_their_order(server, tmp_path):
    """The first send to a user the cache does not know waits on the server (the peer check);
    a second send called meanwhile must still be stored, sent and numbered after it."""
    tok = await users(server, "ordera", "orderb", "orderc")
    async with make_client(server, tmp_path, "ordera", tok["ordera"]) as a, \
            make_client(server, tmp_path, "orderc", tok["orderc"]) as c:
        await a.wait_synced(10)
        await c.wait_synced(10)
        await c.send_text("ordera", "hi a", wait=True)  # ordera knows orderc now; orderb it does not
        first = asyncio.ensure_future(a.send_text("orderb", "first: to an unknown user"))
        await asyncio.sleep(0)  # the first call is now waiting on the peer check
        second = asyncio.ensure_future(a.send_text(c.user_id, "second: to a known user"))
        m1, m2 = await asyncio.gather(first, second)
        await a.flush(10)
        s1, s2 = await a.message(m1.client_msg_id), await a.message(m2.client_msg_id)
        assert s1 is not None and s2 is not None
        assert m1.create_time <= m2.create_time
        assert s1.send_time <= s2.send_time, "the second send went out first"


async def test_a_refusal_is_remembered_across_restarts_until_the_message_is_sent(server, tmp_path):
    """The server's refusal (1402 muted) survives a restart of the client, so an app can still say
    why and not offer a retry that cannot help; once the message is sent, it is forgotten."""
    tok = await users(server, "rowner", "rmuted")
    async with make_client(server, tmp_path, "rowner", tok["rowner"]) as owner, \
            make_client(server, tmp_path, "rmuted", tok["rmuted"]) as muted:
        await owner.wait_synced(10)
        await muted.wait_synced(10)
        created = await owner.api.group.create_group(owner_user_id="rowner", member_user_ids=["rmuted"],
                                                     group_info={"groupName": "hush", "groupType": 2})
        gid = created.groupInfo.groupID
        await owner.api.group.mute_group_member(group_id=gid, user_id="rmuted", muted_seconds=3600)
        with pytest.raises(MessageError):
            await muted.send_text(gid, "let me speak", group=True, wait=True)
        refused = [m for m in await muted.messages(f"sg_{gid}") if m.status == MsgStatus.SEND_FAILED]
        assert len(refused) == 1
        cmid = refused[0].client_msg_id
    async with make_client(server, tmp_path, "rmuted", tok["rmuted"]) as again:  # same data dir
        error = again.send_error(cmid)
        assert error is not None and error.code == 1402 and error.name == "MutedInGroup"
        await again.wait_synced(10)
        admin = await RestClient.admin(server.api_url)
        async with admin:
            await admin.group.cancel_mute_group_member(group_id=gid, user_id="rmuted")
        await again.retry(cmid)
        sent = await again.wait_sent(cmid, timeout=10)
        assert sent.status == MsgStatus.SEND_SUCCESS and again.send_error(cmid) is None
    async with make_client(server, tmp_path, "rmuted", tok["rmuted"]) as third:
        assert third.send_error(cmid) is None  # sent: nothing kept
