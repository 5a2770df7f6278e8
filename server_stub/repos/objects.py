"""Object records of the file service (``objects``): name -> content hash, size, type, group.
The blobs themselves are files named by hash (:mod:`server_stub.services.third`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import now_ms, placeholders


@dataclass
class ObjectRow:
    hash: str
    size: int
    content_type: str


@dataclass
class ExpiredObjects:
    """What :meth:`ObjectRepo.delete_objects_before` removed: how many records, and the blob
    hashes no remaining record uses (their files may go)."""

    deleted: int
    unused_hashes: list[str]


class ObjectRepo:
    """Object records (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]

    async def object_info(self, name: str) -> ObjectRow | None:
        r = await self.run(lambda c: c.execute("SELECT hash, size, content_type FROM objects WHERE name = ?",
                                               (name,)).fetchone())
        return ObjectRow(r[0], r[1], r[2]) if r else None

    async def put_object(self, name: str, blob_hash: str, size: int, content_type: str, group: str) -> None:
        """Record (or re-point) ``name``, created now."""
        await self.run(lambda c: c.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?)",
                                           (name, blob_hash, size, content_type, group, now_ms())))

    async def delete_objects_before(self, before_ms: int, groups: tuple[str, ...]) -> ExpiredObjects:
        """Drop the records of ``groups`` created before ``before_ms``."""
        marks = placeholders(len(groups))

        def op(conn: sqlite3.Connection) -> ExpiredObjects:
            hashes = [r[0] for r in conn.execute(
                f"SELECT DISTINCT hash FROM objects WHERE create_time < ? AND grp IN ({marks})", (before_ms, *groups))]
            cur = conn.execute(f"DELETE FROM objects WHERE create_time < ? AND grp IN ({marks})", (before_ms, *groups))
            unused = [h for h in hashes
                      if conn.execute("SELECT 1 FROM objects WHERE hash = ? LIMIT 1", (h,)).fetchone() is None]
            return ExpiredObjects(cur.rowcount, unused)

        return await self.run(op)  # type: ignore[no-any-return]
