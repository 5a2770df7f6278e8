"""Start time of ``openim --help`` against a bare ``python -c pass``, in the same run.

    .venv/bin/python bench/cli_startup.py --runs 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "openim --help": [py, "-m", "openim_cli", "--help"],
        "openim api --list": [py, "-m", "openim_cli", "api", "--list"],
    }
    timed(cases["openim --help"], 2)  # warm the bytecode cache
    res = {name: statistics.median(timed(cmd, args.runs)) for name, cmd in cases.items()}
    base = res["python -c pass"]
    print(json.dumps({
        "runs": args.runs,
        "median_ms": {k: round(v * 1000, 1) for k, v in res.items()},
        "ratio_to_bare_python": {k: round(v / base, 1) for k, v in res.items()},
    }, indent=2))


if __name__ == "__main__":
    main()
