"""The send path of issue 16 against the real bundled server: what each ``send_text`` promises once
it returns (the row committed to the cache file, the events in order, the ack and the numbered
copy settled), however the cache writes are scheduled behind it."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from openim_sdk import events as ev
from openim_sdk.protocol.constants import MsgStatus

from .test_client import make_client, next_event, users


def _file_row(client: Any, client_msg_id: str) -> tuple[int, str, int] | None:
    """The message as another process sees the cache file (committed state only)."""
    con = sqlite3.connect(str(client.data_dir / "openim.sqlite3"))
    try:
        row = con.execute("SELECT status, server_msg_id, seq FROM messages WHERE client_msg_id = ?",
                          (client_msg_id,)).fetchone()
    finally:
        con.close()
    return None if row is None else (int(row[0]), str(row[1]), int(row[2]))


async def test_a_queued_send_is_in_the_cache_file_when_it_returns(server, tmp_path):
    tok = await users(server, "sq1", "sq2")
    async with make_client(server, tmp_path, "sq1", tok["sq1"]) as a:
        await a.wait_synced(10)
        for i in range(20):
            m = await a.send_text("sq2", f"queued {i}")
            # committed before the call returned: a crash from here on loses nothing
            assert _file_row(a, m.client_msg_id) is not None
        await a.flush(20)


async def test_wait_true_reports_in_order_and_leaves_the_message_sent_in_the_cache(server, tmp_path):
    tok = await users(server, "sw1", "sw2")
    async with make_client(server, tmp_path, "sw1", tok["sw1"]) as a:
        await a.wait_synced(10)
        events = a.events()
        sent = [await a.send_text("sw2", f"waited {i}", wait=True) for i in range(30)]
        assert all(m.status == MsgStatus.SEND_SUCCESS and m.server_msg_id for m in sent)
        for m in sent:  # the row is committed when the call returns (its ack may follow behind)
            assert _file_row(a, m.client_msg_id) is not None
        # per message: shown (MessageReceived, is_self) before MessageSent, each once
        order: list[tuple[str, str]] = []
        while len([k for k, _ in order if k == "sent"]) < len(sent):
            e = await next_event(events, lambda e: isinstance(e, ev.MessageReceived | ev.MessageSent))
            order.append(("shown" if isinstance(e, ev.MessageReceived) else "sent", e.message.client_msg_id))
        for m in sent:
            assert order.count(("shown", m.client_msg_id)) == 1
            assert order.count(("sent", m.client_msg_id)) == 1
            assert order.index(("shown", m.client_msg_id)) < order.index(("sent", m.client_msg_id))
        assert [c for k, c in order if k == "sent"] == [m.client_msg_id for m in sent]
        cid = sent[0].conversation_id

        async def numbered() -> list[Any]:
            while True:
                rows = await a.messages(cid, limit=100)
                if len(rows) == len(sent) and all(r.seq > 0 for r in rows):
                    return rows
                await asyncio.sleep(0.05)

        rows = await asyncio.wait_for(numbered(), 10)
        assert [r.client_msg_id for r in rows] == [m.client_msg_id for m in sent]  # each once, in order
        assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + len(sent)))
        assert all(r.status == MsgStatus.SEND_SUCCESS for r in rows)
    for m in sent:  # closed: whatever was written behind is in the file
        row = _file_row(a, m.client_msg_id)
        assert row is not None and row[0] == MsgStatus.SEND_SUCCESS and row[1] == m.server_msg_id


async def test_a_profile_change_reaches_the_next_send(server, tmp_path):
    tok = await users(server, "sp1", "sp2")
    async with make_client(server, tmp_path, "sp1", tok["sp1"]) as a, \
            make_client(server, tmp_path, "sp2", tok["sp2"]) as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        first = await a.send_text("sp2", "before", wait=True)
        assert first.sender_nickname == "Sp1"
        await a.users.set_self_info(nickname="Renamed")
        events = b.events()
        second = await a.send_text("sp2", "after", wait=True)
        assert second.sender_nickname == "Renamed"
        got = await next_event(events, lambda e: isinstance(e, ev.MessageReceived)
                               and e.message.client_msg_id == second.client_msg_id)
        assert got.message.sender_nickname == "Renamed"  # what went on the wire
