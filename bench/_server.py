"""Helpers for benchmarks: free ports, the bundled server as a subprocess, user tokens."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} did not open")


@contextlib.asynccontextmanager
async def bundled_server(data: str = ":memory:", root: str | Path | None = None) -> AsyncIterator[tuple[str, str]]:
    """Start ``python -m server_stub`` on free ports; yields (api_url, ws_url).

    ``root``: run the server of another checkout (e.g. ``git archive <commit> server_stub
    openim_sdk`` unpacked in /tmp) with the same clients, for before/after figures in one run;
    the environment variable ``OPENIM_BENCH_SERVER_ROOT`` sets it for every bench."""
    api, ws = free_port(), free_port()
    args = [sys.executable, "-m", "server_stub", "--api-port", str(api), "--ws-port", str(ws)]
    args += ["--memory"] if data == ":memory:" else ["--data", data]
    env = dict(os.environ, OPENIM_LOG_LEVEL="WARNING", OPENIM_MULTI_LOGIN_POLICY="0")
    root = root or os.environ.get("OPENIM_BENCH_SERVER_ROOT") or ROOT
    proc = subprocess.Popen(args, cwd=root, env=env, stdout=subprocess.DEVNULL)
    try:
        await asyncio.to_thread(wait_port, api)
        await asyncio.to_thread(wait_port, ws)
        yield f"http://127.0.0.1:{api}", f"ws://127.0.0.1:{ws}"
    finally:
        proc.terminate()
        proc.wait(10)


async def make_users(api_url: str, user_ids: list[str], platform_id: int = 7) -> dict[str, str]:
    from openim_sdk.rest import RestClient

    admin = await RestClient.admin(api_url)
    async with admin:
        for i in range(0, len(user_ids), 100):
            batch = user_ids[i : i + 100]
            await admin.user.user_register(users=[{"userID": u, "nickname": u} for u in batch])
        return {u: await admin.mint_user_token(u, platform_id) for u in user_ids}
