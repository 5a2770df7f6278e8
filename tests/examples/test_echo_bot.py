"""examples/echo_bot.py against the bundled server: a second real client gets its texts back."""

from __future__ import annotations

from .conftest import Harness, next_event, received, text_of


async def test_echo_bot_replies_with_the_same_text(harness: Harness) -> None:
    server = await harness.server()
    tok = await harness.users(server, "echo", "alice")
    bot = await harness.example(server, "echo_bot.py", "--user", "echo",
                                "--data-dir", str(harness.tmp_path / "echo-data"))
    await bot.line(lambda s: s.startswith("ready"))
    alice = await harness.client(server, "alice", tok["alice"])
    events = alice.events()

    for text in ("hello bot", "zweite Nachricht ✓", "two\n  lines, long: " + "x" * 300):
        await alice.send_text("echo", text)
        got = await next_event(events, received(sender="echo"))
        assert text_of(got) == text  # the whole text, not the preview

    burst = [f"burst {i}" for i in range(5)]  # sent without waiting: the echoes keep the order
    for text in burst:
        await alice.send_text("echo", text)
    assert [(await next_event(events, received(sender="echo"))).message.text for _ in burst] == burst

    assert await bot.stop() == 0  # Ctrl+C: a clean exit
    assert "echoed 9 chars to alice" in bot.lines

    # sent while the bot was down: answered at its next start (same data dir), only that one
    await alice.send_text("echo", "are you there?")
    bot = await harness.example(server, "echo_bot.py", "--user", "echo",
                                "--data-dir", str(harness.tmp_path / "echo-data"))
    got = await next_event(events, received(sender="echo"))
    assert got.message.text == "are you there?"
    await bot.line(lambda s: s.startswith("ready"))
    assert await bot.stop() == 0
    assert [s for s in bot.lines if s.startswith("echoed")] == ["echoed 14 chars to alice"]
