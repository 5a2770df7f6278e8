"""Our SDK (OpenIMClient) and an official client exchange messages through the bundled server."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path

import pytest

from openim_sdk import events as ev
from openim_sdk.client import OpenIMClient
from openim_sdk.protocol.constants import MsgStatus

from .conftest import Admin, ServerProc

pytestmark = pytest.mark.interop
HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(("kind", "encoding"), [("js", "gob"), ("native", "json")])
async def test_sdk_and_official_client_exchange(kind, encoding, server: ServerProc, admin: Admin,
                                                node_modules: Path, tmp_path: Path) -> None:
    ours, theirs = admin.register_pair(f"sdk_{kind}")
    peer_token = admin.user_token(theirs, 5 if kind == "js" else 3)
    argv = ["node"] + (["--experimental-websocket"] if kind == "js" else []) + [
        str(HERE / "echo_peer.mjs"), "--kind", kind, "--api", server.api_url, "--ws", server.ws_url,
        "--user", theirs, "--token", peer_token, "--peer", ours, "--count", "2", "--work-dir", str(tmp_path / "peer")]
    peer = subprocess.Popen(argv, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert peer.stderr is not None
        ready = await asyncio.wait_for(asyncio.to_thread(peer.stderr.readline), 60)
        assert "READY" in ready, ready
        client = OpenIMClient(server.api_url, server.ws_url, ours, admin.user_token(ours, 7),
                              data_dir=tmp_path / "ours", encoding=encoding, compress=encoding == "gob")
        async with client:
            await client.wait_synced(20)
            events = client.events()
            texts = [f"hi {kind} #{i}" for i in range(2)]
            sent = [await client.send_text(theirs, t) for t in texts]
            replies: list[str] = []

            async def collect() -> None:
                async for e in events:
                    if isinstance(e, ev.MessageReceived) and not e.is_self:
                        replies.append(e.message.text)
                        if len(replies) == 2:
                            return

            await asyncio.wait_for(collect(), 60)
            assert sorted(replies) == sorted(f"echo: {t}" for t in texts)
            history = await client.messages(sent[0].conversation_id, limit=10)
            assert [m.seq for m in history] == [1, 2, 3, 4]
            assert all(m.status == MsgStatus.SEND_SUCCESS for m in history)
        out, err = await asyncio.to_thread(peer.communicate, timeout=60)
        report = json.loads(out.strip().splitlines()[-1])
        assert report["ok"], report
        got = report["received"]
        assert [m["text"] for m in got] == texts
        assert [m["clientMsgID"] for m in got] == [m.client_msg_id for m in sent]
        assert all(m["seq"] > 0 for m in got)
    finally:
        if peer.poll() is None:
            peer.kill()
