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
