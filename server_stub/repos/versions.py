"""Version logs of incremental sync (``version_logs``/``version_entries``): one log per (kind, key),
e.g. ("conversation", ownerUserID), ("friend", ownerUserID), ("group_member", groupID)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple


class VersionStamp(NamedTuple):
    """Where a version log stands: its ID and current version ("", 0 before the first change)."""

    version_id: str
    version: int


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


def version_stamp(conn: sqlite3.Connection, kind: str, key: str) -> VersionStamp:
    """The (versionID, version) of the (kind, key) log, ("", 0) when it has none yet."""
    r = conn.execute("SELECT version_id, version FROM version_logs WHERE kind = ? AND key = ?", (kind, key)).fetchone()
    return VersionStamp(r[0], r[1]) if r else VersionStamp("", 0)


class VersionRepo:
    """Version-log half of the storage interface (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]

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
