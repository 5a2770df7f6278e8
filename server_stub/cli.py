"""Command line entry: ``python -m server_stub`` / ``openim server`` (via :func:`run_server`)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from .app import ServerApp
from .config import ServerConfig, load_config


class _OperationIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "operationID"):
            record.operationID = ""
        return True


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_OperationIDFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [op=%(operationID)s] %(message)s"))
    root = logging.getLogger("server_stub")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


async def serve_forever(config: ServerConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - non-Unix
            pass
    async with ServerApp(config) as srv:
        print(f"API {srv.api_url}", flush=True)
        print(f"WS {srv.ws_url}", flush=True)
        print(f"READY api_port={srv.api_port} ws_port={srv.ws_port}", flush=True)
        await stop.wait()
        logging.getLogger("server_stub").info("shutting down", extra={"operationID": ""})


def run_server(config: ServerConfig) -> None:
    """Blocking run until SIGINT/SIGTERM (what ``openim server`` calls)."""
    setup_logging(config.log_level)
    config.check_secret_policy()
    asyncio.run(serve_forever(config))


def main(argv: list[str] | None = None) -> int:
    config = load_config(argv)
    try:
        run_server(config)
    except KeyboardInterrupt:
        pass
    return 0
