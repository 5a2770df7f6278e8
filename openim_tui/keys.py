"""Alt+digit in terminals that send it as ESC followed by the digit (xterm, tmux, most on Linux).

Textual's key table maps ESC+1…ESC+9 to the characters macOS's Option layer types (¡ ™ £ ¢ ∞ § ¶
• ª: WezTerm on macOS sends those sequences for Option+digit). Everywhere else they are Alt+1…9,
and the chat got "¡" typed into the input box — saved as a draft — instead of jumping to a
conversation. :func:`use_alt_digits` remaps those nine sequences to ``alt+1`` … ``alt+9``; it is
called explicitly by the chat app at start-up and not on macOS, where the characters are text.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _KeyName:
    """What Textual's table expects for a key: an object whose ``value`` is the key's name."""

    value: str


def use_alt_digits(platform: str = sys.platform) -> bool:
    """Map ESC+1…9 to alt+1…9 (True), or leave Textual's table alone (macOS, or a Textual whose
    table moved: logged, and Alt+digit stays as Textual reads it)."""
    if platform == "darwin":
        return False
    try:
        from textual import _ansi_sequences

        table = _ansi_sequences.ANSI_SEQUENCES_KEYS
    except (ImportError, AttributeError):  # pragma: no cover - a Textual that reorganised its internals
        log.warning("cannot map ESC+digit to Alt+digit in this Textual version")
        return False
    for digit in "123456789":
        table[f"\x1b{digit}"] = (_KeyName(f"alt+{digit}"),)  # type: ignore[index]
    return True


def rebindable() -> dict[str, tuple[str, str]]:
    """Every chat action a user can rebind in the settings' ``[keys]``: id -> (default keys, what it does)."""
    from textual.binding import Binding

    from .app import ChatApp, ChatScreen
    from .widgets import Composer, ConversationList, MessageLog

    out: dict[str, tuple[str, str]] = {}
    for cls in (ChatApp, ChatScreen, Composer, MessageLog, ConversationList):
        for b in cls.BINDINGS:
            if isinstance(b, Binding) and b.id:
                out[b.id] = (b.key, b.description)
    return out


def split_keymap(user: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The user's ``[keys]`` as a Textual keymap, and the action names that do not exist."""
    known = rebindable()
    return {k: v for k, v in user.items() if k in known}, sorted(k for k in user if k not in known)
