"""/group/* (spec rest-api §9.4, §12): create, info, member queries, incremental sync.

Membership changes live in group_members.py, joins and applications in group_applications.py."""

from __future__ import annotations

import random
from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import (
    ArgsError,
    GroupNotFoundError,
    OpenIMError,
)
from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..repos import relations as rs
from ..storage import now_ms
from .conversation import id_hash, incremental, nil_lists
from .group_common import (
    BATCH_CHANGE_LIMIT,
    JOIN_INVITATION,
    before_members_enter,
    load_group,
    members_entered,
    missing_users,
    notify_group,
    op_member,
    requested,
    require_in_group,
    require_manager,
    with_version,
)

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
    await missing_users(ctx, everyone)
    await ctx.core.webhooks.before_create_group(req, ctx.operation_id)  # may change req.groupInfo
    info = sdkws_pb2.GroupInfo()
    info.CopyFrom(req.groupInfo)
    info.groupID = info.groupID or str(random.randint(10**9, 10**10 - 1))
    info.ownerUserID, info.creatorUserID, info.createTime = req.ownerUserID, ctx.user_id, now_ms()
    info.status, info.memberCount = rs.STATUS_OK, 0
    record = await before_members_enter(ctx, info.groupID, everyone, info.ex)

    def op(conn: Any) -> Any:
        if rs.group_row(conn, info.groupID) is not None:
            raise OpenIMError(1202, detail=f"group {info.groupID} already exists")
        rs.save_group(conn, info, insert=True)
        # every member's sg_ conversation is created here, so the group is listed at once
        # (upstream internal/rpc/group/group.go CreateGroup -> CreateGroupChatConversations)
        rs.add_member(conn, info.groupID, req.ownerUserID, rs.ROLE_OWNER, JOIN_INVITATION, ctx.user_id,
                      ctx.user_id, record)
        for uid in req.adminUserIDs:
            rs.add_member(conn, info.groupID, uid, rs.ROLE_ADMIN, JOIN_INVITATION, ctx.user_id, req.ownerUserID,
                          record)
        for uid in req.memberUserIDs:
            rs.add_member(conn, info.groupID, uid, rs.ROLE_MEMBER, JOIN_INVITATION, ctx.user_id, req.ownerUserID,
                          record)
        g = rs.group_row(conn, info.groupID)
        ms = rs.members(conn, info.groupID)
        tips = with_version(sdkws_pb2.GroupCreatedTips(
            group=g, opUser=op_member(conn, info.groupID, ctx.user_id), memberList=ms, operationTime=now_ms(),
            groupOwnerUser=op_member(conn, info.groupID, req.ownerUserID)), conn, info.groupID)
        return g, tips

    g, tips = await ctx.core.storage.run(op)
    await notify_group(ctx, g.groupID, ContentType.GROUP_CREATED, tips, send_msg=requested(req))
    if g.notification:  # upstream CreateGroup: an announcement given at creation is announced too
        await notify_group(ctx, g.groupID, ContentType.GROUP_INFO_SET_ANNOUNCEMENT,
                           sdkws_pb2.GroupInfoSetAnnouncementTips(group=g, opUser=tips.opUser), send_msg=True)
    ctx.core.webhooks.after_create_group(req, g, ctx.operation_id)
    members_entered(ctx, g.groupID, record)
    return group_pb2.CreateGroupResp(groupInfo=g)


@service("/group/get_groups_info", lambda r: need(len(r.groupIDs) > 0, "GroupIDs is empty"))
async def groups_info(ctx: RequestContext, req: group_pb2.GetGroupsInfoReq) -> Any:
    gs = await ctx.core.storage.run(lambda c: rs.groups(c, req.groupIDs))
    return group_pb2.GetGroupsInfoResp(groupInfos=list(gs.values()))


async def _set_info(ctx: RequestContext, gid: str, changes: dict[str, Any]) -> None:
    """Apply ``changes``; then, as upstream internal/rpc/group/group.go ``SetGroupInfo(Ex)``, one tip
    per kind of change: 1519 for the announcement (in the timeline; a cleared announcement is not,
    ``sendMessage`` false), 1520 for the name, 1502 when anything else changed."""
    def op(conn: Any) -> list[tuple[int, Any, bool | None]]:
        g = load_group(conn, gid)
        require_manager(ctx, conn, gid)
        if not changes:
            return []
        for k, v in changes.items():
            setattr(g, k, v)
        if "notification" in changes:
            g.notificationUpdateTime, g.notificationUserID = now_ms(), ctx.user_id
        rs.save_group(conn, g)
        rs.group_changed(conn, gid)
        g = load_group(conn, gid)
        opu = op_member(conn, gid, ctx.user_id)
        out: list[tuple[int, Any, bool | None]] = []
        if "notification" in changes:
            out.append((ContentType.GROUP_INFO_SET_ANNOUNCEMENT, with_version(
                sdkws_pb2.GroupInfoSetAnnouncementTips(opUser=opu, group=g), conn, gid), bool(changes["notification"])))
        if changes.get("groupName"):
            out.append((ContentType.GROUP_INFO_SET_NAME, with_version(
                sdkws_pb2.GroupInfoSetNameTips(opUser=opu, group=g), conn, gid), None))
        if set(changes) - {"notification", "groupName"}:
            out.append((ContentType.GROUP_INFO_SET, with_version(
                sdkws_pb2.GroupInfoSetTips(opUser=opu, group=g), conn, gid), None))
        return out

    for ct, tips, send_msg in await ctx.core.storage.run(op):
        await notify_group(ctx, gid, ct, tips, send_msg=send_msg)


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


# --------------------------------------------------------------------------- member queries


def _v_members_info(req: Any) -> None:
    need(req.groupID, "groupID is empty")
    need(len(req.userIDs) > 0, "userIDs is empty")


@service("/group/get_group_members_info", _v_members_info)
async def members_info(ctx: RequestContext, req: group_pb2.GetGroupMembersInfoReq) -> Any:
    def op(conn: Any) -> Any:
        load_group(conn, req.groupID, alive=False)
        require_in_group(ctx, conn, req.groupID)
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
        load_group(conn, req.groupID, alive=False)
        require_in_group(ctx, conn, req.groupID)
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
        load_group(conn, req.groupID, alive=False)
        require_in_group(ctx, conn, req.groupID)
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
            load_group(conn, gid, alive=False)
            require_in_group(ctx, conn, gid)
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
            gids = rs.all_group_ids(conn)
        gs = [g for g in rs.groups(conn, gids).values() if not req.groupName or req.groupName in g.groupName]
        page = gs[off:off + lim]
        us = rs.users(conn, [g.ownerUserID for g in page])
        return len(gs), [group_pb2.CMSGroup(groupInfo=g, groupOwnerUserID=g.ownerUserID,
                                            groupOwnerUserName=us[g.ownerUserID].nickname if g.ownerUserID in us
                                            else "") for g in page]

    total, gs = await ctx.core.storage.run(op)
    return group_pb2.GetGroupsResp(total=total, groups=gs)


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
        require_in_group(ctx, conn, gid)
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
        load_group(conn, req.groupID)
        require_in_group(ctx, conn, req.groupID)
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
