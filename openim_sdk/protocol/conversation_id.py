"""Conversation-ID rules (spec ws-protocol §6.1, rest-api §8).

Single-chat style IDs join the two user IDs sorted byte-wise ascending with ``_``.
"""

from __future__ import annotations

from .constants import SessionType


def _sorted_pair(a: str, b: str) -> tuple[str, str]:
    # Go compares strings byte-wise: compare the UTF-8 encodings, not code points.
    return (a, b) if a.encode() <= b.encode() else (b, a)


def single_conversation_id(user_a: str, user_b: str) -> str:
    lo, hi = _sorted_pair(user_a, user_b)
    return f"si_{lo}_{hi}"


def group_conversation_id(group_id: str) -> str:
    return f"sg_{group_id}"


def notification_chat_conversation_id(user_a: str, user_b: str) -> str:
    lo, hi = _sorted_pair(user_a, user_b)
    return f"sn_{lo}_{hi}"


def user_notification_conversation_id(user_id: str) -> str:
    """A user's own notification channel, ``n_<u>_<u>``."""
    return f"n_{user_id}_{user_id}"


def notification_conversation_id(conversation_id: str) -> str:
    """The ``n_`` counterpart: replace the text before the first ``_`` with ``n``."""
    _, sep, rest = conversation_id.partition("_")
    if not sep:
        return conversation_id
    return f"n_{rest}"


def conversation_id_for(
    session_type: int, send_id: str, recv_id: str = "", group_id: str = "", *, notification: bool = False
) -> str:
    """The conversation a message belongs to, from its session type and parties."""
    if session_type == SessionType.SINGLE_CHAT:
        cid = single_conversation_id(send_id, recv_id)
    elif session_type == SessionType.READ_GROUP_CHAT:
        cid = group_conversation_id(group_id)
    elif session_type == SessionType.WRITE_GROUP_CHAT:
        cid = f"g_{group_id}"
    elif session_type == SessionType.NOTIFICATION_CHAT:
        cid = notification_chat_conversation_id(send_id, recv_id)
    else:
        raise ValueError(f"unknown sessionType {session_type}")
    return notification_conversation_id(cid) if notification else cid


def is_notification_conversation(conversation_id: str) -> bool:
    return conversation_id.startswith("n_")


def session_type_of(conversation_id: str) -> int | None:
    """The session type a conversation ID stands for (None for ``n_`` and unknown prefixes)."""
    prefix = conversation_id.partition("_")[0]
    return {
        "si": SessionType.SINGLE_CHAT,
        "g": SessionType.WRITE_GROUP_CHAT,
        "sg": SessionType.READ_GROUP_CHAT,
        "sn": SessionType.NOTIFICATION_CHAT,
    }.get(prefix)
