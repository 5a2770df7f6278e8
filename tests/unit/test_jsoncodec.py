"""Tests for the Go-style REST JSON codec (spec rest-api §3, §4, §8, §9, §12)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any, TypeVar

import pytest
from google.protobuf import symbol_database
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st

from openim_sdk.protocol import jsoncodec as jc
from openim_sdk.protocol.errors import ArgsError, CodecError
from openim_sdk.protocol.pb.auth import auth_pb2  # noqa: F401  (registers the types)
from openim_sdk.protocol.pb.conversation import conversation_pb2
from openim_sdk.protocol.pb.group import group_pb2
from openim_sdk.protocol.pb.jssdk import jssdk_pb2  # noqa: F401
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.msggateway import msggateway_pb2  # noqa: F401
from openim_sdk.protocol.pb.relation import relation_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.protocol.pb.third import third_pb2  # noqa: F401
from openim_sdk.protocol.pb.user import user_pb2
from openim_sdk.protocol.pb.wrapperspb import wrapperspb_pb2

M = TypeVar("M", bound=Message)
ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "spec" / "rest-api.md"
ROUTES = ROOT / "openim_sdk" / "protocol" / "data" / "routes.json"
U64_MAX = 2**64 - 1


def roundtrip(msg: M) -> M:
    return jc.from_go_json(type(msg), jc.dumps(msg))


# --------------------------------------------------------------------------- encoding


def test_msgdata_roundtrip_bytes_and_options() -> None:
    content = json.dumps({"content": "hi"}).encode()
    msg = sdkws_pb2.MsgData(
        sendID="u1",
        recvID="u2",
        clientMsgID="c1",
        sessionType=1,
        msgFrom=100,
        contentType=101,
        content=content,
        seq=5,
        sendTime=1700000000000,
        options={"history": False, "unreadCount": True},
        atUserIDList=["u3"],
    )
    raw = jc.dumps(msg)
    obj = json.loads(raw)
    assert obj["content"] == base64.b64encode(content).decode()
    assert obj["options"] == {"history": False, "unreadCount": True}
    assert list(obj["options"]) == ["history", "unreadCount"]  # sorted like Go
    assert obj["offlinePushInfo"] is None
    assert obj["atUserIDList"] == ["u3"]
    assert roundtrip(msg) == msg


def test_dumps_compact_utf8() -> None:
    raw = jc.dumps(sdkws_pb2.UserInfo(userID="u1", nickname="héllo 你好 <&>"))
    assert raw.startswith(b'{"userID":"u1","nickname":"h\xc3\xa9llo ')
    assert b" " not in raw.replace("héllo 你好 <&>".encode(), b"")
    assert "你好".encode() in raw
    escaped = jc.dumps(sdkws_pb2.UserInfo(nickname="<&>"), escape_html=True)
    assert b'"nickname":"\\u003c\\u0026\\u003e"' in escaped
    assert json.loads(escaped)["nickname"] == "<&>"


def test_zero_values_written_and_field_names_exact() -> None:
    d = jc.to_go_dict(sdkws_pb2.UserInfo())
    assert d == {
        "userID": "",
        "nickname": "",
        "faceURL": "",
        "ex": "",
        "createTime": 0,
        "appMangerLevel": 0,
        "globalRecvMsgOpt": 0,
    }
    assert list(d) == [f.name for f in sdkws_pb2.UserInfo.DESCRIPTOR.fields]


def test_empty_maps_omitted_repeated_empty_list_nested_null() -> None:
    d = jc.to_go_dict(sdkws_pb2.MsgData())
    assert "options" not in d
    assert d["atUserIDList"] == []
    assert d["offlinePushInfo"] is None
    assert jc.to_go_dict(sdkws_pb2.GetMaxSeqResp()) == {}
    assert jc.dumps(sdkws_pb2.GetMaxSeqResp()) == b"{}"


def test_capitalised_keys() -> None:
    resp = sdkws_pb2.PullMessageBySeqsResp()
    resp.msgs["si_u1_u2"].Msgs.add(seq=1)
    resp.msgs["si_u1_u2"].isEnd = True
    d = jc.to_go_dict(resp)
    assert d["msgs"]["si_u1_u2"]["Msgs"][0]["seq"] == 1
    assert d["msgs"]["si_u1_u2"]["isEnd"] is True
    assert "notificationMsgs" not in d
    assert "FriendRequests" in jc.to_go_dict(relation_pb2.getPaginationFriendsApplyToResp())


def test_uint64_above_2_53_both_ways() -> None:
    req = relation_pb2.getFullFriendUserIDsReq(userID="u1", idHash=U64_MAX)
    raw = jc.dumps(req)
    assert b'"idHash":18446744073709551615' in raw
    assert jc.from_go_json(relation_pb2.getFullFriendUserIDsReq, raw).idHash == U64_MAX
    big = 2**53 + 1
    back = jc.from_go_json(sdkws_pb2.MsgData, b'{"seq":%d,"sendTime":-%d}' % (big, big))
    assert back.seq == big and back.sendTime == -big
    with pytest.raises(CodecError):
        jc.from_go_json(relation_pb2.getFullFriendUserIDsReq, b'{"idHash":18446744073709551616}')
    with pytest.raises(CodecError):
        jc.from_go_json(relation_pb2.getFullFriendUserIDsReq, b'{"idHash":-1}')
    with pytest.raises(CodecError):
        jc.from_go_json(relation_pb2.getFullFriendUserIDsReq, b'{"idHash":"18446744073709551615"}')


def test_bytes_base64_padded() -> None:
    msg = sdkws_pb2.MsgData(content=b"a")
    assert jc.to_go_dict(msg)["content"] == "YQ=="
    assert jc.from_go_json(sdkws_pb2.MsgData, b'{"content":"YQ=="}').content == b"a"
    assert jc.from_go_json(sdkws_pb2.MsgData, b'{"content":""}').content == b""
    for bad in ('"YQ"', '"Y Q=="', '"YQ_-"', "[97]", "1"):
        with pytest.raises(CodecError):
            jc.from_go_json(sdkws_pb2.MsgData, '{"content":' + bad + "}")


def test_nested_maps_roundtrip() -> None:
    resp = msg_pb2.GetSeqMessageResp()
    pm = resp.msgs["si_a_b"]
    pm.Msgs.add(sendID="a", content=b"\x00\xff", seq=3, options={"x": True})
    pm.isEnd = True
    pm.endSeq = 3
    resp.notificationMsgs["n_a_b"].Msgs.add(seq=1)
    assert roundtrip(resp) == resp

    p2 = sdkws_pb2.PullMessageBySeqsResp()
    p2.msgs["sg_g1"].Msgs.add(groupID="g1", seq=2**40)
    assert roundtrip(p2) == p2
    seqs = msg_pb2.GetConversationsHasReadAndMaxSeqResp()
    seqs.seqs["si_u1_u2"].maxSeq = 12
    seqs.seqs["si_u1_u2"].hasReadSeq = 10
    d = jc.to_go_dict(seqs)
    assert d["seqs"] == {"si_u1_u2": {"maxSeq": 12, "hasReadSeq": 10, "maxSeqTime": 0}}
    assert roundtrip(seqs) == seqs


def test_wrappers_bare_values() -> None:
    raw = b'{"userInfo":{"userID":"u1","nickname":"Al","ex":"{}","globalRecvMsgOpt":2,"faceURL":null}}'
    req = jc.from_go_json(user_pb2.updateUserInfoExReq, raw)
    info = req.userInfo
    assert info.userID == "u1"
    assert info.HasField("nickname") and info.nickname.value == "Al"
    assert info.HasField("ex") and info.ex.value == "{}"
    assert info.globalRecvMsgOpt.value == 2
    assert not info.HasField("faceURL")
    d = jc.to_go_dict(req)
    assert d["userInfo"] == {
        "userID": "u1",
        "nickname": "Al",
        "faceURL": None,
        "ex": "{}",
        "globalRecvMsgOpt": 2,
    }
    assert roundtrip(req) == req
    # A wrapper set to its zero value is still present ("clear the nickname").
    zero = jc.from_go_json(user_pb2.updateUserInfoExReq, b'{"userInfo":{"nickname":""}}')
    assert zero.userInfo.HasField("nickname") and zero.userInfo.nickname.value == ""
    assert jc.to_go_dict(zero)["userInfo"]["nickname"] == ""
    with pytest.raises(CodecError):
        jc.from_go_json(user_pb2.updateUserInfoExReq, b'{"userInfo":{"nickname":{"value":"x"}}}')
    with pytest.raises(CodecError):
        jc.from_go_json(user_pb2.updateUserInfoExReq, b'{"userInfo":{"globalRecvMsgOpt":"2"}}')


def test_conversation_set_request_wrappers() -> None:
    raw = (
        b'{"userIDs":["u1"],"conversation":{"conversationID":"si_u1_u2","conversationType":1,'
        b'"userID":"u2","groupID":"","isPinned":true,"recvMsgOpt":0}}'
    )
    req = jc.from_go_json(conversation_pb2.SetConversationsReq, raw)
    conv = req.conversation
    assert conv.isPinned.value is True and conv.HasField("isPinned")
    assert conv.HasField("recvMsgOpt") and conv.recvMsgOpt.value == 0
    assert not conv.HasField("ex")
    d = jc.to_go_dict(req)["conversation"]
    assert d["isPinned"] is True and d["recvMsgOpt"] == 0 and d["ex"] is None
    assert roundtrip(req) == req


def test_group_and_relation_wrappers() -> None:
    group_req_cls: Any = getattr(group_pb2, "SetGroupInfoExReq", None)
    if group_req_cls is not None:
        raw = b'{"groupID":"g1","groupName":"new","needVerification":2,"ex":null}'
        req = jc.from_go_json(group_req_cls, raw)
        assert req.groupName.value == "new" and req.needVerification.value == 2
        assert not req.HasField("ex")
        assert roundtrip(req) == req
    upd: Any = getattr(relation_pb2, "updateFriendsReq", None)
    if upd is not None:
        req2 = jc.from_go_json(
            upd, b'{"ownerUserID":"u1","friendUserIDs":["u2"],"isPinned":true,"remark":"r"}'
        )
        assert req2.isPinned.value is True and req2.remark.value == "r"
        assert roundtrip(req2) == req2


def test_optional_scalar() -> None:
    req = group_pb2.CreateGroupReq(ownerUserID="u1")
    assert jc.to_go_dict(req)["sendMessage"] is None
    req2 = jc.from_go_json(group_pb2.CreateGroupReq, b'{"sendMessage":false}')
    assert req2.HasField("sendMessage") and req2.sendMessage is False
    assert jc.to_go_dict(req2)["sendMessage"] is False
    req3 = jc.from_go_json(group_pb2.CreateGroupReq, b'{"sendMessage":true,"sendMessage":null}')
    assert not req3.HasField("sendMessage")


def test_all_wrapper_types() -> None:
    cases: list[tuple[Message, Any]] = [
        (wrapperspb_pb2.StringValue(value="x"), "x"),
        (wrapperspb_pb2.Int32Value(value=-5), -5),
        (wrapperspb_pb2.Int64Value(value=-(2**62)), -(2**62)),
        (wrapperspb_pb2.BoolValue(value=True), True),
        (wrapperspb_pb2.BytesValue(value=b"ab"), "YWI="),
    ]
    for msg, bare in cases:
        assert jc._message_out(msg, "", 0) == bare


# --------------------------------------------------------------------------- decoding


def test_case_insensitive_keys() -> None:
    req = jc.from_go_json(user_pb2.getDesignateUsersReq, b'{"UserIDs":["u1"]}')
    assert list(req.userIDs) == ["u1"]
    reg = jc.from_go_json(auth_pb2.getUserTokenReq, b'{"UserID":"u1","PLATFORMID":5}')
    assert reg.userID == "u1" and reg.platformID == 5
    # Last occurrence wins, across different spellings.
    last = jc.from_go_json(auth_pb2.getUserTokenReq, b'{"userID":"a","USERID":"b","userID":"c"}')
    assert last.userID == "c"
    last2 = jc.from_go_json(auth_pb2.getUserTokenReq, b'{"userID":"a","userid":"b"}')
    assert last2.userID == "b"
    kelvin = jc.from_go_json(auth_pb2.getUserTokenReq, '{"\u212aey":1, "userI\u0044":"k"}')
    assert kelvin.userID == "k"
    nested = jc.from_go_json(
        user_pb2.getPaginationUsersReq, b'{"Pagination":{"PageNumber":2,"showNUMBER":3}}'
    )
    assert nested.pagination.pageNumber == 2 and nested.pagination.showNumber == 3


def test_unknown_keys_ignored() -> None:
    req = jc.from_go_json(
        auth_pb2.getUserTokenReq, b'{"userID":"u1","nope":{"deep":[1,2,{"x":null}]},"platformID":5}'
    )
    assert req.userID == "u1" and req.platformID == 5


def test_null_semantics() -> None:
    req = jc.from_go_json(user_pb2.getPaginationUsersReq, b'{"userID":"x","userID":null,"pagination":null}')
    assert req.userID == "x"  # null leaves a scalar alone
    assert not req.HasField("pagination")
    r2 = jc.from_go_json(user_pb2.getDesignateUsersReq, b'{"userIDs":null}')
    assert list(r2.userIDs) == []
    m = jc.from_go_json(sdkws_pb2.MsgData, b'{"options":{"a":true,"b":null}}')
    assert dict(m.options) == {"a": True, "b": False}
    assert jc.from_go_json(sdkws_pb2.MsgData, b"null") == sdkws_pb2.MsgData()
    assert jc.from_go_json(sdkws_pb2.MsgData, None) == sdkws_pb2.MsgData()


def test_decode_into_instance_merges_and_is_atomic() -> None:
    inst = auth_pb2.getUserTokenReq(userID="u1", platformID=3)
    out = jc.from_go_json(inst, b'{"platformID":5}')
    assert out is inst and inst.userID == "u1" and inst.platformID == 5
    with pytest.raises(CodecError):
        jc.from_go_json(inst, b'{"userID":"zz","platformID":"5"}')
    assert inst.userID == "u1"


def test_dict_input() -> None:
    req = jc.from_go_json(user_pb2.getDesignateUsersReq, {"userIDs": ["a", "b"]})
    assert list(req.userIDs) == ["a", "b"]
    with pytest.raises(CodecError):
        jc.from_go_json(user_pb2.getDesignateUsersReq, {"userIDs": "a"})


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (
            b'{"pagination":{"pageNumber":"1"}}',
            "cannot unmarshal string into field pagination.pageNumber of type int32",
        ),
        (b'{"pagination":{"pageNumber":1.0}}', "pagination.pageNumber"),
        (b'{"pagination":{"pageNumber":1.5}}', "pagination.pageNumber"),
        (b'{"pagination":{"pageNumber":1e2}}', "pagination.pageNumber"),
        (b'{"pagination":{"pageNumber":true}}', "cannot unmarshal bool"),
        (b'{"pagination":{"pageNumber":2147483648}}', "of type int32"),
        (b'{"pagination":{"pageNumber":-2147483649}}', "of type int32"),
        (b'{"pagination":[1]}', "cannot unmarshal array into field pagination"),
        (b'{"pagination":"x"}', "pagination"),
        (b'{"userID":1}', "cannot unmarshal number 1 into field userID of type string"),
        (b'{"userID":false}', "userID"),
        (b'{"userID":{}}', "userID"),
        (b"", "unexpected end of JSON input"),
        (b" \n\t", "unexpected end of JSON input"),
        (b"[]", "cannot unmarshal array"),
        (b'"x"', "cannot unmarshal string"),
        (b"12", "cannot unmarshal number"),
        (b"{", "invalid JSON"),
        (b'{"userID":"a"} x', "invalid JSON"),
        (b'{"userID":NaN}', "NaN"),
        (b'{"x":Infinity}', "Infinity"),
        (b"\xff\xfe", "UTF-8"),
        (b"[" * 100000 + b"]" * 100000, "depth"),
        (b'{"pagination":' * 5000 + b"{}" + b"}" * 5000, "depth"),
    ],
)
def test_type_errors_raise_codec_error(body: bytes, fragment: str) -> None:
    with pytest.raises(CodecError) as info:
        jc.from_go_json(user_pb2.getPaginationUsersReq, body)
    err = info.value
    assert err.code == 1001
    assert isinstance(err, ArgsError)
    assert fragment in err.message


@pytest.mark.parametrize(
    ("cls", "body"),
    [
        (sdkws_pb2.MsgData, b'{"isRead":0}'),
        (sdkws_pb2.MsgData, b'{"isRead":"true"}'),
        (sdkws_pb2.MsgData, b'{"sessionType":"1"}'),
        (sdkws_pb2.MsgData, b'{"seq":9223372036854775808}'),
        (sdkws_pb2.MsgData, b'{"options":[]}'),
        (sdkws_pb2.MsgData, b'{"options":{"a":1}}'),
        (sdkws_pb2.MsgData, b'{"atUserIDList":"u1"}'),
        (sdkws_pb2.MsgData, b'{"atUserIDList":[1]}'),
        (sdkws_pb2.MsgData, b'{"offlinePushInfo":{"iOSBadgeCount":1}}'),
        (sdkws_pb2.PullMessageBySeqsReq, b'{"order":"asc"}'),
        (sdkws_pb2.PullMessageBySeqsReq, b'{"order":2147483648}'),
        (sdkws_pb2.PullMessageBySeqsReq, b'{"seqRanges":[{"begin":"1"}]}'),
        (sdkws_pb2.PullMessageBySeqsReq, b'{"seqRanges":{"begin":1}}'),
        (sdkws_pb2.PullMessageBySeqsResp, b'{"msgs":{"a":{"Msgs":[{"seq":1.5}]}}}'),
        (sdkws_pb2.PullMessageBySeqsResp, b'{"msgs":{"a":[]}}'),
        (msg_pb2.GetConversationsHasReadAndMaxSeqReq, b'{"returnPinned":1}'),
        (relation_pb2.getFullFriendUserIDsReq, b'{"idHash":1.0}'),
    ],
)
def test_more_type_errors(cls: type[Message], body: bytes) -> None:
    with pytest.raises(CodecError) as info:
        jc.from_go_json(cls, body)
    assert info.value.code == 1001


def test_error_names_field_path() -> None:
    with pytest.raises(CodecError) as info:
        jc.from_go_json(sdkws_pb2.PullMessageBySeqsResp, b'{"msgs":{"si_a":{"Msgs":[{},{"seq":"2"}]}}}')
    assert "msgs[si_a].Msgs[1].seq" in info.value.message
    assert "of type int64" in info.value.message


def test_enum_ints() -> None:
    req = jc.from_go_json(sdkws_pb2.PullMessageBySeqsReq, b'{"order":1}')
    assert req.order == 1
    assert jc.to_go_dict(req)["order"] == 1


@pytest.mark.parametrize(
    "body",
    [
        b'{"userID":"a\\ud800b"}',
        b'{"userID":"\\uDFFF"}',
        b'{"userID":"\\ude00\\ud83d"}',  # a pair in the wrong order is two lone surrogates
        b'{"unknown":["x",{"k":"\\udc00"}],"userID":"a"}',  # even where nothing is decoded
        b'{"\\ud800":1}',
        '{"userID":"a\ud800"}',  # str input holding the surrogate itself
    ],
)
def test_lone_surrogate_is_an_args_error(body: bytes | str) -> None:
    """Deliberately stricter than Go (which substitutes U+FFFD): such text cannot be stored as UTF-8."""
    for decode in (lambda: jc.from_go_json(auth_pb2.getUserTokenReq, body), lambda: jc.loads(body)):
        with pytest.raises(CodecError) as info:
            decode()
        assert info.value.code == 1001 and "lone surrogate" in info.value.message


def test_lone_surrogate_in_decoded_mapping_names_the_field() -> None:
    with pytest.raises(CodecError) as info:
        jc.from_go_json(auth_pb2.getUserTokenReq, {"userID": "a\ud800"})
    assert info.value.detail == "userID" and "\\ud800" in info.value.message
    with pytest.raises(CodecError):
        jc.from_go_json(conversation_pb2.SetConversationsReq, {"userIDs": ["\udc00"]})


def test_valid_surrogate_pairs_and_escaped_backslashes_still_decode() -> None:
    pair = jc.from_go_json(auth_pb2.getUserTokenReq, b'{"userID":"\\ud83d\\ude00"}')
    assert pair.userID == "\U0001f600"
    literal = jc.from_go_json(auth_pb2.getUserTokenReq, b'{"userID":"\\\\ud800"}')
    assert literal.userID == "\\ud800"
    assert jc.loads(b'["\\\\ud800", "\\ud83d\\ude00"]') == ["\\ud800", "\U0001f600"]


def _nested(depth: int, inner: bytes = b"1") -> bytes:
    return b'{"a":' * depth + inner + b"}" * depth


def test_depth_limit_is_exact() -> None:
    limit = jc.MAX_DEPTH
    assert limit == 100
    assert jc.loads(b"[" * limit + b"]" * limit) is not None
    assert jc.loads(_nested(limit)) is not None
    for bad in (b"[" * (limit + 1) + b"]" * (limit + 1), _nested(limit + 1), _nested(limit, b"[]")):
        with pytest.raises(CodecError) as info:
            jc.loads(bad)
        assert info.value.message == f"json: exceeded max depth {limit}"
    # from_go_json checks the whole document, also under keys it ignores, like Go's scanner
    ok = b'{"userID":"u","x":' + _nested(limit - 1) + b"}"
    assert jc.from_go_json(auth_pb2.getUserTokenReq, ok).userID == "u"
    with pytest.raises(CodecError) as info:
        jc.from_go_json(auth_pb2.getUserTokenReq, b'{"userID":"u","x":' + _nested(limit) + b"}")
    assert "exceeded max depth" in info.value.message


def test_value_limit_is_exact_and_ignores_separators_in_strings() -> None:
    limit = jc.MAX_VALUES
    assert len(jc.loads(b"[" + b"0," * (limit - 1) + b"0]")) == limit
    assert jc.from_go_json(auth_pb2.getUserTokenReq, b'{"userID":"' + b"," * (2 * limit) + b'"}').userID
    for bad in (b"[" + b"0," * limit + b"0]", b"[" + b"[]," * limit + b"[]]", b'{"a":[' + b'{"b":1},' * limit + b"1]}"):
        with pytest.raises(CodecError) as info:
            jc.loads(bad)
        assert info.value.message == f"json: more than {limit} values"
        with pytest.raises(CodecError):
            jc.from_go_json(auth_pb2.getUserTokenReq, bad.replace(b"[", b'{"userID":"u","x":[', 1) + b"}")


@pytest.mark.parametrize("depth", [1_000, 20_000, 1_000_000])
def test_very_deep_nesting_is_a_codec_error_not_recursion(depth: int) -> None:
    for body in (b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth, b"[" * depth):
        with pytest.raises(CodecError) as info:
            jc.loads(body)
        assert info.value.code == 1001
        with pytest.raises(CodecError):
            jc.from_go_json(sdkws_pb2.MsgData, body)


def test_loads_helper() -> None:
    assert jc.loads(b'{"a":18446744073709551615,"b":[1,2.5]}') == {"a": U64_MAX, "b": [1, 2.5]}
    for bad in (b"", b"{", b"NaN", b"\xff", b"[" * 300 + b"]" * 300):
        with pytest.raises(CodecError):
            jc.loads(bad)


def test_bad_arguments() -> None:
    with pytest.raises(CodecError):
        jc.from_go_json(dict, b"{}")  # type: ignore[type-var]
    with pytest.raises(CodecError):
        jc.to_go_dict({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(CodecError):
        jc.from_go_json(sdkws_pb2.MsgData, 12)  # type: ignore[arg-type]


def test_dumps_nested_messages_in_envelope() -> None:
    env = {"errCode": 0, "errMsg": "", "errDlt": "", "data": sdkws_pb2.GetMaxSeqResp(maxSeqs={"s": 2})}
    assert jc.dumps(env) == b'{"errCode":0,"errMsg":"","errDlt":"","data":{"maxSeqs":{"s":2}}}'


# --------------------------------------------------------------------------- spec examples


def _routes() -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in json.loads(ROUTES.read_text())}


def _message_class(full_name: str) -> type[Message]:
    return symbol_database.Default().GetSymbol(full_name)  # type: ignore[no-any-return]


def _fill_placeholders(snippet: str) -> str:
    s = snippet.replace("{…}", "{}")
    s = re.sub(r"\[[A-Za-z]*…\]", "[]", s)
    s = re.sub(r"\[[A-Z][A-Za-z]*\]", "[]", s)
    s = re.sub(
        r":\s*(?:[A-Z][A-Za-z]+|[NUn]|…)(?=[,}\]])", lambda m: ":{}" if len(m.group(0)) > 2 else ":0", s
    )
    return s


def _spec_examples() -> list[tuple[str, str, str]]:
    """(label, message full name, JSON text) for every parseable example in §9 and §12."""
    text = SPEC.read_text()
    routes = _routes()
    out: list[tuple[str, str, str]] = []

    def add(path: str, which: str, snippet: str) -> None:
        route = routes.get(path)
        if route is None or not route.get(which):
            return
        snippet = _fill_placeholders(snippet)
        try:
            value = json.loads(snippet)
        except ValueError:
            return
        name = route[which]
        if route.get("response_shape") == "array" and which == "response":
            if not isinstance(value, list):
                return
            for i, item in enumerate(value):
                out.append((f"{path} {which}[{i}]", name, json.dumps(item)))
            return
        if isinstance(value, dict):
            out.append((f"{path} {which}", name, snippet))

    sec9 = text[text.index("## 9. Endpoint") : text.index("## 10.")]
    for block in re.split(r"\n- \*\*", sec9):
        m = re.match(r"(/[\w/]+)\*\*", block)
        if not m:
            continue
        path = m.group(1)
        flat = block.replace("\n  ", " ")
        before, arrow, after = flat.partition("→")
        reqs = re.findall(r"`([{\[][^`]*)`", before)
        if reqs:
            add(path, "request", reqs[0])
        if arrow:
            resps = re.findall(r"`([{\[][^`]*)`", after)
            if resps:
                add(path, "response", resps[0])
    sec12 = text[text.index("## 12. Incremental") : text.index("## 13.")]
    last_path = ""
    for line in sec12.splitlines():
        mm = re.match(r"POST (/\S+) (\{.*\})$", line)
        if mm:
            last_path = mm.group(1)
            add(last_path, "request", mm.group(2))
        elif line.startswith("→ ") and last_path:
            add(last_path, "response", line[2:])
    return out


SPEC_EXAMPLES = _spec_examples()


def test_spec_examples_found() -> None:
    labels = {label for label, _, _ in SPEC_EXAMPLES}
    assert len(SPEC_EXAMPLES) >= 40, labels
    for expected in (
        "/user/update_user_info_ex request",
        "/conversation/set_conversations request",
        "/msg/newest_seq response",
        "/msg/pull_msg_by_seq request",
        "/friend/get_friend_apply_list response",
        "/friend/get_incremental_friends response",
        "/user/get_users_online_status response[0]",
        "/auth/parse_token response",
    ):
        assert expected in labels


def _assert_same_keys(example: Any, encoded: Any, where: str) -> None:
    if isinstance(example, dict):
        assert isinstance(encoded, dict), where
        for key, value in example.items():
            assert key in encoded, f"{where}: key {key!r} not re-encoded (got {sorted(encoded)})"
            _assert_same_keys(value, encoded[key], f"{where}.{key}")
    elif isinstance(example, list):
        assert isinstance(encoded, list), where
        assert len(example) == len(encoded), where
        for i, (a, b) in enumerate(zip(example, encoded, strict=True)):
            _assert_same_keys(a, b, f"{where}[{i}]")
    elif example is None:
        assert encoded in (None, []), where  # nil slice / nil pointer
    else:
        assert example == encoded, where


@pytest.mark.parametrize(("label", "name", "snippet"), SPEC_EXAMPLES, ids=[e[0] for e in SPEC_EXAMPLES])
def test_spec_example_decodes_and_reencodes(label: str, name: str, snippet: str) -> None:
    cls = _message_class(name)
    msg = jc.from_go_json(cls, snippet.encode())
    encoded = json.loads(jc.dumps(msg))
    example = json.loads(snippet)
    _assert_same_keys(example, encoded, label)
    assert jc.from_go_json(cls, jc.dumps(msg)) == msg


# --------------------------------------------------------------------------- hypothesis

_i32 = st.integers(-(2**31), 2**31 - 1)
_i64 = st.integers(-(2**63), 2**63 - 1)
_text = st.text(max_size=20)
_ids = st.lists(_text, max_size=4)


@st.composite
def _msgdata(draw: st.DrawFn) -> sdkws_pb2.MsgData:
    m = sdkws_pb2.MsgData(
        sendID=draw(_text),
        recvID=draw(_text),
        groupID=draw(_text),
        senderPlatformID=draw(_i32),
        sessionType=draw(_i32),
        contentType=draw(_i32),
        content=draw(st.binary(max_size=40)),
        seq=draw(_i64),
        sendTime=draw(_i64),
        isRead=draw(st.booleans()),
        options=draw(st.dictionaries(_text, st.booleans(), max_size=4)),
        atUserIDList=draw(_ids),
        ex=draw(_text),
    )
    if draw(st.booleans()):
        m.offlinePushInfo.title = draw(_text)
        m.offlinePushInfo.iOSBadgeCount = draw(st.booleans())
    return m


@settings(max_examples=60, deadline=None)
@given(_msgdata())
def test_hypothesis_msgdata_roundtrip(msg: sdkws_pb2.MsgData) -> None:
    assert roundtrip(msg) == msg


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(_text, st.lists(_msgdata(), max_size=2), max_size=3), st.booleans())
def test_hypothesis_pull_resp_roundtrip(groups: dict[str, list[sdkws_pb2.MsgData]], end: bool) -> None:
    resp = sdkws_pb2.PullMessageBySeqsResp()
    for key, msgs in groups.items():
        resp.msgs[key].Msgs.extend(msgs)
        resp.msgs[key].isEnd = end
        resp.notificationMsgs[key + "n"].endSeq = 7
    assert roundtrip(resp) == resp


@settings(max_examples=60, deadline=None)
@given(
    _text,
    st.one_of(st.none(), _text),
    st.one_of(st.none(), _text),
    st.one_of(st.none(), _i32),
)
def test_hypothesis_user_info_ex_roundtrip(
    user_id: str, nickname: str | None, ex: str | None, opt: int | None
) -> None:
    req = user_pb2.updateUserInfoExReq()
    req.userInfo.userID = user_id
    if nickname is not None:
        req.userInfo.nickname.value = nickname
    if ex is not None:
        req.userInfo.ex.value = ex
    if opt is not None:
        req.userInfo.globalRecvMsgOpt.value = opt
    back = roundtrip(req)
    assert back == req
    assert back.userInfo.HasField("nickname") == (nickname is not None)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**64 - 1), _text)
def test_hypothesis_uint64(value: int, user_id: str) -> None:
    req = relation_pb2.getFullFriendUserIDsReq(userID=user_id, idHash=value)
    assert roundtrip(req) == req


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64))
def test_hypothesis_garbage_only_codec_error(data: bytes) -> None:
    try:
        jc.from_go_json(sdkws_pb2.PullMessageBySeqsResp, data)
    except CodecError:
        pass


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["msgs", "Msgs", "seq", "isEnd", "content", "x", "MSGS"]) | st.text(max_size=5),
            inner,
            max_size=3,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["msgs", "notificationMsgs", "NOTIFICATIONMSGS", "z"]), _json_values, max_size=3
    )
)
def test_hypothesis_random_json_only_codec_error(value: dict[str, Any]) -> None:
    try:
        jc.from_go_json(sdkws_pb2.PullMessageBySeqsResp, json.dumps(value))
    except CodecError:
        pass
