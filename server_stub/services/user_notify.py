"""What a user's own changes tell others: profile updates (1303, 1209, 1516) and user commands (1305-1307).

Upstream: internal/rpc/user/user.go (``UpdateUserInfo``, ``NotificationUserInfoUpdate``,
``ProcessUserCommandAdd/Delete/Update``), internal/rpc/relation/sync.go and notification.go
(``NotificationUserInfoUpdate``, ``FriendInfoUpdatedNotification``), internal/rpc/group/group.go
(``NotificationUserInfoUpdate``).
"""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RequestContext
from ..notify import group_notification, send_notification
from ..repos import relations as rs
from ..repos.versions import version_stamp
from ..storage import bump_version, now_ms


async def profile(ctx: RequestContext, user_id: str) -> tuple[str, str] | None:
    """(nickname, faceURL) before a change, None for an unknown user."""
    users = await ctx.core.storage.get_users([user_id])
    u = users.get(user_id)
    return (u.nickname, u.face_url) if u is not None else None


async def user_info_updated(ctx: RequestContext, user_id: str, before: tuple[str, str] | None) -> None:
    """After an update of ``user_id``'s profile.

    1303 UserInfoUpdated to the user (all their devices). When the nickname or face URL changed:
    each friend's friend-version log records the friend as updated (their incremental friend sync
    returns the new nickname/face) and gets 1209 FriendInfoUpdated; in each group where the member
    row has no nickname or face of its own (so it shows the profile's), the member-version log
    records the member as updated and the group gets 1516 GroupMemberInfoSet.
    """
    tips = sdkws_pb2.UserInfoUpdatedTips(userID=user_id)
    await send_notification(ctx.core, ctx.user_id, user_id, ContentType.USER_INFO_UPDATED, tips, ctx.operation_id)
    after = await profile(ctx, user_id)
    if before is None or after is None or after == before:
        return

    def op(conn: Any) -> tuple[list[str], list[tuple[str, Any]]]:
        friends = rs.friend_owners_of(conn, user_id)
        for owner in friends:
            bump_version(conn, "friend", owner, [user_id], 3)
        groups = []
        for gid, nick, face in rs.memberships(conn, user_id):
            if nick and face:
                continue
            g = rs.group_row(conn, gid)
            if g is None or g.status == rs.STATUS_DISMISSED:
                continue
            bump_version(conn, "group_member", gid, [user_id], 3)
            m = rs.member(conn, gid, user_id)
            vid, version = _member_version(conn, gid)
            groups.append((gid, sdkws_pb2.GroupMemberInfoSetTips(
                group=g, opUser=m, changedUser=m, operationTime=now_ms(), groupMemberVersion=version,
                groupMemberVersionID=vid)))
        return friends, groups

    friends, groups = await ctx.core.storage.run(op)
    for owner in friends:
        await send_notification(ctx.core, ctx.user_id, owner, ContentType.FRIEND_INFO_UPDATED,
                                sdkws_pb2.UserInfoUpdatedTips(userID=user_id), ctx.operation_id)
    for gid, gtips in groups:
        await group_notification(ctx.core, ctx.user_id, gid, ContentType.GROUP_MEMBER_INFO_SET, gtips,
                                 ctx.operation_id)


def _member_version(conn: Any, gid: str) -> tuple[str, int]:
    return version_stamp(conn, "group_member", gid)


_COMMAND_TIPS: dict[int, Any] = {
    ContentType.USER_COMMAND_ADD: sdkws_pb2.UserCommandAddTips,
    ContentType.USER_COMMAND_DELETE: sdkws_pb2.UserCommandDeleteTips,
    ContentType.USER_COMMAND_UPDATE: sdkws_pb2.UserCommandUpdateTips,
}


async def user_command(ctx: RequestContext, user_id: str, content_type: int) -> None:
    """1305/1306/1307 to the user's own devices (tips: fromUserID = toUserID = the user)."""
    tips = _COMMAND_TIPS[content_type](fromUserID=user_id, toUserID=user_id)
    await send_notification(ctx.core, user_id, user_id, content_type, tips, ctx.operation_id)
