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
    return apply_messages(conv, (msg,), me, conversation_id=conversation_id)


def apply_messages(conv: Conversation | None, msgs: Sequence[sdkws_pb2.MsgData], me: str, *,
                   conversation_id: str = "") -> Conversation:
    """``conv`` after ``msgs`` in order: the same as :func:`apply_message` one after the other
    (a pulled page), folded over the few fields a message changes and rendered once (one new
    ``Conversation``, not one per message). ``msgs`` must not be empty."""
    if not msgs:
        raise ValueError("apply_messages needs at least one message")
    if conv is None:
        conv = new_conversation(conversation_id, msgs[0], me)
    state = _Counters(conv)
    latest: sdkws_pb2.MsgData | None = None
    for msg in msgs:
        if _apply(state, msg, me):
            latest = msg
    nxt = state.applied_to(conv)
    return _with_latest(nxt, latest, me) if latest is not None else nxt


class _Counters:
    """The fields of a conversation that messages change, while a page is folded over them."""

    __slots__ = ("latest_client_msg_id", "latest_time", "max_seq", "has_read_seq", "unread_count",
                 "group_at_type", "notification", "read_group")

    def __init__(self, conv: Conversation) -> None:
        self.latest_client_msg_id = conv.latest_client_msg_id
        self.latest_time = conv.latest_time
        self.max_seq = conv.max_seq
        self.has_read_seq = conv.has_read_seq
        self.unread_count = conv.unread_count
        self.group_at_type = conv.group_at_type
        self.notification = is_notification_conversation(conv.conversation_id)
        self.read_group = conv.conversation_type == SessionType.READ_GROUP_CHAT

    def applied_to(self, conv: Conversation) -> Conversation:
        changes = {name: getattr(self, name) for name in _COUNTED if getattr(self, name) != getattr(conv, name)}
        return dataclasses.replace(conv, **changes) if changes else conv


_COUNTED = ("latest_client_msg_id", "latest_time", "max_seq", "has_read_seq", "unread_count", "group_at_type")


def _with_latest(conv: Conversation, msg: sdkws_pb2.MsgData, me: str) -> Conversation:
    """``conv`` showing ``msg`` as its latest message (preview text and the message's JSON)."""
    struct = msg_struct(msg)
    struct["isRead"] = bool(msg.isRead or msg.sendID == me)
    return dataclasses.replace(
        conv,
        latest_text=preview_text(msg.contentType, msg.content.decode("utf-8", errors="replace")),
        latest_msg=json.dumps(struct, ensure_ascii=False, separators=(",", ":")),
    )


def _apply(state: _Counters, msg: sdkws_pb2.MsgData, me: str) -> bool:
    """The rules of one message, except rendering the latest message: ``state`` moves on, and the
    answer says whether ``msg`` became the latest message (its text and JSON are then set by
    :func:`_with_latest`)."""
    own = msg.sendID == me
    deleted = msg.status == MsgStatus.DELETED
    update = option_is_set(msg.options, MsgOption.CONVERSATION_UPDATE) and (
        not own or option_is_set(msg.options, MsgOption.SENDER_CONVERSATION_UPDATE))
    same = bool(state.latest_client_msg_id) and state.latest_client_msg_id == msg.clientMsgID
    latest = not deleted and update and (msg.sendTime >= state.latest_time or same)
    if latest:
        state.latest_time = max(msg.sendTime, state.latest_time) if same else msg.sendTime
        state.latest_client_msg_id = msg.clientMsgID
    counts = (not own and not deleted and option_is_set(msg.options, MsgOption.UNREAD_COUNT)
              and not state.notification)
    if msg.seq > state.max_seq:
        state.max_seq = msg.seq
        if own:
            state.has_read_seq, state.unread_count = msg.seq, 0
        elif counts:
            state.unread_count += 1
    # The @ state follows every unread message, also one the server's read state (1006, applied
    # first) already counted in max seq: "newer than max seq" is about counting it, not about it.
    if counts and msg.seq > state.has_read_seq and state.read_group:
        state.group_at_type = merge_at_type(state.group_at_type, at_type_of(msg, me))
    return latest


def apply_read(conv: Conversation, has_read_seq: int | None = None) -> Conversation:
    """``conv`` after reading up to ``has_read_seq`` (default: everything). Read state only grows;
    unread is what lies between; the @ type is cleared once nothing is unread."""
    read = conv.max_seq if has_read_seq is None else has_read_seq
    read = max(read, conv.has_read_seq)
    max_seq = max(conv.max_seq, read)
    unread = min(conv.unread_count, max(0, max_seq - read)) if has_read_seq is not None else 0
    at = conv.group_at_type if unread else AT_NORMAL
    return dataclasses.replace(conv, has_read_seq=read, max_seq=max_seq, unread_count=unread, group_at_type=at)
