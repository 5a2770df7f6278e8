"""Idle WebSocket connections held by the bundled server: memory per connection, heartbeats on time.

The server runs as a subprocess (``--memory``). A separate client process opens ``--connections``
plain ``websockets`` connections (JSON envelopes, ``sdkType=js``; ``--users`` users, the
connections spread over them, multi-login policy 0 so nobody is kicked) and then holds them for
``--hold`` seconds, sending a text heartbeat (``{"type":"ping"}``) on every connection every
``--interval`` seconds (from the moment each one is open, spread over the interval), as the JS
SDK does; the server's read deadline (30 s) closes a connection that sends nothing, so
connections survive only if their heartbeats are read in time. Reported:

- the server process's RSS (``/proc/<pid>/status`` VmRSS) before the first connection and with all
  connections open (after the handshakes settle): the delta per connection;
- heartbeats: how many pings got their pong, the pong round-trip p50/p99/max, and how many
  connections were still open at the end (all, if heartbeats were answered on time).

The baseline in the same run is a bare ``websockets`` server (echoes a pong per ping) in a
process of its own, measured the same way: the ratio says how much the OpenIM gateway adds
per connection over what websockets itself needs.

Both processes raise their open-file limit (``resource.setrlimit``) to the hard limit.

    .venv/bin/python bench/idle_connections.py --connections 10000 [--hold 40] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import free_port, wait_port  # noqa: E402


def raise_fd_limit(want: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(want, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# ----------------------------------------------------------------------------- client process


async def client_main(spec: dict[str, Any]) -> None:
    """Open the connections, report ``opened``, then heartbeat; report the results on stdout."""
    import websockets

    raise_fd_limit(spec["connections"] + 100)
    urls: list[str] = spec["urls"]
    n = spec["connections"]
    conns: list[Any] = []
    sem = asyncio.Semaphore(spec.get("parallel", 50))

    async def open_one(i: int) -> Any:
        async with sem:
            ws = await websockets.connect(urls[i % len(urls)], max_size=None, ping_interval=None,
                                          open_timeout=60, max_queue=4)
            first = await ws.recv()
            assert isinstance(first, str) and json.loads(first)["errCode"] == 0, first
            return ws

    rtts: list[float] = []  # pong round trips during the hold (after the RSS was read)
    sent = 0
    interval, hold = spec["interval"], spec["hold"]
    holding = False
    deadline = float("inf")
    all_open = asyncio.Event()

    async def beat(ws: Any) -> None:
        """Heartbeats from the moment the connection is open, as a real client sends them."""
        nonlocal sent
        await asyncio.sleep(interval * (len(conns) % 97) / 97)  # spread over the interval
        while time.monotonic() < deadline:
            t = time.perf_counter()
            counted = holding
            if counted:
                sent += 1
            await ws.send('{"type":"ping","body":null}')
            while True:
                reply = await ws.recv()
                if isinstance(reply, str) and '"pong"' in reply:
                    if counted:
                        rtts.append(time.perf_counter() - t)
                    break
            await asyncio.sleep(max(0.0, interval - (time.perf_counter() - t)))

    async def open_and_beat(i: int) -> None:
        ws = await open_one(i)
        conns.append(ws)
        if len(conns) == n:
            all_open.set()
        await beat(ws)

    t0 = time.perf_counter()
    tasks = [asyncio.create_task(open_and_beat(i)) for i in range(n)]
    opener = asyncio.create_task(all_open.wait())
    await asyncio.wait([opener, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if not all_open.is_set():  # a connection failed to open: report it
        failed = next(t for t in tasks if t.done())
        raise RuntimeError(f"opening failed: {failed.exception()!r}")
    print(json.dumps({"opened": len(conns), "open_seconds": round(time.perf_counter() - t0, 2)}), flush=True)
    await asyncio.to_thread(sys.stdin.readline)  # the parent has measured the RSS
    holding = True
    deadline = time.monotonic() + hold
    done, pending = await asyncio.wait(tasks, timeout=hold + interval + 30)
    errors = [t.exception() for t in done if t.exception() is not None]
    for t in pending:
        t.cancel()
    still_open = sum(1 for ws in conns if ws.state.name == "OPEN")
    rtts.sort()
    print(json.dumps({
        "pings": sent, "pongs": len(rtts), "errors": len(errors) + len(pending),
        "first_error": repr(errors[0]) if errors else "",
        "still_open": still_open,
        "pong_p50_ms": round(statistics.median(rtts) * 1000, 2) if rtts else None,
        "pong_p99_ms": round(rtts[max(0, int(len(rtts) * 0.99) - 1)] * 1000, 2) if rtts else None,
        "pong_max_ms": round(rtts[-1] * 1000, 2) if rtts else None,
    }), flush=True)
    await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)


async def bare_server(port: int) -> None:
    """Baseline: a bare websockets server answering text pings with a pong, nothing else."""
    import websockets

    raise_fd_limit(20000)

    async def handler(ws: Any) -> None:
        await ws.send('{"errCode":0,"errMsg":"","errDlt":""}')
        async for frame in ws:
            if isinstance(frame, str):
                await ws.send('{"type":"pong","body":null}')

    async with websockets.serve(handler, "127.0.0.1", port, max_size=None, ping_interval=None,
                                compression=None):
        print("READY", flush=True)
        await asyncio.Event().wait()


# ----------------------------------------------------------------------------- parent


def run_clients(server_pid: int, urls: list[str], args: argparse.Namespace) -> dict[str, Any]:
    spec = {"urls": urls, "connections": args.connections, "hold": args.hold, "interval": args.interval}
    time.sleep(0.5)
    before = rss_kib(server_pid)
    proc = subprocess.Popen([sys.executable, __file__, "--client"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(spec) + "\n")
    proc.stdin.flush()
    opened = json.loads(proc.stdout.readline())
    time.sleep(1.0)  # let the last handshakes settle
    after = rss_kib(server_pid)
    proc.stdin.write("go\n")
    proc.stdin.flush()
    beats = json.loads(proc.stdout.readline())
    proc.wait(60)
    n = opened["opened"]
    return {**opened, "rss_before_mib": round(before / 1024, 1), "rss_after_mib": round(after / 1024, 1),
            "kib_per_connection": round((after - before) / max(1, n), 2), **beats}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--users", type=int, default=100)
    ap.add_argument("--hold", type=float, default=40.0, help="seconds of heartbeats after all are open")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between two pings of a connection")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--bare", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        asyncio.run(client_main(json.loads(sys.stdin.readline())))
        return
    if args.bare:
        asyncio.run(bare_server(args.bare))
        return
    raise_fd_limit(args.connections + 100)  # inherited by the server subprocess

    result: dict[str, Any] = {"connections": args.connections, "users": args.users, "hold_s": args.hold,
                              "interval_s": args.interval}
    api, ws = free_port(), free_port()
    # OPENIM_BENCH_SERVER_ROOT: the server of another checkout (bench/_server.py), for before/after
    root = Path(os.environ.get("OPENIM_BENCH_SERVER_ROOT") or Path(__file__).resolve().parent.parent)
    env = dict(os.environ, OPENIM_LOG_LEVEL="WARNING", OPENIM_MULTI_LOGIN_POLICY="0")
    server = subprocess.Popen([sys.executable, "-m", "server_stub", "--memory", "--api-port", str(api),
                               "--ws-port", str(ws)], cwd=root, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_port(api)
        wait_port(ws)
        users = [f"idle{i:05d}" for i in range(args.users)]
        tokens = asyncio.run(_tokens(f"http://127.0.0.1:{api}", users))
        urls = [f"ws://127.0.0.1:{ws}/?sendID={u}&token={tokens[u]}&platformID=5&operationID=i{u}"
                f"&isBackground=false&sdkType=js&isMsgResp=true" for u in users]
        result["server"] = run_clients(server.pid, urls, args)
    finally:
        server.terminate()
        server.wait(30)
    if not args.no_baseline:
        port = free_port()
        bare = subprocess.Popen([sys.executable, __file__, "--bare", str(port)], stdout=subprocess.PIPE, text=True)
        try:
            assert bare.stdout is not None
            bare.stdout.readline()
            result["bare_websockets"] = run_clients(bare.pid, [f"ws://127.0.0.1:{port}/"], args)
        finally:
            bare.terminate()
            bare.wait(30)
        b = result["bare_websockets"]["kib_per_connection"]
        result["memory_ratio"] = round(result["server"]["kib_per_connection"] / b, 2) if b > 0 else None
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))


async def _tokens(api_url: str, users: list[str]) -> dict[str, str]:
    from bench._server import make_users

    return await make_users(api_url, users, platform_id=5)


if __name__ == "__main__":
    main()
