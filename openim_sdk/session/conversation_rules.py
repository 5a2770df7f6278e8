"""What a message does to its conversation: one pure function, used by every path that stores a
message (live delivery, our own send, its numbered copy, a local insert). The cache persists the
result (``LocalStore.change_conversation``); the TUI and the CLI only render it.

The rules are the official core's (``conversation_msg.doMsgNew``, ``genConversationGroupAtType``):

* **latest message**: replaced by a message at least as recent (or by a new copy of the same
  message) whose options allow it: ``conversationUpdate``, and for our own messages also
  ``senderConversationUpdate``. Deleted messages never become the latest.
* **unread**: +1 for someone else's message that is new (seq above the conversation's max seq),
  counts (``unreadCount``) and is not in a notification conversation. Our own numbered message
  means we read up to it: has-read seq moves to it and unread goes to 0.
* **group @ type**: someone else's @-text in a group that mentions us and/or everyone raises it
  to @me (1), @all (2) or @all-and-@me (3); it is reset when the conversation is read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

from ..messages.struct import decode_content, msg_struct
from ..models import Conversation
from ..protocol.constants import MsgOption, MsgStatus, SessionType, option_is_set
from ..protocol.conversation_id import is_notification_conversation, session_type_of
from ..protocol.pb.sdkws import sdkws_pb2
from ..store.text import preview_text

AT_NORMAL, AT_ME, AT_ALL, AT_ALL_AT_ME, GROUP_NOTIFICATION = 0, 1, 2, 3, 4
AT_ALL_TAG = "AtAllTag"


def new_conversation(conversation_id: str, msg: sdkws_pb2.MsgData, me: str) -> Conversation:
    """The conversation a first message creates (type and peer from the message)."""
    ctype = msg.sessionType or session_type_of(conversation_id) or SessionType.SINGLE_CHAT
    own = msg.sendID == me
    peer = ""
    if ctype in (SessionType.SINGLE_CHAT, SessionType.NOTIFICATION_CHAT):
        peer = msg.recvID if own else msg.sendID
    name = msg.senderNickname if ctype == SessionType.SINGLE_CHAT and not own else ""
    face = msg.senderFaceURL if ctype == SessionType.SINGLE_CHAT and not own else ""
    return Conversation(conversation_id=conversation_id, conversation_type=int(ctype), user_id=peer,
                        group_id=msg.groupID, show_name=name, face_url=face)


def at_type_of(msg: sdkws_pb2.MsgData, me: str) -> int:
    """The @ type one message gives (0 when it mentions neither us nor everyone)."""
    at = list(msg.atUserIDList)
    if not at:
        raw = decode_content(msg.content).get("atUserList")
        at = [str(u) for u in raw] if isinstance(raw, list) else []
    tag_me, tag_all = me in at, AT_ALL_TAG in at
    if tag_all:
        return AT_ALL_AT_ME if tag_me else AT_ALL
    return AT_ME if tag_me else AT_NORMAL


def merge_at_type(current: int, incoming: int) -> int:
    """@me and @all together make @all-and-@me; a stronger mention is never lowered."""
    if incoming == AT_NORMAL:
        return current
    if {current, incoming} == {AT_ME, AT_ALL} or AT_ALL_AT_ME in (current, incoming):
        return AT_ALL_AT_ME
    if current in (AT_ME, AT_ALL) and incoming == current:
        return current
    return incoming if current in (AT_NORMAL, GROUP_NOTIFICATION) else current


def apply_message(conv: Conversation | None, msg: sdkws_pb2.MsgData, me: str, *,
                  conversation_id: str = "") -> Conversation:
    """``conv`` after ``msg`` (``None``: the conversation does not exist yet). Never mutates ``conv``."""
    nxt, latest = _apply(conv, msg, me, conversation_id)
    return _with_latest(nxt, msg, me) if latest else nxt


def apply_messages(conv: Conversation | None, msgs: Sequence[sdkws_pb2.MsgData], me: str, *,
                   conversation_id: str = "") -> Conversation:
    """``conv`` after ``msgs`` in order: the same as :func:`apply_message` one after the other
    (a pulled page), with the latest message rendered once. ``msgs`` must not be empty."""
    if not msgs:
        raise ValueError("apply_messages needs at least one message")
    latest: sdkws_pb2.MsgData | None = None
    for msg in msgs:
        conv, took = _apply(conv, msg, me, conversation_id)
        if took:
            latest = msg
    assert conv is not None
    return _with_latest(conv, latest, me) if latest is not None else conv


def _with_latest(conv: Conversation, msg: sdkws_pb2.MsgData, me: str) -> Conversation:
    """``conv`` showing ``msg`` as its latest message (preview text and the message's JSON)."""
    struct = msg_struct(msg)
    struct["isRead"] = bool(msg.isRead or msg.sendID == me)
    return dataclasses.replace(
        conv,
        latest_text=preview_text(msg.contentType, msg.content.decode("utf-8", errors="replace")),
        latest_msg=json.dumps(struct, ensure_ascii=False, separators=(",", ":")),
    )


def _apply(conv: Conversation | None, msg: sdkws_pb2.MsgData, me: str,
           conversation_id: str) -> tuple[Conversation, bool]:
    """The rules of one message, except rendering the latest message: the next state, and whether
    ``msg`` became the latest message (its text and JSON are then set by :func:`_with_latest`)."""
    if conv is None:
        conv = new_conversation(conversation_id, msg, me)
    own = msg.sendID == me
    changes: dict[str, object] = {}
    deleted = msg.status == MsgStatus.DELETED
    update = option_is_set(msg.options, MsgOption.CONVERSATION_UPDATE) and (
        not own or option_is_set(msg.options, MsgOption.SENDER_CONVERSATION_UPDATE))
    same = bool(conv.latest_client_msg_id) and conv.latest_client_msg_id == msg.clientMsgID
    latest = not deleted and update and (msg.sendTime >= conv.latest_time or same)
    if latest:
        changes.update(
            latest_client_msg_id=msg.clientMsgID,
            latest_time=max(msg.sendTime, conv.latest_time) if same else msg.sendTime,
        )
    counts = (not own and not deleted and option_is_set(msg.options, MsgOption.UNREAD_COUNT)
              and not is_notification_conversation(conv.conversation_id))
    if msg.seq > conv.max_seq:
        changes["max_seq"] = msg.seq
        if own:
            changes.update(has_read_seq=msg.seq, unread_count=0)
        elif counts:
            changes["unread_count"] = conv.unread_count + 1
    # The @ state follows every unread message, also one the server's read state (1006, applied
    # first) already counted in max seq: "newer than max seq" is about counting it, not about it.
    if counts and msg.seq > conv.has_read_seq and conv.conversation_type == SessionType.READ_GROUP_CHAT:
        at = merge_at_type(conv.group_at_type, at_type_of(msg, me))
        if at != conv.group_at_type:
            changes["group_at_type"] = at
    nxt = dataclasses.replace(conv, **changes) if changes else conv  # type: ignore[arg-type]
    return nxt, latest


def apply_read(conv: Conversation, has_read_seq: int | None = None) -> Conversation:
    """``conv`` after reading up to ``has_read_seq`` (default: everything). Read state only grows;
    unread is what lies between; the @ type is cleared once nothing is unread."""
    read = conv.max_seq if has_read_seq is None else has_read_seq
    read = max(read, conv.has_read_seq)
    max_seq = max(conv.max_seq, read)
    unread = min(conv.unread_count, max(0, max_seq - read)) if has_read_seq is not None else 0
    at = conv.group_at_type if unread else AT_NORMAL
    return dataclasses.replace(conv, has_read_seq=read, max_seq=max_seq, unread_count=unread, group_at_type=at)
