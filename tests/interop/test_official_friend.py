"""The official Go core (libopenimsdk.so via koffi, gob + gzip) on both sides of the friend flow
against the bundled server (issue 14): every action goes through the core's own API (add_friend,
accept_friend_application, update_friends, add_black, remove_black, delete_friend,
refuse_friend_application) and the assertions are on the friend-listener callbacks, the
conversation callbacks and the messages the official core produced.

Where a callback comes from (openim-sdk-core v3.8.3 internal/relation/notification.go): the
notification 1203 raises OnFriendApplicationAdded, 1201 OnFriendApplicationAccepted then an
incremental friend sync (OnFriendAdded), 1202 OnFriendApplicationRejected; the actor's own core
syncs after update_friends / add_black / remove_black / delete_friend (OnFriendInfoChanged,
OnBlackAdded, OnBlackDeleted, OnFriendDeleted come from what the server's sync routes answer), so
A is also logged in on a second device A2 (platform 5; policy 1 kicks only the same platform) that
never acts: its callbacks can only come from the server's notifications reaching A's other devices
(1210 FriendsInfoUpdate for update_friends, 1207/1208 black added/deleted, 1205 friend deleted).
Upstream's notification.yml marks only friendApplicationApproved (1201) ``isSendMsg: true``, so it
is the one tip stored in the si_ conversation (seq 1) on both sides.
Driver: native_friend.mjs / lib/friend_scenario.mjs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Admin, DriverRun, ServerProc, run_scenario

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def run(node_modules: Path, server: ServerProc, admin: Admin, tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    return run_scenario("native_friend.mjs", server, admin, "it_fr", tmp_path_factory.mktemp("run-friend"), timeout=240)


def _users(run: DriverRun) -> tuple[str, str]:
    return run.result["users"]["a"], run.result["users"]["b"]


def test_application_reaches_both_sides(run: DriverRun) -> None:
    a, b = _users(run)
    run.ok("apply")
    for name in ("app_added_b", "app_added_a", "app_added_a2"):  # the recipient, and the applicant's devices
        req = run.ok(name)
        assert (req["fromUserID"], req["toUserID"], req["reqMsg"], req["handleResult"]) == \
            (a, b, "hello from A", 0), run.describe()
        assert req["fromNickname"] == a and req["toNickname"] == b, run.describe()
    listed = run.ok("recipient_list_b")
    assert [(r["fromUserID"], r["reqMsg"]) for r in listed] == [(a, "hello from A")], run.describe()


def test_accept_makes_friends_on_both_sides(run: DriverRun) -> None:
    a, b = _users(run)
    run.ok("accept")
    for name in ("accepted_a", "accepted_b"):
        req = run.ok(name)
        assert (req["fromUserID"], req["toUserID"], req["handleResult"], req["handleMsg"], req["handlerUserID"]) == \
            (a, b, 1, "welcome", b), run.describe()
    fa, fb = run.ok("friend_added_a"), run.ok("friend_added_b")
    assert (fa["ownerUserID"], fa["userID"], fa["addSource"]) == (a, b, 1), run.describe()
    fa2 = run.ok("friend_added_a2")
    assert (fa2["ownerUserID"], fa2["userID"], fa2["addSource"]) == (a, b, 1), run.describe()
    assert (fb["ownerUserID"], fb["userID"], fb["addSource"]) == (b, a, 1), run.describe()
    assert [(f["ownerUserID"], f["userID"]) for f in run.ok("friends_a")] == [(a, b)], run.describe()
    assert [(f["ownerUserID"], f["userID"]) for f in run.ok("friends_b")] == [(b, a)], run.describe()


def test_accept_opens_single_chat_with_approved_tip(run: DriverRun) -> None:
    a, b = _users(run)
    conv_id = run.result["conversationID"]
    ca, cb = run.ok("new_conversation_a"), run.ok("new_conversation_b")
    assert (ca["conversationID"], ca["conversationType"], ca["userID"]) == (conv_id, 1, b), run.describe()
    assert (cb["conversationID"], cb["conversationType"], cb["userID"]) == (conv_id, 1, a), run.describe()
    # the tip is unread for A (sent by B), not for B
    assert (ca["unreadCount"], cb["unreadCount"]) == (1, 0), run.describe()
    tips = [run.ok("tip_approved_a"), run.ok("tip_approved_b")]
    for t in tips:
        assert (t["contentType"], t["sessionType"], t["sendID"], t["recvID"], t["seq"]) == \
            (1201, 1, b, a, 1), run.describe()
    assert tips[0]["clientMsgID"] == tips[1]["clientMsgID"], run.describe()
    assert [c["conversationID"] for c in run.ok("conversations_a")] == [conv_id], run.describe()
    hist = run.ok("history_a")["messages"]
    assert [(m["clientMsgID"], m["contentType"], m["seq"]) for m in hist] == \
        [(tips[0]["clientMsgID"], 1201, 1)], run.describe()
    # no other friend notification is a timeline message (isSendMsg false upstream)
    for side in ("a", "b"):
        assert [m["contentType"] for m in run.result["messages"][side]] == [1201], run.describe()


def test_remark_blacklist_delete(run: DriverRun) -> None:
    a, b = _users(run)
    run.ok("remark")
    for dev in ("a", "a2"):  # the acting core, and A's other device
        info = run.ok(f"friend_info_changed_{dev}")
        assert (info["ownerUserID"], info["userID"], info["remark"]) == (a, b, "Bee"), f"{dev}\n{run.describe()}"
    run.ok("black_add")
    for dev in ("a", "a2"):
        added = run.ok(f"black_added_{dev}")
        assert (added["ownerUserID"], added["userID"]) == (a, b), f"{dev}\n{run.describe()}"
    assert [(x["ownerUserID"], x["userID"]) for x in run.ok("blacks_a")] == [(a, b)], run.describe()
    # B's core is refused while blocked (upstream ErrBlockedByPeer 1302), and A never gets the text
    blocked = run.ok("send_blocked_b")
    assert blocked.get("refused", {}).get("errCode") == 1302, run.describe()
    assert not any(m["text"] == "blocked?" for m in run.result["messages"]["a"] + run.result["messages"]["a2"]), \
        run.describe()
    run.ok("black_remove")
    for dev in ("a", "a2"):
        removed = run.ok(f"black_deleted_{dev}")
        assert (removed["ownerUserID"], removed["userID"]) == (a, b), f"{dev}\n{run.describe()}"
    run.ok("delete")
    for dev in ("a", "a2"):
        gone = run.ok(f"friend_deleted_{dev}")
        assert (gone["ownerUserID"], gone["userID"], gone["remark"]) == (a, b, "Bee"), f"{dev}\n{run.describe()}"
    assert run.ok("friends_a_after_delete") == [], run.describe()
    # deletion is one-way (upstream DeleteFriend removes only the owner's row)
    assert [(f["ownerUserID"], f["userID"]) for f in run.ok("friends_b_after_delete")] == [(b, a)], run.describe()


def test_refused_application(run: DriverRun) -> None:
    a, b = _users(run)
    req = run.ok("app_back_a")
    assert (req["fromUserID"], req["toUserID"], req["reqMsg"]) == (b, a, "again?"), run.describe()
    run.ok("refuse")
    for name in ("rejected_b", "rejected_a"):  # the applicant, and the refuser (sender sync)
        rej = run.ok(name)
        assert (rej["fromUserID"], rej["toUserID"], rej["handleResult"], rej["handleMsg"], rej["handlerUserID"]) == \
            (b, a, -1, "no thanks", a), run.describe()


def test_fresh_device_syncs_friends_applications_and_chat(run: DriverRun) -> None:
    a, b = _users(run)
    conv_id = run.result["conversationID"]
    run.ok("login_b2")
    run.ok("synced_b2")
    assert [(f["ownerUserID"], f["userID"], f["addSource"]) for f in run.ok("friends_b2")] == [(b, a, 1)], \
        run.describe()
    assert [(r["fromUserID"], r["toUserID"], r["handleResult"], r["handleMsg"])
            for r in run.ok("recipient_list_b2")] == [(a, b, 1, "welcome")], run.describe()
    assert [(r["fromUserID"], r["toUserID"], r["handleResult"], r["handleMsg"])
            for r in run.ok("applicant_list_b2")] == [(b, a, -1, "no thanks")], run.describe()
    convs = run.ok("conversations_b2")
    assert [(c["conversationID"], c["userID"], c["unreadCount"]) for c in convs] == [(conv_id, a, 0)], run.describe()
    tip = run.ok("tip_approved_b")
    hist = run.ok("history_b2")["messages"]
    assert [(m["clientMsgID"], m["contentType"], m["seq"]) for m in hist] == [(tip["clientMsgID"], 1201, 1)], \
        run.describe()
