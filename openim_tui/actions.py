"""What a message's keys do outside the chat: save its file, open it or a link with the system.

Plain functions over the SDK client and a ``notify`` callable (the screen's), so the chat screen
only decides which one a key means.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openim_sdk.models import Message

Notify = Callable[..., None]


def system_opener() -> str | None:
    """The command that opens a file with its default application here, if any."""
    return "open" if sys.platform == "darwin" else shutil.which("xdg-open")


async def download(client: Any, m: Message, dest: Path, notify: Notify, *, open_after: bool) -> Path | None:
    """Save the picture or file of ``m`` into ``dest``; with ``open_after``, open it with the system viewer."""
    notify("Downloading…", timeout=2)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        path: Path = await client.download(m, dest)
    except Exception as exc:  # noqa: BLE001
        notify(f"download failed: {exc}", severity="error")
        return None
    if not open_after:
        notify(f"Saved {path}")
        return path
    opener = system_opener()
    if not opener:
        notify(f"Saved {path} — nothing here can open it (no xdg-open); open it from there",
               severity="warning", timeout=10)
        return path
    try:
        await asyncio.create_subprocess_exec(opener, str(path), stdout=asyncio.subprocess.DEVNULL,
                                             stderr=asyncio.subprocess.DEVNULL)
    except OSError as exc:
        notify(f"Saved {path}; opening it failed: {exc}", severity="warning", timeout=10)
        return path
    notify(f"Opening {path}")
    return path


def open_link(url: str, notify: Notify) -> None:
    """Open a link in the system's browser (stdlib webbrowser)."""
    import webbrowser

    try:
        opened = webbrowser.open(url)
    except webbrowser.Error:
        opened = False
    if opened:
        notify(f"Opening {url}", timeout=3)
    else:
        notify(f"No browser here to open {url}", severity="warning", timeout=10)
