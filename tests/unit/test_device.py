"""The device part without sockets: login status, background flag offline, log zips."""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest

import openim_sdk
from openim_sdk import events as ev
from openim_sdk.protocol.errors import LocalError
from openim_sdk.session.connection_state import SessionState
from openim_sdk.session.device import SDK_VERSION, Device, LoginStatus, _zip_logs, login_status_of


class FakeConnection:
    platform_id = 7
    is_background = False
    connected = False

    def __init__(self) -> None:
        self.requests: list[tuple[int, bytes]] = []
        self.nudged = 0

    async def logout(self, timeout: float | None = None) -> None:
        self.requests.append((2003, b""))

    async def request(self, req_identifier: int, data: bytes = b"", timeout: float | None = None, *,
                      operation_id: str | None = None) -> object:
        self.requests.append((req_identifier, data))
        return None

    def reconnect_now(self) -> None:
        self.nudged += 1


class Ctx:
    user_id = "u"


async def _noop() -> None:
    return None


def _device(conn: FakeConnection) -> Device:
    return Device(Ctx(), conn, end_session=_noop, login_status=lambda: LoginStatus.LOGGED)  # type: ignore[arg-type]


def test_login_status_follows_the_session() -> None:
    async def nothing(*_: Any) -> None:
        return None

    s = SessionState(lambda e: None, on_connected_changed=lambda c: None, on_push=nothing, on_disconnected=nothing)
    assert login_status_of(False, s) == LoginStatus.LOGGED_OUT
    s.set(ev.ConnectionState.CONNECTING)
    assert login_status_of(True, s) == LoginStatus.LOGGING
    s.set(ev.ConnectionState.CONNECTED)
    assert login_status_of(True, s) == LoginStatus.LOGGED
    s.set(ev.ConnectionState.RECONNECTING)
    assert login_status_of(True, s) == LoginStatus.LOGGED
    s.end(ev.ConnectionState.STOPPED, None)
    assert login_status_of(True, s) == LoginStatus.LOGGED_OUT


async def test_background_offline_is_remembered_and_online_is_sent() -> None:
    conn = FakeConnection()
    dev = _device(conn)
    await dev.set_app_background_status(True)
    assert conn.is_background and conn.requests == []
    conn.connected = True
    await dev.set_app_background_status(False)
    assert not conn.is_background and [r[0] for r in conn.requests] == [2004]


async def test_logout_sends_then_ends() -> None:
    conn = FakeConnection()
    ended: list[bool] = []

    async def end() -> None:
        ended.append(bool(conn.requests))

    dev = Device(Ctx(), conn, end_session=end, login_status=lambda: LoginStatus.LOGGED)  # type: ignore[arg-type]
    await dev.logout()
    assert ended == [True]


def test_network_change_nudges_the_connection() -> None:
    conn = FakeConnection()
    _device(conn).network_status_changed()
    assert conn.nudged == 1


async def test_upload_logs_refuses_bad_line_and_no_files(tmp_path: Path) -> None:
    dev = _device(FakeConnection())
    with pytest.raises(LocalError):
        await dev.upload_logs(line=-1)
    with pytest.raises(LocalError):
        await dev.upload_logs([tmp_path / "missing.log"])


def test_zip_all_or_the_tail_of_the_newest(tmp_path: Path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("1\n2\n")
    b.write_text("x\ny\nz\n")
    with zipfile.ZipFile(BytesIO(_zip_logs([a, b], 0))) as z:
        assert sorted(z.namelist()) == ["a.log", "b.log"]
    import os
    os.utime(a, (1, 1))
    with zipfile.ZipFile(BytesIO(_zip_logs([a, b], 2))) as z:
        assert z.namelist() == ["b_temp.log"] and z.read("b_temp.log") == b"y\nz"


def test_sdk_version_is_the_package_version() -> None:
    assert SDK_VERSION == openim_sdk.__version__
