"""Session device operations against the bundled server (issue 13, item 3 "session"): logout,
background status, FCM token, app badge, log upload, login status, network change."""

from __future__ import annotations

import asyncio
import zipfile
from io import BytesIO
from typing import Any

import openim_sdk
from openim_sdk.client import OpenIMClient
from openim_sdk.events import ConnectionState, SessionEnded
from openim_sdk.protocol.errors import LocalError
from openim_sdk.rest import RestClient
from openim_sdk.rest.files import download
from openim_sdk.session.device import SDK_VERSION, LoginStatus
from server_stub import ServerApp


async def _client(server: ServerApp, tmp_path: Any, uid: str = "dev1", platform: int = 7) -> OpenIMClient:
    admin = await RestClient.admin(server.api_url)
    async with admin:
        await admin.user.user_register(users=[{"userID": uid, "nickname": uid}])
        token = await admin.mint_user_token(uid, platform)
    return OpenIMClient(server.api_url, server.ws_url, uid, token, platform_id=platform,
                        data_dir=tmp_path / f"data-{uid}", backoff=(0.05, 0.1, 0.2))


def _server_conns(server: ServerApp, uid: str) -> list[Any]:
    assert server.core is not None
    return list(server.core.hub.clients.get(uid, ()))


async def _fetch(client: OpenIMClient, url: str, dest: Any) -> bytes:
    await download(client.api, url, dest)
    return bytes(dest.read_bytes())


async def _until(cond: Any, timeout: float = 5) -> None:
    async def loop() -> None:
        while not cond():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(loop(), timeout)


async def test_logout_ends_the_session_and_drops_the_push_token(server, tmp_path):
    client = await _client(server, tmp_path)
    assert client.get_login_status() == LoginStatus.LOGGED_OUT
    ended: list[SessionEnded] = []
    client.on(SessionEnded)(ended.append)
    await client.start()
    try:
        await client.wait_synced(10)
        assert client.get_login_status() == LoginStatus.LOGGED
        await client.update_fcm_token("fcm-abc", 3600)
        assert server.core is not None
        assert await server.core.storage.third_value("dev1", "fcm:7") == "fcm-abc"
        await client.logout()
        assert ended and ended[0].reason == ConnectionState.STOPPED
        assert client.state == ConnectionState.STOPPED
        assert client.get_login_status() == LoginStatus.LOGGED_OUT
        # the server dropped the device's push token and the connection ...
        assert await server.core.storage.third_value("dev1", "fcm:7") is None
        await _until(lambda: not _server_conns(server, "dev1"))
        # ... but, as upstream (no "logout self" route; only /auth/force_logout kicks), the token stays valid
        async with RestClient(server.api_url, client.api.token) as rest:
            info = await rest.user.get_users_info(user_ids=["dev1"])
            assert info.usersInfo[0].userID == "dev1"
    finally:
        await client.close()


async def test_background_status_reaches_the_server(server, tmp_path):
    client = await _client(server, tmp_path)
    async with client:
        await client.wait_synced(10)
        (conn,) = _server_conns(server, "dev1")
        assert conn.is_background is False
        await client.set_app_background_status(True)
        assert conn.is_background is True
        assert client.ws.is_background is True  # sent as isBackground at the next handshake too
        # the server's push rule: an iOS connection in the background gets no pushes (1604) ...
        conn.platform_id = 1
        assert server.core is not None and not server.core.hub.online("dev1")
        await client.set_app_background_status(False)
        assert conn.is_background is False and server.core.hub.online("dev1")
        conn.platform_id = 7


async def test_fcm_token_and_badge_stored(server, tmp_path):
    client = await _client(server, tmp_path)
    async with client:
        await client.wait_synced(10)
        await client.update_fcm_token("fcm-1", 100)
        await client.update_fcm_token("fcm-2", 200)
        await client.set_app_badge(7)
        assert server.core is not None
        assert await server.core.storage.third_value("dev1", "fcm:7") == "fcm-2"
        assert await server.core.storage.third_value("dev1", "badge") == "7"


async def test_upload_logs_is_found_by_search(server, tmp_path):
    client = await _client(server, tmp_path)
    async with client:
        await client.wait_synced(10)
        with_no_logs = client.upload_logs()
        try:
            await with_no_logs
            raise AssertionError("no log files: expected LocalError")
        except LocalError:
            pass
        logs = client.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "sdk.log.2026-12-01").write_text("old line\n")
        (logs / "sdk.log.2026-12-02").write_text("\n".join(f"line {i}" for i in range(10)))
        seen: list[tuple[int, int]] = []
        url = await client.upload_logs(ex="crash report", progress=lambda done, total: seen.append((done, total)))
        assert seen and seen[-1][0] == seen[-1][1]
        admin = await RestClient.admin(server.api_url)
        async with admin:
            found = await admin.third.logs_search(keyword="dev1", pagination={"pageNumber": 1, "showNumber": 10})
        assert found.total == 1
        entry = found.logsInfos[0]
        assert entry.url == url and entry.userID == "dev1" and entry.platform == "Linux"
        assert entry.ex == "crash report" and entry.version == SDK_VERSION
        body = await _fetch(client, url, tmp_path / "a.zip")
        with zipfile.ZipFile(BytesIO(body)) as z:
            assert sorted(z.namelist()) == ["sdk.log.2026-12-01", "sdk.log.2026-12-02"]
        # line=n: only the newest file's last n lines
        url2 = await client.upload_logs([logs / "sdk.log.2026-12-02"], line=3)
        body = await _fetch(client, url2, tmp_path / "b.zip")
        with zipfile.ZipFile(BytesIO(body)) as z:
            (name,) = z.namelist()
            assert z.read(name).decode() == "line 7\nline 8\nline 9"


async def test_network_status_changed_reconnects_at_once(server, tmp_path):
    client = await _client(server, tmp_path)
    client.ws.backoff = (30.0, 30.0)  # without the nudge, a dropped socket would wait 30 s
    async with client:
        await client.wait_synced(10)
        (first,) = _server_conns(server, "dev1")
        client.network_status_changed()
        await _until(lambda: [c for c in _server_conns(server, "dev1") if c is not first], timeout=10)
        await client.wait_synced(10)
        assert client.get_sdk_version() == SDK_VERSION == openim_sdk.__version__
