"""Schema of the local cache and its migrations.

``schema_version`` holds one row with the current version. Each migration runs in its own
``BEGIN IMMEDIATE`` transaction together with the version bump, so two processes opening the
same fresh file cannot both apply it (the second sees the bumped version and skips).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .relations import migrate_v3

V1 = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS messages (
    id                 INTEGER PRIMARY KEY,
    client_msg_id      TEXT    NOT NULL UNIQUE,
    conversation_id    TEXT    NOT NULL,
    server_msg_id      TEXT    NOT NULL DEFAULT '',
    send_id            TEXT    NOT NULL DEFAULT '',
    recv_id            TEXT    NOT NULL DEFAULT '',
    group_id           TEXT    NOT NULL DEFAULT '',
    sender_nickname    TEXT    NOT NULL DEFAULT '',
    sender_face_url    TEXT    NOT NULL DEFAULT '',
    sender_platform_id INTEGER NOT NULL DEFAULT 0,
    session_type       INTEGER NOT NULL DEFAULT 0,
    msg_from           INTEGER NOT NULL DEFAULT 0,
    content_type       INTEGER NOT NULL DEFAULT 0,
    content            TEXT    NOT NULL DEFAULT '',
    search_text        TEXT    NOT NULL DEFAULT '',
    seq                INTEGER NOT NULL DEFAULT 0,
    send_time          INTEGER NOT NULL DEFAULT 0,
    create_time        INTEGER NOT NULL DEFAULT 0,
    status             INTEGER NOT NULL DEFAULT 0,
    is_read            INTEGER NOT NULL DEFAULT 0,
    attached_info      TEXT    NOT NULL DEFAULT '',
    ex                 TEXT    NOT NULL DEFAULT '',
    local_ex           TEXT    NOT NULL DEFAULT '',
    raw                BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_conv_seq ON messages(conversation_id, seq) WHERE seq > 0;
CREATE INDEX IF NOT EXISTS messages_conv_seq_all ON messages(conversation_id, seq);
CREATE INDEX IF NOT EXISTS messages_conv_time ON messages(conversation_id, send_time);

CREATE TABLE IF NOT EXISTS conversations (
    conversation_id       TEXT PRIMARY KEY,
    conversation_type     INTEGER NOT NULL DEFAULT 0,
    user_id               TEXT    NOT NULL DEFAULT '',
    group_id              TEXT    NOT NULL DEFAULT '',
    show_name             TEXT    NOT NULL DEFAULT '',
    face_url              TEXT    NOT NULL DEFAULT '',
    recv_msg_opt          INTEGER NOT NULL DEFAULT 0,
    unread_count          INTEGER NOT NULL DEFAULT 0,
    is_pinned             INTEGER NOT NULL DEFAULT 0,
    draft                 TEXT    NOT NULL DEFAULT '',
    draft_time            INTEGER NOT NULL DEFAULT 0,
    latest_msg_client_id  TEXT    NOT NULL DEFAULT '',
    latest_msg_preview    TEXT    NOT NULL DEFAULT '',
    latest_msg_send_time  INTEGER NOT NULL DEFAULT 0,
    has_read_seq          INTEGER NOT NULL DEFAULT 0,
    max_seq               INTEGER NOT NULL DEFAULT 0,
    min_seq               INTEGER NOT NULL DEFAULT 0,
    ex                    TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE IF NOT EXISTS seq_state (
    conversation_id TEXT PRIMARY KEY,
    max_seq         INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS sync_versions (
    kind       TEXT NOT NULL,
    entity_id  TEXT NOT NULL DEFAULT '',
    version_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    PRIMARY KEY (kind, entity_id)
);

CREATE TABLE IF NOT EXISTS users (
    user_id   TEXT PRIMARY KEY,
    nickname  TEXT NOT NULL DEFAULT '',
    face_url  TEXT NOT NULL DEFAULT '',
    raw       BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS friends (
    owner_user_id  TEXT NOT NULL,
    friend_user_id TEXT NOT NULL,
    remark         TEXT NOT NULL DEFAULT '',
    nickname       TEXT NOT NULL DEFAULT '',
    is_pinned      INTEGER NOT NULL DEFAULT 0,
    raw            BLOB NOT NULL,
    PRIMARY KEY (owner_user_id, friend_user_id)
);

CREATE TABLE IF NOT EXISTS groups (
    group_id      TEXT PRIMARY KEY,
    group_name    TEXT NOT NULL DEFAULT '',
    owner_user_id TEXT NOT NULL DEFAULT '',
    status        INTEGER NOT NULL DEFAULT 0,
    raw           BLOB NOT NULL
);

CREATE TABLE IF NOT EXISTS group_members (
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    nickname   TEXT NOT NULL DEFAULT '',
    role_level INTEGER NOT NULL DEFAULT 0,
    join_time  INTEGER NOT NULL DEFAULT 0,
    raw        BLOB NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
"""

_FTS_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS messages_fts_ai AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_ad AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER IF NOT EXISTS messages_fts_au AFTER UPDATE OF search_text ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO messages_fts(rowid, search_text) VALUES (new.id, new.search_text);
END;
"""


def _v1(conn: sqlite3.Connection) -> None:
    for stmt in V1.split(";"):
        if stmt.strip():
            conn.execute(stmt)


def _v2_fts(conn: sqlite3.Connection) -> None:
    """Full-text index over message text: FTS5 trigram (substring, any script), else FTS5
    unicode61, else none (search falls back to LIKE)."""
    mode = "none"
    for tokenizer in ("trigram", "unicode61"):
        try:
            conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS messages_fts USING fts5("
                f"search_text, content='messages', content_rowid='id', tokenize='{tokenizer}')"
            )
        except sqlite3.OperationalError:
            continue
        mode = tokenizer
        break
    if mode != "none":
        body = _FTS_TRIGGERS.strip()
        for trig in body.split("END;"):
            if trig.strip():
                conn.execute(trig + "END;")
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")
    conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('fts', ?)", (mode,))


_V4_CONVERSATION_COLUMNS = (
    ("group_at_type", "INTEGER NOT NULL DEFAULT 0"),
    ("is_private_chat", "INTEGER NOT NULL DEFAULT 0"),
    ("burn_duration", "INTEGER NOT NULL DEFAULT 30"),
    ("is_not_in_group", "INTEGER NOT NULL DEFAULT 0"),
    ("attached_info", "TEXT NOT NULL DEFAULT ''"),
    ("latest_msg", "TEXT NOT NULL DEFAULT ''"),
    ("update_unread_count_time", "INTEGER NOT NULL DEFAULT 0"),
    ("msg_destruct_time", "INTEGER NOT NULL DEFAULT 604800"),
    ("is_msg_destruct", "INTEGER NOT NULL DEFAULT 0"),
)


def _v4_conversation_fields(conn: sqlite3.Connection) -> None:
    """The rest of the Go core's LocalConversation: group @ type, private chat / burn duration,
    not-in-group, attached info, the latest message as JSON (MsgStruct), message destruct."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(conversations)").fetchall()}
    for name, decl in _V4_CONVERSATION_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE conversations ADD COLUMN {name} {decl}")
    conn.execute("CREATE INDEX IF NOT EXISTS conversations_latest ON conversations(latest_msg_send_time)")


_LAZY_FTS_TRIGGERS = (
    # (no insert trigger: LocalStore queues the IDs it inserts itself, one statement per page --
    # a per-row trigger cost as much as the rest of the insert)
    # a row leaves the index only if it is in it (never queued, or queued and indexed since)
    """CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, search_text)
            SELECT 'delete', old.id, old.search_text WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id);
        DELETE FROM fts_pending WHERE id = old.id;
    END""",
    # changed text: out of the index now, queued to go back in with the new text
    """CREATE TRIGGER messages_fts_au AFTER UPDATE OF search_text ON messages
    WHEN NOT EXISTS (SELECT 1 FROM fts_pending WHERE id = old.id) BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
        INSERT OR IGNORE INTO fts_pending(id) VALUES (new.id);
    END""",
)


def _v5_lazy_fts(conn: sqlite3.Connection) -> None:
    """The full-text index is filled in bulk, not row by row: ``LocalStore`` queues the IDs it
    inserts in ``fts_pending`` (indexing a trigram row costs ~50 us, most of a pulled message's
    write), and
    ``LocalStore.index_pending`` indexes the queue with one statement -- before every search, and
    in the background when the session is idle. Results are the same as with eager triggers."""
    conn.execute("CREATE TABLE IF NOT EXISTS fts_pending (id INTEGER PRIMARY KEY)")
    row = conn.execute("SELECT value FROM meta WHERE key = 'fts'").fetchone()
    if not row or row[0] == "none":
        return
    for name in ("messages_fts_ai", "messages_fts_ad", "messages_fts_au"):
        conn.execute(f"DROP TRIGGER IF EXISTS {name}")
    for trig in _LAZY_FTS_TRIGGERS:
        conn.execute(trig)


def _v6_send_errors(conn: sqlite3.Connection) -> None:
    """Why the server refused a message (its errCode, name and detail), kept across restarts: a
    refusal that sending again cannot fix is not offered for retry after the app restarts."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS send_errors (client_msg_id TEXT PRIMARY KEY, code INTEGER NOT NULL, "
        "message TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL DEFAULT 0)")


def _v7_one_seq_index(conn: sqlite3.Connection) -> None:
    """One index on ``(conversation_id, seq)``, not two: ``messages_conv_seq`` (unique, numbered
    rows) serves every by-seq query -- each one says ``seq > 0`` so the planner may use the partial
    index -- and ``messages_conv_time`` the by-conversation ones without a seq; the full copy
    ``messages_conv_seq_all`` cost every message write an index insert (about a tenth of a pulled
    page's write) for nothing."""
    conn.execute("DROP INDEX IF EXISTS messages_conv_seq_all")


# v3: friends/groups relation tables (store/relations.py); v4: the conversation fields above;
# v5: the full-text index filled lazily; v6: send refusals; v7: one (conversation, seq) index
MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1, _v2_fts, migrate_v3, _v4_conversation_fields, _v5_lazy_fts, _v6_send_errors, _v7_one_seq_index)
SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations (``conn`` in autocommit mode). Returns the resulting version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = current_version(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    if version > SCHEMA_VERSION:
        raise RuntimeError(f"database schema v{version} is newer than this code (v{SCHEMA_VERSION})")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if current_version(conn) < target:  # another process may have done it meanwhile
                MIGRATIONS[target - 1](conn)
                conn.execute("DELETE FROM schema_version")
                conn.execute("INSERT INTO schema_version(version) VALUES (?)", (target,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return current_version(conn)
