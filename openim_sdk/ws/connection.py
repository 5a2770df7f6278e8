"""The OpenIM long connection (msg-gateway WebSocket) client.

Spec: docs/spec/ws-protocol.md §1 (handshake), §2 (framing), §3 (heartbeat), §4 (identifiers),
§7.6 (reconnect and request behaviour).

One :class:`LongConnection` owns a background loop that dials, keeps the socket alive with
WS ping control frames, reconnects with backoff and stops for good on token refusals (1501-1507)
and kicks. The default reconnect schedule (:mod:`openim_sdk.ws.backoff`) draws every wait
uniformly from [0, window] ("full jitter"), the window being the time the outage has lasted,
at least 0.5 s and at most 16 s: after a drop the first retry comes within 0.5 s, retries then
thin out geometrically (each about 1.5 times later than the one before), a client is back at most
max(0.5 s, outage) after the server is, and a crowd dropped by one server restart returns spread
out, not in step. The count resets once a connection has stayed up 5 s (a connection that drops
sooner continues the outage). A plain sequence of delays (``backoff=(1, 2, 4, 8, 16)``, the
schedule before) is still accepted: cycled, spread by +-``jitter``, reset on every successful
handshake. Requests are correlated by ``msgIncr`` and may run concurrently. Everything that happens is reported as an event
(:mod:`openim_sdk.ws.events`), delivered in order by a separate dispatcher task, so a listener
or an on-connect hook may itself send requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from openim_sdk.protocol.constants import SDK_MAX_FRAME, Platform, ReqIdentifier, is_valid_platform
from openim_sdk.protocol.envelope import Encoding, WsRequest, WsResponse, encode_request
from openim_sdk.protocol.errors import (
    KickedError,
    NetworkError,
    OpenIMError,
    RequestTimeoutError,
    TokenError,
    error_for_code,
    is_token_error,
)
from openim_sdk.protocol.pb.push import push_pb2
from openim_sdk.rest._transport import new_operation_id
from openim_sdk.ws.backoff import DEFAULT_BACKOFF, BackoffPolicy, ReconnectSchedule, as_policy
from openim_sdk.ws.calls import GatewayCalls
from openim_sdk.ws.events import (
    Connected,
    Disconnected,
    ErrorOccurred,
    Event,
    Kicked,
    Reconnecting,
    Stopped,
    TokenInvalid,
)
from openim_sdk.ws.handshake import DialOptions, dial, handshake_url
from openim_sdk.ws.listeners import EventCallback, Listeners
from openim_sdk.ws.requests import PendingRequests
from openim_sdk.ws.session import LiveSession, SessionEnd, SessionSettings

__all__ = ["SDK_VERSION", "DEFAULT_BACKOFF", "ConnState", "EventCallback", "ConnectedHook", "LongConnection"]

log = logging.getLogger("openim_sdk.ws")

SDK_VERSION = "openim-py/0.1.0"
MAX_HEARTBEAT_INTERVAL = 24.0  # the Go SDK's period; the server drops a silent client after 30 s

ConnState = Literal["idle", "connecting", "connected", "reconnecting", "stopped"]
ConnectedHook = Callable[["LongConnection"], Awaitable[None] | None]


def _log_extra(operation_id: str) -> dict[str, Any]:
    return {"operationID": operation_id}


def _is_fatal(error: OpenIMError | None) -> bool:
    return isinstance(error, KickedError | TokenError) or (error is not None and is_token_error(error.code))


def _copy_error(error: OpenIMError, operation_id: str) -> OpenIMError:
    """A fresh instance of ``error`` (same class/code) carrying ``operation_id``."""
    return type(error)(error.code, error.message, error.detail, operation_id)


class LongConnection(GatewayCalls):
    """An OpenIM v3.8 long connection for one user on one platform.

    Parameters:
        ws_url: the msg-gateway address, e.g. ``ws://host:10001`` (any path is accepted).
        user_id, token: the user and their IM token for ``platform_id``.
        platform_id: the platform the token was minted for (default 7 = Linux).
        encoding: ``"json"`` (``sdkType=js``) or ``"gob"`` (no sdkType, the Go SDK default).
        compress: gzip every binary frame (``compression=gzip``).
        is_msg_resp: ask for the handshake result as a first text frame; default True for
            JSON, False for gob.
        request_timeout: default per-request timeout (seconds), includes waiting for a
            connection if there is none at the time of the call.
        heartbeat_interval: WS ping period, at most 24 s.
        pong_timeout: how long to wait for the pong before the connection counts as dead
            (default: ``heartbeat_interval``).
        text_heartbeat: also send text ``{"type":"ping","body":<opid>}`` (server v3.8.2+ only).
        backoff: the reconnect schedule: a :class:`~openim_sdk.ws.backoff.BackoffPolicy` (default
            :data:`~openim_sdk.ws.backoff.DEFAULT_BACKOFF`: full jitter over a window that grows
            with the outage, first retry within 0.5 s, at most 16 s), or a sequence of delays in
            seconds, cycled and reset after each successful handshake (the schedule before:
            ``(1, 2, 4, 8, 16)``).
            Also settable later through the :attr:`backoff` property.
        jitter: relative random spread applied to each delay of a *sequence* ``backoff``
            (0.2 -> +-20 %); a policy brings its own jitter.
        rng: the random source of the reconnect delays (default: a private ``random.Random``).
        connect_timeout: TCP + WS handshake (+ isMsgResp first frame) timeout.
        max_frame: largest frame accepted from the server (compressed size).
        proxy: passed to :func:`websockets.asyncio.client.connect` (None: direct connection).
    """

    def __init__(
        self,
        ws_url: str,
        user_id: str,
        token: str,
        *,
        platform_id: int = int(Platform.LINUX),
        encoding: Encoding = "json",
        compress: bool = True,
        is_msg_resp: bool | None = None,
        request_timeout: float = 10.0,
        heartbeat_interval: float = 20.0,
        pong_timeout: float | None = None,
        text_heartbeat: bool = False,
        backoff: Sequence[float] | BackoffPolicy = DEFAULT_BACKOFF,
        jitter: float = 0.2,
        rng: random.Random | None = None,
        connect_timeout: float = 10.0,
        max_frame: int = SDK_MAX_FRAME,
        sdk_version: str = SDK_VERSION,
        proxy: str | None = None,
    ) -> None:
        scheme = urlsplit(ws_url).scheme
        if scheme not in ("ws", "wss"):
            raise ValueError(f"ws_url must be a ws:// or wss:// URL, got {ws_url!r}")
        if not user_id or not token:
            raise ValueError("user_id and token are required")
        if not is_valid_platform(platform_id):
            raise ValueError(f"unknown platform ID {platform_id}")
        if platform_id == Platform.IOS:
            log.warning("platform_id 1 (iOS) changes the server's offline-push behaviour; prefer 7 (Linux)")
        if encoding not in ("json", "gob"):
            raise ValueError(f"encoding must be 'json' or 'gob', got {encoding!r}")
        if not 0 < heartbeat_interval <= MAX_HEARTBEAT_INTERVAL:
            raise ValueError(f"heartbeat_interval must be in (0, {MAX_HEARTBEAT_INTERVAL}] seconds")
        if request_timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.ws_url = ws_url
        self.user_id = user_id
        self.token = token
        self.platform_id = int(platform_id)
        self.encoding: Encoding = encoding
        self.compress = compress
        self.is_msg_resp = (encoding == "json") if is_msg_resp is None else is_msg_resp
        self.request_timeout = request_timeout
        self.heartbeat_interval = heartbeat_interval
        self.pong_timeout = heartbeat_interval if pong_timeout is None else pong_timeout
        self.text_heartbeat = text_heartbeat
        self.jitter = jitter
        self._schedule = ReconnectSchedule(as_policy(backoff, jitter), rng)
        self.connect_timeout = connect_timeout
        self.max_frame = max_frame
        self.sdk_version = sdk_version
        self.proxy = proxy

        self._state: ConnState = "idle"
        self._ws: ClientConnection | None = None
        self._pending = PendingRequests(user_id)
        self._connected = asyncio.Event()
        self._stopped = asyncio.Event()
        self._wakeup = asyncio.Event()  # set by close(): interrupts backoff sleeps
        self._nudge = asyncio.Event()  # set by reconnect_now(): the next backoff sleep is skipped
        self._close_task: asyncio.Future[None] | None = None
        self.is_background = False  # sent as isBackground at the next handshake (2004 changes it live)
        self._closing = False
        self._fatal: OpenIMError | None = None
        self._ever_connected = False
        self._subscriptions: set[str] = set()

        self._fanout = Listeners(self._on_connected_hooks)
        self._hooks: list[ConnectedHook] = []
        self._run_task: asyncio.Task[None] | None = None
        self._dispatch_task: asyncio.Task[None] | None = None

    # --- public: lifecycle ------------------------------------------------------------------

    @property
    def state(self) -> ConnState:
        return self._state

    @property
    def backoff(self) -> BackoffPolicy:
        """The reconnect schedule; set a policy or a sequence of delays (then spread by :attr:`jitter`)."""
        return self._schedule.policy

    @backoff.setter
    def backoff(self, value: Sequence[float] | BackoffPolicy) -> None:
        self._schedule.policy = as_policy(value, self.jitter)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def fatal_error(self) -> OpenIMError | None:
        """The error that stopped the loop for good (token refusal, kick), else None."""
        return self._fatal

    async def start(self) -> None:
        """Start the background connect/reconnect loop (idempotent); returns at once."""
        if self._run_task is not None:
            return
        if self._stopped.is_set():
            raise RuntimeError("this LongConnection was stopped; create a new one")
        self._state = "connecting"
        self._dispatch_task = asyncio.create_task(self._fanout.dispatch(), name=f"openim-ws-events-{self.user_id}")
        self._run_task = asyncio.create_task(self._run(), name=f"openim-ws-{self.user_id}")

    async def run(self) -> OpenIMError | None:
        """Start (if needed) and wait until the loop stops; returns the fatal error, if any."""
        await self.start()
        await self._stopped.wait()
        if self._dispatch_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._dispatch_task)
        return self._fatal

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for a live connection.

        Raises the fatal error (e.g. TokenKickedError) if the loop has stopped for good,
        NetworkError if it was closed, RequestTimeoutError after ``timeout`` seconds.
        """
        if self._connected.is_set():
            return
        self._raise_if_stopped("")
        waiters = [
            asyncio.ensure_future(self._connected.wait()),
            asyncio.ensure_future(self._stopped.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if self._connected.is_set():
            return
        self._raise_if_stopped("")
        raise RequestTimeoutError(message="not connected", detail=f"no connection within {timeout} s")

    async def close(self) -> None:
        """Close the connection and stop the loop for good (idempotent)."""
        self._closing = True
        self._wakeup.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if self._run_task is None:
            if not self._stopped.is_set():
                self._state = "stopped"
                self._stopped.set()
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._run_task), timeout=self.connect_timeout + 5)
        except TimeoutError:
            self._run_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._run_task
        except asyncio.CancelledError:
            raise
        except Exception:  # the run task logs its own failures
            pass
        if self._dispatch_task is not None and self._dispatch_task is not asyncio.current_task():
            try:
                await asyncio.wait_for(asyncio.shield(self._dispatch_task), timeout=5)
            except TimeoutError:
                self._dispatch_task.cancel()

    async def __aenter__(self) -> LongConnection:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- public: events ---------------------------------------------------------------------

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` (sync or async) for every event; returns an unsubscriber."""
        return self._fanout.on_event(callback)

    def on_push(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` for every :class:`PushReceived`; returns an unsubscriber."""
        return self._fanout.on_push(callback)

    def on_connected(self, hook: ConnectedHook) -> Callable[[], None]:
        """Await ``hook(conn)`` after every successful handshake, before later events are delivered.

        The hook may send requests. If it raises, an :class:`ErrorOccurred` event follows and
        the connection stays up.
        """
        self._hooks.append(hook)
        return lambda: self._hooks.remove(hook) if hook in self._hooks else None

    def subscribe(self) -> asyncio.Queue[Event]:
        """A new unbounded queue that receives every later event (ends with :class:`Stopped`)."""
        return self._fanout.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._fanout.unsubscribe(queue)

    def events(self) -> AsyncIterator[Event]:
        """Iterate over later events until (and including) :class:`Stopped`."""
        return self._fanout.events()

    # --- public: requests -------------------------------------------------------------------

    async def request(
        self,
        req_identifier: int,
        data: bytes = b"",
        timeout: float | None = None,
        *,
        operation_id: str | None = None,
    ) -> WsResponse:
        """Send one request envelope and wait for its reply (matched by ``msgIncr``).

        Waits for a connection first if there is none (within the same timeout). Raises
        RequestTimeoutError, NetworkError if the connection drops meanwhile, the loop's fatal
        error once it has stopped, or the OpenIMError matching a non-zero ``errCode``.
        """
        opid = operation_id or new_operation_id()
        limit = self.request_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        try:
            await self.wait_connected(limit)
        except RequestTimeoutError:
            raise RequestTimeoutError(
                message="request timed out",
                detail=f"reqIdentifier {req_identifier}: not connected within {limit} s",
                operation_id=opid,
            ) from None
        except OpenIMError as e:
            raise _copy_error(e, opid) from None
        ws = self._ws
        if ws is None:
            raise NetworkError(message="not connected", detail="connection lost", operation_id=opid)

        msg_incr, entry = self._pending.open(opid, int(req_identifier))
        fut = entry.future
        req = WsRequest(
            req_identifier=int(req_identifier),
            send_id=self.user_id,
            operation_id=opid,
            msg_incr=msg_incr,
            data=bytes(data),
        )
        frame = encode_request(req, self.encoding, self.compress)
        log.debug(
            "ws request %s msgIncr=%s [operationID=%s]",
            req_identifier,
            msg_incr,
            opid,
            extra=_log_extra(opid),
        )
        try:
            try:
                await ws.send(frame)
            except ConnectionClosed as e:
                raise NetworkError(
                    message="connection lost", detail=f"send failed: {e}", operation_id=opid
                ) from None
            try:  # the waiter is this request's own (closed below): awaited directly, the reply
                async with asyncio.timeout_at(deadline):  # wakes this task in one loop step
                    resp = await fut
            except TimeoutError:
                log.warning(
                    "ws request %s timed out after %s s [operationID=%s]",
                    req_identifier,
                    limit,
                    opid,
                    extra=_log_extra(opid),
                )
                raise RequestTimeoutError(
                    message="request timed out",
                    detail=f"reqIdentifier {req_identifier}: no reply within {limit} s",
                    operation_id=opid,
                ) from None
        finally:
            self._pending.close(msg_incr)
        if resp.err_code != 0:
            raise error_for_code(resp.err_code, resp.err_msg, "", resp.operation_id or opid)
        return resp

    async def logout(self, timeout: float | None = None) -> None:
        """Send 2003 (``push.DelUserPushTokenReq``), then close for good."""
        body = push_pb2.DelUserPushTokenReq(userID=self.user_id, platformID=self.platform_id)
        self._closing = True  # the server closes after replying: do not reconnect
        try:
            if self._connected.is_set():
                await self.request(ReqIdentifier.LOGOUT_MSG, body.SerializeToString(), timeout)
        except NetworkError as e:
            # The server may close before its reply is flushed (spec §4, 2003).
            log.info("logout: %s", e, extra=_log_extra(e.operation_id))
        finally:
            await self.close()

    def reconnect_now(self) -> None:
        """The network changed: drop the current socket (if any) and dial again without waiting out
        the backoff (the official core's ``NetworkStatusChanged`` closes its connection)."""
        if self._closing:
            return
        self._nudge.set()
        ws = self._ws
        if ws is not None:
            self._close_task = asyncio.ensure_future(ws.close())

    # --- internals: main loop ---------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        self._fanout.emit(event)

    def _raise_if_stopped(self, operation_id: str) -> None:
        if not self._stopped.is_set():
            return
        if self._fatal is not None:
            raise _copy_error(self._fatal, operation_id or self._fatal.operation_id)
        raise NetworkError(
            message="connection closed", detail="the long connection was closed", operation_id=operation_id
        )

    def _build_url(self, operation_id: str) -> str:
        return handshake_url(self.ws_url, user_id=self.user_id, token=self.token, platform_id=self.platform_id,
                             operation_id=operation_id, is_background=self.is_background, compress=self.compress,
                             json_encoding=self.encoding == "json", is_msg_resp=self.is_msg_resp,
                             sdk_version=self.sdk_version)

    async def _run(self) -> None:
        schedule = self._schedule
        loop = asyncio.get_running_loop()
        try:
            while not self._closing:
                opid = new_operation_id()
                try:
                    ws, early = await self._handshake(opid)
                except OpenIMError as err:
                    if self._closing:
                        break
                    if _is_fatal(err):
                        self._stop_fatal(err, refused=True)
                        return
                    log.warning("ws connect failed: %s", err, extra=_log_extra(opid))
                    await self._sleep_backoff(*schedule.failed(loop.time()), err)
                    continue
                if self._closing:
                    with contextlib.suppress(Exception):
                        await ws.close()
                    break
                schedule.connected(loop.time())
                try:
                    end = await self._session(ws, opid, early)
                finally:
                    self._state = "reconnecting"
                if self._closing:
                    break
                if _is_fatal(end.error):
                    assert end.error is not None
                    self._stop_fatal(end.error, refused=False)
                    return
                log.warning("ws disconnected: %s", end.reason, extra=_log_extra(opid))
                self._emit(Disconnected(end.reason, end.error))
                await self._sleep_backoff(*schedule.dropped(loop.time()), end.error)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug: never die silently
            log.exception("ws loop crashed")
            crash = NetworkError(message="long connection loop crashed", detail=f"{type(e).__name__}: {e}")
            self._fatal = crash
            self._emit(ErrorOccurred(crash, where="loop"))
        finally:
            self._finish()

    def _finish(self) -> None:
        self._state = "stopped"
        self._connected.clear()
        self._pending.fail_all("the long connection stopped")
        self._stopped.set()
        self._emit(Stopped(self._fatal))
        self._fanout.emit(None)
        log.info("ws stopped: %s", self._fatal or "closed")

    def _stop_fatal(self, err: OpenIMError, *, refused: bool) -> None:
        if isinstance(err, KickedError):
            self._fatal = err
            self._emit(Kicked(err))
        elif err.code == 1506 and (self._ever_connected or not refused):
            # Kicked: 1506 right after a live connection (the 2002 frame may have been lost, spec §1.8).
            self._fatal = KickedError(
                message=err.message, detail=err.detail or "token kicked", operation_id=err.operation_id
            )
            self._emit(Kicked(self._fatal))
        else:
            self._fatal = err
            self._emit(TokenInvalid(err))
        log.error("ws stopped for good: %s", self._fatal, extra=_log_extra(self._fatal.operation_id))

    async def _sleep_backoff(self, attempt: int, delay: float, error: OpenIMError | None) -> None:
        self._state = "reconnecting"
        self._emit(Reconnecting(attempt, delay, error))
        log.info("ws reconnect attempt %d in %.2f s", attempt, delay)
        if self._nudge.is_set():
            self._nudge.clear()
            return
        nudge = asyncio.ensure_future(self._nudge.wait())
        wakeup = asyncio.ensure_future(self._wakeup.wait())
        try:
            await asyncio.wait((nudge, wakeup), timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            nudge.cancel()
            wakeup.cancel()
        self._nudge.clear()

    # --- internals: handshake ---------------------------------------------------------------

    async def _handshake(self, opid: str) -> tuple[ClientConnection, bytes | None]:
        """Dial; returns the connection and an early binary frame, if one came before the result."""
        self._state = "connecting" if not self._ever_connected else "reconnecting"
        log.info("ws connecting to %s as %s/%d [operationID=%s]", self.ws_url, self.user_id, self.platform_id,
                 opid, extra=_log_extra(opid))
        opts = DialOptions(self.connect_timeout, self.max_frame, self.sdk_version, self.is_msg_resp, self.proxy)
        return await dial(self._build_url(opid), opid, opts)

    # --- internals: live session ------------------------------------------------------------

    async def _session(self, ws: ClientConnection, opid: str, early: bytes | None) -> SessionEnd:
        reconnect = self._ever_connected
        self._ever_connected = True
        self._ws = ws
        self._state = "connected"
        self._connected.set()
        log.info("ws connected [operationID=%s]", opid, extra=_log_extra(opid))
        self._emit(Connected(opid, reconnect=reconnect))
        cfg = SessionSettings(self.encoding, self.compress, self.max_frame, self.heartbeat_interval,
                              self.pong_timeout, self.text_heartbeat)
        live = LiveSession(ws, cfg, self._pending, self._emit, lambda: self._closing)
        try:
            return await live.run(early, f"openim-ws-heartbeat-{self.user_id}")
        finally:
            self._connected.clear()
            self._ws = None
            self._pending.fail_all("connection lost")
            with contextlib.suppress(Exception):
                await ws.close()

    # --- internals: event dispatch ----------------------------------------------------------

    async def _on_connected_hooks(self, event: Connected) -> None:
        if self._connected.is_set():
            try:
                await self.resubscribe()
            except OpenIMError as e:
                self._emit(ErrorOccurred(e, where="resubscribe"))
        for hook in list(self._hooks):
            try:
                result = hook(self)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except OpenIMError as e:
                log.warning("on_connected hook failed: %s", e, extra=_log_extra(e.operation_id))
                self._emit(ErrorOccurred(e, where="on_connected"))
            except Exception as e:
                log.exception("on_connected hook crashed", extra=_log_extra(event.operation_id))
                err = OpenIMError(message="on_connected hook failed", detail=f"{type(e).__name__}: {e}")
                self._emit(ErrorOccurred(err, where="on_connected"))
