"""Server operations over real sockets: /healthz, /metrics, online backup and restore under write
load, SIGTERM during a send storm, --print-config, JSON logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp
from server_stub.config import load_config
from server_stub.context import raw_route
from server_stub.ops import JsonFormatter, config_toml
from server_stub.registry import DuplicateRouteError, RegistryError, build_registry

from .conftest import Api, WsClient, server_config, ws_url

ROOT = Path(__file__).resolve().parents[2]
PEERS = {"oa": "ob", "oc": "ob"}


# -- helpers -----------------------------------------------------------------------------------


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        if key == (f"{name}{{{want}}}" if want else name):
            return float(value)
    return 0.0


def _msg(send: str, recv: str, cmid: str) -> bytes:
    return sdkws_pb2.MsgData(sendID=send, recvID=recv, clientMsgID=cmid, sessionType=1, contentType=101,
                             content=b'{"content":"x"}').SerializeToString()


class _Srv:
    def __init__(self, ws_port: int) -> None:
        self.ws_url = f"ws://127.0.0.1:{ws_port}"


class Proc:
    """``python -m server_stub`` on ephemeral ports (READY line gives them)."""

    def __init__(self, db: Path, log: Path) -> None:
        self.db, self.log = db, log
        self.proc: subprocess.Popen[str] | None = None
        self.api_port = self.ws_port = 0

    async def start(self) -> None:
        with open(self.log, "a") as err:
            self.proc = proc = subprocess.Popen(
                [sys.executable, "-m", "server_stub", "--api-port", "0", "--ws-port", "0", "--data",
                 str(self.db), "--log-level", "WARNING"],
                cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)

        def ready() -> str:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("READY"):
                    return line
            raise RuntimeError(f"server exited before READY; see {self.log}")

        line = await asyncio.wait_for(asyncio.to_thread(ready), 30)
        parts = dict(p.split("=") for p in line.split()[1:])
        self.api_port, self.ws_port = int(parts["api_port"]), int(parts["ws_port"])

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def stop(self) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(20)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code


async def _admin(http: httpx.AsyncClient) -> Api:
    api = Api(http)
    api.token = (await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
    return api


async def _storm(srv: Proc, acked: dict[str, int], stop: asyncio.Event) -> None:
    """Two senders sending one message at a time until ``stop`` (or their connection ends);
    ``acked`` gets every clientMsgID the server acknowledged."""
    async with httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        admin = await _admin(http)
        await admin.register(*PEERS, *set(PEERS.values()))
        tokens = {u: await admin.user_token(u, 5) for u in PEERS}

    async def sender(user: str) -> None:
        async with connect(ws_url(_Srv(srv.ws_port), user, tokens[user])) as ws:  # type: ignore[arg-type]
            client = WsClient(ws, user)
            i = 0
            while not stop.is_set() and i < 20000:
                i += 1
                cmid = f"{user}-{i}"
                try:
                    resp = await client.request(1003, _msg(user, PEERS[user], cmid))
                except Exception:  # the server went away: what was acked is what counts
                    return
                if resp.err_code == 0:
                    acked[msg_pb2.SendMsgResp.FromString(resp.data).clientMsgID] = i

    await asyncio.gather(*(sender(u) for u in PEERS), return_exceptions=True)


async def _stored(api_url: str) -> set[str]:
    """Every clientMsgID stored in the storm's conversations."""
    found: set[str] = set()
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as http:
        admin = await _admin(http)
        for sender, recv in PEERS.items():
            cid = "si_" + "_".join(sorted((sender, recv)))
            newest = await admin.ok("/msg/newest_seq", {"userID": recv})
            max_seq = (newest.get("maxSeqs") or {}).get(cid, 0)
            for begin in range(1, max_seq + 1, 500):
                data: Any = await admin.ok("/msg/pull_msg_by_seq", {"userID": recv, "seqRanges": [
                    {"conversationID": cid, "begin": begin, "end": begin + 499, "num": 500}]})
                found.update(m["clientMsgID"] for m in data["msgs"][cid]["Msgs"])
    return found


def _server_cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server_stub", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


# -- /healthz and /metrics -----------------------------------------------------------------------


async def test_healthz_and_metrics_change_when_messages_flow(tmp_path: Path) -> None:
    async with ServerApp(server_config(tmp_path)) as srv, \
            httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        r = await http.get("/healthz")
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "ok" and body["storage"] == "ok" and body["connections"] == 0

        before = (await http.get("/metrics")).text
        assert "openim_push_latency_seconds_bucket" in before
        assert _metric(before, "openim_messages_in_total", transport="ws") == 0

        admin = await _admin(http)
        no_token = await http.post("/user/get_users_info", json={}, headers={"operationID": "op-x"})
        assert no_token.json()["errCode"] == 1001
        await admin.register("ma", "mb")
        ta, tb = await admin.user_token("ma"), await admin.user_token("mb")
        async with connect(ws_url(srv, "ma", ta)) as wa, connect(ws_url(srv, "mb", tb)) as wb:
            a, b = WsClient(wa, "ma"), WsClient(wb, "mb")
            for i in range(5):
                resp = await a.request(1003, _msg("ma", "mb", f"m{i}"))
                assert resp.err_code == 0
                await b.next_push()
            bad = await a.request(1003, _msg("ma", "nobody", "m-bad"))
            assert bad.err_code == 1004
            during = (await http.get("/metrics")).text
            assert _metric(during, "openim_connections") == 2
            assert (await http.get("/healthz")).json()["connections"] == 2
        after = during
        assert _metric(after, "openim_messages_in_total", transport="ws") == 5
        assert _metric(after, "openim_messages_out_total") >= 5
        assert _metric(after, "openim_push_latency_seconds_count") >= 5
        assert _metric(after, "openim_errors_total", code="1004", transport="ws") == 1
        assert _metric(after, "openim_errors_total", code="1001", transport="rest") == 1
        assert _metric(after, "openim_connections_opened_total") == 2
        assert _metric(after, "openim_requests_total", transport="rest") > _metric(before, "openim_requests_total",
                                                                                   transport="rest")

        await srv.core.storage.close()  # type: ignore[union-attr]  # storage gone: unhealthy
        r = await http.get("/healthz")
        assert r.status_code == 503 and r.json()["status"] == "unavailable"


async def test_metrics_are_per_server_and_can_be_turned_off(tmp_path: Path) -> None:
    async with ServerApp(server_config(tmp_path / "a")) as one, \
            ServerApp(server_config(tmp_path / "b", metrics=False)) as two, \
            httpx.AsyncClient(timeout=10) as http:
        assert one.core is not None and two.core is not None
        assert one.core.metrics.registry is not two.core.metrics.registry
        await _admin(httpx.AsyncClient(base_url=one.api_url))  # one REST call on server one only
        assert _metric((await http.get(one.api_url + "/metrics")).text, "openim_requests_total",
                       transport="rest") >= 1
        assert (await http.get(two.api_url + "/metrics")).status_code == 404
        assert (await http.get(two.api_url + "/healthz")).status_code == 200


def test_registry_checks_non_catalogue_routes() -> None:
    import types

    from server_stub import ops

    dup = types.ModuleType("dup_ops")

    @raw_route(extra=(("GET", "/healthz"),))
    async def again(core: Any, request: Any) -> Any:
        return None

    again.__module__ = dup.__name__
    dup.again = again  # type: ignore[attr-defined]
    with pytest.raises(DuplicateRouteError, match="/healthz"):
        build_registry((ops, dup))

    clash = types.ModuleType("clash_ops")

    @raw_route(extra=(("POST", "/msg/send_msg"),))
    async def shadow(core: Any, request: Any) -> Any:
        return None

    shadow.__module__ = clash.__name__
    clash.shadow = shadow  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="catalogue"):
        build_registry((clash,))
    reg = build_registry()
    assert set(reg.extra_routes) == {("GET", "/healthz"), ("GET", "/metrics")}
    assert not reg.missing()


# -- backup and restore ----------------------------------------------------------------------------


async def test_backup_under_write_load_restores_every_acked_message(tmp_path: Path) -> None:
    db, dest = tmp_path / "live.sqlite3", tmp_path / "backup.sqlite3"
    srv = Proc(db, tmp_path / "server.log")
    await srv.start()
    acked: dict[str, int] = {}
    stop = asyncio.Event()
    storm = asyncio.create_task(_storm(srv, acked, stop))
    try:
        while len(acked) < 50:
            await asyncio.sleep(0.05)
            assert not storm.done(), storm
        acked_before = set(acked)  # acknowledged before the backup started: all must be in it
        done = await asyncio.to_thread(_server_cmd, "backup", str(dest), "--data", str(db), "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["path"] == str(dest)
        assert oct(dest.stat().st_mode & 0o777) == "0o600"
        more = len(acked)
        while len(acked) < more + 20:  # the server went on writing during and after the backup
            await asyncio.sleep(0.05)
        refused = await asyncio.to_thread(_server_cmd, "restore", str(dest), "--data", str(db))
        assert refused.returncode == 1 and "a server is running" in refused.stderr, refused.stderr
    finally:
        stop.set()
        await storm
        assert srv.stop() == 0
    after_backup = set(acked) - acked_before
    assert after_backup
    done = await asyncio.to_thread(_server_cmd, "restore", str(dest), "--data", str(db))
    assert done.returncode == 0, done.stderr
    assert "before-restore" in done.stdout
    await srv.start()
    try:
        stored = await _stored(srv.api_url)
    finally:
        assert srv.stop() == 0
    missing = acked_before - stored
    assert not missing, sorted(missing)[:10]
    assert not stored - set(acked)  # nothing in it that was never acknowledged... or sent


def test_backup_and_restore_refuse_what_they_cannot_do(tmp_path: Path) -> None:
    missing = _server_cmd("backup", str(tmp_path / "b.sqlite3"), "--data", str(tmp_path / "none.sqlite3"))
    assert missing.returncode == 1 and "no database" in missing.stderr
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database" * 100)
    bad = _server_cmd("restore", str(junk), "--data", str(tmp_path / "d.sqlite3"))
    assert bad.returncode == 1 and "error:" in bad.stderr
    assert not (tmp_path / "d.sqlite3").exists()


# -- SIGTERM ---------------------------------------------------------------------------------------


async def test_sigterm_during_send_storm_loses_no_acked_message(tmp_path: Path) -> None:
    db = tmp_path / "term.sqlite3"
    srv = Proc(db, tmp_path / "server.log")
    await srv.start()
    acked: dict[str, int] = {}
    stop = asyncio.Event()
    storm = asyncio.create_task(_storm(srv, acked, stop))
    try:
        while len(acked) < 100:
            await asyncio.sleep(0.05)
            assert not storm.done(), storm
        assert srv.proc is not None
        os.kill(srv.proc.pid, signal.SIGTERM)
        code = await asyncio.to_thread(srv.proc.wait, 20)
        assert code == 0
    finally:
        stop.set()
        await storm
        srv.stop()
    await srv.start()
    try:
        stored = await _stored(srv.api_url)
    finally:
        assert srv.stop() == 0
    missing = set(acked) - stored
    assert not missing, sorted(missing)[:10]


# -- configuration and logs ------------------------------------------------------------------------


def test_print_config_round_trips(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    argv = ["--host", "0.0.0.0", "--api-port", "12002", "--ws-port", "12001", "--data", str(tmp_path / "x.db"),
            "--admin-user-ids", "root,ops", "--log-format", "json", "--no-metrics", "--friend-verify",
            "--secret-file", str(secret), "--max-body-bytes", "1234"]
    config = load_config(argv, env={})
    text = config_toml(config)
    assert "s3cret" not in text
    path = tmp_path / "effective.toml"
    path.write_text(text.replace("[server]\n", f'[server]\nsecret_file = "{secret}"\n', 1))
    # the printed file is read back to the same configuration (the secret given as a file)
    back = load_config(["--config", str(path)], env={})
    assert back == config
    done = _server_cmd("--config", str(path), "--print-config")
    assert done.returncode == 0 and done.stdout == text


def test_print_config_shows_the_webhooks_table(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[server]\napi_port = 7\n\n[webhooks]\nurl = "http://127.0.0.1:10006/callbackExample"\n\n'
                    '[webhooks.beforeSendSingleMsg]\nenable = true\ntimeout = 3\nfailedContinue = false\n'
                    'deniedTypes = [110]\n\n[webhooks.after_send_group_msg]\nenable = true\n'
                    'attentionIds = ["g1", "g2"]\n\n[webhooks.beforeCreateGroupChatConversations]\nenable = false\n')
    config = load_config(["--config", str(path)], env={})
    text = config_toml(config)
    assert "not printed" not in text
    webhooks = text[text.index("\n[webhooks]\n"):]
    assert webhooks == (
        '\n[webhooks]\nurl = "http://127.0.0.1:10006/callbackExample"\n'
        '\n[webhooks.beforeSendSingleMsg]\nenable = true\ntimeout = 3.0\nfailedContinue = false\ndeniedTypes = [110]\n'
        '\n[webhooks.beforeCreateGroupChatConversations]\nenable = false\ntimeout = 5\nfailedContinue = true\n'
        '\n[webhooks.afterSendGroupMsg]\nenable = true\ntimeout = 5\nattentionIds = ["g1", "g2"]\n')
    printed = tmp_path / "effective.toml"
    printed.write_text(text)
    assert load_config(["--config", str(printed)], env={}) == config  # read back to the same settings
    done = _server_cmd("--config", str(path), "--print-config")
    assert done.returncode == 0 and done.stdout == text
    # without webhooks the table is there, saying they are off
    plain = config_toml(load_config([], env={}))
    assert plain.endswith("\n[webhooks]\n# url: not set (webhooks off)\n")


def test_print_config_flags_override_the_file(tmp_path: Path) -> None:
    path = tmp_path / "server.toml"
    path.write_text('[server]\napi_port = 1\nws_port = 2\nlog_format = "json"\nmetrics = false\n')
    config = load_config(["--config", str(path), "--api-port", "3"], env={"OPENIM_WS_PORT": "4"})
    assert (config.api_port, config.ws_port, config.log_format, config.metrics) == (3, 4, "json", False)


def test_json_log_lines() -> None:
    record = logging.LogRecord("server_stub.rest", logging.INFO, __file__, 1, "bad %s", ("a\nb",), None)
    record.operationID = "op\x1b1"
    line = JsonFormatter().format(record)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["message"] == "bad a\nb" and obj["operationID"] == "op\x1b1" and obj["level"] == "INFO"
    assert obj["logger"] == "server_stub.rest" and obj["time"].endswith("+00:00")


async def test_shutdown_flushes_and_closes_connections_normally(tmp_path: Path) -> None:
    from websockets.exceptions import ConnectionClosed

    srv = ServerApp(server_config(tmp_path))
    await srv.start()
    try:
        async with httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
            admin = await _admin(http)
            await admin.register("sa", "sb")
            ta, tb = await admin.user_token("sa"), await admin.user_token("sb")
        wa = await connect(ws_url(srv, "sa", ta))
        wb = await connect(ws_url(srv, "sb", tb))
        a = WsClient(wa, "sa")
        assert (await a.request(1003, _msg("sa", "sb", "s1"))).err_code == 0
    finally:
        await srv.stop()
    b = WsClient(wb, "sb")
    push = await b.next_push()  # the push of the acknowledged message went out before the close
    assert b"s1" in push.data
    with pytest.raises(ConnectionClosed) as closed:
        await b.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
    await wa.close()


def test_openim_server_print_config_through_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "openim_cli", "server", "--memory", "--api-port", "0",
                           "--print-config"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert 'data_path = ":memory:"' in done.stdout and "api_port = 0" in done.stdout
