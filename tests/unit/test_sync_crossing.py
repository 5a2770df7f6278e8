"""Replies and notifications that cross (issue 18), below the engine: pending revokes/deletes,
and the store rules that keep a late copy or an older reply from moving anything backwards."""

from __future__ import annotations

import json

import pytest

from openim_sdk.protocol.constants import ContentType, MsgStatus
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session.conversations import record_message
from openim_sdk.store import LocalStore
from openim_sdk.sync.paging import page_hole
from openim_sdk.sync.pending import PendingEdits

ME, PEER, SI = "u1", "u2", "si_u1_u2"
REVOKED = json.dumps({"detail": "{}"}).encode()


def msg(cmid: str, seq: int, text: str = "hi", sender: str = PEER) -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(
        sendID=sender, recvID=ME, clientMsgID=cmid, sessionType=1, msgFrom=100, contentType=101,
        content=json.dumps({"content": text}).encode(), seq=seq, sendTime=1000 + seq, status=2,
    )


@pytest.fixture
def store(tmp_path):
    s = LocalStore(tmp_path / "cache.db")
    yield s
    s.close()


def test_pending_revoke_and_delete_apply_once_on_arrival():
    p = PendingEdits()
    p.revoke_later("a", REVOKED)
    p.delete_later(SI, [2, 0])
    assert len(p) == 2
    a, b, c = msg("a", 1), msg("b", 2), msg("c", 3)
    out = p.apply(SI, [a, b, c])
    assert out[0].contentType == ContentType.MSG_REVOKE_NOTIFICATION and out[0].content == REVOKED
    assert out[1].status == MsgStatus.DELETED and out[2] is c
    assert a.contentType == 101 and b.status == 2  # the originals are untouched
    assert len(p) == 0 and p.apply(SI, [a, b]) == [a, b]  # each edit once
    p.delete_later("other", [1])
    assert p.apply(SI, [a]) == [a]  # deletes are per conversation


def test_pending_edits_are_bounded():
    p = PendingEdits(limit=2)
    for i in range(5):
        p.revoke_later(f"m{i}", REVOKED)
    p.delete_later(SI, range(1, 6))
    assert len(p) == 4
    assert p.apply(SI, [msg("m0", 9)])[0].contentType == 101  # the oldest were forgotten
    assert p.apply(SI, [msg("m4", 5)])[0].status == MsgStatus.DELETED


def test_a_revoke_and_a_delete_survive_a_late_copy(store):
    store.upsert_messages([msg("a", 1), msg("b", 2)], SI)
    revoked = store.message("a").to_msg()  # type: ignore[union-attr]
    revoked.contentType, revoked.content = ContentType.MSG_REVOKE_NOTIFICATION, REVOKED
    store.upsert_messages([revoked], SI)
    assert [m.client_msg_id for m in store.mark_deleted(SI, [2, 7])] == ["b"]
    late = msg("a", 1)
    late.isRead = True
    store.upsert_messages([late, msg("b", 2)], SI)  # copies the server made before both
    a = store.message("a")
    assert a is not None and a.content_type == ContentType.MSG_REVOKE_NOTIFICATION and a.is_read
    assert a.to_msg().content == REVOKED
    assert store.message("b").status == MsgStatus.DELETED  # type: ignore[union-attr]
    assert [m.client_msg_id for m in store.messages(SI)] == ["a"]


def test_read_state_from_an_older_reply_never_goes_back(store):
    store.upsert_messages([msg("a", 1), msg("b", 2), msg("c", 3)], SI)
    for m in (msg("a", 1), msg("b", 2), msg("c", 3)):
        record_message(store, SI, m, ME)
    assert store.mark_read(SI) == 0
    store.set_read_seqs([(SI, 0, 2)])  # computed before the read and before seq 3
    c = store.conversation(SI)
    assert c is not None and (c.has_read_seq, c.max_seq, c.unread_count) == (3, 3, 0)
    store.set_read_seqs([(SI, 3, 5)])  # a newer one: two more messages on the server
    c = store.conversation(SI)
    assert c is not None and (c.has_read_seq, c.max_seq, c.unread_count) == (3, 5, 2)


def test_rewind_conversation_keeps_unsent_rows_and_fixes_the_conversation(store):
    rows = [msg("a", 1), msg("b", 2), msg("c", 3), msg("d", 4)]
    store.upsert_messages(rows, SI)
    for m in rows:
        record_message(store, SI, m, ME)
    store.mark_read(SI, 3)
    unsent = msg("mine", 0, sender=ME)
    unsent.status = MsgStatus.SENDING
    store.upsert_messages([unsent], SI)
    store.set_max_seqs({SI: 4})
    assert store.rewind_conversation(SI, 2) == 2
    assert [m.seq for m in store.messages(SI)] == [1, 2, 0]
    assert store.max_seqs()[SI] == 2
    c = store.conversation(SI)
    assert c is not None and (c.max_seq, c.has_read_seq, c.unread_count) == (2, 2, 0)
    assert c.latest_msg_client_id == "b"
    assert store.rewind_conversation(SI, 0) == 2 and [m.seq for m in store.messages(SI)] == [0]
    assert store.rewind_conversation("si_u1_nobody", 0) == 0


def test_page_hole():
    assert page_hole(10, list(range(1, 11)), None, 10, [], False) is None
    assert page_hole(10, [8, 9, 10], None, 5, [], False) == (1, 7, 2)  # the hole below, room for 2
    assert page_hole(10, [8, 9, 10], None, 3, [], False) is None  # the page is full
    assert page_hole(10, [9, 10], 9, 5, [], False) == (1, 8, 3)  # below before_seq
    assert page_hole(3, [2, 3], None, 5, [], True) is None  # seq 1 is below the bottom
    assert page_hole(10, [1, 2, 9, 10], None, 10, [(3, 8)], False) is None  # settled hole
    assert page_hole(10, [0, 10], None, 3, [], False) == (1, 9, 1)  # a sending row takes room
