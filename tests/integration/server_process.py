"""The bundled server as a real subprocess (for kill/restart tests) and a polling helper."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m server_stub`` on fixed ports and a data file; started, killed, started again."""

    def __init__(self, data: Path, api_port: int, ws_port: int, log_dir: Path) -> None:
        self.data, self.api_port, self.ws_port, self.log_dir = data, api_port, ws_port, log_dir
        self.proc: subprocess.Popen[str] | None = None
        self.starts = 0
        self.api_url = f"http://127.0.0.1:{api_port}"
        self.ws_url = f"ws://127.0.0.1:{ws_port}"

    async def start(self, timeout: float = 60.0) -> None:
        """Start and wait for the READY line."""
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        args = [sys.executable, "-m", "server_stub", "--api-port", str(self.api_port),
                "--ws-port", str(self.ws_port), "--data", str(self.data)]
        env = dict(os.environ, OPENIM_LOG_LEVEL="WARNING")
        with open(self.log_dir / f"server-{self.starts}.log", "w") as err:
            self.proc = proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                                stderr=err, text=True)

        def ready() -> str:
            assert proc.stdout is not None
            while line := proc.stdout.readline():
                if line.startswith("READY"):
                    return line
            raise RuntimeError(f"the server exited before READY (code {proc.wait()}); see server-*.log")

        line = await asyncio.wait_for(asyncio.to_thread(ready), timeout)
        assert f"api_port={self.api_port}" in line and f"ws_port={self.ws_port}" in line, line

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


async def until(pred: Callable[[], Any], timeout: float = 10, what: str = "") -> None:
    """Wait for a condition (checked every 20 ms); the timeout is only a safety net."""
    deadline = time.monotonic() + timeout
    while True:
        result = pred()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or pred}")
        await asyncio.sleep(0.02)
