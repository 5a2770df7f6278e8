"""The settings file: ``config.toml`` in the config directory, next to ``profiles.json``.

``openim config path`` prints where it is, ``openim config show`` the effective settings,
``openim config edit`` opens it in ``$VISUAL``/``$EDITOR`` (creating a commented one first) and
checks it afterwards. Every key, with its default:

.. code-block:: toml

    default_profile = "default"   # the profile used without -p / OPENIM_PROFILE

    [chat]
    theme = "textual-dark"        # any Textual theme (Ctrl+T cycles them in the chat)
    time_format = "%H:%M"         # strftime format of times of today (older ones show the date too)
    download_dir = ""             # where d/o save files; "" = ~/Downloads, else the profile's data dir
    previews = true               # show the selected picture in the chat (textual-image); false: o opens it

    [notifications]
    bell = true                   # ring the terminal bell (tmux and screen flag the window)
    desktop = true                # desktop notifications, where the desktop has a notification service

    [keys]                        # any chat action, rebound: action = "key" or "key1,key2"
    # next_unread = "alt+u"       # the actions and their keys: `openim config keys`

A file that does not parse, an unknown key or a wrong type is an error that names the file,
the key and what was expected; nothing falls back silently. This module imports nothing outside
the standard library (the SDK-only install has it too).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

FILE_NAME = "config.toml"

#: section -> key -> (type, default, help)
KEYS: dict[str, dict[str, tuple[type, Any, str]]] = {
    "": {
        "default_profile": (str, "default", "the profile used without -p / OPENIM_PROFILE"),
    },
    "chat": {
        "theme": (str, "textual-dark", "any Textual theme (Ctrl+T cycles them in the chat)"),
        "time_format": (str, "%H:%M", "strftime format of times of today (older ones show the date too)"),
        "download_dir": (str, "", "where d/o save files; empty: ~/Downloads, else the profile's data dir"),
        "previews": (bool, True, "show the selected picture in the chat (Kitty, Sixel or half cells, through "
                     "textual-image); false: only o opens it with the system viewer"),
    },
    "notifications": {
        "bell": (bool, True, "ring the terminal bell (tmux and screen flag the window)"),
        "desktop": (bool, True, "desktop notifications, where the desktop has a notification service"),
    },
}


class SettingsError(ValueError):
    """The settings file is wrong: the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class Settings:
    default_profile: str = "default"
    theme: str = "textual-dark"
    time_format: str = "%H:%M"
    download_dir: str = ""
    previews: bool = True
    bell: bool = True
    desktop: bool = True
    #: chat action -> keys ("alt+u" or "ctrl+k,ctrl+p")
    keys: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    @property
    def download_path(self) -> Path | None:
        return Path(os.path.expanduser(self.download_dir)) if self.download_dir else None

    def to_toml(self) -> str:
        """The effective settings as a TOML document (what ``openim config show`` prints)."""
        out = [f"default_profile = {_toml(self.default_profile)}"]
        for section in ("chat", "notifications"):
            out.append(f"\n[{section}]")
            out += [f"{key} = {_toml(getattr(self, key))}" for key in KEYS[section]]
        out.append("\n[keys]")
        out += [f"{action} = {_toml(keys)}" for action, keys in sorted(self.keys.items())]
        return "\n".join(out) + "\n"


def path() -> Path:
    from .profiles import config_dir

    return config_dir() / FILE_NAME


def load(file: Path | None = None) -> Settings:
    """The settings from ``file`` (default: :func:`path`); defaults when it does not exist."""
    file = file or path()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        return Settings(path=file)
    except OSError as exc:
        raise SettingsError(f"{file}: cannot read it: {exc}") from exc
    import tomllib  # here: most runs have no settings file, and every command reads it

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{file}: not valid TOML: {exc}") from exc
    return parse(data, file)


def parse(data: dict[str, Any], file: Path | str = "config.toml") -> Settings:
    values: dict[str, Any] = {}
    sections = {s for s in KEYS if s} | {"keys"}
    for name, value in data.items():
        if isinstance(value, dict):
            if name not in sections:
                raise SettingsError(f"{file}: unknown section [{name}] (known: {', '.join(sorted(sections))})")
            if name == "keys":
                values["keys"] = _keys(value, file)
                continue
            for key, v in value.items():
                values[key] = _check(file, name, key, v)
        else:
            values[name] = _check(file, "", name, value)
    known = {f.name for f in fields(Settings)}
    return Settings(path=Path(file), **{k: v for k, v in values.items() if k in known})


def _check(file: Path | str, section: str, key: str, value: Any) -> Any:
    where = f"{section}.{key}" if section else key
    spec = KEYS.get(section, {}).get(key)
    if spec is None:
        known = ", ".join(KEYS.get(section, {})) or "none"
        raise SettingsError(f"{file}: unknown key {where!r} (known{f' in [{section}]' if section else ''}: {known})")
    typ = spec[0]
    if not isinstance(value, typ) or (typ is not bool and isinstance(value, bool)):
        raise SettingsError(f"{file}: {where} must be a {typ.__name__}, not {value!r}")
    return value


def _keys(table: dict[str, Any], file: Path | str) -> dict[str, str]:
    out = {}
    for action, keys in table.items():
        if not isinstance(keys, str) or not keys.strip():
            raise SettingsError(f"{file}: keys.{action} must be a key name such as \"alt+u\" or \"ctrl+k,f2\"")
        out[action] = keys.replace(" ", "")
    return out


def template() -> str:
    """A commented file with every key at its default (what ``openim config edit`` starts from)."""
    lines = ["# openim settings: uncomment a line to change it. `openim config show` prints the effective ones."]
    for section, keys in KEYS.items():
        if section:
            lines.append(f"\n[{section}]")
        for key, (_, default, doc) in keys.items():
            lines.append(f"# {key} = {_toml(default)}    # {doc}")
    lines.append("\n[keys]\n# next_unread = \"alt+u\"    # every action: `openim config keys`")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
