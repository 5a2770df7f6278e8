"""The README's main command installs what it runs (a fresh machine has nothing else)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _extras(name: str, table: dict[str, list[str]]) -> set[str]:
    """``name`` and every extra it pulls in (``openim-py[a,b]`` entries), transitively."""
    out = {name}
    for req in table.get(name, []):
        m = re.fullmatch(r"openim-py\[([^\]]+)\]", req.strip())
        if m:
            for sub in m.group(1).split(","):
                out |= _extras(sub.strip(), table)
    return out


def test_run_sh_installs_the_extras_openim_demo_needs() -> None:
    script = (ROOT / "scripts" / "run.sh").read_text()
    m = re.search(r"^bash scripts/install\.sh (\S+)", script, re.M)
    assert m, "run.sh must install the package before running it"
    extra = m.group(1).strip("\"'")
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    # openim demo runs the bundled server (server), the chat (tui) and the openim command (cli)
    assert {"cli", "tui", "server"} <= _extras(extra, table), f"run.sh installs [{extra}] only"
    assert "openim demo" in script
