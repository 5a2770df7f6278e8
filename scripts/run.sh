#!/usr/bin/env bash
# The main job: install into .venv, start the bundled OpenIM server on its SQLite default,
# sign in two users (alice, and bob as an echo bot) and open the chat as alice.
# Without a terminal it runs a scripted two-user exchange instead. Extra arguments go to
# `openim demo` (see `openim demo --help`); `openim server` runs the server alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh all  # the SDK with the cli, tui and server extras: what `openim demo` runs
echo "(openim is in .venv/bin: \`source .venv/bin/activate\` puts it on PATH)" >&2
exec .venv/bin/openim demo "$@"
