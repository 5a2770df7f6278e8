"""A virtualised message view: a Line-API ScrollView that renders only the lines on screen.

Every loaded message is one *item* (a plain object, not a widget). Heights are computed per
width and summed into an offset table; the strips of visible items come from a bounded LRU
cache. Opening a 10,000-message conversation therefore mounts no per-message widgets and
renders only what is visible.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
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

FOLD_LINES = 20  # a longer message shows this many lines until ``m``
FOLD_CHARS = 4000  # ... or this many characters (a 5 MB paste must not stall the view)


@dataclass(eq=False)
class Item:
    msg: Message
    run_start: bool = True
    version: int = 0
    height: int = 0
    height_width: int = -1
    extra: dict[str, object] = field(default_factory=dict)


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
        self.me = me
        self.self_names: set[str] = {me}
        self.names: dict[str, str] = {}
        self.is_group = False
        self.clock = clock or (lambda: datetime.now(tz))
        self.tz = tz
        self.items: list[Item] = []
        self._index: dict[str, int] = {}
        self._offsets: list[int] = [0]
        self._layout_width = -1
        self._strips: LRUCache[tuple[int, int, int, bool], list[Strip]] = LRUCache(512)
        self._style_cache: dict[str, Style] = {}
        self._base_style: Style | None = None
        self.has_more = True
        self.loading = False
        self._follow = True
        self._last_own: int | None = None
        self.placeholder = "No conversation selected"
        #: the first unread message when the conversation was opened: a "new messages" rule above it
        self.unread_marker: str | None = None
        self.time_format = "%H:%M"  # strftime of today's times (the settings' chat.time_format)
        #: long messages shown in full (``m`` on the selected message); others are folded
        self.expanded: set[str] = set()
        #: the SDK's word on our refused messages (this session): its reason, and whether retrying helps
        self.failures: dict[str, MessageSendFailed] = {}

    # ------------------------------------------------------------------ public API

    def clear(self, placeholder: str = "") -> None:
        self.unread_marker = None
        self.expanded.clear()
        self.items.clear()
        self._index.clear()
        self._strips.clear()
        self.has_more = True
        self.loading = False
        self._follow = True
        self.placeholder = placeholder
        self.set_reactive(MessageLog.cursor, None)
        self.set_reactive(MessageLog.peer_read_seq, 0)
        self._relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def set_messages(self, messages: Iterable[Message], has_more: bool = True) -> None:
        self.clear(self.placeholder)
        self.has_more = has_more
        self.items = [Item(m) for m in messages]
        self._reindex(0)
        self._relayout()
        self._to_end()

    def prepend(self, messages: list[Message], has_more: bool) -> None:
        """Insert an older page at the top, keeping the view where it was."""
        self.loading = False
        self.has_more = has_more
        fresh = [Item(m) for m in messages if m.client_msg_id not in self._index]
        if not fresh:
            return
        old_total = self._offsets[-1]
        self.items[0:0] = fresh
        if self.cursor is not None:
            self.set_reactive(MessageLog.cursor, self.cursor + len(fresh))
        self._reindex(0, regroup_until=len(fresh))  # the old first item's run header may change
        self._relayout()
        added = self._offsets[-1] - old_total
        self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True)

    def upsert(self, msg: Message) -> None:
        """Add a new message or update a known one (by client_msg_id)."""
        idx = self._index.get(msg.client_msg_id)
        at_end = self._follow or self.is_vertical_scroll_end
        if idx is not None:
            self.items[idx].msg = msg
            self._bump(idx)
            self._regroup(idx)
            self._relayout()
            return
        pos = len(self.items)
        # keep seq order: a message with a lower seq (late pull) slots in before later ones
        if msg.seq:
            while pos > 0 and self.items[pos - 1].msg.seq > msg.seq:
                pos -= 1
        self.items.insert(pos, Item(msg))
        self._reindex(pos, regroup_until=pos + 1)
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
        idx = self._index.get(client_msg_id)
        return self.items[idx].msg if idx is not None else None

    @property
    def messages(self) -> list[Message]:
        return [it.msg for it in self.items]

    @property
    def oldest_seq(self) -> int | None:
        for it in self.items:
            if it.msg.seq:
                return it.msg.seq
        return None

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

    def _reindex(self, start: int, regroup_until: int | None = None) -> None:
        index = self._index
        items = self.items
        for i in range(start, len(items)):
            index[items[i].msg.client_msg_id] = i
        end = len(items) if regroup_until is None else min(len(items), regroup_until + 1)
        for i in range(start, end):
            self._regroup(i)

    def _find_last_own(self) -> None:
        old = self._last_own
        self._last_own = None
        for i in range(len(self.items) - 1, -1, -1):
            if self.items[i].msg.send_id == self.me and not self.items[i].msg.is_notification:
                self._last_own = i
                break
        if old != self._last_own:
            for j in (old, self._last_own):
                if j is not None and j < len(self.items):
                    self._bump(j)

    def _regroup(self, i: int) -> None:
        if not (0 <= i < len(self.items)):
            return
        prev = self.items[i - 1].msg if i > 0 else None
        rs = render.starts_run(prev, self.items[i].msg)
        if rs != self.items[i].run_start:
            self.items[i].run_start = rs
            self._bump(i)

    def _bump(self, i: int) -> None:
        it = self.items[i]
        it.version += 1
        it.height_width = -1

    def _relayout(self) -> None:
        self._find_last_own()
        width = self._width()
        offsets = [0]
        total = 0
        for i, it in enumerate(self.items):
            if it.height_width != width:
                it.height = len(self._item_strips(i, width))
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
        it = self.items[i]
        selected = self.cursor == i
        key = (id(it), it.version, width, selected)
        strips = self._strips.get(key)
        if strips is None:
            strips = self._render_item(i, width, selected)
            self._strips[key] = strips
        return strips

    def _render_item(self, i: int, width: int, selected: bool) -> list[Strip]:
        it = self.items[i]
        text = self._item_text(i)
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
            strips.extend(self._hanging(line, width, base))
        if it.run_start and i > 0:
            strips.insert(0, Strip.blank(width, base if selected else self._base()))
        return strips

    def _hanging(self, line: Text, width: int, base: Style) -> list[Strip]:
        """One logical line, wrapped so that continuation lines keep its indent (and a quote's bar)."""
        console = self.app.console
        hang = _hang_width(line.plain)
        if hang == 0 or hang > width // 2:
            opts = console.options.update(width=width, height=None, no_wrap=False, overflow="fold")
            return [Strip(ln, width) for ln in console.render_lines(line, opts, style=base, pad=True,
                                                                     new_lines=False)]
        head, body = line[:hang], line[hang:]
        head_opts = console.options.update(width=hang, height=None, no_wrap=True, overflow="crop")
        head_segs = console.render_lines(head, head_opts, style=base, pad=True, new_lines=False)[0]
        body_opts = console.options.update(width=width - hang, height=None, no_wrap=False, overflow="fold")
        body_lines = console.render_lines(body, body_opts, style=base, pad=True, new_lines=False)
        return [Strip([*head_segs, *ln], width) for ln in body_lines]

    def _item_text(self, i: int) -> Text:
        it = self.items[i]
        m = it.msg
        now = self.clock()
        st = self._style
        if m.is_notification and not render.is_revoked(m):
            t = Text(f"· {render.notification_text(m)} · {render.fmt_stamp(m.time, now, self.tz, self.time_format)}", style=st("system"),
                     justify="center")
            return t
        out = Text(no_wrap=False)
        if it.run_start:
            own = m.send_id == self.me
            name = "You" if own else (m.sender_nickname or self.names.get(m.send_id) or m.send_id)
            out.append(name, st("self-sender") if own else st("sender"))
            out.append("  ")
            out.append(render.fmt_stamp(m.time, now, self.tz, self.time_format), st("time"))
            out.append("\n")
        indent = "  "
        if render.is_revoked(m):
            who = "You" if m.send_id == self.me else (m.sender_nickname or m.send_id)
            out.append(f"{indent}{who} revoked a message", st("revoked"))
        else:
            q = render.quote_of(m)
            if q is not None:
                out.append(f"{indent}│ {q[0]}: {q[1]}", st("quote"))
                out.append("\n")
            if render.is_attachment(m):
                kind, fname, size = render.attachment_label(m)
                out.append(indent)
                out.append(f"[{kind}] {fname}" + (f" ({size})" if size else ""), st("attachment"))
                if self.cursor == i:
                    out.append("  d download · o open", st("hint"))
            else:
                body = render.body_text(m)
                lines = body.split("\n") or [""]
                folded = ""
                if m.client_msg_id not in self.expanded:
                    lines, folded = render.fold(lines, FOLD_LINES, FOLD_CHARS)
                in_code = False
                first = True
                for line in lines:
                    if render.is_fence(line):  # ``` opens or closes a code block; the fence is not shown
                        in_code = not in_code
                        continue
                    if not first:
                        out.append("\n")
                    first = False
                    if in_code:
                        out.append(indent)
                        out.append(line or " ", st("code"))
                        continue
                    plain, marks = render.inline_markdown(line)
                    seg = Text(indent + plain)
                    for s, e, kind, url in marks:
                        style = {"bold": Style(bold=True), "italic": Style(italic=True), "code": st("code"),
                                 "link": st("link") + Style(link=url)}[kind]
                        seg.stylize(style, s + len(indent), e + len(indent))
                    for s, e, mine in render.mention_spans(plain, self.self_names):
                        seg.stylize(st("self-mention") if mine else st("mention"), s + len(indent),
                                    e + len(indent))
                    out.append_text(seg)
                if folded:
                    out.append(f"\n{indent}… {folded} — m shows all", st("hint"))
        if m.send_id == self.me and not render.is_revoked(m):
            label = render.status_label(m, self.online)
            if label == "failed":
                refusal = self.failures.get(m.client_msg_id)
                out.append(f"  ✗ not sent: {refusal.explanation}" if refusal else "  ✗ failed", st("failed"))
                if self.retryable(m):
                    out.append(" · r retry", st("failed"))
            elif label in ("sending", "queued"):
                out.append(f"  … {label}", st("status"))
            elif i == self._last_own:
                read = (not self.is_group) and (m.is_read or (m.seq and self.peer_read_seq >= m.seq))
                out.append("  ✓ read" if read else "  ✓ sent", st("read") if read else st("status"))
        return out

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
        if self.size.height:
            self._follow = new_value >= self.max_scroll_y - 1
        if new_value <= 1 and old_value != new_value:
            self._maybe_load_older()

    def _maybe_load_older(self) -> None:
        if self.items and self.has_more and not self.loading:
            self.loading = True
            self.post_message(self.LoadOlder())

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
        else:
            self.cursor = None
            self.scroll_end(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)
        if self.scroll_y <= 1:
            self._maybe_load_older()

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_top(self) -> None:
        self.scroll_home(animate=False)
        self._maybe_load_older()

    def action_bottom(self) -> None:
        self.cursor = None
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

    def retryable(self, m: Message) -> bool:
        """Whether sending ``m`` again can help, as the SDK judged its refusal (unknown: yes)."""
        refusal = self.failures.get(m.client_msg_id)
        return refusal is None or refusal.retryable

    def action_more(self) -> None:
        msg = self.selected
        if msg is None:
            self.app.bell()
            return
        self.expanded.symmetric_difference_update({msg.client_msg_id})
        self._bump(self._index[msg.client_msg_id])
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
        self._bump(self._index[first.client_msg_id])
        self._relayout()
        self.refresh()

    def action_leave(self) -> None:
        self.cursor = None
        self.post_message(self.Action("leave", None))  # type: ignore[arg-type]

    def on_click(self, event: events.Click) -> None:
        line = int(self.scroll_y) + event.y
        if self.items and 0 <= line < self._offsets[-1]:
            self.cursor = bisect_right(self._offsets, line) - 1


def _hang_width(plain: str) -> int:
    """The indent a wrapped line keeps: its leading spaces, plus a quote's "│ " bar."""
    n = len(plain) - len(plain.lstrip(" "))
    if plain.startswith("│ ", n):
        n += 2
    return n if n < len(plain) else 0
