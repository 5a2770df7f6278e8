"""Messages and seqs repository: ``messages``, ``seqs``, ``msg_user_del``, ``send_status``.

:meth:`MessageRepo.store_messages` assigns seqs inside the transaction and creates the owners'
conversation rows a message needs (recorded in their version logs).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .base import chunks, now_ms
from .conversations import KnownConversations
from .versions import bump_version

_RETURNING = sqlite3.sqlite_version_info >= (3, 35)


@dataclass
class MessageRow:
    conversation_id: str
    seq: int
    data: bytes
    is_read: bool
    revoke: bytes | None


#: One row of a pull page: (seq, data, is_read, revoke, deleted for the reader).
PageRow = tuple[int, bytes, int, "bytes | None", int]

_RANGE_SQL = (
    "SELECT m.seq, m.data, m.is_read, m.revoke, d.seq IS NOT NULL FROM messages AS m "
    "LEFT JOIN msg_user_del AS d ON d.user_id = ? AND d.conversation_id = m.conversation_id AND d.seq = m.seq "
    "WHERE m.conversation_id = ? AND m.seq BETWEEN ? AND ? ORDER BY m.seq")


@dataclass
class MessageSearch:
    """The filters of an admin/user message search (``/msg/search_msg``); empty ones do not filter."""

    send_id: str = ""
    recv_id: str = ""  # the receiver or the group
    content_type: int = 0
    session_type: int = 0
    sent_from: int | None = None  # send_time in [sent_from, sent_until)
    sent_until: int | None = None
    conversation_ids: list[str] | None = None  # None: any conversation

    def where(self) -> tuple[str, tuple[Any, ...]]:
        where: list[str] = ["1=1"]
        params: list[Any] = []
        if self.send_id:
            where.append("send_id = ?")
            params.append(self.send_id)
        if self.recv_id:
            where.append("(recv_id = ? OR group_id = ?)")
            params += [self.recv_id, self.recv_id]
        if self.content_type:
            where.append("content_type = ?")
            params.append(self.content_type)
        if self.session_type:
            where.append("session_type = ?")
            params.append(self.session_type)
        if self.sent_from is not None and self.sent_until is not None:
            where.append("send_time >= ? AND send_time < ?")
            params += [self.sent_from, self.sent_until]
        where.append("conversation_id NOT LIKE 'n\\_%' ESCAPE '\\'")
        if self.conversation_ids is not None:
            ids = self.conversation_ids
            where.append(f"conversation_id IN ({','.join('?' * len(ids))})" if ids else "0")
            params += ids
        return " AND ".join(where), tuple(params)


@dataclass
class OldMessages:
    """The messages sent before a time: their conversations and how many there are."""

    conversation_ids: list[str]
    count: int


def max_seq(conn: sqlite3.Connection, cid: str) -> int:
    """The conversation's current max seq (0 before its first message)."""
    r = conn.execute("SELECT max_seq FROM seqs WHERE conversation_id = ?", (cid,)).fetchone()
    return int(r[0]) if r else 0


_NEXT_SEQ_SQL = (
    "INSERT INTO seqs (conversation_id, max_seq, max_seq_time) VALUES (?, 1, ?) "
    "ON CONFLICT(conversation_id) DO UPDATE SET max_seq = max_seq + 1, max_seq_time = excluded.max_seq_time "
    "RETURNING max_seq")


def next_seq(conn: sqlite3.Connection, cid: str, send_time: int) -> int:
    """Allocate the conversation's next seq (its max seq + 1, recorded with ``send_time``): one
    statement (an upsert with RETURNING, SQLite 3.35+), else a read and an upsert."""
    if _RETURNING:
        return int(conn.execute(_NEXT_SEQ_SQL, (cid, send_time)).fetchone()[0])
    seq = max_seq(conn, cid) + 1
    conn.execute("INSERT INTO seqs (conversation_id, max_seq, max_seq_time) VALUES (?,?,?) "
                 "ON CONFLICT(conversation_id) DO UPDATE SET max_seq = excluded.max_seq, "
                 "max_seq_time = excluded.max_seq_time", (cid, seq, send_time))
    return seq


def last_seq_sent_by(conn: sqlite3.Connection, cid: str, time_ms: int) -> int | None:
    """The highest seq of ``cid`` sent at or before ``time_ms`` (None: none)."""
    r = conn.execute("SELECT MAX(seq) FROM messages WHERE conversation_id = ? AND send_time <= ?",
                     (cid, time_ms)).fetchone()
    return r[0] if r else None


def messages_sent_before(conn: sqlite3.Connection, before_ms: int) -> OldMessages:
    cids = [r[0] for r in conn.execute("SELECT DISTINCT conversation_id FROM messages WHERE send_time < ?",
                                       (before_ms,))]
    count = conn.execute("SELECT COUNT(*) FROM messages WHERE send_time < ?", (before_ms,)).fetchone()[0]
    return OldMessages(cids, int(count))


def seq_info_in(conn: sqlite3.Connection, cids: list[str]) -> dict[str, tuple[int, int, int]]:
    """conversationID -> (max_seq, min_seq, max_seq_time) for those of ``cids`` that have seqs."""
    out = {}
    for chunk in chunks(list(dict.fromkeys(cids))):
        q = ("SELECT conversation_id, max_seq, min_seq, max_seq_time FROM seqs "
             f"WHERE conversation_id IN ({','.join('?' * len(chunk))})")
        for r in conn.execute(q, chunk):
            out[r[0]] = (r[1], r[2], r[3])
    return out


def range_rows(conn: sqlite3.Connection, user_id: str, cid: str, begin: int, end: int) -> list[PageRow]:
    """The stored messages of ``cid`` with ``begin <= seq <= end``, in seq order, each with whether
    ``user_id`` deleted it for themselves: one query, one primary-key range scan (tested with
    EXPLAIN QUERY PLAN in tests/integration/test_pull_fast_path.py)."""
    return conn.execute(_RANGE_SQL, (user_id, cid, begin, end)).fetchall()


def seq_list_rows(conn: sqlite3.Connection, user_id: str, cid: str, seqs: list[int]) -> list[PageRow]:
    """As :func:`range_rows` for a list of seqs (any order; rows come back in seq order)."""
    out: list[PageRow] = []
    for chunk in chunks(seqs):
        q = ("SELECT m.seq, m.data, m.is_read, m.revoke, d.seq IS NOT NULL FROM messages AS m "
             "LEFT JOIN msg_user_del AS d ON d.user_id = ? AND d.conversation_id = m.conversation_id "
             f"AND d.seq = m.seq WHERE m.conversation_id = ? AND m.seq IN ({','.join('?' * len(chunk))})")
        out.extend(conn.execute(q, (user_id, cid, *chunk)))
    out.sort(key=lambda r: r[0])
    return out


@dataclass
class StoreRequest:
    """One message to persist: ``msg.seq`` is assigned inside the transaction.

    ``owners``: (userID, serialized conversation template) rows to create if missing;
    ``reader``: user whose hasReadSeq becomes the new seq (the sender);
    ``idempotent``: when the conversation already holds this sender's ``clientMsgID`` (a resend whose
    ack was lost), nothing is stored: ``msg`` becomes the stored copy and ``duplicate`` is set.
    """

    conversation_id: str
    msg: Any  # sdkws.MsgData
    owners: list[tuple[str, bytes]]
    reader: str = ""
    idempotent: bool = False
    duplicate: bool = False


class MessageRepo:
    """Message/seq half of the storage interface (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]
    read: Callable[..., Any]  # read-only ops: Storage.read (no writer hop)
    known_conversations: KnownConversations  # the engine's (Storage), used on the writer thread only

    async def store_messages(self, reqs: list[StoreRequest], send_status: tuple[str, int] | None = None,
                             queued: Callable[[], None] | None = None) -> list[int]:
        """Store ``reqs`` in one transaction; ``send_status`` (operationID, status) is recorded in the
        same one (what :meth:`set_send_status` does, without a second round trip). ``queued`` is
        called when the transaction is in the writer's queue, i.e. the seqs' order is decided
        (``Storage.run``)."""
        known = self.known_conversations

        def op(conn: sqlite3.Connection) -> list[int]:
            known.refresh(conn)
            try:
                return store(conn)
            except BaseException:
                known.forget()  # this operation's records are rolled back with it
                raise

        def store(conn: sqlite3.Connection) -> list[int]:
            seqs = []
            created = now_ms()
            for r in reqs:
                if r.idempotent and r.msg.clientMsgID:
                    old = conn.execute("SELECT seq, data FROM messages WHERE client_msg_id = ? AND conversation_id = ? "
                                       "AND send_id = ? LIMIT 1",
                                       (r.msg.clientMsgID, r.conversation_id, r.msg.sendID)).fetchone()
                    if old is not None:
                        r.msg.Clear()
                        r.msg.MergeFromString(old[1])
                        r.duplicate = True
                        seqs.append(old[0])
                        continue
                seq = next_seq(conn, r.conversation_id, r.msg.sendTime)
                r.msg.seq = seq
                m = r.msg
                conn.execute(
                    "INSERT INTO messages (conversation_id, seq, client_msg_id, send_id, recv_id, group_id, "
                    "session_type, content_type, send_time, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (r.conversation_id, seq, m.clientMsgID, m.sendID, m.recvID, m.groupID, m.sessionType,
                     m.contentType, m.sendTime, m.SerializeToString()))
                for owner, data in r.owners:
                    if known.ensure(conn, owner, r.conversation_id, data, created):
                        bump_version(conn, "conversation", owner, [r.conversation_id], 1)
                if r.reader:
                    conn.execute("UPDATE conversations SET has_read_seq = MAX(has_read_seq, ?) "
                                 "WHERE owner_user_id = ? AND conversation_id = ?", (seq, r.reader, r.conversation_id))
                seqs.append(seq)
            if send_status is not None:
                conn.execute("INSERT OR REPLACE INTO send_status VALUES (?,?,?)", (*send_status, created))
            return seqs

        return await self.run(op, queued)

    async def seq_info(self, cids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
        ids = list(dict.fromkeys(cids))

        def op(conn: sqlite3.Connection) -> dict[str, tuple[int, int, int]]:
            out = {}
            for chunk in chunks(ids):
                q = ("SELECT conversation_id, max_seq, min_seq, max_seq_time FROM seqs "
                     f"WHERE conversation_id IN ({','.join('?' * len(chunk))})")
                for r in conn.execute(q, chunk):
                    out[r[0]] = (r[1], r[2], r[3])
            return out

        return await self.read(op)

    async def messages_by_seqs(self, cid: str, seqs: list[int]) -> dict[int, MessageRow]:
        def op(conn: sqlite3.Connection) -> dict[int, MessageRow]:
            out = {}
            for chunk in chunks(seqs):
                q = (f"SELECT conversation_id, seq, data, is_read, revoke FROM messages WHERE conversation_id = ? "
                     f"AND seq IN ({','.join('?' * len(chunk))})")
                for r in conn.execute(q, (cid, *chunk)):
                    out[r[1]] = MessageRow(r[0], r[1], r[2], bool(r[3]), r[4])
            return out

        return await self.run(op)

    async def last_message(self, cid: str) -> MessageRow | None:
        r = await self.run(lambda c: c.execute(
            "SELECT conversation_id, seq, data, is_read, revoke FROM messages WHERE conversation_id = ? "
            "ORDER BY seq DESC LIMIT 1", (cid,)).fetchone())
        return MessageRow(r[0], r[1], r[2], bool(r[3]), r[4]) if r else None

    async def deleted_for(self, user_id: str, cid: str, seqs: list[int]) -> set[int]:
        def op(conn: sqlite3.Connection) -> set[int]:
            out: set[int] = set()
            for chunk in chunks(seqs):
                q = (f"SELECT seq FROM msg_user_del WHERE user_id = ? AND conversation_id = ? "
                     f"AND seq IN ({','.join('?' * len(chunk))})")
                out.update(r[0] for r in conn.execute(q, (user_id, cid, *chunk)))
            return out

        return await self.run(op)

    async def mark_read(self, cid: str, seqs: list[int]) -> None:
        def op(conn: sqlite3.Connection) -> None:
            conn.executemany("UPDATE messages SET is_read = 1 WHERE conversation_id = ? AND seq = ?",
                             [(cid, s) for s in seqs])

        await self.run(op)

    async def set_revoke(self, cid: str, seq: int, blob: bytes) -> bool:
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE messages SET revoke = ? WHERE conversation_id = ? AND seq = ? AND revoke IS NULL",
                               (blob, cid, seq))
            return cur.rowcount > 0

        return await self.run(op)

    async def delete_for_user(self, user_id: str, cid: str, seqs: list[int]) -> None:
        await self.run(lambda c: c.executemany("INSERT OR IGNORE INTO msg_user_del VALUES (?,?,?)",
                                               [(user_id, cid, s) for s in seqs]))

    async def delete_physical(self, cid: str, seqs: list[int]) -> None:
        await self.run(lambda c: c.executemany("DELETE FROM messages WHERE conversation_id = ? AND seq = ?",
                                               [(cid, s) for s in seqs]))

    async def delete_before(self, cids: list[str], timestamp: int) -> None:
        def op(conn: sqlite3.Connection) -> None:
            for cid in cids:
                row = conn.execute("SELECT MAX(seq) FROM messages WHERE conversation_id = ? AND send_time < ?",
                                   (cid, timestamp)).fetchone()
                if row and row[0]:
                    conn.execute("DELETE FROM messages WHERE conversation_id = ? AND seq <= ?", (cid, row[0]))
                    conn.execute("UPDATE seqs SET min_seq = MAX(min_seq, ?) WHERE conversation_id = ?", (row[0] + 1, cid))

        await self.run(op)

    async def set_global_min_seq(self, cid: str, seq: int) -> None:
        await self.run(lambda c: c.execute("UPDATE seqs SET min_seq = MAX(min_seq, ?) WHERE conversation_id = ?",
                                           (seq, cid)))

    async def search_messages(self, search: MessageSearch, offset: int, limit: int) -> tuple[int, list[MessageRow]]:
        where, params = search.where()

        def op(conn: sqlite3.Connection) -> tuple[int, list[MessageRow]]:
            total = conn.execute(f"SELECT COUNT(*) FROM messages WHERE {where}", params).fetchone()[0]
            rows = conn.execute(f"SELECT conversation_id, seq, data, is_read, revoke FROM messages WHERE {where} "
                                "ORDER BY send_time DESC LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
            return total, [MessageRow(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

        return await self.run(op)


    async def conversation_max_seq(self, cid: str) -> int:
        """The conversation's current max seq (0: no message yet, the next one opens it)."""
        return await self.read(lambda c: max_seq(c, cid), snapshot=False)  # type: ignore[no-any-return]

    async def set_send_status(self, operation_id: str, status: int) -> None:
        await self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO send_status VALUES (?,?,?)", (operation_id, status, now_ms())))

    async def get_send_status(self, operation_id: str) -> int:
        row = await self.run(lambda c: c.execute(
            "SELECT status FROM send_status WHERE operation_id = ?", (operation_id,)).fetchone())
        return int(row[0]) if row else 0
