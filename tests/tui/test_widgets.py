"""Widget-level behaviour with the in-memory fake client (fast, deterministic)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openim_sdk.events import ConnectionState, ReadReceipt, ServerHistoryRewound, TypingChanged
from openim_sdk.models import Conversation
from openim_sdk.protocol.constants import ContentType, MsgStatus, SessionType
from openim_tui.app import ChatApp
from openim_tui.screens.help import HelpScreen
from openim_tui.screens.pickers import NewChatScreen, QuickSwitcher, SearchScreen

from .conftest import wait_for
from .fake import BASE_MS, FakeClient, demo_client

NOW = datetime.fromtimestamp((BASE_MS + 12 * 3600_000) / 1000, UTC)
SIZE = (100, 30)


def make(client: FakeClient | None = None, tmp_path: Path | None = None) -> tuple[ChatApp, FakeClient]:
    c = client or demo_client()
    return ChatApp(client=c, clock=lambda: NOW, tz=UTC, download_dir=tmp_path), c


def text(app: ChatApp) -> str:
    return "\n".join(app.chat.log_view.line_text())


async def ready(pilot: Any, app: ChatApp) -> None:
    await wait_for(pilot, lambda: app.chat.current and app.chat.log_view.items, 5, "first conversation")


async def test_enter_sends_and_ctrl_j_inserts_newline() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")  # Bob
        await pilot.press(*"line one", "ctrl+j", *"line two")
        assert app.chat.composer.text == "line one\nline two"
        assert not c.sent
        await pilot.press("enter")
        await wait_for(pilot, lambda: c.sent, 3, "sent")
        assert c.sent[0].content["content"] == "line one\nline two"
        assert c.sent[0].conversation_id == "si_alice_bob"
        await wait_for(pilot, lambda: "line two" in text(app), 3, "shown")
        assert "… sending" in text(app)
        await c.complete(c.sent[0])
        await wait_for(pilot, lambda: "✓ sent" in text(app), 3, "sent mark")


async def test_typing_indicator_and_read_receipt() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_bob")
        await c.emit(TypingChanged("si_alice_bob", "bob", True))
        typing = app.chat.query_one("#typing")
        await wait_for(pilot, lambda: "typing" in str(typing.render()), 3, "typing shown")
        assert "Bob is typing" in str(typing.render())
        await c.emit(TypingChanged("si_alice_bob", "bob", False))
        await wait_for(pilot, lambda: "typing" not in str(typing.render()), 3, "typing cleared")

        # our own typing is reported to the peer
        await pilot.press("h", "i")
        await wait_for(pilot, lambda: ("si_alice_bob", True) in c.typing_calls, 3, "typing sent")

        await pilot.press("enter")
        await wait_for(pilot, lambda: c.sent, 3)
        await c.complete(c.sent[0])
        await wait_for(pilot, lambda: "✓ sent" in text(app), 3)
        await c.emit(ReadReceipt("si_alice_bob", "bob", c.sent[0].seq))
        await wait_for(pilot, lambda: "✓ read" in text(app), 3, "read receipt")


async def test_incoming_push_moves_conversation_up_and_counts_unread() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.chat.conv_list.ids()[-1] == "si_alice_dave"
        await c.push("si_alice_dave", "dave", "ping", minute=700, nickname="Dave")
        await wait_for(pilot, lambda: app.chat.conv_list.ids()[1] == "si_alice_dave", 3, "moved up")
        assert app.chat.conv_list.ids()[0] == "sg_team"  # pinned stays first
        await wait_for(pilot, lambda: " 1 " in str(app.chat.conv_list.get_option_at_index(1).prompt), 3)
        # pushes to the open conversation show at once and are marked read
        await c.push("sg_team", "bob", "live in the group", minute=701, nickname="Bob")
        await wait_for(pilot, lambda: "live in the group" in text(app), 3)
        await wait_for(pilot, lambda: "sg_team" in c.read, 3, "mark read")


async def test_failed_message_retry_key() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        failed = next(m for m in c.msgs["sg_team"] if m.status == MsgStatus.SEND_FAILED)
        c.sent.append(failed)
        assert "✗ failed" in text(app)
        await pilot.press("ctrl+r")  # from the input box: retries the last failed message
        await wait_for(pilot, lambda: failed.status == MsgStatus.SENDING, 3, "retried")
        await wait_for(pilot, lambda: "✗ failed" not in text(app), 3)


async def test_message_selection_quote_and_download(tmp_path: Path) -> None:
    app, c = make(tmp_path=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        view = app.chat.log_view
        view.focus()
        await pilot.press("up")
        assert view.selected is not None and view.selected.text == "sending this one offline"
        while view.selected is not None and view.selected.content_type != ContentType.FILE:
            await pilot.press("up")
        assert view.selected is not None
        await pilot.press("d")
        await wait_for(pilot, lambda: (tmp_path / "file.bin").exists(), 3, "downloaded")
        await pilot.press("q")
        assert app.chat.reply_to is not None and app.chat.reply_to.content_type == ContentType.FILE
        assert app.chat.focused is app.chat.composer
        await pilot.press(*"thanks", "enter")
        await wait_for(pilot, lambda: c.sent, 3)


async def test_group_mentions_resolve_member_ids() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+g")
        await wait_for(pilot, lambda: "team" in app.chat.members, 3, "members")
        await pilot.press(*"@bob @Carol look", "enter")
        await wait_for(pilot, lambda: c.sent, 3)
        assert c.sent[0].at_user_ids == ["bob", "carol"]


async def test_quick_switcher_new_chat_and_search() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("ctrl+k")
        assert isinstance(app.screen, QuickSwitcher)
        await pilot.press(*"dav", "enter")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_dave", 3, "switched")

        await pilot.press("ctrl+n")
        assert isinstance(app.screen, NewChatScreen)
        await pilot.press(*"erin")  # not a friend: a typed user ID
        await pilot.pause(0.1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_erin", 3, "new chat")

        await pilot.press("ctrl+f")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"lunch", "enter")
        await wait_for(pilot, lambda: app.screen.results, 3, "results")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_bob", 3, "opened result")


async def test_keyboard_switching_help_theme_and_drafts() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        first = app.chat.current
        await pilot.press(*"half-typed")
        await pilot.press("ctrl+down")
        assert app.chat.current != first
        assert app.chat.composer.text == ""
        await pilot.press("ctrl+up")
        assert app.chat.current == first
        assert app.chat.composer.text == "half-typed"

        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        app.chat.log_view.focus()
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

        theme = app.theme
        await pilot.press("ctrl+t")
        assert app.theme != theme


async def test_offline_state_marks_queued() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await c.set_state(ConnectionState.RECONNECTING)
        await wait_for(pilot, lambda: app.chat.conn_state == "reconnecting", 3)
        await pilot.press(*"later", "enter")
        await wait_for(pilot, lambda: "… queued" in text(app), 3, "queued")
        assert app.chat.query_one("#status").queued == 1
        await c.set_state(ConnectionState.CONNECTED)
        await wait_for(pilot, lambda: "… sending" in text(app), 3)


async def test_file_command_sends_a_file(tmp_path: Path) -> None:
    doc = tmp_path / "report.pdf"
    doc.write_bytes(b"%PDF" * 300)
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        app.chat.composer.set_text(f"/file {doc}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: c.sent, 3, "file sent")
        assert c.sent[0].content_type == ContentType.FILE
        await wait_for(pilot, lambda: "[file] report.pdf (1.2 KB)" in text(app), 3)


async def test_server_history_rewound_reloads_the_open_chat() -> None:
    """The SDK dropped cached rows the server no longer holds: the open chat stops showing them."""
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_bob")
        gone = await c.push("si_alice_bob", "bob", "soon forgotten", minute=700)
        await wait_for(pilot, lambda: "soon forgotten" in text(app), 3, "pushed message shown")
        c.msgs["si_alice_bob"].remove(gone)  # what the SDK's cache holds after the rewind
        await c.emit(ServerHistoryRewound("si_alice_bob", gone.seq, gone.seq - 1))
        await wait_for(pilot, lambda: "soon forgotten" not in text(app), 3, "dropped message hidden")


# ------------------------------------------------------------------ rough edges (issue 15: items 4, 13, 15)


def test_esc_digit_is_alt_digit_except_on_macos() -> None:
    from textual._xterm_parser import XTermParser

    from openim_tui.keys import use_alt_digits

    assert not use_alt_digits("darwin")
    assert use_alt_digits("linux")
    parser = XTermParser(debug=False)
    keys = [e.key for e in [*parser.feed("\x1b3"), *parser.feed("")]]  # what tmux sends for Alt+3
    assert keys == ["alt+3"]
    parser = XTermParser(debug=False)
    typed = [(e.key, e.character) for e in [*parser.feed("£"), *parser.feed("")]]  # a UK keyboard's £ stays text
    assert typed == [("pound_sign", "£")]


async def test_narrow_terminal_hides_the_list_and_ctrl_b_toggles_it() -> None:
    app, _ = make()
    async with app.run_test(size=(50, 20)) as pilot:
        await ready(pilot, app)
        chat = app.chat
        assert not chat.conv_list.display
        assert chat.log_view.size.width >= 45  # the messages get the width
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert chat.conv_list.display
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not chat.conv_list.display
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.chat.conv_list.display
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert not app.chat.conv_list.display and app.chat.log_view.size.width > 90


async def test_wrapped_lines_keep_their_indent() -> None:
    c = demo_client()
    long = "word " * 40
    c.add_message("si_alice_bob", "bob", long.strip(), minute=606, nickname="Bob")
    c.add_message("si_alice_bob", "alice", "reply", minute=607, nickname="Alice", content_type=ContentType.QUOTE,
                  content={"text": "reply", "quoteMessage": {"sendID": "bob", "senderNickname": "Bob",
                                                             "contentType": 101, "textElem": {"content": long}}})
    app, _ = make(c)
    async with app.run_test(size=(60, 30)) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: "reply" in text(app), 3, "bob's chat")
        lines = app.chat.log_view.line_text()
        body = [ln for ln in lines if "word" in ln]
        assert len(body) >= 6, lines  # both the message and the quote wrapped
        quote = [ln for ln in body if "│" in ln]
        assert len(quote) >= 3 and all(ln.startswith("  │ ") for ln in quote), quote
        plain = [ln for ln in body if "│" not in ln]
        assert len(plain) >= 3 and all(ln.startswith("  word") for ln in plain), plain


async def test_empty_pane_stops_saying_no_conversations_once_there_are() -> None:
    c = FakeClient("alice")
    app, _ = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "No conversations yet" in app.chat.log_view.placeholder, 5, "empty")
        c.add_conversation(Conversation("si_alice_bob", SessionType.SINGLE_CHAT, user_id="bob", show_name="Bob"))
        await c.push("si_alice_bob", "bob", "hi there", minute=1, nickname="Bob")
        await wait_for(pilot, lambda: app.chat.conv_list.conversations, 5, "listed")
        await wait_for(pilot, lambda: "No conversations yet" not in app.chat.log_view.placeholder, 5, "placeholder")
        assert "Pick a conversation" in app.chat.log_view.placeholder


# ------------------------------------------------------------------ alerts, unread, long messages, revoke (issue 15)


class _Notifier:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, *, title: str, message: str) -> None:
        self.sent.append((title, message))


async def test_alerts_ring_for_other_conversations_but_not_muted_ones() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        notifier = _Notifier()
        alerts = app.chat.alerts
        alerts._make_notifier = lambda: notifier  # the desktop seam: a fake service instead of D-Bus
        bells: list[int] = []
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        assert app.chat.current == "sg_team"
        await c.push("si_alice_bob", "bob", "ping from bob", minute=700, nickname="Bob")
        await wait_for(pilot, lambda: notifier.sent, 3, "desktop notification")
        assert bells == [1] and notifier.sent == [("Bob", "ping from bob")]
        await c.push("si_alice_carol", "carol", "newsletter #4", minute=701, nickname="Carol")  # muted (opt 2)
        await pilot.pause(0.2)
        assert bells == [1] and len(notifier.sent) == 1


async def test_desktop_notifications_switch_off_when_unavailable() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)

        def broken() -> Any:
            raise RuntimeError("no D-Bus session")

        app.chat.alerts._make_notifier = broken
        await c.push("si_alice_bob", "bob", "ping", minute=700, nickname="Bob")
        await wait_for(pilot, lambda: not app.chat.alerts.desktop, 3, "switched off")
        assert app.chat.alerts.alerted  # the bell still rang


async def test_alt_u_opens_the_next_unread_and_marks_where_new_messages_start() -> None:
    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.chat.current == "sg_team"
        await pilot.press("alt+u")  # carol's chat has 3 unread
        await wait_for(pilot, lambda: app.chat.current == "si_alice_carol", 3, "next unread")
        await wait_for(pilot, lambda: "newsletter" in text(app), 3, "loaded")
        lines = app.chat.log_view.line_text()
        rule = next(i for i, ln in enumerate(lines) if "new messages" in ln)
        assert "newsletter #1" in "\n".join(lines[rule:]) and "newsletter #1" not in "\n".join(lines[:rule])
        await pilot.press("alt+u")
        await pilot.pause(0.1)
        assert app.chat.current == "si_alice_carol"  # nothing else unread: stays, says so


async def test_long_message_is_folded_until_m() -> None:
    c = demo_client()
    c.add_message("si_alice_bob", "bob", "\n".join(f"line {i}" for i in range(500)), minute=606, nickname="Bob")
    c.add_message("si_alice_bob", "bob", "x" * 5_000_000, minute=607, nickname="Bob")  # a 5 MB paste
    app, _ = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: "more line" in text(app), 5, "folded")
        shown = text(app)
        assert "line 19" in shown and "line 20" not in shown and "480 more lines — m shows all" in shown
        assert "more characters — m shows all" in shown
        view = app.chat.log_view
        view.focus()
        await pilot.press("up", "up")
        assert view.selected is not None and view.selected.text.startswith("line 0")
        await pilot.press("m")
        assert "line 499" in text(app)
        await pilot.press("m")
        assert "line 499" not in text(app)


async def test_revoke_asks_first() -> None:
    app, c = make()
    revoked: list[str] = []

    async def revoke(conversation_id: str, client_msg_id: str) -> None:
        revoked.append(client_msg_id)

    c.revoke = revoke  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: "perfect, thanks" in text(app), 3, "bob's chat")
        view = app.chat.log_view
        view.focus()
        await pilot.press("up")
        assert view.selected is not None and view.selected.text == "perfect, thanks"
        await pilot.press("x")
        await pilot.pause(0.1)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert revoked == []
        await pilot.press("x")
        await pilot.pause(0.1)
        await pilot.press("y")
        await wait_for(pilot, lambda: revoked, 3, "revoked")
        assert revoked == [view.selected.client_msg_id]


async def test_settings_rebind_keys_pick_the_theme_and_silence_the_bell() -> None:
    from openim_cli.settings import Settings

    c = demo_client()
    app = ChatApp(client=c, clock=lambda: NOW, tz=UTC,
                  settings=Settings(theme="nord", bell=False, desktop=False, time_format="%I:%M %p",
                                    keys={"next_unread": "f5", "no_such_action": "f6"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        assert app.theme == "nord"
        assert "AM" in text(app) or "PM" in text(app)  # today's times in the configured format
        await pilot.press("alt+u")  # no longer bound
        await pilot.pause(0.1)
        assert app.chat.current == "sg_team"
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_carol", 3, "f5 = next unread")
        bells: list[int] = []
        app.bell = lambda: bells.append(1)  # type: ignore[method-assign]
        await c.push("si_alice_bob", "bob", "quiet please", minute=700, nickname="Bob")
        await wait_for(pilot, lambda: app.chat.alerts.alerted, 3, "alerted")
        assert bells == []


async def test_a_refused_message_says_why_and_offers_retry_only_when_it_can_help() -> None:
    from openim_sdk.events import MessageSendFailed
    from openim_sdk.protocol.errors import MessageError, NetworkError

    app, c = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await pilot.press(*"hello?", "enter")
        await wait_for(pilot, lambda: c.sent, 3, "sent")
        m = c.sent[-1]
        m.status = MsgStatus.SEND_FAILED
        await c.emit(MessageSendFailed(m, error=MessageError(1402, message="MutedInGroup")))
        await wait_for(pilot, lambda: "not sent: you are muted" in text(app), 3, "reason shown")
        line = next(ln for ln in app.chat.log_view.line_text() if "not sent" in ln)
        assert "(1402 MutedInGroup)" in line and "retry" not in line
        await pilot.press(*"again", "enter")
        await wait_for(pilot, lambda: len(c.sent) == 2, 3, "second")
        m2 = c.sent[-1]
        m2.status = MsgStatus.SEND_FAILED
        await c.emit(MessageSendFailed(m2, error=NetworkError(message="connection lost")))
        await wait_for(pilot, lambda: sum("not sent" in ln for ln in app.chat.log_view.line_text()) == 2, 3)
        line2 = [ln for ln in app.chat.log_view.line_text() if "not sent" in ln][-1]
        assert "r retry" in line2


async def test_markdown_is_rendered_and_links_open(monkeypatch: Any) -> None:
    import webbrowser

    c = demo_client()
    c.add_message("si_alice_bob", "bob", "see **this** and `x = 1`, docs at [the guide](https://example.org/g)",
                  minute=606, nickname="Bob")
    c.add_message("si_alice_bob", "bob", "```\ndef f():\n    return 2*3*4\n```", minute=607, nickname="Bob")
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    app, _ = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: "the guide" in text(app), 3, "bob's chat")
        shown = text(app)
        assert "see this and x = 1, docs at the guide" in shown and "**" not in shown and "](" not in shown
        assert "def f():" in shown and "    return 2*3*4" in shown and "```" not in shown
        view = app.chat.log_view
        view.focus()
        await pilot.press("up", "up")
        assert view.selected is not None and view.selected.text.startswith("see **this**")
        await pilot.press("o")
        await wait_for(pilot, lambda: opened, 3, "opened")
        assert opened == ["https://example.org/g"]


# ------------------------------------------------------------------ picture previews (issue 15)


def _with_picture(tmp_path: Path) -> FakeClient:
    c = demo_client()
    c.data_dir = tmp_path  # type: ignore[attr-defined]  # where the chat caches previews
    c.add_message("si_alice_bob", "bob", "", minute=606, nickname="Bob", content_type=ContentType.PICTURE,
                  content={"sourcePicture": {"url": "http://x/cat.png", "size": 2048, "width": 4, "height": 4}})
    c.add_message("si_alice_bob", "bob", "cute, right?", minute=607, nickname="Bob")
    return c


async def test_a_selected_picture_is_previewed_inline(tmp_path: Path) -> None:
    import pytest

    widget = pytest.importorskip("textual_image.widget")
    app, c = make(_with_picture(tmp_path), tmp_path / "downloads")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: "cute, right?" in text(app), 3, "bob's chat")
        preview = app.chat.preview
        assert not preview.display
        view = app.chat.log_view
        view.focus()
        await pilot.press("up", "up")
        assert view.selected is not None and view.selected.content_type == ContentType.PICTURE
        images = await wait_for(pilot, lambda: list(preview.query(".preview-image")), 3, "preview image")
        assert preview.display and isinstance(images[0], widget.Image)
        await wait_for(pilot, lambda: images[0].size.height > 0, 3, "laid out")
        # headless, textual-image draws with unicode blocks: the picture is on screen as text cells
        drawn = [images[0].render_line(y).text for y in range(images[0].size.height)]
        assert any(line.strip() for line in drawn)
        assert "o opens it full size" in str(preview.query_one("#preview-caption").render())
        await pilot.press("down")  # a text message: the preview goes away
        await wait_for(pilot, lambda: not preview.display, 3, "preview hidden")
        await pilot.press("up")  # back to the picture: fetched once, then from the cache
        await wait_for(pilot, lambda: preview.display, 3, "shown again")
        assert c.downloads.count(view.selected.client_msg_id) == 1


async def test_no_preview_without_the_library_or_when_turned_off(tmp_path: Path, monkeypatch: Any) -> None:
    from openim_cli.settings import Settings
    from openim_tui.widgets import picture_preview

    monkeypatch.setattr(picture_preview, "_loaded", True)
    monkeypatch.setattr(picture_preview, "_renderer", None)  # as if textual-image were not installed
    for settings in (Settings(), Settings(previews=False)):
        c = _with_picture(tmp_path)
        app = ChatApp(client=c, clock=lambda: NOW, tz=UTC, download_dir=tmp_path / "dl", settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot, app)
            await pilot.press("alt+2")
            await wait_for(pilot, lambda a=app: "cute, right?" in text(a), 3, "bob's chat")  # type: ignore[misc]
            app.chat.log_view.focus()
            await pilot.press("up", "up")
            await pilot.pause(0.1)
            assert not app.chat.preview.display and not c.downloads
            assert "d download · o open" in text(app)  # the system viewer is still a key away


# ------------------------------------------------------------------ the SDK owns the outbox (issue 15)


async def test_each_message_goes_to_the_sdk_once_in_typed_order_and_states_come_from_its_events() -> None:
    import asyncio

    app, c = make()
    real_send = c.send_text
    calls: list[str] = []

    async def slow_first(cid: str, text: str, **kw: Any) -> Any:
        calls.append(text)
        if text == "one":  # the SDK takes its time with the first: the second must not overtake it
            await asyncio.sleep(0.3)
        return await real_send(cid, text, **kw)

    c.send_text = slow_first  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: app.chat.current == "si_alice_bob")
        await pilot.press(*"one", "enter", *"two", "enter")
        await wait_for(pilot, lambda: len(c.sent) == 2, 3, "both handed over")
        assert calls == ["one", "two"] and [m.text for m in c.sent] == ["one", "two"]
        mine = [m.text for m in app.chat.log_view.messages if m.send_id == "alice"]
        assert mine[-2:] == ["one", "two"] and mine.count("one") == 1  # drawn once, from the SDK's event
        await c.complete(c.sent[0], ok=False)  # MessageSendFailed with no reason: retrying may help
        await wait_for(pilot, lambda: "one  ✗ not sent: the server did not take it · r retry" in text(app), 3,
                       "failed, with the SDK's words, retry offered")


async def test_retry_is_refused_when_the_sdk_says_it_cannot_help() -> None:
    from openim_sdk.events import MessageSendFailed
    from openim_sdk.protocol.errors import MessageError

    app, c = make()
    retried: list[str] = []
    real_retry = c.retry

    async def retry(cmid: str) -> Any:
        retried.append(cmid)
        return await real_retry(cmid)

    c.retry = retry  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press(*"am I muted?", "enter")
        await wait_for(pilot, lambda: c.sent, 3, "sent")
        m = c.sent[-1]
        m.status = MsgStatus.SEND_FAILED
        await c.emit(MessageSendFailed(m, error=MessageError(1402, message="MutedInGroup")))
        await wait_for(pilot, lambda: "not sent: you are muted" in text(app), 3, "reason shown")
        view = app.chat.log_view
        view.focus()
        await pilot.press("up")
        assert view.selected is not None and view.selected.client_msg_id == m.client_msg_id
        await pilot.press("r")
        await pilot.pause(0.1)
        assert retried == [] and m.status == MsgStatus.SEND_FAILED
        # Ctrl+R (no selection) retries the last failed message that can be retried: the older offline one
        await pilot.press("escape")
        assert view.selected is None and app.chat.composer.has_focus
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: retried, 3, "retried")
        assert retried == ["sg_team-00008"]


async def test_a_refusal_from_an_earlier_run_still_says_why_and_offers_no_retry() -> None:
    """After a restart there is no MessageSendFailed event for old failures: the chat asks the SDK
    (send_error, kept in the cache) and still shows the reason, without a retry that cannot help."""
    from openim_sdk.protocol.errors import MessageError

    c = demo_client()
    old = c.add_message("si_alice_bob", "alice", "let me speak", minute=650, status=MsgStatus.SEND_FAILED)
    c.refusals[old.client_msg_id] = MessageError(1402, message="MutedInGroup")
    app, _ = make(c)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await pilot.press("alt+2")
        await wait_for(pilot, lambda: "not sent: you are muted" in text(app), 3, "reason shown")
        shown = " ".join(app.chat.log_view.line_text())
        assert "MutedInGroup" in shown and "r retry" not in shown
