"""Pure protocol layer (no I/O): messages, codecs, constants, route table.

The WS envelope codecs (``encode_request``, ``decode_request``, ``encode_response``,
``decode_response``) take ``encoding="json"|"gob"`` and ``compress``; on malformed input they,
like the REST JSON codec (``jsoncodec``), raise only :class:`CodecError`.

Names and submodules load on first use (PEP 562): importing one submodule (say ``errors``) does
not load the route table, every protobuf message and both envelope codecs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the submodule that owns it (a submodule itself when the names are equal)
_EXPORTS: dict[str, str] = {
    "constants": "constants",
    "conversation_id": "conversation_id",
    "jsoncodec": "jsoncodec",
    "ContentType": "constants",
    "Platform": "constants",
    "ReqIdentifier": "constants",
    "SessionType": "constants",
    "WsRequest": "envelope",
    "WsResponse": "envelope",
    "decode_request": "envelope",
    "decode_response": "envelope",
    "encode_request": "envelope",
    "encode_response": "envelope",
    "CodecError": "errors",
    "OpenIMError": "errors",
    "error_for_code": "errors",
    "message_class": "messages",
    "ROUTES": "routes",
    "ROUTES_BY_PATH": "routes",
    "Route": "routes",
}

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


def __getattr__(name: str) -> Any:
    owner = _EXPORTS.get(name)
    if owner is None:
        raise AttributeError(f"module 'openim_sdk.protocol' has no attribute {name!r}")
    module = importlib.import_module(f"{__name__}.{owner}")
    value = module if owner == name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
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
