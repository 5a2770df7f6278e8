"""examples/csv_broadcast.py against the bundled server: the recipients get their messages, the ones
who cannot (blocked the sender, unknown ID, a bad template row) are reported and the exit code is 1."""

from __future__ import annotations

from pathlib import Path

from .conftest import Harness, next_event, received

CSV = """user_id,name,text
bob,Bob,
carol,Carol,
nobody,Nobody,
dave,Dave,Custom text for {name}
erin,Erin,{title} is not a column
"""


async def test_csv_broadcast_sends_and_reports_failures(harness: Harness, tmp_path: Path) -> None:
    server = await harness.server()
    tok = await harness.users(server, "news", "bob", "carol", "dave", "erin")
    admin = await harness.admin(server)
    await admin.friend.add_black(owner_user_id="carol", black_user_id="news")  # carol blocked the sender
    bob = await harness.client(server, "bob", tok["bob"])
    dave = await harness.client(server, "dave", tok["dave"])
    bob_events, dave_events = bob.events(), dave.events()
    (tmp_path / "recipients.csv").write_text(CSV)

    run = await harness.example(server, "csv_broadcast.py", str(tmp_path / "recipients.csv"), "--user", "news",
                                "--text", "Hello {name}, the meeting moved to 3 pm.")
    code, out = await run.finish(60)

    assert (await next_event(bob_events, received(sender="news"))).message.text == \
        "Hello Bob, the meeting moved to 3 pm."
    assert (await next_event(dave_events, received(sender="news"))).message.text == "Custom text for Dave"
    assert code == 1, out
    lines = out.splitlines()
    # the wording is explain()'s; the server's code and reason name are what a script can rely on
    assert lines[0] == "[1/5] bob: sent", out
    assert lines[1].startswith("[2/5] carol: FAILED: ") and "(1302 BlockedByPeer)" in lines[1], out
    assert lines[2].startswith("[3/5] nobody: FAILED: ") and "1101" in lines[2], out
    assert lines[3:5] == ["[4/5] dave: sent", "[5/5] erin: FAILED: the text uses 'title', which is not a column"]
    assert lines[5] == "sent 2 of 5; 3 failed:"
    assert lines[6].startswith("  line 3 carol: ") and "1302" in lines[6]
    assert lines[7].startswith("  line 4 nobody: ") and lines[8].startswith("  line 6 erin: ")


async def test_csv_broadcast_all_sent_dry_run_and_bad_csv(harness: Harness, tmp_path: Path) -> None:
    server = await harness.server()
    tok = await harness.users(server, "news", "bob")
    bob = await harness.client(server, "bob", tok["bob"])
    events = bob.events()
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("userID,team\nbob,blue\n")
    bad.write_text("name\nBob\n")

    code, out = await (await harness.example(server, "csv_broadcast.py", str(good), "--user", "news", "--dry-run",
                                             "--text", "Team {team}")).finish()
    assert (code, out) == (0, "line 2 bob: Team blue")
    code, out = await (await harness.example(server, "csv_broadcast.py", str(bad), "--text", "x")).finish()
    assert code == 2 and out == ""
    code, out = await (await harness.example(server, "csv_broadcast.py", str(good), "--user", "news",
                                             "--text", "Team {team}")).finish()
    assert (code, out) == (0, "[1/1] bob: sent\nsent 1 of 1")
    assert (await next_event(events, received(sender="news"))).message.text == "Team blue"
