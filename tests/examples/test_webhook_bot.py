"""examples/webhook_bot.py as the bundled server's webhook receiver (configured in the server's
TOML ``[webhooks]``): banned words are refused before they are stored (the sender gets the bot's
errCode, nobody receives the message), and a message to the bot's user is answered over REST."""

from __future__ import annotations

import socket

import pytest

from openim_sdk import OpenIMError

from .conftest import Harness, next_event, received, text_of


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONFIG = """
[webhooks]
url = "http://127.0.0.1:{port}/callbackExample"

[webhooks.beforeSendSingleMsg]
enable = true
timeout = 5
failedContinue = false

[webhooks.beforeSendGroupMsg]
enable = true
timeout = 5
failedContinue = false

[webhooks.afterSendSingleMsg]
enable = true
"""


async def test_webhook_bot_refuses_banned_words_and_answers(harness: Harness) -> None:
    port = free_port()
    server = await harness.server(CONFIG.format(port=port))
    tok = await harness.users(server, "alice", "bob")
    bot = await harness.example(server, "webhook_bot.py", "--listen", f"127.0.0.1:{port}", "--user", "helpdesk",
                                "--register", "--banned", "crypto", "--banned", "Casino", ws=False)
    await bot.line(lambda s: s.startswith("ready"))
    admin = await harness.admin(server)
    await admin.group.create_group(owner_user_id="alice", member_user_ids=["bob"],
                                   group_info={"groupID": "club", "groupName": "Club", "groupType": 2})
    alice = await harness.client(server, "alice", tok["alice"])
    bob = await harness.client(server, "bob", tok["bob"])
    alice_events, bob_events = alice.events(), bob.events()

    # before…: refused with the bot's code and message, 1:1 and in a group
    for target, group in (("bob", False), ("club", True)):
        with pytest.raises(OpenIMError) as refused:
            await alice.send_text(target, "cheap CRYPTO tips", group=group, wait=True)
        assert (refused.value.code, refused.value.message) == (5001, "'crypto' is not allowed here")
    await alice.send_text("bob", "hi bob", wait=True)
    assert text_of(await next_event(bob_events, received(sender="alice"))) == "hi bob"  # the first bob got

    # after…: a message to the bot's user is answered, as the bot
    await alice.send_text("helpdesk", "my printer\nis on fire", wait=True)
    reply = await next_event(alice_events, received(sender="helpdesk"))
    assert text_of(reply) == "Thanks Alice, we got your message: my printer\nis on fire"

    assert await bot.stop() == 0
    assert [s for s in bot.lines if not s.startswith("ready")] == [
        "refused a message from alice: 'crypto'", "refused a message from alice: 'crypto'", "replied to alice"]
