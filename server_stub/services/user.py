"""/user/* routes (spec rest-api §9.2, §13)."""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.errors import NotFoundError, OpenIMError
from openim_sdk.protocol.pb.msggateway import msggateway_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.protocol.pb.user import user_pb2

from ..context import RawData, RequestContext, check_pagination, need, page_bounds, service
from ..repos.users import UserFilter
from ..rest import bind_error
from ..storage import UserRow, now_ms
from . import user_notify


def user_info(u: UserRow) -> sdkws_pb2.UserInfo:
    return sdkws_pb2.UserInfo(userID=u.user_id, nickname=u.nickname, faceURL=u.face_url, ex=u.ex,
                              createTime=u.create_time, appMangerLevel=u.app_manger_level,
                              globalRecvMsgOpt=u.global_recv_msg_opt)


def _v_register(req: Any) -> None:
    need(len(req.users) > 0, "users are empty")
    for u in req.users:
        need(u.userID and ":" not in u.userID, "userID is legal")
        need(u.nickname, "user name is empty")


@service("/user/user_register", _v_register)
async def register(ctx: RequestContext, req: user_pb2.userRegisterReq) -> Any:
    await ctx.core.webhooks.before_user_register(req, ctx.operation_id)  # may replace req.users
    ids = [u.userID for u in req.users]
    if len(set(ids)) != len(ids):
        raise OpenIMError(1001, detail="userID repeated")
    now = now_ms()
    rows = [UserRow(u.userID, u.nickname, u.faceURL, u.ex, now, u.appMangerLevel, u.globalRecvMsgOpt)
            for u in req.users]
    existing = await ctx.core.storage.insert_users(rows)
    if existing:
        raise OpenIMError(1102, detail=f"userID registered already {existing}")
    ctx.core.webhooks.after_user_register(list(req.users), ctx.operation_id)
    return user_pb2.userRegisterResp()


def _v_update(req: Any) -> None:
    need(req.HasField("userInfo"), "UserInfo is empty")
    need(req.userInfo.userID, "UserID is empty")


@service("/user/update_user_info", _v_update)
async def update_user_info(ctx: RequestContext, req: user_pb2.updateUserInfoReq) -> Any:
    u = req.userInfo
    ctx.check_access(u.userID)
    await ctx.core.webhooks.before_update_user_info(u, ctx.operation_id)  # may change nickname/faceURL/ex
    changes: dict[str, Any] = {}
    if u.nickname:
        changes["nickname"] = u.nickname
    if u.faceURL:
        changes["face_url"] = u.faceURL
    if u.ex:
        changes["ex"] = u.ex
    if u.globalRecvMsgOpt:
        changes["global_recv_msg_opt"] = u.globalRecvMsgOpt
    before = await user_notify.profile(ctx, u.userID)
    if not await ctx.core.storage.update_user(u.userID, changes):
        raise NotFoundError(1004, detail="user not found")
    await user_notify.user_info_updated(ctx, u.userID, before)
    ctx.core.webhooks.after_update_user_info(u, ctx.operation_id)
    return user_pb2.updateUserInfoResp()


def _v_update_ex(req: Any) -> None:
    need(req.HasField("userInfo"), "userInfo is empty")
    need(req.userInfo.userID, "userID is empty")


@service("/user/update_user_info_ex", _v_update_ex)
async def update_user_info_ex(ctx: RequestContext, req: user_pb2.updateUserInfoExReq) -> Any:
    u = req.userInfo
    ctx.check_access(u.userID)
    await ctx.core.webhooks.before_update_user_info_ex(u, ctx.operation_id)  # may change u
    changes: dict[str, Any] = {}
    for field, col in (("nickname", "nickname"), ("faceURL", "face_url"), ("ex", "ex"),
                       ("globalRecvMsgOpt", "global_recv_msg_opt")):
        if u.HasField(field):
            changes[col] = getattr(u, field).value
    before = await user_notify.profile(ctx, u.userID)
    if not await ctx.core.storage.update_user(u.userID, changes):
        raise NotFoundError(1004, detail="user not found")
    await user_notify.user_info_updated(ctx, u.userID, before)
    ctx.core.webhooks.after_update_user_info_ex(u, ctx.operation_id)
    return user_pb2.updateUserInfoExResp()


def _v_recv_opt(req: Any) -> None:
    need(req.globalRecvMsgOpt in (0, 1, 2), "GlobalRecvMsgOpt is invalid")
    need(req.userID, "UserID is empty")


@service("/user/set_global_msg_recv_opt", _v_recv_opt)
async def set_global_recv_opt(ctx: RequestContext, req: user_pb2.setGlobalRecvMessageOptReq) -> Any:
    if not await ctx.core.storage.update_user(req.userID, {"global_recv_msg_opt": req.globalRecvMsgOpt}):
        raise NotFoundError(1004, detail="user not found")
    return user_pb2.setGlobalRecvMessageOptResp()


@service("/user/get_users_info", lambda r: need(r.userIDs is not None and _listed(r), "UserIDs is empty"))
async def get_users_info(ctx: RequestContext, req: user_pb2.getDesignateUsersReq) -> Any:
    users = await ctx.core.storage.get_users(req.userIDs)
    resp = user_pb2.getDesignateUsersResp()
    for uid in dict.fromkeys(req.userIDs):
        if uid in users:
            resp.usersInfo.append(user_info(users[uid]))
    return resp


def _listed(req: Any) -> bool:
    # Go: a nil slice fails, an empty JSON array passes; proto3 cannot tell them apart, so accept both
    return True


@service("/user/get_all_users_uid", check_pagination)
async def get_all_users_uid(ctx: RequestContext, req: user_pb2.getAllUserIDReq) -> Any:
    offset, limit = page_bounds(req.pagination)
    total, rows = await ctx.core.storage.page_users(None, offset, limit)
    return user_pb2.getAllUserIDResp(total=total, userIDs=[u.user_id for u in rows])


@service("/user/account_check", lambda r: need(len(r.checkUserIDs) > 0, "CheckUserIDs is empty"))
async def account_check(ctx: RequestContext, req: user_pb2.accountCheckReq) -> Any:
    users = await ctx.core.storage.get_users(req.checkUserIDs)
    resp = user_pb2.accountCheckResp()
    for uid in dict.fromkeys(req.checkUserIDs):
        resp.results.add(userID=uid, accountStatus=1 if uid in users else 0)
    return resp


@service("/user/get_users", check_pagination)
async def get_users(ctx: RequestContext, req: user_pb2.getPaginationUsersReq) -> Any:
    offset, limit = page_bounds(req.pagination)
    flt = UserFilter(levels=(0, 1), user_id=req.userID, nickname=req.nickName)
    total, rows = await ctx.core.storage.page_users(flt, offset, limit)
    return user_pb2.getPaginationUsersResp(total=total, users=[user_info(u) for u in rows])


def _online_ids(body: dict[str, Any]) -> list[str]:
    ids = {k.lower(): v for k, v in body.items()}.get("userids")
    if ids is None:
        raise bind_error("Key: 'GetUsersOnlineStatusReq.UserIDs' Error:Field validation for 'UserIDs' failed on the 'required' tag")
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise bind_error("json: cannot unmarshal into Go struct field GetUsersOnlineStatusReq.userIDs of type []string")
    return ids


@service("/user/get_users_online_status")
async def online_status(ctx: RequestContext, body: dict[str, Any]) -> Any:
    ids = _online_ids(body)
    ctx.require_admin()
    out = []
    for uid in ids:
        r = msggateway_pb2.GetUsersOnlineStatusResp.SuccessResult(userID=uid)
        for c in ctx.core.hub.of(uid):
            r.detailPlatformStatus.add(platformID=c.platform_id, connID=c.conn_id, isBackground=c.is_background,
                                       token=c.token)
        r.status = 1 if r.detailPlatformStatus else 0
        d = r
        out.append(d)
    return RawData([_null_empty(r) for r in out] or None)


def _null_empty(r: Any) -> dict[str, Any]:
    from openim_sdk.protocol import jsoncodec

    d = jsoncodec.to_go_dict(r)
    if not d.get("detailPlatformStatus"):
        d["detailPlatformStatus"] = None
    return d


@service("/user/get_users_online_token_detail")
async def online_token_detail(ctx: RequestContext, body: dict[str, Any]) -> Any:
    ids = _online_ids(body)
    if not ctx.is_admin:
        return RawData(None)
    out = []
    for uid in ids:
        conns = ctx.core.hub.of(uid)
        if not conns:
            continue
        d = msggateway_pb2.SingleDetail(userID=uid, status=1)
        by_pid: dict[int, list[str]] = {}
        for c in conns:
            by_pid.setdefault(c.platform_id, []).append(c.token)
        for pid, toks in sorted(by_pid.items()):
            d.singlePlatformToken.add(platformID=pid, total=len(toks), token=toks)
        out.append(d)
    return RawData(None) if not out else out


def _v_sub(req: Any) -> None:
    need(req.userID, "UserID is empty")
    need(len(req.userIDs) > 0, "subscription User-list is empty")
    need(req.genre in (1, 2), "invalid subscription type parameter")


@service("/user/subscribe_users_status", _v_sub)
async def subscribe_status(ctx: RequestContext, req: Any) -> Any:
    return user_pb2.subscribeOrCancelUsersStatusResp()


@service("/user/get_subscribe_users_status", lambda r: need(r.userID, "UserID is empty"))
async def get_subscribe_status(ctx: RequestContext, req: Any) -> Any:
    return user_pb2.getSubscribeUsersStatusResp()


@service("/user/get_users_status", lambda r: need(len(r.userIDs) > 0, "UserIDs is empty"))
async def get_users_status(ctx: RequestContext, req: user_pb2.getUserStatusReq) -> Any:
    resp = user_pb2.getUserStatusResp()
    for uid in req.userIDs:
        pids = ctx.core.hub.platforms(uid)
        resp.statusList.add(userID=uid, status=1 if pids else 0, platformIDs=pids)
    return resp


# -- commands ---------------------------------------------------------------------------


def _v_cmd(uuid: bool = True, typ: bool = True) -> Any:
    def check(req: Any) -> None:
        need(req.userID, "userID is empty")
        if typ:
            need(req.type != 0, "type is not specified")
        if uuid:
            need(req.uuid, "UUID is empty")

    return check


@service("/user/process_user_command_add", _v_cmd())
async def cmd_add(ctx: RequestContext, req: user_pb2.processUserCommandAddReq) -> Any:
    ctx.check_access(req.userID)
    await ctx.core.storage.put_user_command(req.userID, req.type, req.uuid, req.value.value, req.ex.value)
    await user_notify.user_command(ctx, req.userID, ContentType.USER_COMMAND_ADD)
    return user_pb2.processUserCommandAddResp()


@service("/user/process_user_command_delete", _v_cmd())
async def cmd_delete(ctx: RequestContext, req: user_pb2.processUserCommandDeleteReq) -> Any:
    ctx.check_access(req.userID)
    if not await ctx.core.storage.delete_user_command(req.userID, req.type, req.uuid):
        raise NotFoundError(1004, detail="command not found")
    await user_notify.user_command(ctx, req.userID, ContentType.USER_COMMAND_DELETE)
    return user_pb2.processUserCommandDeleteResp()


@service("/user/process_user_command_update", _v_cmd())
async def cmd_update(ctx: RequestContext, req: user_pb2.processUserCommandUpdateReq) -> Any:
    ctx.check_access(req.userID)
    value = req.value.value if req.HasField("value") else None
    ex = req.ex.value if req.HasField("ex") else None
    if not await ctx.core.storage.update_user_command(req.userID, req.type, req.uuid, value, ex):
        raise NotFoundError(1004, detail="command not found")
    await user_notify.user_command(ctx, req.userID, ContentType.USER_COMMAND_UPDATE)
    return user_pb2.processUserCommandUpdateResp()


@service("/user/process_user_command_get", _v_cmd(uuid=False))
async def cmd_get(ctx: RequestContext, req: user_pb2.processUserCommandGetReq) -> Any:
    ctx.check_access(req.userID)
    resp = user_pb2.processUserCommandGetResp()
    for c in await ctx.core.storage.user_commands(req.userID, req.type):
        resp.CommandResp.add(type=c.type, createTime=c.create_time, uuid=c.uuid, value=c.value, ex=c.ex)
    return resp


@service("/user/process_user_command_get_all", _v_cmd(uuid=False, typ=False))
async def cmd_get_all(ctx: RequestContext, req: user_pb2.processUserCommandGetAllReq) -> Any:
    ctx.check_access(req.userID)
    resp = user_pb2.processUserCommandGetAllResp()
    for c in await ctx.core.storage.user_commands(req.userID):
        resp.CommandResp.add(type=c.type, createTime=c.create_time, uuid=c.uuid, value=c.value, ex=c.ex)
    return resp


# -- notification accounts ----------------------------------------------------------------


@service("/user/add_notification_account", lambda r: need(r.nickName, "nickName is empty"))
async def add_notification_account(ctx: RequestContext, req: user_pb2.addNotificationAccountReq) -> Any:
    import random

    uid = req.userID or "".join(random.choice("0123456789") for _ in range(10))
    level = req.appMangerLevel if req.appMangerLevel >= 3 else 3
    existing = await ctx.core.storage.insert_users([UserRow(uid, req.nickName, req.faceURL, "", now_ms(), level, 0)])
    if existing:
        raise OpenIMError(1102, detail="userID registered already")
    return user_pb2.addNotificationAccountResp(userID=uid, faceURL=req.faceURL, nickName=req.nickName,
                                               appMangerLevel=level)


def _v_upd_notif(req: Any) -> None:
    need(req.userID, "userID is empty")
    need(req.faceURL or req.nickName, "faceURL and nickName is empty at the same")


@service("/user/update_notification_account", _v_upd_notif)
async def update_notification_account(ctx: RequestContext, req: user_pb2.updateNotificationAccountInfoReq) -> Any:
    users = await ctx.core.storage.get_users([req.userID])
    if req.userID not in users or users[req.userID].app_manger_level < 2:
        raise NotFoundError(1004, detail="notification account not found")
    changes = {}
    if req.nickName:
        changes["nickname"] = req.nickName
    if req.faceURL:
        changes["face_url"] = req.faceURL
    await ctx.core.storage.update_user(req.userID, changes)
    return user_pb2.updateNotificationAccountInfoResp()


@service("/user/search_notification_account", check_pagination)
async def search_notification_account(ctx: RequestContext, req: user_pb2.searchNotificationAccountReq) -> Any:
    offset, limit = page_bounds(req.pagination)
    flt = UserFilter(min_level=req.appManagerLevel or 2, keyword=req.keyword)
    total, rows = await ctx.core.storage.page_users(flt, offset, limit)
    resp = user_pb2.searchNotificationAccountResp(total=total)
    for u in rows:
        resp.notificationAccounts.add(userID=u.user_id, faceURL=u.face_url, nickName=u.nickname,
                                      appMangerLevel=u.app_manger_level)
    return resp


# -- client config ------------------------------------------------------------------------


@service("/user/get_user_client_config")
async def get_client_config(ctx: RequestContext, req: user_pb2.getUserClientConfigReq) -> Any:
    resp = user_pb2.getUserClientConfigResp()
    for row in await ctx.core.storage.client_config_for(req.userID):  # user-specific values override the global ones
        resp.configs[row.key] = row.value
    return resp


@service("/user/set_user_client_config")
async def set_client_config(ctx: RequestContext, req: user_pb2.setUserClientConfigReq) -> Any:
    await ctx.core.storage.set_client_config(req.userID, dict(req.configs))
    return user_pb2.setUserClientConfigResp()


@service("/user/del_user_client_config")
async def del_client_config(ctx: RequestContext, req: user_pb2.delUserClientConfigReq) -> Any:
    await ctx.core.storage.delete_client_config(req.userID, list(req.keys))
    return user_pb2.delUserClientConfigResp()


@service("/user/page_user_client_config")
async def page_client_config(ctx: RequestContext, req: user_pb2.pageUserClientConfigReq) -> Any:
    offset, limit = page_bounds(req.pagination) if req.HasField("pagination") else (0, 20)
    total, rows = await ctx.core.storage.page_client_config(req.userID, req.key, offset, limit)
    resp = user_pb2.pageUserClientConfigResp(total=total)
    for row in rows:
        resp.configs.add(key=row.key, userID=row.user_id, value=row.value)
    return resp
