"""openim_tui: the terminal chat (``openim chat`` / ``python -m openim_tui``)."""

from __future__ import annotations

from typing import Any

__all__ = ["run_chat"]


def run_chat(profile_name: str | None = None, **overrides: Any) -> None:
    """Run the chat with a stored CLI profile, or flags: ``api``, ``ws``, ``user``, ``token``,
    ``platform``, ``data_dir`` (the long names ``api_url``, ``ws_url``, ``user_id``,
    ``platform_id`` work too)."""
    from .app import ChatApp
    from .config import resolve

    spec = resolve(profile_name, **overrides)
    ChatApp(spec).run()
