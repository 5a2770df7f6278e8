"""The token manager runs on the clock it is given: expiry and "oldest first" follow that clock,
so tests move time instead of sleeping across second boundaries."""

from __future__ import annotations

import time

import httpx
import jwt

from server_stub import ServerApp
from tests.integration.conftest import Api, server_config

from .test_tokens import _code, _ws_code

DAY = 86400


class Clock:
    """A clock the test moves by hand (seconds, like ``time.time``)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def _admin(http: httpx.AsyncClient) -> Api:
    api = Api(http)
    api.token = (await api.ok("/auth/get_admin_token", {"secret": "openIM123", "userID": "imAdmin"}))["token"]
    return api


async def test_expiry_follows_the_servers_clock_not_the_wall_clock(tmp_path):
    clock = Clock(time.time() - 100 * DAY)  # by the wall clock every token of this server is long expired
    async with ServerApp(server_config(tmp_path, token_expire_days=90), clock=clock) as srv, \
            httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        admin = await _admin(http)
        await admin.register("ck1")
        tok = await admin.user_token("ck1", 5)
        exp = jwt.decode(tok, options={"verify_signature": False})["exp"]
        assert exp == int(clock.now) + 90 * DAY and exp < time.time()
        assert await _code(http, tok) == 0
        clock.now = exp - 0.5  # the last moment it is valid
        assert await _code(http, tok) == 0
        clock.now = exp  # expired at exp (PyJWT's rule: exp <= now)
        assert await _code(http, tok) == 1501 and await _ws_code(srv, "ck1", tok, 5) == 1501
        assert (await admin.call("/auth/parse_token", {"token": tok}))["errCode"] == 1501


async def test_not_before_follows_the_servers_clock(tmp_path):
    clock = Clock(time.time())
    async with ServerApp(server_config(tmp_path), clock=clock) as srv, \
            httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        admin = await _admin(http)
        await admin.register("ck2")
        tok = await admin.user_token("ck2", 5)
        claims = jwt.decode(tok, options={"verify_signature": False})
        claims["nbf"] = int(clock.now) + 60
        later = jwt.encode(claims, "openIM123", algorithm="HS256")  # signed right, but never minted
        assert await _code(http, later) == 1504  # not valid yet, checked before the token table
        clock.now += 61
        assert await _code(http, later) == 1507  # valid in time now; unknown to the token table


async def test_tokens_minted_in_one_instant_are_kicked_oldest_first(tmp_path):
    clock = Clock(time.time())  # never moves: every token of the test has the same creation time
    async with ServerApp(server_config(tmp_path, multi_login_policy=0, max_num_one_end=2), clock=clock) as srv, \
            httpx.AsyncClient(base_url=srv.api_url, timeout=10) as http:
        admin = await _admin(http)
        users = [f"ck3_{i}" for i in range(6)]
        await admin.register(*users)
        for u in users:
            tokens = [await admin.user_token(u, 5) for _ in range(4)]
            # two per platform (policy 0): each mint kicks the oldest in minting order (a kicked row is dropped at the next mint)
            assert [await _code(http, t) for t in tokens] == [1507, 1506, 0, 0], u  # t1 kicked, then dropped
