"""LongConnection against a small in-test WebSocket peer speaking the envelope codec.

Covers what a real server cannot produce on demand: timeouts, out-of-order replies, abrupt
closes, refusals, kicks, heartbeat behaviour, broken frames.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from openim_sdk.protocol.constants import ReqIdentifier
from openim_sdk.protocol.envelope import WsRequest, WsResponse, decode_request, encode_response
from openim_sdk.protocol.errors import (
    KickedError,
    NetworkError,
    OpenIMError,
    RelationError,
    RequestTimeoutError,
    TokenExpiredError,
    TokenKickedError,
)
from openim_sdk.protocol.pb.push import push_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.ws import (
    Connected,
    Disconnected,
    ErrorOccurred,
    Event,
    Kicked,
    LongConnection,
    PushReceived,
    Reconnecting,
    StatusChange,
    Stopped,
    TokenInvalid,
    UnsolicitedFrame,
)
from openim_sdk.ws.backoff import (
    DEFAULT_BACKOFF,
    LEGACY_BACKOFF,
    FixedBackoff,
    FullJitterBackoff,
    ReconnectSchedule,
)

TIMEOUT = 5.0


# --- the fake peer --------------------------------------------------------------------------


class RecordingConnection(ServerConnection):
    """Counts the ping control frames received."""

    pings: list[bytes]

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.pings.append(bytes(event.data))
        super().process_event(event)


class PeerConn:
    """One accepted connection, with the envelope settings its query asked for."""

    def __init__(self, ws: RecordingConnection, params: dict[str, str]) -> None:
        self.ws = ws
        self.params = params
        self.encoding: Any = "json" if params.get("sdkType") == "js" else "gob"
        self.compress = params.get("compression") == "gzip"
        self.texts: list[str] = []

    async def recv_request(self) -> WsRequest:
        while True:
            msg = await self.ws.recv()
            if isinstance(msg, str):
                self.texts.append(msg)
                continue
            return decode_request(msg, self.encoding, self.compress)

    async def recv_text(self) -> str:
        while True:
            msg = await self.ws.recv()
            if isinstance(msg, str):
                return msg

    async def send(self, resp: WsResponse) -> None:
        await self.ws.send(encode_response(resp, self.encoding, self.compress))

    async def reply(
        self, req: WsRequest, data: bytes | None = None, err_code: int = 0, err_msg: str = ""
    ) -> None:
        await self.send(
            WsResponse(
                req_identifier=req.req_identifier,
                msg_incr=req.msg_incr,
                operation_id=req.operation_id,
                err_code=err_code,
                err_msg=err_msg,
                data=req.data if data is None else data,
            )
        )

    async def push(self, ident: int, data: bytes = b"") -> None:
        await self.send(WsResponse(req_identifier=ident, data=data))

    def abort(self) -> None:
        self.ws.transport.abort()


Handler = Callable[[PeerConn], Awaitable[None]]


async def echo(peer: PeerConn) -> None:
    """Reply to every request with its own payload."""
    try:
        while True:
            req = await peer.recv_request()
            await peer.reply(req)
    except ConnectionClosed:
        pass


class FakePeer:
    """A WS server: per incoming connection, either an HTTP-200 JSON refusal or a handler.

    ``script`` items are consumed one per connection attempt; the last one repeats.
    An item is a handler coroutine function, or a dict ``{"errCode": ...}`` = HTTP 200 refusal,
    or ``("msgresp", {"errCode": ...})`` = upgrade, send that text frame, close.
    """

    def __init__(self, script: list[Any] | None = None) -> None:
        self.script: list[Any] = script or [echo]
        self.attempts: list[dict[str, str]] = []
        self.conns: list[PeerConn] = []
        self.server: Server | None = None
        self._items: dict[int, Any] = {}

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/msg_gateway"

    def _item(self, index: int) -> Any:
        return self.script[min(index, len(self.script) - 1)]

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        params = dict(parse_qsl(urlsplit(request.path).query))
        index = len(self.attempts)
        self.attempts.append(params)
        item = self._item(index)
        self._items[id(conn)] = item
        if isinstance(item, dict):
            body = json.dumps({"errMsg": "", "errDlt": "", **item}).encode()
            headers = Headers(
                [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body)))]
            )
            return Response(200, "OK", headers, body)
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert isinstance(ws, RecordingConnection)
        assert ws.request is not None
        params = dict(parse_qsl(urlsplit(ws.request.path).query))
        peer = PeerConn(ws, params)
        self.conns.append(peer)
        item = self._items.pop(id(ws))
        if isinstance(item, tuple):
            await ws.send(json.dumps({"errMsg": "", "errDlt": "", **item[1]}))
            await ws.close()
            return
        if params.get("isMsgResp") == "true":
            await ws.send('{"errCode":0,"errMsg":"","errDlt":""}')
        await item(peer)

    async def __aenter__(self) -> FakePeer:
        def factory(*args: Any, **kwargs: Any) -> RecordingConnection:
            c = RecordingConnection(*args, **kwargs)
            c.pings = []
            return c

        self.server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            ping_interval=None,
            create_connection=factory,  # type: ignore[arg-type]
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        for c in self.conns:
            c.ws.transport.abort()
        self.server.close()
        await self.server.wait_closed()


def make_conn(peer: FakePeer, **kwargs: Any) -> LongConnection:
    opts: dict[str, Any] = {"backoff": (0.01, 0.02, 0.04), "jitter": 0.0, "request_timeout": 2.0}
    opts.update(kwargs)
    return LongConnection(peer.url, "alice", "tok-alice", **opts)


@pytest.fixture
async def peer_factory() -> AsyncIterator[Callable[..., Awaitable[FakePeer]]]:
    peers: list[FakePeer] = []

    async def make(script: list[Any] | None = None) -> FakePeer:
        p = FakePeer(script)
        await p.__aenter__()
        peers.append(p)
        return p

    yield make
    for p in peers:
        await p.__aexit__()


async def next_event(q: asyncio.Queue[Event], cls: type[Any], timeout: float = TIMEOUT) -> Any:
    """Skip events until one of type ``cls`` arrives."""
    deadline = time.monotonic() + timeout
    while True:
        ev = await asyncio.wait_for(q.get(), timeout=max(deadline - time.monotonic(), 0.01))
        if isinstance(ev, cls):
            return ev


async def drain(q: asyncio.Queue[Event]) -> list[Event]:
    """All events up to and including Stopped."""
    out: list[Event] = []
    while True:
        ev = await asyncio.wait_for(q.get(), timeout=TIMEOUT)
        out.append(ev)
        if isinstance(ev, Stopped):
            return out


# --- handshake ------------------------------------------------------------------------------


async def test_handshake_parameters_json(peer_factory: Any) -> None:
    peer = await peer_factory()
    async with make_conn(peer) as conn:
        await conn.wait_connected(TIMEOUT)
    p = peer.attempts[0]
    assert p["sendID"] == "alice"
    assert p["token"] == "tok-alice"
    assert p["platformID"] == "7"
    assert p["operationID"]
    assert p["isBackground"] == "false"
    assert p["compression"] == "gzip"
    assert p["sdkType"] == "js"
    assert p["isMsgResp"] == "true"
    assert p["sdkVersion"]


async def test_handshake_parameters_gob_plain(peer_factory: Any) -> None:
    peer = await peer_factory()
    async with make_conn(peer, encoding="gob", compress=False, platform_id=3) as conn:
        await conn.wait_connected(TIMEOUT)
    p = peer.attempts[0]
    assert "sdkType" not in p
    assert "isMsgResp" not in p
    assert "compression" not in p
    assert p["platformID"] == "3"
    assert p["isBackground"] == "false"


def test_constructor_validation() -> None:
    with pytest.raises(ValueError):
        LongConnection("http://x", "u", "t")
    with pytest.raises(ValueError):
        LongConnection("ws://x", "u", "t", heartbeat_interval=25)
    with pytest.raises(ValueError):
        LongConnection("ws://x", "u", "t", platform_id=99)
    with pytest.raises(ValueError):
        LongConnection("ws://x", "u", "t", encoding="xml")  # type: ignore[arg-type]


# --- requests -------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "gob"])
@pytest.mark.parametrize("compress", [True, False])
async def test_request_roundtrip(peer_factory: Any, encoding: Any, compress: bool) -> None:
    peer = await peer_factory()
    async with make_conn(peer, encoding=encoding, compress=compress) as conn:
        resp = await conn.request(ReqIdentifier.GET_NEWEST_SEQ, b"\x0a\x05alice")
        assert resp.req_identifier == 1001
        assert resp.data == b"\x0a\x05alice"
        assert resp.msg_incr.startswith("alice_")
        assert resp.operation_id
    assert peer.conns[0].encoding == encoding
    assert peer.conns[0].compress is compress


async def test_request_error_code_raises_matching_error(peer_factory: Any) -> None:
    seen: list[WsRequest] = []

    async def refuse(peer: PeerConn) -> None:
        req = await peer.recv_request()
        seen.append(req)
        await peer.reply(req, data=b"", err_code=1302, err_msg="BlockedByPeer")
        await echo(peer)

    peer = await peer_factory([refuse])
    async with make_conn(peer) as conn:
        with pytest.raises(RelationError) as info:
            await conn.request(ReqIdentifier.SEND_MSG, b"x", operation_id="op-42")
        assert info.value.code == 1302
        assert info.value.operation_id == "op-42"
        # the connection stays usable
        assert (await conn.request(ReqIdentifier.SEND_MSG, b"y")).data == b"y"
    assert seen[0].send_id == "alice"
    assert seen[0].operation_id == "op-42"


async def test_request_timeout(peer_factory: Any) -> None:
    async def silent(peer: PeerConn) -> None:
        with pytest.raises(ConnectionClosed):
            while True:
                await peer.recv_request()

    peer = await peer_factory([silent])
    async with make_conn(peer) as conn:
        start = time.monotonic()
        with pytest.raises(RequestTimeoutError) as info:
            await conn.request(ReqIdentifier.GET_NEWEST_SEQ, b"", timeout=0.2, operation_id="op-t")
        assert 0.15 < time.monotonic() - start < 2
        assert info.value.operation_id == "op-t"
        assert conn.connected  # a timeout does not drop the connection


async def test_late_reply_is_reported_as_unsolicited(peer_factory: Any) -> None:
    async def slow(peer: PeerConn) -> None:
        req = await peer.recv_request()
        await asyncio.sleep(0.3)
        await peer.reply(req, data=b"late")
        await echo(peer)

    peer = await peer_factory([slow])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        with pytest.raises(RequestTimeoutError):
            await conn.request(ReqIdentifier.PULL_CONV_LAST_MESSAGE, b"", timeout=0.1)
        ev = await next_event(q, UnsolicitedFrame)
        assert ev.resp.data == b"late" and ev.resp.req_identifier == 1007
        assert (await conn.request(1001, b"next")).data == b"next"


async def test_out_of_order_replies_are_correlated(peer_factory: Any) -> None:
    async def reverse(peer: PeerConn) -> None:
        reqs = [await peer.recv_request() for _ in range(5)]
        for req in reversed(reqs):
            await peer.reply(req, data=req.data + b"!")
        await echo(peer)

    peer = await peer_factory([reverse])
    async with make_conn(peer) as conn:
        payloads = [f"p{i}".encode() for i in range(5)]
        results = await asyncio.gather(*(conn.request(1002, p) for p in payloads))
        assert [r.data for r in results] == [p + b"!" for p in payloads]
        assert len({r.msg_incr for r in results}) == 5


async def test_request_waits_for_connection(peer_factory: Any) -> None:
    peer = await peer_factory()
    conn = make_conn(peer)
    task = asyncio.create_task(conn.request(1001, b"early"))
    await asyncio.sleep(0)
    await conn.start()
    try:
        assert (await task).data == b"early"
    finally:
        await conn.close()


# --- server-initiated frames ----------------------------------------------------------------


async def test_push_and_status_delivery(peer_factory: Any) -> None:
    push = sdkws_pb2.PushMessages()
    push.msgs["si_alice_bob"].Msgs.add(sendID="bob", recvID="alice", seq=7, content=b'{"content":"hi"}')
    tips = sdkws_pb2.SubUserOnlineStatusTips(
        subscribers=[sdkws_pb2.SubUserOnlineStatusElem(userID="bob", onlinePlatformIDs=[2, 7])]
    )

    async def server(peer: PeerConn) -> None:
        await peer.push(ReqIdentifier.PUSH_MSG, push.SerializeToString())
        await peer.push(ReqIdentifier.SUB_USER_ONLINE_STATUS, tips.SerializeToString())
        await echo(peer)

    peer = await peer_factory([server])
    conn = make_conn(peer)
    q = conn.subscribe()
    pushes: list[PushReceived] = []

    async def on_push(ev: Event) -> None:
        assert isinstance(ev, PushReceived)
        pushes.append(ev)

    conn.on_push(on_push)
    async with conn:
        ev = await next_event(q, PushReceived)
        assert ev.push.msgs["si_alice_bob"].Msgs[0].seq == 7
        st = await next_event(q, StatusChange)
        assert st.statuses == {"bob": [2, 7]}
        assert not st.solicited
    assert len(pushes) == 1


async def test_on_connected_hook_runs_before_later_events(peer_factory: Any) -> None:
    order: list[str] = []

    async def server(peer: PeerConn) -> None:
        await peer.push(ReqIdentifier.PUSH_MSG, b"")  # arrives while the hook is still running
        req = await peer.recv_request()
        await asyncio.sleep(0.05)
        await peer.reply(req)
        await echo(peer)

    peer = await peer_factory([server])
    conn = make_conn(peer)

    async def hook(c: LongConnection) -> None:
        order.append("hook-start")
        await c.request(ReqIdentifier.GET_NEWEST_SEQ, b"sync")  # the hook may send requests
        order.append("hook-done")

    conn.on_connected(hook)
    conn.on_event(lambda ev: order.append(type(ev).__name__) if not isinstance(ev, Stopped) else None)
    q = conn.subscribe()
    async with conn:
        await next_event(q, PushReceived)
    assert order[:4] == ["hook-start", "hook-done", "Connected", "PushReceived"]


async def test_failing_hook_becomes_event(peer_factory: Any) -> None:
    peer = await peer_factory()
    conn = make_conn(peer)

    def hook(c: LongConnection) -> None:
        raise RuntimeError("boom")

    conn.on_connected(hook)
    q = conn.subscribe()
    async with conn:
        ev = await next_event(q, ErrorOccurred)
        assert ev.where == "on_connected"
        assert "boom" in str(ev.error)
        assert (await conn.request(1001, b"ok")).data == b"ok"


# --- heartbeats -----------------------------------------------------------------------------


async def test_heartbeat_pings_are_sent(peer_factory: Any) -> None:
    peer = await peer_factory()
    async with make_conn(peer, heartbeat_interval=0.05, text_heartbeat=True) as conn:
        await conn.wait_connected(TIMEOUT)
        await asyncio.sleep(0.4)
        assert conn.connected
    pings = peer.conns[0].ws.pings  # type: ignore[attr-defined]
    assert len(pings) >= 3
    assert all(p for p in pings)  # payload = an operationID
    texts = peer.conns[0].texts  # collected by the echo handler
    assert len(texts) >= 3
    doc = json.loads(texts[0])
    assert doc["type"] == "ping" and isinstance(doc["body"], str)


async def test_text_ping_is_answered_and_pong_ignored(peer_factory: Any) -> None:
    got: list[str] = []

    async def server(peer: PeerConn) -> None:
        await peer.ws.send('{"type":"pong","body":"ignored"}')
        await peer.ws.send('{"type":"ping","body":"hb-1"}')
        got.append(await peer.recv_text())
        await echo(peer)

    peer = await peer_factory([server])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        assert (await conn.request(1001, b"x")).data == b"x"
        for _ in range(100):
            if got:
                break
            await asyncio.sleep(0.01)
    assert json.loads(got[0]) == {"type": "pong", "body": "hb-1"}
    events = await drain(q)
    assert not any(isinstance(e, ErrorOccurred | Disconnected) for e in events)


async def test_missing_pong_drops_and_reconnects(peer_factory: Any) -> None:
    async def deaf(peer: PeerConn) -> None:
        peer.ws.transport.pause_reading()  # no pongs from now on
        await peer.ws.wait_closed()

    peer = await peer_factory([deaf, echo])
    conn = make_conn(peer, heartbeat_interval=0.05, pong_timeout=0.1)
    q = conn.subscribe()
    async with conn:
        ev = await next_event(q, Disconnected, timeout=8)
        assert ev.reason == "heartbeat timeout"
        await next_event(q, Connected)
        assert (await conn.request(1001, b"again")).data == b"again"


# --- reconnect ------------------------------------------------------------------------------


async def test_abrupt_close_reconnects_and_fails_pending(peer_factory: Any) -> None:
    async def drop_after_request(peer: PeerConn) -> None:
        await peer.recv_request()
        peer.abort()

    peer = await peer_factory([drop_after_request, echo])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        with pytest.raises(NetworkError) as info:
            await conn.request(1001, b"lost", operation_id="op-lost")
        assert not isinstance(info.value, RequestTimeoutError)
        assert info.value.operation_id == "op-lost"
        first = await next_event(q, Connected)
        assert not first.reconnect
        d = await next_event(q, Disconnected)
        assert isinstance(d.error, NetworkError)
        r = await next_event(q, Reconnecting)
        assert r.attempt == 1 and r.delay == pytest.approx(0.01)
        again = await next_event(q, Connected)
        assert again.reconnect
        assert (await conn.request(1001, b"back")).data == b"back"
    assert len(peer.attempts) == 2


async def test_backoff_cycles_and_resets(peer_factory: Any) -> None:
    async def drop(peer: PeerConn) -> None:
        peer.abort()

    busy = {"errCode": 500, "errMsg": "ServerInternalError"}
    args = {"errCode": 1001, "errMsg": "ArgsError"}
    over = {"errCode": 1601, "errMsg": "ConnOverMaxNumLimit"}
    peer = await peer_factory([busy, args, over, busy, drop, busy, echo])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        delays = []
        errors = []
        for _ in range(4):
            r = await next_event(q, Reconnecting)
            delays.append((r.attempt, r.delay))
            errors.append(r.error.code if r.error else None)
        assert delays == [(1, 0.01), (2, 0.02), (3, 0.04), (4, 0.01)]  # cycle
        assert errors == [500, 1001, 1601, 500]
        await next_event(q, Connected)
        await next_event(q, Disconnected)
        r = await next_event(q, Reconnecting)
        assert r.attempt == 1  # reset after the successful handshake
        r = await next_event(q, Reconnecting)
        assert (r.attempt, r.delay) == (2, 0.02)
        await next_event(q, Connected)
        assert conn.connected


async def test_jitter_spreads_delays(peer_factory: Any) -> None:
    peer = await peer_factory([{"errCode": 500}] * 6 + [echo])
    conn = make_conn(peer, backoff=(0.02,), jitter=0.5)
    q = conn.subscribe()
    async with conn:
        delays = [(await next_event(q, Reconnecting)).delay for _ in range(6)]
        await next_event(q, Connected)
    assert all(0.01 <= d <= 0.03 for d in delays)
    assert len(set(delays)) > 1


# --- the reconnect schedule (pure: no sockets, no sleeping) ---------------------------------


class Top(random.Random):
    """The upper end of every window: the schedule made visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Low(random.Random):
    """1 % into every window: real waits of a few ms."""

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * 0.01


def test_default_first_retry_is_quick_and_spread_across_a_crowd() -> None:
    rng = random.Random(18)
    firsts = []
    for _ in range(1000):  # 1,000 clients dropped by the same restart
        s = ReconnectSchedule(DEFAULT_BACKOFF, rng)
        s.connected(0.0)
        attempt, delay = s.dropped(60.0)
        assert attempt == 1
        firsts.append(delay)
    assert all(0.0 <= d <= 0.5 for d in firsts)
    # full jitter: the crowd is spread over the whole window, not bunched around one delay
    bins = [0] * 10
    for d in firsts:
        bins[min(int(d / 0.05), 9)] += 1
    assert all(60 <= b <= 140 for b in bins), bins  # ~100 per 50 ms
    assert len({round(d, 4) for d in firsts}) > 900
    # the schedule before: every client waited 0.8-1.2 s first
    legacy = [LEGACY_BACKOFF.delay(1, 0.0, rng) for _ in range(1000)]
    assert min(legacy) >= 0.8 and max(legacy) <= 1.2


def test_default_window_grows_with_the_outage_and_is_capped() -> None:
    p = DEFAULT_BACKOFF
    assert [p.window(t) for t in (0.0, 0.3, 0.5, 2.0, 9.0, 16.0, 600.0)] == [0.5, 0.5, 0.5, 2.0, 9.0, 16.0, 16.0]
    assert FullJitterBackoff(first=0.1, cap=1.0, factor=0.5).window(1.0) == 0.5
    rng = random.Random(7)
    for elapsed in (0.0, 3.0, 100.0):
        draws = [p.delay(1, elapsed, rng) for _ in range(1000)]
        assert all(0.0 <= d <= p.window(elapsed) for d in draws)
        assert max(draws) > 0.9 * p.window(elapsed)  # the whole window is used
    # one client through a long outage: retry instants grow geometrically, then one per <= 16 s
    s = ReconnectSchedule(DEFAULT_BACKOFF, random.Random(5))
    s.connected(0.0)
    t = 100.0
    _, d = s.dropped(t)
    instants = []
    for _ in range(40):
        t += d
        instants.append(t - 100.0)
        attempt, d = s.failed(t)
        assert 0.0 <= d <= min(16.0, max(0.5, t - 100.0))
    assert attempt == 41
    assert instants[9] > 4.0 and instants[-1] > 150.0  # backed off: 40 tries took minutes
    gaps = [b - a for a, b in zip(instants, instants[1:], strict=False)]
    assert max(gaps) <= 16.0
    for bad in ({"first": 0.0}, {"first": 2.0, "cap": 1.0}, {"factor": -1.0}, {"cap": float("inf")}):
        with pytest.raises(ValueError):
            FullJitterBackoff(**bad)


def _back_after(policy: Any, down_for: float, rng: random.Random) -> float:
    """How long after the server listens again (``down_for`` s after the drop) a client is back."""
    s = ReconnectSchedule(policy, rng)
    s.connected(-60.0)
    t = s.dropped(0.0)[1]
    while t < down_for:
        t += s.failed(t)[1]
    return t - down_for


@pytest.mark.parametrize("down_for", [0.3, 0.9, 1.5, 3.0])
def test_a_short_restart_costs_a_crowd_little_and_spreads_it(down_for: float) -> None:
    rng = random.Random(int(down_for * 10))
    new = sorted(_back_after(DEFAULT_BACKOFF, down_for, rng) for _ in range(1000))
    old = sorted(_back_after(LEGACY_BACKOFF, down_for, rng) for _ in range(1000))
    # never later than max(first, outage) after the server is back, however the draws fall
    assert new[-1] <= max(0.5, down_for)
    assert new[500] < old[500] or down_for == 0.9  # (0.9: the old 0.8-1.2 s first try is lucky)
    assert new[990] < old[990]
    # not in step: the crowd spreads over the window, no 50 ms slice gets a quarter of it
    slices: dict[int, int] = {}
    for w in new:
        slices[int(w / 0.05)] = slices.get(int(w / 0.05), 0) + 1
    assert len(slices) >= 8 and max(slices.values()) <= 250, slices
    if down_for == 0.9:  # the issue: whoever tried at 0.8-0.9 s waited 1.6-2.4 s more
        assert old[990] > 1.4 and new[-1] <= 0.9


def test_schedule_resets_only_after_a_stable_connection() -> None:
    s = ReconnectSchedule(FullJitterBackoff(first=0.5, cap=4.0, stable_after=5.0), Top())
    assert s.failed(10.0) == (1, 0.5)  # the outage begins with the first failure
    assert s.failed(10.5) == (2, 0.5)
    assert s.failed(11.0) == (3, 1.0)
    assert s.failed(13.0) == (4, 3.0)
    assert s.failed(20.0) == (5, 4.0)  # capped
    s.connected(100.0)
    assert s.attempt == 0
    assert s.dropped(160.0) == (1, 0.5)  # up for a minute: a new outage, the quick first retry
    s.connected(161.5)
    assert s.dropped(162.5) == (2, 1.5)  # dropped at once: the outage of 160.0 goes on (1.5 s down)
    assert s.failed(164.0) == (3, 3.0)
    s.connected(165.0)
    assert s.dropped(169.0) == (4, 4.0)  # 4 s down in all (not the 4 s it was up): capped at 4
    s.connected(169.0)
    assert s.dropped(169.0) == (5, 4.0)
    s.connected(170.0)
    assert s.dropped(175.0) == (1, 0.5)  # up exactly stable_after: reset
    s = ReconnectSchedule(FullJitterBackoff(stable_after=5.0), Top())
    s.connected(0.0)  # the first connection, no failure before it, drops at once
    assert s.dropped(1.0) == (1, 0.5)  # a fresh outage (nothing before it)
    s.connected(1.25)
    assert s.dropped(4.0) == (2, 0.5)  # 0.25 s down so far: still the quick window
    # a sequence keeps the old meaning: cycled, reset by every handshake however short
    legacy = ReconnectSchedule(FixedBackoff((1.0, 2.0), jitter=0.0))
    assert [legacy.failed(0.0) for _ in range(3)] == [(1, 1.0), (2, 2.0), (3, 1.0)]
    legacy.connected(0.0)
    assert legacy.dropped(0.001) == (1, 1.0)


def test_backoff_arguments() -> None:
    conn = LongConnection("ws://127.0.0.1:1", "alice", "tok")
    assert conn.backoff is DEFAULT_BACKOFF
    conn = LongConnection("ws://127.0.0.1:1", "alice", "tok", backoff=[1, 2, 4, 8, 16])
    assert conn.backoff == LEGACY_BACKOFF
    conn = LongConnection("ws://127.0.0.1:1", "alice", "tok", backoff=(0.1,), jitter=0.0)
    assert conn.backoff == FixedBackoff((0.1,), 0.0)
    conn.backoff = FullJitterBackoff(first=0.2)
    assert conn.backoff == FullJitterBackoff(first=0.2)
    conn.backoff = (3.0,)
    assert conn.backoff == FixedBackoff((3.0,), 0.0)
    for bad in ((), (1.0, -1.0)):
        with pytest.raises(ValueError):
            LongConnection("ws://127.0.0.1:1", "alice", "tok", backoff=bad)
    with pytest.raises(ValueError):
        LongConnection("ws://127.0.0.1:1", "alice", "tok", jitter=1.0)


async def test_policy_and_rng_drive_the_reconnect_loop(peer_factory: Any) -> None:
    async def drop(peer: PeerConn) -> None:
        peer.abort()

    busy = {"errCode": 500, "errMsg": "ServerInternalError"}
    peer = await peer_factory([echo, busy, busy, drop, busy, echo])
    conn = make_conn(peer, backoff=FullJitterBackoff(first=0.5, stable_after=0.0), rng=Low())
    q = conn.subscribe()
    async with conn:
        await next_event(q, Connected)
        peer.conns[0].abort()  # the server goes away
        await next_event(q, Disconnected)
        got = [await next_event(q, Reconnecting) for _ in range(3)]
        assert [(r.attempt, r.delay) for r in got] == [(1, 0.005), (2, 0.005), (3, 0.005)]
        assert [r.error is not None and r.error.code for r in got[1:]] == [500, 500]
        await next_event(q, Connected)
        await next_event(q, Disconnected)  # "drop": stable_after=0, so a new outage
        r = await next_event(q, Reconnecting)
        assert (r.attempt, r.delay) == (1, 0.005)
        r = await next_event(q, Reconnecting)
        assert r.attempt == 2 and r.error is not None and r.error.code == 500
        await next_event(q, Connected)
        assert (await conn.request(1001, b"back")).data == b"back"


async def test_a_connection_dropped_at_once_keeps_backing_off(peer_factory: Any) -> None:
    async def drop(peer: PeerConn) -> None:
        peer.abort()

    peer = await peer_factory([drop, drop, drop, echo])
    conn = make_conn(peer, backoff=FullJitterBackoff(first=0.01, stable_after=30.0), rng=Low())
    q = conn.subscribe()
    async with conn:
        got = [await next_event(q, Reconnecting) for _ in range(3)]
        assert [r.attempt for r in got] == [1, 2, 3]  # not 1, 1, 1: each short session continues
        await next_event(q, Connected)
        assert len(peer.attempts) == 4


async def test_undecodable_frame_reconnects(peer_factory: Any) -> None:
    async def garbage(peer: PeerConn) -> None:
        await peer.ws.send(b"\x00\x01 not an envelope")
        await peer.ws.wait_closed()

    peer = await peer_factory([garbage, echo])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        err = await next_event(q, ErrorOccurred)
        assert err.where == "decode"
        await next_event(q, Disconnected)
        await next_event(q, Connected)


# --- fatal conditions -----------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "gob"])
async def test_kick_stops_for_good(peer_factory: Any, encoding: Any) -> None:
    async def kick(peer: PeerConn) -> None:
        await peer.push(ReqIdentifier.KICK_ONLINE_MSG)
        await peer.ws.close()

    peer = await peer_factory([kick, echo])
    conn = make_conn(peer, encoding=encoding)
    q = conn.subscribe()
    await conn.start()
    error = await conn.run()
    assert isinstance(error, KickedError)
    events = await drain(q)
    kinds = [type(e) for e in events]
    assert Kicked in kinds
    assert kinds[-1] is Stopped
    assert Reconnecting not in kinds
    assert isinstance(events[-1], Stopped) and isinstance(events[-1].error, KickedError)
    await asyncio.sleep(0.1)
    assert len(peer.attempts) == 1
    with pytest.raises(KickedError):
        await conn.request(1001, b"")
    assert conn.state == "stopped"


@pytest.mark.parametrize("code", [1501, 1502, 1503, 1504, 1505, 1506, 1507])
async def test_token_refusal_http200_stops_for_good(peer_factory: Any, code: int) -> None:
    peer = await peer_factory([{"errCode": code, "errMsg": "TokenError", "errDlt": "detail"}, echo])
    conn = make_conn(peer)
    q = conn.subscribe()
    error = await conn.run()
    assert error is not None and error.code == code
    assert error.detail == "detail"
    assert error.operation_id == peer.attempts[0]["operationID"]
    events = await drain(q)
    assert isinstance(events[0], TokenInvalid)  # first connect: not a kick, even for 1506
    assert not any(isinstance(e, Reconnecting | Connected) for e in events)
    assert len(peer.attempts) == 1
    with pytest.raises(OpenIMError) as info:
        await conn.request(1001, b"", operation_id="op-after")
    assert info.value.code == code
    assert info.value.operation_id == "op-after"


async def test_token_refusal_msgresp_frame_stops(peer_factory: Any) -> None:
    peer = await peer_factory([("msgresp", {"errCode": 1501, "errMsg": "TokenExpiredError"}), echo])
    conn = make_conn(peer, encoding="gob", is_msg_resp=True)
    q = conn.subscribe()
    error = await conn.run()
    assert isinstance(error, TokenExpiredError)
    assert isinstance((await next_event(q, TokenInvalid)).error, TokenExpiredError)
    assert len(peer.attempts) == 1


async def test_abrupt_close_then_1506_is_kicked(peer_factory: Any) -> None:
    async def drop(peer: PeerConn) -> None:
        peer.abort()

    peer = await peer_factory([drop, {"errCode": 1506, "errMsg": "TokenKickedError"}, echo])
    conn = make_conn(peer)
    q = conn.subscribe()
    error = await conn.run()
    assert isinstance(error, KickedError)
    events = await drain(q)
    kinds = [type(e) for e in events]
    assert kinds[:3] == [Connected, Disconnected, Reconnecting]
    assert Kicked in kinds and TokenInvalid not in kinds
    assert len(peer.attempts) == 2


async def test_abrupt_close_then_1506_after_network_failures_is_kicked(peer_factory: Any) -> None:
    async def drop(peer: PeerConn) -> None:
        peer.abort()

    peer = await peer_factory([drop, {"errCode": 500}, {"errCode": 1506}])
    conn = make_conn(peer)
    error = await conn.run()
    assert isinstance(error, KickedError)
    assert not isinstance(error, TokenKickedError)


# --- app requests ---------------------------------------------------------------------------


async def test_set_background_and_subscribe(peer_factory: Any) -> None:
    reqs: list[WsRequest] = []
    tips = sdkws_pb2.SubUserOnlineStatusTips(
        subscribers=[sdkws_pb2.SubUserOnlineStatusElem(userID="bob", onlinePlatformIDs=[5])]
    )

    async def server(peer: PeerConn) -> None:
        try:
            while True:
                req = await peer.recv_request()
                reqs.append(req)
                if req.req_identifier == ReqIdentifier.SUB_USER_ONLINE_STATUS:
                    await peer.reply(req, data=tips.SerializeToString())
                else:
                    await peer.reply(req, data=b"")
        except ConnectionClosed:
            pass

    peer = await peer_factory([server])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        await conn.set_background(True)
        statuses = await conn.subscribe_online_status(["bob", "bob", "carol"])
        assert statuses == {"bob": [5]}
        st = await next_event(q, StatusChange)
        assert st.solicited
        await conn.unsubscribe_online_status(["carol"])
    bg = sdkws_pb2.SetAppBackgroundStatusReq()
    bg.ParseFromString(reqs[0].data)
    assert reqs[0].req_identifier == 2004 and bg.userID == "alice" and bg.isBackground
    sub = sdkws_pb2.SubUserOnlineStatus()
    sub.ParseFromString(reqs[1].data)
    assert list(sub.subscribeUserID) == ["bob", "carol"]
    unsub = sdkws_pb2.SubUserOnlineStatus()
    unsub.ParseFromString(reqs[2].data)
    assert list(unsub.unsubscribeUserID) == ["carol"] and not unsub.subscribeUserID


async def test_subscriptions_resent_after_reconnect(peer_factory: Any) -> None:
    second: list[WsRequest] = []

    async def first_conn(peer: PeerConn) -> None:
        req = await peer.recv_request()
        await peer.reply(req, data=b"")
        await peer.recv_request()  # the test's trigger
        peer.abort()

    async def second_conn(peer: PeerConn) -> None:
        req = await peer.recv_request()
        second.append(req)
        await peer.reply(req, data=b"")
        await echo(peer)

    peer = await peer_factory([first_conn, second_conn])
    conn = make_conn(peer)
    q = conn.subscribe()
    async with conn:
        await next_event(q, Connected)  # the first on-connect step found no subscriptions
        await conn.subscribe_online_status(["bob"])
        with pytest.raises(NetworkError):
            await conn.request(1001, b"trigger")
        await next_event(q, Connected)
        assert (await conn.request(1001, b"z")).data == b"z"
    assert second[0].req_identifier == 2005
    sub = sdkws_pb2.SubUserOnlineStatus()
    sub.ParseFromString(second[0].data)
    assert list(sub.subscribeUserID) == ["bob"]


async def test_logout_sends_2003_and_stops(peer_factory: Any) -> None:
    reqs: list[WsRequest] = []

    async def server(peer: PeerConn) -> None:
        req = await peer.recv_request()
        reqs.append(req)
        await peer.reply(req, data=b"")
        await peer.ws.close()

    peer = await peer_factory([server])
    conn = make_conn(peer, platform_id=5)
    q = conn.subscribe()
    await conn.start()
    await conn.wait_connected(TIMEOUT)
    await conn.logout()
    events = await drain(q)
    assert isinstance(events[-1], Stopped) and events[-1].error is None
    assert not any(isinstance(e, Reconnecting | Disconnected) for e in events)
    body = push_pb2.DelUserPushTokenReq()
    body.ParseFromString(reqs[0].data)
    assert reqs[0].req_identifier == 2003
    assert (body.userID, body.platformID) == ("alice", 5)
    assert len(peer.attempts) == 1


async def test_close_fails_later_requests_and_stops(peer_factory: Any) -> None:
    peer = await peer_factory()
    conn = make_conn(peer)
    q = conn.subscribe()
    await conn.start()
    await conn.wait_connected(TIMEOUT)
    await conn.close()
    await conn.close()  # idempotent
    events = await drain(q)
    assert isinstance(events[0], Connected)
    assert isinstance(events[-1], Stopped) and events[-1].error is None
    with pytest.raises(NetworkError):
        await conn.request(1001, b"")
    assert conn.state == "stopped"


async def test_close_while_reconnecting(peer_factory: Any) -> None:
    peer = await peer_factory([{"errCode": 500}])
    conn = make_conn(peer, backoff=(30.0,))
    q = conn.subscribe()
    await conn.start()
    await next_event(q, Reconnecting)
    start = time.monotonic()
    await conn.close()
    assert time.monotonic() - start < 2
    assert (await next_event(q, Stopped)).error is None


async def test_events_iterator(peer_factory: Any) -> None:
    peer = await peer_factory()
    conn = make_conn(peer)
    seen: list[str] = []

    async def consume() -> None:
        async for ev in conn.events():
            seen.append(type(ev).__name__)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await conn.start()
    await conn.wait_connected(TIMEOUT)
    await conn.close()
    await asyncio.wait_for(task, TIMEOUT)
    assert seen == ["Connected", "Stopped"]
