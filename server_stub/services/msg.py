"""Messages: send pipeline (WS 1003 and REST), seq model pulls (§6), read state, revoke, delete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import ContentType, MsgFrom, SessionType
from openim_sdk.protocol.conversation_id import (
    conversation_id_for,
    notification_conversation_id,
    user_notification_conversation_id,
)
from openim_sdk.protocol.errors import (
    ArgsError,
    GroupNotFoundError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
    ServerInternalError,
)
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .. import access
from ..context import RawData, RequestContext, check_pagination, need, page_bounds, service
from ..storage import MessageRow, StoreRequest, now_ms

if TYPE_CHECKING:
    from ..app import ServerCore

log = logging.getLogger("server_stub.msg")

USER_CONTENT_MIN, USER_CONTENT_END = 100, ContentType.NOTIFICATION_BEGIN
CT_REVOKE_NOTIFICATION = 2101
CT_DELETE_NOTIFICATION = 2102
CT_HAS_READ_RECEIPT = 2200
CT_CLEAR_CONVERSATION = 1703
CT_BUSINESS_NOTIFICATION = 2001
CT_TYPING = 113
MSG_FROM_SYSTEM = 200
MAX_PULL = 1000


def _opt(msg: sdkws_pb2.MsgData, key: str) -> bool:
    """Option lookup: absent key = true (server msgprocessor/options.go)."""
    return msg.options.get(key, True) if key in msg.options else True


def is_notification(msg: sdkws_pb2.MsgData) -> bool:
    return "isNotNotification" in msg.options and not msg.options["isNotNotification"]


def new_msg_id(*parts: object) -> str:
    raw = f"{time.time_ns()}{''.join(map(str, parts))}{os.urandom(8).hex()}"
    return hashlib.md5(raw.encode()).hexdigest()


# --------------------------------------------------------------------------- send


async def send_message(core: ServerCore, msg: sdkws_pb2.MsgData, operation_id: str,
                       sender_is_admin: bool = False) -> tuple[msg_pb2.SendMsgResp, Callable[[], None]]:
    """Validate, persist (committed before returning) and return the reply plus a push callback."""
    st = msg.sessionType
    if st not in (SessionType.SINGLE_CHAT, SessionType.READ_GROUP_CHAT, SessionType.NOTIFICATION_CHAT):
        raise ArgsError(detail="unknown sessionType")
    if not sender_is_admin:
        check_user_message(msg)
    check = core.extensions.get("check_send")
    if check is not None:  # blacklist 1302, friend verification 1303, group state 1201/1203/1204, mutes 1402/1403
        await check(msg, sender_is_admin)
    if st == SessionType.READ_GROUP_CHAT:
        members = await core.group_members(msg.groupID)
        if members is None:
            raise GroupNotFoundError(detail=f"group {msg.groupID} not found")
        if msg.sendID not in members and not sender_is_admin:
            raise OpenIMError(1203, detail="you are not in this group")
        recipients = list(members)
    else:
        if not msg.recvID:
            raise ArgsError(detail="recvID is empty")
        if not await core.storage.user_exists(msg.recvID):
            raise NotFoundError(1004, detail=f"recvID {msg.recvID} not found")
        recipients = [msg.recvID]
        if msg.sendID != msg.recvID and _opt(msg, "senderSync"):
            recipients.append(msg.sendID)
    if msg.contentType == CT_TYPING and msg.options:
        for k in ("history", "persistent", "senderSync", "conversationUpdate", "unreadCount", "offlinePush"):
            msg.options[k] = False
    msg.serverMsgID = new_msg_id(msg.sendID)
    if not msg.sendTime:
        msg.sendTime = now_ms()
    msg.status = 2
    stored = _opt(msg, "history")
    notification = is_notification(msg)
    cid = conversation_id_for(st, msg.sendID, msg.recvID, msg.groupID, notification=notification)
    pushes: list[tuple[str, sdkws_pb2.MsgData]] = []
    if stored:
        reqs = [StoreRequest(cid, msg, [] if notification else _owners(msg, cid, recipients),
                             "" if notification else msg.sendID, idempotent=not notification)]
        clone = None
        if notification and _opt(msg, "isSendMsg"):
            clone = sdkws_pb2.MsgData()
            clone.CopyFrom(msg)
            clone.options["isNotNotification"] = True
            chat_cid = conversation_id_for(st, msg.sendID, msg.recvID, msg.groupID)
            reqs.append(StoreRequest(chat_cid, clone, _owners(clone, chat_cid, recipients), msg.sendID))
        await core.storage.store_messages(reqs)
        pushes = [] if reqs[0].duplicate else [(r.conversation_id, r.msg) for r in reqs]
    else:
        pushes = [(cid, msg)]
    await core.storage.set_send_status(operation_id, 2)
    resp = msg_pb2.SendMsgResp(serverMsgID=msg.serverMsgID, clientMsgID=msg.clientMsgID, sendTime=msg.sendTime)

    def push() -> None:
        for pcid, pmsg in pushes:
            core.hub.push_message(recipients, pcid, pmsg, operation_id)

    return resp, push


def check_user_message(msg: sdkws_pb2.MsgData) -> None:
    """What an ordinary user may send (stricter than upstream, docs/spec/security-differences.md):
    user content types only (no notification/system types 1000-5000, no legacy revoke 111), as a
    user (``msgFrom`` 100), to a single or group chat, never flagged as a notification."""
    ct = msg.contentType
    if not USER_CONTENT_MIN <= ct < USER_CONTENT_END or ct == ContentType.REVOKE:
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
                 tips: Any, operation_id: str, stored: bool = True) -> None:
    """A server notification (msgFrom 200, ``{"detail": <tips JSON>}``) in the ``n_`` conversation."""
    now = now_ms()
    detail = jsoncodec.dumps(tips).decode()
    msg = sdkws_pb2.MsgData(
        sendID=send_id, recvID=recv_id if session_type != SessionType.READ_GROUP_CHAT else "",
        groupID=recv_id if session_type == SessionType.READ_GROUP_CHAT else "",
        clientMsgID=new_msg_id(send_id, recv_id), sessionType=session_type, msgFrom=MSG_FROM_SYSTEM,
        contentType=content_type, content=json.dumps({"detail": detail}, separators=(",", ":")).encode(),
        createTime=now, sendTime=now, senderPlatformID=10,
    )
    for k, v in {"isNotNotification": False, "isSendMsg": False, "history": stored, "persistent": stored,
                 "unreadCount": False, "conversationUpdate": False, "offlinePush": False}.items():
        msg.options[k] = v
    try:
        await send_and_push(core, msg, operation_id)
    except OpenIMError as err:
        log.warning("notification %d %s->%s failed: %s", content_type, send_id, recv_id, err)


# --------------------------------------------------------------------------- reading


def _chat_to_notification_ids(cids: list[str]) -> list[str]:
    return [notification_conversation_id(c) for c in cids]


async def get_max_seq(core: ServerCore, user_id: str, admin: bool = False) -> sdkws_pb2.GetMaxSeqResp:
    convs = [r.conversation_id for r in await core.storage.conversations(user_id)]
    candidates = convs + _chat_to_notification_ids(convs) + [user_notification_conversation_id(user_id)]
    scopes = await access.readable(core, user_id, candidates, admin)
    ids = [cid for cid in dict.fromkeys(candidates) if cid in scopes]
    info = await core.storage.seq_info(ids)
    resp = sdkws_pb2.GetMaxSeqResp()
    for cid in ids:
        if cid in info and info[cid][0] > 0:
            resp.maxSeqs[cid] = info[cid][0]
    return resp


async def _post_process(core: ServerCore, user_id: str, cid: str, seqs: list[int]) -> list[sdkws_pb2.MsgData]:
    rows = await core.storage.messages_by_seqs(cid, seqs)
    deleted = await core.storage.deleted_for(user_id, cid, seqs) if rows else set()
    return [render_message(rows.get(s), s, s in deleted) for s in seqs]


def render_message(row: MessageRow | None, seq: int, deleted: bool = False) -> sdkws_pb2.MsgData:
    if row is None:
        return sdkws_pb2.MsgData(seq=seq, status=4)
    m = sdkws_pb2.MsgData.FromString(row.data)
    m.isRead = row.is_read
    if deleted:
        m.content = b""
        m.status = 4
    elif row.revoke is not None:
        m.contentType = CT_REVOKE_NOTIFICATION
        m.content = json.dumps({"detail": row.revoke.decode()}, separators=(",", ":")).encode()
    return m


async def pull_by_ranges(core: ServerCore, req: sdkws_pb2.PullMessageBySeqsReq,
                         admin: bool = False) -> sdkws_pb2.PullMessageBySeqsResp:
    resp = sdkws_pb2.PullMessageBySeqsResp()
    cids = [r.conversationID for r in req.seqRanges]
    scopes = await access.readable(core, req.userID, cids, admin)
    info = await core.storage.seq_info(list(scopes))
    for rng in req.seqRanges:
        cid = rng.conversationID
        notif = cid.startswith("n_")
        scope = scopes.get(cid)
        if scope is None:
            continue
        max_seq, global_min, _ = info.get(cid, (0, 0, 0))
        umin, umax = scope.min_seq, scope.max_seq
        eff_min = max(global_min, umin, 1)
        eff_max = min(max_seq, umax) if umax else max_seq
        if eff_min > rng.end:
            continue
        begin, end = max(rng.begin, eff_min), min(rng.end, eff_max)
        if end < begin:
            continue
        if not notif and 0 < rng.num < end - begin + 1:
            begin = end - rng.num + 1
        if end - begin + 1 > MAX_PULL:
            begin = end - MAX_PULL + 1
        seqs = list(range(begin, end + 1))
        msgs = await _post_process(core, req.userID, cid, seqs)
        if not msgs:
            continue
        is_end = eff_max <= rng.end if req.order == 0 else rng.begin <= eff_min
        target = resp.notificationMsgs if notif else resp.msgs
        target[cid].Msgs.extend(msgs)
        target[cid].isEnd = is_end
    return resp


async def pull_by_seqs(core: ServerCore, req: msg_pb2.GetSeqMessageReq,
                       admin: bool = False) -> msg_pb2.GetSeqMessageResp:
    resp = msg_pb2.GetSeqMessageResp()
    cids = [c.conversationID for c in req.conversations]
    scopes = await access.readable(core, req.userID, cids, admin)
    info = await core.storage.seq_info(list(scopes))
    for conv in req.conversations:
        cid = conv.conversationID
        scope = scopes.get(cid)
        if scope is None:
            continue
        max_seq, global_min, _ = info.get(cid, (0, 0, 0))
        umin, umax = scope.min_seq, scope.max_seq
        eff_min = max(global_min, umin, 1)
        eff_max = min(max_seq, umax) if umax else max_seq
        seqs = sorted({s for s in conv.seqs if eff_min <= s <= eff_max})[:MAX_PULL]
        target = resp.notificationMsgs if cid.startswith("n_") else resp.msgs
        pm = sdkws_pb2.PullMsgs()
        if seqs:
            pm.Msgs.extend(await _post_process(core, req.userID, cid, seqs))
        if req.order == 1 and any(s < eff_min for s in conv.seqs):
            pm.isEnd, pm.endSeq = True, eff_min
        elif req.order == 0 and any(s > eff_max for s in conv.seqs):
            pm.isEnd, pm.endSeq = True, eff_max
        if pm.Msgs or pm.isEnd:
            target[cid].CopyFrom(pm)
    return resp


async def has_read_and_max_seq(core: ServerCore, req: msg_pb2.GetConversationsHasReadAndMaxSeqReq,
                               admin: bool = False) -> msg_pb2.GetConversationsHasReadAndMaxSeqResp:
    rows = await core.storage.conversations(req.userID, list(req.conversationIDs) or None)
    by_cid = {r.conversation_id: r for r in rows}
    wanted = list(req.conversationIDs) or list(by_cid)
    scopes = await access.readable(core, req.userID, wanted, admin)
    cids = [cid for cid in wanted if cid in scopes]
    info = await core.storage.seq_info(cids)
    resp = msg_pb2.GetConversationsHasReadAndMaxSeqResp()
    for cid in cids:
        if cid not in info:
            continue
        max_seq, _, max_time = info[cid]
        row = by_cid.get(cid)
        has_read = row.has_read_seq if row else 0
        if row:
            conv = conversation_pb2.Conversation.FromString(row.data)
            if conv.maxSeq:
                max_seq = conv.maxSeq
            if conv.isPinned and req.returnPinned:
                resp.pinnedConversationIDs.append(cid)
        resp.seqs[cid].CopyFrom(msg_pb2.Seqs(maxSeq=max_seq, hasReadSeq=has_read, maxSeqTime=max_time))
    return resp


async def last_messages(core: ServerCore, req: msg_pb2.GetLastMessageReq,
                        admin: bool = False) -> msg_pb2.GetLastMessageResp:
    resp = msg_pb2.GetLastMessageResp()
    scopes = await access.readable(core, req.userID, list(req.conversationIDs), admin)
    for cid in dict.fromkeys(req.conversationIDs):
        scope = scopes.get(cid)
        if scope is None:
            continue
        row = await core.storage.last_message(cid)
        if row is None or (scope.max_seq and row.seq > scope.max_seq) or row.seq < scope.min_seq:
            continue
        deleted = await core.storage.deleted_for(req.userID, cid, [row.seq])
        resp.msgs[cid].CopyFrom(render_message(row, row.seq, row.seq in deleted))
    return resp


# --------------------------------------------------------------------------- REST routes


@service("/msg/newest_seq")
async def _newest_seq(ctx: RequestContext, req: sdkws_pb2.GetMaxSeqReq) -> Any:
    ctx.check_access(req.userID)
    return await get_max_seq(ctx.core, req.userID, ctx.is_admin)


@service("/msg/pull_msg_by_seq")
async def _pull_msg_by_seq(ctx: RequestContext, req: sdkws_pb2.PullMessageBySeqsReq) -> Any:
    ctx.check_access(req.userID)
    return await pull_by_ranges(ctx.core, req, ctx.is_admin)


def _v_has_read(req: Any) -> None:
    need(req.userID, "userID is empty")


@service("/msg/get_conversations_has_read_and_max_seq", _v_has_read)
async def _has_read(ctx: RequestContext, req: msg_pb2.GetConversationsHasReadAndMaxSeqReq) -> Any:
    ctx.check_access(req.userID)
    return await has_read_and_max_seq(ctx.core, req, ctx.is_admin)


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
    admin_revoke = ctx.is_admin and req.userID == ctx.user_id and m.sendID != req.userID
    if m.sendID != req.userID and not ctx.is_admin:
        if m.sessionType == SessionType.READ_GROUP_CHAT:
            if not await ctx.core.can_revoke_in_group(m.groupID, req.userID, m.sendID):
                raise NoPermissionError(detail="no permission to revoke this message")
        else:
            raise NoPermissionError(detail="only the sender can revoke")
    users = await ctx.core.storage.get_users([req.userID, m.sendID])
    now = now_ms()
    content = sdkws_pb2.MessageRevokedContent(
        revokerID=req.userID, revokerRole=0, clientMsgID=m.clientMsgID,
        revokerNickname=users[req.userID].nickname if req.userID in users else "", revokeTime=now,
        sourceMessageSendTime=m.sendTime, sourceMessageSendID=m.sendID,
        sourceMessageSenderNickname=m.senderNickname, sessionType=m.sessionType, seq=req.seq)
    if not await ctx.core.storage.set_revoke(req.conversationID, req.seq, jsoncodec.dumps(content)):
        raise OpenIMError(1404, detail="msg already revoke")
    tips = sdkws_pb2.RevokeMsgTips(revokerUserID=req.userID, clientMsgID=m.clientMsgID, revokeTime=now,
                                   sesstionType=m.sessionType, seq=req.seq, conversationID=req.conversationID,
                                   isAdminRevoke=admin_revoke)
    recv = m.groupID if m.sessionType == SessionType.READ_GROUP_CHAT else (
        m.recvID if m.sendID == req.userID else m.sendID)
    await notify(ctx.core, req.userID, recv, CT_REVOKE_NOTIFICATION, m.sessionType, tips, ctx.operation_id)
    return msg_pb2.RevokeMsgResp()


def _v_mark_msgs(req: Any) -> None:
    need(req.conversationID, "conversationID is empty")
    need(len(req.seqs) > 0, "seqs is empty")
    need(req.userID, "userID is empty")
    need(all(s != 0 for s in req.seqs), "seqs has 0 value is invalid")


async def _read_receipt(ctx: RequestContext, user_id: str, conv: conversation_pb2.Conversation,
                        seqs: list[int], has_read: int) -> None:
    tips = sdkws_pb2.MarkAsReadTips(markAsReadUserID=user_id, conversationID=conv.conversationID,
                                    seqs=seqs, hasReadSeq=has_read)
    await notify(ctx.core, user_id, _peer(conv) or user_id, CT_HAS_READ_RECEIPT,
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
    if conv.conversationType == SessionType.SINGLE_CHAT and seqs:
        await ctx.core.storage.mark_read(req.conversationID, seqs)
    await _read_receipt(ctx, req.userID, conv, seqs, max(current, req.hasReadSeq))
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
        await notify(ctx.core, req.userID, req.userID, CT_HAS_READ_RECEIPT, SessionType.SINGLE_CHAT, tips,
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
        await notify(ctx.core, user_id, user_id, CT_CLEAR_CONVERSATION, SessionType.SINGLE_CHAT, tips,
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
        await notify(ctx.core, req.userID, _peer(conv), CT_DELETE_NOTIFICATION, conv.conversationType, tips,
                     ctx.operation_id)
    else:
        await ctx.core.storage.delete_for_user(req.userID, req.conversationID, seqs)
        if req.deleteSyncOpt.IsSyncSelf:
            await notify(ctx.core, req.userID, req.userID, CT_DELETE_NOTIFICATION, SessionType.SINGLE_CHAT, tips,
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


@service("/msg/search_msg")
async def _search(ctx: RequestContext, req: msg_pb2.SearchMessageReq) -> Any:
    where, params = ["1=1"], []
    if req.sendID:
        where.append("send_id = ?")
        params.append(req.sendID)
    if req.recvID:
        where.append("(recv_id = ? OR group_id = ?)")
        params += [req.recvID, req.recvID]
    if req.contentType:
        where.append("content_type = ?")
        params.append(req.contentType)
    if req.sessionType:
        where.append("session_type = ?")
        params.append(req.sessionType)
    if req.sendTime:
        try:
            day = datetime.strptime(req.sendTime, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise ServerInternalError(detail=f'parsing time "{req.sendTime}" failed') from None
        start = int(day.timestamp() * 1000)
        where.append("send_time >= ? AND send_time < ?")
        params += [start, start + int(timedelta(days=1).total_seconds() * 1000)]
    where.append("conversation_id NOT LIKE 'n\\_%' ESCAPE '\\'")
    if not ctx.is_admin:  # an ordinary user searches the conversations they may read
        own = [r.conversation_id for r in await ctx.core.storage.conversations(ctx.user_id)]
        mine = list(await access.readable(ctx.core, ctx.user_id, own))
        where.append(f"conversation_id IN ({','.join('?' * len(mine))})" if mine else "0")
        params += mine
    offset, limit = page_bounds(req.pagination) if req.HasField("pagination") else (0, 20)
    total, rows = await ctx.core.storage.search_messages(" AND ".join(where), tuple(params), offset, limit)
    users = await ctx.core.storage.get_users(
        [sdkws_pb2.MsgData.FromString(r.data).recvID for r in rows])
    resp = msg_pb2.SearchMessageResp(chatLogsNum=total)
    for r in rows:
        m = sdkws_pb2.MsgData.FromString(r.data)
        log_ = msg_pb2.ChatLog(
            serverMsgID=m.serverMsgID, clientMsgID=m.clientMsgID, sendID=m.sendID, recvID=m.recvID,
            groupID=m.groupID, recvNickname=users[m.recvID].nickname if m.recvID in users else "",
            senderPlatformID=m.senderPlatformID, senderNickname=m.senderNickname, senderFaceURL=m.senderFaceURL,
            sessionType=m.sessionType, msgFrom=m.msgFrom, contentType=m.contentType,
            content=m.content.decode("utf-8", "replace"), status=m.status, sendTime=m.sendTime,
            createTime=m.createTime, ex=m.ex, seq=m.seq)
        resp.chatLogs.add(chatLog=log_, isRevoked=r.revoke is not None)
    return resp


_ = (RawData, check_pagination)
