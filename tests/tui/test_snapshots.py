"""SVG snapshots (pytest-textual-snapshot) of the main screen, a group chat and the help screen.

The scene comes from the in-memory fake client with fixed IDs and times and a fixed clock and
time zone, so the pictures are deterministic. Update with ``pytest tests/tui --snapshot-update``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from openim_tui.app import ChatApp

from .fake import BASE_MS, demo_client

SIZE = (100, 30)
NOW = datetime.fromtimestamp((BASE_MS + 12 * 3600_000) / 1000, UTC)  # 2026-01-01 12:00 UTC


def make_app() -> ChatApp:
    return ChatApp(client=demo_client(), clock=lambda: NOW, tz=UTC, download_dir=None)


async def settle(pilot: Any) -> None:
    await pilot.pause(0.2)
    await pilot.wait_for_scheduled_animations()
    await pilot.pause(0.1)


def test_main_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("alt+2")  # Bob
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_group_chat(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)  # the pinned group opens first
        await pilot.press("ctrl+g")  # members panel
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_help_screen(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)
        await pilot.press("f1")
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_main_screen_80x24(snap_compare: Any) -> None:
    async def run_before(pilot: Any) -> None:
        await settle(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=run_before)
