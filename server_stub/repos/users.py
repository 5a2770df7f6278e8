"""Users repository: the ``users`` table (:class:`UserRow`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .base import chunks, existing_ids, placeholders


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
class UserFilter:
    """Which users a page lists; empty fields do not filter."""

    user_id: str = ""  # exactly this user
    nickname: str = ""  # the nickname contains this
    keyword: str = ""  # the user ID is this or the nickname contains it
    levels: tuple[int, ...] = ()  # appMangerLevel is one of these
    min_level: int | None = None  # appMangerLevel at least this

    def where(self) -> tuple[str, tuple[Any, ...]]:
        where: list[str] = []
        params: list[Any] = []
        if self.levels:
            where.append(f"app_manger_level IN ({placeholders(len(self.levels))})")
            params += self.levels
        if self.min_level is not None:
            where.append("app_manger_level >= ?")
            params.append(self.min_level)
        if self.user_id:
            where.append("user_id = ?")
            params.append(self.user_id)
        if self.nickname:
            where.append("nickname LIKE ?")
            params.append(f"%{self.nickname}%")
        if self.keyword:
            where.append("(user_id = ? OR nickname LIKE ?)")
            params += [self.keyword, f"%{self.keyword}%"]
        return " AND ".join(where) or "1=1", tuple(params)


_USER_COLS = "user_id, nickname, face_url, ex, create_time, app_manger_level, global_recv_msg_opt"


def user_infos(conn: sqlite3.Connection, ids: Iterable[str]) -> dict[str, sdkws_pb2.UserInfo]:
    """The users' ``UserInfo`` by ID (unknown IDs are left out)."""
    ids = list(dict.fromkeys(ids))
    out: dict[str, sdkws_pb2.UserInfo] = {}
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for r in conn.execute("SELECT user_id, nickname, face_url, ex, create_time, app_manger_level, "
                              f"global_recv_msg_opt FROM users WHERE user_id IN ({placeholders(len(chunk))})", chunk):
            out[r[0]] = sdkws_pb2.UserInfo(userID=r[0], nickname=r[1], faceURL=r[2], ex=r[3], createTime=r[4],
                                           appMangerLevel=r[5], globalRecvMsgOpt=r[6])
    return out


def app_manager_level(conn: sqlite3.Connection, user_id: str) -> int | None:
    """The user's ``appMangerLevel`` (2+: system / notification accounts), None for an unknown user."""
    r = conn.execute("SELECT app_manger_level FROM users WHERE user_id = ?", (user_id,)).fetchone()
    return int(r[0]) if r is not None else None


class UserRepo:
    """Users half of the storage interface (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]
    read: Callable[..., Any]  # read-only ops: Storage.read (no writer hop)

    async def insert_users(self, users: Iterable[UserRow]) -> list[str]:
        """Insert users; returns the IDs that already existed (then nothing is inserted)."""
        rows = list(users)

        def op(conn: sqlite3.Connection) -> list[str]:
            ids = [u.user_id for u in rows]
            existing = existing_ids(conn, "users", "user_id", ids)
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
            for chunk in chunks(ids):
                q = f"SELECT {_USER_COLS} FROM users WHERE user_id IN ({','.join('?' * len(chunk))})"
                for r in conn.execute(q, chunk):
                    out[r[0]] = UserRow(*r)
            return out

        return await self.read(op, snapshot=False)

    async def update_user(self, user_id: str, changes: dict[str, Any]) -> bool:
        if not changes:
            return await self.user_exists(user_id)
        cols = ", ".join(f"{k} = ?" for k in changes)

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(f"UPDATE users SET {cols} WHERE user_id = ?", (*changes.values(), user_id))
            return cur.rowcount > 0

        return await self.run(op)

    async def user_exists(self, user_id: str) -> bool:
        return bool(await self.read(lambda c: c.execute(
            "SELECT 1 FROM users WHERE user_id = ?", (user_id,)).fetchone(), snapshot=False))

    async def page_users(self, flt: UserFilter | None, offset: int, limit: int) -> tuple[int, list[UserRow]]:
        """(how many users match, the page of them in creation order); ``None`` lists every user."""
        where, params = (flt or UserFilter()).where()

        def op(conn: sqlite3.Connection) -> tuple[int, list[UserRow]]:
            total = conn.execute(f"SELECT COUNT(*) FROM users WHERE {where}", params).fetchone()[0]
            rows = conn.execute(
                f"SELECT {_USER_COLS} FROM users WHERE {where} ORDER BY create_time, user_id LIMIT ? OFFSET ?",
                (*params, limit, offset)).fetchall()
            return total, [UserRow(*r) for r in rows]

        return await self.run(op)

    async def user_infos(self, user_ids: Iterable[str]) -> dict[str, sdkws_pb2.UserInfo]:
        ids = list(user_ids)
        return await self.run(lambda c: user_infos(c, ids))  # type: ignore[no-any-return]
