"""The conversation table: the private row type and the store's conversation SQL (list, get,
merge, draft, read state, the atomic ``change_conversation``). A mixin of
:class:`~openim_sdk.store.local.LocalStore`; the rules that change a conversation when a message
arrives are not here but in :mod:`openim_sdk.session.conversation_rules` (the store persists)."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True, slots=True)
class _ConversationRow:
    """One row of ``conversations`` (private: apps see :class:`openim_sdk.models.Conversation`)."""

    conversation_id: str
    conversation_type: int = 0
    user_id: str = ""
    group_id: str = ""
    show_name: str = ""
    face_url: str = ""
    recv_msg_opt: int = 0
    unread_count: int = 0
    is_pinned: bool = False
    draft: str = ""
    draft_time: int = 0
    latest_msg_client_id: str = ""
    latest_msg_preview: str = ""
    latest_msg_send_time: int = 0
    has_read_seq: int = 0
    max_seq: int = 0
    min_seq: int = 0
    ex: str = ""
    group_at_type: int = 0
    is_private_chat: bool = False
    burn_duration: int = 30
    is_not_in_group: bool = False
    attached_info: str = ""
    latest_msg: str = ""
    update_unread_count_time: int = 0
    msg_destruct_time: int = 604800
    is_msg_destruct: bool = False


_CONV_COLUMNS = tuple(f.name for f in fields(_ConversationRow))
_CONV_BOOLS = frozenset({"is_pinned", "is_private_chat", "is_not_in_group", "is_msg_destruct"})


class ConversationStore:
    """Needs ``_write()`` and ``_query()`` from the store."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    @staticmethod
    def _to_conv(row: sqlite3.Row) -> _ConversationRow:
        values = {k: row[k] for k in _CONV_COLUMNS}
        for k in _CONV_BOOLS:
            values[k] = bool(values[k])
        return _ConversationRow(**values)

    def upsert_conversations(self, convs: Iterable[_ConversationRow]) -> None:
        cols = ", ".join(_CONV_COLUMNS)
        marks = ", ".join("?" for _ in _CONV_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _CONV_COLUMNS[1:])
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO conversations ({cols}) VALUES ({marks}) "
                f"ON CONFLICT(conversation_id) DO UPDATE SET {updates}",
                [tuple(getattr(c, k) for k in _CONV_COLUMNS) for c in convs],
            )

    def upsert_conversation(self, conv: _ConversationRow) -> None:
        self.upsert_conversations([conv])

    def merge_conversation(self, conversation_id: str, **fields: Any) -> _ConversationRow:
        """Create the conversation with ``fields`` if absent, else set only ``fields`` — atomically,
        so a concurrent message update (unread count, latest message) is never overwritten."""
        bad = set(fields) - set(_CONV_COLUMNS[1:])
        if bad:
            raise ValueError(f"unknown conversation fields: {sorted(bad)}")
        cols = ["conversation_id", *fields]
        marks = ", ".join("?" for _ in cols)
        sets = ", ".join(f"{k} = excluded.{k}" for k in fields) or "conversation_id = conversation_id"
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO conversations ({', '.join(cols)}) VALUES ({marks}) "
                f"ON CONFLICT(conversation_id) DO UPDATE SET {sets}",
                (conversation_id, *fields.values()),
            )
        row = self.conversation(conversation_id)
        assert row is not None
        return row

    def update_conversation(self, conversation_id: str, **changes: Any) -> _ConversationRow | None:
        """Change some fields of an existing conversation; returns it (None if absent)."""
        bad = set(changes) - set(_CONV_COLUMNS[1:])
        if bad:
            raise ValueError(f"unknown conversation fields: {sorted(bad)}")
        if changes:
            sets = ", ".join(f"{k} = ?" for k in changes)
            with self._write() as conn:
                conn.execute(
                    f"UPDATE conversations SET {sets} WHERE conversation_id = ?",
                    (*changes.values(), conversation_id),
                )
        return self.conversation(conversation_id)

    def conversation(self, conversation_id: str) -> _ConversationRow | None:
        rows = self._query("SELECT * FROM conversations WHERE conversation_id = ?", (conversation_id,))
        return self._to_conv(rows[0]) if rows else None

    def conversations(self) -> list[_ConversationRow]:
        """Pinned first, then by latest activity (latest message or draft), newest first."""
        rows = self._query(
            "SELECT * FROM conversations ORDER BY is_pinned DESC, "
            "max(latest_msg_send_time, draft_time) DESC, conversation_id"
        )
        return [self._to_conv(r) for r in rows]

    def delete_conversation(self, conversation_id: str, *, with_messages: bool = False) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM conversations WHERE conversation_id = ?", (conversation_id,))
            if with_messages:
                conn.execute("DELETE FROM messages WHERE conversation_id = ?", (conversation_id,))
                conn.execute("DELETE FROM seq_state WHERE conversation_id = ?", (conversation_id,))

    def set_draft(self, conversation_id: str, draft: str, draft_time: int | None = None) -> None:
        ts = int(time.time() * 1000) if draft_time is None else draft_time
        with self._write() as conn:
            conn.execute(
                "INSERT INTO conversations(conversation_id, draft, draft_time) VALUES (?, ?, ?) "
                "ON CONFLICT(conversation_id) DO UPDATE SET draft = excluded.draft, draft_time = excluded.draft_time",
                (conversation_id, draft, ts if draft else 0),
            )

    def change_conversation(
        self,
        conversation_id: str,
        change: Callable[[_ConversationRow | None], _ConversationRow | None],
    ) -> _ConversationRow | None:
        """Read the conversation, let ``change`` compute its next state, write it — in one write
        transaction, so a concurrent change (another process's message, a mark-read) is never
        lost. ``change`` gets ``None`` for an absent conversation and may return ``None`` to
        leave it as it is. The rules themselves live with the caller
        (:func:`openim_sdk.session.conversation_rules.apply_message`); the store only persists."""
        with self._write() as conn:
            row = conn.execute("SELECT * FROM conversations WHERE conversation_id = ?", (conversation_id,)).fetchone()
            current = self._to_conv(row) if row is not None else None
            nxt = change(current)
            if nxt is None or nxt == current:
                return current
            if nxt.conversation_id != conversation_id:
                raise ValueError("a change may not rename the conversation")
            cols = ", ".join(_CONV_COLUMNS)
            marks = ", ".join("?" for _ in _CONV_COLUMNS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in _CONV_COLUMNS[1:])
            conn.execute(
                f"INSERT INTO conversations ({cols}) VALUES ({marks}) ON CONFLICT(conversation_id) DO UPDATE SET {updates}",
                tuple(getattr(nxt, k) for k in _CONV_COLUMNS),
            )
            return nxt

    def mark_read(self, conversation_id: str, has_read_seq: int | None = None) -> int:
        """Mark read up to ``has_read_seq`` (default: everything). Returns the new unread count."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT max_seq, has_read_seq FROM conversations WHERE conversation_id = ?",
                (conversation_id,),
            ).fetchone()
            if row is None:
                return 0
            local_max = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM messages WHERE conversation_id = ? AND seq > 0", (conversation_id,)
            ).fetchone()[0]
            max_seq = max(int(row["max_seq"]), int(local_max))
            read = max_seq if has_read_seq is None else has_read_seq
            read = max(read, int(row["has_read_seq"]))
            unread = max(0, max_seq - read)
            conn.execute(
                "UPDATE conversations SET has_read_seq = ?, unread_count = ?, max_seq = ? WHERE conversation_id = ?",
                (read, unread, max_seq, conversation_id),
            )
            conn.execute(
                "UPDATE messages SET is_read = 1 WHERE conversation_id = ? AND seq > 0 AND seq <= ? AND is_read = 0",
                (conversation_id, read),
            )
            return unread

    def set_read_seqs(self, entries: Iterable[tuple[str, int, int]]) -> None:
        """Apply server read state ``(conversationID, hasReadSeq, maxSeq)`` (a sync ``ReadSeqs``):
        unread = maxSeq − hasReadSeq, as the Go SDK computes it."""
        with self._write() as conn:
            for cid, has_read, max_seq in entries:
                # A reply older than a later read, or than messages delivered since, moves
                # nothing backwards: read seq and max seq only grow; unread follows from both.
                unread = max(0, max_seq - has_read)
                conn.execute(
                    "INSERT INTO conversations(conversation_id, has_read_seq, max_seq, unread_count) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT(conversation_id) DO UPDATE SET "
                    "has_read_seq = max(has_read_seq, excluded.has_read_seq), "
                    "max_seq = max(max_seq, excluded.max_seq), "
                    "unread_count = max(0, max(max_seq, excluded.max_seq) - max(has_read_seq, excluded.has_read_seq))",
                    (cid, has_read, max_seq, unread),
                )

    def unread_counts(self) -> dict[str, int]:
        rows = self._query("SELECT conversation_id, unread_count FROM conversations WHERE unread_count > 0")
        return {r["conversation_id"]: int(r["unread_count"]) for r in rows}

    def total_unread(self) -> int:
        """Unread messages over conversations whose receive option is "receive" (0)."""
        rows = self._query("SELECT coalesce(sum(unread_count), 0) FROM conversations WHERE recv_msg_opt = 0")
        return int(rows[0][0])
