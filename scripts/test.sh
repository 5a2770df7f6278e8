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
echo "== mypy (openim_sdk)"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
