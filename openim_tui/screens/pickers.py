"""Modal pickers: quick switcher (Ctrl+K), new chat (Ctrl+N), search (Ctrl+F)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from openim_sdk.models import Conversation, Message

from .. import render


class _Picker(ModalScreen[Any]):
    """Input on top of an OptionList; ↑/↓ move in the list while typing; Enter chooses."""

    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]
    TITLE_TEXT = ""
    PLACEHOLDER = ""

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker"):
            yield Static(self.TITLE_TEXT, classes="picker-title")
            yield Input(placeholder=self.PLACEHOLDER, id="picker-input")
            yield OptionList(id="picker-list")
            yield Static("", id="picker-note", classes="picker-note")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        self.refill("")

    def refill(self, query: str) -> None:  # pragma: no cover - overridden
        pass

    @property
    def options(self) -> OptionList:
        return self.query_one("#picker-list", OptionList)

    def set_rows(self, rows: list[Option]) -> None:
        ol = self.options
        ol.set_options(rows)
        if rows:
            ol.highlighted = 0

    def action_move(self, delta: int) -> None:
        ol = self.options
        if ol.option_count:
            cur = ol.highlighted if ol.highlighted is not None else -1
            ol.highlighted = max(0, min(ol.option_count - 1, cur + delta))

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Input.Changed, "#picker-input")
    def _changed(self, event: Input.Changed) -> None:
        self.refill(event.value)

    @on(Input.Submitted, "#picker-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.submit_text(event.value)

    def submit_text(self, value: str) -> None:
        ol = self.options
        if ol.highlighted is not None and ol.option_count:
            self.choose(ol.get_option_at_index(ol.highlighted).id or "", value)
        else:
            self.choose("", value)

    @on(OptionList.OptionSelected, "#picker-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id or "", self.query_one(Input).value)

    def choose(self, option_id: str, typed: str) -> None:
        self.dismiss(option_id or None)


class QuickSwitcher(_Picker):
    """Fuzzy-find a conversation by name; returns its ID."""

    TITLE_TEXT = "Switch conversation"
    PLACEHOLDER = "type a name…"

    def __init__(self, conversations: list[Conversation]) -> None:
        super().__init__()
        self.conversations = conversations

    def refill(self, query: str) -> None:
        rows = []
        for c in self.conversations:
            if not query or render.fuzzy_match(query, c.title) or render.fuzzy_match(query, c.conversation_id):
                label = Text(c.title)
                if c.unread_count:
                    label.append(f"  ({c.unread_count})", style="bold")
                rows.append(Option(label, id=c.conversation_id))
        self.set_rows(rows)


@dataclass
class ChatTarget:
    user_id: str = ""
    group_id: str = ""


class NewChatScreen(_Picker):
    """Pick a friend or a group, or type an ID (``#id`` or ``g:id`` for a group)."""

    TITLE_TEXT = "New chat"
    PLACEHOLDER = "filter, or type a user ID (#group or g:group)"

    def __init__(self, client: Any) -> None:
        super().__init__()
        self.client = client
        self.entries: list[tuple[str, str, str]] = []  # (option id, label, search key)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#picker-note", Static).update("loading friends and groups…")
        self.load()

    @work(exclusive=True, group="load")
    async def load(self) -> None:
        entries: list[tuple[str, str, str]] = []
        note = ""
        try:
            for f in await self.client.friends.list():
                entries.append((f"u:{f.user_id}", f"{f.name}  ({f.user_id})", f"{f.name} {f.user_id}"))
        except Exception as exc:  # noqa: BLE001 - shown to the user
            note = f"friends unavailable: {exc}"
        try:
            for g in await self.client.groups.list():
                if not g.is_dismissed:
                    entries.append((f"g:{g.group_id}", f"# {g.name}  ({g.group_id})", f"{g.name} {g.group_id}"))
        except Exception as exc:  # noqa: BLE001
            note = (note + "; " if note else "") + f"groups unavailable: {exc}"
        self.entries = entries
        self.query_one("#picker-note", Static).update(note or f"{len(entries)} contacts · Enter to start")
        self.refill(self.query_one(Input).value)

    def refill(self, query: str) -> None:
        rows = [Option(label, id=oid) for oid, label, key in self.entries
                if not query or render.fuzzy_match(query, key)]
        self.set_rows(rows)

    def choose(self, option_id: str, typed: str) -> None:
        typed = typed.strip()
        if option_id:
            kind, _, ident = option_id.partition(":")
        elif typed:
            if typed.startswith("#"):
                kind, ident = "g", typed[1:]
            elif typed.startswith(("g:", "u:")):
                kind, ident = typed[0], typed[2:]
            else:
                kind, ident = "u", typed
        else:
            return
        self.dismiss(ChatTarget(user_id=ident) if kind == "u" else ChatTarget(group_id=ident))



class SearchScreen(_Picker):
    """Full-text search over the local cache; returns the chosen Message."""

    TITLE_TEXT = "Search messages"
    PLACEHOLDER = "search text, Enter to search"

    def __init__(self, client: Any, titles: dict[str, str], conversation_id: str | None = None) -> None:
        super().__init__()
        self.client = client
        self.titles = titles
        self.conversation_id = conversation_id
        self.results: dict[str, Message] = {}
        self._last = ""

    def refill(self, query: str) -> None:
        pass

    def submit_text(self, value: str) -> None:
        ol = self.options
        if value == self._last and ol.highlighted is not None and ol.option_count:
            self.choose(ol.get_option_at_index(ol.highlighted).id or "", value)
            return
        self._last = value
        self.search(value)

    @work(exclusive=True, group="search")
    async def search(self, text: str) -> None:
        note = self.query_one("#picker-note", Static)
        if not text.strip():
            return
        note.update("searching…")
        try:
            found = await self.client.search(text, limit=50)
        except Exception as exc:  # noqa: BLE001
            note.update(f"search failed: {exc}")
            return
        self.results = {m.client_msg_id: m for m in found}
        rows = []
        for m in found:
            t = Text()
            t.append(self.titles.get(m.conversation_id, m.conversation_id), style="bold")
            t.append(f"  {m.sender_nickname or m.send_id}: ")
            t.append(render.body_text(m).replace("\n", " "))
            rows.append(Option(t, id=m.client_msg_id))
        self.set_rows(rows)
        note.update(f"{len(found)} result(s) · Enter to open")

    def choose(self, option_id: str, typed: str) -> None:
        msg = self.results.get(option_id)
        if msg is not None:
            self.dismiss(msg)
