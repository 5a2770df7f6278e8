"""TUI test fixtures: the bundled server on ephemeral ports (restartable), users, SDK clients."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from openim_sdk.rest import RestClient
from server_stub import ServerApp
from tests.integration.conftest import server_config


class LiveServer:
    """A bundled server that can be stopped and started again on the same ports and data."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.app: ServerApp | None = None
        self.api_port = 0
        self.ws_port = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    async def start(self) -> None:
        cfg = server_config(self.tmp_path, api_port=self.api_port, ws_port=self.ws_port)
        self.app = ServerApp(cfg)
        for attempt in range(50):
            try:
                await self.app.start()
                break
            except OSError:  # the old socket may linger for a moment
                await self.app.stop()
                self.app = ServerApp(cfg)
                if attempt == 49:
                    raise
                await asyncio.sleep(0.1)
        self.api_port, self.ws_port = self.app.api_port, self.app.ws_port

    async def stop(self) -> None:
        if self.app is not None:
            await self.app.stop()
            self.app = None

    async def admin(self) -> RestClient:
        return await RestClient.admin(self.api_url)

    async def users(self, *user_ids: str) -> dict[str, str]:
        """Register users (nickname = capitalised ID); returns their tokens for platform 7."""
        api = await self.admin()
        try:
            await api.user.user_register(users=[{"userID": u, "nickname": u.capitalize()} for u in user_ids])
            return {u: await api.mint_user_token(u, 7) for u in user_ids}
        finally:
            await api.aclose()


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[LiveServer]:
    srv = LiveServer(tmp_path)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
async def sdk(live: LiveServer, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """``await sdk("bob", token)``: a started OpenIMClient for another user (closed at the end)."""
    from openim_sdk.client import OpenIMClient

    clients: list[Any] = []

    async def make(user_id: str, token: str) -> Any:
        c = OpenIMClient(live.api_url, live.ws_url, user_id, token, data_dir=tmp_path / f"sdk-{user_id}",
                         platform_id=7, backoff=(0.2, 0.5, 1))
        await c.start()
        clients.append(c)
        await c.wait_synced(10)
        return c

    yield make
    for c in clients:
        with contextlib.suppress(Exception):
            await c.close()


async def wait_for(pilot: Any, cond: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    """Let the app run until ``cond()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.05)
