"""The conversation list: an OptionList of two-line entries (title, time, badge / preview)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from rich.cells import cell_len, set_cell_size
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from openim_sdk.models import Conversation

from .. import render


class ConversationList(OptionList):
    """Pinned first, newest first; unread badges; muted entries dimmed."""

    BINDINGS = [
        Binding("enter", "select", "Open the highlighted conversation", show=False),
    ]
    COMPONENT_CLASSES = {
        "conversation-list--title",
        "conversation-list--time",
        "conversation-list--preview",
        "conversation-list--badge",
        "conversation-list--muted-badge",
        "conversation-list--muted",
        "conversation-list--pin",
        "conversation-list--active",
    }

    class Chosen(Message):
        def __init__(self, conversation_id: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    def __init__(self, *, clock: render.Clock | None = None, tz: tzinfo | None = None, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.clock = clock or (lambda: datetime.now(tz))
        self.tz = tz
        self.time_format = "%H:%M"  # strftime of today's times (the settings' chat.time_format)
        self.conversations: list[Conversation] = []
        self.active: str | None = None
        self.drafts: dict[str, str] = {}

    def set_conversations(self, convs: list[Conversation], active: str | None = None) -> None:
        self.active = active
        self.conversations = render.sort_conversations(convs)
        keep = self.highlighted_option.id if self.highlighted_option is not None else active
        width = max(12, (self.scrollable_content_region.width or 26) - 2)
        opts = [Option(self._prompt(c, width), id=c.conversation_id) for c in self.conversations]
        self.set_options(opts)
        target = active or keep
        if target is not None:
            for i, c in enumerate(self.conversations):
                if c.conversation_id == target:
                    self.highlighted = i
                    break

    def ids(self) -> list[str]:
        return [c.conversation_id for c in self.conversations]

    def _prompt(self, c: Conversation, width: int) -> Text:
        st = self.get_component_rich_style
        muted = c.is_muted
        unread = 0 if c.conversation_id == self.active else c.unread_count
        when = render.fmt_time(c.latest_time, self.clock(), self.tz, self.time_format)
        badge = ""
        if unread:
            badge = f" {unread if unread < 100 else '99+'} "
        title = ("▴ " if c.is_pinned else "") + c.title
        room = width - cell_len(when) - 1
        title = _fit(title, room)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(title, st("conversation-list--muted" if muted else "conversation-list--title", partial=True))
        t.append(" " * max(1, width - cell_len(title) - cell_len(when)))
        t.append(when, st("conversation-list--time", partial=True))
        t.append("\n")
        draft = self.drafts.get(c.conversation_id, c.draft)
        preview = ("draft: " + draft.replace("\n", " ")) if draft and draft.strip() else (c.latest_text or "").replace("\n", " ")
        proom = width - len(badge) - (1 if badge else 0)
        preview = _fit(preview, proom)
        t.append(preview, st("conversation-list--muted" if muted else "conversation-list--preview", partial=True))
        if badge:
            t.append(" " * max(1, width - cell_len(preview) - len(badge)))
            t.append(badge, st("conversation-list--muted-badge" if muted else "conversation-list--badge",
                               partial=True))
        return t

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Chosen(event.option.id))


def _fit(text: str, cells: int) -> str:
    """``text`` cut to ``cells`` terminal cells with an ellipsis (wide characters count double)."""
    if cell_len(text) <= cells:
        return text
    return set_cell_size(text, max(1, cells - 1)).rstrip() + "…"
