"""Replies that cross pushes, and real server rewinds, against the bundled server (issue 18).

The race: on reconnect the client asks for the newest seqs (1001) and the server answers max 3;
the server then stores seq 4 and pushes it; the session applies the push; the older 1001 reply
is applied only now. It must not be read as the server's history going back.

The same for the other pairs that can cross: a pull reply made before a revoke notification
that is applied first, and a read-state (1006) reply made before a later read. And a real
rewind: the server restored from a backup is confirmed, reported, and a message stored on the
server again is stored and shown again.

A real peer cannot be made to deliver its reply late on demand, so the one seam intercepted is
the client's ``ws.request``: a real reply of the real server is held until the test saw the
crossing event applied (a push listener, a client event), with events, no sleeps.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.constants import ContentType, MsgStatus, ReqIdentifier
from openim_sdk.protocol.conversation_id import notification_conversation_id, single_conversation_id
from openim_sdk.protocol.pb.msg import msg_pb2
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from server_stub import ServerApp

from .conftest import server_config
from .test_client import make_client, next_event, users
from .test_session_robustness import all_history


class HoldReply:
    """Wraps ``client.ws.request``: the next reply to a request ``ident`` (whose body satisfies
    ``match``) is held, after the server answered it, until ``release`` is set. Only that one."""

    def __init__(self, client: OpenIMClient, ident: int, match: Callable[[bytes], bool] = lambda _: True) -> None:
        self._real = client.ws.request
        self._ident, self._match = ident, match
        self.answered = asyncio.Event()
        self.release = asyncio.Event()
        self.reply = b""
        self._armed = True
        client.ws.request = self._request  # type: ignore[method-assign]

    async def _request(self, req_identifier: int, data: bytes = b"", *args: Any, **kw: Any) -> Any:
        resp = await self._real(req_identifier, data, *args, **kw)
        if req_identifier == self._ident and self._armed and self._match(data):
            self._armed = False
            self.reply = resp.data
            self.answered.set()
            await self.release.wait()
        return resp


def on_push_applied(client: OpenIMClient, cid: str) -> asyncio.Event:
    """Set once a push for ``cid`` was handled by the client (push listeners run after it)."""
    done = asyncio.Event()

    def check(e: Any) -> None:
        push = e.push
        if cid in push.msgs or cid in push.notificationMsgs:
            done.set()

    client.ws.on_push(check)
    return done


def on_seq(client: OpenIMClient, cid: str, seq: int) -> asyncio.Event:
    """Set once ``client`` emitted MessageReceived for ``cid``#``seq`` (stored, then shown)."""
    seen = asyncio.Event()

    def check(e: ev.MessageReceived) -> None:
        if e.message.conversation_id == cid and e.message.seq == seq:
            seen.set()

    client.on(ev.MessageReceived)(check)
    return seen


async def happens(event: asyncio.Event, what: str) -> None:
    """Wait for ``event``; a generous bound turns a regression into a failure instead of a hang
    (it is not a timing assertion: every wait here is for something the test itself caused)."""
    try:
        await asyncio.wait_for(event.wait(), 20)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


async def _cached(client: OpenIMClient, cid: str) -> list[tuple[int, str]]:
    rows = await client.messages(cid, limit=100)
    return [(m.seq, m.client_msg_id) for m in rows]


async def test_stale_newest_seq_reply_does_not_drop_a_pushed_message(server, tmp_path):
    tok = await users(server, "xa", "xb")
    cid = single_conversation_id("xa", "xb")
    async with make_client(server, tmp_path, "xa", tok["xa"], rest_sync=False) as a, \
            make_client(server, tmp_path, "xb", tok["xb"], rest_sync=False) as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        third = on_seq(b, cid, 3)
        sent = [await a.send_text("xb", f"m{i}") for i in range(3)]
        await happens(third, "seq 3 received")
        assert [s for s, _ in await _cached(b, cid)] == [1, 2, 3]

        held = HoldReply(b, ReqIdentifier.GET_NEWEST_SEQ)
        events = b.events()
        for conn in server.core.hub.of("xb"):  # a network blip: b reconnects and sends a 1001
            await conn.ws.close()
        await happens(held.answered, "1001 answered")
        assert sdkws_pb2.GetMaxSeqResp.FromString(held.reply).maxSeqs[cid] == 3  # the answer, now stale

        pushed = on_seq(b, cid, 4)
        m4 = await a.send_text("xb", "m3")
        await happens(pushed, "seq 4 pushed")  # seq 4 was pushed, stored and shown
        sent.append(m4)
        assert (4, m4.client_msg_id) in await _cached(b, cid)

        held.release.set()  # only now the 1001 reply (max 3) is applied
        await next_event(events, lambda e: isinstance(e, ev.SyncFinished))
        want = [(i + 1, m.client_msg_id) for i, m in enumerate(sent)]
        assert await _cached(b, cid) == want  # seq 4 survives in the cache
        history = await all_history(b, cid)
        assert [(m.seq, m.client_msg_id) for m in history] == want
        assert b.sync is not None and b.sync.synced_seqs()[cid] == 4

        # and the stream goes on from there: seq 5 is delivered live, once
        five = on_seq(b, cid, 5)
        m5 = await a.send_text("xb", "m4")
        await happens(five, "seq 5 received")
        assert await _cached(b, cid) == [*want, (5, m5.client_msg_id)]
        events.close()


def _backup(db: Path, dest: Path) -> None:
    """A consistent copy of the live server database (SQLite's online backup)."""
    src = sqlite3.connect(db)
    out = sqlite3.connect(dest)
    try:
        src.backup(out)
    finally:
        out.close()
        src.close()


def _restore(backup: Path, db: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, db)


async def test_a_real_rewind_is_confirmed_reported_and_repulled_messages_are_stored_again(tmp_path):
    db, backup = tmp_path / "openim.sqlite3", tmp_path / "backup.sqlite3"
    srv = ServerApp(server_config(tmp_path))
    await srv.start()
    ports = {"api_port": srv.api_port, "ws_port": srv.ws_port}
    tok = await users(srv, "ya", "yb")
    cid = single_conversation_id("ya", "yb")
    a = make_client(srv, tmp_path, "ya", tok["ya"], rest_sync=False)
    b = make_client(srv, tmp_path, "yb", tok["yb"], rest_sync=False)
    try:
        await a.start()
        await b.start()
        await a.wait_synced(10)
        await b.wait_synced(10)
        third = on_seq(b, cid, 3)
        kept = [await a.send_text("yb", f"kept {i}") for i in range(3)]
        await happens(third, "seq 3 received")
        await asyncio.to_thread(_backup, db, backup)  # the backup holds seqs 1..3
        fifth = on_seq(b, cid, 5)
        lost = [await a.send_text("yb", f"lost {i}") for i in range(2)]
        await happens(fifth, "seq 5 received")
        assert [s for s, _ in await _cached(b, cid)] == [1, 2, 3, 4, 5]
        lost_md = (await asyncio.to_thread(b._store().message, lost[0].client_msg_id)).to_msg()  # type: ignore[union-attr]

        events = b.events()
        await srv.stop()  # the server is restored from the backup: seqs 4 and 5 are gone
        await asyncio.to_thread(_restore, backup, db)
        srv = ServerApp(server_config(tmp_path, **ports))
        await srv.start()

        rewound = await next_event(events, lambda e: isinstance(e, ev.ServerHistoryRewound))
        assert rewound == ev.ServerHistoryRewound(cid, 5, 3)
        want = [(i + 1, m.client_msg_id) for i, m in enumerate(kept)]
        assert await _cached(b, cid) == want  # dropped only after the probe proved them gone
        assert b.sync is not None and b.sync.synced_seqs()[cid] == 3

        # the lost message is stored on the server again (same clientMsgID, seq 4): b, which
        # delivered it before the rewind, stores and shows it again
        from server_stub.services.msg import send_and_push

        again = on_seq(b, cid, 4)
        lost_md.seq, lost_md.status, lost_md.sendTime, lost_md.serverMsgID = 0, 0, 0, ""
        await send_and_push(srv.core, lost_md, "replay")  # type: ignore[arg-type]
        await happens(again, "seq 4 stored again")
        want.append((4, lost[0].client_msg_id))
        assert await _cached(b, cid) == want
        history = await all_history(b, cid)
        assert [(m.seq, m.client_msg_id) for m in history] == want
        events.close()
    finally:
        await a.close()
        await b.close()
        await srv.stop()


async def test_a_revoke_that_arrives_before_its_message_is_applied_when_the_message_comes(server, tmp_path):
    tok = await users(server, "va", "vb")
    cid = single_conversation_id("va", "vb")
    async with make_client(server, tmp_path, "vb", tok["vb"], rest_sync=False) as b:
        await b.wait_synced(10)  # vb has a cache, then goes offline
    async with make_client(server, tmp_path, "va", tok["va"], rest_sync=False) as a:
        await a.wait_synced(10)
        m = await a.send_text("vb", "soon revoked")
        await a.flush(10)
        b = make_client(server, tmp_path, "vb", tok["vb"], rest_sync=False)

        def pulls_chat(data: bytes) -> bool:
            return any(r.conversationID == cid for r in sdkws_pb2.PullMessageBySeqsReq.FromString(data).seqRanges)

        held = HoldReply(b, ReqIdentifier.PULL_MSG_BY_RANGE, pulls_chat)
        notified = on_push_applied(b, notification_conversation_id(cid))
        async with b:
            await happens(held.answered, "pull answered")  # the message as sent
            await a.api.msg.revoke_msg(conversation_id=cid, seq=1, user_id="va")
            await happens(notified, "revoke applied")  # before the message is here
            assert await b.message(m.client_msg_id) is None
            arrived = on_seq(b, cid, 1)
            held.release.set()
            await happens(arrived, "message arrived")
            got = await b.message(m.client_msg_id)
            assert got is not None and got.content_type == ContentType.MSG_REVOKE_NOTIFICATION, got
            assert [x.content_type for x in await b.messages(cid)] == [ContentType.MSG_REVOKE_NOTIFICATION]


async def test_an_older_read_state_reply_does_not_undo_a_later_read(server, tmp_path):
    tok = await users(server, "wa", "wb")
    cid = single_conversation_id("wa", "wb")
    async with make_client(server, tmp_path, "wa", tok["wa"], rest_sync=False) as a, \
            make_client(server, tmp_path, "wb", tok["wb"], rest_sync=False) as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        third = on_seq(b, cid, 3)
        for i in range(3):
            await a.send_text("wb", f"r{i}")
        await happens(third, "seq 3 received")
        conv = await b.conversation(cid)
        assert conv is not None and conv.unread_count == 3

        held = HoldReply(b, ReqIdentifier.GET_CONV_MAX_READ_SEQ)
        for conn in server.core.hub.of("wb"):  # reconnect: b asks for its read state (1006)
            await conn.ws.close()
        await happens(held.answered, "1006 answered")  # read up to 0 of 3
        stale = msg_pb2.GetConversationsHasReadAndMaxSeqResp.FromString(held.reply).seqs[cid]
        assert (stale.hasReadSeq, stale.maxSeq) == (0, 3), stale
        receipt = asyncio.Event()
        b.on(ev.ReadReceipt)(lambda e: receipt.set() if e.conversation_id == cid else None)
        await b.mark_read(cid)  # then b reads everything,
        await happens(receipt, "read receipt")  # and the server's read receipt for it was applied too
        conv = await b.conversation(cid)
        assert conv is not None and conv.unread_count == 0
        events = b.events()  # from here on, only the held reply changes the conversation
        held.release.set()  # only now the older read state is applied
        await next_event(events, lambda e: isinstance(e, ev.ConversationChanged)
                         and e.conversation.conversation_id == cid)
        conv = await b.conversation(cid)
        assert conv is not None and conv.unread_count == 0
        assert b.store is not None
        row = await asyncio.to_thread(b.store.conversation, cid)
        assert row is not None and row.has_read_seq == 3
        events.close()


async def test_a_delete_that_arrives_before_its_message_is_applied_when_the_message_comes(server, tmp_path):
    tok = await users(server, "ta", "tb")
    cid = single_conversation_id("ta", "tb")
    async with make_client(server, tmp_path, "tb", tok["tb"], rest_sync=False) as b:
        await b.wait_synced(10)
    async with make_client(server, tmp_path, "ta", tok["ta"], rest_sync=False) as a:
        await a.wait_synced(10)
        m = await a.send_text("tb", "soon deleted for everyone")
        await a.flush(10)
        b = make_client(server, tmp_path, "tb", tok["tb"], rest_sync=False)

        def pulls_chat(data: bytes) -> bool:
            return any(r.conversationID == cid for r in sdkws_pb2.PullMessageBySeqsReq.FromString(data).seqRanges)

        held = HoldReply(b, ReqIdentifier.PULL_MSG_BY_RANGE, pulls_chat)
        notified = on_push_applied(b, notification_conversation_id(cid))
        events = b.events()
        async with b:
            await happens(held.answered, "pull answered")  # with the message
            await a.api.msg.delete_msgs(conversation_id=cid, seqs=[1], user_id="ta",
                                        delete_sync_opt={"IsSyncSelf": False, "IsSyncOther": True})
            await happens(notified, "delete applied")  # before the message is here
            assert await b.message(m.client_msg_id) is None
            held.release.set()
            await next_event(events, lambda e: isinstance(e, ev.SyncFinished))  # the pull was applied
            got = await b.message(m.client_msg_id)
            assert got is not None and got.status == MsgStatus.DELETED, got
            assert await b.messages(cid) == []
        events.close()
