"""/group/*: leaving, kicking, transfer, dismissal, mutes and member info."""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import (
    ArgsError,
    NoPermissionError,
    OpenIMError,
)
from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RequestContext, need, service
from ..notify import group_notification
from ..repos import relations as rs
from ..storage import now_ms
from .group_common import (
    load_group,
    notify_group,
    op_member,
    requested,
    require_manager,
    role_of,
    with_version,
)

# --------------------------------------------------------------------------- leave / kick / transfer / dismiss


@service("/group/quit_group", lambda r: need(r.groupID, "groupID is empty"))
async def quit_group(ctx: RequestContext, req: group_pb2.QuitGroupReq) -> Any:
    uid = req.userID or ctx.user_id
    ctx.check_access(uid)

    def tips_op(conn: Any) -> Any:
        g = load_group(conn, req.groupID)
        role = role_of(conn, req.groupID, uid)
        if not role:
            raise OpenIMError(1203, detail=f"{uid} not in group {req.groupID}")
        if role == rs.ROLE_OWNER:
            raise NoPermissionError(detail="the group owner cannot quit")
        return sdkws_pb2.MemberQuitTips(group=g, quitUser=rs.member(conn, req.groupID, uid), operationTime=now_ms())

    tips = await ctx.core.storage.run(tips_op)
    # notify before removing, so the departing member receives it too (ws-protocol §5.2)
    await group_notification(ctx.core, uid, req.groupID, ContentType.MEMBER_QUIT, tips, ctx.operation_id)
    def remove(conn: Any) -> None:
        rs.remove_member(conn, req.groupID, uid)
        rs.group_changed(conn, req.groupID)

    await ctx.core.storage.run(remove)
    ctx.core.webhooks.after_quit_group(req.groupID, uid, ctx.operation_id)
    return group_pb2.QuitGroupResp()


def _v_kick(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(len(req.kickedUserIDs) > 0, "kickUserIDs is empty")
    need(len(req.kickedUserIDs) <= 1000, "too many KickedUserIDs, need to be less than 1000")


@service("/group/kick_group", _v_kick)
async def kick(ctx: RequestContext, req: group_pb2.KickGroupMemberReq) -> Any:
    ids = list(dict.fromkeys(req.kickedUserIDs))

    def op(conn: Any) -> Any:
        g = load_group(conn, req.groupID)
        mine = require_manager(ctx, conn, req.groupID)
        if ctx.user_id in ids:
            raise ArgsError(detail="cannot kick yourself")
        rows = {r[1]: r[2] for r in rs.member_rows(conn, req.groupID, ids)}
        for uid in ids:
            if uid not in rows:
                raise OpenIMError(1203, detail=f"{uid} not in group {req.groupID}")
            if rows[uid] == rs.ROLE_OWNER:
                raise NoPermissionError(detail="cannot kick the group owner")
            if rows[uid] >= mine:
                raise NoPermissionError(detail=f"no permission to kick {uid}")
        return sdkws_pb2.MemberKickedTips(group=g, opUser=op_member(conn, req.groupID, ctx.user_id),
                                          kickedUserList=rs.members(conn, req.groupID, ids), operationTime=now_ms())

    tips = await ctx.core.storage.run(op)
    await notify_group(ctx, req.groupID, ContentType.MEMBER_KICKED, tips, send_msg=requested(req))

    def remove(conn: Any) -> None:
        for uid in ids:
            rs.remove_member(conn, req.groupID, uid)
        rs.group_changed(conn, req.groupID)

    await ctx.core.storage.run(remove)
    ctx.core.webhooks.after_kick_group_member(req.groupID, ids, req.reason, ctx.operation_id)
    return group_pb2.KickGroupMemberResp()


def _v_transfer(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(req.oldOwnerUserID, "oldOwnerUserID is empty")
    need(req.newOwnerUserID, "newOwnerUserID is empty")


@service("/group/transfer_group", _v_transfer)
async def transfer(ctx: RequestContext, req: group_pb2.TransferGroupOwnerReq) -> Any:
    if req.oldOwnerUserID == req.newOwnerUserID:
        raise ArgsError(detail="OldOwnerUserID == NewOwnerUserID")

    def op(conn: Any) -> Any:
        g = load_group(conn, req.groupID)
        if g.ownerUserID != req.oldOwnerUserID or role_of(conn, req.groupID, req.oldOwnerUserID) != rs.ROLE_OWNER:
            raise NoPermissionError(detail=f"{req.oldOwnerUserID} is not the group owner")
        if not ctx.is_admin and ctx.user_id != req.oldOwnerUserID:
            raise NoPermissionError(detail="only the group owner can transfer the group")
        if not role_of(conn, req.groupID, req.newOwnerUserID):
            raise OpenIMError(1203, detail=f"{req.newOwnerUserID} not in group {req.groupID}")
        rs.update_member(conn, req.groupID, req.oldOwnerUserID, role_level=rs.ROLE_MEMBER)
        rs.update_member(conn, req.groupID, req.newOwnerUserID, role_level=rs.ROLE_OWNER)
        g.ownerUserID = req.newOwnerUserID
        rs.save_group(conn, g)
        rs.group_changed(conn, req.groupID)
        return with_version(sdkws_pb2.GroupOwnerTransferredTips(
            group=rs.group_row(conn, req.groupID), opUser=op_member(conn, req.groupID, ctx.user_id),
            newGroupOwner=rs.member(conn, req.groupID, req.newOwnerUserID), oldGroupOwner=req.oldOwnerUserID,
            oldGroupOwnerInfo=rs.member(conn, req.groupID, req.oldOwnerUserID), operationTime=now_ms()),
            conn, req.groupID)

    tips = await ctx.core.storage.run(op)
    await notify_group(ctx, req.groupID, ContentType.GROUP_OWNER_TRANSFERRED, tips)
    ctx.core.webhooks.after_transfer_group_owner(req.groupID, req.oldOwnerUserID, req.newOwnerUserID, ctx.operation_id)
    return group_pb2.TransferGroupOwnerResp()


@service("/group/dismiss_group", lambda r: need(r.groupID, "groupID is empty"))
async def dismiss(ctx: RequestContext, req: group_pb2.DismissGroupReq) -> Any:
    """As upstream internal/rpc/group/group.go ``DismissGroup`` and storage/controller/group.go:
    ``deleteMember`` false (what the official clients send): status 2, members kept (the group stays
    in their lists, dismissed; the official core then drops its members and fires OnGroupDismissed),
    1511 to the members (in the timeline unless ``sendMessage`` is false). ``deleteMember`` true
    (also on an already dismissed group): every member is removed (their joined-group lists drop it,
    their ``sg_`` history stays readable up to now) and, as upstream, no notification is sent."""
    def check(conn: Any) -> Any:
        g = load_group(conn, req.groupID, alive=not req.deleteMember)
        if not ctx.is_admin and role_of(conn, req.groupID, ctx.user_id) != rs.ROLE_OWNER:
            raise NoPermissionError(detail="only the group owner can dismiss the group")
        shown = sdkws_pb2.GroupInfo()
        shown.CopyFrom(g)
        shown.status = rs.STATUS_DISMISSED
        return sdkws_pb2.GroupDismissedTips(group=shown, opUser=op_member(conn, req.groupID, ctx.user_id),
                                            operationTime=now_ms())

    tips = await ctx.core.storage.run(check)
    if not req.deleteMember:  # sent while the group is alive: the send path refuses dismissed groups
        await notify_group(ctx, req.groupID, ContentType.GROUP_DISMISSED, tips, send_msg=requested(req))

    def op(conn: Any) -> list[str]:
        g = load_group(conn, req.groupID, alive=False)
        g.status = rs.STATUS_DISMISSED
        rs.save_group(conn, g)
        rs.group_changed(conn, req.groupID)
        members = rs.member_ids(conn, req.groupID)  # before any removal: afterDismissGroup's membersID
        if req.deleteMember:
            for uid in members:
                rs.remove_member(conn, req.groupID, uid)
        return members

    members = await ctx.core.storage.run(op)
    ctx.core.webhooks.after_dismiss_group(tips.group, members, ctx.operation_id)
    return group_pb2.DismissGroupResp()


# --------------------------------------------------------------------------- mutes and member info


def _v_mute_member(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(req.userID, "userID is empty")
    need(req.mutedSeconds > 0, "mutedSeconds is empty")


def _target_check(ctx: RequestContext, conn: Any, gid: str, uid: str) -> None:
    mine = require_manager(ctx, conn, gid)
    theirs = role_of(conn, gid, uid)
    if not theirs:
        raise OpenIMError(1203, detail=f"{uid} not in group {gid}")
    if theirs >= mine:
        raise NoPermissionError(detail=f"no permission to mute {uid}")


async def _mute_member(ctx: RequestContext, gid: str, uid: str, seconds: int) -> None:
    def op(conn: Any) -> Any:
        g = load_group(conn, gid)
        _target_check(ctx, conn, gid, uid)
        rs.update_member(conn, gid, uid, mute_end_time=now_ms() + seconds * 1000 if seconds else 0)
        common: dict[str, Any] = {"group": g, "opUser": op_member(conn, gid, ctx.user_id), "operationTime": now_ms(),
                  "mutedUser": rs.member(conn, gid, uid)}
        if seconds:
            return with_version(sdkws_pb2.GroupMemberMutedTips(mutedSeconds=seconds, **common), conn, gid)
        return with_version(sdkws_pb2.GroupMemberCancelMutedTips(**common), conn, gid)

    tips = await ctx.core.storage.run(op)
    ct = ContentType.GROUP_MEMBER_MUTED if seconds else ContentType.GROUP_MEMBER_CANCEL_MUTED
    await notify_group(ctx, gid, ct, tips)


@service("/group/mute_group_member", _v_mute_member)
async def mute_member(ctx: RequestContext, req: group_pb2.MuteGroupMemberReq) -> Any:
    await _mute_member(ctx, req.groupID, req.userID, req.mutedSeconds)
    return group_pb2.MuteGroupMemberResp()


def _v_cancel_member(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(req.userID, "userID is empty")


@service("/group/cancel_mute_group_member", _v_cancel_member)
async def cancel_mute_member(ctx: RequestContext, req: group_pb2.CancelMuteGroupMemberReq) -> Any:
    await _mute_member(ctx, req.groupID, req.userID, 0)
    return group_pb2.CancelMuteGroupMemberResp()


async def _mute_group(ctx: RequestContext, gid: str, muted: bool) -> None:
    def op(conn: Any) -> Any:
        g = load_group(conn, gid)
        require_manager(ctx, conn, gid)
        g.status = rs.STATUS_MUTED if muted else rs.STATUS_OK
        rs.save_group(conn, g)
        rs.group_changed(conn, gid)
        cls = sdkws_pb2.GroupMutedTips if muted else sdkws_pb2.GroupCancelMutedTips
        return with_version(cls(group=rs.group_row(conn, gid), opUser=op_member(conn, gid, ctx.user_id),
                                 operationTime=now_ms()), conn, gid)

    tips = await ctx.core.storage.run(op)
    await notify_group(ctx, gid, ContentType.GROUP_MUTED if muted else ContentType.GROUP_CANCEL_MUTED, tips)


@service("/group/mute_group", lambda r: need(r.groupID, "groupID is empty"))
async def mute_group(ctx: RequestContext, req: group_pb2.MuteGroupReq) -> Any:
    await _mute_group(ctx, req.groupID, True)
    return group_pb2.MuteGroupResp()


@service("/group/cancel_mute_group", lambda r: need(r.groupID, "groupID is empty"))
async def cancel_mute_group(ctx: RequestContext, req: group_pb2.CancelMuteGroupReq) -> Any:
    await _mute_group(ctx, req.groupID, False)
    return group_pb2.CancelMuteGroupResp()


def _v_member_info(req: Any) -> None:
    need(len(req.members) > 0, "members is empty")
    need(len(req.members) <= 1000, "too many Members, need to be less than 1000")


@service("/group/set_group_member_info", _v_member_info)
async def set_member_info(ctx: RequestContext, req: group_pb2.SetGroupMemberInfoReq) -> Any:
    for m in req.members:
        await ctx.core.webhooks.before_set_group_member_info(m, ctx.operation_id)  # may change m

    def op(conn: Any) -> list[tuple[str, int, Any]]:
        out: list[tuple[str, int, Any]] = []
        for m in req.members:
            load_group(conn, m.groupID)
            theirs = role_of(conn, m.groupID, m.userID)
            if not theirs:
                raise OpenIMError(1203, detail=f"{m.userID} not in group {m.groupID}")
            if m.HasField("roleLevel") and m.roleLevel.value not in (rs.ROLE_ADMIN, rs.ROLE_MEMBER):
                raise NoPermissionError(detail="roleLevel must be 60 or 20")
            if not ctx.is_admin:
                mine = role_of(conn, m.groupID, ctx.user_id)
                if m.userID == ctx.user_id:
                    if m.HasField("roleLevel") and m.roleLevel.value != mine:
                        raise NoPermissionError(detail="cannot change your own role")
                elif mine == rs.ROLE_OWNER:
                    pass
                elif mine == rs.ROLE_ADMIN and theirs == rs.ROLE_MEMBER:
                    if m.HasField("roleLevel") and m.roleLevel.value != rs.ROLE_MEMBER:
                        raise NoPermissionError(detail="admins cannot promote members")
                else:
                    raise NoPermissionError(detail=f"no permission to set {m.userID}")
            if theirs == rs.ROLE_OWNER and m.HasField("roleLevel") and m.roleLevel.value != rs.ROLE_OWNER:
                raise NoPermissionError(detail="use transfer_group to change the owner's role")
            cols = {c: getattr(m, f).value for f, c in (("nickname", "nickname"), ("faceURL", "face_url"),
                                                         ("roleLevel", "role_level"), ("ex", "ex")) if m.HasField(f)}
            if not cols:
                continue
            rs.update_member(conn, m.groupID, m.userID, **cols)
            ct: int = ContentType.GROUP_MEMBER_INFO_SET
            if "role_level" in cols and cols["role_level"] != theirs:
                ct = (ContentType.GROUP_MEMBER_SET_TO_ADMIN if cols["role_level"] == rs.ROLE_ADMIN
                      else ContentType.GROUP_MEMBER_SET_TO_ORDINARY)
            out.append((m.groupID, ct, with_version(sdkws_pb2.GroupMemberInfoSetTips(
                group=rs.group_row(conn, m.groupID), opUser=op_member(conn, m.groupID, ctx.user_id),
                operationTime=now_ms(), changedUser=rs.member(conn, m.groupID, m.userID)), conn, m.groupID)))
        return out

    for gid, ct, tips in await ctx.core.storage.run(op):
        await notify_group(ctx, gid, ct, tips)
    for m in req.members:
        ctx.core.webhooks.after_set_group_member_info(m, ctx.operation_id)
    return group_pb2.SetGroupMemberInfoResp()
