"""Persistence: one SQLite file (WAL) behind :class:`Storage`.

Every operation runs on a single writer thread that owns the connection. Pending operations
are drained into one transaction per batch (group commit, one savepoint per operation so a
failing one does not affect the others); the awaiting coroutine is resumed only after the
batch's COMMIT returned, so an acknowledged write survives SIGKILL.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .datadir import prepare_database, tighten
from .token_store import TOKENS_SCHEMA, TokenStore, migrate_v1_tokens

log = logging.getLogger("server_stub.storage")

T = TypeVar("T")
SCHEMA_VERSION = 2  # 2: tokens stored as SHA-256 hashes (token_store.migrate_v1_tokens)
MAX_BATCH = 512

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY, nickname TEXT NOT NULL DEFAULT '', face_url TEXT NOT NULL DEFAULT '',
    ex TEXT NOT NULL DEFAULT '', create_time INTEGER NOT NULL DEFAULT 0,
    app_manger_level INTEGER NOT NULL DEFAULT 0, global_recv_msg_opt INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS seqs (
    conversation_id TEXT PRIMARY KEY, max_seq INTEGER NOT NULL DEFAULT 0,
    min_seq INTEGER NOT NULL DEFAULT 0, max_seq_time INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, client_msg_id TEXT NOT NULL,
    send_id TEXT NOT NULL, recv_id TEXT NOT NULL, group_id TEXT NOT NULL,
    session_type INTEGER NOT NULL, content_type INTEGER NOT NULL, send_time INTEGER NOT NULL,
    data BLOB NOT NULL, is_read INTEGER NOT NULL DEFAULT 0, revoke BLOB,
    PRIMARY KEY (conversation_id, seq));
CREATE INDEX IF NOT EXISTS messages_client_msg_id ON messages (client_msg_id);
CREATE INDEX IF NOT EXISTS messages_send_time ON messages (send_time);
CREATE TABLE IF NOT EXISTS msg_user_del (
    user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (user_id, conversation_id, seq));
CREATE TABLE IF NOT EXISTS conversations (
    owner_user_id TEXT NOT NULL, conversation_id TEXT NOT NULL, data BLOB NOT NULL,
    has_read_seq INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,
    PRIMARY KEY (owner_user_id, conversation_id));
CREATE TABLE IF NOT EXISTS version_logs (
    kind TEXT NOT NULL, key TEXT NOT NULL, version_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS version_entries (
    kind TEXT NOT NULL, key TEXT NOT NULL, elem_id TEXT NOT NULL, state INTEGER NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (kind, key, elem_id));
CREATE TABLE IF NOT EXISTS send_status (
    operation_id TEXT PRIMARY KEY, status INTEGER NOT NULL, at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_commands (
    user_id TEXT NOT NULL, type INTEGER NOT NULL, uuid TEXT NOT NULL, value TEXT NOT NULL,
    ex TEXT NOT NULL, create_time INTEGER NOT NULL, PRIMARY KEY (user_id, type, uuid));
CREATE TABLE IF NOT EXISTS client_config (
    user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (user_id, key));
-- part 2: relations, groups, files, third-party records (server_stub/relation_store.py)
CREATE TABLE IF NOT EXISTS friends (
    owner_user_id TEXT NOT NULL, friend_user_id TEXT NOT NULL, remark TEXT NOT NULL DEFAULT '',
    create_time INTEGER NOT NULL, add_source INTEGER NOT NULL DEFAULT 0,
    operator_user_id TEXT NOT NULL DEFAULT '', ex TEXT NOT NULL DEFAULT '', is_pinned INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (owner_user_id, friend_user_id));
CREATE TABLE IF NOT EXISTS friend_requests (
    from_user_id TEXT NOT NULL, to_user_id TEXT NOT NULL, handle_result INTEGER NOT NULL DEFAULT 0,
    req_msg TEXT NOT NULL DEFAULT '', create_time INTEGER NOT NULL, handler_user_id TEXT NOT NULL DEFAULT '',
    handle_msg TEXT NOT NULL DEFAULT '', handle_time INTEGER NOT NULL DEFAULT 0, ex TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (from_user_id, to_user_id));
CREATE TABLE IF NOT EXISTS blacks (
    owner_user_id TEXT NOT NULL, block_user_id TEXT NOT NULL, create_time INTEGER NOT NULL,
    add_source INTEGER NOT NULL DEFAULT 0, operator_user_id TEXT NOT NULL DEFAULT '', ex TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (owner_user_id, block_user_id));
CREATE TABLE IF NOT EXISTS im_groups (
    group_id TEXT PRIMARY KEY, create_time INTEGER NOT NULL, status INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL, user_id TEXT NOT NULL, role_level INTEGER NOT NULL, join_time INTEGER NOT NULL,
    nickname TEXT NOT NULL DEFAULT '', face_url TEXT NOT NULL DEFAULT '', join_source INTEGER NOT NULL DEFAULT 0,
    operator_user_id TEXT NOT NULL DEFAULT '', ex TEXT NOT NULL DEFAULT '', mute_end_time INTEGER NOT NULL DEFAULT 0,
    inviter_user_id TEXT NOT NULL DEFAULT '', PRIMARY KEY (group_id, user_id));
CREATE INDEX IF NOT EXISTS group_members_user ON group_members (user_id);
CREATE TABLE IF NOT EXISTS group_requests (
    group_id TEXT NOT NULL, user_id TEXT NOT NULL, handle_result INTEGER NOT NULL DEFAULT 0,
    req_msg TEXT NOT NULL DEFAULT '', handle_msg TEXT NOT NULL DEFAULT '', req_time INTEGER NOT NULL,
    handle_user_id TEXT NOT NULL DEFAULT '', handle_time INTEGER NOT NULL DEFAULT 0, ex TEXT NOT NULL DEFAULT '',
    join_source INTEGER NOT NULL DEFAULT 0, inviter_user_id TEXT NOT NULL DEFAULT '', PRIMARY KEY (group_id, user_id));
CREATE TABLE IF NOT EXISTS objects (
    name TEXT PRIMARY KEY, hash TEXT NOT NULL, size INTEGER NOT NULL, content_type TEXT NOT NULL DEFAULT '',
    grp TEXT NOT NULL DEFAULT '', create_time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS client_logs (
    log_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, platform TEXT NOT NULL, url TEXT NOT NULL, filename TEXT NOT NULL,
    system_type TEXT NOT NULL DEFAULT '', app_framework TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',
    ex TEXT NOT NULL DEFAULT '', create_time INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS third_kv (
    user_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (user_id, key));
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class UserRow:
    user_id: str
    nickname: str
    face_url: str
    ex: str
    create_time: int
    app_manger_level: int
    global_recv_msg_opt: int


@dataclass
class MessageRow:
    conversation_id: str
    seq: int
    data: bytes
    is_read: bool
    revoke: bytes | None


_USER_COLS = "user_id, nickname, face_url, ex, create_time, app_manger_level, global_recv_msg_opt"


class Storage:
    """Async storage interface. ``SqliteStorage`` is the only engine; all methods are coroutines.

    Low level: :meth:`run` executes ``fn(conn)`` inside the current group-commit batch.
    Higher-level helpers below are plain SQL so another engine only has to re-implement them.
    """

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        self._queue: queue.SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.path != ":memory:":
            from .config import default_data_path

            prepare_database(self.path, dedicated_dir=Path(self.path) == default_data_path())
        ready: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._main, args=(ready,), name="sqlite-writer", daemon=True)
        self._thread.start()
        await ready

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=OFF")
        conn.executescript(_SCHEMA)
        row = conn.execute("SELECT version FROM schema_version").fetchone()
        if row is None:
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise RuntimeError(f"database schema version {row[0]} is newer than this server ({SCHEMA_VERSION})")
        elif row[0] < SCHEMA_VERSION:
            self._migrate(conn, row[0])
        conn.executescript(TOKENS_SCHEMA)  # after the migration: schema 1 had a `token` column
        if self.path != ":memory:":
            for suffix in ("-wal", "-shm"):  # SQLite copies the database's mode; make sure anyway
                tighten(Path(self.path + suffix), 0o600)
        return conn

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        log.info("migrating %s from schema %d to %d", self.path, version, SCHEMA_VERSION,
                 extra={"operationID": ""})
        conn.execute("PRAGMA secure_delete=ON")  # freed space must not keep the old plain-text tokens
        conn.execute("BEGIN IMMEDIATE")
        try:
            if version < 2:
                migrate_v1_tokens(conn)
            conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if self.path != ":memory:":  # rewrite the file and empty the WAL: no old page survives anywhere
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA secure_delete=OFF")

    def _main(self, ready: asyncio.Future[None]) -> None:
        assert self._loop is not None
        loop = self._loop
        try:
            conn = self._connect()
        except Exception as exc:  # pragma: no cover - reported to open()
            loop.call_soon_threadsafe(ready.set_exception, exc)
            return
        self._conn = conn
        loop.call_soon_threadsafe(ready.set_result, None)
        stop = False
        while not stop:
            item = self._queue.get()
            if item is None:
                break
            batch = [item]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.append(nxt)
            self._run_batch(conn, batch)
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any]]]) -> None:
        assert self._loop is not None
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                conn.execute("SAVEPOINT op")
                try:
                    res = fn(conn)
                except Exception as exc:
                    conn.execute("ROLLBACK TO op")
                    conn.execute("RELEASE op")
                    results.append((fut, None, exc))
                else:
                    conn.execute("RELEASE op")
                    results.append((fut, res, None))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("storage batch failed")
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            results = [(fut, None, exc) for _, fut in batch]
        for fut, res, err in results:
            self._loop.call_soon_threadsafe(_settle, fut, res, err)

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` on the writer thread; resolves after the batch commit."""
        if self._thread is None:
            raise RuntimeError("storage is closed")
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put((fn, fut))
        return await fut

    # -- users -------------------------------------------------------------------------

    async def insert_users(self, users: Iterable[UserRow]) -> list[str]:
        """Insert users; returns the IDs that already existed (then nothing is inserted)."""
        rows = list(users)

        def op(conn: sqlite3.Connection) -> list[str]:
            ids = [u.user_id for u in rows]
            existing = _existing(conn, "users", "user_id", ids)
            if existing:
                return existing
            conn.executemany(
                f"INSERT INTO users ({_USER_COLS}) VALUES (?,?,?,?,?,?,?)",
                [(u.user_id, u.nickname, u.face_url, u.ex, u.create_time, u.app_manger_level,
                  u.global_recv_msg_opt) for u in rows],
            )
            return []

        return await self.run(op)

    async def ensure_user(self, row: UserRow) -> None:
        await self.run(lambda c: c.execute(
            f"INSERT OR IGNORE INTO users ({_USER_COLS}) VALUES (?,?,?,?,?,?,?)",
            (row.user_id, row.nickname, row.face_url, row.ex, row.create_time, row.app_manger_level,
             row.global_recv_msg_opt)))

    async def get_users(self, user_ids: Iterable[str]) -> dict[str, UserRow]:
        ids = list(dict.fromkeys(user_ids))

        def op(conn: sqlite3.Connection) -> dict[str, UserRow]:
            out: dict[str, UserRow] = {}
            for chunk in _chunks(ids):
                q = f"SELECT {_USER_COLS} FROM users WHERE user_id IN ({','.join('?' * len(chunk))})"
                for r in conn.execute(q, chunk):
                    out[r[0]] = UserRow(*r)
            return out

        return await self.run(op)

    async def update_user(self, user_id: str, changes: dict[str, Any]) -> bool:
        if not changes:
            return await self.user_exists(user_id)
        cols = ", ".join(f"{k} = ?" for k in changes)

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(f"UPDATE users SET {cols} WHERE user_id = ?", (*changes.values(), user_id))
            return cur.rowcount > 0

        return await self.run(op)

    async def user_exists(self, user_id: str) -> bool:
        return bool(await self.run(lambda c: c.execute(
            "SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone()))

    async def page_users(self, where: str, params: tuple[Any, ...], offset: int, limit: int) -> tuple[int, list[UserRow]]:
        def op(conn: sqlite3.Connection) -> tuple[int, list[UserRow]]:
            total = conn.execute(f"SELECT COUNT(*) FROM users WHERE {where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_USER_COLS} FROM users WHERE {where} ORDER BY create_time, user_id LIMIT ? OFFSET ?",
                (*params, limit, offset)).fetchall()
            return total, [UserRow(*r) for r in rows]

        return await self.run(op)

    # -- misc key/value ----------------------------------------------------------------

    async def set_send_status(self, operation_id: str, status: int) -> None:
        await self.run(lambda c: c.execute(
            "INSERT OR REPLACE INTO send_status VALUES (?,?,?)", (operation_id, status, now_ms())))

    async def get_send_status(self, operation_id: str) -> int:
        row = await self.run(lambda c: c.execute(
            "SELECT status FROM send_status WHERE operation_id = ?", (operation_id,)).fetchone())
        return int(row[0]) if row else 0


def _settle(fut: asyncio.Future[Any], res: Any, err: BaseException | None) -> None:
    if fut.done():
        return
    if err is not None:
        fut.set_exception(err)
    else:
        fut.set_result(res)


def _chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _existing(conn: sqlite3.Connection, table: str, col: str, ids: list[str]) -> list[str]:
    out: list[str] = []
    for chunk in _chunks(ids):
        q = f"SELECT {col} FROM {table} WHERE {col} IN ({','.join('?' * len(chunk))})"
        out.extend(r[0] for r in conn.execute(q, chunk))
    return out


def open_storage_path(path: str) -> str:
    return path


# --------------------------------------------------------------------------- messages


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


@dataclass
class ConvRow:
    owner_user_id: str
    conversation_id: str
    data: bytes
    has_read_seq: int


def _new_version_id() -> str:
    import os

    return os.urandom(12).hex()


def bump_version(conn: sqlite3.Connection, kind: str, key: str, elems: Iterable[str], state: int) -> None:
    row = conn.execute("SELECT version FROM version_logs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
    if row is None:
        version = 1
        conn.execute("INSERT INTO version_logs VALUES (?,?,?,?)", (kind, key, _new_version_id(), version))
    else:
        version = row[0] + 1
        conn.execute("UPDATE version_logs SET version = ? WHERE kind = ? AND key = ?", (version, kind, key))
    for elem in elems:
        conn.execute("INSERT OR REPLACE INTO version_entries VALUES (?,?,?,?,?)", (kind, key, elem, state, version))


class MessageStore:
    """Message/conversation half of the storage interface (mixed into :class:`SqliteStorage`)."""

    run: Callable[..., Any]

    async def store_messages(self, reqs: list[StoreRequest]) -> list[int]:
        def op(conn: sqlite3.Connection) -> list[int]:
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
                row = conn.execute("SELECT max_seq FROM seqs WHERE conversation_id = ?", (r.conversation_id,)).fetchone()
                seq = (row[0] if row else 0) + 1
                r.msg.seq = seq
                conn.execute(
                    "INSERT INTO seqs (conversation_id, max_seq, max_seq_time) VALUES (?,?,?) "
                    "ON CONFLICT(conversation_id) DO UPDATE SET max_seq = excluded.max_seq, "
                    "max_seq_time = excluded.max_seq_time", (r.conversation_id, seq, r.msg.sendTime))
                m = r.msg
                conn.execute(
                    "INSERT INTO messages (conversation_id, seq, client_msg_id, send_id, recv_id, group_id, "
                    "session_type, content_type, send_time, data) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (r.conversation_id, seq, m.clientMsgID, m.sendID, m.recvID, m.groupID, m.sessionType,
                     m.contentType, m.sendTime, m.SerializeToString()))
                for owner, data in r.owners:
                    cur = conn.execute("INSERT OR IGNORE INTO conversations VALUES (?,?,?,?,?)",
                                       (owner, r.conversation_id, data, 0, created))
                    if cur.rowcount:
                        bump_version(conn, "conversation", owner, [r.conversation_id], 1)
                if r.reader:
                    conn.execute("UPDATE conversations SET has_read_seq = MAX(has_read_seq, ?) "
                                 "WHERE owner_user_id = ? AND conversation_id = ?", (seq, r.reader, r.conversation_id))
                seqs.append(seq)
            return seqs

        return await self.run(op)

    async def seq_info(self, cids: Iterable[str]) -> dict[str, tuple[int, int, int]]:
        ids = list(dict.fromkeys(cids))

        def op(conn: sqlite3.Connection) -> dict[str, tuple[int, int, int]]:
            out = {}
            for chunk in _chunks(ids):
                q = ("SELECT conversation_id, max_seq, min_seq, max_seq_time FROM seqs "
                     f"WHERE conversation_id IN ({','.join('?' * len(chunk))})")
                for r in conn.execute(q, chunk):
                    out[r[0]] = (r[1], r[2], r[3])
            return out

        return await self.run(op)

    async def messages_by_seqs(self, cid: str, seqs: list[int]) -> dict[int, MessageRow]:
        def op(conn: sqlite3.Connection) -> dict[int, MessageRow]:
            out = {}
            for chunk in _chunks(seqs):
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
            for chunk in _chunks(seqs):
                q = (f"SELECT seq FROM msg_user_del WHERE user_id = ? AND conversation_id = ? "
                     f"AND seq IN ({','.join('?' * len(chunk))})")
                out.update(r[0] for r in conn.execute(q, (user_id, cid, *chunk)))
            return out

        return await self.run(op)

    async def conversations(self, owner: str, cids: Iterable[str] | None = None) -> list[ConvRow]:
        ids = None if cids is None else list(dict.fromkeys(cids))

        def op(conn: sqlite3.Connection) -> list[ConvRow]:
            if ids is None:
                rows = conn.execute("SELECT owner_user_id, conversation_id, data, has_read_seq FROM conversations "
                                    "WHERE owner_user_id = ? ORDER BY created, conversation_id", (owner,)).fetchall()
            else:
                rows = []
                for chunk in _chunks(ids):
                    q = ("SELECT owner_user_id, conversation_id, data, has_read_seq FROM conversations WHERE "
                         f"owner_user_id = ? AND conversation_id IN ({','.join('?' * len(chunk))})")
                    rows.extend(conn.execute(q, (owner, *chunk)))
            return [ConvRow(*r) for r in rows]

        return await self.run(op)

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

    async def version_log(self, kind: str, key: str, since: int) -> tuple[str, int, list[tuple[str, int, int]]]:
        """(versionID, version, [(elem, state, version) with version > since]); creates the log."""
        def op(conn: sqlite3.Connection) -> tuple[str, int, list[tuple[str, int, int]]]:
            row = conn.execute("SELECT version_id, version FROM version_logs WHERE kind = ? AND key = ?",
                               (kind, key)).fetchone()
            if row is None:
                row = (_new_version_id(), 1)
                conn.execute("INSERT INTO version_logs VALUES (?,?,?,?)", (kind, key, row[0], row[1]))
            entries = conn.execute("SELECT elem_id, state, version FROM version_entries WHERE kind = ? AND key = ? "
                                   "AND version > ? ORDER BY version LIMIT 201", (kind, key, since)).fetchall()
            return row[0], row[1], [tuple(e) for e in entries]

        return await self.run(op)

    async def search_messages(self, where: str, params: tuple[Any, ...], offset: int, limit: int) -> tuple[int, list[MessageRow]]:
        def op(conn: sqlite3.Connection) -> tuple[int, list[MessageRow]]:
            total = conn.execute(f"SELECT COUNT(*) FROM messages WHERE {where}", params).fetchone()[0]
            rows = conn.execute(f"SELECT conversation_id, seq, data, is_read, revoke FROM messages WHERE {where} "
                                "ORDER BY send_time DESC LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
            return total, [MessageRow(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

        return await self.run(op)


class SqliteStorage(Storage, MessageStore, TokenStore):
    """The SQLite engine (the only one so far)."""
