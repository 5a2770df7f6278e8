"""The pull fast path (issue 16): one range query on the primary key, pages spliced from the stored
bytes, reads on the read connection — with exactly the answers of the per-message path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub.repos.messages import _RANGE_SQL, range_rows, seq_list_rows
from server_stub.services.msg_read import page_bytes, render_message
from server_stub.storage import MessageRow, SqliteStorage, StoreRequest

CID = "si_a_b"


@pytest.fixture
async def storage(tmp_path: Any) -> AsyncIterator[SqliteStorage]:
    s = SqliteStorage(str(tmp_path / "pull.sqlite3"))
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def _seed(storage: SqliteStorage, n: int) -> None:
    reqs = []
    for i in range(n):
        m = sdkws_pb2.MsgData(sendID="a", recvID="b", clientMsgID=f"c{i}", sessionType=1, msgFrom=100,
                              contentType=101, content=json.dumps({"content": f"m{i}"}).encode(), sendTime=1000 + i,
                              status=2, isRead=(i == 3))  # a sender-set isRead is overwritten, as before
        reqs.append(StoreRequest(CID, m, []))
    await storage.store_messages(reqs)


async def test_the_seq_range_read_uses_the_primary_key(storage: SqliteStorage) -> None:
    await _seed(storage, 5)

    def plan(conn: Any) -> list[str]:
        return [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + _RANGE_SQL, ("b", CID, 1, 50))]

    details = await storage.read(plan)
    scan_m = [d for d in details if d.startswith(("SEARCH m", "SCAN m"))]
    assert scan_m and scan_m[0].startswith("SEARCH m USING INDEX sqlite_autoindex_messages_1"), details
    assert "conversation_id=? AND seq>? AND seq<?" in scan_m[0], details
    scan_d = [d for d in details if d.startswith(("SEARCH d", "SCAN d"))]
    assert scan_d and scan_d[0].startswith("SEARCH d USING COVERING INDEX sqlite_autoindex_msg_user_del_1"), details


async def test_spliced_pages_equal_rendered_messages(storage: SqliteStorage) -> None:
    await _seed(storage, 8)
    await storage.mark_read(CID, [2])
    revoke = json.dumps({"revokerID": "a", "clientMsgID": "c4"}).encode()
    assert await storage.set_revoke(CID, 4, revoke)
    await storage.set_revoke(CID, 5, revoke)
    await storage.delete_for_user("b", CID, [5, 6])
    await storage.delete_physical(CID, [7])
    seqs = list(range(1, 10))  # 7 is gone, 9 never existed

    rows = await storage.read(lambda c: range_rows(c, "b", CID, 1, 9))
    listed = await storage.read(lambda c: seq_list_rows(c, "b", CID, [9, 3, 1, 2, 4, 5, 6, 7, 8]))
    assert listed == rows
    got = sdkws_pb2.PullMsgs.FromString(page_bytes(rows, seqs))

    stored = await storage.messages_by_seqs(CID, seqs)
    deleted = await storage.deleted_for("b", CID, seqs)
    want = [render_message(stored.get(s), s, s in deleted) for s in seqs]
    assert list(got.Msgs) == want
    assert [m.SerializeToString() for m in got.Msgs] == [m.SerializeToString() for m in want]
    assert got.Msgs[1].isRead and not got.Msgs[2].isRead  # seq 2 read; seq 3's own isRead=true cleared
    assert got.Msgs[3].contentType == ContentType.MSG_REVOKE_NOTIFICATION
    assert got.Msgs[4].status == 4 and got.Msgs[4].content == b""  # deleted wins over revoked
    assert got.Msgs[6] == sdkws_pb2.MsgData(seq=7, status=4) and got.Msgs[8] == sdkws_pb2.MsgData(seq=9, status=4)
    assert render_message(None, 9) == got.Msgs[8]
    assert isinstance(stored[1], MessageRow)


async def test_a_read_sees_every_acknowledged_write(storage: SqliteStorage) -> None:
    for i in range(1, 30):
        await storage.store_messages([StoreRequest(CID, sdkws_pb2.MsgData(sendID="a", recvID="b",
                                                                           clientMsgID=f"x{i}"), [])])
        rows = await storage.read(lambda c: range_rows(c, "b", CID, 1, 1000))
        assert [r[0] for r in rows] == list(range(1, i + 1))


async def test_memory_database_reads_through_the_writer() -> None:
    s = SqliteStorage(":memory:")
    await s.open()
    try:
        await _seed(s, 3)  # type: ignore[arg-type]
        rows = await s.read(lambda c: range_rows(c, "b", CID, 1, 3))
        assert [r[0] for r in rows] == [1, 2, 3]
    finally:
        await s.close()


@pytest.mark.parametrize("size", [0, 10, 2047, 2048, 5000, 200_000])
@pytest.mark.parametrize("compress", [False, True])
def test_the_gateway_encoder_writes_the_sdk_codec_bytes(size: int, compress: bool) -> None:
    import os

    from openim_sdk.protocol.envelope import WsResponse, encode_response
    from server_stub import wire

    for resp in (WsResponse(1002, "u_1", "op<&>\u2028", 0, "", os.urandom(size)),
                 WsResponse(2001, "", "", 1234, "ErrMsg <x> & \u2029 \"q\"", os.urandom(size)),
                 WsResponse(1002, "\u00e9\U0001f600", "op", -5, "", b"<>&" * (size // 3))):
        for enc in ("json", "gob"):
            assert wire.encode_response(resp, enc, compress) == encode_response(resp, enc, compress)  # type: ignore[arg-type]
