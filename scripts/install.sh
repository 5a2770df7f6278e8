#!/usr/bin/env bash
# Install the package (editable) into a venv (VENV, default .venv; PYTHON makes it) with the given
# extra ("", "all" or "test"), only when pyproject.toml changed since the last install (or the venv is
# new): reruns are quick and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRA=${1:-}
SPEC=.
[ -n "$EXTRA" ] && SPEC=".[$EXTRA]"
VENV=${VENV:-.venv}
if [ ! -x "$VENV/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
STAMP="$VENV/.openim-installed-${EXTRA:-base}"
WANT=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/openim" ]; then
  exit 0
fi
echo "installing into $VENV ..." >&2
LOG=$(mktemp)
# pip and setuptools print deprecation chatter on success; show their output only when they fail
if ! { "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip &&
       "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$SPEC"; } >"$LOG" 2>&1; then
  cat "$LOG" >&2
  rm -f "$LOG"
  echo "error: installing the package into $VENV failed (output above)" >&2
  exit 1
fi
rm -f "$LOG"
echo "$WANT" > "$STAMP"
