"""Helpers of the server message-behaviour tests (no tests here): users with tokens, SDK clients,
typed REST clients, raw protocol connections that collect pushes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from server_stub import ServerApp

from .conftest import WsClient, ws_url

RAW_PLATFORM = 5  # raw protocol connections; the SDK clients use 7


class People:
    def __init__(self, server: ServerApp, admin: RestClient) -> None:
        self.server, self.admin = server, admin
        self.sdk_tokens: dict[str, str] = {}
        self.raw_tokens: dict[str, str] = {}
        self.rest: dict[str, RestClient] = {}

    async def add(self, *ids: str) -> None:
        await self.admin.user.user_register(users=[{"userID": u, "nickname": u} for u in ids])
        for uid in ids:
            self.sdk_tokens[uid] = await self.admin.mint_user_token(uid, 7)
            self.raw_tokens[uid] = await self.admin.mint_user_token(uid, RAW_PLATFORM)
            self.rest[uid] = RestClient(self.server.api_url, self.sdk_tokens[uid])

    async def group(self, gid: str, owner: str, *members: str) -> None:
        await self.admin.group.create_group(owner_user_id=owner, member_user_ids=list(members),
                                            group_info={"groupID": gid, "groupType": 2})

    def client(self, tmp_path: Any, uid: str) -> OpenIMClient:
        return OpenIMClient(self.server.api_url, self.server.ws_url, uid, self.sdk_tokens[uid],
                            data_dir=tmp_path / f"data-{uid}", backoff=(0.05, 0.1, 0.2))

    @asynccontextmanager
    async def raw(self, uid: str) -> AsyncIterator[Pushes]:
        from websockets.asyncio.client import connect

        async with connect(ws_url(self.server, uid, self.raw_tokens[uid], RAW_PLATFORM)) as ws:
            yield Pushes(WsClient(ws, uid))

    async def close(self) -> None:
        for c in self.rest.values():
            await c.aclose()


class Pushes:
    """The 2001 pushes one raw connection receives, as flat (conversationID, MsgData) items."""

    def __init__(self, ws: WsClient) -> None:
        self.ws = ws
        self._items: list[tuple[str, sdkws_pb2.MsgData]] = []

    async def next(self, timeout: float = 10) -> tuple[str, sdkws_pb2.MsgData]:
        while not self._items:
            push = sdkws_pb2.PushMessages.FromString((await self.ws.next_push(timeout)).data)
            for table in (push.msgs, push.notificationMsgs):
                for cid, pm in table.items():
                    self._items.extend((cid, m) for m in pm.Msgs)
        return self._items.pop(0)

    async def until(self, pred: Callable[[str, sdkws_pb2.MsgData], bool],
                    timeout: float = 10) -> list[tuple[str, sdkws_pb2.MsgData]]:
        """Every push up to and including the first one ``pred`` accepts."""
        seen = []
        while True:
            cid, m = await self.next(timeout)
            seen.append((cid, m))
            if pred(cid, m):
                return seen


def detail(m: sdkws_pb2.MsgData) -> dict[str, Any]:
    return dict(json.loads(json.loads(m.content)["detail"]))


def text_of(m: sdkws_pb2.MsgData) -> str:
    c = json.loads(m.content)
    return str(c.get("content") or c.get("text") or "")


async def next_event(events: Any, pred: Callable[[ev.Event], bool], timeout: float = 10) -> Any:
    async def find() -> ev.Event:
        async for e in events:
            if pred(e):
                return e
        raise AssertionError("event stream ended")

    return await asyncio.wait_for(find(), timeout)


async def sent(client: OpenIMClient, events: Any, msg: Any) -> Any:
    """Wait until ``msg`` is acknowledged (MessageSent) or refused (MessageSendFailed)."""
    return await next_event(events, lambda e: isinstance(e, ev.MessageSent | ev.MessageSendFailed)
                            and e.message.client_msg_id == msg.client_msg_id)
