"""Message reads: the seq model's pulls (§6), max/read seqs, last messages, search — every one
scoped by :mod:`server_stub.access` to the conversations the caller belongs to."""

from __future__ import annotations

import json
import sqlite3
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
from ..repos.messages import MessageSearch, PageRow, range_rows, seq_info_in, seq_list_rows
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


def _varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    if n < 0x4000:
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _key(field: str, wire: int) -> bytes:
    return _varint(sdkws_pb2.MsgData.DESCRIPTOR.fields_by_name[field].number << 3 | wire)


_IS_READ = (_key("isRead", 0) + b"\x00", _key("isRead", 0) + b"\x01")
_DELETED = _key("content", 2) + b"\x00" + _key("status", 0) + _varint(4)
_REVOKED_TYPE = _key("contentType", 0) + _varint(ContentType.MSG_REVOKE_NOTIFICATION)
_CONTENT = _key("content", 2)
_PULL_MSG = _varint(sdkws_pb2.PullMsgs.DESCRIPTOR.fields_by_name["Msgs"].number << 3 | 2)


def page_bytes(rows: list[PageRow], seqs: list[int]) -> bytes:
    """``PullMsgs.Msgs`` for ``seqs`` (in that order) as protobuf bytes, from stored rows, without
    decoding them: each stored ``MsgData`` is followed by the fields :func:`render_message` would
    set (isRead; empty content and status 4 when deleted for the reader; the revoke notification's
    contentType and content). Protobuf parsing lets a later field win (and a message field
    merge), so parsing these bytes gives exactly the messages :func:`render_message` builds;
    the caller parses a whole page in one ``MergeFromString``."""
    by_seq = {r[0]: r for r in rows}
    parts: list[bytes] = []
    append, varint, is_read_field = parts.append, _varint, _IS_READ
    for seq in seqs:
        r = by_seq.get(seq)
        if r is None:
            inner = sdkws_pb2.MsgData(seq=seq, status=4).SerializeToString()
        else:
            _, data, is_read, revoke, deleted = r
            if deleted:
                inner = data + is_read_field[bool(is_read)] + _DELETED
            elif revoke is not None:
                content = json.dumps({"detail": revoke.decode()}, separators=(",", ":")).encode()
                inner = data + is_read_field[bool(is_read)] + _REVOKED_TYPE + _CONTENT + varint(len(content)) + content
            else:
                inner = data + is_read_field[bool(is_read)]
        append(_PULL_MSG)
        append(varint(len(inner)))
        append(inner)
    return b"".join(parts)


def _windows_in(conn: sqlite3.Connection, user_id: str, cids: list[str],
                admin: bool) -> dict[str, tuple[int, int]]:
    """cid -> (lowest, highest) seq ``user_id`` may pull, for the readable ones among ``cids``: the
    conversation's global min/max narrowed by the reader's own bounds (clear, leave cap)."""
    scopes = access.readable_in(conn, user_id, cids, admin) if cids else {}
    info = seq_info_in(conn, list(scopes))
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

    The whole request is one read (:meth:`Storage.read`: access check, seq windows, one range
    query per conversation) and each page is parsed once from the stored bytes (:func:`page_bytes`).
    """
    user_id = req.userID

    def op(conn: sqlite3.Connection) -> list[tuple[sdkws_pb2.SeqRange, tuple[int, int] | None, Any]]:
        windows = _windows_in(conn, user_id, [r.conversationID for r in req.seqRanges], admin)
        out: list[tuple[sdkws_pb2.SeqRange, tuple[int, int] | None, Any]] = []
        for rng in req.seqRanges:
            cid = rng.conversationID
            if cid not in windows:
                continue
            notif = cid.startswith("n_")
            eff_min, eff_max = windows[cid]
            is_end = eff_max <= rng.end if req.order == 0 else rng.begin <= eff_min
            begin, end = max(rng.begin, eff_min), min(rng.end, eff_max)
            if eff_min > rng.end or end < begin or (not notif and rng.num <= 0):
                out.append((rng, None, (is_end, 0)))
                continue
            if not notif and rng.num < end - begin + 1:
                begin = end - rng.num + 1
            end_seq = 0
            if end - begin + 1 > MAX_PULL:
                begin = end - MAX_PULL + 1
                is_end, end_seq = False, begin
            out.append((rng, (begin, end), (is_end, end_seq, range_rows(conn, user_id, cid, begin, end))))
        return out

    resp = sdkws_pb2.PullMessageBySeqsResp()
    for rng, span, extra in await core.storage.read(op):
        cid = rng.conversationID
        entry = (resp.notificationMsgs if cid.startswith("n_") else resp.msgs)[cid]
        entry.isEnd = extra[0]
        if span is None:
            continue
        if extra[1]:
            entry.endSeq = extra[1]
        entry.MergeFromString(page_bytes(extra[2], list(range(span[0], span[1] + 1))))
        await rewrite_quotes(core, cid, list(entry.Msgs))  # quotes of revoked messages (msg_quote.py)
    return resp


async def pull_by_seqs(core: ServerCore, req: msg_pb2.GetSeqMessageReq,
                       admin: bool = False) -> msg_pb2.GetSeqMessageResp:
    user_id = req.userID

    def op(conn: sqlite3.Connection) -> tuple[dict[str, tuple[int, int]], list[tuple[list[int], list[PageRow]]]]:
        windows = _windows_in(conn, user_id, [c.conversationID for c in req.conversations], admin)
        pages: list[tuple[list[int], list[PageRow]]] = []
        for conv in req.conversations:
            cid = conv.conversationID
            if cid not in windows:
                pages.append(([], []))
                continue
            eff_min, eff_max = windows[cid]
            seqs = sorted({s for s in conv.seqs if eff_min <= s <= eff_max})[:MAX_PULL]
            pages.append((seqs, seq_list_rows(conn, user_id, cid, seqs) if seqs else []))
        return windows, pages

    windows, pages = await core.storage.read(op)
    resp = msg_pb2.GetSeqMessageResp()
    for conv, (seqs, rows) in zip(req.conversations, pages, strict=True):
        cid = conv.conversationID
        if cid not in windows:
            continue
        eff_min, eff_max = windows[cid]
        target = resp.notificationMsgs if cid.startswith("n_") else resp.msgs
        pm = sdkws_pb2.PullMsgs()
        if seqs:
            pm.MergeFromString(page_bytes(rows, seqs))
            await rewrite_quotes(core, cid, list(pm.Msgs))
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
    search = MessageSearch(send_id=req.sendID, recv_id=req.recvID, content_type=req.contentType,
                           session_type=req.sessionType)
    if req.sendTime:
        try:
            day = datetime.strptime(req.sendTime, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            raise ServerInternalError(detail=f'parsing time "{req.sendTime}" failed') from None
        search.sent_from = int(day.timestamp() * 1000)
        search.sent_until = search.sent_from + int(timedelta(days=1).total_seconds() * 1000)
    if not ctx.is_admin:  # an ordinary user searches the conversations they may read
        own = [r.conversation_id for r in await ctx.core.storage.conversations(ctx.user_id)]
        search.conversation_ids = list(await access.readable(ctx.core, ctx.user_id, own))
    offset, limit = page_bounds(req.pagination) if req.HasField("pagination") else (0, 20)
    total, rows = await ctx.core.storage.search_messages(search, offset, limit)
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


