"""Conversations repository: the per-owner ``conversations`` table (:class:`ConvRow`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from .base import chunks, now_ms
from .versions import bump_version


@dataclass
class ConvRow:
    owner_user_id: str
    conversation_id: str
    data: bytes
    has_read_seq: int


class StoredConversation(NamedTuple):
    """One owner's record of a conversation: the serialized ``Conversation``."""

    owner_user_id: str
    conversation_id: str
    data: bytes


def conversation_data(conn: sqlite3.Connection, owner: str, cid: str) -> bytes | None:
    """``owner``'s serialized record of ``cid``, None when they have none."""
    r = conn.execute("SELECT data FROM conversations WHERE owner_user_id = ? AND conversation_id = ?",
                     (owner, cid)).fetchone()
    return r[0] if r is not None else None


def insert_conversation(conn: sqlite3.Connection, owner: str, cid: str, data: bytes) -> None:
    """A new record (hasReadSeq 0, created now); the caller records it in the version log."""
    conn.execute("INSERT INTO conversations VALUES (?,?,?,?,?)", (owner, cid, data, 0, now_ms()))


def update_conversation_data(conn: sqlite3.Connection, owner: str, cid: str, data: bytes) -> None:
    """Replace ``owner``'s record of ``cid``; the caller records it in the version log."""
    conn.execute("UPDATE conversations SET data = ? WHERE owner_user_id = ? AND conversation_id = ?",
                 (data, owner, cid))


def delete_conversation(conn: sqlite3.Connection, owner: str, cid: str) -> bool:
    """Drop ``owner``'s record of ``cid``; whether there was one."""
    cur = conn.execute("DELETE FROM conversations WHERE owner_user_id = ? AND conversation_id = ?", (owner, cid))
    KnownConversations.deletes += 1  # every KnownConversations forgets what it knew
    return bool(cur.rowcount)


class KnownConversations:
    """The (owner, conversationID) records known to exist, kept by the writer thread so that a
    message's owners cost no ``INSERT OR IGNORE`` each once their records exist (issue 16).

    It forgets everything when a record may have gone: a :func:`delete_conversation` anywhere in
    this process (the only way a record is removed), or a commit by another connection to the
    file (``PRAGMA data_version`` changed: another server on the same file, a tool). Used only on
    the writer's connection, inside its transaction."""

    deletes = 0  # process-wide count of delete_conversation calls

    def __init__(self, limit: int = 200_000) -> None:
        self._rows: set[tuple[str, str]] = set()
        self._limit = limit
        self._seen_deletes = -1
        self._data_version = -1

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Forget everything if a record may have been deleted since the last call."""
        version = int(conn.execute("PRAGMA data_version").fetchone()[0])
        if version != self._data_version or KnownConversations.deletes != self._seen_deletes \
                or len(self._rows) > self._limit:
            self._rows.clear()
            self._data_version, self._seen_deletes = version, KnownConversations.deletes

    def forget(self) -> None:
        """Forget everything (a transaction that may have created records was rolled back)."""
        self._rows.clear()

    def ensure(self, conn: sqlite3.Connection, owner: str, cid: str, data: bytes, created: int) -> bool:
        """Create ``owner``'s record of ``cid`` from ``data`` unless it exists; True if created."""
        key = (owner, cid)
        if key in self._rows:
            return False
        cur = conn.execute("INSERT OR IGNORE INTO conversations VALUES (?,?,?,?,?)", (owner, cid, data, 0, created))
        self._rows.add(key)
        return bool(cur.rowcount)


def owner_conversations(conn: sqlite3.Connection, owner: str) -> list[StoredConversation]:
    """Every record ``owner`` holds."""
    return [StoredConversation(*r) for r in conn.execute(
        "SELECT owner_user_id, conversation_id, data FROM conversations WHERE owner_user_id = ?", (owner,))]


def conversation_holders(conn: sqlite3.Connection, cid: str) -> list[StoredConversation]:
    """Every owner's record of ``cid``."""
    return [StoredConversation(*r) for r in conn.execute(
        "SELECT owner_user_id, conversation_id, data FROM conversations WHERE conversation_id = ?", (cid,))]


def all_conversations(conn: sqlite3.Connection) -> list[StoredConversation]:
    """Every record of every owner (the clean-up's scan)."""
    return [StoredConversation(*r) for r in conn.execute(
        "SELECT owner_user_id, conversation_id, data FROM conversations").fetchall()]


def conversation_records(conn: sqlite3.Connection, owner: str, cids: list[str]) -> list[tuple[str, bytes, int]]:
    """(conversationID, serialized Conversation, hasReadSeq) of ``owner``'s records among ``cids``."""
    out: list[tuple[str, bytes, int]] = []
    for chunk in chunks(cids):
        q = ("SELECT conversation_id, data, has_read_seq FROM conversations WHERE owner_user_id = ? "
             f"AND conversation_id IN ({','.join('?' * len(chunk))})")
        out.extend(conn.execute(q, (owner, *chunk)))
    return out


class ConversationRepo:
    """Conversation half of the storage interface (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]
    read: Callable[..., Any]  # read-only ops: Storage.read (no writer hop)

    async def conversations(self, owner: str, cids: Iterable[str] | None = None) -> list[ConvRow]:
        ids = None if cids is None else list(dict.fromkeys(cids))

        def op(conn: sqlite3.Connection) -> list[ConvRow]:
            if ids is None:
                rows = conn.execute("SELECT owner_user_id, conversation_id, data, has_read_seq FROM conversations "
                                    "WHERE owner_user_id = ? ORDER BY created, conversation_id", (owner,)).fetchall()
            else:
                rows = []
                for chunk in chunks(ids):
                    q = ("SELECT owner_user_id, conversation_id, data, has_read_seq FROM conversations WHERE "
                         f"owner_user_id = ? AND conversation_id IN ({','.join('?' * len(chunk))})")
                    rows.extend(conn.execute(q, (owner, *chunk)))
            return [ConvRow(*r) for r in rows]

        return await self.read(op, snapshot=False)

    async def conversation_owners(self, cid: str) -> list[str]:
        rows = await self.run(lambda c: c.execute(
            "SELECT owner_user_id FROM conversations WHERE conversation_id = ?", (cid,)).fetchall())
        return [r[0] for r in rows]

    async def put_conversations(self, rows: list[tuple[str, str, bytes]], state: int = 3) -> None:
        """Upsert (owner, cid, data) rows and record them in the owners' version logs."""
        def op(conn: sqlite3.Connection) -> None:
            for owner, cid, data in rows:
                cur = conn.execute("UPDATE conversations SET data = ? WHERE owner_user_id = ? AND conversation_id = ?",
                                   (data, owner, cid))
                st = state
                if not cur.rowcount:
                    conn.execute("INSERT INTO conversations VALUES (?,?,?,?,?)", (owner, cid, data, 0, now_ms()))
                    st = 1
                bump_version(conn, "conversation", owner, [cid], st)

        await self.run(op)

    async def set_has_read_seq(self, owner: str, cid: str, seq: int) -> None:
        await self.run(lambda c: c.execute(
            "UPDATE conversations SET has_read_seq = MAX(has_read_seq, ?) WHERE owner_user_id = ? AND conversation_id = ?",
            (seq, owner, cid)))
