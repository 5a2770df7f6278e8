# ruff: noqa: F811  (pytest fixtures imported from test_part2_helpers)
"""Part 2: object upload/download, logs, FCM/badge, statistics, discovery, prometheus, config, conversations."""

from __future__ import annotations

import hashlib
import os
import time

import httpx

from openim_sdk.rest.files import openim_hash, part_md5s, upload_file
from server_stub import ServerApp

from .conftest import Api
from .test_part2_helpers import Users, Ws, next_notification, p2, text_msg, users  # noqa: F401


async def test_multipart_upload_download(p2: ServerApp, users: Users) -> None:
    p2.core.config.extra["min_part_size"] = 1 << 20  # 1 MiB parts keep the test fast
    await users.add("f1", "f2")
    api = users.api["f1"]
    assert (await api.ok("/object/part_limit", {}))["minPartSize"] == 1 << 20
    assert (await api.ok("/object/part_size", {"size": 3_500_000}))["size"] == 1 << 20
    data = os.urandom(3_500_000)
    state = await upload_file(users.sdk["f1"], data, "f1/docs/blob.bin", content_type="application/x-test")
    assert state.url == f"{p2.api_url}/object/f1/docs/blob.bin"
    async with httpx.AsyncClient() as http:
        r = await http.get(state.url)
        assert r.status_code == 302 and "/_files/f1/docs/blob.bin?" in r.headers["location"]
        r = await http.get(state.url, follow_redirects=True)
        assert r.status_code == 200 and r.content == data
        assert r.headers["content-type"].startswith("application/x-test")
        assert (await http.get(f"{p2.api_url}/object/f1/none")).status_code == 404
        bad = r.url.copy_with(query=b"expires=99999999999999&signature=00")
        assert (await http.get(bad)).status_code == 403
    acc = await api.ok("/object/access_url", {"name": "f1/docs/blob.bin"})
    assert acc["expireTime"] > time.time() * 1000 and "/_files/" in acc["url"]
    # same content again: already stored, no upload
    md5s = part_md5s(data, 1 << 20)
    again = await api.ok("/object/initiate_multipart_upload", {
        "hash": openim_hash(md5s), "size": len(data), "partSize": 1 << 20, "maxParts": -1,
        "name": "f1/copy.bin", "contentType": "application/octet-stream"})
    assert again["upload"] is None and again["url"].endswith("/object/f1/copy.bin")
    # X-Request-Api decides the URL prefix
    env = await api.call("/object/access_url", {"name": "f1/copy.bin"})
    assert env["data"]["url"].startswith(p2.api_url)
    r = await api.raw("/object/access_url", {"name": "f1/copy.bin"}, headers={"X-Request-Api": "https://im.example/api"})
    assert r.json()["data"]["url"].startswith("https://im.example/api/_files/")
    # md5 join check, name rules, size limit
    other = os.urandom(1000)
    h = openim_hash(part_md5s(other, 1 << 20))
    init = await api.ok("/object/initiate_multipart_upload", {
        "hash": h, "size": len(other), "partSize": 1 << 20, "maxParts": -1, "name": "f1/o.bin"})
    part = init["upload"]["sign"]["parts"][0]
    async with httpx.AsyncClient() as http:
        q = {kv["key"]: kv["values"][0] for kv in part["query"]}
        assert (await http.put(part["url"], params=q, content=other + b"extra")).status_code == 413
        assert (await http.put(part["url"], params=q, content=other)).status_code == 200
    env = await api.call("/object/complete_multipart_upload", {"uploadID": init["upload"]["uploadID"],
                                                               "parts": [hashlib.md5(b"x").hexdigest()],
                                                               "name": "f1/o.bin"})
    assert env["errCode"] == 500 and env["errDlt"] == "md5 mismatching"
    env = await api.call("/object/initiate_multipart_upload", {"hash": h, "size": 10, "partSize": 1 << 20,
                                                               "name": "f2/not-mine.bin"})
    assert env["errCode"] == 1002
    p2.core.config.extra["max_file_size"] = 1000
    env = await api.call("/object/initiate_multipart_upload", {"hash": h, "size": 5000, "partSize": 1 << 20,
                                                               "name": "f1/big.bin"})
    assert env["errCode"] == 1001 and "too large" in env["errDlt"]


async def test_form_data_upload(p2: ServerApp, users: Users) -> None:
    await users.add("w1")
    api = users.api["w1"]
    content = b"hello form" * 100
    init = await api.ok("/object/initiate_form_data", {"name": "w1/f.txt", "size": len(content),
                                                       "contentType": "text/plain"})
    assert init["file"] == "file" and 204 in init["successCodes"]
    async with httpx.AsyncClient() as http:
        r = await http.post(init["url"], data=init["formData"], files={"file": ("f.txt", content, "text/plain")})
        assert r.status_code == 204
    done = await api.ok("/object/complete_form_data", {"id": init["id"]})
    async with httpx.AsyncClient() as http:
        assert (await http.get(done["url"], follow_redirects=True)).content == content
    init = await api.ok("/object/initiate_form_data", {"name": "w1/g.txt", "size": 5})
    async with httpx.AsyncClient() as http:
        await http.post(init["url"], files={"file": ("g.txt", b"abc", "text/plain")})
    env = await api.call("/object/complete_form_data", {"id": init["id"]})
    assert env["errCode"] == 90007


async def test_logs_fcm_badge_statistics(p2: ServerApp, users: Users, admin: Api) -> None:
    await users.add("s1", "s2")
    s1 = users.api["s1"]
    await s1.ok("/third/logs/upload", {"platform": 5, "fileURLs": [{"filename": "a.log", "URL": "http://x/a.log"}],
                                       "appFramework": "py", "version": "1.0"})
    found = await admin.ok("/third/logs/search", {"keyword": "s1", "pagination": {"pageNumber": 1, "showNumber": 10}})
    assert found["total"] == 1 and found["logsInfos"][0]["filename"] == "a.log"
    assert found["logsInfos"][0]["platform"] == "Web"
    assert (await s1.call("/third/logs/search", {"pagination": {"pageNumber": 1, "showNumber": 10}}))["errCode"] == 1002
    await admin.ok("/third/logs/delete", {"logIDs": [found["logsInfos"][0]["logID"]]})
    assert (await admin.call("/third/logs/delete", {"logIDs": ["nope"]}))["errCode"] == 1004
    await s1.ok("/third/fcm_update_token", {"platformID": 2, "fcmToken": "tok", "account": "s1"})
    assert (await s1.call("/third/fcm_update_token", {"platformID": 99, "fcmToken": "t", "account": "s1"}))[
        "errDlt"] == "platformID is invalidate"
    await s1.ok("/third/set_app_badge", {"userID": "s1", "appUnreadCount": 3})
    assert (await s1.call("/third/set_app_badge", {"userID": "s2"}))["errCode"] == 1002

    now = int(time.time() * 1000)
    reg = await s1.ok("/statistics/user/register", {"start": now - 86_400_000, "end": now + 1000})
    assert reg["total"] >= 3 and sum(reg["count"].values()) >= 2
    assert (await s1.call("/statistics/user/register", {"start": 0, "end": now}))["errDlt"] == "start is invalid"
    async with Ws(p2, "s1", users.tokens["s1"]) as w:
        for _ in range(2):
            assert (await w.request(1003, text_msg("s1", "s2"))).err_code == 0
    await admin.ok("/group/create_group", {"ownerUserID": "s1", "memberUserIDs": ["s2"],
                                           "groupInfo": {"groupID": "sg", "groupType": 2}})
    async with Ws(p2, "s2", users.tokens["s2"]) as w:
        assert (await w.request(1003, text_msg("s2", group="sg"))).err_code == 0
    span = {"start": now - 60_000, "end": int(time.time() * 1000) + 1000}
    active = await admin.ok("/statistics/user/active", {**span, "group": True,
                                                        "pagination": {"pageNumber": 1, "showNumber": 10}})
    assert active["msgCount"] == 3 and active["userCount"] == 2 and active["users"][0]["user"]["userID"] == "s1"
    gact = await admin.ok("/statistics/group/active", {**span, "pagination": {"pageNumber": 1, "showNumber": 10}})
    assert gact["groupCount"] == 1 and gact["groups"][0]["count"] == 1
    gc = await admin.ok("/statistics/group/create", span)
    assert gc["total"] == 1 and sum(gc["count"].values()) == 1
    assert (await s1.call("/statistics/group/create", span))["errCode"] == 1002


async def test_discovery_prometheus_config(p2: ServerApp, users: Users, admin: Api) -> None:
    async with httpx.AsyncClient(base_url=p2.api_url) as http:
        r = await http.get("/prometheus_discovery/api")
        assert r.status_code == 200 and r.json() == [] and r.headers["content-type"].startswith("application/json")
        r = await http.get("/third/prometheus")
        assert r.status_code == 302 and r.headers["location"]
    lst = await admin.ok("/config/get_config_list", {})
    assert "share.yml" in lst["configNames"]
    cfg = await admin.ok("/config/get_config", {"configName": "share.yml"})
    assert isinstance(cfg, str) and "imAdminUserID" in cfg and "openIM123" not in cfg
    env = await admin.call("/config/set_config", {"configName": "share.yml", "data": "{}"})
    assert env["errCode"] == 500 and env["errDlt"].startswith("only etcd support")
    assert (await admin.ok("/config/get_enable_config_manager", {})) == {"enable": False}
    assert (await admin.call("/restart", {}))["errCode"] == 0
    await users.add("c1")
    assert (await users.api["c1"].call("/config/get_config", {"configName": "share.yml"}))["errCode"] == 1002


async def test_conversation_routes(p2: ServerApp, users: Users) -> None:
    await users.add("k1", "k2")
    k1 = users.api["k1"]
    async with Ws(p2, "k1", users.tokens["k1"]) as w:
        assert (await w.request(1003, text_msg("k1", "k2"))).err_code == 0
        await k1.ok("/conversation/set_conversations", {"userIDs": ["k1"], "conversation": {
            "conversationID": "si_k1_k2", "conversationType": 1, "userID": "k2", "isPinned": True,
            "isPrivateChat": True, "burnDuration": 30}})
        _, _, change = await next_notification(w, 1300)
        assert change == {"userID": "k1", "conversationIDList": ["si_k1_k2"]}
        _, _, private = await next_notification(w, 1701)
        assert private["isPrivate"] is True and private["conversationID"] == "si_k1_k2"
    conv = await k1.ok("/conversation/get_conversation", {"ownerUserID": "k1", "conversationID": "si_k1_k2"})
    c = conv["conversation"]
    assert c["isPinned"] and c["isPrivateChat"] and c["burnDuration"] == 30
    inc = await k1.ok("/conversation/get_incremental_conversations", {"userID": "k1", "versionID": "", "version": 0})
    await k1.ok("/conversation/update_conversations_by_user", {"userID": "k1", "ex": "E"})
    delta = await k1.ok("/conversation/get_incremental_conversations",
                        {"userID": "k1", "versionID": inc["versionID"], "version": inc["version"]})
    assert [x["ex"] for x in delta["update"]] == ["E"]
    js = await k1.ok("/jssdk/get_conversations", {"conversationIDs": ["si_k1_k2"]})
    assert js["conversations"][0]["lastMsg"]["sendID"] == "k1"
    await k1.ok("/conversation/delete_conversations", {"ownerUserID": "k1", "conversationIDs": ["si_k1_k2"]})
    delta = await k1.ok("/conversation/get_incremental_conversations",
                        {"userID": "k1", "versionID": inc["versionID"], "version": inc["version"]})
    assert delta["delete"] == ["si_k1_k2"]
    env = await users.api["k2"].call("/conversation/delete_conversations",
                                     {"ownerUserID": "k1", "conversationIDs": ["si_k1_k2"]})
    assert env["errCode"] == 1002
