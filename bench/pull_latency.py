"""Server time of one range pull (50 and 1,000 seqs), over WS 1002 and REST /msg/pull_msg_by_seq.

An in-process ``ServerApp`` on a SQLite file (WAL) holds one conversation of ``--messages``
messages, seeded through ``SqliteStorage.store_messages`` (not timed). Then, for pages of 50 and
of 1,000 seqs at random offsets:

- ``handler``: the server's own time, ``msg_read.pull_by_ranges`` awaited directly (access
  check, seq window, message rows, per-user deletes, the reply message), no socket;
- ``server``: the handler plus the reply's encoding as the gateway sends it (protobuf, then the
  JSON / gob envelope), i.e. the server's whole time for one 1002 minus the socket;
- ``ws``: a bare ``websockets`` client's round trip of a 1002 (JSON envelope), decode included;
- ``rest``: a round trip of ``/msg/pull_msg_by_seq`` on a keep-alive HTTP/1.1 connection
  (``Accept-Encoding: gzip`` as httpx sends it; a minimal client writing each request in one
  piece: httpx writes headers and body apart, and Nagle + delayed ACK then add ~40 ms to every
  call on loopback, which would hide the server's time).

Baselines in the same run: a WS 2004 (set background status: no storage) round trip and a REST
``/msg/get_server_time`` round trip; every round trip is printed as a ratio to its baseline.

    .venv/bin/python bench/pull_latency.py [--messages 2000] [--repeat 40] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

USER, PEER = "puller", "pullpeer"


async def seed(core: Any, cid: str, messages: int) -> None:
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2
    from server_stub.services.msg import _owners, new_msg_id
    from server_stub.storage import StoreRequest

    base = int(time.time() * 1000) - messages
    for start in range(0, messages, 5000):
        reqs = []
        for n in range(start, min(messages, start + 5000)):
            sender, receiver = (PEER, USER) if n % 2 == 0 else (USER, PEER)
            m = sdkws_pb2.MsgData(
                sendID=sender, recvID=receiver, clientMsgID=new_msg_id(sender, n), serverMsgID=new_msg_id(n),
                senderPlatformID=7, senderNickname=sender, sessionType=1, msgFrom=100, contentType=101,
                content=json.dumps({"content": f"message number {n} of the bench"}).encode(),
                createTime=base + n, sendTime=base + n, status=2)
            reqs.append(StoreRequest(cid, m, _owners(m, cid, [receiver]), sender))
        await core.storage.store_messages(reqs)


class RawHttp:
    """A keep-alive HTTP/1.1 client that writes each request in one piece (TCP_NODELAY)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, token: str) -> None:
        self.reader, self.writer, self.token = reader, writer, token
        self.n = 0

    @classmethod
    async def open(cls, port: int, token: str) -> RawHttp:
        import socket

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer, token)

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        import gzip

        self.n += 1
        data = json.dumps(body).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: bench\r\ntoken: {self.token}\r\noperationID: p{self.n}\r\n"
                f"Content-Type: application/json\r\nAccept-Encoding: gzip\r\nContent-Length: {len(data)}\r\n\r\n")
        self.writer.write(head.encode() + data)
        status = await self.reader.readline()
        assert b" 200 " in status, status
        headers = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            k, _, v = line.decode().partition(":")
            headers[k.strip().lower()] = v.strip()
        raw = await self.reader.readexactly(int(headers["content-length"]))
        if headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        return json.loads(raw)  # type: ignore[no-any-return]

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


def _ms(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"median_ms": round(statistics.median(xs) * 1000, 3), "p90_ms": round(xs[int(len(xs) * 0.9)] * 1000, 3)}


async def run(messages: int, repeat: int, sizes: tuple[int, ...]) -> dict[str, Any]:
    import websockets

    from openim_sdk.protocol.conversation_id import single_conversation_id
    from openim_sdk.protocol.envelope import WsRequest, decode_response, encode_request
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2
    from openim_sdk.rest import RestClient
    from server_stub import ServerApp, ServerConfig
    from server_stub.services import msg_read

    rnd = random.Random(7)
    cid = single_conversation_id(USER, PEER)
    out: dict[str, Any] = {"messages": messages, "repeat": repeat}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = ServerConfig(api_port=0, ws_port=0, data_path=str(Path(tmp) / "db.sqlite3"), log_level="WARNING",
                           cleanup_interval=0)
        async with ServerApp(cfg) as srv:
            core = srv.core
            assert core is not None
            admin = await RestClient.admin(srv.api_url)
            async with admin:
                await admin.user.user_register(users=[{"userID": u, "nickname": u} for u in (USER, PEER)])
                token = await admin.mint_user_token(USER, 7)
            await seed(core, cid, messages)

            def req_for(size: int) -> sdkws_pb2.PullMessageBySeqsReq:
                end = rnd.randint(size, messages)
                return sdkws_pb2.PullMessageBySeqsReq(userID=USER, order=0, seqRanges=[
                    sdkws_pb2.SeqRange(conversationID=cid, begin=end - size + 1, end=end, num=size)])

            try:
                from server_stub.wire import encode_response  # the gateway's encoder
            except ImportError:  # an older checkout (--compare via OPENIM_BENCH_SERVER_ROOT-style runs)
                from openim_sdk.protocol.envelope import encode_response
            from openim_sdk.protocol.envelope import WsResponse

            # handler time, no socket; then with the envelope encoding
            for size in sizes:
                times: list[float] = []
                whole: dict[str, list[float]] = {"json": [], "gob": []}
                for _ in range(repeat):
                    r = req_for(size)
                    t0 = time.perf_counter()
                    resp = await msg_read.pull_by_ranges(core, r)
                    times.append(time.perf_counter() - t0)
                    assert len(resp.msgs[cid].Msgs) == size
                    for enc in whole:
                        t0 = time.perf_counter()
                        resp = await msg_read.pull_by_ranges(core, r)
                        encode_response(WsResponse(1002, "1", "op", 0, "", resp.SerializeToString()), enc, False)
                        whole[enc].append(time.perf_counter() - t0)
                out[f"handler_{size}"] = _ms(times)
                for enc, xs in whole.items():
                    out[f"server_{enc}_{size}"] = _ms(xs)

            url = (f"{srv.ws_url}/?sendID={USER}&token={token}&platformID=7&operationID=bench"
                   f"&isBackground=false&sdkType=js&isMsgResp=true")
            async with websockets.connect(url, max_size=None) as ws:
                await ws.recv()
                n = 0

                async def rtt(ident: int, data: bytes) -> float:
                    nonlocal n
                    n += 1
                    frame = encode_request(WsRequest(ident, send_id=USER, operation_id=f"op{n}", msg_incr=str(n),
                                                     data=data), "json", False)
                    t0 = time.perf_counter()
                    await ws.send(frame)
                    while True:
                        resp = decode_response(await ws.recv(), "json", False)
                        if resp.msg_incr == str(n):
                            break
                    if ident == 1002:
                        sdkws_pb2.PullMessageBySeqsResp.FromString(resp.data)
                    assert resp.err_code == 0, resp
                    return time.perf_counter() - t0

                bg = sdkws_pb2.SetAppBackgroundStatusReq(userID=USER, isBackground=False).SerializeToString()
                base = [await rtt(2004, bg) for _ in range(repeat)]
                out["ws_baseline_2004"] = _ms(base)
                for size in sizes:
                    t = [await rtt(1002, req_for(size).SerializeToString()) for _ in range(repeat)]
                    out[f"ws_1002_{size}"] = _ms(t)
                    out[f"ws_1002_{size}"]["ratio_to_baseline"] = round(
                        statistics.median(t) / statistics.median(base), 2)

            http = await RawHttp.open(srv.api_port, token)
            try:
                async def rest(path: str, body: dict[str, Any]) -> float:
                    t0 = time.perf_counter()
                    env = await http.post(path, body)
                    assert env["errCode"] == 0, env
                    return time.perf_counter() - t0

                base = [await rest("/msg/get_server_time", {}) for _ in range(repeat)]
                out["rest_baseline_server_time"] = _ms(base)
                for size in sizes:
                    t = []
                    for _ in range(repeat):
                        r = req_for(size)
                        rng = r.seqRanges[0]
                        t.append(await rest("/msg/pull_msg_by_seq", {"userID": USER, "order": 0, "seqRanges": [
                            {"conversationID": cid, "begin": rng.begin, "end": rng.end, "num": rng.num}]}))
                    out[f"rest_pull_{size}"] = _ms(t)
                    out[f"rest_pull_{size}"]["ratio_to_baseline"] = round(
                        statistics.median(t) / statistics.median(base), 2)
            finally:
                await http.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--sizes", default="50,1000")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    result = asyncio.run(run(args.messages, args.repeat, sizes))
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
