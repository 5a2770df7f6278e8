"""examples/moderation_bot.py against the bundled server: the offender is muted (a send from them is
refused with 1402), the message is revoked and the group is told why; the owner is left alone."""

from __future__ import annotations

import asyncio
import time

import pytest

from openim_sdk import OpenIMError
from openim_sdk import events as ev

from .conftest import Harness, received


async def test_moderation_bot_mutes_revokes_and_explains(harness: Harness) -> None:
    server = await harness.server()
    tok = await harness.users(server, "mod", "olga", "alice", "bob")
    admin = await harness.admin(server)
    await admin.group.create_group(owner_user_id="olga", admin_user_ids=["mod"], member_user_ids=["alice", "bob"],
                                   group_info={"groupID": "lounge", "groupName": "Lounge", "groupType": 2})
    bot = await harness.example(server, "moderation_bot.py", "--user", "mod", "--keyword", "spam",
                                "--keyword", "buy now", "--mute-minutes", "10", "--revoke", "--explain",
                                "--data-dir", str(harness.tmp_path / "mod-data"))
    await bot.line(lambda s: s.startswith("ready"))
    olga = await harness.client(server, "olga", tok["olga"])
    alice = await harness.client(server, "alice", tok["alice"])
    bob = await harness.client(server, "bob", tok["bob"])
    bob_events = bob.events()

    await olga.send_text("lounge", "no spam here, please", group=True, wait=True)  # the owner: ignored
    await alice.send_text("lounge", "hello everyone", group=True, wait=True)
    bad = await alice.send_text("lounge", "Cheap SPAM, BUY NOW!", group=True, wait=True)

    # bob sees the explanation and the revoke, in whichever order they come
    explained = revoked = False

    async def watch() -> None:
        nonlocal explained, revoked
        async for e in bob_events:
            if isinstance(e, ev.MessageReceived) and received(sender="mod")(e):
                assert e.message.text == "Alice is muted for 10 minutes: 'spam' is not allowed here."
                explained = True
            if isinstance(e, ev.MessageRevoked) and e.message.client_msg_id == bad.client_msg_id:
                revoked = True
            if explained and revoked:
                return

    await asyncio.wait_for(watch(), 20)

    with pytest.raises(OpenIMError) as refused:
        await alice.send_text("lounge", "why?", group=True, wait=True)
    assert refused.value.code == 1402  # MutedInGroup

    info = await admin.group.get_group_members_info(group_id="lounge", user_ids=["alice"])
    left = info.members[0].muteEndTime / 1000 - time.time()
    assert 540 < left <= 600

    assert await bot.stop() == 0
    assert [s for s in bot.lines if not s.startswith("ready")] == [
        "ignored olga in lounge: owner or admin",
        "muted alice in lounge for 600 s (said 'spam')",
    ]
