"""JSON bodies of the callbacks, field for field as upstream's ``pkg/callbackstruct/*.go``
(names, JSON tags and the odd ones kept: ``atUserList`` in the common message part,
``faceURL`` for the sender's face, ``blackUserID`` for the friend-agree target, ``HandleResult``)."""

from __future__ import annotations

import base64
import json
from typing import Any

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import platform_name
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

NOTIFICATION_BEGIN, NOTIFICATION_END = 1000, 5000
TYPING = 113
SINGLE, GROUP = 1, 3

# callbackCommand names (pkg/callbackstruct/constant.go)
CMD: dict[str, str] = {
    "beforeSendSingleMsg": "callbackBeforeSendSingleMsgCommand",
    "afterSendSingleMsg": "callbackAfterSendSingleMsgCommand",
    "beforeSendGroupMsg": "callbackBeforeSendGroupMsgCommand",
    "afterSendGroupMsg": "callbackAfterSendGroupMsgCommand",
    "beforeMsgModify": "callbackBeforeMsgModifyCommand",
    "afterMsgSaveDB": "callbackAfterMsgSaveDBCommand",
    "afterUserOnline": "callbackAfterUserOnlineCommand",
    "afterUserOffline": "callbackAfterUserOfflineCommand",
    "afterUserKickOff": "callbackAfterUserKickOffCommand",
    "beforeOfflinePush": "callbackBeforeOfflinePushCommand",
    "beforeAddFriend": "callbackBeforeAddFriendCommand",
    "afterAddFriend": "callbackAfterAddFriendCommand",
    "beforeAddFriendAgree": "callbackBeforeAddFriendAgreeCommand",
    "afterAddFriendAgree": "callbackAfterAddFriendAgreeCommand",
    "afterDeleteFriend": "callbackAfterDeleteFriendCommand",
    "beforeAddBlack": "callbackBeforeAddBlackCommand",
    "afterRemoveBlack": "callbackAfterRemoveBlackCommand",
    "beforeSetFriendRemark": "callbackBeforeSetFriendRemarkCommand",
    "afterSetFriendRemark": "callbackAfterSetFriendRemarkCommand",
    "beforeUpdateUserInfo": "callbackBeforeUpdateUserInfoCommand",
    "afterUpdateUserInfo": "callbackAfterUpdateUserInfoCommand",
    "beforeUserRegister": "callbackBeforeUserRegisterCommand",
    "afterUserRegister": "callbackAfterUserRegisterCommand",
    "beforeCreateGroup": "callbackBeforeCreateGroupCommand",
    "afterCreateGroup": "callbackAfterCreateGroupCommand",
    "beforeMemberJoinGroup": "callbackBeforeMembersJoinGroupCommand",
    "beforeOnlinePush": "callbackBeforeOnlinePushCommand",
    "beforeGroupOnlinePush": "callbackBeforeGroupOnlinePushCommand",
    "beforeApplyJoinGroup": "callbackBeforeJoinGroupCommand",
    "afterJoinGroup": "callbackAfterJoinGroupCommand",
    "beforeInviteUserToGroup": "callbackBeforeInviteJoinGroupCommand",
    "afterQuitGroup": "callbackAfterQuitGroupCommand",
    "afterKickGroupMember": "callbackAfterKickGroupCommand",
    "afterDismissGroup": "callbackAfterDisMissGroupCommand",
    "beforeSetGroupInfo": "callbackBeforeSetGroupInfoCommand",
    "afterSetGroupInfo": "callbackAfterSetGroupInfoCommand",
    "afterTransferGroupOwner": "callbackAfterTransferGroupOwnerCommand",
    "afterRevokeMsg": "callbackBeforeAfterMsgCommand",  # sic, upstream's constant
    "afterSingleMsgRead": "callbackAfterSingleMsgReadCommand",
    "afterGroupMsgRead": "callbackAfterGroupMsgReadCommand",
    "beforeImportFriends": "callbackBeforeImportFriendsCommand",
    "afterImportFriends": "callbackAfterImportFriendsCommand",
    "beforeSetGroupMemberInfo": "callbackBeforeSetGroupMemberInfoCommand",
    "afterSetGroupMemberInfo": "callbackAfterSetGroupMemberInfoCommand",
    "beforeSetGroupInfoEx": "callbackBeforeSetGroupInfoExCommand",
    "afterSetGroupInfoEx": "callbackAfterSetGroupInfoExCommand",
    "beforeUpdateUserInfoEx": "callbackBeforeUpdateUserInfoExCommand",
    "afterUpdateUserInfoEx": "callbackAfterUpdateUserInfoExCommand",
    "beforeCreateSingleChatConversations": "callbackBeforeCreateSingleChatConversationsCommand",
    "afterCreateSingleChatConversations": "callbackAfterCreateSingleChatConversationsCommand",
    "beforeCreateGroupChatConversations": "callbackBeforeCreateGroupChatConversationsCommand",
    "afterCreateGroupChatConversations": "callbackAfterCreateGroupChatConversationsCommand",
}


def is_denied(msg: sdkws_pb2.MsgData, denied: tuple[int, ...], attention: tuple[str, ...] = ()) -> bool:
    """``internal/rpc/msg/filter.go``: notification types and typing never call back; then
    ``deniedTypes``; ``attentionIds`` (after-callbacks) keeps only the listed recvIDs/groupIDs."""
    if NOTIFICATION_BEGIN <= msg.contentType <= NOTIFICATION_END or msg.contentType == TYPING:
        return True
    if msg.contentType in denied:
        return True
    if attention:
        target = msg.groupID if msg.sessionType == GROUP else msg.recvID
        return target not in attention
    return False


def content_text(msg: sdkws_pb2.MsgData) -> str:
    """``GetContent``: the content as a string (a notification's ``detail``)."""
    if NOTIFICATION_BEGIN <= msg.contentType <= NOTIFICATION_END:
        try:
            return str(json.loads(msg.content).get("detail", ""))
        except (ValueError, AttributeError):
            return ""
    return msg.content.decode("utf-8", "replace")


def common_msg(msg: sdkws_pb2.MsgData, command: str, operation_id: str, seq: int = 0) -> dict[str, Any]:
    """``CommonCallbackReq`` (``internal/rpc/msg/callback.go`` toCommonCallback). Upstream sends
    seq 0 from the send path (the seq is assigned later, in msgtransfer); afterMsgSaveDB has it."""
    return {
        "sendID": msg.sendID, "callbackCommand": command, "serverMsgID": msg.serverMsgID,
        "clientMsgID": msg.clientMsgID, "operationID": operation_id,
        "senderPlatformID": msg.senderPlatformID, "senderNickname": msg.senderNickname,
        "sessionType": msg.sessionType, "msgFrom": msg.msgFrom, "contentType": msg.contentType,
        "status": msg.status, "sendTime": msg.sendTime, "createTime": msg.createTime,
        "content": content_text(msg), "seq": seq, "atUserList": list(msg.atUserIDList) or None,
        "faceURL": msg.senderFaceURL, "ex": msg.ex,
    }


def key_query(msg: sdkws_pb2.MsgData) -> dict[str, str]:
    """``buildKeyMsgDataQuery``: ``?key=`` base64 of ``{"sendID","recvID","groupID"}``."""
    raw = json.dumps({"sendID": msg.sendID, "recvID": msg.recvID, "groupID": msg.groupID},
                     separators=(",", ":"))
    return {"key": base64.b64encode(raw.encode()).decode()}


def user_status(command: str, operation_id: str, platform_id: int, **more: Any) -> dict[str, Any]:
    """``UserStatusBaseCallback`` + the given fields (``pkg/callbackstruct/common.go``)."""
    return {"callbackCommand": command, "operationID": operation_id, "platformID": platform_id,
            "platform": platform_name(platform_id), **more}


def offline_push(msg: sdkws_pb2.MsgData, user_ids: list[str], operation_id: str) -> dict[str, Any]:
    """``CallbackBeforePushReq``: the embedded ``*OfflinePushInfo`` is flattened (omitempty)."""
    body = user_status(CMD["beforeOfflinePush"], operation_id, msg.senderPlatformID, userIDList=user_ids)
    if msg.HasField("offlinePushInfo"):
        body.update({k: v for k, v in jsoncodec.to_go_dict(msg.offlinePushInfo).items() if v})
    body.update({"clientMsgID": msg.clientMsgID, "sendID": msg.sendID, "groupID": msg.groupID,
                 "contentType": msg.contentType, "sessionType": msg.sessionType,
                 "atUserIDList": list(msg.atUserIDList) or None, "content": content_text(msg)})
    return body


def apply_modify(msg: sdkws_pb2.MsgData, reply: dict[str, Any]) -> None:
    """``webhookBeforeMsgModify``: every field the reply carries (non-null) replaces the message's.
    ``content`` must be JSON (1001 otherwise). Routing fields (recvID, groupID, sessionType,
    clientMsgID, serverMsgID) are not applied: the stub routes before the callback."""
    from openim_sdk.protocol.errors import ArgsError

    content = reply.get("content")
    if content is not None:
        try:
            json.loads(str(content))
        except ValueError:
            raise ArgsError(detail=f"webhook msg modify content is not json, content {content}") from None
        msg.content = str(content).encode()
    for key, attr in (("senderPlatformID", "senderPlatformID"), ("senderNickname", "senderNickname"),
                      ("senderFaceURL", "senderFaceURL"), ("msgFrom", "msgFrom"),
                      ("contentType", "contentType"), ("status", "status"), ("attachedInfo", "attachedInfo"),
                      ("ex", "ex")):
        if reply.get(key) is not None:
            setattr(msg, attr, type(getattr(msg, attr))(reply[key]))
    if isinstance(reply.get("options"), dict):
        msg.options.clear()
        msg.options.update({str(k): bool(v) for k, v in reply["options"].items()})
    if isinstance(reply.get("atUserIDList"), list):
        del msg.atUserIDList[:]
        msg.atUserIDList.extend(str(u) for u in reply["atUserIDList"])
    if isinstance(reply.get("offlinePushInfo"), dict):
        msg.offlinePushInfo.CopyFrom(jsoncodec.from_go_json(sdkws_pb2.OfflinePushInfo, reply["offlinePushInfo"]))




def now_ms() -> int:
    import time

    return int(time.time() * 1000)
