"""One-line status: connection state, current user, queued sends, hints."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

_STATE_LABELS = {
    "connecting": ("◌ connecting", "status--warn"),
    "syncing": ("◐ syncing", "status--warn"),
    "connected": ("● connected", "status--ok"),
    "reconnecting": ("◌ reconnecting", "status--warn"),
    "kicked": ("✗ kicked — log in again", "status--error"),
    "token_invalid": ("✗ session expired — log in again", "status--error"),
    "stopped": ("○ offline", "status--error"),
}


class StatusBar(Widget):
    COMPONENT_CLASSES = {"status--ok", "status--warn", "status--error", "status--user", "status--hint"}

    state: reactive[str] = reactive("connecting")
    user: reactive[str] = reactive("")
    queued: reactive[int] = reactive(0)
    detail: reactive[str] = reactive("")

    def render(self) -> Text:
        label, cls = _STATE_LABELS.get(self.state, (self.state, "status--warn"))
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" {label}", self.get_component_rich_style(cls, partial=True))
        if self.queued:
            t.append(f"  {self.queued} queued", self.get_component_rich_style("status--warn", partial=True))
        if self.detail:
            t.append(f"  {self.detail}", self.get_component_rich_style("status--hint", partial=True))
        right = Text(no_wrap=True)
        if self.user:
            right.append(self.user, self.get_component_rich_style("status--user", partial=True))
        right.append("  F1 help ", self.get_component_rich_style("status--hint", partial=True))
        pad = max(1, self.size.width - t.cell_len - right.cell_len)
        t.append(" " * pad)
        t.append_text(right)
        return t
