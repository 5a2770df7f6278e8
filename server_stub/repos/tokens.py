"""Token state table (spec rest-api §6.3): one row per minted token, keyed by the token's SHA-256.

Only the hash is stored, so a copy of the database yields no usable token; a presented token is
looked up by its hash. Databases of schema version 1 kept the token itself: :func:`migrate_v1_tokens`
hashes those rows in place.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

TOKENS_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    user_id TEXT NOT NULL, platform_id INTEGER NOT NULL, token_hash TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0, exp INTEGER NOT NULL, created INTEGER NOT NULL,
    temp_until INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, platform_id, token_hash));
"""
_COLS = "user_id, platform_id, token_hash, state, exp, created, temp_until"


def hash_token(token: str) -> str:
    """What the table stores for ``token``: hex SHA-256 (tokens are random-ID JWTs, no salt needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass
class TokenRow:
    user_id: str
    platform_id: int
    token_hash: str
    state: int
    exp: int
    created: int
    temp_until: int


def migrate_v1_tokens(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2: replace each stored token by its hash and rename the column (inside a transaction)."""
    cols = [r[1] for r in conn.execute("PRAGMA table_info(tokens)")]
    if "token" not in cols:
        return
    rows = conn.execute("SELECT rowid, token FROM tokens").fetchall()
    conn.executemany("UPDATE tokens SET token = ? WHERE rowid = ?", [(hash_token(t), rid) for rid, t in rows])
    conn.execute("ALTER TABLE tokens RENAME COLUMN token TO token_hash")


class TokenStore:
    """Token half of the storage interface (mixed into :class:`~server_stub.storage.SqliteStorage`).

    Every argument naming a token is its :func:`hash_token`.
    """

    run: Callable[..., Any]

    async def token_rows(self, user_id: str, platform_id: int | None = None) -> list[TokenRow]:
        """Oldest first: by minting time, then insertion order (two tokens minted in one millisecond,
        or under a fixed test clock, keep the order they were minted in)."""
        def op(conn: sqlite3.Connection) -> list[TokenRow]:
            if platform_id is None:
                cur = conn.execute(f"SELECT {_COLS} FROM tokens WHERE user_id = ? ORDER BY created, rowid", (user_id,))
            else:
                cur = conn.execute(f"SELECT {_COLS} FROM tokens WHERE user_id = ? AND platform_id = ? "
                                   "ORDER BY created, rowid", (user_id, platform_id))
            return [TokenRow(*r) for r in cur]

        return await self.run(op)  # type: ignore[no-any-return]

    async def get_token(self, user_id: str, platform_id: int, token_hash: str) -> TokenRow | None:
        row = await self.run(lambda c: c.execute(
            f"SELECT {_COLS} FROM tokens WHERE user_id = ? AND platform_id = ? AND token_hash = ?",
            (user_id, platform_id, token_hash)).fetchone())
        return TokenRow(*row) if row else None

    async def apply_token_changes(self, user_id: str, add: TokenRow | None, kick: Iterable[str] = (),
                                  delete: Iterable[str] = (), temp: dict[str, int] | None = None) -> None:
        kick, delete, temp = list(kick), list(delete), dict(temp or {})

        def op(conn: sqlite3.Connection) -> None:
            for h in delete:
                conn.execute("DELETE FROM tokens WHERE user_id = ? AND token_hash = ?", (user_id, h))
            for h in kick:
                conn.execute("UPDATE tokens SET state = 2 WHERE user_id = ? AND token_hash = ?", (user_id, h))
            for h, until in temp.items():
                conn.execute("UPDATE tokens SET state = 4, temp_until = ? WHERE user_id = ? AND token_hash = ?",
                             (until, user_id, h))
            if add is not None:
                # A plain INSERT: a token that was ever stored (kicked, logged out) must never be
                # turned back to normal by a re-mint; a duplicate fails loudly instead.
                conn.execute(f"INSERT INTO tokens ({_COLS}) VALUES (?,?,?,?,?,?,?)",
                             (add.user_id, add.platform_id, add.token_hash, add.state, add.exp, add.created,
                              add.temp_until))

        await self.run(op)

    async def kick_platform_tokens(self, user_id: str, platform_id: int, preserve_hash: str = "") -> None:
        await self.run(lambda c: c.execute(
            "UPDATE tokens SET state = 2 WHERE user_id = ? AND platform_id = ? AND token_hash != ? AND state = 0",
            (user_id, platform_id, preserve_hash)))
