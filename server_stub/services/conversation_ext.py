"""Conversation routes part 1 does not cover (delete, update by user) and friend/group details in
the /jssdk answers.

The two ``/jssdk`` routes are registered here (not in ``conversation.py``): each handler calls
part 1's function explicitly and adds to its answer. ``/conversation/set_conversations`` and its
1300/1701 live in ``conversation.py``.
"""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.errors import ArgsError
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.jssdk import jssdk_pb2

from ..context import RequestContext, need, service
from ..repos import relations as rs
from ..repos.conversations import delete_conversation, owner_conversations, update_conversation_data
from ..storage import bump_version
from . import conversation as part1
from .conversation_state import conversation_changed as changed_notification


async def conversation_changed(ctx: RequestContext, user_id: str, cids: list[str]) -> None:
    await changed_notification(ctx.core, user_id, cids, ctx.operation_id)


@service("/conversation/delete_conversations", lambda r: need(r.ownerUserID, "ownerUserID is empty"))
async def delete_conversations(ctx: RequestContext, req: conversation_pb2.DeleteConversationsReq) -> Any:
    ctx.check_access(req.ownerUserID)
    cids = list(dict.fromkeys(req.conversationIDs))
    if not cids:
        raise ArgsError(detail="conversationIDs is empty")

    def op(conn: Any) -> list[str]:
        gone = []
        for cid in cids:
            if delete_conversation(conn, req.ownerUserID, cid):
                gone.append(cid)
        if gone:
            bump_version(conn, "conversation", req.ownerUserID, gone, 2)
        return gone

    gone = await ctx.core.storage.run(op)
    if gone:
        await conversation_changed(ctx, req.ownerUserID, gone)
    return conversation_pb2.DeleteConversationsResp()


@service("/conversation/update_conversations_by_user", lambda r: need(r.userID, "userID is empty"))
async def update_by_user(ctx: RequestContext, req: conversation_pb2.UpdateConversationsByUserReq) -> Any:
    ctx.check_access(req.userID)
    if not req.HasField("ex"):
        return conversation_pb2.UpdateConversationsByUserResp()

    def op(conn: Any) -> list[str]:
        changed = []
        for _, cid, data in owner_conversations(conn, req.userID):
            conv = conversation_pb2.Conversation.FromString(data)
            if conv.ex == req.ex.value:
                continue
            conv.ex = req.ex.value
            update_conversation_data(conn, req.userID, cid, conv.SerializeToString())
            changed.append(cid)
        if changed:
            bump_version(conn, "conversation", req.userID, changed, 3)
        return changed

    changed = await ctx.core.storage.run(op)
    if changed:
        await conversation_changed(ctx, req.userID, changed)
    return conversation_pb2.UpdateConversationsByUserResp()


async def _with_relations(ctx: RequestContext, resp: Any) -> Any:
    """Part 1's /jssdk answer plus the caller's friend record and the group of each conversation."""
    def fill(conn: Any) -> None:
        for item in resp.conversations:
            conv = item.conversation
            if conv.userID:
                rows = rs.friend_rows(conn, ctx.user_id, [conv.userID])
                if rows:
                    item.friend.CopyFrom(rs.friend_only(rows[0]))
            if conv.groupID:
                g = rs.group_row(conn, conv.groupID)
                if g is not None:
                    item.group.CopyFrom(g)

    await ctx.core.storage.run(fill)
    return resp


@service("/jssdk/get_conversations")
async def jssdk_get_conversations(ctx: RequestContext, req: jssdk_pb2.GetConversationsReq) -> Any:
    return await _with_relations(ctx, await part1.jssdk_get_conversations(ctx, req))


@service("/jssdk/get_active_conversations")
async def jssdk_active(ctx: RequestContext, req: jssdk_pb2.GetActiveConversationsReq) -> Any:
    return await _with_relations(ctx, await part1.jssdk_active(ctx, req))
