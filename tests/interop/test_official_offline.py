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
from typing import Any

import pytest

from .conftest import Admin, DriverRun, ServerProc, run_driver

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def run(node_modules: Path, server: ServerProc, admin: Admin, tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    a, b = admin.register_pair("it_off")
    r = run_driver("native_offline.mjs", server, admin, a, b, tmp_path_factory.mktemp("run-offline"), timeout=180)
    print(f"\n[interop] native offline scenario took {r.seconds:.1f}s")
    assert not r.result.get("fatal"), f"driver aborted: {r.result.get('fatal')}\n{r.describe()}"
    return r


def _res(run: DriverRun, name: str) -> Any:
    st = run.step(name)
    assert st.get("ok"), f"step {name!r} failed: {st.get('error')}\n{run.describe()}"
    return st.get("result")


@pytest.mark.parametrize("dev", ["a_back", "a2_back"])
def test_device_catches_up_after_relogin(run: DriverRun, dev: str) -> None:
    a, b = run.result["users"]["a"], run.result["users"]["b"]
    for name in ("apply", "app_added_b", "accept", "friend_added_b", f"login_{dev}"):
        _res(run, name)
    assert _res(run, f"synced_{dev}")["data"] == {"reinstalled": False}, run.describe()
    friend = _res(run, f"friend_added_{dev}")
    assert (friend["ownerUserID"], friend["userID"], friend["addSource"]) == (a, b, 1), run.describe()
    assert [(f["ownerUserID"], f["userID"]) for f in _res(run, f"friends_{dev}")] == [(a, b)], run.describe()
    conv = _res(run, f"conversation_{dev}")
    # the 1201 tip counts as unread (upstream: unreadCount = isSendMsg) and so does B's text
    assert (conv["conversationID"], conv["userID"], conv["unreadCount"]) == \
        (run.result["conversationID"], b, 2), run.describe()
    hist = _res(run, f"history_{dev}")["messages"]
    text = _res(run, "send_b")
    assert [(m["contentType"], m["seq"], m["sendID"]) for m in hist] == [(1201, 1, b), (101, 2, b)], run.describe()
    assert (hist[1]["clientMsgID"], hist[1]["text"]) == (text["clientMsgID"], "while you were away"), run.describe()


def test_pin_made_while_away_reaches_the_other_device(run: DriverRun) -> None:
    _res(run, "pin_a_back")
    conv = _res(run, "conversation_a2_back")
    assert (conv["conversationID"], conv["isPinned"]) == (run.result["conversationID"], True), run.describe()
    assert _res(run, "total_unread_a2_back") == 2, run.describe()
