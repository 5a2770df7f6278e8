"""OpenIM notifications for relation/group/conversation changes (sent through the send path).

The send checks and group answers that used to be installed here as string-keyed hooks are
:class:`server_stub.policies.Policies` (``core.policies``); raw HTTP handlers are marked with
:func:`server_stub.context.raw_route` and collected by :mod:`server_stub.registry`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import ContentType, SessionType
from openim_sdk.protocol.errors import NoPermissionError, OpenIMError

if TYPE_CHECKING:
    from .app import ServerCore

log = logging.getLogger("server_stub.notify")


def option(core: ServerCore, name: str, default: Any) -> Any:
    """Part-2 settings live in ``ServerConfig.extra`` (e.g. ``friend_verify``, ``min_part_size``)."""
    return core.policies.option(name, default)


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
        stored = core.policies.notifications_stored
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
