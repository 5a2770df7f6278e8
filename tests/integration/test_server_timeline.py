"""Issue 14 items 1, 5, 8 (part): notifications in the timeline, dismissal, profile changes, user
commands, revoke role, quotes of revoked messages, enableHistoryForNewMembers — against the running
server, through the SDK (OpenIMClient / its typed REST client) where it has the call."""

from __future__ import annotations

import json
from typing import Any

from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.constants import ContentType
from openim_sdk.rest import RestClient
from server_stub import ServerApp

from .conftest import server_config
from .server_process import until
from .test_client import make_client, users
from .test_part2_helpers import Ws, next_notification

PAGE = {"pageNumber": 1, "showNumber": 50}


def _types(msgs: list[Any]) -> list[int]:
    return [m.content_type for m in msgs]


async def _history(c: OpenIMClient, cid: str, want: int, timeout: float = 10) -> list[Any]:
    """The conversation's cached history once it holds ``want`` messages."""
    box: list[Any] = []

    async def ready() -> bool:
        box[:] = await c.messages(cid)
        return len(box) >= want

    await until(ready, timeout, what=f"{want} messages in {cid}")
    return box


async def _pull(api: RestClient, uid: str, cid: str, end: int = 100) -> list[Any]:
    resp = await api.msg.pull_msg_by_seq(user_id=uid, seq_ranges=[{"conversationID": cid, "begin": 1, "end": end,
                                                                    "num": 100}])
    return list(resp.msgs[cid].Msgs) if cid in resp.msgs else []


def _detail(m: Any) -> dict[str, Any]:
    return json.loads(json.loads(m.content)["detail"])


async def test_group_tips_land_in_the_timeline(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "gown", "gmem", "glate")
    async with make_client(server, tmp_path, "gown", tok["gown"]) as own:
        await own.wait_synced(10)
        await own.api.group.create_group(owner_user_id="gown", member_user_ids=["gmem"],
                                         group_info={"groupID": "tg1", "groupName": "T", "groupType": 2})
        # the group's conversation is listed at once
        await until(lambda: _has_conv(own, "sg_tg1"), what="sg_tg1 listed")
        await own.send_text("tg1", "hello", group=True)
        await own.flush(10)
        await own.api.group.set_group_info_ex(group_id="tg1", group_name="Renamed")
        await own.api.group.mute_group_member(group_id="tg1", user_id="gmem", muted_seconds=60)
        await own.api.group.cancel_mute_group_member(group_id="tg1", user_id="gmem")
        await own.api.group.set_group_info_ex(group_id="tg1", introduction="no tip in the timeline")
        await own.api.group.invite_user_to_group(group_id="tg1", invited_user_ids=["glate"])
        await own.api.group.kick_group(group_id="tg1", kicked_user_ids=["glate"])
        want = [ContentType.GROUP_CREATED, ContentType.TEXT, ContentType.GROUP_INFO_SET_NAME,
                ContentType.GROUP_MEMBER_MUTED, ContentType.GROUP_MEMBER_CANCEL_MUTED, ContentType.MEMBER_INVITED,
                ContentType.MEMBER_KICKED]
        pulled = await _pull(own.api, "gown", "sg_tg1")
        assert [m.contentType for m in pulled] == want  # 1502 (introduction only) is not an isSendMsg type
        assert [m.seq for m in pulled] == list(range(1, len(want) + 1))
        assert pulled[0].msgFrom == 200 and _detail(pulled[0])["group"]["groupID"] == "tg1"
    # the offline member gets the same history by seq when they come online
    async with make_client(server, tmp_path, "gmem", tok["gmem"]) as mem:
        await mem.wait_synced(10)
        hist = await _history(mem, "sg_tg1", len(want))
        assert _types(hist) == want
        assert hist[2].is_notification and not hist[1].is_notification
        conv = await mem.conversation("sg_tg1")
        assert conv is not None and conv.unread_count == len(want)  # the tips count as unread (upstream)
    # the kicked member keeps what they saw up to their kick, the tip included
    async with RestClient(server.api_url, tok["glate"]) as late:
        assert [m.contentType for m in await _pull(late, "glate", "sg_tg1")][-2:] == want[-2:]


async def _has_conv(c: OpenIMClient, cid: str) -> bool:
    return any(x.conversation_id == cid for x in await c.conversations())


async def test_send_message_flags(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "fown", "fmem", "fx")
    async with RestClient(server.api_url, tok["fown"]) as api:
        await api.group.create_group(owner_user_id="fown", member_user_ids=["fmem"], send_message=False,
                                     group_info={"groupID": "tg2", "groupType": 2})
        # no tip, but the conversation exists for every member
        conv = await api.conversation.get_conversations(owner_user_id="fown", conversation_ids=["sg_tg2"])
        assert [c.conversationID for c in conv.conversations] == ["sg_tg2"]
        assert await _pull(api, "fown", "sg_tg2") == []
        await api.group.invite_user_to_group(group_id="tg2", invited_user_ids=["fx"], send_message=False)
        await api.group.kick_group(group_id="tg2", kicked_user_ids=["fx"], send_message=True)
        await api.group.invite_user_to_group(group_id="tg2", invited_user_ids=["fx"])
        await api.group.kick_group(group_id="tg2", kicked_user_ids=["fx"], send_message=False)
        got = [m.contentType for m in await _pull(api, "fown", "sg_tg2")]
        assert got == [ContentType.MEMBER_KICKED, ContentType.MEMBER_INVITED]
        await api.group.dismiss_group(group_id="tg2", send_message=False)
        assert [m.contentType for m in await _pull(api, "fown", "sg_tg2")] == got


async def test_friend_approval_opens_the_conversation(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "fra", "frb")
    async with make_client(server, tmp_path, "fra", tok["fra"]) as a:
        await a.wait_synced(10)
        await a.api.friend.add_friend(from_user_id="fra", to_user_id="frb", req_msg="hi")
        async with RestClient(server.api_url, tok["frb"]) as b:
            await b.friend.add_friend_response(from_user_id="fra", to_user_id="frb", handle_result=1)
            pulled = await _pull(b, "frb", "si_fra_frb")
            assert [(m.seq, m.contentType) for m in pulled] == [(1, ContentType.FRIEND_APPLICATION_APPROVED)]
        # the conversation is on both sides' server lists at once (stored with the tip; the
        # online SDK client does not show this tip yet: it de-duplicates by clientMsgID across
        # conversations and the n_ copy has the same one, as upstream sends it)
        for uid in ("fra", "frb"):
            async with RestClient(server.api_url, tok[uid]) as api:
                convs = await api.conversation.get_all_conversations(owner_user_id=uid)
                assert "si_fra_frb" in [c.conversationID for c in convs.conversations]
    async with make_client(server, tmp_path, "frb", tok["frb"]) as bc:
        await bc.wait_synced(10)
        assert await _has_conv(bc, "si_fra_frb")
        assert _types(await _history(bc, "si_fra_frb", 1)) == [ContentType.FRIEND_APPLICATION_APPROVED]


async def test_dismiss(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "down", "dmem", platform=5)
    async with RestClient(server.api_url, tok["down"]) as own, RestClient(server.api_url, tok["dmem"]) as mem:
        for gid in ("tg3", "tg4"):
            await own.group.create_group(owner_user_id="down", member_user_ids=["dmem"],
                                         group_info={"groupID": gid, "groupType": 2})
        async with Ws(server, "dmem", tok["dmem"]) as ws:
            # deleteMember false (what the official clients send): 1511 to the members, in the timeline;
            # members kept, the group stays listed as dismissed (upstream)
            await own.group.dismiss_group(group_id="tg3")
            cid, msg, detail = await next_notification(ws, ContentType.GROUP_DISMISSED)
            assert detail["group"]["status"] == 2
        assert [m.contentType for m in await _pull(mem, "dmem", "sg_tg3")][-1] == ContentType.GROUP_DISMISSED
        joined = await mem.group.get_joined_group_list(from_user_id="dmem", pagination=PAGE)
        assert {g.groupID: g.status for g in joined.groups} == {"tg3": 2, "tg4": 0}
        # deleteMember true: the members are removed, their lists no longer show the group
        await own.group.dismiss_group(group_id="tg4", delete_member=True)
        await own.group.dismiss_group(group_id="tg3", delete_member=True)  # allowed on a dismissed group
        joined = await mem.group.get_joined_group_list(from_user_id="dmem", pagination=PAGE)
        assert joined.total == 0 and not joined.groups
        inc = await mem.group.get_incremental_join_groups(user_id="dmem", version_id="", version=0)
        assert not inc.insert
        # what they had read stays readable
        assert [m.contentType for m in await _pull(mem, "dmem", "sg_tg4")] == [ContentType.GROUP_CREATED]


async def test_profile_change_notifies_and_refreshes_copies(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "pa", "pb", "pc", platform=5)
    async with RestClient(server.api_url, tok["pa"]) as a, RestClient(server.api_url, tok["pb"]) as b:
        await a.friend.add_friend(from_user_id="pa", to_user_id="pb")
        await b.friend.add_friend_response(from_user_id="pa", to_user_id="pb", handle_result=1)
        await b.group.create_group(owner_user_id="pb", member_user_ids=["pa", "pc"],
                                   group_info={"groupID": "tg5", "groupType": 2})
        friends0 = await b.friend.get_incremental_friends(user_id="pb", version_id="", version=0)
        members0 = await b.group.get_incremental_group_members(group_id="tg5", version_id="", version=0)
        async with Ws(server, "pa", tok["pa"]) as wa, Ws(server, "pb", tok["pb"]) as wb, \
                Ws(server, "pc", tok["pc"]) as wc:
            await a.user.update_user_info_ex(user_info={"userID": "pa", "nickname": "Pat"})
            _, _, mine = await next_notification(wa, ContentType.USER_INFO_UPDATED)
            assert mine == {"userID": "pa"}
            _, _, theirs = await next_notification(wb, ContentType.FRIEND_INFO_UPDATED)
            assert theirs == {"userID": "pa"}
            cid, _, setm = await next_notification(wc, ContentType.GROUP_MEMBER_INFO_SET)
            assert cid == "n_tg5" and setm["changedUser"]["nickname"] == "Pat"
        # the friend's and the group members' incremental syncs return the new nickname
        friends = await b.friend.get_incremental_friends(user_id="pb", version_id=friends0.versionID,
                                                         version=friends0.version)
        assert [(f.friendUser.userID, f.friendUser.nickname) for f in friends.update] == [("pa", "Pat")]
        members = await b.group.get_incremental_group_members(group_id="tg5", version_id=members0.versionID,
                                                              version=members0.version)
        assert [(m.userID, m.nickname) for m in members.update] == [("pa", "Pat")]
        # an unchanged nickname/face: only 1303, no version bump
        await a.user.update_user_info_ex(user_info={"userID": "pa", "ex": "x"})
        again = await b.friend.get_incremental_friends(user_id="pb", version_id=friends.versionID,
                                                       version=friends.version)
        assert again.version == friends.version and not again.update


async def test_user_commands_notify_the_user(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "cu", platform=5)
    async with RestClient(server.api_url, tok["cu"]) as api, Ws(server, "cu", tok["cu"]) as ws:
        await api.user.process_user_command_add(user_id="cu", type=1, uuid="u1", value="v")
        _, _, add = await next_notification(ws, ContentType.USER_COMMAND_ADD)
        assert add == {"fromUserID": "cu", "toUserID": "cu"}
        await api.user.process_user_command_update(user_id="cu", type=1, uuid="u1", value="w")
        await next_notification(ws, ContentType.USER_COMMAND_UPDATE)
        await api.user.process_user_command_delete(user_id="cu", type=1, uuid="u1")
        await next_notification(ws, ContentType.USER_COMMAND_DELETE)


async def test_revoke_role_and_quotes(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "rmem")
    tok.update(await users(server, "rown", platform=5))
    async with make_client(server, tmp_path, "rmem", tok["rmem"]) as mem, \
            RestClient(server.api_url, tok["rown"]) as own:
        await mem.wait_synced(10)
        await own.group.create_group(owner_user_id="rown", member_user_ids=["rmem"],
                                     group_info={"groupID": "tg6", "groupType": 2}, send_message=False)
        original = await mem.send_text("tg6", "quote me", group=True)
        await mem.flush(10)
        sent = await _history(mem, "sg_tg6", 1)
        assert sent[0].seq == 1
        await mem.send_quote("tg6", "replying", sent[0], group=True)
        await mem.flush(10)
        await own.msg.revoke_msg(conversation_id="sg_tg6", seq=1, user_id="rown")
        pulled = await _pull(own, "rown", "sg_tg6")
        assert pulled[0].contentType == ContentType.MSG_REVOKE_NOTIFICATION
        revoked = _detail(pulled[0])
        assert revoked["revokerRole"] == 100 and revoked["revokerID"] == "rown"
        quote = json.loads(pulled[1].content)
        assert quote["text"] == "replying"
        assert quote["quoteMessage"]["contentType"] == ContentType.MSG_REVOKE_NOTIFICATION
        assert json.loads(json.loads(quote["quoteMessage"]["content"])["detail"])["clientMsgID"] == \
            original.client_msg_id
        # single chat: the sender's appMangerLevel (0); an app admin's revoke is flagged isAdminRevoke
        for text in ("one", "two"):
            await mem.send_text("rown", text)
        await mem.flush(10)
        await _history(mem, "si_rmem_rown", 2)
        admin = await RestClient.admin(server.api_url)
        async with admin:
            mem_ws_token = await admin.mint_user_token("rmem", 5)
            async with Ws(server, "rown", tok["rown"]) as ws, Ws(server, "rmem", mem_ws_token) as mws:
                await mem.api.msg.revoke_msg(conversation_id="si_rmem_rown", seq=1, user_id="rmem")
                _, _, tips = await next_notification(ws, ContentType.MSG_REVOKE_NOTIFICATION)
                assert tips.get("isAdminRevoke", False) is False
                await admin.msg.revoke_msg(conversation_id="si_rmem_rown", seq=2, user_id="imAdmin")
                _, _, own_tips = await next_notification(mws, ContentType.MSG_REVOKE_NOTIFICATION)
                assert own_tips["revokerUserID"] == "rmem"  # their own revoke first (sender sync)
                _, _, tips = await next_notification(mws, ContentType.MSG_REVOKE_NOTIFICATION)
                assert tips["isAdminRevoke"] is True and tips["revokerUserID"] == "imAdmin"
        pulled = await _pull(own, "rown", "si_rmem_rown")
        assert [_detail(m)["revokerID"] for m in pulled] == ["rmem", "imAdmin"]
        assert [_detail(m)["revokerRole"] for m in pulled] == [0, 0]


async def test_history_for_new_members_switch(tmp_path: Any) -> None:
    for enabled in (True, False):
        cfg = server_config(tmp_path / str(enabled), enable_history_for_new_members=enabled)
        (tmp_path / str(enabled)).mkdir()
        async with ServerApp(cfg) as srv:
            tok = await users(srv, "hown", "hnew", "hjoin")
            async with RestClient(srv.api_url, tok["hown"]) as own, RestClient(srv.api_url, tok["hnew"]) as new, \
                    RestClient(srv.api_url, tok["hjoin"]) as join:
                await own.group.create_group(owner_user_id="hown", group_info={"groupID": "tg7", "groupType": 2,
                                                                               "needVerification": 2})
                admin = await RestClient.admin(srv.api_url)
                async with admin:
                    for i in range(3):
                        await admin.msg.send_msg(body={"sendID": "hown", "groupID": "tg7", "senderPlatformID": 5,
                                                       "contentType": 101, "sessionType": 3,
                                                       "content": {"content": f"before {i}"}})
                await own.group.invite_user_to_group(group_id="tg7", invited_user_ids=["hnew"])
                await join.group.join_group(group_id="tg7", join_source=3, inviter_user_id="hjoin")
                seen_new = [m.seq for m in await _pull(new, "hnew", "sg_tg7")]
                seen_join = [m.seq for m in await _pull(join, "hjoin", "sg_tg7")]
                if enabled:  # 1501, 3 texts, 1509, 1510
                    assert seen_new == [1, 2, 3, 4, 5, 6] and seen_join == [1, 2, 3, 4, 5, 6]
                else:  # from their own entry tip on
                    assert seen_new == [5, 6] and seen_join == [6]


async def test_profile_change_reaches_the_friends_cached_copy(server: ServerApp, tmp_path: Any) -> None:
    """Through the SDK: a friend's cache (kept by incremental friend sync) picks up the new nickname,
    because the change is recorded in the friend's version log."""
    tok = await users(server, "qa", "qb")
    async with RestClient(server.api_url, tok["qa"]) as a, RestClient(server.api_url, tok["qb"]) as b:
        await a.friend.add_friend(from_user_id="qa", to_user_id="qb")
        await b.friend.add_friend_response(from_user_id="qa", to_user_id="qb", handle_result=1)
        async def cached(c: OpenIMClient) -> list[tuple[str, str, str]]:
            return [(f.user_id, f.user.nickname, f.user.face_url) for f in await c.friends.list()]

        async with make_client(server, tmp_path, "qb", tok["qb"]) as cb:
            await until(lambda: _equals(cached(cb), [("qa", "Qa", "")]), what="qa in qb's friend cache")
        await a.user.update_user_info(user_info={"userID": "qa", "nickname": "Quinn", "faceURL": "http://f/q.png"})
        async with make_client(server, tmp_path, "qb", tok["qb"]) as cb:
            await until(lambda: _equals(cached(cb), [("qa", "Quinn", "http://f/q.png")]), what="the new profile")


async def _equals(got: Any, want: Any) -> bool:
    return await got == want


async def test_private_chat_switch_lands_in_the_timeline(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "pva", "pvb")
    async with make_client(server, tmp_path, "pvb", tok["pvb"]) as b, RestClient(server.api_url, tok["pva"]) as a:
        await b.wait_synced(10)
        await a.conversation.set_conversations(user_ids=["pva"], conversation={
            "conversationID": "si_pva_pvb", "conversationType": 1, "userID": "pvb", "isPrivateChat": True})
        pulled = await _pull(a, "pva", "si_pva_pvb")
        assert [(m.seq, m.contentType) for m in pulled] == [(1, ContentType.CONVERSATION_PRIVATE_CHAT)]
        assert _detail(pulled[0])["isPrivate"] is True
        # the peer's conversation list shows the conversation at once
        await until(lambda: _has_conv(b, "si_pva_pvb"), what="si_pva_pvb listed at pvb")
        peer = await a.conversation.get_conversations(owner_user_id="pva", conversation_ids=["si_pva_pvb"])
        assert peer.conversations[0].isPrivateChat


async def test_online_sdk_client_shows_tips(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "xown", "xmem")
    async with make_client(server, tmp_path, "xown", tok["xown"]) as own:
        await own.wait_synced(10)
        await own.api.group.create_group(owner_user_id="xown", member_user_ids=["xmem"],
                                         group_info={"groupID": "tg8", "groupType": 2})
        hist = await _history(own, "sg_tg8", 1, timeout=3)
        assert _types(hist) == [ContentType.GROUP_CREATED]


async def test_group_info_changes_one_tip_per_kind(server: ServerApp, tmp_path: Any) -> None:
    tok = await users(server, "iown", "imem", platform=5)
    async with RestClient(server.api_url, tok["iown"]) as own, Ws(server, "imem", tok["imem"]) as ws:
        await own.group.create_group(owner_user_id="iown", member_user_ids=["imem"], group_info={
            "groupID": "tg9", "groupType": 2, "notification": "welcome"})
        await own.group.set_group_info_ex(group_id="tg9", group_name="N", introduction="I")  # 1520 + 1502
        await own.group.set_group_info_ex(group_id="tg9", notification="")  # cleared: 1519, not in the timeline
        for ct in (ContentType.GROUP_INFO_SET_NAME, ContentType.GROUP_INFO_SET):
            cid, _, detail = await next_notification(ws, ct)
            assert cid == "n_tg9" and detail["group"]["groupName"] == "N"
        _, _, cleared = await next_notification(ws, ContentType.GROUP_INFO_SET_ANNOUNCEMENT)
        assert cleared["group"]["notification"] == ""
        got = [m.contentType for m in await _pull(own, "iown", "sg_tg9")]
        assert got == [ContentType.GROUP_CREATED, ContentType.GROUP_INFO_SET_ANNOUNCEMENT,
                       ContentType.GROUP_INFO_SET_NAME]


async def test_approved_invitation_is_an_invited_tip(server: ServerApp, tmp_path: Any) -> None:
    """Upstream GroupApplicationResponse: approving a request made by an invitation gives 1509 (with
    the inviter), approving a user's own request 1510."""
    tok = await users(server, "aown", "amem", "ainv", "aself")
    async with RestClient(server.api_url, tok["aown"]) as own, RestClient(server.api_url, tok["amem"]) as mem, \
            RestClient(server.api_url, tok["aself"]) as self_:
        await own.group.create_group(owner_user_id="aown", member_user_ids=["amem"], send_message=False,
                                     group_info={"groupID": "tg10", "groupType": 2, "needVerification": 1})
        await mem.group.invite_user_to_group(group_id="tg10", invited_user_ids=["ainv"])  # a request
        await self_.group.join_group(group_id="tg10", join_source=3, inviter_user_id="aself")
        for uid in ("ainv", "aself"):
            await own.group.group_application_response(group_id="tg10", from_user_id=uid, handle_result=1)
        pulled = await _pull(own, "aown", "sg_tg10")
        assert [m.contentType for m in pulled] == [ContentType.MEMBER_INVITED, ContentType.MEMBER_ENTER]
        invited = _detail(pulled[0])
        assert invited["inviterUser"]["userID"] == "amem" and invited["opUser"]["userID"] == "aown"
        assert [u["userID"] for u in invited["invitedUserList"]] == ["ainv"]
        assert _detail(pulled[1])["entrantUser"]["userID"] == "aself"
