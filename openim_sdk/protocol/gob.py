"""A small subset of Go's ``encoding/gob``, enough for OpenIM's WebSocket envelopes.

Spec: docs/spec/ws-protocol.md §2.4. Each WS frame is one self-contained gob stream written by
a fresh encoder: type-definition message(s), then one struct value message.

Wire primitives
    uint    < 128: one byte; else a byte ``256 - n`` followed by ``n`` big-endian bytes (n <= 8)
    int     zig-zag folded into a uint (``i << 1`` for i >= 0, ``(~i << 1) | 1`` for i < 0)
    string, []byte   uint length + raw bytes
    struct  for each non-zero field: uint field-number *delta*, then the value; ``0`` ends it
    message uint byte count of (type id + body), int type id, body. A negative id defines type
            ``-id`` (body = ``wireType``); a positive id is a value of that type.

Decoding (:func:`decode`) reads type definitions until the first value message and returns it
as a :class:`GobStruct` whose fields are keyed **by name** (gob matches fields by name, so field
order, struct name and type ids >= 64 are all free). Field values of the builtin kinds bool, int,
uint, float, []byte, string, complex are decoded; values of user-defined slice / array / map /
struct / GobEncoder types declared in the same stream are decoded (or skipped) as Python
lists / pairs / dicts / bytes. Interface-typed fields are not supported. Anything after the first
value message is ignored, as Go's ``Decoder.Decode`` does.

Every failure -- truncated input, lengths beyond the remaining bytes, bad type ids, excessive
nesting -- raises :class:`~openim_sdk.protocol.errors.CodecError` and nothing else; every loop is
bounded by the input length, so decoding never hangs.

Encoding (:func:`encode_struct`) writes a fresh stream: the definition of one struct type with
scalar fields, then its value with zero fields omitted.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from openim_sdk.protocol.errors import CodecError

__all__ = [
    "BOOL",
    "BYTES",
    "FLOAT",
    "INT",
    "STRING",
    "UINT",
    "GobStruct",
    "decode",
    "encode_int",
    "encode_struct",
    "encode_uint",
]

# Builtin type ids (Go encoding/gob type.go).
BOOL = 1
INT = 2
UINT = 3
FLOAT = 4
BYTES = 5
STRING = 6
COMPLEX = 7
INTERFACE = 8
FIRST_USER_ID = 64  # Go's firstUserId; the first id Go actually hands out is 65

_SCALAR_KINDS = frozenset({BOOL, INT, UINT, FLOAT, BYTES, STRING, COMPLEX})

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT64_MAX = (1 << 64) - 1

_MAX_DEPTH = 32  # nesting of composite values and of type-definition structs
_MAX_TYPE_DEFS = 64  # type-definition messages accepted before the value


def _fail(detail: str) -> CodecError:
    return CodecError(message="malformed gob stream", detail=detail)


# --- user-defined wire types ---------------------------------------------------------------


@dataclass(frozen=True)
class _StructDef:
    name: str
    fields: tuple[tuple[str, int], ...]  # (field name, type id) in declaration order


@dataclass(frozen=True)
class _SliceDef:
    elem: int


@dataclass(frozen=True)
class _ArrayDef:
    elem: int
    length: int


@dataclass(frozen=True)
class _MapDef:
    key: int
    elem: int


@dataclass(frozen=True)
class _EncoderDef:
    """GobEncoder / BinaryMarshaler / TextMarshaler: the value is a byte string."""


_TypeDef = _StructDef | _SliceDef | _ArrayDef | _MapDef | _EncoderDef


@dataclass(frozen=True)
class GobStruct:
    """A decoded top-level struct value.

    ``field_types`` maps every declared field name to its wire type id (as in the received type
    definition); ``values`` holds the fields present in the value message (gob omits zero
    fields, so an absent name means the zero value of its type).
    """

    name: str
    type_id: int
    field_types: dict[str, int] = field(default_factory=dict)
    values: dict[str, object] = field(default_factory=dict)


# --- reading --------------------------------------------------------------------------------


class _Reader:
    """Bounds-checked cursor over ``data[pos:end]``."""

    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, pos: int = 0, end: int | None = None) -> None:
        self.data = data
        self.pos = pos
        self.end = len(data) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def take(self, n: int) -> bytes:
        if n < 0 or n > self.remaining:
            raise _fail(f"need {n} bytes, {self.remaining} left")
        start = self.pos
        self.pos += n
        return self.data[start : self.pos]

    def read_uint(self) -> int:
        if self.pos >= self.end:
            raise _fail("unexpected end of data reading uint")
        b = self.data[self.pos]
        self.pos += 1
        if b < 0x80:
            return b
        n = 256 - b
        if n > 8:
            raise _fail(f"uint with {n} bytes")
        return int.from_bytes(self.take(n), "big")

    def read_int(self) -> int:
        u = self.read_uint()
        return ~(u >> 1) if u & 1 else u >> 1

    def read_count(self) -> int:
        """A length or element count: never more than the bytes left (each item takes >= 1)."""
        n = self.read_uint()
        if n > self.remaining:
            raise _fail(f"length {n} exceeds the {self.remaining} bytes left")
        return n

    def read_raw(self) -> bytes:
        return self.take(self.read_count())

    def read_string(self) -> str:
        # Go strings are arbitrary bytes; invalid UTF-8 is replaced, never an error.
        return self.read_raw().decode("utf-8", errors="replace")


def _read_struct(r: _Reader, handlers: Sequence[Callable[[_Reader], None]]) -> None:
    """Read a fixed-schema struct: call ``handlers[i]`` for each present field ``i``."""
    index = -1
    while True:
        delta = r.read_uint()
        if delta == 0:
            return
        index += delta
        if index >= len(handlers):
            raise _fail(f"field number {index} out of range")
        handlers[index](r)


def _read_common(r: _Reader) -> str:
    """CommonType{Name string; Id int}: returns Name (the id is implied by the message)."""
    name = ""

    def set_name(rr: _Reader) -> None:
        nonlocal name
        name = rr.read_string()

    def skip_id(rr: _Reader) -> None:
        rr.read_int()

    _read_struct(r, (set_name, skip_id))
    return name


def _skip_common(r: _Reader) -> None:
    _read_common(r)


def _read_common_and_ints(r: _Reader, n: int) -> list[int]:
    """A type struct made of CommonType followed by ``n`` int fields (sliceType, mapType...)."""
    values = [0] * n

    def setter(i: int) -> Callable[[_Reader], None]:
        def set_value(rr: _Reader) -> None:
            values[i] = rr.read_int()

        return set_value

    _read_struct(r, (_skip_common, *(setter(i) for i in range(n))))
    return values


def _read_field_type(r: _Reader) -> tuple[str, int]:
    """fieldType{Name string; Id int}."""
    name = ""
    tid = 0

    def set_name(rr: _Reader) -> None:
        nonlocal name
        name = rr.read_string()

    def set_id(rr: _Reader) -> None:
        nonlocal tid
        tid = rr.read_int()

    _read_struct(r, (set_name, set_id))
    return name, tid


def _read_struct_type(r: _Reader) -> _StructDef:
    """structType{CommonType; Field []fieldType}."""
    name = ""
    fields: list[tuple[str, int]] = []

    def set_common(rr: _Reader) -> None:
        nonlocal name
        name = _read_common(rr)

    def set_fields(rr: _Reader) -> None:
        for _ in range(rr.read_count()):
            fields.append(_read_field_type(rr))

    _read_struct(r, (set_common, set_fields))
    return _StructDef(name, tuple(fields))


def _read_wire_type(r: _Reader) -> _TypeDef:
    """wireType{ArrayT, SliceT, StructT, MapT, GobEncoderT, BinaryMarshalerT, TextMarshalerT}."""
    found: list[_TypeDef] = []

    def array_t(rr: _Reader) -> None:
        elem, length = _read_common_and_ints(rr, 2)
        if length < 0:
            raise _fail("negative array length")
        found.append(_ArrayDef(elem, length))

    def slice_t(rr: _Reader) -> None:
        (elem,) = _read_common_and_ints(rr, 1)
        found.append(_SliceDef(elem))

    def struct_t(rr: _Reader) -> None:
        found.append(_read_struct_type(rr))

    def map_t(rr: _Reader) -> None:
        key, elem = _read_common_and_ints(rr, 2)
        found.append(_MapDef(key, elem))

    def encoder_t(rr: _Reader) -> None:
        _read_common(rr)
        found.append(_EncoderDef())

    _read_struct(r, (array_t, slice_t, struct_t, map_t, encoder_t, encoder_t, encoder_t))
    if len(found) != 1:
        raise _fail(f"type definition sets {len(found)} kinds, want 1")
    return found[0]


class _ValueDecoder:
    def __init__(self, types: Mapping[int, _TypeDef]) -> None:
        self.types = types

    def value(self, r: _Reader, tid: int, depth: int) -> object:
        if tid in _SCALAR_KINDS:
            return _read_scalar(r, tid)
        if depth >= _MAX_DEPTH:
            raise _fail("values nested too deeply")
        t = self.types.get(tid)
        if t is None:
            if tid == INTERFACE:
                raise _fail("interface values are not supported")
            raise _fail(f"value of undefined type id {tid}")
        if isinstance(t, _StructDef):
            return self.struct(r, t, depth + 1)
        if isinstance(t, _SliceDef):
            return [self.value(r, t.elem, depth + 1) for _ in range(r.read_count())]
        if isinstance(t, _ArrayDef):
            n = r.read_count()
            if n != t.length:
                raise _fail(f"array length {n}, want {t.length}")
            return [self.value(r, t.elem, depth + 1) for _ in range(n)]
        if isinstance(t, _MapDef):
            return [
                (self.value(r, t.key, depth + 1), self.value(r, t.elem, depth + 1))
                for _ in range(r.read_count())
            ]
        return r.read_raw()  # _EncoderDef

    def struct(self, r: _Reader, t: _StructDef, depth: int) -> dict[str, object]:
        out: dict[str, object] = {}
        index = -1
        while True:
            delta = r.read_uint()
            if delta == 0:
                return out
            index += delta
            if index >= len(t.fields):
                raise _fail(f"field number {index} out of range for {t.name!r}")
            name, ftid = t.fields[index]
            out[name] = self.value(r, ftid, depth)


def _read_scalar(r: _Reader, tid: int) -> object:
    if tid == INT:
        return r.read_int()
    if tid == UINT:
        return r.read_uint()
    if tid == STRING:
        return r.read_string()
    if tid == BYTES:
        return r.read_raw()
    if tid == BOOL:
        return r.read_uint() != 0
    if tid == FLOAT:
        return _float(r.read_uint())
    real = _float(r.read_uint())  # COMPLEX
    return complex(real, _float(r.read_uint()))


def _float(u: int) -> float:
    # Go sends the float64 bits byte-reversed, as a uint.
    value: float = struct.unpack("<d", u.to_bytes(8, "big"))[0]
    return value


def decode(data: bytes) -> GobStruct:
    """Decode one gob stream: type definitions, then the first (struct) value.

    Raises :class:`CodecError` on any malformed input.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise _fail(f"expected bytes, got {type(data).__name__}")
    buf = bytes(data)
    r = _Reader(buf)
    types: dict[int, _TypeDef] = {}
    while True:
        if r.remaining == 0:
            raise _fail("stream ended before a value" if buf else "empty stream")
        n = r.read_count()
        if n == 0:
            raise _fail("empty message")
        msg = _Reader(buf, r.pos, r.pos + n)
        r.pos += n
        tid = msg.read_int()
        if tid < 0:
            tid = -tid
            if tid < FIRST_USER_ID:
                raise _fail(f"definition of reserved type id {tid}")
            if tid in types:
                raise _fail(f"duplicate definition of type id {tid}")
            if len(types) >= _MAX_TYPE_DEFS:
                raise _fail("too many type definitions")
            types[tid] = _read_wire_type(msg)
            if msg.remaining:
                raise _fail("extra data after a type definition")
            continue
        if tid == 0:
            raise _fail("type id 0")
        t = types.get(tid)
        if not isinstance(t, _StructDef):
            raise _fail(f"top-level value of type id {tid} is not a defined struct")
        values = _ValueDecoder(types).struct(msg, t, 1)
        if msg.remaining:
            raise _fail("extra data after the value")
        return GobStruct(t.name, tid, dict(t.fields), values)


# --- writing --------------------------------------------------------------------------------


def encode_uint(u: int) -> bytes:
    if u < 0 or u > UINT64_MAX:
        raise CodecError(message="gob uint out of range", detail=str(u))
    if u < 0x80:
        return bytes((u,))
    body = u.to_bytes((u.bit_length() + 7) // 8, "big")
    return bytes((256 - len(body),)) + body


def encode_int(i: int) -> bytes:
    if i < INT64_MIN or i > INT64_MAX:
        raise CodecError(message="gob int out of range", detail=str(i))
    return encode_uint(i << 1 if i >= 0 else (~i << 1) | 1)


def _encode_str(s: str) -> bytes:
    try:
        raw = s.encode("utf-8")
    except UnicodeEncodeError as e:
        raise CodecError(message="string is not encodable as UTF-8", detail=str(e)) from None
    return encode_uint(len(raw)) + raw


def _struct(parts: Sequence[bytes | None]) -> bytes:
    """Encode struct fields (already-encoded values, None = zero/omitted) with deltas."""
    out = bytearray()
    last = -1
    for i, part in enumerate(parts):
        if part is None:
            continue
        out += encode_uint(i - last)
        out += part
        last = i
    out.append(0)
    return bytes(out)


def _message(tid: int, body: bytes) -> bytes:
    payload = encode_int(tid) + body
    return encode_uint(len(payload)) + payload


def _encode_scalar(kind: int, value: object) -> bytes | None:
    """The encoding of ``value`` as ``kind``, or None for the zero value."""
    if kind in (INT, UINT):
        if not isinstance(value, int) or isinstance(value, bool):
            raise CodecError(message="gob int field needs an int", detail=repr(value))
        if value == 0:
            return None
        return encode_int(value) if kind == INT else encode_uint(value)
    if kind == BOOL:
        if not isinstance(value, bool):
            raise CodecError(message="gob bool field needs a bool", detail=repr(value))
        return b"\x01" if value else None
    if kind == STRING:
        if not isinstance(value, str):
            raise CodecError(message="gob string field needs a str", detail=repr(value))
        return _encode_str(value) if value else None
    if kind == BYTES:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise CodecError(message="gob []byte field needs bytes", detail=repr(value))
        raw = bytes(value)
        return encode_uint(len(raw)) + raw if raw else None
    raise CodecError(message="unsupported gob field kind", detail=str(kind))


def encode_struct(
    name: str,
    fields: Sequence[tuple[str, int]],
    values: Mapping[str, object],
    type_id: int = 65,
) -> bytes:
    """A fresh gob stream: the definition of struct ``name`` (id ``type_id``), then its value.

    ``fields`` lists ``(field name, kind)`` in declaration order, kind one of :data:`INT`,
    :data:`UINT`, :data:`BOOL`, :data:`STRING`, :data:`BYTES`. Missing or zero values are
    omitted, as Go does.
    """
    if type_id < FIRST_USER_ID:
        raise CodecError(message="gob user type ids start at 64", detail=str(type_id))
    common = _struct([_encode_str(name) if name else None, encode_int(type_id)])
    field_list = encode_uint(len(fields)) + b"".join(
        _struct([_encode_str(fname) if fname else None, encode_int(kind)]) for fname, kind in fields
    )
    struct_type = _struct([common, field_list])
    wire_type = _struct([None, None, struct_type])  # StructT is wireType field 2
    value = _struct([_encode_scalar(kind, values.get(fname, _zero(kind))) for fname, kind in fields])
    return _message(-type_id, wire_type) + _message(type_id, value)


def _zero(kind: int) -> object:
    return {INT: 0, UINT: 0, BOOL: False, STRING: "", BYTES: b""}.get(kind, 0)
