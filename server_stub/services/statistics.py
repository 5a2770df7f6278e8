"""/statistics/* : registration, group creation and message activity counts (ms time ranges)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.user import user_pb2

from .. import relation_store as rs
from ..context import RequestContext, need, page_bounds, service

#: Chat messages only: notifications (1000-5000) are not activity.
_CHAT = "content_type NOT BETWEEN 1000 AND 5000"


def _v_range(req: Any) -> None:
    need(req.start > 0, "start is invalid")
    need(req.end > 0 and req.end >= req.start, "end is invalid")


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d")  # server-local date, like Go's time.Format


def _counts(conn: Any, table: str, col: str, start: int, end: int) -> tuple[int, int, dict[str, int]]:
    total = conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    before = conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {col} < ?", (start,)).fetchone()[0]
    days: dict[str, int] = {}
    for (t,) in conn.execute(f"SELECT {col} FROM {table} WHERE {col} >= ? AND {col} <= ?", (start, end)):
        days[_day(t)] = days.get(_day(t), 0) + 1
    return total, before, days


@service("/statistics/user/register", _v_range)
async def user_register(ctx: RequestContext, req: user_pb2.userRegisterCountReq) -> Any:
    total, before, days = await ctx.core.storage.run(lambda c: _counts(c, "users", "create_time", req.start, req.end))
    resp = user_pb2.userRegisterCountResp(total=total, before=before)
    resp.count.update(days)
    return resp


@service("/statistics/group/create", _v_range)
async def group_create(ctx: RequestContext, req: group_pb2.GroupCreateCountReq) -> Any:
    total, before, days = await ctx.core.storage.run(
        lambda c: _counts(c, "im_groups", "create_time", req.start, req.end))
    resp = group_pb2.GroupCreateCountResp(total=total, before=before)
    resp.count.update(days)
    return resp


def _activity(conn: Any, key: str, where: str, start: int, end: int) -> tuple[int, dict[str, int], dict[str, int]]:
    rows = conn.execute(f"SELECT {key}, send_time FROM messages WHERE {where} AND {_CHAT} AND send_time >= ? AND "
                        "send_time <= ?", (start, end)).fetchall()
    per: dict[str, int] = {}
    days: dict[str, set[str]] = {}
    for k, t in rows:
        per[k] = per.get(k, 0) + 1
        days.setdefault(_day(t), set()).add(k)
    return len(rows), per, {d: len(v) for d, v in days.items()}


@service("/statistics/user/active")
async def user_active(ctx: RequestContext, req: msg_pb2.GetActiveUserReq) -> Any:
    where = "session_type IN (1, 3)" if req.group else "session_type = 1"
    off, lim = page_bounds(req.pagination) if req.HasField("pagination") else (0, 10)

    def op(conn: Any) -> msg_pb2.GetActiveUserResp:
        msgs, per, days = _activity(conn, "send_id", where, req.start, req.end)
        order = sorted(per.items(), key=lambda kv: (kv[1], kv[0]) if req.ase else (-kv[1], kv[0]))[off:off + lim]
        us = rs.users(conn, [k for k, _ in order])
        resp = msg_pb2.GetActiveUserResp(msgCount=msgs, userCount=len(per))
        resp.dateCount.update(days)
        for uid, n in order:
            resp.users.append(msg_pb2.ActiveUser(user=us.get(uid), count=n))
        return resp

    return await ctx.core.storage.run(op)


@service("/statistics/group/active")
async def group_active(ctx: RequestContext, req: msg_pb2.GetActiveGroupReq) -> Any:
    off, lim = page_bounds(req.pagination) if req.HasField("pagination") else (0, 10)

    def op(conn: Any) -> msg_pb2.GetActiveGroupResp:
        msgs, per, days = _activity(conn, "group_id", "session_type = 3", req.start, req.end)
        order = sorted(per.items(), key=lambda kv: (kv[1], kv[0]) if req.ase else (-kv[1], kv[0]))[off:off + lim]
        gs = rs.groups(conn, [k for k, _ in order])
        resp = msg_pb2.GetActiveGroupResp(msgCount=msgs, groupCount=len(per))
        resp.dateCount.update(days)
        for gid, n in order:
            resp.groups.append(msg_pb2.ActiveGroup(group=gs.get(gid), count=n))
        return resp

    return await ctx.core.storage.run(op)
