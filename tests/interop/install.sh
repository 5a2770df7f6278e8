#!/usr/bin/env bash
# Installs what the interop tests need: the pinned official clients (npm ci, no install scripts,
# so no Electron or browser download) and Debian's Chromium for the wasm client.
# The pytest fixtures do the same lazily; this script is for CI / a fresh machine.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --legacy-peer-deps --no-audit --no-fund
fi
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    echo "warning: Debian's chromium could not be installed; the wasm interop tests will skip" >&2
fi
