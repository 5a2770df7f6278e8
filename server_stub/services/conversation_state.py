"""Field changes on users' conversation records, and the 1300 ConversationChangeNotification
that goes to each user whose record really changed.

The one write path for the server's own conversation updates (@-mentions, private chat on both
sides, scheduled destruction) and for /conversation/set_conversations, so they all follow
upstream's rule: a user whose fields already had the requested values gets no write and no 1300
(internal/rpc/conversation/conversation.go SetConversations with db_map.go UserUpdateCheckMap).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import ContentType, SessionType
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from ..repos.conversations import conversation_data, insert_conversation, update_conversation_data
from ..storage import bump_version

if TYPE_CHECKING:
    from ..app import ServerCore

Template = Callable[[str], conversation_pb2.Conversation]


async def set_fields(core: ServerCore, cid: str, fields: dict[str, dict[str, Any]], template: Template,
                     create: bool = True) -> list[str]:
    """Apply ``fields[owner]`` (proto field name -> value) to each owner's record of ``cid``.

    A missing record is made from ``template(owner)`` (unless ``create`` is false); a record is
    written, and its owner's version log bumped, only if a value differs. Returns the owners whose
    record changed or was created, in ``fields`` order.
    """
    def op(conn: Any) -> list[str]:
        changed = []
        for owner, values in fields.items():
            row = conversation_data(conn, owner, cid)
            if row is None and not create:
                continue
            conv = template(owner) if row is None else conversation_pb2.Conversation.FromString(row)
            before = conv.SerializeToString(deterministic=True)
            for name, value in values.items():
                setattr(conv, name, value)
            if row is not None and conv.SerializeToString(deterministic=True) == before:
                continue
            if row is None:
                insert_conversation(conn, owner, cid, conv.SerializeToString())
                bump_version(conn, "conversation", owner, [cid], 1)
            else:
                update_conversation_data(conn, owner, cid, conv.SerializeToString())
                bump_version(conn, "conversation", owner, [cid], 3)
            changed.append(owner)
        return changed

    return await core.storage.run(op)


def template_for(cid: str, conversation_type: int, user_id_of: Callable[[str], str] | None = None,
                 group_id: str = "") -> Template:
    """A fresh record of ``cid`` for an owner (``user_id_of(owner)`` gives a single chat's peer)."""
    def make(owner: str) -> conversation_pb2.Conversation:
        return conversation_pb2.Conversation(
            ownerUserID=owner, conversationID=cid, conversationType=conversation_type,
            userID=user_id_of(owner) if user_id_of else "", groupID=group_id)

    return make


async def conversation_changed(core: ServerCore, user_id: str, cids: list[str], operation_id: str) -> None:
    """1300 to ``user_id`` (upstream notification/conversation.go ConversationChangeNotification)."""
    from ..notify import send_notification

    tips = sdkws_pb2.ConversationUpdateTips(userID=user_id, conversationIDList=cids)
    await send_notification(core, user_id, user_id, ContentType.CONVERSATION_CHANGE, tips, operation_id,
                            session_type=SessionType.SINGLE_CHAT)


async def set_and_notify(core: ServerCore, cid: str, fields: dict[str, dict[str, Any]], template: Template,
                         operation_id: str, create: bool = True) -> list[str]:
    changed = await set_fields(core, cid, fields, template, create)
    for uid in changed:
        await conversation_changed(core, uid, [cid], operation_id)
    return changed


def same_fields(owners: Iterable[str], values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {uid: dict(values) for uid in dict.fromkeys(owners)}
