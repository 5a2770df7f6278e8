"""/third/* besides objects: client log records, FCM tokens, app badge (spec rest-api §11)."""

from __future__ import annotations

import os
from typing import Any

from openim_sdk.protocol.constants import is_valid_platform
from openim_sdk.protocol.errors import NotFoundError
from openim_sdk.protocol.pb.third import third_pb2

from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..repos.activity import ClientLogRow
from ..storage import now_ms

_PLATFORMS = {1: "IOS", 2: "Android", 3: "Windows", 4: "OSX", 5: "Web", 6: "MiniWebApp", 7: "Linux",
              8: "AndroidPad", 9: "IPad", 10: "Admin", 11: "HarmonyOS"}


@service("/third/logs/upload")
async def upload_logs(ctx: RequestContext, req: third_pb2.UploadLogsReq) -> Any:
    need(len(req.fileURLs) > 0, "fileURLs is empty")
    rows = [ClientLogRow(os.urandom(10).hex(), ctx.user_id, _PLATFORMS.get(req.platform, str(req.platform)), f.URL,
                         f.filename, req.appFramework, req.appFramework, req.version, req.ex, now_ms())
            for f in req.fileURLs]
    await ctx.core.storage.add_client_logs(rows)
    return third_pb2.UploadLogsResp()


@service("/third/logs/delete")
async def delete_logs(ctx: RequestContext, req: third_pb2.DeleteLogsReq) -> Any:
    ids = list(dict.fromkeys(req.logIDs))
    need(ids, "logIDs is empty")
    missing = await ctx.core.storage.delete_client_logs(ids)
    if missing:
        raise NotFoundError(1004, detail=f"logIDs not found: {','.join(set(missing))}")
    return third_pb2.DeleteLogsResp()


@service("/third/logs/search", check_pagination)
async def search_logs(ctx: RequestContext, req: third_pb2.SearchLogsReq) -> Any:
    off, lim = page_bounds(req.pagination)
    total, rows = await ctx.core.storage.search_client_logs(req.keyword, req.startTime, req.endTime, off, lim)
    logs = [third_pb2.LogInfo(logID=r.log_id, userID=r.user_id, platform=r.platform, url=r.url, filename=r.filename,
                              systemType=r.system_type, version=r.version, ex=r.ex, createTime=r.create_time,
                              nickname=r.nickname) for r in rows]
    return third_pb2.SearchLogsResp(logsInfos=logs, total=total)


def _v_fcm(req: Any) -> None:
    need(is_valid_platform(req.platformID), "platformID is invalidate")
    need(req.fcmToken, "FcmToken is empty")
    need(req.account, "account is empty")


@service("/third/fcm_update_token", _v_fcm)
async def fcm_update_token(ctx: RequestContext, req: third_pb2.FcmUpdateTokenReq) -> Any:
    await ctx.core.storage.put_third_value(req.account, f"fcm:{req.platformID}", req.fcmToken)
    return third_pb2.FcmUpdateTokenResp()


@service("/third/set_app_badge", lambda r: need(r.userID, "UserID is empty"))
async def set_app_badge(ctx: RequestContext, req: third_pb2.SetAppBadgeReq) -> Any:
    ctx.check_access(req.userID)
    await ctx.core.storage.put_third_value(req.userID, "badge", str(req.appUnreadCount))
    return third_pb2.SetAppBadgeResp()

