"""Server configuration: defaults < TOML file < ``OPENIM_*`` environment < command-line flags."""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .webhooks.config import WebhooksConfig, parse_webhooks

DEFAULT_SECRET = "openIM123"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def default_data_path() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("openim-py", appauthor=False)) / "server" / "openim.sqlite3"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    api_port: int = 10002
    ws_port: int = 10001
    data_path: str | None = None  # None = platformdirs default; ":memory:" = throwaway
    secret: str = DEFAULT_SECRET
    admin_user_ids: tuple[str, ...] = ("imAdmin",)
    token_expire_days: int = 90
    multi_login_policy: int = 1
    max_num_one_end: int = 30
    ws_max_conn: int = 100000
    ws_read_timeout: float = 30.0
    ws_ping_period: float = 27.0
    ws_max_frame: int = 51200
    ws_queue_size: int = 256
    sqlite_synchronous: str = "NORMAL"
    log_level: str = "INFO"
    # Largest REST request body accepted (JSON/protobuf routes); /_upload and /_form have their own limits.
    max_body_bytes: int = 8 * 1024 * 1024
    # TEST-ONLY: when > 0, user tokens expire this many seconds after minting instead of
    # token_expire_days (env OPENIM_TEST_TOKEN_EXPIRE_SECONDS). Off (0) by default.
    test_token_expire_seconds: int = 0
    # Scheduled clean-up (server_stub/cleanup.py; upstream openim-crontask.yml): every
    # cleanup_interval seconds (0 = off); chat records and files older than these many days (0 = kept).
    cleanup_interval: float = 86400.0
    retain_chat_records_days: int = 365
    file_expire_days: int = 180
    # Upstream openim-rpc-group.yml enableHistoryForNewMembers: false = a new member cannot pull
    # group messages sent before they joined.
    enable_history_for_new_members: bool = True
    # Operations (server_stub/ops.py): "text" or "json" log lines; GET /metrics (Prometheus) on the API port.
    log_format: str = "text"
    metrics: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    # [webhooks] table, shaped as upstream's config/webhooks.yml (docs/server-webhooks.md)
    webhooks: WebhooksConfig = field(default_factory=WebhooksConfig)

    @property
    def memory(self) -> bool:
        return self.data_path == ":memory:"

    def resolved_data_path(self) -> str:
        if self.data_path is None:
            return str(default_data_path())
        return self.data_path

    def check_secret_policy(self) -> None:
        """Refuse a non-loopback bind with the well-known default secret."""
        if self.host not in LOOPBACK_HOSTS and self.secret == DEFAULT_SECRET:
            raise SystemExit(
                f"refusing to listen on {self.host!r} with the default secret {DEFAULT_SECRET!r}: "
                "put a secret in a file readable only by you and pass --secret-file PATH "
                "(or the OPENIM_SECRET_FILE / OPENIM_SECRET environment variable, or "
                "'secret_file = \"...\"' in the config file); --secret also works but is visible "
                "to other local users in the process list"
            )


_ENV = {
    "host": "OPENIM_HOST",
    "api_port": "OPENIM_API_PORT",
    "ws_port": "OPENIM_WS_PORT",
    "data_path": "OPENIM_DATA",
    "secret": "OPENIM_SECRET",
    "admin_user_ids": "OPENIM_ADMIN_USER_IDS",
    "token_expire_days": "OPENIM_TOKEN_EXPIRE_DAYS",
    "multi_login_policy": "OPENIM_MULTI_LOGIN_POLICY",
    "log_level": "OPENIM_LOG_LEVEL",
    "max_body_bytes": "OPENIM_MAX_BODY_BYTES",
    "test_token_expire_seconds": "OPENIM_TEST_TOKEN_EXPIRE_SECONDS",
    "enable_history_for_new_members": "OPENIM_ENABLE_HISTORY_FOR_NEW_MEMBERS",
    "log_format": "OPENIM_LOG_FORMAT",
    "metrics": "OPENIM_METRICS",
}


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(ServerConfig)}
    kind = str(kinds[name])
    if name == "admin_user_ids":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        return tuple(str(v) for v in value)
    if kind.startswith("bool"):
        return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")
    if kind.startswith("int"):
        return int(value)
    if kind.startswith("float"):
        return float(value)
    return None if value is None else str(value)


def _toml_values(path: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    hooks = raw.get("webhooks")
    raw = raw.get("server", raw)
    hooks = raw.get("webhooks", hooks)
    known = {f.name for f in fields(ServerConfig)} - {"extra", "webhooks"}
    aliases = {"data": "data_path", "admins": "admin_user_ids", "policy": "multi_login_policy"}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        key = aliases.get(key, key.replace("-", "_"))
        if key in known:
            out[key] = _coerce(key, value)
    if isinstance(raw.get("extra"), dict):  # [server.extra]: friend_verify, max_file_size, grafana_url, ...
        out["extra"] = dict(raw["extra"])
    if hooks is not None:
        out["webhooks"] = parse_webhooks(hooks)
    secret_file = raw.get("secret_file", raw.get("secret-file"))
    if secret_file is not None:
        _only_one("secret", "secret_file", "in the config file", "secret" in out)
        out["secret"] = read_secret_file(Path(path).parent / str(secret_file))
    return out


def read_secret_file(path: str | Path) -> str:
    """The secret held in ``path``, without its trailing newline; a clear SystemExit if unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            secret = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"cannot read the secret file {str(path)!r}: {exc}") from None
    secret = secret.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise SystemExit(f"the secret file {str(path)!r} is empty")
    return secret


def _only_one(a: str, b: str, where: str, both: bool) -> None:
    if both:
        raise SystemExit(f"give either {a} or {b} {where}, not both")


def build_parser() -> argparse.ArgumentParser:
    prog = os.environ.get("OPENIM_SERVER_PROG") or (
        "openim server" if os.path.basename(sys.argv[0]) == "openim" else "python -m server_stub")
    p = argparse.ArgumentParser(prog=prog, description="Bundled OpenIM v3.8 reference server",
                                epilog=f"Also: {prog} backup PATH, {prog} restore PATH (see their --help).")
    p.add_argument("--config", help="TOML config file (keys as the long flags, e.g. api_port = 10002)")
    p.add_argument("--host")
    p.add_argument("--api-port", type=int, help="REST port (0 = ephemeral)")
    p.add_argument("--ws-port", type=int, help="WebSocket gateway port (0 = ephemeral)")
    p.add_argument("--data", dest="data_path", help="SQLite file path")
    p.add_argument("--memory", action="store_true", help="throwaway in-memory database")
    p.add_argument("--secret", help="token signing / admin secret; visible to other local users in the "
                   "process list (/proc/*/cmdline): prefer --secret-file or OPENIM_SECRET")
    p.add_argument("--secret-file", help="read the secret from this file (one trailing newline is stripped; "
                   "env OPENIM_SECRET_FILE, config key secret_file)")
    p.add_argument("--admin-user-ids", help="comma-separated admin user IDs")
    p.add_argument("--token-expire-days", type=int)
    p.add_argument("--multi-login-policy", type=int, choices=[0, 1, 4, 5])
    p.add_argument("--log-level")
    p.add_argument("--max-body-bytes", type=int,
                   help="largest accepted REST request body in bytes (default 8 MiB); larger ones get HTTP 413")
    p.add_argument("--log-format", choices=["text", "json"], help="log lines as text (default) or JSON objects")
    p.add_argument("--no-metrics", dest="metrics", action="store_const", const=False, default=None,
                   help="do not serve GET /metrics (Prometheus)")
    p.add_argument("--print-config", action="store_true",
                   help="print the effective configuration as TOML (file < environment < flags) and exit")
    p.add_argument("--friend-verify", action="store_true", default=None,
                   help="only friends may send each other messages (1303 NotPeersFriend otherwise)")
    p.add_argument("--store-notifications", action="store_true", default=None,
                   help="store friend/group notifications (reliability level 2) instead of online-only")
    return p


def load_config(argv: list[str] | None = None, env: dict[str, str] | None = None) -> ServerConfig:
    env = dict(os.environ) if env is None else env
    args = build_parser().parse_args(argv)
    values: dict[str, Any] = {}
    config_file = args.config or env.get("OPENIM_CONFIG")
    if config_file:
        values.update(_toml_values(config_file))
    for name, var in _ENV.items():
        if env.get(var):
            values[name] = _coerce(name, env[var])
    if env.get("OPENIM_SECRET_FILE"):
        _only_one("OPENIM_SECRET", "OPENIM_SECRET_FILE", "in the environment", bool(env.get("OPENIM_SECRET")))
        values["secret"] = read_secret_file(env["OPENIM_SECRET_FILE"])
    if args.secret_file is not None:
        _only_one("--secret", "--secret-file", "on the command line", args.secret is not None)
        values["secret"] = read_secret_file(args.secret_file)
    for name in ("host", "api_port", "ws_port", "data_path", "secret", "admin_user_ids",
                 "token_expire_days", "multi_login_policy", "log_level", "max_body_bytes", "log_format",
                 "metrics"):
        value = getattr(args, name)
        if value is not None:
            values[name] = _coerce(name, value)
    if args.memory:
        values["data_path"] = ":memory:"
    extra = dict(values.pop("extra", {}))
    for key, flag, var in (("friend_verify", args.friend_verify, "OPENIM_FRIEND_VERIFY"),
                           ("notifications_stored", args.store_notifications, "OPENIM_STORE_NOTIFICATIONS")):
        if flag or env.get(var, "").lower() in ("1", "true", "yes"):
            extra[key] = True
    return replace(ServerConfig(), **values, extra=extra)
