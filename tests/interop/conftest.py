"""Fixtures for running the official OpenIM clients (Node / Chromium) against ``server_stub``.

- ``node_modules``: ``npm ci`` in tests/interop when node_modules is missing or stale
  (.npmrc disables install scripts and peer auto-install, so Electron is never downloaded).
- ``server``: ``python -m server_stub --api-port 0 --ws-port 0 --data <tmp>/db.sqlite`` as a
  subprocess; the URLs are read from its ``API <url>`` / ``WS <url>`` / ``READY`` stdout lines.
- ``admin``: REST helper holding an admin token (``/auth/get_admin_token``, secret openIM123),
  registering fresh users per test.
- ``chromium``: path of a launchable system Chromium; installs Debian's ``chromium`` with apt-get
  if it is missing and we are root; skips (with the reason) only if it cannot be had or launched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

INTEROP_DIR = Path(__file__).resolve().parent
REPO_ROOT = INTEROP_DIR.parents[1]
SECRET = os.environ.get("OPENIM_INTEROP_SECRET", "openIM123")


# --------------------------------------------------------------------------- node / npm


def _node() -> str:
    node = shutil.which("node")
    if not node:
        pytest.fail("interop tests need Node.js >= 20 ('node' not on PATH); see tests/interop/README.md")
    return node


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """Install the pinned official clients (npm ci) unless node_modules is already current."""
    _node()
    nm = INTEROP_DIR / "node_modules"
    lock = INTEROP_DIR / "package-lock.json"
    marker = nm / ".package-lock.json"  # written by npm on every install
    stale = not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime
    needed = [
        nm / "@openim" / "client-sdk",
        nm / "@openim" / "electron-client-sdk" / "assets" / "linux_x64" / "libopenimsdk.so",
        nm / "@openim" / "wasm-client-sdk" / "assets" / "openIM.wasm",
        nm / "koffi",
        nm / "playwright-core",
    ]
    if stale or not all(p.exists() for p in needed):
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("interop tests need npm to install tests/interop/node_modules")
        proc = subprocess.run(
            [npm, "ci", "--ignore-scripts", "--legacy-peer-deps", "--no-audit", "--no-fund"],
            cwd=INTEROP_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            pytest.fail(f"npm ci failed in {INTEROP_DIR}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    missing = [str(p) for p in needed if not p.exists()]
    if missing:
        pytest.fail(f"npm ci did not provide {missing}")
    return nm


# --------------------------------------------------------------------------- server


@dataclass
class ServerProc:
    proc: subprocess.Popen[str]
    api_url: str
    ws_url: str
    log_path: Path
    stdout_lines: list[str] = field(default_factory=list)

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])


def _start_server(tmp: Path) -> ServerProc:
    log_path = tmp / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed by the fixture
    cmd = [sys.executable, "-m", "server_stub", "--api-port", "0", "--ws-port", "0",
           "--data", str(tmp / "db.sqlite")]
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log, text=True, env=env)
    assert proc.stdout is not None
    lines: list[str] = []
    found: dict[str, str] = {}

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("API "):
                found["api"] = line.split(None, 1)[1].strip()
            elif line.startswith("WS "):
                found["ws"] = line.split(None, 1)[1].strip()
            elif line.startswith("READY"):
                found["ready"] = line.strip()

    threading.Thread(target=reader, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "ready" not in found and proc.poll() is None:
        time.sleep(0.05)
    if "ready" not in found or "api" not in found or "ws" not in found:
        proc.kill()
        log.close()
        pytest.fail(
            f"server_stub did not report READY/API/WS lines (cmd {' '.join(cmd)}, exit {proc.poll()}):\n"
            f"stdout: {lines}\nstderr:\n{log_path.read_text(errors='replace')[-4000:]}"
        )
    return ServerProc(proc, found["api"].rstrip("/"), found["ws"].rstrip("/"), log_path, lines)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProc]:
    tmp = tmp_path_factory.mktemp("interop-server")
    srv = _start_server(tmp)
    try:
        yield srv
    finally:
        srv.proc.terminate()
        try:
            srv.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.proc.kill()
            srv.proc.wait(timeout=5)


# --------------------------------------------------------------------------- REST admin


class Admin:
    def __init__(self, api_url: str) -> None:
        self.client = httpx.Client(base_url=api_url, timeout=15)
        self.token = ""

    def call(self, path: str, body: Any, token: str | None = None) -> dict[str, Any]:
        headers = {"operationID": f"interop-{uuid.uuid4().hex[:12]}"}
        tok = self.token if token is None else token
        if tok:
            headers["token"] = tok
        r = self.client.post(path, json=body, headers=headers)
        assert r.status_code == 200, f"{path}: HTTP {r.status_code} {r.text[:500]}"
        env: dict[str, Any] = r.json()
        return env

    def ok(self, path: str, body: Any) -> Any:
        env = self.call(path, body)
        assert env.get("errCode") == 0, f"{path} {body} -> {env}"
        return env.get("data")

    def register_pair(self, prefix: str) -> tuple[str, str]:
        tag = uuid.uuid4().hex[:6]
        a, b = f"{prefix}_a_{tag}", f"{prefix}_b_{tag}"
        self.ok("/user/user_register", {"users": [{"userID": u, "nickname": u, "faceURL": ""} for u in (a, b)]})
        return a, b

    def user_token(self, user_id: str, platform_id: int) -> str:
        data = self.ok("/auth/get_user_token", {"userID": user_id, "platformID": platform_id})
        return str(data["token"])


@pytest.fixture(scope="session")
def admin(server: ServerProc) -> Iterator[Admin]:
    adm = Admin(server.api_url)
    env = adm.call("/auth/get_admin_token", {"secret": SECRET, "userID": "imAdmin"}, token="")
    assert env.get("errCode") == 0 and env.get("data", {}).get("token"), f"get_admin_token -> {env}"
    adm.token = env["data"]["token"]
    try:
        yield adm
    finally:
        adm.client.close()


# --------------------------------------------------------------------------- chromium


def _find_chromium() -> str | None:
    env = os.environ.get("CHROMIUM_PATH")
    if env and Path(env).exists():
        return env
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _apt_install_chromium() -> str:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return "not root or no apt-get"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
        except subprocess.TimeoutExpired:
            return f"{' '.join(cmd)} timed out"
        if proc.returncode != 0:
            return f"{' '.join(cmd)} failed: {proc.stderr[-1500:]}"
    return ""


@pytest.fixture(scope="session")
def chromium(node_modules: Path) -> str:
    exe = _find_chromium()
    if not exe:
        why = _apt_install_chromium()
        exe = _find_chromium()
        if not exe:
            pytest.skip(f"Chromium is not installed and could not be installed ({why})")
    proc = subprocess.run(
        [_node(), str(INTEROP_DIR / "lib" / "check_chromium.mjs"), exe],
        cwd=INTEROP_DIR, capture_output=True, text=True, timeout=120,
    )
    if proc.returncode != 0:
        pytest.skip(f"Chromium at {exe} cannot be launched headless: {proc.stdout.strip()[-1500:]} "
                    f"{proc.stderr.strip()[-1500:]}")
    return exe


# --------------------------------------------------------------------------- driver runner


@dataclass
class DriverRun:
    result: dict[str, Any]
    seconds: float
    stderr: str
    server_log: str

    def step(self, name: str) -> dict[str, Any]:
        steps: dict[str, Any] = self.result.get("steps", {})
        return steps.get(name, {"ok": False, "error": "step not reached"})

    def ok(self, name: str) -> Any:
        """The result of step ``name``, failing the test (with the whole run) when it did not succeed."""
        st = self.step(name)
        assert st.get("ok"), f"step {name!r} failed: {st.get('error')}\n{self.describe()}"
        return st.get("result")

    def describe(self) -> str:
        res = dict(self.result)
        return (f"driver output: {json.dumps(res, indent=1)[:12000]}\n"
                f"node stderr: {self.stderr[-3000:]}\n"
                f"server log tail:\n{self.server_log}\n"
                f"worker logs in {res.get('workDir')}")


def run_driver(script: str, server: ServerProc, admin: Admin, user_a: str, user_b: str, work_dir: Path,
               timeout: float = 150, step_timeout_ms: int = 20000, extra: list[str] | None = None) -> DriverRun:
    work_dir.mkdir(parents=True, exist_ok=True)
    cmd = [_node(), str(INTEROP_DIR / script), "--api", server.api_url, "--ws", server.ws_url,
           "--user-a", user_a, "--user-b", user_b, "--admin-token", admin.token,
           "--work-dir", str(work_dir), "--timeout", str(step_timeout_ms), *(extra or [])]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=INTEROP_DIR, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{script} did not finish in {timeout}s\nstdout: {e.stdout!r}\nstderr: {e.stderr!r}\n"
                    f"server log:\n{server.log_tail()}")
    seconds = time.monotonic() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        pytest.fail(f"{script} exited {proc.returncode} without a JSON result\nstdout: {proc.stdout[-3000:]}\n"
                    f"stderr: {proc.stderr[-3000:]}\nserver log:\n{server.log_tail()}")
    return DriverRun(json.loads(lines[-1]), seconds, proc.stderr, server.log_tail())


def run_scenario(script: str, server: ServerProc, admin: Admin, prefix: str, work_dir: Path,
                 timeout: float) -> DriverRun:
    """A two-user scenario driver (``native_*.mjs``) on a fresh pair of users; fails when it aborted."""
    a, b = admin.register_pair(prefix)
    r = run_driver(script, server, admin, a, b, work_dir, timeout=timeout)
    print(f"\n[interop] {script} took {r.seconds:.1f}s")
    assert not r.result.get("fatal"), f"driver aborted: {r.result.get('fatal')}\n{r.describe()}"
    return r
