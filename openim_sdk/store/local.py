"""``LocalStore``: the on-disk cache of one logged-in user (stdlib sqlite3).

Concurrency model
-----------------
* One connection per ``LocalStore``, guarded by a re-entrant lock, so the object can be used
  from any thread (async callers use ``asyncio.to_thread``).
* WAL journal: readers never block the writer and vice versa, across processes (the CLI and
  the TUI may open the same data dir at once).
* ``busy_timeout``: a writer waits for another process's write transaction instead of failing.
* Every write is one short ``BEGIN IMMEDIATE`` transaction: the write lock is taken up front,
  so a transaction never has to upgrade a read snapshot to a write (the case where SQLite
  returns "database is locked" at once, whatever the timeout).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

from ..protocol.constants import ContentType, MsgStatus, is_notification_message
from ..protocol.conversation_id import conversation_id_for, is_notification_conversation
from ..protocol.pb.sdkws import sdkws_pb2
from . import schema
from .conversations import ConversationStore
from .outgoing import OutgoingMessages, WriteBehind
from .queries import MessageQueries
from .relations import RelationStore
from .search import SearchIndex
from .seqs import SeqState
from .text import preview_text, search_text

_SEQ_ZERO_LAST = 1 << 62


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One row of ``messages``. ``raw`` is the full MsgData as received (protobuf bytes)."""

    client_msg_id: str
    conversation_id: str
    server_msg_id: str
    send_id: str
    recv_id: str
    group_id: str
    sender_nickname: str
    sender_face_url: str
    sender_platform_id: int
    session_type: int
    msg_from: int
    content_type: int
    content: str
    seq: int
    send_time: int
    create_time: int
    status: int
    is_read: bool
    attached_info: str
    ex: str
    local_ex: str
    raw: bytes | None

    def to_msg(self) -> sdkws_pb2.MsgData:
        """The MsgData (from ``raw`` when present, with the row's current mutable fields)."""
        msg = sdkws_pb2.MsgData()
        if self.raw:
            msg.ParseFromString(self.raw)
        msg.clientMsgID = self.client_msg_id
        msg.serverMsgID = self.server_msg_id
        msg.sendID, msg.recvID, msg.groupID = self.send_id, self.recv_id, self.group_id
        msg.sessionType, msg.msgFrom, msg.contentType = self.session_type, self.msg_from, self.content_type
        msg.content = self.content.encode()
        msg.seq, msg.sendTime, msg.createTime = self.seq, self.send_time, self.create_time
        msg.status, msg.isRead, msg.ex = self.status, self.is_read, self.ex
        return msg


_MSG_COLUMNS = tuple(f.name for f in fields(StoredMessage))
#: The columns a message write sets (every ``StoredMessage`` field but ``local_ex``, and ``search_text``).
_INSERT_COLUMNS = (
    "client_msg_id", "conversation_id", "server_msg_id", "send_id", "recv_id", "group_id", "sender_nickname",
    "sender_face_url", "sender_platform_id", "session_type", "msg_from", "content_type", "content", "search_text",
    "seq", "send_time", "create_time", "status", "is_read", "attached_info", "ex", "raw",
)
_INSERT_SQL = (f"INSERT INTO messages ({', '.join(_INSERT_COLUMNS)}) "
               f"VALUES ({', '.join('?' for _ in _INSERT_COLUMNS)})")
_INSERT_OR_IGNORE_SQL = _INSERT_SQL.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1)
_STATUS_AT = _INSERT_COLUMNS.index("status")


def _stored_from_values(values: tuple[Any, ...]) -> StoredMessage:
    """The row just inserted from ``values`` (``_INSERT_COLUMNS`` order), without reading it back:
    the fields in order (``search_text`` left out, ``local_ex`` empty), no name lookups."""
    v = values
    return StoredMessage(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[14],
                         v[15], v[16], v[17], bool(v[18]), v[19], v[20], "", v[21])


def _is_placeholder_id(client_msg_id: str) -> bool:
    return client_msg_id.startswith("[SEQ_GAP_")


def _bulk_candidate(m: sdkws_pb2.MsgData, counts: dict[str, int], seq_counts: dict[int, int]) -> bool:
    """Whether a message of a page may go in with the page's one insert (numbered, a real ID,
    neither its ID nor its seq twice in the page)."""
    cmid = m.clientMsgID
    return bool(cmid) and not _is_placeholder_id(cmid) and m.seq > 0 and counts[cmid] == 1 and seq_counts[m.seq] == 1


class LocalStore(ConversationStore, MessageQueries, RelationStore, SearchIndex, SeqState, OutgoingMessages):
    """The local SQLite cache. Thread-safe; safe to share a file between processes."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 15_000) -> None:
        self.path = os.fspath(path)
        self._lock = threading.RLock()
        self._tx_depth = 0  # > 0 while the lock holder is inside a write transaction
        self._busy_timeout_ms = busy_timeout_ms
        if self.path != ":memory:":
            parent = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(parent, exist_ok=True)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            self.path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._writes = WriteBehind(self, self._lock, self._write, self._busy_wait)  # see store/outgoing.py
        self._setup()

    # ------------------------------------------------------------------ plumbing

    def _retry_locked(self, fn: Any) -> Any:
        """Run a setup step, retrying while another process holds a lock SQLite won't wait on."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                transient = "locked" in str(exc) or "busy" in str(exc)
                if not transient or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.1)

    def _setup(self) -> None:
        conn = self._db
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
        if self.path != ":memory:":
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                self._retry_locked(lambda: conn.execute("PRAGMA journal_mode = WAL").fetchone())
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self.schema_version: int = self._retry_locked(lambda: schema.migrate(conn))
        row = conn.execute("SELECT value FROM meta WHERE key = 'fts'").fetchone()
        self.fts_mode: str = row[0] if row else "none"

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("LocalStore is closed")
        return self._conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._db
            if self._tx_depth:  # inside transaction(): part of the caller's one commit
                self._tx_depth += 1
                try:
                    yield conn
                finally:
                    self._tx_depth -= 1
                return
            if self._writes.pending:
                self._writes.apply()
            conn.execute("BEGIN IMMEDIATE")
            self._tx_depth = 1
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                self._tx_depth = 0
            conn.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Several writes (and reads) as one transaction and one commit: every write method
        called inside joins it; an exception rolls all of them back. Blocking, like every
        method here; other threads wait until it ends."""
        with self._write():
            yield

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            if self._writes.pending and not self._tx_depth:
                self._writes.apply()
            return self._db.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        if self._conn is not None:
            self._writes.close()  # what is queued is committed first
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("PRAGMA optimize")
                except sqlite3.Error:
                    pass
                self._conn.close()
                self._conn = None

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ messages

    @staticmethod
    def conversation_id_of(msg: sdkws_pb2.MsgData) -> str:
        return conversation_id_for(
            msg.sessionType,
            msg.sendID,
            msg.recvID,
            msg.groupID,
            notification=is_notification_message(msg.options),
        )

    @staticmethod
    def _row_tuple(cid: str, cmid: str, m: sdkws_pb2.MsgData) -> tuple[Any, ...]:
        """The ``messages`` values of ``m``, in ``_INSERT_COLUMNS`` order."""
        content = m.content.decode("utf-8", errors="replace")
        status = m.status
        return (
            cmid, cid, m.serverMsgID, m.sendID, m.recvID, m.groupID, m.senderNickname, m.senderFaceURL,
            m.senderPlatformID, m.sessionType, m.msgFrom, m.contentType, content,
            "" if status == MsgStatus.DELETED else search_text(m.contentType, content),
            m.seq, m.sendTime, m.createTime, status, int(m.isRead), m.attachedInfo, m.ex,
            m.SerializeToString(deterministic=True),
        )

    @classmethod
    def _row_values(cls, cid: str, cmid: str, m: sdkws_pb2.MsgData) -> dict[str, Any]:
        return dict(zip(_INSERT_COLUMNS, cls._row_tuple(cid, cmid, m), strict=True))

    @staticmethod
    def _to_stored(row: sqlite3.Row) -> StoredMessage:
        values = {k: row[k] for k in _MSG_COLUMNS}
        values["is_read"] = bool(values["is_read"])
        return StoredMessage(**values)

    def _free_seq_slot(self, conn: sqlite3.Connection, cid: str, seq: int, cmid: str) -> bool:
        """Make (cid, seq) available for ``cmid``: a placeholder there is replaced; a real
        message there means the incoming one is a duplicate (returns False)."""
        other = conn.execute(
            "SELECT id, client_msg_id FROM messages WHERE conversation_id = ? AND seq > 0 AND seq = ?", (cid, seq)
        ).fetchone()
        if other is None or other["client_msg_id"] == cmid:
            return True
        if _is_placeholder_id(other["client_msg_id"]):
            conn.execute("DELETE FROM messages WHERE id = ?", (other["id"],))
            return True
        return False

    def upsert_messages(
        self, msgs: Iterable[sdkws_pb2.MsgData], conversation_id: str | None = None
    ) -> list[StoredMessage]:
        """Insert or merge messages; returns the rows that are new (not placeholders), in the
        order given. See :meth:`_upsert` for the rules."""
        given = list(msgs)
        fresh, new_ids = self._upsert(given, conversation_id)
        rows = [_stored_from_values(v) for v in fresh]
        rows += [m for m in (self.message(i) for i in new_ids) if m is not None]
        if fresh and new_ids:  # in the order given (the bulk part went first)
            pos = {m.clientMsgID: i for i, m in enumerate(given)}
            rows.sort(key=lambda r: pos.get(r.client_msg_id, len(pos)))
        return rows

    def store_page(self, msgs: Iterable[sdkws_pb2.MsgData], conversation_id: str) -> set[str]:
        """:meth:`upsert_messages` for a page nobody reads back (history): the clientMsgIDs of
        the new rows, without building the rows."""
        fresh, new_ids = self._upsert(list(msgs), conversation_id)
        return {v[0] for v in fresh} | set(new_ids)

    def _upsert(
        self, msgs: list[sdkws_pb2.MsgData], conversation_id: str | None
    ) -> tuple[list[tuple[Any, ...]], list[str]]:
        """Insert or merge messages: (values of rows inserted in bulk, IDs of other new rows).

        Idempotent by clientMsgID. A row without a seq (sent from this device) receives the
        seq, serverMsgID, sendTime and status of an incoming copy that has one. A copy with the
        same seq refreshes the server-side fields (content after a revoke, isRead, status).
        Seq-less status-4 placeholders are stored under ``[SEQ_GAP_<seq>]<conversationID>``.
        A different message claiming an occupied (conversation, seq) is ignored.
        """
        new_ids: list[str] = []
        with self._write() as conn:
            fresh: list[tuple[Any, ...]] = []
            if conversation_id is not None and len(msgs) > 1:
                fresh, msgs = self._insert_new(conn, msgs, conversation_id)
            for m in msgs:
                cid = conversation_id or self.conversation_id_of(m)
                cmid = m.clientMsgID
                if not cmid:
                    if m.seq <= 0:
                        continue
                    cmid = f"[SEQ_GAP_{m.seq}]{cid}"
                row = conn.execute(
                    "SELECT id, seq, content_type, status, conversation_id FROM messages WHERE client_msg_id = ?",
                    (cmid,),
                ).fetchone()
                if row is not None and row["conversation_id"] != cid and (
                        is_notification_conversation(cid) or is_notification_conversation(row["conversation_id"])):
                    # the same tip in a notification conversation and in a chat (the server stores an
                    # isSendMsg notification twice under one clientMsgID): the chat copy keeps the ID,
                    # the notification copy is kept under "<clientMsgID>@<its conversation>"
                    if is_notification_conversation(cid):
                        cmid = _notification_copy_id(cmid, cid)
                    else:
                        conn.execute("UPDATE messages SET client_msg_id = ? WHERE id = ?",
                                     (_notification_copy_id(cmid, row["conversation_id"]), row["id"]))
                    row = conn.execute(
                        "SELECT id, seq, content_type, status, conversation_id FROM messages WHERE client_msg_id = ?",
                        (cmid,),
                    ).fetchone()
                values = self._row_values(cid, cmid, m)
                if row is None:
                    if m.seq > 0 and not self._free_seq_slot(conn, cid, m.seq, cmid):
                        continue
                    cols = ", ".join(values)
                    marks = ", ".join("?" for _ in values)
                    cur = conn.execute(f"INSERT INTO messages ({cols}) VALUES ({marks})", tuple(values.values()))
                    if self.fts_enabled:
                        conn.execute("INSERT OR IGNORE INTO fts_pending(id) VALUES (?)", (cur.lastrowid,))
                    if m.status != MsgStatus.DELETED and not _is_placeholder_id(cmid):
                        new_ids.append(cmid)
                    continue
                old_seq = int(row["seq"])
                if old_seq and m.seq and old_seq != m.seq:
                    continue  # same clientMsgID under another seq: keep the first
                if old_seq and not m.seq:
                    continue  # a stale local (seq-less) copy of a row the server numbered
                if m.seq and not old_seq and not self._free_seq_slot(conn, cid, m.seq, cmid):
                    continue
                if not m.serverMsgID:
                    values.pop("server_msg_id")
                if not m.sendTime:
                    values.pop("send_time")
                if not m.createTime:
                    values.pop("create_time")
                if row["content_type"] == ContentType.MSG_REVOKE_NOTIFICATION != m.contentType:
                    for k in ("content_type", "content", "search_text"):  # a revoke is final: a copy
                        values.pop(k)  # made before it (a late reply, a history page) keeps it
                if row["status"] == MsgStatus.DELETED and not _is_placeholder_id(cmid):
                    values.pop("status")  # so is a delete
                values.pop("client_msg_id")
                sets = ", ".join(f"{k} = ?" for k in values)
                conn.execute(f"UPDATE messages SET {sets} WHERE id = ?", (*values.values(), row["id"]))
        return fresh, new_ids

    def _insert_new(
        self, conn: sqlite3.Connection, msgs: list[sdkws_pb2.MsgData], cid: str
    ) -> tuple[list[tuple[Any, ...]], list[sdkws_pb2.MsgData]]:
        """The bulk part of :meth:`upsert_messages` (a pulled page): the numbered messages whose
        clientMsgID is not cached anywhere and whose seq is free in ``cid`` are inserted with one
        ``executemany`` (their values are returned, deleted ones left out); the rest (merges,
        duplicates, placeholders, seq clashes) are handed back, in order, to the message-by-message
        rules.

        The two UNIQUE indexes (clientMsgID; conversation + seq) are the check: the page goes in
        with ``INSERT OR IGNORE``, so a message already cached or at a taken seq is skipped there
        (and handed back) -- one index descent per message, not a lookup and then an insert. Only a
        page where something was skipped is read back to find out what."""
        counts: dict[str, int] = {}
        seq_counts: dict[int, int] = {}
        for m in msgs:
            counts[m.clientMsgID] = counts.get(m.clientMsgID, 0) + 1
            seq_counts[m.seq] = seq_counts.get(m.seq, 0) + 1
        bulk: list[tuple[Any, ...]] = []
        rest: list[sdkws_pb2.MsgData] = []
        row = self._row_tuple
        for m in msgs:
            if _bulk_candidate(m, counts, seq_counts):
                bulk.append(row(cid, m.clientMsgID, m))
            else:
                rest.append(m)
        if not bulk:
            return [], rest
        top = conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        inserted = conn.executemany(_INSERT_OR_IGNORE_SQL, bulk).rowcount
        if inserted != len(bulk):  # some were cached already or clash at their seq: the rules decide
            new = {r[0] for r in conn.execute("SELECT client_msg_id FROM messages WHERE id > ?", (top,))}
            skipped = {v[0] for v in bulk if v[0] not in new}
            bulk = [v for v in bulk if v[0] in new]
            rest = [m for m in msgs if m.clientMsgID in skipped or not _bulk_candidate(m, counts, seq_counts)]
        if bulk and self.fts_enabled:  # the new rows are exactly those above the old top (we hold the lock)
            conn.execute("INSERT OR IGNORE INTO fts_pending(id) SELECT id FROM messages WHERE id > ?", (top,))
        return [v for v in bulk if v[_STATUS_AT] != MsgStatus.DELETED], rest

    def merge_sent(
        self,
        client_msg_id: str,
        seq: int,
        server_msg_id: str,
        send_time: int,
        status: int = MsgStatus.SEND_SUCCESS,
    ) -> bool:
        """Give a locally sent row its server identity (a sync ``Merge`` without full data)."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT id, conversation_id, seq FROM messages WHERE client_msg_id = ?", (client_msg_id,)
            ).fetchone()
            if row is None or (row["seq"] and row["seq"] != seq):
                return False
            if seq and not self._free_seq_slot(conn, row["conversation_id"], seq, client_msg_id):
                return False
            conn.execute(
                "UPDATE messages SET seq = ?, server_msg_id = ?, send_time = ?, status = ? WHERE id = ?",
                (seq, server_msg_id, send_time, status, row["id"]),
            )
            return True

    def unsent_message_ids(self, send_id: str) -> list[str]:
        """clientMsgIDs of ``send_id``'s messages still waiting to be sent (status sending, no seq),
        oldest first: the offline outbox, which survives restarts."""
        rows = self._query(
            "SELECT client_msg_id FROM messages WHERE send_id = ? AND status = ? AND seq = 0 "
            "ORDER BY create_time, id",
            (send_id, int(MsgStatus.SENDING)),
        )
        return [r["client_msg_id"] for r in rows]

    def set_message_status(self, client_msg_id: str, status: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE messages SET status = ? WHERE client_msg_id = ?", (status, client_msg_id))

    def mark_deleted(self, conversation_id: str, seqs: Iterable[int]) -> list[StoredMessage]:
        """Mark the messages at these seqs deleted (a delete notification); returns those found."""
        wanted = sorted({int(s) for s in seqs if s > 0})
        if not wanted:
            return []
        marks = ", ".join("?" for _ in wanted)
        with self._write() as conn:
            conn.execute(
                f"UPDATE messages SET status = ?, search_text = '' WHERE conversation_id = ? AND seq > 0 AND seq IN ({marks})",
                (int(MsgStatus.DELETED), conversation_id, *wanted),
            )
            rows = conn.execute(
                f"SELECT * FROM messages WHERE conversation_id = ? AND seq > 0 AND seq IN ({marks})", (conversation_id, *wanted)
            ).fetchall()
        return [self._to_stored(r) for r in rows]

    def set_local_ex(self, client_msg_id: str, local_ex: str) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE messages SET local_ex = ? WHERE client_msg_id = ?", (local_ex, client_msg_id)
            )

    def message(self, client_msg_id: str) -> StoredMessage | None:
        rows = self._query("SELECT * FROM messages WHERE client_msg_id = ?", (client_msg_id,))
        return self._to_stored(rows[0]) if rows else None

    def messages(
        self,
        conversation_id: str,
        before_seq: int | None = None,
        limit: int = 50,
        *,
        after_seq: int | None = None,
        include_deleted: bool = False,
    ) -> list[StoredMessage]:
        """A page of a conversation, ascending by seq.

        Default: the newest ``limit`` messages, those not yet numbered (seq 0: sending/failed)
        last. ``before_seq``: the newest ``limit`` below it. ``after_seq``: the oldest ``limit``
        above it (paging back down towards the newest).
        """
        where = ["conversation_id = ?"]
        params: list[Any] = [conversation_id]
        if not include_deleted:
            where.append("status != ?")
            params.append(int(MsgStatus.DELETED))
        if after_seq is not None:
            where.append("seq > 0 AND seq > ?" if after_seq >= 0 else "seq > ?")  # (the partial index)
            params.append(after_seq)
            order, flip = "seq ASC", False
        elif before_seq is not None:
            where.append("seq > 0 AND seq < ?")
            params.append(before_seq)
            order, flip = "seq DESC", True  # served by the (conversation_id, seq) index
        else:
            order = f"CASE WHEN seq = 0 THEN {_SEQ_ZERO_LAST} ELSE seq END DESC, create_time DESC, id DESC"
            flip = True
        params.append(max(0, limit))
        rows = self._query(f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?", params)
        if flip:
            rows.reverse()
        return [self._to_stored(r) for r in rows]

    def clear_messages(self, conversation_id: str, above_seq: int = 0) -> int:
        """Delete a conversation's messages with seq > ``above_seq`` (all when 0). Returns count."""
        with self._write() as conn:
            if above_seq > 0:
                cur = conn.execute(
                    "DELETE FROM messages WHERE conversation_id = ? AND seq > 0 AND seq > ?", (conversation_id, above_seq)
                )
            else:
                cur = conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
            conn.execute("DELETE FROM seq_state WHERE conversation_id = ?", (conversation_id,))
            if above_seq > 0:
                conn.execute(
                    "INSERT INTO seq_state(conversation_id, max_seq) VALUES (?, ?)",
                    (conversation_id, above_seq),
                )
            return int(cur.rowcount)

    def rewind_conversation(self, conversation_id: str, server_max: int) -> int:
        """The server's history went back to ``server_max`` (a confirmed sync ``Resync``): drop the
        numbered messages above it (unsent rows stay), and bring the conversation's max seq, read
        seq, unread count and latest message back within it, in one transaction. Returns count."""
        server_max = max(0, server_max)
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM messages WHERE conversation_id = ? AND seq > 0 AND seq > ?", (conversation_id, server_max)
            )
            conn.execute(
                "INSERT INTO seq_state(conversation_id, max_seq) VALUES (?, ?) "
                "ON CONFLICT(conversation_id) DO UPDATE SET max_seq = excluded.max_seq",
                (conversation_id, server_max),
            )
            row = conn.execute(
                "SELECT * FROM conversations WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            if row is None:
                return int(cur.rowcount)
            conv = self._to_conv(row)
            max_seq, has_read = min(conv.max_seq, server_max), min(conv.has_read_seq, server_max)
            changes: dict[str, Any] = {
                "max_seq": max_seq,
                "has_read_seq": has_read,
                "unread_count": min(conv.unread_count, max(0, max_seq - has_read)),
            }
            if conv.latest_msg_client_id and conn.execute(
                "SELECT 1 FROM messages WHERE client_msg_id = ?", (conv.latest_msg_client_id,)
            ).fetchone() is None:
                last = conn.execute(
                    "SELECT client_msg_id, content_type, content, send_time FROM messages "
                    "WHERE conversation_id = ? AND seq > 0 AND status != ? ORDER BY seq DESC LIMIT 1",
                    (conversation_id, int(MsgStatus.DELETED)),
                ).fetchone()
                changes["latest_msg_client_id"] = last["client_msg_id"] if last else ""
                changes["latest_msg"] = ""
                changes["latest_msg_preview"] = preview_text(last["content_type"], last["content"]) if last else ""
                changes["latest_msg_send_time"] = last["send_time"] if last else 0
            sets = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(
                f"UPDATE conversations SET {sets} WHERE conversation_id = ?", (*changes.values(), conversation_id)
            )
            return int(cur.rowcount)

    def held_seqs(self, conversation_id: str) -> list[int]:
        """The seqs of a conversation's numbered messages in the cache, ascending."""
        rows = self._query("SELECT seq FROM messages WHERE conversation_id = ? AND seq > 0 ORDER BY seq",
                           (conversation_id,))
        return [int(r[0]) for r in rows]

    def count_messages(self, conversation_ids: Iterable[str]) -> int:
        """Numbered messages cached in these conversations (placeholders of missing seqs excluded)."""
        ids = list(conversation_ids)
        total = 0
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ", ".join("?" for _ in chunk)
            total += int(self._query(
                f"SELECT count(*) FROM messages WHERE seq > 0 AND client_msg_id NOT LIKE '[SEQ_GAP_%' "
                f"AND conversation_id IN ({marks})", chunk)[0][0])
        return total

def _notification_copy_id(client_msg_id: str, conversation_id: str) -> str:
    """Where a notification conversation's copy of a tip is kept when its chat copy holds the ID."""
    return f"{client_msg_id}@{conversation_id}"
