"""Stored CLI sessions ("profiles") under the platformdirs config dir, mode 0600."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

APP = "openim-py"


def config_dir() -> Path:
    if os.environ.get("OPENIM_CONFIG_DIR"):
        return Path(os.environ["OPENIM_CONFIG_DIR"])
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    if os.environ.get("OPENIM_DATA_DIR"):
        return Path(os.environ["OPENIM_DATA_DIR"])
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP, appauthor=False))


def profile_name(explicit: str | None) -> str:
    """-p, else OPENIM_PROFILE, else the settings' ``default_profile`` (``"default"``)."""
    if explicit or os.environ.get("OPENIM_PROFILE"):
        return explicit or os.environ["OPENIM_PROFILE"]
    from . import settings

    try:
        return settings.load().default_profile or "default"
    except settings.SettingsError:
        return "default"  # a broken settings file is reported by the commands that read it


@dataclass
class Profile:
    name: str
    api_url: str
    ws_url: str
    user_id: str
    platform_id: int
    token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        """The SDK cache of this user on this server, shared by every profile, the CLI and the TUI.

        Keyed by server and user so that caches of different servers never mix."""
        key = hashlib.sha256(f"{self.api_url.rstrip('/')}|{self.user_id}".encode()).hexdigest()[:12]
        return data_dir() / "cache" / f"{self.user_id}-{key}"


def _path() -> Path:
    return config_dir() / "profiles.json"


def _load_all() -> dict[str, dict[str, Any]]:
    p = _path()
    if not p.exists():
        return {}
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _save_all(data: dict[str, dict[str, Any]]) -> None:
    p = _path()
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(p)


def load(name: str | None = None) -> Profile | None:
    pname = profile_name(name)
    raw = _load_all().get(pname)
    if not raw:
        return None
    return Profile(name=pname, **{k: v for k, v in raw.items() if k != "name"})


@contextmanager
def _locked() -> Iterator[None]:
    """Serialise read-modify-write of profiles.json across processes (two logins at once)."""
    lock = config_dir() / "profiles.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def save(profile: Profile) -> None:
    with _locked():
        data = _load_all()
        data[profile.name] = {k: v for k, v in asdict(profile).items() if k != "name"}
        _save_all(data)


def delete(name: str | None = None) -> bool:
    with _locked():
        data = _load_all()
        if data.pop(profile_name(name), None) is None:
            return False
        _save_all(data)
        return True


def names() -> list[str]:
    return sorted(_load_all())
