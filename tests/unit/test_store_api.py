"""LocalStore API on a tmp_path database."""

from __future__ import annotations

import json
import sqlite3
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session.conversations import record_message
from openim_sdk.store import SCHEMA_VERSION, LocalStore, preview_text, search_text
from openim_sdk.store import schema as store_schema
from openim_sdk.store.conversations import _ConversationRow as Conversation

ME, PEER = "u1", "u2"
SI = "si_u1_u2"
SG = "sg_g1"


def text_msg(cmid: str, seq: int, text: str, *, sender: str = PEER, send_time: int | None = None, **kw):
    return sdkws_pb2.MsgData(
        sendID=sender,
        recvID=ME if sender == PEER else PEER,
        clientMsgID=cmid,
        serverMsgID=f"srv-{cmid}" if seq else "",
        sessionType=1,
        msgFrom=100,
        contentType=101,
        content=json.dumps({"content": text}).encode(),
        seq=seq,
        sendTime=send_time if send_time is not None else 1000 + seq,
        createTime=900 + seq,
        status=2 if seq else 1,
        **kw,
    )


@pytest.fixture
def store(tmp_path):
    s = LocalStore(tmp_path / "data" / "OpenIM_v3_u1.db")
    yield s
    s.close()


def test_migrations_from_empty_file_and_reopen(tmp_path):
    path = tmp_path / "x.db"
    path.touch()
    s = LocalStore(path)
    assert s.schema_version == SCHEMA_VERSION == len(store_schema.MIGRATIONS)
    assert s.fts_enabled
    s.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table')")}
    assert {"messages", "conversations", "seq_state", "sync_versions", "users", "friends", "groups"} <= tables
    assert {"group_members", "messages_fts", "schema_version", "meta"} <= tables
    conn.close()
    s2 = LocalStore(path)  # idempotent
    assert s2.schema_version == SCHEMA_VERSION
    s2.close()
    with pytest.raises(RuntimeError):
        s2.max_seqs()


def test_migration_from_v1_backfills_fts(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    store_schema.current_version(conn)
    store_schema.MIGRATIONS[0](conn)
    conn.execute("INSERT INTO schema_version(version) VALUES (1)")
    conn.execute(
        "INSERT INTO messages(client_msg_id, conversation_id, seq, search_text) VALUES ('old', ?, 1, 'legacy words')",
        (SI,),
    )
    conn.close()
    s = LocalStore(path)
    assert s.schema_version == SCHEMA_VERSION
    assert [m.client_msg_id for m in s.search("legacy")] == ["old"]
    s.close()


def test_migration_from_v6_drops_the_second_seq_index_and_keeps_rows_and_lookups(tmp_path):
    path = tmp_path / "v6.db"
    conn = sqlite3.connect(path, isolation_level=None)
    store_schema.current_version(conn)
    for migration in store_schema.MIGRATIONS[:6]:
        migration(conn)
    conn.execute("INSERT INTO schema_version(version) VALUES (6)")
    conn.executemany("INSERT INTO messages(client_msg_id, conversation_id, seq, content_type, content, search_text) "
                     "VALUES (?, ?, ?, 101, ?, ?)",
                     [(f"v6-{n}", SI, n, json.dumps({"content": f"legacy {n}"}), f"legacy {n}") for n in (1, 2, 3)]
                     + [("v6-unsent", SI, 0, json.dumps({"content": "unsent"}), "unsent")])
    conn.execute("INSERT INTO fts_pending(id) SELECT id FROM messages")  # as a v6 LocalStore queued them
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "messages_conv_seq_all" in indexes
    conn.close()
    with LocalStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION >= 7
        indexes = {r[0] for r in s._query("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "messages_conv_seq_all" not in indexes and {"messages_conv_seq", "messages_conv_time"} <= indexes
        assert [m.client_msg_id for m in s.messages(SI)] == ["v6-1", "v6-2", "v6-3", "v6-unsent"]
        assert [m.seq for m in s.messages(SI, before_seq=3)] == [1, 2]
        assert [m.seq for m in s.messages(SI, after_seq=1)] == [2, 3]
        assert s.held_seqs(SI) == [1, 2, 3] and s.max_seqs() == {SI: 3}
        assert [m.client_msg_id for m in s.search("legacy 2")] == ["v6-2"]
        s.upsert_messages([text_msg("new", 4, "fresh")])
        assert [m.seq for m in s.messages(SI)][-2:] == [4, 0]
        # every by-seq lookup is served by the one (conversation_id, seq) index
        for sql, args in (("SELECT id FROM messages WHERE conversation_id = ? AND seq > 0 AND seq = ?", (SI, 2)),
                          ("SELECT seq FROM messages WHERE conversation_id = ? AND seq > 0 AND seq BETWEEN ? AND ?",
                           (SI, 1, 3))):
            plan = " ".join(r[3] for r in s._query("EXPLAIN QUERY PLAN " + sql, args))
            assert "messages_conv_seq" in plan, plan


def test_rows_built_from_the_insert_values_are_the_rows_read_back(store):
    from openim_sdk.store.local import _INSERT_COLUMNS, _MSG_COLUMNS

    assert _MSG_COLUMNS == (*_INSERT_COLUMNS[:13], *_INSERT_COLUMNS[14:21], "local_ex", "raw")
    page = [text_msg(f"b{i}", i, f"bulk {i}", sender=ME if i % 2 else PEER, send_time=500 + i) for i in range(1, 6)]
    page[2].isRead, page[3].attachedInfo, page[4].ex, page[1].senderFaceURL = True, "att", "ex4", "face"
    built = store.upsert_messages(page, SI)  # the bulk path: rows built from the values, not read back
    assert [r.client_msg_id for r in built] == [f"b{i}" for i in range(1, 6)]
    assert built == [store.message(f"b{i}") for i in range(1, 6)]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    LocalStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        LocalStore(path)


def test_upsert_is_idempotent_and_pages_newest_first(store):
    msgs = [text_msg(f"c{i}", i, f"hello {i}") for i in range(1, 8)]
    new = store.upsert_messages(msgs)
    assert [m.seq for m in new] == list(range(1, 8))
    assert new[0].conversation_id == SI and new[0].content == '{"content": "hello 1"}'
    assert store.upsert_messages(msgs) == []
    page = store.messages(SI, limit=3)
    assert [m.seq for m in page] == [5, 6, 7]
    older = store.messages(SI, before_seq=5, limit=3)
    assert [m.seq for m in older] == [2, 3, 4]
    assert [m.seq for m in store.messages(SI, before_seq=2)] == [1]
    assert store.message("c3").to_msg() == msgs[2]
    assert store.max_seqs() == {SI: 7}


def test_ack_and_push_merge_into_one_row(store):
    local = text_msg("mine", 0, "sent by me", sender=ME, send_time=0)
    (row,) = store.upsert_messages([local], SI)
    assert row.seq == 0 and row.status == 1
    store.upsert_messages([text_msg("p1", 1, "before")], SI)
    # seq-0 rows come last on the newest page
    assert [m.client_msg_id for m in store.messages(SI)] == ["p1", "mine"]
    pushed = text_msg("mine", 2, "sent by me", sender=ME)
    assert store.upsert_messages([pushed], SI) == []
    got = store.message("mine")
    assert (got.seq, got.status, got.server_msg_id, got.send_time) == (2, 2, "srv-mine", 1002)
    assert [m.client_msg_id for m in store.messages(SI)] == ["p1", "mine"]
    # a stale seq-less copy does not undo it; another seq for the same id is ignored
    store.upsert_messages([local], SI)
    store.upsert_messages([text_msg("mine", 9, "x", sender=ME)], SI)
    assert store.message("mine").seq == 2
    assert store.max_seqs() == {SI: 2}


def test_merge_sent_without_full_message(store):
    store.upsert_messages([text_msg("m0", 0, "hi", sender=ME)], SI)
    assert store.merge_sent("m0", 5, "srv", 4242)
    got = store.message("m0")
    assert (got.seq, got.server_msg_id, got.send_time, got.status) == (5, "srv", 4242, 2)
    assert not store.merge_sent("unknown", 6, "srv", 1)
    store.set_message_status("m0", 3)
    assert store.message("m0").status == 3


def test_placeholders_and_seq_conflicts(store):
    store.upsert_messages([sdkws_pb2.MsgData(seq=3, status=4)], SI)
    assert store.messages(SI) == []
    assert [m.client_msg_id for m in store.messages(SI, include_deleted=True)] == [f"[SEQ_GAP_3]{SI}"]
    # the real message for seq 3 replaces the placeholder
    (new,) = store.upsert_messages([text_msg("real3", 3, "found")], SI)
    assert new.client_msg_id == "real3"
    assert [m.client_msg_id for m in store.messages(SI, include_deleted=True)] == ["real3"]
    # another message claiming seq 3 is a duplicate
    assert store.upsert_messages([text_msg("impostor", 3, "x")], SI) == []
    assert store.message("impostor") is None
    # server-side refresh of the same seq (revoke rewrite)
    revoked = text_msg("real3", 3, "")
    revoked.contentType = 2101
    revoked.content = b'{"detail":"{}"}'
    store.upsert_messages([revoked], SI)
    assert store.message("real3").content_type == 2101
    assert store.search("found") == []


def test_conversation_id_is_derived_from_message(store):
    g = text_msg("g1", 1, "group hi")
    g.sessionType, g.groupID, g.recvID = 3, "g1", ""
    n = text_msg("n1", 1, "note")
    n.options["isNotNotification"] = False
    store.upsert_messages([g, n])
    assert store.message("g1").conversation_id == SG
    assert store.message("n1").conversation_id == "n_u1_u2"


def test_search_fts_and_like_fallback(store, tmp_path):
    store.upsert_messages(
        [
            text_msg("a", 1, "Hello World"),
            text_msg("b", 2, "another hello there"),
            text_msg("c", 3, "nothing"),
            text_msg("d", 4, "100% sure_thing"),
            text_msg("e", 5, "你好世界"),
        ],
        SI,
    )
    g = text_msg("g", 1, "hello group", send_time=500)
    g.sessionType, g.groupID = 3, "g1"
    store.upsert_messages([g], SG)
    assert [m.client_msg_id for m in store.search("hello")] == ["b", "a", "g"]
    assert [m.client_msg_id for m in store.search("HELLO", conversation_id=SG)] == ["g"]
    assert [m.client_msg_id for m in store.search("llo wor")] == ["a"]  # substring
    assert [m.client_msg_id for m in store.search("你好")] == ["e"]  # short: LIKE path
    assert [m.client_msg_id for m in store.search("%")] == ["d"]  # escaped
    assert [m.client_msg_id for m in store.search('"quoted')] == []
    assert store.search("  ") == []
    assert len(store.search("hello", limit=1)) == 1
    # updates keep the index in sync
    edited = text_msg("c", 3, "now hello too")
    store.upsert_messages([edited], SI)
    assert "c" in [m.client_msg_id for m in store.search("hello")]
    store.clear_messages(SI)
    assert [m.client_msg_id for m in store.search("hello")] == ["g"]
    # a store without FTS falls back to LIKE
    store.fts_mode = "none"
    assert [m.client_msg_id for m in store.search("hello")] == ["g"]


def test_conversation_from_messages_unread_and_read(store):
    c = record_message(store, SI, text_msg("a", 1, "one"), ME)
    assert (c.conversation_type, c.user_id, c.unread_count, c.max_seq) == (1, PEER, 1, 1)
    assert c.latest_msg_preview == "one" and c.latest_msg_client_id == "a"
    c = record_message(store, SI, text_msg("b", 2, "two"), ME)
    assert c.unread_count == 2
    # replay of an old seq does not count again
    c = record_message(store, SI, text_msg("a", 1, "one"), ME)
    assert c.unread_count == 2 and c.latest_msg_client_id == "b"
    # unreadCount=false does not count
    quiet = text_msg("q", 3, "quiet")
    quiet.options["unreadCount"] = False
    assert record_message(store, SI, quiet, ME).unread_count == 2
    assert store.unread_counts() == {SI: 2} and store.total_unread() == 2
    store.upsert_messages([text_msg("a", 1, "one"), text_msg("b", 2, "two")], SI)
    assert store.mark_read(SI, 2) == 1
    assert all(m.is_read for m in store.messages(SI))
    assert store.mark_read(SI) == 0
    # own message marks read
    record_message(store, SI, text_msg("x", 4, "x"), ME)
    c = record_message(store, SI, text_msg("mine", 5, "reply", sender=ME), ME)
    assert (c.unread_count, c.has_read_seq) == (0, 5)
    store.set_read_seqs([(SI, 5, 9), (SG, 0, 3)])
    assert store.unread_counts() == {SI: 4, SG: 3}
    assert store.mark_read("si_unknown") == 0


def test_conversation_crud_and_ordering(store):
    store.upsert_conversations(
        [
            Conversation("si_u1_a", 1, user_id="a", show_name="A", latest_msg_send_time=10),
            Conversation("si_u1_b", 1, user_id="b", show_name="B", latest_msg_send_time=30),
            Conversation(SG, 3, group_id="g1", show_name="G", latest_msg_send_time=20, is_pinned=True),
        ]
    )
    assert [c.conversation_id for c in store.conversations()] == [SG, "si_u1_b", "si_u1_a"]
    store.set_draft("si_u1_a", "draft text", 40)
    assert [c.conversation_id for c in store.conversations()] == [SG, "si_u1_a", "si_u1_b"]
    c = store.update_conversation("si_u1_a", show_name="Alice", recv_msg_opt=2)
    assert c.show_name == "Alice" and c.draft == "draft text" and c.recv_msg_opt == 2
    with pytest.raises(ValueError):
        store.update_conversation("si_u1_a", nope=1)
    store.upsert_messages([text_msg("z", 1, "z")], "si_u1_a")
    store.delete_conversation("si_u1_a", with_messages=True)
    assert store.conversation("si_u1_a") is None and store.message("z") is None


def test_max_seqs_versions(store):
    store.upsert_messages([text_msg("a", 4, "x")], SI)
    store.set_max_seqs({"n_u1_u1": 12, SI: 2})
    assert store.max_seqs() == {SI: 4, "n_u1_u1": 12}
    store.set_max_seq(SI, 9)
    assert store.max_seqs()[SI] == 9
    assert store.clear_messages(SI, above_seq=3) == 1
    assert store.max_seqs()[SI] == 3
    assert store.get_version("friends") is None
    store.set_version("friends", "vid", 3)
    store.set_version("group_members", "v2", 7, entity_id="g1")
    assert store.get_version("friends").version == 3
    assert store.get_version("group_members", "g1").version_id == "v2"
    store.set_version("friends", "vid", 4)
    assert store.get_version("friends").version == 4
    store.delete_version("friends")
    assert store.get_version("friends") is None


def test_relations(store):
    store.upsert_users([sdkws_pb2.UserInfo(userID="u2", nickname="Bob"), sdkws_pb2.UserInfo(userID="u3")])
    store.upsert_users([sdkws_pb2.UserInfo(userID="u2", nickname="Bobby")])
    assert [u.nickname for u in store.users()] == ["Bobby", ""]
    assert store.user("u2").nickname == "Bobby" and store.user("zz") is None
    store.upsert_friends(
        [
            sdkws_pb2.FriendInfo(ownerUserID=ME, remark="b", friendUser=sdkws_pb2.UserInfo(userID="u2")),
            sdkws_pb2.FriendInfo(ownerUserID=ME, isPinned=True, friendUser=sdkws_pb2.UserInfo(userID="u3")),
        ]
    )
    assert [f.friendUser.userID for f in store.friends(ME)] == ["u3", "u2"]
    store.delete_friends(["u3"], ME)
    assert [f.friendUser.userID for f in store.friends()] == ["u2"]
    store.upsert_groups([sdkws_pb2.GroupInfo(groupID="g1", groupName="G")])
    assert store.group("g1").groupName == "G" and [g.groupID for g in store.groups()] == ["g1"]
    store.upsert_group_members(
        [
            sdkws_pb2.GroupMemberFullInfo(groupID="g1", userID="m1", roleLevel=20, joinTime=1),
            sdkws_pb2.GroupMemberFullInfo(groupID="g1", userID="own", roleLevel=100, joinTime=5),
            sdkws_pb2.GroupMemberFullInfo(groupID="g1", userID="m2", roleLevel=20, joinTime=0),
        ]
    )
    assert [m.userID for m in store.group_members("g1")] == ["own", "m2", "m1"]
    store.delete_group_members("g1", ["m2"])
    assert [m.userID for m in store.group_members("g1")] == ["own", "m1"]
    store.delete_groups(["g1"])
    assert store.groups() == [] and store.group_members("g1") == []


def test_threads_share_one_store(store):
    errors: list[BaseException] = []

    def work(k: int) -> None:
        try:
            for i in range(30):
                store.upsert_messages([text_msg(f"t{k}-{i}", 0, f"thread {k}")], SI)
                store.messages(SI, limit=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.messages(SI, limit=1000)) == 120


def test_text_helpers():
    assert search_text(101, '{"content":"hi"}') == "hi"
    assert search_text(105, '{"fileName":"a.pdf"}') == "a.pdf"
    assert search_text(102, "{}") == "" and search_text(101, "not json") == ""
    assert preview_text(102, "{}") == "[Picture]"
    assert preview_text(105, '{"fileName":"a.pdf"}') == "[File] a.pdf"
    assert preview_text(1501, '{"detail":"{}"}') == "[Notification]"
    assert preview_text(101, '{"content":"a\\n  b"}') == "a b"


def _search_text_by_json_loads(content_type: int, content: str) -> str:
    """The rule as first written (json.loads, then the keys): the reference for the fast path."""
    from openim_sdk.store.text import _TEXT_KEYS

    keys = _TEXT_KEYS.get(content_type)
    if not keys:
        return ""
    try:
        obj = json.loads(content) if content else {}
    except ValueError:
        obj = {}
    if not isinstance(obj, dict):
        obj = {}
    return " ".join(str(obj[k]) for k in keys if isinstance(obj.get(k), str | int | float) and obj[k] != "")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6)
_keyed = st.fixed_dictionaries({}, optional={k: _json_values for k in ("content", "text", "description", "data")})


@settings(max_examples=500, deadline=None)
@given(content_type=st.sampled_from([101, 106, 110, 114, 102]),
       body=st.one_of(_keyed.map(json.dumps), _keyed.map(json.dumps), _json_values.map(json.dumps),
                      st.text(max_size=20)),
       pad=st.sampled_from(["", " ", "\n", "x", "}", "\ufeff"]), where=st.sampled_from(["before", "after"]))
def test_search_text_is_exactly_the_json_loads_rule(content_type, body, pad, where):
    content = pad + body if where == "before" else body + pad
    assert search_text(content_type, content) == _search_text_by_json_loads(content_type, content)


def test_pages_after_a_seq(tmp_path):
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2
    from openim_sdk.store import LocalStore

    store = LocalStore(tmp_path / "s.sqlite3")
    msgs = [sdkws_pb2.MsgData(clientMsgID=f"c{i}", sendID="a", recvID="b", sessionType=1, contentType=101,
                              content=b'{"content":"x"}', seq=i, sendTime=i) for i in range(1, 21)]
    store.upsert_messages(msgs, "si_a_b")
    assert [m.seq for m in store.messages("si_a_b", after_seq=5, limit=3)] == [6, 7, 8]
    assert [m.seq for m in store.messages("si_a_b", before_seq=5, limit=3)] == [2, 3, 4]
    assert [m.seq for m in store.messages("si_a_b", limit=3)] == [18, 19, 20]
    assert store.messages("si_a_b", after_seq=20) == []
    store.close()


def test_merge_conversation_keeps_message_state(tmp_path):
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2
    from openim_sdk.store import LocalStore

    store = LocalStore(tmp_path / "m.sqlite3")
    msg = sdkws_pb2.MsgData(clientMsgID="c1", sendID="b", recvID="a", sessionType=1, contentType=101,
                            content=b'{"content":"hi"}', seq=1, sendTime=5)
    store.upsert_messages([msg], "si_a_b")
    record_message(store, "si_a_b", msg, "a")
    merged = store.merge_conversation("si_a_b", conversation_type=1, user_id="b", is_pinned=True)
    assert (merged.unread_count, merged.max_seq, merged.latest_msg_preview, merged.is_pinned) == (1, 1, "hi", True)
    fresh = store.merge_conversation("si_a_c", conversation_type=1, user_id="c")
    assert (fresh.user_id, fresh.unread_count) == ("c", 0)
    store.close()
