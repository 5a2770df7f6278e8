"""/group/*: joining (join, invite, application responses) and the application queries."""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import (
    ArgsError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
)
from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..notify import group_notification, send_notification
from ..repos import relations as rs
from ..storage import now_ms
from .group_common import (
    JOIN_INVITATION,
    JOIN_SEARCH,
    VERIFY_ALL,
    VERIFY_DIRECT,
    add_members,
    before_members_enter,
    entering_group,
    load_group,
    members_entered,
    missing_users,
    notify_group,
    op_member,
    requested,
    require_manager,
    role_of,
    with_version,
)

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
            request = rs.group_request(conn, gid, uid)
            u = rs.users(conn, [uid]).get(uid)
            out.append((admins, sdkws_pb2.JoinGroupApplicationTips(
                group=g, applicant=rs.public(u, uid), reqMsg=request.reqMsg if request else "",
                request=request)))
        return out

    for admins, tips in await ctx.core.storage.run(op):
        for admin in admins:
            await send_notification(ctx.core, tips.applicant.userID, admin, ContentType.JOIN_GROUP_APPLICATION, tips,
                                    ctx.operation_id)


def _entered_tips(conn: Any, gid: str, uid: str) -> Any:
    return with_version(sdkws_pb2.MemberEnterTips(group=rs.group_row(conn, gid), entrantUser=rs.member(conn, gid, uid),
                                                   operationTime=now_ms()), conn, gid)


@service("/group/join_group", _v_join)
async def join_group(ctx: RequestContext, req: group_pb2.JoinGroupReq) -> Any:
    uid = req.inviterUserID or ctx.user_id  # the joining user (misleading name; not checked against caller)
    await missing_users(ctx, [uid])
    await ctx.core.webhooks.before_apply_join_group(req.groupID, uid, req.reqMessage, req.ex, ctx.operation_id)
    entering = await entering_group(ctx, req.groupID, [uid], lambda g, _: g.needVerification == VERIFY_DIRECT)
    record = await before_members_enter(ctx, req.groupID, [uid], entering.ex) if entering is not None else None

    def op(conn: Any) -> Any:
        g = load_group(conn, req.groupID)
        if role_of(conn, req.groupID, uid):
            raise ArgsError(detail="already in group")
        if g.needVerification == VERIFY_DIRECT:
            add_members(ctx, conn, req.groupID, [uid], rs.ROLE_MEMBER, req.joinSource, uid, record=record)
            return _entered_tips(conn, req.groupID, uid)
        rs.put_group_request(conn, req.groupID, uid, req.reqMessage, req.joinSource, uid, req.ex)
        return None

    tips = await ctx.core.storage.run(op)
    if tips is not None:
        await group_notification(ctx.core, uid, req.groupID, ContentType.MEMBER_ENTER, tips, ctx.operation_id)
        ctx.core.webhooks.after_join_group(req.groupID, req.reqMessage, req.joinSource, uid, ctx.operation_id)
        members_entered(ctx, req.groupID, record)
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
    record: dict[str, Any] | None = None
    if agree:
        pending = await ctx.core.storage.read(lambda c: rs.group_request_state(c, req.groupID, req.fromUserID))
        if pending is not None and pending.handle_result == 0:
            entering = await entering_group(ctx, req.groupID, [req.fromUserID],
                                            lambda _, role: role >= rs.ROLE_ADMIN)
            if entering is not None:
                record = await before_members_enter(ctx, req.groupID, [req.fromUserID], entering.ex)

    def op(conn: Any) -> tuple[Any, Any]:
        load_group(conn, req.groupID)
        require_manager(ctx, conn, req.groupID)
        row = rs.group_request_state(conn, req.groupID, req.fromUserID)
        if row is None:
            raise NotFoundError(1004, detail="group request not found")
        if row.handle_result != 0:
            raise OpenIMError(1206, detail="group request handled")
        rs.handle_group_request(conn, req.groupID, req.fromUserID, req.handleResult, req.handledMsg, ctx.user_id)
        entered = None
        if agree and not role_of(conn, req.groupID, req.fromUserID):
            inviter = row.inviter_user_id if row.inviter_user_id != req.fromUserID else ""
            add_members(ctx, conn, req.groupID, [req.fromUserID], rs.ROLE_MEMBER, row.join_source or JOIN_SEARCH,
                        ctx.user_id, inviter, record)
            if inviter:  # upstream GroupApplicationResponse: an invitation that needed approval -> 1509
                opu = op_member(conn, req.groupID, ctx.user_id)
                entered = (ContentType.MEMBER_INVITED, with_version(sdkws_pb2.MemberInvitedTips(
                    group=rs.group_row(conn, req.groupID), opUser=opu, operationTime=now_ms(),
                    invitedUserList=rs.members(conn, req.groupID, [req.fromUserID]),
                    inviterUser=op_member(conn, req.groupID, inviter)), conn, req.groupID))
            else:
                entered = (ContentType.MEMBER_ENTER, _entered_tips(conn, req.groupID, req.fromUserID))
        request = rs.group_request(conn, req.groupID, req.fromUserID)
        cls = sdkws_pb2.GroupApplicationAcceptedTips if agree else sdkws_pb2.GroupApplicationRejectedTips
        tips = cls(group=rs.group_row(conn, req.groupID), opUser=op_member(conn, req.groupID, ctx.user_id),
                   handleMsg=req.handledMsg, receiverAs=0, request=request)
        return tips, entered

    tips, entered = await ctx.core.storage.run(op)
    ct = ContentType.GROUP_APPLICATION_ACCEPTED if agree else ContentType.GROUP_APPLICATION_REJECTED
    await send_notification(ctx.core, ctx.user_id, req.fromUserID, ct, tips, ctx.operation_id)
    if entered is not None:
        await notify_group(ctx, req.groupID, *entered)
        members_entered(ctx, req.groupID, record)
    return group_pb2.GroupApplicationResponseResp()


def _v_invite(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(len(req.invitedUserIDs) > 0, "invitedUserIDs is empty")
    need(len(req.invitedUserIDs) <= 1000, "too many InvitedUserIDs, need to be less than 1000")


@service("/group/invite_user_to_group", _v_invite)
async def invite(ctx: RequestContext, req: group_pb2.InviteUserToGroupReq) -> Any:
    ids = list(dict.fromkeys(req.invitedUserIDs))
    await missing_users(ctx, ids)
    await ctx.core.webhooks.before_invite_user_to_group(req.groupID, req.reason, ids, ctx.operation_id)
    entering = await entering_group(ctx, req.groupID, ids, lambda g, role: role > 0 and not (
        g.needVerification == VERIFY_ALL and role < rs.ROLE_ADMIN))
    record = await before_members_enter(ctx, req.groupID, ids, entering.ex) if entering is not None else None

    def op(conn: Any) -> tuple[str, Any]:
        g = load_group(conn, req.groupID)
        role = rs.ROLE_OWNER if ctx.is_admin else role_of(conn, req.groupID, ctx.user_id)
        if not role:
            raise NoPermissionError(detail=f"{ctx.user_id} not in group {req.groupID}")
        present = [r[1] for r in rs.member_rows(conn, req.groupID, ids)]
        if present:
            raise ArgsError(detail=f"already in group: {','.join(present)}")
        if g.needVerification == VERIFY_ALL and role < rs.ROLE_ADMIN:
            for uid in ids:
                rs.put_group_request(conn, req.groupID, uid, req.reason, JOIN_INVITATION, ctx.user_id)
            return "apply", None
        add_members(ctx, conn, req.groupID, ids, rs.ROLE_MEMBER, JOIN_INVITATION, ctx.user_id, ctx.user_id, record)
        opu = op_member(conn, req.groupID, ctx.user_id)
        return "joined", with_version(sdkws_pb2.MemberInvitedTips(
            group=rs.group_row(conn, req.groupID), opUser=opu, invitedUserList=rs.members(conn, req.groupID, ids),
            operationTime=now_ms(), inviterUser=opu), conn, req.groupID)

    kind, tips = await ctx.core.storage.run(op)
    if kind == "apply":
        await _application_tips(ctx, req.groupID, ids)
    else:
        await notify_group(ctx, req.groupID, ContentType.MEMBER_INVITED, tips, send_msg=requested(req))
        members_entered(ctx, req.groupID, record)
    return group_pb2.InviteUserToGroupResp()


# --------------------------------------------------------------------------- application queries


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
        return rs.find_group_requests(conn, group_ids=gids, results=list(req.handleResults), offset=off, limit=lim)

    total, reqs = await ctx.core.storage.run(op)
    return group_pb2.GetGroupApplicationListResp(total=total, groupRequests=reqs)


def _v_user_req(req: Any) -> None:
    need(req.userID, "UserID is empty")
    check_pagination(req)


@service("/group/get_user_req_group_applicationList", _v_user_req)
async def user_req_applications(ctx: RequestContext, req: group_pb2.GetUserReqApplicationListReq) -> Any:
    ctx.check_access(req.userID)
    off, lim = page_bounds(req.pagination)
    gids = list(req.groupIDs) or None
    results = list(req.handleResults)
    total, reqs = await ctx.core.storage.run(lambda c: rs.find_group_requests(
        c, group_ids=gids, user_ids=[req.userID], results=results, offset=off, limit=lim))
    return group_pb2.GetUserReqApplicationListResp(total=total, groupRequests=reqs)


def _v_users_req(req: Any) -> None:
    need(req.groupID, "GroupID is empty")
    need(len(req.userIDs) > 0, "UserID is empty")
    need(len(req.userIDs) <= 1000, "too many UserIDs, need to be less than 1000")


@service("/group/get_group_users_req_application_list", _v_users_req)
async def users_req_applications(ctx: RequestContext, req: group_pb2.getGroupUsersReqApplicationListReq) -> Any:
    ids = list(dict.fromkeys(req.userIDs))

    def op(conn: Any) -> Any:
        load_group(conn, req.groupID, alive=False)
        require_manager(ctx, conn, req.groupID)
        return rs.find_group_requests(conn, group_ids=[req.groupID], user_ids=ids)

    total, reqs = await ctx.core.storage.run(op)
    return group_pb2.getGroupUsersReqApplicationListResp(total=total, groupRequests=reqs)


@service("/group/get_specified_user_group_request_info")
async def specified_request_info(ctx: RequestContext, req: group_pb2.GetSpecifiedUserGroupRequestInfoReq) -> Any:
    def op(conn: Any) -> Any:
        if ctx.user_id != req.userID:
            require_manager(ctx, conn, req.groupID)
        return rs.find_group_requests(conn, group_ids=[req.groupID], user_ids=[req.userID])

    total, reqs = await ctx.core.storage.run(op)
    return group_pb2.GetSpecifiedUserGroupRequestInfoResp(total=total, groupRequests=reqs)


@service("/group/get_group_application_unhandled_count")
async def unhandled_count(ctx: RequestContext, req: group_pb2.GetGroupApplicationUnhandledCountReq) -> Any:
    ctx.check_access(req.userID)

    def op(conn: Any) -> int:
        gids = rs.managed_group_ids(conn, req.userID)
        return rs.unhandled_group_request_count(conn, gids, req.time)

    return group_pb2.GetGroupApplicationUnhandledCountResp(count=await ctx.core.storage.run(op))
