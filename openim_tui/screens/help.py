"""F1 / ?: every key binding of the app, collected from the BINDINGS of its classes."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def _rows(bindings: list[BindingType]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for b in bindings:
        if isinstance(b, Binding):
            keys, desc = b.key, b.description or b.action
        else:
            keys, desc = b[0], (b[2] if len(b) > 2 else b[1])
        pretty = " / ".join(_pretty(k) for k in keys.split(","))
        if out and out[-1][1] == desc:  # Alt+1 … Alt+9 on one row
            first = out[-1][0].split(" … ")[0]
            out[-1] = (f"{first} … {pretty}", desc)
        else:
            out.append((pretty, desc))
    return out


def _pretty(key: str) -> str:
    parts = key.strip().split("+")
    names = {"ctrl": "Ctrl", "shift": "Shift", "alt": "Alt", "question_mark": "?", "escape": "Esc",
             "enter": "Enter", "pageup": "PgUp", "pagedown": "PgDn", "up": "↑", "down": "↓",
             "home": "Home", "end": "End", "tab": "Tab"}
    return "+".join(names.get(p, p.upper() if len(p) == 1 or p.startswith("f") else p) for p in parts)


def binding_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    from ..app import ChatApp, ChatScreen
    from ..widgets import Composer, ConversationList, MessageLog

    return [
        ("Global", _rows(ChatApp.BINDINGS) + _rows(ChatScreen.BINDINGS)),
        ("Input box", _rows(Composer.BINDINGS)),
        ("Messages (Tab to focus)", _rows(MessageLog.BINDINGS)),
        ("Conversation list", _rows(ConversationList.BINDINGS)
         + [("↑ / ↓", "Move the highlight")]),
        ("Dialogs", [("Esc", "Close"), ("↑ / ↓", "Move in the list"), ("Enter", "Choose")]),
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close help")]

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for title, rows in binding_sections():
            table.add_row(Text("▸ " + title, style="bold"), "")
            for keys, desc in rows:
                table.add_row(keys, desc)
            table.add_row("", "")
        with VerticalScroll(id="help-body"):
            yield Static("Keys — Esc to close", id="help-title")
            yield Static(table, id="help-table")

    def action_dismiss(self, result: None = None) -> None:  # type: ignore[override]
        self.dismiss(None)
