"""/statistics/* : registration, group creation and message activity counts (ms time ranges)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from openim_sdk.protocol.constants import SessionType
from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.user import user_pb2

from ..context import RequestContext, need, page_bounds, service
from ..repos import relations as rs


def _v_range(req: Any) -> None:
    need(req.start > 0, "start is invalid")
    need(req.end > 0 and req.end >= req.start, "end is invalid")


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d")  # server-local date, like Go's time.Format


async def _counts(ctx: RequestContext, kind: str, start: int, end: int) -> tuple[int, int, dict[str, int]]:
    total, before, times = await ctx.core.storage.created_between(kind, start, end)
    days: dict[str, int] = {}
    for t in times:
        days[_day(t)] = days.get(_day(t), 0) + 1
    return total, before, days


@service("/statistics/user/register", _v_range)
async def user_register(ctx: RequestContext, req: user_pb2.userRegisterCountReq) -> Any:
    total, before, days = await _counts(ctx, "users", req.start, req.end)
    resp = user_pb2.userRegisterCountResp(total=total, before=before)
    resp.count.update(days)
    return resp


@service("/statistics/group/create", _v_range)
async def group_create(ctx: RequestContext, req: group_pb2.GroupCreateCountReq) -> Any:
    total, before, days = await _counts(ctx, "groups", req.start, req.end)
    resp = group_pb2.GroupCreateCountResp(total=total, before=before)
    resp.count.update(days)
    return resp


async def _activity(ctx: RequestContext, key: str, session_types: tuple[int, ...], start: int,
                    end: int) -> tuple[int, dict[str, int], dict[str, int]]:
    rows = await ctx.core.storage.chat_activity(key, session_types, start, end)
    per: dict[str, int] = {}
    days: dict[str, set[str]] = {}
    for k, t in rows:
        per[k] = per.get(k, 0) + 1
        days.setdefault(_day(t), set()).add(k)
    return len(rows), per, {d: len(v) for d, v in days.items()}


@service("/statistics/user/active")
async def user_active(ctx: RequestContext, req: msg_pb2.GetActiveUserReq) -> Any:
    session_types = (SessionType.SINGLE_CHAT, SessionType.READ_GROUP_CHAT) if req.group else (SessionType.SINGLE_CHAT,)
    off, lim = page_bounds(req.pagination) if req.HasField("pagination") else (0, 10)
    msgs, per, days = await _activity(ctx, "send_id", session_types, req.start, req.end)
    order = sorted(per.items(), key=lambda kv: (kv[1], kv[0]) if req.ase else (-kv[1], kv[0]))[off:off + lim]
    us = await ctx.core.storage.user_infos([k for k, _ in order])
    resp = msg_pb2.GetActiveUserResp(msgCount=msgs, userCount=len(per))
    resp.dateCount.update(days)
    for uid, n in order:
        resp.users.append(msg_pb2.ActiveUser(user=us.get(uid), count=n))
    return resp


@service("/statistics/group/active")
async def group_active(ctx: RequestContext, req: msg_pb2.GetActiveGroupReq) -> Any:
    off, lim = page_bounds(req.pagination) if req.HasField("pagination") else (0, 10)
    msgs, per, days = await _activity(ctx, "group_id", (SessionType.READ_GROUP_CHAT,), req.start, req.end)
    order = sorted(per.items(), key=lambda kv: (kv[1], kv[0]) if req.ase else (-kv[1], kv[0]))[off:off + lim]
    gs = await ctx.core.storage.run(lambda conn: rs.groups(conn, [k for k, _ in order]))
    resp = msg_pb2.GetActiveGroupResp(msgCount=msgs, groupCount=len(per))
    resp.dateCount.update(days)
    for gid, n in order:
        resp.groups.append(msg_pb2.ActiveGroup(group=gs.get(gid), count=n))
    return resp
