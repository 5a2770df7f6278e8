"""Activity records: statistics counts over users/groups/messages, client log records and the
third-party key/values (FCM tokens, app badges): ``client_logs``, ``third_kv``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openim_sdk.protocol.constants import ContentType

from .base import placeholders
from .users import user_infos

#: Creation-time columns the statistics count by: users registered, groups created.
_CREATED = {"users": ("users", "create_time"), "groups": ("im_groups", "create_time")}
#: Chat messages only: notifications (NOTIFICATION_BEGIN..NOTIFICATION_END) are not activity.
_CHAT = f"content_type NOT BETWEEN {int(ContentType.NOTIFICATION_BEGIN)} AND {int(ContentType.NOTIFICATION_END)}"
_ACTIVITY_KEYS = ("send_id", "group_id")


@dataclass
class ClientLogRow:
    log_id: str
    user_id: str
    platform: str
    url: str
    filename: str
    system_type: str
    app_framework: str
    version: str
    ex: str
    create_time: int
    nickname: str = ""  # the uploader's, filled by searches


class ActivityRepo:
    """Statistics, client logs and third-party key/values (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]

    # -- statistics --------------------------------------------------------------------

    async def created_between(self, kind: str, start: int, end: int) -> tuple[int, int, list[int]]:
        """For ``kind`` "users" or "groups": (total, created before ``start``, creation times in [start, end])."""
        table, col = _CREATED[kind]

        def op(conn: sqlite3.Connection) -> tuple[int, int, list[int]]:
            total = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            before = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} < ?", (start,)).fetchone()[0]
            times = [t for (t,) in conn.execute(f"SELECT {col} FROM {table} WHERE {col} >= ? AND {col} <= ?",
                                                (start, end))]
            return total, before, times

        return await self.run(op)  # type: ignore[no-any-return]

    async def chat_activity(self, key: str, session_types: tuple[int, ...], start: int,
                            end: int) -> list[tuple[str, int]]:
        """(``key`` value, send time) of every chat message (no notifications) of ``session_types`` sent in
        [start, end]; ``key`` is "send_id" (active users) or "group_id" (active groups)."""
        if key not in _ACTIVITY_KEYS:
            raise ValueError(f"unknown activity key {key!r}")
        where = f"session_type IN ({placeholders(len(session_types))})"

        def op(conn: sqlite3.Connection) -> list[tuple[str, int]]:
            return [tuple(r) for r in conn.execute(  # type: ignore[misc]
                f"SELECT {key}, send_time FROM messages WHERE {where} AND {_CHAT} AND send_time >= ? AND "
                "send_time <= ?", (*session_types, start, end)).fetchall()]

        return await self.run(op)  # type: ignore[no-any-return]

    # -- client logs -------------------------------------------------------------------

    async def add_client_logs(self, rows: list[ClientLogRow]) -> None:
        await self.run(lambda c: c.executemany(
            "INSERT INTO client_logs VALUES (?,?,?,?,?,?,?,?,?,?)",
            [(r.log_id, r.user_id, r.platform, r.url, r.filename, r.system_type, r.app_framework, r.version, r.ex,
              r.create_time) for r in rows]))

    async def delete_client_logs(self, ids: list[str]) -> list[str]:
        """Delete the logs, all or none: returns the IDs not found (then nothing is deleted)."""
        def op(conn: sqlite3.Connection) -> list[str]:
            found = {r[0] for r in conn.execute(
                f"SELECT log_id FROM client_logs WHERE log_id IN ({placeholders(len(ids))})", ids)}
            missing = [i for i in ids if i not in found]
            if not missing:
                conn.execute(f"DELETE FROM client_logs WHERE log_id IN ({placeholders(len(ids))})", ids)
            return missing

        return await self.run(op)  # type: ignore[no-any-return]

    async def search_client_logs(self, keyword: str, start_time: int, end_time: int, offset: int,
                                 limit: int) -> tuple[int, list[ClientLogRow]]:
        """Newest first; ``keyword`` matches userID, filename or version; 0 times are open bounds."""
        where, params = "1=1", list[Any]()
        if keyword:
            where += " AND (user_id LIKE ? OR filename LIKE ? OR version LIKE ?)"
            params += [f"%{keyword}%"] * 3
        if start_time:
            where += " AND create_time >= ?"
            params.append(start_time)
        if end_time:
            where += " AND create_time <= ?"
            params.append(end_time)

        def op(conn: sqlite3.Connection) -> tuple[int, list[ClientLogRow]]:
            total = conn.execute(f"SELECT COUNT(*) FROM client_logs WHERE {where}", params).fetchone()[0]
            rows = conn.execute("SELECT log_id, user_id, platform, url, filename, system_type, app_framework, "
                                f"version, ex, create_time FROM client_logs WHERE {where} "
                                "ORDER BY create_time DESC LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
            us = user_infos(conn, [r[1] for r in rows])
            logs = [ClientLogRow(*r) for r in rows]
            for log in logs:
                log.nickname = us[log.user_id].nickname if log.user_id in us else ""
            return total, logs

        return await self.run(op)  # type: ignore[no-any-return]

    # -- third-party key/values --------------------------------------------------------

    async def put_third_value(self, user_id: str, key: str, value: str) -> None:
        """``third_kv``: FCM token per (account, "fcm:<platform>"), app badge per (user, "badge")."""
        await self.run(lambda c: c.execute("INSERT OR REPLACE INTO third_kv VALUES (?,?,?)", (user_id, key, value)))

    async def third_value(self, user_id: str, key: str) -> str | None:
        row = await self.run(lambda c: c.execute("SELECT value FROM third_kv WHERE user_id=? AND key=?",
                                                 (user_id, key)).fetchone())
        return None if row is None else str(row[0])

    async def delete_third_value(self, user_id: str, key: str) -> None:
        await self.run(lambda c: c.execute("DELETE FROM third_kv WHERE user_id=? AND key=?", (user_id, key)))
