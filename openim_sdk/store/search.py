"""The cache's text search: the full-text index (FTS5, filled in bulk from the ``fts_pending``
queue, schema v5) and :meth:`SearchIndex.search` over it (LIKE when FTS5 is missing). A mixin of
:class:`~openim_sdk.store.local.LocalStore`, over its ``_write``/``_query`` plumbing."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..protocol.constants import MsgStatus

if TYPE_CHECKING:
    from .local import StoredMessage


class SearchIndex:
    fts_mode: str

    @property
    def fts_enabled(self) -> bool:
        return self.fts_mode != "none"

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    @staticmethod
    def _to_stored(row: sqlite3.Row) -> StoredMessage:
        raise NotImplementedError

    def index_pending(self, limit: int | None = None) -> int:
        """Add queued rows to the full-text index (all, or the oldest ``limit``); returns how many.
        Rows are queued by the message writes and the update trigger (schema v5) so that a pulled page
        is not indexed row by row; :meth:`search` calls this first, so it never misses a row."""
        if not self.fts_enabled:
            return 0
        with self._write() as conn:
            if limit is None:
                top = conn.execute("SELECT max(id) FROM fts_pending").fetchone()[0]
            else:
                top = conn.execute("SELECT max(id) FROM (SELECT id FROM fts_pending ORDER BY id LIMIT ?)",
                                   (limit,)).fetchone()[0]
            if top is None:
                return 0
            conn.execute(
                "INSERT INTO messages_fts(rowid, search_text) SELECT m.id, m.search_text "
                "FROM fts_pending p JOIN messages m ON m.id = p.id WHERE p.id <= ?", (top,))
            return int(conn.execute("DELETE FROM fts_pending WHERE id <= ?", (top,)).rowcount)

    def pending_index(self) -> int:
        """How many rows wait for the full-text index."""
        if not self.fts_enabled:
            return 0
        return int(self._query("SELECT count(*) FROM fts_pending")[0][0])

    def search(self, text: str, conversation_id: str | None = None, limit: int = 50) -> list[StoredMessage]:
        """Messages whose text contains ``text`` (case-insensitive), newest first."""
        text = text.strip()
        if not text:
            return []
        self.index_pending()
        scope = ""
        params: list[Any] = []
        if conversation_id is not None:
            scope = "AND m.conversation_id = ? "
            params.append(conversation_id)
        use_fts = (self.fts_mode == "trigram" and len(text) >= 3) or self.fts_mode == "unicode61"
        if use_fts:
            query = '"' + text.replace('"', '""') + '"'
            sql = (
                "SELECT m.* FROM messages_fts f JOIN messages m ON m.id = f.rowid "
                f"WHERE messages_fts MATCH ? {scope}AND m.status != ? "
                "ORDER BY m.send_time DESC, m.id DESC LIMIT ?"
            )
            rows = self._query(sql, [query, *params, int(MsgStatus.DELETED), limit])
        else:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            sql = (
                "SELECT m.* FROM messages m WHERE m.search_text LIKE ? ESCAPE '\\' "
                f"{scope}AND m.status != ? ORDER BY m.send_time DESC, m.id DESC LIMIT ?"
            )
            rows = self._query(sql, [pattern, *params, int(MsgStatus.DELETED), limit])
        return [self._to_stored(r) for r in rows]
