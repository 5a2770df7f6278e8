"""The server benchmarks in a tiny "smoke" size, so they cannot rot (issue 16).

Each runs as its users run it (a subprocess, JSON output); the assertions are about behaviour
(every message delivered, every pull complete, every heartbeat answered, every connection still
open), never about time. The full figures are in BENCHMARKS.md with the commands that made them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _bench(script: str, *args: str, timeout: float = 240) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args, "--json"], cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pull_latency_smoke() -> None:
    r = _bench("pull_latency.py", "--messages", "120", "--repeat", "2", "--sizes", "5,100")
    for key in ("handler_5", "handler_100", "ws_1002_5", "ws_1002_100", "rest_pull_5", "rest_pull_100",
                "ws_baseline_2004", "rest_baseline_server_time"):
        assert r[key]["median_ms"] >= 0, key  # every pull returned its full page (asserted in the bench)


def test_push_latency_smoke() -> None:
    r = _bench("push_latency.py", "--pairs", "2", "--messages", "3", "--rounds", "2", "--half-rate")
    for run in (*r["server"], *r["bare_relay"], r["half_rate"]):
        assert run["messages"] == 2 * 3  # every message pushed to its receiver
    assert len(r["throughput_ratios"]) == 2


def test_idle_connections_smoke() -> None:
    r = _bench("idle_connections.py", "--connections", "24", "--users", "4", "--hold", "1.2",
               "--interval", "0.4")
    for side in ("server", "bare_websockets"):
        s = r[side]
        assert s["opened"] == 24 and s["still_open"] == 24, s
        assert s["errors"] == 0 and s["pings"] == s["pongs"] > 0, s
