"""Shared fixtures/helpers for the part-2 tests (no tests here)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from server_stub import ServerApp

from .conftest import Api, WsClient, ws_url


@pytest.fixture
async def p2(server: ServerApp) -> ServerApp:
    """The server with its part-2 routes (installed at start-up by ``ServerApp``)."""
    return server


class Users:
    """Registered users with tokens, REST clients (SDK) and Api helpers (raw envelopes)."""

    def __init__(self, server: ServerApp, admin: Api) -> None:
        self.server, self.admin = server, admin
        self.tokens: dict[str, str] = {}
        self.sdk: dict[str, RestClient] = {}
        self.api: dict[str, Api] = {}

    async def add(self, *ids: str) -> None:
        await self.admin.register(*ids)
        for uid in ids:
            tok = await self.admin.user_token(uid, 5)
            self.tokens[uid] = tok
            self.sdk[uid] = RestClient(self.server.api_url, tok)
            self.api[uid] = Api(self.admin.client, tok)

    async def close(self) -> None:
        for c in self.sdk.values():
            await c.aclose()


@pytest.fixture
async def users(p2: ServerApp, admin: Api) -> AsyncIterator[Users]:
    u = Users(p2, admin)
    yield u
    await u.close()


class Ws:
    def __init__(self, server: ServerApp, user_id: str, token: str) -> None:
        self.url = ws_url(server, user_id, token)
        self.user_id = user_id

    async def __aenter__(self) -> WsClient:
        self._cm = connect(self.url)
        ws = await self._cm.__aenter__()
        return WsClient(ws, self.user_id)

    async def __aexit__(self, *exc: Any) -> None:
        await self._cm.__aexit__(*exc)


async def next_notification(cl: WsClient, content_type: int, timeout: float = 5) -> tuple[str, Any, dict[str, Any]]:
    """Skip pushes until one with ``content_type``: (conversationID, MsgData, parsed detail)."""
    while True:
        push = sdkws_pb2.PushMessages.FromString((await cl.next_push(timeout)).data)
        for table in (push.notificationMsgs, push.msgs):
            for cid, pm in table.items():
                for m in pm.Msgs:
                    if m.contentType == content_type:
                        detail = json.loads(json.loads(m.content)["detail"])
                        return cid, m, detail


def text_msg(send: str, recv: str = "", group: str = "", text: str = "hi", cmid: str = "") -> bytes:
    import os

    m = sdkws_pb2.MsgData(sendID=send, recvID=recv, groupID=group, clientMsgID=cmid or os.urandom(8).hex(),
                          sessionType=3 if group else 1, msgFrom=100, contentType=101,
                          content=json.dumps({"content": text}).encode(), senderPlatformID=5)
    return m.SerializeToString()
