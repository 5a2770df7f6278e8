"""The gateway's connection timers (one sweeper task, issue 16): read deadline, web pings, and the
lazy writer keeping frame order."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from server_stub import ServerApp

from .conftest import Api, server_config, ws_url


@pytest.fixture
async def quick(tmp_path: Any) -> Any:
    async with ServerApp(server_config(tmp_path, ws_read_timeout=0.6, ws_ping_period=0.2)) as srv:
        yield srv


async def _token(srv: ServerApp, user: str, platform: int) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        api = Api(http)
        data = await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"})
        api.token = data["token"]
        await api.register(user)
        return await api.user_token(user, platform)


async def test_a_silent_connection_is_closed_at_the_read_deadline(quick: ServerApp) -> None:
    tok = await _token(quick, "quiet", 3)
    t0 = time.monotonic()
    async with connect(ws_url(quick, "quiet", tok, 3), ping_interval=None) as ws:
        with pytest.raises(ConnectionClosed) as info:
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    took = time.monotonic() - t0
    assert info.value.rcvd is not None and info.value.rcvd.code == 1000
    assert info.value.rcvd.reason == "read timeout"
    assert 0.5 <= took < 3, took


async def test_heartbeats_keep_a_connection_open_and_are_answered(quick: ServerApp) -> None:
    tok = await _token(quick, "chatty", 3)
    async with connect(ws_url(quick, "chatty", tok, 3), ping_interval=None) as ws:
        for i in range(8):  # 1.6 s, well past the 0.6 s deadline
            await ws.send(f'{{"type":"ping","body":"b{i}"}}')
            assert await asyncio.wait_for(ws.recv(), 5) == f'{{"type":"pong","body":"b{i}"}}'
            await asyncio.sleep(0.2)
        assert ws.state.name == "OPEN"


class _CountingPings(ClientConnection):
    pings = 0

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode == Opcode.PING:
            self.pings += 1
        super().process_event(event)


async def test_web_clients_get_server_pings_and_their_pongs_keep_them_open(quick: ServerApp) -> None:
    tok = await _token(quick, "webby", 5)
    async with connect(ws_url(quick, "webby", tok, 5), ping_interval=None, create_connection=_CountingPings) as ws:
        await asyncio.sleep(1.5)  # the client library's automatic pongs are frames: the deadline moves
        assert ws.state.name == "OPEN"
        assert isinstance(ws, _CountingPings) and ws.pings >= 3


async def test_many_pushed_frames_arrive_in_order(quick: ServerApp) -> None:
    tok = await _token(quick, "orderly", 3)
    async with connect(ws_url(quick, "orderly", tok, 3), ping_interval=None) as ws:
        for i in range(50):
            await ws.send(f'{{"type":"ping","body":{i}}}')
        got = [await asyncio.wait_for(ws.recv(), 5) for _ in range(50)]
        assert got == [f'{{"type":"pong","body":{i}}}' for i in range(50)]


async def test_rest_connections_have_tcp_nodelay(server: ServerApp) -> None:
    """Keep-alive REST answers are written as headers + body: without TCP_NODELAY on the accepted
    socket, Nagle held each body until the client's delayed ACK (~40 ms per call)."""
    import socket

    import httpx

    async with httpx.AsyncClient(base_url=server.api_url) as http:
        for _ in range(2):
            await http.post("/msg/get_server_time", json={}, headers={"operationID": "nodelay"})
        assert server._uvicorn is not None
        conns = list(server._uvicorn.server_state.connections)
        assert conns
        for proto in conns:
            sock = proto.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY), proto
