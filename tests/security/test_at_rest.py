"""Data at rest: modes of everything under a fresh data dir (umask 000), no usable token in the database."""

from __future__ import annotations

import os
import re
import sqlite3
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from openim_sdk.rest.files import upload_file
from server_stub import ServerApp
from server_stub.storage import _SCHEMA, SCHEMA_VERSION

from .conftest import Api, WsClient, server_config, ws_url

JWT_RE = re.compile(rb"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}")
REFUSED = set(range(1501, 1508))


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _db_bytes(db: Path) -> bytes:
    """The database file and its WAL (the WAL holds the newest pages while the server runs)."""
    out = db.read_bytes()
    wal = Path(str(db) + "-wal")
    if wal.exists():
        out += wal.read_bytes()
    return out


def _token_table_text(db: Path) -> list[str]:
    """Every value of every TEXT column of the tokens table, read with sqlite3 from the file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(tokens)") if r[2].upper() == "TEXT"]
        assert cols, "tokens table has no TEXT column?"
        values = [v for c in cols for (v,) in conn.execute(f"SELECT {c} FROM tokens")]
    finally:
        conn.close()
    return [v for v in values if isinstance(v, str)]


def _assert_no_token_bytes(raw: bytes, tokens: list[str]) -> None:
    assert JWT_RE.search(raw) is None, JWT_RE.search(raw)
    for tok in tokens:
        for part in tok.split("."):  # nor any piece of a token (payload or signature alone)
            assert part.encode() not in raw, part


@pytest.fixture
async def loose_umask(tmp_path: Path) -> AsyncIterator[ServerApp]:
    """A server started under umask 000 on a data dir that does not exist yet."""
    old = os.umask(0)
    try:
        cfg = server_config(tmp_path, data_path=str(tmp_path / "data" / "openim.sqlite3"))
        async with ServerApp(cfg) as srv:
            yield srv
    finally:
        os.umask(old)


async def _admin(http: httpx.AsyncClient) -> Api:
    api = Api(http)
    api.token = (await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
    return api


async def test_modes_under_umask_000(loose_umask: ServerApp) -> None:
    srv = loose_umask
    data_dir = Path(srv.config.resolved_data_path()).parent
    async with httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        admin = await _admin(http)
        await admin.register("alice", "bob")
        ta, tb = await admin.user_token("alice", 5), await admin.user_token("bob", 3)
        await admin.ok("/msg/send_msg", {"sendID": "alice", "recvID": "bob", "content": {"content": "hi"},
                                         "contentType": 101, "sessionType": 1})
        async with connect(ws_url(srv, "bob", tb, 3)) as wb:
            b = WsClient(wb, "bob")
            assert (await b.request(1001, sdkws_pb2.GetMaxSeqReq(userID="bob").SerializeToString())).err_code == 0
        async with RestClient(srv.api_url, ta) as sdk:
            state = await upload_file(sdk, b"a small file", "alice/note.txt", content_type="text/plain")
        assert (await http.get(state.url, follow_redirects=True)).content == b"a small file"
    assert Path(str(srv.config.resolved_data_path()) + "-wal").exists()  # the WAL is among the files checked
    assert _mode(data_dir) == 0o700
    seen = 0
    for root, dirs, files in os.walk(data_dir):
        for d in dirs:
            assert _mode(Path(root, d)) == 0o700, Path(root, d)
        for f in files:
            assert _mode(Path(root, f)) == 0o600, Path(root, f)
            seen += 1
    assert seen >= 3  # database, -wal, -shm (and the uploaded object)


async def test_existing_loose_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = data / "openim.sqlite3"
    async with ServerApp(server_config(tmp_path, data_path=str(db))):
        pass
    os.chmod(data, 0o755)
    os.chmod(db, 0o644)
    async with ServerApp(server_config(tmp_path, data_path=str(db))):
        assert _mode(data) == 0o700  # holds nothing but the server's files: tightened
        assert _mode(db) == 0o600
        assert _mode(Path(str(db) + "-wal")) == 0o600
    # a directory shared with other files (e.g. --data ./x.sqlite3) keeps its mode; the files do not
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("mine")
    os.chmod(shared, 0o755)
    (shared / "x.sqlite3").touch(mode=0o644)
    os.chmod(shared / "x.sqlite3", 0o644)
    async with ServerApp(server_config(tmp_path, data_path=str(shared / "x.sqlite3"))):
        assert _mode(shared) == 0o755
        assert _mode(shared / "x.sqlite3") == 0o600


async def test_no_usable_token_in_database(server: ServerApp, http: httpx.AsyncClient, admin: Api) -> None:
    db = Path(server.config.resolved_data_path())
    await admin.register("u1", "u2")
    tokens = [admin.token]
    for uid, pid in (("u1", 5), ("u1", 2), ("u1", 5), ("u2", 3)):  # the second u1/5 kicks the first
        tokens.append(await admin.user_token(uid, pid))
    async with connect(ws_url(server, "u2", tokens[-1], 3)) as ws:
        c = WsClient(ws, "u2")
        assert (await c.request(1001, sdkws_pb2.GetMaxSeqReq(userID="u2").SerializeToString())).err_code == 0
    await admin.ok("/auth/force_logout", {"userID": "u1", "platformID": 2})
    live = Api(http, tokens[-1])
    await live.ok("/user/get_users_info", {"userIDs": ["u2"]})  # the last token works, so the check below is fair
    values = _token_table_text(db)
    assert len(values) >= 2 * 4
    for value in values:
        env = await live.call("/user/get_users_info", {"userIDs": ["u2"]}, token=value)
        assert env["errCode"] in REFUSED, (value, env)
        assert value not in tokens
    _assert_no_token_bytes(_db_bytes(db), tokens)


_V1_TOKENS = """
CREATE TABLE tokens (
    user_id TEXT NOT NULL, platform_id INTEGER NOT NULL, token TEXT NOT NULL,
    state INTEGER NOT NULL DEFAULT 0, exp INTEGER NOT NULL, created INTEGER NOT NULL,
    temp_until INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, platform_id, token));
"""


def _old_token(user_id: str, platform_id: int, exp: int) -> str:
    """A token as schema-1 servers minted it (no jti)."""
    return jwt.encode({"UserID": user_id, "PlatformID": platform_id, "exp": exp, "iat": exp - 86400},
                      "openIM123", algorithm="HS256")


def _make_v1_database(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A schema-1 database left by a SIGKILL: some tokens in the main file, the newest only in its WAL."""
    exp = int(time.time()) + 86400
    toks = {"normal": _old_token("old1", 5, exp), "kicked": _old_token("old1", 3, exp),
            "wal_only": _old_token("old2", 2, exp)}
    work = tmp_path / "v1-work"
    work.mkdir()
    src = work / "openim.sqlite3"
    conn = sqlite3.connect(src, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.executescript(_V1_TOKENS + _SCHEMA)
    conn.execute("INSERT INTO schema_version VALUES (1)")
    for uid in ("old1", "old2"):
        conn.execute("INSERT INTO users (user_id, nickname, create_time) VALUES (?, ?, 0)", (uid, uid))
    conn.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?,?)", ("old1", 5, toks["normal"], 0, exp, 1, 0))
    conn.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?,?)", ("old1", 3, toks["kicked"], 2, exp, 2, 0))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("INSERT INTO tokens VALUES (?,?,?,?,?,?,?)", ("old2", 2, toks["wal_only"], 0, exp, 3, 0))
    dest = tmp_path / "data"
    dest.mkdir()
    for suffix in ("", "-wal"):  # copy while the connection is open: the crash image
        Path(str(dest / "openim.sqlite3") + suffix).write_bytes(Path(str(src) + suffix).read_bytes())
    conn.close()
    raw = _db_bytes(dest / "openim.sqlite3")
    assert toks["normal"].encode() in raw and toks["wal_only"].encode() in raw  # the test starts from plain text
    return dest / "openim.sqlite3", toks


async def test_schema_1_database_is_migrated(tmp_path: Path) -> None:
    db, toks = _make_v1_database(tmp_path)
    async with ServerApp(server_config(tmp_path, data_path=str(db))) as srv:
        async with httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
            api = Api(http)
            # stored tokens keep their state: looked up by hash now
            assert (await api.ok("/user/get_users_info", {"userIDs": ["old1"]}, token=toks["normal"]))
            assert (await api.ok("/user/get_users_info", {"userIDs": ["old2"]}, token=toks["wal_only"]))
            env = await api.call("/user/get_users_info", {"userIDs": ["old1"]}, token=toks["kicked"])
            assert env["errCode"] == 1506
            for value in _token_table_text(db):
                env = await api.call("/user/get_users_info", {"userIDs": ["old1"]}, token=value)
                assert env["errCode"] in REFUSED, (value, env)
        _assert_no_token_bytes(_db_bytes(db), list(toks.values()))
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        assert SCHEMA_VERSION >= 2
        cols: Any = [r[1] for r in conn.execute("PRAGMA table_info(tokens)")]
        assert "token" not in cols and "token_hash" in cols
    finally:
        conn.close()
