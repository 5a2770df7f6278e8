"""Friends, groups and users: public models, events, and the session parts behind
``client.friends``, ``client.groups`` and ``client.users``."""

from . import events
from .friends import Friends
from .groups import Groups
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
from .users import Users

__all__ = [
    "BlacklistEntry",
    "Friend",
    "FriendApplication",
    "Friends",
    "Group",
    "GroupApplication",
    "GroupMember",
    "Groups",
    "User",
    "UserCommand",
    "UserStatus",
    "Users",
    "events",
]
