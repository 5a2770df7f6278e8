"""The one exception tree of the project, keyed by OpenIM's error codes.

Every error the server can send (REST envelope ``errCode`` or WS ``errCode``) maps to one
class here through :func:`error_for_code`; local failures (network, timeout, malformed
frames) have their own classes under the same root, :class:`OpenIMError`.
"""

from __future__ import annotations

from typing import ClassVar

# errCode -> errMsg as the real server sends it (spec rest-api §5.2).
ERROR_NAMES: dict[int, str] = {
    0: "",
    429: "too many requests, please try again later",
    500: "ServerInternalError",
    1000: "UnknownCode",
    1001: "ArgsError",
    1002: "NoPermissionError",
    1003: "DuplicateKeyError",
    1004: "RecordNotFoundError",
    1101: "UserIDNotFoundError",
    1102: "RegisteredAlreadyError",
    1201: "GroupIDNotFoundError",
    1202: "GroupIDExisted",
    1203: "NotInGroupYetError",
    1204: "DismissedAlreadyError",
    1205: "",
    1206: "GroupRequestHandled",
    1301: "CanNotAddYourselfError",
    1302: "BlockedByPeer",
    1303: "NotPeersFriend",
    1304: "RelationshipAlreadyError",
    1305: "FriendRequestHandled",
    1401: "MessageHasReadDisable",
    1402: "MutedInGroup",
    1403: "MutedGroup",
    1404: "MsgAlreadyRevoke",
    1501: "TokenExpiredError",
    1502: "TokenInvalidError",
    1503: "TokenMalformedError",
    1504: "TokenNotValidYetError",
    1505: "TokenUnknownError",
    1506: "TokenKickedError",
    1507: "TokenNotExistError",
    1520: "OrgUserNoPermissionError",
    1601: "ConnOverMaxNumLimit",
    1602: "args err, need token, sendID, platformID",
    1603: "push msg err",
    1604: "ios background push err",
    1701: "FileUploadedExpiredError",
    80000: "CallbackError",
    90002: "DatabaseError",
    90004: "NetworkError",
    90007: "DataError",
}

# Symbolic names for codes whose wire errMsg is not an identifier.
_SYMBOLS: dict[int, str] = {
    0: "Success",
    429: "TooManyRequests",
    1205: "GroupTypeNotSupport",
    1602: "ConnArgsErr",
    1603: "PushMsgErr",
    1604: "IOSBackgroundPushErr",
}


#: What a refusal means for the person who sent the message (CLI and chat say this, not just a code).
SEND_REFUSALS: dict[int, str] = {
    1001: "the server refused the message as malformed",
    1002: "you are not allowed to send this here",
    1004: "the conversation does not exist on the server",
    1101: "no such user",
    1201: "no such group",
    1203: "you are not a member of this group",
    1204: "the group was dismissed",
    1302: "they have blocked you",
    1303: "you are not friends (this server only lets friends chat)",
    1402: "you are muted in this group",
    1403: "the group is muted: only its owner and admins can talk",
    5001: "refused by the server's message filter",
}


def explain(error: BaseException) -> str:
    """One line for people: what went wrong and, for a known refusal, what it means
    (``"you are muted in this group (1402 MutedInGroup)"``)."""
    if not isinstance(error, OpenIMError):
        return str(error) or type(error).__name__
    known = SEND_REFUSALS.get(error.code)
    if known:
        return f"{known} ({error.code} {error.name})"
    text = f"{error.code} {error.name}" if error.code else ""
    said = error.detail or (error.message if error.message != error.name else "")
    return f"{text}: {said}" if text and said else (text or said or type(error).__name__)


def error_name(code: int) -> str:
    """A short symbolic name for ``code`` (``1302`` -> ``"BlockedByPeer"``)."""
    if code in _SYMBOLS:
        return _SYMBOLS[code]
    return ERROR_NAMES.get(code) or f"Error{code}"


class OpenIMError(Exception):
    """Root of every error raised by this project.

    ``code`` is OpenIM's errCode (0 for purely local errors without one), ``message`` the
    errMsg, ``detail`` the errDlt and ``operation_id`` the operationID of the failed call.
    """

    default_code: ClassVar[int] = 0

    def __init__(
        self,
        code: int | None = None,
        message: str = "",
        detail: str = "",
        operation_id: str = "",
    ) -> None:
        self.code = self.default_code if code is None else code
        self.message = message or ERROR_NAMES.get(self.code, "")
        self.detail = detail
        self.operation_id = operation_id
        super().__init__(self.__str__())

    @property
    def name(self) -> str:
        return error_name(self.code)

    def __str__(self) -> str:
        text = f"{self.code} {self.name}" if self.code else self.name
        if self.message and self.message != self.name:
            text += f": {self.message}"
        if self.detail:
            text += f" ({self.detail})"
        if self.operation_id:
            text += f" [operationID={self.operation_id}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, "
            f"detail={self.detail!r}, operation_id={self.operation_id!r})"
        )

    def envelope(self) -> dict[str, object]:
        """The ``{errCode, errMsg, errDlt}`` triple as the server sends it."""
        return {"errCode": self.code, "errMsg": self.message, "errDlt": self.detail}


# --- families -------------------------------------------------------------------------


class ServerInternalError(OpenIMError):
    default_code = 500


class RateLimitedError(OpenIMError):
    default_code = 429


class ArgsError(OpenIMError):
    default_code = 1001


class CodecError(ArgsError):
    """Malformed input to a codec: bad JSON, bad base64, bad gob, bad gzip, oversize frame.

    The only exception the REST JSON codec and the WS envelope codecs raise.
    """


class NoPermissionError(OpenIMError):
    default_code = 1002


class DuplicateKeyError(OpenIMError):
    default_code = 1003


class NotFoundError(OpenIMError):
    """1004 RecordNotFoundError and its children 1101, 1201."""

    default_code = 1004


class UserNotFoundError(NotFoundError):
    default_code = 1101


class RegisteredAlreadyError(DuplicateKeyError):
    default_code = 1102


class GroupError(OpenIMError):
    """Group codes 1201-1206."""

    default_code = 1200


class GroupNotFoundError(GroupError, NotFoundError):
    default_code = 1201


class RelationError(OpenIMError):
    """Friend / blacklist codes 1301-1305."""

    default_code = 1300


class MessageError(OpenIMError):
    """Message codes 1401-1404."""

    default_code = 1400


class TokenError(OpenIMError):
    """Token codes 1501-1507: the session cannot go on until the user logs in again."""

    default_code = 1500


class TokenExpiredError(TokenError):
    default_code = 1501


class TokenInvalidError(TokenError):
    default_code = 1502


class TokenMalformedError(TokenError):
    default_code = 1503


class TokenNotValidYetError(TokenError):
    default_code = 1504


class TokenUnknownError(TokenError):
    default_code = 1505


class TokenKickedError(TokenError):
    default_code = 1506


class TokenNotExistError(TokenError):
    default_code = 1507


class GatewayError(OpenIMError):
    """Long-connection gateway codes 1601-1604."""

    default_code = 1600


class FileError(OpenIMError):
    default_code = 1701


class LocalError(OpenIMError):
    """Errors that happen on this side, without an OpenIM errCode from a peer."""


class NetworkError(LocalError):
    """The peer could not be reached, or the connection broke (code 90004)."""

    default_code = 90004


class RequestTimeoutError(NetworkError):
    """No answer within the time allowed."""


class KickedError(LocalError):
    """The server kicked this connection (WS 2002)."""

    default_code = 1506


_EXACT: dict[int, type[OpenIMError]] = {
    429: RateLimitedError,
    500: ServerInternalError,
    1001: ArgsError,
    1002: NoPermissionError,
    1003: DuplicateKeyError,
    1004: NotFoundError,
    1101: UserNotFoundError,
    1102: RegisteredAlreadyError,
    1201: GroupNotFoundError,
    1501: TokenExpiredError,
    1502: TokenInvalidError,
    1503: TokenMalformedError,
    1504: TokenNotValidYetError,
    1505: TokenUnknownError,
    1506: TokenKickedError,
    1507: TokenNotExistError,
    90004: NetworkError,
}


def error_class(code: int) -> type[OpenIMError]:
    """The exception class for an OpenIM errCode."""
    if code in _EXACT:
        return _EXACT[code]
    if 1200 <= code < 1300:
        return GroupError
    if 1300 <= code < 1400:
        return RelationError
    if 1400 <= code < 1500:
        return MessageError
    if 1500 <= code < 1600:
        return TokenError
    if 1600 <= code < 1700:
        return GatewayError
    if 1700 <= code < 1800:
        return FileError
    return OpenIMError


def error_for_code(code: int, message: str = "", detail: str = "", operation_id: str = "") -> OpenIMError:
    """Build the matching exception for a coded error received from a server."""
    return error_class(code)(code, message, detail, operation_id)


def is_token_error(code: int) -> bool:
    return 1501 <= code <= 1507


class InvalidResponseError(LocalError):
    """The peer answered something that is not OpenIM's envelope (HTML, bad JSON, wrong shape)."""

    default_code = 90007
