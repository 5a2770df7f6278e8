"""Shared helpers of the /group/* services: loading, role checks, tips rendering, notifications."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from openim_sdk.protocol.errors import (
    GroupNotFoundError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
)
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RequestContext
from ..notify import group_notification
from ..repos import relations as rs
from ..repos.conversations import conversation_data, update_conversation_data
from ..repos.messages import max_seq
from ..repos.versions import version_stamp
from ..storage import bump_version

JOIN_ADMIN, JOIN_INVITATION, JOIN_SEARCH, JOIN_QR = 1, 2, 3, 4
VERIFY_APPLY, VERIFY_ALL, VERIFY_DIRECT = 0, 1, 2
BATCH_CHANGE_LIMIT = 500


def load_group(conn: Any, gid: str, alive: bool = True) -> sdkws_pb2.GroupInfo:
    g = rs.group_row(conn, gid)
    if g is None:
        raise GroupNotFoundError(detail=f"group {gid} not found")
    if alive and g.status == rs.STATUS_DISMISSED:
        raise OpenIMError(1204, detail=f"group {gid} dismissed")
    return g


def role_of(conn: Any, gid: str, uid: str) -> int:
    return rs.role_of(conn, gid, uid)


def require_manager(ctx: RequestContext, conn: Any, gid: str) -> int:
    """Caller's role; raises 1002 unless owner/admin of the group or app admin (then 100)."""
    if ctx.is_admin:
        return rs.ROLE_OWNER + 1
    role = role_of(conn, gid, ctx.user_id)
    if role < rs.ROLE_ADMIN:
        raise NoPermissionError(detail="no permission: not group owner or admin")
    return role


def require_in_group(ctx: RequestContext, conn: Any, gid: str) -> None:
    if not ctx.is_admin and not role_of(conn, gid, ctx.user_id):
        raise NoPermissionError(detail=f"{ctx.user_id} not in group {gid}")


def op_member(conn: Any, gid: str, uid: str) -> sdkws_pb2.GroupMemberFullInfo:
    m = rs.member(conn, gid, uid)
    if m is not None:
        return m
    u = rs.users(conn, [uid]).get(uid)
    return sdkws_pb2.GroupMemberFullInfo(groupID=gid, userID=uid, nickname=u.nickname if u else "",
                                         faceURL=u.faceURL if u else "", appMangerLevel=u.appMangerLevel if u else 0)


def member_version(conn: Any, gid: str) -> tuple[str, int]:
    return version_stamp(conn, "group_member", gid)


def with_version(tips: Any, conn: Any, gid: str) -> Any:
    vid, version = member_version(conn, gid)
    tips.groupMemberVersion, tips.groupMemberVersionID = version, vid
    return tips


async def missing_users(ctx: RequestContext, ids: list[str]) -> None:
    found = await ctx.core.storage.get_users(ids)
    missing = [u for u in ids if u not in found]
    if missing:
        raise NotFoundError(1004, detail=f"user not found: {','.join(missing)}")


async def notify_group(ctx: RequestContext, gid: str, ct: int, tips: Any, send_msg: bool | None = None) -> None:
    """A group notification from the caller; ``send_msg`` None = the type's isSendMsg default."""
    await group_notification(ctx.core, ctx.user_id, gid, ct, tips, ctx.operation_id, send_msg=send_msg)


def requested(req: Any, name: str = "sendMessage") -> bool | None:
    """An ``optional bool`` request flag: its value when set, None when absent."""
    return getattr(req, name) if req.HasField(name) else None


def history_from_now(conn: Any, gid: str, uids: list[str]) -> None:
    """``enableHistoryForNewMembers = false``: the new members' ``sg_`` window starts after the
    current max seq, so messages sent before they joined cannot be pulled (upstream
    internal/rpc/group/notification.go ``MemberEnterNotification``: SetUserConversationsMinSeq maxSeq+1)."""
    cid = f"sg_{gid}"
    first = max_seq(conn, cid) + 1
    for uid in uids:
        data = conversation_data(conn, uid, cid)
        if data is None:
            continue
        conv = conversation_pb2.Conversation.FromString(data)
        conv.minSeq = max(conv.minSeq, first)
        update_conversation_data(conn, uid, cid, conv.SerializeToString())
        bump_version(conn, "conversation", uid, [cid], 3)


async def before_members_enter(ctx: RequestContext, gid: str, uids: list[str], group_ex: str) -> dict[str, Any]:
    """The before-callbacks of members entering ``gid`` directly (created with the group, invited
    without approval, joining a group that needs none, an application accepted): beforeMemberJoinGroup
    (upstream internal/rpc/group/group.go) then beforeCreateGroupChatConversations (upstream's
    CreateGroupChatConversations, called by the member-enter notifications). Either may refuse;
    called before the transaction, so a refusal leaves the group as it was. Returns the record
    fields the second one's reply sets on the entrants' new ``sg_`` records (for :func:`add_members`)."""
    await ctx.core.webhooks.before_members_join_group(gid, uids, group_ex, ctx.operation_id)
    return await ctx.core.webhooks.before_create_group_chat_conversations(gid, ctx.operation_id)


def members_entered(ctx: RequestContext, gid: str, record: dict[str, Any] | None = None) -> None:
    """The after-callback of :func:`before_members_enter`: afterCreateGroupChatConversations."""
    ctx.core.webhooks.after_create_group_chat_conversations(gid, ctx.operation_id, record)


async def entering_group(ctx: RequestContext, gid: str, uids: list[str],
                         direct: Callable[[sdkws_pb2.GroupInfo, int], bool]) -> sdkws_pb2.GroupInfo | None:
    """The group when ``uids`` are about to enter it directly: read before the transaction (which
    checks it all again) to decide whether the member-enter callbacks apply. None when the group is
    gone or dismissed, one of ``uids`` is in it already, or ``direct(group, caller's role)`` says
    the entry will wait for approval."""
    def op(conn: Any) -> sdkws_pb2.GroupInfo | None:
        g = rs.group_row(conn, gid)
        if g is None or g.status == rs.STATUS_DISMISSED:
            return None
        if any(rs.role_of(conn, gid, uid) for uid in uids):
            return None
        role = rs.ROLE_OWNER if ctx.is_admin else rs.role_of(conn, gid, ctx.user_id)
        return g if direct(g, role) else None

    return await ctx.core.storage.read(op)  # type: ignore[no-any-return]


def add_members(ctx: RequestContext, conn: Any, gid: str, uids: list[str], role: int, source: int, operator: str,
                inviter: str = "", record: dict[str, Any] | None = None) -> None:
    """Add members (their ``sg_`` conversation is created at once); without history when the
    server runs with ``enable_history_for_new_members = false``."""
    added = [uid for uid in uids if rs.add_member(conn, gid, uid, role, source, operator, inviter, record)]
    if added and not ctx.core.config.enable_history_for_new_members:
        history_from_now(conn, gid, added)
