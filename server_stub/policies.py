"""The server's policies: send-path checks, group membership answers for the send and revoke
paths, and notification rules. One :class:`Policies` is built in ``ServerApp.start`` and reached
as ``core.policies`` (``ctx.core.policies`` in a service).

Settings are read from ``ServerConfig.extra`` on every call (tests and operators may change them
on a running server): ``friend_verify`` (1303 when not friends), ``notifications_stored``
(relation/group/conversation notifications get a seq).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from openim_sdk.protocol.constants import SessionType
from openim_sdk.protocol.conversation_id import conversation_id_for
from openim_sdk.protocol.errors import GroupNotFoundError, OpenIMError
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .config import ServerConfig
from .repos import relations as rs
from .storage import SqliteStorage, now_ms

#: The facts of a 1:1 send, one statement: the sender's appMangerLevel, whether the receiver
#: blacklisted the sender, whether the sender has the receiver as a friend, the receiver's global
#: receive option (NULL: no such user) and the receiver's record of the chat (NULL: none yet).
_FACTS_SQL = (
    "SELECT (SELECT app_manger_level FROM users WHERE user_id = :s), "
    "EXISTS (SELECT 1 FROM blacks WHERE owner_user_id = :r AND block_user_id = :s), "
    "EXISTS (SELECT 1 FROM friends WHERE owner_user_id = :s AND friend_user_id = :r), "
    "(SELECT global_recv_msg_opt FROM users WHERE user_id = :r), "
    "(SELECT data FROM conversations WHERE owner_user_id = :r AND conversation_id = :cid)")


@dataclass(frozen=True, slots=True)
class SingleChatFacts:
    """What a 1:1 (or notification-chat) send is checked against, read together
    (:meth:`Policies.single_chat_facts`) and decided on by pure code: :meth:`Policies.check_send`
    (1302/1303), ``services.msg`` (1004), ``msg_rules.apply_receive_options`` (1001, offlinePush)."""

    sender_level: int | None  # None: the sender is not a registered user
    blocked: bool  # the receiver blacklisted the sender
    friends: bool  # the sender has the receiver as a friend
    receiver_opt: int | None  # the receiver's globalRecvMsgOpt; None: no such user
    receiver_conversation: bytes | None  # the receiver's record of the 1:1 chat, serialized

    @property
    def receiver_exists(self) -> bool:
        return self.receiver_opt is not None


class Policies:
    def __init__(self, config: ServerConfig, storage: SqliteStorage) -> None:
        self.config = config
        self.storage = storage

    # ------------------------------------------------------------------ settings

    def option(self, name: str, default: Any) -> Any:
        """A part-2 setting from ``ServerConfig.extra`` (e.g. ``friend_verify``, ``min_part_size``)."""
        return self.config.extra.get(name, default)

    @property
    def friend_verify(self) -> bool:
        return bool(self.option("friend_verify", False))

    @property
    def notifications_stored(self) -> bool:
        """With OpenIM's default (reliabilityLevel 1) friend/group/conversation notifications are
        online-only; ``extra["notifications_stored"] = True`` stores them (seq > 0, pullable)."""
        return bool(self.option("notifications_stored", False))

    # ------------------------------------------------------------------ groups

    async def group_members(self, group_id: str) -> list[str] | None:
        """Member IDs of a live group; None if the group does not exist or is dismissed."""
        def op(conn: sqlite3.Connection) -> list[str] | None:
            g = rs.group_row(conn, group_id)
            if g is None or g.status == rs.STATUS_DISMISSED:
                return None
            return rs.member_ids(conn, group_id)

        return await self.storage.read(op)

    async def can_revoke_in_group(self, group_id: str, user_id: str, sender_id: str) -> bool:
        """Owner revokes anyone's message, an admin revokes ordinary members' (and ex-members') messages."""
        def op(conn: sqlite3.Connection) -> bool:
            roles = {r[1]: r[2] for r in rs.member_rows(conn, group_id, [user_id, sender_id])}
            mine = roles.get(user_id, 0)
            return mine == rs.ROLE_OWNER or (mine == rs.ROLE_ADMIN and roles.get(sender_id, 0) < rs.ROLE_ADMIN)

        return await self.storage.run(op)

    # ------------------------------------------------------------------ send checks

    async def single_chat_facts(self, msg: sdkws_pb2.MsgData) -> SingleChatFacts:
        """What the checks of a 1:1 or notification-chat send need, in one read (issue 16)."""
        cid = conversation_id_for(SessionType.SINGLE_CHAT, msg.sendID, msg.recvID, "")
        row = await self.storage.read(lambda c: c.execute(_FACTS_SQL, {
            "s": msg.sendID, "r": msg.recvID, "cid": cid}).fetchone(), snapshot=False)
        return SingleChatFacts(*row)

    async def check_send(self, msg: sdkws_pb2.MsgData, sender_is_admin: bool = False,
                         facts: SingleChatFacts | None = None) -> None:
        """Relation and group checks of the send path (ws-protocol §5.1 step 3).

        Single chat: 1302 when the receiver blacklisted the sender; 1303 when friend verification is
        on (``ServerConfig.extra["friend_verify"]``) and they are not friends (from ``facts``, read
        here when not given). Group: 1201 unknown, 1204 dismissed, 1203 not a member, 1402 muted
        member, 1403 muted group (owner/admins pass). Skipped for app admins and the server's own
        sends (``sender_is_admin``); an ordinary user's notification content types are refused
        before this (``services.msg.check_user_message``).
        """
        if sender_is_admin:
            return
        st = msg.sessionType
        if st == SessionType.SINGLE_CHAT:
            if not msg.recvID or msg.recvID == msg.sendID:
                return
            if facts is None:
                facts = await self.single_chat_facts(msg)
            if facts.sender_level is not None and facts.sender_level >= 2:
                return  # system / notification accounts skip relation checks
            if facts.blocked:
                raise OpenIMError(1302, detail=f"{msg.recvID} has blocked {msg.sendID}")
            if self.friend_verify and not facts.friends:
                raise OpenIMError(1303, detail=f"{msg.recvID} is not {msg.sendID}'s friend")
        elif st == SessionType.READ_GROUP_CHAT:
            def group(conn: sqlite3.Connection) -> tuple[sdkws_pb2.GroupInfo | None,
                                                         sdkws_pb2.GroupMemberFullInfo | None]:
                return rs.group_row(conn, msg.groupID), rs.member(conn, msg.groupID, msg.sendID)

            g, m = await self.storage.read(group)
            if g is None:
                raise GroupNotFoundError(detail=f"group {msg.groupID} not found")
            if g.status == rs.STATUS_DISMISSED:
                raise OpenIMError(1204, detail=f"group {msg.groupID} dismissed")
            if m is None:
                raise OpenIMError(1203, detail=f"{msg.sendID} not in group {msg.groupID}")
            if m.roleLevel == rs.ROLE_OWNER:
                return
            if m.muteEndTime >= now_ms():
                raise OpenIMError(1402, detail=f"{msg.sendID} muted until {m.muteEndTime}")
            if g.status == rs.STATUS_MUTED and m.roleLevel != rs.ROLE_ADMIN:
                raise OpenIMError(1403, detail=f"group {msg.groupID} is muted")
