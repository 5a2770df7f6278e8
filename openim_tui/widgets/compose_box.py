"""The compose box: the reply-to bar and the input box, and handing what is typed to the SDK.

It keeps each conversation's draft, turns Enter into one SDK send (text, or ``/file PATH`` /
``/image PATH``), reports typing, and keeps no outbox: what it hands over, the SDK queues, sends
when it can and reports (sending, sent, refused) as events the message view draws.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TMessage

from openim_sdk.models import Conversation, Message

from .. import render
from .chat_header import ReplyBar
from .composer import Composer


class ComposeBox(Vertical):
    """Reply bar + input box for the open conversation (:meth:`switch_to`)."""

    class DraftsChanged(TMessage):
        """A conversation's draft changed (the conversation list shows drafts)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.client: Any = None
        self.conversation: Conversation | None = None
        self.conversation_id: str | None = None
        self.drafts: dict[str, str] = {}
        self.online = True
        #: group ID -> [(user ID, nickname)]: who ``@name`` can mention (the members panel knows)
        self.members_of: Callable[[str], list[tuple[str, str]]] = lambda gid: []
        self._typing_in: str | None = None  # where our "typing" went
        # the SDK orders messages as they reach it: hand them over one at a time, as typed
        self._handing_over = asyncio.Lock()

    def compose(self) -> ComposeResult:
        yield ReplyBar(id="reply")
        yield Composer(id="composer")

    @property
    def composer(self) -> Composer:
        return self.query_one(Composer)

    @property
    def reply_to(self) -> Message | None:
        return self.query_one(ReplyBar).message

    @reply_to.setter
    def reply_to(self, m: Message | None) -> None:
        self.query_one(ReplyBar).show(m)

    # ------------------------------------------------------------------ drafts

    def switch_to(self, conversation_id: str, conv: Conversation | None) -> None:
        """Keep what was typed in the conversation left as its draft; show the draft of ``conversation_id``."""
        if self.conversation_id and self.conversation_id != conversation_id:
            self._save_draft(self.conversation_id, self.composer.text)
            self.composer.stop_typing()
        self.conversation_id = conversation_id
        self.conversation = conv
        self.reply_to = None
        draft = self.drafts.get(conversation_id)
        if draft is None and conv is not None:
            draft = conv.draft
        self.composer.set_text(draft or "")

    def _save_draft(self, cid: str, text: str) -> None:
        old = self.drafts.get(cid)
        if old is None:
            old = self.conversation.draft if self.conversation is not None and cid == self.conversation_id else ""
        self.drafts[cid] = text
        self.post_message(self.DraftsChanged())
        if text != (old or "") and hasattr(self.client, "set_draft"):
            self._persist_draft(cid, text)

    @work(group="drafts")
    async def _persist_draft(self, cid: str, text: str) -> None:
        with contextlib.suppress(Exception):
            await self.client.set_draft(cid, text)

    # ------------------------------------------------------------------ sending

    @on(Composer.Submitted)
    def _submitted(self, event: Composer.Submitted) -> None:
        event.stop()
        cid = self.conversation_id
        if not cid or self.client is None:
            self.app.bell()
            self.notify("Open a conversation first (Ctrl+N for a new chat)", severity="warning")
            return
        text = event.text.rstrip("\n")
        cmd, _, arg = text.strip().partition(" ")
        if cmd in ("/file", "/image", "/img") and arg.strip():
            path = Path(arg.strip()).expanduser()
            if not path.is_file():
                self.notify(f"no such file: {path}", severity="error")
                return
            self.composer.set_text("")
            self._send_file(cid, path, cmd != "/file")
            return
        self.composer.set_text("")
        if self.drafts.get(cid) or (self.conversation is not None and self.conversation.draft):
            self._save_draft(cid, "")
        self._send_text(cid, text, self.reply_to)
        self.reply_to = None

    @work(group="sender")
    async def _send_text(self, cid: str, text: str, quote: Message | None) -> None:
        """Hand the text to the SDK once. Its outbox sends it (now, or when the connection is
        back) and reports each state as an event: the message appears (sending), then is sent or
        refused with the server's reason. Only a local error (no such chat...) lands here."""
        conv = self.conversation if cid == self.conversation_id else None
        group = render.is_group(conv)
        at_ids = self._mentioned_ids(conv, text) if group else []
        async with self._handing_over:
            try:
                await self.client.send_text(cid, text, group=group, at_user_ids=tuple(at_ids), quote=quote)
            except Exception as exc:  # noqa: BLE001
                self.notify(f"send failed: {exc}", severity="error")

    @work(group="files")
    async def _send_file(self, cid: str, path: Path, image: bool) -> None:
        conv = self.conversation if cid == self.conversation_id else None
        self.notify(f"Uploading {path.name}…", timeout=3)
        try:  # the upload comes first; the message then goes the way of any other (SDK events)
            await self.client.send_file(cid, path, group=render.is_group(conv), image=image)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"upload failed: {exc}", severity="error")

    def _mentioned_ids(self, conv: Conversation | None, text: str) -> list[str]:
        if conv is None:
            return []
        members = self.members_of(conv.group_id)
        ids = []
        for s, e, _ in render.mention_spans(text, ()):
            token = text[s + 1:e].lower()
            if token in ("all", "everyone"):
                ids.append("AtAllTag")
                continue
            for uid, nick in members:
                if token in (uid.lower(), (nick or "").lower()):
                    ids.append(uid)
                    break
        return list(dict.fromkeys(ids))

    # ------------------------------------------------------------------ typing, reply

    @on(Composer.Typing)
    def _typing(self, event: Composer.Typing) -> None:
        event.stop()
        cid = self.conversation_id if event.typing else self._typing_in
        self._typing_in = self.conversation_id if event.typing else None
        if cid and self.client is not None and self.online:
            self._typing_call(cid, event.typing)

    @work(group="typing")
    async def _typing_call(self, cid: str, typing: bool) -> None:
        with contextlib.suppress(Exception):
            await self.client.typing(cid, typing)

    @on(Composer.Cancel)
    def _cancel(self, event: Composer.Cancel) -> None:
        event.stop()
        self.reply_to = None
