"""Per-user records besides the profile: user commands (``user_commands``) and client config
key/values (``client_config``, user ID "" holds the global values)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .base import now_ms


@dataclass
class UserCommandRow:
    type: int
    create_time: int
    uuid: str
    value: str
    ex: str


@dataclass
class ClientConfigRow:
    user_id: str  # "" for a global value
    key: str
    value: str


class UserDataRepo:
    """User commands and client config (mixed into :class:`~server_stub.storage.SqliteStorage`)."""

    run: Callable[..., Any]

    # -- user commands -----------------------------------------------------------------

    async def put_user_command(self, user_id: str, typ: int, uuid: str, value: str, ex: str) -> None:
        """Add (or replace) the command (user, type, uuid), created now."""
        await self.run(lambda c: c.execute("INSERT OR REPLACE INTO user_commands VALUES (?,?,?,?,?,?)",
                                           (user_id, typ, uuid, value, ex, now_ms())))

    async def delete_user_command(self, user_id: str, typ: int, uuid: str) -> bool:
        """Whether there was such a command."""
        return bool(await self.run(lambda c: c.execute(
            "DELETE FROM user_commands WHERE user_id = ? AND type = ? AND uuid = ?", (user_id, typ, uuid)).rowcount))

    async def update_user_command(self, user_id: str, typ: int, uuid: str, value: str | None = None,
                                  ex: str | None = None) -> bool:
        """Set the given fields (None: keep); whether the command exists."""
        changes = {k: v for k, v in (("value", value), ("ex", ex)) if v is not None}
        if not changes:
            return True
        sets = ", ".join(f"{k} = ?" for k in changes)
        return bool(await self.run(lambda c: c.execute(
            f"UPDATE user_commands SET {sets} WHERE user_id = ? AND type = ? AND uuid = ?",
            (*changes.values(), user_id, typ, uuid)).rowcount))

    async def user_commands(self, user_id: str, typ: int | None = None) -> list[UserCommandRow]:
        """The user's commands (of ``typ``, or all), oldest first."""
        q = "SELECT type, create_time, uuid, value, ex FROM user_commands WHERE user_id = ?"
        params: tuple[Any, ...] = (user_id,)
        if typ is not None:
            q += " AND type = ?"
            params += (typ,)
        rows = await self.run(lambda c: c.execute(q + " ORDER BY create_time", params).fetchall())
        return [UserCommandRow(*r) for r in rows]

    # -- client config -----------------------------------------------------------------

    async def client_config_for(self, user_id: str) -> list[ClientConfigRow]:
        """The global values then the user's own (so a later row overrides an earlier one)."""
        rows = await self.run(lambda c: c.execute(
            "SELECT user_id, key, value FROM client_config WHERE user_id IN ('', ?) ORDER BY user_id",
            (user_id,)).fetchall())
        return [ClientConfigRow(*r) for r in rows]

    async def set_client_config(self, user_id: str, values: dict[str, str]) -> None:
        items = [(user_id, k, v) for k, v in values.items()]
        await self.run(lambda c: c.executemany("INSERT OR REPLACE INTO client_config VALUES (?,?,?)", items))

    async def delete_client_config(self, user_id: str, keys: list[str]) -> None:
        items = [(user_id, k) for k in keys]
        await self.run(lambda c: c.executemany("DELETE FROM client_config WHERE user_id = ? AND key = ?", items))

    async def page_client_config(self, user_id: str, key: str, offset: int,
                                 limit: int) -> tuple[int, list[ClientConfigRow]]:
        """(how many values match, the page ordered by user and key); empty ``user_id``/``key`` match any."""
        where, params = ["1=1"], []
        if user_id:
            where.append("user_id = ?")
            params.append(user_id)
        if key:
            where.append("key = ?")
            params.append(key)
        w = " AND ".join(where)

        def op(c: sqlite3.Connection) -> tuple[int, list[ClientConfigRow]]:
            total = c.execute(f"SELECT COUNT(*) FROM client_config WHERE {w}", params).fetchone()[0]
            rows = c.execute(f"SELECT user_id, key, value FROM client_config WHERE {w} ORDER BY user_id, key "
                             "LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
            return total, [ClientConfigRow(*r) for r in rows]

        return await self.run(op)  # type: ignore[no-any-return]
