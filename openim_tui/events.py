"""Textual messages the app posts to its screens (SDK events are wrapped, never handled off-loop)."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class ClientEvent(Message):
    """One SDK event (``openim_sdk.events.Event``) for the chat screen."""

    def __init__(self, event: Any) -> None:
        super().__init__()
        self.event = event


class SessionStarted(Message):
    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client


class SessionFailed(Message):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error
