"""A virtualised message view: a Line-API ScrollView that renders only the lines on screen.

Every loaded message is one *item* (a plain object, not a widget) of a bounded window
(:mod:`.item_window`): paging older past the window evicts the newest end, and scrolling back
down loads it again (``LoadNewer``), so the work of a page and the memory held do not grow with
the history. Heights are computed per width and summed into an offset table; the strips of
visible items come from a bounded LRU cache.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message as TMessage
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from openim_sdk.events import MessageSendFailed
from openim_sdk.models import Message
from openim_sdk.protocol.constants import MsgStatus

from .. import render
from .item_text import FOLD_CHARS, FOLD_LINES, hanging_lines, item_text, text_height
from .item_window import WINDOW, Item, ItemWindow

__all__ = ["FOLD_CHARS", "FOLD_LINES", "WINDOW", "Item", "MessageLog"]



class MessageLog(ScrollView, can_focus=True):
    """Messages of one conversation; keyboard-selectable; loads older pages at the top."""

    BINDINGS = [
        Binding("up", "cursor_up", "Select previous message", show=False),
        Binding("down", "cursor_down", "Select next message", show=False),
        Binding("pageup", "page_up", "Page up (loads older)", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "top", "Oldest (loads older)", show=False),
        Binding("end", "bottom", "Newest", show=False),
        Binding("r", "msg('retry')", "Retry a failed message", id="message_retry"),
        Binding("q", "msg('quote')", "Reply quoting the message", id="message_quote"),
        Binding("d", "msg('download')", "Download picture/file", id="message_download"),
        Binding("o", "msg('open')", "Open picture/file", id="message_open"),
        Binding("x", "msg('revoke')", "Revoke your message (asks first)", id="message_revoke"),
        Binding("m", "more", "Show all of a long message / fold it again", id="message_more"),
        Binding("escape", "leave", "Back to the input", show=False),
    ]

    COMPONENT_CLASSES = {
        "message-log--sender",
        "message-log--self-sender",
        "message-log--time",
        "message-log--mention",
        "message-log--self-mention",
        "message-log--system",
        "message-log--quote",
        "message-log--attachment",
        "message-log--revoked",
        "message-log--unread-marker",
        "message-log--code",
        "message-log--link",
        "message-log--status",
        "message-log--failed",
        "message-log--read",
        "message-log--cursor",
        "message-log--hint",
    }

    cursor: reactive[int | None] = reactive(None, always_update=True)
    peer_read_seq: reactive[int] = reactive(0)
    online: reactive[bool] = reactive(True)

    class LoadOlder(TMessage):
        """Scrolled to the top: the owner should fetch an older page and ``prepend`` it."""

    class LoadNewer(TMessage):
        """Scrolled to the bottom of a window whose newest end was evicted: the owner should
        fetch the next newer page and ``append_page`` it."""

    class LoadNewest(TMessage):
        """End pressed while the newest end is evicted: the owner should ``show_newest``."""

    class Selected(TMessage):
        """The selection moved: ``message`` is the selected one, None when none is."""

        def __init__(self, message: Message | None) -> None:
            super().__init__()
            self.message = message

    class Action(TMessage):
        def __init__(self, action: str, message: Message | None) -> None:
            super().__init__()
            self.action = action
            self.message = message

    def __init__(self, *, me: str = "", clock: render.Clock | None = None, tz: tzinfo | None = None,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.window = ItemWindow(me, WINDOW)
        self.self_names: set[str] = {me}
        self.names: dict[str, str] = {}
        self.is_group = False
        self.clock = clock or (lambda: datetime.now(tz))
        self.tz = tz
        self._offsets: list[int] = [0]
        self._layout_width = -1
        self._strips: LRUCache[tuple[int, int, int, bool], list[Strip]] = LRUCache(512)
        self._style_cache: dict[str, Style] = {}
        self._base_style: Style | None = None
        #: a page request is out (one at a time, either direction)
        self.paging = False
        self._follow = True
        self.placeholder = "No conversation selected"
        #: the first unread message when the conversation was opened: a "new messages" rule above it
        self.unread_marker: str | None = None
        self.time_format = "%H:%M"  # strftime of today's times (the settings' chat.time_format)
        #: long messages shown in full (``m`` on the selected message); others are folded
        self.expanded: set[str] = set()
        #: the SDK's word on our refused messages (this session): its reason, and whether retrying helps
        self.failures: dict[str, MessageSendFailed] = {}
        #: why the server refused a message of an earlier run (the SDK keeps it in the cache)
        self.stored_refusal: Callable[[Message], MessageSendFailed | None] = lambda m: None
        #: a message newer than the evicted newest end came and the user was told (once until the
        #: newest end is loaded again)
        self.told_newer = False

    # ------------------------------------------------------------------ public API

    @property
    def me(self) -> str:
        return self.window.me

    @me.setter
    def me(self, value: str) -> None:
        self.window.me = value

    @property
    def items(self) -> list[Item]:
        """The loaded window, oldest first (not the whole history: see ``has_more``/``has_newer``)."""
        return self.window.items

    @property
    def has_more(self) -> bool:
        return self.window.has_more

    @has_more.setter
    def has_more(self, value: bool) -> None:
        self.window.has_more = value

    @property
    def has_newer(self) -> bool:
        return self.window.has_newer

    @property
    def _last_own(self) -> int | None:
        return self.window.last_own

    def clear(self, placeholder: str = "") -> None:
        self.unread_marker = None
        self.expanded.clear()
        self.window.clear()
        self._strips.clear()
        self.paging = False
        self._follow = True
        self.placeholder = placeholder
        self.set_reactive(MessageLog.cursor, None)
        self.set_reactive(MessageLog.peer_read_seq, 0)
        self._relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def set_messages(self, messages: Iterable[Message], has_more: bool = True) -> None:
        self.clear(self.placeholder)
        self.window.reset(messages, has_more)
        self.told_newer = False
        self._relayout()
        self._to_end()

    def show_newest(self, messages: Iterable[Message], has_more: bool = True) -> None:
        """The newest page again (End after paging far back): marks, receipts and folds are kept."""
        self.paging = False
        self.set_reactive(MessageLog.cursor, None)
        self.window.reset(messages, has_more)
        self.told_newer = False
        self._relayout()
        self._to_end()

    def prepend(self, messages: list[Message], has_more: bool) -> None:
        """Insert an older page at the top, keeping the view where it was; past the window,
        the newest items (below the view) are evicted."""
        self.paging = False
        old_total = self._offsets[-1]
        added_items = self.window.prepend(messages, has_more)
        if not added_items:
            return
        if self.cursor is not None:
            self.set_reactive(MessageLog.cursor, self.cursor + added_items)
        self._relayout()
        y = self.scroll_y + self._offsets[-1] - old_total
        self.scroll_to(y=y, animate=False, immediate=True)
        excess = len(self.window) - self.window.limit
        if excess > 0:  # evict from the newest end, only what is wholly below the view
            below = bisect_left(self._offsets, int(y) + max(1, self.size.height), hi=len(self.items))
            keep = max(self.window.limit, below)
            if keep < len(self.items):
                if self.cursor is not None and self.cursor >= keep:
                    self.set_reactive(MessageLog.cursor, None)
                self.window.evict_tail(keep)
                self._follow = False
                self._relayout()

    def append_page(self, messages: list[Message], has_newer: bool) -> None:
        """Insert a newer page at the bottom (paging back down), keeping the view where it was;
        past the window, the oldest items (above the view) are evicted."""
        self.paging = False
        self.told_newer = self.told_newer and has_newer
        if not self.window.append(messages, has_newer) and has_newer:
            return
        self._relayout()
        excess = len(self.window) - self.window.limit
        if excess > 0:  # evict from the oldest end, only what is wholly above the view
            y = int(self.scroll_y)
            above = bisect_right(self._offsets, y) - 1
            n = min(excess, above)
            if n > 0:
                removed = self._offsets[n]
                if self.cursor is not None:
                    self.set_reactive(MessageLog.cursor, self.cursor - n if self.cursor >= n else None)
                self.window.evict_head(n)
                self._relayout()
                self.scroll_to(y=max(0, self.scroll_y - removed), animate=False, immediate=True)

    def upsert(self, msg: Message) -> None:
        """Add a new message or update a known one (by client_msg_id). A new message outside
        the loaded window (older than it, or newer while the newest end is evicted) is left to
        paging, which will load it from the cache; a newer one says so once (a notice: End)."""
        at_end = (self._follow or self.is_vertical_scroll_end) and not self.has_newer
        if self.window.update(msg) is not None:
            self._relayout()
            return
        if self.window.insert(msg) is None:
            newest = self.window.newest_seq
            if self.has_newer and (not msg.seq or newest is None or msg.seq > newest) and not self.told_newer:
                self.told_newer = True  # it is in the cache; paging down or End shows it
                self.notify("New messages below: press End to see them.", timeout=5)
            return
        self._relayout()
        if at_end:
            self._to_end()

    def _to_end(self) -> None:
        """Scroll to the newest line now and again after the next refresh (scrollbars appear on layout)."""
        self._follow = True
        self.scroll_end(animate=False, immediate=True)
        self.call_after_refresh(self._to_end_later)

    def _to_end_later(self) -> None:
        if self._follow:
            self.scroll_end(animate=False, immediate=True)
        if self.items and self._offsets[-1] <= self.size.height:
            self._maybe_load_older()  # the page doesn't fill the view: fetch more

    def get(self, client_msg_id: str) -> Message | None:
        return self.window.get(client_msg_id)

    @property
    def messages(self) -> list[Message]:
        return [it.msg for it in self.items]

    @property
    def oldest_seq(self) -> int | None:
        return self.window.oldest_seq

    @property
    def newest_seq(self) -> int | None:
        return self.window.newest_seq

    @property
    def selected(self) -> Message | None:
        if self.cursor is None or not (0 <= self.cursor < len(self.items)):
            return None
        return self.items[self.cursor].msg

    def line_text(self) -> list[str]:
        """The plain text of every laid-out line (for tests)."""
        width = self._width()
        return [s.text.rstrip() for i in range(len(self.items)) for s in self._item_strips(i, width)]

    # ------------------------------------------------------------------ layout

    def _width(self) -> int:
        """Content width: the widget minus padding and the (always reserved) scrollbar gutter."""
        region = self.scrollable_content_region.width
        if region > 0:
            return max(10, region)
        return self._layout_width if self._layout_width > 0 else 80

    def _bump(self, i: int) -> None:
        self.items[i].bump()

    def _relayout(self) -> None:
        width = self._width()
        offsets = [0]
        total = 0
        for i, it in enumerate(self.items):
            if it.height_width != width:
                it.height = self._measure(i, width)
                it.height_width = width
            total += it.height
            offsets.append(total)
        self._offsets = offsets
        self._layout_width = width
        self.virtual_size = Size(0, total)
        self.refresh()

    def on_resize(self, event: events.Resize) -> None:
        follow = self._follow
        if self._width() != self._layout_width:
            self._strips.clear()
            self._relayout()
        if follow:
            self._follow = True
            self._to_end()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._style_cache.clear()
        self._base_style = None
        self._strips.clear()

    def watch_peer_read_seq(self) -> None:
        if self._last_own is not None:
            self._bump(self._last_own)
            self._relayout()

    def watch_online(self) -> None:
        changed = False
        for i, it in enumerate(self.items):
            if it.msg.status == MsgStatus.SENDING:
                self._bump(i)
                changed = True
        if changed:
            self._relayout()

    # ------------------------------------------------------------------ rendering

    def _style(self, name: str) -> Style:
        st = self._style_cache.get(name)
        if st is None:
            st = self.get_component_rich_style(f"message-log--{name}", partial=True)
            self._style_cache[name] = st
        return st

    def _base(self) -> Style:
        if self._base_style is None:
            self._base_style = self.rich_style
        return self._base_style

    def _item_strips(self, i: int, width: int) -> list[Strip]:
        """The lines of item ``i`` (rendered when first shown, then from a bounded cache)."""
        it = self.items[i]
        selected = self.cursor == i
        key = (it.uid, it.version, width, selected)
        strips = self._strips.get(key)
        if strips is None:
            strips = self._render_item(i, width, selected)
            if it.height_width == width and len(strips) != it.height:  # never break the layout
                pad = Strip.blank(width, self._base())
                strips = (strips + [pad] * it.height)[:it.height]
            self._strips[key] = strips
        return strips

    def _measure(self, i: int, width: int) -> int:
        """How many lines item ``i`` takes at ``width``, counted without rendering it: only what
        is on screen is rendered, so laying out a page costs its text, not its strips."""
        it = self.items[i]
        plain = item_text(self, i).plain
        if "\t" in plain:  # tabs expand by column: let rich do it
            return len(self._item_strips(i, width))
        n = int(it.run_start and i > 0) + int(bool(self.unread_marker) and it.msg.client_msg_id == self.unread_marker)
        return n + text_height(plain, width)

    def _render_item(self, i: int, width: int, selected: bool) -> list[Strip]:
        it = self.items[i]
        text = item_text(self, i)
        base = self._base()
        if selected:
            base = base + self._style("cursor")
        strips: list[Strip] = []
        if self.unread_marker and it.msg.client_msg_id == self.unread_marker:
            label = " new messages "
            side = max(2, (width - len(label)) // 2)
            rule = ("─" * side + label + "─" * side)[:width]
            strips.append(Strip([Segment(rule.ljust(width), self._base() + self._style("unread-marker"))], width))
        for line in text.split("\n"):
            strips.extend(hanging_lines(self.app.console, line, width, base))
        if it.run_start and i > 0:
            strips.insert(0, Strip.blank(width, base if selected else self._base()))
        return strips

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        line_no = scroll_y + y
        base = self._base()
        if not self.items:
            if y == self.size.height // 2 and self.placeholder:
                text = self.placeholder.center(width)[:width]
                return Strip([Segment(text, base + self._style("hint"))], width)
            return Strip.blank(width, base)
        if line_no >= self._offsets[-1]:
            return Strip.blank(width, base)
        idx = bisect_right(self._offsets, line_no) - 1
        strips = self._item_strips(idx, self._layout_width)
        off = line_no - self._offsets[idx]
        strip = strips[off] if off < len(strips) else Strip.blank(self._layout_width, base)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    # ------------------------------------------------------------------ scrolling & keys

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        at_bottom = new_value >= self.max_scroll_y - 1
        if self.size.height:
            self._follow = at_bottom and not self.has_newer
        if old_value != new_value:
            if new_value <= 1:
                self._maybe_load_older()
            elif at_bottom:
                self._maybe_load_newer()

    def _maybe_load_older(self) -> None:
        if self.items and self.has_more and not self.paging:
            self.paging = True
            self.post_message(self.LoadOlder())

    def _maybe_load_newer(self) -> None:
        if self.items and self.has_newer and not self.paging:
            self.paging = True
            self.post_message(self.LoadNewer())

    def watch_cursor(self, old: int | None, new: int | None) -> None:
        for i in (old, new):
            if i is not None and 0 <= i < len(self.items):
                self._bump(i)
                # selection doesn't change heights; keep layout, re-render lines
                self.items[i].height_width = self._layout_width
        if new is not None and 0 <= new < len(self.items):
            top, bottom = self._offsets[new], self._offsets[new + 1]
            self.scroll_to_region(Region(0, top, 1, max(1, bottom - top)), animate=False, immediate=True)
            if new == 0:
                self._maybe_load_older()
            elif new == len(self.items) - 1:
                self._maybe_load_newer()
        if old != new:
            self.post_message(self.Selected(self.selected))
        self.refresh()

    def action_cursor_up(self) -> None:
        if not self.items:
            return
        if self.cursor is None:
            self.cursor = len(self.items) - 1
        elif self.cursor > 0:
            self.cursor -= 1
        else:
            self._maybe_load_older()

    def action_cursor_down(self) -> None:
        if self.cursor is None:
            return
        if self.cursor < len(self.items) - 1:
            self.cursor += 1
        elif self.has_newer:
            self._maybe_load_newer()
        else:
            self.cursor = None
            self.scroll_end(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)
        if self.scroll_y <= 1:
            self._maybe_load_older()

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)
        if self.scroll_y >= self.max_scroll_y - 1:
            self._maybe_load_newer()

    def action_top(self) -> None:
        self.scroll_home(animate=False)
        self._maybe_load_older()

    def action_bottom(self) -> None:
        self.cursor = None
        if self.has_newer:
            self.post_message(self.LoadNewest())  # the newest page again, not page by page
            return
        self.scroll_end(animate=False)

    def action_msg(self, action: str) -> None:
        msg = self.selected
        if msg is None:
            if action == "retry":
                failed = [it.msg for it in self.items if it.msg.status == MsgStatus.SEND_FAILED
                          and it.msg.send_id == self.me and self.retryable(it.msg)]
                if failed:
                    self.post_message(self.Action("retry", failed[-1]))
                    return
            self.app.bell()
            return
        self.post_message(self.Action(action, msg))

    def refusal(self, m: Message) -> MessageSendFailed | None:
        """Why ``m`` was refused: this run's event, else what the SDK kept from an earlier run."""
        found = self.failures.get(m.client_msg_id)
        if found is None:
            found = self.stored_refusal(m)
            if found is not None:
                self.failures[m.client_msg_id] = found
        return found

    def retryable(self, m: Message) -> bool:
        """Whether sending ``m`` again can help, as the SDK judged its refusal (unknown: yes)."""
        refusal = self.refusal(m)
        return refusal is None or refusal.retryable

    def action_more(self) -> None:
        msg = self.selected
        if msg is None:
            self.app.bell()
            return
        self.expanded.symmetric_difference_update({msg.client_msg_id})
        idx = self.window.index.get(msg.client_msg_id)
        if idx is not None:
            self._bump(idx)
        self._relayout()
        self.refresh()

    def mark_unread_from(self, count: int) -> None:
        """Put the "new messages" rule above the ``count``-th newest message from someone else."""
        self.unread_marker = None
        if count <= 0:
            return
        incoming = [it.msg for it in self.items if it.msg.send_id != self.me and not it.msg.is_notification]
        if not incoming:
            return
        first = incoming[-min(count, len(incoming))]
        self.unread_marker = first.client_msg_id
        self._bump(self.window.index[first.client_msg_id])
        self._relayout()
        self.refresh()

    def action_leave(self) -> None:
        self.cursor = None
        self.post_message(self.Action("leave", None))  # type: ignore[arg-type]

    def on_click(self, event: events.Click) -> None:
        line = int(self.scroll_y) + event.y
        if self.items and 0 <= line < self._offsets[-1]:
            self.cursor = bisect_right(self._offsets, line) - 1

