"""OpenIM wire constants: request identifiers, platforms, session and content types, options.

Values from the OpenIM v3.8 protocol (see docs/spec/ws-protocol.md §1.7, §4, §8).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum


class ReqIdentifier(IntEnum):
    """The ``reqIdentifier`` of a WS envelope (spec §4). Wire numbers are what matter."""

    GET_NEWEST_SEQ = 1001
    PULL_MSG_BY_RANGE = 1002  # server name: WSPullMsgBySeqList
    SEND_MSG = 1003
    SEND_SIGNAL_MSG = 1004  # vestigial: always 1001 ArgsError
    PULL_MSG_BY_SEQ_LIST = 1005  # server name: WSPullMsg
    GET_CONV_MAX_READ_SEQ = 1006
    PULL_CONV_LAST_MESSAGE = 1007
    PUSH_MSG = 2001
    KICK_ONLINE_MSG = 2002
    LOGOUT_MSG = 2003
    SET_BACKGROUND_STATUS = 2004
    SUB_USER_ONLINE_STATUS = 2005
    WS_DATA_ERROR = 3001  # defined, never sent


#: Identifiers a Go SDK accepts; anything else stops its read loop for good.
GO_SDK_KNOWN_IDENTIFIERS: frozenset[int] = frozenset(
    int(r) for r in ReqIdentifier if r is not ReqIdentifier.WS_DATA_ERROR
)


class Platform(IntEnum):
    IOS = 1
    ANDROID = 2
    WINDOWS = 3
    OSX = 4
    WEB = 5
    MINI_WEB = 6
    LINUX = 7
    ANDROID_PAD = 8
    IPAD = 9
    ADMIN = 10
    HARMONY_OS = 11


class PlatformClass(StrEnum):
    MOBILE = "Mobile"
    PC = "PC"
    WEB = "Web"
    MINI_WEB = "MiniWeb"
    PAD = "Pad"
    ADMIN = "Admin"
    HARMONY_OS = "HarmonyOS"


#: Platform names as OpenIM writes them (token-state keys, logs).
PLATFORM_NAMES: Mapping[int, str] = {
    1: "IOS",
    2: "Android",
    3: "Windows",
    4: "OSX",
    5: "Web",
    6: "MiniWeb",
    7: "Linux",
    8: "APad",
    9: "IPad",
    10: "Admin",
    11: "HarmonyOS",
}

_PLATFORM_CLASSES: Mapping[int, PlatformClass] = {
    1: PlatformClass.MOBILE,
    2: PlatformClass.MOBILE,
    3: PlatformClass.PC,
    4: PlatformClass.PC,
    5: PlatformClass.WEB,
    6: PlatformClass.MINI_WEB,
    7: PlatformClass.PC,
    8: PlatformClass.PAD,
    9: PlatformClass.PAD,
    10: PlatformClass.ADMIN,
    11: PlatformClass.HARMONY_OS,
}


def is_valid_platform(platform_id: int) -> bool:
    return platform_id in _PLATFORM_CLASSES


def platform_class(platform_id: int) -> PlatformClass:
    """The class used by the multi-login policies 4 and 5. Raises KeyError if unknown."""
    return _PLATFORM_CLASSES[platform_id]


def platform_name(platform_id: int) -> str:
    return PLATFORM_NAMES.get(platform_id, f"Platform{platform_id}")


class MultiLoginPolicy(IntEnum):
    DEFAULT_NOT_KICK = 0
    ALL_LOGIN_BUT_SAME_TERM_KICK = 1
    ALL_LOGIN_BUT_SAME_CLASS_KICK = 4
    PC_AND_OTHER = 5


class TokenState(IntEnum):
    NORMAL = 0
    INVALID = 1
    KICKED = 2
    EXPIRED = 3


class SessionType(IntEnum):
    SINGLE_CHAT = 1
    WRITE_GROUP_CHAT = 2  # legacy, rejected by the server
    READ_GROUP_CHAT = 3  # the live group kind ("super group")
    NOTIFICATION_CHAT = 4


class MsgFrom(IntEnum):
    USER = 100
    SYSTEM = 200


class MsgStatus(IntEnum):
    SENDING = 1
    SEND_SUCCESS = 2
    SEND_FAILED = 3
    DELETED = 4  # also: placeholder for a missing seq
    FILTERED = 5


class PullOrder(IntEnum):
    ASC = 0
    DESC = 1


class ContentType(IntEnum):
    TEXT = 101
    PICTURE = 102
    VOICE = 103
    VIDEO = 104
    FILE = 105
    AT_TEXT = 106
    MERGER = 107
    CARD = 108
    LOCATION = 109
    CUSTOM = 110
    REVOKE = 111
    TYPING = 113
    QUOTE = 114
    FACE = 115
    ADVANCED_TEXT = 117
    MARKDOWN_TEXT = 118
    CUSTOM_NOT_TRIGGER_CONVERSATION = 119
    CUSTOM_ONLINE_ONLY = 120

    NOTIFICATION_BEGIN = 1000
    FRIEND_APPLICATION_APPROVED = 1201
    FRIEND_APPLICATION_REJECTED = 1202
    FRIEND_APPLICATION = 1203
    FRIEND_ADDED = 1204
    FRIEND_DELETED = 1205
    FRIEND_REMARK_SET = 1206
    BLACK_ADDED = 1207
    BLACK_DELETED = 1208
    FRIEND_INFO_UPDATED = 1209
    FRIENDS_INFO_UPDATE = 1210
    CONVERSATION_CHANGE = 1300
    USER_INFO_UPDATED = 1303
    USER_STATUS_CHANGE = 1304
    USER_COMMAND_ADD = 1305
    USER_COMMAND_DELETE = 1306
    USER_COMMAND_UPDATE = 1307
    USER_SUBSCRIBE_ONLINE_STATUS = 1308
    OA_NOTIFICATION = 1400
    GROUP_CREATED = 1501
    GROUP_INFO_SET = 1502
    JOIN_GROUP_APPLICATION = 1503
    MEMBER_QUIT = 1504
    GROUP_APPLICATION_ACCEPTED = 1505
    GROUP_APPLICATION_REJECTED = 1506
    GROUP_OWNER_TRANSFERRED = 1507
    MEMBER_KICKED = 1508
    MEMBER_INVITED = 1509
    MEMBER_ENTER = 1510
    GROUP_DISMISSED = 1511
    GROUP_MEMBER_MUTED = 1512
    GROUP_MEMBER_CANCEL_MUTED = 1513
    GROUP_MUTED = 1514
    GROUP_CANCEL_MUTED = 1515
    GROUP_MEMBER_INFO_SET = 1516
    GROUP_MEMBER_SET_TO_ADMIN = 1517
    GROUP_MEMBER_SET_TO_ORDINARY = 1518
    GROUP_INFO_SET_ANNOUNCEMENT = 1519
    GROUP_INFO_SET_NAME = 1520
    SUPER_GROUP_UPDATE = 1651
    MSG_DELETE = 1652
    CONVERSATION_PRIVATE_CHAT = 1701
    CONVERSATION_UNREAD = 1702
    CLEAR_CONVERSATION = 1703
    BUSINESS_NOTIFICATION = 2001
    MSG_REVOKE_NOTIFICATION = 2101
    DELETE_MSGS_NOTIFICATION = 2102
    HAS_READ_RECEIPT = 2200
    NOTIFICATION_END = 5000


#: First content type of the range users send (``100 <= type < NOTIFICATION_BEGIN``).
USER_CONTENT_BEGIN = 100


def is_notification_content(content_type: int) -> bool:
    return ContentType.NOTIFICATION_BEGIN <= content_type <= ContentType.NOTIFICATION_END


def is_user_content(content_type: int) -> bool:
    """A content type of the user range (100..999), as opposed to notifications (1000..5000)."""
    return USER_CONTENT_BEGIN <= content_type < ContentType.NOTIFICATION_BEGIN


class MsgOption(StrEnum):
    """Keys of ``MsgData.options``. An absent key means **true**."""

    HISTORY = "history"
    PERSISTENT = "persistent"
    OFFLINE_PUSH = "offlinePush"
    UNREAD_COUNT = "unreadCount"
    CONVERSATION_UPDATE = "conversationUpdate"
    SENDER_SYNC = "senderSync"
    NOT_PRIVATE = "notPrivate"
    SENDER_CONVERSATION_UPDATE = "senderConversationUpdate"
    SENDER_NOTIFICATION_PUSH = "senderNotificationPush"
    REACTION_FROM_CACHE = "reactionFromCache"
    IS_NOT_NOTIFICATION = "isNotNotification"
    IS_SEND_MSG = "isSendMsg"


def option_is_set(options: Mapping[str, bool], key: str) -> bool:
    """OpenIM's rule: every option key defaults to true when it is absent."""
    return bool(options.get(str(key), True))


def is_notification_message(options: Mapping[str, bool]) -> bool:
    """A message goes to the ``n_`` conversation iff ``isNotNotification`` is explicitly false."""
    return not option_is_set(options, MsgOption.IS_NOT_NOTIFICATION)


#: Options the official SDK sets for "online only" messages.
ONLINE_ONLY_OPTIONS: Mapping[str, bool] = {
    MsgOption.HISTORY: False,
    MsgOption.PERSISTENT: False,
    MsgOption.SENDER_SYNC: False,
    MsgOption.CONVERSATION_UPDATE: False,
    MsgOption.SENDER_CONVERSATION_UPDATE: False,
    MsgOption.UNREAD_COUNT: False,
    MsgOption.OFFLINE_PUSH: False,
}


class RecvMsgOpt(IntEnum):
    RECEIVE = 0
    NOT_RECEIVE = 1
    NOT_NOTIFY = 2


class GroupRole(IntEnum):
    OWNER = 100
    ADMIN = 60
    MEMBER = 20


class GroupStatus(IntEnum):
    OK = 0
    BANNED = 1
    DISMISSED = 2
    MUTED = 3


class GroupVerification(IntEnum):
    APPLY_NEED_VERIFICATION_INVITE_DIRECTLY = 0
    ALL_NEED_VERIFICATION = 1
    DIRECTLY = 2


class JoinSource(IntEnum):
    ADMIN = 1
    INVITATION = 2
    SEARCH = 3
    QR_CODE = 4


AT_ALL_TAG = "AtAllTag"


class GroupAtType(IntEnum):
    """``Conversation.groupAtType``: the mention state of a group conversation (protocol constant.go)."""

    AT_NORMAL = 0
    AT_ME = 1
    AT_ALL = 2
    AT_ALL_AT_ME = 3
    GROUP_NOTIFICATION = 4

#: Frame limits (spec §2.6).
SERVER_MAX_FRAME = 51200
SDK_MAX_FRAME = 1 << 20
