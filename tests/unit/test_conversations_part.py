"""The conversations part's notification handling over a real cache and a fake session (no
sockets): 1702 moves the read state, 1703 clears, 1300/1701 start a sync; events as the official
OnConversationListener."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openim_sdk import events as ev
from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session import NotificationRouter, SessionContext
from openim_sdk.session.conversations import Conversations, record_message
from openim_sdk.store import LocalStore

SI = "si_me_peer"


def text(cmid: str, seq: int) -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(clientMsgID=cmid, sendID="peer", recvID="me", sessionType=1, contentType=101,
                             content=b'{"content":"x"}', seq=seq, sendTime=seq, status=2)


def note(ct: int, tips: dict[str, Any]) -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(sendID="me", recvID="me", contentType=ct, sessionType=4,
                             content=json.dumps({"detail": json.dumps(tips)}).encode())


@pytest.fixture
def world(tmp_path):
    store = LocalStore(tmp_path / "c.sqlite3")
    events: list[ev.Event] = []
    spawned: list[str] = []

    def spawn(coro: Any, where: str) -> Any:
        coro.close()
        spawned.append(where)
        return None

    ctx = SessionContext("me", rest=None, emit=events.append, spawn=spawn)  # type: ignore[arg-type]
    ctx.attach_store(store)
    router = NotificationRouter()
    part = Conversations(ctx, router)
    for i in range(1, 5):
        store.upsert_messages([text(f"m{i}", i)], SI)
        record_message(store, SI, text(f"m{i}", i), "me")
    part.publish([], 4)  # what the session reported when these arrived
    events.clear()
    yield store, router, part, events, spawned
    store.close()


async def test_1702_read_elsewhere_moves_read_state(world):
    store, router, part, events, _ = world
    assert await part.total_unread() == 4
    assert await router.dispatch(note(ContentType.CONVERSATION_UNREAD, {"userID": "me", "conversationID": SI,
                                                                         "hasReadSeq": 3}))
    conv = await part.get(SI)
    assert conv is not None and (conv.has_read_seq, conv.unread_count) == (3, 1)
    assert [type(e) for e in events] == [ev.ConversationChanged, ev.UnreadTotalChanged]
    assert events[1].total == 1  # type: ignore[attr-defined]
    # another user's read state is not ours
    await router.dispatch(note(ContentType.CONVERSATION_UNREAD, {"userID": "x", "conversationID": SI, "hasReadSeq": 4}))
    assert (await part.get(SI)).unread_count == 1  # type: ignore[union-attr]


async def test_1703_clears_history_and_says_so(world):
    store, router, part, events, _ = world
    await router.dispatch(note(ContentType.CLEAR_CONVERSATION, {"userID": "me", "conversationIDs": [SI]}))
    assert store.messages(SI) == [] and store.max_seqs()[SI] == 4  # cleared seqs are never pulled again
    conv = await part.get(SI)
    assert conv is not None and (conv.unread_count, conv.latest_text, conv.has_read_seq) == (0, "", 4)
    assert isinstance(events[0], ev.ConversationCleared) and events[0].conversation_ids == (SI,)
    assert isinstance(events[1], ev.ConversationChanged) and events[-1] == ev.UnreadTotalChanged(0)


async def test_1300_and_1701_start_a_sync(world):
    _, router, _, events, spawned = world
    for ct in (ContentType.CONVERSATION_CHANGE, ContentType.CONVERSATION_PRIVATE_CHAT):
        assert await router.dispatch(note(ct, {"userID": "me", "conversationIDList": [SI]}))
    assert spawned == ["conversation sync", "conversation sync"] and events == []


async def test_publish_reports_the_total_only_when_it_moves(world):
    _, _, part, events, _ = world
    conv = await part.get(SI)
    part.publish([conv], 4)
    part.publish([conv], 4)
    part.publish([conv], 0, new=True)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ConversationChanged", "ConversationChanged", "NewConversation", "UnreadTotalChanged"]
    part.publish([None], 0)
    assert len(events) == 4
