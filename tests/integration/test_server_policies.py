"""Multi-login policies 0, 4 and 5 on token issue (policy 1 is covered in test_server_rest.py)."""

from __future__ import annotations

import pytest

from openim_sdk.protocol import errors as e
from openim_sdk.rest import RestClient
from server_stub import ServerApp

from .conftest import server_config


async def _mint(admin: RestClient, user: str, platform: int) -> str:
    return await admin.mint_user_token(user, platform)  # tokens are unique (jti), oldest-first holds within a ms


async def _valid(api_url: str, token: str) -> bool:
    async with RestClient(api_url, token) as c:
        try:
            await c.user.get_users_info(user_ids=["p"])
        except e.TokenKickedError:
            return False
    return True


@pytest.mark.parametrize(
    ("policy", "platforms", "expected"),
    [
        (0, [7, 7], [True, True]),  # nothing is kicked
        (4, [3, 7], [False, True]),  # same class (PC): the older one is kicked
        (4, [2, 7], [True, True]),  # Mobile and PC coexist
        (5, [3, 7], [True, True]),  # PC platforms coexist
        (5, [1, 2], [False, True]),  # only one non-PC platform survives
    ],
)
async def test_multi_login_policy_on_token_issue(tmp_path, policy, platforms, expected):
    async with ServerApp(server_config(tmp_path, multi_login_policy=policy)) as srv:
        admin = await RestClient.admin(srv.api_url)
        async with admin:
            await admin.user.user_register(users=[{"userID": "p", "nickname": "p"}])
            tokens = [await _mint(admin, "p", pid) for pid in platforms]
        assert [await _valid(srv.api_url, t) for t in tokens] == expected
