"""A reconnect storm, CI-sized: many sessions, the server SIGKILLed and restarted mid-traffic.

The bundled server runs as a subprocess on a SQLite file. ``N`` sessions (OpenIMClient, each
with its own cache) form a ring — session ``i`` keeps sending to session ``i+1`` — and keep
sending while the server is killed and started again on the same ports and data file, twice.
Messages typed while the server is down wait in the outbox; messages typed just before a kill
may be in flight; right after a restart the outboxes empty while the recipients resync, so
pushes cross the recipients' 1001 replies (issue 18). At the end every message the server
acknowledged (``MessageSent``: it has a serverMsgID) is in its recipient's cache exactly once —
no duplicates, no holes — and was reported to the recipient once, and no session took the
restarts for a rewind of the server's history (it is durable). The sessions use the default
reconnect schedule (:data:`openim_sdk.ws.backoff.DEFAULT_BACKOFF`).

Before the fix of issue 18 (commit 3decc26) this failed in about one run of four: a message
pushed while the 1001 reply was on its way was shown, then dropped as "server seq went back".

Waits are on conditions (with generous overall timeouts as a safety net); the only timed
pause is the senders' pace. Time to reconnect is measured in ``bench/reconnect_storm.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.conversation_id import single_conversation_id
from openim_sdk.rest import RestClient
from openim_sdk.ws.backoff import DEFAULT_BACKOFF

from .server_process import ServerProcess, free_port, until

N = 50  # sessions
PACE = 0.2  # seconds between two messages of one sender
RESTARTS = 2
BEFORE_KILL = 2  # acked messages per sender before the first kill
AFTER_RESTART = 2  # acked messages per sender after every session is back, before the next kill


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


async def test_every_acked_message_survives_a_server_restart_once(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path / "db.sqlite3", free_port(), free_port(), tmp_path)
    uids = [f"storm{i:02d}" for i in range(N)]
    peer = {u: uids[(i + 1) % N] for i, u in enumerate(uids)}  # u sends to peer[u]
    sender_of = {v: u for u, v in peer.items()}
    clients: dict[str, OpenIMClient] = {}
    acked: dict[str, list[str]] = {u: [] for u in uids}  # clientMsgIDs the server acknowledged
    typed_at: dict[str, float] = {}  # clientMsgID -> when send_text returned
    received: dict[str, list[str]] = {u: [] for u in uids}  # MessageReceived from the peer
    up_again: set[str] = set()
    rewound: list[ev.ServerHistoryRewound] = []
    outages: list[tuple[float, float]] = []  # (killed, READY again)
    phase = {"killed": False}
    stop = asyncio.Event()
    records = _Records()
    sdk_log = logging.getLogger("openim_sdk")
    sdk_log.addHandler(records)
    senders: list[asyncio.Task[None]] = []

    def watch(u: str, c: OpenIMClient) -> None:
        c.on(ev.MessageSent)(lambda e: acked[u].append(e.message.client_msg_id))

        def on_received(e: ev.MessageReceived) -> None:
            if not e.is_self and e.message.send_id == sender_of[u]:
                received[u].append(e.message.client_msg_id)

        c.on(ev.MessageReceived)(on_received)

        def on_state(e: ev.ConnectionStateChanged) -> None:
            if phase["killed"] and e.state == ev.ConnectionState.CONNECTED:
                up_again.add(u)

        c.on(ev.ConnectionStateChanged)(on_state)
        c.on(ev.ServerHistoryRewound)(rewound.append)

    async def send_loop(u: str) -> None:
        c, k = clients[u], 0
        while not stop.is_set():
            m = await c.send_text(peer[u], f"{u}#{k}")
            typed_at[m.client_msg_id] = time.monotonic()
            k += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PACE)

    try:
        await server.start()
        admin = await RestClient.admin(server.api_url)
        async with admin:
            await admin.user.user_register(users=[{"userID": u, "nickname": u} for u in uids])
            tokens = {u: await admin.mint_user_token(u, 7) for u in uids}
        for u in uids:
            c = OpenIMClient(server.api_url, server.ws_url, u, tokens[u], data_dir=tmp_path / u,
                             rest_sync=False)
            assert c.ws.backoff is DEFAULT_BACKOFF  # what every OpenIMClient gets unless told otherwise
            watch(u, c)
            clients[u] = c
        await asyncio.gather(*(c.start() for c in clients.values()))
        await asyncio.gather(*(c.wait_synced(60) for c in clients.values()))

        senders = [asyncio.create_task(send_loop(u)) for u in uids]
        await until(lambda: all(len(acked[u]) >= BEFORE_KILL for u in uids), 60, "acks before the kill")

        acked_before = sum(len(a) for a in acked.values())
        for _ in range(RESTARTS):
            up_again.clear()
            phase["killed"], killed = True, time.monotonic()
            server.kill()  # mid-traffic: some messages in flight, more typed while it is down
            await server.start()
            outages.append((killed, time.monotonic()))
            await until(lambda: up_again >= set(uids), 60, "every session reconnected and synced")
            goal = {u: len(acked[u]) + AFTER_RESTART for u in uids}
            await until(lambda g=goal: all(len(acked[u]) >= g[u] for u in uids), 60, "acks after the restart")
        stop.set()
        await asyncio.gather(*senders)
        await asyncio.gather(*(c.flush(60) for c in clients.values()))

        typed = set(typed_at)
        all_acked = {m for a in acked.values() for m in a}
        assert all_acked == typed, "a typed message was never acked"
        for u in uids:
            assert len(acked[u]) == len(set(acked[u])), f"{u}: a message reported sent twice"
        for down, up in outages:
            assert any(down <= t <= up for t in typed_at.values()), "no message typed while the server was down"
        assert sum(len(a) for a in acked.values()) > acked_before

        async def cached(u: str) -> list[tuple[int, str]]:
            store = clients[u].store
            assert store is not None
            cid = single_conversation_id(u, sender_of[u])
            rows = await asyncio.to_thread(store.messages, cid, None, 100_000)
            return [(r.seq, r.client_msg_id) for r in rows if r.send_id == sender_of[u]]

        async def all_cached() -> bool:
            for u in uids:
                ids = {cmid for _, cmid in await cached(u)}
                if not set(acked[sender_of[u]]) <= ids:
                    return False
            return True

        try:
            await until(all_cached, 60, "every acked message in its recipient's cache")
        except AssertionError:
            pass  # reported precisely below
        problems: list[str] = []
        for u in uids:
            rows = await cached(u)
            ids = [cmid for _, cmid in rows]
            want = set(acked[sender_of[u]])
            missing = want - set(ids)
            dups = sorted({i for i in ids if ids.count(i) > 1})
            extra = set(ids) - want
            seqs = [s for s, _ in rows]
            if missing:
                problems.append(f"{u}: {len(missing)} acked message(s) missing from the cache: {sorted(missing)}")
            if dups:
                problems.append(f"{u}: duplicated in the cache: {dups}")
            if extra:
                problems.append(f"{u}: cached but never acked: {sorted(extra)}")
            if len(seqs) != len(set(seqs)) or any(s <= 0 for s in seqs):
                problems.append(f"{u}: bad seqs {seqs}")
            shown = received[u]
            if len(shown) != len(set(shown)):
                problems.append(f"{u}: a message was reported received twice")
            if not want <= set(shown):
                problems.append(f"{u}: {len(want - set(shown))} acked message(s) never reported received")
        if rewound:
            problems.append(f"the restarts were taken for a rewind of the server's history: {rewound[:5]}")
        went_back = [line for line in records.lines if "went back" in line]
        assert not problems, "\n".join(problems + ["client warnings about seqs going back:"] + went_back[:20])
    finally:
        stop.set()
        for t in senders:
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*senders, return_exceptions=True)
        sdk_log.removeHandler(records)
        await asyncio.gather(*(c.close() for c in clients.values()), return_exceptions=True)
        server.kill()
