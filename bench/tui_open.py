"""Open a 10,000-message conversation in the terminal chat and page through all of it.

The local cache of the real OpenIMClient is seeded with 10,000 messages (mixed lengths, two
senders, some multi-line) and the app runs headless at 100x30, offline (the WebSocket points at a
closed port), so the numbers are the app and cache alone, not the network.

Prints JSON: open time (conversation chosen -> newest page on screen), time to page through all
history, page load time, the number of widgets in the DOM before/after (constant: the message
view renders lines, not widgets), and tracemalloc peaks.

    python bench/tui_open.py [--messages 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
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
        # measure a clean open: switch away (empty view) and back
        chat.log_view.clear("")
        chat.current = None
        await pilot.pause(0.05)
        widgets_before = len(list(app.screen.query("*")))
        if trace:
            tracemalloc.start()
            tracemalloc.reset_peak()
        t0 = time.perf_counter()
        chat.open_conversation(cid)
        view = chat.log_view
        # split page cost: SDK cache query vs. the view laying out the page
        spent = {"query": 0.0, "layout": 0.0}
        real_messages, real_prepend = chat.client.messages, view.prepend

        async def timed_messages(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return await real_messages(*a, **k)
            finally:
                spent["query"] += time.perf_counter() - t

        def timed_prepend(*a: Any, **k: Any) -> Any:
            t = time.perf_counter()
            try:
                return real_prepend(*a, **k)
            finally:
                spent["layout"] += time.perf_counter() - t

        chat.client.messages = timed_messages
        view.prepend = timed_prepend  # type: ignore[method-assign]
        while not view.items:
            await pilot.pause(0)
        await pilot.pause(0)  # one refresh: the page is on screen
        out["open_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        if trace:
            out["open_peak_kib"] = round(tracemalloc.get_traced_memory()[1] / 1024, 1)
            tracemalloc.reset_peak()
        out["first_page_messages"] = len(view.items)
        view.focus()
        t1 = time.perf_counter()
        pages = 0
        while view.items[0].msg.seq != 1:
            before = len(view.items)
            view.action_top()  # what Home does (pilot.press adds ~40 ms of harness waiting per key)
            while len(view.items) == before:
                await pilot.pause(0)
            pages += 1
        await pilot.pause(0)
        out["scroll_all_ms"] = round((time.perf_counter() - t1) * 1000, 1)
        out["older_pages"] = pages
        out["page_avg_ms"] = round(out["scroll_all_ms"] / max(1, pages), 2)
        out["page_sdk_query_avg_ms"] = round(spent["query"] * 1000 / max(1, pages), 2)
        out["page_view_layout_avg_ms"] = round(spent["layout"] * 1000 / max(1, pages), 2)
        out["messages_loaded"] = len(view.items)
        if trace:
            cur, peak = tracemalloc.get_traced_memory()
            out["scroll_all_peak_kib"] = round(peak / 1024, 1)
            out["retained_after_scroll_kib"] = round(cur / 1024, 1)
            tracemalloc.stop()
        # jump back to the newest and render: still only visible lines are rendered
        t2 = time.perf_counter()
        await pilot.press("end")
        await pilot.pause(0)
        out["jump_to_newest_ms"] = round((time.perf_counter() - t2) * 1000, 1)
        out["widgets_before_open"] = widgets_before
        out["widgets_after_scroll"] = len(list(app.screen.query("*")))
        out["rendered_strip_cache"] = len(view._strips)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10_000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "alice"
        t = time.perf_counter()
        cid = seed(data_dir, a.messages)
        seed_s = time.perf_counter() - t
        timing = asyncio.run(run(data_dir, cid, a.messages, trace=False))
        memory = asyncio.run(run(data_dir, cid, a.messages, trace=True))
    result = {
        "benchmark": "tui_open",
        "messages": a.messages,
        "terminal": "100x30",
        "seed_s": round(seed_s, 2),
        **timing,
        "open_peak_kib": memory["open_peak_kib"],
        "scroll_all_peak_kib": memory["scroll_all_peak_kib"],
        "note": "open = newest page on screen; scroll_all = Home until seq 1 (all pages, cache only, offline)",
        "retained_after_scroll_kib": memory["retained_after_scroll_kib"],
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
