"""The session's connection state and its events, one per official connection callback.

:class:`SessionState` turns what the long connection reports (:mod:`openim_sdk.ws.events`) into
the state (:class:`~openim_sdk.events.ConnectionState`) and the events an app listens to:
``Connecting`` / ``Connected`` / ``ConnectFailed`` (``OnConnecting``, ``OnConnectSuccess``,
``OnConnectFailed``), ``Kicked`` (``OnKickedOffline``), ``TokenExpired`` / ``TokenInvalid``
(``OnUserTokenExpired``, ``OnUserTokenInvalid``), always with ``ConnectionStateChanged``; the end
of the session (kicked, token refused, closed) with ``SessionEnded``, once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from .. import events as ev
from ..protocol.errors import LocalError, OpenIMError
from ..protocol.pb.sdkws import sdkws_pb2
from ..ws import events as wse

_UP = (ev.ConnectionState.SYNCING, ev.ConnectionState.CONNECTED)


class SessionState:
    def __init__(
        self,
        emit: Callable[[ev.Event], None],
        *,
        on_connected_changed: Callable[[bool], None],
        on_push: Callable[[sdkws_pb2.PushMessages], Awaitable[None]],
        on_disconnected: Callable[[], Awaitable[None]],
    ) -> None:
        self._emit = emit
        self._on_connected_changed = on_connected_changed
        self._on_push = on_push
        self._on_disconnected = on_disconnected
        self.state = ev.ConnectionState.STOPPED
        self._connected = asyncio.Event()
        self._over = asyncio.Event()
        self._end_error: OpenIMError | None = None
        self.ended = False

    @property
    def connected(self) -> bool:
        """Connected and synced (state CONNECTED)."""
        return self._connected.is_set()

    async def wait_connected(self) -> None:
        """Until the session is connected and synced; raises when it ends first (token refused,
        kicked, closed) instead of waiting for a connection that will never come."""
        if not self._connected.is_set() and not self.ended:
            up = asyncio.ensure_future(self._connected.wait())
            over = asyncio.ensure_future(self._over.wait())
            try:
                await asyncio.wait({up, over}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                up.cancel()
                over.cancel()
        if not self._connected.is_set():
            raise self._end_error or LocalError(message="the session has ended",
                                                detail=f"state {self.state.value}")

    def set(self, state: ev.ConnectionState, detail: str = "") -> None:
        if state == self.state:
            return
        self.state = state
        if state == ev.ConnectionState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        self._on_connected_changed(state == ev.ConnectionState.CONNECTED)
        self._emit(ev.ConnectionStateChanged(state, detail))
        if state == ev.ConnectionState.CONNECTING:
            self._emit(ev.Connecting())

    def connection_opened(self) -> None:
        self._emit(ev.Connected())
        self.set(ev.ConnectionState.SYNCING)

    def end(self, reason: ev.ConnectionState, error: OpenIMError | None) -> None:
        if self.ended:
            return
        self.ended = True
        self._end_error = error
        self._over.set()
        self.set(reason, str(error or ""))
        if reason == ev.ConnectionState.KICKED:
            self._emit(ev.Kicked(error))
        elif reason == ev.ConnectionState.TOKEN_INVALID:
            expired = error is None or error.code == 1501
            self._emit(ev.TokenExpired(error) if expired else ev.TokenInvalid(error))
        self._emit(ev.SessionEnded(reason, error))

    async def on_ws_event(self, event: wse.Event) -> None:
        if isinstance(event, wse.PushReceived):
            try:
                push = event.push
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, "push"))
                return
            await self._on_push(push)
        elif isinstance(event, wse.Disconnected | wse.Reconnecting):
            was_up = self.state in _UP
            await self._on_disconnected()
            if isinstance(event, wse.Reconnecting) and not was_up and not self.ended:
                self._emit(ev.ConnectFailed(event.error))  # an attempt failed (not a drop)
            if not self.ended:
                self.set(ev.ConnectionState.RECONNECTING, getattr(event, "reason", ""))
        elif isinstance(event, wse.Kicked):
            self.end(ev.ConnectionState.KICKED, event.error)
        elif isinstance(event, wse.TokenInvalid):
            self.end(ev.ConnectionState.TOKEN_INVALID, event.error)
        elif isinstance(event, wse.StatusChange):
            try:
                statuses = event.statuses
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, "online status"))
                return
            for uid, platforms in statuses.items():
                self._emit(ev.OnlineStatusChanged(uid, tuple(platforms)))
        elif isinstance(event, wse.ErrorOccurred):
            self._emit(ev.ErrorEvent(event.error, event.where))
        elif isinstance(event, wse.Stopped):
            self.end(ev.ConnectionState.STOPPED, event.error)
