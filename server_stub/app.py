"""Process assembly: storage + tokens + hub + REST (uvicorn) + WS gateway in one event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
import types
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field

import uvicorn

from .cleanup import Cleanup
from .config import ServerConfig
from .gateway import Gateway
from .metrics import Metrics, metered_hub
from .object_files import ObjectState
from .ops import DataLock, drain_connections
from .policies import Policies
from .push import Hub
from .registry import SERVICE_MODULES, ServiceRegistry, build_registry
from .rest import RestApi
from .storage import SqliteStorage, UserRow, now_ms
from .tokens import TokenManager
from .webhooks import Webhooks

log = logging.getLogger("server_stub")


@dataclass
class ServerCore:
    """Everything a service function needs (``ctx.core``); one per server, built in ``ServerApp.start``."""

    config: ServerConfig
    storage: SqliteStorage
    tokens: TokenManager
    hub: Hub
    policies: Policies  # send checks, group answers, notification rules (policies.py)
    registry: ServiceRegistry  # which handler serves which route (registry.py)
    objects: ObjectState = field(default_factory=ObjectState)  # object storage dir, uploads in progress
    webhooks: Webhooks = field(default_factory=Webhooks)  # callback points (server_stub/webhooks)
    metrics: Metrics = field(default_factory=Metrics)  # this server's Prometheus collectors (metrics.py)


class _Uvicorn(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:  # signals are handled by run_server
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on a transport only when the socket says
    # so. Without it every keep-alive REST answer after the first waited ~40 ms (the headers and
    # the body are two writes: Nagle held the body until the client's delayed ACK; issue 16).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


class ServerApp:
    """In-process server: ``async with ServerApp(config) as srv: srv.api_url, srv.ws_url``.

    ``clock`` (seconds, like ``time.time``) is the token manager's: minting, expiry and grace
    windows; tests pass one they can move. ``modules`` replaces the list of service modules
    (:data:`server_stub.registry.SERVICE_MODULES`); the registry is built, and checked, at start.
    """

    def __init__(self, config: ServerConfig, *, clock: Callable[[], float] = time.time,
                 modules: Iterable[types.ModuleType] = SERVICE_MODULES) -> None:
        self.config = config
        self.clock = clock
        self.modules = tuple(modules)
        self.core: ServerCore | None = None
        self.api_port = 0
        self.ws_port = 0
        self._uvicorn: _Uvicorn | None = None
        self._uvicorn_task: asyncio.Task[None] | None = None
        self._gateway: Gateway | None = None
        self.cleanup: Cleanup | None = None
        self._data_lock: DataLock | None = None

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
        registry = build_registry(self.modules)  # a duplicate or unknown route fails here, before any I/O
        storage = SqliteStorage(cfg.resolved_data_path(), cfg.sqlite_synchronous)
        await storage.open()
        metrics = Metrics()
        hub: Hub = metered_hub(cfg.multi_login_policy, metrics)
        core = ServerCore(cfg, storage, TokenManager(cfg, storage, clock=self.clock), hub, Policies(cfg, storage),
                          registry, webhooks=Webhooks(cfg.webhooks, hub), metrics=metrics)
        self.core = core
        if not cfg.memory:  # held while we run: `openim server restore` refuses meanwhile (ops.py)
            self._data_lock = DataLock.acquire(cfg.resolved_data_path())
        for uid in cfg.admin_user_ids:
            await storage.ensure_user(UserRow(uid, uid, "", "", now_ms(), 0, 0))
        self.cleanup = Cleanup(core)
        self.cleanup.start()
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
        if self.cleanup is not None:
            await self.cleanup.stop()
            self.cleanup = None
        if self._uvicorn is not None and self._uvicorn_task is not None:
            self._uvicorn.should_exit = True
            with contextlib.suppress(Exception):
                await self._uvicorn_task
            self._uvicorn = None
        if self._gateway is not None:
            if self.core is not None:  # flush what is queued for each connection first (ops.py)
                await drain_connections(self.core, self._gateway.server)
            await self._gateway.stop()
            self._gateway = None
        if self.core is not None:
            await self.core.webhooks.close()
            await self.core.storage.close()
            self.core = None
        if self._data_lock is not None:
            self._data_lock.release()
            self._data_lock = None

    async def __aenter__(self) -> ServerApp:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
