# ruff: noqa: F811  (pytest fixtures imported from test_part2_helpers)
"""Part 2: /group/* against the bundled server (create/join/invite/kick/mute/dismiss, sync, notifications)."""

from __future__ import annotations

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp

from .test_part2_helpers import Users, Ws, next_notification, p2, text_msg, users  # noqa: F401

PAGE = {"pageNumber": 1, "showNumber": 50}


async def test_group_lifecycle(p2: ServerApp, users: Users) -> None:
    await users.add("own", "adm", "m1", "m2", "out")
    own, m1 = users.api["own"], users.api["m1"]
    async with Ws(p2, "m1", users.tokens["m1"]) as w1, Ws(p2, "out", users.tokens["out"]) as wout:
        created = await own.ok("/group/create_group", {
            "ownerUserID": "own", "adminUserIDs": ["adm"], "memberUserIDs": ["m1"],
            "groupInfo": {"groupID": "g1", "groupName": "G", "groupType": 2, "needVerification": 1}})
        g = created["groupInfo"]
        assert g["groupID"] == "g1" and g["memberCount"] == 3 and g["ownerUserID"] == "own"
        cid, msg, detail = await next_notification(w1, 1501)
        assert cid == "n_g1" and msg.groupID == "g1" and msg.sessionType == 3 and msg.msgFrom == 200
        assert {m["userID"] for m in detail["memberList"]} == {"own", "adm", "m1"}
        assert detail["opUser"]["userID"] == "own" and detail["groupMemberVersion"] > 0
        env = await own.call("/group/create_group", {"ownerUserID": "own", "groupInfo": {"groupID": "g1",
                                                                                       "groupType": 2}})
        assert env["errCode"] == 1202
        env = await own.call("/group/create_group", {"ownerUserID": "own", "groupInfo": {"groupType": 1}})
        assert env["errCode"] == 1001

        # the group conversation exists for members, so a group message reaches them
        resp = await w1.request(1003, text_msg("m1", group="g1", text="hello group"))
        assert resp.err_code == 0
        push = sdkws_pb2.PushMessages.FromString((await w1.next_push()).data)
        assert push.msgs["sg_g1"].Msgs[0].seq == 1
        assert (await wout.request(1003, text_msg("out", group="g1"))).err_code == 1203

        # join with verification: a request, then acceptance
        await users.api["out"].ok("/group/join_group", {"groupID": "g1", "reqMessage": "let me in",
                                                        "joinSource": 3, "inviterUserID": "out"})
        cnt = await own.ok("/group/get_group_application_unhandled_count", {"userID": "own"})
        assert cnt["count"] == 1
        recv = await own.ok("/group/get_recv_group_applicationList", {"fromUserID": "own", "pagination": PAGE})
        assert recv["total"] == 1 and recv["groupRequests"][0]["userInfo"]["userID"] == "out"
        mine = await users.api["out"].ok("/group/get_user_req_group_applicationList",
                                         {"userID": "out", "pagination": PAGE})
        assert mine["groupRequests"][0]["reqMsg"] == "let me in"
        env = await m1.call("/group/group_application_response",
                            {"groupID": "g1", "fromUserID": "out", "handleResult": 1})
        assert env["errCode"] == 1002
        await users.api["adm"].ok("/group/group_application_response",
                                  {"groupID": "g1", "fromUserID": "out", "handledMsg": "ok", "handleResult": 1})
        _, _, acc = await next_notification(wout, 1505)
        assert acc["request"]["handleResult"] == 1
        _, _, enter = await next_notification(w1, 1510)
        assert enter["entrantUser"]["userID"] == "out"
        env = await users.api["adm"].call("/group/group_application_response",
                                          {"groupID": "g1", "fromUserID": "out", "handleResult": 1})
        assert env["errCode"] == 1206

        # invite (owner: direct), kick, quit
        await own.ok("/group/invite_user_to_group", {"groupID": "g1", "invitedUserIDs": ["m2"]})
        _, _, inv = await next_notification(w1, 1509)
        assert [u["userID"] for u in inv["invitedUserList"]] == ["m2"]
        members = await m1.ok("/group/get_group_member_list", {"groupID": "g1", "pagination": PAGE})
        assert members["total"] == 5
        assert [m["roleLevel"] for m in members["members"]][:2] == [100, 60]
        env = await users.api["adm"].call("/group/kick_group", {"groupID": "g1", "kickedUserIDs": ["own"]})
        assert env["errCode"] == 1002
        await users.api["adm"].ok("/group/kick_group", {"groupID": "g1", "kickedUserIDs": ["out"]})
        _, _, kicked = await next_notification(wout, 1508)  # the departing member is told too
        assert kicked["kickedUserList"][0]["userID"] == "out"
        assert (await wout.request(1003, text_msg("out", group="g1"))).err_code == 1203
        await users.api["m2"].ok("/group/quit_group", {"groupID": "g1"})
        env = await own.call("/group/quit_group", {"groupID": "g1"})
        assert env["errCode"] == 1002

        # mutes: member 1402, group 1403 (admins and owner still talk)
        await own.ok("/group/mute_group_member", {"groupID": "g1", "userID": "m1", "mutedSeconds": 60})
        _, _, muted = await next_notification(w1, 1512)
        assert muted["mutedUser"]["userID"] == "m1" and muted["mutedSeconds"] == 60
        assert (await w1.request(1003, text_msg("m1", group="g1"))).err_code == 1402
        await own.ok("/group/cancel_mute_group_member", {"groupID": "g1", "userID": "m1"})
        assert (await w1.request(1003, text_msg("m1", group="g1"))).err_code == 0
        await users.api["adm"].ok("/group/mute_group", {"groupID": "g1"})
        assert (await w1.request(1003, text_msg("m1", group="g1"))).err_code == 1403
        info = await m1.ok("/group/get_groups_info", {"groupIDs": ["g1"]})
        assert info["groupInfos"][0]["status"] == 3
        await users.api["adm"].ok("/group/cancel_mute_group", {"groupID": "g1"})
        assert (await w1.request(1003, text_msg("m1", group="g1"))).err_code == 0

        # roles, info, transfer
        await own.ok("/group/set_group_member_info", {"members": [{"groupID": "g1", "userID": "m1",
                                                                    "roleLevel": 60, "nickname": "M One"}]})
        _, _, setadm = await next_notification(w1, 1517)
        assert setadm["changedUser"]["roleLevel"] == 60 and setadm["changedUser"]["nickname"] == "M One"
        env = await users.api["adm"].call("/group/set_group_member_info",
                                          {"members": [{"groupID": "g1", "userID": "m1", "roleLevel": 20}]})
        assert env["errCode"] == 1002
        await users.api["adm"].ok("/group/set_group_info_ex", {"groupID": "g1", "notification": "read me"})
        _, _, ann = await next_notification(w1, 1519)
        assert ann["group"]["notification"] == "read me" and ann["group"]["notificationUserID"] == "adm"
        await own.ok("/group/transfer_group", {"groupID": "g1", "oldOwnerUserID": "own", "newOwnerUserID": "m1"})
        _, _, tr = await next_notification(w1, 1507)
        assert tr["newGroupOwner"]["userID"] == "m1" and tr["oldGroupOwner"] == "own"
        roles = await m1.ok("/group/get_group_members_info", {"groupID": "g1", "userIDs": ["own", "m1"]})
        assert {m["userID"]: m["roleLevel"] for m in roles["members"]} == {"own": 20, "m1": 100}
        abstract = await m1.ok("/group/get_group_abstract_info", {"groupIDs": ["g1"]})
        assert abstract["groupAbstractInfos"][0]["groupMemberNumber"] == 3
        joined = await m1.ok("/group/get_joined_group_list", {"fromUserID": "m1", "pagination": PAGE})
        assert joined["total"] == 1 and joined["groups"][0]["ownerUserID"] == "m1"
        env = await users.api["out"].call("/group/get_group_member_list", {"groupID": "g1", "pagination": PAGE})
        assert env["errCode"] == 1002

        # dismiss: 1204 afterwards
        env = await own.call("/group/dismiss_group", {"groupID": "g1"})
        assert env["errCode"] == 1002
        await m1.ok("/group/dismiss_group", {"groupID": "g1"})
        _, _, dis = await next_notification(w1, 1511)
        assert dis["group"]["groupID"] == "g1"
        assert (await w1.request(1003, text_msg("m1", group="g1"))).err_code == 1204
        env = await m1.call("/group/invite_user_to_group", {"groupID": "g1", "invitedUserIDs": ["out"]})
        assert env["errCode"] == 1204
        env = await m1.call("/group/get_incremental_group_members", {"groupID": "g1", "versionID": "",
                                                                     "version": 0})
        assert env["errCode"] == 1204


async def test_join_directly_and_incremental_sync(p2: ServerApp, users: Users) -> None:
    await users.add("o", "j1", "j2")
    o, j1 = users.api["o"], users.api["j1"]
    await o.ok("/group/create_group", {"ownerUserID": "o", "groupInfo": {"groupID": "open", "groupType": 2,
                                                                         "needVerification": 2}})
    full = await j1.ok("/group/get_incremental_join_groups", {"userID": "j1", "versionID": "", "version": 0})
    assert full["full"] is True
    base = (full["versionID"], full["version"])
    await j1.ok("/group/join_group", {"groupID": "open", "joinSource": 3, "inviterUserID": "j1"})
    delta = await j1.ok("/group/get_incremental_join_groups", {"userID": "j1", "versionID": base[0],
                                                                "version": base[1]})
    assert delta["full"] is False and [g["groupID"] for g in delta["insert"]] == ["open"]
    ids = await j1.ok("/group/get_full_join_group_ids", {"userID": "j1"})
    assert ids["groupIDs"] == ["open"]
    # the joiner's conversation list has the group conversation
    conv = await j1.ok("/conversation/get_conversations", {"ownerUserID": "j1", "conversationIDs": ["sg_open"]})
    assert conv["conversations"][0]["groupID"] == "open"

    m_full = await j1.ok("/group/get_incremental_group_members", {"groupID": "open", "versionID": "", "version": 0})
    assert m_full["full"] is True and m_full["group"]["groupID"] == "open"
    mv = (m_full["versionID"], m_full["version"])
    unchanged = await j1.ok("/group/get_incremental_group_members", {"groupID": "open", "versionID": mv[0],
                                                                     "version": mv[1]})
    assert unchanged["full"] is False and unchanged["insert"] is None and unchanged["group"] is None
    await users.api["j2"].ok("/group/join_group", {"groupID": "open", "joinSource": 3, "inviterUserID": "j2"})
    await o.ok("/group/set_group_info_ex", {"groupID": "open", "groupName": "Open"})
    m_delta = await j1.ok("/group/get_incremental_group_members", {"groupID": "open", "versionID": mv[0],
                                                                   "version": mv[1]})
    assert [m["userID"] for m in m_delta["insert"]] == ["j2"] and m_delta["group"]["groupName"] == "Open"
    batch = await j1.ok("/group/get_incremental_group_members_batch", {"userID": "j1", "reqList": [
        {"groupID": "open", "versionID": mv[0], "version": mv[1]}, {"groupID": "open"}]})
    assert list(batch["respList"]) == ["open"]
    full_ids = await j1.ok("/group/get_full_group_member_user_ids", {"groupID": "open"})
    assert full_ids["userIDs"] == ["o", "j1", "j2"]
    env = await j1.call("/group/join_group", {"groupID": "open", "joinSource": 3, "inviterUserID": "j1"})
    assert env["errCode"] == 1001
    # leaving caps the member's conversation at the current seq
    await users.api["j2"].ok("/group/quit_group", {"groupID": "open"})
    gone = await j1.ok("/group/get_incremental_group_members", {"groupID": "open", "versionID": mv[0],
                                                                "version": mv[1]})
    assert gone["delete"] == ["j2"]
    groups = await users.admin.ok("/group/get_groups", {"pagination": {"pageNumber": 1, "showNumber": 10},
                                                        "groupName": "Op"})
    assert groups["total"] == 1 and groups["groups"][0]["groupOwnerUserID"] == "o"
    # revoke permission in groups: the owner may revoke a member's message
    async with Ws(p2, "j1", users.tokens["j1"]) as w:
        sent = msg_pb2.SendMsgResp.FromString((await w.request(1003, text_msg("j1", group="open"))).data)
        assert sent.serverMsgID
    env = await o.call("/msg/revoke_msg", {"conversationID": "sg_open", "seq": 1, "userID": "o"})
    assert env["errCode"] == 0, env
