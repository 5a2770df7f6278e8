"""SIGKILL durability: every acknowledged message survives kill -9 of the server process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .conftest import Api, WsClient, ws_url

ROOT = Path(__file__).resolve().parents[2]


async def _start(db: Path) -> tuple[subprocess.Popen[str], int, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "server_stub", "--api-port", "0", "--ws-port", "0", "--data", str(db),
         "--log-level", "WARNING"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(_ready_line, proc), 20)
    parts = dict(p.split("=") for p in line.split()[1:])
    return proc, int(parts["api_port"]), int(parts["ws_port"])


def _ready_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("READY"):
            return line
    raise RuntimeError("server exited before READY")


class _Srv:
    def __init__(self, ws_port: int) -> None:
        self.ws_url = f"ws://127.0.0.1:{ws_port}"


async def test_sigkill_keeps_acked_messages(tmp_path: Path) -> None:
    db = tmp_path / "kill.sqlite3"
    proc, api_port, ws_port = await _start(db)
    acked: dict[str, int] = {}
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:
            admin = Api(http)
            admin.token = (await admin.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
            await admin.register("ka", "kb")
            token = await admin.user_token("ka", 5)
        ws = await connect(ws_url(_Srv(ws_port), "ka", token))  # type: ignore[arg-type]
        client = WsClient(ws, "ka")

        async def stream() -> None:
            i = 0
            while True:
                i += 1
                cmid = f"k{i}"
                data = sdkws_pb2.MsgData(sendID="ka", recvID="kb", clientMsgID=cmid, sessionType=1,
                                         contentType=101, content=b'{"content":"x"}').SerializeToString()
                resp = await client.request(1003, data)
                if resp.err_code == 0:
                    acked[msg_pb2.SendMsgResp.FromString(resp.data).clientMsgID] = i

        task = asyncio.create_task(stream())
        await asyncio.sleep(0.8)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ws.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert len(acked) > 5
    proc, api_port, _ = await _start(db)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10) as http:
            admin = Api(http)
            admin.token = (await admin.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
            newest = await admin.ok("/msg/newest_seq", {"userID": "kb"})
            max_seq = newest["maxSeqs"]["si_ka_kb"]
            assert max_seq >= len(acked)
            found: dict[str, int] = {}
            for begin in range(1, max_seq + 1, 500):
                data: Any = await admin.ok("/msg/pull_msg_by_seq", {"userID": "kb", "seqRanges": [
                    {"conversationID": "si_ka_kb", "begin": begin, "end": begin + 499, "num": 500}]})
                for m in data["msgs"]["si_ka_kb"]["Msgs"]:
                    found[m["clientMsgID"]] = m["seq"]
            missing = set(acked) - set(found)
            assert not missing, sorted(missing)[:10]
            # seqs are consecutive from 1 in send order
            assert all(found[c] == n for c, n in acked.items())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
