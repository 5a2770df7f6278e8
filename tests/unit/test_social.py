"""The pure rules of the relation caches, the models' converters, and the group notifications
applied from their tips onto a real cache (no server: the REST client is never reached)."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from typing import Any

import pytest

from openim_sdk.events import Event
from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.constants import ContentType, GroupRole, GroupStatus
from openim_sdk.protocol.pb.relation import relation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session.context import NotificationRouter, SessionContext
from openim_sdk.social import Friend, FriendApplication, Group, GroupApplication, GroupMember, User
from openim_sdk.social import events as sev
from openim_sdk.social.diff import application_outcome, delta_diff, diff, filter_members, version_diff
from openim_sdk.social.friends import Friends
from openim_sdk.social.groups import Groups
from openim_sdk.store import LocalStore

# ------------------------------------------------------------------ diff


def test_diff_reports_inserted_updated_deleted_by_key():
    old = [("a", 1), ("b", 2), ("c", 3)]
    new = [("a", 1), ("b", 20), ("d", 4)]
    d = diff(old, new, key=lambda x: x[0])
    assert d.inserted == [("d", 4)] and d.updated == [(("b", 2), ("b", 20))] and d.deleted == [("c", 3)]
    assert d


def test_diff_of_a_delta_deletes_nothing_and_equal_lists_are_empty():
    old = [("a", 1), ("b", 2)]
    assert diff(old, [("b", 3)], key=lambda x: x[0], complete=False).deleted == []
    assert not diff(old, list(old), key=lambda x: x[0])


def _friend(uid: str, remark: str = "") -> sdkws_pb2.FriendInfo:
    return sdkws_pb2.FriendInfo(ownerUserID="me", remark=remark, friendUser=sdkws_pb2.UserInfo(userID=uid))


def test_delta_diff_of_an_incremental_answer():
    cached = [Friend.from_pb(_friend("a")), Friend.from_pb(_friend("b")), Friend.from_pb(_friend("c"))]
    resp = relation_pb2.getIncrementalFriendsResp(insert=[_friend("d")], update=[_friend("b", "bee")],
                                                  delete=["c", "zz"])
    rows, d = delta_diff(cached, resp, Friend.from_pb, lambda f: f.user_id)
    assert [r.friendUser.userID for r in rows] == ["d", "b"]  # what to write: inserts, then updates
    assert [f.user_id for f in d.inserted] == ["d"]
    assert [(o.remark, n.remark) for o, n in d.updated] == [("", "bee")]
    assert [f.user_id for f in d.deleted] == ["c"]  # a deleted key never cached is no news
    # an update equal to the cached row is no change (but is still written)
    rows, d = delta_diff(cached, relation_pb2.getIncrementalFriendsResp(update=[_friend("a")]), Friend.from_pb,
                         lambda f: f.user_id)
    assert len(rows) == 1 and not d


async def test_version_diff_reads_everything_only_when_the_server_says_full():
    cached = [Friend.from_pb(_friend("a")), Friend.from_pb(_friend("b"))]
    reads = []

    async def read_all() -> list[sdkws_pb2.FriendInfo]:
        reads.append(1)
        return [_friend("b", "bee"), _friend("e")]

    full = relation_pb2.getIncrementalFriendsResp(full=True, insert=[_friend("x")], delete=["b"])
    rows, d = await version_diff(cached, full, Friend.from_pb, lambda f: f.user_id, read_all)
    assert reads == [1] and [r.friendUser.userID for r in rows] == ["b", "e"]  # the delta's lists are ignored
    assert [f.user_id for f in d.inserted] == ["e"] and [f.user_id for f in d.deleted] == ["a"]
    assert [n.remark for _, n in d.updated] == ["bee"]
    rows, d = await version_diff(cached, relation_pb2.getIncrementalFriendsResp(delete=["a"]), Friend.from_pb,
                                 lambda f: f.user_id, read_all)
    assert reads == [1] and rows == [] and [f.user_id for f in d.deleted] == ["a"]


@pytest.mark.parametrize(("old", "new", "outcome"), [
    (None, 0, "added"), (None, 1, "added"), (None, -1, "added"),  # first sight: added, whatever its state
    (0, 1, "accepted"), (0, -1, "rejected"), (0, 0, "added"),  # (0, 0): asked again with a new message
    (-1, 0, "added"),  # asked again after a refusal
])
def test_application_outcome(old, new, outcome):
    assert application_outcome(old, new) == outcome


# ------------------------------------------------------------------ member queries

MEMBERS = [
    GroupMember("g", "own", GroupRole.OWNER, join_time=10),
    GroupMember("g", "adm", GroupRole.ADMIN, join_time=30, nickname="Boss"),
    GroupMember("g", "m1", GroupRole.MEMBER, join_time=20, nickname="Ann"),
    GroupMember("g", "m2", GroupRole.MEMBER, join_time=40, nickname="Ben"),
]


@pytest.mark.parametrize(("role_filter", "expected"), [
    (0, ["own", "adm", "m1", "m2"]), (1, ["own"]), (2, ["adm"]), (3, ["m1", "m2"]),
    (4, ["adm", "m1", "m2"]), (5, ["own", "adm"]),
])
def test_member_role_filters_keep_the_official_order(role_filter, expected):
    assert [m.user_id for m in filter_members(reversed(MEMBERS), role_filter=role_filter)] == expected


def test_member_paging_join_time_exclusion_and_keyword():
    assert [m.user_id for m in filter_members(MEMBERS, offset=1, count=2)] == ["adm", "m1"]
    assert filter_members(MEMBERS, offset=4, count=2) == []
    assert [m.user_id for m in filter_members(MEMBERS, join_time_begin=20, join_time_end=30)] == ["adm", "m1"]
    assert [m.user_id for m in filter_members(MEMBERS, exclude_user_ids=["own", "m1"])] == ["adm", "m2"]
    assert [m.user_id for m in filter_members(MEMBERS, keyword="b")] == ["adm", "m2"]
    with pytest.raises(ValueError):
        filter_members(MEMBERS, role_filter=9)


# ------------------------------------------------------------------ models


def test_models_from_protobuf():
    f = Friend.from_pb(sdkws_pb2.FriendInfo(ownerUserID="me", remark="Bobby", isPinned=True,
                                            friendUser=sdkws_pb2.UserInfo(userID="bob", nickname="Bob")))
    assert (f.user_id, f.name, f.is_pinned, f.user) == ("bob", "Bobby", True, User("bob", "Bob"))
    a = FriendApplication.from_pb(sdkws_pb2.FriendRequest(fromUserID="a", toUserID="b", handleResult=-1))
    assert a.key == ("a", "b") and a.handle_result == -1
    g = Group.from_pb(sdkws_pb2.GroupInfo(groupID="g", status=GroupStatus.MUTED))
    assert g.is_muted and not g.is_dismissed and g.name == "g"
    r = GroupApplication.from_pb(sdkws_pb2.GroupRequest(groupInfo=sdkws_pb2.GroupInfo(groupID="g"),
                                                        userInfo=sdkws_pb2.PublicUserInfo(userID="u", nickname="U")))
    assert r.key == ("g", "u") and r.user.name == "U"
    m = GroupMember.from_pb(sdkws_pb2.GroupMemberFullInfo(groupID="g", userID="u", roleLevel=100, muteEndTime=50))
    assert m.is_owner and m.muted_at(49) and not m.muted_at(50)


def test_every_official_listener_callback_has_an_event():
    names = {
        "OnFriendApplicationAdded", "OnFriendApplicationDeleted", "OnFriendApplicationAccepted",
        "OnFriendApplicationRejected", "OnFriendAdded", "OnFriendDeleted", "OnFriendInfoChanged", "OnBlackAdded",
        "OnBlackDeleted", "OnJoinedGroupAdded", "OnJoinedGroupDeleted", "OnGroupMemberAdded", "OnGroupMemberDeleted",
        "OnGroupApplicationAdded", "OnGroupApplicationDeleted", "OnGroupInfoChanged", "OnGroupDismissed",
        "OnGroupMemberInfoChanged", "OnGroupApplicationAccepted", "OnGroupApplicationRejected",
        "OnSelfInfoUpdated", "OnUserStatusChanged", "OnUserCommandAdd", "OnUserCommandDelete", "OnUserCommandUpdate",
    }
    assert set(sev.CALLBACKS) == names
    assert all(issubclass(cls, Event) for cls in sev.CALLBACKS.values())


# ------------------------------------------------------------------ group notifications onto a real cache


class Harness:
    """Parts over a real store; the REST client is a sentinel (any call would fail the test)."""

    def __init__(self, tmp_path: Any, me: str = "me") -> None:
        self.events: list[Event] = []
        self.spawned: list[str] = []
        self.store = LocalStore(tmp_path / "cache.sqlite3")
        self.ctx = SessionContext(me, rest=None, emit=self.events.append, spawn=self._spawn)  # type: ignore[arg-type]
        self.ctx.attach_store(self.store)
        self.router = NotificationRouter()
        self.groups = Groups(self.ctx, self.router)
        self.friends = Friends(self.ctx, self.router)

    def _spawn(self, coro: Awaitable[Any], where: str) -> Any:
        self.spawned.append(where)
        coro.close()  # type: ignore[attr-defined]

    async def notify(self, ct: int, tips: Any, group_id: str = "g") -> None:
        detail = jsoncodec.dumps(tips).decode()
        m = sdkws_pb2.MsgData(contentType=ct, groupID=group_id, sessionType=3,
                              content=json.dumps({"detail": detail}).encode())
        assert await self.router.dispatch(m)

    def seen(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


def _group(**kw: Any) -> sdkws_pb2.GroupInfo:
    return sdkws_pb2.GroupInfo(**{"groupID": "g", "groupName": "crew", "ownerUserID": "own", **kw})


def _member(uid: str, role: int = GroupRole.MEMBER) -> sdkws_pb2.GroupMemberFullInfo:
    return sdkws_pb2.GroupMemberFullInfo(groupID="g", userID=uid, roleLevel=role, nickname=uid.title())


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path)
    harness.store.upsert_groups([_group()])
    harness.store.upsert_group_members([_member("own", GroupRole.OWNER), _member("me"), _member("bob")])
    yield harness
    harness.store.close()


async def test_kick_from_tips_removes_the_member_once(h):
    tips = sdkws_pb2.MemberKickedTips(group=_group(), kickedUserList=[_member("bob")])
    await h.notify(ContentType.MEMBER_KICKED, tips)
    await h.notify(ContentType.MEMBER_KICKED, tips)
    assert [e.member.user_id for e in h.seen(sev.GroupMemberDeleted)] == ["bob"]
    assert sorted(m.user_id for m in await h.groups.members("g")) == ["me", "own"]


async def test_being_kicked_drops_the_group(h):
    await h.notify(ContentType.MEMBER_KICKED, sdkws_pb2.MemberKickedTips(group=_group(), kickedUserList=[_member("me")]))
    assert [e.group.group_id for e in h.seen(sev.JoinedGroupDeleted)] == ["g"]
    assert await h.groups.list() == [] and h.store.group_members("g") == []


async def test_dismissed_once_keeps_the_group_without_members(h):
    for _ in range(2):
        await h.notify(ContentType.GROUP_DISMISSED, sdkws_pb2.GroupDismissedTips(group=_group()))
    assert len(h.seen(sev.GroupDismissed)) == 1 and not h.seen(sev.GroupInfoChanged)
    assert (await h.groups.list())[0].is_dismissed and not await h.groups.is_joined("g")
    assert h.store.group_members("g") == []


async def test_info_and_member_changes_from_tips(h):
    await h.notify(ContentType.GROUP_INFO_SET_NAME, sdkws_pb2.GroupInfoSetNameTips(group=_group(groupName="new")))
    assert [e.group.group_name for e in h.seen(sev.GroupInfoChanged)] == ["new"]
    await h.notify(ContentType.GROUP_MEMBER_MUTED,
                   sdkws_pb2.GroupMemberMutedTips(group=_group(), mutedUser=_member("bob"), mutedSeconds=5))
    assert h.seen(sev.GroupMemberInfoChanged) == []  # same row: nothing changed
    muted = _member("bob")
    muted.muteEndTime = 99
    await h.notify(ContentType.GROUP_MEMBER_MUTED, sdkws_pb2.GroupMemberMutedTips(group=_group(), mutedUser=muted))
    assert [e.member.mute_end_time for e in h.seen(sev.GroupMemberInfoChanged)] == [99]
    entered = sdkws_pb2.MemberEnterTips(group=_group(groupName="new", memberCount=4), entrantUser=_member("cat"))
    await h.notify(ContentType.MEMBER_ENTER, entered)
    assert [e.member.user_id for e in h.seen(sev.GroupMemberAdded)] == ["cat"]
    assert [e.group.member_count for e in h.seen(sev.GroupInfoChanged)] == [0, 4]
    assert h.spawned == []  # all of it from the tips, no server round trip


async def test_notifications_for_a_group_not_joined_are_ignored(h):
    other = sdkws_pb2.GroupInfo(groupID="x", groupName="elsewhere")
    await h.notify(ContentType.GROUP_INFO_SET, sdkws_pb2.GroupInfoSetTips(group=other), group_id="x")
    await h.notify(ContentType.MEMBER_ENTER, sdkws_pb2.MemberEnterTips(group=other, entrantUser=_member("cat")),
                   group_id="x")
    assert h.events == [] and [g.group_id for g in await h.groups.list()] == ["g"]


async def test_joining_and_applications_and_friend_notifications_resync(h):
    await h.notify(ContentType.MEMBER_INVITED,
                   sdkws_pb2.MemberInvitedTips(group=_group(), invitedUserList=[_member("me")]))
    await h.notify(ContentType.JOIN_GROUP_APPLICATION, sdkws_pb2.JoinGroupApplicationTips(group=_group()))
    await h.notify(ContentType.FRIEND_APPLICATION_APPROVED, sdkws_pb2.FriendApplicationApprovedTips(), group_id="")
    assert h.spawned == ["joined groups sync", "group applications sync", "applications sync", "friends sync"]


# ------------------------------------------------------------------ user commands, cached across restarts


class _CommandServer:
    """The one REST call ``sync_commands`` makes, answering from ``rows``."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, str]] = []
        self.user = self

    async def process_user_command_get_all(self, *, user_id: str) -> Any:
        from openim_sdk.protocol.pb.user import user_pb2

        resp = user_pb2.processUserCommandGetAllResp()
        for t, uuid, value in self.rows:
            resp.CommandResp.add(type=t, uuid=uuid, value=value, createTime=1)
        return resp


async def test_user_commands_are_cached_and_changes_reported_across_restarts(tmp_path):
    from openim_sdk.social import Users

    server = _CommandServer()
    server.rows = [(1, "a", "x")]
    h = Harness(tmp_path)
    h.ctx.rest = server  # type: ignore[assignment]
    users = Users(h.ctx)
    await users.sync_commands()
    assert h.events == [] and [c.uuid for c in await users.commands()] == ["a"]  # a fresh cache: not news
    server.rows = [(1, "a", "y"), (2, "b", "")]
    await users.sync_commands()
    assert [type(e).__name__ for e in h.events] == ["UserCommandAdded", "UserCommandUpdated"]
    h.events.clear()
    restarted = Users(h.ctx)  # same cache, new session: what changed meanwhile is reported
    server.rows = [(2, "b", "")]
    await restarted.sync_commands()
    assert [(type(e).__name__, e.command.uuid) for e in h.events] == [("UserCommandDeleted", "a")]
    assert [c.uuid for c in await restarted.commands(2)] == ["b"]
    h.store.close()
