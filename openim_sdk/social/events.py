"""Relation events: one per callback of the official core's OnFriendshipListener, OnGroupListener
and OnUserListener (openim-sdk-core v3.8), named after it.

Each is emitted after the local cache holds the change, so a handler reading ``client.friends``
or ``client.groups`` sees the new state.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..events import Event, FriendsChanged, GroupsChanged
from .models import (
    BlacklistEntry,
    Friend,
    FriendApplication,
    Group,
    GroupApplication,
    GroupMember,
    User,
    UserCommand,
    UserStatus,
)

# ------------------------------------------------------------------ OnFriendshipListener


@dataclass(frozen=True)
class FriendApplicationAdded(Event):
    """OnFriendApplicationAdded: a new pending application, to me or from me."""

    application: FriendApplication


@dataclass(frozen=True)
class FriendApplicationDeleted(Event):
    """OnFriendApplicationDeleted."""

    application: FriendApplication


@dataclass(frozen=True)
class FriendApplicationAccepted(Event):
    """OnFriendApplicationAccepted (seen by both sides)."""

    application: FriendApplication


@dataclass(frozen=True)
class FriendApplicationRejected(Event):
    """OnFriendApplicationRejected (seen by both sides)."""

    application: FriendApplication


@dataclass(frozen=True)
class FriendAdded(FriendsChanged):
    """OnFriendAdded."""

    friend: Friend


@dataclass(frozen=True)
class FriendDeleted(FriendsChanged):
    """OnFriendDeleted."""

    friend: Friend


@dataclass(frozen=True)
class FriendInfoChanged(FriendsChanged):
    """OnFriendInfoChanged: remark, pin, ex, or the friend's own profile changed."""

    friend: Friend


@dataclass(frozen=True)
class BlacklistAdded(Event):
    """OnBlackAdded."""

    entry: BlacklistEntry


@dataclass(frozen=True)
class BlacklistDeleted(Event):
    """OnBlackDeleted."""

    entry: BlacklistEntry


# ------------------------------------------------------------------ OnGroupListener


@dataclass(frozen=True)
class JoinedGroupAdded(GroupsChanged):
    """OnJoinedGroupAdded: I am now a member (created, invited, accepted, entered)."""

    group: Group


@dataclass(frozen=True)
class JoinedGroupDeleted(GroupsChanged):
    """OnJoinedGroupDeleted: I am no longer a member (quit, kicked)."""

    group: Group


@dataclass(frozen=True)
class GroupInfoChanged(GroupsChanged):
    """OnGroupInfoChanged: name, notice, face, verification, mute, owner..."""

    group: Group


@dataclass(frozen=True)
class GroupDismissed(GroupsChanged):
    """OnGroupDismissed."""

    group: Group


@dataclass(frozen=True)
class GroupMemberAdded(Event):
    """OnGroupMemberAdded."""

    member: GroupMember


@dataclass(frozen=True)
class GroupMemberDeleted(Event):
    """OnGroupMemberDeleted."""

    member: GroupMember


@dataclass(frozen=True)
class GroupMemberInfoChanged(Event):
    """OnGroupMemberInfoChanged: role, mute, group nickname, ex."""

    member: GroupMember


@dataclass(frozen=True)
class GroupApplicationAdded(Event):
    """OnGroupApplicationAdded: a pending application to a group I manage, or one of mine."""

    application: GroupApplication


@dataclass(frozen=True)
class GroupApplicationDeleted(Event):
    """OnGroupApplicationDeleted."""

    application: GroupApplication


@dataclass(frozen=True)
class GroupApplicationAccepted(Event):
    """OnGroupApplicationAccepted."""

    application: GroupApplication


@dataclass(frozen=True)
class GroupApplicationRejected(Event):
    """OnGroupApplicationRejected."""

    application: GroupApplication


# ------------------------------------------------------------------ OnUserListener


@dataclass(frozen=True)
class SelfInfoUpdated(Event):
    """OnSelfInfoUpdated (1303 for me, or my own ``users.set_self_info``)."""

    user: User


@dataclass(frozen=True)
class UserStatusChanged(Event):
    """OnUserStatusChanged (1304 notification; subscribed users' pushes also come as
    :class:`~openim_sdk.events.OnlineStatusChanged`)."""

    status: UserStatus


@dataclass(frozen=True)
class UserCommandAdded(Event):
    """OnUserCommandAdd (1305)."""

    command: UserCommand


@dataclass(frozen=True)
class UserCommandDeleted(Event):
    """OnUserCommandDelete (1306)."""

    command: UserCommand


@dataclass(frozen=True)
class UserCommandUpdated(Event):
    """OnUserCommandUpdate (1307)."""

    command: UserCommand


#: Official listener callback name -> our event class (docs/parity.md is built from this).
CALLBACKS: dict[str, type[Event]] = {
    "OnFriendApplicationAdded": FriendApplicationAdded,
    "OnFriendApplicationDeleted": FriendApplicationDeleted,
    "OnFriendApplicationAccepted": FriendApplicationAccepted,
    "OnFriendApplicationRejected": FriendApplicationRejected,
    "OnFriendAdded": FriendAdded,
    "OnFriendDeleted": FriendDeleted,
    "OnFriendInfoChanged": FriendInfoChanged,
    "OnBlackAdded": BlacklistAdded,
    "OnBlackDeleted": BlacklistDeleted,
    "OnJoinedGroupAdded": JoinedGroupAdded,
    "OnJoinedGroupDeleted": JoinedGroupDeleted,
    "OnGroupMemberAdded": GroupMemberAdded,
    "OnGroupMemberDeleted": GroupMemberDeleted,
    "OnGroupApplicationAdded": GroupApplicationAdded,
    "OnGroupApplicationDeleted": GroupApplicationDeleted,
    "OnGroupInfoChanged": GroupInfoChanged,
    "OnGroupDismissed": GroupDismissed,
    "OnGroupMemberInfoChanged": GroupMemberInfoChanged,
    "OnGroupApplicationAccepted": GroupApplicationAccepted,
    "OnGroupApplicationRejected": GroupApplicationRejected,
    "OnSelfInfoUpdated": SelfInfoUpdated,
    "OnUserStatusChanged": UserStatusChanged,
    "OnUserCommandAdd": UserCommandAdded,
    "OnUserCommandDelete": UserCommandDeleted,
    "OnUserCommandUpdate": UserCommandUpdated,
}
