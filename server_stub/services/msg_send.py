"""REST send routes with custom (gin BindJSON) bodies: send_msg, batch_send_msg,
send_business_notification, send_simple_msg (spec rest-api §10)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import ContentType, MsgFrom, SessionType
from openim_sdk.protocol.errors import ArgsError, CodecError, NoPermissionError, ServerInternalError
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RawData, RequestContext, service
from ..rest import bind_error
from ..storage import now_ms
from .msg import new_msg_id, send_and_push

_ELEMENTS: dict[int, tuple[str, list[str]]] = {
    ContentType.TEXT: ("TextElem", ["content"]),
    ContentType.PICTURE: ("PictureElem", ["sourcePicture", "bigPicture", "snapshotPicture"]),
    ContentType.VOICE: ("SoundElem", ["sourceUrl", "duration"]),
    ContentType.VIDEO: ("VideoElem", ["videoUrl", "videoType", "videoSize", "duration", "snapshotUrl", "snapshotWidth",
                        "snapshotHeight"]),
    ContentType.FILE: ("FileElem", ["sourceUrl", "fileName", "fileSize"]),
    ContentType.AT_TEXT: ("AtElem", ["atUserList"]),
    ContentType.CUSTOM: ("CustomElem", ["data"]),
    ContentType.QUOTE: ("QuoteElem", []),
    ContentType.MARKDOWN_TEXT: ("MarkdownTextElem", ["content"]),
    ContentType.OA_NOTIFICATION: ("OANotificationElem", ["notificationName", "notificationType", "text"]),
}


def _ci(d: dict[str, Any]) -> dict[str, Any]:
    return {k.lower(): v for k, v in d.items()}


def _required(struct: str, field: str) -> Exception:
    name = field[0].upper() + field[1:]
    return bind_error(f"Key: '{struct}.{name}' Error:Field validation for '{name}' failed on the 'required' tag")


def _str(d: dict[str, Any], key: str) -> str:
    v = d.get(key.lower())
    if v is None:
        return ""
    if not isinstance(v, str):
        raise bind_error(f"json: cannot unmarshal {type(v).__name__} into Go struct field .{key} of type string")
    return v


def _int(d: dict[str, Any], key: str) -> int:
    v = d.get(key.lower())
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise bind_error(f"json: cannot unmarshal {type(v).__name__} into Go struct field .{key} of type int32")
    return v


def _bool(d: dict[str, Any], key: str) -> bool:
    v = d.get(key.lower())
    if v is None:
        return False
    if not isinstance(v, bool):
        raise bind_error(f"json: cannot unmarshal {type(v).__name__} into Go struct field .{key} of type bool")
    return v


def _push_info(d: dict[str, Any]) -> sdkws_pb2.OfflinePushInfo | None:
    v = d.get("offlinepushinfo")
    if v is None:
        return None
    try:
        return jsoncodec.from_go_json(sdkws_pb2.OfflinePushInfo, v)
    except CodecError as exc:
        raise bind_error(exc.message) from None


def _build(ctx: RequestContext, d: dict[str, Any], recv_id: str, struct: str = "SendMsgReq.SendMsg",
           check_recv: bool = True) -> sdkws_pb2.MsgData:
    send_id = _str(d, "sendID")
    content = d.get("content")
    content_type, session_type = _int(d, "contentType"), _int(d, "sessionType")
    if not send_id:
        raise _required(struct, "sendID")
    if content is None:
        raise _required("SendMsgReq", "content")
    if not isinstance(content, dict):
        raise bind_error("json: cannot unmarshal into Go struct field SendMsgReq.content of type map[string]interface {}")
    if not content_type:
        raise _required(struct, "contentType")
    if not session_type:
        raise _required(struct, "sessionType")
    if check_recv and session_type in (1, 4) and not recv_id:
        raise _required("SendMsgReq", "recvID")
    group_id = _str(d, "groupID")
    if session_type in (2, 3) and not group_id:
        raise _required(struct, "groupID")
    return _message(ctx, d, send_id, recv_id, group_id, content, content_type, session_type)


def _message(ctx: RequestContext, d: dict[str, Any], send_id: str, recv_id: str, group_id: str,
             content: dict[str, Any], content_type: int, session_type: int) -> sdkws_pb2.MsgData:
    if content_type not in _ELEMENTS:
        raise ArgsError(detail="")
    elem, required = _ELEMENTS[content_type]
    for key in required:
        if key not in content or content[key] in (None, "", 0):
            name = key[0].upper() + key[1:]
            raise ServerInternalError(
                detail=f"Key: '{elem}.{name}' Error:Field validation for '{name}' failed on the 'required' tag")
    now = now_ms()
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    msg = sdkws_pb2.MsgData(
        sendID=send_id, recvID=recv_id, groupID=group_id, clientMsgID=new_msg_id(send_id),
        senderPlatformID=_int(d, "senderPlatformID"), senderNickname=_str(d, "senderNickname"),
        senderFaceURL=_str(d, "senderFaceURL"), sessionType=session_type, msgFrom=MsgFrom.SYSTEM,
        contentType=content_type, createTime=now, sendTime=_int(d, "sendTime") or 0, ex=_str(d, "ex"))
    if content_type == ContentType.AT_TEXT:
        msg.atUserIDList.extend(str(u) for u in content.get("atUserList") or [])
    if content_type == ContentType.OA_NOTIFICATION:
        msg.sessionType = SessionType.NOTIFICATION_CHAT
        body = json.dumps({"detail": body}, separators=(",", ":"))
    msg.content = body.encode()
    info = _push_info(d)
    if info is not None:
        msg.offlinePushInfo.CopyFrom(info)
    if _bool(d, "isOnlineOnly"):
        for k in ("history", "persistent", "senderSync", "conversationUpdate"):
            msg.options[k] = False
    if _bool(d, "notOfflinePush"):
        msg.options["offlinePush"] = False
    return msg


def _require_admin(ctx: RequestContext) -> None:
    if not ctx.is_admin:
        raise NoPermissionError(detail="only app manager can send message")


@service("/msg/send_msg")
async def _send_msg(ctx: RequestContext, body: dict[str, Any]) -> Any:
    d = _ci(body)
    msg = _build(ctx, d, _str(d, "recvID"))
    _require_admin(ctx)
    if msg.contentType == ContentType.OA_NOTIFICATION:
        users = await ctx.core.storage.get_users([msg.sendID])
        if msg.sendID not in users or users[msg.sendID].app_manger_level < 2:
            raise NoPermissionError(detail="sendID is not a notification account")
    resp = await send_and_push(ctx.core, msg, ctx.operation_id)
    return {"serverMsgID": resp.serverMsgID, "clientMsgID": resp.clientMsgID, "sendTime": resp.sendTime}


@service("/msg/batch_send_msg")
async def _batch_send(ctx: RequestContext, body: dict[str, Any]) -> Any:
    d = _ci(body)
    recv_ids = d.get("recvids")
    if recv_ids is None:
        raise _required("BatchSendMsgReq", "recvIDs")
    if not isinstance(recv_ids, list) or not all(isinstance(x, str) for x in recv_ids):
        raise bind_error("json: cannot unmarshal into Go struct field BatchSendMsgReq.recvIDs of type []string")
    template = _build(ctx, d, "", check_recv=False)
    _require_admin(ctx)
    if _bool(d, "isSendAll"):
        _, users = await ctx.core.storage.page_users(None, 0, 1 << 30)
        recv_ids = [u.user_id for u in users]
    results, failed = [], []
    for uid in dict.fromkeys(recv_ids):
        msg = sdkws_pb2.MsgData()
        msg.CopyFrom(template)
        msg.recvID = uid
        msg.clientMsgID = new_msg_id(msg.sendID, uid)
        try:
            r = await send_and_push(ctx.core, msg, ctx.operation_id)
        except Exception:  # noqa: BLE001 - reported per recipient
            failed.append(uid)
            continue
        results.append({"serverMsgID": r.serverMsgID, "clientMsgID": r.clientMsgID, "sendTime": r.sendTime,
                        "recvID": uid})
    return {"results": results, "failedUserIDs": failed}


@service("/msg/send_business_notification")
async def _business(ctx: RequestContext, body: dict[str, Any]) -> Any:
    d = _ci(body)
    send_id, recv_user, recv_group = _str(d, "sendUserID"), _str(d, "recvUserID"), _str(d, "recvGroupID")
    key, data = _str(d, "key"), _str(d, "data")
    if not key:
        raise _required("SendBusinessNotificationReq", "key")
    if not send_id:
        raise _required("SendBusinessNotificationReq", "sendUserID")
    _require_admin(ctx)
    if bool(recv_user) == bool(recv_group):
        raise ArgsError(detail="recvUserID and recvGroupID cannot be both empty or both set")
    level = _int(d, "reliabilityLevel") or 1
    detail = json.dumps({"key": key, "data": data}, separators=(",", ":"), ensure_ascii=False)
    now = now_ms()
    msg = sdkws_pb2.MsgData(
        sendID=send_id, recvID=recv_user, groupID=recv_group, clientMsgID=new_msg_id(send_id),
        sessionType=SessionType.READ_GROUP_CHAT if recv_group else SessionType.SINGLE_CHAT, msgFrom=MsgFrom.SYSTEM, contentType=ContentType.BUSINESS_NOTIFICATION,
        content=json.dumps({"detail": detail}, separators=(",", ":")).encode(), createTime=now, sendTime=now)
    stored = level > 1
    for k, v in {"isNotNotification": False, "isSendMsg": _bool(d, "sendMsg"), "history": stored,
                 "persistent": stored}.items():
        msg.options[k] = v
    resp = await send_and_push(ctx.core, msg, ctx.operation_id)
    return {"serverMsgID": resp.serverMsgID, "clientMsgID": resp.clientMsgID, "sendTime": resp.sendTime}


@service("/msg/send_simple_msg")
async def _simple(ctx: RequestContext, body: dict[str, Any]) -> Any:
    d = _ci(body)
    raw_key = ctx.query.get("key", "")
    try:
        key = _ci(json.loads(base64.b64decode(raw_key + "=" * (-len(raw_key) % 4), altchars=b"-_")
                             if "-" in raw_key or "_" in raw_key else base64.b64decode(raw_key + "=" * (-len(raw_key) % 4))))
    except (ValueError, binascii.Error):
        raise ArgsError(detail="key is invalid") from None
    text = d.get("content")
    if not isinstance(text, str) or not text:
        raise _required("SendSimpleMsgReq", "content")
    group_id = str(key.get("groupid") or "")
    if group_id:
        send_id, recv_id, session = str(key.get("sendid") or ""), "", 3
    else:  # the key's recvID answers its sendID
        send_id, recv_id, session = str(key.get("recvid") or ""), str(key.get("sendid") or ""), 1
    if not send_id:
        raise ArgsError(detail="sendID is empty")
    ctx.check_access(send_id)
    msg = _message(ctx, d, send_id, recv_id, group_id, {"content": text}, ContentType.MARKDOWN_TEXT, session)
    msg.msgFrom = MsgFrom.USER
    resp = await send_and_push(ctx.core, msg, ctx.operation_id, sender_is_admin=ctx.is_admin)
    return {"serverMsgID": resp.serverMsgID, "clientMsgID": resp.clientMsgID, "sendTime": resp.sendTime}


_ = (RawData, msg_pb2)
