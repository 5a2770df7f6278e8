"""/friend/* (spec rest-api §9.3, §12): requests, friends, blacklist, incremental sync, notifications."""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import ArgsError, NotFoundError, OpenIMError, ServerInternalError
from openim_sdk.protocol.pb.relation import relation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..notify import send_notification
from ..repos import relations as rs
from ..repos.versions import version_stamp
from ..storage import bump_version, now_ms
from .conversation import id_hash, incremental, nil_lists

ADD_SOURCE_APPLY, ADD_SOURCE_IMPORT = 1, 2


def _from_to(a: str, b: str) -> sdkws_pb2.FromToUserID:
    return sdkws_pb2.FromToUserID(fromUserID=a, toUserID=b)


async def _version(ctx: RequestContext, owner: str) -> tuple[str, int]:
    vid, version, _ = await ctx.core.storage.version_log("friend", owner, 1 << 62)
    return vid, version


async def _require_users(ctx: RequestContext, ids: list[str]) -> None:
    found = await ctx.core.storage.get_users(ids)
    missing = [u for u in ids if u not in found]
    if missing:
        raise NotFoundError(1004, detail=f"user not found: {','.join(missing)}")


# --------------------------------------------------------------------------- requests


def _v_apply(req: Any) -> None:
    need(req.toUserID, "toUserID is empty")
    need(req.fromUserID, "fromUserID is empty")


@service("/friend/add_friend", _v_apply)
async def add_friend(ctx: RequestContext, req: relation_pb2.applyToAddFriendReq) -> Any:
    ctx.check_access(req.fromUserID)
    if req.fromUserID == req.toUserID:
        raise OpenIMError(1301, detail=f"{req.fromUserID} cannot add yourself")
    await ctx.core.webhooks.before_add_friend(req.fromUserID, req.toUserID, req.reqMsg, req.ex, ctx.operation_id)
    await _require_users(ctx, [req.fromUserID, req.toUserID])

    def op(conn: Any) -> sdkws_pb2.FriendRequest | None:
        if rs.is_friend(conn, req.fromUserID, req.toUserID) and rs.is_friend(conn, req.toUserID, req.fromUserID):
            raise OpenIMError(1304, detail="already friends")
        rs.put_friend_request(conn, req.fromUserID, req.toUserID, req.reqMsg, req.ex)
        return rs.friend_request(conn, req.fromUserID, req.toUserID)

    request = await ctx.core.storage.run(op)
    tips = sdkws_pb2.FriendApplicationTips(fromToUserID=_from_to(req.fromUserID, req.toUserID), request=request)
    await send_notification(ctx.core, req.fromUserID, req.toUserID, ContentType.FRIEND_APPLICATION, tips,
                            ctx.operation_id)
    ctx.core.webhooks.after_add_friend(req.fromUserID, req.toUserID, req.reqMsg, ctx.operation_id)
    return relation_pb2.applyToAddFriendResp()


@service("/friend/add_friend_response", _v_apply)
async def respond(ctx: RequestContext, req: relation_pb2.respondFriendApplyReq) -> Any:
    ctx.check_access(req.toUserID)
    if req.handleResult not in (1, -1):
        raise ArgsError(detail="handleResult must be 1 or -1")
    agree = req.handleResult == 1
    await ctx.core.webhooks.before_add_friend_agree(req.fromUserID, req.toUserID, req.handleResult, req.handleMsg, ctx.operation_id)

    def op(conn: Any) -> tuple[sdkws_pb2.FriendRequest | None, str, int]:
        result = rs.friend_request_result(conn, req.fromUserID, req.toUserID)
        if result is None:
            raise NotFoundError(1004, detail="friend request not found")
        if result != 0:
            raise OpenIMError(1305, detail="the friend request has been handled")
        rs.handle_friend_request(conn, req.fromUserID, req.toUserID, req.handleResult, ctx.user_id, req.handleMsg)
        if agree:
            rs.add_friend(conn, req.fromUserID, req.toUserID, ADD_SOURCE_APPLY, ctx.user_id)
            rs.add_friend(conn, req.toUserID, req.fromUserID, ADD_SOURCE_APPLY, ctx.user_id)
        request = rs.friend_request(conn, req.fromUserID, req.toUserID)
        stamp = version_stamp(conn, "friend", req.fromUserID)
        return request, stamp.version_id, stamp.version

    request, vid, version = await ctx.core.storage.run(op)
    ctx.core.webhooks.after_add_friend_agree(req.fromUserID, req.toUserID, req.handleResult, req.handleMsg, ctx.operation_id)
    ft = _from_to(req.fromUserID, req.toUserID)
    if agree:
        tips: Any = sdkws_pb2.FriendApplicationApprovedTips(fromToUserID=ft, handleMsg=req.handleMsg, request=request,
                                                            friendVersion=version, friendVersionID=vid)
        ct = ContentType.FRIEND_APPLICATION_APPROVED
    else:
        tips = sdkws_pb2.FriendApplicationRejectedTips(fromToUserID=ft, handleMsg=req.handleMsg, request=request)
        ct = ContentType.FRIEND_APPLICATION_REJECTED
    await send_notification(ctx.core, req.toUserID, req.fromUserID, ct, tips, ctx.operation_id)
    return relation_pb2.respondFriendApplyResp()


def _v_user_page(req: Any) -> None:
    need(req.userID, "userID is empty")
    check_pagination(req)


@service("/friend/get_friend_apply_list", _v_user_page)
async def apply_to(ctx: RequestContext, req: relation_pb2.getPaginationFriendsApplyToReq) -> Any:
    ctx.check_access(req.userID)
    results, (off, lim) = list(req.handleResults), page_bounds(req.pagination)
    total, reqs = await ctx.core.storage.run(lambda c: rs.find_friend_requests(
        c, to_uid=req.userID, results=results, offset=off, limit=lim))
    return relation_pb2.getPaginationFriendsApplyToResp(FriendRequests=reqs, total=total)


@service("/friend/get_self_friend_apply_list", _v_user_page)
async def apply_from(ctx: RequestContext, req: relation_pb2.getPaginationFriendsApplyFromReq) -> Any:
    ctx.check_access(req.userID)
    results, (off, lim) = list(req.handleResults), page_bounds(req.pagination)
    total, reqs = await ctx.core.storage.run(lambda c: rs.find_friend_requests(
        c, from_uid=req.userID, results=results, offset=off, limit=lim))
    return relation_pb2.getPaginationFriendsApplyFromResp(friendRequests=reqs, total=total)


def _v_designated_apply(req: Any) -> None:
    need(req.fromUserID, "ownerUserID is empty")
    need(req.toUserID, "toUserID is empty")


@service("/friend/get_designated_friend_apply", _v_designated_apply)
async def designated_apply(ctx: RequestContext, req: relation_pb2.getDesignatedFriendsApplyReq) -> Any:
    if not ctx.is_admin and ctx.user_id not in (req.fromUserID, req.toUserID):
        ctx.check_access(req.fromUserID)
    reqs = await ctx.core.storage.run(lambda c: rs.friend_requests_between(c, req.fromUserID, req.toUserID))
    return relation_pb2.getDesignatedFriendsApplyResp(friendRequests=reqs)


@service("/friend/get_self_unhandled_apply_count")
async def unhandled_count(ctx: RequestContext, req: relation_pb2.getSelfUnhandledApplyCountReq) -> Any:
    ctx.check_access(req.userID)
    n = await ctx.core.storage.run(lambda c: rs.unhandled_friend_request_count(c, req.userID, req.time))
    return relation_pb2.getSelfUnhandledApplyCountResp(count=n)


# --------------------------------------------------------------------------- friends


@service("/friend/get_friend_list", _v_user_page)
async def friend_list(ctx: RequestContext, req: relation_pb2.getPaginationFriendsReq) -> Any:
    ctx.check_access(req.userID)
    off, lim = page_bounds(req.pagination)

    def op(conn: Any) -> tuple[int, list[sdkws_pb2.FriendInfo]]:
        rows = rs.friend_rows(conn, req.userID)
        return len(rows), rs.friend_infos(conn, rows[off:off + lim])

    total, infos = await ctx.core.storage.run(op)
    return relation_pb2.getPaginationFriendsResp(friendsInfo=infos, total=total)


def _v_designated(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(len(req.friendUserIDs) > 0, "friendUserIDS is empty")


@service("/friend/get_designated_friends", _v_designated)
async def designated(ctx: RequestContext, req: relation_pb2.getDesignatedFriendsReq) -> Any:
    ctx.check_access(req.ownerUserID)
    ids = list(dict.fromkeys(req.friendUserIDs))
    infos = await ctx.core.storage.run(lambda c: rs.friend_infos(c, rs.friend_rows(c, req.ownerUserID, ids)))
    return relation_pb2.getDesignatedFriendsResp(friendsInfo=infos)


@service("/friend/get_friend_id", lambda r: need(r.userID, "userID is empty"))
async def friend_id_list(ctx: RequestContext, req: relation_pb2.getFriendIDsReq) -> Any:
    ctx.check_access(req.userID)
    ids = await ctx.core.storage.run(lambda c: rs.friend_ids(c, req.userID))
    return relation_pb2.getFriendIDsResp(friendIDs=ids)


def _v_is_friend(req: Any) -> None:
    need(req.userID1, "userID1 is empty")
    need(req.userID2, "userID2 is empty")


@service("/friend/is_friend", _v_is_friend)
async def is_friend(ctx: RequestContext, req: relation_pb2.isFriendReq) -> Any:
    if ctx.user_id not in (req.userID1, req.userID2):
        ctx.check_access(req.userID1)

    def op(conn: Any) -> tuple[bool, bool]:
        return rs.is_friend(conn, req.userID1, req.userID2), rs.is_friend(conn, req.userID2, req.userID1)

    a, b = await ctx.core.storage.run(op)
    return relation_pb2.isFriendResp(inUser1Friends=a, inUser2Friends=b)


def _v_delete(req: Any) -> None:
    need(req.ownerUserID, "userID1 is empty")
    need(req.friendUserID, "userID2 is empty")


@service("/friend/delete_friend", _v_delete)
async def delete_friend(ctx: RequestContext, req: relation_pb2.deleteFriendReq) -> Any:
    ctx.check_access(req.ownerUserID)

    def op(conn: Any) -> tuple[str, int]:
        if not rs.delete_friend(conn, req.ownerUserID, req.friendUserID):
            raise NotFoundError(1004, detail="not friend")
        stamp = version_stamp(conn, "friend", req.ownerUserID)
        return stamp.version_id, stamp.version

    vid, version = await ctx.core.storage.run(op)
    tips = sdkws_pb2.FriendDeletedTips(fromToUserID=_from_to(req.ownerUserID, req.friendUserID),
                                       friendVersion=version, friendVersionID=vid)
    await send_notification(ctx.core, req.ownerUserID, req.friendUserID, ContentType.FRIEND_DELETED, tips,
                            ctx.operation_id)
    ctx.core.webhooks.after_delete_friend(req.ownerUserID, req.friendUserID, ctx.operation_id)
    return relation_pb2.deleteFriendResp()


def _v_remark(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(req.friendUserID, "fromUserID is empty")


@service("/friend/set_friend_remark", _v_remark)
async def set_remark(ctx: RequestContext, req: relation_pb2.setFriendRemarkReq) -> Any:
    ctx.check_access(req.ownerUserID)
    await ctx.core.webhooks.before_set_friend_remark(req, ctx.operation_id)  # may change req.remark
    await _update(ctx, req.ownerUserID, [req.friendUserID], {"remark": req.remark}, ContentType.FRIEND_REMARK_SET)
    ctx.core.webhooks.after_set_friend_remark(req, ctx.operation_id)
    return relation_pb2.setFriendRemarkResp()


def _v_update(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(len(req.friendUserIDs) > 0, "friendUserIDs is empty")
    need(len(req.friendUserIDs) <= 1000, "too many FriendUserIDs, need to be less than 1000")


@service("/friend/update_friends", _v_update)
async def update_friends(ctx: RequestContext, req: relation_pb2.updateFriendsReq) -> Any:
    ctx.check_access(req.ownerUserID)
    cols: dict[str, Any] = {}
    if req.HasField("isPinned"):
        cols["is_pinned"] = int(req.isPinned.value)
    if req.HasField("remark"):
        cols["remark"] = req.remark.value
    if req.HasField("ex"):
        cols["ex"] = req.ex.value
    await _update(ctx, req.ownerUserID, list(dict.fromkeys(req.friendUserIDs)), cols,
                  ContentType.FRIENDS_INFO_UPDATE)
    return relation_pb2.updateFriendsResp()


async def _update(ctx: RequestContext, owner: str, ids: list[str], cols: dict[str, Any], ct: int) -> None:
    def op(conn: Any) -> tuple[str, int]:
        rows = rs.friend_rows(conn, owner, ids)
        if len(rows) != len(ids):
            raise NotFoundError(1004, detail="not friend")
        if cols:
            rs.update_friends(conn, owner, ids, cols)
            bump_version(conn, "friend", owner, ids + ([rs.SORT_CHANGED] if "is_pinned" in cols else []), 3)
        stamp = version_stamp(conn, "friend", owner)
        return stamp.version_id, stamp.version

    vid, version = await ctx.core.storage.run(op)
    if ct == ContentType.FRIEND_REMARK_SET:
        tips: Any = sdkws_pb2.FriendInfoChangedTips(fromToUserID=_from_to(owner, ids[0]), friendVersion=version,
                                                    friendVersionID=vid)
    else:
        tips = sdkws_pb2.FriendsInfoUpdateTips(fromToUserID=_from_to(owner, owner), friendIDs=ids,
                                               friendVersion=version, friendVersionID=vid)
    await send_notification(ctx.core, owner, owner, ct, tips, ctx.operation_id)


def _v_import(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(len(req.friendUserIDs) > 0, "friendUserIDS is empty")
    need(len(req.friendUserIDs) <= 1000, "too many FriendUserIDs, need to be less than 1000")


@service("/friend/import_friend", _v_import)
async def import_friend(ctx: RequestContext, req: relation_pb2.importFriendReq) -> Any:
    ids = list(req.friendUserIDs)
    if len(set(ids)) != len(ids):
        raise ArgsError(detail="friend userID repeated")
    if req.ownerUserID in ids:
        raise OpenIMError(1301, detail="cannot add yourself")
    await _require_users(ctx, [req.ownerUserID, *ids])
    await ctx.core.webhooks.before_import_friends(req.ownerUserID, ids, ctx.operation_id)  # may change ids

    def op(conn: Any) -> list[sdkws_pb2.FriendInfo]:
        added = []
        for f in ids:
            rs.add_friend(conn, req.ownerUserID, f, ADD_SOURCE_IMPORT, ctx.user_id)
            if rs.add_friend(conn, f, req.ownerUserID, ADD_SOURCE_IMPORT, ctx.user_id):
                added.extend(rs.friend_infos(conn, rs.friend_rows(conn, f, [req.ownerUserID])))
        return added

    added = await ctx.core.storage.run(op)
    owner = (await ctx.core.storage.get_users([req.ownerUserID]))[req.ownerUserID]
    for info in added:
        tips = sdkws_pb2.FriendAddedTips(friend=info, operationTime=now_ms(),
                                         opUser=sdkws_pb2.PublicUserInfo(userID=owner.user_id, nickname=owner.nickname,
                                                                         faceURL=owner.face_url, ex=owner.ex))
        await send_notification(ctx.core, req.ownerUserID, info.ownerUserID, ContentType.FRIEND_ADDED, tips,
                                ctx.operation_id)
    ctx.core.webhooks.after_import_friends(req.ownerUserID, ids, ctx.operation_id)
    return relation_pb2.importFriendResp()


def _v_specified_info(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(len(req.userIDList) > 0, "userIDList is empty")
    need(len(req.userIDList) <= 1000, "too many UserIDs, need to be less than 1000")


@service("/friend/get_specified_friends_info", _v_specified_info)
async def specified_info(ctx: RequestContext, req: relation_pb2.getSpecifiedFriendsInfoReq) -> Any:
    ctx.check_access(req.ownerUserID)
    ids = list(dict.fromkeys(req.userIDList))

    def op(conn: Any) -> list[relation_pb2.getSpecifiedFriendsInfoInfo]:
        us = rs.users(conn, ids)
        friends = {i.friendUser.userID: i for i in rs.friend_infos(conn, rs.friend_rows(conn, req.ownerUserID, ids))}
        blacks = {b.blackUserInfo.userID: b for b in rs.black_infos(conn, req.ownerUserID, ids)[1]}
        out = []
        for uid in ids:
            if uid not in us:
                continue
            item = relation_pb2.getSpecifiedFriendsInfoInfo(userInfo=us[uid])
            if uid in friends:
                item.friendInfo.CopyFrom(friends[uid])
            if uid in blacks:
                item.blackInfo.CopyFrom(blacks[uid])
            out.append(item)
        return out

    return relation_pb2.getSpecifiedFriendsInfoResp(infos=await ctx.core.storage.run(op))


# --------------------------------------------------------------------------- blacklist


def _v_black(req: Any) -> None:
    need(req.ownerUserID, "ownerUserID is empty")
    need(req.blackUserID, "blackUserID is empty")


@service("/friend/add_black", _v_black)
async def add_black(ctx: RequestContext, req: relation_pb2.addBlackReq) -> Any:
    ctx.check_access(req.ownerUserID)
    if req.ownerUserID == req.blackUserID:
        raise OpenIMError(1301, detail="cannot block yourself")
    await _require_users(ctx, [req.ownerUserID, req.blackUserID])
    await ctx.core.webhooks.before_add_black(req.ownerUserID, req.blackUserID, ctx.operation_id)
    await ctx.core.storage.run(lambda c: rs.add_black(c, req.ownerUserID, req.blackUserID, ctx.user_id, req.ex))
    tips = sdkws_pb2.BlackAddedTips(fromToUserID=_from_to(req.ownerUserID, req.blackUserID))
    # upstream (internal/rpc/relation/notification.go BlackAddedNotification): from the owner to the
    # blocked user; the owner's other devices get it as the sender's copy
    await send_notification(ctx.core, req.ownerUserID, req.blackUserID, ContentType.BLACK_ADDED, tips,
                            ctx.operation_id)
    return relation_pb2.addBlackResp()


@service("/friend/remove_black", _v_black)
async def remove_black(ctx: RequestContext, req: relation_pb2.removeBlackReq) -> Any:
    ctx.check_access(req.ownerUserID)

    def op(conn: Any) -> None:
        if not rs.remove_black(conn, req.ownerUserID, req.blackUserID):
            raise NotFoundError(1004, detail="not in blacklist")

    await ctx.core.storage.run(op)
    tips = sdkws_pb2.BlackDeletedTips(fromToUserID=_from_to(req.ownerUserID, req.blackUserID))
    await send_notification(ctx.core, req.ownerUserID, req.blackUserID, ContentType.BLACK_DELETED, tips,
                            ctx.operation_id)  # as BLACK_ADDED: owner -> the unblocked user
    ctx.core.webhooks.after_remove_black(req.ownerUserID, req.blackUserID, ctx.operation_id)
    return relation_pb2.removeBlackResp()


@service("/friend/get_black_list", _v_user_page)
async def black_list(ctx: RequestContext, req: relation_pb2.getPaginationBlacksReq) -> Any:
    ctx.check_access(req.userID)
    off, lim = page_bounds(req.pagination)
    total, blacks = await ctx.core.storage.run(lambda c: rs.black_infos(c, req.userID, None, off, lim))
    return relation_pb2.getPaginationBlacksResp(blacks=blacks, total=total)


@service("/friend/get_specified_blacks")
async def specified_blacks(ctx: RequestContext, req: relation_pb2.GetSpecifiedBlacksReq) -> Any:
    ctx.check_access(req.ownerUserID)
    ids = list(req.userIDList)
    if not ids:
        raise ArgsError(detail="userIDList is empty")
    if len(set(ids)) != len(ids):
        raise ArgsError(detail="userIDList repeated")
    total, blacks = await ctx.core.storage.run(lambda c: rs.black_infos(c, req.ownerUserID, ids))
    return relation_pb2.GetSpecifiedBlacksResp(blacks=blacks, total=total)


@service("/friend/get_incremental_blacks")
async def incremental_blacks(ctx: RequestContext, req: Any) -> Any:
    # Routed, but the RPC is not implemented by the v3.8 server (spec §12).
    raise ServerInternalError(detail="rpc error: code = Unimplemented desc = method GetIncrementalBlacks not "
                                     "implemented")


# --------------------------------------------------------------------------- incremental sync


def _split_markers(ids: list[str]) -> tuple[list[str], bool]:
    return [i for i in ids if i not in rs.MARKERS], any(i == rs.SORT_CHANGED for i in ids)


@service("/friend/get_incremental_friends")
async def incremental_friends(ctx: RequestContext, req: relation_pb2.getIncrementalFriendsReq) -> Any:
    ctx.check_access(req.userID)
    vid, version, full, deleted, inserted, updated = await incremental(
        ctx, "friend", req.userID, req.versionID, req.version)
    resp = relation_pb2.getIncrementalFriendsResp(versionID=vid, version=version, full=full)
    if not full:
        deleted, _ = _split_markers(deleted)
        changed, sort = _split_markers(inserted + updated)
        if sort:
            resp.sortVersion = version
        by_id = {i.friendUser.userID: i for i in await ctx.core.storage.run(
            lambda c: rs.friend_infos(c, rs.friend_rows(c, req.userID, changed)))}
        resp.delete.extend(deleted)
        resp.insert.extend(by_id[u] for u in inserted if u in by_id)
        resp.update.extend(by_id[u] for u in updated if u in by_id)
    return nil_lists(resp, "delete", "insert", "update")


@service("/friend/get_full_friend_user_ids", lambda r: need(r.userID, "userID is empty"))
async def full_friend_ids(ctx: RequestContext, req: relation_pb2.getFullFriendUserIDsReq) -> Any:
    ctx.check_access(req.userID)
    vid, version = await _version(ctx, req.userID)
    ids = await ctx.core.storage.run(lambda c: rs.friend_ids(c, req.userID))
    equal = req.idHash == id_hash(ids)
    resp = relation_pb2.getFullFriendUserIDsResp(version=version, versionID=vid, equal=equal)
    if not equal:
        resp.userIDs.extend(ids)
    return nil_lists(resp, "userIDs")
