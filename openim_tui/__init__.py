"""openim_tui: the terminal chat (``openim chat`` / ``python -m openim_tui``)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_chat"]


def run_chat(profile_name: str | None = None, **overrides: Any) -> None:
    """Run the chat with a stored CLI profile, or flags: ``api``, ``ws``, ``user``, ``token``,
    ``platform``, ``data_dir`` (the long names ``api_url``, ``ws_url``, ``user_id``,
    ``platform_id`` work too)."""
    from openim_cli import settings

    from .app import ChatApp
    from .config import resolve

    prefs = settings.load()  # a broken settings file stops here with a SettingsError (a ValueError)
    spec = resolve(profile_name, **overrides)
    _log_to_file(spec.data_dir / "tui.log")
    if prefs.previews:  # ask the terminal what pictures it can show while it still answers us
        from .widgets.picture_preview import load_renderer

        load_renderer()
    ChatApp(spec, settings=prefs).run()


def _log_to_file(path: Any) -> None:
    """SDK warnings go to a file: anything written to the terminal would tear the screen."""
    import logging

    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for h in list(root.handlers):
        if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler):
            root.removeHandler(h)
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
