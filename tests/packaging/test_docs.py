"""The docs site builds with ``mkdocs build --strict`` (issue 17, item 4): every page, the API
reference from docstrings (mkdocstrings), the CLI reference, TUI keys and server configuration
generated at build time (``docs/_hooks/generate.py``), and the protocol notes of ``docs/spec``.
Any warning (a broken link, a docstring mkdocstrings cannot parse, an undescribed config key)
fails the build and so this test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_server_config_key_is_described() -> None:
    from server_stub.config_help import undocumented

    assert not undocumented(), (
        f"describe these ServerConfig fields in server_stub/config_help.py (CONFIG_HELP): {undocumented()}")


def test_mkdocs_build_strict(tmp_path: Path) -> None:
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    site = tmp_path / "site"
    cli = (site / "cli" / "index.html").read_text()
    assert "openim friends add" in cli and "openim server backup" in cli and "--print-config" in cli
    assert "Ctrl+Q" in (site / "tui-keys" / "index.html").read_text()
    config = (site / "server" / "configuration" / "index.html").read_text()
    assert "max_body_bytes" in config and "log_format" in config
    assert "OpenIMClient" in (site / "api" / "client" / "index.html").read_text()
    assert (site / "spec" / "ws-protocol" / "index.html").exists()
