"""The picture preview: the selected picture message, shown under the messages.

Pictures are drawn by textual-image (Kitty's graphics protocol, Sixel, else coloured half cells;
unicode blocks when the output is not a terminal, as under test). The library is optional: without
it, or with ``[chat] previews = false``, nothing is previewed and ``o`` still opens the picture
with the system viewer.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from openim_sdk.models import Message

from .. import render

log = logging.getLogger(__name__)

_renderer: type[Widget] | None = None
_loaded = False


def load_renderer(may_query: bool = True) -> type[Widget] | None:
    """textual-image's best image widget for this terminal, or None without the library.

    Importing it asks the terminal what it can show (Sixel? Kitty graphics? cell size?), which only
    works before Textual takes the terminal over: ``run_chat`` calls this before the app starts.
    Later calls pass ``may_query=False`` (a running app on a real terminal): no import then, and
    no previews unless it was loaded before."""
    global _renderer, _loaded
    if not _loaded and may_query:
        _loaded = True
        try:
            from textual_image.widget import Image
        except Exception as exc:  # noqa: BLE001 - not installed, or the terminal query failed
            log.info("no picture previews: %s", exc)
        else:
            _renderer = Image
    return _renderer


class PicturePreview(Vertical):
    """Shows one picture message at a time (:meth:`show`), fetched once into ``cache_dir``."""

    def __init__(self, *, cache_dir: Path, renderer: type[Widget] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.cache_dir = cache_dir
        self.renderer = renderer
        self.message: Message | None = None
        self.display = False

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-caption")

    @property
    def enabled(self) -> bool:
        return self.renderer is not None

    def hide(self) -> None:
        self.message = None
        self.display = False
        self.workers.cancel_group(self, "preview")

    @work(exclusive=True, group="preview")
    async def show(self, m: Message, client: Any) -> None:
        if self.renderer is None or not render.is_picture(m):
            self.hide()
            return
        self.message = m
        self.display = True
        caption = self.query_one("#preview-caption", Static)
        _, name, size = render.attachment_label(m)
        caption.update(Text(f"loading {name}…", style="dim"))
        try:
            path = await self._fetch(m, client)
        except Exception as exc:  # noqa: BLE001
            caption.update(Text(f"no preview: {exc} — o opens it", style="dim"))
            self._drop_image()
            return
        if self.message is not m:
            return
        for image in self.query(".preview-image"):
            image.image = path  # type: ignore[attr-defined]
            break
        else:
            await self.mount(self.renderer(path, classes="preview-image"))  # type: ignore[call-arg,arg-type]
        caption.update(Text(f"{name}" + (f" ({size})" if size else "") + " — o opens it full size", style="dim"))

    async def _fetch(self, m: Message, client: Any) -> Path:
        folder = self.cache_dir / (m.client_msg_id or "picture")
        done = [p for p in folder.iterdir() if p.is_file()] if folder.is_dir() else []
        if done:
            return done[0]
        path: Path = await client.download(m, folder)
        return path

    def _drop_image(self) -> None:
        for image in self.query(".preview-image"):
            image.remove()
