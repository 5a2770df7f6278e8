"""Per-conversation synced seqs (what the sync engine starts from) and the versions of the
incremental REST syncs. A mixin of :class:`~openim_sdk.store.local.LocalStore`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SyncVersion:
    version_id: str
    version: int


class SeqState:
    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def max_seqs(self) -> dict[str, int]:
        """Per conversation, max(stored message seq, recorded max seq): seeds the sync engine."""
        rows = self._query(
            "SELECT conversation_id, max(s) AS s FROM ("
            " SELECT conversation_id, max(seq) AS s FROM messages WHERE seq > 0 GROUP BY conversation_id"
            " UNION ALL SELECT conversation_id, max_seq AS s FROM seq_state"
            ") GROUP BY conversation_id"
        )
        return {r["conversation_id"]: int(r["s"]) for r in rows if r["s"]}

    def set_max_seq(self, conversation_id: str, seq: int) -> None:
        self.set_max_seqs({conversation_id: seq})

    def set_max_seqs(self, seqs: Mapping[str, int]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO seq_state(conversation_id, max_seq) VALUES (?, ?) "
                "ON CONFLICT(conversation_id) DO UPDATE SET max_seq = excluded.max_seq",
                sorted(seqs.items()),
            )

    # ------------------------------------------------------------------ incremental-sync versions

    def get_version(self, kind: str, entity_id: str = "") -> SyncVersion | None:
        rows = self._query(
            "SELECT version_id, version FROM sync_versions WHERE kind = ? AND entity_id = ?",
            (kind, entity_id),
        )
        return SyncVersion(rows[0]["version_id"], int(rows[0]["version"])) if rows else None

    def set_version(self, kind: str, version_id: str, version: int, entity_id: str = "") -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO sync_versions(kind, entity_id, version_id, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(kind, entity_id) DO UPDATE SET version_id = excluded.version_id, "
                "version = excluded.version",
                (kind, entity_id, version_id, version),
            )

    def delete_version(self, kind: str, entity_id: str = "") -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM sync_versions WHERE kind = ? AND entity_id = ?", (kind, entity_id))
