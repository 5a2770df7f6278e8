"""The gateway's request handlers, one per reqIdentifier (spec ws-protocol §5): each parses its
request, checks the connection may make it, and answers with the reply's bytes (and, for a send,
the push callback the gateway runs after the ack is queued)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import ReqIdentifier
from openim_sdk.protocol.envelope import WsRequest
from openim_sdk.protocol.errors import ArgsError, OpenIMError
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.push import push_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .services import msg as msg_service
from .services import msg_read

if TYPE_CHECKING:
    from .gateway import Client, Gateway

#: A request's handler: (gateway, connection, request, ``queued``) -> (answer data, what runs after
#: the answer or None). ``queued`` is given to overlapping requests only (sends, ws_pipeline.py):
#: the handler calls it once its seq allocation is queued on the writer (or it need not be called).
WsHandler = Callable[["Gateway", "Client", WsRequest, Callable[[], None] | None],
                     Awaitable[tuple[bytes, Callable[[], Any] | None]]]


Queued = Callable[[], None] | None


def _parse(cls: Any, data: bytes) -> Any:
    msg = cls()
    msg.ParseFromString(data)
    return msg


async def _get_newest_seq(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(sdkws_pb2.GetMaxSeqReq, req.data)
    admin = _check_user(gw, c, r.userID)
    resp = await msg_read.get_max_seq(gw.core, r.userID, admin)
    return resp.SerializeToString(), None


async def _pull_by_range(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(sdkws_pb2.PullMessageBySeqsReq, req.data)
    admin = _check_user(gw, c, r.userID)
    return (await msg_read.pull_by_ranges(gw.core, r, admin)).SerializeToString(), None


async def _send_msg(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, Callable[[], Any] | None]:
    m = _parse(sdkws_pb2.MsgData, req.data)
    if m.sendID != c.user_id:
        raise ArgsError(detail="MsgData.sendID must be the connected user")
    resp, after = await msg_service.send_message(gw.core, m, req.operation_id,
                                                 sender_is_admin=gw.core.tokens.is_admin(c.user_id), queued=queued)
    return resp.SerializeToString(), after


async def _send_signal(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    raise ArgsError(detail="msgData is nil")


async def _pull_by_seqs(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(msg_pb2.GetSeqMessageReq, req.data)
    admin = _check_user(gw, c, r.userID)
    return (await msg_read.pull_by_seqs(gw.core, r, admin)).SerializeToString(), None


async def _conv_max_read(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(msg_pb2.GetConversationsHasReadAndMaxSeqReq, req.data)
    admin = _check_user(gw, c, r.userID)
    return (await msg_read.has_read_and_max_seq(gw.core, r, admin)).SerializeToString(), None


async def _last_message(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(msg_pb2.GetLastMessageReq, req.data)
    admin = _check_user(gw, c, r.userID)
    return (await msg_read.last_messages(gw.core, r, admin)).SerializeToString(), None


async def _logout(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    _parse(push_pb2.DelUserPushTokenReq, req.data)
    # the connection's offline-push device token goes (upstream DelUserPushToken); the IM token stays valid
    await gw.core.storage.delete_third_value(c.user_id, f"fcm:{c.platform_id}")
    return push_pb2.DelUserPushTokenResp().SerializeToString(), None


async def _background(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(sdkws_pb2.SetAppBackgroundStatusReq, req.data)
    c.is_background = r.isBackground
    return b"", None


async def _sub_status(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    r = _parse(sdkws_pb2.SubUserOnlineStatus, req.data)
    gw.core.hub.subscribe(c, r.subscribeUserID, r.unsubscribeUserID)
    # every requested user is answered, subscribed before or not, online or not, known or not
    # (internal/msggateway/subscription.go SubUserOnlineStatus)
    return gw.core.hub.status_tips(r.subscribeUserID).SerializeToString(), None


async def _server_only(gw: Gateway, c: Client, req: WsRequest, queued: Queued = None) -> tuple[bytes, None]:
    raise ArgsError(detail=f"reqIdentifier {req.req_identifier} is server-initiated")


def _check_user(gw: Gateway, c: Client, user_id: str) -> bool:
    """1002 unless ``user_id`` is the connected user or the connection is an admin's; returns is-admin."""
    admin = gw.core.tokens.is_admin(c.user_id)
    if user_id != c.user_id and not admin:
        raise OpenIMError(1002, detail=f"userID {user_id} is not the connected user")
    return admin


HANDLERS: dict[int, WsHandler] = {
    ReqIdentifier.GET_NEWEST_SEQ: _get_newest_seq,
    ReqIdentifier.PULL_MSG_BY_RANGE: _pull_by_range,
    ReqIdentifier.SEND_MSG: _send_msg,
    ReqIdentifier.SEND_SIGNAL_MSG: _send_signal,
    ReqIdentifier.PULL_MSG_BY_SEQ_LIST: _pull_by_seqs,
    ReqIdentifier.GET_CONV_MAX_READ_SEQ: _conv_max_read,
    ReqIdentifier.PULL_CONV_LAST_MESSAGE: _last_message,
    ReqIdentifier.PUSH_MSG: _server_only,
    ReqIdentifier.KICK_ONLINE_MSG: _server_only,
    ReqIdentifier.LOGOUT_MSG: _logout,
    ReqIdentifier.SET_BACKGROUND_STATUS: _background,
    ReqIdentifier.SUB_USER_ONLINE_STATUS: _sub_status,
}
