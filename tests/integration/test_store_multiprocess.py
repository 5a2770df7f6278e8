"""Two processes (think: the CLI and the TUI) hammer one LocalStore file: zero errors."""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from typing import Any

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from openim_sdk.session.conversations import record_message
from openim_sdk.store import LocalStore

SECONDS = 2.0
SHARED = "sg_shared"


def _msg(cmid: str, seq: int, sender: str, text: str) -> sdkws_pb2.MsgData:
    return sdkws_pb2.MsgData(
        sendID=sender,
        recvID="me",
        clientMsgID=cmid,
        sessionType=1,
        contentType=101,
        content=json.dumps({"content": text}).encode(),
        seq=seq,
        sendTime=int(time.time() * 1000),
        status=2,
    )


def _worker(path: str, k: int, start: Any, results: Any) -> None:
    name = f"p{k}"
    errors: list[str] = []
    i = 0
    start.wait()
    try:
        store = LocalStore(path)  # both processes create/migrate the fresh file at once
    except Exception as exc:
        results.put((k, 0, [f"open: {exc!r}"]))
        return
    own = f"si_me_{name}"
    deadline = time.monotonic() + SECONDS
    while time.monotonic() < deadline:
        i += 1
        try:
            m = _msg(f"{name}-{i}", i, name, f"hello {name} {i}")
            store.upsert_messages([m], own)
            record_message(store, own, m, "me")
            shared = _msg(f"{name}-g{i}", 2 * i + k, name, f"group hello {i}")
            store.upsert_messages([shared], SHARED)
            record_message(store, SHARED, shared, "me")
            store.set_max_seq(f"n_{name}", i)
            if i % 7 == 0:
                store.mark_read(own)
                store.set_version("friends", f"v-{name}", i)
            store.messages(f"si_me_p{1 - k}", limit=20)
            store.messages(SHARED, limit=20)
            store.search("hello", limit=5)
            store.conversations()
            store.max_seqs()
        except Exception as exc:
            errors.append(repr(exc))
    store.close()
    results.put((k, i, errors))


def test_two_processes_read_and_write_concurrently(tmp_path):
    path = str(tmp_path / "OpenIM_v3_me.db")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(path, k, start, results)) for k in (0, 1)]
    for p in procs:
        p.start()
    time.sleep(0.3)  # let both children import before the race starts
    start.set()
    out = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    counts = {}
    for k, n, errors in out:
        assert errors == [], errors[:3]
        assert n > 20, f"process {k} made too little progress ({n} rounds)"
        counts[k] = n
    store = LocalStore(path)
    try:
        for k, n in counts.items():
            assert len(store.messages(f"si_me_p{k}", limit=100_000)) == n
            assert store.max_seqs()[f"n_p{k}"] == n
        assert len(store.messages(SHARED, limit=100_000)) == sum(counts.values())
        assert store.conversation(SHARED) is not None
    finally:
        store.close()
