"""The ``openim`` CLI end to end: the real console script as a subprocess against the bundled server.

One server (a subprocess on ephemeral ports, SQLite in a tmp dir) and one isolated HOME serve the
whole module; user IDs are unique per run. Independent commands run concurrently to keep it fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import shutil
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from .conftest import ANSI, SECRET, Cli, free_port, make_cli, stop, uid


def jlines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's error output: exactly one line starting with 'error:'."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    return lines[0]


@dataclass
class Users:
    alice: str  # profile "default"
    bob: str  # profile "bob"


@pytest.fixture(scope="module")
def users(cli: Cli) -> Users:
    alice, bob = uid("alice"), uid("bob")
    a, b = cli.run_many(
        (["login", "-u", alice, "--secret", SECRET, "--register", "--nickname", "Alice"], 0),
        (["login", "-u", bob, "--secret", SECRET, "--register", "-p", "bob", "--json"], 0),
    )
    assert f"Logged in as {alice} (Alice)" in a.stdout and "profile default" in a.stdout
    info = json.loads(b.stdout)
    assert info["userID"] == bob and info["profile"] == "bob" and info["platformID"] == 7
    return Users(alice, bob)


# --------------------------------------------------------------------------- help, colours


def test_help_and_no_color(cli: Cli) -> None:
    helped, plain, coloured = cli.run_many(
        (["--help"], 0),
        (["whoami", "-p", "nobody-here"], 4, {"FORCE_COLOR": "1", "NO_COLOR": "1"}),
        (["whoami", "-p", "nobody-here"], 4, {"FORCE_COLOR": "1"}),
    )
    for word in ("login", "send", "pull", "watch", "friends", "groups", "api", "demo"):
        assert word in helped.stdout
    # With a forced terminal the error is styled; NO_COLOR=1 leaves no escape at all.
    assert ANSI in coloured.stderr
    assert ANSI not in plain.stderr and ANSI not in plain.stdout
    assert "not logged in (profile 'nobody-here')" in one_line_error(plain)


# --------------------------------------------------------------------------- session


def test_login_whoami_profiles(cli: Cli, users: Users) -> None:
    me, bob = cli.run_many(
        (["whoami", "--json"], 0),
        (["whoami", "--json"], 0, {"OPENIM_PROFILE": "bob"}),  # the same as -p bob
    )
    me_info = json.loads(me.stdout)
    assert me_info["userID"] == users.alice and me_info["nickname"] == "Alice"
    assert me_info["profile"] == "default" and me_info["api"] == cli.server.api and me_info["ws"] == cli.server.ws
    assert me_info["expires"] > time.time()
    assert json.loads(bob.stdout)["userID"] == users.bob and json.loads(bob.stdout)["profile"] == "bob"

    # Both sessions live side by side in one file that only the owner can read.
    mode = stat.S_IMODE(os.stat(cli.profiles_file).st_mode)
    assert mode == 0o600, oct(mode)
    stored = cli.profiles()
    assert stored["default"]["user_id"] == users.alice and stored["bob"]["user_id"] == users.bob
    assert stored["default"]["token"] != stored["bob"]["token"]


def test_login_with_token_and_logout(cli: Cli, tmp_path: Any) -> None:
    dave = uid("dave")
    cli.server.admin_call("/user/user_register", {"users": [{"userID": dave, "nickname": "Dave"}]})
    # A no-token route through `openim api` without any profile: the URL comes from OPENIM_API.
    fresh = make_cli(tmp_path, cli.server)
    admin = fresh.run("api", "/auth/get_admin_token", json.dumps({"secret": SECRET, "userID": "imAdmin"}))
    admin_token = json.loads(admin.stdout)["token"]
    assert not fresh.profiles_file.exists()
    with httpx.Client(base_url=cli.server.api, timeout=10) as c:
        r = c.post("/auth/get_user_token", json={"userID": dave, "platformID": 7},
                   headers={"operationID": "cli-test-mint", "token": admin_token})
    token = r.json()["data"]["token"]

    ok, wrong_user = cli.run_many(
        (["login", "-u", dave, "--token", token, "-p", "dave", "--json"], 0),
        (["login", "-u", "someone-else", "--token", token, "-p", "dave2"], 2),
    )
    assert json.loads(ok.stdout) | {"expires": 0} == {"profile": "dave", "userID": dave, "platformID": 7,
                                                       "nickname": "Dave", "expires": 0}
    assert f"the token is for user {dave!r}" in one_line_error(wrong_user)
    assert cli.profiles()["dave"]["token"] == token and "dave2" not in cli.profiles()

    out = cli.run("logout", "-p", "dave")
    assert "Logged out of profile 'dave'" in out.stdout
    assert "dave" not in cli.profiles()
    whoami = cli.run("whoami", "-p", "dave", code=4)
    assert "not logged in (profile 'dave'); run `openim login` first" in one_line_error(whoami)


# --------------------------------------------------------------------------- messages


@pytest.fixture(scope="module")
def sent(cli: Cli, users: Users) -> list[Any]:
    """Three messages alice -> bob: an argument (--json), stdin (--json), and one with the human output."""
    first = json.loads(cli.run("send", users.bob, "hello bob", "--json").stdout)
    second = json.loads(cli.run("send", users.bob, "-", "--json", input="from stdin\n").stdout)
    human = cli.run("send", users.bob, "plain output")
    return [first, second, human]


def test_send(cli: Cli, users: Users, sent: list[Any]) -> None:
    first, second, human = sent
    for m, text in ((first, "hello bob"), (second, "from stdin")):
        assert m["text"] == text and m["sendID"] == users.alice and m["recvID"] == users.bob
        assert m["serverMsgID"] and m["seq"] >= 1 and m["contentType"] == 101
    assert second["seq"] == first["seq"] + 1
    assert first["conversationID"] == second["conversationID"]
    assert human.stdout.startswith(f"Sent to {first['conversationID']}: serverMsgID ")
    assert f"seq {second['seq'] + 1}" in human.stdout


def test_pull(cli: Cli, users: Users, sent: list[Any]) -> None:
    first, second, _ = sent
    text, latest, older = cli.run_many(
        (["pull", users.alice, "-p", "bob"], 0),
        (["pull", users.bob, "--json", "--limit", "1"], 0),
        (["pull", users.bob, "--json", "--before-seq", str(second["seq"])], 0),
    )
    # "<seq> <HH:MM> <sender>: <text>", oldest first; the sender is the nickname or the user ID (see below)
    shown = [line.split(None, 2) for line in text.stdout.splitlines()]
    assert [(int(s), t.split(": ", 1)[1]) for s, _, t in shown] == [
        (first["seq"], "hello bob"), (second["seq"], "from stdin"), (second["seq"] + 1, "plain output")]
    assert all(t.split(": ", 1)[0] in ("Alice", users.alice) for _, _, t in shown)
    [last] = jlines(latest.stdout)  # --limit 1: the newest only
    assert last["seq"] > second["seq"] and last["text"] == "plain output"
    rows = jlines(older.stdout)
    assert [r["seq"] for r in rows] == [first["seq"]] and rows[0]["serverMsgID"] == first["serverMsgID"]


def test_first_message_carries_sender_nickname(cli: Cli, sent: list[Any]) -> None:
    found = cli.server.admin_call("/msg/search_msg", {
        "sendID": "", "recvID": "", "msgType": 0, "sendTime": "", "sessionType": 0,
        "pagination": {"pageNumber": 1, "showNumber": 1000}})
    nick = {r["chatLog"]["serverMsgID"]: r["chatLog"]["senderNickname"] for r in found["chatLogs"]}
    assert nick[sent[1]["serverMsgID"]] == "Alice"  # the second send knows the nickname
    assert nick[sent[0]["serverMsgID"]] == "Alice"


def _wait_online(cli: Cli, user_id: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [status] = cli.server.admin_call("/user/get_users_online_status", {"userIDs": [user_id]})
        if status["status"] == 1:
            return
        time.sleep(0.2)
    raise AssertionError(f"{user_id} never came online")


def test_watch_receives_what_another_process_sends(cli: Cli, users: Users) -> None:
    watcher = cli.popen("watch", "--json", "-p", "bob")
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        _wait_online(cli, users.bob)
        got = None
        for attempt in range(2):  # watch streams what arrives after its sync; resend once if we raced it
            time.sleep(0.5)
            text = f"live {attempt}"
            cli.run("send", users.bob, text)
            try:
                got = json.loads(lines.get(timeout=10))
                break
            except queue.Empty:
                continue
        assert got is not None, "watch printed nothing"
        assert got["text"].startswith("live ") and got["sendID"] == users.alice and got["recvID"] == users.bob
        assert got["seq"] >= 1 and got["serverMsgID"]
    finally:
        stop(watcher)
    assert watcher.stderr is not None and "Traceback" not in watcher.stderr.read()


def test_read_revoke_search(cli: Cli, users: Users, sent: list[Any]) -> None:
    first, *_ = sent
    read, revoked = cli.run_many(
        (["read", users.alice, "-p", "bob"], 0),
        (["revoke", users.bob, str(first["seq"])], 0),
    )
    assert read.stdout.strip() == f"Marked {first['conversationID']} read."
    assert revoked.stdout.strip() == "Revoked."

    bob_view, found = cli.run_many(
        (["pull", users.alice, "-p", "bob"], 0),
        (["search", "stdin", "--json"], 0),
    )
    assert f"{first['seq']:>5}" in bob_view.stdout and ": [Message revoked]" in bob_view.stdout
    assert "hello bob" not in bob_view.stdout and "from stdin" in bob_view.stdout
    hits = jlines(found.stdout)
    assert [h["text"] for h in hits] == ["from stdin"] and hits[0]["sendID"] == users.alice


# --------------------------------------------------------------------------- friends, groups


def test_friends_flow(cli: Cli, users: Users) -> None:
    carol = uid("carol")
    cli.server.admin_call("/user/user_register", {"users": [{"userID": carol, "nickname": "Carol"}]})
    add, block = cli.run_many((["friends", "add", users.bob, "-m", "hi bob"], 0), (["friends", "black", carol], 0))
    assert add.stdout.strip() == f"Friend request sent to {users.bob}." and block.stdout.strip() == f"Blocked {carol}."
    reqs, blacks = cli.run_many((["friends", "requests", "-p", "bob", "--json"], 0), (["friends", "black", "--json"], 0))
    [req] = [r for r in json.loads(reqs.stdout)["FriendRequests"] if r["fromUserID"] == users.alice]
    assert req["reqMsg"] == "hi bob" and req["handleResult"] == 0 and req["toUserID"] == users.bob
    assert [b["blackUserInfo"]["userID"] for b in json.loads(blacks.stdout)["blacks"]] == [carol]

    assert cli.run("friends", "accept", users.alice, "-p", "bob").stdout.strip() == (
        f"You and {users.alice} are now friends.")
    mine, theirs, unblock = cli.run_many(
        (["friends", "list", "--json"], 0),
        (["friends", "list", "-p", "bob"], 0),
        (["friends", "black", carol, "--remove"], 0),
    )
    assert [f["friendUser"]["userID"] for f in json.loads(mine.stdout)["friendsInfo"]] == [users.bob]
    assert "Friends (1)" in theirs.stdout and users.alice in theirs.stdout
    assert unblock.stdout.strip() == f"Unblocked {carol}."

    assert f"Removed {users.bob} from your friends." in cli.run("friends", "remove", users.bob).stdout
    page = {"pageNumber": 1, "showNumber": 100}
    left = cli.server.admin_call("/friend/get_friend_list", {"userID": users.alice, "pagination": page})
    assert left.get("friendsInfo", []) == []
    blacks = cli.server.admin_call("/friend/get_black_list", {"userID": users.alice, "pagination": page})
    assert blacks.get("blacks", []) == []


def test_groups_flow(cli: Cli, users: Users) -> None:
    carol = uid("carol")
    cli.server.admin_call("/user/user_register", {"users": [{"userID": carol, "nickname": "Carol"}]})

    def members() -> dict[str, dict[str, Any]]:
        resp = cli.server.admin_call("/group/get_group_member_list",
                                     {"groupID": gid, "pagination": {"pageNumber": 1, "showNumber": 100}})
        return {m["userID"]: m for m in resp.get("members", [])}

    def status() -> int:
        [info] = cli.server.admin_call("/group/get_groups_info", {"groupIDs": [gid]})["groupInfos"]
        return int(info.get("status", 0))

    gid = uid("g-")
    created = json.loads(cli.run("groups", "create", "Team", users.bob, "--id", gid, "--json").stdout)
    assert created["groupInfo"]["groupID"] == gid and created["groupInfo"]["ownerUserID"] == users.alice
    assert created["groupInfo"]["memberCount"] == 2

    assert cli.run("groups", "invite", gid, carol).stdout.strip() == f"Invited {carol} to {gid}."
    listed = json.loads(cli.run("groups", "members", gid, "--json").stdout)
    assert {m["userID"]: m["roleLevel"] for m in listed["members"]} == {users.alice: 100, users.bob: 20, carol: 20}

    cli.run("groups", "mute", gid, carol, "--seconds", "600")
    assert members()[carol]["muteEndTime"] > time.time() * 1000 + 500_000
    cli.run("groups", "mute", gid, carol, "--undo")
    assert members()[carol]["muteEndTime"] <= time.time() * 1000

    kicked, quit_ = cli.run_many((["groups", "kick", gid, carol], 0), (["groups", "quit", gid, "-p", "bob"], 0))
    assert kicked.stdout.strip() == f"Removed {carol} from {gid}." and quit_.stdout.strip() == f"You left {gid}."
    assert list(members()) == [users.alice]

    # a group's ID without -g is not a DM to a user who does not exist
    wrong, nobody = cli.run_many((["send", gid, "hi team"], 1), (["send", uid("nobody"), "hello?"], 1))
    assert "is a group, not a user" in one_line_error(wrong) and "-g" in one_line_error(wrong)
    assert "no user" in one_line_error(nobody)
    cli.run("send", gid, "hi team", "-g")

    assert cli.run("groups", "dismiss", gid).stdout.strip() == f"Group {gid} dismissed."
    assert status() == 2  # GroupStatusDismissed (OpenIM keeps the group unless the members are deleted)
    mine, bobs = cli.run_many((["groups", "list"], 0), (["groups", "list", "-p", "bob", "--json"], 0))
    rows = [line for line in mine.stdout.splitlines() if gid in line]
    assert rows == [] or "(dismissed)" in rows[0], mine.stdout  # not shown as a live group
    assert gid not in [g["groupID"] for g in json.loads(bobs.stdout).get("groups", [])]  # bob left

    # the dead group's conversation (bob left, then it was dismissed) can be deleted from bob's list
    def bob_conversations() -> list[str]:
        listed = json.loads(cli.run("conversations", "-p", "bob", "--json").stdout)
        return [c["conversationID"] for c in listed.get("conversationElems", [])]

    assert f"sg_{gid}" in bob_conversations()
    deleted = json.loads(cli.run("conversations", "delete", gid, "-g", "-p", "bob", "--json").stdout)
    assert deleted == {"conversationID": f"sg_{gid}", "deleted": True}
    assert f"sg_{gid}" not in bob_conversations()


# --------------------------------------------------------------------------- api


def test_api(cli: Cli, users: Users) -> None:
    arg, listed, unknown, bad = cli.run_many(
        (["api", "user/get_users_info", json.dumps({"userIDs": [users.bob]})], 0),
        (["api", "--list"], 0),
        (["api", "/no/such_route", "{}"], 2),
        (["api", "/user/get_users_info", "{not json"], 2),
    )
    assert [u["userID"] for u in json.loads(arg.stdout)["usersInfo"]] == [users.bob]
    routes = listed.stdout.splitlines()
    assert len(routes) == 153 and any(r.split()[1] == "/user/user_register" for r in routes)
    assert "unknown route '/no/such_route'" in one_line_error(unknown)
    assert "the body is not valid JSON" in one_line_error(bad)


def test_api_stdin(cli: Cli, users: Users) -> None:
    out = cli.run("api", "/user/get_users_info", "-", input=json.dumps({"userIDs": [users.alice, users.bob]}))
    assert sorted(u["userID"] for u in json.loads(out.stdout)["usersInfo"]) == sorted([users.alice, users.bob])


# --------------------------------------------------------------------------- errors and exit codes


def test_openim_errors_exit_1(cli: Cli, users: Users) -> None:
    not_admin, wrong_secret = cli.run_many(
        (["api", "/user/user_register", json.dumps({"users": [{"userID": "zed", "nickname": "zed"}]})], 1),
        (["login", "-u", users.alice, "--secret", "not-the-secret", "-p", "nope"], 1),
    )
    assert "1002 NoPermissionError" in one_line_error(not_admin)
    assert "1002 NoPermissionError" in one_line_error(wrong_secret)
    assert "nope" not in cli.profiles()


def test_usage_errors_exit_2(cli: Cli) -> None:
    unknown, missing, no_cred, blank = cli.run_many(
        (["send", "--bogus"], 2),
        (["send"], 2),
        (["login", "-u", "x"], 2),  # stdin is not a terminal: no prompting
        (["send", "bob", "  \n "], 2),
    )
    assert "the text is blank" in one_line_error(blank)
    assert "No such option: --bogus" in unknown.stderr
    assert "Missing argument" in missing.stderr
    assert "give --token or --secret" in one_line_error(no_cred)


def test_unreachable_exit_3(cli: Cli, users: Users) -> None:
    closed = free_port()
    data = cli.profiles()
    data["dead"] = dict(data["default"], api_url=f"http://127.0.0.1:{closed}", ws_url=f"ws://127.0.0.1:{closed}")
    cli.profiles_file.write_text(json.dumps(data))
    rest, ws = cli.run_many(
        (["whoami", "-p", "dead"], 3),
        (["send", users.bob, "lost", "-p", "dead", "--wait", "2"], 3),
    )
    assert f"cannot reach the server: cannot reach http://127.0.0.1:{closed}" in one_line_error(rest)
    assert f"cannot reach the server: cannot reach ws://127.0.0.1:{closed}" in one_line_error(ws)


def test_kicked_session_exit_4(cli: Cli) -> None:
    kim = uid("kim")
    cli.run("login", "-u", kim, "--secret", SECRET, "--register", "-p", "kim-old")
    cli.run("login", "-u", kim, "--secret", SECRET, "-p", "kim-new")  # same platform (Linux): kicks kim-old
    rest, ws = cli.run_many((["whoami", "-p", "kim-old"], 4), (["pull", "-p", "kim-old"], 4))
    for r in (rest, ws):
        line = one_line_error(r)
        assert "TokenKickedError" in line and "run `openim login` again" in line


# --------------------------------------------------------------------------- demo


def test_demo_script(cli: Cli, tmp_path: Any) -> None:
    own = make_cli(tmp_path, cli.server)  # its own config dir: the demo stores demo-alice/demo-bob
    api_port, ws_port = free_port(), free_port()
    out = own.run("demo", "--script", "--api-port", str(api_port), "--ws-port", str(ws_port),
                  "--data", str(tmp_path / "demo.sqlite3"), timeout=90)
    lines = out.stdout.splitlines()
    said = next(line for line in lines if line.startswith("alice: "))
    assert f"bob: bob heard: {said.removeprefix('alice: ')}" in lines
    assert any("2 message(s) in si_alice_bob" in line for line in lines)
    assert {"demo-alice", "demo-bob"} <= set(own.profiles())
    # it started its own server and stopped it: it must not say "while the server runs"
    assert "while the server runs" not in out.stdout and "the demo's server has stopped" in out.stdout


def test_user_register_with_secret_file(cli: Cli, tmp_path: Any) -> None:
    """The admin secret comes from a file (not the process list); a wrong one is a clear OpenIM error."""
    name = uid("reg")
    good, bad = tmp_path / "secret", tmp_path / "wrong"
    good.write_text(SECRET + "\n")
    bad.write_text("not-the-secret\n")
    cli.run("user", "register", name, "--secret-file", str(good), "--api", cli.server.api)
    data = cli.server.admin_call("/user/get_users_info", {"userIDs": [name]})
    assert [u["userID"] for u in data["usersInfo"]] == [name]
    refused = cli.run("user", "register", uid("reg"), "--secret-file", str(bad), "--api", cli.server.api, code=1)
    assert "1002" in refused.stderr + refused.stdout
    missing = cli.run("user", "register", uid("reg"), "--secret-file", str(tmp_path / "nope"),
                      "--api", cli.server.api, code=2)
    assert "cannot read the secret file" in missing.stderr + missing.stdout


# --------------------------------------------------------------------------- rough edges (issue 15, items 2, 9, 10)


def test_version_short_help_and_server_help(cli: Cli) -> None:
    version, short, long, server_help = cli.run_many((["--version"], 0), (["-h"], 0), (["--help"], 0),
                                                     (["server", "--help"], 0))
    from openim_sdk import __version__

    assert version.stdout.strip() == f"openim {__version__}"
    assert short.stdout == long.stdout and "Usage: openim" in short.stdout
    assert server_help.stdout.startswith("usage: openim server")


def test_chat_before_login_is_one_line_not_a_traceback(cli: Cli, tmp_path: Any) -> None:
    fresh = make_cli(tmp_path, cli.server)
    out = fresh.run("chat", code=4)  # the runner also asserts that no traceback was printed
    assert "not logged in" in one_line_error(out) and "openim login" in one_line_error(out)


def test_login_errors_say_what_to_do(cli: Cli) -> None:
    ghost = uid("ghost")
    unknown, bad_token = cli.run_many(
        (["login", "-u", ghost, "--secret", SECRET, "-p", "ghost"], 1),
        (["login", "-u", ghost, "--token", "not.a.token", "-p", "ghost2"], 2),
    )
    assert f"user {ghost!r} is not registered" in one_line_error(unknown)
    assert "--register" in one_line_error(unknown)
    assert "the token is not valid" in one_line_error(bad_token)
    assert "run `openim login` again" not in bad_token.stderr
    assert "ghost" not in cli.profiles() and "ghost2" not in cli.profiles()


def test_read_revoke_json_and_revoke_unknown_id(cli: Cli, users: Users) -> None:
    sent = json.loads(cli.run("send", users.bob, "to be revoked", "--json").stdout)
    read, revoked, unknown = cli.run_many(
        (["read", users.alice, "-p", "bob", "--json"], 0),
        (["revoke", users.bob, sent["clientMsgID"], "--json"], 0),
        (["revoke", users.bob, "notanid"], 1),
    )
    assert json.loads(read.stdout) == {"conversationID": sent["conversationID"], "read": True}
    assert json.loads(revoked.stdout) == {"conversationID": sent["conversationID"],
                                          "clientMsgID": sent["clientMsgID"], "revoked": True}
    err = one_line_error(unknown)
    assert "1004 RecordNotFoundError" in err and "notanid" in err and "Success" not in err


def test_whoami_shows_expiry_as_a_date(cli: Cli, users: Users) -> None:
    out = cli.run("whoami")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", out.stdout) and "(in " in out.stdout, out.stdout


def test_conversations_show_the_peer_not_the_last_sender(cli: Cli, users: Users, sent: list[Any]) -> None:
    mine = cli.run("conversations", env={"COLUMNS": "200"})  # alice sent last: the row is still bob's
    row = next(line for line in mine.stdout.splitlines() if sent[0]["conversationID"] in line)
    cells = [c.strip() for c in row.split("│")]
    assert users.bob in cells and "Alice" not in cells, row


def test_watch_filters_labels_and_shows_revokes_and_pull_marks_failed(cli: Cli, users: Users) -> None:
    carol, dave = uid("carol"), uid("dave")
    cli.run_many((["login", "-u", carol, "--secret", SECRET, "--register", "--nickname", "Carol", "-p", "carol"], 0),
                 (["login", "-u", dave, "--secret", SECRET, "--register", "--nickname", "Dave", "-p", "dave"], 0))
    watcher = cli.popen("watch", "--in", carol, "-p", "dave", env={"COLUMNS": "200"})
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert watcher.stdout is not None
        for line in watcher.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    try:
        _wait_online(cli, dave)
        time.sleep(0.5)  # watch streams what arrives after its sync
        cli.run("send", dave, "from alice: not in this watch")
        sent = json.loads(cli.run("send", dave, "from carol", "-p", "carol", "--json").stdout)
        cli.run("revoke", dave, sent["clientMsgID"], "-p", "carol")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any("revoked a message" in s for s in seen):
            with contextlib.suppress(queue.Empty):
                seen.append(lines.get(timeout=0.5))
    finally:
        stop(watcher)
    assert any("@Carol" in s and "from carol" in s for s in seen), seen
    assert any("@Carol" in s and f"{carol} revoked a message" in s for s in seen), seen
    assert not any("not in this watch" in s for s in seen), seen

    # a message the server refused is marked as not sent in `pull`, not shown as history
    cli.run("friends", "black", carol, "-p", "dave")
    cli.run("send", dave, "you blocked me", "-p", "carol", code=1)
    history = cli.run("pull", dave, "-p", "carol", env={"COLUMNS": "200"})
    line = next(s for s in history.stdout.splitlines() if "you blocked me" in s)
    assert "✗ not sent (failed)" in line, history.stdout


def test_server_down_pull_shows_the_cache_and_send_fails_at_once(cli: Cli, users: Users, sent: list[Any],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from openim_cli.profiles import Profile

    cli.run("pull", users.bob)  # alice's cache holds the conversation
    closed = free_port()
    data = cli.profiles()
    data["gone"] = dict(data["default"], api_url=f"http://127.0.0.1:{closed}", ws_url=f"ws://127.0.0.1:{closed}")
    cli.profiles_file.write_text(json.dumps(data))
    monkeypatch.setenv("OPENIM_DATA_DIR", cli.env["OPENIM_DATA_DIR"])

    def profile(name: str) -> Profile:
        d = data[name]
        return Profile(name, d["api_url"], d["ws_url"], d["user_id"], d["platform_id"], d["token"])

    shutil.copytree(profile("default").data_dir, profile("gone").data_dir)  # the same device, server now gone

    pulled, sending = cli.run_many((["pull", users.bob, "-p", "gone"], 0),
                                   (["send", users.bob, "lost", "-p", "gone"], 3))
    assert "plain output" in pulled.stdout, pulled.stdout
    assert pulled.stderr.startswith("warning: offline: cannot reach"), pulled.stderr
    # "cannot reach", not "no connection ... within 15s": the first failed dial ended the wait
    assert f"cannot reach ws://127.0.0.1:{closed}" in one_line_error(sending)


# --------------------------------------------------------------------------- settings file (issue 15)


def test_config_path_show_edit_and_errors(cli: Cli, users: Users, tmp_path: Any) -> None:
    own = make_cli(tmp_path, cli.server)
    path = own.run("config", "path").stdout.strip()
    assert path == str(own.config_dir / "config.toml")
    shown = own.run("config", "show").stdout
    assert "(absent: defaults)" in shown and 'theme = "textual-dark"' in shown and "bell = true" in shown

    # edit: $EDITOR gets the file (created with every key commented out) and the result is checked
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\ngrep -q "# theme" "$1" && printf \'[chat]\\ntheme = "nord"\\n[notifications]\\n'
                      'bell = false\\n[keys]\\nnext_unread = "f5"\\n\' > "$1"\n')
    editor.chmod(0o755)
    edited = own.run("config", "edit", env={"EDITOR": str(editor)})
    assert edited.stdout.strip().endswith(": ok")
    shown = own.run("config", "show").stdout
    assert 'theme = "nord"' in shown and "bell = false" in shown and 'next_unread = "f5"' in shown
    keys = own.run("config", "keys", env={"COLUMNS": "200"}).stdout
    assert re.search(r"next_unread\s*│\s*f5\s*│\s*yours", keys), keys

    # a wrong file stops every other command with the file, the key and the fix; config still works
    (own.config_dir / "config.toml").write_text("[chat]\nthem = 'x'\n")
    broken = own.run("whoami", code=2)
    err = one_line_error(broken)
    assert "config.toml" in err and "unknown key 'chat.them'" in err and "openim config edit" in err
    (own.config_dir / "config.toml").write_text("[notifications]\nbell = 'yes'\n")
    assert "notifications.bell must be a bool" in one_line_error(own.run("config", "show", code=2))


def test_default_profile_comes_from_the_settings(cli: Cli, users: Users) -> None:
    cfg = cli.config_dir / "config.toml"
    cfg.write_text('default_profile = "bob"\n')
    try:
        me = json.loads(cli.run("whoami", "--json").stdout)
        assert me["userID"] == users.bob and me["profile"] == "bob"
        assert json.loads(cli.run("whoami", "--json", "-p", "default").stdout)["userID"] == users.alice
    finally:
        cfg.unlink()


def test_send_file_and_download_it_on_the_other_side(cli: Cli, users: Users, tmp_path: Any) -> None:
    src = tmp_path / "report.bin"
    src.write_bytes(os.urandom(300_000))
    sent = json.loads(cli.run("send", users.bob, "--file", str(src), "--json").stdout)
    dest = tmp_path / "got"
    got = json.loads(cli.run("download", users.alice, str(sent["seq"]), "--to", str(dest), "-p", "bob",
                             "--json").stdout)
    assert got["clientMsgID"] == sent["clientMsgID"] and got["size"] == 300_000
    assert (dest / "report.bin").read_bytes() == src.read_bytes()
    human = cli.run("download", users.alice, sent["clientMsgID"], "--to", str(dest / "again"), "-p", "bob")
    assert human.stdout.startswith(f"Saved {dest / 'again' / 'report.bin'}")
    missing = cli.run("download", users.alice, "999999", "-p", "bob", code=1)
    assert "no message with seq 999999" in one_line_error(missing)


def test_a_refused_send_says_why(cli: Cli, users: Users) -> None:
    gid = uid("mute-")
    cli.run("groups", "create", "Quiet", users.bob, "--id", gid)
    cli.run("groups", "mute", gid, users.bob, "--seconds", "600")
    refused = cli.run("send", gid, "-g", "can I talk?", "-p", "bob", code=1)
    assert one_line_error(refused) == "error: not sent: you are muted in this group (1402 MutedInGroup)"


def test_every_command_that_answers_takes_json(cli: Cli, users: Users) -> None:
    import click
    import typer.main

    from openim_cli.main import app

    interactive = {"server", "chat", "demo", "config edit", "api"}  # api always answers JSON
    missing = []

    def walk(cmd: Any, path: list[str], ctx: click.Context) -> None:
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                walk(sub, [*path, name], click.Context(sub, parent=ctx, info_name=name))
        elif " ".join(path) not in interactive:
            if "--json" not in {o for p in cmd.params for o in getattr(p, "opts", [])}:
                missing.append(" ".join(path))

    root = typer.main.get_command(app)
    walk(root, [], click.Context(root, info_name="openim"))
    assert missing == []
    carol = uid("carol")
    cli.server.admin_call("/user/user_register", {"users": [{"userID": carol, "nickname": "Carol"}]})
    added = json.loads(cli.run("friends", "add", carol, "--json").stdout)
    assert added == {"ok": True, "message": f"Friend request sent to {carol}."}


# --------------------------------------------------------------------------- openim help (issue 15)


def test_help_topics_are_the_commands_own_help_and_a_man_page(cli: Cli, tmp_path: Any) -> None:
    index, send, send_help, add, add_help, config, keys, codes, unknown, man, man_send = cli.run_many(
        (["help"], 0), (["help", "send"], 0), (["send", "--help"], 0),
        (["help", "friends", "add"], 0), (["friends", "add", "--help"], 0),
        (["help", "config"], 0), (["help", "keys"], 0), (["help", "exit-codes"], 0),
        (["help", "nosuch"], 2), (["help", "--man"], 0), (["help", "send", "--man"], 0))
    for line in ("send ", "friends add ", "groups mute ", "config keys ", "environment ", "exit-codes "):
        assert line in index.stdout, line
    # the same source as --help: the very same text
    assert send.stdout == send_help.stdout and "Usage: openim send" in send.stdout
    assert add.stdout == add_help.stdout and "Usage: openim friends add" in add.stdout
    # `config` is a command and a topic: its --help, then every settings key
    assert "Usage: openim config" in config.stdout and "time_format" in config.stdout
    assert "previews = true" in config.stdout
    assert "Ctrl+K" in keys.stdout and "next_unread" in keys.stdout
    assert "4  no session" in codes.stdout
    assert "no help topic 'nosuch'" in unknown.stderr
    page = man.stdout
    assert page.startswith(".TH OPENIM 1 ") and ".SH COMMANDS" in page and ".SH ENVIRONMENT" in page
    assert '.SS "openim friends add' in page and "OPENIM_API" in page and "\\-\\-json" in page
    assert man_send.stdout.startswith(".TH OPENIM-SEND 1 ") and "\\-\\-image" in man_send.stdout
    if shutil.which("groff"):  # the page is valid roff: no warnings, and it renders the commands
        path = tmp_path / "openim.1"
        path.write_text(page)
        out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", str(path)], capture_output=True, text=True,
                             timeout=60)
        assert out.returncode == 0 and not out.stderr, out.stderr
        assert "openim friends add" in re.sub(".\x08", "", out.stdout)  # bold is overstruck
    listed, page_json = cli.run_many((["help", "--json"], 0), (["help", "send", "--json"], 0))
    topics = [json.loads(line) for line in listed.stdout.splitlines()]
    assert {"topic": "exit-codes", "kind": "topic", "summary": "what each exit status means"} in topics
    assert any(t["topic"] == "groups mute" and t["kind"] == "command" for t in topics)
    assert json.loads(page_json.stdout) == {"topic": "send", "kind": "command", "text": send_help.stdout}
