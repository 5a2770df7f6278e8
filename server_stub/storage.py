"""Persistence: one SQLite file (WAL) behind :class:`Storage`, the engine, and :class:`SqliteStorage`,
the engine with the typed repositories mixed in.

Every operation runs on a single writer thread that owns the connection. Pending operations
are drained into one transaction per batch (group commit, one savepoint per operation so a
failing one does not affect the others); the awaiting coroutine is resumed only after the
batch's COMMIT returned, so an acknowledged write survives SIGKILL.

The SQL of each table family lives in its repository (``server_stub/repos/``):

- ``repos/users.py``          ``UserRepo``: users (``UserRow``)
- ``repos/messages.py``       ``MessageRepo``: messages, seqs, per-user deletes, send status
                              (``MessageRow``, ``StoreRequest``)
- ``repos/conversations.py``  ``ConversationRepo``: per-owner conversations (``ConvRow``)
- ``repos/versions.py``       ``VersionRepo``: incremental-sync version logs (``bump_version``)
- ``repos/activity.py``       ``ActivityRepo``: statistics counts, client logs, third-party key/values
- ``repos/user_data.py``      ``UserDataRepo``: user commands, client config (``UserCommandRow``, ``ClientConfigRow``)
- ``repos/objects.py``        ``ObjectRepo``: object records of the file service (``ObjectRow``)
- ``repos/tokens.py``         ``TokenStore``: token state
- ``repos/relations.py``      friends, blacks, groups, members, requests (functions over a connection)

The row types and ``now_ms``/``bump_version`` are re-exported here for the services' imports.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from .datadir import prepare_database, tighten
from .repos.activity import ActivityRepo
from .repos.base import now_ms
from .repos.conversations import ConversationRepo, ConvRow, KnownConversations
from .repos.messages import MessageRepo, MessageRow, StoreRequest
from .repos.objects import ObjectRepo
from .repos.tokens import TOKENS_SCHEMA, TokenStore, migrate_v1_tokens
from .repos.user_data import UserDataRepo
from .repos.users import UserRepo, UserRow
from .repos.versions import VersionRepo, bump_version

__all__ = ["SCHEMA_VERSION", "ConvRow", "MessageRow", "SqliteStorage", "Storage", "StoreRequest", "UserRow",
           "bump_version", "now_ms"]

log = logging.getLogger("server_stub.storage")

T = TypeVar("T")
SCHEMA_VERSION = 2  # 2: tokens stored as SHA-256 hashes (repos.tokens.migrate_v1_tokens)
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
-- part 2: relations, groups, files, third-party records (server_stub/repos/relations.py)
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


@dataclass
class BatchStats:
    """What the writer has done: group-commit batches, operations in them, the largest batch, the
    sizes of the last batches and the size of the one running now (0: none). Written by the
    writer thread only; read by tests and benches (``Storage.stats``)."""

    batches: int = 0
    ops: int = 0
    largest: int = 0
    running: int = 0
    recent: deque[int] = field(default_factory=lambda: deque(maxlen=256))

    def start(self, size: int) -> None:
        self.batches += 1
        self.ops += size
        self.largest = max(self.largest, size)
        self.recent.append(size)
        self.running = size


_Op = tuple[Callable[[sqlite3.Connection], Any], "asyncio.Future[Any]"]


class Storage:
    """The engine: the writer thread, group commit, schema and migrations.

    :meth:`run` executes ``fn(conn)`` inside the current group-commit batch; the repositories
    (``server_stub/repos/``) are built on it.
    """

    def __init__(self, path: str, synchronous: str = "NORMAL") -> None:
        self.path = path
        self.synchronous = synchronous
        # the writer's queue holds lists of operations: what one turn of the event loop queued
        self._queue: queue.SimpleQueue[list[_Op] | None] = queue.SimpleQueue()
        self._turn: list[_Op] = []  # queued in this turn of the loop, handed over at its end
        self._handed = 0  # operations handed to the writer (loop thread only)
        self._taken = 0  # operations the writer took (writer thread only)
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None  # see read(); file databases only
        self._loop: asyncio.AbstractEventLoop | None = None
        self.stats = BatchStats()
        self.known_conversations = KnownConversations()  # the writer thread's (repos/conversations.py)

    def queued_ops(self) -> int:
        """Operations waiting for the writer (not counting the batch it is running)."""
        return len(self._turn) + self._handed - self._taken

    def _hand_over(self) -> None:
        """Give the writer what this turn of the loop queued: one wake-up of the writer thread
        (one GIL hand-over) for all of it, however many sends the turn's frames carried."""
        ops, self._turn = self._turn, []
        if ops:
            self._handed += len(ops)
            self._queue.put(ops)

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
        if self.path != ":memory:":
            reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            reader.execute("PRAGMA query_only=1")
            reader.execute("PRAGMA busy_timeout=1000")
            self._reader = reader

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._thread is None:
            return
        self._hand_over()  # what is queued runs before the writer stops
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
            batch = list(item)
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                batch.extend(nxt)
            self._taken += len(batch)
            self.stats.start(len(batch))
            self._run_batch(conn, batch)
            self.stats.running = 0
        conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Op]) -> None:
        """One transaction for the batch, a savepoint per operation when there are several (a
        single operation's failure rolls back the transaction: the same outcome, two statements
        fewer); the futures are settled together by one call on the loop, after the COMMIT."""
        assert self._loop is not None
        results: list[tuple[asyncio.Future[Any], Any, BaseException | None]] = []
        single = len(batch) == 1
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, fut in batch:
                if single:
                    try:
                        res = fn(conn)
                    except Exception as exc:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        results.append((fut, None, exc))
                        break
                    results.append((fut, res, None))
                    continue
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
            if conn.in_transaction:
                conn.execute("COMMIT")
        except Exception as exc:
            log.exception("storage batch failed")
            self.known_conversations.forget()  # the batch's new records are rolled back
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            results = [(fut, None, exc) for _, fut in batch]
        self._loop.call_soon_threadsafe(_settle_all, results)

    async def run(self, fn: Callable[[sqlite3.Connection], T], queued: Callable[[], None] | None = None) -> T:
        """Run ``fn(conn)`` on the writer thread; resolves after the batch commit. ``queued`` is
        called once ``fn`` is in the writer's queue: whatever is queued after it runs after it
        (the gateway's ordered sends, ws_pipeline.py)."""
        if self._thread is None:
            raise RuntimeError("storage is closed")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        self._turn.append((fn, fut))
        if len(self._turn) == 1:
            loop.call_soon(self._hand_over)
        if queued is not None:
            queued()
        return await fut

    async def ping(self) -> None:
        """A trivial statement through the writer: raises when the storage cannot answer (``/healthz``)."""
        await self.run(lambda c: c.execute("SELECT 1").fetchone())

    async def read(self, fn: Callable[[sqlite3.Connection], T], snapshot: bool = True) -> T:
        """Run a read-only ``fn(conn)`` on the read connection, right here on the event loop: no
        thread hop and no wait behind the writer's batch (the pull paths, issue 16).

        WAL lets this connection read the last committed state while the writer works, and every
        write is committed before its ``run`` returns, so a read sees every write whose await has
        returned. ``fn`` runs in one read transaction (one snapshot); ``snapshot=False`` skips the
        BEGIN/COMMIT for a lookup whose statements need not agree with each other (each one still
        reads one committed state). A ``:memory:`` database has a single connection: there, and if
        the reader is ever busy, this is :meth:`run`.
        """
        conn = self._reader
        if conn is None:
            return await self.run(fn)
        try:
            if not snapshot:
                return fn(conn)
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # busy/locked (e.g. WAL recovery): take the writer's path
            log.debug("read connection busy (%s): using the writer", exc)
            return await self.run(fn)


def _settle_all(results: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    """Resolve a batch's futures, in the batch's order (one wake-up of the loop per batch)."""
    for fut, res, err in results:
        if fut.done():
            continue
        if err is not None:
            fut.set_exception(err)
        else:
            fut.set_result(res)


def open_storage_path(path: str) -> str:
    return path


class SqliteStorage(Storage, UserRepo, UserDataRepo, MessageRepo, ConversationRepo, VersionRepo, ActivityRepo,
                    ObjectRepo, TokenStore):
    """The SQLite engine (the only one so far) with every repository."""
