"""The official Go core (libopenimsdk.so via koffi) logged in twice as the same user — D1 on platform
3, D2 on platform 5, both kept by the default multi-login policy 1 (a new login kicks only the same
platform) — plus a peer P (issue 14). D1 acts through the core's own API; the assertions are on
what D2's core reports, i.e. on the server's notifications to the user's other devices:

- mark_conversation_message_as_read on D1 -> D2's OnTotalUnreadMessageCountChanged drops to 0 and
  OnConversationChanged shows unreadCount 0; P gets OnRecvC2CReadReceipt for its message;
- set_conversation(isPinned, recvMsgOpt, burnDuration, ex) on D1 -> the server's ConversationChanged notification
  (1300) makes D2 sync and raise OnConversationChanged with the new values;
- set_conversation(isPrivateChat) on D1 -> upstream sets it on both owners' conversations and sends
  ConversationPrivateChat (1701, ``isSendMsg: true`` in notification.yml) from U to P: D2 and P
  raise OnConversationChanged with isPrivateChat, and the tip is a message of the si_ conversation
  (seq 2, after P's text) on D1, D2 and P.

set_conversation_draft and hide_conversation are local to the core in v3.8.3 (openim-sdk-core
internal/conversation_msg/api.go: SetConversationDraft writes the local DB, HideConversation only
resets the local row; neither calls the server), so only D1's own callback is checked for the draft,
and a fresh device D3 (platform 2) that logs in must find the synced fields (pinned, receive
option, private, read) but no draft. Last D1 clears the chat and a fresh D4 (platform 4) logs in.
Driver: native_conversation.mjs / lib/conversation_scenario.mjs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Admin, DriverRun, ServerProc, run_scenario

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def run(node_modules: Path, server: ServerProc, admin: Admin, tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    return run_scenario("native_conversation.mjs", server, admin, "it_conv", tmp_path_factory.mktemp("run-conv"), timeout=180)


def test_two_devices_of_one_user_both_online(run: DriverRun) -> None:
    for name in ("login_d1", "login_d2", "login_p", "synced_d1", "synced_d2", "synced_p"):
        run.ok(name)
    # neither device was kicked by the other's login
    for dev in ("d1", "d2"):
        assert "kicked" not in run.result["events"][dev], run.describe()


def test_message_counts_unread_on_both_devices(run: DriverRun) -> None:
    u, p = run.result["users"]["u"], run.result["users"]["p"]
    sent = run.ok("send_p")
    for dev in ("d1", "d2"):
        got = run.ok(f"recv_{dev}")
        assert (got["clientMsgID"], got["sendID"], got["recvID"], got["seq"]) == \
            (sent["clientMsgID"], p, u, 1), run.describe()
        assert run.ok(f"unread1_{dev}") == 1, run.describe()


def test_mark_read_on_one_device_clears_unread_on_the_other(run: DriverRun) -> None:
    u = run.result["users"]["u"]
    run.ok("mark_read_d1")
    assert run.ok("unread0_d2") == 0, run.describe()
    conv = run.ok("read_changed_d2")
    assert (conv["conversationID"], conv["unreadCount"]) == (run.result["conversationID"], 0), run.describe()
    receipts = run.ok("read_receipt_p")
    sent = run.ok("send_p")
    assert any(r["userID"] == u and sent["clientMsgID"] in r["msgIDList"] and r["sessionType"] == 1
               for r in receipts), run.describe()


def test_set_conversation_on_one_device_changes_the_other(run: DriverRun) -> None:
    run.ok("set_conversation_d1")
    for name in ("set_changed_d1", "set_changed_d2", "conversation_d2"):
        conv = run.ok(name)
        assert (conv["conversationID"], conv["isPinned"], conv["recvMsgOpt"], conv["burnDuration"], conv["ex"]) == \
            (run.result["conversationID"], True, 2, 45, "from d1"), f"{name}\n{run.describe()}"


def test_private_chat_reaches_both_users(run: DriverRun) -> None:
    u, p = run.result["users"]["u"], run.result["users"]["p"]
    conv_id = run.result["conversationID"]
    run.ok("private_d1")
    for name in ("private_changed_d2", "private_changed_p"):
        conv = run.ok(name)
        assert (conv["conversationID"], conv["isPrivateChat"]) == (conv_id, True), f"{name}\n{run.describe()}"
    tips = [run.ok(f"private_tip_{n}") for n in ("d1", "d2", "p")]
    for t in tips:
        assert (t["contentType"], t["sessionType"], t["sendID"], t["recvID"], t["seq"]) == (1701, 1, u, p, 2), \
            run.describe()
    assert len({t["clientMsgID"] for t in tips}) == 1, run.describe()
    hist = run.ok("history_p")["messages"]
    assert [(m["contentType"], m["seq"]) for m in hist] == [(101, 1), (1701, 2)], run.describe()
    assert hist[1]["clientMsgID"] == tips[0]["clientMsgID"], run.describe()


def test_draft_is_local_to_the_device(run: DriverRun) -> None:
    run.ok("draft_d1")
    conv = run.ok("draft_changed_d1")
    assert (conv["conversationID"], conv["draftText"], conv["isPinned"]) == \
        (run.result["conversationID"], "draft on d1", True), run.describe()


def test_fresh_device_syncs_the_conversation_state(run: DriverRun) -> None:
    conv_id = run.result["conversationID"]
    run.ok("login_d3")
    run.ok("synced_d3")
    conv = run.ok("conversation_d3")
    assert (conv["conversationID"], conv["unreadCount"], conv["isPinned"], conv["recvMsgOpt"], conv["burnDuration"],
            conv["ex"], conv["isPrivateChat"], conv["draftText"]) == (conv_id, 0, True, 2, 45, "from d1", True, ""), \
        run.describe()
    assert run.ok("total_unread_d3") == 0, run.describe()
    hist = run.ok("history_d3")["messages"]
    assert [(m["clientMsgID"], m["contentType"], m["seq"]) for m in hist] == \
        [(run.ok("send_p")["clientMsgID"], 101, 1), (run.ok("private_tip_d1")["clientMsgID"], 1701, 2)], \
        run.describe()


def test_clear_is_per_user_and_survives_a_fresh_login(run: DriverRun) -> None:
    # clear_conversation_and_delete_all_msg sends no deleteSyncOpt: upstream moves only U's minSeq
    # past the end (and notifies no other device), so a fresh device of U pulls nothing while the
    # peer keeps both messages
    run.ok("clear_d1")
    assert run.ok("history_after_clear_d1")["messages"] == [], run.describe()
    run.ok("login_d4")
    run.ok("synced_d4")
    assert run.ok("history_after_clear_d4")["messages"] == [], run.describe()
    assert [(m["contentType"], m["seq"]) for m in run.ok("history_after_clear_p")["messages"]] == \
        [(101, 1), (1701, 2)], run.describe()
