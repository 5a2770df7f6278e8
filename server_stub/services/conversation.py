"""Conversation routes used at login and by the conversation list (spec rest-api §9.6, §12)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import ContentType, SessionType
from openim_sdk.protocol.conversation_id import conversation_id_for
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.jssdk import jssdk_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .. import access
from ..context import RawData, RequestContext, check_pagination, need, page_bounds, service
from ..notify import send_notification
from .conversation_state import conversation_changed, same_fields, set_fields, template_for
from .msg_read import render_message
from .user import user_info

INCREMENTAL_LIMIT = 200


def nil_lists(resp: Any, *names: str) -> RawData:
    """Go leaves unset slices nil: render empty ``delete``/``insert``/``update`` as ``null``."""
    d = jsoncodec.to_go_dict(resp)
    for n in names:
        if not d.get(n):
            d[n] = None
    return RawData(d)


def id_hash(ids: list[str]) -> int:
    """First 8 bytes (big-endian) of md5 of Go's compact JSON of the IDs; 0 for an empty list."""
    if not ids:
        return 0
    text = json.dumps(ids, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big")


async def _convs(ctx: RequestContext, owner: str, cids: list[str] | None = None) -> list[conversation_pb2.Conversation]:
    return [conversation_pb2.Conversation.FromString(r.data) for r in await ctx.core.storage.conversations(owner, cids)]


async def incremental(ctx: RequestContext, kind: str, key: str, version_id: str, version: int
                      ) -> tuple[str, int, bool, list[str], list[str], list[str]]:
    """(versionID, version, full, deleted, inserted, updated) per spec §12."""
    vid, current, entries = await ctx.core.storage.version_log(kind, key, version)
    full = (not version_id or version == 0 or version_id != vid or version > current
            or len(entries) > INCREMENTAL_LIMIT)
    if full or version == current:
        return vid, current, full, [], [], []
    deleted = [e for e, st, _ in entries if st == 2]
    inserted = [e for e, st, _ in entries if st == 1]
    updated = [e for e, st, _ in entries if st == 3]
    return vid, current, False, deleted, inserted, updated


@service("/conversation/get_incremental_conversations")
async def get_incremental(ctx: RequestContext, req: conversation_pb2.GetIncrementalConversationReq) -> Any:
    ctx.check_access(req.userID)
    vid, version, full, deleted, inserted, updated = await incremental(
        ctx, "conversation", req.userID, req.versionID, req.version)
    resp = conversation_pb2.GetIncrementalConversationResp(versionID=vid, version=version, full=full)
    if not full:
        resp.delete.extend(deleted)
        by_id = {c.conversationID: c for c in await _convs(ctx, req.userID, inserted + updated)}
        resp.insert.extend(by_id[c] for c in inserted if c in by_id)
        resp.update.extend(by_id[c] for c in updated if c in by_id)
    return nil_lists(resp, "delete", "insert", "update")


@service("/conversation/get_full_conversation_ids")
async def get_full_ids(ctx: RequestContext, req: conversation_pb2.GetFullOwnerConversationIDsReq) -> Any:
    ctx.check_access(req.userID)
    vid, version, _ = await ctx.core.storage.version_log("conversation", req.userID, 1 << 62)
    ids = [c.conversationID for c in await _convs(ctx, req.userID)]
    equal = req.idHash == id_hash(ids)
    resp = conversation_pb2.GetFullOwnerConversationIDsResp(version=version, versionID=vid, equal=equal)
    if not equal:
        resp.conversationIDs.extend(ids)
    return resp


def _v_get_convs(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(len(req.conversationIDs) > 0, "conversationIDs is empty")


@service("/conversation/get_conversations", _v_get_convs)
async def get_conversations(ctx: RequestContext, req: conversation_pb2.GetConversationsReq) -> Any:
    ctx.check_access(req.ownerUserID)
    return conversation_pb2.GetConversationsResp(conversations=await _convs(ctx, req.ownerUserID,
                                                                            list(req.conversationIDs)))


@service("/conversation/get_all_conversations", lambda r: need(r.ownerUserID, "ownerUserID is empty"))
async def get_all(ctx: RequestContext, req: conversation_pb2.GetAllConversationsReq) -> Any:
    ctx.check_access(req.ownerUserID)
    return conversation_pb2.GetAllConversationsResp(conversations=await _convs(ctx, req.ownerUserID))


def _v_get_one(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(req.conversationID, "conversationID is empty")


@service("/conversation/get_conversation", _v_get_one)
async def get_one(ctx: RequestContext, req: conversation_pb2.GetConversationReq) -> Any:
    from openim_sdk.protocol.errors import NotFoundError

    ctx.check_access(req.ownerUserID)
    convs = await _convs(ctx, req.ownerUserID, [req.conversationID])
    if not convs:
        raise NotFoundError(1004, detail="")
    return conversation_pb2.GetConversationResp(conversation=convs[0])


@service("/conversation/get_owner_conversation")
async def get_owner(ctx: RequestContext, req: conversation_pb2.GetOwnerConversationReq) -> Any:
    ctx.check_access(req.userID)
    convs = await _convs(ctx, req.userID)
    if req.HasField("pagination") and req.pagination.pageNumber > 0:
        offset, limit = page_bounds(req.pagination)
        page = convs[offset:offset + limit]
    else:
        page = convs
    return conversation_pb2.GetOwnerConversationResp(total=len(convs), conversations=page)


@service("/conversation/get_not_notify_conversation_ids")
async def get_not_notify(ctx: RequestContext, req: conversation_pb2.GetNotNotifyConversationIDsReq) -> Any:
    ctx.check_access(req.userID)
    ids = [c.conversationID for c in await _convs(ctx, req.userID) if c.recvMsgOpt != 0]
    return conversation_pb2.GetNotNotifyConversationIDsResp(conversationIDs=ids)


@service("/conversation/get_pinned_conversation_ids")
async def get_pinned(ctx: RequestContext, req: conversation_pb2.GetPinnedConversationIDsReq) -> Any:
    ctx.check_access(req.userID)
    ids = [c.conversationID for c in await _convs(ctx, req.userID) if c.isPinned]
    return conversation_pb2.GetPinnedConversationIDsResp(conversationIDs=ids)


def _v_sorted(req: Any) -> None:
    need(req.userID, "userID is empty")
    check_pagination(req)


@service("/conversation/get_sorted_conversation_list", _v_sorted)
async def get_sorted(ctx: RequestContext, req: conversation_pb2.GetSortedConversationListReq) -> Any:
    from openim_sdk.protocol.errors import NotFoundError

    ctx.check_access(req.userID)
    rows = await ctx.core.storage.conversations(req.userID, list(req.conversationIDs) or None)
    scopes = await access.readable(ctx.core, req.userID, [r.conversation_id for r in rows], ctx.is_admin)
    rows = [r for r in rows if r.conversation_id in scopes]
    if not rows:
        raise NotFoundError(1004, detail="")
    info = await ctx.core.storage.seq_info([r.conversation_id for r in rows])
    elems, unread_total = [], 0
    for r in rows:
        conv = conversation_pb2.Conversation.FromString(r.data)
        last = await ctx.core.storage.last_message(r.conversation_id)
        if last is None:
            continue
        m = render_message(last, last.seq)
        max_seq = info.get(r.conversation_id, (0, 0, 0))[0]
        unread = max(max_seq - r.has_read_seq, 0)
        unread_total += unread
        elems.append(conversation_pb2.ConversationElem(
            conversationID=r.conversation_id, recvMsgOpt=conv.recvMsgOpt, unreadCount=unread, IsPinned=conv.isPinned,
            msgInfo=conversation_pb2.MsgInfo(
                serverMsgID=m.serverMsgID, clientMsgID=m.clientMsgID, sessionType=m.sessionType, sendID=m.sendID,
                recvID=m.recvID, senderName=m.senderNickname, faceURL=m.senderFaceURL, groupID=m.groupID,
                LatestMsgRecvTime=m.sendTime, msgFrom=m.msgFrom, contentType=m.contentType,
                content=m.content.decode("utf-8", "replace"), ex=m.ex)))
    elems.sort(key=lambda e: (not e.IsPinned, -e.msgInfo.LatestMsgRecvTime))
    offset, limit = page_bounds(req.pagination)
    return conversation_pb2.GetSortedConversationListResp(
        conversationTotal=len(elems), unreadTotal=unread_total, conversationElems=elems[offset:offset + limit])


def _v_set(req: Any) -> None:
    need(len(req.userIDs) > 0, "userID is empty")
    need(req.HasField("conversation"), "conversation is empty")
    need(req.conversation.conversationType in (1, 3, 4), "conversationType is invalid")
    if req.conversation.conversationType in (1, 4):
        need(req.conversation.userID, "userID is empty")
    if req.conversation.conversationType == 3:
        need(req.conversation.groupID, "groupID is empty")


_SET_FIELDS = ("recvMsgOpt", "isPinned", "attachedInfo", "isPrivateChat", "ex", "burnDuration", "minSeq", "maxSeq",
               "groupAtType", "msgDestructTime", "isMsgDestruct")
#: Single-chat fields written on both sides (upstream storage/controller/conversation.go
#: SyncPeerUserPrivateConversationTx syncs isPrivateChat; burnDuration goes with it here).
_PRIVATE_FIELDS = ("isPrivateChat", "burnDuration")


async def _private_peer(ctx: RequestContext, c: conversation_pb2.ConversationReq, owners: list[str]) -> bool:
    """Whether the peer's record follows a private-chat change: only for the single chat of the
    owner(s) with that peer, and an existing peer (stricter than upstream, which writes the record
    of whatever ``userID`` the request names: docs/spec/security-differences.md)."""
    if c.conversationType != SessionType.SINGLE_CHAT or not c.userID or c.userID in owners:
        return False
    if any(c.conversationID != conversation_id_for(SessionType.SINGLE_CHAT, o, c.userID, "") for o in owners):
        return False
    return await ctx.core.storage.user_exists(c.userID)


@service("/conversation/set_conversations", _v_set)
async def set_conversations(ctx: RequestContext, req: conversation_pb2.SetConversationsReq) -> Any:
    """Only the records whose fields change are written; 1300 goes to their owners only
    (upstream internal/rpc/conversation/conversation.go SetConversations, db_map.go UserUpdateCheckMap);
    private chat / burn duration of a single chat also change the peer's record, and a private-chat
    switch sends 1701 ConversationSetPrivateTips."""
    c = req.conversation
    for uid in req.userIDs:
        ctx.check_access(uid)
    values = {}
    for name in _SET_FIELDS:
        if name == "maxSeq" and not ctx.is_admin:  # the read cap of a former member is the server's
            continue
        if c.HasField(name):
            values[name] = getattr(c, name).value
    owners = list(dict.fromkeys(req.userIDs))
    cid = c.conversationID
    changed = await set_fields(ctx.core, cid, same_fields(owners, values),
                               template_for(cid, c.conversationType, lambda _o: c.userID, c.groupID))
    private = {k: v for k, v in values.items() if k in _PRIVATE_FIELDS}
    if private and await _private_peer(ctx, c, owners):
        changed += await set_fields(ctx.core, cid, {c.userID: private},
                                    template_for(cid, SessionType.SINGLE_CHAT, lambda _o: owners[0]))
    for uid in changed:
        await conversation_changed(ctx.core, uid, [cid], ctx.operation_id)
    if c.conversationType == SessionType.SINGLE_CHAT and "isPrivateChat" in values and changed:
        for uid in owners:
            tips = sdkws_pb2.ConversationSetPrivateTips(recvID=c.userID, sendID=uid, isPrivate=values["isPrivateChat"],
                                                        conversationID=cid)
            await send_notification(ctx.core, uid, c.userID, ContentType.CONVERSATION_PRIVATE_CHAT, tips,
                                    ctx.operation_id)
    return conversation_pb2.SetConversationsResp()


async def _jssdk(ctx: RequestContext, cids: list[str] | None, limit: int = 0) -> tuple[int, list[Any]]:
    owner = ctx.user_id
    rows = await ctx.core.storage.conversations(owner, cids)
    scopes = await access.readable(ctx.core, owner, [r.conversation_id for r in rows])
    rows = [r for r in rows if r.conversation_id in scopes]  # a record for someone else's chat shows nothing
    info = await ctx.core.storage.seq_info([r.conversation_id for r in rows])
    out, unread_total = [], 0
    for r in rows:
        conv = conversation_pb2.Conversation.FromString(r.data)
        max_seq = info.get(r.conversation_id, (0, 0, 0))[0]
        item = jssdk_pb2.ConversationMsg(conversation=conv, maxSeq=max_seq, readSeq=r.has_read_seq)
        last = await ctx.core.storage.last_message(r.conversation_id)
        if last is not None:
            item.lastMsg.CopyFrom(render_message(last, last.seq))
        if conv.userID:
            users = await ctx.core.storage.get_users([conv.userID])
            if conv.userID in users:
                item.user.CopyFrom(user_info(users[conv.userID]))
        if conv.recvMsgOpt == 0:
            unread_total += max(max_seq - r.has_read_seq, 0)
        out.append(item)
    out.sort(key=lambda i: (not i.conversation.isPinned, -i.lastMsg.sendTime))
    if limit > 0:
        out = [i for i in out if i.lastMsg.sendTime][:limit]
    return unread_total, out


# Part 1 of the route; served by conversation_ext (adds friend/group details).
async def jssdk_get_conversations(ctx: RequestContext, req: jssdk_pb2.GetConversationsReq) -> Any:
    unread, convs = await _jssdk(ctx, list(req.conversationIDs) or [])
    return jssdk_pb2.GetConversationsResp(unreadCount=unread, conversations=convs)


# Part 1 of the route; served by conversation_ext (adds friend/group details).
async def jssdk_active(ctx: RequestContext, req: jssdk_pb2.GetActiveConversationsReq) -> Any:
    unread, convs = await _jssdk(ctx, None, req.count or 100)
    return jssdk_pb2.GetActiveConversationsResp(unreadCount=unread, conversations=convs)


_ = sdkws_pb2
