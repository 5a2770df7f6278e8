"""Failure modes a real server cannot easily produce, through respx (mocked HTTP)."""

import httpx
import pytest
import respx

from openim_sdk.protocol import errors as e
from openim_sdk.rest import RestClient

API = "http://openim.test"


@pytest.fixture
async def client():
    async with RestClient(API, "tok", retries=2) as c:
        c._transport.backoff = 0.001
        yield c


def ok(data=None):
    body = {"errCode": 0, "errMsg": "", "errDlt": ""}
    if data is not None:
        body["data"] = data
    return httpx.Response(200, json=body)


@respx.mock
async def test_headers_and_decoding(client):
    route = respx.post(f"{API}/user/get_users_info").mock(
        return_value=ok({"usersInfo": [{"userID": "u1", "nickname": "n", "createTime": 2**60}]})
    )
    resp = await client.user.get_users_info(user_ids=["u1"], operation_id="op-1")
    req = route.calls.last.request
    assert req.headers["operationID"] == "op-1" and req.headers["token"] == "tok"
    assert req.content == b'{"userIDs":["u1"]}'
    assert resp.usersInfo[0].createTime == 2**60


@respx.mock
async def test_coded_error_carries_operation_id(client):
    respx.post(f"{API}/msg/send_simple_msg").mock(
        return_value=httpx.Response(200, json={"errCode": 1302, "errMsg": "BlockedByPeer", "errDlt": "d"})
    )
    with pytest.raises(e.RelationError) as info:
        await client.call("/msg/send_simple_msg", {"sendID": "a"}, operation_id="op-2")
    assert info.value.code == 1302 and info.value.operation_id == "op-2" and info.value.detail == "d"


@respx.mock
async def test_token_errors_are_not_retried(client):
    route = respx.post(f"{API}/user/get_users_info").mock(
        return_value=httpx.Response(200, json={"errCode": 1506, "errMsg": "TokenKickedError", "errDlt": ""})
    )
    with pytest.raises(e.TokenKickedError):
        await client.user.get_users_info(user_ids=["u1"])
    assert route.call_count == 1


@respx.mock
async def test_429_retried_for_reads_then_raised(client):
    route = respx.post(f"{API}/user/get_users_info").mock(
        return_value=httpx.Response(429, headers={"Retry-After": "0"},
                                    json={"errCode": 429, "errMsg": "too many", "errDlt": ""})
    )
    with pytest.raises(e.RateLimitedError) as info:
        await client.user.get_users_info(user_ids=["u1"], operation_id="op-3")
    assert route.call_count == 3 and info.value.operation_id == "op-3"


@respx.mock
async def test_429_not_retried_for_writes(client):
    route = respx.post(f"{API}/user/user_register").mock(return_value=httpx.Response(429, text=""))
    with pytest.raises(e.RateLimitedError):
        await client.user.user_register(users=[{"userID": "x", "nickname": "x"}])
    assert route.call_count == 1


@respx.mock
async def test_502_then_success(client):
    route = respx.post(f"{API}/user/get_users_info").mock(
        side_effect=[httpx.Response(502, text="bad gateway"), ok({"usersInfo": []})]
    )
    resp = await client.user.get_users_info(user_ids=["u1"])
    assert route.call_count == 2 and list(resp.usersInfo) == []


@respx.mock
async def test_500_empty_body(client):
    respx.post(f"{API}/user/user_register").mock(return_value=httpx.Response(500))
    with pytest.raises(e.ServerInternalError) as info:
        await client.user.user_register(users=[], operation_id="op-4")
    assert info.value.operation_id == "op-4"


@respx.mock
@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>proxy</html>"),
        httpx.Response(200, json=["not", "an", "envelope"]),
        httpx.Response(200, json={"errMsg": "no code"}),
        httpx.Response(200, json={"errCode": 0, "data": {"usersInfo": "wrong type"}}),
    ],
)
async def test_malformed_envelopes(client, response):
    respx.post(f"{API}/user/get_users_info").mock(return_value=response)
    with pytest.raises(e.InvalidResponseError) as info:
        await client.user.get_users_info(user_ids=["u1"], operation_id="op-5")
    assert info.value.operation_id == "op-5"


@respx.mock
async def test_timeout(client):
    respx.post(f"{API}/user/get_users_info").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(e.RequestTimeoutError) as info:
        await client.user.get_users_info(user_ids=["u1"], operation_id="op-6")
    assert info.value.operation_id == "op-6" and isinstance(info.value, e.NetworkError)


@respx.mock
async def test_connection_reset(client):
    route = respx.post(f"{API}/user/user_register").mock(side_effect=httpx.ReadError("connection reset by peer"))
    with pytest.raises(e.NetworkError) as info:
        await client.user.user_register(users=[], operation_id="op-7")
    assert route.call_count == 1  # a write is not repeated
    assert info.value.operation_id == "op-7" and "reset" in info.value.detail


async def test_bad_argument_type_is_args_error(client):
    with pytest.raises(e.ArgsError):
        await client.user.get_users_info(user_ids=[1, 2])  # type: ignore[list-item]


def test_token_claims_parsed_locally():
    import jwt

    from openim_sdk.rest import parse_token_claims

    tok = jwt.encode({"UserID": "u1", "PlatformID": 7, "exp": 100, "iat": 5}, "k" * 32, algorithm="HS256")
    claims = parse_token_claims(tok)
    assert (claims.user_id, claims.platform_id, claims.expires_at) == ("u1", 7, 100)
    with pytest.raises(e.TokenMalformedError):
        parse_token_claims("garbage")
