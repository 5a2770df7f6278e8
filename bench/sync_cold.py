"""Cold sync: a fresh OpenIMClient (empty data dir) logs in as a user with C conversations x M messages.

Seeding (not measured): an in-process ``ServerApp`` on the SQLite file registers the users over
admin REST, then writes the messages through the server's own storage path,
``SqliteStorage.store_messages`` with the ``StoreRequest``/conversation-owner rows that
``services.msg.send_message`` builds (seqs 1..M per conversation, conversation records for both
sides), in large transactions -- the same rows a WS/REST send writes, without the per-message
round trip. The server is then started as a subprocess on that file, and each measured client
runs in a process of its own (so its peak RSS, ``ru_maxrss``, is the client's alone):

(a) ``newest``: time from ``start()`` to ``SyncFinished`` (the default on-connect sync: the newest
    ``SyncConfig.page`` = 50 messages of each conversation), messages cached, messages/s;
(b) ``full``: the same, then the whole history into the cache with
    ``OpenIMClient.download_history()`` (the missing runs of every conversation, up to 1,000 seqs
    each, up to 4 conversations per 1005 pull, 4 pulls in flight), all C x M cached;
(c) ``paging``: the same, then every conversation paged to the bottom through ``messages()``
    (one conversation after the other, pages of 500), as an app scrolling back would.

Baseline for (b): ``raw_puller``, a bare ``websockets`` client pulling everything in 1002 ranges
of 1,000, one request at a time, decoding each reply, caching nothing.

If the official Go core (``tests/interop``: Node + koffi + libopenimsdk.so) is installed, it
logs in on the same server with an empty data dir and its time to ``OnSyncServerFinish`` is
reported too (the Go core pulls only the newest *one* message per conversation on connect,
spec ws-protocol §7.2, so compare times, not message counts).

``--base-root DIR``: also run the ``newest`` and ``full`` clients of another checkout (e.g.
``git archive main openim_sdk server_stub bench | tar -x -C /tmp/base``), each right before ours,
against the same server: ``base_python_<mode>``. ``ratios`` sums up the figures of the run.

    .venv/bin/python bench/sync_cold.py [--conversations 100] [--messages 1000] [--base-root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER = "cold"
INTEROP = ROOT / "tests" / "interop"


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------ seeding


async def seed(db: str, conversations: int, messages: int) -> dict[str, Any]:
    from openim_sdk.protocol.conversation_id import single_conversation_id
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2
    from openim_sdk.rest import RestClient
    from server_stub import ServerApp, ServerConfig
    from server_stub.services.msg import _owners, new_msg_id
    from server_stub.storage import StoreRequest

    t0 = time.perf_counter()
    peers = [f"peer{i:03d}" for i in range(conversations)]
    async with ServerApp(ServerConfig(api_port=0, ws_port=0, data_path=db, log_level="WARNING")) as srv:
        admin = await RestClient.admin(srv.api_url)
        async with admin:
            everyone = [USER, *peers]
            for i in range(0, len(everyone), 100):
                batch = everyone[i : i + 100]
                await admin.user.user_register(users=[{"userID": u, "nickname": u} for u in batch])
        assert srv.core is not None
        storage = srv.core.storage
        base = int(time.time() * 1000) - conversations * messages
        for peer in peers:
            cid = single_conversation_id(USER, peer)
            reqs = []
            for n in range(messages):
                sender, receiver = (peer, USER) if n % 2 == 0 else (USER, peer)
                m = sdkws_pb2.MsgData(
                    sendID=sender, recvID=receiver, clientMsgID=new_msg_id(sender, n), serverMsgID=new_msg_id(n),
                    senderPlatformID=7, senderNickname=sender, sessionType=1, msgFrom=100, contentType=101,
                    content=json.dumps({"content": f"{peer} message {n}"}).encode(), createTime=base + n,
                    sendTime=base + n, status=2)
                reqs.append(StoreRequest(cid, m, _owners(m, cid, [receiver]), sender))
            await storage.store_messages(reqs)
    return {"seed_seconds": round(time.perf_counter() - t0, 2), "seed_path": "SqliteStorage.store_messages"}


# ------------------------------------------------------------------------------------ client


async def client_run(mode: str, api: str, ws: str, token: str, data_dir: str) -> dict[str, Any]:
    from openim_sdk import events as ev
    from openim_sdk.client import OpenIMClient

    base_rss = rss_mib()
    out: dict[str, Any] = {"mode": mode, "rss_after_imports_mib": round(base_rss, 1)}
    client = OpenIMClient(api, ws, USER, token, data_dir=data_dir)
    events = client.events()
    t0 = time.perf_counter()
    await client.start()
    async for e in events:
        if isinstance(e, ev.SyncFinished):
            break
    t_sync = time.perf_counter() - t0
    events.close()
    store = client.store
    assert store is not None

    def cached() -> int:
        return int(store._query("SELECT COUNT(*) AS n FROM messages WHERE seq > 0")[0]["n"])

    n = await asyncio.to_thread(cached)
    out.update(time_to_sync_finished_s=round(t_sync, 3), cached_at_sync_finished=n,
               cached_per_s_at_sync=round(n / t_sync))
    if mode == "full":
        t1 = time.perf_counter()
        added = await client.download_history()
        t_hist = time.perf_counter() - t1
        total = await asyncio.to_thread(cached)
        out.update(history_added=added, history_s=round(t_hist, 2), cached_total=total,
                   history_msgs_per_s=round((total - n) / t_hist),
                   total_s=round(t_sync + t_hist, 2), total_msgs_per_s=round(total / (t_sync + t_hist)))
    if mode == "paging":
        convs = [c for c in (client.sync.synced_seqs() if client.sync else {}) if c.startswith("si_")]
        t1 = time.perf_counter()
        pages = 0
        for cid in sorted(convs):
            before = None
            while True:
                page = await client.messages(cid, before_seq=before, limit=500)
                pages += 1
                if not page or page[0].seq <= 1:
                    break
                before = page[0].seq
        t_hist = time.perf_counter() - t1
        total = await asyncio.to_thread(cached)
        out.update(history_conversations=len(convs), history_pages=pages, history_s=round(t_hist, 2),
                   cached_total=total, history_msgs_per_s=round((total - n) / t_hist))
    await client.close()
    out["peak_rss_mib"] = round(rss_mib(), 1)
    return out


# ------------------------------------------------------------------------------------ raw puller


async def raw_run(api: str, ws: str, token: str, page: int = 1000) -> dict[str, Any]:
    """The baseline for the history figure: a bare ``websockets`` client with the SDK's envelope
    settings (JSON, gzip) that pulls every conversation from the newest seq down in 1002 ranges of
    ``page`` (the server's cap), one request at a time, and decodes each reply -- no cache, no
    engine, no events."""
    import websockets

    from openim_sdk.protocol.envelope import WsRequest, decode_response, encode_request
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2

    url = (f"{ws}/?sendID={USER}&token={token}&platformID=7&operationID=raw&isBackground=false"
           f"&compression=gzip&sdkType=js&isMsgResp=true")
    n = 0
    async with websockets.connect(url, max_size=None) as conn:
        await conn.recv()

        async def call(ident: int, data: bytes) -> bytes:
            nonlocal n
            n += 1
            await conn.send(encode_request(WsRequest(ident, send_id=USER, operation_id=f"raw{n}", msg_incr=str(n),
                                                     data=data), "json", True))
            while True:
                resp = decode_response(await conn.recv(), "json", True)
                if resp.msg_incr == str(n):
                    assert resp.err_code == 0, resp
                    return resp.data

        t0 = time.perf_counter()
        newest = sdkws_pb2.GetMaxSeqResp.FromString(
            await call(1001, sdkws_pb2.GetMaxSeqReq(userID=USER).SerializeToString()))
        pulled = pulls = 0
        for cid, top in sorted(newest.maxSeqs.items()):
            end = int(top)
            while end >= 1:
                begin = max(1, end - page + 1)
                req = sdkws_pb2.PullMessageBySeqsReq(userID=USER, order=0, seqRanges=[
                    sdkws_pb2.SeqRange(conversationID=cid, begin=begin, end=end, num=end - begin + 1)])
                reply = sdkws_pb2.PullMessageBySeqsResp.FromString(await call(1002, req.SerializeToString()))
                got = reply.msgs[cid].Msgs if cid in reply.msgs else reply.notificationMsgs[cid].Msgs
                pulled += len(got)
                pulls += 1
                end = begin - 1
        took = time.perf_counter() - t0
    return {"pulled": pulled, "pulls": pulls, "page": page, "seconds": round(took, 2),
            "msgs_per_s": round(pulled / took)}


# ------------------------------------------------------------------------------------ Go core

GO_CORE_JS = r"""
import fs from 'node:fs';
import path from 'node:path';
import koffi from 'koffi';
const [api, ws, user, token, dataDir, libPath] = process.argv.slice(1);
const lib = koffi.load(libPath);
const baseCb = koffi.proto('void bcb(str, int, str, str)');
const lcb = koffi.proto('void lcb(int, str)');
const init_sdk = lib.func('uint8 init_sdk(lcb *, str, str)');
const login = lib.func('void login(bcb *, str, str, str)');
const setters = ['set_user_listener', 'set_friend_listener', 'set_group_listener', 'set_conversation_listener',
  'set_advanced_msg_listener', 'set_batch_msg_listener', 'set_custom_business_listener']
  .map((n) => lib.func(`void ${n}(lcb *)`));
fs.mkdirSync(dataDir, { recursive: true });
let t0 = 0; let newMsgs = 0;
const done = (r) => { console.log(JSON.stringify(r)); process.exit(0); };
const listener = koffi.register((ev, data) => {
  if (ev === 32 || ev === 41 || ev === 42) { try { const d = JSON.parse(data); newMsgs += Array.isArray(d) ? d.length : 1; } catch { newMsgs += 1; } }
  if (ev === 26) setTimeout(() => done({ time_to_sync_finished_s: (performance.now() - t0) / 1000,
    new_message_events: newMsgs, peak_rss_mib: process.resourceUsage().maxRSS / 1024 }), 0);
  if (ev === 28 || ev === 2 || ev === 4 || ev === 57) done({ error: `event ${ev}`, data });
}, koffi.pointer(lcb));
const cfg = { systemType: 'electron', platformID: 3, apiAddr: api, wsAddr: ws, dataDir, logLevel: 2,
  isLogStandardOutput: false, logFilePath: dataDir, isExternalExtensions: false };
if (!init_sdk(listener, 'bench-init', JSON.stringify(cfg))) done({ error: 'init_sdk failed' });
for (const s of setters) s(listener);
t0 = performance.now();
const cb = koffi.register((op, code, msg) => { if (code) done({ error: `login ${code} ${msg}` }); }, koffi.pointer(baseCb));
login(cb, 'bench-login', user, token);
setTimeout(() => done({ error: 'timeout' }), 120000);
"""


def go_core_lib() -> Path | None:
    lib = Path(os.environ.get("OPENIM_NATIVE_LIB", INTEROP / "node_modules/@openim/electron-client-sdk/assets/linux_x64/libopenimsdk.so"))
    if shutil.which("node") and lib.exists() and (INTEROP / "node_modules/koffi").exists():
        return lib
    return None


def go_core_run(api: str, ws: str, token: str, data_dir: str, lib: Path) -> dict[str, Any]:
    proc = subprocess.run(["node", "--input-type=module", "-e", GO_CORE_JS, api, ws, USER, token, data_dir, str(lib)],
                          cwd=INTEROP, capture_output=True, text=True, timeout=180)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"error": f"no report (rc={proc.returncode}): {proc.stderr[-300:]}"}
    return json.loads(lines[-1])


# ------------------------------------------------------------------------------------ driver


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from bench._server import bundled_server
    from openim_sdk.rest import RestClient

    work = Path(tempfile.mkdtemp(prefix="openim-sync-cold-"))
    try:
        db = str(work / "server.sqlite3")
        result: dict[str, Any] = {"bench": "sync_cold", "conversations": args.conversations,
                                  "messages_per_conversation": args.messages,
                                  "total_messages": args.conversations * args.messages}
        result["seeding"] = await seed(db, args.conversations, args.messages)
        async with bundled_server(db) as (api, ws):
            admin = await RestClient.admin(api)
            async with admin:
                tokens = {p: await admin.mint_user_token(USER, p) for p in (7, 3)}
            runs = [("python", ROOT, mode) for mode in ("newest", "full", "paging")]
            if args.base_root:
                runs[:2] = [(who, root, mode) for mode in ("newest", "full")
                            for who, root in (("base_python", Path(args.base_root).resolve()), ("python", ROOT))]
            for who, root, mode in runs:
                proc = await asyncio.create_subprocess_exec(
                    sys.executable, str(root / "bench" / "sync_cold.py"), "--client", mode, "--api", api, "--ws", ws,
                    "--token", tokens[7], "--data-dir", str(work / f"client-{who}-{mode}"), cwd=root,
                    env=dict(os.environ, PYTHONPATH=str(root)), stdout=asyncio.subprocess.PIPE)
                stdout, _ = await proc.communicate()
                result[f"{who}_{mode}"] = json.loads(stdout.decode().strip().splitlines()[-1])
            result["raw_puller"] = await raw_run(api, ws, tokens[7])
            lib = go_core_lib()
            if lib is None:
                result["go_core"] = {"skipped": "tests/interop not installed (node, koffi, libopenimsdk.so)"}
            else:
                go = await asyncio.to_thread(go_core_run, api, ws, tokens[3], str(work / "go-core"), lib)
                go["note"] = "Go core pulls only the newest 1 message per conversation on connect (spec 7.2)"
                result["go_core"] = go
        result["ratios"] = ratios(result)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ratios(result: dict[str, Any]) -> dict[str, float]:
    """The figures of one run side by side: history msg/s over the raw puller's, time to
    SyncFinished over the Go core's (and the base checkout's, when it ran)."""
    out: dict[str, float] = {}
    raw = result["raw_puller"]["msgs_per_s"]
    go = result.get("go_core", {}).get("time_to_sync_finished_s")
    for who in ("python", "base_python"):
        if f"{who}_full" in result:
            out[f"{who}_history_vs_raw"] = round(result[f"{who}_full"]["history_msgs_per_s"] / raw, 3)
        if go and f"{who}_newest" in result:
            out[f"{who}_newest_sync_vs_go"] = round(result[f"{who}_newest"]["time_to_sync_finished_s"] / go, 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conversations", type=int, default=100)
    p.add_argument("--messages", type=int, default=1000)
    p.add_argument("--base-root", help="another checkout whose newest/full clients run too, for before/after")
    p.add_argument("--client", choices=["newest", "full", "paging"], help=argparse.SUPPRESS)
    p.add_argument("--api", help=argparse.SUPPRESS)
    p.add_argument("--ws", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.client:
        print(json.dumps(asyncio.run(client_run(args.client, args.api, args.ws, args.token, args.data_dir))))
        return
    print(json.dumps(asyncio.run(main_async(args)), indent=2))


if __name__ == "__main__":
    main()
