"""Pure protocol layer (no I/O): messages, codecs, constants, route table.

The WS envelope codecs (``encode_request``, ``decode_request``, ``encode_response``,
``decode_response``) take ``encoding="json"|"gob"`` and ``compress``; on malformed input they,
like the REST JSON codec (``jsoncodec``), raise only :class:`CodecError`.
"""

from . import constants, conversation_id, jsoncodec
from .constants import ContentType, Platform, ReqIdentifier, SessionType
from .envelope import (
    WsRequest,
    WsResponse,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
)
from .errors import CodecError, OpenIMError, error_for_code
from .messages import message_class
from .routes import ROUTES, ROUTES_BY_PATH, Route

__all__ = [
    "ROUTES",
    "ROUTES_BY_PATH",
    "CodecError",
    "ContentType",
    "OpenIMError",
    "Platform",
    "ReqIdentifier",
    "Route",
    "SessionType",
    "WsRequest",
    "WsResponse",
    "constants",
    "conversation_id",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "error_for_code",
    "jsoncodec",
    "message_class",
]
