"""The lines around the messages: the chat's title, the reply-to bar and the typing line.

Each renders one piece of state it is handed (or, for typing, keeps: who typed when); none of
them talks to the SDK.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.widgets import Static

from openim_sdk.models import Conversation, Message

from .. import render

TYPING_TTL = 6.0  # seconds a "typing" report lasts without news


class ChatTitle(Static):
    """The open conversation: its name, then the member count (groups) or the peer's ID, muted flag."""

    def show(self, conv: Conversation | None, members: int | None = None) -> None:
        if conv is None:
            self.update("")
            return
        group = render.is_group(conv)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(("# " if group else "") + conv.title, style="bold")
        if group and members is not None:
            t.append(f"  {members} members", style="dim")
        elif not group and conv.user_id:
            t.append(f"  {conv.user_id}", style="dim")
        if conv.is_muted:
            t.append("  (muted)", style="dim")
        self.update(t)


class ReplyBar(Static):
    """The message the next one replies to (quotes); hidden when there is none."""

    def __init__(self, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self.message: Message | None = None

    def show(self, m: Message | None) -> None:
        self.message = m
        self.display = m is not None
        if m is None:
            self.update("")
            return
        self.update(Text(f"↳ replying to {m.sender_nickname or m.send_id}: "
                         f"{render.body_text(m)[:60]}  (Esc cancels)", no_wrap=True, overflow="ellipsis"))


class TypingLine(Static):
    """"Bob is typing…" for the open conversation. Keeps every conversation's typists; a report
    expires after :data:`TYPING_TTL` seconds, or when that user's message arrives."""

    def __init__(self, *, monotonic: Callable[[], float] = time.monotonic, **kw: object) -> None:
        super().__init__("", **kw)  # type: ignore[arg-type]
        self._now = monotonic
        self.typing: dict[str, dict[str, float]] = {}  # conversation -> user -> expires at
        self.conversation: str | None = None
        #: user ID -> the name to show (the screen knows members and peers)
        self.name_of: Callable[[str], str] = lambda uid: uid

    def on_mount(self) -> None:
        self.set_interval(1.0, self.expire)

    def report(self, conversation_id: str, user_id: str, typing: bool) -> None:
        users = self.typing.setdefault(conversation_id, {})
        if typing:
            users[user_id] = self._now() + TYPING_TTL
        else:
            users.pop(user_id, None)
        if conversation_id == self.conversation:
            self.redraw()

    def show_conversation(self, conversation_id: str | None) -> None:
        self.conversation = conversation_id
        self.redraw()

    def expire(self) -> None:
        now = self._now()
        changed = False
        for users in self.typing.values():
            for u, exp in list(users.items()):
                if exp < now:
                    users.pop(u)
                    changed = True
        if changed:
            self.redraw()

    def redraw(self) -> None:
        users = sorted(self.typing.get(self.conversation or "", {}))
        if not users:
            self.update("")
            return
        names = [self.name_of(u) for u in users]
        verb = "is" if len(names) == 1 else "are"
        self.update(Text(f"{', '.join(names[:3])} {verb} typing…", style="italic"))
