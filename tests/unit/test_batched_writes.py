"""The batched write paths of a pulled page give exactly what the message-by-message paths give.

``LocalStore.upsert_messages`` inserts a page's new messages with one ``executemany`` and hands the
rest (merges, duplicates, placeholders, seq clashes) to the per-message rules;
``apply_messages`` folds :func:`apply_message` over a page rendering the latest message once.
Both are checked against the one-at-a-time path on random pages (hypothesis).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from openim_sdk.models import Conversation
from openim_sdk.protocol.constants import ContentType, MsgOption, MsgStatus, SessionType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session import conversation_rules as rules
from openim_sdk.session.context import SessionContext
from openim_sdk.session.conversation_names import ConversationNames
from openim_sdk.store import LocalStore

ME, PEER, G = "me", "peer", "g1"
SI, SG = "si_me_peer", "sg_g1"


def mk(cmid: str, seq: int, *, sender: str = PEER, t: int = 0, status: int = MsgStatus.SEND_SUCCESS,
       group: bool = False, at: list[str] | None = None, no_unread: bool = False) -> sdkws_pb2.MsgData:
    m = sdkws_pb2.MsgData(
        clientMsgID=cmid, sendID=sender, recvID="" if group else (ME if sender != ME else PEER),
        groupID=G if group else "", sessionType=SessionType.READ_GROUP_CHAT if group else SessionType.SINGLE_CHAT,
        contentType=ContentType.TEXT, content=json.dumps({"content": f"text {cmid}"}).encode(), seq=seq,
        sendTime=t or 1000 + seq, createTime=t or 1000 + seq, status=status, senderNickname="Peer",
        atUserIDList=at or [],
    )
    if no_unread:
        m.options[MsgOption.UNREAD_COUNT] = False
    return m


# one message of a page: (clientMsgID index, seq, sender is me, deleted, send time offset)
message = st.tuples(st.integers(0, 12), st.integers(0, 14), st.booleans(), st.booleans(), st.integers(0, 5))


def build(spec: list[tuple[int, int, bool, bool, int]], *, prefix: str = "m") -> list[sdkws_pb2.MsgData]:
    return [mk(f"{prefix}{i}" if i else "", seq, sender=ME if own else PEER, t=1000 + seq * 10 + dt,
               status=MsgStatus.DELETED if deleted else MsgStatus.SEND_SUCCESS)
            for i, seq, own, deleted, dt in spec]


def snapshot(store: LocalStore) -> list[tuple[Any, ...]]:
    rows = store._query("SELECT client_msg_id, conversation_id, seq, status, content, server_msg_id, send_time "
                        "FROM messages ORDER BY client_msg_id")
    return [tuple(r) for r in rows]


@settings(max_examples=150, deadline=None)
@given(before=st.lists(message, max_size=6), page=st.lists(message, min_size=2, max_size=10))
def test_a_page_upserted_at_once_equals_one_message_at_a_time(tmp_path_factory, before, page):
    d = tmp_path_factory.mktemp("s")
    batched, single = LocalStore(d / "a.sqlite3"), LocalStore(d / "b.sqlite3")
    try:
        for s in (batched, single):
            for m in build(before, prefix="m"):
                s.upsert_messages([m], SI)
            # a local unsent copy (no seq) the page may number
            s.upsert_messages([mk("m1", 0, sender=ME)], SI)
        got = batched.upsert_messages(build(page), SI)
        want = [r for m in build(page) for r in single.upsert_messages([m], SI)]
        assert snapshot(batched) == snapshot(single)
        assert sorted(r.client_msg_id for r in got) == sorted(r.client_msg_id for r in want)
        # rows as stored after the whole page (a later copy in the page may have updated one)
        assert {r.client_msg_id: r for r in got} == {r.client_msg_id: single.message(r.client_msg_id) for r in want}
        assert batched.search("text", SI) == single.search("text", SI)  # the FTS rows too
    finally:
        batched.close()
        single.close()


def test_a_fresh_page_is_returned_in_the_order_given(tmp_path):
    with LocalStore(tmp_path / "c.sqlite3") as store:
        store.upsert_messages([mk("old", 3)], SI)
        page = [mk("a", 1), mk("b", 2), mk("old", 3), mk("c", 4), mk("", 5, status=MsgStatus.DELETED)]
        rows = store.upsert_messages(page, SI)
        assert [r.client_msg_id for r in rows] == ["a", "b", "c"]
        assert [r.seq for r in store.messages(SI, None, 10)] == [1, 2, 3, 4]


conv_message = st.tuples(st.integers(1, 30), st.booleans(), st.booleans(), st.booleans(), st.integers(-3, 3),
                         st.sampled_from([None, [ME], ["AtAllTag"], [ME, "AtAllTag"]]))


@settings(max_examples=200, deadline=None)
@given(group=st.booleans(), start=st.booleans(), page=st.lists(conv_message, min_size=1, max_size=12))
def test_apply_messages_equals_apply_message_one_by_one(group, start, page):
    msgs = [mk(f"c{i}", seq, sender=ME if own else PEER, t=2000 + seq + dt, group=group, at=at,
               status=MsgStatus.DELETED if deleted else MsgStatus.SEND_SUCCESS, no_unread=no_unread)
            for i, (seq, own, deleted, no_unread, dt, at) in enumerate(page)]
    cid = SG if group else SI
    conv = rules.apply_message(None, mk("first", 2, group=group), ME, conversation_id=cid) if start else None
    one: Conversation | None = conv
    for m in msgs:
        one = rules.apply_message(one, m, ME, conversation_id=cid)
    assert rules.apply_messages(conv, msgs, ME, conversation_id=cid) == one


# ---------------------------------------------------------------------------- names, batched


class _Calls:
    def __init__(self) -> None:
        self.users: list[list[str]] = []
        self.groups: list[list[str]] = []


class _UserApi:
    def __init__(self, calls: _Calls) -> None:
        self._calls = calls

    async def get_users_info(self, user_ids: list[str]) -> Any:
        self._calls.users.append(list(user_ids))
        await asyncio.sleep(0)  # a real request yields to the loop
        return type("R", (), {"usersInfo": [sdkws_pb2.UserInfo(userID=u, nickname=f"N-{u}") for u in user_ids
                                            if u != "ghost"]})()


class _GroupApi:
    def __init__(self, calls: _Calls) -> None:
        self._calls = calls

    async def get_groups_info(self, group_ids: list[str]) -> Any:
        self._calls.groups.append(list(group_ids))
        return type("R", (), {"groupInfos": [sdkws_pb2.GroupInfo(groupID=g, groupName=f"G-{g}") for g in group_ids]})()


def test_conversation_names_are_looked_up_in_batches(tmp_path):
    calls = _Calls()
    rest: Any = type("Rest", (), {"user": _UserApi(calls), "group": _GroupApi(calls)})()

    async def main() -> list[list[str]]:
        tasks: list[asyncio.Task[Any]] = []
        ctx = SessionContext(ME, rest, lambda e: None, lambda c, w: tasks.append(asyncio.ensure_future(c)) or tasks[-1])
        store = LocalStore(tmp_path / "n.sqlite3")
        ctx.attach_store(store)
        store.upsert_users([sdkws_pb2.UserInfo(userID="cached", nickname="Cached")])
        reported: list[list[str]] = []

        async def on_named(convs: list[Conversation]) -> None:
            reported.append(sorted(c.show_name for c in convs))

        names = ConversationNames(ctx, on_named)
        peers = ["cached", "ghost", *[f"u{i}" for i in range(150)]]
        rows = [store.merge_conversation(f"si_{ME}_{p}", conversation_type=1, user_id=p) for p in peers]
        rows.append(store.merge_conversation("sg_g7", conversation_type=3, group_id="g7"))
        for row in rows:
            names.request(row)
        while tasks:
            await tasks.pop()
        assert store.conversation(f"si_{ME}_u149").show_name == "N-u149"
        assert store.conversation("sg_g7").show_name == "G-g7"
        assert store.conversation(f"si_{ME}_cached").show_name == "Cached"
        assert store.conversation(f"si_{ME}_ghost").show_name == ""
        store.close()
        return reported

    reported = asyncio.run(main())
    # one batch: the cached profile is not asked for; 151 unknown users in two requests of <= 100
    assert [len(u) for u in calls.users] == [100, 51] and "cached" not in sum(calls.users, [])
    assert calls.groups == [["g7"]]
    assert len(reported) == 1 and len(reported[0]) == 152


# ---------------------------------------------------------------------------- the lazy full-text index

fts_op = st.one_of(
    st.tuples(st.just("insert"), st.integers(1, 40), st.sampled_from(["apple pie", "banana", "cherry apple"])),
    st.tuples(st.just("retext"), st.integers(1, 40), st.sampled_from(["apple", "kiwi", ""])),
    st.tuples(st.just("delete"), st.integers(1, 40), st.just("")),
    st.tuples(st.just("index"), st.integers(1, 5), st.just("")),
    st.tuples(st.just("page"), st.integers(1, 40), st.sampled_from(["apple", "banana"])),
)


def fts_consistent(store: LocalStore) -> None:
    store._db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")


@settings(max_examples=120, deadline=None)
@given(ops=st.lists(fts_op, max_size=25))
def test_the_lazy_index_answers_as_a_scan_and_stays_consistent(tmp_path_factory, ops):
    """Inserts queue rows, changed text and deletes keep the index right whether or not the row was
    indexed yet; a search indexes the queue first, so it finds what a LIKE scan finds."""
    with LocalStore(tmp_path_factory.mktemp("f") / "f.sqlite3") as store:
        assert store.fts_mode == "trigram"
        for op, n, text in ops:
            if op == "insert":
                store.upsert_messages([mk(f"f{n}", n)], SI)
                store._db.execute("UPDATE messages SET search_text = ? WHERE client_msg_id = ?", (text, f"f{n}"))
            elif op == "page":  # the bulk path: several new messages in one write
                store.upsert_messages([mk(f"f{k}", k) for k in range(n, n + 4)], SI)
                store._db.execute("UPDATE messages SET search_text = ? WHERE client_msg_id = ?", (text, f"f{n}"))
            elif op == "retext":
                store._db.execute("UPDATE messages SET search_text = ? WHERE client_msg_id = ?", (text, f"f{n}"))
            elif op == "delete":
                store._db.execute("DELETE FROM messages WHERE client_msg_id = ?", (f"f{n}",))
            else:
                store.index_pending(n)
        for word in ("apple", "banana", "kiwi", "cherry"):
            scan = [r[0] for r in store._query(
                "SELECT client_msg_id FROM messages WHERE search_text LIKE ? ORDER BY send_time DESC, id DESC",
                (f"%{word}%",))]
            assert [m.client_msg_id for m in store.search(word, limit=100)] == scan
        assert store.pending_index() == 0
        fts_consistent(store)


def test_a_v4_cache_moves_to_the_lazy_index_and_keeps_its_rows(tmp_path):
    import sqlite3

    from openim_sdk.store import schema

    path = tmp_path / "v4.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    schema.current_version(conn)
    for migration in schema.MIGRATIONS[:4]:
        migration(conn)
    conn.execute("INSERT INTO schema_version(version) VALUES (4)")
    conn.execute("INSERT INTO messages(client_msg_id, conversation_id, seq, search_text) VALUES ('old', ?, 1, 'legacy words')",
                 (SI,))
    conn.close()
    with LocalStore(path) as store:
        assert store.schema_version == schema.SCHEMA_VERSION
        assert store.pending_index() == 0  # indexed by the v4 trigger already
        store.upsert_messages([mk("new", 2)], SI)
        assert store.pending_index() == 1
        assert [m.client_msg_id for m in store.search("legacy")] == ["old"]
        assert [m.client_msg_id for m in store.search("text new")] == ["new"]
        fts_consistent(store)


def test_the_search_indexer_waits_for_quiet_then_indexes_everything(tmp_path):
    from openim_sdk.session.search_index import SearchIndexer

    now = [100.0]

    async def main() -> None:
        tasks: list[asyncio.Task[Any]] = []

        def spawn(coro: Any, where: str) -> asyncio.Task[Any]:
            tasks.append(asyncio.ensure_future(coro))
            return tasks[-1]

        ctx = SessionContext(ME, None, lambda e: None, spawn, monotonic=lambda: now[0])  # type: ignore[arg-type]
        with LocalStore(tmp_path / "i.sqlite3") as store:
            ctx.attach_store(store)
            store.upsert_messages([mk(f"i{n}", n) for n in range(1, 26)], SI)
            quiet = SearchIndexer(ctx, idle=5.0, chunk=10)
            quiet.wrote()
            now[0] += 2
            assert quiet.idle_for() == 3.0  # written 2 s ago: 3 s to go, nothing indexed yet
            assert store.pending_index() == 25
            tasks.pop().cancel()
            eager = SearchIndexer(ctx, idle=0.0, chunk=10)
            eager.wrote()
            await tasks.pop()
            assert store.pending_index() == 0  # three chunks: 10, 10, 5
            fts_consistent(store)

    asyncio.run(main())
