"""SQL and object rendering for friends, blacklists, groups and group requests (part 2).

Every function taking ``conn`` runs on the storage writer thread (``await storage.run(fn)``);
the tables are declared in :mod:`server_stub.storage`'s schema. The users' SQL is in
:mod:`server_stub.repos.users`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any, NamedTuple

from openim_sdk.protocol.constants import GroupRole, GroupStatus
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.relation import relation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .base import now_ms
from .conversations import conversation_data, insert_conversation, update_conversation_data
from .messages import max_seq
from .users import user_infos
from .versions import bump_version

ROLE_OWNER, ROLE_ADMIN, ROLE_MEMBER = int(GroupRole.OWNER), int(GroupRole.ADMIN), int(GroupRole.MEMBER)
STATUS_OK, STATUS_DISMISSED, STATUS_MUTED = int(GroupStatus.OK), int(GroupStatus.DISMISSED), int(GroupStatus.MUTED)
#: Element ID written to a group's member version log when the group itself changed.
GROUP_CHANGED = "#group"
#: Element ID written to a version log when the sort order changed (pinning).
SORT_CHANGED = "#sort"
MARKERS = (GROUP_CHANGED, SORT_CHANGED)


def _in(ids: list[Any]) -> str:
    return ",".join("?" * len(ids))


# --------------------------------------------------------------------------- users


#: The users' ``UserInfo`` by ID (moved to the users repository; the name stays for the callers here).
users = user_infos


def public(u: sdkws_pb2.UserInfo | None, uid: str = "") -> sdkws_pb2.PublicUserInfo:
    if u is None:
        return sdkws_pb2.PublicUserInfo(userID=uid)
    return sdkws_pb2.PublicUserInfo(userID=u.userID, nickname=u.nickname, faceURL=u.faceURL, ex=u.ex)


# --------------------------------------------------------------------------- friends

_FRIEND_COLS = "owner_user_id, friend_user_id, remark, create_time, add_source, operator_user_id, ex, is_pinned"
#: Friend columns a caller may change with :func:`update_friends`.
FRIEND_SETTABLE = ("remark", "ex", "is_pinned")


class FriendRow(NamedTuple):
    owner_user_id: str
    friend_user_id: str
    remark: str
    create_time: int
    add_source: int
    operator_user_id: str
    ex: str
    is_pinned: int


def friend_rows(conn: sqlite3.Connection, owner: str, ids: list[str] | None = None) -> list[FriendRow]:
    order = " ORDER BY create_time, friend_user_id"
    if ids is None:
        rows = conn.execute(f"SELECT {_FRIEND_COLS} FROM friends WHERE owner_user_id = ?{order}", (owner,)).fetchall()
    elif not ids:
        return []
    else:
        rows = conn.execute(f"SELECT {_FRIEND_COLS} FROM friends WHERE owner_user_id = ? AND friend_user_id IN "
                            f"({_in(ids)}){order}", (owner, *ids)).fetchall()
    return [FriendRow(*r) for r in rows]


def friend_owners_of(conn: sqlite3.Connection, uid: str) -> list[str]:
    """The users who have ``uid`` as a friend, by ID."""
    return [r[0] for r in conn.execute(
        "SELECT owner_user_id FROM friends WHERE friend_user_id = ? ORDER BY owner_user_id", (uid,))]


def update_friends(conn: sqlite3.Connection, owner: str, ids: list[str], changes: dict[str, Any]) -> None:
    """Set ``changes`` (columns of :data:`FRIEND_SETTABLE`) on ``owner``'s records of ``ids``; the
    caller records the change in the version log."""
    bad = set(changes) - set(FRIEND_SETTABLE)
    if bad:
        raise ValueError(f"not settable on a friend: {sorted(bad)}")
    if not changes:
        return
    sets = ", ".join(f"{k} = ?" for k in changes)
    conn.executemany(f"UPDATE friends SET {sets} WHERE owner_user_id = ? AND friend_user_id = ?",
                     [(*changes.values(), owner, f) for f in ids])


def friend_infos(conn: sqlite3.Connection, rows: list[FriendRow]) -> list[sdkws_pb2.FriendInfo]:
    us = users(conn, [r[1] for r in rows])
    out = []
    for r in rows:
        info = sdkws_pb2.FriendInfo(ownerUserID=r[0], remark=r[2], createTime=r[3], addSource=r[4],
                                    operatorUserID=r[5], ex=r[6], isPinned=bool(r[7]))
        info.friendUser.CopyFrom(us.get(r[1]) or sdkws_pb2.UserInfo(userID=r[1]))
        out.append(info)
    return out


def friend_only(r: FriendRow) -> relation_pb2.FriendInfoOnly:
    return relation_pb2.FriendInfoOnly(ownerUserID=r[0], friendUserID=r[1], remark=r[2], createTime=r[3],
                                       addSource=r[4], operatorUserID=r[5], ex=r[6], isPinned=bool(r[7]))


def friend_ids(conn: sqlite3.Connection, owner: str) -> list[str]:
    return [r[1] for r in friend_rows(conn, owner)]


def is_friend(conn: sqlite3.Connection, owner: str, friend: str) -> bool:
    return conn.execute("SELECT 1 FROM friends WHERE owner_user_id = ? AND friend_user_id = ?",
                        (owner, friend)).fetchone() is not None


def add_friend(conn: sqlite3.Connection, owner: str, friend: str, source: int, operator: str) -> bool:
    cur = conn.execute("INSERT OR IGNORE INTO friends (owner_user_id, friend_user_id, create_time, add_source, "
                       "operator_user_id) VALUES (?,?,?,?,?)", (owner, friend, now_ms(), source, operator))
    if cur.rowcount:
        bump_version(conn, "friend", owner, [friend], 1)
    return bool(cur.rowcount)


def delete_friend(conn: sqlite3.Connection, owner: str, friend: str) -> bool:
    cur = conn.execute("DELETE FROM friends WHERE owner_user_id = ? AND friend_user_id = ?", (owner, friend))
    if cur.rowcount:
        bump_version(conn, "friend", owner, [friend], 2)
    return bool(cur.rowcount)


_REQ_COLS = ("from_user_id, to_user_id, handle_result, req_msg, create_time, handler_user_id, handle_msg, "
             "handle_time, ex")


def put_friend_request(conn: sqlite3.Connection, from_uid: str, to_uid: str, req_msg: str, ex: str) -> None:
    """A new pending request from -> to (replacing an earlier one), created now."""
    conn.execute("INSERT OR REPLACE INTO friend_requests (from_user_id, to_user_id, handle_result, req_msg, "
                 "create_time, ex) VALUES (?,?,0,?,?,?)", (from_uid, to_uid, req_msg, now_ms(), ex))


def friend_request_result(conn: sqlite3.Connection, from_uid: str, to_uid: str) -> int | None:
    """The handle result of the request from -> to (0 pending), None when there is none."""
    r = conn.execute("SELECT handle_result FROM friend_requests WHERE from_user_id = ? AND to_user_id = ?",
                     (from_uid, to_uid)).fetchone()
    return r[0] if r is not None else None


def handle_friend_request(conn: sqlite3.Connection, from_uid: str, to_uid: str, result: int, handler: str,
                          handle_msg: str) -> None:
    conn.execute("UPDATE friend_requests SET handle_result = ?, handler_user_id = ?, handle_msg = ?, "
                 "handle_time = ? WHERE from_user_id = ? AND to_user_id = ?",
                 (result, handler, handle_msg, now_ms(), from_uid, to_uid))


def unhandled_friend_request_count(conn: sqlite3.Connection, to_uid: str, since: int) -> int:
    """Pending requests to ``to_uid`` created after ``since``."""
    return int(conn.execute("SELECT COUNT(*) FROM friend_requests WHERE to_user_id = ? AND handle_result = 0 AND "
                            "create_time > ?", (to_uid, since)).fetchone()[0])


def friend_request(conn: sqlite3.Connection, from_uid: str, to_uid: str) -> sdkws_pb2.FriendRequest | None:
    """The request from -> to."""
    _, reqs = _friend_requests(conn, "from_user_id = ? AND to_user_id = ?", (from_uid, to_uid))
    return reqs[0] if reqs else None


def friend_requests_between(conn: sqlite3.Connection, a: str, b: str) -> list[sdkws_pb2.FriendRequest]:
    """The requests a -> b and b -> a."""
    return _friend_requests(conn, "(from_user_id = ? AND to_user_id = ?) OR (from_user_id = ? AND to_user_id = ?)",
                            (a, b, b, a))[1]


def find_friend_requests(conn: sqlite3.Connection, *, from_uid: str = "", to_uid: str = "",
                         results: Iterable[int] = (), offset: int = 0,
                         limit: int = -1) -> tuple[int, list[sdkws_pb2.FriendRequest]]:
    """(how many match, the page newest first) of the requests sent by ``from_uid`` and/or to
    ``to_uid``, with a handle result among ``results`` (empty: any)."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    if from_uid:
        where.append("from_user_id = ?")
        params.append(from_uid)
    if to_uid:
        where.append("to_user_id = ?")
        params.append(to_uid)
    rs = list(results)
    if rs:
        where.append(f"handle_result IN ({_in(rs)})")
        params += rs
    return _friend_requests(conn, " AND ".join(where), tuple(params), offset, limit)


def _friend_requests(conn: sqlite3.Connection, where: str, params: tuple[Any, ...],
                     offset: int = 0, limit: int = -1) -> tuple[int, list[sdkws_pb2.FriendRequest]]:
    total = conn.execute(f"SELECT COUNT(*) FROM friend_requests WHERE {where}", params).fetchone()[0]
    rows = conn.execute(f"SELECT {_REQ_COLS} FROM friend_requests WHERE {where} ORDER BY create_time DESC, "
                        "from_user_id, to_user_id LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
    us = users(conn, [r[0] for r in rows] + [r[1] for r in rows])
    out = []
    for r in rows:
        f, t = us.get(r[0]), us.get(r[1])
        out.append(sdkws_pb2.FriendRequest(
            fromUserID=r[0], fromNickname=f.nickname if f else "", fromFaceURL=f.faceURL if f else "",
            toUserID=r[1], toNickname=t.nickname if t else "", toFaceURL=t.faceURL if t else "",
            handleResult=r[2], reqMsg=r[3], createTime=r[4], handlerUserID=r[5], handleMsg=r[6], handleTime=r[7],
            ex=r[8]))
    return total, out


def is_black(conn: sqlite3.Connection, owner: str, other: str) -> bool:
    return conn.execute("SELECT 1 FROM blacks WHERE owner_user_id = ? AND block_user_id = ?",
                        (owner, other)).fetchone() is not None


def add_black(conn: sqlite3.Connection, owner: str, black: str, operator: str, ex: str) -> None:
    """``owner`` blocks ``black`` (replacing an earlier record), now."""
    conn.execute("INSERT OR REPLACE INTO blacks VALUES (?,?,?,?,?,?)", (owner, black, now_ms(), 0, operator, ex))


def remove_black(conn: sqlite3.Connection, owner: str, black: str) -> bool:
    """Whether ``black`` was in ``owner``'s blacklist."""
    cur = conn.execute("DELETE FROM blacks WHERE owner_user_id = ? AND block_user_id = ?", (owner, black))
    return bool(cur.rowcount)


def black_infos(conn: sqlite3.Connection, owner: str, ids: list[str] | None = None,
                offset: int = 0, limit: int = -1) -> tuple[int, list[sdkws_pb2.BlackInfo]]:
    cols = "owner_user_id, block_user_id, create_time, add_source, operator_user_id, ex"
    if ids is None:
        total = conn.execute("SELECT COUNT(*) FROM blacks WHERE owner_user_id = ?", (owner,)).fetchone()[0]
        rows = conn.execute(f"SELECT {cols} FROM blacks WHERE owner_user_id = ? ORDER BY create_time, block_user_id "
                            "LIMIT ? OFFSET ?", (owner, limit, offset)).fetchall()
    else:
        rows = conn.execute(f"SELECT {cols} FROM blacks WHERE owner_user_id = ? AND block_user_id IN ({_in(ids)}) "
                            "ORDER BY create_time, block_user_id", (owner, *ids)).fetchall() if ids else []
        total = len(rows)
    us = users(conn, [r[1] for r in rows])
    return total, [sdkws_pb2.BlackInfo(ownerUserID=r[0], createTime=r[2], addSource=r[3], operatorUserID=r[4], ex=r[5],
                                       blackUserInfo=public(us.get(r[1]), r[1])) for r in rows]


# --------------------------------------------------------------------------- groups


def group_row(conn: sqlite3.Connection, gid: str) -> sdkws_pb2.GroupInfo | None:
    r = conn.execute("SELECT data, status FROM im_groups WHERE group_id = ?", (gid,)).fetchone()
    if r is None:
        return None
    g = sdkws_pb2.GroupInfo.FromString(r[0])
    g.status = r[1]
    g.memberCount = conn.execute("SELECT COUNT(*) FROM group_members WHERE group_id = ?", (gid,)).fetchone()[0]
    return g


def all_group_ids(conn: sqlite3.Connection) -> list[str]:
    """Every group, oldest first."""
    return [r[0] for r in conn.execute("SELECT group_id FROM im_groups ORDER BY create_time, group_id")]


def groups(conn: sqlite3.Connection, gids: Iterable[str]) -> dict[str, sdkws_pb2.GroupInfo]:
    out = {}
    for gid in dict.fromkeys(gids):
        g = group_row(conn, gid)
        if g is not None:
            out[gid] = g
    return out


def save_group(conn: sqlite3.Connection, g: sdkws_pb2.GroupInfo, insert: bool = False) -> None:
    data = sdkws_pb2.GroupInfo()
    data.CopyFrom(g)
    data.memberCount = 0
    if insert:
        conn.execute("INSERT INTO im_groups VALUES (?,?,?,?)", (g.groupID, g.createTime, g.status,
                                                                 data.SerializeToString()))
    else:
        conn.execute("UPDATE im_groups SET status = ?, data = ? WHERE group_id = ?",
                     (g.status, data.SerializeToString(), g.groupID))


_MEMBER_COLS = ("group_id, user_id, role_level, join_time, nickname, face_url, join_source, operator_user_id, ex, "
                "mute_end_time, inviter_user_id")


class MemberRow(NamedTuple):
    group_id: str
    user_id: str
    role_level: int
    join_time: int
    nickname: str
    face_url: str
    join_source: int
    operator_user_id: str
    ex: str
    mute_end_time: int
    inviter_user_id: str


class Membership(NamedTuple):
    """A group a user is in, with the group-specific nickname and face they set there."""

    group_id: str
    nickname: str
    face_url: str


def member_rows(conn: sqlite3.Connection, gid: str, ids: list[str] | None = None) -> list[MemberRow]:
    order = " ORDER BY role_level DESC, join_time, user_id"
    if ids is None:
        rows = conn.execute(f"SELECT {_MEMBER_COLS} FROM group_members WHERE group_id = ?{order}", (gid,)).fetchall()
    elif not ids:
        return []
    else:
        rows = conn.execute(f"SELECT {_MEMBER_COLS} FROM group_members WHERE group_id = ? AND user_id IN "
                            f"({_in(ids)}){order}", (gid, *ids)).fetchall()
    return [MemberRow(*r) for r in rows]


def role_of(conn: sqlite3.Connection, gid: str, uid: str) -> int:
    """``uid``'s role level in ``gid`` (0: not a member)."""
    r = conn.execute("SELECT role_level FROM group_members WHERE group_id = ? AND user_id = ?", (gid, uid)).fetchone()
    return int(r[0]) if r else 0


def memberships(conn: sqlite3.Connection, uid: str) -> list[Membership]:
    """Every group ``uid`` is in, by group ID."""
    return [Membership(*r) for r in conn.execute(
        "SELECT group_id, nickname, face_url FROM group_members WHERE user_id = ? ORDER BY group_id", (uid,)).fetchall()]


def member_infos(conn: sqlite3.Connection, rows: list[MemberRow]) -> list[sdkws_pb2.GroupMemberFullInfo]:
    us = users(conn, [r[1] for r in rows])
    out = []
    for r in rows:
        u = us.get(r[1])
        out.append(sdkws_pb2.GroupMemberFullInfo(
            groupID=r[0], userID=r[1], roleLevel=r[2], joinTime=r[3], nickname=r[4] or (u.nickname if u else ""),
            faceURL=r[5] or (u.faceURL if u else ""), appMangerLevel=u.appMangerLevel if u else 0, joinSource=r[6],
            operatorUserID=r[7], ex=r[8], muteEndTime=r[9], inviterUserID=r[10]))
    return out


def members(conn: sqlite3.Connection, gid: str, ids: list[str] | None = None) -> list[sdkws_pb2.GroupMemberFullInfo]:
    return member_infos(conn, member_rows(conn, gid, ids))


def member(conn: sqlite3.Connection, gid: str, uid: str) -> sdkws_pb2.GroupMemberFullInfo | None:
    ms = members(conn, gid, [uid])
    return ms[0] if ms else None


def member_ids(conn: sqlite3.Connection, gid: str) -> list[str]:
    return [r[1] for r in member_rows(conn, gid)]


def member_group_ids(conn: sqlite3.Connection, uid: str, gids: list[str]) -> set[str]:
    """The groups among ``gids`` that ``uid`` is a member of."""
    out: set[str] = set()
    for i in range(0, len(gids), 500):
        chunk = gids[i:i + 500]
        q = f"SELECT group_id FROM group_members WHERE user_id = ? AND group_id IN ({_in(chunk)})"
        out.update(r[0] for r in conn.execute(q, (uid, *chunk)))
    return out


def joined_group_ids(conn: sqlite3.Connection, uid: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT group_id FROM group_members WHERE user_id = ? ORDER BY join_time, "
                                       "group_id", (uid,))]


def add_member(conn: sqlite3.Connection, gid: str, uid: str, role: int, source: int, operator: str,
               inviter: str = "", record: dict[str, Any] | None = None) -> bool:
    """Add ``uid`` to ``gid`` and create their ``sg_`` record (with the ``Conversation`` fields of
    ``record`` set, when it is new); False when they were a member already."""
    cur = conn.execute("INSERT OR IGNORE INTO group_members (group_id, user_id, role_level, join_time, join_source, "
                       "operator_user_id, inviter_user_id) VALUES (?,?,?,?,?,?,?)",
                       (gid, uid, role, now_ms(), source, operator, inviter))
    if not cur.rowcount:
        return False
    bump_version(conn, "group_member", gid, [uid], 1)
    bump_version(conn, "join_group", uid, [gid], 1)
    _ensure_group_conversation(conn, gid, uid, record)
    return True


def remove_member(conn: sqlite3.Connection, gid: str, uid: str) -> bool:
    cur = conn.execute("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", (gid, uid))
    if not cur.rowcount:
        return False
    bump_version(conn, "group_member", gid, [uid], 2)
    bump_version(conn, "join_group", uid, [gid], 2)
    _cap_group_conversation(conn, gid, uid)
    return True


def update_member(conn: sqlite3.Connection, gid: str, uid: str, **cols: Any) -> None:
    sets = ", ".join(f"{k} = ?" for k in cols)
    conn.execute(f"UPDATE group_members SET {sets} WHERE group_id = ? AND user_id = ?", (*cols.values(), gid, uid))
    bump_version(conn, "group_member", gid, [uid], 3)


def group_changed(conn: sqlite3.Connection, gid: str) -> None:
    """Record a change of the group itself: every member's joined-group log and the member log marker."""
    bump_version(conn, "group_member", gid, [GROUP_CHANGED], 3)
    for uid in member_ids(conn, gid):
        bump_version(conn, "join_group", uid, [gid], 3)


def _ensure_group_conversation(conn: sqlite3.Connection, gid: str, uid: str,
                               record: dict[str, Any] | None = None) -> None:
    cid = f"sg_{gid}"
    data = conversation_data(conn, uid, cid)
    if data is None:
        conv = conversation_pb2.Conversation(ownerUserID=uid, conversationID=cid, conversationType=3, groupID=gid,
                                             **(record or {}))
        insert_conversation(conn, uid, cid, conv.SerializeToString())
        bump_version(conn, "conversation", uid, [cid], 1)
        return
    conv = conversation_pb2.Conversation.FromString(data)
    if conv.maxSeq:  # re-joined: lift the cap set when leaving
        conv.maxSeq = 0
        update_conversation_data(conn, uid, cid, conv.SerializeToString())
        bump_version(conn, "conversation", uid, [cid], 3)


def _cap_group_conversation(conn: sqlite3.Connection, gid: str, uid: str) -> None:
    """A member who left may pull up to the current seq only (per-user maxSeq, ws-protocol §6.3)."""
    cid = f"sg_{gid}"
    data = conversation_data(conn, uid, cid)
    if data is None:
        return
    conv = conversation_pb2.Conversation.FromString(data)
    conv.maxSeq = max(max_seq(conn, cid), 1)
    update_conversation_data(conn, uid, cid, conv.SerializeToString())
    bump_version(conn, "conversation", uid, [cid], 3)


_GREQ_COLS = ("group_id, user_id, handle_result, req_msg, handle_msg, req_time, handle_user_id, handle_time, ex, "
              "join_source, inviter_user_id")


class GroupRequestState(NamedTuple):
    handle_result: int  # 0 pending
    join_source: int
    inviter_user_id: str  # the user themselves for a join request


def put_group_request(conn: sqlite3.Connection, gid: str, uid: str, req_msg: str, join_source: int,
                      inviter: str, ex: str = "") -> None:
    """A new pending request of ``uid`` to join ``gid`` (replacing an earlier one), now."""
    conn.execute("INSERT OR REPLACE INTO group_requests (group_id, user_id, handle_result, req_msg, req_time, ex, "
                 "join_source, inviter_user_id) VALUES (?,?,0,?,?,?,?,?)",
                 (gid, uid, req_msg, now_ms(), ex, join_source, inviter))


def group_request_state(conn: sqlite3.Connection, gid: str, uid: str) -> GroupRequestState | None:
    r = conn.execute("SELECT handle_result, join_source, inviter_user_id FROM group_requests WHERE group_id = ? "
                     "AND user_id = ?", (gid, uid)).fetchone()
    return GroupRequestState(*r) if r is not None else None


def handle_group_request(conn: sqlite3.Connection, gid: str, uid: str, result: int, handle_msg: str,
                         handler: str) -> None:
    conn.execute("UPDATE group_requests SET handle_result = ?, handle_msg = ?, handle_user_id = ?, handle_time = ? "
                 "WHERE group_id = ? AND user_id = ?", (result, handle_msg, handler, now_ms(), gid, uid))


def unhandled_group_request_count(conn: sqlite3.Connection, gids: list[str], since: int) -> int:
    """Pending requests to any of ``gids`` made after ``since``."""
    if not gids:
        return 0
    return int(conn.execute(f"SELECT COUNT(*) FROM group_requests WHERE group_id IN ({_in(gids)}) AND "
                            "handle_result = 0 AND req_time > ?", (*gids, since)).fetchone()[0])


def group_request(conn: sqlite3.Connection, gid: str, uid: str) -> sdkws_pb2.GroupRequest | None:
    """``uid``'s request to join ``gid``."""
    _, reqs = find_group_requests(conn, group_ids=[gid], user_ids=[uid])
    return reqs[0] if reqs else None


def find_group_requests(conn: sqlite3.Connection, *, group_ids: list[str] | None = None,
                        user_ids: list[str] | None = None, results: Iterable[int] = (), offset: int = 0,
                        limit: int = -1) -> tuple[int, list[sdkws_pb2.GroupRequest]]:
    """(how many match, the page newest first) of the requests to ``group_ids`` by ``user_ids``
    (None: any) with a handle result among ``results`` (empty: any)."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    for col, ids in (("group_id", group_ids), ("user_id", user_ids)):
        if ids is None:
            continue
        if not ids:
            where.append("0")
        elif len(ids) == 1:
            where.append(f"{col} = ?")
        else:
            where.append(f"{col} IN ({_in(ids)})")
        params += ids
    rs = list(results)
    if rs:
        where.append(f"handle_result IN ({_in(rs)})")
        params += rs
    return _group_requests(conn, " AND ".join(where), tuple(params), offset, limit)


def _group_requests(conn: sqlite3.Connection, where: str, params: tuple[Any, ...], offset: int = 0,
                    limit: int = -1) -> tuple[int, list[sdkws_pb2.GroupRequest]]:
    total = conn.execute(f"SELECT COUNT(*) FROM group_requests WHERE {where}", params).fetchone()[0]
    rows = conn.execute(f"SELECT {_GREQ_COLS} FROM group_requests WHERE {where} ORDER BY req_time DESC, group_id, "
                        "user_id LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
    us = users(conn, [r[1] for r in rows])
    gs = groups(conn, [r[0] for r in rows])
    out = []
    for r in rows:
        req = sdkws_pb2.GroupRequest(
            userInfo=public(us.get(r[1]), r[1]), handleResult=r[2], reqMsg=r[3], handleMsg=r[4], reqTime=r[5],
            handleUserID=r[6], handleTime=r[7], ex=r[8], joinSource=r[9], inviterUserID=r[10])
        req.groupInfo.CopyFrom(gs.get(r[0]) or sdkws_pb2.GroupInfo(groupID=r[0]))
        out.append(req)
    return total, out


def managed_group_ids(conn: sqlite3.Connection, uid: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT group_id FROM group_members WHERE user_id = ? AND role_level >= ?",
                                       (uid, ROLE_ADMIN))]

