"""What each configuration key means: the source of the configuration reference in the docs
(``docs/_hooks/generate.py``) and of ``tests/packaging/test_docs.py``'s check that every
:class:`~server_stub.config.ServerConfig` field is described.

A new ``ServerConfig`` field needs a line here (the docs build and that test say so).
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any

from .config import _ENV, ServerConfig

#: field name -> one or two sentences for operators
CONFIG_HELP: dict[str, str] = {
    "host": "Address both listeners bind to. Anything but loopback needs a secret other than the default.",
    "api_port": "REST API port (OpenIM's default 10002); 0 picks a free port (printed on the READY line).",
    "ws_port": "WebSocket gateway port (OpenIM's default 10001); 0 picks a free port.",
    "data_path": "SQLite database file. Unset: `openim.sqlite3` under the platformdirs data directory; "
                 "`:memory:` for a throwaway server (flag `--memory`).",
    "secret": "The admin secret (`/auth/get_admin_token`) and token signing key. Prefer `secret_file` "
              "(or `OPENIM_SECRET_FILE`, `--secret-file`): a flag is visible in the process list.",
    "admin_user_ids": "User IDs that are administrators (app managers); created at start if missing.",
    "token_expire_days": "Lifetime of user tokens, in days.",
    "multi_login_policy": "OpenIM's multiLoginPolicy: 1 a new login kicks the same platform, 4 the same "
                          "platform class, 5 PC plus one other device, 0 nobody (bounded by `max_num_one_end`).",
    "max_num_one_end": "With `multi_login_policy = 0`: valid tokens kept per user and platform; the oldest "
                       "beyond it are invalidated at login.",
    "ws_max_conn": "Largest number of WebSocket connections; more are refused with 1601.",
    "ws_read_timeout": "Seconds without any frame from a client before its connection is closed.",
    "ws_ping_period": "Seconds between the server's pings to web (platform 5) clients.",
    "ws_max_frame": "Largest WebSocket frame accepted, in bytes.",
    "ws_queue_size": "Frames queued per connection before a slow client is disconnected.",
    "sqlite_synchronous": "SQLite `PRAGMA synchronous` (`NORMAL` or `FULL`); a send is acknowledged after "
                          "its COMMIT either way.",
    "log_level": "Level of the server's log (`DEBUG`, `INFO`, `WARNING`, `ERROR`).",
    "max_body_bytes": "Largest REST request body in bytes; larger ones get HTTP 413 with errCode 1001.",
    "test_token_expire_seconds": "Tests only: user tokens expire after this many seconds instead of "
                                 "`token_expire_days` (0 = off).",
    "cleanup_interval": "Seconds between scheduled clean-ups of old chat records and files (0 = off).",
    "retain_chat_records_days": "Chat records older than this many days are deleted by the clean-up (0 = kept).",
    "file_expire_days": "Uploaded files older than this many days are deleted by the clean-up (0 = kept).",
    "enable_history_for_new_members": "Upstream enableHistoryForNewMembers: `false` = a new group member cannot "
                                      "pull the messages sent before they joined.",
    "log_format": "`text` (one escaped line per record) or `json` (one JSON object per line).",
    "metrics": "Serve Prometheus metrics at `GET /metrics` on the API port (`--no-metrics` turns it off).",
    "webhooks": "The `[webhooks]` table: OpenIM's callback points, shaped as upstream's `webhooks.yml` "
                "(see the webhooks page).",
    "extra": "The `[server.extra]` table: settings of the OpenIM modules, see below.",
}

#: keys of the ``[server.extra]`` table -> meaning
EXTRA_HELP: dict[str, str] = {
    "friend_verify": "Only friends may message each other (1303 otherwise); flag `--friend-verify`.",
    "notifications_stored": "Store friend and group notifications (pullable) instead of online-only; "
                            "flag `--store-notifications`.",
    "min_part_size": "Smallest part size of multipart uploads, in bytes (default 5 MiB).",
    "grafana_url": "Where `GET /third/prometheus` redirects (as open-im-server's Grafana link).",
}

#: keys the config file accepts besides the field names
FILE_ONLY_HELP: dict[str, str] = {
    "secret_file": "Read the secret from this file (relative to the config file); one trailing newline "
                   "is stripped. Not together with `secret`.",
}


def _flag(name: str) -> str:
    from .config import build_parser

    for action in build_parser()._actions:
        if action.dest == name and action.option_strings:
            return ", ".join(f"`{o}`" for o in action.option_strings)
    return ""


def _default(f: Any) -> str:
    if f.default is not MISSING:
        value = f.default
    elif f.default_factory is not MISSING:
        value = f.default_factory()
    else:  # pragma: no cover
        return ""
    if value is None:
        return "(platformdirs)" if f.name == "data_path" else "unset"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, tuple | list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if isinstance(value, dict):
        return "`{}`"
    if is_dataclass(value):
        return "(table)"
    return f"`{value}`"


def undocumented() -> list[str]:
    """``ServerConfig`` fields without a line in :data:`CONFIG_HELP`."""
    return [f.name for f in fields(ServerConfig) if f.name not in CONFIG_HELP]


def config_reference_markdown() -> str:
    """The configuration reference tables (Markdown) generated from ``ServerConfig``."""
    rows = ["| key | default | flag | environment | meaning |", "|---|---|---|---|---|"]
    for f in fields(ServerConfig):
        if f.name == "extra":
            continue
        help_text = CONFIG_HELP.get(f.name, "(not described yet)")
        rows.append(f"| `{f.name}` | {_default(f)} | {_flag(f.name)} | "
                    f"{'`' + _ENV[f.name] + '`' if f.name in _ENV else ''} | {help_text} |")
    for key, help_text in FILE_ONLY_HELP.items():
        rows.append(f"| `{key}` | | `--secret-file` | `OPENIM_SECRET_FILE` | {help_text} |")
    extra = ["| key | meaning |", "|---|---|"]
    extra += [f"| `{k}` | {v} |" for k, v in EXTRA_HELP.items()]
    return "\n".join(rows) + "\n\n#### `[server.extra]`\n\n" + "\n".join(extra) + "\n"
