"""What an app sees of users, friends, groups and their applications: frozen dataclasses.

Each has one ``from_pb`` converter from the wire message; the wire shapes stay private to the SDK
(the cache stores them, the parts convert at the edge). Equality is by value, so a part tells a
changed row from an unchanged one by comparing models.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol.constants import GroupRole, GroupStatus
from ..protocol.pb.sdkws import sdkws_pb2

#: Handle results of friend and group applications (``handleResult`` on the wire).
PENDING, ACCEPTED, REJECTED = 0, 1, -1


@dataclass(frozen=True)
class User:
    """A user's public profile (``UserInfo``; ``PublicUserInfo`` fills only the first four)."""

    user_id: str
    nickname: str = ""
    face_url: str = ""
    ex: str = ""
    create_time: int = 0
    app_manager_level: int = 0
    global_recv_msg_opt: int = 0

    @property
    def name(self) -> str:
        return self.nickname or self.user_id

    @classmethod
    def from_pb(cls, u: sdkws_pb2.UserInfo | sdkws_pb2.PublicUserInfo) -> User:
        if isinstance(u, sdkws_pb2.PublicUserInfo):
            return cls(user_id=u.userID, nickname=u.nickname, face_url=u.faceURL, ex=u.ex)
        return cls(user_id=u.userID, nickname=u.nickname, face_url=u.faceURL, ex=u.ex, create_time=u.createTime,
                   app_manager_level=u.appMangerLevel, global_recv_msg_opt=u.globalRecvMsgOpt)


@dataclass(frozen=True)
class Friend:
    """One of the owner's friends, with the owner's remark, pin and ex for them."""

    owner_user_id: str
    user: User
    remark: str = ""
    create_time: int = 0
    add_source: int = 0
    operator_user_id: str = ""
    ex: str = ""
    is_pinned: bool = False

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def name(self) -> str:
        """Remark, else nickname, else user ID (what a contact list shows)."""
        return self.remark or self.user.name

    @classmethod
    def from_pb(cls, f: sdkws_pb2.FriendInfo) -> Friend:
        return cls(owner_user_id=f.ownerUserID, user=User.from_pb(f.friendUser), remark=f.remark,
                   create_time=f.createTime, add_source=f.addSource, operator_user_id=f.operatorUserID, ex=f.ex,
                   is_pinned=f.isPinned)


@dataclass(frozen=True)
class FriendApplication:
    """A friend request from ``from_user_id`` to ``to_user_id``; ``handle_result`` 0 pending,
    1 accepted, -1 rejected."""

    from_user_id: str
    to_user_id: str
    from_nickname: str = ""
    from_face_url: str = ""
    to_nickname: str = ""
    to_face_url: str = ""
    handle_result: int = PENDING
    req_msg: str = ""
    create_time: int = 0
    handler_user_id: str = ""
    handle_msg: str = ""
    handle_time: int = 0
    ex: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.from_user_id, self.to_user_id

    @classmethod
    def from_pb(cls, r: sdkws_pb2.FriendRequest) -> FriendApplication:
        return cls(from_user_id=r.fromUserID, to_user_id=r.toUserID, from_nickname=r.fromNickname,
                   from_face_url=r.fromFaceURL, to_nickname=r.toNickname, to_face_url=r.toFaceURL,
                   handle_result=r.handleResult, req_msg=r.reqMsg, create_time=r.createTime,
                   handler_user_id=r.handlerUserID, handle_msg=r.handleMsg, handle_time=r.handleTime, ex=r.ex)


@dataclass(frozen=True)
class BlacklistEntry:
    """``user`` is on ``owner_user_id``'s blacklist: they cannot send to the owner."""

    owner_user_id: str
    user: User
    create_time: int = 0
    add_source: int = 0
    operator_user_id: str = ""
    ex: str = ""

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @classmethod
    def from_pb(cls, b: sdkws_pb2.BlackInfo) -> BlacklistEntry:
        return cls(owner_user_id=b.ownerUserID, user=User.from_pb(b.blackUserInfo), create_time=b.createTime,
                   add_source=b.addSource, operator_user_id=b.operatorUserID, ex=b.ex)


@dataclass(frozen=True)
class Group:
    group_id: str
    group_name: str = ""
    notification: str = ""
    introduction: str = ""
    face_url: str = ""
    owner_user_id: str = ""
    create_time: int = 0
    member_count: int = 0
    ex: str = ""
    status: int = GroupStatus.OK
    creator_user_id: str = ""
    group_type: int = 2
    need_verification: int = 0
    look_member_info: int = 0
    apply_member_friend: int = 0
    notification_update_time: int = 0
    notification_user_id: str = ""

    @property
    def name(self) -> str:
        return self.group_name or self.group_id

    @property
    def is_muted(self) -> bool:
        return self.status == GroupStatus.MUTED

    @property
    def is_dismissed(self) -> bool:
        return self.status == GroupStatus.DISMISSED

    @classmethod
    def from_pb(cls, g: sdkws_pb2.GroupInfo) -> Group:
        return cls(group_id=g.groupID, group_name=g.groupName, notification=g.notification,
                   introduction=g.introduction, face_url=g.faceURL, owner_user_id=g.ownerUserID,
                   create_time=g.createTime, member_count=g.memberCount, ex=g.ex, status=g.status,
                   creator_user_id=g.creatorUserID, group_type=g.groupType, need_verification=g.needVerification,
                   look_member_info=g.lookMemberInfo, apply_member_friend=g.applyMemberFriend,
                   notification_update_time=g.notificationUpdateTime, notification_user_id=g.notificationUserID)


@dataclass(frozen=True)
class GroupMember:
    group_id: str
    user_id: str
    role_level: int = GroupRole.MEMBER
    join_time: int = 0
    nickname: str = ""
    face_url: str = ""
    app_manager_level: int = 0
    join_source: int = 0
    operator_user_id: str = ""
    ex: str = ""
    mute_end_time: int = 0
    inviter_user_id: str = ""

    @property
    def is_owner(self) -> bool:
        return self.role_level == GroupRole.OWNER

    @property
    def is_admin(self) -> bool:
        return self.role_level == GroupRole.ADMIN

    def muted_at(self, now_ms: int) -> bool:
        return self.mute_end_time > now_ms

    @classmethod
    def from_pb(cls, m: sdkws_pb2.GroupMemberFullInfo) -> GroupMember:
        return cls(group_id=m.groupID, user_id=m.userID, role_level=m.roleLevel, join_time=m.joinTime,
                   nickname=m.nickname, face_url=m.faceURL, app_manager_level=m.appMangerLevel,
                   join_source=m.joinSource, operator_user_id=m.operatorUserID, ex=m.ex,
                   mute_end_time=m.muteEndTime, inviter_user_id=m.inviterUserID)


@dataclass(frozen=True)
class GroupApplication:
    """``user`` asked to join (or was invited into, when verification is on) ``group``."""

    group: Group
    user: User
    handle_result: int = PENDING
    req_msg: str = ""
    handle_msg: str = ""
    req_time: int = 0
    handle_user_id: str = ""
    handle_time: int = 0
    ex: str = ""
    join_source: int = 0
    inviter_user_id: str = ""

    @property
    def group_id(self) -> str:
        return self.group.group_id

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def key(self) -> tuple[str, str]:
        return self.group.group_id, self.user.user_id

    @classmethod
    def from_pb(cls, r: sdkws_pb2.GroupRequest) -> GroupApplication:
        return cls(group=Group.from_pb(r.groupInfo), user=User.from_pb(r.userInfo), handle_result=r.handleResult,
                   req_msg=r.reqMsg, handle_msg=r.handleMsg, req_time=r.reqTime, handle_user_id=r.handleUserID,
                   handle_time=r.handleTime, ex=r.ex, join_source=r.joinSource, inviter_user_id=r.inviterUserID)


@dataclass(frozen=True)
class UserCommand:
    """A per-user command entry (``/user/process_user_command_*``: e.g. favourites, pins)."""

    type: int
    uuid: str
    value: str = ""
    ex: str = ""
    create_time: int = 0


@dataclass(frozen=True)
class UserStatus:
    """A user's online state: ``status`` 1 online on ``platform_ids``, 0 offline."""

    user_id: str
    status: int = 0
    platform_ids: tuple[int, ...] = ()

    @property
    def online(self) -> bool:
        return self.status == 1 or bool(self.platform_ids)
