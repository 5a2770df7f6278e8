"""/group/* (spec rest-api §9.4, §12): groups, members, roles, mutes, applications, sync, notifications."""

from __future__ import annotations

import random
from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import (
    ArgsError,
    GroupNotFoundError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
)
from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .. import relation_store as rs
from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..notify import group_notification, send_notification
from ..storage import now_ms
from .conversation import id_hash, incremental, nil_lists

JOIN_ADMIN, JOIN_INVITATION, JOIN_SEARCH, JOIN_QR = 1, 2, 3, 4
VERIFY_APPLY, VERIFY_ALL, VERIFY_DIRECT = 0, 1, 2
BATCH_CHANGE_LIMIT = 500


# --------------------------------------------------------------------------- helpers


def _load(conn: Any, gid: str, alive: bool = True) -> sdkws_pb2.GroupInfo:
    g = rs.group_row(conn, gid)
    if g is None:
        raise GroupNotFoundError(detail=f"group {gid} not found")
    if alive and g.status == rs.STATUS_DISMISSED:
        raise OpenIMError(1204, detail=f"group {gid} dismissed")
    return g


def _role(conn: Any, gid: str, uid: str) -> int:
    r = conn.execute("SELECT role_level FROM group_members WHERE group_id = ? AND user_id = ?", (gid, uid)).fetchone()
    return r[0] if r else 0


def _manager(ctx: RequestContext, conn: Any, gid: str) -> int:
    """Caller's role; raises 1002 unless owner/admin of the group or app admin (then 100)."""
    if ctx.is_admin:
        return rs.ROLE_OWNER + 1
    role = _role(conn, gid, ctx.user_id)
    if role < rs.ROLE_ADMIN:
        raise NoPermissionError(detail="no permission: not group owner or admin")
    return role


def _in_group(ctx: RequestContext, conn: Any, gid: str) -> None:
    if not ctx.is_admin and not _role(conn, gid, ctx.user_id):
        raise NoPermissionError(detail=f"{ctx.user_id} not in group {gid}")


def _op_member(conn: Any, gid: str, uid: str) -> sdkws_pb2.GroupMemberFullInfo:
    m = rs.member(conn, gid, uid)
    if m is not None:
        return m
    u = rs.users(conn, [uid]).get(uid)
    return sdkws_pb2.GroupMemberFullInfo(groupID=gid, userID=uid, nickname=u.nickname if u else "",
                                         faceURL=u.faceURL if u else "", appMangerLevel=u.appMangerLevel if u else 0)


def _member_version(conn: Any, gid: str) -> tuple[str, int]:
    r = conn.execute("SELECT version_id, version FROM version_logs WHERE kind = 'group_member' AND key = ?",
                     (gid,)).fetchone()
    return (r[0], r[1]) if r else ("", 0)


def _with_version(tips: Any, conn: Any, gid: str) -> Any:
    vid, version = _member_version(conn, gid)
    tips.groupMemberVersion, tips.groupMemberVersionID = version, vid
    return tips


async def _missing_users(ctx: RequestContext, ids: list[str]) -> None:
    found = await ctx.core.storage.get_users(ids)
    missing = [u for u in ids if u not in found]
    if missing:
        raise NotFoundError(1004, detail=f"user not found: {','.join(missing)}")


async def _notify(ctx: RequestContext, gid: str, ct: int, tips: Any) -> None:
    await group_notification(ctx.core, ctx.user_id, gid, ct, tips, ctx.operation_id)


# --------------------------------------------------------------------------- create / info


def _v_create(req: Any) -> None:
    need(req.HasField("groupInfo"), "groupInfo is empty")
    need(0 <= req.groupInfo.groupType <= 2, "GroupType is invalid")
    need(req.ownerUserID, "ownerUserID is empty")
    need(len(req.memberUserIDs) <= 1000, "too many MemberUserIDs, need to be less than 1000")


@service("/group/create_group", _v_create)
async def create_group(ctx: RequestContext, req: group_pb2.CreateGroupReq) -> Any:
    ctx.check_access(req.ownerUserID)
    if req.groupInfo.groupType != 2:
        raise ArgsError(detail="group type only supports 2")
    everyone = [req.ownerUserID, *req.adminUserIDs, *req.memberUserIDs]
    if len(set(everyone)) != len(everyone):
        raise ArgsError(detail="group member repeated")
    await _missing_users(ctx, everyone)
    await ctx.core.webhooks.before_create_group(req, ctx.operation_id)  # may change req.groupInfo
    info = sdkws_pb2.GroupInfo()
    info.CopyFrom(req.groupInfo)
    info.groupID = info.groupID or str(random.randint(10**9, 10**10 - 1))
    info.ownerUserID, info.creatorUserID, info.createTime = req.ownerUserID, ctx.user_id, now_ms()
    info.status, info.memberCount = rs.STATUS_OK, 0
    await ctx.core.webhooks.before_members_join_group(info.groupID, everyone, info.ex, ctx.operation_id)

    def op(conn: Any) -> Any:
        if rs.group_row(conn, info.groupID) is not None:
            raise OpenIMError(1202, detail=f"group {info.groupID} already exists")
        rs.save_group(conn, info, insert=True)
        rs.add_member(conn, info.groupID, req.ownerUserID, rs.ROLE_OWNER, JOIN_INVITATION, ctx.user_id,
                      ctx.user_id)
        for uid in req.adminUserIDs:
            rs.add_member(conn, info.groupID, uid, rs.ROLE_ADMIN, JOIN_INVITATION, ctx.user_id, req.ownerUserID)
        for uid in req.memberUserIDs:
            rs.add_member(conn, info.groupID, uid, rs.ROLE_MEMBER, JOIN_INVITATION, ctx.user_id, req.ownerUserID)
        g = rs.group_row(conn, info.groupID)
        ms = rs.members(conn, info.groupID)
        tips = _with_version(sdkws_pb2.GroupCreatedTips(
            group=g, opUser=_op_member(conn, info.groupID, ctx.user_id), memberList=ms, operationTime=now_ms(),
            groupOwnerUser=_op_member(conn, info.groupID, req.ownerUserID)), conn, info.groupID)
        return g, tips

    g, tips = await ctx.core.storage.run(op)
    await _notify(ctx, g.groupID, ContentType.GROUP_CREATED, tips)
    ctx.core.webhooks.after_create_group(req, g, ctx.operation_id)
    return group_pb2.CreateGroupResp(groupInfo=g)


@service("/group/get_groups_info", lambda r: need(len(r.groupIDs) > 0, "GroupIDs is empty"))
async def groups_info(ctx: RequestContext, req: group_pb2.GetGroupsInfoReq) -> Any:
    gs = await ctx.core.storage.run(lambda c: rs.groups(c, req.groupIDs))
    return group_pb2.GetGroupsInfoResp(groupInfos=list(gs.values()))


async def _set_info(ctx: RequestContext, gid: str, changes: dict[str, Any]) -> None:
    def op(conn: Any) -> tuple[int, Any]:
        g = _load(conn, gid)
        _manager(ctx, conn, gid)
        if not changes:
            return 0, None
        for k, v in changes.items():
            setattr(g, k, v)
        if "notification" in changes:
            g.notificationUpdateTime, g.notificationUserID = now_ms(), ctx.user_id
        rs.save_group(conn, g)
        rs.group_changed(conn, gid)
        g = _load(conn, gid)
        opu = _op_member(conn, gid, ctx.user_id)
        keys = set(changes)
        if keys == {"notification"}:
            return ContentType.GROUP_INFO_SET_ANNOUNCEMENT, _with_version(
                sdkws_pb2.GroupInfoSetAnnouncementTips(opUser=opu, group=g), conn, gid)
        if keys == {"groupName"}:
            return ContentType.GROUP_INFO_SET_NAME, _with_version(
                sdkws_pb2.GroupInfoSetNameTips(opUser=opu, group=g), conn, gid)
        return ContentType.GROUP_INFO_SET, _with_version(sdkws_pb2.GroupInfoSetTips(opUser=opu, group=g), conn, gid)

    ct, tips = await ctx.core.storage.run(op)
    if ct:
        await _notify(ctx, gid, ct, tips)


def _v_set_info(req: Any) -> None:
    need(req.HasField("groupInfoForSet"), "GroupInfoForSets is empty")
    need(req.groupInfoForSet.groupID, "GroupID is empty")


@service("/group/set_group_info", _v_set_info)
async def set_group_info(ctx: RequestContext, req: group_pb2.SetGroupInfoReq) -> Any:
    s = req.groupInfoForSet
    await ctx.core.webhooks.before_set_group_info(s, ctx.operation_id)  # may change s
    changes: dict[str, Any] = {k: getattr(s, k) for k in ("groupName", "notification", "introduction", "faceURL")
                               if getattr(s, k)}
    for k in ("ex", "needVerification", "lookMemberInfo", "applyMemberFriend"):
        if s.HasField(k):
            changes[k] = getattr(s, k).value
    await _set_info(ctx, s.groupID, changes)
    ctx.core.webhooks.after_set_group_info(s, ctx.operation_id)
    return group_pb2.SetGroupInfoResp()


@service("/group/set_group_info_ex", lambda r: need(r.groupID, "GroupID is empty"))
async def set_group_info_ex(ctx: RequestContext, req: group_pb2.SetGroupInfoExReq) -> Any:
    await ctx.core.webhooks.before_set_group_info_ex(req, ctx.operation_id)  # may change req
    changes = {k: getattr(req, k).value for k in ("groupName", "notification", "introduction", "faceURL", "ex",
                                                  "needVerification", "lookMemberInfo", "applyMemberFriend")
               if req.HasField(k)}
    await _set_info(ctx, req.groupID, changes)
    ctx.core.webhooks.after_set_group_info_ex(req, ctx.operation_id)
    return group_pb2.SetGroupInfoExResp()


# --------------------------------------------------------------------------- join / applications


def _v_join(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(1 <= req.joinSource <= 4, "joinSource is invalid")
    if req.joinSource == JOIN_INVITATION:
        need(req.inviterUserID, "inviterUserID is empty")


async def _application_tips(ctx: RequestContext, gid: str, uids: list[str]) -> None:
    """1503 to the owner and admins for each new pending request."""
    def op(conn: Any) -> list[tuple[list[str], Any]]:
        g = rs.group_row(conn, gid)
        admins = [r[1] for r in rs.member_rows(conn, gid) if r[2] >= rs.ROLE_ADMIN]
        out = []
        for uid in uids:
            _, reqs = rs.group_requests(conn, "group_id = ? AND user_id = ?", (gid, uid))
            u = rs.users(conn, [uid]).get(uid)
            out.append((admins, sdkws_pb2.JoinGroupApplicationTips(
                group=g, applicant=rs.public(u, uid), reqMsg=reqs[0].reqMsg if reqs else "",
                request=reqs[0] if reqs else None)))
        return out

    for admins, tips in await ctx.core.storage.run(op):
        for admin in admins:
            await send_notification(ctx.core, tips.applicant.userID, admin, ContentType.JOIN_GROUP_APPLICATION, tips,
                                    ctx.operation_id)


def _entered_tips(conn: Any, gid: str, uid: str) -> Any:
    return _with_version(sdkws_pb2.MemberEnterTips(group=rs.group_row(conn, gid), entrantUser=rs.member(conn, gid, uid),
                                                   operationTime=now_ms()), conn, gid)


@service("/group/join_group", _v_join)
async def join_group(ctx: RequestContext, req: group_pb2.JoinGroupReq) -> Any:
    uid = req.inviterUserID or ctx.user_id  # the joining user (misleading name; not checked against caller)
    await _missing_users(ctx, [uid])
    await ctx.core.webhooks.before_apply_join_group(req.groupID, uid, req.reqMessage, req.ex, ctx.operation_id)

    def op(conn: Any) -> Any:
        g = _load(conn, req.groupID)
        if _role(conn, req.groupID, uid):
            raise ArgsError(detail="already in group")
        if g.needVerification == VERIFY_DIRECT:
            rs.add_member(conn, req.groupID, uid, rs.ROLE_MEMBER, req.joinSource, uid)
            return _entered_tips(conn, req.groupID, uid)
        conn.execute("INSERT OR REPLACE INTO group_requests (group_id, user_id, handle_result, req_msg, req_time, ex, "
                     "join_source, inviter_user_id) VALUES (?,?,0,?,?,?,?,?)",
                     (req.groupID, uid, req.reqMessage, now_ms(), req.ex, req.joinSource, uid))
        return None

    tips = await ctx.core.storage.run(op)
    if tips is not None:
        await group_notification(ctx.core, uid, req.groupID, ContentType.MEMBER_ENTER, tips, ctx.operation_id)
        ctx.core.webhooks.after_join_group(req.groupID, req.reqMessage, req.joinSource, uid, ctx.operation_id)
    else:
        await _application_tips(ctx, req.groupID, [uid])
    return group_pb2.JoinGroupResp()


def _v_response(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(req.fromUserID, "fromUserID is empty")
    need(req.handleResult in (1, -1), "handleResult is invalid")


@service("/group/group_application_response", _v_response)
async def application_response(ctx: RequestContext, req: group_pb2.GroupApplicationResponseReq) -> Any:
    agree = req.handleResult == 1

    def op(conn: Any) -> tuple[Any, Any]:
        _load(conn, req.groupID)
        _manager(ctx, conn, req.groupID)
        row = conn.execute("SELECT handle_result, join_source, inviter_user_id FROM group_requests WHERE group_id = ? "
                           "AND user_id = ?", (req.groupID, req.fromUserID)).fetchone()
        if row is None:
            raise NotFoundError(1004, detail="group request not found")
        if row[0] != 0:
            raise OpenIMError(1206, detail="group request handled")
        conn.execute("UPDATE group_requests SET handle_result = ?, handle_msg = ?, handle_user_id = ?, handle_time = ? "
                     "WHERE group_id = ? AND user_id = ?",
                     (req.handleResult, req.handledMsg, ctx.user_id, now_ms(), req.groupID, req.fromUserID))
        entered = None
        if agree and not _role(conn, req.groupID, req.fromUserID):
            inviter = row[2] if row[2] != req.fromUserID else ""
            rs.add_member(conn, req.groupID, req.fromUserID, rs.ROLE_MEMBER, row[1] or JOIN_SEARCH, ctx.user_id,
                          inviter)
            entered = _entered_tips(conn, req.groupID, req.fromUserID)
        _, reqs = rs.group_requests(conn, "group_id = ? AND user_id = ?", (req.groupID, req.fromUserID))
        cls = sdkws_pb2.GroupApplicationAcceptedTips if agree else sdkws_pb2.GroupApplicationRejectedTips
        tips = cls(group=rs.group_row(conn, req.groupID), opUser=_op_member(conn, req.groupID, ctx.user_id),
                   handleMsg=req.handledMsg, receiverAs=0, request=reqs[0])
        return tips, entered

    tips, entered = await ctx.core.storage.run(op)
    ct = ContentType.GROUP_APPLICATION_ACCEPTED if agree else ContentType.GROUP_APPLICATION_REJECTED
    await send_notification(ctx.core, ctx.user_id, req.fromUserID, ct, tips, ctx.operation_id)
    if entered is not None:
        await _notify(ctx, req.groupID, ContentType.MEMBER_ENTER, entered)
    return group_pb2.GroupApplicationResponseResp()


def _v_invite(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(len(req.invitedUserIDs) > 0, "invitedUserIDs is empty")
    need(len(req.invitedUserIDs) <= 1000, "too many InvitedUserIDs, need to be less than 1000")


@service("/group/invite_user_to_group", _v_invite)
async def invite(ctx: RequestContext, req: group_pb2.InviteUserToGroupReq) -> Any:
    ids = list(dict.fromkeys(req.invitedUserIDs))
    await _missing_users(ctx, ids)
    await ctx.core.webhooks.before_invite_user_to_group(req.groupID, req.reason, ids, ctx.operation_id)

    def op(conn: Any) -> tuple[str, Any]:
        g = _load(conn, req.groupID)
        role = rs.ROLE_OWNER if ctx.is_admin else _role(conn, req.groupID, ctx.user_id)
        if not role:
            raise NoPermissionError(detail=f"{ctx.user_id} not in group {req.groupID}")
        present = [r[1] for r in rs.member_rows(conn, req.groupID, ids)]
        if present:
            raise ArgsError(detail=f"already in group: {','.join(present)}")
        if g.needVerification == VERIFY_ALL and role < rs.ROLE_ADMIN:
            for uid in ids:
                conn.execute("INSERT OR REPLACE INTO group_requests (group_id, user_id, handle_result, req_msg, "
                             "req_time, join_source, inviter_user_id) VALUES (?,?,0,?,?,?,?)",
                             (req.groupID, uid, req.reason, now_ms(), JOIN_INVITATION, ctx.user_id))
            return "apply", None
        for uid in ids:
            rs.add_member(conn, req.groupID, uid, rs.ROLE_MEMBER, JOIN_INVITATION, ctx.user_id, ctx.user_id)
        opu = _op_member(conn, req.groupID, ctx.user_id)
        return "joined", _with_version(sdkws_pb2.MemberInvitedTips(
            group=rs.group_row(conn, req.groupID), opUser=opu, invitedUserList=rs.members(conn, req.groupID, ids),
            operationTime=now_ms(), inviterUser=opu), conn, req.groupID)

    kind, tips = await ctx.core.storage.run(op)
    if kind == "apply":
        await _application_tips(ctx, req.groupID, ids)
    else:
        await _notify(ctx, req.groupID, ContentType.MEMBER_INVITED, tips)
    return group_pb2.InviteUserToGroupResp()


# --------------------------------------------------------------------------- leave / kick / transfer / dismiss


@service("/group/quit_group", lambda r: need(r.groupID, "groupID is empty"))
async def quit_group(ctx: RequestContext, req: group_pb2.QuitGroupReq) -> Any:
    uid = req.userID or ctx.user_id
    ctx.check_access(uid)

    def tips_op(conn: Any) -> Any:
        g = _load(conn, req.groupID)
        role = _role(conn, req.groupID, uid)
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
        g = _load(conn, req.groupID)
        mine = _manager(ctx, conn, req.groupID)
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
        return sdkws_pb2.MemberKickedTips(group=g, opUser=_op_member(conn, req.groupID, ctx.user_id),
                                          kickedUserList=rs.members(conn, req.groupID, ids), operationTime=now_ms())

    tips = await ctx.core.storage.run(op)
    await _notify(ctx, req.groupID, ContentType.MEMBER_KICKED, tips)

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
        g = _load(conn, req.groupID)
        if g.ownerUserID != req.oldOwnerUserID or _role(conn, req.groupID, req.oldOwnerUserID) != rs.ROLE_OWNER:
            raise NoPermissionError(detail=f"{req.oldOwnerUserID} is not the group owner")
        if not ctx.is_admin and ctx.user_id != req.oldOwnerUserID:
            raise NoPermissionError(detail="only the group owner can transfer the group")
        if not _role(conn, req.groupID, req.newOwnerUserID):
            raise OpenIMError(1203, detail=f"{req.newOwnerUserID} not in group {req.groupID}")
        rs.update_member(conn, req.groupID, req.oldOwnerUserID, role_level=rs.ROLE_MEMBER)
        rs.update_member(conn, req.groupID, req.newOwnerUserID, role_level=rs.ROLE_OWNER)
        g.ownerUserID = req.newOwnerUserID
        rs.save_group(conn, g)
        rs.group_changed(conn, req.groupID)
        return _with_version(sdkws_pb2.GroupOwnerTransferredTips(
            group=rs.group_row(conn, req.groupID), opUser=_op_member(conn, req.groupID, ctx.user_id),
            newGroupOwner=rs.member(conn, req.groupID, req.newOwnerUserID), oldGroupOwner=req.oldOwnerUserID,
            oldGroupOwnerInfo=rs.member(conn, req.groupID, req.oldOwnerUserID), operationTime=now_ms()),
            conn, req.groupID)

    tips = await ctx.core.storage.run(op)
    await _notify(ctx, req.groupID, ContentType.GROUP_OWNER_TRANSFERRED, tips)
    ctx.core.webhooks.after_transfer_group_owner(req.groupID, req.oldOwnerUserID, req.newOwnerUserID, ctx.operation_id)
    return group_pb2.TransferGroupOwnerResp()


@service("/group/dismiss_group", lambda r: need(r.groupID, "groupID is empty"))
async def dismiss(ctx: RequestContext, req: group_pb2.DismissGroupReq) -> Any:
    def check(conn: Any) -> Any:
        g = _load(conn, req.groupID)
        if not ctx.is_admin and _role(conn, req.groupID, ctx.user_id) != rs.ROLE_OWNER:
            raise NoPermissionError(detail="only the group owner can dismiss the group")
        return sdkws_pb2.GroupDismissedTips(group=g, opUser=_op_member(conn, req.groupID, ctx.user_id),
                                            operationTime=now_ms())

    tips = await ctx.core.storage.run(check)
    await _notify(ctx, req.groupID, ContentType.GROUP_DISMISSED, tips)

    def op(conn: Any) -> None:
        g = _load(conn, req.groupID)
        g.status = rs.STATUS_DISMISSED
        rs.save_group(conn, g)
        rs.group_changed(conn, req.groupID)
        if req.deleteMember:
            for uid in rs.member_ids(conn, req.groupID):
                rs.remove_member(conn, req.groupID, uid)

    dismissed_members = await ctx.core.storage.run(lambda c: rs.member_ids(c, req.groupID))  # for the webhook
    await ctx.core.storage.run(op)
    ctx.core.webhooks.after_dismiss_group(tips.group, dismissed_members, ctx.operation_id)
    return group_pb2.DismissGroupResp()


# --------------------------------------------------------------------------- mutes and member info


def _v_mute_member(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(req.userID, "userID is empty")
    need(req.mutedSeconds > 0, "mutedSeconds is empty")


def _target_check(ctx: RequestContext, conn: Any, gid: str, uid: str) -> None:
    mine = _manager(ctx, conn, gid)
    theirs = _role(conn, gid, uid)
    if not theirs:
        raise OpenIMError(1203, detail=f"{uid} not in group {gid}")
    if theirs >= mine:
        raise NoPermissionError(detail=f"no permission to mute {uid}")


async def _mute_member(ctx: RequestContext, gid: str, uid: str, seconds: int) -> None:
    def op(conn: Any) -> Any:
        g = _load(conn, gid)
        _target_check(ctx, conn, gid, uid)
        rs.update_member(conn, gid, uid, mute_end_time=now_ms() + seconds * 1000 if seconds else 0)
        common: dict[str, Any] = {"group": g, "opUser": _op_member(conn, gid, ctx.user_id), "operationTime": now_ms(),
                  "mutedUser": rs.member(conn, gid, uid)}
        if seconds:
            return _with_version(sdkws_pb2.GroupMemberMutedTips(mutedSeconds=seconds, **common), conn, gid)
        return _with_version(sdkws_pb2.GroupMemberCancelMutedTips(**common), conn, gid)

    tips = await ctx.core.storage.run(op)
    ct = ContentType.GROUP_MEMBER_MUTED if seconds else ContentType.GROUP_MEMBER_CANCEL_MUTED
    await _notify(ctx, gid, ct, tips)


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
        g = _load(conn, gid)
        _manager(ctx, conn, gid)
        g.status = rs.STATUS_MUTED if muted else rs.STATUS_OK
        rs.save_group(conn, g)
        rs.group_changed(conn, gid)
        cls = sdkws_pb2.GroupMutedTips if muted else sdkws_pb2.GroupCancelMutedTips
        return _with_version(cls(group=rs.group_row(conn, gid), opUser=_op_member(conn, gid, ctx.user_id),
                                 operationTime=now_ms()), conn, gid)

    tips = await ctx.core.storage.run(op)
    await _notify(ctx, gid, ContentType.GROUP_MUTED if muted else ContentType.GROUP_CANCEL_MUTED, tips)


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
            _load(conn, m.groupID)
            theirs = _role(conn, m.groupID, m.userID)
            if not theirs:
                raise OpenIMError(1203, detail=f"{m.userID} not in group {m.groupID}")
            if m.HasField("roleLevel") and m.roleLevel.value not in (rs.ROLE_ADMIN, rs.ROLE_MEMBER):
                raise NoPermissionError(detail="roleLevel must be 60 or 20")
            if not ctx.is_admin:
                mine = _role(conn, m.groupID, ctx.user_id)
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
            out.append((m.groupID, ct, _with_version(sdkws_pb2.GroupMemberInfoSetTips(
                group=rs.group_row(conn, m.groupID), opUser=_op_member(conn, m.groupID, ctx.user_id),
                operationTime=now_ms(), changedUser=rs.member(conn, m.groupID, m.userID)), conn, m.groupID)))
        return out

    for gid, ct, tips in await ctx.core.storage.run(op):
        await _notify(ctx, gid, ct, tips)
    for m in req.members:
        ctx.core.webhooks.after_set_group_member_info(m, ctx.operation_id)
    return group_pb2.SetGroupMemberInfoResp()


# --------------------------------------------------------------------------- member queries


def _v_members_info(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(len(req.userIDs) > 0, "userIDs is empty")


@service("/group/get_group_members_info", _v_members_info)
async def members_info(ctx: RequestContext, req: group_pb2.GetGroupMembersInfoReq) -> Any:
    def op(conn: Any) -> Any:
        _load(conn, req.groupID, alive=False)
        _in_group(ctx, conn, req.groupID)
        return rs.members(conn, req.groupID, list(dict.fromkeys(req.userIDs)))

    return group_pb2.GetGroupMembersInfoResp(members=await ctx.core.storage.run(op))


def _v_member_list(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    check_pagination(req)
    need(0 <= req.filter <= 5, "filter is invalid")


@service("/group/get_group_member_list", _v_member_list)
async def member_list(ctx: RequestContext, req: group_pb2.GetGroupMemberListReq) -> Any:
    off, lim = page_bounds(req.pagination)

    def op(conn: Any) -> tuple[int, Any]:
        _load(conn, req.groupID, alive=False)
        _in_group(ctx, conn, req.groupID)
        ms = rs.members(conn, req.groupID)  # owner, admins, members; then join time
        if req.keyword:
            kw = req.keyword.lower()
            ms = [m for m in ms if kw in m.nickname.lower() or kw in m.userID.lower()]
        return len(ms), ms[off:off + lim]

    total, ms = await ctx.core.storage.run(op)
    return group_pb2.GetGroupMemberListResp(total=total, members=ms)


@service("/group/get_group_member_user_id", lambda r: need(r.groupID, "GroupID is empty"))
async def member_user_ids(ctx: RequestContext, req: group_pb2.GetGroupMemberUserIDsReq) -> Any:
    def op(conn: Any) -> list[str]:
        _load(conn, req.groupID, alive=False)
        _in_group(ctx, conn, req.groupID)
        return rs.member_ids(conn, req.groupID)

    return group_pb2.GetGroupMemberUserIDsResp(userIDs=await ctx.core.storage.run(op))


def _v_abstract(req: Any) -> None:
    need(len(req.groupIDs) > 0, "GroupID is empty")
    need(len(req.groupIDs) <= 1000, "too many GroupIDs, need to be less than 1000")


@service("/group/get_group_abstract_info", _v_abstract)
async def abstract_info(ctx: RequestContext, req: group_pb2.GetGroupAbstractInfoReq) -> Any:
    def op(conn: Any) -> list[group_pb2.GroupAbstractInfo]:
        out = []
        for gid in dict.fromkeys(req.groupIDs):
            _load(conn, gid, alive=False)
            _in_group(ctx, conn, gid)
            ids = sorted(rs.member_ids(conn, gid))
            out.append(group_pb2.GroupAbstractInfo(groupID=gid, groupMemberNumber=len(ids),
                                                   groupMemberListHash=id_hash(ids)))
        return out

    return group_pb2.GetGroupAbstractInfoResp(groupAbstractInfos=await ctx.core.storage.run(op))


def _v_joined(req: Any) -> None:
    check_pagination(req)
    need(req.fromUserID, "fromUserID is empty")


@service("/group/get_joined_group_list", _v_joined)
async def joined_list(ctx: RequestContext, req: group_pb2.GetJoinedGroupListReq) -> Any:
    ctx.check_access(req.fromUserID)
    off, lim = page_bounds(req.pagination)

    def op(conn: Any) -> tuple[int, list[sdkws_pb2.GroupInfo]]:
        gids = rs.joined_group_ids(conn, req.fromUserID)
        gs = rs.groups(conn, gids[off:off + lim])
        return len(gids), list(gs.values())

    total, gs = await ctx.core.storage.run(op)
    return group_pb2.GetJoinedGroupListResp(total=total, groups=gs)


@service("/group/get_groups", check_pagination)
async def get_groups(ctx: RequestContext, req: group_pb2.GetGroupsReq) -> Any:
    off, lim = page_bounds(req.pagination)

    def op(conn: Any) -> tuple[int, list[group_pb2.CMSGroup]]:
        if req.groupID:
            gids = [req.groupID]
        else:
            gids = [r[0] for r in conn.execute("SELECT group_id FROM im_groups ORDER BY create_time, group_id")]
        gs = [g for g in rs.groups(conn, gids).values() if not req.groupName or req.groupName in g.groupName]
        page = gs[off:off + lim]
        us = rs.users(conn, [g.ownerUserID for g in page])
        return len(gs), [group_pb2.CMSGroup(groupInfo=g, groupOwnerUserID=g.ownerUserID,
                                            groupOwnerUserName=us[g.ownerUserID].nickname if g.ownerUserID in us
                                            else "") for g in page]

    total, gs = await ctx.core.storage.run(op)
    return group_pb2.GetGroupsResp(total=total, groups=gs)


# --------------------------------------------------------------------------- application queries


def _results(where: str, params: tuple[Any, ...], results: Any) -> tuple[str, tuple[Any, ...]]:
    if results:
        where += f" AND handle_result IN ({rs.in_clause(list(results))})"
        params = (*params, *results)
    return where, params


def _v_recv(req: Any) -> None:
    check_pagination(req)
    need(req.fromUserID, "fromUserID is empty")


@service("/group/get_recv_group_applicationList", _v_recv)
async def recv_applications(ctx: RequestContext, req: group_pb2.GetGroupApplicationListReq) -> Any:
    ctx.check_access(req.fromUserID)
    off, lim = page_bounds(req.pagination)

    def op(conn: Any) -> Any:
        managed = rs.managed_group_ids(conn, req.fromUserID)
        gids = [g for g in req.groupIDs] if req.groupIDs else managed
        for g in req.groupIDs:
            if g not in managed and not ctx.is_admin:
                raise NoPermissionError(detail=f"not admin of group {g}")
        if not gids:
            return 0, []
        where, params = _results(f"group_id IN ({rs.in_clause(gids)})", tuple(gids), req.handleResults)
        return rs.group_requests(conn, where, params, off, lim)

    total, reqs = await ctx.core.storage.run(op)
    return group_pb2.GetGroupApplicationListResp(total=total, groupRequests=reqs)


def _v_user_req(req: Any) -> None:
    need(req.userID, "UserID is empty")
    check_pagination(req)


@service("/group/get_user_req_group_applicationList", _v_user_req)
async def user_req_applications(ctx: RequestContext, req: group_pb2.GetUserReqApplicationListReq) -> Any:
    ctx.check_access(req.userID)
    off, lim = page_bounds(req.pagination)
    where: str = "user_id = ?"
    params: tuple[Any, ...] = (req.userID,)
    if req.groupIDs:
        where += f" AND group_id IN ({rs.in_clause(list(req.groupIDs))})"
        params = (*params, *req.groupIDs)
    where, params = _results(where, params, req.handleResults)
    total, reqs = await ctx.core.storage.run(lambda c: rs.group_requests(c, where, params, off, lim))
    return group_pb2.GetUserReqApplicationListResp(total=total, groupRequests=reqs)


def _v_users_req(req: Any) -> None:
    need(req.groupID, "GroupID is empty")
    need(len(req.userIDs) > 0, "UserID is empty")
    need(len(req.userIDs) <= 1000, "too many UserIDs, need to be less than 1000")


@service("/group/get_group_users_req_application_list", _v_users_req)
async def users_req_applications(ctx: RequestContext, req: group_pb2.getGroupUsersReqApplicationListReq) -> Any:
    ids = list(dict.fromkeys(req.userIDs))

    def op(conn: Any) -> Any:
        _load(conn, req.groupID, alive=False)
        _manager(ctx, conn, req.groupID)
        return rs.group_requests(conn, f"group_id = ? AND user_id IN ({rs.in_clause(ids)})", (req.groupID, *ids))

    total, reqs = await ctx.core.storage.run(op)
    return group_pb2.getGroupUsersReqApplicationListResp(total=total, groupRequests=reqs)


@service("/group/get_specified_user_group_request_info")
async def specified_request_info(ctx: RequestContext, req: group_pb2.GetSpecifiedUserGroupRequestInfoReq) -> Any:
    def op(conn: Any) -> Any:
        if ctx.user_id != req.userID:
            _manager(ctx, conn, req.groupID)
        return rs.group_requests(conn, "group_id = ? AND user_id = ?", (req.groupID, req.userID))

    total, reqs = await ctx.core.storage.run(op)
    return group_pb2.GetSpecifiedUserGroupRequestInfoResp(total=total, groupRequests=reqs)


@service("/group/get_group_application_unhandled_count")
async def unhandled_count(ctx: RequestContext, req: group_pb2.GetGroupApplicationUnhandledCountReq) -> Any:
    ctx.check_access(req.userID)

    def op(conn: Any) -> int:
        gids = rs.managed_group_ids(conn, req.userID)
        if not gids:
            return 0
        return conn.execute(f"SELECT COUNT(*) FROM group_requests WHERE group_id IN ({rs.in_clause(gids)}) AND "
                            "handle_result = 0 AND req_time > ?", (*gids, req.time)).fetchone()[0]

    return group_pb2.GetGroupApplicationUnhandledCountResp(count=await ctx.core.storage.run(op))


# --------------------------------------------------------------------------- incremental sync


@service("/group/get_incremental_join_groups")
async def incremental_join_groups(ctx: RequestContext, req: group_pb2.getIncrementalJoinGroupReq) -> Any:
    ctx.check_access(req.userID)
    vid, version, full, deleted, inserted, updated = await incremental(
        ctx, "join_group", req.userID, req.versionID, req.version)
    resp = group_pb2.getIncrementalJoinGroupResp(versionID=vid, version=version, full=full)
    if not full:
        gs = await ctx.core.storage.run(lambda c: rs.groups(c, inserted + updated))
        resp.delete.extend(deleted)
        resp.insert.extend(gs[g] for g in inserted if g in gs)
        resp.update.extend(gs[g] for g in updated if g in gs)
    return nil_lists(resp, "delete", "insert", "update")


async def _incremental_members(ctx: RequestContext, gid: str, version_id: str, version: int,
                               skip_dismissed: bool = False) -> group_pb2.getIncrementalGroupMemberResp | None:
    def check(conn: Any) -> sdkws_pb2.GroupInfo | None:
        g = rs.group_row(conn, gid)
        if g is None:
            raise GroupNotFoundError(detail=f"group {gid} not found")
        if g.status == rs.STATUS_DISMISSED:
            if skip_dismissed:
                return None
            raise OpenIMError(1204, detail=f"group {gid} dismissed")
        _in_group(ctx, conn, gid)
        return g

    g = await ctx.core.storage.run(check)
    if g is None:
        return None
    vid, cur, full, deleted, inserted, updated = await incremental(ctx, "group_member", gid, version_id, version)
    resp = group_pb2.getIncrementalGroupMemberResp(versionID=vid, version=cur, full=full)
    changed_group = full or any(e in rs.MARKERS for e in deleted + inserted + updated)
    if not full:
        ins = [e for e in inserted if e not in rs.MARKERS]
        upd = [e for e in updated if e not in rs.MARKERS]
        ms = {m.userID: m for m in await ctx.core.storage.run(lambda c: rs.members(c, gid, ins + upd))}
        resp.delete.extend(e for e in deleted if e not in rs.MARKERS)
        resp.insert.extend(ms[u] for u in ins if u in ms)
        resp.update.extend(ms[u] for u in upd if u in ms)
    if changed_group or resp.insert or resp.delete or resp.update:
        resp.group.CopyFrom(g)
    return resp


@service("/group/get_incremental_group_members")
async def incremental_members(ctx: RequestContext, req: group_pb2.getIncrementalGroupMemberReq) -> Any:
    resp = await _incremental_members(ctx, req.groupID, req.versionID, req.version)
    return nil_lists(resp, "delete", "insert", "update")


@service("/group/get_incremental_group_members_batch")
async def incremental_members_batch(ctx: RequestContext, req: group_pb2.BatchGetIncrementalGroupMemberReq) -> Any:
    out: dict[str, Any] = {}
    changes = 0
    for item in req.reqList:
        if item.groupID in out:
            continue
        resp = await _incremental_members(ctx, item.groupID, item.versionID, item.version, skip_dismissed=True)
        if resp is None:
            continue
        out[item.groupID] = nil_lists(resp, "delete", "insert", "update").value
        changes += len(resp.insert) + len(resp.update) + len(resp.delete)
        if changes >= BATCH_CHANGE_LIMIT:
            break
    from ..context import RawData

    return RawData({"respList": out} if out else {})


@service("/group/get_full_group_member_user_ids", lambda r: need(r.groupID, "groupID is empty"))
async def full_member_ids(ctx: RequestContext, req: group_pb2.GetFullGroupMemberUserIDsReq) -> Any:
    def op(conn: Any) -> list[str]:
        _load(conn, req.groupID)
        _in_group(ctx, conn, req.groupID)
        return rs.member_ids(conn, req.groupID)

    ids = await ctx.core.storage.run(op)
    vid, version, _ = await ctx.core.storage.version_log("group_member", req.groupID, 1 << 62)
    equal = req.idHash == id_hash(ids)
    resp = group_pb2.GetFullGroupMemberUserIDsResp(version=version, versionID=vid, equal=equal)
    if not equal:
        resp.userIDs.extend(ids)
    return nil_lists(resp, "userIDs")


@service("/group/get_full_join_group_ids", lambda r: need(r.userID, "userID is empty"))
async def full_join_group_ids(ctx: RequestContext, req: group_pb2.GetFullJoinGroupIDsReq) -> Any:
    ctx.check_access(req.userID)
    ids = await ctx.core.storage.run(lambda c: rs.joined_group_ids(c, req.userID))
    vid, version, _ = await ctx.core.storage.version_log("join_group", req.userID, 1 << 62)
    equal = req.idHash == id_hash(ids)
    resp = group_pb2.GetFullJoinGroupIDsResp(version=version, versionID=vid, equal=equal)
    if not equal:
        resp.groupIDs.extend(ids)
    return nil_lists(resp, "groupIDs")
