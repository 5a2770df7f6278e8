"""Start-up shortcuts of the console script: the cached top-level help (openim_cli.helpcache) prints
the very bytes Typer prints and never stale text; a command loads only its own module.

The help tests run the real ``openim`` on a copy of the ``openim_cli`` package put first on PYTHONPATH,
so a module can be changed without touching the checkout.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import openim_cli

from .conftest import OPENIM, Cli

CASES = ((["--help"], 0), (["-h"], 0), ([], 2))  # no arguments: the help on stderr, exit 2 (click's rule)


@pytest.fixture
def copy(cli: Cli, tmp_path: Path) -> dict[str, Any]:
    src = tmp_path / "src"
    shutil.copytree(Path(openim_cli.__file__).parent, src / "openim_cli",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(cli.env, PYTHONPATH=os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")]),
               OPENIM_CACHE_DIR=str(tmp_path / "cache"))
    return {"pkg": src / "openim_cli", "env": env, "file": tmp_path / "cache" / "help-cache.marshal"}


def run(env: dict[str, str], args: list[str], code: int, **extra: str) -> tuple[bytes, bytes]:
    proc = subprocess.run([OPENIM, *args], env={**env, **extra}, capture_output=True, stdin=subprocess.DEVNULL,
                          timeout=60)
    assert proc.returncode == code, (args, proc.returncode, proc.stderr)
    return proc.stdout, proc.stderr


def test_cached_help_is_typers_output_byte_for_byte(copy: dict[str, Any]) -> None:
    env = copy["env"]
    for args, code in CASES:
        typer_said = run(env, args, code, OPENIM_NO_HELP_CACHE="1")
        assert b"Usage: openim [OPTIONS] COMMAND [ARGS]..." in b"".join(typer_said)
        first = run(env, args, code)  # rendered by Typer and written
        assert copy["file"].exists()
        second = run(env, args, code)  # read back
        assert typer_said == first == second, args
    # the cached run does not import Typer (nor the command modules)
    _, imports = run(env, ["--help"], 0, PYTHONPROFILEIMPORTTIME="1")
    imported = {line.rsplit(b"|", 1)[-1].strip() for line in imports.splitlines() if line.startswith(b"import time:")}
    assert b"openim_cli.helpcache" in imported
    assert not {m for m in imported if m.startswith((b"typer", b"click", b"rich", b"openim_cli.main"))}, imported


def test_a_changed_module_or_width_renders_again(copy: dict[str, Any]) -> None:
    env, main_py = copy["env"], copy["pkg"] / "main.py"
    before = run(env, ["--help"], 0)
    assert b"OpenIM from the terminal:" in before[0]
    text = main_py.read_text()
    main_py.write_text(text.replace("OpenIM from the terminal:", "OpenIM from any terminal:"))
    after = run(env, ["--help"], 0)
    assert b"OpenIM from any terminal:" in after[0] and b"OpenIM from the terminal:" not in after[0]
    assert after == run(env, ["--help"], 0, OPENIM_NO_HELP_CACHE="1")
    # a narrower terminal wraps differently: not the 80-column text
    narrow = run(env, ["--help"], 0, COLUMNS="60")
    assert narrow != after and narrow == run(env, ["--help"], 0, COLUMNS="60", OPENIM_NO_HELP_CACHE="1")
    assert run(env, ["--help"], 0) == after  # both widths are kept
    # a broken cache file is ignored (and replaced)
    copy["file"].write_bytes(b"\x00not marshal")
    assert run(env, ["--help"], 0) == after
    # Typer's rich help (TYPER_USE_RICH=1) is never served from the plain cache
    rich = run(env, ["--help"], 0, TYPER_USE_RICH="1")
    assert b"OpenIM from any terminal:" in rich[0]


def test_the_command_module_table_matches_the_command_tree() -> None:
    """``openim COMMAND`` imports only COMMAND's module (entry.COMMAND_MODULE): the table must name
    every top-level command but ``help``, each with the module of its callbacks and subcommands'."""
    import typer

    from openim_cli import entry
    from openim_cli.main import app  # outside the console script: every command module

    root: Any = typer.main.get_command(app)
    names = set(root.list_commands(None))
    assert names - {"help"} == set(entry.COMMAND_MODULE)

    def modules(cmd: Any) -> set[str]:
        found = {cmd.callback.__module__} if cmd.callback is not None else set()
        for sub in getattr(cmd, "commands", {}).values():
            found |= modules(sub)
        return found

    for name in names - {"help"}:
        home = f"openim_cli.{entry.COMMAND_MODULE[name]}"
        assert home in modules(root.commands[name]) | {"openim_cli.main"}, name
        assert modules(root.commands[name]) <= {"openim_cli.main", home}, (name, modules(root.commands[name]))
