"""The typed gateway requests of the long connection besides sending messages: logout (2003),
app background status (2004) and online-status subscriptions (2005), which are remembered and
sent again after every reconnect."""

from __future__ import annotations

from collections.abc import Iterable

from openim_sdk.protocol.constants import ReqIdentifier
from openim_sdk.protocol.envelope import WsResponse
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.ws.events import StatusChange


class GatewayCalls:
    """Mixed into :class:`~openim_sdk.ws.connection.LongConnection`, which provides ``request``,
    ``user_id``; owns the set of users whose online status is subscribed."""

    user_id: str
    _subscriptions: set[str]

    async def request(self, req_identifier: int, data: bytes = b"", timeout: float | None = None, *,
                      operation_id: str | None = None) -> WsResponse:
        raise NotImplementedError

    async def set_background(self, is_background: bool, timeout: float | None = None) -> None:
        """Send 2004 ``sdkws.SetAppBackgroundStatusReq``."""
        body = sdkws_pb2.SetAppBackgroundStatusReq(userID=self.user_id, isBackground=is_background)
        await self.request(ReqIdentifier.SET_BACKGROUND_STATUS, body.SerializeToString(), timeout)

    async def subscribe_online_status(self, user_ids: Iterable[str], unsubscribe: Iterable[str] = (),
                                      timeout: float | None = None) -> dict[str, list[int]]:
        """Send 2005; returns userID -> online platform IDs of the newly subscribed users.

        Subscriptions are remembered and re-sent after every reconnect. Later changes come as
        :class:`StatusChange` events (the reply is reported as one too).
        """
        subs = [u for u in dict.fromkeys(user_ids) if u]
        unsubs = [u for u in dict.fromkeys(unsubscribe) if u]
        self._subscriptions.update(subs)
        self._subscriptions.difference_update(unsubs)
        body = sdkws_pb2.SubUserOnlineStatus(subscribeUserID=subs, unsubscribeUserID=unsubs)
        resp = await self.request(ReqIdentifier.SUB_USER_ONLINE_STATUS, body.SerializeToString(), timeout)
        return StatusChange(resp, solicited=True).statuses if resp.data else {}

    async def unsubscribe_online_status(self, user_ids: Iterable[str], timeout: float | None = None) -> None:
        """Send 2005 with ``unsubscribeUserID`` only."""
        await self.subscribe_online_status((), unsubscribe=user_ids, timeout=timeout)

    async def resubscribe(self) -> None:
        """After a reconnect: subscribe again to every remembered user (raises the server's error)."""
        if self._subscriptions:
            body = sdkws_pb2.SubUserOnlineStatus(subscribeUserID=sorted(self._subscriptions))
            await self.request(ReqIdentifier.SUB_USER_ONLINE_STATUS, body.SerializeToString())
