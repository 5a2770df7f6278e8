"""The chat app: ChatApp owns the SDK session; ChatScreen lays out the chat's widgets and wires
them to the SDK's events.

The widgets have one job each (``widgets/``): the conversation list, the message view, the
composer, the members panel, the title / reply / typing lines, the picture preview and the status
line. The screen holds what they share (the conversations the SDK reported, the open one, drafts)
and turns their messages into SDK calls. It keeps no outbox: a message is handed to the SDK once;
its states (sending, sent, refused with the server's reason) arrive as SDK events and are drawn.
"""

from __future__ import annotations

import contextlib
import gc
import tempfile
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from textual import events, on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen

from openim_cli.settings import Settings
from openim_sdk.events import (
    ConnectionState,
    ConnectionStateChanged,
    ConversationChanged,
    ErrorEvent,
    MessageReceived,
    MessageSendFailed,
    MessageUpdated,
    ReadReceipt,
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
from .screens.help import HelpScreen
from .screens.pickers import ChatTarget, NewChatScreen, QuickSwitcher, SearchScreen
from .widgets import (
    ChatTitle,
    ComposeBox,
    Composer,
    ConversationList,
    MembersPanel,
    MessageLog,
    MessageView,
    PicturePreview,
    StatusBar,
    TypingLine,
)

NARROW = 60  # columns: below this the conversation list hides itself (Ctrl+B shows it)
NO_CONVERSATIONS = "No conversations yet — Ctrl+N starts one"
PICK_CONVERSATION = "Pick a conversation on the left (↑/↓, Enter) — or Ctrl+N for a new one"


class ChatScreen(Screen[None]):
    """Conversation list | message view, compose box | members panel; the status line below."""

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

    def __init__(self, me: str, clock: render.Clock, tz: tzinfo | None, download_dir: Path,
                 preview_dir: Path | None = None, previews: bool = True) -> None:
        super().__init__()
        self.me = me
        self.clock = clock
        self.tz = tz
        self.download_dir = download_dir
        self.preview_dir = preview_dir or download_dir / ".openim-previews"
        self.previews = previews
        self.client: Any = None
        self.convs: dict[str, Conversation] = {}
        self._conv_updates = 0  # counts ConversationChanged events applied
        self._conv_stamps: dict[str, int] = {}  # conversation -> _conv_updates when last changed
        self._list_dirty = False
        self._read_pending: set[str] = set()
        self.alerts = alerts.Alerts(self)
        self.time_format = "%H:%M"

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield ConversationList(id="conversations", clock=self.clock, tz=self.tz)
            with Vertical(id="chat"):
                yield MessageView(id="view", me=self.me, clock=self.clock, tz=self.tz,
                                  download_dir=self.download_dir, preview_dir=self.preview_dir,
                                  previews=self.previews)
                yield ComposeBox(id="compose")
            yield MembersPanel(id="members", me=self.me)
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        self.query_one(StatusBar).user = self.me
        self.conv_list.border_title = "Chats"
        self.members_panel.border_title = "Members"
        self.typing_line.name_of = self._display_name
        self.compose_box.members_of = self.members_panel.of
        self.log_view.clear("Connecting…")
        self.log_view.time_format = self.conv_list.time_format = self.time_format
        if self.app.is_headless:
            self.composer.cursor_blink = False  # steady pictures under test
        self.composer.focus()

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
    def members_panel(self) -> MembersPanel:
        return self.query_one("#members", MembersPanel)

    @property
    def typing_line(self) -> TypingLine:
        return self.query_one("#typing", TypingLine)

    @property
    def view(self) -> MessageView:
        return self.query_one("#view", MessageView)

    @property
    def compose_box(self) -> ComposeBox:
        return self.query_one("#compose", ComposeBox)

    @property
    def preview(self) -> PicturePreview:
        return self.view.preview

    @property
    def reply_to(self) -> Message | None:
        return self.compose_box.reply_to

    @property
    def drafts(self) -> dict[str, str]:
        return self.compose_box.drafts

    @property
    def members(self) -> dict[str, list[tuple[str, str]]]:
        return self.members_panel.members

    @property
    def online(self) -> bool:
        return self.conn_state in (ConnectionState.CONNECTED, ConnectionState.SYNCING)

    # ------------------------------------------------------------------ session

    def on_session_started(self, message: SessionStarted) -> None:
        self.client = self.view.client = self.compose_box.client = message.client
        self.log_view.self_names = {self.me, str(getattr(self.client, "nickname", "") or "")}
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
        self.log_view.online = self.compose_box.online = self.online
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
        elif isinstance(ev, MessageUpdated):  # sent, refused (MessageSendFailed), revoked, read...
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
            self.typing_line.report(ev.conversation_id, ev.user_id, ev.typing and ev.user_id != self.me)
        elif isinstance(ev, ReadReceipt):
            if ev.conversation_id == self.current and ev.user_id != self.me:
                self.log_view.peer_read_seq = max(self.log_view.peer_read_seq, int(ev.has_read_seq))
        elif isinstance(ev, SyncFinished):
            self.reload_conversations()
        elif isinstance(ev, ServerHistoryRewound):  # rows above server_max were dropped from the cache
            self.notify(f"The server's history of this chat went back (seq {ev.local_max} -> {ev.server_max}); "
                        "messages it no longer holds were removed.", severity="warning", timeout=10)
            if ev.conversation_id == self.current:
                self.view.reload()
        elif isinstance(ev, SessionEnded):
            self.conn_state = str(ev.reason.value)
            self.notify(f"Session ended: {ev.reason.value}. Log in again with `openim login`.",
                        severity="error", timeout=15)
        elif isinstance(ev, ErrorEvent):
            self.query_one(StatusBar).detail = f"{ev.where}: {ev.error}"[:60] if ev.where else str(ev.error)[:60]

    def _note_refusal(self, ev: MessageSendFailed) -> None:
        """Say why the server refused a message, next to it and once as a toast. The SDK's event
        carries the reason and whether trying again can help (a network failure, not a refusal such
        as muted or blocked); the message view offers retry by it."""
        self.view.refused(ev)
        self.notify(f"Not sent: {ev.explanation}", severity="error", timeout=8)

    def _apply_message(self, msg: Message, *, new: bool) -> None:
        cid = msg.conversation_id
        own = msg.send_id == self.me
        if new and not own:
            self.alerts.incoming(msg, self.convs.get(cid), viewing=cid == self.current)
        self.view.apply(msg)
        if cid == self.current and new and not own:
            self._read_pending.add(cid)
            self._schedule_read()
        if new and not own:
            self.typing_line.report(cid, msg.send_id, False)
        if cid == self.current:
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
            self.compose_box.conversation = conv
            self._update_title()

    @on(ComposeBox.DraftsChanged)
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
        conv = self.convs.get(cid)
        self.compose_box.switch_to(cid, conv)
        self.current = cid
        unread = conv.unread_count if conv is not None else 0
        if conv is not None:
            conv.unread_count = 0
        self.view.open(conv, cid, unread)
        self._update_title()
        self._flush_list()
        if self.show_members:
            self._show_members()

    @on(MessageView.Loaded)
    def handle_loaded(self, event: MessageView.Loaded) -> None:
        self._update_queued()
        self._read_pending.add(event.conversation_id)
        self._flush_reads()

    def _update_title(self) -> None:
        conv = self.convs.get(self.current or "")
        count = self.members_panel.count(conv.group_id) if conv is not None and render.is_group(conv) else None
        self.query_one("#chat-title", ChatTitle).show(conv, count)

    def _display_name(self, user_id: str) -> str:
        conv = self.convs.get(self.current or "")
        if conv is not None and render.is_group(conv):
            name = self.members_panel.nickname(conv.group_id, user_id)
            if name:
                return name
        if conv is not None and conv.user_id == user_id:
            return conv.title
        return user_id

    # ------------------------------------------------------------------ between the widgets

    @on(Composer.Retry)
    def handle_retry_key(self) -> None:
        self.log_view.action_msg("retry")

    @on(MessageView.Quote)
    def handle_quote(self, event: MessageView.Quote) -> None:
        self.compose_box.reply_to = event.message
        self.composer.focus()

    @on(MessageView.Leave)
    def handle_leave(self) -> None:
        self.composer.focus()

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
            self._show_members()

    def _show_members(self) -> None:
        self.members_panel.show_for(self.convs.get(self.current or ""), self.client)

    @on(MembersPanel.Loaded)
    def handle_members_loaded(self, event: MembersPanel.Loaded) -> None:
        self.log_view.names = dict(self.members_panel.of(event.group_id))
        self._update_title()

    def action_focus_list(self) -> None:
        self.conv_list.focus()

    def action_focus_composer(self) -> None:
        self.composer.focus()


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
        data_dir = spec.data_dir if spec else getattr(client, "data_dir", None)
        preview_dir = (Path(data_dir) if data_dir else Path(tempfile.gettempdir()) / f"openim-{self.me}") / "previews"
        self.chat = ChatScreen(self.me, self.clock, tz, download_dir, preview_dir, previews=self.settings.previews)
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
        # what exists now (~130k objects) lives as long as the app: frozen, full collections
        # skip it (each walked all of it, 80-90 ms, every dozen pages of history)
        gc.freeze()
        try:
            await self._pump(client)
        finally:
            gc.unfreeze()
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
