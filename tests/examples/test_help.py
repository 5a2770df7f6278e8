"""Every example explains itself with ``--help`` (its docstring and options) without a server."""

from __future__ import annotations

import pytest

from .conftest import EXAMPLES, Harness

SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


def test_the_five_examples_are_there() -> None:
    assert SCRIPTS == ["csv_broadcast.py", "echo_bot.py", "file_drop_bot.py", "moderation_bot.py",
                       "webhook_bot.py"]


@pytest.mark.parametrize("script", SCRIPTS)
async def test_help(harness: Harness, script: str) -> None:
    code, out = await (await harness.example(None, script, "--help")).finish()
    assert code == 0, out
    assert out.startswith("usage: ") and "--api" in out and "OPENIM_SECRET" in out, out
