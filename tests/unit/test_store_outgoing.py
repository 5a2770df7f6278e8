"""The send path's cache writes (store/outgoing.py): the write-behind queue and its order, the
inline write when the store is free, the one-statement insert and ack. Real SQLite files; a second
connection stands for another process sharing the cache."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from openim_sdk.protocol.constants import MsgStatus, SessionType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.store import LocalStore

CID = "si_a_b"


def _msg(cmid: str, text: str = "hi", seq: int = 0) -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(sendID="a", recvID="b", clientMsgID=cmid, sessionType=SessionType.SINGLE_CHAT,
                             contentType=101, content=f'{{"content":"{text}"}}'.encode(), createTime=1,
                             sendTime=1, status=MsgStatus.SENDING, seq=seq)


def _other(path: object) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None, timeout=0)


@pytest.fixture
def store(tmp_path):
    s = LocalStore(tmp_path / "c.sqlite3")
    yield s
    s.close()


def test_insert_outgoing_stores_the_row_as_upsert_would(store, tmp_path):
    row = store.insert_outgoing(_msg("m1", "hello"), CID)
    assert row == store.message("m1")
    assert (row.status, row.seq, row.content, row.conversation_id) == (MsgStatus.SENDING, 0, '{"content":"hello"}', CID)
    store.index_pending()
    assert [m.client_msg_id for m in store.search("hello")] == ["m1"]  # queued for the full-text index
    # a clientMsgID already cached goes through the merge rules (no duplicate, no error)
    again = store.insert_outgoing(_msg("m1", "hello"), CID)
    assert again.client_msg_id == "m1" and len(store.messages(CID)) == 1


def test_settle_sent_updates_an_unnumbered_row_only(store):
    store.insert_outgoing(_msg("m1"), CID)
    store.set_send_error("m1", 1402, "muted")
    assert store.settle_sent("m1", "srv1", 77, clear_error=True) is None
    row = store.message("m1")
    assert row is not None and (row.status, row.server_msg_id, row.send_time, row.seq) == (
        MsgStatus.SEND_SUCCESS, "srv1", 77, 0)
    assert store.send_errors() == []
    # numbered meanwhile by its pushed copy: the ack changes nothing and says what the row is
    store.insert_outgoing(_msg("m2"), CID)
    store.merge_sent("m2", 5, "srv2", 88)
    numbered = store.settle_sent("m2", "other", 99)
    assert numbered is not None and (numbered.seq, numbered.server_msg_id, numbered.send_time) == (5, "srv2", 88)
    assert store.settle_sent("gone", "x", 1) is None


def test_deferred_job_is_committed_and_visible_to_another_connection(store, tmp_path):
    fut = store.defer(lambda s: s.insert_outgoing(_msg("m1"), CID))
    assert fut.result(10).client_msg_id == "m1"
    other = _other(tmp_path / "c.sqlite3")
    assert other.execute("SELECT count(*) FROM messages WHERE client_msg_id = 'm1'").fetchone()[0] == 1
    other.close()


def test_a_read_applies_what_was_queued_before_it(store):
    # hold the store so the writer thread cannot run: the read itself must apply the queued write
    with store._lock:
        fut = store.defer(lambda s: s.insert_outgoing(_msg("m1"), CID))
        assert not fut.done()
        assert store.message("m1") is not None
        assert fut.done() and fut.result().client_msg_id == "m1"
        # so does a write, before its own transaction (order kept)
        store.defer(lambda s: s.insert_outgoing(_msg("m2"), CID))
        store.set_message_status("m2", MsgStatus.SEND_FAILED)
    row = store.message("m2")
    assert row is not None and row.status == MsgStatus.SEND_FAILED


def test_a_failing_job_is_rolled_back_alone(store):
    def bad(s: LocalStore) -> None:
        s.insert_outgoing(_msg("bad"), CID)
        raise ValueError("boom")

    with store._lock:  # the three in one batch
        ok1 = store.defer(lambda s: s.insert_outgoing(_msg("m1"), CID))
        failed = store.defer(bad)
        ok2 = store.defer(lambda s: s.insert_outgoing(_msg("m2"), CID))
    assert ok1.result(10) and ok2.result(10)
    with pytest.raises(ValueError, match="boom"):
        failed.result(10)
    assert store.message("bad") is None
    assert {m.client_msg_id for m in store.messages(CID)} == {"m1", "m2"}


def test_now_or_soon_writes_inline_when_the_store_is_free(store):
    fut = store.write_now_or_soon(lambda s: s.insert_outgoing(_msg("m1"), CID))
    assert fut.done() and fut.result().client_msg_id == "m1"


def test_now_or_soon_writes_what_was_queued_first_in_the_same_commit(store):
    order: list[str] = []

    def job(name: str):  # type: ignore[no-untyped-def]
        def run(s: LocalStore) -> str:
            order.append(name)
            s.insert_outgoing(_msg(name), CID)
            return name
        return run

    with store._lock:  # the writer thread cannot take them meanwhile
        first = store.defer(job("m1"))
        now = store.write_now_or_soon(job("m2"))
        assert first.done() and now.done()
    assert order == ["m1", "m2"] and first.result() == "m1" and now.result() == "m2"


def test_now_or_soon_queues_behind_a_thread_holding_the_store(store):
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with store.transaction():
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(10)
    fut = store.write_now_or_soon(lambda s: s.insert_outgoing(_msg("m1"), CID))
    assert not fut.done()  # did not block on the lock
    release.set()
    t.join()
    assert fut.result(10).client_msg_id == "m1"


def test_now_or_soon_queues_while_another_process_writes(store, tmp_path):
    other = _other(tmp_path / "c.sqlite3")
    other.execute("BEGIN IMMEDIATE")
    fut = store.write_now_or_soon(lambda s: s.insert_outgoing(_msg("m1"), CID))
    assert not fut.done()  # the file was locked: handed to the writer, which waits for it
    other.execute("COMMIT")
    other.close()
    assert fut.result(10).client_msg_id == "m1"
    # and the store waits for other writers as configured again afterwards
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] == 15_000


def test_close_commits_what_is_queued(tmp_path):
    s = LocalStore(tmp_path / "c.sqlite3")
    with s._lock:
        s.defer(lambda st: st.insert_outgoing(_msg("m1"), CID))
    s.close()
    with pytest.raises(RuntimeError):
        s.defer(lambda st: None)
    again = LocalStore(tmp_path / "c.sqlite3")
    assert again.message("m1") is not None
    again.close()
