"""Writes are scoped: ordinary users send user content only, as themselves, through every check.

Every notification/system content type, ``msgFrom`` 200, session type 4 and the notification
flag are refused for an ordinary user (nothing stored); blacklisted, muted and non-member sends
are refused on every user send path (WS 1003 and REST ``/msg/send_simple_msg``); the server's
own notifications keep flowing.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from openim_sdk.protocol.constants import ContentType

from .conftest import World, WsClient, open_world, user_msg, ws_url

GROUP = "team"


@pytest.fixture
async def world(tmp_path: Any) -> AsyncIterator[World]:
    async with open_world(tmp_path, "sam", "bob", "own", "mut", "out", "blk") as w:
        api = w.api
        await api["own"].ok("/group/create_group", {
            "ownerUserID": "own", "memberUserIDs": ["sam", "mut", "bob"],
            "groupInfo": {"groupID": GROUP, "groupName": "T", "groupType": 2}})
        await api["own"].ok("/group/mute_group_member", {"groupID": GROUP, "userID": "mut", "mutedSeconds": 3600})
        await api["bob"].ok("/friend/add_black", {"ownerUserID": "bob", "blackUserID": "blk"})
        yield w


async def _ws_codes(world: World, user: str, frames: list[bytes]) -> list[int]:
    async with connect(ws_url(world.server, user, world.tokens[user])) as ws:
        cl = WsClient(ws, user)
        return [(await cl.request(1003, f)).err_code for f in frames]


def _simple(world: World, user: str, text: str, *, peer: str = "", group: str = "") -> Any:
    """``/msg/send_simple_msg``: the key names the conversation, its recvID answers its sendID."""
    key = {"groupID": group, "sendID": user} if group else {"sendID": peer, "recvID": user}
    raw = base64.b64encode(json.dumps(key).encode()).decode()
    return world.api[user].raw("/msg/send_simple_msg", {"content": text}, params={"key": raw})


RESERVED = sorted({int(c) for c in ContentType if int(c) >= ContentType.NOTIFICATION_BEGIN}
                  | {ContentType.REVOKE, 1000, 2101, 2102, 2200, 1701, 3000, 5000, 5001, 0, 99})


async def test_every_reserved_content_type_is_refused(world: World) -> None:
    before = await world.max_seqs("bob")
    frames = [user_msg("sam", recv="bob", content_type=ct, text="forged") for ct in RESERVED]
    frames += [user_msg("sam", group=GROUP, content_type=ct) for ct in RESERVED]
    codes = await _ws_codes(world, "sam", frames)
    assert codes == [1001] * len(frames), dict(zip(RESERVED * 2, codes, strict=True))
    assert await world.max_seqs("bob") == before


async def test_spoofed_origin_and_notification_flags_are_refused(world: World) -> None:
    before = await world.max_seqs("bob")
    codes = await _ws_codes(world, "sam", [
        user_msg("sam", recv="bob", msgFrom=200),
        user_msg("sam", recv="bob", sessionType=4),
        user_msg("sam", recv="bob", options={"isNotNotification": False}),
        user_msg("sam", group=GROUP, options={"isNotNotification": False}),
        user_msg("bob", recv="sam"),  # someone else's sendID
    ])
    assert codes[:4] == [1001] * 4 and codes[4] != 0, codes
    assert await world.max_seqs("bob") == before
    # the same user's ordinary message goes through (the refusals above are not a broken sender)
    assert await _ws_codes(world, "sam", [user_msg("sam", recv="bob"), user_msg("sam", group=GROUP)]) == [0, 0]
    after = await world.max_seqs("bob")
    assert after["si_bob_sam"] == before.get("si_bob_sam", 0) + 1
    assert after[f"sg_{GROUP}"] == before.get(f"sg_{GROUP}", 0) + 1


@pytest.mark.parametrize("path", ["ws", "rest"])
async def test_blacklist_mute_and_membership_on_every_send_path(world: World, path: str) -> None:
    cases = [  # (sender, peer, group, expected code)
        ("blk", "bob", "", 1302),
        ("mut", "", GROUP, 1402),
        ("out", "", GROUP, 1203),
        ("blk", "", "nosuchgroup", 1201),
    ]
    before = await world.max_seqs("bob")
    for sender, peer, group, want in cases:
        if path == "ws":
            [code] = await _ws_codes(world, sender, [user_msg(sender, recv=peer, group=group)])
        else:
            r = await _simple(world, sender, "hi", peer=peer, group=group)
            assert r.status_code == 200, r.text
            code = r.json()["errCode"]
        assert code == want, (path, sender, peer, group, code)
    assert await world.max_seqs("bob") == before
    ok = await _simple(world, "sam", "hello", peer="bob")
    assert ok.json()["errCode"] == 0, ok.text


async def test_server_notifications_keep_flowing(world: World) -> None:
    """Group notifications are the server's own sends: they bypass the user rules and are stored."""
    before = (await world.max_seqs("sam")).get(f"n_{GROUP}", 0)
    await world.api["own"].ok("/group/set_group_info", {"groupInfoForSet": {"groupID": GROUP, "groupName": "T2"}})
    await world.api["own"].ok("/group/kick_group", {"groupID": GROUP, "kickedUserIDs": ["mut"]})
    after = (await world.max_seqs("sam")).get(f"n_{GROUP}", 0)
    assert after >= before + 2
