"""Open a 10,000-message conversation in the terminal chat, page to the oldest and back down.

The local cache of the real OpenIMClient is seeded with 10,000 messages (mixed lengths, two
senders, some multi-line) and the app runs headless at 100x30, offline (the WebSocket points at a
closed port), so the numbers are the app and cache alone, not the network.

Prints JSON: open time (conversation chosen -> newest page on screen: the first open, and the
median of five more); the time of each older
page (Home until seq 1), as the median of the first and of the last ``--edge`` pages and their
ratio (flat: ~1); the same paging back down to the newest; the number of items held (the bounded
window); and tracemalloc peaks of a whole run for ``--messages`` and for ``--small`` messages,
with their ratio (memory flat in history size: ~1).

    python bench/tui_open.py [--messages 10000] [--small 2000] [--edge 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openim_sdk.protocol.constants import ContentType, MsgStatus, SessionType  # noqa: E402
from openim_sdk.protocol.conversation_id import single_conversation_id  # noqa: E402
from openim_sdk.protocol.pb.sdkws import sdkws_pb2  # noqa: E402
from openim_sdk.session.conversations import record_message  # noqa: E402
from openim_sdk.store.local import LocalStore  # noqa: E402

ME, PEER = "alice", "bob"
WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore "
         "et dolore magna aliqua").split()


def seed(data_dir: Path, n: int) -> str:
    cid = single_conversation_id(ME, PEER)
    base = 1_767_225_600_000
    msgs = []
    for i in range(1, n + 1):
        sender = ME if i % 3 == 0 else PEER
        words = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(3 + (i * 7) % 40))
        text = f"#{i} {words}" + ("\nsecond line" if i % 11 == 0 else "")
        msgs.append(sdkws_pb2.MsgData(
            sendID=sender, recvID=PEER if sender == ME else ME, clientMsgID=f"bench-{i:06d}",
            serverMsgID=f"srv-{i}", sessionType=SessionType.SINGLE_CHAT, contentType=ContentType.TEXT,
            content=json.dumps({"content": text}).encode(), seq=i, sendTime=base + i * 20_000,
            createTime=base + i * 20_000, status=MsgStatus.SEND_SUCCESS, senderNickname=sender.capitalize()))
    data_dir.mkdir(parents=True, exist_ok=True)
    store = LocalStore(data_dir / "openim.sqlite3")
    try:
        store.upsert_messages(msgs, cid)
        record_message(store, cid, msgs[-1], ME)
        store.set_max_seq(cid, n)
        store.mark_read(cid, n)
    finally:
        store.close()
    return cid


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


async def run(data_dir: Path, cid: str, n: int, trace: bool) -> dict[str, Any]:
    from openim_tui.app import ChatApp
    from openim_tui.config import ConnectSpec

    port = closed_port()
    spec = ConnectSpec(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", ME, "offline-token", data_dir, 7,
                       client_options={"backoff": (5.0,), "rest_sync": False})
    app = ChatApp(spec)
    out: dict[str, Any] = {}
    async with app.run_test(size=(100, 30)) as pilot:
        chat = app.chat
        for _ in range(400):
            if chat.client is not None and cid in chat.convs and chat.current == cid and chat.log_view.items:
                break
            await pilot.pause(0.01)
        # measure clean opens: switch away (empty view) and back, OPENS times; the first open
        # can meet the SDK's own start-up work (offline reconnects, the cache), so report it apart
        widgets_before = len(list(app.screen.query("*")))
        opens: list[float] = []
        for k in range(OPENS):
            chat.log_view.clear("")
            chat.current = None
            await pilot.pause(0.05)
            if trace and k == OPENS - 1:
                tracemalloc.start()
                tracemalloc.reset_peak()
            t0 = time.perf_counter()
            chat.open_conversation(cid)
            view = chat.log_view
            while not view.items:
                await asyncio.sleep(POLL)
            await pilot.pause(0)  # one refresh: the page is on screen
            opens.append((time.perf_counter() - t0) * 1000)
        out["open_first_ms"] = round(opens[0], 1)
        out["open_ms"] = round(statistics.median(opens[1:]), 1)  # the median of the others
        if trace:
            out["open_peak_kib"] = round(tracemalloc.get_traced_memory()[1] / 1024, 1)
        view.focus()
        seen: list[int] = [it.msg.seq for it in view.items]
        up: list[float] = []
        max_items = len(view.items)
        while view.items[0].msg.seq != 1:
            first = view.items[0].msg.seq
            t = time.perf_counter()
            view.action_top()  # what Home does (pilot.press adds ~40 ms of harness waiting per key)
            while view.items[0].msg.seq == first:
                await asyncio.sleep(POLL)
            up.append(time.perf_counter() - t)
            await pilot.pause(0)  # its refresh, before the next page (not timed: harness overhead)
            max_items = max(max_items, len(view.items))
            seen[0:0] = [it.msg.seq for it in view.items if it.msg.seq < first]
        await pilot.pause(0)
        ok = seen == list(range(1, n + 1))
        seen = [it.msg.seq for it in view.items]
        down: list[float] = []
        while getattr(view, "has_newer", False):  # back down, page by page (a bounded window reloads)
            last = view.items[-1].msg.seq
            t = time.perf_counter()
            view.scroll_end(animate=False, immediate=True)
            while view.items[-1].msg.seq == last and view.has_newer:
                await asyncio.sleep(POLL)
            down.append(time.perf_counter() - t)
            await pilot.pause(0)
            max_items = max(max_items, len(view.items))
            seen += [it.msg.seq for it in view.items if it.msg.seq > last]
        await pilot.pause(0)
        if trace:
            cur, peak = tracemalloc.get_traced_memory()
            out["peak_kib"] = round(peak / 1024, 1)
            out["retained_kib"] = round(cur / 1024, 1)
            tracemalloc.stop()
        out["older_pages"] = len(up)
        out.update(_edges("page_older", up))
        out["newer_pages"] = len(down)
        if down:
            out.update(_edges("page_newer", down))
        # every seq once, in order, on the way up and (when the window evicted) on the way down
        out["all_seqs_seen_once_in_order"] = ok and (seen == list(range(1, n + 1)) or not down)
        out["max_items_held"] = max_items
        # jump back to the newest and render: still only visible lines are rendered
        t2 = time.perf_counter()
        await pilot.press("end")
        while view.items[-1].msg.seq != n:
            await pilot.pause(0)
        await pilot.pause(0)
        out["jump_to_newest_ms"] = round((time.perf_counter() - t2) * 1000, 1)
        out["widgets_before_open"] = widgets_before
        out["widgets_after_scroll"] = len(list(app.screen.query("*")))
        out["rendered_strip_cache"] = len(view._strips)
    return out


EDGE = 10
#: opens measured (the first apart, the median of the rest)
OPENS = 6
#: polling for a page: Pilot.pause(0) would add the harness's own round trip through every widget
POLL = 0.0005


def _edges(name: str, times: list[float]) -> dict[str, Any]:
    """Median of the first and of the last EDGE pages, their ratio, and the worst page (ms)."""
    ms = [t * 1000 for t in times]
    first, last = statistics.median(ms[:EDGE]), statistics.median(ms[-EDGE:])
    return {f"{name}_first_ms": round(first, 1), f"{name}_last_ms": round(last, 1),
            f"{name}_last_over_first": round(last / first, 2), f"{name}_median_ms": round(statistics.median(ms), 1),
            f"{name}_max_ms": round(max(ms), 1)}


def measure(n: int) -> tuple[dict[str, Any], dict[str, Any], float]:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "alice"
        t = time.perf_counter()
        cid = seed(data_dir, n)
        seed_s = time.perf_counter() - t
        timing = asyncio.run(run(data_dir, cid, n, trace=False))
        memory = asyncio.run(run(data_dir, cid, n, trace=True))
    return timing, memory, seed_s


def main() -> None:
    global EDGE
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    ap.add_argument("--small", type=int, default=2_000, help="the smaller history the memory peak is compared with")
    ap.add_argument("--edge", type=int, default=10, help="pages at each end whose median is compared")
    a = ap.parse_args()
    EDGE = a.edge
    timing, memory, seed_s = measure(a.messages)
    _, small, _ = measure(a.small)
    result = {
        "benchmark": "tui_open",
        "messages": a.messages,
        "terminal": "100x30",
        "seed_s": round(seed_s, 2),
        **timing,
        "open_peak_kib": memory["open_peak_kib"],
        "peak_kib": memory["peak_kib"],
        "retained_kib": memory["retained_kib"],
        f"peak_kib_{a.small}": small["peak_kib"],
        f"peak_ratio_{a.messages}_over_{a.small}": round(memory["peak_kib"] / small["peak_kib"], 2),
        "note": "open = newest page on screen; page_older = Home until seq 1, page_newer = End of the "
                "window until the newest (cache only, offline); peak = tracemalloc over open + all pages",
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
