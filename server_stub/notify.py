"""Part-2 glue: server extensions (send-path checks, group fan-out, raw HTTP routes),
OpenIM notifications for relation/group/conversation changes.

``ServerApp.start`` calls ``install(core)``, which fills ``core.extensions`` with

- ``group_members(group_id) -> list[str] | None``  (already consulted by ``msg.send_message``)
- ``can_revoke_in_group(group_id, user_id, sender_id) -> bool``  (already consulted by revoke)
- ``check_send(msg, sender_is_admin) -> None``  raises 1302/1303/1204/1203/1402/1403
- ``http_raw(request) -> Response | None``  GET/PUT/POST outside the route table (files, prometheus)
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import ContentType, SessionType
from openim_sdk.protocol.errors import (
    GroupNotFoundError,
    NoPermissionError,
    OpenIMError,
)
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from . import relation_store as rs
from .storage import now_ms

if TYPE_CHECKING:
    from starlette.requests import Request

    from .app import ServerCore

log = logging.getLogger("server_stub.notify")

#: The HTTP request being served (set by the ``http_raw`` hook when the dispatcher calls it).
current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar("current_request", default=None)

_RAW_HANDLERS: list[Callable[[Any, Any], Awaitable[Any]]] = []


def register_raw(fn: Callable[[Any, Any], Awaitable[Any]]) -> Callable[[Any, Any], Awaitable[Any]]:
    """Add a raw HTTP handler ``fn(core, request) -> Response | None`` (first non-None wins)."""
    _RAW_HANDLERS.append(fn)
    return fn


def option(core: ServerCore, name: str, default: Any) -> Any:
    """Part-2 settings live in ``ServerConfig.extra`` (e.g. ``friend_verify``, ``min_part_size``)."""
    return core.config.extra.get(name, default)


def install(core: ServerCore) -> None:
    """Register the part-2 extensions on ``core`` (idempotent; call once at startup)."""
    ext = core.extensions
    if ext.get("_part2"):
        return
    ext["_part2"] = True

    async def _members(gid: str) -> list[str] | None:
        return await group_member_ids(core, gid)

    async def _revoke(gid: str, uid: str, sender: str) -> bool:
        return await can_revoke_in_group(core, gid, uid, sender)

    async def _check(msg: sdkws_pb2.MsgData, sender_is_admin: bool = False) -> None:
        await check_send(core, msg, sender_is_admin)

    async def _raw(request: Any) -> Any:
        return await http_raw(core, request)

    ext.setdefault("group_members", _members)
    ext.setdefault("can_revoke_in_group", _revoke)
    ext.setdefault("check_send", _check)
    ext.setdefault("http_raw", _raw)


# --------------------------------------------------------------------------- extension functions


async def group_member_ids(core: ServerCore, group_id: str) -> list[str] | None:
    """Member IDs of a live group; None if the group does not exist or is dismissed."""
    def op(conn: Any) -> list[str] | None:
        g = rs.group_row(conn, group_id)
        if g is None or g.status == rs.STATUS_DISMISSED:
            return None
        return rs.member_ids(conn, group_id)

    return await core.storage.run(op)


async def can_revoke_in_group(core: ServerCore, group_id: str, user_id: str, sender_id: str) -> bool:
    """Owner revokes anyone's message, an admin revokes ordinary members' (and ex-members') messages."""
    def op(conn: Any) -> bool:
        roles = {r[1]: r[2] for r in rs.member_rows(conn, group_id, [user_id, sender_id])}
        mine = roles.get(user_id, 0)
        return mine == rs.ROLE_OWNER or (mine == rs.ROLE_ADMIN and roles.get(sender_id, 0) < rs.ROLE_ADMIN)

    return await core.storage.run(op)


async def check_send(core: ServerCore, msg: sdkws_pb2.MsgData, sender_is_admin: bool = False) -> None:
    """Relation and group checks of the send path (ws-protocol §5.1 step 3).

    Single chat: 1302 when the receiver blacklisted the sender; 1303 when friend verification is
    on (``ServerConfig.extra["friend_verify"]``) and they are not friends. Group: 1201 unknown,
    1204 dismissed, 1203 not a member, 1402 muted member, 1403 muted group (owner/admins pass).
    Skipped for app admins and the server's own sends (``sender_is_admin``); an ordinary user's
    notification content types are refused before this (``services.msg.check_user_message``).
    """
    if sender_is_admin:
        return
    st = msg.sessionType
    if st == SessionType.SINGLE_CHAT:
        if not msg.recvID or msg.recvID == msg.sendID:
            return
        verify = bool(option(core, "friend_verify", False))

        def single(conn: Any) -> int:
            u = conn.execute("SELECT app_manger_level FROM users WHERE user_id = ?", (msg.sendID,)).fetchone()
            if u is not None and u[0] >= 2:  # system / notification accounts skip relation checks
                return 0
            if rs.is_black(conn, msg.recvID, msg.sendID):
                return 1302
            if verify and not rs.is_friend(conn, msg.sendID, msg.recvID):
                return 1303
            return 0

        code = await core.storage.run(single)
        if code == 1302:
            raise OpenIMError(1302, detail=f"{msg.recvID} has blocked {msg.sendID}")
        if code == 1303:
            raise OpenIMError(1303, detail=f"{msg.recvID} is not {msg.sendID}'s friend")
    elif st == SessionType.READ_GROUP_CHAT:
        def group(conn: Any) -> tuple[sdkws_pb2.GroupInfo | None, sdkws_pb2.GroupMemberFullInfo | None]:
            return rs.group_row(conn, msg.groupID), rs.member(conn, msg.groupID, msg.sendID)

        g, m = await core.storage.run(group)
        if g is None:
            raise GroupNotFoundError(detail=f"group {msg.groupID} not found")
        if g.status == rs.STATUS_DISMISSED:
            raise OpenIMError(1204, detail=f"group {msg.groupID} dismissed")
        if m is None:
            raise OpenIMError(1203, detail=f"{msg.sendID} not in group {msg.groupID}")
        if m.roleLevel == rs.ROLE_OWNER:
            return
        if m.muteEndTime >= now_ms():
            raise OpenIMError(1402, detail=f"{msg.sendID} muted until {m.muteEndTime}")
        if g.status == rs.STATUS_MUTED and m.roleLevel != rs.ROLE_ADMIN:
            raise OpenIMError(1403, detail=f"group {msg.groupID} is muted")


async def http_raw(core: ServerCore, request: Any) -> Any:
    """Raw HTTP routes outside the JSON route table; None lets the normal dispatcher continue.

    Also records the request in :data:`current_request` so service functions can read headers
    (``X-Request-Api``, ``Host``) for URL prefixes.
    """
    current_request.set(request)
    for fn in _RAW_HANDLERS:
        resp = await fn(core, request)
        if resp is not None:
            return resp
    return None


# --------------------------------------------------------------------------- notifications


#: Notifications upstream's config/notification.yml marks ``isSendMsg: true``: besides the ``n_``
#: notification they are stored with a seq in the ``si_``/``sg_`` conversation (history, offline pull).
SEND_MSG_TYPES = frozenset({
    ContentType.GROUP_CREATED, ContentType.MEMBER_QUIT, ContentType.GROUP_OWNER_TRANSFERRED,
    ContentType.MEMBER_KICKED, ContentType.MEMBER_INVITED, ContentType.MEMBER_ENTER, ContentType.GROUP_DISMISSED,
    ContentType.GROUP_MUTED, ContentType.GROUP_CANCEL_MUTED, ContentType.GROUP_MEMBER_MUTED,
    ContentType.GROUP_MEMBER_CANCEL_MUTED, ContentType.GROUP_INFO_SET_ANNOUNCEMENT, ContentType.GROUP_INFO_SET_NAME,
    ContentType.FRIEND_APPLICATION_APPROVED, ContentType.CONVERSATION_PRIVATE_CHAT,
})


def send_msg_flag(content_type: int, requested: bool | None = None) -> bool:
    """isSendMsg of a notification: the request's ``sendMessage`` when given, else the default
    (upstream pkg/common/config/parse.go ``GetOptionsByNotification``)."""
    return content_type in SEND_MSG_TYPES if requested is None else requested


async def send_notification(core: ServerCore, send_id: str, recv_id: str, content_type: int, tips: Any,
                            operation_id: str, session_type: int = SessionType.SINGLE_CHAT,
                            stored: bool | None = None, send_msg: bool | None = None) -> None:
    """An OpenIM notification (msgFrom 200, ``{"detail": <Go JSON of tips>}``) via part 1's send path.

    ``session_type`` 1 (user to user, conversation ``n_<a>_<b>``) or 3 (``recv_id`` = groupID,
    conversation ``n_<groupID>``... as computed by part 1). With the default OpenIM configuration
    (reliabilityLevel 1) friend/group/conversation notifications are online-only; set
    ``ServerConfig.extra["notifications_stored"] = True`` to store them (seq > 0, pullable).
    """
    from .services.msg import notify

    if stored is None:
        stored = bool(option(core, "notifications_stored", False))
    await notify(core, send_id, recv_id, content_type, session_type, tips, operation_id, stored=stored,
                 send_msg=send_msg_flag(content_type, send_msg))


async def group_notification(core: ServerCore, op_user: str, group_id: str, content_type: int, tips: Any,
                             operation_id: str, send_msg: bool | None = None) -> None:
    await send_notification(core, op_user, group_id, content_type, tips, operation_id,
                            session_type=SessionType.READ_GROUP_CHAT, send_msg=send_msg)


def require(cond: object, err: OpenIMError) -> None:
    if not cond:
        raise err


def no_permission(detail: str) -> NoPermissionError:
    return NoPermissionError(detail=detail)
