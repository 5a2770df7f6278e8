"""Fixtures for the CLI tests: the bundled server as a subprocess and a runner for the real ``openim``.

Every ``openim`` call is a real subprocess of the installed console script, with HOME, the XDG dirs (cache too),
OPENIM_CONFIG_DIR and OPENIM_DATA_DIR pointing into tmp dirs (nothing touches the real home).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

OPENIM = shutil.which("openim", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "openim")
SECRET = "openIM123"
ANSI = "\x1b"
# Variables of the caller's shell that would change what the CLI does.
_SCRUB = ("OPENIM_PROFILE", "OPENIM_TOKEN", "OPENIM_SECRET", "OPENIM_SECRET_FILE", "OPENIM_API", "OPENIM_WS", "NO_COLOR", "FORCE_COLOR",
          "OPENIM_CONFIG_DIR", "OPENIM_DATA_DIR", "OPENIM_DATA", "OPENIM_CONFIG", "COLUMNS", "TERM",
          "OPENIM_CACHE_DIR", "OPENIM_NO_HELP_CACHE", "XDG_CACHE_HOME")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uid(prefix: str) -> str:
    """A user ID unique to this run (the server database is shared by the module)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@dataclass
class Server:
    proc: subprocess.Popen[str]
    api_port: int
    ws_port: int
    log: Path

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def admin_call(self, route: str, body: dict[str, Any]) -> Any:
        """A REST call as imAdmin, in-process (for test setup and checks that need no CLI)."""
        with httpx.Client(base_url=self.api, timeout=10) as c:
            r = c.post("/auth/get_admin_token", json={"secret": SECRET, "userID": "imAdmin"},
                       headers={"operationID": uuid.uuid4().hex})
            token = r.json()["data"]["token"]
            r = c.post(route, json=body, headers={"operationID": uuid.uuid4().hex, "token": token})
        env = r.json()
        assert env["errCode"] == 0, env
        return env.get("data")


def start_server(tmp: Path) -> Server:
    log = tmp / "server.log"
    args = [sys.executable, "-m", "server_stub", "--api-port", "0", "--ws-port", "0",
            "--data", str(tmp / "openim.sqlite3")]
    with open(log, "w") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                break
            continue
        if line.startswith("READY"):
            ports = dict(kv.split("=") for kv in line.split()[1:])
            return Server(proc, int(ports["api_port"]), int(ports["ws_port"]), log)
    proc.kill()
    raise RuntimeError(f"the bundled server did not start:\n{log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("server"))
    try:
        yield srv
    finally:
        stop(srv.proc)


@dataclass
class Cli:
    """Runs the real ``openim`` executable in an isolated HOME."""

    home: Path
    server: Server
    env: dict[str, str] = field(default_factory=dict)

    @property
    def config_dir(self) -> Path:
        return Path(self.env["OPENIM_CONFIG_DIR"])

    @property
    def profiles_file(self) -> Path:
        return self.config_dir / "profiles.json"

    def profiles(self) -> dict[str, Any]:
        return json.loads(self.profiles_file.read_text())

    def _env(self, extra: dict[str, str | None] | None) -> dict[str, str]:
        env = dict(self.env)
        for k, v in (extra or {}).items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = v
        return env

    def popen(self, *args: str, env: dict[str, str | None] | None = None, stdin: Any = subprocess.DEVNULL,
              ) -> subprocess.Popen[str]:
        return subprocess.Popen([OPENIM, *args], env=self._env(env), stdin=stdin, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.home)

    def run(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None,
            code: int | None = 0, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``openim ARGS``; check the exit code (unless ``code`` is None) and that nothing crashed."""
        proc = self.popen(*args, env=env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL)
        return self._finish(args, proc, input, code, timeout)

    def run_many(self, *calls: Sequence[Any], timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
        """Run independent commands at the same time: each call is ``(args, code)`` or ``(args, code, env)``."""
        started = []
        for call in calls:
            args, code, env = (list(call) + [None])[:3]
            started.append((args, code, self.popen(*args, env=env)))
        return [self._finish(args, proc, None, code, timeout) for args, code, proc in started]

    def _finish(self, args: Sequence[str], proc: subprocess.Popen[str], input: str | None, code: int | None,
                timeout: float) -> subprocess.CompletedProcess[str]:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"openim {' '.join(args)} hung\nstdout: {out}\nstderr: {err}") from None
        result = subprocess.CompletedProcess([OPENIM, *args], proc.returncode, out, err)
        where = f"openim {' '.join(args)} -> {proc.returncode}\nstdout: {out}\nstderr: {err}"
        assert "Traceback" not in err and "Traceback" not in out, where
        if code is not None:
            assert proc.returncode == code, where
        return result


def make_cli(root: Path, server: Server) -> Cli:
    home = root / "home"
    for d in ("home", "xdg-config", "xdg-data", "xdg-cache", "config", "data"):
        (root / d).mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update({
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "XDG_DATA_HOME": str(root / "xdg-data"),
        "XDG_CACHE_HOME": str(root / "xdg-cache"),  # the cached top-level help (openim_cli.helpcache)
        "OPENIM_CONFIG_DIR": str(root / "config"),
        "OPENIM_DATA_DIR": str(root / "data"),
        "OPENIM_API": server.api,
        "OPENIM_WS": server.ws,
    })
    return Cli(home, server, env)


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Cli:
    return make_cli(tmp_path_factory.mktemp("cli"), server)
