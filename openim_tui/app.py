"""The chat app: ChatApp owns the SDK session; ChatScreen is the three-pane chat."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sys
import time
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from openim_cli.settings import Settings
from openim_sdk.events import (
    ConnectionState,
    ConnectionStateChanged,
    ConversationChanged,
    ErrorEvent,
    MessageReceived,
    MessageSendFailed,
    MessageUpdated,
    ServerHistoryRewound,
    SessionEnded,
    SyncFinished,
    TypingChanged,
)
from openim_sdk.models import Conversation, Message
from openim_sdk.protocol.constants import MsgStatus

from . import alerts, keys, render
from .config import ConnectSpec
from .events import ClientEvent, SessionFailed, SessionStarted
from .screens.confirm import ConfirmScreen
from .screens.help import HelpScreen
from .screens.pickers import ChatTarget, NewChatScreen, QuickSwitcher, SearchScreen
from .widgets import Composer, ConversationList, MessageLog, StatusBar

PAGE = 50
NARROW = 60  # columns: below this the conversation list hides itself (Ctrl+B shows it)
NO_CONVERSATIONS = "No conversations yet — Ctrl+N starts one"
PICK_CONVERSATION = "Pick a conversation on the left (↑/↓, Enter) — or Ctrl+N for a new one"
TYPING_TTL = 6.0


class ChatScreen(Screen[None]):
    """Conversation list | title, messages, typing line, input | members; status bar below."""

    # priority: these win over the input box's own editing keys (TextArea binds Ctrl+K, for one)
    BINDINGS = [
        Binding("ctrl+up", "switch(-1)", "Previous conversation", priority=True, id="previous_conversation"),
        Binding("ctrl+down", "switch(1)", "Next conversation", priority=True, id="next_conversation"),
        *[Binding(f"alt+{n}", f"jump({n})", "Jump to conversation 1–9", show=False, priority=True,
                  id=f"jump_{n}") for n in range(1, 10)],
        Binding("ctrl+k", "quick_switch", "Quick switcher", priority=True, id="quick_switch"),
        Binding("ctrl+n", "new_chat", "New chat (friend, group or ID)", priority=True, id="new_chat"),
        Binding("ctrl+f", "search", "Search messages", priority=True, id="search"),
        Binding("ctrl+g", "toggle_members", "Group members panel", priority=True, id="toggle_members"),
        Binding("ctrl+b", "toggle_sidebar", "Show / hide the conversation list", priority=True, id="toggle_sidebar"),
        Binding("alt+u", "next_unread", "Next conversation with unread messages", priority=True, id="next_unread"),
        Binding("ctrl+l", "focus_list", "Focus the conversation list", priority=True, id="focus_list"),
        Binding("ctrl+e", "focus_composer", "Focus the input box", priority=True, id="focus_composer"),
        Binding("tab", "app.focus_next", "Next pane (list, messages, input)", show=False),
    ]

    current: reactive[str | None] = reactive(None)
    conn_state: reactive[str] = reactive("connecting")
    show_members: reactive[bool] = reactive(False)
    #: the conversation list; None = automatic (hidden below NARROW columns), else the user's choice
    show_sidebar: reactive[bool | None] = reactive(None)

    def __init__(self, me: str, clock: render.Clock, tz: tzinfo | None, download_dir: Path) -> None:
        super().__init__()
        self.me = me
        self.clock = clock
        self.tz = tz
        self.download_dir = download_dir
        self.client: Any = None
        self.convs: dict[str, Conversation] = {}
        self._conv_updates = 0  # counts ConversationChanged events applied
        self._conv_stamps: dict[str, int] = {}  # conversation -> _conv_updates when last changed
        self.drafts: dict[str, str] = {}
        self.members: dict[str, list[tuple[str, str]]] = {}
        self.typing: dict[str, dict[str, float]] = {}
        self.reply_to: Message | None = None
        self._list_dirty = False
        self._read_pending: set[str] = set()
        self._loading: str | None = None
        self._live_buffer: list[Message] = []
        self._typing_sent_at = 0.0
        self._typing_timer: Any = None
        self._outbox: asyncio.Queue[tuple[str, str, Message | None]] = asyncio.Queue()
        self._unread_at_open = 0
        self.alerts = alerts.Alerts(self)
        self.time_format = "%H:%M"

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConversationList(id="conversations", clock=self.clock, tz=self.tz)
            with Vertical(id="chat"):
                yield Static("", id="chat-title")
                yield MessageLog(id="log", me=self.me, clock=self.clock, tz=self.tz)
                yield Static("", id="reply")
                yield Static("", id="typing")
                yield Composer(id="composer")
            yield OptionList(id="members")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self.query_one(StatusBar).user = self.me
        self.query_one("#conversations", ConversationList).border_title = "Chats"
        self.query_one("#members", OptionList).border_title = "Members"
        self.log_view.clear("Connecting…")
        self.log_view.time_format = self.conv_list.time_format = self.time_format
        if self.app.is_headless:
            self.composer.cursor_blink = False  # steady pictures under test
        self.composer.focus()
        self.set_interval(1.0, self._expire_typing)
        self._send_loop()

    @property
    def log_view(self) -> MessageLog:
        return self.query_one("#log", MessageLog)

    @property
    def composer(self) -> Composer:
        return self.query_one("#composer", Composer)

    @property
    def conv_list(self) -> ConversationList:
        return self.query_one("#conversations", ConversationList)

    @property
    def online(self) -> bool:
        return self.conn_state in (ConnectionState.CONNECTED, ConnectionState.SYNCING)

    # ------------------------------------------------------------------ session

    def on_session_started(self, message: SessionStarted) -> None:
        self.client = message.client
        self.self_names = {self.me, str(getattr(self.client, "nickname", "") or "")}
        self.log_view.self_names = self.self_names
        state = getattr(self.client, "state", None)
        if state is not None:
            self.conn_state = str(getattr(state, "value", state))
        self.reload_conversations()

    def on_session_failed(self, message: SessionFailed) -> None:
        self.conn_state = ConnectionState.STOPPED
        self.query_one(StatusBar).detail = str(message.error)[:80]
        self.log_view.clear(f"Could not start: {message.error}")
        self.notify(str(message.error), title="Session failed", severity="error", timeout=10)

    @work(exclusive=True, group="conversations")
    async def reload_conversations(self) -> None:
        started = self._conv_updates
        try:
            convs = await self.client.conversations()
        except Exception as exc:  # noqa: BLE001
            self.notify(f"conversations: {exc}", severity="error")
            return
        fresh = {c.conversation_id: c for c in convs}
        # a ConversationChanged that arrived while the snapshot was read is newer than the snapshot
        for cid, stamp in self._conv_stamps.items():
            if stamp > started and cid in self.convs:
                fresh[cid] = self.convs[cid]
        self.convs = fresh
        self._flush_list()
        if self.current is None:
            ordered = render.sort_conversations(self.convs.values())
            if ordered:
                self.open_conversation(ordered[0].conversation_id)
            else:
                self.log_view.clear(NO_CONVERSATIONS)
        elif self.current in self.convs:
            self._update_title()

    def watch_conn_state(self, state: str) -> None:
        bar = self.query_one(StatusBar)
        bar.state = state
        self.log_view.online = self.online
        self._update_queued()

    def _update_queued(self) -> None:
        queued = 0
        if not self.online:
            queued = sum(1 for m in self.log_view.messages if m.send_id == self.me
                         and m.status == MsgStatus.SENDING)
        self.query_one(StatusBar).queued = queued

    # ------------------------------------------------------------------ SDK events

    def on_client_event(self, message: ClientEvent) -> None:
        ev = message.event
        if isinstance(ev, MessageSendFailed):
            self._note_refusal(ev)
        if isinstance(ev, MessageReceived):
            self._apply_message(ev.message, new=True)
        elif isinstance(ev, MessageUpdated):
            self._apply_message(ev.message, new=False)
        elif isinstance(ev, ConversationChanged):
            self._apply_conversation(ev.conversation)
        elif isinstance(ev, ConnectionStateChanged):
            was_online = self.online
            self.conn_state = str(ev.state.value)
            self.query_one(StatusBar).detail = "" if self.online else (ev.detail or "")[:60]
            if self.online and not was_online and self.current:
                self._read_pending.add(self.current)
                self._schedule_read()
        elif isinstance(ev, TypingChanged):
            users = self.typing.setdefault(ev.conversation_id, {})
            if ev.typing and ev.user_id != self.me:
                users[ev.user_id] = time.monotonic() + TYPING_TTL
            else:
                users.pop(ev.user_id, None)
            self._update_typing()
        elif type(ev).__name__ == "ReadReceipt":
            cid, uid, seq = ev.conversation_id, ev.user_id, ev.has_read_seq
            if cid == self.current and uid != self.me:
                self.log_view.peer_read_seq = max(self.log_view.peer_read_seq, int(seq))
        elif isinstance(ev, SyncFinished):
            self.reload_conversations()
        elif isinstance(ev, ServerHistoryRewound):  # rows above server_max were dropped from the cache
            self.notify(f"The server's history of this chat went back (seq {ev.local_max} -> {ev.server_max}); "
                        "messages it no longer holds were removed.", severity="warning", timeout=10)
            if ev.conversation_id == self.current:
                self._load_latest(ev.conversation_id)
        elif isinstance(ev, SessionEnded):
            self.conn_state = str(ev.reason.value)
            self.notify(f"Session ended: {ev.reason.value}. Log in again with `openim login`.",
                        severity="error", timeout=15)
        elif isinstance(ev, ErrorEvent):
            self.query_one(StatusBar).detail = f"{ev.where}: {ev.error}"[:60] if ev.where else str(ev.error)[:60]

    def _note_refusal(self, ev: MessageSendFailed) -> None:
        """Say why the server refused a message, next to it and once as a toast; offer retry only
        when trying again can help (a network failure, not a refusal such as muted or blocked)."""
        self.log_view.failures[ev.message.client_msg_id] = (ev.explanation, ev.retryable)
        self.notify(f"Not sent: {ev.explanation}", severity="error", timeout=8)

    def _apply_message(self, msg: Message, *, new: bool) -> None:
        cid = msg.conversation_id
        own = msg.send_id == self.me
        if new and not own:
            self.alerts.incoming(msg, self.convs.get(cid), viewing=cid == self.current)
        if cid == self._loading:
            self._live_buffer.append(msg)
        if cid == self.current:
            self.log_view.upsert(msg)
            if own and msg.is_read:
                self.log_view.refresh()
            if new and not own:
                self._read_pending.add(cid)
                self._schedule_read()
                if msg.send_id in self.typing.get(cid, {}):
                    self.typing[cid].pop(msg.send_id, None)
                    self._update_typing()
            self._update_queued()
        # the conversation (latest message, unread) changes only through ConversationChanged: the
        # SDK's conversation rules computed it; the TUI renders it and never re-derives it

    def _apply_conversation(self, conv: Conversation) -> None:
        if conv.conversation_id == self.current:
            conv.unread_count = 0
        self._conv_updates += 1
        self._conv_stamps[conv.conversation_id] = self._conv_updates
        self.convs[conv.conversation_id] = conv
        self._mark_list_dirty()
        if conv.conversation_id == self.current:
            self._update_title()

    def _mark_list_dirty(self) -> None:
        if not self._list_dirty:
            self._list_dirty = True
            self.set_timer(0.03, self._flush_list)

    def _flush_list(self) -> None:
        self._list_dirty = False
        cl = self.conv_list
        cl.drafts = dict(self.drafts)
        cl.set_conversations(list(self.convs.values()), active=self.current)
        if self.current is None and self.convs and self.log_view.placeholder == NO_CONVERSATIONS:
            self.log_view.clear(PICK_CONVERSATION)  # the list filled in after the (empty) first load

    def _schedule_read(self) -> None:
        self.set_timer(0.2, self._flush_reads)

    def _flush_reads(self) -> None:
        pending, self._read_pending = self._read_pending, set()
        for cid in pending:
            self._mark_read(cid)

    @work(group="read")
    async def _mark_read(self, cid: str) -> None:
        if self.client is None:
            return
        with contextlib.suppress(Exception):
            await self.client.mark_read(cid)

    # ------------------------------------------------------------------ opening conversations

    def open_conversation(self, cid: str) -> None:
        if self.current and self.current != cid:
            self._save_draft(self.current, self.composer.text)
        self.current = cid
        self.reply_to = None
        self._update_reply()
        conv = self.convs.get(cid)
        self._unread_at_open = conv.unread_count if conv is not None else 0
        if conv is not None:
            conv.unread_count = 0
        draft = self.drafts.get(cid)
        if draft is None and conv is not None:
            draft = conv.draft
        self.composer.set_text(draft or "")
        log = self.log_view
        log.is_group = render.is_group(conv)
        log.clear("Loading…")
        self._update_title()
        self._update_typing()
        self._flush_list()
        self._load_latest(cid)
        if self.show_members:
            self._load_members()

    def _save_draft(self, cid: str, text: str) -> None:
        old = self.drafts.get(cid)
        if old is None:
            conv = self.convs.get(cid)
            old = conv.draft if conv is not None else ""
        self.drafts[cid] = text
        if text != (old or "") and hasattr(self.client, "set_draft"):
            self._persist_draft(cid, text)

    @work(group="drafts")
    async def _persist_draft(self, cid: str, text: str) -> None:
        with contextlib.suppress(Exception):
            await self.client.set_draft(cid, text)

    @work(exclusive=True, group="load")
    async def _load_latest(self, cid: str) -> None:
        self._loading = cid
        self._live_buffer = []
        try:
            msgs = await self.client.messages(cid, limit=PAGE)
        except Exception as exc:  # noqa: BLE001
            if cid == self.current:
                self.log_view.clear(f"Could not load messages: {exc}")
            return
        finally:
            if self._loading == cid:
                self._loading = None
        if cid != self.current:
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
        self._update_queued()
        self._read_pending.add(cid)
        self._flush_reads()

    @on(MessageLog.LoadOlder)
    def handle_load_older(self) -> None:
        if self.current:
            self._load_older(self.current)

    @work(exclusive=True, group="older")
    async def _load_older(self, cid: str) -> None:
        log = self.log_view
        before = log.oldest_seq
        if before is None or before <= 1:
            log.prepend([], has_more=False)
            return
        try:
            msgs = await self.client.messages(cid, before_seq=before, limit=PAGE)
        except Exception as exc:  # noqa: BLE001
            log.loading = False
            self.notify(f"older messages: {exc}", severity="warning")
            return
        if cid == self.current:
            log.prepend(msgs, has_more=_has_more(msgs))

    def _update_title(self) -> None:
        title = self.query_one("#chat-title", Static)
        conv = self.convs.get(self.current or "")
        if conv is None:
            title.update("")
            return
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(("# " if render.is_group(conv) else "") + conv.title, style="bold")
        if render.is_group(conv) and conv.group_id in self.members:
            t.append(f"  {len(self.members[conv.group_id])} members", style="dim")
        elif not render.is_group(conv) and conv.user_id:
            t.append(f"  {conv.user_id}", style="dim")
        if conv.is_muted:
            t.append("  (muted)", style="dim")
        title.update(t)

    def _update_typing(self) -> None:
        widget = self.query_one("#typing", Static)
        users = sorted(self.typing.get(self.current or "", {}))
        if not users:
            widget.update("")
            return
        names = [self._display_name(u) for u in users]
        verb = "is" if len(names) == 1 else "are"
        widget.update(Text(f"{', '.join(names[:3])} {verb} typing…", style="italic"))

    def _expire_typing(self) -> None:
        now = time.monotonic()
        changed = False
        for users in self.typing.values():
            for u, exp in list(users.items()):
                if exp < now:
                    users.pop(u)
                    changed = True
        if changed:
            self._update_typing()

    def _display_name(self, user_id: str) -> str:
        conv = self.convs.get(self.current or "")
        if conv is not None and render.is_group(conv):
            for uid, nick in self.members.get(conv.group_id, []):
                if uid == user_id:
                    return nick or uid
        if conv is not None and conv.user_id == user_id:
            return conv.title
        return user_id

    # ------------------------------------------------------------------ sending

    @on(Composer.Submitted)
    def handle_submit(self, event: Composer.Submitted) -> None:
        if not self.current or self.client is None:
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
            self._send_file(self.current, path, cmd != "/file")
            return
        self.composer.set_text("")
        if self.drafts.get(self.current) or (self.convs.get(self.current) and self.convs[self.current].draft):
            self._save_draft(self.current, "")
        self._outbox.put_nowait((self.current, text, self.reply_to))
        self.reply_to = None
        self._update_reply()
        self._send_typing(False)

    @work(group="sender")
    async def _send_loop(self) -> None:
        """One sender, so messages leave in the order they were typed."""
        while True:
            cid, text, quote = await self._outbox.get()
            conv = self.convs.get(cid)
            group = render.is_group(conv)
            at_ids = self._mentioned_ids(conv, text) if group else []
            try:
                msg = await self.client.send_text(cid, text, group=group, at_user_ids=tuple(at_ids),
                                                  quote=quote)
            except Exception as exc:  # noqa: BLE001
                self.notify(f"send failed: {exc}", severity="error")
                continue
            self._apply_message(msg, new=True)

    @work(group="files")
    async def _send_file(self, cid: str, path: Path, image: bool) -> None:
        conv = self.convs.get(cid)
        self.notify(f"Uploading {path.name}…", timeout=3)
        try:
            msg = await self.client.send_file(cid, path, group=render.is_group(conv), image=image)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"upload failed: {exc}", severity="error")
            return
        self._apply_message(msg, new=True)

    def _mentioned_ids(self, conv: Conversation | None, text: str) -> list[str]:
        if conv is None:
            return []
        members = self.members.get(conv.group_id, [])
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

    @on(Composer.Typing)
    def handle_typing(self) -> None:
        now = time.monotonic()
        if now - self._typing_sent_at > 3:
            self._send_typing(True)
        if self._typing_timer is not None:
            self._typing_timer.stop()
        self._typing_timer = self.set_timer(4, lambda: self._send_typing(False))

    def _send_typing(self, typing: bool) -> None:
        if not self.current or self.client is None or not self.online:
            return
        if not typing and not self._typing_sent_at:
            return
        self._typing_sent_at = time.monotonic() if typing else 0.0
        self._typing_call(self.current, typing)

    @work(group="typing")
    async def _typing_call(self, cid: str, typing: bool) -> None:
        with contextlib.suppress(Exception):
            await self.client.typing(cid, typing)

    @on(Composer.Cancel)
    def handle_cancel(self) -> None:
        if self.reply_to is not None:
            self.reply_to = None
            self._update_reply()

    @on(Composer.Retry)
    def handle_retry_key(self) -> None:
        self.log_view.action_msg("retry")

    def _update_reply(self) -> None:
        widget = self.query_one("#reply", Static)
        if self.reply_to is None:
            widget.update("")
            widget.display = False
            return
        m = self.reply_to
        widget.display = True
        widget.update(Text(f"↳ replying to {m.sender_nickname or m.send_id}: "
                           f"{render.body_text(m)[:60]}  (Esc cancels)", no_wrap=True, overflow="ellipsis"))

    # ------------------------------------------------------------------ message actions

    @on(MessageLog.Action)
    def handle_log_action(self, event: MessageLog.Action) -> None:
        m = event.message
        if event.action == "leave" or m is None:
            self.composer.focus()
            return
        if event.action == "quote":
            self.reply_to = m
            self._update_reply()
            self.composer.focus()
        elif event.action == "retry":
            if m.send_id != self.me or m.status != MsgStatus.SEND_FAILED:
                self.notify("Only your failed messages can be retried", severity="warning")
                return
            self._retry(m)
        elif event.action in ("download", "open"):
            if not render.is_attachment(m):
                links = [url for *_, kind, url in render.inline_markdown(render.body_text(m))[1] if kind == "link"]
                if event.action == "open" and links:
                    self._open_link(links[0])
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

    @work(group="actions")
    async def _retry(self, m: Message) -> None:
        try:
            msg = await self.client.retry(m.client_msg_id)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"retry failed: {exc}", severity="error")
            return
        self._apply_message(msg, new=False)

    @work(group="actions")
    async def _download(self, m: Message, open_after: bool) -> None:
        self.notify("Downloading…", timeout=2)
        try:
            self.download_dir.mkdir(parents=True, exist_ok=True)
            path = await self.client.download(m, self.download_dir)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"download failed: {exc}", severity="error")
            return
        if not open_after:
            self.notify(f"Saved {path}")
            return
        opener = "open" if sys.platform == "darwin" else shutil.which("xdg-open")
        if not opener:
            self.notify(f"Saved {path} — nothing here can open it (no xdg-open); open it from there",
                        severity="warning", timeout=10)
            return
        try:
            await asyncio.create_subprocess_exec(opener, str(path), stdout=asyncio.subprocess.DEVNULL,
                                                 stderr=asyncio.subprocess.DEVNULL)
        except OSError as exc:
            self.notify(f"Saved {path}; opening it failed: {exc}", severity="warning", timeout=10)
            return
        self.notify(f"Opening {path}")

    def _open_link(self, url: str) -> None:
        """Open a link of the selected message in the system's browser (stdlib webbrowser)."""
        import webbrowser

        try:
            opened = webbrowser.open(url)
        except webbrowser.Error:
            opened = False
        if opened:
            self.notify(f"Opening {url}", timeout=3)
        else:
            self.notify(f"No browser here to open {url}", severity="warning", timeout=10)

    @work(group="actions")
    async def _revoke(self, m: Message) -> None:
        try:
            await self.client.revoke(m.conversation_id, m.client_msg_id)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"revoke failed: {exc}", severity="error")

    # ------------------------------------------------------------------ navigation

    @on(ConversationList.Chosen)
    def handle_chosen(self, event: ConversationList.Chosen) -> None:
        if event.conversation_id != self.current:
            self.open_conversation(event.conversation_id)
        self.composer.focus()

    def action_switch(self, delta: int) -> None:
        ids = self.conv_list.ids()
        if not ids:
            return
        idx = ids.index(self.current) if self.current in ids else -1
        self.open_conversation(ids[(idx + delta) % len(ids)])

    def action_next_unread(self) -> None:
        """The next conversation (in list order, after the open one, wrapping) with unread messages."""
        ids = self.conv_list.ids()
        start = ids.index(self.current) + 1 if self.current in ids else 0
        for cid in ids[start:] + ids[:start]:
            conv = self.convs.get(cid)
            if cid != self.current and conv is not None and conv.unread_count > 0:
                self.open_conversation(cid)
                return
        self.notify("No unread messages", timeout=2)

    def action_jump(self, n: int) -> None:
        ids = self.conv_list.ids()
        if 0 < n <= len(ids):
            self.open_conversation(ids[n - 1])

    def action_quick_switch(self) -> None:
        convs = render.sort_conversations(self.convs.values())

        def done(cid: str | None) -> None:
            if cid:
                self.open_conversation(cid)
            self.composer.focus()

        self.app.push_screen(QuickSwitcher(convs), done)

    def action_new_chat(self) -> None:
        if self.client is None:
            return

        def done(target: ChatTarget | None) -> None:
            if target is not None:
                self._start_chat(target)
            self.composer.focus()

        self.app.push_screen(NewChatScreen(self.client), done)

    @work(group="actions")
    async def _start_chat(self, target: ChatTarget) -> None:
        try:
            conv = await self.client.open_conversation(user_id=target.user_id or None,
                                                       group_id=target.group_id or None)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"cannot start chat: {exc}", severity="error")
            return
        self.convs.setdefault(conv.conversation_id, conv)
        self.open_conversation(conv.conversation_id)

    def action_search(self) -> None:
        if self.client is None:
            return
        titles = {cid: c.title for cid, c in self.convs.items()}

        def done(msg: Message | None) -> None:
            if msg is not None:
                if msg.conversation_id != self.current:
                    self.open_conversation(msg.conversation_id)
            self.composer.focus()

        self.app.push_screen(SearchScreen(self.client, titles), done)

    def action_toggle_members(self) -> None:
        self.show_members = not self.show_members

    def action_toggle_sidebar(self) -> None:
        self.show_sidebar = not self.conv_list.display

    def watch_show_sidebar(self, show: bool | None) -> None:
        self._layout_for(self.size.width)

    def on_resize(self, event: events.Resize) -> None:
        self._layout_for(event.size.width)

    def _layout_for(self, width: int) -> None:
        """Below NARROW columns the side panels give way to the messages (Ctrl+B / Ctrl+G bring them back)."""
        narrow = 0 < width < NARROW
        self.set_class(narrow, "-narrow")
        show = self.show_sidebar if self.show_sidebar is not None else not narrow
        self.conv_list.display = show
        if not show and self.conv_list.has_focus:
            self.composer.focus()

    def watch_show_members(self, show: bool) -> None:
        self.set_class(show, "-members")
        if show:
            self._load_members()

    @work(exclusive=True, group="members")
    async def _load_members(self) -> None:
        panel = self.query_one("#members", OptionList)
        conv = self.convs.get(self.current or "")
        if conv is None or not render.is_group(conv):
            panel.set_options([Option(Text("not a group chat", style="dim"), disabled=True)])
            return
        gid = conv.group_id
        if gid not in self.members:
            try:
                members = await self.client.groups.members(gid)
            except Exception as exc:  # noqa: BLE001
                panel.set_options([Option(Text(f"unavailable: {exc}", style="dim"), disabled=True)])
                return
            self.members[gid] = [(m.user_id, m.nickname) for m in members]
        self._fill_members(gid)

    def _fill_members(self, gid: str) -> None:
        panel = self.query_one("#members", OptionList)
        rows = []
        for uid, nick in self.members.get(gid, []):
            t = Text(nick or uid, style="bold" if uid == self.me else "")
            if nick and nick != uid:
                t.append(f" {uid}", style="dim")
            rows.append(Option(t, id=f"m:{uid}"))
        panel.set_options(rows)
        self.log_view.names = dict(self.members.get(gid, []))
        self._update_title()

    def action_focus_list(self) -> None:
        self.conv_list.focus()

    def action_focus_composer(self) -> None:
        self.composer.focus()


def _has_more(msgs: list[Message]) -> bool:
    if not msgs:
        return False
    oldest = next((m.seq for m in msgs if m.seq), 0)
    return oldest > 1


class ChatApp(App[None]):
    """``ChatApp(spec)`` connects with a profile's settings; ``ChatApp(client=...)`` uses a live client."""

    CSS_PATH = "chat.tcss"
    TITLE = "OpenIM"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", priority=True, id="quit"),
        Binding("f1", "help", "Help: every key binding", id="help"),
        Binding("question_mark", "help", "Help (when not typing)", show=False),
        Binding("ctrl+t", "cycle_theme", "Next colour theme", id="cycle_theme"),
    ]
    THEMES = ["textual-dark", "nord", "gruvbox", "tokyo-night", "catppuccin-mocha", "dracula",
              "textual-light", "solarized-light"]

    def __init__(self, spec: ConnectSpec | None = None, *, client: Any = None, clock: render.Clock | None = None,
                 tz: tzinfo | None = None, download_dir: Path | None = None, user_id: str | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__()
        if spec is None and client is None:
            raise ValueError("ChatApp needs a ConnectSpec or a client")
        keys.use_alt_digits()
        self.settings = settings or Settings()
        download_dir = download_dir or self.settings.download_path
        self.spec = spec
        self.client: Any = client
        self.tz = tz
        self.clock: render.Clock = clock or (lambda: datetime.now(tz))
        me = user_id or (spec.user_id if spec else getattr(client, "user_id", ""))
        self.me = str(me)
        if download_dir is None:
            home_dl = Path.home() / "Downloads"
            download_dir = home_dl if home_dl.is_dir() else (
                (spec.data_dir / "downloads") if spec else Path.cwd())
        self.chat = ChatScreen(self.me, self.clock, tz, download_dir)
        self.chat.alerts.bell = self.settings.bell
        self.chat.alerts.desktop = self.settings.desktop
        self.chat.time_format = self.settings.time_format
        self._keymap, self._unknown_keys = keys.split_keymap(self.settings.keys)

    def get_default_screen(self) -> Screen[Any]:
        return self.chat

    def on_mount(self) -> None:
        self.title = f"OpenIM — {self.me}"
        if self.settings.theme in self.available_themes:
            self.theme = self.settings.theme
        else:
            self.notify(f"settings: unknown theme {self.settings.theme!r}; known: "
                        + ", ".join(sorted(self.available_themes)), severity="warning", timeout=10)
        if self._keymap:
            self.set_keymap(self._keymap)
        if self._unknown_keys:
            self.notify(f"settings: no chat action named {', '.join(self._unknown_keys)} in [keys] "
                        "(see `openim config keys`)", severity="warning", timeout=10)
        self._session()

    @work(group="session", exit_on_error=False)
    async def _session(self) -> None:
        if self.client is not None:
            await self._pump(self.client)
            return
        assert self.spec is not None
        try:
            self.spec.data_dir.mkdir(parents=True, exist_ok=True)
            client = self.spec.make_client()
            await client.__aenter__()
        except Exception as exc:  # noqa: BLE001
            self.chat.post_message(SessionFailed(exc))
            return
        self.client = client
        self._owned = client
        try:
            await self._pump(client)
        finally:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

    async def _pump(self, client: Any) -> None:
        events = client.events()
        self.chat.post_message(SessionStarted(client))
        async for ev in events:
            self.chat.post_message(ClientEvent(ev))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_cycle_theme(self) -> None:
        names = [t for t in self.THEMES if t in self.available_themes]
        idx = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(idx + 1) % len(names)]
        self.notify(f"Theme: {self.theme}", timeout=2)
