"""The server's typed repositories on a real SQLite file (the engine's writer thread, group commit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openim_sdk.protocol.constants import ContentType, SessionType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub.repos.activity import ClientLogRow
from server_stub.storage import SqliteStorage, StoreRequest, UserRow


@pytest.fixture
async def storage(tmp_path: Any) -> AsyncIterator[SqliteStorage]:
    s = SqliteStorage(str(tmp_path / "repo.sqlite3"))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


def _log(log_id: str, user: str, at: int, filename: str = "a.log") -> ClientLogRow:
    return ClientLogRow(log_id, user, "Web", f"http://x/{log_id}", filename, "", "", "1.0", "", at)


async def test_client_logs_search_newest_first_with_nicknames_and_delete_all_or_none(storage: SqliteStorage):
    await storage.insert_users([UserRow("u1", "Una", "", "", 1, 0, 0)])
    await storage.add_client_logs([_log("l1", "u1", 100), _log("l2", "u1", 300, "b.log"), _log("l3", "ghost", 200)])
    total, rows = await storage.search_client_logs("", 0, 0, 0, 10)
    assert total == 3 and [r.log_id for r in rows] == ["l2", "l3", "l1"]
    assert [r.nickname for r in rows] == ["Una", "", "Una"]
    total, rows = await storage.search_client_logs("b.log", 0, 0, 0, 10)
    assert total == 1 and rows[0].log_id == "l2"
    total, rows = await storage.search_client_logs("", 150, 250, 0, 10)
    assert [r.log_id for r in rows] == ["l3"]
    assert await storage.delete_client_logs(["l1", "nope"]) == ["nope"]
    assert (await storage.search_client_logs("", 0, 0, 0, 10))[0] == 3  # nothing deleted
    assert await storage.delete_client_logs(["l1", "l3"]) == []
    assert [r.log_id for r in (await storage.search_client_logs("", 0, 0, 0, 10))[1]] == ["l2"]


async def test_statistics_counts_and_chat_activity_leave_notifications_out(storage: SqliteStorage):
    await storage.insert_users([UserRow(u, u, "", "", t, 0, 0) for u, t in (("a", 10), ("b", 20), ("c", 30))])
    assert await storage.created_between("users", 15, 30) == (3, 1, [20, 30])

    def msg(send: str, ct: int, st: int = SessionType.SINGLE_CHAT, at: int = 50) -> StoreRequest:
        m = sdkws_pb2.MsgData(sendID=send, recvID="b", clientMsgID=f"{send}-{ct}-{at}", contentType=ct,
                              sessionType=st, sendTime=at)
        return StoreRequest(f"si_{send}_b", m, [])

    await storage.store_messages([msg("a", ContentType.TEXT), msg("a", ContentType.FRIEND_ADDED),
                                  msg("c", ContentType.PICTURE, at=70), msg("c", ContentType.TEXT, at=999)])
    rows = await storage.chat_activity("send_id", (SessionType.SINGLE_CHAT,), 0, 100)
    assert sorted(rows) == [("a", 50), ("c", 70)]
    assert await storage.chat_activity("send_id", (SessionType.READ_GROUP_CHAT,), 0, 100) == []
    with pytest.raises(ValueError):
        await storage.chat_activity("data; DROP TABLE messages", (1,), 0, 100)


async def test_third_values_are_upserted(storage: SqliteStorage):
    await storage.put_third_value("u1", "badge", "3")
    await storage.put_third_value("u1", "badge", "5")
    rows = await storage.run(lambda c: c.execute("SELECT user_id, key, value FROM third_kv").fetchall())
    assert rows == [("u1", "badge", "5")]


async def test_user_infos_by_id(storage: SqliteStorage):
    await storage.insert_users([UserRow("u1", "Una", "f", "x", 1, 2, 1)])
    infos = await storage.user_infos(["u1", "nobody", "u1"])
    assert list(infos) == ["u1"]
    assert (infos["u1"].nickname, infos["u1"].appMangerLevel, infos["u1"].globalRecvMsgOpt) == ("Una", 2, 1)


async def test_user_commands_and_client_config(storage: SqliteStorage):
    await storage.put_user_command("u1", 1, "a", "v1", "x")
    await storage.put_user_command("u1", 2, "b", "v2", "")
    await storage.put_user_command("u2", 1, "c", "v3", "")
    assert [c.uuid for c in await storage.user_commands("u1")] == ["a", "b"]
    assert [(c.type, c.value, c.ex) for c in await storage.user_commands("u1", 1)] == [(1, "v1", "x")]
    assert await storage.update_user_command("u1", 1, "a", value="v9") is True
    assert await storage.update_user_command("u1", 1, "nope", ex="e") is False
    assert await storage.update_user_command("u1", 1, "nope") is True  # nothing to change: not looked up
    assert [(c.value, c.ex) for c in await storage.user_commands("u1", 1)] == [("v9", "x")]
    assert await storage.delete_user_command("u1", 1, "a") is True
    assert await storage.delete_user_command("u1", 1, "a") is False

    await storage.set_client_config("", {"theme": "light", "lang": "en"})
    await storage.set_client_config("u1", {"theme": "dark"})
    rows = await storage.client_config_for("u1")
    assert [(r.user_id, r.key, r.value) for r in rows][-1] == ("u1", "theme", "dark")  # the user's own come last
    total, page = await storage.page_client_config("", "theme", 0, 10)
    assert total == 2 and [(r.user_id, r.value) for r in page] == [("", "light"), ("u1", "dark")]
    await storage.delete_client_config("u1", ["theme"])
    assert (await storage.page_client_config("u1", "", 0, 10))[0] == 0


async def test_object_records_and_their_expiry(storage: SqliteStorage):
    await storage.put_object("msg-picture/a", "h1", 10, "image/png", "msg-picture")
    await storage.put_object("msg-picture/b", "h2", 20, "", "msg-picture")
    await storage.put_object("avatar/c", "h2", 20, "", "avatar")  # shares blob h2
    obj = await storage.object_info("msg-picture/a")
    assert obj is not None and (obj.hash, obj.size, obj.content_type) == ("h1", 10, "image/png")
    assert await storage.object_info("nope") is None
    expired = await storage.delete_objects_before(1 << 62, ("msg-picture",))
    assert expired.deleted == 2 and expired.unused_hashes == ["h1"]  # h2 is still used by avatar/c
    assert await storage.object_info("avatar/c") is not None


async def test_user_filter_pages(storage: SqliteStorage):
    from server_stub.repos.users import UserFilter

    await storage.insert_users([UserRow("u1", "Ann", "", "", 1, 0, 0), UserRow("u2", "Annie", "", "", 2, 1, 0),
                                UserRow("n1", "Notice", "", "", 3, 3, 0)])
    assert [u.user_id for u in (await storage.page_users(None, 0, 10))[1]] == ["u1", "u2", "n1"]
    total, rows = await storage.page_users(UserFilter(levels=(0, 1), nickname="nni"), 0, 10)
    assert total == 1 and rows[0].user_id == "u2"
    total, rows = await storage.page_users(UserFilter(min_level=2, keyword="n1"), 0, 10)
    assert total == 1 and rows[0].user_id == "n1"


async def test_typed_request_queries(storage: SqliteStorage):
    from server_stub.repos import relations as rs

    def op(conn: Any) -> Any:
        rs.put_friend_request(conn, "a", "b", "hi", "")
        rs.put_friend_request(conn, "c", "b", "yo", "")
        rs.handle_friend_request(conn, "c", "b", -1, "b", "no")
        rs.put_group_request(conn, "g1", "a", "pls", 3, "a", "x")
        rs.put_group_request(conn, "g2", "a", "pls", 2, "b")
        return (rs.friend_request_result(conn, "c", "b"), rs.friend_request_result(conn, "b", "c"),
                rs.unhandled_friend_request_count(conn, "b", 0),
                [r.fromUserID for r in rs.find_friend_requests(conn, to_uid="b")[1]],
                rs.find_friend_requests(conn, to_uid="b", results=[0])[0],
                len(rs.friend_requests_between(conn, "b", "a")),
                rs.group_request_state(conn, "g2", "a"),
                rs.find_group_requests(conn, user_ids=["a"])[0],
                rs.find_group_requests(conn, group_ids=[], user_ids=["a"])[0],
                rs.unhandled_group_request_count(conn, ["g1", "g2"], 0), rs.unhandled_group_request_count(conn, [], 0))

    (handled, none, unhandled, to_b, pending_to_b, between, state, of_a, of_no_group, group_pending,
     no_groups) = await storage.run(op)
    assert (handled, none, unhandled, pending_to_b, between) == (-1, None, 1, 1, 1)
    assert sorted(to_b) == ["a", "c"]
    assert state == rs.GroupRequestState(0, 2, "b")
    assert (of_a, of_no_group, group_pending, no_groups) == (2, 0, 2, 0)


async def test_a_deleted_conversation_record_comes_back_with_the_next_message(storage: SqliteStorage, tmp_path: Any):
    """store_messages skips the INSERT of records it knows exist (KnownConversations); a record
    deleted since -- by delete_conversation in this process, or by another connection -- must be
    created again (and logged as new in the owner's version log)."""
    import sqlite3

    from server_stub.repos.conversations import delete_conversation

    def msg(n: int) -> StoreRequest:
        m = sdkws_pb2.MsgData(sendID="a", recvID="b", clientMsgID=f"c{n}", sessionType=SessionType.SINGLE_CHAT,
                              contentType=ContentType.TEXT, sendTime=n)
        return StoreRequest("si_a_b", m, [("a", b"A"), ("b", b"B")], "a")

    async def records() -> set[str]:
        rows = await storage.run(lambda c: c.execute(
            "SELECT owner_user_id FROM conversations WHERE conversation_id = 'si_a_b'").fetchall())
        return {r[0] for r in rows}

    async def created(owner: str) -> int:
        return await storage.run(lambda c: c.execute(
            "SELECT COUNT(*) FROM version_entries WHERE kind = 'conversation' AND key = ? AND state = 1",
            (owner,)).fetchone()[0])

    assert await storage.store_messages([msg(1)]) == [1]
    assert await storage.store_messages([msg(2)]) == [2]  # known now: no INSERT tried
    assert await records() == {"a", "b"}
    await storage.run(lambda c: delete_conversation(c, "b", "si_a_b"))
    assert await records() == {"a"}
    assert await storage.store_messages([msg(3)]) == [3]
    assert await records() == {"a", "b"}
    other = sqlite3.connect(str(tmp_path / "repo.sqlite3"), isolation_level=None)
    try:
        other.execute("DELETE FROM conversations WHERE owner_user_id = 'a'")
    finally:
        other.close()
    assert await storage.store_messages([msg(4)]) == [4]
    assert await records() == {"a", "b"}
    assert await created("a") == 1  # the version log keeps one entry per record (state 1: created)
    rows = await storage.run(lambda c: c.execute(
        "SELECT owner_user_id, has_read_seq FROM conversations WHERE conversation_id = 'si_a_b'").fetchall())
    assert dict(rows)["a"] == 4  # the reader's hasReadSeq is set on the re-created record too
