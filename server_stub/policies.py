"""The server's policies: send-path checks, group membership answers for the send and revoke
paths, and notification rules. One :class:`Policies` is built in ``ServerApp.start`` and reached
as ``core.policies`` (``ctx.core.policies`` in a service).

Settings are read from ``ServerConfig.extra`` on every call (tests and operators may change them
on a running server): ``friend_verify`` (1303 when not friends), ``notifications_stored``
(relation/group/conversation notifications get a seq).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from openim_sdk.protocol.constants import SessionType
from openim_sdk.protocol.errors import GroupNotFoundError, OpenIMError
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .config import ServerConfig
from .repos import relations as rs
from .repos.users import app_manager_level
from .storage import SqliteStorage, now_ms


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

    async def check_send(self, msg: sdkws_pb2.MsgData, sender_is_admin: bool = False) -> None:
        """Relation and group checks of the send path (ws-protocol §5.1 step 3).

        Single chat: 1302 when the receiver blacklisted the sender; 1303 when friend verification is
        on (``ServerConfig.extra["friend_verify"]``) and they are not friends. Group: 1201 unknown,
        1204 dismissed, 1203 not a member, 1402 muted member, 1403 muted group (owner/admins pass).
        Skipped for app admins and the server's own sends (``sender_is_admin``); an ordinary user's
        notification content types are refused before this (``services.msg.check_user_message``).
        """
        if sender_is_admin:
            return
        st = msg.sessionType
        if st == SessionType.SINGLE_CHAT:
            if not msg.recvID or msg.recvID == msg.sendID:
                return
            verify = self.friend_verify

            def single(conn: sqlite3.Connection) -> int:
                level = app_manager_level(conn, msg.sendID)
                if level is not None and level >= 2:  # system / notification accounts skip relation checks
                    return 0
                if rs.is_black(conn, msg.recvID, msg.sendID):
                    return 1302
                if verify and not rs.is_friend(conn, msg.sendID, msg.recvID):
                    return 1303
                return 0

            code = await self.storage.read(single, snapshot=False)
            if code == 1302:
                raise OpenIMError(1302, detail=f"{msg.recvID} has blocked {msg.sendID}")
            if code == 1303:
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
