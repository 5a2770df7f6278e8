"""Send -> push delivery through the bundled server, against a bare websockets relay.

N sender/receiver pairs; each sender sends M text messages over WS (1003), one at a time as
the official SDK does (waiting for each ack). Each receiver timestamps the 2001 push of every
message. The same clients then run against a bare ``websockets`` relay on this machine that
decodes each request, forwards it as a push to the paired receiver and acks the sender: the
ceiling for any WS server in Python here. Server and relay each run in a process of their own;
both runs happen back to back in one invocation, and the ratio is printed. ``--rounds R`` repeats
the pair of runs R times (server, relay, server, relay, ...) and reports every round's ratio and
their median, which is steadier on a shared machine.

``--half-rate`` then measures latency below saturation: every sender is paced so that all of
them together offer half of the server's own maximum rate just measured (its median
``msgs_per_s``), still waiting for each ack, and the send -> push p50/p99 at that load is reported,
with the bare relay paced to the same load as its baseline.

The server keeps its data in a SQLite file in a temporary directory (WAL, as deployed;
``--memory`` for ``:memory:``). ``--compare-root DIR`` also runs, in every round, the server of
another checkout (``git archive <commit> server_stub openim_sdk | tar -x -C DIR``): its figures
and the ratio new/old come out of the same run.

    .venv/bin/python bench/push_latency.py --pairs 20 --messages 100 [--rounds 3] [--half-rate]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import websockets  # noqa: E402

from bench._server import bundled_server, free_port, make_users, wait_port  # noqa: E402
from openim_sdk.protocol.envelope import (  # noqa: E402
    WsRequest,
    decode_response,
    encode_request,
)
from openim_sdk.protocol.pb.sdkws import sdkws_pb2  # noqa: E402

ENC = "json"


def text_msg(sender: str, receiver: str) -> sdkws_pb2.MsgData:
    now = int(time.time() * 1000)
    return sdkws_pb2.MsgData(
        sendID=sender, recvID=receiver, clientMsgID=uuid.uuid4().hex, senderPlatformID=7,
        sessionType=1, msgFrom=100, contentType=101, content=b'{"content":"bench"}', createTime=now,
    )


class Pair:
    def __init__(self, sender: str, receiver: str) -> None:
        self.sender, self.receiver = sender, receiver
        self.sent_at: dict[str, float] = {}
        self.latencies: list[float] = []
        self.done = asyncio.Event()
        self.expected = 0


async def run_pair(url_for, pair: Pair, messages: int, interval: float = 0.0) -> None:
    pair.expected = messages
    async with websockets.connect(url_for(pair.receiver), max_size=None) as rx, \
            websockets.connect(url_for(pair.sender), max_size=None) as tx:
        for ws in (rx, tx):
            first = await ws.recv()  # isMsgResp ack (text) on the server; relay sends one too
            assert isinstance(first, str) and json.loads(first)["errCode"] == 0, first

        async def receive() -> None:
            async for frame in rx:
                if isinstance(frame, str):
                    continue
                resp = decode_response(frame, ENC, False)
                if resp.req_identifier != 2001:
                    continue
                push = sdkws_pb2.PushMessages.FromString(resp.data)
                for pulled in push.msgs.values():
                    for m in pulled.Msgs:
                        t0 = pair.sent_at.get(m.clientMsgID)
                        if t0 is not None:
                            pair.latencies.append(time.perf_counter() - t0)
                if len(pair.latencies) >= pair.expected:
                    pair.done.set()
                    return

        rtask = asyncio.create_task(receive())
        start = time.perf_counter()
        for i in range(messages):
            if interval:  # paced: the i-th message leaves at start + i * interval (or at once if late)
                await asyncio.sleep(max(0.0, start + i * interval - time.perf_counter()))
            msg = text_msg(pair.sender, pair.receiver)
            req = WsRequest(1003, send_id=pair.sender, operation_id=f"op{i}",
                            msg_incr=f"{pair.sender}_{i}", data=msg.SerializeToString())
            pair.sent_at[msg.clientMsgID] = time.perf_counter()
            await tx.send(encode_request(req, ENC, False))
            while True:  # wait for the ack, skipping pushes to the sender's own connection
                ack = decode_response(await tx.recv(), ENC, False)
                if ack.req_identifier == 1003 and ack.msg_incr == req.msg_incr:
                    if ack.err_code:
                        raise RuntimeError(f"send failed: {ack.err_code} {ack.err_msg}")
                    break
        await asyncio.wait_for(pair.done.wait(), 60)
        rtask.cancel()


async def run(url_for, users: list[str], messages: int, rate: float = 0.0) -> dict[str, Any]:
    """All pairs at once; ``rate`` > 0 paces the senders to ``rate`` messages/s in total."""
    pairs = [Pair(users[i], users[i + 1]) for i in range(0, len(users), 2)]
    interval = len(pairs) / rate if rate > 0 else 0.0
    t0 = time.perf_counter()
    await asyncio.gather(*(run_pair(url_for, p, messages, interval) for p in pairs))
    elapsed = time.perf_counter() - t0
    lat = sorted(x for p in pairs for x in p.latencies)
    return {
        "messages": len(lat),
        "seconds": round(elapsed, 3),
        "msgs_per_s": round(len(lat) / elapsed, 1),
        "p50_ms": round(statistics.median(lat) * 1000, 3),
        "p99_ms": round(lat[int(len(lat) * 0.99) - 1] * 1000, 3),
    }


async def relay_server(port: int):
    """A bare relay: frames from ?sendID=<s>&to=<r> go to r's connection, and back to s."""
    conns: dict[str, Any] = {}

    async def handler(ws):
        from urllib.parse import parse_qs, urlparse

        q = parse_qs(urlparse(ws.request.path).query)
        me, to = q["sendID"][0], q.get("to", [""])[0]
        conns[me] = ws
        await ws.send('{"errCode":0,"errMsg":"","errDlt":""}')
        async for frame in ws:
            # forward as a "push" and echo as the "ack": the minimum any server must do
            req_resp = _relay_frames(frame)
            if to in conns:
                await conns[to].send(req_resp[0])
            await ws.send(req_resp[1])

    return await websockets.serve(handler, "127.0.0.1", port, max_size=None)


def _relay_frames(frame: bytes) -> tuple[bytes, bytes]:
    from openim_sdk.protocol.envelope import WsResponse, decode_request, encode_response

    req = decode_request(frame, ENC, False)
    msg = sdkws_pb2.MsgData.FromString(req.data)
    push = sdkws_pb2.PushMessages()
    push.msgs["c"].Msgs.append(msg)
    out = encode_response(WsResponse(2001, data=push.SerializeToString()), ENC, False)
    ack = encode_response(WsResponse(1003, msg_incr=req.msg_incr, operation_id=req.operation_id), ENC, False)
    return out, ack


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--messages", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--half-rate", action="store_true", help="also: p50/p99 at half the server's max rate")
    ap.add_argument("--memory", action="store_true", help="the server on :memory: instead of a file")
    ap.add_argument("--compare-root", metavar="DIR", help="also run the server of this checkout")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--serve-relay", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_relay:
        await relay_server(args.serve_relay)
        await asyncio.Event().wait()
    result = await measure(args.pairs, args.messages, args.rounds, args.half_rate, args.memory, args.compare_root)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))


async def measure(pairs: int, messages: int, rounds: int = 1, half_rate: bool = False, memory: bool = False,
                  compare_root: str | None = None) -> dict[str, Any]:
    users = [f"bench{i}" for i in range(pairs * 2)]
    partner = {users[i]: users[i ^ 1] for i in range(len(users))}
    servers: list[dict[str, Any]] = []
    relays: list[dict[str, Any]] = []
    olds: list[dict[str, Any]] = []
    half: dict[str, Any] | None = None
    # the relay runs in its own process, like the server, so both get a core of their own
    port = free_port()
    relay = subprocess.Popen([sys.executable, __file__, "--serve-relay", str(port)])
    async with contextlib.AsyncExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        stack.callback(relay.wait, 10)
        stack.callback(relay.terminate)

        async def start(root: str | None, name: str) -> Any:
            api_url, ws_url = await stack.enter_async_context(
                bundled_server(":memory:" if memory else str(Path(tmp) / f"{name}.sqlite3"), root))
            tokens = await make_users(api_url, users)
            return lambda u: (f"{ws_url}/?sendID={u}&token={tokens[u]}&platformID=7&operationID=b{u}"
                              f"&isBackground=false&sdkType=js&isMsgResp=true")

        server_url = await start(None, "new")
        old_url = await start(compare_root, "old") if compare_root else None
        await asyncio.to_thread(wait_port, port)
        for _ in range(rounds):
            servers.append(await run(server_url, users, messages))
            relays.append(await run(lambda u: f"ws://127.0.0.1:{port}/?sendID={u}&to={partner[u]}", users,
                                    messages))
            if old_url is not None:
                olds.append(await run(old_url, users, messages))
        if half_rate:
            max_rate = statistics.median(r["msgs_per_s"] for r in servers)
            half = {"offered_msgs_per_s": round(max_rate / 2, 1),
                    **await run(server_url, users, messages, rate=max_rate / 2)}
            # the relay at the same offered load: what this machine's scheduling alone costs at p99
            half["bare_relay_same_load"] = await run(
                lambda u: f"ws://127.0.0.1:{port}/?sendID={u}&to={partner[u]}", users, messages,
                rate=max_rate / 2)
            if old_url is not None:
                old_rate = statistics.median(r["msgs_per_s"] for r in olds)
                half["compare"] = {"offered_msgs_per_s": round(old_rate / 2, 1),
                                   **await run(old_url, users, messages, rate=old_rate / 2)}

    ratios = [round(s_["msgs_per_s"] / r["msgs_per_s"], 3) for s_, r in zip(servers, relays, strict=True)]
    result: dict[str, Any] = {
        "pairs": pairs,
        "messages_per_pair": messages,
        "server": servers[0] if rounds == 1 else servers,
        "bare_relay": relays[0] if rounds == 1 else relays,
        "throughput_ratio": ratios[0] if rounds == 1 else statistics.median(ratios),
        "p50_ratio": round(statistics.median(s_["p50_ms"] / r["p50_ms"] for s_, r in zip(servers, relays,
                                                                                             strict=True)), 2),
    }
    if rounds > 1:
        result["throughput_ratios"] = ratios
    if olds:
        old_ratios = [round(o["msgs_per_s"] / r["msgs_per_s"], 3) for o, r in zip(olds, relays, strict=True)]
        result["compare"] = {"root": compare_root, "server": olds[0] if rounds == 1 else olds,
                             "throughput_ratio": statistics.median(old_ratios), "throughput_ratios": old_ratios,
                             "new_over_old": round(statistics.median(
                                 s_["msgs_per_s"] / o["msgs_per_s"] for s_, o in zip(servers, olds, strict=True)), 3)}
    if half is not None:
        result["half_rate"] = half
    return result


if __name__ == "__main__":
    asyncio.run(main())
