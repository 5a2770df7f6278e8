# ruff: noqa: F811  (pytest fixtures imported from test_part2_helpers)
"""Part 2: /friend/* against the bundled server (requests, notifications, sync, blacklist)."""

from __future__ import annotations

import pytest

from openim_sdk.protocol.errors import OpenIMError
from server_stub import ServerApp
from server_stub.services.conversation import id_hash

from .conftest import Api
from .test_part2_helpers import Users, Ws, next_notification, p2, text_msg, users  # noqa: F401


async def test_apply_accept_notifications_and_lists(p2: ServerApp, users: Users) -> None:
    await users.add("alice", "bob", "carol")
    a, b = users.sdk["alice"], users.sdk["bob"]
    async with Ws(p2, "alice", users.tokens["alice"]) as wa, Ws(p2, "bob", users.tokens["bob"]) as wb:
        await a.friend.add_friend(from_user_id="alice", to_user_id="bob", req_msg="hello")
        cid, m, detail = await next_notification(wb, 1203)
        assert cid == "n_alice_bob" and m.msgFrom == 200 and m.sendID == "alice" and m.seq == 0
        assert m.options["isNotNotification"] is False
        assert detail["fromToUserID"] == {"fromUserID": "alice", "toUserID": "bob"}
        assert detail["request"]["reqMsg"] == "hello" and detail["request"]["handleResult"] == 0

        got = await users.api["bob"].ok("/friend/get_friend_apply_list",
                                         {"userID": "bob", "pagination": {"pageNumber": 1, "showNumber": 10}})
        assert got["total"] == 1 and got["FriendRequests"][0]["fromUserID"] == "alice"
        assert got["FriendRequests"][0]["fromNickname"] == "alice"
        sent = await users.api["alice"].ok("/friend/get_self_friend_apply_list",
                                           {"userID": "alice", "pagination": {"pageNumber": 1, "showNumber": 10}})
        assert sent["friendRequests"][0]["toUserID"] == "bob"
        assert (await b.friend.get_self_unhandled_apply_count(user_id="bob")).count == 1

        await b.friend.add_friend_response(from_user_id="alice", to_user_id="bob", handle_result=1, handle_msg="ok")
        _, _, detail = await next_notification(wa, 1201)
        assert detail["handleMsg"] == "ok" and detail["request"]["handleResult"] == 1
        assert (await b.friend.get_self_unhandled_apply_count(user_id="bob")).count == 0

    friends = await users.api["bob"].ok("/friend/get_friend_list",
                                        {"userID": "bob", "pagination": {"pageNumber": 1, "showNumber": 10}})
    assert friends["total"] == 1 and friends["friendsInfo"][0]["friendUser"]["userID"] == "alice"
    r = await a.friend.is_friend(user_id1="alice", user_id2="bob")
    assert r.inUser1Friends and r.inUser2Friends
    assert list((await a.friend.get_friend_id(user_id="alice")).friendIDs) == ["bob"]
    # errors: yourself, already friends, handled, bad handleResult, someone else's list
    env = await users.api["alice"].call("/friend/add_friend", {"fromUserID": "alice", "toUserID": "alice"})
    assert env["errCode"] == 1301
    env = await users.api["alice"].call("/friend/add_friend", {"fromUserID": "alice", "toUserID": "bob"})
    assert env["errCode"] == 1304
    env = await users.api["bob"].call("/friend/add_friend_response",
                                      {"fromUserID": "alice", "toUserID": "bob", "handleResult": 1})
    assert env["errCode"] == 1305
    env = await users.api["bob"].call("/friend/add_friend_response",
                                      {"fromUserID": "carol", "toUserID": "bob", "handleResult": 2})
    assert env["errCode"] == 1001
    env = await users.api["carol"].call("/friend/get_friend_id", {"userID": "alice"})
    assert env["errCode"] == 1002
    with pytest.raises(OpenIMError) as exc:
        await a.friend.add_friend(from_user_id="alice", to_user_id="nobody")
    assert exc.value.code == 1004
    # refuse path
    await users.sdk["carol"].friend.add_friend(from_user_id="carol", to_user_id="bob")
    await b.friend.add_friend_response(from_user_id="carol", to_user_id="bob", handle_result=-1)
    designated = await users.api["bob"].ok("/friend/get_designated_friend_apply",
                                           {"fromUserID": "carol", "toUserID": "bob"})
    assert designated["friendRequests"][0]["handleResult"] == -1


async def test_incremental_friends_and_update(p2: ServerApp, users: Users) -> None:
    await users.add("u1", "u2", "u3")
    api = users.api["u1"]
    first = await api.ok("/friend/get_incremental_friends", {"userID": "u1", "versionID": "", "version": 0})
    assert first["full"] is True and first["insert"] is None and first["delete"] is None
    await users.admin.ok("/friend/import_friend", {"ownerUserID": "u1", "friendUserIDs": ["u2", "u3"]})
    full_ids = await api.ok("/friend/get_full_friend_user_ids", {"userID": "u1"})
    assert full_ids["userIDs"] == ["u2", "u3"] and full_ids["equal"] is False
    same = await api.ok("/friend/get_full_friend_user_ids", {"userID": "u1", "idHash": id_hash(["u2", "u3"])})
    assert same["equal"] is True and same["userIDs"] is None
    vid, ver = full_ids["versionID"], full_ids["version"]
    # stored version: nothing changed
    nothing = await api.ok("/friend/get_incremental_friends", {"userID": "u1", "versionID": vid, "version": ver})
    assert nothing["full"] is False and nothing["update"] is None and nothing["version"] == ver
    await api.ok("/friend/set_friend_remark", {"ownerUserID": "u1", "friendUserID": "u2", "remark": "two"})
    await api.ok("/friend/update_friends", {"ownerUserID": "u1", "friendUserIDs": ["u3"], "isPinned": True,
                                            "ex": "x"})
    await api.ok("/friend/delete_friend", {"ownerUserID": "u1", "friendUserID": "u3"})
    delta = await api.ok("/friend/get_incremental_friends", {"userID": "u1", "versionID": vid, "version": ver})
    assert delta["full"] is False and delta["version"] == ver + 3 and delta["versionID"] == vid
    assert [f["remark"] for f in delta["update"]] == ["two"]
    assert delta["delete"] == ["u3"] and delta["insert"] is None and delta["sortVersion"] > 0
    # a foreign versionID -> full
    other = await api.ok("/friend/get_incremental_friends", {"userID": "u1", "versionID": "0" * 24, "version": 2})
    assert other["full"] is True
    env = await api.call("/friend/delete_friend", {"ownerUserID": "u1", "friendUserID": "u3"})
    assert env["errCode"] == 1004
    assert (await api.call("/friend/get_incremental_blacks", {"userID": "u1"}))["errCode"] == 500
    info = await api.ok("/friend/get_specified_friends_info", {"ownerUserID": "u1", "userIDList": ["u2", "u3"]})
    assert info["infos"][0]["friendInfo"]["remark"] == "two" and info["infos"][1]["friendInfo"] is None
    des = await api.ok("/friend/get_designated_friends", {"ownerUserID": "u1", "friendUserIDs": ["u2", "u3"]})
    assert [f["friendUser"]["userID"] for f in des["friendsInfo"]] == ["u2"]
    env = await users.api["u1"].call("/friend/import_friend", {"ownerUserID": "u1", "friendUserIDs": ["u3"]})
    assert env["errCode"] == 1002  # admin only


async def test_blacklist_and_friend_verify_on_send(p2: ServerApp, users: Users, admin: Api) -> None:
    await users.add("x1", "x2", "x3")
    await users.api["x2"].ok("/friend/add_black", {"ownerUserID": "x2", "blackUserID": "x1"})
    blacks = await users.api["x2"].ok("/friend/get_black_list",
                                      {"userID": "x2", "pagination": {"pageNumber": 1, "showNumber": 10}})
    assert blacks["total"] == 1 and blacks["blacks"][0]["blackUserInfo"]["userID"] == "x1"
    spec = await users.api["x2"].ok("/friend/get_specified_blacks", {"ownerUserID": "x2", "userIDList": ["x1", "x3"]})
    assert spec["total"] == 1
    async with Ws(p2, "x1", users.tokens["x1"]) as w1:
        resp = await w1.request(1003, text_msg("x1", "x2"))
        assert resp.err_code == 1302
        await users.api["x2"].ok("/friend/remove_black", {"ownerUserID": "x2", "blackUserID": "x1"})
        assert (await w1.request(1003, text_msg("x1", "x2"))).err_code == 0
        p2.core.config.extra["friend_verify"] = True
        try:
            assert (await w1.request(1003, text_msg("x1", "x3"))).err_code == 1303
            await admin.ok("/friend/import_friend", {"ownerUserID": "x1", "friendUserIDs": ["x3"]})
            assert (await w1.request(1003, text_msg("x1", "x3"))).err_code == 0
        finally:
            p2.core.config.extra.pop("friend_verify", None)
    env = await users.api["x2"].call("/friend/remove_black", {"ownerUserID": "x2", "blackUserID": "x1"})
    assert env["errCode"] == 1004
