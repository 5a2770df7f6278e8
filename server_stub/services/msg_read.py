"""Message reads: the seq model's pulls (§6), max/read seqs, last messages, search — every one
scoped by :mod:`server_stub.access` to the conversations the caller belongs to."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.conversation_id import (
    notification_conversation_id,
    user_notification_conversation_id,
)
from openim_sdk.protocol.errors import (
    ServerInternalError,
)
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .. import access
from ..context import RequestContext, need, page_bounds, service
from ..storage import MessageRow
from .msg import MAX_PULL
from .msg_quote import rewrite_quotes

if TYPE_CHECKING:
    from ..app import ServerCore



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
    msgs = [render_message(rows.get(s), s, s in deleted) for s in seqs]
    await rewrite_quotes(core, cid, msgs)  # quotes of revoked messages (msg_quote.py)
    return msgs


def render_message(row: MessageRow | None, seq: int, deleted: bool = False) -> sdkws_pb2.MsgData:
    if row is None:
        return sdkws_pb2.MsgData(seq=seq, status=4)
    m = sdkws_pb2.MsgData.FromString(row.data)
    m.isRead = row.is_read
    if deleted:
        m.content = b""
        m.status = 4
    elif row.revoke is not None:
        m.contentType = ContentType.MSG_REVOKE_NOTIFICATION
        m.content = json.dumps({"detail": row.revoke.decode()}, separators=(",", ":")).encode()
    return m


async def _windows(core: ServerCore, user_id: str, cids: list[str], admin: bool) -> dict[str, tuple[int, int]]:
    """cid -> (lowest, highest) seq ``user_id`` may pull, for the readable ones among ``cids``: the
    conversation's global min/max narrowed by the reader's own bounds (clear, leave cap)."""
    scopes = await access.readable(core, user_id, cids, admin)
    info = await core.storage.seq_info(list(scopes))
    out = {}
    for cid, scope in scopes.items():
        max_seq, global_min, _ = info.get(cid, (0, 0, 0))
        out[cid] = (max(global_min, scope.min_seq, 1), min(max_seq, scope.max_seq) if scope.max_seq else max_seq)
    return out


async def pull_by_ranges(core: ServerCore, req: sdkws_pb2.PullMessageBySeqsReq,
                         admin: bool = False) -> sdkws_pb2.PullMessageBySeqsResp:
    """1002 / /msg/pull_msg_by_seq (upstream internal/rpc/msg/sync_msg.go PullMessageBySeqs,
    storage/controller/msg.go GetMsgBySeqsRange), with two choices of ours:

    - every requested conversation the user may read gets an entry, empty when nothing is in the
      range (upstream leaves it out), so a client can tell "nothing there" from "not answered";
    - at most ``MAX_PULL`` (1000) seqs per range, the newest ones; a capped answer says so with
      ``isEnd`` false and ``endSeq`` = the lowest seq returned (pull below it for the rest).

    ``num`` 0 selects no seq in a chat conversation, as upstream (``end-begin+1 <= num`` never
    holds, and the newest-``num`` window is empty); notification conversations ignore ``num``.
    """
    resp = sdkws_pb2.PullMessageBySeqsResp()
    windows = await _windows(core, req.userID, [r.conversationID for r in req.seqRanges], admin)
    for rng in req.seqRanges:
        cid = rng.conversationID
        if cid not in windows:
            continue
        notif = cid.startswith("n_")
        entry = (resp.notificationMsgs if notif else resp.msgs)[cid]
        eff_min, eff_max = windows[cid]
        entry.isEnd = eff_max <= rng.end if req.order == 0 else rng.begin <= eff_min
        begin, end = max(rng.begin, eff_min), min(rng.end, eff_max)
        if eff_min > rng.end or end < begin or (not notif and rng.num <= 0):
            continue
        if not notif and rng.num < end - begin + 1:
            begin = end - rng.num + 1
        if end - begin + 1 > MAX_PULL:
            begin = end - MAX_PULL + 1
            entry.isEnd, entry.endSeq = False, begin
        entry.Msgs.extend(await _post_process(core, req.userID, cid, list(range(begin, end + 1))))
    return resp


async def pull_by_seqs(core: ServerCore, req: msg_pb2.GetSeqMessageReq,
                       admin: bool = False) -> msg_pb2.GetSeqMessageResp:
    resp = msg_pb2.GetSeqMessageResp()
    windows = await _windows(core, req.userID, [c.conversationID for c in req.conversations], admin)
    for conv in req.conversations:
        cid = conv.conversationID
        if cid not in windows:
            continue
        eff_min, eff_max = windows[cid]
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


