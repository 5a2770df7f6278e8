"""OpenIM's REST JSON codec: Go ``encoding/json`` applied to generated protobuf structs.

The OpenIM API server decodes request bodies and encodes response ``data`` with Go's standard
``encoding/json`` on the generated Go structs, **not** with ``protojson`` (spec rest-api §3.1,
§4). This module reproduces those rules by walking protobuf descriptors:

* keys are the proto field names exactly as written (``userID``, ``faceURL``, ``Msgs``);
* every scalar is written, zero values included; int64/uint64 are exact JSON numbers;
* ``bytes`` are padded standard base64; enums are plain integers;
* unset sub-messages, unset proto3 ``optional`` scalars and unset wrapper fields are ``null``;
* map fields are left out when empty (Go ``omitempty``), other maps are objects with string keys;
* wrapper fields (messages of package ``openim.protobuf``) are the bare value.

Decoding follows Go's semantics: case-insensitive key matching (exact match first), unknown keys
ignored, the last occurrence of a key wins, ``null`` leaves a scalar alone and clears a pointer
(message, wrapper, optional scalar, map, list), strict types (no quoted numbers, no fractions for
integers, no 0/1 for bools) and range checks. Every failure raises
:class:`~openim_sdk.protocol.errors.CodecError` (code 1001) and nothing else.

Two deliberate differences from Go, so that hostile input is refused instead of half-accepted:

* a lone surrogate escape (``"\\ud800"``) is an error (Go substitutes U+FFFD); like invalid
  UTF-8 it is text that cannot be stored or re-encoded as UTF-8;
* containers may nest at most :data:`MAX_DEPTH` levels (Go: 10000).

Public API: :func:`to_go_dict`, :func:`dumps`, :func:`from_go_json`, :func:`loads`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from openim_sdk.protocol.errors import CodecError
from openim_sdk.protocol.jsonparse import (
    MAX_DEPTH,
    MAX_VALUES,
    SURROGATES,
    Pairs,
    checked_str,
    loads,
    parse,
)

__all__ = ["MAX_DEPTH", "MAX_VALUES", "WRAPPER_PACKAGE", "dumps", "from_go_json", "loads", "to_go_dict"]

M = TypeVar("M", bound=Message)

#: Package of OpenIM's wrapper types (``StringValue`` & co), written as bare values.
WRAPPER_PACKAGE = "openim.protobuf"
_F = FieldDescriptor
_INT_RANGES: dict[int, tuple[int, int, str]] = {
    _F.TYPE_INT32: (-(2**31), 2**31 - 1, "int32"),
    _F.TYPE_SINT32: (-(2**31), 2**31 - 1, "int32"),
    _F.TYPE_SFIXED32: (-(2**31), 2**31 - 1, "int32"),
    _F.TYPE_INT64: (-(2**63), 2**63 - 1, "int64"),
    _F.TYPE_SINT64: (-(2**63), 2**63 - 1, "int64"),
    _F.TYPE_SFIXED64: (-(2**63), 2**63 - 1, "int64"),
    _F.TYPE_UINT32: (0, 2**32 - 1, "uint32"),
    _F.TYPE_FIXED32: (0, 2**32 - 1, "uint32"),
    _F.TYPE_UINT64: (0, 2**64 - 1, "uint64"),
    _F.TYPE_FIXED64: (0, 2**64 - 1, "uint64"),
    _F.TYPE_ENUM: (-(2**31), 2**31 - 1, "int32"),
}
_FLOAT32_MAX = 3.4028234663852886e38
_SIGNED_KEY = re.compile(r"[+-]?[0-9]+\Z")
_UNSIGNED_KEY = re.compile(r"[0-9]+\Z")


# --------------------------------------------------------------------------- helpers


def _err(text: str, path: str = "") -> CodecError:
    return CodecError(message=text, detail=path)


def _desc(msg: Message) -> Descriptor:
    return cast(Descriptor, msg.DESCRIPTOR)


def _mt(field: FieldDescriptor) -> Descriptor:
    """The message type of a message/map field."""
    return cast(Descriptor, field.message_type)


def _sub(desc: Descriptor, name: str) -> FieldDescriptor:
    field: FieldDescriptor = desc.fields_by_name[name]
    return field


def _fields(desc: Descriptor) -> list[FieldDescriptor]:
    return cast(list[FieldDescriptor], list(desc.fields))


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == _F.TYPE_MESSAGE and field.is_repeated and bool(_mt(field).GetOptions().map_entry)


def _is_wrapper(desc: Descriptor) -> bool:
    return desc.file.package == WRAPPER_PACKAGE and "value" in desc.fields_by_name


def _short_name(full_name: str) -> str:
    """``openim.sdkws.MsgData`` -> ``sdkws.MsgData`` (the Go type name)."""
    parts = full_name.split(".")
    return ".".join(parts[-2:]) if len(parts) >= 2 else full_name


def _scalar_type_name(field: FieldDescriptor) -> str:
    t = field.type
    if t in _INT_RANGES:
        if t == _F.TYPE_ENUM:
            enum = cast(EnumDescriptor, field.enum_type)
            return _short_name(enum.full_name)
        return _INT_RANGES[t][2]
    if t == _F.TYPE_BOOL:
        return "bool"
    if t == _F.TYPE_STRING:
        return "string"
    if t == _F.TYPE_BYTES:
        return "[]uint8"
    if t == _F.TYPE_FLOAT:
        return "float32"
    if t == _F.TYPE_DOUBLE:
        return "float64"
    return "*" + _short_name(_mt(field).full_name)


def _type_name(field: FieldDescriptor) -> str:
    if _is_map(field):
        entry = _mt(field)
        key = _scalar_type_name(_sub(entry, "key"))
        return f"map[{key}]{_scalar_type_name(_sub(entry, 'value'))}"
    if field.is_repeated:
        return "[]" + _scalar_type_name(field)
    return _scalar_type_name(field)


def _json_kind(value: Any) -> str:
    """Go's name for the JSON value kind in ``cannot unmarshal <kind> into ...``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_error(value: Any, path: str, type_name: str) -> CodecError:
    kind = _json_kind(value)
    if kind == "number":
        kind = f"number {value!r}"
    return _err(f"json: cannot unmarshal {kind} into field {path} of type {type_name}", path)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _fold(name: str) -> str:
    """Go's key folding for ASCII field names (bytes.EqualFold / foldName)."""
    out = []
    for ch in name:
        if ch == "\u212a":  # Kelvin sign folds to K
            out.append("k")
        elif ch == "\u017f":  # long s folds to S
            out.append("s")
        elif ch < "\x80":
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def _clean_str(value: str) -> str:
    """Lone surrogates become U+FFFD, as Go does (encoding only)."""
    return SURROGATES.sub("\ufffd", value) if SURROGATES.search(value) else value


# --------------------------------------------------------------------------- encoding


def _float_out(value: float, field: FieldDescriptor, path: str) -> float | int:
    if math.isnan(value) or math.isinf(value):
        raise _err(f"json: unsupported value: {value!r} (field {path})", path)
    if field.type == _F.TYPE_FLOAT:
        # Shortest decimal that round-trips through float32, like Go's strconv with bitSize 32.
        packed = struct.pack("<f", value)
        for digits in range(1, 10):
            candidate = float(f"{value:.{digits}g}")
            if struct.pack("<f", candidate) == packed:
                value = candidate
                break
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value


def _scalar_out(field: FieldDescriptor, value: Any, path: str) -> Any:
    t = field.type
    if t == _F.TYPE_BYTES:
        return base64.b64encode(bytes(value)).decode("ascii")
    if t in (_F.TYPE_FLOAT, _F.TYPE_DOUBLE):
        return _float_out(float(value), field, path)
    if t == _F.TYPE_ENUM or t in _INT_RANGES:
        return int(value)
    return value


def _message_out(value: Message, path: str, depth: int) -> Any:
    desc = _desc(value)
    if _is_wrapper(desc):
        return _scalar_out(_sub(desc, "value"), getattr(value, "value"), path)  # noqa: B009
    return _to_dict(value, path, depth + 1)


def _map_key_out(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_dict(msg: Message, path: str, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise _err(f"json: message nesting exceeds {MAX_DEPTH} levels", path)
    out: dict[str, Any] = {}
    for field in _fields(_desc(msg)):
        name = field.name
        fpath = _join(path, name)
        value = getattr(msg, name)
        if _is_map(field):
            if not value:
                continue  # Go omitempty on maps
            vfield = _sub(_mt(field), "value")
            items = sorted(((_map_key_out(k), v) for k, v in value.items()), key=lambda kv: kv[0])
            if vfield.type == _F.TYPE_MESSAGE:
                out[name] = {k: _message_out(v, f"{fpath}[{k}]", depth) for k, v in items}
            else:
                out[name] = {k: _scalar_out(vfield, v, f"{fpath}[{k}]") for k, v in items}
        elif field.is_repeated:
            if field.type == _F.TYPE_MESSAGE:
                out[name] = [_message_out(v, f"{fpath}[{i}]", depth) for i, v in enumerate(value)]
            else:
                out[name] = [_scalar_out(field, v, f"{fpath}[{i}]") for i, v in enumerate(value)]
        elif field.type == _F.TYPE_MESSAGE:
            out[name] = _message_out(value, fpath, depth) if msg.HasField(name) else None
        elif field.has_presence and not msg.HasField(name):
            out[name] = None  # unset proto3 optional scalar: nil pointer
        else:
            out[name] = _scalar_out(field, value, fpath)
    return out


def to_go_dict(msg: Message) -> dict[str, Any]:
    """The JSON object Go's ``encoding/json`` would produce for ``msg``, as Python values."""
    if not isinstance(msg, Message):
        raise _err(f"json: cannot encode {type(msg).__name__}: not a protobuf message")
    try:
        return _to_dict(msg, "", 0)
    except CodecError:
        raise
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise _err(f"json: cannot encode {msg.DESCRIPTOR.full_name}: {exc}") from exc


def _default(obj: Any) -> Any:
    if isinstance(obj, Message):
        return to_go_dict(obj)
    if isinstance(obj, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(obj)).decode("ascii")
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_HTML_RE = re.compile("[<>&\u2028\u2029]")


def dumps(obj: Message | Any, *, escape_html: bool = False) -> bytes:
    """Compact UTF-8 JSON for ``obj``, Go style.

    ``obj`` is a protobuf message or any JSON-compatible value; messages nested in dicts or lists
    (for example an envelope's ``data``) are encoded with :func:`to_go_dict`, bytes as base64.
    ``escape_html=True`` also applies Go's HTML escaping (``<`` -> ``\\u003c`` ...), which is only
    needed to reproduce Go's exact bytes (e.g. for hashing).
    """
    try:
        value = to_go_dict(obj) if isinstance(obj, Message) else obj
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_default)
    except CodecError:
        raise
    except (RecursionError, ValueError, TypeError, OverflowError) as exc:
        raise _err(f"json: cannot encode value: {exc}") from exc
    if escape_html:
        text = _HTML_RE.sub(lambda m: _HTML_ESCAPES[m.group(0)], text)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return _clean_str(text).encode("utf-8")


# --------------------------------------------------------------------------- decoding


def _pairs_of(value: Any) -> list[tuple[str, Any]] | None:
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, Pairs):
        return value
    return None


class _FieldIndex:
    __slots__ = ("exact", "folded")

    def __init__(self, desc: Descriptor) -> None:
        self.exact: dict[str, FieldDescriptor] = {}
        self.folded: dict[str, FieldDescriptor] = {}
        for field in _fields(desc):
            self.exact[field.name] = field
            self.folded.setdefault(_fold(field.name), field)

    def find(self, key: str) -> FieldDescriptor | None:
        field = self.exact.get(key)
        if field is None:
            field = self.folded.get(_fold(key))
        return field


_INDEX_CACHE: dict[str, _FieldIndex] = {}


def _index(desc: Descriptor) -> _FieldIndex:
    idx = _INDEX_CACHE.get(desc.full_name)
    if idx is None:
        idx = _INDEX_CACHE[desc.full_name] = _FieldIndex(desc)
    return idx


def _scalar_in(field: FieldDescriptor, value: Any, path: str) -> Any:
    """Convert a non-null JSON value for a scalar field, or raise CodecError."""
    t = field.type
    if t in _INT_RANGES:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _type_error(value, path, _scalar_type_name(field))
        lo, hi, _ = _INT_RANGES[t]
        if not lo <= value <= hi:
            raise _type_error(value, path, _scalar_type_name(field))
        return value
    if t == _F.TYPE_BOOL:
        if not isinstance(value, bool):
            raise _type_error(value, path, "bool")
        return value
    if t == _F.TYPE_STRING:
        if not isinstance(value, str):
            raise _type_error(value, path, "string")
        return checked_str(value, path)
    if t == _F.TYPE_BYTES:
        if not isinstance(value, str):
            raise _type_error(value, path, "[]uint8")
        raw = value.replace("\r", "").replace("\n", "")  # Go's base64 decoder skips newlines
        try:
            return base64.b64decode(raw.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise _err(f"illegal base64 data in field {path}: {exc}", path) from exc
    if t in (_F.TYPE_FLOAT, _F.TYPE_DOUBLE):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _type_error(value, path, _scalar_type_name(field))
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        limit = _FLOAT32_MAX if t == _F.TYPE_FLOAT else 1.7976931348623157e308
        if math.isinf(number) or math.isnan(number) or abs(number) > limit:
            raise _type_error(value, path, _scalar_type_name(field))
        return number
    raise _type_error(value, path, _scalar_type_name(field))  # pragma: no cover


def _map_key_in(field: FieldDescriptor, key: str, path: str) -> Any:
    t = field.type
    if t == _F.TYPE_STRING:
        return checked_str(key, path)
    if t in _INT_RANGES and t != _F.TYPE_ENUM:
        lo, hi, type_name = _INT_RANGES[t]
        pattern = _UNSIGNED_KEY if lo == 0 else _SIGNED_KEY
        if pattern.match(key):
            number = int(key)
            if lo <= number <= hi:
                return number
        raise _err(f"json: cannot unmarshal number {key} into map key of {path} of type {type_name}", path)
    if t == _F.TYPE_BOOL and key in ("true", "false"):
        return key == "true"
    raise _err(f"json: cannot unmarshal map key {key!r} into {path} of type {_scalar_type_name(field)}", path)


def _decode_message(msg: Message, value: Any, path: str, depth: int) -> None:
    """Decode JSON ``value`` (not null) into ``msg`` (merging, as Go does into a struct)."""
    if depth > MAX_DEPTH:
        raise _err(f"json: exceeded max depth {MAX_DEPTH}", path)
    desc = _desc(msg)
    if _is_wrapper(desc):
        vfield = _sub(desc, "value")
        setattr(msg, "value", _scalar_in(vfield, value, path or "value"))  # noqa: B010
        return
    pairs = _pairs_of(value)
    if pairs is None:
        kind = _json_kind(value)
        where = f" into field {path}" if path else ""
        raise _err(f"json: cannot unmarshal {kind}{where} of type {_short_name(desc.full_name)}", path)
    index = _index(desc)
    for key, item in pairs:
        field = index.find(key)
        if field is None:
            continue  # unknown keys are ignored
        _decode_field(msg, field, item, _join(path, field.name), depth)


def _decode_field(msg: Message, field: FieldDescriptor, value: Any, path: str, depth: int) -> None:
    name = field.name
    if _is_map(field):
        target = getattr(msg, name)
        if value is None:
            msg.ClearField(name)
            return
        pairs = _pairs_of(value)
        if pairs is None:
            raise _type_error(value, path, _type_name(field))
        kfield = _sub(_mt(field), "key")
        vfield = _sub(_mt(field), "value")
        for key, item in pairs:
            k = _map_key_in(kfield, key, path)
            kpath = f"{path}[{key}]"
            if vfield.type == _F.TYPE_MESSAGE:
                sub = target[k]  # creates the entry; Go decodes each value into a fresh element
                sub.Clear()
                if item is not None:
                    _decode_message(sub, item, kpath, depth + 1)
            elif item is None:
                target[k] = vfield.default_value
            else:
                target[k] = _scalar_in(vfield, item, kpath)
        return
    if field.is_repeated:
        if value is None:
            msg.ClearField(name)
            return
        if not isinstance(value, list):
            raise _type_error(value, path, _type_name(field))
        msg.ClearField(name)
        target = getattr(msg, name)
        if field.type == _F.TYPE_MESSAGE:
            for i, item in enumerate(value):
                sub = target.add()
                if item is not None:
                    _decode_message(sub, item, f"{path}[{i}]", depth + 1)
        else:
            converted = [
                field.default_value if item is None else _scalar_in(field, item, f"{path}[{i}]")
                for i, item in enumerate(value)
            ]
            target.extend(converted)
        return
    if field.type == _F.TYPE_MESSAGE:
        if value is None:
            msg.ClearField(name)  # nil pointer
            return
        sub = getattr(msg, name)
        if _is_wrapper(_mt(field)):
            _decode_message(sub, value, path, depth + 1)
            sub.SetInParent()
        else:
            if _pairs_of(value) is None:
                raise _type_error(value, path, _type_name(field))
            _decode_message(sub, value, path, depth + 1)
            sub.SetInParent()
        return
    if value is None:
        if field.has_presence:
            msg.ClearField(name)  # optional scalar: nil pointer
        return  # plain scalar: null is a no-op in Go
    setattr(msg, name, _scalar_in(field, value, path))


def from_go_json(
    cls_or_instance: type[M] | M, data: bytes | bytearray | memoryview | str | Mapping[str, Any] | None
) -> M:
    """Decode Go-style JSON into a protobuf message.

    ``cls_or_instance`` is a message class (a new message is returned) or an instance (decoded
    into, Go style: fields absent from the JSON keep their values; the instance is only changed
    when decoding succeeds, and is returned). ``data`` is the raw body (bytes/str), an already
    parsed JSON object (dict), or ``None``. ``None`` and a JSON ``null`` decode to no change (Go's
    behaviour, e.g. an envelope's ``"data": null``). An empty body, malformed JSON, a non-object
    top level or any type mismatch raises :class:`CodecError`.
    """
    if isinstance(cls_or_instance, Message):
        instance: M | None = cls_or_instance
        target = type(cls_or_instance)()
        target.CopyFrom(cls_or_instance)
    elif isinstance(cls_or_instance, type) and issubclass(cls_or_instance, Message):
        instance = None
        target = cls_or_instance()
    else:
        raise _err(f"json: cannot decode into {cls_or_instance!r}: not a protobuf message")
    try:
        if isinstance(data, Mapping) or data is None:
            value: Any = data
        else:
            value = parse(data, Pairs)
        if value is not None:
            if _pairs_of(value) is None:
                raise _err(
                    f"json: cannot unmarshal {_json_kind(value)} into value of type "
                    f"{_short_name(target.DESCRIPTOR.full_name)}"
                )
            _decode_message(target, value, "", 0)
    except CodecError:
        raise
    except RecursionError as exc:
        raise _err("json: exceeded max depth") from exc
    except (ValueError, TypeError, OverflowError, AttributeError, KeyError, UnicodeError) as exc:
        raise _err(f"json: cannot decode {target.DESCRIPTOR.full_name}: {exc}") from exc
    if instance is None:
        return target
    instance.CopyFrom(target)
    return instance
