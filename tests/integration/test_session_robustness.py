"""OpenIMClient session robustness against the bundled server ("SDK part 2").

Offline catch-up of 1,000 messages through history paging, SIGKILL of the server mid-stream,
dropped pushes (test-only ``Hub.drop_push_every``), two devices of one user, kicks, and
expired tokens. Everything runs on ephemeral ports with short reconnect backoffs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.models import Message
from openim_sdk.protocol.constants import MsgStatus, Platform, ReqIdentifier
from openim_sdk.protocol.conversation_id import single_conversation_id
from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.rest import RestClient
from openim_sdk.ws.events import Reconnecting
from server_stub import ServerApp

from .conftest import server_config
from .server_process import ServerProcess, free_port, until
from .test_client import make_client, next_event, users

FAST = (0.05, 0.1, 0.2)


async def all_history(client: OpenIMClient, cid: str, limit: int = 100) -> list[Message]:
    """Every message of a conversation, through ``messages()`` paging from the newest down."""
    pages: list[list[Message]] = []
    before: int | None = None
    for _ in range(10_000):
        page = await client.messages(cid, before_seq=before, limit=limit)
        if not page:
            break
        pages.append(page)
        before = page[0].seq
        assert before > 0, page[0]
    return [m for page in reversed(pages) for m in page]


def received(client: OpenIMClient) -> list[Message]:
    """Collects MessageReceived events (from now on) of ``client``."""
    out: list[Message] = []
    client.on(ev.MessageReceived)(lambda e: out.append(e.message))
    return out


# --------------------------------------------------------------------------------------- 1


async def test_offline_user_gets_1000_messages_via_history_paging(server, tmp_path):
    tok = await users(server, "oa", "ob")
    cid = single_conversation_id("oa", "ob")
    async with make_client(server, tmp_path, "ob", tok["ob"]) as b:  # ob has a cache, then goes offline
        await b.wait_synced(10)
    async with make_client(server, tmp_path, "oa", tok["oa"], rest_sync=False) as a:
        await a.wait_synced(10)
        for i in range(1000):
            await a.send_text("ob", f"m{i}")
        await a.flush(60)
    async with make_client(server, tmp_path, "ob", tok["ob"]) as b:
        got = received(b)
        events = b.events()
        fin = await next_event(events, lambda e: isinstance(e, ev.SyncFinished), timeout=15)
        # the on-connect sync takes the newest page only, in order
        newest = [m.seq for m in got if m.conversation_id == cid]
        assert newest == list(range(951, 1001)), newest
        assert fin.new_messages >= 50
        # a page larger than the sync window is filled from the server in several pulls
        page = await b.messages(cid, limit=200)
        assert [m.seq for m in page] == list(range(801, 1001))
        history = await all_history(b, cid, limit=100)
        assert [m.seq for m in history] == list(range(1, 1001))
        assert [m.text for m in history] == [f"m{i}" for i in range(1000)]
        assert len({m.client_msg_id for m in history}) == 1000
        # paging never raised events for old pages, and the cache holds everything once
        assert [m.seq for m in got if m.conversation_id == cid] == list(range(951, 1001))
        assert await b.messages(cid, before_seq=1) == []


# --------------------------------------------------------------------------------------- 2


@contextlib.asynccontextmanager
async def subprocess_server(db: Path, api: int, ws: int, log_dir: Path) -> AsyncIterator[subprocess.Popen[str]]:
    server = ServerProcess(db, api, ws, log_dir)
    try:
        await server.start()
        assert server.proc is not None
        yield server.proc
    finally:
        server.kill()


class _Addr:
    def __init__(self, api: int, ws: int) -> None:
        self.api_url = f"http://127.0.0.1:{api}"
        self.ws_url = f"ws://127.0.0.1:{ws}"


async def test_sigkill_mid_stream_loses_and_duplicates_nothing(tmp_path):
    db, api, ws = tmp_path / "kill.sqlite3", free_port(), free_port()
    addr: Any = _Addr(api, ws)
    n = 300
    acked: list[str] = []
    acked_before_kill: set[str] = set()
    first = subprocess_server(db, api, ws, tmp_path)
    proc = await first.__aenter__()
    tok = await users(addr, "ka", "kb")
    a = make_client(addr, tmp_path, "ka", tok["ka"], rest_sync=False)
    b = make_client(addr, tmp_path, "kb", tok["kb"], rest_sync=False)
    try:
        await a.start()
        await b.start()
        await a.wait_synced(10)
        await b.wait_synced(10)
        a.on(ev.MessageSent)(lambda e: acked.append(e.message.client_msg_id))
        got = received(b)
        sent = [await a.send_text("kb", f"k{i}") for i in range(n)]  # queued; the outbox streams them
        cid = sent[0].conversation_id
        await until(lambda: len(acked) >= n // 4, 20, "a quarter acked")
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: some sent, some in flight, most queued
        proc.wait(10)
        acked_before_kill = set(acked)
        assert len(acked_before_kill) < n, "the stream finished before the kill"
        async with subprocess_server(db, api, ws, tmp_path):
            await a.flush(60)
            assert set(acked) == {m.client_msg_id for m in sent}  # every message acked,
            assert len(acked) == len(set(acked))  # and reported sent exactly once
            admin = await RestClient.admin(addr.api_url)
            async with admin:
                newest = await admin.msg.newest_seq(user_id="kb")
                server_max = newest.maxSeqs[cid]
                pulled = await admin.msg.pull_msg_by_seq(user_id="kb", seq_ranges=[
                    {"conversationID": cid, "begin": 1, "end": server_max, "num": server_max}])
            on_server = [(m.seq, m.clientMsgID) for m in pulled.msgs[cid].Msgs]
            # the server: seqs contiguous; a resend of a message whose ack was lost in the kill is
            # recognised by its clientMsgID and not stored again (sends are idempotent)
            assert [s for s, _ in on_server] == list(range(1, server_max + 1))
            first_seq: dict[str, int] = {}
            for s, c in on_server:
                first_seq.setdefault(c, s)
            assert set(first_seq) == {m.client_msg_id for m in sent}
            assert server_max == n, on_server
            assert [c for _, c in on_server] == [m.client_msg_id for m in sent]  # stored in send order
            await until(lambda: len({m.client_msg_id for m in got}) >= min(n, 50), 20, "kb receives")
            await until(lambda: b.connected, 20, "kb reconnected")
            # kb has stored the newest message (deliveries are stored in seq order). Not implied by
            # a.flush(): the sender (same process and loop) can stream faster than kb stores what is
            # pushed to it, and kb's history shows only what it has stored or can pull (up to the
            # seq it has synced); the seqs its on-connect sync window skipped are pulled by the
            # paging below. A newest message kb never gets makes this wait fail.
            newest_id = sent[-1].client_msg_id

            async def kb_has_newest() -> bool:
                held = await b.message(newest_id)
                return held is not None and held.seq == server_max

            await until(kb_has_newest, 20, "kb stores the newest message")
            history = await all_history(b, cid, limit=100)
        # the receiver: every message once, in send order, with the seq it first got
        assert [m.client_msg_id for m in history] == [m.client_msg_id for m in sent]
        assert [m.text for m in history] == [f"k{i}" for i in range(n)]
        assert [m.seq for m in history] == [first_seq[m.client_msg_id] for m in history]
        assert acked_before_kill <= {m.client_msg_id for m in history}
        ids = [m.client_msg_id for m in got]
        assert len(ids) == len(set(ids)), "a message was delivered twice"
        # the sender: one row per message, all sent, each with its server seq
        mine = await all_history(a, cid, limit=100)
        assert [m.client_msg_id for m in mine] == [m.client_msg_id for m in sent]
        assert all(m.status == MsgStatus.SEND_SUCCESS for m in mine)
    finally:
        await a.close()
        await b.close()
        await first.__aexit__(None, None, None)


# --------------------------------------------------------------------------------------- 3


async def test_dropped_pushes_are_filled_by_pulls(server, tmp_path):
    tok = await users(server, "da", "db")
    hub = server.core.hub
    k, n = 3, 60
    async with make_client(server, tmp_path, "da", tok["da"], rest_sync=False) as a, \
            make_client(server, tmp_path, "db", tok["db"], rest_sync=False) as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        got = received(b)
        hub.drop_push_every = k
        try:
            sent = [await a.send_text("db", f"d{i}") for i in range(n)]
            await a.flush(20)
            # a dropped *last* push cannot be noticed by anyone until the next one: end the stream
            # with messages until both connections got their last push
            while any(hub._push_counts.get(c.conn_id, 0) % k == 0 for c in hub.of("da") + hub.of("db")):
                sent.append(await a.send_text("db", f"d{len(sent)}"))
                await a.flush(10)
                await asyncio.sleep(0.05)
            total = len(sent)
            cid = sent[0].conversation_id
            assert hub.dropped_pushes >= 2 * (n // k) - 2
            await until(lambda: len(got) >= total, 15, "all messages received")
            await asyncio.sleep(0.2)  # nothing more may come
        finally:
            hub.drop_push_every = 0
        assert [m.seq for m in got] == list(range(1, total + 1))
        assert [m.client_msg_id for m in got] == [m.client_msg_id for m in sent]
        rows = await b.messages(cid, limit=total)
        assert [(m.seq, m.text) for m in rows] == [(i + 1, f"d{i}") for i in range(total)]
        # the sender's own copies got their seqs too, also where its sender-sync push was dropped
        await until(lambda: _all_numbered(a, cid, total), 10, "sender rows numbered")
        mine = await a.messages(cid, limit=total)
        assert [(m.seq, m.client_msg_id) for m in mine] == [(i + 1, s.client_msg_id) for i, s in enumerate(sent)]


async def _all_numbered(client: OpenIMClient, cid: str, total: int) -> bool:
    rows = await client.messages(cid, limit=total)
    return len(rows) == total and all(m.seq > 0 and m.status == MsgStatus.SEND_SUCCESS for m in rows)


# --------------------------------------------------------------------------------------- 4


async def test_two_devices_of_one_user_see_every_message(server, tmp_path):
    admin = await RestClient.admin(server.api_url)
    async with admin:
        await admin.user.user_register(users=[{"userID": u, "nickname": u} for u in ("ma", "mb")])
        t_linux = await admin.mint_user_token("ma", Platform.LINUX)
        t_win = await admin.mint_user_token("ma", Platform.WINDOWS)
        t_b = await admin.mint_user_token("mb", Platform.LINUX)
    linux = make_client(server, tmp_path / "linux", "ma", t_linux, platform_id=Platform.LINUX)
    win = make_client(server, tmp_path / "win", "ma", t_win, platform_id=Platform.WINDOWS)
    bob = make_client(server, tmp_path, "mb", t_b)
    async with linux, win, bob:
        for c in (linux, win, bob):
            await c.wait_synced(10)
        seen = {name: received(c) for name, c in (("linux", linux), ("win", win), ("bob", bob))}
        ended = {name: c.events() for name, c in (("linux", linux), ("win", win))}
        m1 = await linux.send_text("mb", "from linux")
        await linux.flush(10)
        m2 = await win.send_text("mb", "from windows")
        await win.flush(10)
        m3 = await bob.send_text("ma", "from bob")
        await bob.flush(10)
        cid = m1.conversation_id
        want = [(m1.client_msg_id, 1), (m2.client_msg_id, 2), (m3.client_msg_id, 3)]
        for c in (linux, win, bob):
            await until(lambda c=c: _has(c, cid, want), 10, f"{c.platform_id} has all three")
        # events, each message once and in order: a device's own send (the local echo at send
        # time), the other device's send (as is_self, from the sender-sync push), bob's message
        ids = [m1.client_msg_id, m2.client_msg_id, m3.client_msg_id]
        assert [m.client_msg_id for m in seen["linux"]] == ids
        assert [m.client_msg_id for m in seen["win"]] == ids
        assert [m.client_msg_id for m in seen["bob"]] == ids
        assert [m.seq for m in seen["linux"]] == [0, 2, 3] and [m.seq for m in seen["win"]] == [1, 0, 3]
        assert [m.send_id for m in seen["win"]] == ["ma", "ma", "mb"]
        assert linux.connected and win.connected  # different platforms: nobody was kicked
        for stream in ended.values():
            stream.close()


async def _has(client: OpenIMClient, cid: str, want: list[tuple[str, int]]) -> bool:
    rows = await client.messages(cid, limit=10)
    return [(m.client_msg_id, m.seq) for m in rows] == want and all(
        m.status == MsgStatus.SEND_SUCCESS for m in rows)


# --------------------------------------------------------------------------------------- 5


async def test_same_platform_login_kicks_and_the_old_client_stays_down(server, tmp_path):
    tok = await users(server, "sk")
    old = make_client(server, tmp_path, "sk", tok["sk"])
    async with old:
        await old.wait_synced(10)
        events = old.events()
        admin = await RestClient.admin(server.api_url)
        async with admin:
            newer = await admin.mint_user_token("sk", Platform.LINUX)
        async with make_client(server, tmp_path / "new", "sk", newer) as new:
            await new.wait_synced(10)
            kicked = await next_event(events, lambda e: isinstance(e, ev.Kicked), timeout=5)
            end = await next_event(events, lambda e: isinstance(e, ev.SessionEnded), timeout=5)
            assert kicked.error is not None and end.reason == ev.ConnectionState.KICKED
            await asyncio.sleep(0.6)  # several backoff periods: no reconnect (which would kick back)
            assert old.state == ev.ConnectionState.KICKED and not old.connected
            assert old.ws.state == "stopped"
            assert new.connected and [c.token for c in server.core.hub.of("sk")] == [newer]


# --------------------------------------------------------------------------------------- 6


class MovableClock:
    """The server's token clock (seconds); the test moves it past a token's expiry instead of sleeping."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.fixture
async def short_token_server(tmp_path: Any) -> AsyncIterator[ServerApp]:
    async with ServerApp(server_config(tmp_path, test_token_expire_seconds=3), clock=MovableClock()) as srv:
        yield srv


async def test_token_expiring_during_the_session_stops_the_loop(short_token_server, tmp_path):
    srv = short_token_server
    tok = await users(srv, "te")
    exp = jwt.decode(tok["te"], options={"verify_signature": False})["exp"]
    client = make_client(srv, tmp_path, "te", tok["te"])
    async with client:
        await client.wait_synced(10)
        events = client.events()
        states: list[ev.ConnectionState] = []
        client.on(ev.ConnectionStateChanged)(lambda e: states.append(e.state))
        assert srv.core is not None
        clock = srv.core.tokens.clock
        assert isinstance(clock, MovableClock)
        clock.offset = exp - time.time() + 0.3  # the server's time is past the token's expiry
        reply = await client.ws.request(ReqIdentifier.GET_NEWEST_SEQ,
                                        sdkws_pb2.GetMaxSeqReq(userID="te").SerializeToString(), timeout=5)
        assert reply.err_code == 0 and client.connected  # a live connection is not cut at expiry
        for conn in srv.core.hub.of("te"):  # a network blip: the reconnect presents the dead token
            await conn.ws.close()
        t0 = time.monotonic()
        expired = await next_event(events, lambda e: isinstance(e, ev.TokenExpired), timeout=5)
        end = await next_event(events, lambda e: isinstance(e, ev.SessionEnded), timeout=5)
        assert expired.error is not None and expired.error.code == 1501
        assert end.reason == ev.ConnectionState.TOKEN_INVALID
        assert time.monotonic() - t0 < 3
        n = len(states)
        await asyncio.sleep(0.6)
        assert len(states) == n and client.state == ev.ConnectionState.TOKEN_INVALID
        assert client.ws.state == "stopped" and not srv.core.hub.of("te")


async def test_expired_token_is_refused_at_once(server, tmp_path):
    await users(server, "tx")
    forged = jwt.encode({"UserID": "tx", "PlatformID": 7, "exp": int(time.time()) - 60, "iat": int(time.time()) - 120},
                        "openIM123", algorithm="HS256")
    client = make_client(server, tmp_path, "tx", forged)
    events = client.events()
    attempts: list[Any] = []
    client.ws.on_event(lambda e: attempts.append(e) if isinstance(e, Reconnecting) else None)
    async with client:
        expired = await next_event(events, lambda e: isinstance(e, ev.TokenExpired), timeout=5)
        end = await next_event(events, lambda e: isinstance(e, ev.SessionEnded), timeout=5)
        assert expired.error is not None and expired.error.code == 1501
        assert end.reason == ev.ConnectionState.TOKEN_INVALID
        await asyncio.sleep(0.5)
        assert client.ws.state == "stopped" and not client.connected
        assert attempts == []  # refused at the handshake: never retried


async def test_returning_user_pages_through_the_hole_left_by_the_sync_window(server, tmp_path):
    tok = await users(server, "ra", "rb")
    async with make_client(server, tmp_path, "ra", tok["ra"], rest_sync=False) as a, \
            make_client(server, tmp_path, "rb", tok["rb"], rest_sync=False) as b:
        await a.wait_synced(10)
        await b.wait_synced(10)
        for i in range(10):
            await a.send_text("rb", f"r{i}")
        cid = single_conversation_id("ra", "rb")
        await until(lambda: _count(b, cid, 10), 10, "rb has the first ten")
        await b.close()  # rb goes offline holding seqs 1..10
        for i in range(10, 300):
            await a.send_text("rb", f"r{i}")
        await a.flush(30)
    async with make_client(server, tmp_path, "rb", tok["rb"], rest_sync=False) as b:
        await b.wait_synced(10)  # takes 251..300; 11..250 are left to history
        page = await b.messages(cid, limit=100)
        assert [m.seq for m in page] == list(range(201, 301))
        history = await all_history(b, cid, limit=100)
        assert [m.seq for m in history] == list(range(1, 301))
        assert [m.text for m in history] == [f"r{i}" for i in range(300)]


async def _count(client: OpenIMClient, cid: str, n: int) -> bool:
    return len(await client.messages(cid, limit=n)) == n


async def test_a_send_whose_ack_was_lost_is_reported_sent_once_and_not_resent(server, tmp_path):
    from server_stub.services.msg import send_and_push

    tok = await users(server, "la", "lb")
    offline = make_client(server, tmp_path, "la", tok["la"])
    offline.ws.ws_url = "ws://127.0.0.1:9"  # unreachable: the message stays queued
    async with offline:
        queued = await offline.send_text("lb", "stored, ack lost")
        row = await offline.message(queued.client_msg_id)
        assert row is not None and row.status == MsgStatus.SENDING
        assert offline.store is not None
        md = (await asyncio.to_thread(offline.store.message, queued.client_msg_id)).to_msg()  # type: ignore[union-attr]
    # the server stored it, but the ack never came back (say the server died right after the commit)
    md.status, md.sendTime = 0, 0
    await send_and_push(server.core, md, "lost-ack")
    client = make_client(server, tmp_path, "la", tok["la"])
    sent: list[Message] = []
    client.on(ev.MessageSent)(lambda e: sent.append(e.message))
    async with client:
        await client.wait_synced(10)
        await client.flush(5)
        await until(lambda: sent, 5, "MessageSent")
        await asyncio.sleep(0.2)
        assert [(m.client_msg_id, m.seq, m.status) for m in sent] == [(queued.client_msg_id, 1, MsgStatus.SEND_SUCCESS)]
    admin = await RestClient.admin(server.api_url)
    async with admin:
        newest = await admin.msg.newest_seq(user_id="lb")
    assert newest.maxSeqs[queued.conversation_id] == 1  # not sent twice
