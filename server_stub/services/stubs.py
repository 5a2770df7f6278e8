"""Friend / group routes the official clients call at login: well-formed empty answers (part 1)."""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.relation import relation_pb2

from ..context import RequestContext, check_pagination, need, service
from .conversation import id_hash, incremental, nil_lists


def _owner(req: Any) -> str:
    for name in ("userID", "ownerUserID", "fromUserID"):
        if name in req.DESCRIPTOR.fields_by_name and getattr(req, name):
            return str(getattr(req, name))
    return ""


def _empty(path: str, resp_cls: Any, validate: Any = None, owner_check: bool = True) -> None:
    async def handler(ctx: RequestContext, req: Any) -> Any:
        if owner_check and _owner(req):
            ctx.check_access(_owner(req))
        return resp_cls()

    service(path, validate)(handler)


def _incremental(path: str, kind: str, resp_cls: Any) -> None:
    async def handler(ctx: RequestContext, req: Any) -> Any:
        ctx.check_access(req.userID)
        vid, version, full, deleted, _, _ = await incremental(ctx, kind, req.userID, req.versionID, req.version)
        resp = resp_cls(versionID=vid, version=version, full=full)
        if not full:
            resp.delete.extend(deleted)
        return nil_lists(resp, "delete", "insert", "update")

    service(path)(handler)


def _full_ids(path: str, kind: str, resp_cls: Any, list_field: str) -> None:
    async def handler(ctx: RequestContext, req: Any) -> Any:
        ctx.check_access(req.userID)
        vid, version, _ = await ctx.core.storage.version_log(kind, req.userID, 1 << 62)
        return nil_lists(resp_cls(version=version, versionID=vid, equal=req.idHash == id_hash([])), list_field)

    service(path, lambda r: need(r.userID, "userID is empty"))(handler)


_incremental("/friend/get_incremental_friends", "friend", relation_pb2.getIncrementalFriendsResp)
_incremental("/group/get_incremental_join_groups", "join_group", group_pb2.getIncrementalJoinGroupResp)
_full_ids("/friend/get_full_friend_user_ids", "friend", relation_pb2.getFullFriendUserIDsResp, "userIDs")
_full_ids("/group/get_full_join_group_ids", "join_group", group_pb2.GetFullJoinGroupIDsResp, "groupIDs")


def _pag_owner(field: str) -> Any:
    def check(req: Any) -> None:
        need(getattr(req, field), f"{field} is empty")
        check_pagination(req)

    return check


_empty("/friend/get_designated_friends", relation_pb2.getDesignatedFriendsResp)
_empty("/friend/get_friend_list", relation_pb2.getPaginationFriendsResp, _pag_owner("userID"))
_empty("/friend/get_black_list", relation_pb2.getPaginationBlacksResp, _pag_owner("userID"))
_empty("/friend/get_specified_blacks", relation_pb2.GetSpecifiedBlacksResp)
_empty("/friend/get_friend_apply_list", relation_pb2.getPaginationFriendsApplyToResp, _pag_owner("userID"))
_empty("/friend/get_self_friend_apply_list", relation_pb2.getPaginationFriendsApplyFromResp, _pag_owner("userID"))
_empty("/friend/get_self_unhandled_apply_count", relation_pb2.getSelfUnhandledApplyCountResp)
_empty("/friend/get_friend_id", relation_pb2.getFriendIDsResp)
_empty("/friend/get_specified_friends_info", relation_pb2.getSpecifiedFriendsInfoResp)
_empty("/group/get_joined_group_list", group_pb2.GetJoinedGroupListResp, _pag_owner("fromUserID"))
_empty("/group/get_group_application_unhandled_count", group_pb2.GetGroupApplicationUnhandledCountResp)
_empty("/group/get_recv_group_applicationList", group_pb2.GetGroupApplicationListResp, _pag_owner("fromUserID"))
_empty("/group/get_user_req_group_applicationList", group_pb2.GetUserReqApplicationListResp)
_empty("/group/get_groups_info", group_pb2.GetGroupsInfoResp)
