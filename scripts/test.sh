#!/usr/bin/env bash
# Installs everything the tests need (a venv in .venv, the package with its test extra, and the
# official OpenIM clients for the interop tests) and runs the whole suite: ruff, mypy, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh test
# the official OpenIM clients for tests/interop: npm ci (no Electron or browser downloads) and
# Debian's chromium for the wasm client, installed when missing and running as root
bash tests/interop/install.sh
echo "== ruff"
.venv/bin/ruff check .
echo "== mypy (openim_sdk, openim_cli, openim_tui, server_stub; the SDK --strict)"
.venv/bin/mypy
.venv/bin/mypy --strict openim_sdk
echo "== pytest"
.venv/bin/python -m pytest "$@"
# The other supported Pythons (3.12, 3.13: pyenv's or on PATH) run the unit tests, each in its own
# venv; one missing is said, not failed on (the full suite above runs on the default python3).
for v in 3.12 3.13; do
  py=$( (ls -d "$HOME"/.pyenv/versions/"$v".*/bin/python 2>/dev/null || command -v "python$v" || true) | tail -1)
  if [ -z "$py" ] || ! "$py" -c pass 2>/dev/null; then
    echo "== unit tests on Python $v: skipped (no python$v here)"
    continue
  fi
  echo "== unit tests on Python $v ($py)"
  VENV=".venv-$v" PYTHON="$py" bash scripts/install.sh test
  ".venv-$v/bin/python" -m pytest tests/unit -q -p no:cacheprovider
done
