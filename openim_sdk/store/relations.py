"""The relation cache: users, friends, blacklist, friend and group applications, groups, group
members and my user commands (protobuf rows, stored raw; ``openim_sdk.social`` converts them to public models).

A mixin of :class:`~openim_sdk.store.local.LocalStore`; it only uses the store's ``_write`` and
``_query`` plumbing, so relation code lives apart from the message and conversation tables.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from google.protobuf.message import Message

from ..protocol.pb.sdkws import sdkws_pb2

_M = TypeVar("_M", bound=Message)

#: Schema v3: the relation tables the official core keeps besides friends and groups.
V3_RELATIONS = """
CREATE TABLE IF NOT EXISTS blacks (
    owner_user_id TEXT NOT NULL,
    block_user_id TEXT NOT NULL,
    create_time   INTEGER NOT NULL DEFAULT 0,
    raw           BLOB NOT NULL,
    PRIMARY KEY (owner_user_id, block_user_id)
);
CREATE TABLE IF NOT EXISTS friend_requests (
    from_user_id  TEXT NOT NULL,
    to_user_id    TEXT NOT NULL,
    handle_result INTEGER NOT NULL DEFAULT 0,
    create_time   INTEGER NOT NULL DEFAULT 0,
    raw           BLOB NOT NULL,
    PRIMARY KEY (from_user_id, to_user_id)
);
CREATE TABLE IF NOT EXISTS group_requests (
    group_id      TEXT NOT NULL,
    user_id       TEXT NOT NULL,
    handle_result INTEGER NOT NULL DEFAULT 0,
    req_time      INTEGER NOT NULL DEFAULT 0,
    raw           BLOB NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE TABLE IF NOT EXISTS user_commands (
    type        INTEGER NOT NULL,
    uuid        TEXT NOT NULL,
    value       TEXT NOT NULL DEFAULT '',
    ex          TEXT NOT NULL DEFAULT '',
    create_time INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (type, uuid)
)
"""


def migrate_v3(conn: sqlite3.Connection) -> None:
    for stmt in V3_RELATIONS.split(";"):
        if stmt.strip():
            conn.execute(stmt)


class RelationStore:
    """Users, friends, groups, group members. Needs ``_write()`` and ``_query()`` from the store."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    @staticmethod
    def _parse(cls: type[_M], raw: bytes) -> _M:
        obj = cls()
        obj.ParseFromString(raw)
        return obj

    def upsert_users(self, users: Iterable[sdkws_pb2.UserInfo]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO users(user_id, nickname, face_url, raw) VALUES (?, ?, ?, ?)",
                [(u.userID, u.nickname, u.faceURL, u.SerializeToString(deterministic=True)) for u in users],
            )

    def users(self, user_ids: Iterable[str] | None = None) -> list[sdkws_pb2.UserInfo]:
        if user_ids is None:
            rows = self._query("SELECT raw FROM users ORDER BY user_id")
        else:
            ids = list(user_ids)
            marks = ", ".join("?" for _ in ids)
            rows = self._query(f"SELECT raw FROM users WHERE user_id IN ({marks}) ORDER BY user_id", ids)
        return [self._parse(sdkws_pb2.UserInfo, r["raw"]) for r in rows]

    def user(self, user_id: str) -> sdkws_pb2.UserInfo | None:
        found = self.users([user_id])
        return found[0] if found else None

    def upsert_friends(self, friends: Iterable[sdkws_pb2.FriendInfo]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO friends(owner_user_id, friend_user_id, remark, nickname, is_pinned, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        f.ownerUserID,
                        f.friendUser.userID,
                        f.remark,
                        f.friendUser.nickname,
                        int(f.isPinned),
                        f.SerializeToString(deterministic=True),
                    )
                    for f in friends
                ],
            )

    def friends(self, owner_user_id: str | None = None) -> list[sdkws_pb2.FriendInfo]:
        if owner_user_id is None:
            rows = self._query("SELECT raw FROM friends ORDER BY is_pinned DESC, friend_user_id")
        else:
            rows = self._query(
                "SELECT raw FROM friends WHERE owner_user_id = ? ORDER BY is_pinned DESC, friend_user_id",
                (owner_user_id,),
            )
        return [self._parse(sdkws_pb2.FriendInfo, r["raw"]) for r in rows]

    def delete_friends(self, friend_user_ids: Iterable[str], owner_user_id: str | None = None) -> None:
        with self._write() as conn:
            for fid in friend_user_ids:
                if owner_user_id is None:
                    conn.execute("DELETE FROM friends WHERE friend_user_id = ?", (fid,))
                else:
                    conn.execute(
                        "DELETE FROM friends WHERE owner_user_id = ? AND friend_user_id = ?",
                        (owner_user_id, fid),
                    )

    def upsert_groups(self, groups: Iterable[sdkws_pb2.GroupInfo]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO groups(group_id, group_name, owner_user_id, status, raw) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (g.groupID, g.groupName, g.ownerUserID, g.status, g.SerializeToString(deterministic=True))
                    for g in groups
                ],
            )

    def groups(self) -> list[sdkws_pb2.GroupInfo]:
        rows = self._query("SELECT raw FROM groups ORDER BY group_id")
        return [self._parse(sdkws_pb2.GroupInfo, r["raw"]) for r in rows]

    def group(self, group_id: str) -> sdkws_pb2.GroupInfo | None:
        rows = self._query("SELECT raw FROM groups WHERE group_id = ?", (group_id,))
        return self._parse(sdkws_pb2.GroupInfo, rows[0]["raw"]) if rows else None

    def delete_groups(self, group_ids: Iterable[str]) -> None:
        with self._write() as conn:
            for gid in group_ids:
                conn.execute("DELETE FROM groups WHERE group_id = ?", (gid,))
                conn.execute("DELETE FROM group_members WHERE group_id = ?", (gid,))

    def upsert_group_members(self, members: Iterable[sdkws_pb2.GroupMemberFullInfo]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO group_members(group_id, user_id, nickname, role_level, join_time, raw) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        m.groupID,
                        m.userID,
                        m.nickname,
                        m.roleLevel,
                        m.joinTime,
                        m.SerializeToString(deterministic=True),
                    )
                    for m in members
                ],
            )

    def group_members(self, group_id: str) -> list[sdkws_pb2.GroupMemberFullInfo]:
        """Members of a group: owner, admins, then members; each by join time."""
        rows = self._query(
            "SELECT raw FROM group_members WHERE group_id = ? ORDER BY role_level DESC, join_time, user_id",
            (group_id,),
        )
        return [self._parse(sdkws_pb2.GroupMemberFullInfo, r["raw"]) for r in rows]

    def delete_group_members(self, group_id: str, user_ids: Iterable[str] | None = None) -> None:
        with self._write() as conn:
            if user_ids is None:
                conn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
            else:
                conn.executemany(
                    "DELETE FROM group_members WHERE group_id = ? AND user_id = ?",
                    [(group_id, u) for u in user_ids],
                )

    def group_member(self, group_id: str, user_id: str) -> sdkws_pb2.GroupMemberFullInfo | None:
        rows = self._query("SELECT raw FROM group_members WHERE group_id = ? AND user_id = ?", (group_id, user_id))
        return self._parse(sdkws_pb2.GroupMemberFullInfo, rows[0]["raw"]) if rows else None

    def member_group_ids(self, user_id: str) -> list[str]:
        """Cached groups where ``user_id`` is a cached member."""
        return [r["group_id"] for r in self._query(
            "SELECT group_id FROM group_members WHERE user_id = ? ORDER BY group_id", (user_id,))]

    # -- blacklist ---------------------------------------------------------------------------

    def upsert_blacks(self, blacks: Iterable[sdkws_pb2.BlackInfo]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO blacks(owner_user_id, block_user_id, create_time, raw) VALUES (?, ?, ?, ?)",
                [(b.ownerUserID, b.blackUserInfo.userID, b.createTime, b.SerializeToString(deterministic=True))
                 for b in blacks],
            )

    def blacks(self, owner_user_id: str) -> list[sdkws_pb2.BlackInfo]:
        rows = self._query("SELECT raw FROM blacks WHERE owner_user_id = ? ORDER BY create_time, block_user_id",
                           (owner_user_id,))
        return [self._parse(sdkws_pb2.BlackInfo, r["raw"]) for r in rows]

    def delete_blacks(self, owner_user_id: str, user_ids: Iterable[str]) -> None:
        with self._write() as conn:
            conn.executemany("DELETE FROM blacks WHERE owner_user_id = ? AND block_user_id = ?",
                             [(owner_user_id, u) for u in user_ids])

    # -- friend applications ------------------------------------------------------------------

    def upsert_friend_requests(self, requests: Iterable[sdkws_pb2.FriendRequest]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO friend_requests(from_user_id, to_user_id, handle_result, create_time, raw) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.fromUserID, r.toUserID, r.handleResult, r.createTime, r.SerializeToString(deterministic=True))
                 for r in requests],
            )

    def friend_requests(self, *, to_user_id: str | None = None,
                        from_user_id: str | None = None) -> list[sdkws_pb2.FriendRequest]:
        """Applications to ``to_user_id`` or from ``from_user_id``, newest first."""
        col, value = ("to_user_id", to_user_id) if to_user_id is not None else ("from_user_id", from_user_id)
        rows = self._query(f"SELECT raw FROM friend_requests WHERE {col} = ? ORDER BY create_time DESC", (value,))
        return [self._parse(sdkws_pb2.FriendRequest, r["raw"]) for r in rows]

    def delete_friend_requests(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._write() as conn:
            conn.executemany("DELETE FROM friend_requests WHERE from_user_id = ? AND to_user_id = ?", list(keys))

    # -- group applications -------------------------------------------------------------------

    def upsert_group_requests(self, requests: Iterable[sdkws_pb2.GroupRequest]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO group_requests(group_id, user_id, handle_result, req_time, raw) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.groupInfo.groupID, r.userInfo.userID, r.handleResult, r.reqTime,
                  r.SerializeToString(deterministic=True)) for r in requests],
            )

    def group_requests(self, *, user_id: str | None = None,
                       exclude_user_id: str | None = None) -> list[sdkws_pb2.GroupRequest]:
        """Applications by ``user_id`` (mine), or by anyone but ``exclude_user_id`` (to groups I
        manage), newest first."""
        if user_id is not None:
            rows = self._query("SELECT raw FROM group_requests WHERE user_id = ? ORDER BY req_time DESC", (user_id,))
        else:
            rows = self._query("SELECT raw FROM group_requests WHERE user_id != ? ORDER BY req_time DESC",
                               (exclude_user_id or "",))
        return [self._parse(sdkws_pb2.GroupRequest, r["raw"]) for r in rows]

    def delete_group_requests(self, keys: Iterable[tuple[str, str]]) -> None:
        with self._write() as conn:
            conn.executemany("DELETE FROM group_requests WHERE group_id = ? AND user_id = ?", list(keys))

    # -- user commands (my own: favourites, pins... of /user/process_user_command_*) ------------

    def user_commands(self) -> list[tuple[int, str, str, str, int]]:
        """``(type, uuid, value, ex, create_time)`` rows, oldest first."""
        rows = self._query("SELECT type, uuid, value, ex, create_time FROM user_commands ORDER BY create_time, uuid")
        return [(int(r["type"]), r["uuid"], r["value"], r["ex"], int(r["create_time"])) for r in rows]

    def replace_user_commands(self, rows: Iterable[tuple[int, str, str, str, int]]) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM user_commands")
            conn.executemany("INSERT INTO user_commands(type, uuid, value, ex, create_time) VALUES (?, ?, ?, ?, ?)",
                             list(rows))
