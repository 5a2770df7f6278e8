"""Security tests run against the real bundled server: the integration fixtures, shared."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp
from tests.integration.conftest import (  # noqa: F401  (pytest fixtures)
    Api,
    WsClient,
    admin,
    http,
    op_id,
    server,
    server_config,
    ws_url,
)


def user_msg(user: str, recv: str = "", group: str = "", text: str = "hi", content_type: int = 101,
             **fields: Any) -> bytes:
    """A serialized MsgData as an ordinary client sends it (unique clientMsgID); ``fields`` override,
    ``options={...}`` sets options."""
    m = sdkws_pb2.MsgData(sendID=user, recvID=recv, groupID=group, clientMsgID=os.urandom(16).hex(),
                          sessionType=3 if group else 1, msgFrom=100, contentType=content_type,
                          content=json.dumps({"content": text}).encode(), senderPlatformID=5)
    for k, v in fields.items():
        if k == "options":
            m.options.update(v)
        else:
            setattr(m, k, v)
    return m.SerializeToString()


@dataclass
class World:
    """A running server (notifications stored) with registered users, their tokens and REST helpers."""

    server: ServerApp
    admin: Api
    api: dict[str, Api]
    tokens: dict[str, str]

    async def max_seqs(self, user: str) -> dict[str, int]:
        data = await self.api[user].ok("/msg/newest_seq", {"userID": user})
        return dict(data.get("maxSeqs") or {})


@contextlib.asynccontextmanager
async def open_world(tmp_path: Any, *users: str) -> AsyncIterator[World]:
    cfg = server_config(tmp_path, extra={"notifications_stored": True})
    async with ServerApp(cfg) as srv, httpx.AsyncClient(base_url=srv.api_url, timeout=10) as client:
        admin = Api(client)
        admin.token = (await admin.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
        await admin.register(*users)
        tokens = {u: await admin.user_token(u) for u in users}
        yield World(srv, admin, {u: Api(client, t) for u, t in tokens.items()}, tokens)
