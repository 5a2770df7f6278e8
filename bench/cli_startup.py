"""Start-up cost of the ``openim`` command against a bare ``python -c pass``, in the same run.

    .venv/bin/python bench/cli_startup.py --runs 20
    .venv/bin/python bench/cli_startup.py --runs 20 --before /tmp/before   # git archive COMMIT openim_cli openim_sdk | tar -x -C /tmp/before

Times, as real subprocesses of the installed console script (``openim`` next to this Python;
``python -m openim_cli`` when there is none):

- ``python -c pass`` (the floor: interpreter and ``site``),
- ``openim --help`` and ``openim`` with no arguments (the top-level help),
- ``openim api --list`` (the route table, no network),
- ``openim send BOB hi`` against a running bundled server (``python -m server_stub --memory`` on free
  ports; alice and bob registered with the admin secret, alice logged in with ``openim login`` into a
  temporary ``OPENIM_CONFIG_DIR``/``OPENIM_DATA_DIR``), i.e. connect, send, wait for the ack, close.

Bytecode: the environment of the measured processes has ``PYTHONDONTWRITEBYTECODE`` removed, and
every command runs once before it is timed, so the runs load ``__pycache__`` as a real install does
(with the variable set, every process would compile every module from source and the figures
would mostly measure the compiler). The cases are interleaved round-robin, so a burst of load on a
shared machine hits all of them alike; medians and ratios come from the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager, nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _server import ROOT, free_port, wait_port  # noqa: E402

SECRET = "openIM123"


def bench_env(root: Path = ROOT, **extra: str) -> dict[str, str]:
    """The measured processes' environment: bytecode on, the checkout ``root`` first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    for k in ("OPENIM_PROFILE", "OPENIM_TOKEN", "OPENIM_SECRET", "OPENIM_API", "OPENIM_WS", "COLUMNS"):
        env.pop(k, None)
    env.update(extra)
    return env


def openim_cmd() -> list[str]:
    exe = shutil.which("openim", path=str(Path(sys.executable).parent))
    return [exe] if exe else [sys.executable, "-m", "openim_cli"]


def run_once(cmd: list[str], env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout.decode()}\n{proc.stderr.decode()}")
    return elapsed


@contextmanager
def bundled_server(env: dict[str, str]):  # type: ignore[no-untyped-def]
    api, ws = free_port(), free_port()
    args = [sys.executable, "-m", "server_stub", "--memory", "--api-port", str(api), "--ws-port", str(ws)]
    proc = subprocess.Popen(args, cwd=ROOT, env=dict(env, OPENIM_LOG_LEVEL="WARNING"), stdout=subprocess.DEVNULL)
    try:
        wait_port(api)
        wait_port(ws)
        yield f"http://127.0.0.1:{api}", f"ws://127.0.0.1:{ws}"
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-send", action="store_true", help="Skip `openim send` (no server).")
    ap.add_argument("--before", type=Path, metavar="CHECKOUT",
                    help="Also time the CLI of another checkout (e.g. `git worktree add /tmp/before <commit>`), "
                         "in the same run: its cases are prefixed 'before: '.")
    args = ap.parse_args()
    openim = openim_cmd()
    with tempfile.TemporaryDirectory(prefix="openim-bench-") as tmp:
        dirs = {"OPENIM_CONFIG_DIR": f"{tmp}/config", "OPENIM_DATA_DIR": f"{tmp}/data",
                "XDG_CACHE_HOME": f"{tmp}/cache", "HOME": tmp}
        env = bench_env(**dirs)
        # the other checkout gets its own config and cache (its cache schema may be older than ours)
        before_dirs = {**dirs, "OPENIM_CONFIG_DIR": f"{tmp}/before-config", "OPENIM_DATA_DIR": f"{tmp}/before-data"}
        roots = [("", env)] + ([("before: ", bench_env(args.before.resolve(), **before_dirs))] if args.before else [])
        cases: dict[str, tuple[list[str], tuple[int, ...], dict[str, str]]] = {
            "python -c pass": ([sys.executable, "-c", "pass"], (0,), env)}
        for label, e in roots:
            cases[f"{label}openim --help"] = ([*openim, "--help"], (0,), e)
            cases[f"{label}openim (no args)"] = (openim, (2,), e)
            cases[f"{label}openim api --list"] = ([*openim, "api", "--list"], (0,), e)
        with nullcontext() if args.no_send else bundled_server(env) as urls:
            if urls is not None:
                api, ws = urls
                alice, bob = f"alice{uuid.uuid4().hex[:6]}", f"bob{uuid.uuid4().hex[:6]}"
                run_once([*openim, "user", "register", bob, "--api", api, "--secret", SECRET], env)
                for i, (_, e) in enumerate(roots):  # a user each: a second login would kick the first
                    run_once([*openim, "login", "-u", f"{alice}{i or ''}", "--api", api, "--ws", ws,
                              "--secret", SECRET, "--register"], e)
                for label, e in roots:
                    cases[f"{label}openim send BOB hi"] = ([*openim, "send", bob, "hi"], (0,), e)
            for cmd, ok, e in cases.values():  # warm-up: bytecode written, caches filled
                run_once(cmd, e, ok)
                run_once(cmd, e, ok)
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(args.runs):
                for name, (cmd, ok, e) in cases.items():
                    times[name].append(run_once(cmd, e, ok))
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["python -c pass"]
    print(json.dumps({
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "runs": args.runs,
        "median_ms": {k: round(v * 1000, 1) for k, v in med.items()},
        "ratio_to_bare_python": {k: round(v / base, 2) for k, v in med.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
