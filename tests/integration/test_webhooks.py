"""Webhooks against a real HTTP receiver: the bodies and URLs of upstream's callbacks
(pkg/callbackstruct, pkg/common/webhook/http_client.go), refusals, modification, failedContinue."""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from openim_sdk import events as ev
from openim_sdk.protocol.constants import MsgStatus
from server_stub import ServerApp
from server_stub.config import load_config
from server_stub.webhooks import parse_webhooks

from .conftest import Api, server_config, ws_url
from .test_client import make_client, next_event, users
from .webhook_receiver import Receiver

COMMON = {"sendID", "callbackCommand", "serverMsgID", "clientMsgID", "operationID", "senderPlatformID",
          "senderNickname", "sessionType", "msgFrom", "contentType", "status", "sendTime", "createTime",
          "content", "seq", "atUserList", "faceURL", "ex"}
REFUSE = {"actionCode": 0, "nextCode": 1, "errCode": 5001, "errMsg": "no bad words", "errDlt": "policy 7"}


def hooks(url: str, *names: str, **per: dict[str, Any]) -> Any:
    table: dict[str, Any] = {"url": url}
    for n in names:
        table[n] = {"enable": True, "timeout": 5}
    for n, extra in per.items():
        table[n] = {"enable": True, "timeout": 5, **extra}
    return parse_webhooks(table)


@pytest.fixture
def receiver() -> Any:
    with Receiver() as r:
        yield r


async def start(tmp_path: Any, webhooks: Any, **kw: Any) -> ServerApp:
    srv = ServerApp(server_config(tmp_path, webhooks=webhooks, **kw))
    await srv.start()
    return srv


@pytest.fixture
async def admin_api() -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    async def make(srv: ServerApp) -> Api:
        client = httpx.AsyncClient(base_url=srv.api_url, timeout=10)
        clients.append(client)
        api = Api(client)
        data = await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"})
        api.token = data["token"]
        return api

    yield make
    for c in clients:
        await c.aclose()


# --------------------------------------------------------------------------- messages


async def test_single_message_callbacks_have_upstream_bodies(tmp_path, receiver):
    srv = await start(tmp_path, hooks(receiver.url, "beforeSendSingleMsg", "afterSendSingleMsg", "beforeMsgModify",
                                      "afterMsgSaveDB"))
    try:
        tok = await users(srv, "alice", "bob")
        async with make_client(srv, tmp_path, "alice", tok["alice"]) as a, \
                make_client(srv, tmp_path, "bob", tok["bob"]) as b:
            await a.wait_synced(10)
            await b.wait_synced(10)
            b_events = b.events()
            sent = await a.send_text("bob", "hello bob")
            got = await next_event(b_events, lambda e: isinstance(e, ev.MessageReceived) and not e.is_self)
            assert got.message.text == "hello bob"
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    order = [c.command for c in receiver.calls if c.body.get("clientMsgID") == sent.client_msg_id]
    assert order[:2] == ["callbackBeforeSendSingleMsgCommand", "callbackBeforeMsgModifyCommand"]
    assert sorted(order[2:]) == ["callbackAfterMsgSaveDBCommand", "callbackAfterSendSingleMsgCommand"]
    before = receiver.of("callbackBeforeSendSingleMsgCommand")[0]
    assert before.path == "/callbackExample/callbackBeforeSendSingleMsgCommand"
    assert set(before.body) == COMMON | {"recvID"}
    body = before.body
    assert (body["sendID"], body["recvID"], body["sessionType"], body["contentType"]) == ("alice", "bob", 1, 101)
    assert json.loads(body["content"])["content"] == "hello bob"
    assert body["callbackCommand"] == "callbackBeforeSendSingleMsgCommand" and body["seq"] == 0
    assert body["serverMsgID"] and body["operationID"] == before.headers["operationid"]
    assert set(receiver.of("callbackBeforeMsgModifyCommand")[0].body) == COMMON
    after = receiver.of("callbackAfterSendSingleMsgCommand")[0]
    assert set(after.body) == COMMON | {"recvID"}
    key = json.loads(base64.b64decode(after.query["key"]))
    assert key == {"sendID": "alice", "recvID": "bob", "groupID": ""}
    saved = receiver.of("callbackAfterMsgSaveDBCommand")[0].body
    assert set(saved) == COMMON | {"recvID", "groupID"} and saved["seq"] == 1


async def test_before_send_refusal_reaches_the_sdk(tmp_path, receiver):
    receiver.replies["callbackBeforeSendSingleMsgCommand"] = \
        lambda body: REFUSE if "bad" in body["content"] else {"actionCode": 0, "nextCode": 0}
    srv = await start(tmp_path, hooks(receiver.url, "beforeSendSingleMsg", "afterSendSingleMsg"))
    try:
        tok = await users(srv, "alice", "bob")
        async with make_client(srv, tmp_path, "alice", tok["alice"]) as a:
            await a.wait_synced(10)
            events = a.events()
            await a.send_text("bob", "a bad word")
            failed = await next_event(events, lambda e: isinstance(e, ev.MessageSendFailed))
            assert failed.error is not None
            # the WS reply has errCode/errMsg only (no errDlt on the long connection)
            assert (failed.error.code, failed.error.message) == (5001, "no bad words")
            assert failed.message.status == MsgStatus.SEND_FAILED
            ok = await a.send_text("bob", "a nice word")
            await next_event(events, lambda e: isinstance(e, ev.MessageUpdated) and e.message.client_msg_id
                             == ok.client_msg_id and e.message.status == MsgStatus.SEND_SUCCESS)
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    assert [json.loads(c.body["content"])["content"] for c in receiver.of("callbackAfterSendSingleMsgCommand")] \
        == ["a nice word"]


async def test_msg_modify_changes_the_delivered_content(tmp_path, receiver):
    receiver.replies["callbackBeforeMsgModifyCommand"] = lambda body: {
        "actionCode": 0, "nextCode": 0, "content": json.dumps({"content": "[censored]"}), "ex": "moderated"}
    srv = await start(tmp_path, hooks(receiver.url, "beforeMsgModify"))
    try:
        tok = await users(srv, "alice", "bob")
        async with make_client(srv, tmp_path, "alice", tok["alice"]) as a, \
                make_client(srv, tmp_path, "bob", tok["bob"]) as b:
            await a.wait_synced(10)
            await b.wait_synced(10)
            b_events = b.events()
            await a.send_text("bob", "something rude")
            got = await next_event(b_events, lambda e: isinstance(e, ev.MessageReceived) and not e.is_self)
            assert got.message.text == "[censored]"
    finally:
        await srv.stop()


async def test_modify_reply_must_be_json_content(tmp_path, receiver, admin_api):
    receiver.replies["callbackBeforeMsgModifyCommand"] = {"actionCode": 0, "nextCode": 0, "content": "not json"}
    srv = await start(tmp_path, hooks(receiver.url, "beforeMsgModify"))
    try:
        api = await admin_api(srv)
        await api.register("u1", "u2")
        env = await api.call("/msg/send_msg", _rest_msg("u1", "u2"))
        assert env["errCode"] == 1001 and "not json" in env["errMsg"] + env["errDlt"]
    finally:
        await srv.stop()


def apply_op(receiver: Receiver) -> str:
    return str(receiver.of("callbackAfterJoinGroupCommand")[0].headers["operationid"])


def _rest_msg(send: str, recv: str, group: str = "") -> dict[str, Any]:
    return {"sendID": send, "recvID": recv, "groupID": group, "senderNickname": send, "senderPlatformID": 5,
            "content": {"content": "hi"}, "contentType": 101, "sessionType": 3 if group else 1}


def _closed_port_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more: connection refused
    return f"http://127.0.0.1:{port}/callbackExample"


@pytest.mark.parametrize("failed_continue", [True, False])
async def test_failed_continue_when_the_receiver_is_down(tmp_path, admin_api, failed_continue):
    srv = await start(tmp_path, hooks(_closed_port_url(), beforeMsgModify={"failedContinue": failed_continue}))
    try:
        api = await admin_api(srv)
        await api.register("u1", "u2")
        env = await api.call("/msg/send_msg", _rest_msg("u1", "u2"))
        if failed_continue:
            assert env["errCode"] == 0 and env["data"]["serverMsgID"]
        else:
            assert env["errCode"] == 90004 and env["errMsg"] == "NetworkError", env
            assert set(env) >= {"errCode", "errMsg", "errDlt"}
    finally:
        await srv.stop()


async def test_receiver_answer_that_is_not_json_is_a_data_error(tmp_path, receiver, admin_api):
    receiver.replies["callbackBeforeSendGroupMsgCommand"] = lambda body: "oops"  # type: ignore[return-value]
    srv = await start(tmp_path, hooks(receiver.url, beforeSendGroupMsg={"failedContinue": False}))
    try:
        api = await admin_api(srv)
        await api.register("u1", "u2")
        await api.ok("/group/create_group", {"ownerUserID": "u1", "memberUserIDs": ["u2"],
                                             "groupInfo": {"groupID": "g1", "groupName": "G", "groupType": 2}})
        env = await api.call("/msg/send_msg", _rest_msg("u1", "", "g1"))
        assert env["errCode"] == 90007, env
    finally:
        await srv.stop()


# --------------------------------------------------------------------------- relations, groups, users


async def test_friend_group_user_callbacks(tmp_path, receiver, admin_api):
    receiver.replies["callbackBeforeAddFriendCommand"] = \
        lambda body: REFUSE if body["toUserID"] == "mallory" else {"actionCode": 0}
    receiver.replies["callbackBeforeCreateGroupCommand"] = {"actionCode": 0, "groupName": "Renamed"}
    receiver.replies["callbackBeforeUpdateUserInfoCommand"] = {"actionCode": 0, "nickName": "Cleaned"}
    names = ("beforeAddFriend", "afterAddFriend", "beforeAddFriendAgree", "afterAddFriendAgree", "afterDeleteFriend",
             "beforeAddBlack", "afterRemoveBlack", "beforeCreateGroup", "afterCreateGroup", "beforeInviteUserToGroup",
             "afterKickGroupMember", "afterQuitGroup", "afterTransferGroupOwner", "beforeSetGroupInfo",
             "afterSetGroupInfo", "afterDismissGroup", "beforeApplyJoinGroup", "afterJoinGroup",
             "beforeSendGroupMsg", "afterSendGroupMsg", "afterUserRegister", "beforeUpdateUserInfo",
             "afterUpdateUserInfo", "afterRevokeMsg", "beforeMemberJoinGroup")
    srv = await start(tmp_path, hooks(receiver.url, *names))
    try:
        api = await admin_api(srv)
        await api.register("ann", "ben", "cid", "dan", "mallory")
        env = await api.call("/friend/add_friend", {"fromUserID": "ann", "toUserID": "mallory", "reqMsg": "hi"})
        assert (env["errCode"], env["errMsg"], env["errDlt"]) == (5001, "no bad words", "policy 7")
        await api.ok("/friend/add_friend", {"fromUserID": "ann", "toUserID": "ben", "reqMsg": "hi", "ex": "x"})
        await api.ok("/friend/add_friend_response", {"fromUserID": "ann", "toUserID": "ben", "handleResult": 1,
                                                     "handleMsg": "ok"})
        await api.ok("/friend/delete_friend", {"ownerUserID": "ann", "friendUserID": "ben"})
        await api.ok("/friend/add_black", {"ownerUserID": "ann", "blackUserID": "cid"})
        await api.ok("/friend/remove_black", {"ownerUserID": "ann", "blackUserID": "cid"})
        data = await api.ok("/group/create_group", {
            "ownerUserID": "ann", "adminUserIDs": ["ben"], "memberUserIDs": ["cid"],
            "groupInfo": {"groupID": "g1", "groupName": "Original", "groupType": 2, "needVerification": 2}})
        assert data["groupInfo"]["groupName"] == "Renamed"
        await api.ok("/group/invite_user_to_group", {"groupID": "g1", "invitedUserIDs": ["dan"], "reason": "join"})
        sent = await api.ok("/msg/send_msg", _rest_msg("ann", "", "g1"))
        await api.ok("/group/kick_group", {"groupID": "g1", "kickedUserIDs": ["dan"], "reason": "spam"})
        await api.ok("/group/join_group", {"groupID": "g1", "inviterUserID": "dan", "reqMessage": "again",
                                           "joinSource": 3})
        await api.ok("/group/quit_group", {"groupID": "g1", "userID": "cid"})
        await api.ok("/group/set_group_info", {"groupInfoForSet": {"groupID": "g1", "introduction": "about"}})
        await api.ok("/group/transfer_group", {"groupID": "g1", "oldOwnerUserID": "ann", "newOwnerUserID": "ben"})
        await api.ok("/group/dismiss_group", {"groupID": "g1"})
        await api.ok("/user/update_user_info", {"userInfo": {"userID": "dan", "nickname": "Dirty"}})
        got = await api.ok("/user/get_users_info", {"userIDs": ["dan"]})
        assert got["usersInfo"][0]["nickname"] == "Cleaned"
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()

    def one(command: str) -> dict[str, Any]:
        calls = receiver.of(command)
        assert len(calls) == 1, (command, [c.body for c in calls])
        return calls[0].body

    assert [c.body["toUserID"] for c in receiver.of("callbackBeforeAddFriendCommand")] == ["mallory", "ben"]
    assert one("callbackAfterAddFriendCommand") == {"callbackCommand": "callbackAfterAddFriendCommand",
                                                     "fromUserID": "ann", "toUserID": "ben", "reqMsg": "hi"}
    assert one("callbackBeforeAddFriendAgreeCommand") == {
        "callbackCommand": "callbackBeforeAddFriendAgreeCommand", "fromUserID": "ann", "blackUserID": "ben",
        "HandleResult": 1, "HandleMsg": "ok"}
    assert one("callbackAfterAddFriendAgreeCommand")["blackUserID"] == "ben"
    assert one("callbackAfterDeleteFriendCommand") == {"callbackCommand": "callbackAfterDeleteFriendCommand",
                                                        "ownerUserID": "ann", "friendUserID": "ben"}
    assert one("callbackBeforeAddBlackCommand") == {"callbackCommand": "callbackBeforeAddBlackCommand",
                                                     "ownerUserID": "ann", "blackUserID": "cid"}
    assert one("callbackAfterRemoveBlackCommand")["blackUserID"] == "cid"
    create = one("callbackBeforeCreateGroupCommand")
    assert create["groupName"] == "Original" and create["operationID"]
    assert create["initMemberList"] == [{"userID": "ann", "roleLevel": 100}, {"userID": "ben", "roleLevel": 60},
                                        {"userID": "cid", "roleLevel": 20}]
    # members entering directly: created with the group, invited (no approval needed), joining (needVerification 2)
    assert [c.body for c in receiver.of("callbackBeforeMembersJoinGroupCommand")] == [
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "",
         "memberList": [{"userID": "ann", "ex": ""}, {"userID": "ben", "ex": ""}, {"userID": "cid", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "",
         "memberList": [{"userID": "dan", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "",
         "memberList": [{"userID": "dan", "ex": ""}]}]
    after_create = one("callbackAfterCreateGroupCommand")
    assert after_create["groupName"] == "Renamed" and after_create["groupID"] == "g1"
    assert one("callbackBeforeInviteJoinGroupCommand")["invitedUserIDs"] == ["dan"]
    assert one("callbackBeforeSendGroupMsgCommand")["groupID"] == "g1"
    after_group = one("callbackAfterSendGroupMsgCommand")
    assert after_group["serverMsgID"] == sent["serverMsgID"] and set(after_group) == COMMON | {"groupID"}
    assert one("callbackAfterKickGroupCommand") == {"callbackCommand": "callbackAfterKickGroupCommand",
                                                     "groupID": "g1", "kickedUserIDs": ["dan"], "reason": "spam"}
    apply = one("callbackBeforeJoinGroupCommand")
    assert (apply["applyID"], apply["reqMessage"], apply["groupType"]) == ("dan", "again", "\u0002")
    assert one("callbackAfterQuitGroupCommand") == {"callbackCommand": "callbackAfterQuitGroupCommand",
                                                     "groupID": "g1", "userID": "cid"}
    assert one("callbackBeforeSetGroupInfoCommand")["introduction"] == "about"
    assert one("callbackAfterSetGroupInfoCommand")["groupID"] == "g1"
    assert one("callbackAfterTransferGroupOwnerCommand") == {
        "callbackCommand": "callbackAfterTransferGroupOwnerCommand", "groupID": "g1", "oldOwnerUserID": "ann",
        "newOwnerUserID": "ben"}
    dismissed = one("callbackAfterDisMissGroupCommand")
    assert dismissed["ownerID"] == "ben" and sorted(dismissed["membersID"]) == ["ann", "ben", "dan"]
    assert dismissed["groupType"] == "\u0002"  # Go's string(int32): a rune, as upstream
    assert one("callbackAfterJoinGroupCommand") == {
        "callbackCommand": "callbackAfterJoinGroupCommand", "operationID": apply_op(receiver), "groupID": "g1",
        "reqMessage": "again", "joinSource": 3, "inviterUserID": "dan"}
    registered = one("callbackAfterUserRegisterCommand")
    assert [u["userID"] for u in registered["users"]] == ["ann", "ben", "cid", "dan", "mallory"]
    assert one("callbackBeforeUpdateUserInfoCommand")["nickName"] == "Dirty"
    assert one("callbackAfterUpdateUserInfoCommand")["nickName"] == "Cleaned"


def _conversation_body(command: str, owner: str, cid: str, conv_type: int, peer_key: str, peer: str) -> dict[str, Any]:
    """upstream pkg/callbackstruct/conversation.go: the new record, every field at its default."""
    return {"callbackCommand": command, "ownerUserId": owner, "conversationId": cid, "conversationType": conv_type,
            peer_key: peer, "recvMsgOpt": 0, "isPinned": False, "isPrivateChat": False, "burnDuration": 0,
            "groupAtType": 0, "attachedInfo": "", "ex": ""}


async def test_member_enter_and_conversation_callbacks(tmp_path, receiver, admin_api):
    """beforeMemberJoinGroup on every direct entry (invite, accepted application), the four
    conversation callbacks, and a refusal of each kind of before-callback reaching the caller."""
    receiver.replies["callbackBeforeMembersJoinGroupCommand"] = \
        lambda body: REFUSE if any(m["userID"] == "zed" for m in body["memberList"]) else {"actionCode": 0}
    receiver.replies["callbackBeforeCreateGroupChatConversationsCommand"] = \
        lambda body: REFUSE if body["groupId"] == "g2" else {"actionCode": 0, "isPinned": True, "ex": "hooked",
                                                             "recvMsgOpt": None} if body["groupId"] == "g1" else \
        {"actionCode": 0, "isPinned": "yes"}  # g3: not a bool

    def single(body: dict[str, Any]) -> dict[str, Any]:
        if "eve" in (body["ownerUserId"], body["userId"]):
            return REFUSE
        return {"actionCode": 0, "attachedInfo": f"for {body['ownerUserId']}"} if body["ownerUserId"] == "ben" else {}

    receiver.replies["callbackBeforeCreateSingleChatConversationsCommand"] = single
    names = ("beforeMemberJoinGroup", "beforeCreateGroupChatConversations", "afterCreateGroupChatConversations",
             "beforeCreateSingleChatConversations", "afterCreateSingleChatConversations")
    srv = await start(tmp_path, hooks(receiver.url, *names))
    try:
        api = await admin_api(srv)
        await api.register("ann", "ben", "cid", "dan", "eve", "zed")
        await api.ok("/group/create_group", {"ownerUserID": "ann", "memberUserIDs": ["ben"], "groupInfo": {
            "groupID": "g1", "groupName": "G", "groupType": 2, "needVerification": 0, "ex": "gx"}})
        await api.ok("/group/invite_user_to_group", {"groupID": "g1", "invitedUserIDs": ["cid"], "reason": "r"})
        await api.ok("/group/join_group", {"groupID": "g1", "inviterUserID": "dan", "reqMessage": "pls",
                                           "joinSource": 3})  # needVerification 0: an application
        assert not [c for c in receiver.of("callbackBeforeMembersJoinGroupCommand")
                    if c.body["memberList"] == [{"userID": "dan", "ex": ""}]]
        await api.ok("/group/group_application_response", {"groupID": "g1", "fromUserID": "dan",
                                                           "handledMsg": "ok", "handleResult": 1})
        # refusals: the receiver's error in OpenIM's envelope, nothing changed
        env = await api.call("/group/invite_user_to_group", {"groupID": "g1", "invitedUserIDs": ["zed"]})
        assert (env["errCode"], env["errMsg"], env["errDlt"]) == (5001, "no bad words", "policy 7")
        env = await api.call("/group/create_group", {"ownerUserID": "ann", "memberUserIDs": ["ben"], "groupInfo": {
            "groupID": "g2", "groupName": "G2", "groupType": 2}})
        assert (env["errCode"], env["errMsg"], env["errDlt"]) == (5001, "no bad words", "policy 7")
        members = await api.ok("/group/get_group_member_list", {"groupID": "g1",
                                                                "pagination": {"pageNumber": 1, "showNumber": 10}})
        assert sorted(m["userID"] for m in members["members"]) == ["ann", "ben", "cid", "dan"]
        env = await api.call("/group/create_group", {"ownerUserID": "ann", "groupInfo": {
            "groupID": "g3", "groupName": "G3", "groupType": 2}})
        assert (env["errCode"], env["errMsg"]) == (90007, "DataError"), env
        env = await api.call("/group/get_groups_info", {"groupIDs": ["g2", "g3"]})
        assert env["errCode"] == 0 and not (env["data"] or {}).get("groupInfos")
        # 1:1: the first message opens both records, the second opens nothing
        await api.ok("/msg/send_msg", _rest_msg("ann", "ben"))
        await api.ok("/msg/send_msg", _rest_msg("ben", "ann"))
        env = await api.call("/msg/send_msg", _rest_msg("ann", "eve"))
        assert (env["errCode"], env["errMsg"], env["errDlt"]) == (5001, "no bad words", "policy 7")
        # the before-replies' record fields are on the records they created (upstream NotNilReplace)
        for owner in ("ann", "cid", "dan"):
            conv = (await api.ok("/conversation/get_conversation", {"ownerUserID": owner,
                                                                    "conversationID": "sg_g1"}))["conversation"]
            assert (conv["isPinned"], conv["ex"], conv["recvMsgOpt"]) == (True, "hooked", 0), (owner, conv)
        ben = (await api.ok("/conversation/get_conversation", {"ownerUserID": "ben",
                                                               "conversationID": "si_ann_ben"}))["conversation"]
        ann = (await api.ok("/conversation/get_conversation", {"ownerUserID": "ann",
                                                               "conversationID": "si_ann_ben"}))["conversation"]
        assert (ben["attachedInfo"], ann["attachedInfo"]) == ("for ben", "")
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()

    joins = [c.body for c in receiver.of("callbackBeforeMembersJoinGroupCommand")]
    assert joins == [
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "gx",
         "memberList": [{"userID": "ann", "ex": ""}, {"userID": "ben", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "gx",
         "memberList": [{"userID": "cid", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "gx",
         "memberList": [{"userID": "dan", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g1", "groupEx": "gx",
         "memberList": [{"userID": "zed", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g2", "groupEx": "",
         "memberList": [{"userID": "ann", "ex": ""}, {"userID": "ben", "ex": ""}]},
        {"callbackCommand": "callbackBeforeMembersJoinGroupCommand", "groupID": "g3", "groupEx": "",
         "memberList": [{"userID": "ann", "ex": ""}]}]
    before_group = "callbackBeforeCreateGroupChatConversationsCommand"
    after_group = "callbackAfterCreateGroupChatConversationsCommand"
    g1 = _conversation_body(before_group, "", "sg_g1", 3, "groupId", "g1")
    assert [c.body for c in receiver.of(before_group)] == [
        g1, g1, g1, _conversation_body(before_group, "", "sg_g2", 3, "groupId", "g2"),  # create, invite, accept
        _conversation_body(before_group, "", "sg_g3", 3, "groupId", "g3")]
    assert [c.body for c in receiver.of(after_group)] == \
        [{**_conversation_body(after_group, "", "sg_g1", 3, "groupId", "g1"), "isPinned": True, "ex": "hooked"}] * 3
    before_single = "callbackBeforeCreateSingleChatConversationsCommand"
    after_single = "callbackAfterCreateSingleChatConversationsCommand"
    assert [c.body for c in receiver.of(before_single)] == [
        _conversation_body(before_single, "ann", "si_ann_ben", 1, "userId", "ben"),
        _conversation_body(before_single, "ben", "si_ann_ben", 1, "userId", "ann"),
        _conversation_body(before_single, "ann", "si_ann_eve", 1, "userId", "eve")]  # refused: no message, no after
    # after-callbacks go through a queue with two workers: any order
    assert sorted((c.body for c in receiver.of(after_single)), key=lambda b: b["ownerUserId"]) == [
        _conversation_body(after_single, "ann", "si_ann_ben", 1, "userId", "ben"),
        {**_conversation_body(after_single, "ben", "si_ann_ben", 1, "userId", "ann"), "attachedInfo": "for ben"}]


# --------------------------------------------------------------------------- connections


async def test_online_offline_kickoff(tmp_path, receiver, admin_api):
    srv = await start(tmp_path, hooks(receiver.url, "afterUserOnline", "afterUserOffline", "afterUserKickOff"))
    try:
        api = await admin_api(srv)
        await api.register("ann")
        t1 = await api.user_token("ann", 5)
        ws1 = await websockets.connect(ws_url(srv, "ann", t1, 5))
        online = (await receiver.wait_for("callbackAfterUserOnlineCommand"))[0].body
        assert set(online) == {"callbackCommand", "operationID", "platformID", "platform", "userID", "seq",
                               "isAppBackground", "connID"}
        assert (online["userID"], online["platformID"], online["platform"]) == ("ann", 5, "Web")
        t2 = await api.user_token("ann", 5)
        ws2 = await websockets.connect(ws_url(srv, "ann", t2, 5))  # policy 1: same platform kicks ws1
        kicked = (await receiver.wait_for("callbackAfterUserKickOffCommand"))[0].body
        assert (kicked["userID"], kicked["platformID"]) == ("ann", 5)
        await ws1.wait_closed()
        await ws2.close()
        offline = (await receiver.wait_for("callbackAfterUserOfflineCommand"))[0].body
        assert set(offline) == {"callbackCommand", "operationID", "platformID", "platform", "userID", "seq", "connID"}
        await srv.core.webhooks.drain()
        # the platform stayed online while ws2 replaced ws1: one online, one offline
        assert len(receiver.of("callbackAfterUserOnlineCommand")) == 1
        assert len(receiver.of("callbackAfterUserOfflineCommand")) == 1
    finally:
        await srv.stop()


async def test_offline_push_callback_names_the_offline_recipients(tmp_path, receiver, admin_api):
    srv = await start(tmp_path, hooks(receiver.url, "beforeOfflinePush"))
    try:
        api = await admin_api(srv)
        await api.register("u1", "u2")
        msg = _rest_msg("u1", "u2")
        msg["offlinePushInfo"] = {"title": "New message", "desc": "hi"}
        await api.ok("/msg/send_msg", msg)
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    body = receiver.of("callbackBeforeOfflinePushCommand")[0].body
    assert body["userIDList"] == ["u2"] and body["title"] == "New message" and body["desc"] == "hi"
    assert body["platformID"] == 5 and body["platform"] == "Web"


async def test_offline_push_callback_filters_the_send_paths_candidates(tmp_path, receiver, admin_api):
    """beforeOfflinePush sees the candidates of the send path (receive options applied: a member who
    does not get notified is not one), its ``userIDList`` replaces the targets, its
    ``offlinePushInfo`` the message's; a refusal drops the offline push (push_handler.go)."""
    receiver.replies["callbackBeforeOfflinePushCommand"] = {
        "actionCode": 0, "nextCode": 0, "userIDList": ["u3"], "offlinePushInfo": {"title": "From hook"}}
    srv = await start(tmp_path, hooks(receiver.url, "beforeOfflinePush"))
    try:
        api = await admin_api(srv)
        await api.register("u1", "u2", "u3", "u4")
        await api.ok("/group/create_group", {"ownerUserID": "u1", "memberUserIDs": ["u2", "u3", "u4"],
                                             "groupInfo": {"groupID": "g1", "groupName": "G", "groupType": 2}})
        await api.ok("/conversation/set_conversations", {"userIDs": ["u4"], "conversation": {
            "conversationID": "sg_g1", "conversationType": 3, "groupID": "g1", "recvMsgOpt": 2}})
        await srv.core.webhooks.drain()
        receiver.calls.clear()
        await api.ok("/msg/send_msg", _rest_msg("u1", "", "g1"))
        await srv.core.webhooks.drain()
        calls = receiver.of("callbackBeforeOfflinePushCommand")
        assert [c.body["userIDList"] for c in calls] == [["u2", "u3"]]
        first = calls[0].body["clientMsgID"]
        pushed = [(users, m) for users, _, m in srv.core.hub.offline_pushes if m.clientMsgID == first]
        assert [users for users, _ in pushed] == [["u3"]]
        assert pushed[0][1].offlinePushInfo.title == "From hook"
        receiver.replies["callbackBeforeOfflinePushCommand"] = REFUSE
        await api.ok("/msg/send_msg", _rest_msg("u1", "u2"))
        await srv.core.webhooks.drain()
        refused = receiver.of("callbackBeforeOfflinePushCommand")[-1].body
        assert refused["userIDList"] == ["u2"]
        assert not [m for _, _, m in srv.core.hub.offline_pushes if m.clientMsgID == refused["clientMsgID"]]
    finally:
        await srv.stop()


# --------------------------------------------------------------------------- configuration


def test_toml_webhooks_table(tmp_path):
    path = tmp_path / "server.toml"
    path.write_text('[webhooks]\nurl = "http://hooks.local/cb/"\n'
                    '[webhooks.beforeSendSingleMsg]\nenable = true\ntimeout = 2\nfailedContinue = false\n'
                    'deniedTypes = [110]\n'
                    '[webhooks.after_send_group_msg]\nenable = true\nattentionIds = ["g1"]\n')
    cfg = load_config(["--config", str(path)], env={})
    hooks_cfg = cfg.webhooks
    assert hooks_cfg.url == "http://hooks.local/cb"
    single = hooks_cfg.get("beforeSendSingleMsg")
    assert (single.enable, single.timeout, single.failed_continue, single.denied_types) == (True, 2, False, (110,))
    assert hooks_cfg.get("afterSendGroupMsg").attention_ids == ("g1",)
    assert not hooks_cfg.enabled("afterSendSingleMsg")
    path.write_text('[webhooks]\nurl = "http://x"\n[webhooks.beforeSendSingleMessage]\nenable = true\n')
    with pytest.raises(SystemExit, match="beforeSendSingleMessage"):
        load_config(["--config", str(path)], env={})


async def test_remark_import_member_info_register_read_callbacks(tmp_path, receiver, admin_api):
    receiver.replies["callbackBeforeSetFriendRemarkCommand"] = {"actionCode": 0, "remark": "Ben (work)"}
    receiver.replies["callbackBeforeImportFriendsCommand"] = \
        lambda body: {"actionCode": 0, "friendUserIDs": [u for u in body["friendUserIDs"] if u != "eve"]}
    receiver.replies["callbackBeforeSetGroupMemberInfoCommand"] = {"actionCode": 0, "nickName": "Boss"}
    receiver.replies["callbackBeforeUserRegisterCommand"] = \
        lambda body: REFUSE if any(u["userID"] == "spammer" for u in body["users"]) else {"actionCode": 0}
    names = ("beforeSetFriendRemark", "afterSetFriendRemark", "beforeImportFriends", "afterImportFriends",
             "beforeSetGroupMemberInfo", "afterSetGroupMemberInfo", "beforeUserRegister", "afterSingleMsgRead",
             "afterGroupMsgRead")
    srv = await start(tmp_path, hooks(receiver.url, *names))
    try:
        api = await admin_api(srv)
        env = await api.call("/user/user_register", {"users": [{"userID": "spammer", "nickname": "s"}]})
        assert env["errCode"] == 5001
        await api.register("ann", "ben", "eve")
        await api.ok("/friend/import_friend", {"ownerUserID": "ann", "friendUserIDs": ["ben", "eve"]})
        friends = await api.ok("/friend/get_friend_list", {"userID": "ann", "pagination": {"pageNumber": 1,
                                                                                            "showNumber": 10}})
        assert [f["friendUser"]["userID"] for f in friends["friendsInfo"]] == ["ben"]
        await api.ok("/friend/set_friend_remark", {"ownerUserID": "ann", "friendUserID": "ben", "remark": "Ben"})
        friends = await api.ok("/friend/get_friend_list", {"userID": "ann", "pagination": {"pageNumber": 1,
                                                                                            "showNumber": 10}})
        assert friends["friendsInfo"][0]["remark"] == "Ben (work)"
        await api.ok("/group/create_group", {"ownerUserID": "ann", "memberUserIDs": ["ben"],
                                             "groupInfo": {"groupID": "g1", "groupName": "G", "groupType": 2}})
        await api.ok("/group/set_group_member_info", {"members": [{"groupID": "g1", "userID": "ann",
                                                                   "nickname": "Annie"}]})
        members = await api.ok("/group/get_group_members_info", {"groupID": "g1", "userIDs": ["ann"]})
        assert members["members"][0]["nickname"] == "Boss"
        await api.ok("/msg/send_msg", _rest_msg("ben", "ann"))
        await api.ok("/msg/send_msg", _rest_msg("ann", "", "g1"))
        single = "si_ann_ben"
        # notifications stored in the timelines (group creation, member info) take seqs too: each
        # message just sent is the newest of its conversation
        seqs = await api.ok("/msg/get_conversations_has_read_and_max_seq", {"userID": "ann",
                                                                          "conversationIDs": [single, "sg_g1"]})
        single_seq, group_seq = (seqs["seqs"][c]["maxSeq"] for c in (single, "sg_g1"))
        assert group_seq > 1
        await api.ok("/msg/mark_msgs_as_read", {"conversationID": single, "userID": "ann", "seqs": [single_seq]})
        await api.ok("/msg/mark_conversation_as_read", {"conversationID": "sg_g1", "userID": "ben",
                                                        "hasReadSeq": group_seq, "seqs": []})
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    assert [c.body["friendUserIDs"] for c in receiver.of("callbackAfterImportFriendsCommand")] == [["ben"]]
    assert receiver.of("callbackBeforeSetFriendRemarkCommand")[0].body == {
        "callbackCommand": "callbackBeforeSetFriendRemarkCommand", "ownerUserID": "ann", "friendUserID": "ben",
        "remark": "Ben"}
    assert receiver.of("callbackAfterSetFriendRemarkCommand")[0].body["remark"] == "Ben (work)"
    assert receiver.of("callbackBeforeSetGroupMemberInfoCommand")[0].body == {
        "callbackCommand": "callbackBeforeSetGroupMemberInfoCommand", "groupID": "g1", "userID": "ann",
        "nickName": "Annie", "faceURL": None, "roleLevel": None, "ex": None}
    assert receiver.of("callbackAfterSetGroupMemberInfoCommand")[0].body["nickName"] == "Boss"
    assert receiver.of("callbackAfterSingleMsgReadCommand")[0].body == {
        "callbackCommand": "callbackAfterSingleMsgReadCommand", "conversationID": "si_ann_ben", "userID": "ann",
        "Seqs": [single_seq], "contentType": 1}
    assert receiver.of("callbackAfterGroupMsgReadCommand")[0].body == {
        "callbackCommand": "callbackAfterGroupMsgReadCommand", "sendID": "ben", "receiveID": "ben",
        "unreadMsgNum": group_seq, "contentType": 3}


async def test_set_info_ex_callbacks_use_null_for_unset_wrappers(tmp_path, receiver, admin_api):
    receiver.replies["callbackBeforeSetGroupInfoExCommand"] = {"actionCode": 0, "groupName": "From hook"}
    receiver.replies["callbackBeforeSetGroupInfoCommand"] = {"actionCode": 0, "ex": "tagged"}
    receiver.replies["callbackBeforeUpdateUserInfoExCommand"] = {"actionCode": 0, "faceURL": "https://x/f.png"}
    srv = await start(tmp_path, hooks(receiver.url, "beforeSetGroupInfoEx", "afterSetGroupInfoEx",
                                      "beforeSetGroupInfo", "beforeUpdateUserInfoEx", "afterUpdateUserInfoEx"))
    try:
        api = await admin_api(srv)
        await api.register("ann", "ben")
        await api.ok("/group/create_group", {"ownerUserID": "ann", "memberUserIDs": ["ben"],
                                             "groupInfo": {"groupID": "g1", "groupName": "G", "groupType": 2}})
        await api.ok("/group/set_group_info_ex", {"groupID": "g1", "introduction": "intro"})
        await api.ok("/group/set_group_info", {"groupInfoForSet": {"groupID": "g1", "notification": "n"}})
        info = (await api.ok("/group/get_groups_info", {"groupIDs": ["g1"]}))["groupInfos"][0]
        assert (info["groupName"], info["introduction"], info["ex"]) == ("From hook", "intro", "tagged")
        await api.ok("/user/update_user_info_ex", {"userInfo": {"userID": "ben", "nickname": "Benny"}})
        user = (await api.ok("/user/get_users_info", {"userIDs": ["ben"]}))["usersInfo"][0]
        assert (user["nickname"], user["faceURL"]) == ("Benny", "https://x/f.png")
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    before = receiver.of("callbackBeforeSetGroupInfoExCommand")[0].body
    assert before == {"callbackCommand": "callbackBeforeSetGroupInfoExCommand", "operationID": before["operationID"],
                      "groupID": "g1", "groupName": None, "notification": None, "introduction": "intro",
                      "faceURL": None, "ex": None, "needVerification": None, "lookMemberInfo": None,
                      "applyMemberFriend": None}
    assert receiver.of("callbackAfterSetGroupInfoExCommand")[0].body["groupName"] == "From hook"
    assert receiver.of("callbackBeforeUpdateUserInfoExCommand")[0].body == {
        "callbackCommand": "callbackBeforeUpdateUserInfoExCommand", "userID": "ben", "nickName": "Benny",
        "faceURL": None, "ex": None}
    assert receiver.of("callbackAfterUpdateUserInfoExCommand")[0].body["faceURL"] == "https://x/f.png"


async def test_a_hanging_receiver_does_not_hold_up_shutdown(tmp_path, receiver, admin_api):
    import asyncio
    import threading

    release = threading.Event()

    def hang(body: dict[str, Any]) -> dict[str, Any]:
        release.wait(60)
        return {"actionCode": 0}

    receiver.replies["callbackAfterUserRegisterCommand"] = hang
    srv = await start(tmp_path, hooks(receiver.url, afterUserRegister={"timeout": 60}))
    try:
        api = await admin_api(srv)
        await api.register("u1")  # the reply is sent before the callback is even made
        await api.register("u2")
        await receiver.wait_for_request("callbackAfterUserRegisterCommand")
        await asyncio.wait_for(srv.stop(), 30)  # the 2 s grace, not the 60 s timeout
    finally:
        release.set()
        await srv.stop()


async def test_online_push_callbacks_gate_and_redirect_pushes(tmp_path, receiver, admin_api):
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2

    from .conftest import WsClient

    def by_text(body: dict[str, Any]) -> dict[str, Any]:
        return REFUSE if "secret" in body["content"] else {"actionCode": 0}

    receiver.replies["callbackBeforeOnlinePushCommand"] = by_text
    receiver.replies["callbackBeforeGroupOnlinePushCommand"] = \
        lambda body: {"actionCode": 0, "userIDList": ["ann"]} if "staff" in body["content"] else {"actionCode": 0}
    srv = await start(tmp_path, hooks(receiver.url, "beforeOnlinePush", "beforeGroupOnlinePush"))
    try:
        api = await admin_api(srv)
        await api.register("ann", "ben")
        await api.ok("/group/create_group", {"ownerUserID": "ann", "memberUserIDs": ["ben"],
                                             "groupInfo": {"groupID": "g1", "groupName": "G", "groupType": 2}})
        tb = await api.user_token("ben", 5)
        async with websockets.connect(ws_url(srv, "ben", tb, 5)) as ws:
            ben = WsClient(ws, "ben")
            # a round trip first: once answered, ben is registered for pushes
            assert (await ben.request(1001, sdkws_pb2.GetMaxSeqReq(userID="ben").SerializeToString())).err_code == 0

            async def texts() -> list[str]:
                """The texts of the next push with any (the group's "created" tip, stored in sg_g1, may
                still be on its way to ben's fresh connection: it is not what this test is about)."""
                while True:
                    push = sdkws_pb2.PushMessages.FromString((await ben.next_push()).data)
                    got = [json.loads(m.content)["content"] for p in push.msgs.values() for m in p.Msgs
                           if m.contentType == 101]
                    if got:
                        return got

            for text, group in (("a secret", ""), ("staff only", "g1"), ("for all", "g1"), ("hello", "")):
                msg = _rest_msg("ann", "" if group else "ben", group)
                msg["content"] = {"content": text}
                await api.ok("/msg/send_msg", msg)
            seen = [await texts(), await texts()]
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    # the refused 1:1 push and the group push limited to ann never reached ben; the rest in order
    assert seen == [["for all"], ["hello"]]
    single = receiver.of("callbackBeforeOnlinePushCommand")[0].body
    assert set(single) == {"callbackCommand", "operationID", "platformID", "platform", "userIDList", "clientMsgID",
                           "sendID", "groupID", "contentType", "sessionType", "atUserIDList", "content"}
    assert single["userIDList"] == ["ben", "ann"]  # the sender too (senderSync), as upstream
    group = next(c.body for c in receiver.of("callbackBeforeGroupOnlinePushCommand") if "staff" in c.body["content"])
    assert "userIDList" not in group and group["groupID"] == "g1" and group["seq"] >= 1


async def test_a_resend_answered_from_the_first_copy_calls_back_once(tmp_path, receiver, admin_api):
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2

    from .conftest import WsClient

    def text(cmid: str) -> bytes:
        return sdkws_pb2.MsgData(sendID="ann", recvID="ben", clientMsgID=cmid, sessionType=1, msgFrom=100,
                                 contentType=101, content=json.dumps({"content": "hi"}).encode(),
                                 createTime=1, status=1).SerializeToString()

    srv = await start(tmp_path, hooks(receiver.url, "afterSendSingleMsg", "afterMsgSaveDB"))
    try:
        api = await admin_api(srv)
        await api.register("ann", "ben")
        async with websockets.connect(ws_url(srv, "ann", await api.user_token("ann", 5))) as ws:
            ann = WsClient(ws, "ann")
            for cmid in ("dup-1", "dup-1", "other"):
                assert (await ann.request(1003, text(cmid))).err_code == 0
        await srv.core.webhooks.drain()
    finally:
        await srv.stop()
    for command in ("callbackAfterSendSingleMsgCommand", "callbackAfterMsgSaveDBCommand"):
        # two workers post after-callbacks, so their order is not fixed
        assert sorted(c.body["clientMsgID"] for c in receiver.of(command)) == ["dup-1", "other"], command
