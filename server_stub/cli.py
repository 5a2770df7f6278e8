"""Command line entry: ``python -m server_stub`` / ``openim server`` (via :func:`run_server`)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import signal
import sys
from collections.abc import Callable
from typing import TextIO

from .app import ServerApp
from .config import ServerConfig, load_config

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s [op=%(operationID)s] %(message)s"
# C0/C1 controls, DEL and the Unicode line/paragraph separators: everything that can break or
# recolour a log line. Client-supplied strings (operationID, user IDs, paths) reach log messages.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    ch = match.group(0)
    return _NAMED.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")


def escape_control(text: str) -> str:
    """``text`` with control characters as visible escapes (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return _CONTROL.sub(_escape_char, text)


class _OperationIDFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "operationID"):
            record.operationID = ""
        return True


class SafeFormatter(logging.Formatter):
    """One record is always one line: control characters anywhere in the rendered record (message
    arguments, operationID, an attached traceback) are escaped, so a client cannot forge records."""

    def format(self, record: logging.LogRecord) -> str:
        return escape_control(super().format(record))


def log_handler(stream: TextIO) -> logging.Handler:
    """The server's log handler: operationID in every record, control characters escaped."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(_OperationIDFilter())
    handler.setFormatter(SafeFormatter(LOG_FORMAT))
    return handler


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    handler = log_handler(sys.stderr)
    if fmt == "json":  # one JSON object per line (ops.py); json.dumps escapes control characters
        from .ops import JsonFormatter

        handler.setFormatter(JsonFormatter())
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
        # Everything imported and built at start-up lives as long as the process: keep it out of
        # the collector's full passes, which otherwise stall every connection (issue 16).
        gc.collect()
        gc.freeze()
        print(f"API {srv.api_url}", flush=True)
        print(f"WS {srv.ws_url}", flush=True)
        print(f"READY api_port={srv.api_port} ws_port={srv.ws_port}", flush=True)
        await stop.wait()
        logging.getLogger("server_stub").info("shutting down", extra={"operationID": ""})


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (``pip install 'openim-py[speed]'``) and not turned
    off with ``OPENIM_UVLOOP=0``; otherwise None (asyncio's own loop). The server behaves the same
    on both: only the loop under it changes."""
    if os.environ.get("OPENIM_UVLOOP", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop  # type: ignore[no-any-return]


def run_server(config: ServerConfig) -> None:
    """Blocking run until SIGINT/SIGTERM (what ``openim server`` calls)."""
    setup_logging(config.log_level, config.log_format)
    config.check_secret_policy()
    factory = loop_factory()
    if factory is not None:
        logging.getLogger("server_stub").debug("event loop: uvloop", extra={"operationID": ""})
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve_forever(config))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("backup", "restore"):  # openim server backup|restore PATH (ops.py)
        from .ops import ops_command

        return ops_command(argv)
    config = load_config(argv)
    if "--print-config" in argv:
        from .ops import config_toml

        sys.stdout.write(config_toml(config))
        return 0
    try:
        run_server(config)
    except KeyboardInterrupt:
        pass
    return 0
