"""Send throughput of one OpenIMClient, against a raw websockets + envelope sender.

The bundled server runs as a subprocess (SQLite file, as in normal use). ``client_in_flight``: one
OpenIMClient (json + gzip, the defaults) queues N texts with ``send_text`` (each is written to the
local cache first) and the outbox keeps several in flight; the time is from the first
``send_text`` until ``flush()`` returns (every message acknowledged, 1003).
``client_sequential``: N ``send_text(..., wait=True)``, each waiting for its ack. ``raw``: the same N
sends as bare 1003 requests over ``websockets`` with the envelope codec (json + gzip), one at a
time waiting for each ack, no cache: the floor for a sequential sender in Python here, run
before and after the clients (its mean is the baseline of every ratio).
``raw_in_flight``: the same bare sends, but up to ``--window`` (8, the SDK outbox's window) sent
before their acks come back, no SDK: the server's ceiling for one pipelined connection (issue 16);
it checks that the acks come back in send order with strictly increasing seqs.

``cpu_us_per_msg``: CPU time of this process (every thread; the server is another process) per
message over the same span, from ``time.process_time``: the SDK's own cost per send, which is
what limits the in-flight row once the server takes a connection's sends concurrently;
``*_cpu_vs_raw`` divides it by the raw sender's.

``--compare-root DIR`` also runs the two raw rows against the server of another checkout
(``git archive <commit> server_stub openim_sdk | tar -x -C DIR``) in the same invocation, each
with its own raw-waiting baseline, so the server's before/after comes out of one run.
``--raw-only`` skips the SDK rows.

    .venv/bin/python bench/send_throughput.py [--messages 2000] [--window 8] [--compare-root DIR]
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
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


@asynccontextmanager
async def raw_connection(ws_base: str, sender: str, token: str) -> AsyncIterator[Any]:
    """A bare websockets connection of ``sender`` (JSON envelopes, gzip), its connect answer checked."""
    url = (f"{ws_base}/?sendID={sender}&token={token}&platformID=7&operationID=bench&isBackground=false"
           "&compression=gzip&sdkType=js&isMsgResp=true")
    async with websockets.connect(url, max_size=None) as conn:
        first = await conn.recv()
        assert isinstance(first, str) and json.loads(first)["errCode"] == 0, first
        yield conn


def send_request(sender: str, receiver: str, i: int, tag: str) -> tuple[sdkws_pb2.MsgData, WsRequest]:
    """The ``i``-th bench text as a 1003 request (``tag`` keeps msgIncr apart between rows)."""
    msg = sdkws_pb2.MsgData(
        sendID=sender, recvID=receiver, clientMsgID=uuid.uuid4().hex, senderPlatformID=7, sessionType=1,
        msgFrom=100, contentType=101, content=json.dumps({"content": f"bench {i}"}).encode(),
        createTime=int(time.time() * 1000))
    return msg, WsRequest(1003, send_id=sender, operation_id=f"op{tag}{i}", msg_incr=f"{sender}_{tag}{i}",
                          data=msg.SerializeToString())


async def raw_run(ws_base: str, token: str, sender: str, receiver: str, n: int) -> dict[str, Any]:
    async with raw_connection(ws_base, sender, token) as conn:
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            msg, req = send_request(sender, receiver, i, "")
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


async def raw_in_flight_run(ws_base: str, token: str, sender: str, receiver: str, n: int,
                            window: int) -> dict[str, Any]:
    """As :func:`raw_run`, with up to ``window`` sends waiting for their acks; the acks must come
    back in send order with strictly increasing seqs (else RuntimeError)."""
    async with raw_connection(ws_base, sender, token) as conn:
        room = asyncio.Semaphore(window)
        order: list[str] = []  # (msgIncr) of every send, in send order
        cmids: list[str] = []  # clientMsgID of every send, in send order
        failure: list[str] = []

        async def answers() -> None:
            """Acks in send order; the sender-sync pushes of our own messages in send order, with
            strictly increasing seqs."""
            acked = pushed = last_seq = 0
            while acked < n or pushed < n:
                resp = decode_response(await conn.recv(), "json", True)  # type: ignore[arg-type]
                if resp.req_identifier == 2001:
                    for pulled in sdkws_pb2.PushMessages.FromString(resp.data).msgs.values():
                        for m in pulled.Msgs:
                            if m.clientMsgID != cmids[pushed] or m.seq <= last_seq:
                                failure.append(f"push {pushed}: {m.clientMsgID} seq {m.seq} after {last_seq}")
                                return
                            pushed, last_seq = pushed + 1, m.seq
                elif resp.req_identifier == 1003:
                    if resp.err_code or resp.msg_incr != order[acked]:
                        failure.append(f"ack {acked}: {resp.msg_incr} err {resp.err_code}, expected {order[acked]}")
                        return
                    acked += 1
                    room.release()

        reader = asyncio.create_task(answers())
        t0 = time.perf_counter()
        for i in range(n):
            await room.acquire()
            if reader.done():
                break
            msg, req = send_request(sender, receiver, i, "w")
            order.append(req.msg_incr)
            cmids.append(msg.clientMsgID)
            await conn.send(encode_request(req, "json", True))
        await reader
        elapsed = time.perf_counter() - t0
        if failure:
            raise RuntimeError(failure[0])
    return {"messages": n, "window": window, "seconds": round(elapsed, 3), "msgs_per_s": round(n / elapsed, 1)}


async def raw_rows(root: str | None, work: Path, name: str, n: int, window: int) -> dict[str, Any]:
    """The two raw rows against one server (``root``: another checkout's), waiting sender around
    the pipelined one; the ratio is to the waiting sender's mean in this same run."""
    async with bundled_server(str(work / f"{name}.sqlite3"), root) as (api, ws):
        toks = await make_users(api, ["ra", "rb"])
        raw = await raw_run(ws, toks["ra"], "ra", "rb", n)
        piped = await raw_in_flight_run(ws, toks["ra"], "ra", "rb", n, window)
        raw2 = await raw_run(ws, toks["ra"], "ra", "rb", n)
    base = (raw["msgs_per_s"] + raw2["msgs_per_s"]) / 2
    return {"raw_websockets": [raw, raw2], "raw_in_flight": piped,
            "raw_in_flight_vs_raw": round(piped["msgs_per_s"] / base, 3)}


async def main_async(n: int, window: int = 8, compare_root: str | None = None,
                     raw_only: bool = False) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="openim-send-"))
    try:
        out: dict[str, Any] = {"bench": "send_throughput"}
        if not raw_only:
            async with bundled_server(str(work / "server.sqlite3")) as (api, ws):
                toks = await make_users(api, ["sa", "sb", "qa", "qb", "ra", "rb"])
                raw = await raw_run(ws, toks["ra"], "ra", "rb", n)
                piped = await raw_in_flight_run(ws, toks["ra"], "ra", "rb", n, window)
                seq = await client_run(api, ws, toks["qa"], "qa", "qb", n, str(work / "client-seq"),
                                       sequential=True)
                client = await client_run(api, ws, toks["sa"], "sa", "sb", n, str(work / "client"))
                raw2 = await raw_run(ws, toks["ra"], "ra", "rb", n)  # again: the server's file has grown
            base = (raw["msgs_per_s"] + raw2["msgs_per_s"]) / 2
            cpu_base = (raw["cpu_us_per_msg"] + raw2["cpu_us_per_msg"]) / 2
            out.update({"raw_websockets": [raw, raw2], "raw_in_flight": piped, "client_sequential": seq,
                        "client_in_flight": client,
                        "raw_in_flight_vs_raw": round(piped["msgs_per_s"] / base, 3),
                        "sequential_vs_raw": round(seq["msgs_per_s"] / base, 3),
                        "in_flight_vs_raw": round(client["msgs_per_s"] / base, 3),
                        "sequential_cpu_vs_raw": round(seq["cpu_us_per_msg"] / cpu_base, 2),
                        "in_flight_cpu_vs_raw": round(client["cpu_us_per_msg"] / cpu_base, 2)})
        else:
            out.update(await raw_rows(None, work, "server", n, window))
        if compare_root:
            out["compare"] = {"root": compare_root, **await raw_rows(compare_root, work, "old", n, window)}
        return out
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--window", type=int, default=8, help="sends in flight in the raw_in_flight row")
    p.add_argument("--compare-root", metavar="DIR", help="also run the raw rows against this checkout's server")
    p.add_argument("--raw-only", action="store_true", help="only the raw rows (no SDK client)")
    args = p.parse_args()
    print(json.dumps(asyncio.run(main_async(args.messages, args.window, args.compare_root, args.raw_only)),
                     indent=2))


if __name__ == "__main__":
    main()
