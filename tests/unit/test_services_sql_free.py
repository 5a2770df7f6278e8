"""The server's services and scheduled clean-up hold no SQL: every query lives in a typed
repository (``server_stub/repos/``). This test keeps it so."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "server_stub"
MODULES = sorted((ROOT / "services").glob("*.py")) + [ROOT / "cleanup.py"]

#: Calls that run SQL on a connection or cursor.
_SQL_CALLS = {"execute", "executemany", "executescript"}
#: SQL in a string: a statement, a WHERE/ORDER BY clause, a ``col = ?`` / ``IN (?`` placeholder.
_SQL_TEXT = re.compile(
    r"\bSELECT\b.*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b"
    r"|\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX)\b|\bPRAGMA\s+\w+|\bWHERE\b|\bORDER\s+BY\b|\bLIMIT\s+\?"
    r"|\w\s+(=|<|>|<=|>=|LIKE)\s+\?|\bIN\s*\(\s*\?", re.S)


def _sql_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _SQL_CALLS:
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _SQL_TEXT.search(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value[:60]!r}")
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_module_holds_no_sql(path: Path) -> None:
    assert _sql_uses(path) == [], f"{path.name} runs SQL itself; move it into a repository in server_stub/repos/"


def test_the_check_sees_sql() -> None:
    """The detector itself: each shape of SQL the services used to hold is caught."""
    samples = [
        'conn.execute("SELECT data FROM conversations WHERE owner_user_id = ?", (o,))',
        'c.executemany("DELETE FROM client_config WHERE user_id = ? AND key = ?", items)',
        'where = "from_user_id = ? AND to_user_id = ?"',
        'q = f"SELECT COUNT(*) FROM t WHERE group_id IN ({marks})"',
        'sql = "INSERT OR REPLACE INTO blacks VALUES (?,?,?,?,?,?)"',
        'w = "nickname LIKE ?"',
    ]
    for src in samples:
        tree = ast.parse(src)
        hit = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _SQL_CALLS
                  for n in ast.walk(tree)) or any(
            isinstance(n, ast.Constant) and isinstance(n.value, str) and _SQL_TEXT.search(n.value)
            for n in ast.walk(tree))
        assert hit, src
