"""A yes/no question before something that cannot be undone (revoking a message)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True on ``y``/Enter, False on ``n``/Esc."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker", id="confirm"):
            yield Static(self.question, id="confirm-question")
            yield Static("y / Enter: yes    n / Esc: no", classes="picker-note")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
