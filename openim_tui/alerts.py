"""Alerts for incoming messages: the terminal bell and, where one can be shown, a desktop notification.

The bell is also what tmux and screen watch for (``monitor-bell``, the window's bell flag), so a
chat in a background window gets noticed. Muted conversations (receive option not 0) and
notification messages stay quiet, and so does the conversation on screen while the terminal has
focus. Desktop notifications use desktop-notifier (installed with the ``tui`` extra); where it is
missing, or the desktop has no notification service (no D-Bus session, a server over ssh), they
switch themselves off after the first failure and the bell stays.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from openim_sdk.models import Conversation, Message

from . import render

log = logging.getLogger(__name__)


class Alerts:
    def __init__(self, screen: Any, *, bell: bool = True, desktop: bool = True,
                 notifier: Callable[[], Any] | None = None) -> None:
        self.screen = screen
        self.bell = bell
        self.desktop = desktop
        self._make_notifier = notifier
        self._notifier: Any = None
        #: what was alerted, newest last (client message IDs): tests and the status line read it
        self.alerted: list[str] = []

    def incoming(self, msg: Message, conv: Conversation | None, *, viewing: bool) -> None:
        if msg.is_notification or (conv is not None and conv.recv_msg_opt != 0):
            return
        app = self.screen.app
        if viewing and getattr(app, "app_focus", True):
            return
        self.alerted.append(msg.client_msg_id)
        del self.alerted[:-100]
        if self.bell:
            app.bell()
        if self.desktop:
            title = (conv.title if conv is not None else "") or msg.sender_nickname or msg.send_id
            who = msg.sender_nickname or msg.send_id
            body = render.body_text(msg)[:200]
            text = body if conv is None or not conv.is_group else f"{who}: {body}"
            self.screen.run_worker(self._desktop(title, text), group="alerts", exit_on_error=False)

    async def _desktop(self, title: str, text: str) -> None:
        try:
            if self._notifier is None:
                self._notifier = (self._make_notifier or _desktop_notifier)()
            await self._notifier.send(title=title, message=text)
        except Exception as exc:  # noqa: BLE001 - no library, no D-Bus, no notification server
            log.info("desktop notifications off: %s", exc)
            self.desktop = False


def _desktop_notifier() -> Any:
    from desktop_notifier import DesktopNotifier  # the tui extra; ImportError switches them off

    return DesktopNotifier(app_name="OpenIM")
