"""Tokens: a kicked or logged-out token never becomes valid again; the admin secret from a file."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp
from server_stub.config import DEFAULT_SECRET, ServerConfig, build_parser, load_config
from tests.cli.conftest import Server, make_cli, stop, uid

from .conftest import Api, WsClient, ws_url

# A fixed clock: every token of a test is minted in the same second, deterministically.
T0 = float(int(time.time())) + 0.25


def _freeze(server: ServerApp, at: float = T0) -> None:
    assert server.core is not None
    server.core.tokens.clock = lambda: at


async def _code(http: httpx.AsyncClient, token: str) -> int:
    env = await Api(http, token).call("/user/get_users_info", {"userIDs": ["imAdmin"]})
    return int(env["errCode"])


async def _ws_code(server: ServerApp, user: str, token: str, pid: int) -> int:
    async with httpx.AsyncClient() as c:  # the WS handshake answered as HTTP: the token check of the gateway
        r = await c.get(ws_url(server, user, token, pid).replace("ws://", "http://"))
        return int(r.json()["errCode"])


def _same_second(*tokens: str) -> None:
    claims = [jwt.decode(t, options={"verify_signature": False}) for t in tokens]
    assert len({(c["exp"], c["iat"]) for c in claims}) == 1  # the case that used to yield identical tokens
    assert len(set(tokens)) == len(tokens)
    assert all(isinstance(c.get("jti"), str) and len(c["jti"]) >= 16 for c in claims)


async def test_remint_after_force_logout_same_second(server: ServerApp, http: httpx.AsyncClient,
                                                     admin: Api) -> None:
    await admin.register("fl1")
    _freeze(server)
    t1 = await admin.user_token("fl1", 5)
    assert await _code(http, t1) == 0
    await admin.ok("/auth/force_logout", {"userID": "fl1", "platformID": 5})
    assert await _code(http, t1) == 1506
    t2 = await admin.user_token("fl1", 5)
    _same_second(t1, t2)
    assert await _code(http, t2) == 0
    # the kicked row is dropped at the re-mint (as upstream): the old token is now unknown, never normal
    assert await _code(http, t1) == 1507
    assert await _ws_code(server, "fl1", t1, 5) == 1507
    env = await admin.call("/auth/parse_token", {"token": t1})
    assert env["errCode"] == 1507
    # and again: a third mint in the same second leaves both earlier tokens refused
    t3 = await admin.user_token("fl1", 5)
    _same_second(t1, t2, t3)
    assert [await _code(http, t) for t in (t1, t2, t3)] == [1507, 1506, 0]


async def test_remint_after_multi_login_kick_same_second(server: ServerApp, http: httpx.AsyncClient,
                                                         admin: Api) -> None:
    await admin.register("ml1")
    _freeze(server)
    t1 = await admin.user_token("ml1", 2)
    t2 = await admin.user_token("ml1", 2)  # policy 1: kicks t1
    _same_second(t1, t2)
    assert [await _code(http, t) for t in (t1, t2)] == [1506, 0]
    assert await _ws_code(server, "ml1", t1, 2) == 1506


async def test_ws_login_kick_keeps_the_new_token(server: ServerApp, http: httpx.AsyncClient, admin: Api) -> None:
    """A WS login kicking an older connection invalidates the other tokens, never its own."""
    await admin.register("wk1")
    _freeze(server)
    t1 = await admin.user_token("wk1", 3)
    async with connect(ws_url(server, "wk1", t1, 3)) as old:
        t2 = await admin.user_token("wk1", 3)
        _same_second(t1, t2)
        async with connect(ws_url(server, "wk1", t2, 3)) as new:
            assert (await WsClient(old, "wk1").recv()).req_identifier == 2002  # kicked by the new login
            # an answer on the new connection means its login (and invalidate_others) has finished
            req = sdkws_pb2.GetMaxSeqReq(userID="wk1").SerializeToString()
            assert (await WsClient(new, "wk1").request(1001, req)).err_code == 0
            assert await _code(http, t2) == 0
    assert [await _code(http, t) for t in (t1, t2)] == [1506, 0]


async def test_admin_remint_same_second_grace(server: ServerApp, http: httpx.AsyncClient) -> None:
    """Admin re-mint: the older admin token keeps working for the grace period only (spec §6.3)."""
    _freeze(server)
    api = Api(http)
    body = {"secret": DEFAULT_SECRET, "userID": "imAdmin"}
    a1 = (await api.ok("/auth/get_admin_token", body))["token"]
    a2 = (await api.ok("/auth/get_admin_token", body))["token"]
    _same_second(a1, a2)
    assert [await _code(http, t) for t in (a1, a2)] == [0, 0]
    _freeze(server, T0 + 301)
    assert [await _code(http, t) for t in (a1, a2)] == [1507, 0]


# --------------------------------------------------------------------------- the secret from a file


def test_secret_file_sources(tmp_path: Path) -> None:
    f = tmp_path / "secret"
    f.write_text("from-file\n")
    assert load_config(["--secret-file", str(f)], env={}).secret == "from-file"
    assert load_config([], env={"OPENIM_SECRET_FILE": str(f)}).secret == "from-file"
    # flags beat the environment
    assert load_config(["--secret-file", str(f)], env={"OPENIM_SECRET": "env"}).secret == "from-file"
    g = tmp_path / "other"
    g.write_text("flag-file")
    assert load_config(["--secret-file", str(g)], env={"OPENIM_SECRET_FILE": str(f)}).secret == "flag-file"
    # config file key, relative to the config file
    conf = tmp_path / "server.toml"
    conf.write_text('[server]\nsecret_file = "secret"\n')
    assert load_config(["--config", str(conf)], env={}).secret == "from-file"
    # only one trailing newline is stripped; CRLF too
    f.write_bytes(b"two\n\n")
    assert load_config(["--secret-file", str(f)], env={}).secret == "two\n"
    f.write_bytes(b"crlf\r\n")
    assert load_config(["--secret-file", str(f)], env={}).secret == "crlf"


def test_secret_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(SystemExit, match="cannot read the secret file") as exc:
        load_config(["--secret-file", str(missing)], env={})
    assert str(missing) in str(exc.value)
    with pytest.raises(SystemExit, match="cannot read the secret file"):
        load_config([], env={"OPENIM_SECRET_FILE": str(missing)})
    with pytest.raises(SystemExit, match="cannot read the secret file"):
        load_config(["--secret-file", str(tmp_path)], env={})  # a directory
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SystemExit, match="is empty"):
        load_config(["--secret-file", str(empty)], env={})
    full = tmp_path / "full"
    full.write_text("x")
    with pytest.raises(SystemExit, match="not both"):
        load_config(["--secret", "y", "--secret-file", str(full)], env={})
    with pytest.raises(SystemExit, match="not both"):
        load_config([], env={"OPENIM_SECRET": "y", "OPENIM_SECRET_FILE": str(full)})


def test_default_secret_policy_and_help() -> None:
    with pytest.raises(SystemExit, match="--secret-file"):
        ServerConfig(host="0.0.0.0").check_secret_policy()
    ServerConfig(host="0.0.0.0", secret="long-and-private").check_secret_policy()
    ServerConfig(host="127.0.0.1").check_secret_policy()
    text = " ".join(build_parser().format_help().split())
    assert "--secret-file" in text and "visible to other local users" in text


def _start(tmp: Path, *extra: str) -> Server:
    log = tmp / "server.log"
    args = [sys.executable, "-m", "server_stub", "--api-port", "0", "--ws-port", "0",
            "--data", str(tmp / "openim.sqlite3"), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENIM_")}
    with open(log, "w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY"):
            ports = dict(kv.split("=") for kv in line.split()[1:])
            return Server(proc, int(ports["api_port"]), int(ports["ws_port"]), log)
    stop(proc)
    raise AssertionError(f"server did not start: {log.read_text()[-2000:]}")


@pytest.fixture
def file_secret_server(tmp_path: Path) -> Iterator[tuple[Server, Path, str]]:
    secret = "s-" + os.urandom(8).hex()
    f = tmp_path / "secret"
    f.write_text(secret + "\n")
    f.chmod(0o600)
    srv = _start(tmp_path, "--secret-file", str(f))
    try:
        yield srv, f, secret
    finally:
        stop(srv.proc)


def test_server_and_cli_login_with_secret_file(tmp_path: Path, file_secret_server: tuple[Server, Path, str]) -> None:
    srv, f, secret = file_secret_server
    cmdline = Path(f"/proc/{srv.proc.pid}/cmdline").read_bytes()
    assert secret.encode() not in cmdline and str(f).encode() in cmdline
    with httpx.Client(base_url=srv.api, timeout=10) as c:
        def admin_token(s: str) -> int:
            return int(c.post("/auth/get_admin_token", json={"secret": s, "userID": "imAdmin"},
                              headers={"operationID": "op"}).json()["errCode"])
        assert admin_token(secret) == 0 and admin_token(DEFAULT_SECRET) == 1002
    cli = make_cli(tmp_path / "cli", srv)
    user = uid("sf")
    cli.run("login", "-u", user, "--secret-file", str(f), "--register", "-p", "a")
    cli.run("login", "-u", user, "-p", "b", "--register", env={"OPENIM_SECRET_FILE": str(f)})
    assert {"a", "b"} <= set(cli.profiles())
    bad = cli.run("login", "-u", user, "--secret-file", str(tmp_path / "missing"), "-p", "c", code=2)
    assert "cannot read the secret file" in " ".join(bad.stderr.split())
    wrong = cli.run("login", "-u", user, "--secret", DEFAULT_SECRET, "-p", "d", code=1)
    assert "1002" in wrong.stderr


def test_openim_server_secret_file_reaches_the_server(tmp_path: Path) -> None:
    from tests.cli.conftest import OPENIM

    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENIM_")}
    r = subprocess.run([OPENIM, "server", "--api-port", "0", "--ws-port", "0", "--data",
                        str(tmp_path / "db.sqlite3"), "--secret-file", str(tmp_path / "missing")],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "cannot read the secret file" in r.stderr and str(tmp_path / "missing") in r.stderr
