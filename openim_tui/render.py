"""Pure presentation helpers: time formatting, message grouping, mention spans, content labels.

No Textual imports here, so these are cheap to unit-test and to reuse from the benchmark.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, tzinfo
from typing import Any

from openim_sdk.models import Conversation, Message
from openim_sdk.protocol.constants import ContentType, MsgStatus, SessionType

Clock = Callable[[], datetime]

RUN_GAP_MS = 5 * 60 * 1000  # consecutive messages of one sender within this gap form a run
MENTION_RE = re.compile(r"@[\w.\-]+")
REVOKED_TYPES = {int(ContentType.REVOKE), int(ContentType.MSG_REVOKE_NOTIFICATION)}


def pick(obj: Any, *names: str, default: Any = "") -> Any:
    """First present, non-empty field of a dict-like or attribute object (SDK shapes vary)."""
    for n in names:
        v = obj.get(n) if isinstance(obj, dict) else getattr(obj, n, None)
        if v not in (None, ""):
            return v
    return default


def to_local(ms: int, tz: tzinfo | None) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz)


def fmt_time(ms: int, now: datetime, tz: tzinfo | None, clock: str = "%H:%M") -> str:
    """``HH:MM`` (``clock``) today, ``Yesterday``, ``Mon 12``-style within a year, else ``YYYY-MM-DD``."""
    if not ms:
        return ""
    t = to_local(ms, tz)
    if t.date() == now.date():
        return t.strftime(clock)
    if t.date() == (now - timedelta(days=1)).date():
        return "Yesterday"
    if t.year == now.year:
        return t.strftime("%b %d")
    return t.strftime("%Y-%m-%d")


def fmt_stamp(ms: int, now: datetime, tz: tzinfo | None, clock: str = "%H:%M") -> str:
    """Time of a message header: ``HH:MM`` (``clock``) today, otherwise the date and time."""
    if not ms:
        return ""
    t = to_local(ms, tz)
    if t.date() == now.date():
        return t.strftime(clock)
    if t.year == now.year:
        return t.strftime(f"%b %d {clock}")
    return t.strftime(f"%Y-%m-%d {clock}")


def fmt_size(n: Any) -> str:
    try:
        size = float(n)
    except (TypeError, ValueError):
        return ""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def starts_run(prev: Message | None, msg: Message) -> bool:
    """Whether ``msg`` opens a new run (shows sender and time) after ``prev``."""
    if prev is None or prev.is_notification or msg.is_notification:
        return True
    if prev.send_id != msg.send_id:
        return True
    return abs(msg.time - prev.time) > RUN_GAP_MS


def is_revoked(msg: Message) -> bool:
    return msg.content_type in REVOKED_TYPES


def is_attachment(msg: Message) -> bool:
    return msg.content_type in (ContentType.PICTURE, ContentType.FILE, ContentType.VIDEO, ContentType.VOICE)


def is_picture(msg: Message) -> bool:
    return msg.content_type == ContentType.PICTURE


def attachment_label(msg: Message) -> tuple[str, str, str]:
    """(kind, name, size) of a picture / file / video / voice message."""
    c = msg.content
    if msg.content_type == ContentType.PICTURE:
        src = c.get("sourcePicture") or {}
        name = c.get("sourcePath") or src.get("url") or src.get("uuid") or "image"
        return "picture", _basename(str(name)), fmt_size(src.get("size"))
    if msg.content_type == ContentType.FILE:
        return "file", str(c.get("fileName") or _basename(str(c.get("sourceUrl", ""))) or "file"), \
            fmt_size(c.get("fileSize"))
    if msg.content_type == ContentType.VIDEO:
        return "video", _basename(str(c.get("videoPath") or c.get("videoUrl") or "video")), \
            fmt_size(c.get("videoSize"))
    return "voice", f"{c.get('duration', '?')}s", fmt_size(c.get("dataSize"))


def _basename(s: str) -> str:
    s = s.split("?", 1)[0].rstrip("/")
    return s.rsplit("/", 1)[-1] or s


def quote_of(msg: Message) -> tuple[str, str] | None:
    """(sender, text) of the message quoted by a QUOTE message."""
    if msg.content_type != ContentType.QUOTE:
        return None
    q = msg.content.get("quoteMessage") or {}
    if not isinstance(q, dict):
        return None
    sender = str(q.get("senderNickname") or q.get("sendID") or "")
    text = q.get("textElem", {}).get("content") if isinstance(q.get("textElem"), dict) else None
    if text is None:
        inner = q.get("content")
        if isinstance(inner, str):
            text = inner
        elif isinstance(inner, dict):
            text = inner.get("content") or inner.get("text") or ""
    if not text:
        atel = q.get("atTextElem")
        text = atel.get("text", "") if isinstance(atel, dict) else ""
    return sender, str(text or "")


def body_text(msg: Message) -> str:
    if msg.content_type == ContentType.TEXT:
        return str(msg.content.get("content", ""))
    if msg.content_type == ContentType.AT_TEXT:
        return str(msg.content.get("text", ""))
    if msg.content_type == ContentType.QUOTE:
        return str(msg.content.get("text", ""))
    return msg.text


def notification_text(msg: Message) -> str:
    try:
        return ContentType(msg.content_type).name.replace("_", " ").lower()
    except ValueError:
        return msg.text or f"notification {msg.content_type}"


def mention_spans(text: str, self_names: Iterable[str]) -> list[tuple[int, int, bool]]:
    """(start, end, is_self) spans of ``@name`` mentions in ``text``."""
    me = {n.lower() for n in self_names if n}
    out = []
    for m in MENTION_RE.finditer(text):
        name = m.group(0)[1:].lower()
        out.append((m.start(), m.end(), name in me or name in ("all", "everyone", "atalltag")))
    return out


def mentions_me(msg: Message, user_id: str) -> bool:
    return user_id in msg.at_user_ids or "AtAllTag" in msg.at_user_ids


def sort_conversations(convs: Iterable[Conversation]) -> list[Conversation]:
    """Pinned first, then newest first (stable on ID for ties)."""
    return sorted(convs, key=lambda c: (not c.is_pinned, -int(c.activity_time or 0), c.conversation_id))


def is_group(conv: Conversation | None) -> bool:
    return conv is not None and conv.conversation_type in (SessionType.READ_GROUP_CHAT,
                                                           SessionType.WRITE_GROUP_CHAT)


def status_label(msg: Message, online: bool) -> str:
    if msg.status == MsgStatus.SENDING:
        return "sending" if online else "queued"
    if msg.status == MsgStatus.SEND_FAILED:
        return "failed"
    return "sent"


def fuzzy_match(query: str, candidate: str) -> bool:
    """Case-insensitive subsequence match (``qs`` matches ``quick switcher``)."""
    q = query.lower().replace(" ", "")
    it = iter(candidate.lower())
    return all(ch in it for ch in q)


def fold(lines: list[str], max_lines: int, max_chars: int) -> tuple[list[str], str]:
    """The head of a long text and what was left out ("" when nothing was): at most ``max_lines``
    lines and ``max_chars`` characters."""
    total_chars = sum(len(ln) for ln in lines)
    if len(lines) <= max_lines and total_chars <= max_chars:
        return lines, ""
    head: list[str] = []
    used = 0
    for ln in lines[:max_lines]:
        if used + len(ln) > max_chars:
            head.append(ln[: max(0, max_chars - used)])
            break
        head.append(ln)
        used += len(ln)
    hidden_lines = len(lines) - len(head)
    hidden_chars = total_chars - sum(len(ln) for ln in head)
    what = f"{hidden_lines} more line{'s' if hidden_lines != 1 else ''}" if hidden_lines else ""
    if not what or hidden_chars > max_chars:
        what = f"{hidden_chars:,} more characters" if not what else f"{what}, {hidden_chars:,} characters"
    return head, what


_MD_INLINE = re.compile(
    r"\*\*(?P<b>[^*\n]+)\*\*"
    r"|`(?P<c>[^`\n]+)`"
    r"|\[(?P<lt>[^\]\n]+)\]\((?P<lu>https?://[^)\s]+)\)"
    r"|(?<![\w*])\*(?P<i>[^*\n]+)\*(?![\w*])"
    r"|(?<![\w_])_(?P<i2>[^_\n]+)_(?![\w_])"
)
_URL = re.compile(r"https?://[^\s<>()\[\]]+[^\s<>()\[\].,;:!?'\"]")


def inline_markdown(line: str) -> tuple[str, list[tuple[int, int, str, str]]]:
    """The line without Markdown's inline markers, and what they marked: ``(start, end, kind, url)``
    with kind ``bold``, ``italic``, ``code`` or ``link`` (bare URLs are links too). Text without
    Markdown comes back unchanged."""
    out: list[str] = []
    spans: list[tuple[int, int, str, str]] = []
    pos = n = 0
    for m in _MD_INLINE.finditer(line):
        out.append(line[pos:m.start()])
        n += m.start() - pos
        kind, text, url = next((k, m.group(g), m.group("lu") or "") for g, k in
                               (("b", "bold"), ("c", "code"), ("lt", "link"), ("i", "italic"), ("i2", "italic"))
                               if m.group(g) is not None)
        out.append(text)
        spans.append((n, n + len(text), kind, url))
        n += len(text)
        pos = m.end()
    out.append(line[pos:])
    plain = "".join(out)
    taken = [(a, b) for a, b, _, _ in spans]
    for u in _URL.finditer(plain):
        if not any(a <= u.start() < b for a, b in taken):
            spans.append((u.start(), u.end(), "link", u.group()))
    return plain, spans


def is_fence(line: str) -> bool:
    return line.lstrip().startswith("```")
