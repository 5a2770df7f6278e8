"""The message log holds a bounded window of history: paging far back evicts the newest end,
paging forward again loads it back, and nothing goes missing or appears twice on the way."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from typing import Any

from openim_sdk.models import Conversation, Message
from openim_sdk.protocol.constants import ContentType, MsgStatus, SessionType
from openim_tui.app import ChatApp
from openim_tui.widgets.item_window import ItemWindow
from openim_tui.widgets.message_log import MessageLog

from .conftest import wait_for
from .fake import BASE_MS, FakeClient

NOW = datetime.fromtimestamp((BASE_MS + 12 * 3600_000) / 1000, UTC)
SIZE = (100, 30)
CID = "si_alice_bob"
TOTAL = 600
LIMIT = 120  # a smaller window than the default, so a few pages cross it


def long_chat(total: int = TOTAL) -> FakeClient:
    c = FakeClient("alice", nickname="Alice")
    c.add_conversation(Conversation(CID, SessionType.SINGLE_CHAT, user_id="bob", show_name="Bob"))
    for i in range(1, total + 1):
        who = "alice" if i % 4 == 0 else "bob"
        c.add_message(CID, who, f"message {i:04d}" + ("\nand a second line" if i % 7 == 0 else ""),
                      minute=i, nickname=who.capitalize())
    return c


def seqs(view: MessageLog) -> list[int]:
    return [it.msg.seq for it in view.items]


def assert_window_sound(view: MessageLog) -> None:
    s = seqs(view)
    assert s == list(range(s[0], s[0] + len(s))), "a contiguous run, in order, without duplicates"
    assert len({it.msg.client_msg_id for it in view.items}) == len(view.items)
    assert all(view.window.index[it.msg.client_msg_id] == i for i, it in enumerate(view.items))
    assert len(view.items) <= LIMIT + 50  # bounded: the window plus at most a page being laid out
    width = view._layout_width
    for i, it in enumerate(view.items):  # each item shows its own message (no stale cached lines)
        lines = view._item_strips(i, width)
        assert f"message {it.msg.seq:04d}" in "".join(s.text for s in lines) or it.msg.seq > TOTAL
        assert len(lines) == it.height


async def open_long_chat(pilot: Any, app: ChatApp) -> MessageLog:
    view = app.chat.log_view
    await wait_for(pilot, lambda: app.chat.current == CID and view.items, 5, "the chat")
    view.window.limit = LIMIT
    view.focus()
    return view


async def page_to_oldest(pilot: Any, view: MessageLog) -> list[int]:
    seen = seqs(view)
    while view.items[0].msg.seq != 1:
        first = view.items[0].msg.seq
        await pilot.press("home")
        await wait_for(pilot, lambda first=first: view.items[0].msg.seq < first, 5, "an older page")
        assert_window_sound(view)
        seen[0:0] = [s for s in seqs(view) if s < first]
    return seen


async def page_to_newest(pilot: Any, view: MessageLog) -> list[int]:
    seen = seqs(view)
    while view.has_newer:
        last = view.items[-1].msg.seq
        view.scroll_end(animate=False, immediate=True)  # scrolled to the bottom of the window
        await wait_for(pilot, lambda last=last: view.items[-1].msg.seq > last or not view.has_newer, 5, "a newer page")
        assert_window_sound(view)
        seen += [s for s in seqs(view) if s > last]
    return seen


async def test_paging_back_and_forth_keeps_a_bounded_window_and_loses_nothing() -> None:
    c = long_chat()
    app = ChatApp(client=c, clock=lambda: NOW, tz=UTC, download_dir=None)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_long_chat(pilot, app)
        assert seqs(view)[-1] == TOTAL and not view.has_newer
        up = await page_to_oldest(pilot, view)
        assert up == list(range(1, TOTAL + 1))
        assert not view.has_more and view.has_newer  # the newest end was evicted
        assert len(view.items) <= LIMIT + 50
        assert "message 0001" in "\n".join(view.line_text())
        down = await page_to_newest(pilot, view)
        assert down == list(range(1, TOTAL + 1))
        assert not view.has_newer and view.items[-1].msg.seq == TOTAL
        assert view.has_more  # the oldest end was evicted on the way down
        await pilot.pause(0.05)
        assert "message 0600" in "\n".join(view.line_text())


async def test_end_jumps_to_the_newest_page_and_keeps_the_unread_marker() -> None:
    c = long_chat()
    c.convs[CID].unread_count = 3
    app = ChatApp(client=c, clock=lambda: NOW, tz=UTC, download_dir=None)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_long_chat(pilot, app)
        await wait_for(pilot, lambda: view.unread_marker, 3, "unread marker")
        marker = view.unread_marker
        for _ in range(6):
            first = view.items[0].msg.seq
            await pilot.press("home")
            await wait_for(pilot, lambda first=first: view.items[0].msg.seq < first, 5, "an older page")
        assert view.has_newer
        await pilot.press("end")
        await wait_for(pilot, lambda: not view.has_newer, 5, "the newest page")
        assert seqs(view)[-1] == TOTAL and view.unread_marker == marker
        await pilot.pause(0.05)
        assert view.is_vertical_scroll_end
        assert "new messages" in "\n".join(view.line_text())


async def test_live_messages_while_paged_back_appear_when_paging_forward() -> None:
    c = long_chat()
    app = ChatApp(client=c, clock=lambda: NOW, tz=UTC, download_dir=None)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_long_chat(pilot, app)
        await page_to_oldest(pilot, view)
        shown = view.items[3].msg
        # a new message (beyond the evicted end) is not slotted into the old window ...
        await c.push(CID, "bob", "brand new", minute=TOTAL + 5, nickname="Bob")
        await pilot.pause(0.1)
        assert "brand new" not in "\n".join(view.line_text())
        assert_window_sound(view)
        # ... but the user is told, once, that newer messages wait below
        notices = [n.message for n in app._notifications if "New messages below" in n.message]
        assert len(notices) == 1
        await c.push(CID, "bob", "newer still", minute=TOTAL + 6, nickname="Bob")
        await pilot.pause(0.1)
        assert len([n for n in app._notifications if "New messages below" in n.message]) == 1
        # ... while a change to a message on screen (a revoke) is shown at once
        revoked = dataclasses.replace(shown, content_type=ContentType.MSG_REVOKE_NOTIFICATION,
                                      status=MsgStatus.SEND_SUCCESS)
        view.upsert(revoked)
        await pilot.pause(0.05)
        assert "revoked a message" in "\n".join(view.line_text())
        down = await page_to_newest(pilot, view)
        assert down == list(range(1, TOTAL + 3))
        await pilot.pause(0.05)
        assert "brand new" in "\n".join(view.line_text()) and "newer still" in "\n".join(view.line_text())
        assert not view.told_newer  # at the newest end again: the next time back, a new notice


async def test_cursor_walks_across_pages_in_both_directions() -> None:
    c = long_chat(300)
    app = ChatApp(client=c, clock=lambda: NOW, tz=UTC, download_dir=None)
    async with app.run_test(size=SIZE) as pilot:
        view = await open_long_chat(pilot, app)
        await pilot.press("up")
        assert view.selected is not None and view.selected.seq == 300
        for _ in range(180):  # up through three page loads, one message at a time
            before = view.selected.seq
            await pilot.press("up")
            if view.selected.seq == before:  # a page is loading: the selection stays put
                await wait_for(pilot, lambda before=before: view.items[0].msg.seq < before, 5, "an older page")
                await pilot.press("up")
            assert view.selected is not None and view.selected.seq == before - 1
        assert view.has_newer
        sel = view.selected.seq
        for _ in range(150):  # and back down past the evicted end
            before = view.selected.seq
            await pilot.press("down")
            if view.selected is not None and view.selected.seq == before:
                await wait_for(pilot, lambda before=before: view.items[-1].msg.seq > before, 5, "a newer page")
                await pilot.press("down")
            assert view.selected is not None and view.selected.seq == before + 1
        assert view.selected.seq == sel + 150
        assert_window_sound(view)


# ------------------------------------------------------------------ the pure window


def msg(seq: int, who: str = "bob") -> Message:
    return Message(client_msg_id=f"m{seq}", conversation_id=CID, send_id=who, seq=seq,
                   content_type=ContentType.TEXT, content_json='{"content": "x"}', send_time=BASE_MS + seq * 60_000)


def test_window_evicts_the_far_end_and_tracks_the_last_own_message() -> None:
    w = ItemWindow("alice", limit=10)
    w.reset([msg(s, "alice" if s == 19 else "bob") for s in range(11, 21)], has_more=True)
    assert w.last_own == 8 and not w.has_newer
    assert w.prepend([msg(s) for s in range(6, 11)], has_more=True) == 5
    assert w.last_own == 13 and w.oldest_seq == 6
    assert w.evict_tail(10) == 5
    assert w.has_newer and w.last_own is None  # the newest end is gone: no "✓ sent" in this window
    assert [it.msg.seq for it in w.items] == list(range(6, 16))
    assert w.insert(msg(30)) is None  # newer than the evicted end: left to paging
    assert w.insert(msg(2)) is None  # older than the window while older exist: left to paging
    assert w.append([msg(s, "alice" if s == 19 else "bob") for s in range(16, 21)], has_newer=False) == 5
    assert w.last_own == 13
    assert w.evict_head(5) == 5 and w.has_more and w.last_own == 8
    assert w.items[0].run_start and [it.msg.seq for it in w.items] == list(range(11, 21))
    assert all(w.index[it.msg.client_msg_id] == i for i, it in enumerate(w.items))


def test_measured_height_is_the_rendered_height() -> None:
    """The log lays out with text_height and renders with hanging_lines: they must agree."""
    import random

    from rich.console import Console
    from rich.style import Style
    from rich.text import Text

    from openim_tui.widgets.item_text import hanging_lines, text_height

    console = Console(width=200, color_system=None, file=open(os.devnull, "w"))  # noqa: SIM115
    rnd = random.Random(16)
    pieces = ["lorem", "ipsum", "a", "", " ", "  ", "   ", "\n", "\n\n", "│ ", "  │ quoted", "https://example.com/" + "x" * 90,
              "漢字かな交じり文", "😀👍🏽", "supercalifragilisticexpialidocious" * 3, "-" * 150, "word\u200bjoin",
              "é" * 5, "ｆｕｌｌｗｉｄｔｈ"]
    for _ in range(1500):
        plain = "".join(rnd.choice(pieces) + rnd.choice(["", " ", " ", "\n"]) for _ in range(rnd.randint(0, 30)))
        width = rnd.choice([10, 11, 17, 23, 40, 57, 80, 97, 120])
        rendered = sum(len(hanging_lines(console, ln, width, Style())) for ln in Text(plain).split("\n"))
        assert text_height(plain, width) == rendered, (plain, width)
