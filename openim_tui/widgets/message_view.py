"""The message view: one conversation's messages, paged from the SDK, and what their keys do.

A column of the chat title, the message log, the picture preview and the typing line. It loads the
newest page when a conversation opens and older pages on demand, folds in live messages that
arrive meanwhile, and carries out the message keys (retry, download, open, revoke) against the
SDK; quoting is the composer's business and is posted up as :class:`MessageView.Quote`.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message as TMessage

from openim_sdk.events import MessageSendFailed
from openim_sdk.models import Conversation, Message
from openim_sdk.protocol.constants import MsgStatus

from .. import actions, render
from ..screens.confirm import ConfirmScreen
from .chat_header import ChatTitle, TypingLine
from .message_log import MessageLog
from .picture_preview import PicturePreview, load_renderer

PAGE = 50


class MessageView(Vertical):
    """Title, messages, picture preview and typing line of the open conversation."""

    class Loaded(TMessage):
        """The newest page of ``conversation_id`` is shown (time to mark it read)."""

        def __init__(self, conversation_id: str) -> None:
            super().__init__()
            self.conversation_id = conversation_id

    class Quote(TMessage):
        """The user asked to reply quoting ``message``."""

        def __init__(self, message: Message) -> None:
            super().__init__()
            self.message = message

    class Leave(TMessage):
        """Esc in the messages: back to the input box."""

    def __init__(self, *, me: str, clock: render.Clock, tz: Any, download_dir: Path,
                 preview_dir: Path, previews: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.me = me
        self._clock = clock
        self._tz = tz
        self.download_dir = download_dir
        self._preview_dir = preview_dir
        self._previews = previews
        self.client: Any = None
        self.conversation_id: str | None = None
        self._loading: str | None = None
        self._live_buffer: list[Message] = []
        self._unread_at_open = 0

    def on_mount(self) -> None:
        self.log_view.stored_refusal = self._stored_refusal

    def _stored_refusal(self, m: Message) -> MessageSendFailed | None:
        """A refusal the SDK kept from an earlier run (``send_error``), as the event it was."""
        lookup = getattr(self.client, "send_error", None)
        error = lookup(m.client_msg_id) if lookup is not None and m.status == MsgStatus.SEND_FAILED else None
        return MessageSendFailed(m, error) if error is not None else None

    def compose(self) -> ComposeResult:
        yield ChatTitle("", id="chat-title")
        yield MessageLog(id="log", me=self.me, clock=self._clock, tz=self._tz)
        yield PicturePreview(id="preview", cache_dir=self._preview_dir,
                             renderer=load_renderer(may_query=self.app.is_headless) if self._previews else None)
        yield TypingLine(id="typing")

    @property
    def log_view(self) -> MessageLog:
        return self.query_one("#log", MessageLog)

    @property
    def preview(self) -> PicturePreview:
        return self.query_one("#preview", PicturePreview)

    # ------------------------------------------------------------------ the open conversation

    def open(self, conv: Conversation | None, conversation_id: str, unread: int) -> None:
        """Show ``conversation_id`` (its newest page loads in the background)."""
        self.conversation_id = conversation_id
        self._unread_at_open = unread
        self.preview.hide()
        log = self.log_view
        log.is_group = render.is_group(conv)
        log.clear("Loading…")
        self.query_one(TypingLine).show_conversation(conversation_id)
        self.reload()

    def reload(self) -> None:
        if self.conversation_id:
            self._load_latest(self.conversation_id)

    def apply(self, msg: Message) -> None:
        """A new or changed message (an SDK event); shown when it belongs to the open conversation."""
        if msg.conversation_id == self._loading:
            self._live_buffer.append(msg)
        if msg.conversation_id == self.conversation_id:
            self.log_view.upsert(msg)
            if msg.send_id == self.me and msg.is_read:
                self.log_view.refresh()

    def refused(self, ev: MessageSendFailed) -> None:
        """The SDK's refusal of one of our messages: its reason and whether a retry can help."""
        self.log_view.failures[ev.message.client_msg_id] = ev

    @work(exclusive=True, group="load")
    async def _load_latest(self, cid: str) -> None:
        self._loading = cid
        self._live_buffer = []
        try:
            msgs = await self.client.messages(cid, limit=PAGE)
        except Exception as exc:  # noqa: BLE001
            if cid == self.conversation_id:
                self.log_view.clear(f"Could not load messages: {exc}")
            return
        finally:
            if self._loading == cid:
                self._loading = None
        if cid != self.conversation_id:
            return
        log = self.log_view
        log.placeholder = "No messages yet — say hello"
        log.set_messages(msgs, has_more=_has_more(msgs))
        log.mark_unread_from(self._unread_at_open)
        peer = getattr(self.client, "peer_read_seq", None)
        if callable(peer):
            with contextlib.suppress(Exception):
                log.peer_read_seq = int(peer(cid) or 0)
        for m in self._live_buffer:
            log.upsert(m)
        self._live_buffer = []
        self.post_message(self.Loaded(cid))

    @on(MessageLog.LoadOlder)
    def _older_wanted(self, event: MessageLog.LoadOlder) -> None:
        event.stop()
        if self.conversation_id:
            self._load_older(self.conversation_id)

    @work(exclusive=True, group="page")
    async def _load_older(self, cid: str) -> None:
        log = self.log_view
        before = log.oldest_seq
        if before is None or before <= 1:
            log.prepend([], has_more=False)
            return
        try:
            msgs = await self.client.messages(cid, before_seq=before, limit=PAGE)
        except Exception as exc:  # noqa: BLE001
            log.paging = False
            self.notify(f"older messages: {exc}", severity="warning")
            return
        if cid == self.conversation_id:
            log.prepend(msgs, has_more=_has_more(msgs))

    @on(MessageLog.LoadNewer)
    def _newer_wanted(self, event: MessageLog.LoadNewer) -> None:
        event.stop()
        if self.conversation_id:
            self._load_newer(self.conversation_id)

    @work(exclusive=True, group="page")
    async def _load_newer(self, cid: str) -> None:
        """The next newer page, after paging far back evicted the newest end of the window."""
        log = self.log_view
        after = log.newest_seq
        try:
            if after is None:
                msgs, has_newer = await self.client.messages(cid, limit=PAGE), False
            else:
                msgs = await self.client.messages(cid, after_seq=after, limit=PAGE)
                has_newer = len(msgs) >= PAGE
                if not has_newer:  # the newest end: with it the messages not numbered yet (sending, failed)
                    latest = await self.client.messages(cid, limit=PAGE)
                    msgs = _merge_newer(msgs, latest, after)
        except Exception as exc:  # noqa: BLE001
            log.paging = False
            self.notify(f"newer messages: {exc}", severity="warning")
            return
        if cid == self.conversation_id:
            log.append_page(msgs, has_newer=has_newer)

    @on(MessageLog.LoadNewest)
    def _newest_wanted(self, event: MessageLog.LoadNewest) -> None:
        event.stop()
        if self.conversation_id:
            self._load_newest(self.conversation_id)

    @work(exclusive=True, group="page")
    async def _load_newest(self, cid: str) -> None:
        """End after paging far back: the newest page again, in one step."""
        try:
            msgs = await self.client.messages(cid, limit=PAGE)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"newest messages: {exc}", severity="warning")
            return
        if cid == self.conversation_id:
            self.log_view.show_newest(msgs, has_more=_has_more(msgs))

    # ------------------------------------------------------------------ message keys

    @on(MessageLog.Selected)
    def _selected(self, event: MessageLog.Selected) -> None:
        event.stop()
        m = event.message
        if m is not None and render.is_picture(m) and self.preview.enabled and self.client is not None:
            self.preview.show(m, self.client)
        else:
            self.preview.hide()

    @on(MessageLog.Action)
    def _action(self, event: MessageLog.Action) -> None:
        event.stop()
        m = event.message
        if event.action == "leave" or m is None:
            self.post_message(self.Leave())
        elif event.action == "quote":
            self.post_message(self.Quote(m))
        elif event.action == "retry":
            self.retry(m)
        elif event.action in ("download", "open"):
            if not render.is_attachment(m):
                links = [url for *_, kind, url in render.inline_markdown(render.body_text(m))[1] if kind == "link"]
                if event.action == "open" and links:
                    actions.open_link(links[0], self.notify)
                    return
                self.notify("Not a picture or file" + (" (and no link to open)" if event.action == "open" else ""),
                            severity="warning")
                return
            self._download(m, event.action == "open")
        elif event.action == "revoke":
            if m.send_id != self.me:
                self.notify("You can only revoke your own messages", severity="warning")
                return

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._revoke(m)

            self.app.push_screen(ConfirmScreen(f"Revoke this message for everyone?\n\n{render.body_text(m)[:120]}"),
                                 confirmed)

    def retry(self, m: Message) -> None:
        """Send a failed message again, when the SDK's verdict on its refusal says that can help."""
        if m.send_id != self.me or m.status != MsgStatus.SEND_FAILED:
            self.notify("Only your failed messages can be retried", severity="warning")
            return
        refusal = self.log_view.refusal(m)
        if refusal is not None and not refusal.retryable:
            self.notify(f"Not retried: {refusal.explanation} — sending it again cannot help", severity="warning")
            return
        self._retry(m)

    @work(group="actions")
    async def _retry(self, m: Message) -> None:
        try:  # the SDK queues it again and reports it sending (MessageUpdated), then sent or refused
            await self.client.retry(m.client_msg_id)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"retry failed: {exc}", severity="error")

    @work(group="actions")
    async def _download(self, m: Message, open_after: bool) -> None:
        await actions.download(self.client, m, self.download_dir, self.notify, open_after=open_after)

    @work(group="actions")
    async def _revoke(self, m: Message) -> None:
        try:
            await self.client.revoke(m.conversation_id, m.client_msg_id)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"revoke failed: {exc}", severity="error")


def _merge_newer(page: list[Message], latest: list[Message], after: int) -> list[Message]:
    """The last newer page plus what the newest page adds to it (messages without a seq yet)."""
    seen = {m.client_msg_id for m in page}
    return page + [m for m in latest if m.client_msg_id not in seen and (not m.seq or m.seq > after)]


def _has_more(msgs: list[Message]) -> bool:
    if not msgs:
        return False
    oldest = next((m.seq for m in msgs if m.seq), 0)
    return oldest > 1
