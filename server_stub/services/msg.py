"""Messages: send pipeline (WS 1003 and REST), read state, revoke, delete, clear (reads: msg_read.py)."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import ContentType, MsgFrom, SessionType, is_user_content
from openim_sdk.protocol.conversation_id import (
    conversation_id_for,
)
from openim_sdk.protocol.errors import (
    ArgsError,
    GroupNotFoundError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
)
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .. import access
from ..context import RawData, RequestContext, check_pagination, need, service
from ..storage import StoreRequest, now_ms
from . import msg_rules

if TYPE_CHECKING:
    from ..app import ServerCore

log = logging.getLogger("server_stub.msg")

MAX_PULL = 1000


def _opt(msg: sdkws_pb2.MsgData, key: str) -> bool:
    """Option lookup: absent key = true (server msgprocessor/options.go)."""
    return msg.options.get(key, True) if key in msg.options else True


def is_notification(msg: sdkws_pb2.MsgData) -> bool:
    return "isNotNotification" in msg.options and not msg.options["isNotNotification"]


def new_msg_id(*parts: object) -> str:
    """A fresh serverMsgID/clientMsgID: 32 hex digits, as upstream's (an MD5 there; 128 random
    bits here, which is what the ID needs: uniqueness). ``parts`` are not needed any more."""
    return os.urandom(16).hex()


# --------------------------------------------------------------------------- send


#: A 1:1/notification chat record the first message opens: (owner, peer, fields the before-reply set).
Opened = tuple[str, str, dict[str, Any]]


async def _opening_chat(core: ServerCore, msg: sdkws_pb2.MsgData, cid: str, operation_id: str) -> list[Opened]:
    """The records the first message of a 1:1 or notification chat opens, after
    beforeCreateSingleChatConversations accepted each (it may refuse: the message is not sent).
    Upstream calls it when the message transfer sees a conversation's first seq
    (internal/rpc/conversation/conversation.go CreateSingleChatConversations): the sender's record,
    then the receiver's; for a notification chat, the receiver's only. Empty when neither
    single-chat conversation callback is on, or the conversation has messages already."""
    hooks = core.webhooks
    st = msg.sessionType
    if st not in (SessionType.SINGLE_CHAT, SessionType.NOTIFICATION_CHAT) or not _opening_hooks(core):
        return []
    if await core.storage.conversation_max_seq(cid):
        return []
    if st == SessionType.NOTIFICATION_CHAT:
        records = [(msg.recvID, msg.sendID)]
    else:
        records = [(msg.sendID, msg.recvID)] + ([(msg.recvID, msg.sendID)] if msg.recvID != msg.sendID else [])
    return [(owner, peer, await hooks.before_create_single_chat_conversations(owner, cid, st, peer, operation_id))
            for owner, peer in records]


def _with_fields(owners: list[tuple[str, bytes]], opened: list[Opened]) -> list[tuple[str, bytes]]:
    """``owners``' record templates with the fields the before-replies set."""
    fields = {owner: f for owner, _, f in opened if f}
    out = []
    for owner, data in owners:
        if owner in fields:
            conv = conversation_pb2.Conversation.FromString(data)
            for key, value in fields[owner].items():
                setattr(conv, key, value)
            data = conv.SerializeToString()
        out.append((owner, data))
    return out


def _opening_hooks(core: ServerCore) -> bool:
    hooks = core.webhooks
    return hooks.enabled("beforeCreateSingleChatConversations") or hooks.enabled("afterCreateSingleChatConversations")


async def send_message(core: ServerCore, msg: sdkws_pb2.MsgData, operation_id: str,
                       sender_is_admin: bool = False,
                       queued: Callable[[], None] | None = None) -> tuple[msg_pb2.SendMsgResp, Callable[[], None]]:
    """Validate, persist (committed before returning) and return the reply plus a push callback.

    ``queued`` (the gateway's ordered sends, ws_pipeline.py) is called once this message's seq
    allocation is queued on the writer, so the next send of the connection may start; it is not
    called when an opening-chat webhook is on (that send's "first message?" read must see this one
    committed): then the next send starts when this one has finished."""
    st = msg.sessionType
    if st not in (SessionType.SINGLE_CHAT, SessionType.READ_GROUP_CHAT, SessionType.NOTIFICATION_CHAT):
        raise ArgsError(detail="unknown sessionType")
    if not sender_is_admin:
        check_user_message(msg)
    # a 1:1 send's lookups in one read: the sender, the relations, the receiver and their record
    facts = await core.policies.single_chat_facts(msg) if st != SessionType.READ_GROUP_CHAT and msg.recvID else None
    # blacklist 1302, friend verification 1303, group state 1201/1203/1204, mutes 1402/1403
    await core.policies.check_send(msg, sender_is_admin, facts)
    if st == SessionType.READ_GROUP_CHAT:
        members = await core.policies.group_members(msg.groupID)
        if members is None:
            raise GroupNotFoundError(detail=f"group {msg.groupID} not found")
        if msg.sendID not in members and not sender_is_admin:
            raise OpenIMError(1203, detail="you are not in this group")
        recipients = list(members)
    else:
        if facts is None:
            raise ArgsError(detail="recvID is empty")
        if not facts.receiver_exists:
            raise NotFoundError(1004, detail=f"recvID {msg.recvID} not found")
        recipients = [msg.recvID]
        if msg.sendID != msg.recvID and _opt(msg, "senderSync"):
            recipients.append(msg.sendID)
        if st == SessionType.SINGLE_CHAT and not is_notification(msg):
            msg_rules.apply_receive_options(msg, facts)  # 1001 when the receiver does not receive
    if msg.contentType == ContentType.TYPING and msg.options:
        for k in ("history", "persistent", "senderSync", "conversationUpdate", "unreadCount", "offlinePush"):
            msg.options[k] = False
    msg.serverMsgID = new_msg_id(msg.sendID)
    if not msg.sendTime:
        msg.sendTime = now_ms()
    msg.status = 2
    await core.webhooks.before_send(msg, operation_id, sender_is_admin)  # may refuse or modify
    stored = _opt(msg, "history")
    notification = is_notification(msg)
    cid = conversation_id_for(st, msg.sendID, msg.recvID, msg.groupID, notification=notification)
    opened = await _opening_chat(core, msg, cid, operation_id) if stored and not notification else []
    pushes: list[tuple[str, sdkws_pb2.MsgData]] = []
    reqs = []
    if stored:
        reqs.append(StoreRequest(cid, msg, [] if notification else _with_fields(_owners(msg, cid, recipients), opened),
                                 "" if notification else msg.sendID, idempotent=not notification))
    else:
        pushes.append((cid, msg))
    if notification and _opt(msg, "isSendMsg"):  # a timeline copy with a seq in the chat conversation
        chat_cid = conversation_id_for(st, msg.sendID, msg.recvID, msg.groupID)
        clone = timeline_copy(msg)
        msg.options["unreadCount"] = False  # the n_ copy counts nothing, the chat copy does
        msg.options["offlinePush"] = False
        reqs.append(StoreRequest(chat_cid, clone, _owners(clone, chat_cid, recipients), msg.sendID))
    if reqs:
        await core.storage.store_messages(reqs, send_status=(operation_id, 2),
                                          queued=None if _opening_hooks(core) else queued)
        if not (stored and reqs[0].duplicate):
            pushes += [(r.conversation_id, r.msg) for r in reqs]
            if stored:
                await msg_rules.apply_mentions(core, msg, cid, recipients, operation_id)
    offline = await msg_rules.offline_push_candidates(core, msg, cid, recipients) if pushes else []
    if not reqs:  # stored messages have their send status written in their own transaction
        await core.storage.set_send_status(operation_id, 2)
    core.webhooks.after_send(msg, recipients, operation_id, duplicate=not pushes)
    for owner, peer, fields in opened:
        core.webhooks.after_create_single_chat_conversations(owner, cid, st, peer, operation_id, fields)
    resp = msg_pb2.SendMsgResp(serverMsgID=msg.serverMsgID, clientMsgID=msg.clientMsgID, sendTime=msg.sendTime)

    def push_online(users: list[str]) -> None:
        for pcid, pmsg in pushes:
            core.hub.push_message(users, pcid, pmsg, operation_id)

    def push_offline(users: list[str], info: sdkws_pb2.OfflinePushInfo | None) -> None:
        pcid, pmsg = pushes[0]
        if info is not None:  # beforeOfflinePush replaced the push info: the stored message keeps its own
            pmsg = sdkws_pb2.MsgData()
            pmsg.CopyFrom(pushes[0][1])
            pmsg.offlinePushInfo.CopyFrom(info)
        core.hub.offline_push(users, pcid, pmsg, operation_id)

    # online push, then offline push of the candidates the online push missed; the webhooks
    # (beforeOnlinePush/beforeGroupOnlinePush, beforeOfflinePush) gate and filter both
    return resp, core.webhooks.push(msg, recipients, offline, push_online, push_offline, operation_id)


def timeline_copy(msg: sdkws_pb2.MsgData) -> sdkws_pb2.MsgData:
    """The copy of an ``isSendMsg`` notification stored in the chat conversation: fresh options
    holding only offlinePush and unreadCount (absent keys read as true, so it is an ordinary
    message: history, persistent, conversationUpdate), as upstream's msgtransfer
    ``categorizeMessageLists`` (internal/msgtransfer/online_history_msg_handler.go) does."""
    clone = sdkws_pb2.MsgData()
    clone.CopyFrom(msg)
    clone.options.clear()
    clone.options["offlinePush"] = _opt(msg, "offlinePush")
    clone.options["unreadCount"] = _opt(msg, "unreadCount")
    return clone


def check_user_message(msg: sdkws_pb2.MsgData) -> None:
    """What an ordinary user may send (stricter than upstream, docs/spec/security-differences.md):
    user content types only (no notification/system types 1000-5000, no legacy revoke 111), as a
    user (``msgFrom`` 100), to a single or group chat, never flagged as a notification."""
    ct = msg.contentType
    if not is_user_content(ct) or ct == ContentType.REVOKE:
        raise ArgsError(detail=f"contentType {ct} is reserved for the server")
    if msg.sessionType == SessionType.NOTIFICATION_CHAT:
        raise ArgsError(detail="sessionType 4 (notification chat) is reserved for notification accounts")
    if msg.msgFrom not in (0, MsgFrom.USER):
        raise ArgsError(detail=f"msgFrom {msg.msgFrom} is reserved for the server")
    if is_notification(msg):
        raise ArgsError(detail="options.isNotNotification=false is reserved for the server")
    msg.msgFrom = MsgFrom.USER


def _owners(msg: sdkws_pb2.MsgData, cid: str, recipients: list[str]) -> list[tuple[str, bytes]]:
    out = []
    if msg.sessionType == SessionType.READ_GROUP_CHAT:
        for uid in recipients:
            out.append((uid, conversation_pb2.Conversation(
                ownerUserID=uid, conversationID=cid, conversationType=msg.sessionType,
                groupID=msg.groupID).SerializeToString()))
        return out
    for owner, peer in ((msg.sendID, msg.recvID), (msg.recvID, msg.sendID)):
        out.append((owner, conversation_pb2.Conversation(
            ownerUserID=owner, conversationID=cid, conversationType=msg.sessionType,
            userID=peer).SerializeToString()))
        if owner == peer:
            break
    return out


async def send_and_push(core: ServerCore, msg: sdkws_pb2.MsgData, operation_id: str,
                        sender_is_admin: bool = True) -> msg_pb2.SendMsgResp:
    resp, push = await send_message(core, msg, operation_id, sender_is_admin)
    push()
    return resp


async def notify(core: ServerCore, send_id: str, recv_id: str, content_type: int, session_type: int,
                 tips: Any, operation_id: str, stored: bool = True, send_msg: bool = False) -> None:
    """A server notification (msgFrom 200, ``{"detail": <tips JSON>}``) in the ``n_`` conversation;
    with ``send_msg`` (upstream ``isSendMsg``) also a copy with a seq in the chat conversation
    (unreadCount on, as upstream pkg/common/config/parse.go ``GetOptionsByNotification``)."""
    now = now_ms()
    detail = jsoncodec.dumps(tips).decode()
    msg = sdkws_pb2.MsgData(
        sendID=send_id, recvID=recv_id if session_type != SessionType.READ_GROUP_CHAT else "",
        groupID=recv_id if session_type == SessionType.READ_GROUP_CHAT else "",
        clientMsgID=new_msg_id(send_id, recv_id), sessionType=session_type, msgFrom=MsgFrom.SYSTEM,
        contentType=content_type, content=json.dumps({"detail": detail}, separators=(",", ":")).encode(),
        createTime=now, sendTime=now, senderPlatformID=10,
    )
    for k, v in {"isNotNotification": False, "isSendMsg": send_msg, "history": stored, "persistent": stored,
                 "unreadCount": send_msg, "conversationUpdate": False, "offlinePush": False}.items():
        msg.options[k] = v
    try:
        await send_and_push(core, msg, operation_id)
    except OpenIMError as err:
        log.warning("notification %d %s->%s failed: %s", content_type, send_id, recv_id, err)


# --------------------------------------------------------------------------- REST routes


@service("/msg/get_server_time")
async def _server_time(ctx: RequestContext, req: Any) -> Any:
    return msg_pb2.GetServerTimeResp(serverTime=now_ms())


@service("/msg/check_msg_is_send_success")
async def _check_send(ctx: RequestContext, req: Any) -> Any:
    return msg_pb2.GetSendMsgStatusResp(status=await ctx.core.storage.get_send_status(ctx.operation_id))


async def require_readable(ctx: RequestContext, user_id: str, cid: str) -> None:
    """1002 unless ``user_id`` may read ``cid`` (server_stub/access.py; admins may read all)."""
    if not await access.can_read(ctx.core, user_id, cid, ctx.is_admin):
        raise NoPermissionError(detail=f"{user_id} is not in conversation {cid}")


async def _conversation_of(ctx: RequestContext, user_id: str, cid: str) -> tuple[conversation_pb2.Conversation, int]:
    await require_readable(ctx, user_id, cid)
    rows = await ctx.core.storage.conversations(user_id, [cid])
    if not rows:
        raise NotFoundError(1004, detail=f"conversation {cid} not found")
    return conversation_pb2.Conversation.FromString(rows[0].data), rows[0].has_read_seq


def _peer(conv: conversation_pb2.Conversation) -> str:
    return conv.groupID if conv.conversationType == SessionType.READ_GROUP_CHAT else conv.userID


def _v_revoke(req: Any) -> None:
    need(req.conversationID, "conversationID is empty")
    need(req.seq >= 0, "seq is invalid")
    need(req.userID, "userID is empty")


@service("/msg/revoke_msg", _v_revoke)
async def _revoke(ctx: RequestContext, req: msg_pb2.RevokeMsgReq) -> Any:
    ctx.check_access(req.userID)
    await require_readable(ctx, req.userID, req.conversationID)
    rows = await ctx.core.storage.messages_by_seqs(req.conversationID, [req.seq])
    row = rows.get(req.seq)
    if row is None:
        raise NotFoundError(1004, detail="msg not found")
    if row.revoke is not None:
        raise OpenIMError(1404, detail="msg already revoke")
    m = sdkws_pb2.MsgData.FromString(row.data)
    if m.sendID != req.userID and not ctx.is_admin:
        if m.sessionType == SessionType.READ_GROUP_CHAT:
            if not await ctx.core.policies.can_revoke_in_group(m.groupID, req.userID, m.sendID):
                raise NoPermissionError(detail="no permission to revoke this message")
        else:
            raise NoPermissionError(detail="only the sender can revoke")
    users = await ctx.core.storage.get_users([req.userID, m.sendID])
    role = await revoker_role(ctx, req.userID, m, users)
    now = now_ms()
    content = sdkws_pb2.MessageRevokedContent(
        revokerID=req.userID, revokerRole=role, clientMsgID=m.clientMsgID,
        revokerNickname=users[req.userID].nickname if req.userID in users else "", revokeTime=now,
        sourceMessageSendTime=m.sendTime, sourceMessageSendID=m.sendID,
        sourceMessageSenderNickname=m.senderNickname, sessionType=m.sessionType, seq=req.seq)
    if not await ctx.core.storage.set_revoke(req.conversationID, req.seq, jsoncodec.dumps(content)):
        raise OpenIMError(1404, detail="msg already revoke")
    tips = sdkws_pb2.RevokeMsgTips(revokerUserID=req.userID, clientMsgID=m.clientMsgID, revokeTime=now,
                                   sesstionType=m.sessionType, seq=req.seq, conversationID=req.conversationID,
                                   isAdminRevoke=ctx.is_admin)
    recv = m.groupID if m.sessionType == SessionType.READ_GROUP_CHAT else (
        m.recvID if m.sendID == req.userID else m.sendID)
    await notify(ctx.core, req.userID, recv, ContentType.MSG_REVOKE_NOTIFICATION, m.sessionType, tips, ctx.operation_id)
    ctx.core.webhooks.after_revoke(req.conversationID, req.seq, req.userID, ctx.operation_id)
    return msg_pb2.RevokeMsgResp()


async def revoker_role(ctx: RequestContext, user_id: str, m: sdkws_pb2.MsgData, users: dict[str, Any]) -> int:
    """``revokerRole`` as upstream internal/rpc/msg/revoke.go: 0 when an app admin revokes; in a
    single chat the revoker's appMangerLevel; in a group the revoker's role level (100/60/20)."""
    if ctx.is_admin:
        return 0
    if m.sessionType == SessionType.READ_GROUP_CHAT:
        from ..repos import relations as rs

        member = await ctx.core.storage.run(lambda c: rs.member(c, m.groupID, user_id))
        return member.roleLevel if member is not None else 0
    u = users.get(user_id)
    return u.app_manger_level if u is not None else 0


def _v_mark_msgs(req: Any) -> None:
    need(req.conversationID, "conversationID is empty")
    need(len(req.seqs) > 0, "seqs is empty")
    need(req.userID, "userID is empty")
    need(all(s != 0 for s in req.seqs), "seqs has 0 value is invalid")


async def _read_receipt(ctx: RequestContext, user_id: str, conv: conversation_pb2.Conversation,
                        seqs: list[int], has_read: int) -> None:
    tips = sdkws_pb2.MarkAsReadTips(markAsReadUserID=user_id, conversationID=conv.conversationID,
                                    seqs=seqs, hasReadSeq=has_read)
    await notify(ctx.core, user_id, _peer(conv) or user_id, ContentType.HAS_READ_RECEIPT,
                 conv.conversationType or SessionType.SINGLE_CHAT, tips, ctx.operation_id)


@service("/msg/mark_msgs_as_read", _v_mark_msgs)
async def _mark_msgs(ctx: RequestContext, req: msg_pb2.MarkMsgsAsReadReq) -> Any:
    ctx.check_access(req.userID)
    conv, current = await _conversation_of(ctx, req.userID, req.conversationID)
    max_seq = (await ctx.core.storage.seq_info([req.conversationID])).get(req.conversationID, (0, 0, 0))[0]
    seqs = list(req.seqs)
    if seqs[-1] > max_seq:
        raise ArgsError(detail="seq > maxSeq")
    has_read = max(current, max(seqs))
    await ctx.core.storage.set_has_read_seq(req.userID, req.conversationID, has_read)
    if conv.conversationType == SessionType.SINGLE_CHAT:
        await ctx.core.storage.mark_read(req.conversationID, seqs)
    await _read_receipt(ctx, req.userID, conv, seqs, has_read)
    ctx.core.webhooks.after_single_msg_read(req.conversationID, req.userID, seqs, conv.conversationType, ctx.operation_id)
    return msg_pb2.MarkMsgsAsReadResp()


def _v_mark_conv(req: Any) -> None:
    need(req.conversationID, "conversationID is empty")
    need(req.userID, "userID is empty")
    need(req.hasReadSeq >= 1, "hasReadSeq is invalid")
    need(all(s != 0 for s in req.seqs), "seqs has 0 value is invalid")


@service("/msg/mark_conversation_as_read", _v_mark_conv)
async def _mark_conv(ctx: RequestContext, req: msg_pb2.MarkConversationAsReadReq) -> Any:
    ctx.check_access(req.userID)
    conv, current = await _conversation_of(ctx, req.userID, req.conversationID)
    max_seq = (await ctx.core.storage.seq_info([req.conversationID])).get(req.conversationID, (0, 0, 0))[0]
    if req.hasReadSeq > max_seq:
        raise ArgsError(detail="hasReadSeq > maxSeq")
    seqs = list(req.seqs)
    if req.hasReadSeq > current:
        await ctx.core.storage.set_has_read_seq(req.userID, req.conversationID, req.hasReadSeq)
        if not seqs:
            seqs = list(range(current + 1, req.hasReadSeq + 1))[-MAX_PULL:]
    has_read = max(current, req.hasReadSeq)
    if conv.conversationType != SessionType.SINGLE_CHAT:
        # group / notification chat: the receipt goes to the reader's own devices only, without
        # seqs (upstream internal/rpc/msg/as_read.go MarkConversationAsRead)
        tips = sdkws_pb2.MarkAsReadTips(markAsReadUserID=req.userID, conversationID=req.conversationID,
                                        hasReadSeq=has_read)
        await notify(ctx.core, req.userID, req.userID, ContentType.HAS_READ_RECEIPT, SessionType.SINGLE_CHAT, tips,
                     ctx.operation_id)
        ctx.core.webhooks.after_conversation_read(conv, req.userID, list(req.seqs), req.hasReadSeq, ctx.operation_id)
        return msg_pb2.MarkConversationAsReadResp()
    if seqs:
        await ctx.core.storage.mark_read(req.conversationID, seqs)
    await _read_receipt(ctx, req.userID, conv, seqs, has_read)
    ctx.core.webhooks.after_conversation_read(conv, req.userID, list(req.seqs), req.hasReadSeq, ctx.operation_id)
    return msg_pb2.MarkConversationAsReadResp()


def _v_set_has_read(req: Any) -> None:
    need(req.conversationID, "conversationID is empty")
    need(req.userID, "userID is empty")
    need(req.hasReadSeq >= 0, "hasReadSeq is invalid")


@service("/msg/set_conversation_has_read_seq", _v_set_has_read)
async def _set_has_read(ctx: RequestContext, req: msg_pb2.SetConversationHasReadSeqReq) -> Any:
    ctx.check_access(req.userID)
    await _conversation_of(ctx, req.userID, req.conversationID)
    max_seq = (await ctx.core.storage.seq_info([req.conversationID])).get(req.conversationID, (0, 0, 0))[0]
    if req.hasReadSeq > max_seq:
        raise ArgsError(detail="hasReadSeq must not be bigger than maxSeq")
    await ctx.core.storage.set_has_read_seq(req.userID, req.conversationID, req.hasReadSeq)
    if not req.noNotification:
        tips = sdkws_pb2.MarkAsReadTips(markAsReadUserID=req.userID, conversationID=req.conversationID,
                                        hasReadSeq=req.hasReadSeq)
        await notify(ctx.core, req.userID, req.userID, ContentType.HAS_READ_RECEIPT, SessionType.SINGLE_CHAT, tips,
                     ctx.operation_id)
    return msg_pb2.SetConversationHasReadSeqResp()


async def _clear(ctx: RequestContext, user_id: str, cids: list[str], opt: msg_pb2.DeleteSyncOpt) -> None:
    scopes = await access.readable(ctx.core, user_id, cids, ctx.is_admin)
    cids = [cid for cid in cids if cid in scopes]
    info = await ctx.core.storage.seq_info(cids)
    rows = {r.conversation_id: r for r in await ctx.core.storage.conversations(user_id, cids)}
    updates = []
    for cid in cids:
        max_seq = info.get(cid, (0, 0, 0))[0]
        row = rows.get(cid)
        if row is None:
            continue
        conv = conversation_pb2.Conversation.FromString(row.data)
        conv.minSeq = max_seq + 1
        updates.append((user_id, cid, conv.SerializeToString()))
        if opt.IsSyncOther:
            await ctx.core.storage.set_global_min_seq(cid, max_seq + 1)
    if updates:
        await ctx.core.storage.put_conversations(updates)
    if opt.IsSyncSelf:
        tips = sdkws_pb2.ClearConversationTips(userID=user_id, conversationIDs=cids)
        await notify(ctx.core, user_id, user_id, ContentType.CLEAR_CONVERSATION, SessionType.SINGLE_CHAT, tips,
                     ctx.operation_id, stored=False)


def _v_clear(req: Any) -> None:
    need(len(req.conversationIDs) > 0, "conversationIDs is empty")
    need(req.userID, "userID is empty")


@service("/msg/clear_conversation_msg", _v_clear)
async def _clear_conversation(ctx: RequestContext, req: msg_pb2.ClearConversationsMsgReq) -> Any:
    ctx.check_access(req.userID)
    await _clear(ctx, req.userID, list(req.conversationIDs), req.deleteSyncOpt)
    return msg_pb2.ClearConversationsMsgResp()


@service("/msg/user_clear_all_msg", lambda r: need(r.userID, "userID is empty"))
async def _clear_all(ctx: RequestContext, req: msg_pb2.UserClearAllMsgReq) -> Any:
    ctx.check_access(req.userID)
    cids = [r.conversation_id for r in await ctx.core.storage.conversations(req.userID)]
    await _clear(ctx, req.userID, cids, req.deleteSyncOpt)
    return msg_pb2.UserClearAllMsgResp()


def _v_delete(req: Any) -> None:
    need(req.conversationID, "conversationID is empty")
    need(req.userID, "userID is empty")
    need(len(req.seqs) > 0, "seqs is empty")


@service("/msg/delete_msgs", _v_delete)
async def _delete_msgs(ctx: RequestContext, req: msg_pb2.DeleteMsgsReq) -> Any:
    ctx.check_access(req.userID)
    seqs = list(req.seqs)
    tips = sdkws_pb2.DeleteMsgsTips(userID=req.userID, conversationID=req.conversationID, seqs=seqs)
    if req.deleteSyncOpt.IsSyncOther:
        conv, _ = await _conversation_of(ctx, req.userID, req.conversationID)
        await ctx.core.storage.delete_physical(req.conversationID, seqs)
        await notify(ctx.core, req.userID, _peer(conv), ContentType.DELETE_MSGS_NOTIFICATION, conv.conversationType, tips,
                     ctx.operation_id)
    else:
        await ctx.core.storage.delete_for_user(req.userID, req.conversationID, seqs)
        if req.deleteSyncOpt.IsSyncSelf:
            await notify(ctx.core, req.userID, req.userID, ContentType.DELETE_MSGS_NOTIFICATION, SessionType.SINGLE_CHAT, tips,
                         ctx.operation_id)
    return msg_pb2.DeleteMsgsResp()


@service("/msg/delete_msg_phsical_by_seq")
async def _delete_physical_by_seq(ctx: RequestContext, req: msg_pb2.DeleteMsgPhysicalBySeqReq) -> Any:
    await ctx.core.storage.delete_physical(req.conversationID, list(req.seqs))
    return msg_pb2.DeleteMsgPhysicalBySeqResp()


@service("/msg/delete_msg_physical", lambda r: need(len(r.conversationIDs) > 0, "conversationIDs is empty"))
async def _delete_physical(ctx: RequestContext, req: msg_pb2.DeleteMsgPhysicalReq) -> Any:
    await ctx.core.storage.delete_before(list(req.conversationIDs), req.timestamp)
    return msg_pb2.DeleteMsgPhysicalResp()


_ = (RawData, check_pagination)
