"""Pure pieces of the session parts: paging above a seq, typing with a fake clock, the router."""

from __future__ import annotations

import json
from typing import Any

from openim_sdk import events as ev
from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session.context import NotificationRouter, SessionContext
from openim_sdk.session.history import page_hole_after
from openim_sdk.session.message_events import MessageEvents
from openim_sdk.session.typing import Typing
from openim_sdk.sync.pending import PendingEdits


def test_send_targets_and_the_composed_message_are_pure():
    from openim_sdk.protocol.constants import MsgFrom, MsgStatus, SessionType
    from openim_sdk.session.sender import compose, new_client_msg_id, target_of
    from openim_sdk.store.conversations import _ConversationRow

    assert target_of("me", "bob", False, None) == ("si_bob_me", SessionType.SINGLE_CHAT, "bob", "")
    assert target_of("me", "g1", True, None) == ("sg_g1", SessionType.READ_GROUP_CHAT, "", "g1")
    assert target_of("me", "sg_g1", False, None) == ("sg_g1", SessionType.READ_GROUP_CHAT, "", "g1")
    known = _ConversationRow(conversation_id="n_sys_me", conversation_type=SessionType.NOTIFICATION_CHAT,
                             user_id="sys")
    assert target_of("me", "n_sys_me", False, known) == ("n_sys_me", SessionType.NOTIFICATION_CHAT, "sys", "")
    group = _ConversationRow(conversation_id="sg_x", group_id="x")
    assert target_of("me", "sg_x", False, group) == ("sg_x", SessionType.READ_GROUP_CHAT, "", "x")
    cmid = new_client_msg_id("me")
    assert len(cmid) == 32 and cmid != new_client_msg_id("me")
    push = sdkws_pb2.OfflinePushInfo(title="t")
    md = compose("me", 7, ("sg_g1", SessionType.READ_GROUP_CHAT, "", "g1"), ContentType.AT_TEXT, b"{}",
                 client_msg_id="c1", now_ms=1234, sender=sdkws_pb2.UserInfo(userID="me", nickname="Me", faceURL="f"),
                 at_user_ids=["bob"], options={"history": False}, offline_push=push, ex="e")
    assert (md.sendID, md.recvID, md.groupID, md.clientMsgID, md.senderPlatformID) == ("me", "", "g1", "c1", 7)
    assert (md.senderNickname, md.senderFaceURL, md.msgFrom, md.status) == ("Me", "f", MsgFrom.USER, MsgStatus.SENDING)
    assert (md.createTime, md.sendTime, list(md.atUserIDList), md.ex) == (1234, 1234, ["bob"], "e")
    assert dict(md.options) == {"history": False} and md.offlinePushInfo.title == "t"
    bare = compose("me", 7, ("si_bob_me", SessionType.SINGLE_CHAT, "bob", ""), ContentType.TEXT, b"{}",
                   client_msg_id="c2", now_ms=1)
    assert (bare.senderNickname, bare.HasField("offlinePushInfo"), dict(bare.options)) == ("", False, {})


def test_page_hole_after_finds_the_lowest_missing_run_within_the_page():
    assert page_hole_after(100, list(range(21, 31)), 20, 10, []) is None
    assert page_hole_after(100, [], 20, 15, []) == (21, 35)
    assert page_hole_after(100, [21, 22, 26], 20, 10, []) == (23, 25)
    assert page_hole_after(100, [21, 22, 26], 20, 10, [(23, 25)]) == (27, 33)  # settled counts as absent
    assert page_hole_after(24, [21], 20, 10, []) == (22, 24)  # nothing above synced
    assert page_hole_after(20, [], 20, 10, []) is None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def context(events: list[ev.Event], clock: Clock | None = None) -> SessionContext:
    clk = clock or Clock()
    return SessionContext("me", None, events.append, lambda c, w: None, clock=clk, monotonic=clk)  # type: ignore[arg-type]


def test_typing_expires_on_the_injected_clock():
    events: list[ev.Event] = []
    clock = Clock()
    typing = Typing(context(events, clock), ttl=6.0)
    msg = sdkws_pb2.MsgData(sendID="bob", recvID="me", sessionType=1, contentType=ContentType.TYPING,
                            content=json.dumps({"msgTips": "yes"}).encode())
    typing.on_message("si_bob_me", msg)
    assert events == [ev.TypingChanged("si_bob_me", "bob", True)]
    assert typing.is_typing("si_bob_me", "bob")
    clock.now += 5.9
    assert typing.is_typing("si_bob_me", "bob")
    clock.now += 0.2
    assert not typing.is_typing("si_bob_me", "bob")
    out = typing.message("bob", False, client_msg_id="x", platform_id=7)
    assert json.loads(out.content) == {"msgTips": "no"} and out.options["history"] is False


async def test_a_read_receipt_from_another_of_our_devices_resets_the_group_at_type(tmp_path: Any) -> None:
    from openim_sdk.models import Conversation
    from openim_sdk.protocol.constants import SessionType
    from openim_sdk.session.conversations import record_message
    from openim_sdk.store import LocalStore

    events: list[ev.Event] = []
    router = NotificationRouter()
    ctx = context(events)
    store = LocalStore(tmp_path / "r.sqlite3")
    ctx.attach_store(store)
    changed_rows: list[Any] = []

    async def changed(row: Any) -> None:
        changed_rows.append(row)

    MessageEvents(ctx, router, PendingEdits(), changed)
    try:
        for seq, at in ((1, ["me"]), (2, [])):
            m = sdkws_pb2.MsgData(clientMsgID=f"c{seq}", sendID="bob", groupID="g1", seq=seq, sendTime=seq,
                                  sessionType=SessionType.READ_GROUP_CHAT, contentType=ContentType.AT_TEXT,
                                  content=json.dumps({"text": "hi", "atUserList": at}).encode(), atUserIDList=at)
            m.options.update({"unreadCount": True, "conversationUpdate": True})
            store.upsert_messages([m], "sg_g1")
            record_message(store, "sg_g1", m, "me")
        assert Conversation.from_row(store.conversation("sg_g1")).group_at_type == 1

        def receipt(read: int) -> sdkws_pb2.MsgData:
            tips = {"markAsReadUserID": "me", "conversationID": "sg_g1", "hasReadSeq": read}
            return sdkws_pb2.MsgData(sendID="me", recvID="me", contentType=ContentType.HAS_READ_RECEIPT,
                                     content=json.dumps({"detail": json.dumps(tips)}).encode())

        assert await router.dispatch(receipt(1))  # the newer message is still unread: the @ stays
        conv = Conversation.from_row(store.conversation("sg_g1"))
        assert (conv.has_read_seq, conv.unread_count, conv.group_at_type) == (1, 1, 1)
        assert await router.dispatch(receipt(2))
        conv = Conversation.from_row(store.conversation("sg_g1"))
        assert (conv.has_read_seq, conv.unread_count, conv.group_at_type) == (2, 0, 0)
        assert Conversation.from_row(changed_rows[-1]) == conv
        assert [m.is_read for m in store.messages("sg_g1")] == [True, True]
        assert events[-1] == ev.ReadReceipt("sg_g1", "me", 2)
    finally:
        store.close()


async def test_business_notifications_reach_their_part_through_the_router():
    events: list[ev.Event] = []
    router = NotificationRouter()
    ctx = context(events)

    async def changed(row: Any) -> None:
        return None

    MessageEvents(ctx, router, PendingEdits(), changed)
    assert {2001, 2101, 2102, 2200} <= router.content_types()
    detail = json.dumps({"key": "k", "data": "d"})
    m = sdkws_pb2.MsgData(sendID="admin", contentType=ContentType.BUSINESS_NOTIFICATION, sendTime=5,
                          content=json.dumps({"detail": detail}).encode())
    assert await router.dispatch(m)
    assert events == [ev.BusinessNotification("k", "d", "admin", 5)]


def test_waiting_for_the_connection_ends_with_the_session():
    """wait_connected (OpenIMClient.wait_synced) raises the session's error when the session ends
    before it ever connected (a refused token), and a LocalError when it was simply closed."""
    import asyncio

    import pytest

    from openim_sdk.protocol.errors import LocalError, TokenInvalidError
    from openim_sdk.session.connection_state import SessionState

    async def nothing(*_: Any) -> None:
        return None

    async def main() -> None:
        seen: list[ev.Event] = []
        refused = SessionState(seen.append, on_connected_changed=lambda up: None, on_push=nothing,
                               on_disconnected=nothing)
        waiter = asyncio.ensure_future(refused.wait_connected())
        await asyncio.sleep(0)
        assert not waiter.done()
        refused.end(ev.ConnectionState.TOKEN_INVALID, TokenInvalidError(message="TokenInvalidError"))
        with pytest.raises(TokenInvalidError):
            await asyncio.wait_for(waiter, 1)
        with pytest.raises(TokenInvalidError):  # and at once for a later caller
            await refused.wait_connected()
        closed = SessionState(seen.append, on_connected_changed=lambda up: None, on_push=nothing,
                              on_disconnected=nothing)
        closed.end(ev.ConnectionState.STOPPED, None)
        with pytest.raises(LocalError, match="ended"):
            await closed.wait_connected()
        up = SessionState(seen.append, on_connected_changed=lambda up: None, on_push=nothing,
                          on_disconnected=nothing)
        up.set(ev.ConnectionState.CONNECTED)
        await asyncio.wait_for(up.wait_connected(), 1)

    asyncio.run(main())
