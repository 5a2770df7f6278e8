"""The conversation rules (one pure function) and what the cache persists of them."""

from __future__ import annotations

import dataclasses
import json

import pytest

from openim_sdk.models import Conversation
from openim_sdk.protocol.constants import ContentType, MsgStatus, SessionType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session import conversation_rules as rules
from openim_sdk.session.conversations import record_message
from openim_sdk.store import LocalStore

ME, PEER, G = "me", "peer", "g1"
SI, SG = "si_me_peer", "sg_g1"


def msg(cmid: str, seq: int, *, sender: str = PEER, t: int | None = None, group: bool = False,
        ct: int = ContentType.TEXT, content: dict | None = None, at: list[str] | None = None,
        **options: bool) -> sdkws_pb2.MsgData:
    m = sdkws_pb2.MsgData(
        clientMsgID=cmid, sendID=sender, recvID="" if group else (ME if sender != ME else PEER), groupID=G if group else "",
        sessionType=SessionType.READ_GROUP_CHAT if group else SessionType.SINGLE_CHAT, contentType=ct,
        content=json.dumps(content or {"content": f"text {cmid}"}).encode(), seq=seq,
        sendTime=1000 + seq if t is None else t, status=MsgStatus.SEND_SUCCESS, senderNickname="Peer",
        atUserIDList=at or [],
    )
    m.options.update(options)
    return m


def test_first_message_creates_the_conversation_with_peer_and_name():
    c = rules.apply_message(None, msg("a", 1), ME, conversation_id=SI)
    assert (c.conversation_id, c.conversation_type, c.user_id, c.show_name) == (SI, 1, PEER, "Peer")
    assert (c.unread_count, c.max_seq, c.latest_client_msg_id, c.latest_text) == (1, 1, "a", "text a")
    latest = c.latest_message
    assert latest["clientMsgID"] == "a" and latest["textElem"] == {"content": "text a"} and latest["isRead"] is False
    own = rules.apply_message(None, msg("b", 1, sender=ME), ME, conversation_id=SI)
    assert (own.user_id, own.show_name, own.unread_count, own.has_read_seq) == (PEER, "", 0, 1)


def test_unread_counts_new_seqs_once_and_own_message_reads():
    c = rules.apply_message(None, msg("a", 1), ME, conversation_id=SI)
    c = rules.apply_message(c, msg("b", 2), ME)
    assert c.unread_count == 2
    again = rules.apply_message(c, msg("a", 1), ME)  # a replay of an old seq
    assert again == c
    quiet = rules.apply_message(c, msg("q", 3, unreadCount=False), ME)
    assert (quiet.unread_count, quiet.max_seq, quiet.latest_client_msg_id) == (2, 3, "q")
    mine = rules.apply_message(quiet, msg("m", 4, sender=ME), ME)
    assert (mine.unread_count, mine.has_read_seq, mine.latest_client_msg_id) == (0, 4, "m")


def test_latest_message_follows_send_time_and_options():
    c = rules.apply_message(None, msg("new", 2, t=2000), ME, conversation_id=SI)
    older = rules.apply_message(c, msg("old", 1, t=1500), ME)
    assert older.latest_client_msg_id == "new" and older.latest_time == 2000
    hidden = rules.apply_message(c, msg("h", 3, t=3000, conversationUpdate=False), ME)
    assert hidden.latest_client_msg_id == "new" and hidden.unread_count == 2
    own_quiet = rules.apply_message(c, msg("o", 4, sender=ME, t=4000, senderConversationUpdate=False), ME)
    assert own_quiet.latest_client_msg_id == "new"
    deleted = msg("d", 5, t=5000)
    deleted.status = MsgStatus.DELETED
    after = rules.apply_message(c, deleted, ME)
    assert (after.latest_client_msg_id, after.unread_count, after.max_seq) == ("new", 1, 5)
    # a numbered copy of the latest message (same ID) refreshes it even at an older send time
    sending = rules.apply_message(c, msg("s", 0, sender=ME, t=9000), ME)
    numbered = rules.apply_message(sending, msg("s", 6, sender=ME, t=8990), ME)
    assert numbered.latest_message["seq"] == 6 and numbered.latest_time == 9000


def test_notification_conversations_never_count_unread():
    c = rules.apply_message(None, msg("n", 1), ME, conversation_id="n_me_peer")
    assert c.unread_count == 0 and c.max_seq == 1


@pytest.mark.parametrize(("at_lists", "expected"), [
    ([[ME]], rules.AT_ME),
    ([["AtAllTag"]], rules.AT_ALL),
    ([["AtAllTag", ME]], rules.AT_ALL_AT_ME),
    ([[ME], ["AtAllTag"]], rules.AT_ALL_AT_ME),
    ([["AtAllTag"], ["someone"]], rules.AT_ALL),
    ([["someone"]], rules.AT_NORMAL),
])
def test_group_at_type(at_lists, expected):
    c = None
    for i, at in enumerate(at_lists, 1):
        m = msg(f"g{i}", i, group=True, ct=ContentType.AT_TEXT, content={"text": "hey", "atUserList": at}, at=at)
        c = rules.apply_message(c, m, ME, conversation_id=SG)
    assert c is not None and c.group_at_type == expected
    read = rules.apply_read(c)
    assert (read.unread_count, read.group_at_type, read.has_read_seq) == (0, 0, c.max_seq)


def test_apply_read_only_moves_forward():
    c = Conversation(SI, max_seq=10, has_read_seq=6, unread_count=4, group_at_type=1)
    assert rules.apply_read(c, 3) == Conversation(SI, max_seq=10, has_read_seq=6, unread_count=4, group_at_type=1)
    part = rules.apply_read(c, 8)
    assert (part.has_read_seq, part.unread_count, part.group_at_type) == (8, 2, 1)


def test_a_read_receipt_up_to_the_max_seq_resets_the_group_at_type():
    """Read on another of our devices (2200 with hasReadSeq): the @ goes when nothing is left unread."""
    c = None
    for i, at in enumerate([[ME], ["someone"], ["AtAllTag"]], 1):
        m = msg(f"g{i}", i, group=True, ct=ContentType.AT_TEXT, content={"text": "hey", "atUserList": at}, at=at)
        c = rules.apply_message(c, m, ME, conversation_id=SG)
    assert c is not None and (c.group_at_type, c.unread_count) == (rules.AT_ALL_AT_ME, 3)
    partly = rules.apply_read(c, 2)  # a newer @ is still unread: it stays
    assert (partly.group_at_type, partly.unread_count, partly.has_read_seq) == (rules.AT_ALL_AT_ME, 1, 2)
    read = rules.apply_read(partly, 3)
    assert (read.group_at_type, read.unread_count, read.has_read_seq) == (rules.AT_NORMAL, 0, 3)


def test_rules_never_mutate_their_input():
    c = rules.apply_message(None, msg("a", 1), ME, conversation_id=SI)
    snapshot = Conversation(**vars(c))
    rules.apply_message(c, msg("b", 2), ME)
    assert c == snapshot


def test_the_store_persists_what_the_rules_compute(tmp_path):
    store = LocalStore(tmp_path / "c.sqlite3")
    try:
        m1, m2 = msg("a", 1, group=True, ct=ContentType.AT_TEXT, content={"text": "x"}, at=[ME]), msg("b", 2, group=True)
        expected = rules.apply_message(rules.apply_message(None, m1, ME, conversation_id=SG), m2, ME)
        record_message(store, SG, m1, ME)
        row = record_message(store, SG, m2, ME)
        assert Conversation.from_row(row) == expected
        assert Conversation.from_row(store.conversation(SG)) == expected
        assert expected.group_at_type == rules.AT_ME and expected.unread_count == 2
        # round trip: every field of the public model survives the cache
        full = Conversation(SI, 1, user_id=PEER, show_name="P", latest_msg='{"a":1}', is_private_chat=True,
                            burn_duration=7, is_not_in_group=True, attached_info="i", ex="e", draft="d",
                            draft_time=5, min_seq=2, is_msg_destruct=True, msg_destruct_time=9)
        store.change_conversation(SI, lambda _row: full.to_row())
        assert Conversation.from_row(store.conversation(SI)) == full
    finally:
        store.close()


def test_after_delete_drops_one_unread_and_falls_back_to_the_previous_latest(tmp_path):
    from openim_sdk.session.message_ops import _after_delete

    store = LocalStore(tmp_path / "d.sqlite3")
    try:
        m1, m2 = msg("a", 1), msg("b", 2)
        store.upsert_messages([m1, m2], SI)
        c = rules.apply_message(rules.apply_message(None, m1, ME, conversation_id=SI), m2, ME)
        gone, previous = store.message("b"), store.message("a")
        after = _after_delete(c, gone, previous, ME)
        assert (after.unread_count, after.latest_client_msg_id, after.latest_text, after.max_seq) == (1, "a", "text a", 2)
        empty = _after_delete(c, gone, None, ME)
        assert (empty.latest_client_msg_id, empty.latest_msg) == ("", "")
        not_latest = _after_delete(c, previous, None, ME)  # an older message: the latest stays
        assert (not_latest.unread_count, not_latest.latest_client_msg_id) == (1, "b")
    finally:
        store.close()


def test_a_mention_counted_by_the_server_read_state_first_still_sets_the_at_type():
    """The on-connect read state (1006: max seq 5, read up to 3) may be applied before message 5
    itself arrives: it is not counted twice, but its @ still marks the conversation."""
    conv = Conversation(conversation_id=SG, conversation_type=SessionType.READ_GROUP_CHAT, group_id=G,
                        max_seq=5, has_read_seq=3, unread_count=2)
    after = rules.apply_message(conv, msg("m5", 5, group=True, at=[ME]), ME, conversation_id=SG)
    assert (after.unread_count, after.group_at_type) == (2, rules.AT_ME)
    read = rules.apply_message(dataclasses.replace(conv, has_read_seq=5, unread_count=0),
                               msg("m5", 5, group=True, at=[ME]), ME, conversation_id=SG)
    assert read.group_at_type == rules.AT_NORMAL  # already read: no badge
