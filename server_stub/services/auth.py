"""/auth/* routes (spec rest-api §6)."""

from __future__ import annotations

from typing import Any

from openim_sdk.protocol.errors import ArgsError, NoPermissionError, NotFoundError
from openim_sdk.protocol.pb.auth import auth_pb2

from ..context import RequestContext, need, service

ADMIN_PLATFORM = 10


@service("/auth/get_admin_token", lambda r: need(r.userID, "userID is empty"))
async def get_admin_token(ctx: RequestContext, req: auth_pb2.getAdminTokenReq) -> Any:
    core = ctx.core
    if req.secret != core.config.secret:
        raise NoPermissionError(detail="secret invalid")
    if not core.tokens.is_admin(req.userID):
        raise ArgsError(detail="userID is not admin")
    if not await core.storage.user_exists(req.userID):
        raise NotFoundError(1004, detail="admin user not found")
    token, _ = await core.tokens.issue(req.userID, ADMIN_PLATFORM)
    return auth_pb2.getAdminTokenResp(token=token, expireTimeSeconds=core.tokens.expire_seconds)


@service("/auth/get_user_token")
async def get_user_token(ctx: RequestContext, req: auth_pb2.getUserTokenReq) -> Any:
    core = ctx.core
    if req.platformID == ADMIN_PLATFORM:
        raise NoPermissionError(detail="platformID invalid. platformID must not be adminPlatformID")
    if core.tokens.is_admin(req.userID):
        raise NoPermissionError(detail="don't get Admin token")
    users = await core.storage.get_users([req.userID])
    if req.userID not in users:
        raise NotFoundError(1004, detail="record not found")
    if users[req.userID].app_manger_level >= 3:
        raise ArgsError(detail="app account can`t get token")
    from openim_sdk.protocol.constants import is_valid_platform

    if not is_valid_platform(req.platformID):
        raise ArgsError(detail="platformID is invalid")
    token, _ = await core.tokens.issue(req.userID, req.platformID)
    return auth_pb2.getUserTokenResp(token=token, expireTimeSeconds=core.tokens.expire_seconds)


@service("/auth/parse_token", lambda r: need(r.token, "userID is empty"))
async def parse_token(ctx: RequestContext, req: auth_pb2.parseTokenReq) -> Any:
    claims = await ctx.core.tokens.parse(req.token)
    return auth_pb2.parseTokenResp(userID=claims.user_id, platformID=claims.platform_id,
                                   expireTimeSeconds=claims.exp)


def _v_force(req: Any) -> None:
    need(req.userID, "userID is empty")
    need(1 <= req.platformID <= 10, "platformID is invalidate")


@service("/auth/force_logout", _v_force)
async def force_logout(ctx: RequestContext, req: auth_pb2.forceLogoutReq) -> Any:
    await ctx.core.tokens.force_logout(req.userID, req.platformID)
    ctx.core.hub.kick_user(req.userID, req.platformID)
    return auth_pb2.forceLogoutResp()
