"""Delivery rules of the send path, as open-im-server v3.8 applies them:

- receive options of a single chat's receiver (global, then per conversation);
- who would get an offline (vendor) push: not online, not the sender, and for a group not a
  member whose conversation is set to "do not disturb";
- the @-mention state (``groupAtType``) of the mentioned members' group conversations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import (
    AT_ALL_TAG,
    ContentType,
    GroupAtType,
    MsgOption,
    RecvMsgOpt,
    SessionType,
    option_is_set,
)
from openim_sdk.protocol.errors import ArgsError
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..repos.conversations import conversation_holders
from .conversation_state import set_and_notify, template_for

if TYPE_CHECKING:
    from ..app import ServerCore
    from ..policies import SingleChatFacts

#: Content types a "do not receive" conversation still lets through (upstream verify.go ExcludeContentType).
_EXCLUDED = (ContentType.HAS_READ_RECEIPT,)


def _no_offline_push(msg: sdkws_pb2.MsgData) -> None:
    msg.options[MsgOption.OFFLINE_PUSH] = False


def apply_receive_options(msg: sdkws_pb2.MsgData, facts: SingleChatFacts) -> None:
    """Single chat, not a notification: the receiver's global option, then their record of the
    conversation (both in ``facts``). 1 refuses the send (1001 "message is not sent", nothing
    stored or pushed); 2 clears ``offlinePush``. (upstream internal/rpc/msg/verify.go
    modifyMessageByUserMessageReceiveOpt, called by send.go sendMsgSingleChat.)"""
    global_opt = facts.receiver_opt if facts.receiver_opt is not None else RecvMsgOpt.RECEIVE
    if global_opt == RecvMsgOpt.NOT_RECEIVE:
        raise ArgsError(detail="message is not sent")
    if global_opt == RecvMsgOpt.NOT_NOTIFY:
        _no_offline_push(msg)
        return
    if facts.receiver_conversation is None:
        return
    opt = conversation_pb2.Conversation.FromString(facts.receiver_conversation).recvMsgOpt
    if opt == RecvMsgOpt.NOT_RECEIVE and msg.contentType not in _EXCLUDED:
        raise ArgsError(detail="message is not sent")
    if opt == RecvMsgOpt.NOT_NOTIFY:
        _no_offline_push(msg)


async def offline_push_candidates(core: ServerCore, msg: sdkws_pb2.MsgData, cid: str,
                                  recipients: list[str]) -> list[str]:
    """Users an offline push would go to if they are not online when the message is pushed.

    None when ``offlinePush`` is off. Single chat: the receiver. Group: every member but the
    sender, less those whose group conversation has a receive option other than 0
    (upstream internal/push/push_handler.go Push2User / Push2Group, filterGroupMessageOfflinePush
    -> conversation.go GetConversationOfflinePushUserIDs)."""
    if not option_is_set(msg.options, MsgOption.OFFLINE_PUSH):
        return []
    if msg.sessionType != SessionType.READ_GROUP_CHAT:
        return [msg.recvID] if msg.recvID and msg.recvID != msg.sendID else []

    def quiet(conn: Any) -> set[str]:
        out = set()
        for owner, _, data in conversation_holders(conn, cid):
            if conversation_pb2.Conversation.FromString(data).recvMsgOpt != RecvMsgOpt.RECEIVE:
                out.add(owner)
        return out

    muted = await core.storage.read(quiet)
    return [u for u in recipients if u != msg.sendID and u not in muted]


def mention_states(msg: sdkws_pb2.MsgData, members: list[str]) -> dict[str, int]:
    """userID -> groupAtType a group @-message gives (upstream internal/rpc/msg/send.go
    setConversationAtInfo): @all -> every member but the sender gets "at all", those also named
    get "at all and at me"; otherwise the named members get "at me"."""
    ats = list(dict.fromkeys(msg.atUserIDList))
    member_set = set(members)
    if AT_ALL_TAG in ats:
        others = [u for u in members if u != msg.sendID]
        named = {u for u in ats if u != AT_ALL_TAG and u in others}
        return {u: GroupAtType.AT_ALL_AT_ME if u in named else GroupAtType.AT_ALL for u in others}
    return {u: GroupAtType.AT_ME for u in ats if u in member_set}


async def apply_mentions(core: ServerCore, msg: sdkws_pb2.MsgData, cid: str, members: list[str],
                         operation_id: str) -> None:
    """Set the mention state on the members' conversations; 1300 to those whose record changed."""
    if msg.sessionType != SessionType.READ_GROUP_CHAT or msg.contentType != ContentType.AT_TEXT:
        return
    states = mention_states(msg, members)
    if not states:
        return
    await set_and_notify(core, cid, {u: {"groupAtType": int(v)} for u, v in states.items()},
                         template_for(cid, SessionType.READ_GROUP_CHAT, group_id=msg.groupID), operation_id)
