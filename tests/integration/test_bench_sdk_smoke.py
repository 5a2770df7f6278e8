"""The SDK, CLI and TUI benchmarks in a tiny "smoke" size, so they cannot rot (issue 16).

Each runs as its users run it (a subprocess, JSON on stdout); the assertions are about behaviour
(every message cached, every send acknowledged, every page seen once and in order), never about
time. The full figures are in BENCHMARKS.md with the commands that made them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _bench(script: str, *args: str, timeout: float = 300) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                         capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout.strip()
    return json.loads(text[text.index("{"):])


def test_sync_cold_smoke() -> None:
    r = _bench("sync_cold.py", "--conversations", "3", "--messages", "120")
    assert r["python_newest"]["cached_at_sync_finished"] == 3 * 50  # the newest page of each
    assert r["python_full"]["cached_total"] == 3 * 120 and r["python_full"]["history_added"] == 3 * 70
    assert r["python_paging"]["cached_total"] == 3 * 120
    assert r["raw_puller"]["pulled"] == 3 * 120
    assert "time_to_sync_finished_s" in r["go_core"] or "skipped" in r["go_core"], r["go_core"]
    assert r["ratios"]["python_history_vs_raw"] > 0


def test_sync_cold_smoke_against_a_base_checkout(tmp_path) -> None:
    """``--base-root``: the base checkout's clients run too (here: a copy of this one)."""
    import shutil

    for part in ("openim_sdk", "server_stub", "bench"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    r = _bench("sync_cold.py", "--conversations", "2", "--messages", "60", "--base-root", str(tmp_path))
    assert r["base_python_newest"]["cached_at_sync_finished"] == r["python_newest"]["cached_at_sync_finished"] == 100
    assert r["base_python_full"]["cached_total"] == r["python_full"]["cached_total"] == 120
    assert {"python_history_vs_raw", "base_python_history_vs_raw"} <= set(r["ratios"])


def test_send_throughput_smoke() -> None:
    r = _bench("send_throughput.py", "--messages", "5")
    assert r["client_sequential"]["messages"] == r["client_in_flight"]["messages"] == 5  # every send acked
    assert all(raw["messages"] == 5 for raw in r["raw_websockets"])
    assert r["raw_in_flight"]["messages"] == 5  # acks and sender-sync pushes in send order (checked in the bench)
    assert all(run["cpu_us_per_msg"] > 0 for run in (*r["raw_websockets"], r["client_sequential"],
                                                      r["client_in_flight"]))
    assert r["sequential_cpu_vs_raw"] > 0 and r["in_flight_cpu_vs_raw"] > 0


def test_cli_startup_smoke() -> None:
    r = _bench("cli_startup.py", "--runs", "1")
    assert {"python -c pass", "openim --help"} <= set(r["median_ms"]), r


def test_tui_open_smoke() -> None:
    r = _bench("tui_open.py", "--messages", "300", "--small", "120", "--edge", "2")
    assert r["all_seqs_seen_once_in_order"] is True
    assert r["older_pages"] >= 1
