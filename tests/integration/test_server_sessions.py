"""Multi-login policies 4 and 5 (token issue: pkg/common/storage/controller/auth.go checkToken;
connections: internal/msggateway/ws_server.go multiTerminalLoginChecker), the connection cap,
and the online-status subscription answer (internal/msggateway/subscription.go)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from openim_sdk.protocol.constants import ReqIdentifier
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp

from .conftest import Api, WsClient, server_config, ws_url

KICK = int(ReqIdentifier.KICK_ONLINE_MSG)
IOS, ANDROID, WINDOWS, OSX, WEB, MINI_WEB, LINUX = 1, 2, 3, 4, 5, 6, 7


def step_clock() -> Any:
    """A token clock one second further on each reading (distinct tokens, no sleeping)."""
    ticks = itertools.count(int(time.time()) - 100_000)
    return lambda: float(next(ticks))


@asynccontextmanager
async def running(tmp_path: Any, **kw: Any) -> AsyncIterator[tuple[ServerApp, Api]]:
    async with ServerApp(server_config(tmp_path, **kw)) as srv, \
            httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        srv.core.tokens.clock = step_clock()
        api = Api(http)
        api.token = (await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
        yield srv, api


async def valid(api: Api, token: str) -> bool:
    env = await api.call("/user/get_users_info", {"userIDs": ["p"]}, token=token)
    assert env["errCode"] in (0, 1506, 1507), env  # kicked, or deleted by a later login
    return bool(env["errCode"] == 0)


async def mint_all(api: Api, platforms: list[int]) -> list[str]:
    return [await api.user_token("p", pid) for pid in platforms]


# --------------------------------------------------------------------------- token issue


@pytest.mark.parametrize(("policy", "platforms", "expected"), [
    (5, [LINUX, LINUX], [True, True]),  # a PC login never kicks a PC token, not even the same platform's
    (5, [IOS, WEB, WINDOWS], [False, True, True]),  # web is "other": the iOS token goes
    (5, [WINDOWS, IOS], [True, True]),
    (4, [WEB, MINI_WEB], [True, True]),  # web and mini-web are different classes
    (4, [IOS, ANDROID], [False, True]),  # same class (Mobile)
    (4, [OSX, LINUX, IPAD := 9], [False, True, True]),
])
async def test_policy_on_token_issue(tmp_path, policy, platforms, expected):
    async with running(tmp_path, multi_login_policy=policy) as (_, api):
        await api.register("p")
        tokens = await mint_all(api, platforms)
        assert [await valid(api, t) for t in tokens] == expected


@pytest.mark.parametrize(("policy", "older", "new", "expected"), [
    # class-kick: the new class loses everything, other classes keep the newest token of one platform
    (4, [WINDOWS, LINUX, WEB, WEB, IOS], ANDROID, [False, True, False, True, False]),
    # PC login: every PC token stays, of the others Android's newest stays
    (5, [IOS, ANDROID, ANDROID, WEB, OSX], WINDOWS, [False, False, True, False, True]),
    # PC login without Android: the newest non-PC token stays
    (5, [IOS, WEB, MINI_WEB], LINUX, [False, False, True]),
    # non-PC login: every non-PC token goes, PC ones stay
    (5, [IOS, ANDROID, LINUX, WEB], MINI_WEB, [False, False, True, False]),
])
async def test_policy_applied_to_tokens_left_by_another_policy(tmp_path, policy, older, new, expected):
    """Tokens minted under policy 0 (no kicking), then the server restarts with ``policy``."""
    async with running(tmp_path, multi_login_policy=0) as (_, api):
        await api.register("p")
        tokens = await mint_all(api, older)
    async with running(tmp_path, multi_login_policy=policy) as (_, api):
        fresh = await api.user_token("p", new)
        assert [await valid(api, t) for t in tokens] == expected
        assert await valid(api, fresh)


# --------------------------------------------------------------------------- connections


async def kicked(ws: Any, user: str = "p") -> bool:
    """Whether the server kicked this connection, found without waiting on a clock: a request's
    reply is queued behind a kick that came first, and after a kick the connection closes. Call
    it on the newest connection first: its reply means the server registered it (and queued the
    kicks it causes)."""
    client = WsClient(ws, user)
    try:
        incr = await client.send_req(int(ReqIdentifier.GET_NEWEST_SEQ),
                                     sdkws_pb2.GetMaxSeqReq(userID=user).SerializeToString())
        while True:
            resp = await client.recv(timeout=10)
            if resp.req_identifier == KICK:
                return True
            if resp.msg_incr == incr:
                return False
    except ConnectionClosed:
        return True


@pytest.mark.parametrize(("policy", "first", "second", "first_kicked"), [
    (4, WINDOWS, LINUX, True),  # same class
    (4, WEB, MINI_WEB, False),  # different classes
    (4, IOS, 9, False),  # Mobile vs Pad
    (5, WINDOWS, LINUX, False),  # PCs coexist
    (5, WEB, IOS, True),  # both "other"
    (5, IOS, WINDOWS, False),  # a PC login kicks no connection
    (5, WINDOWS, IOS, False),
])
async def test_policy_on_connect(tmp_path, policy, first, second, first_kicked):
    async with running(tmp_path, multi_login_policy=policy) as (srv, api):
        await api.register("p")
        t1 = await api.user_token("p", first)
        async with connect(ws_url(srv, "p", t1, first)) as ws1:
            t2 = await api.user_token("p", second)
            async with connect(ws_url(srv, "p", t2, second)) as ws2:
                assert not await kicked(ws2)
                assert await kicked(ws1) is first_kicked
                assert second in srv.core.hub.platforms("p")
                if not first_kicked:
                    assert first in srv.core.hub.platforms("p")


@pytest.mark.parametrize("policy", [1, 4, 5])
async def test_same_token_twice_is_not_kicked(tmp_path, policy):
    async with running(tmp_path, multi_login_policy=policy) as (srv, api):
        await api.register("p")
        tok = await api.user_token("p", IOS)
        async with connect(ws_url(srv, "p", tok, IOS)) as ws1, connect(ws_url(srv, "p", tok, IOS)) as ws2:
            assert not await kicked(ws2)
            assert not await kicked(ws1)
            assert len(srv.core.hub.of("p")) == 2
        assert await valid(api, tok)


async def test_policy4_kicks_only_the_closed_connections_tokens(tmp_path):
    async with running(tmp_path, multi_login_policy=4) as (srv, api):
        await api.register("p")
        t_win = await api.user_token("p", WINDOWS)
        async with connect(ws_url(srv, "p", t_win, WINDOWS)) as ws1:
            t_linux = await api.user_token("p", LINUX)
            async with connect(ws_url(srv, "p", t_linux, LINUX)) as ws2:
                assert not await kicked(ws2)
                assert await kicked(ws1)
                assert not await valid(api, t_win) and await valid(api, t_linux)


async def test_connection_cap(tmp_path):
    async with running(tmp_path, ws_max_conn=2) as (srv, api):
        await api.register("p")
        tokens = [await api.user_token("p", pid) for pid in (IOS, WINDOWS, WEB)]
        async with connect(ws_url(srv, "p", tokens[0], IOS)) as ws1, \
                connect(ws_url(srv, "p", tokens[1], WINDOWS)) as ws2:
            assert not await kicked(ws1) and not await kicked(ws2)  # both registered (policy 1: no kick)
            # isMsgResp: the refusal comes as a text frame after the upgrade
            async with connect(ws_url(srv, "p", tokens[2], WEB, isMsgResp="true")) as ws3:
                env = json.loads(await ws3.recv())
                assert (env["errCode"], env["errMsg"]) == (1601, "ConnOverMaxNumLimit")
            # otherwise as the HTTP answer to the upgrade request
            async with httpx.AsyncClient() as c:
                r = await c.get(ws_url(srv, "p", tokens[2], WEB).replace("ws://", "http://"),
                                headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                         "Sec-WebSocket-Version": "13",
                                         "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
            assert r.json()["errCode"] == 1601
            assert len(srv.core.hub.of("p")) == 2


# --------------------------------------------------------------------------- subscriptions


async def test_subscribe_answers_every_requested_user(tmp_path):
    async with running(tmp_path) as (srv, api):
        await api.register("ann", "ben", "cid")
        ta, tb = await api.user_token("ann", WEB), await api.user_token("ben", ANDROID)
        async with connect(ws_url(srv, "ann", ta, WEB)) as wa, connect(ws_url(srv, "ben", tb, ANDROID)) as wb:
            assert not await kicked(wb, "ben")  # a round trip: ben is registered
            ann = WsClient(wa, "ann")

            async def sub(*ids: str) -> list[tuple[str, list[int]]]:
                req = sdkws_pb2.SubUserOnlineStatus(subscribeUserID=list(ids))
                resp = await ann.request(int(ReqIdentifier.SUB_USER_ONLINE_STATUS), req.SerializeToString())
                assert resp.err_code == 0
                tips = sdkws_pb2.SubUserOnlineStatusTips.FromString(resp.data)
                return [(s.userID, list(s.onlinePlatformIDs)) for s in tips.subscribers]

            assert await sub("ben", "cid", "ghost") == [("ben", [ANDROID]), ("cid", []), ("ghost", [])]
            # already subscribed: answered again, not left out
            assert await sub("ben") == [("ben", [ANDROID])]
            assert await sub() == []
