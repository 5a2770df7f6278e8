"""The input box: Enter sends, Shift+Enter / Ctrl+J inserts a newline; it tells when you type."""

from __future__ import annotations

import time
from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class Composer(TextArea):
    """A multi-line input that posts :class:`Composer.Submitted` on Enter."""

    # Documented here so the help screen lists them; the keys are handled in ``_on_key``.
    BINDINGS = [
        Binding("enter", "submit", "Send the message (/file PATH or /image PATH sends a file)"),
        Binding("shift+enter,ctrl+j", "newline", "Insert a newline"),
        Binding("ctrl+r", "retry", "Retry the last failed message", id="retry_last"),
        Binding("escape", "cancel", "Cancel reply / clear selection", show=False),
    ]

    class Submitted(Message):
        def __init__(self, composer: Composer, text: str) -> None:
            super().__init__()
            self.composer = composer
            self.text = text

    class Typing(Message):
        """The user started (``typing``) or stopped typing: at most one start per
        :attr:`Composer.TYPING_EVERY` seconds, a stop after :attr:`Composer.TYPING_IDLE` quiet ones
        or when the text is sent."""

        def __init__(self, typing: bool) -> None:
            super().__init__()
            self.typing = typing

    class Cancel(Message):
        pass

    class Retry(Message):
        pass

    TYPING_EVERY = 3.0
    TYPING_IDLE = 4.0

    def __init__(self, **kw: object) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         compact=True, **kw)  # type: ignore[arg-type]
        self._programmatic = False
        self._typing_since = 0.0  # when the last "typing" went out; 0: not typing
        self._idle: Any = None

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.action_submit()
            return
        if event.key in ("shift+enter", "ctrl+j", "newline"):
            event.stop()
            event.prevent_default()
            self.action_newline()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(self, text))
            self.stop_typing()

    def action_newline(self) -> None:
        self.insert("\n")

    def action_retry(self) -> None:
        self.post_message(self.Retry())

    def action_cancel(self) -> None:
        self.post_message(self.Cancel())

    def set_text(self, text: str) -> None:
        self._programmatic = True
        self.load_text(text)
        self.move_cursor(self.document.end)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._programmatic:
            self._programmatic = False
            return
        if self.text:
            self._typed()

    def _typed(self) -> None:
        now = time.monotonic()
        if now - self._typing_since > self.TYPING_EVERY:
            self._typing_since = now
            self.post_message(self.Typing(True))
        if self._idle is not None:
            self._idle.stop()
        self._idle = self.set_timer(self.TYPING_IDLE, self.stop_typing)

    def stop_typing(self) -> None:
        """Say "stopped typing" if a start went out (sent, idle, or the conversation changed)."""
        if self._idle is not None:
            self._idle.stop()
            self._idle = None
        if self._typing_since:
            self._typing_since = 0.0
            self.post_message(self.Typing(False))
