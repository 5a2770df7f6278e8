"""Bad credentials end every example with exit code 1 and the server's reason, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Harness

BOTS = {  # script -> extra arguments it needs
    "echo_bot.py": [],
    "moderation_bot.py": ["--keyword", "spam"],
    "file_drop_bot.py": [],
}


@pytest.mark.parametrize("script", sorted(BOTS))
async def test_a_refused_token_ends_the_bot(harness: Harness, script: str) -> None:
    server = await harness.server()
    await harness.users(server, "bot")
    proc = await harness.example(server, script, "--user", "bot", "--token", "not-a-token",
                                 "--data-dir", str(harness.tmp_path / "bot-data"), *BOTS[script])
    code, out = await proc.finish(30)
    assert code == 1, out
    assert "ready" not in out and "the session ended: token_invalid 1503 TokenMalformedError" in out, out


async def test_a_refused_token_ends_the_broadcast(harness: Harness, tmp_path: Path) -> None:
    server = await harness.server()
    (tmp_path / "to.csv").write_text("user_id\nbob\n")
    proc = await harness.example(server, "csv_broadcast.py", str(tmp_path / "to.csv"), "--text", "hi",
                                 "--token", "not-a-token")
    code, out = await proc.finish(30)
    assert (code, out) == (1, ""), out
    assert "\nerror: 1503 TokenMalformedError" in "\n" + proc.stderr(), proc.stderr()


@pytest.mark.parametrize("script", ["echo_bot.py", "webhook_bot.py"])
async def test_a_wrong_admin_secret(harness: Harness, script: str) -> None:
    server = await harness.server()
    args = ["--listen", "127.0.0.1:0"] if script == "webhook_bot.py" else []
    proc = await harness.example(server, script, *args, ws=script != "webhook_bot.py", OPENIM_SECRET="wrong")
    code, out = await proc.finish(30)
    assert code == 1 and out.startswith("error: "), out
