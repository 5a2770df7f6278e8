#!/usr/bin/env bash
# The main job: install into .venv and run the bundled OpenIM server with its SQLite default.
# Extra arguments go to `openim server` (see `openim server --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/openim server "$@"
