"""The Go encoding/gob subset (openim_sdk.protocol.gob), spec ws-protocol §2.4."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openim_sdk.protocol import gob
from openim_sdk.protocol.errors import CodecError

RESP_FIELDS = [
    ("ReqIdentifier", gob.INT),
    ("MsgIncr", gob.STRING),
    ("OperationID", gob.STRING),
    ("ErrCode", gob.INT),
    ("ErrMsg", gob.STRING),
    ("Data", gob.BYTES),
]

# The worked example of spec §2.4, byte for byte.
SPEC_TYPEDEF = bytes.fromhex(
    "60ff8103010104" + b"Resp".hex() + "01ff82000106"
    "010d" + b"ReqIdentifier".hex() + "010400"
    "0107" + b"MsgIncr".hex() + "010c00"
    "010b" + b"OperationID".hex() + "010c00"
    "0107" + b"ErrCode".hex() + "010400"
    "0106" + b"ErrMsg".hex() + "010c00"
    "0104" + b"Data".hex() + "010a00"
    "0000"
)
SPEC_VALUE = bytes.fromhex(
    "29ff8201fe07d20104"
    + b"u1_1".hex()
    + "0103"
    + b"op1".hex()
    + "01fe0a2c010d"
    + b"BlockedByPeer".hex()
    + "0102010200"
)
KICK_VALUE = bytes.fromhex("07ff8201fe0fa400")


# --- hand-built streams (independent of the encoder under test) ----------------------------


def u(n: int) -> bytes:
    if n < 128:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((256 - len(body),)) + body


def i(n: int) -> bytes:
    return u(n << 1 if n >= 0 else (~n << 1) | 1)


def s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return u(len(raw)) + raw


def msg(tid: int, body: bytes) -> bytes:
    payload = i(tid) + body
    return u(len(payload)) + payload


def common(name: str, tid: int) -> bytes:
    return b"\x01" + s(name) + b"\x01" + i(tid) + b"\x00"


def struct_def(tid: int, name: str, fields: list[tuple[str, int]]) -> bytes:
    body = b"\x01" + common(name, tid) + b"\x01" + u(len(fields))
    body += b"".join(b"\x01" + s(fname) + b"\x01" + i(ftid) + b"\x00" for fname, ftid in fields)
    return msg(-tid, b"\x03" + body + b"\x00\x00")


def slice_def(tid: int, elem: int) -> bytes:
    return msg(-tid, b"\x02" + b"\x01" + common("", tid) + b"\x01" + i(elem) + b"\x00\x00")


def map_def(tid: int, key: int, elem: int) -> bytes:
    return msg(-tid, b"\x04" + b"\x01" + common("", tid) + b"\x01" + i(key) + b"\x01" + i(elem) + b"\x00\x00")


def array_def(tid: int, elem: int, length: int) -> bytes:
    body = b"\x01" + common("", tid) + b"\x01" + i(elem) + b"\x01" + i(length) + b"\x00"
    return msg(-tid, b"\x01" + body + b"\x00")


def value(tid: int, parts: list[tuple[int, bytes]]) -> bytes:
    """``parts``: (field index, encoded value) in increasing index order."""
    body = b""
    last = -1
    for index, enc in parts:
        body += u(index - last) + enc
        last = index
    return msg(tid, body + b"\x00")


# --- primitives ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "hex_"),
    [(0, "00"), (1, "01"), (127, "7f"), (128, "ff80"), (255, "ffff"), (256, "fe0100"), (2002, "fe07d2")],
)
def test_encode_uint(n: int, hex_: str) -> None:
    assert gob.encode_uint(n).hex() == hex_


@pytest.mark.parametrize(
    ("n", "hex_"), [(0, "00"), (-1, "01"), (1, "02"), (-65, "ff81"), (65, "ff82"), (1001, "fe07d2")]
)
def test_encode_int(n: int, hex_: str) -> None:
    assert gob.encode_int(n).hex() == hex_


def test_encode_int_bounds() -> None:
    assert gob.encode_int(gob.INT64_MIN).hex() == "f8" + "ff" * 8
    assert gob.encode_uint(gob.UINT64_MAX).hex() == "f8" + "ff" * 8
    for bad in (gob.INT64_MAX + 1, gob.INT64_MIN - 1):
        with pytest.raises(CodecError):
            gob.encode_int(bad)
    with pytest.raises(CodecError):
        gob.encode_uint(-1)


# --- the spec example -----------------------------------------------------------------------


def test_spec_example_encodes_byte_for_byte() -> None:
    out = gob.encode_struct(
        "Resp",
        RESP_FIELDS,
        {
            "ReqIdentifier": 1001,
            "MsgIncr": "u1_1",
            "OperationID": "op1",
            "ErrCode": 1302,
            "ErrMsg": "BlockedByPeer",
            "Data": b"\x01\x02",
        },
        type_id=65,
    )
    assert out == SPEC_TYPEDEF + SPEC_VALUE
    assert SPEC_TYPEDEF[0] == 0x60 == len(SPEC_TYPEDEF) - 1


def test_spec_example_decodes() -> None:
    got = gob.decode(SPEC_TYPEDEF + SPEC_VALUE)
    assert got.name == "Resp"
    assert got.type_id == 65
    assert got.field_types == dict(RESP_FIELDS)
    assert got.values == {
        "ReqIdentifier": 1001,
        "MsgIncr": "u1_1",
        "OperationID": "op1",
        "ErrCode": 1302,
        "ErrMsg": "BlockedByPeer",
        "Data": b"\x01\x02",
    }


def test_kick_value() -> None:
    got = gob.decode(SPEC_TYPEDEF + KICK_VALUE)
    assert got.values == {"ReqIdentifier": 2002}
    assert gob.encode_struct("Resp", RESP_FIELDS, {"ReqIdentifier": 2002}) == SPEC_TYPEDEF + KICK_VALUE


def test_all_zero_struct_is_single_zero_byte() -> None:
    out = gob.encode_struct("Resp", RESP_FIELDS, {})
    assert out == SPEC_TYPEDEF + bytes.fromhex("03ff8200")
    assert gob.decode(out).values == {}


def test_trailing_messages_after_value_are_ignored() -> None:
    # Go's Decoder.Decode reads exactly one value; what follows is left unread.
    assert gob.decode(SPEC_TYPEDEF + KICK_VALUE + SPEC_VALUE).values == {"ReqIdentifier": 2002}


# --- tolerance ------------------------------------------------------------------------------


@pytest.mark.parametrize("tid", [64, 65, 70, 200, 100000])
def test_other_order_name_id_and_unknown_fields(tid: int) -> None:
    stream = struct_def(
        tid,
        "GeneralWsResp",
        [
            ("Data", gob.BYTES),
            ("Extra", gob.STRING),
            ("ErrMsg", gob.STRING),
            ("Flag", gob.BOOL),
            ("ReqIdentifier", gob.INT),
            ("Count", gob.UINT),
            ("Ratio", gob.FLOAT),
            ("OperationID", gob.STRING),
            ("MsgIncr", gob.STRING),
            ("ErrCode", gob.INT),
            ("Z", gob.COMPLEX),
        ],
    ) + value(
        tid,
        [
            (0, s(b"\xaa")),
            (1, s("ignored")),
            (2, s("")),  # present but empty: legal, if unusual
            (3, u(1)),
            (4, i(-7)),
            (5, u(300)),
            (6, u(int.from_bytes(struct.pack("<d", 1.5), "big"))),
            (7, s("op")),
            (8, s("m_1")),
            (9, i(-1)),
            (10, u(0) + u(int.from_bytes(struct.pack("<d", 2.0), "big"))),
        ],
    )
    got = gob.decode(stream)
    assert got.name == "GeneralWsResp"
    assert got.type_id == tid
    assert got.values == {
        "Data": b"\xaa",
        "Extra": "ignored",
        "ErrMsg": "",
        "Flag": True,
        "ReqIdentifier": -7,
        "Count": 300,
        "Ratio": 1.5,
        "OperationID": "op",
        "MsgIncr": "m_1",
        "ErrCode": -1,
        "Z": complex(0.0, 2.0),
    }


def test_composite_fields_of_user_types() -> None:
    # A []string, a map[string]int, a [2]int and a nested struct, all defined in the stream.
    stream = (
        slice_def(66, gob.STRING)
        + map_def(67, gob.STRING, gob.INT)
        + array_def(68, gob.INT, 2)
        + struct_def(69, "Inner", [("A", gob.INT), ("B", 66)])
        + struct_def(
            70, "Outer", [("List", 66), ("Map", 67), ("Arr", 68), ("In", 69), ("ReqIdentifier", gob.INT)]
        )
        + value(
            70,
            [
                (0, u(2) + s("x") + s("yz")),
                (1, u(1) + s("k") + i(5)),
                (2, u(2) + i(1) + i(-1)),
                (3, b"\x01" + i(3) + b"\x01" + u(1) + s("q") + b"\x00"),
                (4, i(1001)),
            ],
        )
    )
    got = gob.decode(stream)
    assert got.values == {
        "List": ["x", "yz"],
        "Map": [("k", 5)],
        "Arr": [1, -1],
        "In": {"A": 3, "B": ["q"]},
        "ReqIdentifier": 1001,
    }


def test_gob_encoder_type_field_is_bytes() -> None:
    enc_def = msg(-66, b"\x05" + common("time.Time", 66) + b"\x00")
    stream = enc_def + struct_def(65, "R", [("T", 66), ("ReqIdentifier", gob.INT)])
    stream += value(65, [(0, s(b"\x01\x02\x03")), (1, i(7))])
    assert gob.decode(stream).values == {"T": b"\x01\x02\x03", "ReqIdentifier": 7}


def test_non_utf8_string_is_replaced_not_rejected() -> None:
    stream = struct_def(65, "R", [("S", gob.STRING)]) + value(65, [(0, s(b"a\xffb"))])
    assert gob.decode(stream).values == {"S": "a\ufffdb"}


def test_non_canonical_uint_accepted() -> None:
    # 0xfe 0x00 0x05 is a (wasteful) two-byte encoding of 5; Go accepts it.
    stream = struct_def(65, "R", [("N", gob.UINT)]) + value(65, [(0, bytes.fromhex("fe0005"))])
    assert gob.decode(stream).values == {"N": 5}


# --- encoder ----------------------------------------------------------------------------------


field_values = st.fixed_dictionaries(
    {
        "I": st.integers(gob.INT64_MIN, gob.INT64_MAX),
        "U": st.integers(0, gob.UINT64_MAX),
        "B": st.booleans(),
        "S": st.text(st.characters(codec="utf-8"), max_size=40),
        "D": st.binary(max_size=300),
    }
)
FIELDS = [("I", gob.INT), ("U", gob.UINT), ("B", gob.BOOL), ("S", gob.STRING), ("D", gob.BYTES)]


@settings(max_examples=150, deadline=None)
@given(field_values, st.integers(65, 1 << 40), st.text(st.characters(codec="utf-8"), max_size=20))
def test_roundtrip(vals: dict[str, object], tid: int, name: str) -> None:
    got = gob.decode(gob.encode_struct(name, FIELDS, vals, type_id=tid))
    assert got.name == name
    assert got.type_id == tid
    assert got.field_types == dict(FIELDS)
    nonzero = {k: v for k, v in vals.items() if v}
    assert got.values == nonzero


def test_encoder_rejects_bad_values() -> None:
    with pytest.raises(CodecError):
        gob.encode_struct("R", [("S", gob.STRING)], {"S": "\ud800"})
    with pytest.raises(CodecError):
        gob.encode_struct("R", [("I", gob.INT)], {"I": "1"})
    with pytest.raises(CodecError):
        gob.encode_struct("R", [("I", gob.INT)], {"I": True})
    with pytest.raises(CodecError):
        gob.encode_struct("R", [("D", gob.BYTES)], {"D": "x"})
    with pytest.raises(CodecError):
        gob.encode_struct("R", [("I", gob.INT)], {}, type_id=2)


# --- malformed input ----------------------------------------------------------------------------

VALID = SPEC_TYPEDEF + SPEC_VALUE
# SliceT{CommonType{}} and then StructT{CommonType{Name: "R"}} in one wireType.
TWO_KINDS = msg(-65, b"\x02\x01" + common("", 65) + b"\x00" + b"\x01\x01" + common("R", 65) + b"\x00\x00")


@pytest.mark.parametrize("cut", range(len(VALID)))
def test_truncated_at_every_cut_point(cut: int) -> None:
    with pytest.raises(CodecError):
        gob.decode(VALID[:cut])


@pytest.mark.parametrize(
    ("name", "stream"),
    [
        ("empty", b""),
        ("zero-length message", b"\x00"),
        ("length beyond data", b"\x7f\x01\x02"),
        ("huge length", b"\xf8" + b"\xff" * 8 + b"\x00"),
        ("uint with 9 bytes", b"\xf7" + b"\x01" * 9),
        ("uint 0x80 prefix", b"\x80"),
        ("type id 0", msg(0, b"\x00")),
        ("value before definition", KICK_VALUE),
        ("only a definition", SPEC_TYPEDEF),
        ("reserved type id", struct_def(6, "R", [("A", gob.INT)]) + value(6, [(0, i(1))])),
        ("duplicate definition", SPEC_TYPEDEF + SPEC_TYPEDEF + KICK_VALUE),
        ("builtin top-level value", msg(6, b"\x00" + s("x"))),
        ("field index out of range", struct_def(65, "R", [("A", gob.INT)]) + value(65, [(1, i(1))])),
        ("struct delta overflows", struct_def(65, "R", [("A", gob.INT)]) + msg(65, b"\xf8" + b"\xff" * 8)),
        ("undefined field type", struct_def(65, "R", [("A", 99)]) + value(65, [(0, i(1))])),
        ("interface field", struct_def(65, "R", [("A", gob.INTERFACE)]) + value(65, [(0, s("x"))])),
        ("wiretype with no kind", msg(-65, b"\x00")),
        ("wiretype with two kinds", TWO_KINDS),
        ("wiretype field 8", msg(-65, b"\x08\x00\x00")),
        ("extra data in definition", msg(-65, SPEC_TYPEDEF[3:] + b"\x00")[:-1] + b"\x00" + KICK_VALUE),
        ("extra data in value", SPEC_TYPEDEF + msg(65, b"\x01\x02\x00\x07")),
        ("string length beyond message", SPEC_TYPEDEF + msg(65, b"\x02\x7f")),
        (
            "array length mismatch",
            array_def(66, gob.INT, 3) + struct_def(65, "R", [("A", 66)]) + value(65, [(0, u(1) + i(1))]),
        ),
        (
            "negative array length",
            array_def(66, gob.INT, -1) + struct_def(65, "R", [("A", 66)]) + value(65, [(0, u(0))]),
        ),
        (
            "slice count beyond data",
            slice_def(66, gob.INT) + struct_def(65, "R", [("A", 66)]) + value(65, [(0, u(100))]),
        ),
    ],
)
def test_malformed(name: str, stream: bytes) -> None:
    with pytest.raises(CodecError):
        gob.decode(stream)


def test_self_recursive_type_is_depth_limited() -> None:
    # type T struct{ Next *T }: each level costs 2 bytes; 200 levels exceed the nesting cap.
    stream = struct_def(65, "T", [("Next", 65)])
    body = b"\x01" * 200 + b"\x00" * 201
    with pytest.raises(CodecError, match="nested"):
        gob.decode(stream + msg(65, body))
    ok = gob.decode(stream + msg(65, b"\x01\x01\x00\x00\x00"))
    assert ok.values == {"Next": {"Next": {}}}


def test_too_many_type_definitions() -> None:
    defs = b"".join(struct_def(100 + k, "T", []) for k in range(100))
    with pytest.raises(CodecError, match="too many"):
        gob.decode(defs + struct_def(65, "R", []) + value(65, []))


def test_not_bytes() -> None:
    with pytest.raises(CodecError):
        gob.decode("abc")  # type: ignore[arg-type]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_random_bytes_only_codec_error(data: bytes) -> None:
    try:
        gob.decode(data)
    except CodecError:
        pass


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_mutated_frames_only_codec_error(data: st.DataObject) -> None:
    frame = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(frame) - 1))
        frame[pos] = data.draw(st.integers(0, 255))
    try:
        gob.decode(bytes(frame))
    except CodecError:
        pass
