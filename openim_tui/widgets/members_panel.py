"""The group members panel (Ctrl+G): loads a group's members once and lists them."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from openim_sdk.models import Conversation

from .. import render


class MembersPanel(OptionList):
    """Members of the open group chat (you in bold); says so when the chat is not a group."""

    class Loaded(Message):
        """A group's members are known now (names, counts and mentions can use them)."""

        def __init__(self, group_id: str) -> None:
            super().__init__()
            self.group_id = group_id

    def __init__(self, *, me: str = "", **kw: Any) -> None:
        super().__init__(**kw)
        self.me = me
        self.members: dict[str, list[tuple[str, str]]] = {}  # group ID -> [(user ID, nickname)]

    def of(self, group_id: str) -> list[tuple[str, str]]:
        return self.members.get(group_id, [])

    def count(self, group_id: str) -> int | None:
        return len(self.members[group_id]) if group_id in self.members else None

    def nickname(self, group_id: str, user_id: str) -> str | None:
        for uid, nick in self.of(group_id):
            if uid == user_id:
                return nick or uid
        return None

    @work(exclusive=True, group="members")
    async def show_for(self, conv: Conversation | None, client: Any) -> None:
        if conv is None or not render.is_group(conv):
            self.set_options([Option(Text("not a group chat", style="dim"), disabled=True)])
            return
        gid = conv.group_id
        if gid not in self.members:
            try:
                members = await client.groups.members(gid)
            except Exception as exc:  # noqa: BLE001
                self.set_options([Option(Text(f"unavailable: {exc}", style="dim"), disabled=True)])
                return
            self.members[gid] = [(m.user_id, m.nickname) for m in members]
        rows = []
        for uid, nick in self.of(gid):
            t = Text(nick or uid, style="bold" if uid == self.me else "")
            if nick and nick != uid:
                t.append(f" {uid}", style="dim")
            rows.append(Option(t, id=f"m:{uid}"))
        self.set_options(rows)
        self.post_message(self.Loaded(gid))
