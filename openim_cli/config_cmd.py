"""``openim config path|show|edit|keys``: the settings file (see :mod:`openim_cli.settings`)."""

from __future__ import annotations

import os
import shlex
import subprocess
from typing import Annotated

import typer

from . import output, settings
from .main import JsonOpt, app

config_app = typer.Typer(help="Settings file: path, show, edit, keys (chat key bindings).", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("path")
def config_path(as_json: JsonOpt = False) -> None:
    """Print where the settings file is (it need not exist: defaults apply)."""
    if as_json:
        output.emit_json({"path": str(settings.path()), "exists": settings.path().exists()})
    else:
        typer.echo(str(settings.path()))


@config_app.command("show")
def config_show(
    defaults: Annotated[bool, typer.Option("--defaults", help="The defaults, ignoring the file.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Print the effective settings as TOML (the file's values over the defaults)."""
    prefs = settings.Settings() if defaults else _load()
    if as_json:
        import dataclasses

        output.emit_json({k: (str(v) if k == "path" and v is not None else v)
                          for k, v in dataclasses.asdict(prefs).items()})
        return
    typer.echo(f"# {settings.path()}{'' if defaults or settings.path().exists() else ' (absent: defaults)'}")
    typer.echo(prefs.to_toml(), nl=False)


@config_app.command("edit")
def config_edit() -> None:
    """Open the settings file in $VISUAL / $EDITOR (a commented one is created first), then check it."""
    file = settings.path()
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(settings.template(), encoding="utf-8")
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        subprocess.run([*shlex.split(editor), str(file)], check=False)
    except OSError as exc:
        output.fail(f"cannot start the editor {editor!r}: {exc} (set $EDITOR)", output.EXIT_USAGE)
    _load()
    output.say(f"{file}: ok")


@config_app.command("keys")
def config_keys(as_json: JsonOpt = False) -> None:
    """List the chat actions that [keys] can rebind, with their keys (yours where you changed them)."""
    output.need_extra("tui", what="openim config keys")
    from openim_tui.keys import rebindable

    mine = _load().keys
    rows = [(action, mine.get(action, default), "yours" if action in mine else "", doc)
            for action, (default, doc) in sorted(rebindable().items())]
    if as_json:
        for action, keys, yours, doc in rows:
            output.emit_json({"action": action, "keys": keys, "changed": bool(yours), "description": doc})
        return
    output.table("Chat key bindings (\\[keys] in the settings file)", ["action", "keys", "", "what it does"], rows)


def _load() -> settings.Settings:
    try:
        return settings.load()
    except settings.SettingsError as exc:
        output.fail(str(exc), output.EXIT_USAGE)
        raise  # unreachable: fail exits
