"""Message queries and edits behind the messages part (find by IDs, local delete, local insert
support, filtered search). A mixin of :class:`~openim_sdk.store.local.LocalStore`: it only uses
the store's ``_write``/``_query`` plumbing and its row converter."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from ..protocol.constants import MsgStatus

if TYPE_CHECKING:
    from .local import StoredMessage


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class MessageQueries:
    """Needs ``_write()``, ``_query()`` and ``_to_stored()`` from the store."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    @staticmethod
    def _to_stored(row: sqlite3.Row) -> StoredMessage:
        raise NotImplementedError

    def messages_by_ids(self, client_msg_ids: Sequence[str], conversation_id: str | None = None) -> list[StoredMessage]:
        """The cached messages among ``client_msg_ids`` (deleted ones too), in the order asked."""
        ids = list(dict.fromkeys(client_msg_ids))
        found: dict[str, StoredMessage] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ", ".join("?" for _ in chunk)
            sql = f"SELECT * FROM messages WHERE client_msg_id IN ({marks})"
            params: list[Any] = list(chunk)
            if conversation_id is not None:
                sql += " AND conversation_id = ?"
                params.append(conversation_id)
            for r in self._query(sql, params):
                found[r["client_msg_id"]] = self._to_stored(r)
        return [found[c] for c in ids if c in found]

    def mark_message_deleted(self, client_msg_id: str) -> StoredMessage | None:
        """Status deleted (the row stays, so a later copy of it stays deleted); returns the row as it
        was before, or None when absent."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM messages WHERE client_msg_id = ?", (client_msg_id,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE messages SET status = ?, search_text = '' WHERE client_msg_id = ?",
                         (int(MsgStatus.DELETED), client_msg_id))
            return self._to_stored(row)

    def latest_active_message(self, conversation_id: str) -> StoredMessage | None:
        """The newest message of a conversation that is not deleted (by send time, then seq)."""
        rows = self._query(
            "SELECT * FROM messages WHERE conversation_id = ? AND status NOT IN (?, ?) "
            "ORDER BY send_time DESC, seq DESC, id DESC LIMIT 1",
            (conversation_id, int(MsgStatus.DELETED), int(MsgStatus.FILTERED)),
        )
        return self._to_stored(rows[0]) if rows else None

    def conversation_ids_with_messages(self) -> list[str]:
        return [r[0] for r in self._query("SELECT DISTINCT conversation_id FROM messages")]

    def search_messages(
        self,
        *,
        keywords: Sequence[str] = (),
        match_all: bool = False,
        content_types: Sequence[int] = (),
        sender_ids: Sequence[str] = (),
        conversation_id: str | None = None,
        start_time: int = 0,
        end_time: int = 0,
        offset: int = 0,
        count: int = 50,
    ) -> list[StoredMessage]:
        """Local search, newest first: any (or, with ``match_all``, every) keyword in the message
        text (case-insensitive substring), content types, senders, one conversation, a send-time
        window ``[start_time, end_time)`` in ms (0: open), and paging."""
        where = ["status NOT IN (?, ?)"]
        params: list[Any] = [int(MsgStatus.DELETED), int(MsgStatus.FILTERED)]
        words = [k.strip() for k in keywords if k.strip()]
        if words:
            parts = ["search_text LIKE ? ESCAPE '\\'" for _ in words]
            where.append("(" + (" AND " if match_all else " OR ").join(parts) + ")")
            params.extend(_like(w) for w in words)
        if content_types:
            where.append(f"content_type IN ({', '.join('?' for _ in content_types)})")
            params.extend(int(c) for c in content_types)
        if sender_ids:
            where.append(f"send_id IN ({', '.join('?' for _ in sender_ids)})")
            params.extend(sender_ids)
        if conversation_id is not None:
            where.append("conversation_id = ?")
            params.append(conversation_id)
        if start_time:
            where.append("send_time >= ?")
            params.append(start_time)
        if end_time:
            where.append("send_time < ?")
            params.append(end_time)
        params.extend([max(0, count), max(0, offset)])
        rows = self._query(
            f"SELECT * FROM messages WHERE {' AND '.join(where)} ORDER BY send_time DESC, id DESC LIMIT ? OFFSET ?",
            params,
        )
        return [self._to_stored(r) for r in rows]

    # ------------------------------------------------------------------ send refusals

    def set_send_error(self, client_msg_id: str, code: int, message: str = "", detail: str = "",
                       at: int = 0) -> None:
        """Remember why the server refused a message (kept until it is sent)."""
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO send_errors(client_msg_id, code, message, detail, at) "
                         "VALUES (?, ?, ?, ?, ?)", (client_msg_id, int(code), message, detail, int(at)))

    def clear_send_error(self, client_msg_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM send_errors WHERE client_msg_id = ?", (client_msg_id,))

    def send_errors(self, limit: int = 1000) -> list[tuple[str, int, str, str]]:
        """The newest ``limit`` remembered refusals: (clientMsgID, code, message, detail)."""
        rows = self._query("SELECT client_msg_id, code, message, detail FROM send_errors "
                           "ORDER BY at DESC, rowid DESC LIMIT ?", (limit,))
        return [(r[0], int(r[1]), r[2], r[3]) for r in rows]
