"""Object-level access: every message/seq read path returns only conversations the caller belongs to.

The world: ``b`` and ``c`` chat privately; ``b`` owns group ``G`` with ``c`` and ``d`` (``d`` quits
half-way); read receipts and group notifications are stored, so ``n_`` conversations hold data.
``a`` is an ordinary user in none of it, and forges conversation records for every one of those
IDs first (``/conversation/set_conversations`` lets a user create a record for any ID). Each
message carries a marker; a read path leaks when a marker shows up anywhere in its answer.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import connect

from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp

from .conftest import World, WsClient, open_world, user_msg, ws_url

SECRET = "zq-secret"
GROUP = "grp1"
SI_BC, SG, N_BC, N_BB, N_G = "si_b_c", f"sg_{GROUP}", "n_b_c", "n_b_b", f"n_{GROUP}"
SECRETS = [SI_BC, SG, N_BC, N_BB, N_G]


@pytest.fixture
async def world(tmp_path: Any) -> AsyncIterator[World]:
    async with open_world(tmp_path, "a", "b", "c", "d") as w:
        srv, tokens, api = w.server, w.tokens, w.api
        for i in range(3):
            await _send(srv, "b", tokens["b"], recv="c", text=f"{SECRET} private {i}")
        await api["b"].ok("/group/create_group", {"ownerUserID": "b", "memberUserIDs": ["c", "d"],
                                                  "groupInfo": {"groupID": GROUP, "groupName": "G", "groupType": 2}})
        for i in range(2):
            await _send(srv, "b", tokens["b"], group=GROUP, text=f"{SECRET} before-quit {i}")
        await api["d"].ok("/group/quit_group", {"groupID": GROUP, "userID": "d"})
        for i in range(2):
            await _send(srv, "b", tokens["b"], group=GROUP, text=f"{SECRET} after-quit {i}")
        await api["b"].ok("/msg/mark_msgs_as_read", {"conversationID": SI_BC, "seqs": [1, 2], "userID": "b"})
        await api["b"].ok("/msg/set_conversation_has_read_seq", {"conversationID": SI_BC, "hasReadSeq": 3,
                                                                 "userID": "b"})
        yield w


async def _send(srv: ServerApp, user: str, token: str, recv: str = "", group: str = "", text: str = "hi",
                content_type: int = 101, **fields: Any) -> int:
    async with connect(ws_url(srv, user, token)) as ws:
        resp = await WsClient(ws, user).request(1003, user_msg(user, recv, group, text, content_type, **fields))
    return resp.err_code


async def _forge_records(world: World, user: str) -> None:
    api = world.api[user]
    for cid, ctype, peer in ((SI_BC, 1, {"userID": "c"}), (SG, 3, {"groupID": GROUP}), (N_BC, 1, {"userID": "c"}),
                             (N_BB, 1, {"userID": "b"}), (N_G, 3, {"groupID": GROUP})):
        await api.ok("/conversation/set_conversations", {
            "userIDs": [user], "conversation": {"conversationID": cid, "conversationType": ctype, **peer,
                                                "maxSeq": 0, "minSeq": 0}})


async def _ws_reads(world: World, user: str) -> dict[str, bytes]:
    """The raw answer of each WS read path (1001, 1002, 1005, 1006, 1007) for the secret IDs."""
    out = {}
    async with connect(ws_url(world.server, user, world.tokens[user])) as ws:
        cl = WsClient(ws, user)
        reqs = {
            "1001": sdkws_pb2.GetMaxSeqReq(userID=user),
            "1002": sdkws_pb2.PullMessageBySeqsReq(userID=user, seqRanges=[
                sdkws_pb2.SeqRange(conversationID=cid, begin=1, end=50, num=50) for cid in SECRETS]),
            "1005": msg_pb2.GetSeqMessageReq(userID=user, conversations=[
                msg_pb2.ConversationSeqs(conversationID=cid, seqs=list(range(1, 8))) for cid in SECRETS]),
            "1006": msg_pb2.GetConversationsHasReadAndMaxSeqReq(userID=user, conversationIDs=SECRETS),
            "1007": msg_pb2.GetLastMessageReq(userID=user, conversationIDs=SECRETS),
        }
        for ident, req in reqs.items():
            resp = await cl.request(int(ident), req.SerializeToString())
            assert resp.err_code == 0, (ident, resp)
            out[ident] = resp.data
    return out


async def _rest_reads(world: World, user: str) -> dict[str, bytes]:
    api = world.api[user]
    ranges = [{"conversationID": cid, "begin": 1, "end": 50, "num": 50} for cid in SECRETS]
    calls = {
        "/msg/newest_seq": {"userID": user},
        "/msg/pull_msg_by_seq": {"userID": user, "seqRanges": ranges},
        "/msg/get_conversations_has_read_and_max_seq": {"userID": user, "conversationIDs": SECRETS},
        "/msg/search_msg": {"pagination": {"pageNumber": 1, "showNumber": 100}},
        "/conversation/get_sorted_conversation_list": {"userID": user, "pagination": {"pageNumber": 1,
                                                                                     "showNumber": 100}},
        "/jssdk/get_conversations": {"conversationIDs": SECRETS},
        "/jssdk/get_active_conversations": {"count": 100},
    }
    out = {}
    for path, body in calls.items():
        r = await api.raw(path, body)
        assert r.status_code == 200, (path, r.text)
        out[path] = r.content
    return out


def _decoded(raw: bytes) -> bytes:
    """The answer plus every base64 string inside it decoded (REST JSON carries bytes as base64)."""
    parts = [raw]
    try:
        stack: list[Any] = [json.loads(raw)]
    except ValueError:
        return raw
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            try:
                parts.append(base64.b64decode(v, validate=True))
            except ValueError:
                pass
    return b"\n".join(parts)


def _leaks(answers: dict[str, bytes]) -> dict[str, list[str]]:
    """Which answers mention a secret conversation ID or carry the marker."""
    found = {}
    for path, raw in answers.items():
        text = _decoded(raw)
        hits = [s for s in [SECRET, *SECRETS] if s.encode() in text]
        if hits:
            found[path] = hits
    return found


async def test_outsider_reads_nothing_on_any_path(world: World) -> None:
    await _forge_records(world, "a")
    answers = {**await _ws_reads(world, "a"), **await _rest_reads(world, "a")}
    assert _leaks(answers) == {}


async def test_members_and_admin_still_read(world: World) -> None:
    """The same calls by a party and by the app admin return the data (the checks can fail)."""
    b = {**await _ws_reads(world, "b"), **await _rest_reads(world, "b")}
    leaks = _leaks(b)
    for path in ("1001", "1002", "1005", "1006", "1007", "/msg/pull_msg_by_seq", "/msg/search_msg",
                 "/msg/get_conversations_has_read_and_max_seq", "/conversation/get_sorted_conversation_list"):
        assert path in leaks, path
    async with connect(ws_url(world.server, "b", world.tokens["b"])) as ws:
        resp = await WsClient(ws, "b").request(1002, sdkws_pb2.PullMessageBySeqsReq(userID="b", seqRanges=[
            sdkws_pb2.SeqRange(conversationID=cid, begin=1, end=50, num=50) for cid in SECRETS]).SerializeToString())
    got = sdkws_pb2.PullMessageBySeqsResp.FromString(resp.data)
    assert [m.seq for m in got.msgs[SI_BC].Msgs] == [1, 2, 3]
    assert [m.seq for m in got.msgs[SG].Msgs] == [1, 2, 3, 4, 5, 6]  # 1501 and 1504 tips (isSendMsg) included
    assert set(got.notificationMsgs) >= {N_BC, N_BB, N_G}

    admin_id = "imAdmin"
    ranges = [{"conversationID": cid, "begin": 1, "end": 50, "num": 50} for cid in SECRETS]
    data = await world.admin.ok("/msg/pull_msg_by_seq", {"userID": admin_id, "seqRanges": ranges})
    assert len(data["msgs"][SI_BC]["Msgs"]) == 3 and len(data["msgs"][SG]["Msgs"]) == 6
    assert set(data["notificationMsgs"]) >= {N_BC, N_BB, N_G}
    found = await world.admin.ok("/msg/search_msg", {"pagination": {"pageNumber": 1, "showNumber": 100}})
    assert found["chatLogsNum"] >= 7


async def test_former_member_reads_up_to_leave_seq_and_cannot_lift_the_cap(world: World) -> None:
    async def pull() -> list[int]:
        data = await world.api["d"].ok("/msg/pull_msg_by_seq", {"userID": "d", "seqRanges": [
            {"conversationID": SG, "begin": 1, "end": 50, "num": 50}]})
        return [m["seq"] for m in data["msgs"][SG]["Msgs"]]

    assert await pull() == [1, 2, 3, 4]  # 1501, two messages, their own 1504 quit tip
    await world.api["d"].ok("/conversation/set_conversations", {
        "userIDs": ["d"], "conversation": {"conversationID": SG, "conversationType": 3, "groupID": GROUP,
                                           "maxSeq": 0}})
    assert await pull() == [1, 2, 3, 4]
    answers = await _ws_reads(world, "d")
    assert b"after-quit" not in b"".join(answers.values())
    assert b"before-quit" in answers["1002"]


async def test_outsider_writes_on_others_conversations_are_refused(world: World) -> None:
    a = world.api["a"]
    await _forge_records(world, "a")
    refused = {
        "/msg/mark_msgs_as_read": {"conversationID": SI_BC, "seqs": [1], "userID": "a"},
        "/msg/mark_conversation_as_read": {"conversationID": SI_BC, "hasReadSeq": 1, "userID": "a"},
        "/msg/set_conversation_has_read_seq": {"conversationID": SI_BC, "hasReadSeq": 1, "userID": "a"},
        "/msg/revoke_msg": {"conversationID": SI_BC, "seq": 1, "userID": "a"},
        "/msg/delete_msgs": {"conversationID": SI_BC, "seqs": [1, 2, 3], "userID": "a",
                             "deleteSyncOpt": {"IsSyncSelf": True, "IsSyncOther": True}},
    }
    for path, body in refused.items():
        env = await a.call(path, body)
        assert env["errCode"] == 1002, (path, env)
    await a.ok("/msg/clear_conversation_msg", {"conversationIDs": [SI_BC, SG], "userID": "a",
                                               "deleteSyncOpt": {"IsSyncSelf": True, "IsSyncOther": True}})
    data = await world.api["c"].ok("/msg/pull_msg_by_seq", {"userID": "c", "seqRanges": [
        {"conversationID": SI_BC, "begin": 1, "end": 50, "num": 50},
        {"conversationID": SG, "begin": 1, "end": 50, "num": 50}]})
    assert [m["seq"] for m in data["msgs"][SI_BC]["Msgs"]] == [1, 2, 3]
    assert all(SECRET.encode() in base64.b64decode(m["content"]) for m in data["msgs"][SI_BC]["Msgs"])
    assert [m["seq"] for m in data["msgs"][SG]["Msgs"]] == [1, 2, 3, 4, 5, 6]
