"""The official Go core (libopenimsdk.so via koffi, gob + gzip) in a group flow against the bundled
server (issue 14 item 1): its group-listener callbacks, the notification tips it receives as group
messages (with seqs, because open-im-server stores the isSendMsg types in the sg_ conversation), and
the history a fresh instance pulls. Driver: native_group.mjs / lib/group_scenario.mjs."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Admin, DriverRun, ServerProc, run_driver

pytestmark = pytest.mark.interop


def _ok(run: DriverRun, *names: str) -> None:
    for name in names:
        st = run.step(name)
        assert st.get("ok"), f"step {name!r} failed: {st.get('error')}\n{run.describe()}"


def test_group_callbacks_and_tips(node_modules: Path, server: ServerProc, admin: Admin, tmp_path: Path) -> None:
    owner, member = admin.register_pair("it_grp")
    run = run_driver("native_group.mjs", server, admin, owner, member, tmp_path / "run-group")
    print(f"\n[interop] native group scenario took {run.seconds:.1f}s")
    assert not run.result.get("fatal"), f"driver aborted: {run.result.get('fatal')}\n{run.describe()}"
    _ok(run, "login_o", "login_m", "create", "rename", "mute", "dismiss")
    gid, where = run.result["groupID"], run.describe()
    # group listener: OnJoinedGroupAdded, OnGroupInfoChanged (new name), OnGroupDismissed (status 2)
    _ok(run, "joined_group_added", "group_info_changed", "group_dismissed")
    assert run.step("joined_group_added")["result"]["groupID"] == gid, where
    assert run.step("group_info_changed")["result"]["groupName"] == "renamed", where
    assert run.step("group_dismissed")["result"]["status"] == 2, where
    # the tips arrive as messages of the group conversation, with consecutive seqs
    _ok(run, "tip_created", "tip_renamed", "tip_muted", "tip_dismissed")
    tips = [run.step(n)["result"] for n in ("tip_created", "tip_renamed", "tip_muted", "tip_dismissed")]
    assert [t["contentType"] for t in tips] == [1501, 1520, 1512, 1511], where
    assert [t["seq"] for t in tips] == [1, 2, 3, 4], where
    assert all(t["sessionType"] == 3 and t["sendID"] == owner for t in tips), where
    # a fresh instance finds them in the stored history, same IDs and seqs
    _ok(run, "login_m2", "history_m2")
    hist = run.step("history_m2")["result"]["messages"]
    assert [(m["clientMsgID"], m["seq"], m["contentType"]) for m in hist] == \
        [(t["clientMsgID"], t["seq"], t["contentType"]) for t in tips], where
