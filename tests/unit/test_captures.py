"""Decode the payloads recorded from the official SDKs (docs/spec/captures/*.txt).

Each capture shows WS frames with their protobuf ``data`` as hex after ``data(pb)=`` and HTTP
requests with their JSON ``body``. The probe cut long hex dumps: client frames (``WS>>``) at 120
hex digits and server frames (``WS<<``) at 80, so a payload that fails to parse is accepted only
when it is visibly cut at that length.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import symbol_database
from google.protobuf.message import DecodeError, Message

from openim_sdk.protocol import jsoncodec as jc
from openim_sdk.protocol.pb.auth import auth_pb2  # noqa: F401  (registers the types)
from openim_sdk.protocol.pb.conversation import conversation_pb2  # noqa: F401
from openim_sdk.protocol.pb.group import group_pb2  # noqa: F401
from openim_sdk.protocol.pb.jssdk import jssdk_pb2
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.push import push_pb2
from openim_sdk.protocol.pb.relation import relation_pb2  # noqa: F401
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.protocol.pb.user import user_pb2  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
CAPTURES = sorted((ROOT / "docs" / "spec" / "captures").glob("*.txt"))
ROUTES = {
    r["path"]: r for r in json.loads((ROOT / "openim_sdk" / "protocol" / "data" / "routes.json").read_text())
}

# reqIdentifier -> (request type, response type), spec ws-protocol §3.
WS_TYPES: dict[int, tuple[type[Message] | None, type[Message] | None]] = {
    1001: (sdkws_pb2.GetMaxSeqReq, sdkws_pb2.GetMaxSeqResp),
    1002: (sdkws_pb2.PullMessageBySeqsReq, sdkws_pb2.PullMessageBySeqsResp),
    1003: (sdkws_pb2.MsgData, msg_pb2.SendMsgResp),
    1005: (msg_pb2.GetSeqMessageReq, msg_pb2.GetSeqMessageResp),
    1006: (msg_pb2.GetConversationsHasReadAndMaxSeqReq, msg_pb2.GetConversationsHasReadAndMaxSeqResp),
    2001: (None, sdkws_pb2.PushMessages),
    2003: (push_pb2.DelUserPushTokenReq, push_pb2.DelUserPushTokenResp),
}
CUT_LENGTH = {">>": 120, "<<": 80}


@dataclass
class Frame:
    capture: str
    line: int
    direction: str  # ">>" client -> server, "<<" server -> client
    req_identifier: int
    hex: str

    @property
    def cls(self) -> type[Message] | None:
        req, resp = WS_TYPES[self.req_identifier]
        return req if self.direction == ">>" else resp


@dataclass
class HttpRequest:
    capture: str
    line: int
    path: str
    content_type: str
    body: str


def _parse(path: Path) -> tuple[list[Frame], list[HttpRequest]]:
    frames: list[Frame] = []
    requests: list[HttpRequest] = []
    pending: dict[str, Any] | None = None
    for number, line in enumerate(path.read_text().splitlines(), 1):
        m = re.match(r"WS(>>|<<)\s+(.*)data\(pb\)=([0-9a-f]*)\s*$", line)
        if m:
            ident = re.search(r"[Rr]eqIdentifier\"?\s*[:=]\s*(\d+)", m.group(2))
            assert ident, f"{path.name}:{number}: no reqIdentifier"
            frames.append(Frame(path.name, number, m.group(1), int(ident.group(1)), m.group(3)))
            continue
        m = re.match(r"HTTP\s+POST\s+(\S+)", line)
        if m:
            pending = {"path": m.group(1), "line": number, "ctype": ""}
            continue
        if pending is not None:
            h = re.match(r"\s+hdr (\[.*\])$", line)
            if h:
                for header in re.findall(r"'([^']*)'", h.group(1)):
                    name, _, value = header.partition(":")
                    if name.strip().lower() == "content-type":
                        pending["ctype"] = value.strip()
                continue
            b = re.match(r"\s+body (.*)$", line)
            if b:
                requests.append(
                    HttpRequest(path.name, pending["line"], pending["path"], pending["ctype"], b.group(1))
                )
                pending = None
    return frames, requests


PARSED = {p.name: _parse(p) for p in CAPTURES}
FRAMES = [f for frames, _ in PARSED.values() for f in frames]
HTTP = [r for _, reqs in PARSED.values() for r in reqs]


def _decode(frame: Frame) -> Message:
    cls = frame.cls
    assert cls is not None
    return cls.FromString(bytes.fromhex(frame.hex))


def test_captures_present() -> None:
    assert {p.name for p in CAPTURES} >= {
        "js_client_sdk_0.0.14.txt",
        "native_sdk_core_v3.8.3-patch.15.txt",
        "wasm_client_sdk_3.8.5.txt",
    }
    assert len(FRAMES) >= 40
    assert len(HTTP) >= 30


@pytest.mark.parametrize("frame", FRAMES, ids=[f"{f.capture}:{f.line}" for f in FRAMES])
def test_frame_payload_parses_unless_cut(frame: Frame) -> None:
    assert frame.req_identifier in WS_TYPES
    assert len(frame.hex) % 2 == 0
    try:
        msg = _decode(frame)
    except DecodeError:
        assert len(frame.hex) == CUT_LENGTH[frame.direction], (
            f"{frame.capture}:{frame.line} payload of {len(frame.hex)} hex digits does not parse"
        )
        return
    # Complete payloads survive a protobuf and a JSON round trip. (Not byte-identical: the
    # probe's replies write zero-valued fields such as hasReadSeq=0 explicitly.)
    if len(frame.hex) < CUT_LENGTH[frame.direction]:
        assert type(msg).FromString(msg.SerializeToString()) == msg
        assert jc.from_go_json(type(msg), jc.dumps(msg)) == msg


def _frames(capture_prefix: str, req_identifier: int, direction: str) -> list[Frame]:
    return [
        f
        for f in FRAMES
        if f.capture.startswith(capture_prefix)
        and f.req_identifier == req_identifier
        and f.direction == direction
    ]


def test_js_1006_request() -> None:
    frames = _frames("js_client", 1006, ">>")
    assert frames and all(f.hex == "0a0773745f6a735f61" for f in frames)
    msg = _decode(frames[0])
    assert isinstance(msg, msg_pb2.GetConversationsHasReadAndMaxSeqReq)
    assert msg.userID == "st_js_a"
    assert list(msg.conversationIDs) == [] and msg.returnPinned is False


def test_1006_responses_name_the_single_chat() -> None:
    expected = {
        "js_client": "si_st_js_a_st_js_b",
        "native_sdk": "si_st_nat_a_st_nat_b",
        "wasm_client": "si_st_wasm_a_st_wasm_b",
    }
    for prefix, conversation_id in expected.items():
        replies = [f for f in _frames(prefix, 1006, "<<") if f.hex]
        assert replies, prefix
        msg = _decode(replies[0])
        assert isinstance(msg, msg_pb2.GetConversationsHasReadAndMaxSeqResp)
        seqs = msg.seqs[conversation_id]
        assert seqs.maxSeq == 2 and seqs.hasReadSeq == 0
        assert seqs.maxSeqTime > 1_700_000_000_000  # milliseconds
        d = jc.to_go_dict(msg)
        assert d["seqs"][conversation_id] == {"maxSeq": 2, "hasReadSeq": 0, "maxSeqTime": seqs.maxSeqTime}


def test_native_1002_request() -> None:
    frames = _frames("native_sdk", 1002, ">>")
    assert len(frames) == 2
    first = _decode(frames[0])
    assert isinstance(first, sdkws_pb2.PullMessageBySeqsReq)
    assert first.userID == "st_nat_a"
    assert len(first.seqRanges) == 1
    rng = first.seqRanges[0]
    assert rng.conversationID == "si_st_nat_a_st_nat_b"
    assert (rng.begin, rng.end, rng.num) == (1, 2, 10)
    assert first.order == 0  # PullOrder asc
    assert jc.to_go_dict(first) == {
        "userID": "st_nat_a",
        "seqRanges": [{"conversationID": "si_st_nat_a_st_nat_b", "begin": 1, "end": 2, "num": 10}],
        "order": 0,
    }
    second = _decode(frames[1])
    assert isinstance(second, sdkws_pb2.PullMessageBySeqsReq)
    rng2 = second.seqRanges[0]
    assert (rng2.conversationID, rng2.begin, rng2.end, rng2.num) == ("si_st_nat_a_st_nat_b", 0, 2, 1)


def test_wasm_1002_request() -> None:
    frames = _frames("wasm_client", 1002, ">>")
    msg = _decode(frames[0])
    assert isinstance(msg, sdkws_pb2.PullMessageBySeqsReq)
    rng = msg.seqRanges[0]
    assert (msg.userID, rng.conversationID, rng.begin, rng.end, rng.num) == (
        "st_wasm_a",
        "si_st_wasm_a_st_wasm_b",
        1,
        2,
        10,
    )


def test_js_1005_request() -> None:
    frames = _frames("js_client", 1005, ">>")
    msg = _decode(frames[0])
    assert isinstance(msg, msg_pb2.GetSeqMessageReq)
    assert msg.userID == "st_js_a"
    assert msg.conversations[0].conversationID == "si_st_js_a_st_js_b"
    assert list(msg.conversations[0].seqs) == [2, 1]


def test_logout_2003_requests() -> None:
    expected = {"js_client": None, "native_sdk": ("st_nat_a", 3), "wasm_client": ("st_wasm_a", 5)}
    for prefix, want in expected.items():
        frames = _frames(prefix, 2003, ">>")
        if want is None:
            assert not frames
            continue
        assert frames
        for frame in frames:
            msg = _decode(frame)
            assert isinstance(msg, push_pb2.DelUserPushTokenReq)
            assert (msg.userID, msg.platformID) == want


def test_1001_requests() -> None:
    for prefix, user in (("native_sdk", "st_nat_a"), ("wasm_client", "st_wasm_a")):
        frames = _frames(prefix, 1001, ">>")
        assert frames
        for frame in frames:
            msg = _decode(frame)
            assert isinstance(msg, sdkws_pb2.GetMaxSeqReq)
            assert msg.userID == user


def test_cut_frames_are_the_long_ones() -> None:
    cut = []
    for frame in FRAMES:
        try:
            _decode(frame)
        except DecodeError:
            cut.append(frame)
    assert cut, "expected some truncated payloads"
    assert {f.req_identifier for f in cut} <= {1001, 1002, 1003, 1005, 2001}
    # The send requests are cut inside MsgData; their prefix still names sender and receiver.
    send = _frames("js_client", 1003, ">>")[0]
    raw = bytes.fromhex(send.hex)
    assert raw.startswith(bytes.fromhex("0a07") + b"st_js_a" + bytes.fromhex("1207") + b"st_js_b")


def test_jssdk_get_active_conversations_protobuf_body() -> None:
    bodies = [r for r in HTTP if r.path == "/jssdk/get_active_conversations"]
    assert len(bodies) == 2
    for req in bodies:
        assert "protobuf" in req.content_type
        hex_body = json.loads(req.body)["hex"]
        assert hex_body == "0a0773745f6a735f611014"
        msg = jssdk_pb2.GetActiveConversationsReq.FromString(bytes.fromhex(hex_body))
        assert msg.ownerUserID == "st_js_a"
        assert msg.count == 20
        assert msg.SerializeToString().hex() == hex_body
        assert jc.to_go_dict(msg) == {"ownerUserID": "st_js_a", "count": 20}


JSON_BODIES = [r for r in HTTP if "protobuf" not in r.content_type]


@pytest.mark.parametrize("req", JSON_BODIES, ids=[f"{r.capture}:{r.line}:{r.path}" for r in JSON_BODIES])
def test_http_json_body_decodes_into_route_request(req: HttpRequest) -> None:
    route = ROUTES.get(req.path)
    assert route is not None, req.path
    body = json.loads(req.body)
    name = route.get("request")
    if not name:
        return
    cls: type[Message] = symbol_database.Default().GetSymbol(name)
    msg = jc.from_go_json(cls, req.body)
    encoded = jc.to_go_dict(msg)
    for key, value in body.items():
        assert key in encoded, f"{req.path}: {key} is not a field of {name}"
        if not isinstance(value, dict | list):
            assert encoded[key] == value


def test_http_known_bodies() -> None:
    by_path: dict[str, list[HttpRequest]] = {}
    for r in JSON_BODIES:
        by_path.setdefault(r.path, []).append(r)
    full_ids = by_path["/friend/get_full_friend_user_ids"][0]
    msg = jc.from_go_json(relation_pb2.getFullFriendUserIDsReq, full_ids.body)
    assert msg.userID == "st_js_a" and msg.idHash == 0
    black = [r for r in by_path["/friend/get_black_list"] if r.capture.startswith("native")][0]
    black_cls: Any = symbol_database.Default().GetSymbol(ROUTES["/friend/get_black_list"]["request"])
    req = jc.from_go_json(black_cls, black.body)
    assert req.pagination.pageNumber == 1 and req.pagination.showNumber == 200
    reg = by_path["/user/user_register"][0]
    users = jc.from_go_json(user_pb2.userRegisterReq, reg.body).users
    assert [u.userID for u in users] == ["st_js_a", "st_js_b"]
