"""Conversation and message operations (issue 13) through the SDK against the bundled server:
each call's cache change, server effect and events, and what our other device sees."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openim_sdk import events as ev
from openim_sdk import messages as mb
from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.constants import ContentType, MsgStatus, Platform, SessionType
from openim_sdk.protocol.errors import NotFoundError
from openim_sdk.rest import RestClient
from server_stub import ServerApp

from .server_process import until
from .test_client import make_client, next_event

SI_AB = "si_alice_bob"


async def tokens(server: ServerApp, *pairs: tuple[str, int]) -> dict[tuple[str, int], str]:
    admin = await RestClient.admin(server.api_url)
    async with admin:
        ids = sorted({u for u, _ in pairs})
        await admin.user.user_register(users=[{"userID": u, "nickname": u.title()} for u in ids])
        return {(u, p): await admin.mint_user_token(u, p) for u, p in pairs}


@contextlib.asynccontextmanager
async def session(server: ServerApp, tmp_path: Any, uid: str, tok: str, platform: int, tag: str = "",
                  named: str = "") -> AsyncIterator[OpenIMClient]:
    """A started client, synced (the messages sent before are in its cache); with ``named``, also
    until the login-time conversation sync has named that conversation."""
    c = make_client(server, tmp_path / (tag or uid), uid, tok, platform_id=platform)
    events = c.events()
    async with c:
        await c.wait_synced(10)
        if named:
            await next_event(events, lambda e: isinstance(e, ev.ConversationChanged)
                             and e.conversation.conversation_id == named and bool(e.conversation.show_name))
        events.close()
        yield c


async def received(client: OpenIMClient, events: Any, client_msg_id: str) -> None:
    await next_event(events, lambda e: isinstance(e, ev.MessageReceived) and e.message.client_msg_id == client_msg_id)


async def chat(server, tmp_path, n: int = 3):
    """alice sends bob ``n`` texts; returns (tokens, sent messages)."""
    tok = await tokens(server, ("alice", Platform.LINUX), ("bob", Platform.LINUX), ("bob", Platform.OSX))
    async with session(server, tmp_path, "alice", tok[("alice", Platform.LINUX)], Platform.LINUX) as a:
        sent = [await a.send_text("bob", f"hello {i}") for i in range(n)]
        await a.flush(10)
    return tok, sent


async def test_list_get_search_draft_hide_and_unread(server, tmp_path):
    tok, sent = await chat(server, tmp_path)
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b:
        api = b.conversations_api
        conv = await api.get(SI_AB)
        assert conv is not None and (conv.unread_count, conv.latest_client_msg_id) == (3, sent[-1].client_msg_id)
        assert conv.latest_message["textElem"] == {"content": "hello 2"}
        assert await api.total_unread() == 3
        # get-or-create: a new single chat with its peer's name from the server, then a known one
        events = b.events()
        carol = await tokens(server, ("carol", Platform.LINUX))
        assert carol
        new = await api.get_one(SessionType.SINGLE_CHAT, "carol")
        assert (new.conversation_id, new.user_id, new.show_name, new.is_hidden) == ("si_bob_carol", "carol", "Carol", True)
        assert (await api.get_one(SessionType.SINGLE_CHAT, "alice")).conversation_id == SI_AB
        with pytest.raises(NotFoundError):
            await api.get_one(SessionType.SINGLE_CHAT, "nobody")
        # the list leaves hidden (never used) conversations out; paging
        assert [c.conversation_id for c in await api.get_list()] == [SI_AB]
        assert {c.conversation_id for c in await api.get_list(include_hidden=True)} == {SI_AB, "si_bob_carol"}
        assert await api.get_list(1, 5) == [] and len(await api.get_list(0, 1)) == 1
        assert [c.conversation_id for c in await api.get_many(["si_bob_carol", "nope", SI_AB])] == ["si_bob_carol", SI_AB]
        assert [c.conversation_id for c in await api.search("ALI")] == [SI_AB]
        # draft: local, moves the conversation's activity time
        drafted = await api.set_draft("si_bob_carol", "half a thought")
        assert drafted is not None and drafted.draft == "half a thought" and drafted.draft_time > 0
        got = await next_event(events, lambda e: isinstance(e, ev.ConversationChanged)
                               and e.conversation.conversation_id == "si_bob_carol")
        assert got.conversation.draft == "half a thought"
        # hide: off the list, unread gone, total follows
        hidden = await api.hide(SI_AB)
        assert (hidden.unread_count, hidden.latest_time, hidden.is_hidden) == (0, 0, True)
        total = await next_event(events, lambda e: isinstance(e, ev.UnreadTotalChanged))
        assert total.total == 0 and await api.get_list() == []
        # a new message brings it back
        async with session(server, tmp_path, "alice", tok[("alice", Platform.LINUX)], Platform.LINUX) as a:
            back = await a.send_text("bob", "back again")
            await received(b, events, back.client_msg_id)
        shown = await api.get(SI_AB)
        assert shown is not None and (shown.is_hidden, shown.unread_count, shown.latest_text) == (False, 1, "back again")
        await api.hide_all()
        assert await api.get_list() == [] and await api.total_unread() == 0


async def test_the_client_conversation_list_leaves_hidden_conversations_out(server, tmp_path):
    """``client.conversations()`` is the official ``GetAllConversationList``: a conversation without a
    latest message (opened but never used, hidden, deleted) is not listed until a message comes."""
    tok, _ = await chat(server, tmp_path, 1)
    carol = await tokens(server, ("carol", Platform.LINUX))
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b:
        events = b.events()
        opened = await b.open_conversation(user_id="carol")
        assert opened.is_hidden and opened.conversation_id == "si_bob_carol"
        assert [c.conversation_id for c in await b.conversations()] == [SI_AB]
        assert {c.conversation_id for c in await b.conversations(include_hidden=True)} == {SI_AB, "si_bob_carol"}
        # our own first message lists it
        mine = await b.send_text("carol", "hi carol", wait=True)
        assert [c.conversation_id for c in await b.conversations()] == ["si_bob_carol", SI_AB]
        # hidden: off the list (this device only); the peer's next message brings it back
        await b.conversations_api.hide(SI_AB)
        assert [c.conversation_id for c in await b.conversations()] == ["si_bob_carol"]
        async with session(server, tmp_path, "alice", tok[("alice", Platform.LINUX)], Platform.LINUX) as a:
            back = await a.send_text("bob", "still there?")
            await received(b, events, back.client_msg_id)
        listed = await b.conversations()
        assert [c.conversation_id for c in listed] == [SI_AB, "si_bob_carol"]
        assert (listed[0].latest_text, listed[0].unread_count) == ("still there?", 1)
        # deleting the history hides it as well; a message from the other side lists it again
        await b.conversations_api.delete_with_messages("si_bob_carol")
        assert [c.conversation_id for c in await b.conversations()] == [SI_AB]
        async with session(server, tmp_path, "carol", carol[("carol", Platform.LINUX)], Platform.LINUX) as c:
            reply = await c.send_text("bob", "hi bob")
            await received(b, events, reply.client_msg_id)
        assert [c.conversation_id for c in await b.conversations()] == ["si_bob_carol", SI_AB]
        assert mine.client_msg_id != reply.client_msg_id
    # after a restart the cache answers the same
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b:
        assert [c.conversation_id for c in await b.conversations()] == ["si_bob_carol", SI_AB]


async def test_a_group_read_on_another_device_resets_the_at_type(server, tmp_path):
    """Bob reads an @-mention on one device: his other device hears the read receipt (2200, own
    devices only) and drops the conversation's @ type with its unread count."""
    tok = await tokens(server, ("alice", Platform.LINUX), ("bob", Platform.LINUX), ("bob", Platform.OSX))
    async with session(server, tmp_path, "alice", tok[("alice", Platform.LINUX)], Platform.LINUX) as a, \
            session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b1, \
            session(server, tmp_path, "bob", tok[("bob", Platform.OSX)], Platform.OSX, tag="bob-mac") as b2:
        await a.api.group.create_group(owner_user_id="alice", member_user_ids=["bob"],
                                       group_info={"groupID": "atg", "groupName": "At", "groupType": 2})
        first, second = b1.events(), b2.events()
        mention = await a.send_text("atg", "look here", group=True, at_user_ids=["bob"])
        for client, events in ((b1, first), (b2, second)):
            await received(client, events, mention.client_msg_id)
            conv = await client.conversation("sg_atg")
            assert conv is not None and conv.group_at_type == 1 and conv.unread_count > 0
        await b1.mark_read("sg_atg")
        local = await b1.conversation("sg_atg")
        assert local is not None and (local.group_at_type, local.unread_count) == (0, 0)
        seen = await next_event(second, lambda e: isinstance(e, ev.ConversationChanged)
                                and e.conversation.conversation_id == "sg_atg" and e.conversation.unread_count == 0)
        assert seen.conversation.group_at_type == 0
        other = await b2.conversation("sg_atg")
        assert other is not None and (other.group_at_type, other.unread_count, other.has_read_seq) == (
            0, 0, local.has_read_seq)


async def test_a_device_offline_during_the_read_drops_the_at_type_when_it_comes_back(server, tmp_path):
    tok = await tokens(server, ("alice", Platform.LINUX), ("bob", Platform.LINUX), ("bob", Platform.OSX))
    async with session(server, tmp_path, "alice", tok[("alice", Platform.LINUX)], Platform.LINUX) as a:
        await a.api.group.create_group(owner_user_id="alice", member_user_ids=["bob"],
                                       group_info={"groupID": "atg2", "groupName": "At", "groupType": 2})
        async with session(server, tmp_path, "bob", tok[("bob", Platform.OSX)], Platform.OSX, tag="bob-mac") as b2:
            events = b2.events()
            mention = await a.send_text("atg2", "look here", group=True, at_user_ids=["AtAllTag", "bob"])
            await received(b2, events, mention.client_msg_id)
            conv = await b2.conversation("sg_atg2")
            assert conv is not None and conv.group_at_type == 3
        async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b1:
            await b1.mark_read("sg_atg2")

        async def caught_up(c: OpenIMClient) -> bool:
            conv = await c.conversation("sg_atg2")
            return conv is not None and (conv.unread_count, conv.group_at_type) == (0, 0)

        async with session(server, tmp_path, "bob", tok[("bob", Platform.OSX)], Platform.OSX, tag="bob-mac") as b2:
            await until(lambda: caught_up(b2), what="the read and the @ reset reached the device that was away")


async def test_settings_reach_the_server_and_our_other_device(server, tmp_path):
    tok, _ = await chat(server, tmp_path, 1)
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b1, \
            session(server, tmp_path, "bob", tok[("bob", Platform.OSX)], Platform.OSX, tag="bob-mac") as b2:
        other = b2.events()
        conv = await b1.conversations_api.get(SI_AB) or await b1.conversations_api.get_one(1, "alice")
        assert conv is not None
        updated = await b1.conversations_api.set(SI_AB, pinned=True, recv_msg_opt=2, private_chat=True, burn_duration=60,
                                                 ex="x1")
        assert (updated.is_pinned, updated.recv_msg_opt, updated.is_private_chat, updated.burn_duration, updated.ex) == (
            True, 2, True, 60, "x1")
        srv = await b1.api.conversation.get_conversation(conversation_id=SI_AB, owner_user_id="bob")
        c = srv.conversation
        assert (c.isPinned, c.recvMsgOpt, c.isPrivateChat, c.burnDuration, c.ex) == (True, 2, True, 60, "x1")
        # the other device hears 1300 and re-reads the conversation from the server
        seen = await next_event(other, lambda e: isinstance(e, ev.ConversationChanged)
                                and e.conversation.conversation_id == SI_AB and e.conversation.is_pinned)
        assert (seen.conversation.recv_msg_opt, seen.conversation.burn_duration, seen.conversation.ex) == (2, 60, "x1")
        # a receive option other than 0 takes the conversation out of the unread total
        assert await b1.conversations_api.total_unread() == 0
        unpinned = await b1.conversations_api.pin(SI_AB, False)
        assert not unpinned.is_pinned
        with pytest.raises(NotFoundError):
            await b1.conversations_api.set("si_bob_nobody", pinned=True)
    # a fresh device gets the settings and the peer's name at login (incremental conversation sync)
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX, tag="bob-new",
                       named=SI_AB) as b3:
        conv = await b3.conversations_api.get(SI_AB)
        assert conv is not None and (conv.show_name, conv.recv_msg_opt, conv.burn_duration, conv.ex) == (
            "Alice", 2, 60, "x1")


async def test_mark_all_read_and_clear_on_another_device(server, tmp_path):
    tok, sent = await chat(server, tmp_path, 2)
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b1, \
            session(server, tmp_path, "bob", tok[("bob", Platform.OSX)], Platform.OSX, tag="bob-mac") as b2:
        for client in (b1, b2):
            assert len(await client.messages(SI_AB)) == 2
        events = b1.events()
        done = await b1.conversations_api.mark_all_read()
        assert [c.conversation_id for c in done] == [SI_AB] and done[0].unread_count == 0
        assert (await next_event(events, lambda e: isinstance(e, ev.UnreadTotalChanged))).total == 0
        seqs = await b1.api.msg.get_conversations_has_read_and_max_seq(user_id="bob", conversation_ids=[SI_AB])
        assert seqs.seqs[SI_AB].hasReadSeq == 2
        # clear with messages here and on the server; the other device drops its copy (1703)
        other = b2.events()
        cleared = await b1.conversations_api.clear_with_messages(SI_AB)
        assert (cleared.latest_text, cleared.unread_count, cleared.max_seq) == ("", 0, 2)
        assert await b1.messages(SI_AB) == []
        note = await next_event(other, lambda e: isinstance(e, ev.ConversationCleared))
        assert note.conversation_ids == (SI_AB,)
        assert await b2.messages(SI_AB) == []
        # delete with messages also hides it
        gone = await b1.conversations_api.delete_with_messages(SI_AB)
        assert gone.is_hidden and await b1.conversations_api.get_list() == []
        # removed from the server's conversation list too, and from the cache
        await b1.conversations_api.delete_on_server([SI_AB])
        assert await b1.conversations_api.get(SI_AB) is None
        left = await b1.api.conversation.get_all_conversations(owner_user_id="bob")
        assert SI_AB not in {c.conversationID for c in left.conversations}
    # a fresh device does not get the cleared history back
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX, tag="bob-new") as b3:
        assert await b3.messages(SI_AB) == []


async def test_message_ops_find_delete_insert_local_ex_search(server, tmp_path):
    tok, sent = await chat(server, tmp_path, 3)
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b:
        ops = b.messages_api
        assert len(await b.messages(SI_AB)) == 3
        ids = [m.client_msg_id for m in sent]
        found = await ops.find([ids[2], "missing", ids[0]])
        assert [m.client_msg_id for m in found] == [ids[2], ids[0]]
        # search: keywords, senders, types, time window, paging
        assert len(await ops.search("hello")) == 3
        assert [m.text for m in await ops.search(["hello", "1"], match_all=True)] == ["hello 1"]
        assert await ops.search("hello", sender_ids=["bob"]) == []
        assert await ops.search("hello", content_types=[ContentType.PICTURE]) == []
        page = await ops.search("hello", offset=1, count=1)
        assert [m.text for m in page] == ["hello 1"]
        t1 = found[1].send_time
        # [t1, t1 + 1) ms: "hello 0" and whatever the server stamped in the same millisecond (sends
        # can now be acknowledged within one), newest first like every search
        same_ms = [m.text for m in reversed(await b.messages(SI_AB)) if m.send_time == t1]
        assert "hello 0" in same_ms
        assert [m.text for m in await ops.search("hello", start_time=t1, end_time=t1 + 1)] == same_ms
        # local ex: kept on this device only
        marked = await ops.set_local_ex(ids[0], '{"starred":true}')
        assert marked.local_ex == '{"starred":true}' and (await ops.find([ids[0]]))[0].local_ex == '{"starred":true}'
        # delete the latest message locally: unread -1, the latest falls back to the previous one
        events = b.events()
        deleted = await ops.delete_local(ids[2])
        assert deleted.status == MsgStatus.DELETED
        assert (await next_event(events, lambda e: isinstance(e, ev.MessageDeleted))).message.client_msg_id == ids[2]
        conv = await b.conversations_api.get(SI_AB)
        assert conv is not None and (conv.unread_count, conv.latest_client_msg_id, conv.latest_text) == (
            2, ids[1], "hello 1")
        assert [m.client_msg_id for m in await b.messages(SI_AB)] == ids[:2]
        # delete on the server too: a fresh device of ours does not get it back
        await ops.delete(ids[1])
        # insert locally (not sent): a single chat tip and a group message
        tip = await ops.insert_single(mb.text("local tip"), "alice", "bob")
        assert tip.status == MsgStatus.SEND_SUCCESS and tip.conversation_id == SI_AB and tip.seq == 0
        conv = await b.conversations_api.get(SI_AB)
        assert conv is not None and conv.latest_text == "local tip"
        grp = await ops.insert_group(mb.custom("x", description="d"), "g-local", "bob")
        new = await next_event(events, lambda e: isinstance(e, ev.NewConversation))
        assert new.conversation.conversation_id == "sg_g-local" == grp.conversation_id
        assert new.conversation.conversation_type == SessionType.READ_GROUP_CHAT
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX, tag="bob-new") as b2:
        rows = await b2.messages(SI_AB)
        assert [m.client_msg_id for m in rows] == [ids[0], ids[2]]
        # delete everything, here and on the server
        await b2.messages_api.delete_all()
        assert await b2.messages(SI_AB) == [] and await b2.messages_api.search("hello") == []
    async with session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX, tag="bob-3") as b3:
        assert await b3.messages(SI_AB) == []


async def test_built_messages_with_offline_push_and_media(server, tmp_path):
    tok = await tokens(server, ("alice", Platform.LINUX), ("bob", Platform.LINUX))
    async with session(server, tmp_path, "alice", tok[("alice", Platform.LINUX)], Platform.LINUX) as a, \
            session(server, tmp_path, "bob", tok[("bob", Platform.LINUX)], Platform.LINUX) as b:
        events = b.events()
        loc = await a.send("bob", mb.location("Here", 2.35, 48.85).with_offline_push("New place", "Alice shared", "e1"))
        got = await next_event(events, lambda e: isinstance(e, ev.MessageReceived)
                               and e.message.client_msg_id == loc.client_msg_id)
        assert got.message.content == {"description": "Here", "longitude": 2.35, "latitude": 48.85}
        row = b.store.message(loc.client_msg_id)
        assert row is not None and row.to_msg().offlinePushInfo.title == "New place"
        q = await a.send("bob", mb.quote("answer", mb.message_struct(got.message)))
        got_q = await next_event(events, lambda e: isinstance(e, ev.MessageReceived)
                                 and e.message.client_msg_id == q.client_msg_id)
        assert got_q.message.content["quoteMessage"]["locationElem"]["description"] == "Here"
        assert got_q.message.content["quoteMessage"]["clientMsgID"] == loc.client_msg_id
        from tests.unit.test_message_builders import png
        pic = await a.send("bob", mb.image(png(tmp_path / "p.png", 30, 20)))
        got_p = await next_event(events, lambda e: isinstance(e, ev.MessageReceived)
                                 and e.message.client_msg_id == pic.client_msg_id)
        sp = got_p.message.content["sourcePicture"]
        assert (sp["width"], sp["height"]) == (30, 20) and sp["url"].startswith("http")
        fwd = await b.send("alice", mb.forward(mb.message_struct(got_p.message)))
        assert fwd.content_type == ContentType.PICTURE and fwd.content["sourcePicture"]["url"] == sp["url"]
        # the older client methods go through the same builders
        legacy = await a.send_file("bob", png(tmp_path / "q.png", 7, 9), image=True)
        assert (legacy.content["bigPicture"]["width"], legacy.content["bigPicture"]["height"]) == (7, 9)
        assert legacy.content["bigPicture"]["url"].startswith("http")
        reply = await a.send_quote("bob", "re", got.message)
        assert reply.content["quoteMessage"]["locationElem"] == got.message.content
