"""Fixtures starting the bundled reference server (in-process, ephemeral ports, SQLite in tmp_path)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from openim_sdk.protocol.envelope import WsRequest, WsResponse, decode_response, encode_request
from server_stub import ServerApp, ServerConfig

_ops = itertools.count(1)


def op_id() -> str:
    return f"test-op-{next(_ops)}"


class Api:
    """Tiny REST helper: posts with operationID/token headers, returns the parsed envelope."""

    def __init__(self, client: httpx.AsyncClient, token: str = "") -> None:
        self.client = client
        self.token = token

    async def raw(self, path: str, body: Any = None, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"operationID": op_id()}
        tok = self.token if token is None else token
        if tok:
            headers["token"] = tok
        headers.update(kw.pop("headers", {}))
        return await self.client.post(path, json={} if body is None else body, headers=headers, **kw)

    async def call(self, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
        r = await self.raw(path, body, token)
        assert r.status_code == 200, r.text
        return r.json()

    async def ok(self, path: str, body: Any = None, token: str | None = None) -> Any:
        env = await self.call(path, body, token)
        assert env["errCode"] == 0, env
        return env.get("data")

    async def user_token(self, user_id: str, platform_id: int = 5) -> str:
        data = await self.ok("/auth/get_user_token", {"userID": user_id, "platformID": platform_id})
        return str(data["token"])

    async def register(self, *user_ids: str) -> None:
        await self.ok("/user/user_register", {"users": [{"userID": u, "nickname": u} for u in user_ids]})


def server_config(tmp_path: Any, **kw: Any) -> ServerConfig:
    base: dict[str, Any] = {"api_port": 0, "ws_port": 0, "data_path": str(tmp_path / "openim.sqlite3")}
    base.update(kw)
    return ServerConfig(**base)


@pytest.fixture
async def server(tmp_path: Any) -> AsyncIterator[ServerApp]:
    """A running in-process server (REST + WS) on ephemeral ports."""
    async with ServerApp(server_config(tmp_path)) as srv:
        yield srv


@pytest.fixture
async def http(server: ServerApp) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.api_url, timeout=10) as client:
        yield client


@pytest.fixture
async def admin(http: httpx.AsyncClient) -> Api:
    """REST helper holding an admin token."""
    api = Api(http)
    data = await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"})
    api.token = data["token"]
    return api


def ws_url(server: ServerApp, user_id: str, token: str, platform_id: int = 5, **extra: str) -> str:
    params = {"sendID": user_id, "token": token, "platformID": str(platform_id), "operationID": op_id(),
              "isBackground": "false"}
    params.update(extra)
    return server.ws_url + "/?" + "&".join(f"{k}={v}" for k, v in params.items())


class WsClient:
    """A minimal protocol client over ``websockets`` and the envelope codec."""

    def __init__(self, ws: Any, user_id: str, encoding: str = "gob", compress: bool = False) -> None:
        self.ws = ws
        self.user_id = user_id
        self.encoding = encoding
        self.compress = compress
        self._n = itertools.count(1)
        self.pushes: list[WsResponse] = []

    async def send_req(self, ident: int, data: bytes, send_id: str | None = None) -> str:
        incr = f"{self.user_id}_{next(self._n)}"
        req = WsRequest(req_identifier=ident, send_id=self.user_id if send_id is None else send_id,
                        operation_id=op_id(), msg_incr=incr, data=data)
        await self.ws.send(encode_request(req, self.encoding, self.compress))  # type: ignore[arg-type]
        return incr

    async def recv(self, timeout: float = 5) -> WsResponse:
        import asyncio

        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(frame, bytes), frame
        return decode_response(frame, self.encoding, self.compress)  # type: ignore[arg-type]

    async def request(self, ident: int, data: bytes, timeout: float = 5) -> WsResponse:
        incr = await self.send_req(ident, data)
        while True:
            resp = await self.recv(timeout)
            if resp.msg_incr == incr:
                return resp
            self.pushes.append(resp)

    async def next_push(self, timeout: float = 5) -> WsResponse:
        if self.pushes:
            return self.pushes.pop(0)
        while True:
            resp = await self.recv(timeout)
            if resp.req_identifier == 2001:
                return resp
