"""Bounded input: big, deep, undecodable or log-forging requests are refused; everyone else is served.

* request bodies above ``max_body_bytes`` get HTTP 413 with OpenIM's envelope, decided from the
  Content-Length before anything is read, or while a chunked body streams in; whitelisted routes too;
  another client's REST call and WS send succeed while a 100 MB body is on the wire;
* JSON nesting is limited (REST and WS text frames); a bad text frame closes only its connection;
* lone surrogates / undecodable strings are 1001 ArgsError and nothing is stored;
* client-supplied strings cannot forge log lines;
* a form upload answered 204 is never gzip-encoded (it used to break the connection).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import connect

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.envelope import WsRequest, encode_request
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp
from server_stub.cli import log_handler

from .conftest import Api, WsClient, server_config, ws_url

MiB = 1024 * 1024
ADMIN_BODY = {"secret": "openIM123", "userID": "imAdmin"}


# --------------------------------------------------------------------------- helpers


async def _users(admin: Api, *ids: str) -> dict[str, str]:
    await admin.register(*ids)
    return {u: await admin.user_token(u) for u in ids}


def _text(send: str, recv: str, text: str = "hi") -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(sendID=send, recvID=recv, clientMsgID=f"{send}-{text}", sessionType=1, msgFrom=100,
                             contentType=101, content=json.dumps({"content": text}).encode(), senderPlatformID=5)


async def _max_seqs(api: Api, user: str) -> dict[str, int]:
    data = await api.ok("/msg/newest_seq", {"userID": user})
    return dict(data.get("maxSeqs") or {})


async def _post(api: Api, path: str, content: str | bytes) -> httpx.Response:
    """A raw JSON body, with the helper's operationID and token."""
    return await api.client.post(path, content=content, headers={
        "operationID": "raw-op", "token": api.token, "Content-Type": "application/json"})


def _assert_too_large(status: int, body: bytes, limit: int) -> None:
    assert status == 413, body
    env = json.loads(body)
    assert env["errCode"] == 1001 and env["errMsg"] == "ArgsError"
    assert str(limit) in env["errDlt"] and "max_body_bytes" in env["errDlt"]


class RawHttp:
    """One keep-alive HTTP/1.1 connection, byte for byte (httpx reads a response only after the body)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str) -> None:
        self.reader, self.writer, self.host = reader, writer, host

    @classmethod
    async def open(cls, url: str) -> RawHttp:
        u = urllib.parse.urlsplit(url)
        reader, writer = await asyncio.open_connection(u.hostname, u.port)
        return cls(reader, writer, u.netloc)

    def send_head(self, method: str, target: str, headers: dict[str, str]) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}", "operationID: raw-op"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    async def response(self) -> tuple[int, dict[str, str], bytes]:
        return await asyncio.wait_for(self._response(), 30)  # a safety net only: a broken server hangs here

    async def _response(self) -> tuple[int, dict[str, str], bytes]:
        head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture
async def small(tmp_path: Any) -> AsyncIterator[ServerApp]:
    """A server with a 4 KiB body limit."""
    async with ServerApp(server_config(tmp_path, max_body_bytes=4096)) as srv:
        yield srv


# --------------------------------------------------------------------------- body size


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_100mb_body_refused_while_other_clients_are_served(
        server: ServerApp, admin: Api, declared: bool) -> None:
    """The body is refused with 413 + envelope on a whitelisted route; halfway through sending it,
    another client's REST call and WS send succeed (the generator awaits them mid-body)."""
    tokens = await _users(admin, "alice", "bob")
    head, chunk, n_chunks = b'{"secret":"openIM123","userID":"imAdmin","pad":"', b" " * MiB, 100
    served: list[str] = []
    async with connect(ws_url(server, "alice", tokens["alice"])) as ws, \
            httpx.AsyncClient(base_url=server.api_url, timeout=60) as other:
        alice = WsClient(ws, "alice")

        async def body() -> AsyncIterator[bytes]:
            yield head
            for i in range(n_chunks):
                if i == 50:  # 50 MB on the wire: the others are still served
                    bob = Api(other, tokens["bob"])
                    assert (await bob.ok("/user/get_users_info", {"userIDs": ["bob"]}))["usersInfo"]
                    served.append("rest")
                    sent = await alice.request(1003, _text("alice", "bob", "during").SerializeToString())
                    assert sent.err_code == 0, sent
                    served.append("ws")
                yield chunk
            yield b'"}'

        headers = {"operationID": "big", "Content-Type": "application/json"}
        if declared:
            headers["Content-Length"] = str(len(head) + n_chunks * len(chunk) + 2)
        async with httpx.AsyncClient(base_url=server.api_url, timeout=60) as big:
            r = await big.post("/auth/get_admin_token", content=body(), headers=headers)
        _assert_too_large(r.status_code, r.content, server.config.max_body_bytes)
        assert served == ["rest", "ws"]
        assert (await _max_seqs(admin, "bob"))["si_alice_bob"] == 1
        # the big client's connection is still usable afterwards
        assert (await Api(other).ok("/auth/get_admin_token", ADMIN_BODY))["token"]


async def test_declared_length_refused_before_any_body_byte(small: ServerApp) -> None:
    """Only the headers are sent: the 413 comes back at once, so it was decided from Content-Length."""
    conn = await RawHttp.open(small.api_url)
    try:
        conn.send_head("POST", "/auth/get_admin_token", {"Content-Type": "application/json",
                                                         "Content-Length": str(100 * MiB)})
        status, _, body = await conn.response()
        _assert_too_large(status, body, 4096)
    finally:
        await conn.close()


async def test_chunked_body_refused_while_streaming(small: ServerApp) -> None:
    """No Content-Length: the server stops at the limit and answers while the client is still sending."""
    conn = await RawHttp.open(small.api_url)
    sent = 0
    try:
        conn.send_head("POST", "/auth/get_admin_token", {"Content-Type": "application/json",
                                                         "Transfer-Encoding": "chunked"})
        answer = asyncio.ensure_future(conn.response())
        chunk = b" " * 1024
        while not answer.done() and sent < 100 * MiB:
            conn.writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
            await conn.writer.drain()
            await asyncio.sleep(0)  # let the (in-process) server and the reader run
        status, _, body = await answer
        _assert_too_large(status, body, 4096)
        assert sent < 100 * MiB  # answered long before the end of the body
    finally:
        await conn.close()


@pytest.mark.parametrize("chunked", [False, True])
async def test_limit_is_exact_and_applies_before_the_token_check(small: ServerApp, chunked: bool) -> None:
    async with httpx.AsyncClient(base_url=small.api_url, timeout=10) as http:
        api = Api(http)
        base = json.dumps(ADMIN_BODY).encode()

        async def post(path: str, size: int) -> httpx.Response:
            data = base[:-1] + b" " * (size - len(base)) + b"}"
            assert len(data) == size
            if chunked:
                async def gen() -> AsyncIterator[bytes]:
                    for i in range(0, len(data), 1000):
                        yield data[i:i + 1000]
                return await http.post(path, content=gen(), headers={"operationID": "x"})
            return await http.post(path, content=data, headers={"operationID": "x"})

        at_limit = await post("/auth/get_admin_token", 4096)
        assert at_limit.status_code == 200 and at_limit.json()["errCode"] == 0
        over = await post("/auth/get_admin_token", 4097)
        _assert_too_large(over.status_code, over.content, 4096)
        for path in ("/auth/parse_token", "/user/get_users_info", "/msg/send_msg"):  # no token sent at all
            r = await post(path, 4097)
            if chunked and path != "/auth/parse_token":  # refused for the missing token, body never read
                assert r.status_code == 200 and r.json()["errCode"] == 1001 and "token" in r.json()["errDlt"]
            else:
                _assert_too_large(r.status_code, r.content, 4096)
        assert (await api.ok("/auth/get_admin_token", ADMIN_BODY))["token"]


async def test_big_allowed_body_is_decoded(server: ServerApp, admin: Api) -> None:
    """A body above the off-loop threshold (256 KiB) but under the limit works on every binding."""
    users = [{"userID": f"u{i:05d}", "nickname": "n" * 100} for i in range(3000)]
    raw = json.dumps({"users": users}).encode()
    assert len(raw) > 256 * 1024
    await admin.ok("/user/user_register", {"users": users})
    info = await admin.ok("/user/get_users_info", {"userIDs": ["u02999"]})
    assert info["usersInfo"][0]["nickname"] == "n" * 100
    # gin BindJSON route with a big body
    tokens = await _users(admin, "bigs", "bigr")
    assert tokens
    content = {"content": "x" * (300 * 1024)}
    data = await admin.ok("/msg/send_msg", {"sendID": "bigs", "recvID": "bigr", "senderPlatformID": 1,
                                            "content": content, "contentType": 101, "sessionType": 1})
    assert data["serverMsgID"]


# --------------------------------------------------------------------------- nesting


async def test_deep_json_on_rest_is_args_error(server: ServerApp, admin: Api) -> None:
    await admin.register("deep")
    deep = "[" * 20000 + "]" * 20000
    bodies = {
        "/user/update_user_info": '{"userInfo":{"userID":"deep","nickname":"x"},"x":' + deep + "}",  # a2r
        "/msg/send_msg": '{"sendID":"deep","recvID":"imAdmin","x":' + deep + "}",  # gin BindJSON
    }
    for path, text in bodies.items():
        r = await _post(admin, path, text)
        env = r.json()
        assert env["errCode"] == 1001, env
        assert "exceeded max depth" in env["errMsg"] + env["errDlt"]
        assert r.status_code == (400 if path == "/msg/send_msg" else 200)
    nested = '{"userInfo":{"userID":"deep","nickname":"y"},"x":' + "[" * 99 + "]" * 99 + "}"
    r = await _post(admin, "/user/update_user_info", nested)
    assert r.json()["errCode"] == 0  # 100 levels (with the outer object) is still fine
    info = await admin.ok("/user/get_users_info", {"userIDs": ["deep"]})
    assert info["usersInfo"][0]["nickname"] == "y"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("[" * 20000 + "]" * 20000, 1007),
        ('{"type":"ping","body":' + "[" * 101 + "]" * 101 + "}", 1007),
        ('{"type":"ping","body":"\\ud800"}', 1007),
        ("{not json", 1007),
        ('{"type":"hello"}', 1003),
    ],
    ids=["20000-deep", "101-deep-ping", "lone-surrogate", "malformed", "not-ping"],
)
async def test_bad_ws_text_frame_closes_only_that_connection(
        server: ServerApp, admin: Api, frame: str, code: int) -> None:
    tokens = await _users(admin, "alice", "bob")
    async with connect(ws_url(server, "alice", tokens["alice"])) as wa, \
            connect(ws_url(server, "bob", tokens["bob"])) as wb:
        await wa.send(frame)
        with pytest.raises(websockets.ConnectionClosed) as exc:
            await asyncio.wait_for(wa.recv(), 5)
        assert exc.value.rcvd is not None and exc.value.rcvd.code == code
        await wb.send('{"type":"ping","body":' + "[" * 50 + "]" * 50 + "}")
        assert await asyncio.wait_for(wb.recv(), 5) == '{"type":"pong","body":' + "[" * 50 + "]" * 50 + "}"
        bob = WsClient(wb, "bob")
        assert (await bob.request(1003, _text("bob", "alice").SerializeToString())).err_code == 0


# --------------------------------------------------------------------------- undecodable strings


async def test_lone_surrogate_on_rest_is_args_error_and_nothing_stored(server: ServerApp, admin: Api) -> None:
    await admin.register("s1", "s2")
    send = ('{"sendID":"s1","recvID":"s2","senderPlatformID":1,"content":{"content":"a\\ud800b"},'
            '"contentType":101,"sessionType":1}')
    r = await _post(admin, "/msg/send_msg", send)
    assert r.status_code == 400 and r.json()["errCode"] == 1001
    assert "lone surrogate" in r.json()["errDlt"]
    # invalid UTF-8 bytes too
    r = await _post(admin, "/msg/send_msg", send.replace("\\ud800", "\xff").encode("latin-1"))
    assert r.status_code == 400 and r.json()["errCode"] == 1001 and "UTF-8" in r.json()["errDlt"]
    assert "si_s1_s2" not in await _max_seqs(admin, "s2")
    # a2r route: the detail is in errMsg (spec rest-api 3.3), the user is unchanged
    for nick in ('"x\\ud800y"', '"\\udfff"', '"\\ude00\\ud83d"'):
        r = await _post(admin, "/user/update_user_info", '{"userInfo":{"userID":"s1","nickname":' + nick + "}}")
        assert r.status_code == 200 and r.json()["errCode"] == 1001 and "lone surrogate" in r.json()["errMsg"]
    info = await admin.ok("/user/get_users_info", {"userIDs": ["s1"]})
    assert info["usersInfo"][0]["nickname"] == "s1"
    # a valid pair is fine
    await admin.ok("/user/update_user_info", {"userInfo": {"userID": "s1", "nickname": "\U0001f600"}})
    info = await admin.ok("/user/get_users_info", {"userIDs": ["s1"]})
    assert info["usersInfo"][0]["nickname"] == "\U0001f600"


@pytest.mark.parametrize("sdk_type", ["go", "js"])
async def test_undecodable_string_in_ws_send_is_args_error(server: ServerApp, admin: Api, sdk_type: str) -> None:
    """A MsgData whose string field is not UTF-8 (a surrogate encoded as bytes) -> 1001, nothing stored,
    the connection keeps working (gob and JSON envelopes)."""
    tokens = await _users(admin, "alice", "bob")
    encoding = "json" if sdk_type == "js" else "gob"
    async with connect(ws_url(server, "alice", tokens["alice"], sdkType=sdk_type)) as ws:
        alice = WsClient(ws, "alice", encoding=encoding)
        data = _text("alice", "bob", "bad").SerializeToString() + b"\x3a\x03\xed\xa0\x80"  # senderNickname (7)
        resp = await alice.request(1003, data)
        assert resp.err_code == 1001 and resp.err_msg == "ArgsError"
        assert "si_alice_bob" not in await _max_seqs(admin, "bob")
        assert (await alice.request(1003, _text("alice", "bob", "ok").SerializeToString())).err_code == 0
        assert (await _max_seqs(admin, "bob"))["si_alice_bob"] == 1


# --------------------------------------------------------------------------- logs


_RECORD_START = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ server_stub")


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.n += 1


async def test_client_strings_cannot_forge_log_lines(server: ServerApp, admin: Api) -> None:
    tokens = await _users(admin, "alice")
    forged = "\n2030-01-01 00:00:00,000 INFO server_stub.rest [op=x] FORGED"
    stream, counter = io.StringIO(), _Count()
    handler = log_handler(stream)
    logger = logging.getLogger("server_stub")
    old_level = logger.level
    logger.addHandler(handler)
    logger.addHandler(counter)
    logger.setLevel(logging.INFO)
    try:
        # REST: a NEL (obs-text, allowed in a header) in the operationID; a newline in the path is
        # refused by the router before any of our code logs it
        r = await admin.client.post("/user/x" + urllib.parse.quote(forged), json={},
                                    headers={"operationID": b"op\x85FORGED", "token": admin.token})
        assert r.status_code == 404
        await admin.client.post("/auth/get_admin_token", json=ADMIN_BODY,
                                headers={"operationID": "op\u2028FORGED".encode()})
        # WS: operationID and sdkType in the handshake query, operationID in a request envelope
        q = urllib.parse.quote(forged + "\x1b[31m")
        bad = ws_url(server, "alice", tokens["alice"], sdkType=q)
        async with httpx.AsyncClient() as c:
            assert (await c.get(bad.replace("ws://", "http://"))).json()["errCode"] == 1602
        url = ws_url(server, "alice", tokens["alice"]).replace("operationID=", "operationID=" + q)
        async with connect(url) as ws:
            alice = WsClient(ws, "alice")
            req = WsRequest(1001, send_id="alice", operation_id="op" + forged, msg_incr="m1",
                            data=sdkws_pb2.GetMaxSeqReq(userID="alice").SerializeToString())
            await ws.send(encode_request(req, "gob", False))  # type: ignore[arg-type]
            assert (await alice.recv()).msg_incr == "m1"
    finally:
        logger.removeHandler(handler)
        logger.removeHandler(counter)
        logger.setLevel(old_level)
    text = stream.getvalue()
    lines = text.splitlines()  # splits on \n, \r, \x85, \u2028, ... as a log viewer might
    assert len(lines) == text.count("\n") == counter.n > 0
    assert all(_RECORD_START.match(line) for line in lines), lines
    assert "FORGED" in text and not any(line.startswith("2030") for line in lines)
    assert "\x1b" not in text and "\\x1b[31m" in text and "\\n2030-01-01" in text


# --------------------------------------------------------------------------- 204 + gzip


async def test_form_upload_204_is_not_gzipped_and_keeps_the_connection(small: ServerApp) -> None:
    """The form POST (bigger than max_body_bytes: file routes have their own limits) from a client
    accepting gzip is answered 204 without a body or Content-Encoding; the same connection then
    serves the next request, and complete_form_data succeeds."""
    async with httpx.AsyncClient(base_url=small.api_url, timeout=10) as http:
        admin = Api(http)
        admin.token = (await admin.ok("/auth/get_admin_token", ADMIN_BODY))["token"]
        await admin.register("fu")
        user = Api(http, await admin.user_token("fu"))
        content = bytes(range(256)) * 64  # 16 KiB > the 4 KiB body limit
        init = await user.ok("/object/initiate_form_data", {"name": "fu/f.bin", "size": len(content),
                                                            "contentType": "application/octet-stream"})
        boundary = "bounded-input-boundary"
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in init["formData"].items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{init["file"]}"; filename="f.bin"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n")
        form = b"".join(parts) + f"--{boundary}--\r\n".encode()
        url = urllib.parse.urlsplit(init["url"])
        conn = await RawHttp.open(init["url"])
        try:
            conn.send_head("POST", url.path + "?" + url.query, {
                "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(len(form)),
                "Accept-Encoding": "gzip"})
            conn.writer.write(form)
            status, headers, body = await conn.response()
            assert status == 204 and body == b""
            assert "content-encoding" not in headers and headers.get("content-length", "0") == "0"
            payload = json.dumps(ADMIN_BODY).encode()
            conn.send_head("POST", "/auth/get_admin_token", {"Content-Type": "application/json",
                                                             "Content-Length": str(len(payload)),
                                                             "Accept-Encoding": "gzip"})
            conn.writer.write(payload)
            status, headers, body = await conn.response()
            assert status == 200 and headers["content-encoding"] == "gzip"  # non-empty bodies still gzipped
        finally:
            await conn.close()
        done = await user.ok("/object/complete_form_data", {"id": init["id"]})
        got = await http.get(done["url"], follow_redirects=True)
        assert got.content == content


def test_codec_limits_documented() -> None:
    assert jsoncodec.MAX_DEPTH == 100 and jsoncodec.MAX_VALUES == 250_000
