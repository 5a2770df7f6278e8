"""The reference server behaves as open-im-server v3.8 where users notice (issue 14): receive
options, group read receipts, @-mentions, private chat on both sides, 1300 only on change,
range pulls. Real server on ephemeral ports; the SDK where it has the call, else typed REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openim_sdk import events as ev
from openim_sdk.protocol.constants import (
    AT_ALL_TAG,
    ContentType,
    GroupAtType,
    MsgOption,
    RecvMsgOpt,
    ReqIdentifier,
)
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from server_stub import ServerApp
from server_stub.services import msg_read

from .msgs_behaviour_helpers import People, detail, next_event, sent, text_of


@pytest.fixture
async def people(server: ServerApp) -> AsyncIterator[People]:
    admin = await RestClient.admin(server.api_url)
    p = People(server, admin)
    yield p
    await p.close()
    await admin.aclose()


def _offline_to(server: ServerApp, client_msg_id: str) -> list[str]:
    assert server.core is not None
    return [u for users, _, m in server.core.hub.offline_pushes if m.clientMsgID == client_msg_id for u in users]


async def _set_conv(rest: RestClient, owner: str, cid: str, ctype: int, **fields: Any) -> None:
    peer = {"groupID": cid[3:]} if ctype == 3 else {"userID": fields.pop("peer")}
    await rest.conversation.set_conversations(
        user_ids=[owner], conversation={"conversationID": cid, "conversationType": ctype, **peer, **fields})


async def _conv(rest: RestClient, owner: str, cid: str) -> Any:
    resp = await rest.conversation.get_conversations(owner_user_id=owner, conversation_ids=[cid])
    return resp.conversations[0]


async def test_receive_options_single_chat(server: ServerApp, people: People, tmp_path: Any) -> None:
    await people.add("ra", "rb")
    rb, cid = people.rest["rb"], "si_ra_rb"
    async with people.client(tmp_path, "ra") as a:
        await a.wait_synced(10)
        events = a.events()
        # 1 on the receiver's conversation: refused (1001 "message is not sent"), nothing stored
        await _set_conv(rb, "rb", cid, 1, peer="ra", recvMsgOpt=RecvMsgOpt.NOT_RECEIVE)
        refused = await sent(a, events, await a.send_text("rb", "muted"))
        assert isinstance(refused, ev.MessageSendFailed) and refused.error is not None
        assert refused.error.code == 1001
        assert cid not in (await rb.msg.newest_seq(user_id="rb")).maxSeqs
        # 2: stored and pushed, but no offline push (rb is offline)
        await _set_conv(rb, "rb", cid, 1, peer="ra", recvMsgOpt=RecvMsgOpt.NOT_NOTIFY)
        quiet = await sent(a, events, await a.send_text("rb", "quiet"))
        assert isinstance(quiet, ev.MessageSent)
        pulled = await rb.msg.pull_msg_by_seq(user_id="rb", seq_ranges=[
            {"conversationID": cid, "begin": 1, "end": 10, "num": 10}])
        assert [text_of(m) for m in pulled.msgs[cid].Msgs] == ["quiet"]
        assert pulled.msgs[cid].Msgs[0].options[MsgOption.OFFLINE_PUSH] is False
        assert _offline_to(server, quiet.message.client_msg_id) == []
        # 0: the offline receiver gets an offline push
        await _set_conv(rb, "rb", cid, 1, peer="ra", recvMsgOpt=RecvMsgOpt.RECEIVE)
        loud = await sent(a, events, await a.send_text("rb", "loud"))
        assert _offline_to(server, loud.message.client_msg_id) == ["rb"]
        # the global option comes first: 1 refuses even with the conversation at 0
        await rb.user.set_global_msg_recv_opt(user_id="rb", global_recv_msg_opt=RecvMsgOpt.NOT_RECEIVE)
        again = await sent(a, events, await a.send_text("rb", "muted globally"))
        assert isinstance(again, ev.MessageSendFailed) and again.error is not None and again.error.code == 1001


async def test_group_receive_option_filters_offline_push_only(server: ServerApp, people: People,
                                                              tmp_path: Any) -> None:
    await people.add("qa", "qb", "qc", "qd")
    await people.group("gq", "qa", "qb", "qc", "qd")
    cid = "sg_gq"
    await _set_conv(people.rest["qc"], "qc", cid, 3, recvMsgOpt=RecvMsgOpt.NOT_NOTIFY)
    await _set_conv(people.rest["qd"], "qd", cid, 3, recvMsgOpt=RecvMsgOpt.NOT_RECEIVE)
    async with people.raw("qd") as qd, people.client(tmp_path, "qa") as a:
        await a.wait_synced(10)
        events = a.events()
        msg = await sent(a, events, await a.send_text("gq", "to the group", group=True))
        # a member at 1 is still pushed online in a group (upstream Push2Group) ...
        await qd.until(lambda c, m: c == cid and m.clientMsgID == msg.message.client_msg_id)
    # ... and only members at 0 that are offline get the offline push
    assert sorted(_offline_to(server, msg.message.client_msg_id)) == ["qb"]


async def test_group_read_receipt_goes_to_the_reader_only(server: ServerApp, people: People,
                                                          tmp_path: Any) -> None:
    await people.add("ha", "hb", "hc")
    await people.group("gh", "ha", "hb", "hc")
    async with people.raw("hb") as hb_other, people.raw("hc") as hc, people.raw("ha") as ha_raw, \
            people.client(tmp_path, "ha") as a, people.client(tmp_path, "hb") as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        a_events, b_events = a.events(), b.events()
        first = await sent(a, a_events, await a.send_text("gh", "read me", group=True))
        await next_event(b_events, lambda e: isinstance(e, ev.MessageReceived)
                         and e.message.client_msg_id == first.message.client_msg_id)
        await b.mark_read("sg_gh")
        # the reader's other device gets the receipt, in the reader's own notification conversation
        seen = await hb_other.until(lambda c, m: m.contentType == ContentType.HAS_READ_RECEIPT)
        cid, receipt = seen[-1]
        assert cid == "n_hb_hb" and detail(receipt)["markAsReadUserID"] == "hb"
        assert detail(receipt)["conversationID"] == "sg_gh" and detail(receipt)["hasReadSeq"] >= 1
        # the other members do not: everything they get up to a later message holds no receipt
        marker = await sent(a, a_events, await a.send_text("gh", "marker", group=True))
        for raw in (hc, ha_raw):
            got = await raw.until(lambda c, m: m.clientMsgID == marker.message.client_msg_id)
            assert all(m.contentType != ContentType.HAS_READ_RECEIPT for _, m in got)


async def test_single_chat_read_receipt_reaches_the_peer(server: ServerApp, people: People,
                                                         tmp_path: Any) -> None:
    await people.add("ja", "jb")
    async with people.raw("ja") as ja, people.client(tmp_path, "ja") as a, people.client(tmp_path, "jb") as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        a_events, b_events = a.events(), b.events()
        msg = await sent(a, a_events, await a.send_text("jb", "read me"))
        await next_event(b_events, lambda e: isinstance(e, ev.MessageReceived)
                         and e.message.client_msg_id == msg.message.client_msg_id)
        await b.mark_read(msg.message.conversation_id)
        seen = await ja.until(lambda c, m: m.contentType == ContentType.HAS_READ_RECEIPT)
        assert detail(seen[-1][1])["markAsReadUserID"] == "jb"
        receipt = await next_event(a_events, lambda e: isinstance(e, ev.ReadReceipt) and e.user_id == "jb")
        assert receipt.has_read_seq >= 1


async def test_mentions_set_the_members_group_at_type(server: ServerApp, people: People, tmp_path: Any) -> None:
    await people.add("ma", "mb", "mc", "md")
    await people.group("gm", "ma", "mb", "mc", "md")
    cid = "sg_gm"
    states = {}

    async def at_types() -> dict[str, int]:
        return {u: (await _conv(people.rest[u], u, cid)).groupAtType for u in ("ma", "mb", "mc", "md")}

    async with people.raw("mb") as mb, people.client(tmp_path, "ma") as a:
        await a.wait_synced(10)
        events = a.events()
        at_me = await sent(a, events, await a.send_text("gm", "@mb hi", group=True, at_user_ids=["mb"]))
        assert isinstance(at_me, ev.MessageSent)
        states = await at_types()
        assert states == {"ma": 0, "mb": GroupAtType.AT_ME, "mc": 0, "md": 0}
        change = await mb.until(lambda c, m: m.contentType == ContentType.CONVERSATION_CHANGE)
        assert detail(change[-1][1])["conversationIDList"] == [cid]
        await sent(a, events, await a.send_text("gm", "@all, @mc", group=True, at_user_ids=[AT_ALL_TAG, "mc"]))
        states = await at_types()
        assert states == {"ma": 0, "mb": GroupAtType.AT_ALL, "mc": GroupAtType.AT_ALL_AT_ME,
                          "md": GroupAtType.AT_ALL}
    # cleared the way the official SDK does it (ResetConversationGroupAtType: set_conversations 0)
    await _set_conv(people.rest["mb"], "mb", cid, 3, groupAtType=GroupAtType.AT_NORMAL)
    assert (await at_types())["mb"] == GroupAtType.AT_NORMAL


async def test_conversation_change_only_to_users_whose_fields_changed(server: ServerApp, people: People) -> None:
    await people.add("ka", "kb")
    cid, ka = "si_ka_kb", people.rest["ka"]
    async with people.raw("ka") as raw:
        await _set_conv(ka, "ka", cid, 1, peer="kb", isPinned=True)
        first = await raw.until(lambda c, m: m.contentType == ContentType.CONVERSATION_CHANGE)
        assert detail(first[-1][1])["conversationIDList"] == [cid]
        await _set_conv(ka, "ka", cid, 1, peer="kb", isPinned=True)  # no change: no 1300
        await _set_conv(ka, "ka", cid, 1, peer="kb", ex="marker")  # a change: 1300
        got = await raw.until(lambda c, m: m.contentType == ContentType.CONVERSATION_CHANGE)
        assert len(got) == 1
        assert (await _conv(ka, "ka", cid)).ex == "marker"
        v1 = await ka.conversation.get_incremental_conversations(user_id="ka", version_id="", version=0)
        await _set_conv(ka, "ka", cid, 1, peer="kb", ex="marker")
        v2 = await ka.conversation.get_incremental_conversations(user_id="ka", version_id="", version=0)
        assert v2.version == v1.version  # no write either


async def test_private_chat_applies_to_both_sides(server: ServerApp, people: People) -> None:
    await people.add("pa", "pb")
    cid = "si_pa_pb"
    async with people.raw("pb") as pb:
        await _set_conv(people.rest["pa"], "pa", cid, 1, peer="pb", isPrivateChat=True, burnDuration=30)
        got = await pb.until(lambda c, m: m.contentType == ContentType.CONVERSATION_CHANGE)
        assert detail(got[-1][1]) == {"userID": "pb", "conversationIDList": [cid]}
        private = await pb.until(lambda c, m: m.contentType == ContentType.CONVERSATION_PRIVATE_CHAT)
        assert detail(private[-1][1])["isPrivate"] is True
    for owner, peer in (("pa", "pb"), ("pb", "pa")):
        conv = await _conv(people.rest[owner], owner, cid)
        assert (conv.isPrivateChat, conv.burnDuration, conv.userID) == (True, 30, peer)
    # someone else naming pa in a conversation that is not theirs changes only their own record
    await people.add("px")
    await _set_conv(people.rest["px"], "px", cid, 1, peer="pa", isPrivateChat=False)
    assert (await _conv(people.rest["pa"], "pa", cid)).isPrivateChat is True


async def test_range_pull_entries_num_zero_and_cap(server: ServerApp, people: People, tmp_path: Any,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    await people.add("na", "nb", "nc")
    async with people.client(tmp_path, "na") as a:
        await a.wait_synced(10)
        events = a.events()
        for i in range(5):
            await sent(a, events, await a.send_text("nb", f"m{i}"))
    nb = people.rest["nb"]
    await _set_conv(nb, "nb", "si_nb_nc", 1, peer="nc", isPinned=True)  # a record, no messages
    pull = nb.msg.pull_msg_by_seq
    resp = await pull(user_id="nb", seq_ranges=[
        {"conversationID": "si_na_nb", "begin": 1, "end": 5, "num": 0},
        {"conversationID": "si_nb_nc", "begin": 1, "end": 5, "num": 5},
        {"conversationID": "si_na_nc", "begin": 1, "end": 5, "num": 5}])  # not nb's: left out
    assert set(resp.msgs) == {"si_na_nb", "si_nb_nc"}
    assert list(resp.msgs["si_na_nb"].Msgs) == [] and list(resp.msgs["si_nb_nc"].Msgs) == []
    resp = await pull(user_id="nb", seq_ranges=[{"conversationID": "si_na_nb", "begin": 1, "end": 5, "num": 3}])
    assert [m.seq for m in resp.msgs["si_na_nb"].Msgs] == [3, 4, 5] and resp.msgs["si_na_nb"].isEnd
    monkeypatch.setattr(msg_read, "MAX_PULL", 2)  # the cap, made small
    resp = await pull(user_id="nb", seq_ranges=[{"conversationID": "si_na_nb", "begin": 1, "end": 5, "num": 5}])
    capped = resp.msgs["si_na_nb"]
    assert [m.seq for m in capped.Msgs] == [4, 5] and not capped.isEnd and capped.endSeq == 4
    async with people.raw("nb") as raw:  # the same over the long connection (1002)
        req = sdkws_pb2.PullMessageBySeqsReq(userID="nb", seqRanges=[
            sdkws_pb2.SeqRange(conversationID="si_na_nb", begin=1, end=5, num=0),
            sdkws_pb2.SeqRange(conversationID="si_nb_nc", begin=1, end=5, num=5)])
        ws = sdkws_pb2.PullMessageBySeqsResp.FromString(
            (await raw.ws.request(ReqIdentifier.PULL_MSG_BY_RANGE, req.SerializeToString())).data)
        assert set(ws.msgs) == {"si_na_nb", "si_nb_nc"} and not any(pm.Msgs for pm in ws.msgs.values())
