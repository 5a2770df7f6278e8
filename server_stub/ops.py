"""Running the server as a service: ``/healthz`` and ``/metrics``, online backup and restore, the
data lock, JSON logs and the effective configuration as TOML (``openim server --print-config``).

- ``GET /healthz`` answers 200 ``{"status": "ok", ...}`` when the storage answers a query within
  :data:`HEALTH_TIMEOUT` seconds, 503 ``{"status": "unavailable", ...}`` otherwise. No token.
- ``GET /metrics`` is the Prometheus text exposition of ``ServerCore.metrics`` (``metrics = false``
  in the config turns it off: 404). No token: keep it behind the reverse proxy.
- :func:`backup` copies the database with SQLite's online backup API from a separate read-only
  connection, so it works while the server runs and writes: the copy is one consistent snapshot
  (every message acknowledged before the backup started is in it).
- :func:`restore` puts a backup in place of the database, refusing while a server holds it
  (:class:`DataLock`: every running server holds a shared ``flock`` on ``<data>.lock``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .context import raw_route
from .datadir import tighten

if TYPE_CHECKING:
    from .app import ServerCore
    from .config import ServerConfig
    from .webhooks.config import WebhooksConfig

log = logging.getLogger("server_stub.ops")

HEALTH_TIMEOUT = 2.0
OPS_PATHS = (("GET", "/healthz"), ("GET", "/metrics"))


class OpsError(Exception):
    """A backup or restore that cannot be done; the message says why (shown as it is)."""


# -- HTTP: /healthz and /metrics ----------------------------------------------------------------


@raw_route(extra=OPS_PATHS)
async def ops_routes(core: ServerCore, request: Any) -> Any:
    path = request.url.path
    if path not in ("/healthz", "/metrics") or request.method not in ("GET", "HEAD"):
        return None
    from starlette.responses import Response

    if path == "/metrics":
        if not core.config.metrics:
            return Response(b"404 page not found", status_code=404, media_type="text/plain")
        from .metrics import CONTENT_TYPE

        return Response(core.metrics.render(), headers={"Content-Type": CONTENT_TYPE})
    status, body = await health(core)
    return Response(json.dumps(body).encode(), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


async def health(core: ServerCore) -> tuple[int, dict[str, Any]]:
    """``(http_status, body)`` of ``/healthz``."""
    from openim_sdk import __version__

    started = time.perf_counter()
    body: dict[str, Any] = {"version": __version__, "connections": core.hub.count()}
    try:
        await asyncio.wait_for(core.storage.ping(), HEALTH_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - any failure is "unavailable", said in the body
        body.update(status="unavailable", storage=f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        return 503, body
    body.update(status="ok", storage="ok", storage_ms=round((time.perf_counter() - started) * 1000, 2))
    return 200, body


# -- the data lock ---------------------------------------------------------------------------


def lock_path(data_path: str) -> Path:
    return Path(data_path + ".lock")


class DataLock:
    """A shared ``flock`` on ``<data>.lock`` held while a server runs on ``<data>``.

    Shared, so two servers on one file (tests do it) do not exclude each other; :func:`restore`
    asks for it exclusively and so learns that a server is running. The kernel drops the lock
    when the process dies, however it dies: no stale lock after a crash.
    """

    def __init__(self, fh: IO[str]) -> None:
        self._fh: IO[str] | None = fh

    @classmethod
    def acquire(cls, data_path: str) -> DataLock:
        path = lock_path(data_path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fh = os.fdopen(fd, "r+")
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise OpsError(f"{data_path} is being restored (lock {path}); start the server after that") from None
        return cls(fh)

    def release(self) -> None:
        if self._fh is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None


@contextlib.contextmanager
def _exclusive(data_path: str) -> Any:
    path = lock_path(data_path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(fd, "r+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OpsError(f"a server is running on {data_path} (it holds {path}); stop it first, "
                           "then restore") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- backup and restore ----------------------------------------------------------------------


def _check_database(path: str) -> int:
    """The schema version of the OpenIM database at ``path`` (an OpsError if it is not one)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise OpsError(f"cannot open {path}: {exc}") from None
    try:
        ok = conn.execute("PRAGMA quick_check").fetchone()
        if not ok or ok[0] != "ok":
            raise OpsError(f"{path} fails SQLite's quick_check: {ok[0] if ok else '?'}")
        row = conn.execute("SELECT version FROM schema_version").fetchone()
    except sqlite3.Error as exc:
        raise OpsError(f"{path} is not an OpenIM server database: {exc}") from None
    finally:
        conn.close()
    if row is None:
        raise OpsError(f"{path} is not an OpenIM server database: no schema version")
    return int(row[0])


def backup(data_path: str, dest: str | Path) -> dict[str, Any]:
    """Copy the database at ``data_path`` to ``dest`` (mode 0600), online and consistent.

    The source is opened read-only in a connection of its own; ``Connection.backup`` copies all
    pages in one step inside one read transaction, i.e. one snapshot of the committed state, while
    the server goes on writing (WAL). The copy is written beside ``dest`` and renamed into place.
    """
    if data_path == ":memory:":
        raise OpsError("an in-memory server has nothing to back up")
    if not os.path.exists(data_path):
        raise OpsError(f"no database at {data_path}")
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / f"openim-{time.strftime('%Y%m%d-%H%M%S')}.sqlite3"
    if dest.resolve() == Path(data_path).resolve():
        raise OpsError("the backup cannot be the database itself")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    started = time.monotonic()
    src = sqlite3.connect(f"file:{data_path}?mode=ro", uri=True, timeout=30)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)  # pages=-1: everything in one step, one snapshot
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            dst.close()
    except sqlite3.Error as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OpsError(f"backup of {data_path} failed: {exc}") from None
    finally:
        src.close()
    version = _check_database(str(tmp))
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, dest)
    tighten(dest, 0o600)
    return {"path": str(dest), "bytes": dest.stat().st_size, "schema_version": version,
            "seconds": round(time.monotonic() - started, 3)}


def restore(source: str | Path, data_path: str) -> dict[str, Any]:
    """Put the backup ``source`` in place of the database at ``data_path``.

    Refused (:class:`OpsError`, saying why) while a server holds ``data_path``, or when ``source``
    is not a sound OpenIM database. The database it replaces, with its WAL, is kept beside it as
    ``<data>.before-restore-<time>``.
    """
    if data_path == ":memory:":
        raise OpsError("cannot restore into an in-memory server")
    source = str(source)
    if not os.path.isfile(source):
        raise OpsError(f"no backup file at {source}")
    version = _check_database(source)
    from .storage import SCHEMA_VERSION

    if version > SCHEMA_VERSION:
        raise OpsError(f"{source} has schema version {version}, newer than this server's {SCHEMA_VERSION}: "
                       "upgrade the server first")
    Path(data_path).parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    with _exclusive(data_path):
        tmp = f"{data_path}.restore-{os.getpid()}.tmp"
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o600)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        if os.path.exists(data_path):
            kept = f"{data_path}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}"
            os.replace(data_path, kept)
        for suffix in ("-wal", "-shm"):  # a stale WAL must never be replayed onto the restored file
            if os.path.exists(data_path + suffix):
                if kept:
                    os.replace(data_path + suffix, kept + suffix)
                else:
                    os.unlink(data_path + suffix)
        os.replace(tmp, data_path)
    return {"path": data_path, "from": source, "schema_version": version, "previous": kept}


# -- logs ----------------------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, operationID, message (and exception)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "operationID": getattr(record, "operationID", ""),
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


# -- the effective configuration as TOML -------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string is a JSON string


def config_toml(config: ServerConfig, *, show_secret: bool = False) -> str:
    """``config`` as a TOML file that ``--config`` reads back to the same values.

    The secret is left out (a comment says whether it is the default) unless ``show_secret``.
    """
    from .config import DEFAULT_SECRET

    lines = ["# openim server: effective configuration (defaults < file < OPENIM_* environment < flags)",
             "[server]"]
    for f in fields(config):
        if f.name == "extra":
            continue
        value = getattr(config, f.name)
        if f.name == "secret" and not show_secret:
            which = "the default" if value == DEFAULT_SECRET else "set, not shown"
            lines.append(f"# secret: {which} (give it with secret_file = \"PATH\")")
            continue
        if value is None:
            lines.append(f"# {f.name}: not set (default)")
            continue
        if is_dataclass(value):  # a table of its own: [webhooks], printed below
            continue
        lines.append(f"{f.name} = {_toml_value(value)}")
    if config.extra:
        lines += ["", "[server.extra]"]
        for key, value in sorted(config.extra.items()):
            lines.append(f"{key} = {_toml_value(value)}")
    lines += webhooks_toml(config.webhooks)
    return "\n".join(lines) + "\n"


def webhooks_toml(hooks: WebhooksConfig) -> list[str]:
    """The ``[webhooks]`` table of :func:`config_toml`: the URL and every configured callback with
    all its keys (upstream's camelCase names), in the order of upstream's ``webhooks.yml``."""
    from .webhooks.config import AFTER_CALLBACKS, BEFORE_CALLBACKS

    lines = ["", "[webhooks]"]
    if not hooks.url:
        lines.append("# url: not set (webhooks off)")
    else:
        lines.append(f"url = {_toml_value(hooks.url)}")
    for name in BEFORE_CALLBACKS + AFTER_CALLBACKS:
        cfg = hooks.callbacks.get(name)
        if cfg is None:
            continue
        lines += ["", f"[webhooks.{name}]", f"enable = {_toml_value(cfg.enable)}",
                  f"timeout = {_toml_value(cfg.timeout)}"]
        if name in BEFORE_CALLBACKS or not cfg.failed_continue:  # only before-callbacks read it
            lines.append(f"failedContinue = {_toml_value(cfg.failed_continue)}")
        if cfg.denied_types:
            lines.append(f"deniedTypes = {_toml_value(cfg.denied_types)}")
        if cfg.attention_ids:
            lines.append(f"attentionIds = {_toml_value(cfg.attention_ids)}")
    if hooks.url and not hooks.callbacks:
        lines.append("# no callback enabled")
    return lines


# -- `openim server backup|restore` --------------------------------------------------------------


def ops_parser(command: str) -> argparse.ArgumentParser:
    """The parser of ``openim server backup`` / ``openim server restore``."""
    if command == "backup":
        desc = ("Copy the server's database to PATH (a file, or a directory for a dated name), online: "
                "safe while the server runs and writes.")
    else:
        desc = ("Replace the server's database with the backup at PATH. Refused while a server runs on "
                "the database; the replaced one is kept as <data>.before-restore-<time>.")
    p = argparse.ArgumentParser(prog=f"openim server {command}", description=desc,
                                epilog="The database is the one the server's configuration names: --config FILE, "
                                       "--data PATH, OPENIM_DATA or the default.")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return p


def ops_command(argv: list[str]) -> int:
    """``openim server backup PATH`` / ``openim server restore PATH`` (the database is the one the
    server's configuration names: ``--config``, ``--data``, ``OPENIM_DATA`` or the default)."""
    import sys

    from .config import load_config

    command, rest = argv[0], argv[1:]
    p = ops_parser(command)
    args, config_args = p.parse_known_args(rest)
    config = load_config(config_args)
    data_path = config.resolved_data_path()
    try:
        if command == "backup":
            result = backup(data_path, args.path)
            text = f"backed up {data_path} to {result['path']} ({result['bytes']} bytes, {result['seconds']} s)"
        else:
            result = restore(args.path, data_path)
            text = f"restored {data_path} from {result['from']}" + (
                f"; the previous database is kept as {result['previous']}" if result["previous"] else "")
    except OpsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result) if args.json else text)
    return 0


# -- graceful shutdown -------------------------------------------------------------------------


async def drain_connections(core: ServerCore, server: Any, timeout: float = 2.0) -> int:
    """Before the gateway closes: accept no new WebSocket connections (``server`` is the
    websockets server), then let every connection send what is already queued for it (replies
    to requests already answered, pushes of messages already acknowledged) and close normally.
    Waits ``timeout`` seconds at most; returns how many connections were drained."""
    from .push import drain

    if server is None:
        return 0
    listener = getattr(server, "server", None)  # the asyncio.Server under websockets' Server
    if listener is not None:
        listener.close()  # stop listening; websockets' own close() (idempotent) comes after, in Gateway.stop
    clients = [c for conns in core.hub.clients.values() for c in conns]
    for client in clients:
        client.close_after_flush()
    if clients:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(drain(clients), timeout)
    return len(clients)
