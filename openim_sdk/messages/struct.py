"""The official core's ``MsgStruct`` JSON for a message: what a quote embeds, a merger carries
and a conversation keeps as its latest message.

On the wire ``MsgData.content`` is one element's JSON (``{"content": "hi"}`` for a text); in a
``MsgStruct`` the same element sits under its key (``"textElem"``), next to the header fields.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..protocol.constants import ContentType, is_notification_content
from ..protocol.pb.sdkws import sdkws_pb2

if TYPE_CHECKING:
    from ..models import Message

#: content type -> the MsgStruct key its element goes under (sdk_struct.MsgStruct).
ELEM_KEYS: dict[int, str] = {
    ContentType.TEXT: "textElem",
    ContentType.PICTURE: "pictureElem",
    ContentType.VOICE: "soundElem",
    ContentType.VIDEO: "videoElem",
    ContentType.FILE: "fileElem",
    ContentType.AT_TEXT: "atTextElem",
    ContentType.MERGER: "mergeElem",
    ContentType.CARD: "cardElem",
    ContentType.LOCATION: "locationElem",
    ContentType.CUSTOM: "customElem",
    ContentType.TYPING: "typingElem",
    ContentType.QUOTE: "quoteElem",
    ContentType.FACE: "faceElem",
    ContentType.ADVANCED_TEXT: "advancedTextElem",
    ContentType.MARKDOWN_TEXT: "markdownTextElem",
}


def elem_key(content_type: int) -> str:
    if content_type in ELEM_KEYS:
        return ELEM_KEYS[content_type]
    return "notificationElem" if is_notification_content(content_type) else "customElem"


def decode_content(content: bytes | str) -> dict[str, Any]:
    """A content element as a dict (``{}`` when empty or not a JSON object)."""
    try:
        value = json.loads(content) if content else {}
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def msg_struct(m: sdkws_pb2.MsgData, *, local_ex: str = "") -> dict[str, Any]:
    """``m`` as the official core's MsgStruct (omitempty fields left out when empty)."""
    out: dict[str, Any] = {
        "clientMsgID": m.clientMsgID, "serverMsgID": m.serverMsgID, "createTime": m.createTime,
        "sendTime": m.sendTime, "sessionType": m.sessionType, "sendID": m.sendID, "recvID": m.recvID,
        "msgFrom": m.msgFrom, "contentType": m.contentType, "senderPlatformID": m.senderPlatformID,
        "senderNickname": m.senderNickname, "senderFaceUrl": m.senderFaceURL, "groupID": m.groupID,
        "seq": m.seq, "isRead": m.isRead, "status": m.status, "attachedInfo": m.attachedInfo, "ex": m.ex,
        "localEx": local_ex,
    }
    out = {k: v for k, v in out.items() if v != "" or k in ("createTime", "sendTime")}
    if m.HasField("offlinePushInfo"):
        p = m.offlinePushInfo
        out["offlinePush"] = {"title": p.title, "desc": p.desc, "ex": p.ex, "iOSPushSound": p.iOSPushSound,
                              "iOSBadgeCount": p.iOSBadgeCount}
    out[elem_key(m.contentType)] = decode_content(m.content)
    return out


def struct_content(struct: dict[str, Any]) -> dict[str, Any]:
    """The wire content element of a MsgStruct (the inverse of the element part of :func:`msg_struct`)."""
    key = elem_key(int(struct.get("contentType", 0)))
    value = struct.get(key)
    return dict(value) if isinstance(value, dict) else {}


def message_struct(m: Message) -> dict[str, Any]:
    """A cached :class:`~openim_sdk.models.Message` as MsgStruct (what :func:`quote`, :func:`merger`
    and :func:`forward` take)."""
    md = sdkws_pb2.MsgData(
        clientMsgID=m.client_msg_id, serverMsgID=m.server_msg_id, sendID=m.send_id, recvID=m.recv_id,
        groupID=m.group_id, sessionType=m.session_type, contentType=m.content_type,
        content=m.content_json.encode(), seq=m.seq, sendTime=m.send_time, createTime=m.create_time,
        status=m.status, isRead=m.is_read, senderNickname=m.sender_nickname, ex=m.ex,
        atUserIDList=list(m.at_user_ids), msgFrom=100,
    )
    return msg_struct(md, local_ex=m.local_ex)
