"""Shared helpers of the repositories: the clock in milliseconds, IN-clause chunks, the runner type."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Runner(Protocol):
    """What a repository mixin needs from the engine: ``run(fn)`` executes ``fn(conn)`` on the
    writer thread inside the current group-commit batch (:class:`server_stub.storage.Storage`)."""

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...


def now_ms() -> int:
    return int(time.time() * 1000)


def placeholders(n: int) -> str:
    return ",".join("?" * n)


def chunks(items: list[Any], size: int = 500) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def existing_ids(conn: sqlite3.Connection, table: str, col: str, ids: list[str]) -> list[str]:
    out: list[str] = []
    for chunk in chunks(ids):
        q = f"SELECT {col} FROM {table} WHERE {col} IN ({','.join('?' * len(chunk))})"
        out.extend(r[0] for r in conn.execute(q, chunk))
    return out
