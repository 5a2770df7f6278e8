"""Offline catch-up with the official Go core (libopenimsdk.so via koffi; issue 14): changes made
while a device is logged out must reach it through the core's incremental sync at its next login
from the same data dir (``sync-finish`` with ``reinstalled: false``, so the core syncs from its
local versions and seqs rather than from scratch). While A (platform 3) and A2 (platform 5) are
away, B accepts A's application and writes to A; A comes back, then pins the chat while A2 is still
away; A2 comes back. Friend notifications are online-only (reliabilityLevel 1 upstream), so after a
re-login OnFriendAdded can only come from the server's incremental friend sync, and the pin only
from its incremental conversation sync. Driver: native_offline.mjs / lib/offline_scenario.mjs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Admin, DriverRun, ServerProc, run_scenario

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def run(node_modules: Path, server: ServerProc, admin: Admin, tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    return run_scenario("native_offline.mjs", server, admin, "it_off", tmp_path_factory.mktemp("run-offline"), timeout=180)


@pytest.mark.parametrize("dev", ["a_back", "a2_back"])
def test_device_catches_up_after_relogin(run: DriverRun, dev: str) -> None:
    a, b = run.result["users"]["a"], run.result["users"]["b"]
    for name in ("apply", "app_added_b", "accept", "friend_added_b", f"login_{dev}"):
        run.ok(name)
    assert run.ok(f"synced_{dev}")["data"] == {"reinstalled": False}, run.describe()
    friend = run.ok(f"friend_added_{dev}")
    assert (friend["ownerUserID"], friend["userID"], friend["addSource"]) == (a, b, 1), run.describe()
    assert [(f["ownerUserID"], f["userID"]) for f in run.ok(f"friends_{dev}")] == [(a, b)], run.describe()
    conv = run.ok(f"conversation_{dev}")
    # the 1201 tip counts as unread (upstream: unreadCount = isSendMsg) and so does B's text
    assert (conv["conversationID"], conv["userID"], conv["unreadCount"]) == \
        (run.result["conversationID"], b, 2), run.describe()
    hist = run.ok(f"history_{dev}")["messages"]
    text = run.ok("send_b")
    assert [(m["contentType"], m["seq"], m["sendID"]) for m in hist] == [(1201, 1, b), (101, 2, b)], run.describe()
    assert (hist[1]["clientMsgID"], hist[1]["text"]) == (text["clientMsgID"], "while you were away"), run.describe()


def test_pin_made_while_away_reaches_the_other_device(run: DriverRun) -> None:
    run.ok("pin_a_back")
    conv = run.ok("conversation_a2_back")
    assert (conv["conversationID"], conv["isPinned"]) == (run.result["conversationID"], True), run.describe()
    assert run.ok("total_unread_a2_back") == 2, run.describe()
