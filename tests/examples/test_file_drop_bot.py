"""examples/file_drop_bot.py against the bundled server: a file sent by a real client comes back
as its SHA-256 line (uploaded and downloaded through the server's object storage)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .conftest import Harness, next_event, received, text_of


async def test_file_drop_bot_replies_with_the_checksum(harness: Harness, tmp_path: Path) -> None:
    server = await harness.server()
    tok = await harness.users(server, "filedrop", "alice")
    saved = tmp_path / "saved"
    bot = await harness.example(server, "file_drop_bot.py", "--user", "filedrop", "--save-dir", str(saved),
                                "--data-dir", str(tmp_path / "filedrop-data"))
    await bot.line(lambda s: s.startswith("ready"))
    alice = await harness.client(server, "alice", tok["alice"])
    events = alice.events()

    data = os.urandom(300_000) + b"the end"  # more than one upload part
    (tmp_path / "report.bin").write_bytes(data)
    await alice.send_file("filedrop", tmp_path / "report.bin")
    reply = await next_event(events, received(sender="filedrop"), timeout=30)
    assert text_of(reply) == f"{hashlib.sha256(data).hexdigest()}  report.bin"

    await alice.send_text("filedrop", "not a file")  # ignored: the next reply is for the next file
    small = b"small\n"
    (tmp_path / "my notes.txt").write_bytes(small)  # (an empty file cannot be uploaded: 1001)
    await alice.send_file("filedrop", tmp_path / "my notes.txt")
    reply = await next_event(events, received(sender="filedrop"), timeout=30)
    assert text_of(reply) == f"{hashlib.sha256(small).hexdigest()}  my notes.txt"

    kept = sorted(p.read_bytes() for p in saved.glob("*/*"))
    assert kept == sorted([data, small])
    assert await bot.stop() == 0
