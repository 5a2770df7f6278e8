"""WebSocket envelope codecs: ``Req`` / ``Resp`` as JSON or Go gob, optionally gzip'ed.

Spec: docs/spec/ws-protocol.md §2.2-2.6.

* ``encoding="gob"`` (``sdkType=go``, the default): one fresh gob stream per frame, see
  :mod:`openim_sdk.protocol.gob`. Requests are declared as struct ``GeneralWsReq`` (the Go
  SDK's name) with fields ReqIdentifier:int, Token, SendID, OperationID, MsgIncr, Data;
  responses as ``Resp`` with ReqIdentifier:int, MsgIncr, OperationID, ErrCode:int, ErrMsg,
  Data. Decoding matches fields by name, whatever the struct name, field order or type id.
* ``encoding="json"`` (``sdkType=js``): Go ``encoding/json`` semantics. Keys are written in
  Go struct order; ``data`` is padded standard base64 (``null`` when empty); ``<``, ``>``,
  ``&``, U+2028 and U+2029 are escaped as Go does. Decoding matches keys case-insensitively
  (last occurrence wins, ``null`` leaves a field unchanged), ignores unknown keys, requires
  ``reqIdentifier`` to be a JSON integer, strings to be strings, and ``data`` to be padded
  standard base64 (or, as Go accepts, an array of byte values). Unpadded and URL-safe base64
  are rejected.
* ``compress=True``: gzip (RFC 1952, level 6, mtime 0, like Go's ``gzip.Writer``) applied after
  encoding and undone before decoding. Concatenated gzip members are accepted (Go's reader
  is multistream); the decompressed size is capped at :data:`MAX_DECOMPRESSED_SIZE`
  (16 MiB) to defuse decompression bombs.

Size limit: ``max_size`` bounds ``len(frame)`` as received, i.e. the *compressed* size when
gzip is on (server 51200 bytes, SDK 1 MiB; spec §2.6).

Ranges: ``reqIdentifier`` must fit in int32 (the Go server's type), ``errCode`` in int64.

Error contract: every decode function raises :class:`~openim_sdk.protocol.errors.CodecError`
(and nothing else) on any malformed input -- random bytes, truncated gob, bad gzip, bad base64,
wrong JSON shape or types, a missing JSON ``reqIdentifier``, out-of-range integers, oversize
frames -- and always terminates. The encode functions raise CodecError for values that cannot
be represented (out-of-range integers, strings that are not valid Unicode, unknown encoding).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from openim_sdk.protocol import gob
from openim_sdk.protocol.errors import CodecError

__all__ = [
    "MAX_DECOMPRESSED_SIZE",
    "REQUEST_MAX_SIZE",
    "RESPONSE_MAX_SIZE",
    "Encoding",
    "WsRequest",
    "WsResponse",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "gunzip",
    "gzip_compress",
]

Encoding = Literal["json", "gob"]

REQUEST_MAX_SIZE = 51200  # server read limit per frame (spec §2.6)
RESPONSE_MAX_SIZE = 1 << 20  # Go SDK read limit per frame (spec §2.6)
MAX_DECOMPRESSED_SIZE = 16 << 20  # gunzip output cap (decompression-bomb guard)

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


@dataclass
class WsRequest:
    """Client -> server envelope (Go ``Req`` / ``GeneralWsReq``)."""

    req_identifier: int
    send_id: str = ""
    operation_id: str = ""
    msg_incr: str = ""
    data: bytes = b""
    token: str = ""


@dataclass
class WsResponse:
    """Server -> client envelope (Go ``Resp`` / ``GeneralWsResp``)."""

    req_identifier: int
    msg_incr: str = ""
    operation_id: str = ""
    err_code: int = 0
    err_msg: str = ""
    data: bytes = b""


# Field tables: (python attribute, Go field name, JSON key, kind). Order = Go struct order.
_REQ_FIELDS: tuple[tuple[str, str, str, int], ...] = (
    ("req_identifier", "ReqIdentifier", "reqIdentifier", gob.INT),
    ("token", "Token", "token", gob.STRING),
    ("send_id", "SendID", "sendID", gob.STRING),
    ("operation_id", "OperationID", "operationID", gob.STRING),
    ("msg_incr", "MsgIncr", "msgIncr", gob.STRING),
    ("data", "Data", "data", gob.BYTES),
)
_RESP_FIELDS: tuple[tuple[str, str, str, int], ...] = (
    ("req_identifier", "ReqIdentifier", "reqIdentifier", gob.INT),
    ("msg_incr", "MsgIncr", "msgIncr", gob.STRING),
    ("operation_id", "OperationID", "operationID", gob.STRING),
    ("err_code", "ErrCode", "errCode", gob.INT),
    ("err_msg", "ErrMsg", "errMsg", gob.STRING),
    ("data", "Data", "data", gob.BYTES),
)
_REQ_GOB_NAME = "GeneralWsReq"
_RESP_GOB_NAME = "Resp"

# Inclusive integer range per attribute (everything else int64).
_INT_RANGES: dict[str, tuple[int, int]] = {
    "req_identifier": (INT32_MIN, INT32_MAX),
    "err_code": (gob.INT64_MIN, gob.INT64_MAX),
}

_Env = TypeVar("_Env", WsRequest, WsResponse)


def _err(message: str, detail: str = "") -> CodecError:
    return CodecError(message=message, detail=detail)


# --- public API -----------------------------------------------------------------------------


def encode_request(req: WsRequest, encoding: Encoding = "gob", compress: bool = False) -> bytes:
    """Encode a client request envelope as one binary WS frame."""
    return _encode(req, _REQ_FIELDS, _REQ_GOB_NAME, encoding, compress)


def decode_request(
    frame: bytes,
    encoding: Encoding = "gob",
    compress: bool = False,
    max_size: int = REQUEST_MAX_SIZE,
) -> WsRequest:
    """Decode a client request frame. Raises CodecError on any malformed input."""
    return _decode(frame, WsRequest, _REQ_FIELDS, encoding, compress, max_size)


def encode_response(resp: WsResponse, encoding: Encoding = "gob", compress: bool = False) -> bytes:
    """Encode a server response / push envelope as one binary WS frame."""
    return _encode(resp, _RESP_FIELDS, _RESP_GOB_NAME, encoding, compress)


def decode_response(
    frame: bytes,
    encoding: Encoding = "gob",
    compress: bool = False,
    max_size: int = RESPONSE_MAX_SIZE,
) -> WsResponse:
    """Decode a server response frame. Raises CodecError on any malformed input."""
    return _decode(frame, WsResponse, _RESP_FIELDS, encoding, compress, max_size)


def gzip_compress(data: bytes) -> bytes:
    """gzip like Go's default ``gzip.Writer`` (level 6, no name, mtime 0)."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def gunzip(data: bytes, limit: int = MAX_DECOMPRESSED_SIZE) -> bytes:
    """Undo gzip (one or more members); CodecError if malformed or longer than ``limit``."""
    out = bytearray()
    rest = bytes(data)
    if not rest:
        raise _err("bad gzip", "empty input")
    try:
        while rest:
            if rest[:2] != b"\x1f\x8b":
                raise _err("bad gzip", "missing gzip header")
            d = zlib.decompressobj(wbits=31)
            out += d.decompress(rest, limit - len(out) + 1)
            if len(out) > limit:
                raise _err("bad gzip", f"decompressed size exceeds {limit} bytes")
            if not d.eof:
                raise _err("bad gzip", "truncated gzip stream")
            rest = d.unused_data
    except zlib.error as e:
        raise _err("bad gzip", str(e)) from None
    return bytes(out)


# --- internals ------------------------------------------------------------------------------


def _check_encoding(encoding: object) -> None:
    if encoding not in ("json", "gob"):
        raise _err("unknown envelope encoding", repr(encoding))


def _check_int(attr: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _err(f"{attr} must be an integer", repr(value))
    lo, hi = _INT_RANGES.get(attr, (gob.INT64_MIN, gob.INT64_MAX))
    if not lo <= value <= hi:
        raise _err(f"{attr} out of range", str(value))
    return value


def _encode(
    env: WsRequest | WsResponse,
    fields: tuple[tuple[str, str, str, int], ...],
    gob_name: str,
    encoding: Encoding,
    compress: bool,
) -> bytes:
    _check_encoding(encoding)
    values: dict[str, object] = {}
    for attr, _, _, kind in fields:
        value = getattr(env, attr)
        if kind == gob.INT:
            value = _check_int(attr, value)
        elif kind == gob.STRING:
            if not isinstance(value, str):
                raise _err(f"{attr} must be a str", repr(value))
            _check_unicode(attr, value)
        elif not isinstance(value, bytes | bytearray | memoryview):
            raise _err(f"{attr} must be bytes", repr(value))
        else:
            value = bytes(value)
        values[attr] = value
    if encoding == "gob":
        raw = gob.encode_struct(
            gob_name,
            [(go_name, kind) for _, go_name, _, kind in fields],
            {go_name: values[attr] for attr, go_name, _, _ in fields},
        )
    else:
        raw = _json_encode(values, fields)
    return gzip_compress(raw) if compress else raw


def _check_unicode(attr: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise _err(f"{attr} is not valid Unicode", str(e)) from None


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]")


def _json_encode(values: dict[str, object], fields: tuple[tuple[str, str, str, int], ...]) -> bytes:
    obj: dict[str, object] = {}
    for attr, _, key, kind in fields:
        value = values[attr]
        if kind == gob.BYTES:
            assert isinstance(value, bytes)
            obj[key] = base64.b64encode(value).decode("ascii") if value else None
        else:
            obj[key] = value
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # Only string contents can contain these characters: escape them like Go's json.Marshal.
    text = _GO_ESCAPE_RE.sub(lambda m: _GO_ESCAPES[m.group()], text)
    return text.encode("utf-8")


def _decode(
    frame: bytes,
    cls: type[_Env],
    fields: tuple[tuple[str, str, str, int], ...],
    encoding: Encoding,
    compress: bool,
    max_size: int,
) -> _Env:
    _check_encoding(encoding)
    if not isinstance(frame, bytes | bytearray | memoryview):
        raise _err("frame must be bytes", type(frame).__name__)
    frame = bytes(frame)
    if len(frame) > max_size:
        raise _err("frame too large", f"{len(frame)} > {max_size} bytes")
    try:
        raw = gunzip(frame) if compress else frame
        if encoding == "gob":
            values = _gob_values(raw, fields)
        else:
            values = _json_values(raw, fields)
        return cls(**values)  # type: ignore[arg-type]
    except CodecError:
        raise
    except Exception as e:  # safety net: the contract is "CodecError only"
        raise _err("malformed envelope", f"{type(e).__name__}: {e}") from None


def _gob_values(raw: bytes, fields: tuple[tuple[str, str, str, int], ...]) -> dict[str, object]:
    decoded = gob.decode(raw)
    known = {go_name for _, go_name, _, _ in fields}
    if not known & decoded.field_types.keys():
        raise _err("gob type mismatch", f"struct {decoded.name!r} has no envelope fields")
    values: dict[str, object] = {"req_identifier": 0}  # gob omits zero fields
    for attr, go_name, _, kind in fields:
        declared = decoded.field_types.get(go_name)
        if declared is None:
            continue
        ok = declared in (gob.INT, gob.UINT) if kind == gob.INT else declared == kind
        if not ok:
            raise _err("gob type mismatch", f"field {go_name} declared as type id {declared}")
        if go_name in decoded.values:
            value = decoded.values[go_name]
            values[attr] = _check_int(attr, value) if kind == gob.INT else value
    return values


def _reject_constant(name: str) -> object:
    raise _err("invalid JSON", f"non-standard constant {name}")


class _JsonObject(list[tuple[str, object]]):
    """A JSON object as its (key, value) pairs in document order (keeps duplicate keys)."""


_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


def _json_values(raw: bytes, fields: tuple[tuple[str, str, str, int], ...]) -> dict[str, object]:
    # Go reads invalid UTF-8 inside strings as U+FFFD; outside strings it is a syntax error anyway.
    text = raw.decode("utf-8", errors="replace")
    try:
        doc = json.loads(text, object_pairs_hook=_JsonObject, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise _err("invalid JSON", str(e)) from None
    if not isinstance(doc, _JsonObject):
        raise _err("JSON envelope must be an object", type(doc).__name__)
    by_key: dict[str, tuple[str, int]] = {key.casefold(): (attr, kind) for attr, _, key, kind in fields}
    convert: dict[int, Callable[[str, object], object]] = {
        gob.INT: _json_int,
        gob.STRING: _json_str,
        gob.BYTES: _json_bytes,
    }
    values: dict[str, object] = {}
    for key, value in doc:
        target = by_key.get(key.casefold())
        if target is None or value is None:  # unknown key ignored; null leaves the field as is
            continue
        attr, kind = target
        values[attr] = convert[kind](attr, value)
    if "req_identifier" not in values:
        raise _err("JSON envelope lacks reqIdentifier")
    return values


def _json_int(attr: str, value: object) -> int:
    if isinstance(value, float):
        raise _err(f"{attr} must be a JSON integer", repr(value))
    return _check_int(attr, value)


def _json_str(attr: str, value: object) -> str:
    if not isinstance(value, str):
        raise _err(f"{attr} must be a JSON string", type(value).__name__)
    # Go decodes lone surrogate escapes (\ud800) as U+FFFD.
    return _SURROGATE_RE.sub("\ufffd", value)


def _json_bytes(attr: str, value: object) -> bytes:
    if isinstance(value, list) and not isinstance(value, _JsonObject):
        # Go decodes a JSON array of numbers into []byte too.
        out = bytearray()
        for item in value:
            if item is None:
                out.append(0)
            elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255:
                out.append(item)
            else:
                raise _err(f"{attr} array must hold byte values", repr(item)[:50])
        return bytes(out)
    if not isinstance(value, str):
        raise _err(f"{attr} must be a base64 string", type(value).__name__)
    text = value.replace("\r", "").replace("\n", "")  # Go's base64 decoder skips CR/LF
    if len(text) % 4 or not _B64_RE.fullmatch(text):
        raise _err(f"{attr} is not padded standard base64", value[:50])
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise _err(f"{attr} is not padded standard base64", str(e)) from None
