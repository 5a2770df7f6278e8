"""/third/* besides objects: client log records, FCM tokens, app badge (spec rest-api §11)."""

from __future__ import annotations

import os
from typing import Any

from openim_sdk.protocol.constants import is_valid_platform
from openim_sdk.protocol.errors import NotFoundError
from openim_sdk.protocol.pb.third import third_pb2

from .. import relation_store as rs
from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..storage import now_ms

_PLATFORMS = {1: "IOS", 2: "Android", 3: "Windows", 4: "OSX", 5: "Web", 6: "MiniWebApp", 7: "Linux",
              8: "AndroidPad", 9: "IPad", 10: "Admin", 11: "HarmonyOS"}


@service("/third/logs/upload")
async def upload_logs(ctx: RequestContext, req: third_pb2.UploadLogsReq) -> Any:
    need(len(req.fileURLs) > 0, "fileURLs is empty")
    rows = [(os.urandom(10).hex(), ctx.user_id, _PLATFORMS.get(req.platform, str(req.platform)), f.URL, f.filename,
             req.appFramework, req.appFramework, req.version, req.ex, now_ms()) for f in req.fileURLs]
    await ctx.core.storage.run(lambda c: c.executemany(
        "INSERT INTO client_logs VALUES (?,?,?,?,?,?,?,?,?,?)", rows))
    return third_pb2.UploadLogsResp()


@service("/third/logs/delete")
async def delete_logs(ctx: RequestContext, req: third_pb2.DeleteLogsReq) -> Any:
    ids = list(dict.fromkeys(req.logIDs))
    need(ids, "logIDs is empty")

    def op(conn: Any) -> None:
        found = [r[0] for r in conn.execute(f"SELECT log_id FROM client_logs WHERE log_id IN ({rs.in_clause(ids)})",
                                            ids)]
        if len(found) != len(ids):
            raise NotFoundError(1004, detail=f"logIDs not found: {','.join(set(ids) - set(found))}")
        conn.execute(f"DELETE FROM client_logs WHERE log_id IN ({rs.in_clause(ids)})", ids)

    await ctx.core.storage.run(op)
    return third_pb2.DeleteLogsResp()


@service("/third/logs/search", check_pagination)
async def search_logs(ctx: RequestContext, req: third_pb2.SearchLogsReq) -> Any:
    off, lim = page_bounds(req.pagination)
    where, params = "1=1", list[Any]()
    if req.keyword:
        where += " AND (user_id LIKE ? OR filename LIKE ? OR version LIKE ?)"
        params += [f"%{req.keyword}%"] * 3
    if req.startTime:
        where += " AND create_time >= ?"
        params.append(req.startTime)
    if req.endTime:
        where += " AND create_time <= ?"
        params.append(req.endTime)

    def op(conn: Any) -> tuple[int, list[third_pb2.LogInfo]]:
        total = conn.execute(f"SELECT COUNT(*) FROM client_logs WHERE {where}", params).fetchone()[0]
        rows = conn.execute(f"SELECT log_id, user_id, platform, url, filename, system_type, version, ex, create_time "
                            f"FROM client_logs WHERE {where} ORDER BY create_time DESC LIMIT ? OFFSET ?",
                            (*params, lim, off)).fetchall()
        us = rs.users(conn, [r[1] for r in rows])
        return total, [third_pb2.LogInfo(logID=r[0], userID=r[1], platform=r[2], url=r[3], filename=r[4],
                                         systemType=r[5], version=r[6], ex=r[7], createTime=r[8],
                                         nickname=us[r[1]].nickname if r[1] in us else "") for r in rows]

    total, logs = await ctx.core.storage.run(op)
    return third_pb2.SearchLogsResp(logsInfos=logs, total=total)


def _v_fcm(req: Any) -> None:
    need(is_valid_platform(req.platformID), "platformID is invalidate")
    need(req.fcmToken, "FcmToken is empty")
    need(req.account, "account is empty")


@service("/third/fcm_update_token", _v_fcm)
async def fcm_update_token(ctx: RequestContext, req: third_pb2.FcmUpdateTokenReq) -> Any:
    await ctx.core.storage.run(lambda c: c.execute("INSERT OR REPLACE INTO third_kv VALUES (?,?,?)",
                                                   (req.account, f"fcm:{req.platformID}", req.fcmToken)))
    return third_pb2.FcmUpdateTokenResp()


@service("/third/set_app_badge", lambda r: need(r.userID, "UserID is empty"))
async def set_app_badge(ctx: RequestContext, req: third_pb2.SetAppBadgeReq) -> Any:
    ctx.check_access(req.userID)
    await ctx.core.storage.run(lambda c: c.execute("INSERT OR REPLACE INTO third_kv VALUES (?,?,?)",
                                                   (req.userID, "badge", str(req.appUnreadCount))))
    return third_pb2.SetAppBadgeResp()

