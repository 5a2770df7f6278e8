"""Process assembly: storage + tokens + hub + REST (uvicorn) + WS gateway in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from . import services  # noqa: F401  (registers the service functions)
from .config import ServerConfig
from .gateway import Gateway
from .push import Hub
from .rest import RestApi
from .storage import SqliteStorage, UserRow, now_ms
from .tokens import TokenManager
from .webhooks import Webhooks

log = logging.getLogger("server_stub")


@dataclass
class ServerCore:
    """Everything a service function needs; one per server."""

    config: ServerConfig
    storage: SqliteStorage
    tokens: TokenManager
    hub: Hub
    extensions: dict[str, Any] = field(default_factory=dict)
    webhooks: Webhooks = field(default_factory=Webhooks)  # callback points (server_stub/webhooks)

    async def group_members(self, group_id: str) -> list[str] | None:
        """Member IDs of a group, None if it does not exist (groups arrive in part 2)."""
        fn = self.extensions.get("group_members")
        return await fn(group_id) if fn else None

    async def can_revoke_in_group(self, group_id: str, user_id: str, sender_id: str) -> bool:
        fn = self.extensions.get("can_revoke_in_group")
        return bool(await fn(group_id, user_id, sender_id)) if fn else False


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:  # signals are handled by run_server
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class ServerApp:
    """In-process server: ``async with ServerApp(config) as srv: srv.api_url, srv.ws_url``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.core: ServerCore | None = None
        self.api_port = 0
        self.ws_port = 0
        self._uvicorn: _Uvicorn | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._gateway: Gateway | None = None

    @property
    def api_url(self) -> str:
        return f"http://{self._url_host}:{self.api_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._url_host}:{self.ws_port}"

    @property
    def _url_host(self) -> str:
        h = self.config.host
        if h in ("0.0.0.0", ""):
            return "127.0.0.1"
        return f"[{h}]" if ":" in h else h

    async def start(self) -> None:
        cfg = self.config
        cfg.check_secret_policy()
        storage = SqliteStorage(cfg.resolved_data_path(), cfg.sqlite_synchronous)
        await storage.open()
        hub = Hub(policy=cfg.multi_login_policy)
        core = ServerCore(cfg, storage, TokenManager(cfg, storage), hub, webhooks=Webhooks(cfg.webhooks, hub))
        self.core = core
        from .notify import install as install_part2

        install_part2(core)  # friends/groups/files: send checks, group fan-out, raw file routes
        for uid in cfg.admin_user_ids:
            await storage.ensure_user(UserRow(uid, uid, "", "", now_ms(), 0, 0))
        self._gateway = Gateway(core)
        self.ws_port = await self._gateway.start(cfg.host, cfg.ws_port)
        sock = _bind(cfg.host, cfg.api_port)
        self.api_port = sock.getsockname()[1]
        ucfg = uvicorn.Config(RestApi(core).build(), log_level="warning", lifespan="off", access_log=False,
                              timeout_graceful_shutdown=2)
        self._uvicorn = _Uvicorn(ucfg)
        self._uvicorn_task = asyncio.create_task(self._uvicorn.serve(sockets=[sock]))
        while not self._uvicorn.started:
            if self._uvicorn_task.done():
                self._uvicorn_task.result()
                raise RuntimeError("REST server failed to start")
            await asyncio.sleep(0.01)
        log.info("OpenIM reference server: REST %s, WebSocket %s, data %s", self.api_url, self.ws_url,
                 cfg.resolved_data_path(), extra={"operationID": ""})

    async def stop(self) -> None:
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            with contextlib.suppress(Exception):
                await self._uvicorn_task
            self._uvicorn = None
        if self._gateway is not None:
            await self._gateway.stop()
            self._gateway = None
        if self.core is not None:
            await self.core.webhooks.close()
            await self.core.storage.close()
            self.core = None

    async def __aenter__(self) -> ServerApp:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
