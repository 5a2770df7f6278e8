"""The route table covers every route of the catalogue, and every message name resolves."""

import json
from pathlib import Path

import pytest

from openim_sdk.protocol.messages import message_class
from openim_sdk.protocol.routes import ACCESS_LEVELS, ROUTES, ROUTES_BY_PATH

CATALOGUE = json.loads(
    (Path(__file__).resolve().parents[2] / "openim_sdk/protocol/data/routes.json").read_text()
)


def test_all_153_routes_present():
    assert len(CATALOGUE) == 153
    assert len(ROUTES) == 153
    assert {r["path"] for r in CATALOGUE} == set(ROUTES_BY_PATH)


@pytest.mark.parametrize("entry", CATALOGUE, ids=lambda e: e["path"])
def test_route_matches_catalogue(entry):
    route = ROUTES_BY_PATH[entry["path"]]
    assert route.method == entry["method"]
    assert route.module == entry["module"]
    assert route.access == entry["access"] and route.access in ACCESS_LEVELS
    for key, cls in (("request", route.request), ("response", route.response)):
        name = entry[key]
        if name is None:
            assert cls is None
        else:
            # the class resolves and its proto full name is exactly the catalogue's
            assert cls is not None and cls.DESCRIPTOR.full_name == name
    assert route.needs_token == bool(entry["headers"]["token"])
    assert route.needs_operation_id == bool(entry["headers"]["operationID"])


def test_method_names_unique_per_module():
    seen = {(r.module, r.name) for r in ROUTES}
    assert len(seen) == len(ROUTES)


# The WS ReqIdentifier payloads (spec ws-protocol §4).
WS_MESSAGES = [
    "openim.sdkws.GetMaxSeqReq",
    "openim.sdkws.GetMaxSeqResp",
    "openim.sdkws.PullMessageBySeqsReq",
    "openim.sdkws.PullMessageBySeqsResp",
    "openim.sdkws.MsgData",
    "openim.msg.SendMsgResp",
    "openim.sdkws.UserSendMsgResp",
    "openim.msg.GetSeqMessageReq",
    "openim.msg.GetSeqMessageResp",
    "openim.msg.GetConversationsHasReadAndMaxSeqReq",
    "openim.msg.GetConversationsHasReadAndMaxSeqResp",
    "openim.msg.GetLastMessageReq",
    "openim.msg.GetLastMessageResp",
    "openim.sdkws.PushMessages",
    "openim.push.DelUserPushTokenReq",
    "openim.push.DelUserPushTokenResp",
    "openim.sdkws.SetAppBackgroundStatusReq",
    "openim.sdkws.SetAppBackgroundStatusResp",
    "openim.sdkws.SubUserOnlineStatus",
    "openim.sdkws.SubUserOnlineStatusTips",
]


@pytest.mark.parametrize("name", WS_MESSAGES)
def test_ws_messages_resolve(name):
    assert message_class(name).DESCRIPTOR.full_name == name


def test_unknown_message_is_key_error():
    with pytest.raises(KeyError):
        message_class("openim.user.noSuchThing")


def _numbers(name):
    return {f.name: f.number for f in message_class(name).DESCRIPTOR.fields}


def test_field_numbers_follow_openim():
    # msg.ConversationSeqs: field 1 unused, conversationID = 2, seqs = 3
    assert _numbers("openim.msg.ConversationSeqs") == {"conversationID": 2, "seqs": 3}
    md = _numbers("openim.sdkws.MsgData")
    assert md["content"] == 12 and md["seq"] == 14 and md["ex"] == 23
    assert 13 not in md.values()
    assert _numbers("openim.sdkws.SeqRange") == {"conversationID": 1, "begin": 2, "end": 3, "num": 4}
