"""The loaded slice of one conversation: a bounded window of message items (pure, no Textual).

The message log never holds the whole history. It holds at most ``limit`` items, a contiguous run
of the conversation ordered by seq; paging older past the limit evicts the newest end (and says so
with ``has_newer``), paging newer again evicts the oldest end (``has_more``). Every operation here
costs O(limit) at most, so the work of a page does not grow with how far the user has scrolled.

This module owns the items, their index by client_msg_id, the grouping of consecutive messages
by sender (``run_start``) and which item is the last own message (the one that shows "✓ read").
Heights, strips and scrolling belong to the widget (:mod:`.message_log`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from openim_sdk.models import Message

from .. import render

#: Items kept loaded: five pages of 50. Paging further evicts the far end.
WINDOW = 250

_uids = itertools.count(1)


@dataclass(eq=False)
class Item:
    msg: Message
    run_start: bool = True
    version: int = 0
    height: int = 0
    height_width: int = -1
    extra: dict[str, object] = field(default_factory=dict)
    #: unique for the process (evicted items are freed, so ``id()`` could come back for another)
    uid: int = field(default_factory=lambda: next(_uids))

    def bump(self) -> None:
        """Its look changed: render it again and measure it again."""
        self.version += 1
        self.height_width = -1


class ItemWindow:
    """A contiguous, seq-ordered run of one conversation's messages, at most ``limit`` long."""

    def __init__(self, me: str = "", limit: int = WINDOW) -> None:
        self.me = me
        self.limit = limit
        self.items: list[Item] = []
        self.index: dict[str, int] = {}
        #: older messages exist below ``items[0]`` (never loaded, or evicted)
        self.has_more = True
        #: newer messages exist above ``items[-1]`` (evicted while paging older)
        self.has_newer = False
        #: the newest own message (it shows "✓ sent"/"✓ read"); None when the newest end is not loaded
        self.last_own: int | None = None

    def __len__(self) -> int:
        return len(self.items)

    # ---------------------------------------------------------------- whole window

    def reset(self, messages: Iterable[Message], has_more: bool = True) -> None:
        """The newest page: everything else is forgotten."""
        self.items = [Item(m) for m in messages]
        self.index = {}
        self.has_more = has_more
        self.has_newer = False
        self.last_own = None
        self._reindex(0)
        self._regroup_range(0, len(self.items))
        self.find_last_own()

    def clear(self) -> None:
        self.reset([], True)

    # ---------------------------------------------------------------- paging

    def prepend(self, messages: Iterable[Message], has_more: bool) -> int:
        """An older page at the top; returns how many items were new."""
        self.has_more = has_more
        fresh = [Item(m) for m in messages if m.client_msg_id not in self.index]
        if fresh:
            if self.items:
                self.items[0].bump()  # no longer first: it gets the blank line above its run
            self.items[0:0] = fresh
            self._reindex(0)
            self._regroup_range(0, len(fresh) + 1)  # the old first item's run header may change
            self._shift_last_own(len(fresh))
        return len(fresh)

    def append(self, messages: Iterable[Message], has_newer: bool) -> int:
        """A newer page at the bottom (paging back down); returns how many items were new."""
        self.has_newer = has_newer
        start = len(self.items)
        seen = set(self.index)
        for m in messages:
            if m.client_msg_id not in seen:
                seen.add(m.client_msg_id)
                self.items.append(Item(m))
        self._reindex(start)
        self._regroup_range(start, len(self.items))
        self.find_last_own()
        return len(self.items) - start

    def evict_tail(self, keep: int) -> int:
        """Forget the items from ``keep`` on (the newest end); returns how many went."""
        gone = self.items[keep:]
        if not gone:
            return 0
        del self.items[keep:]
        for it in gone:
            self.index.pop(it.msg.client_msg_id, None)
        self.has_newer = True
        self.find_last_own()
        return len(gone)

    def evict_head(self, count: int) -> int:
        """Forget the ``count`` oldest items; returns how many went."""
        gone = self.items[:count]
        if not gone:
            return 0
        del self.items[:count]
        self.index = {}
        self._reindex(0)
        self._regroup_range(0, 1)  # the new first item starts a run
        if self.items:
            self.items[0].bump()  # ... and has no blank line above it
        self.has_more = True
        if self.last_own is not None:
            self.last_own = self.last_own - len(gone) if self.last_own >= len(gone) else None
        return len(gone)

    # ---------------------------------------------------------------- single messages

    def update(self, msg: Message) -> int | None:
        """A known message changed: its index, or None when it is not loaded."""
        idx = self.index.get(msg.client_msg_id)
        if idx is None:
            return None
        self.items[idx].msg = msg
        self.items[idx].bump()
        self._regroup_range(idx, idx + 2)
        self.find_last_own()
        return idx

    def insert(self, msg: Message) -> int | None:
        """A message not loaded yet: its index, or None when it falls outside the window (it is
        older than the oldest loaded while older ones exist, or newer than an evicted newest end)."""
        items = self.items
        if msg.seq and items and self.has_more:
            oldest = self.oldest_seq
            if oldest is not None and msg.seq < oldest:
                return None
        if self.has_newer:
            newest = self.newest_seq
            if not msg.seq or newest is None or msg.seq > newest:
                return None
        pos = len(items)
        # keep seq order: a message with a lower seq (late pull) slots in before later ones
        if msg.seq:
            while pos > 0 and items[pos - 1].msg.seq > msg.seq:
                pos -= 1
        items.insert(pos, Item(msg))
        self._reindex(pos)
        self._regroup_range(pos, pos + 2)
        self.find_last_own()
        return pos

    # ---------------------------------------------------------------- reading

    def get(self, client_msg_id: str) -> Message | None:
        idx = self.index.get(client_msg_id)
        return self.items[idx].msg if idx is not None else None

    @property
    def oldest_seq(self) -> int | None:
        for it in self.items:
            if it.msg.seq:
                return it.msg.seq
        return None

    @property
    def newest_seq(self) -> int | None:
        for it in reversed(self.items):
            if it.msg.seq:
                return it.msg.seq
        return None

    def find_last_own(self) -> None:
        """Re-find the newest own message; both the old and the new one are re-rendered."""
        old = self.last_own
        new: int | None = None
        if not self.has_newer:
            for i in range(len(self.items) - 1, -1, -1):
                m = self.items[i].msg
                if m.send_id == self.me and not m.is_notification:
                    new = i
                    break
        self.last_own = new
        if old != new:
            for j in (old, new):
                if j is not None and j < len(self.items):
                    self.items[j].bump()

    # ---------------------------------------------------------------- internals

    def _shift_last_own(self, by: int) -> None:
        if self.last_own is not None:
            self.last_own += by

    def _reindex(self, start: int) -> None:
        index, items = self.index, self.items
        for i in range(start, len(items)):
            index[items[i].msg.client_msg_id] = i

    def _regroup_range(self, start: int, end: int) -> None:
        items = self.items
        for i in range(max(0, start), min(len(items), end)):
            prev = items[i - 1].msg if i > 0 else None
            rs = render.starts_run(prev, items[i].msg)
            if rs != items[i].run_start:
                items[i].run_start = rs
                items[i].bump()
