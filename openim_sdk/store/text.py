"""Searchable text and one-line previews of message contents (spec ws-protocol §8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..protocol.constants import ContentType, is_notification_content

_TEXT_KEYS: dict[int, tuple[str, ...]] = {
    ContentType.TEXT: ("content",),
    ContentType.AT_TEXT: ("text",),
    ContentType.QUOTE: ("text",),
    ContentType.ADVANCED_TEXT: ("text",),
    ContentType.MARKDOWN_TEXT: ("text",),
    ContentType.FILE: ("fileName",),
    ContentType.CARD: ("nickname",),
    ContentType.LOCATION: ("description",),
    ContentType.CUSTOM: ("description", "data"),
    ContentType.MERGER: ("title",),
}

_LABELS: dict[int, str] = {
    ContentType.PICTURE: "[Picture]",
    ContentType.VOICE: "[Voice]",
    ContentType.VIDEO: "[Video]",
    ContentType.FILE: "[File]",
    ContentType.CARD: "[Card]",
    ContentType.LOCATION: "[Location]",
    ContentType.CUSTOM: "[Custom]",
    ContentType.MERGER: "[Chat history]",
    ContentType.FACE: "[Sticker]",
    ContentType.MSG_REVOKE_NOTIFICATION: "[Message revoked]",
}


#: The C scanner under ``json.loads``: one call, without the two Python layers around it (a
#: third of a pulled message's ``search_text``).
_scan: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009 (untyped)


def _parse(content: str) -> dict[str, Any]:
    if content[:1] == "{":  # the usual case, a bare object: scanned at once if it spans the text
        try:
            value, end = _scan(content, 0)
        except (StopIteration, ValueError):
            value, end = None, -1
        if end == len(content):
            return value if isinstance(value, dict) else {}
    try:  # anything else (whitespace around it, not an object, not JSON): exactly as json.loads
        value = json.loads(content) if content else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def search_text(content_type: int, content: str) -> str:
    """The text a message is found by (empty for media without a name and notifications)."""
    keys = _TEXT_KEYS.get(content_type)
    if not keys:
        return ""
    obj = _parse(content)
    if len(keys) == 1:  # most types: one key, usually a string
        value = obj.get(keys[0])
        if type(value) is str:
            return value
        return str(value) if isinstance(value, int | float) else ""
    return " ".join(str(obj[k]) for k in keys if isinstance(obj.get(k), str | int | float) and obj[k] != "")


def preview_text(content_type: int, content: str) -> str:
    """A short one-line rendering for conversation lists."""
    text = search_text(content_type, content)
    if content_type in _LABELS:
        label = _LABELS[content_type]
        text = f"{label} {text}" if text and content_type != ContentType.CUSTOM else label
    elif not text and is_notification_content(content_type):
        text = "[Notification]"
    text = " ".join(text.split())
    return text[:200]
