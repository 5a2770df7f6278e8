"""REST conventions, tokens and /user routes of the bundled server."""

from __future__ import annotations

import httpx
import jwt

from .conftest import Api


async def test_envelope_and_headers(http: httpx.AsyncClient, admin: Api) -> None:
    r = await http.post("/user/get_users_info", json={"userIDs": []}, headers={"token": admin.token})
    assert r.status_code == 200
    assert r.json() == {"errCode": 1001, "errMsg": "ArgsError", "errDlt": "header must have operationID"}
    r = await http.post("/user/get_users_info", json={"userIDs": []}, headers={"operationID": "x"})
    assert r.json()["errDlt"] == "header must have token"
    r = await admin.raw("/user/user_register", {"users": [{"userID": "a1", "nickname": "A"}]})
    assert r.text == '{"errCode":0,"errMsg":"","errDlt":""}'
    assert r.headers["access-control-allow-origin"] == "*"
    assert r.headers["content-type"].startswith("application/json")
    data = await admin.ok("/user/get_users_info", {"userIDs": ["a1", "nobody"]})
    assert list(data["usersInfo"][0]) == ["userID", "nickname", "faceURL", "ex", "createTime", "appMangerLevel",
                                          "globalRecvMsgOpt"]
    assert len(data["usersInfo"]) == 1


async def test_not_found_options_gzip_parse_errors(http: httpx.AsyncClient, admin: Api) -> None:
    r = await admin.raw("/no/such/route")
    assert r.status_code == 404 and r.text == "404 page not found"
    r = await http.post("/no/such/route", json={})
    assert r.status_code == 200 and r.json()["errCode"] == 1001
    r = await http.get("/user/get_users_info")
    assert r.status_code == 404
    r = await http.options("/anything")
    assert r.status_code == 200 and r.text == '"Options Request!"'
    r = await http.post("/msg/get_server_time", json={}, headers={"operationID": "g", "token": admin.token,
                                                                  "Accept-Encoding": "gzip"})
    assert r.headers.get("content-encoding") == "gzip"
    assert r.json()["data"]["serverTime"] > 0
    # a2r parse failure: 1001 with the decoder text in errMsg, HTTP 200
    r = await admin.client.post("/user/get_users_info", content=b"{bad", headers={"operationID": "p",
                                                                                  "token": admin.token})
    env = r.json()
    assert r.status_code == 200 and env["errCode"] == 1001 and env["errMsg"].startswith("Error: ")
    r = await admin.client.post("/user/get_users_info", content=b"", headers={"operationID": "p",
                                                                              "token": admin.token})
    assert r.json()["errCode"] == 1001
    # BindJSON routes: HTTP 400 with the envelope
    r = await admin.raw("/msg/send_msg", {"recvID": "x"})
    assert r.status_code == 400 and r.json()["errCode"] == 1001 and "SendID" in r.json()["errDlt"]


async def test_tokens(http: httpx.AsyncClient, admin: Api) -> None:
    env = await admin.call("/auth/get_admin_token", {"secret": "wrong", "userID": "imAdmin"})
    assert env["errCode"] == 1002 and env["errDlt"] == "secret invalid"
    await admin.register("t1")
    first = await admin.user_token("t1", 5)
    parsed = await admin.ok("/auth/parse_token", {"token": first})
    assert parsed["userID"] == "t1" and parsed["platformID"] == 5 and parsed["expireTimeSeconds"] > 10**9
    claims = jwt.decode(first, options={"verify_signature": False})
    assert set(claims) == {"UserID", "PlatformID", "exp", "iat", "jti"}  # jti: see SECURITY.md
    user = Api(http, first)
    assert (await user.ok("/user/get_users_info", {"userIDs": ["t1"]}))["usersInfo"][0]["userID"] == "t1"
    # policy 1: a second token for the same platform kicks the first (even within the same second)
    second = await admin.user_token("t1", 5)
    assert (await user.call("/user/get_users_info", {"userIDs": ["t1"]}))["errCode"] == 1506
    # other platform keeps working
    await Api(http, second).ok("/user/get_users_info", {"userIDs": ["t1"]})
    # malformed / bad signature / expired / not existing
    assert (await user.call("/msg/get_server_time", {}, token="garbage"))["errCode"] == 1503
    forged = jwt.encode({"UserID": "t1", "PlatformID": 5, "exp": 2**31, "iat": 0}, "other", algorithm="HS256")
    assert (await user.call("/msg/get_server_time", {}, token=forged))["errCode"] == 1505
    expired = jwt.encode({"UserID": "t1", "PlatformID": 5, "exp": 1000, "iat": 0}, "openIM123", algorithm="HS256")
    assert (await user.call("/msg/get_server_time", {}, token=expired))["errCode"] == 1501
    unknown = jwt.encode({"UserID": "t1", "PlatformID": 3, "exp": 2**31, "iat": 0}, "openIM123", algorithm="HS256")
    assert (await user.call("/msg/get_server_time", {}, token=unknown))["errCode"] == 1507
    # force_logout kicks every token of the platform
    await admin.ok("/auth/force_logout", {"userID": "t1", "platformID": 5})
    assert (await Api(http, second).call("/msg/get_server_time", {}))["errCode"] == 1506
    # user token refused for admins and platform 10; non-admin gets 1002 on admin routes
    assert (await admin.call("/auth/get_user_token", {"userID": "imAdmin", "platformID": 5}))["errCode"] == 1002
    assert (await admin.call("/auth/get_user_token", {"userID": "t1", "platformID": 10}))["errCode"] == 1002
    third = await admin.user_token("t1", 3)
    env = await Api(http, third).call("/user/user_register", {"users": [{"userID": "zz", "nickname": "z"}]})
    assert env["errCode"] == 1002


async def test_user_routes(http: httpx.AsyncClient, admin: Api) -> None:
    await admin.register("u1", "u2")
    env = await admin.call("/user/user_register", {"users": [{"userID": "u1", "nickname": "x"}]})
    assert env["errCode"] == 1102
    env = await admin.call("/user/user_register", {"users": [{"userID": "a:b", "nickname": "x"}]})
    assert env["errCode"] == 1001 and env["errDlt"] == "userID is legal"
    u1 = Api(http, await admin.user_token("u1"))
    await u1.ok("/user/update_user_info_ex", {"userInfo": {"userID": "u1", "nickname": "Alice", "ex": "{}"}})
    env = await u1.call("/user/update_user_info_ex", {"userInfo": {"userID": "u2", "nickname": "X"}})
    assert env["errCode"] == 1002
    info = (await u1.ok("/user/get_users_info", {"userIDs": ["u1"]}))["usersInfo"][0]
    assert info["nickname"] == "Alice" and info["ex"] == "{}"
    page = await u1.ok("/user/get_users", {"pagination": {"pageNumber": 1, "showNumber": 10}})
    assert page["total"] == 3
    env = await u1.call("/user/get_all_users_uid", {})
    assert env["errDlt"] == "pagination is empty"
    ids = await u1.ok("/user/get_all_users_uid", {"pagination": {"pageNumber": 1, "showNumber": 10}})
    assert set(ids["userIDs"]) == {"imAdmin", "u1", "u2"}
    chk = await admin.ok("/user/account_check", {"checkUserIDs": ["u1", "nope"]})
    assert [r["accountStatus"] for r in chk["results"]] == [1, 0]
    status = await admin.ok("/user/get_users_online_status", {"userIDs": ["u1"]})
    assert status == [{"userID": "u1", "status": 0, "detailPlatformStatus": None}]
    assert await u1.ok("/user/get_users_online_token_detail", {"userIDs": ["u1"]}) is None
    await u1.ok("/user/process_user_command_add", {"userID": "u1", "type": 1, "uuid": "x", "value": "v"})
    got = await u1.ok("/user/process_user_command_get", {"userID": "u1", "type": 1})
    assert got["CommandResp"][0]["uuid"] == "x" and got["CommandResp"][0]["value"] == "v"
    await admin.ok("/user/set_user_client_config", {"userID": "", "configs": {"k": "v"}})
    assert (await u1.ok("/user/get_user_client_config", {"userID": "u1"}))["configs"] == {"k": "v"}
    acct = await admin.ok("/user/add_notification_account", {"nickName": "Bot"})
    assert acct["appMangerLevel"] >= 3
    # login-time routes answer well-formed
    inc = await u1.ok("/friend/get_incremental_friends", {"userID": "u1", "versionID": "", "version": 0})
    assert inc["full"] is True and inc["insert"] is None
    inc = await u1.ok("/group/get_incremental_join_groups", {"userID": "u1", "versionID": "", "version": 0})
    assert inc["full"] is True
    conv = await u1.ok("/conversation/get_incremental_conversations", {"userID": "u1", "versionID": "",
                                                                       "version": 0})
    assert conv["full"] is True and len(conv["versionID"]) == 24
    same = await u1.ok("/conversation/get_incremental_conversations",
                       {"userID": "u1", "versionID": conv["versionID"], "version": conv["version"]})
    assert same["full"] is False
    await u1.ok("/friend/get_black_list", {"userID": "u1", "pagination": {"pageNumber": 1, "showNumber": 200}})
    await u1.ok("/conversation/get_not_notify_conversation_ids", {"userID": "u1"})
    env = await admin.call("/group/create_group", {})
    assert env["errCode"] == 1001 and env["errDlt"] == "groupInfo is empty"
