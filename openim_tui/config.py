"""Where the chat connects: a stored CLI profile, overridden by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_ALIASES = {"api": "api_url", "ws": "ws_url", "user": "user_id", "platform": "platform_id",
            "data": "data_dir"}


@dataclass
class ConnectSpec:
    api_url: str
    ws_url: str
    user_id: str
    token: str
    data_dir: Path
    platform_id: int = 7
    client_options: dict[str, Any] = field(default_factory=dict)  # extra OpenIMClient keyword arguments

    def make_client(self) -> Any:
        from openim_sdk.client import OpenIMClient

        return OpenIMClient(self.api_url, self.ws_url, self.user_id, self.token, data_dir=self.data_dir,
                            platform_id=self.platform_id, **self.client_options)


class ConfigError(LookupError):
    pass


def resolve(profile_name: str | None = None, **overrides: Any) -> ConnectSpec:
    """The profile (``openim login``) with ``api/ws/user/token/platform/data_dir`` overrides."""
    from openim_cli import profiles

    ov = {_ALIASES.get(k, k): v for k, v in overrides.items() if v not in (None, "")}
    prof = profiles.load(profile_name)
    base: dict[str, Any] = {}
    if prof is not None:
        base = {"api_url": prof.api_url, "ws_url": prof.ws_url, "user_id": prof.user_id,
                "token": prof.token, "platform_id": prof.platform_id, "data_dir": prof.data_dir}
    base.update(ov)
    missing = [k for k in ("api_url", "ws_url", "user_id", "token") if not base.get(k)]
    if missing:
        flags = ", ".join("--" + {"api_url": "api", "ws_url": "ws", "user_id": "user"}.get(k, k) for k in missing)
        where = f"profile {profiles.profile_name(profile_name)!r}"
        raise ConfigError(f"not logged in ({where}); run `openim login` or pass {flags}")
    if not base.get("data_dir"):
        base["data_dir"] = profiles.data_dir() / "users" / str(base["user_id"])
    base["data_dir"] = Path(os.path.expanduser(str(base["data_dir"])))
    base["platform_id"] = int(base.get("platform_id") or 7)
    known = {"api_url", "ws_url", "user_id", "token", "data_dir", "platform_id"}
    return ConnectSpec(**{k: v for k, v in base.items() if k in known})
