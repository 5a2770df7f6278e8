"""Reconnect storm: time from a server restart to every session reconnected and resynced.

The bundled server runs as a subprocess on a SQLite file. ``--sessions`` OpenIMClients (each
with its own cache, all in this process) form a ring, each sending one text to the next every
``--pace`` seconds, so messages keep arriving throughout. Then, ``--rounds`` times per schedule,
alternating: every session is connected and has been up for 6 s (longer than the new
schedule's ``stable_after``), the server is SIGKILLed and started again on the same ports and
data file (at once, or after ``--down`` seconds: a slower restart), and we measure from its ``READY`` line until the last session is back in
state CONNECTED (handshake done and the on-connect sync finished). The two schedules, switched
on the same clients through ``LongConnection.backoff``:

- ``old``: ``backoff=(1, 2, 4, 8, 16)`` passed explicitly (cycled, +-20 % jitter), the schedule
  before issue 18;
- ``new``: :data:`openim_sdk.ws.backoff.DEFAULT_BACKOFF` (full jitter over a window that grows
  with the outage: first retry within 0.5 s, at most 16 s).

Also reported per round: the outage (kill to READY), the median session, the last handshake
(the rest of "all back" is the resync, all sessions sharing this process's CPU), and the
busiest 100 ms of handshakes after the restart (how much the crowd arrives in step).

    .venv/bin/python bench/reconnect_storm.py [--sessions 150] [--rounds 3] [--pace 2.0] [--down 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._server import ROOT, free_port, make_users  # noqa: E402
from openim_sdk import events as ev  # noqa: E402
from openim_sdk.client import OpenIMClient  # noqa: E402
from openim_sdk.ws import events as wse  # noqa: E402
from openim_sdk.ws.backoff import DEFAULT_BACKOFF, BackoffPolicy, as_policy  # noqa: E402

SCHEDULES: dict[str, BackoffPolicy] = {
    "old": as_policy((1.0, 2.0, 4.0, 8.0, 16.0), 0.2),
    "new": DEFAULT_BACKOFF,
}
STABLE = 6.0  # seconds every session is up before a kill


class ServerProcess:
    """``python -m server_stub`` on fixed ports and a data file: start (until READY), kill, again."""

    def __init__(self, data: Path, log: Path) -> None:
        self.data, self.log = data, log
        self.api_port, self.ws_port = free_port(), free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.ws_url = f"ws://127.0.0.1:{self.ws_port}"
        self.proc: subprocess.Popen[str] | None = None

    async def start(self) -> float:
        """Start; returns the monotonic time the READY line was read."""
        args = [sys.executable, "-m", "server_stub", "--api-port", str(self.api_port),
                "--ws-port", str(self.ws_port), "--data", str(self.data)]
        env = dict(os.environ, OPENIM_LOG_LEVEL="WARNING", OPENIM_MULTI_LOGIN_POLICY="0")
        with open(self.log, "a") as err:
            self.proc = proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err,
                                                text=True)

        def ready() -> float:
            assert proc.stdout is not None
            while line := proc.stdout.readline():
                if line.startswith("READY"):
                    return time.monotonic()
            raise RuntimeError(f"server exited before READY (code {proc.wait()}), see {self.log}")

        return await asyncio.wait_for(asyncio.to_thread(ready), 60)

    def kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None


async def until(pred: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s: {what}")
        await asyncio.sleep(0.01)


def busiest(times: list[float], width: float = 0.1) -> int:
    """Most events in any window of ``width`` seconds."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def main_async(sessions: int, rounds: int, pace: float, down: float, rest_sync: bool) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="openim-storm-"))
    server = ServerProcess(work / "server.sqlite3", work / "server.log")
    uids = [f"st{i:03d}" for i in range(sessions)]
    clients: dict[str, OpenIMClient] = {}
    back: dict[str, float] = {}  # uid -> when CONNECTED again after the current restart
    handshakes: list[float] = []  # ws Connected events after the current restart
    state = {"armed": False}
    last_connected = {"t": time.monotonic()}
    stop = asyncio.Event()
    senders: list[asyncio.Task[None]] = []
    sent = {"n": 0}

    def watch(u: str, c: OpenIMClient) -> None:
        def on_state(e: ev.ConnectionStateChanged) -> None:
            if e.state == ev.ConnectionState.CONNECTED:
                last_connected["t"] = time.monotonic()
                if state["armed"]:
                    back.setdefault(u, time.monotonic())

        c.on(ev.ConnectionStateChanged)(on_state)

        def on_ws(e: wse.Event) -> None:
            if isinstance(e, wse.Connected) and state["armed"]:
                handshakes.append(time.monotonic())

        c.ws.on_event(on_ws)

    async def send_loop(i: int, u: str) -> None:
        c, k = clients[u], 0
        with contextlib.suppress(TimeoutError):  # spread the senders over one pace period
            await asyncio.wait_for(stop.wait(), pace * i / len(uids))
        while not stop.is_set():
            await c.send_text(uids[(i + 1) % len(uids)], f"{u} {k}")
            sent["n"] += 1
            k += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pace)

    results: list[dict[str, Any]] = []
    try:
        await server.start()
        tokens = await make_users(server.api_url, uids)
        for u in uids:
            c = OpenIMClient(server.api_url, server.ws_url, u, tokens[u], data_dir=work / u, rest_sync=rest_sync)
            watch(u, c)
            clients[u] = c
        await asyncio.gather(*(c.start() for c in clients.values()))
        await asyncio.gather(*(c.wait_synced(120) for c in clients.values()))
        if pace > 0:
            senders = [asyncio.create_task(send_loop(i, u)) for i, u in enumerate(uids)]
        order = [name for _ in range(rounds) for name in SCHEDULES]
        for n, name in enumerate(order, 1):
            for c in clients.values():
                c.ws.backoff = SCHEDULES[name]
            await until(lambda: all(c.connected for c in clients.values()), 120, "all connected")
            await until(lambda: time.monotonic() - last_connected["t"] >= STABLE, 120, "stable")
            back.clear()
            handshakes.clear()
            state["armed"] = True
            killed = time.monotonic()
            server.kill()
            if down > 0:
                await asyncio.sleep(down)
            ready = await server.start()
            await until(lambda: len(back) == len(uids), 300, "every session back")
            state["armed"] = False
            since_ready = sorted(max(t - ready, 0.0) for t in back.values())
            shakes = sorted(t - ready for t in handshakes if t >= ready)
            r = {
                "round": n, "schedule": name,
                "outage_s": round(ready - killed, 3),
                "all_back_after_ready_s": round(since_ready[-1], 3),
                "median_back_after_ready_s": round(statistics.median(since_ready), 3),
                "p90_back_after_ready_s": round(since_ready[int(0.9 * (len(since_ready) - 1))], 3),
                "last_handshake_after_ready_s": round(shakes[-1], 3) if shakes else None,
                "busiest_100ms_handshakes": busiest(shakes),
            }
            results.append(r)
            print(json.dumps(r), file=sys.stderr, flush=True)
    finally:
        stop.set()
        for t in senders:
            t.cancel()
        await asyncio.gather(*senders, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)
        server.kill()
        shutil.rmtree(work, ignore_errors=True)

    def summary(name: str) -> dict[str, Any]:
        rs = [r for r in results if r["schedule"] == name]
        return {
            "rounds": len(rs),
            "outage_s": [r["outage_s"] for r in rs],
            "all_back_after_ready_s": [r["all_back_after_ready_s"] for r in rs],
            "median_of_all_back_s": round(statistics.median(r["all_back_after_ready_s"] for r in rs), 3),
            "median_session_s": round(statistics.median(r["median_back_after_ready_s"] for r in rs), 3),
            "busiest_100ms_handshakes": [r["busiest_100ms_handshakes"] for r in rs],
        }

    old, new = summary("old"), summary("new")
    return {
        "bench": "reconnect_storm",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "sessions": sessions, "pace_s": pace, "down_s": down, "rest_sync": rest_sync, "messages_sent": sent["n"],
        "old": old, "new": new,
        "all_back_new_vs_old": round(new["median_of_all_back_s"] / old["median_of_all_back_s"], 3),
        "median_session_new_vs_old": round(new["median_session_s"] / old["median_session_s"], 3),
        "rounds": results,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sessions", type=int, default=150)
    p.add_argument("--rounds", type=int, default=3, help="kills per schedule (alternating old, new)")
    p.add_argument("--pace", type=float, default=2.0, help="seconds between two sends of one session (0: none)")
    p.add_argument("--down", type=float, default=0.0, help="seconds between the kill and the restart")
    p.add_argument("--no-rest-sync", action="store_true", help="sessions skip the REST login sync")
    args = p.parse_args()
    print(json.dumps(asyncio.run(main_async(args.sessions, args.rounds, args.pace, args.down, not args.no_rest_sync)), indent=2))


if __name__ == "__main__":
    main()
