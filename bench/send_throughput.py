"""Send throughput of one OpenIMClient, against a raw websockets + envelope sender.

The bundled server runs as a subprocess (SQLite file, as in normal use). ``client_in_flight``: one
OpenIMClient (json + gzip, the defaults) queues N texts with ``send_text`` (each is written to the
local cache first) and the outbox keeps several in flight; the time is from the first
``send_text`` until ``flush()`` returns (every message acknowledged, 1003).
``client_sequential``: N ``send_text(..., wait=True)``, each waiting for its ack. ``raw``: the same N
sends as bare 1003 requests over ``websockets`` with the envelope codec (json + gzip), one at a
time waiting for each ack, no cache: the floor for a sequential sender in Python here, run
before and after the clients (its mean is the baseline of both ratios).

``cpu_us_per_msg``: CPU time of this process (every thread; the server is another process) per
message over the same span, from ``time.process_time``: the SDK's own cost per send, which is
what limits the in-flight row once the server takes a connection's sends concurrently;
``*_cpu_vs_raw`` divides it by the raw sender's.

    .venv/bin/python bench/send_throughput.py [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets  # noqa: E402

from bench._server import bundled_server, make_users  # noqa: E402
from openim_sdk.protocol.envelope import WsRequest, decode_response, encode_request  # noqa: E402
from openim_sdk.protocol.pb.sdkws import sdkws_pb2  # noqa: E402


async def client_run(api: str, ws: str, token: str, sender: str, receiver: str, n: int, data_dir: str,
                     sequential: bool = False) -> dict[str, Any]:
    """``sequential``: each ``send_text(..., wait=True)`` waits for its ack before the next, as the
    raw sender does; else all are queued at once and the outbox keeps several in flight."""
    from openim_sdk.client import OpenIMClient

    async with OpenIMClient(api, ws, sender, token, data_dir=data_dir) as client:
        await client.wait_synced(20)
        await client.send_text(receiver, "warm-up", wait=True)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            await client.send_text(receiver, f"bench {i}", wait=sequential)
        t_queued = time.perf_counter() - t0
        await client.flush(600)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"messages": n, "seconds": round(elapsed, 3), "msgs_per_s": round(n / elapsed, 1),
            "enqueue_seconds": round(t_queued, 3), "cpu_us_per_msg": round(cpu / n * 1e6, 1)}


async def raw_run(ws_base: str, token: str, sender: str, receiver: str, n: int) -> dict[str, Any]:
    url = (f"{ws_base}/?sendID={sender}&token={token}&platformID=7&operationID=bench&isBackground=false"
           "&compression=gzip&sdkType=js&isMsgResp=true")
    async with websockets.connect(url, max_size=None) as conn:
        first = await conn.recv()
        assert isinstance(first, str) and json.loads(first)["errCode"] == 0, first
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            now = int(time.time() * 1000)
            msg = sdkws_pb2.MsgData(
                sendID=sender, recvID=receiver, clientMsgID=uuid.uuid4().hex, senderPlatformID=7, sessionType=1,
                msgFrom=100, contentType=101, content=json.dumps({"content": f"bench {i}"}).encode(),
                createTime=now)
            req = WsRequest(1003, send_id=sender, operation_id=f"op{i}", msg_incr=f"{sender}_{i}",
                            data=msg.SerializeToString())
            await conn.send(encode_request(req, "json", True))
            while True:  # skip the sender-sync pushes to our own connection
                resp = decode_response(await conn.recv(), "json", True)  # type: ignore[arg-type]
                if resp.req_identifier == 1003 and resp.msg_incr == req.msg_incr:
                    if resp.err_code:
                        raise RuntimeError(f"send failed: {resp.err_code} {resp.err_msg}")
                    break
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"messages": n, "seconds": round(elapsed, 3), "msgs_per_s": round(n / elapsed, 1),
            "cpu_us_per_msg": round(cpu / n * 1e6, 1)}


async def main_async(n: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="openim-send-"))
    try:
        async with bundled_server(str(work / "server.sqlite3")) as (api, ws):
            toks = await make_users(api, ["sa", "sb", "qa", "qb", "ra", "rb"])
            raw = await raw_run(ws, toks["ra"], "ra", "rb", n)
            seq = await client_run(api, ws, toks["qa"], "qa", "qb", n, str(work / "client-seq"), sequential=True)
            client = await client_run(api, ws, toks["sa"], "sa", "sb", n, str(work / "client"))
            raw2 = await raw_run(ws, toks["ra"], "ra", "rb", n)  # again: the server's file has grown
        base = (raw["msgs_per_s"] + raw2["msgs_per_s"]) / 2
        cpu_base = (raw["cpu_us_per_msg"] + raw2["cpu_us_per_msg"]) / 2
        return {"bench": "send_throughput", "raw_websockets": [raw, raw2], "client_sequential": seq,
                "client_in_flight": client,
                "sequential_vs_raw": round(seq["msgs_per_s"] / base, 3),
                "in_flight_vs_raw": round(client["msgs_per_s"] / base, 3),
                "sequential_cpu_vs_raw": round(seq["cpu_us_per_msg"] / cpu_base, 2),
                "in_flight_cpu_vs_raw": round(client["cpu_us_per_msg"] / cpu_base, 2)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=2000)
    args = p.parse_args()
    print(json.dumps(asyncio.run(main_async(args.messages)), indent=2))


if __name__ == "__main__":
    main()
