"""The official OpenIM v3.8 clients against the bundled reference server.

Each client kind runs lib/scenario.mjs once (module-scoped fixture) and the tests assert on its
JSON report:
- js:     @openim/client-sdk 0.0.14 (pure JS, JSON envelopes, sdkType=js), platform 5 (Web)
- native: Go core libopenimsdk.so v3.8.3-patch.15 via koffi (gob + gzip), platform 3 (Windows)
- wasm:   @openim/wasm-client-sdk 3.8.5 in headless Chromium (gob + gzip, isMsgResp), platform 5
- mixed:  A = JS SDK (JSON), B = Go core (gob); the fresh A2 is the Go core on A's platform.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import jwt
import pytest

from .conftest import Admin, DriverRun, ServerProc, run_driver

pytestmark = pytest.mark.interop

SCRIPTS = {"js": "js_client.mjs", "native": "native_client.mjs", "wasm": "wasm_client.mjs"}
STEP_TIMEOUT_MS = {"js": 20000, "native": 20000, "wasm": 30000}
RUN_TIMEOUT_S = {"js": 150, "native": 150, "wasm": 300}


def _ok(run: DriverRun, *names: str) -> None:
    for name in names:
        st = run.step(name)
        assert st.get("ok"), f"step {name!r} failed: {st.get('error')}\n{run.describe()}"


def check_messaging(run: DriverRun) -> None:
    res = run.result
    assert not res.get("fatal"), f"driver aborted: {res.get('fatal')}\n{run.describe()}"
    a, b = res["users"]["a"], res["users"]["b"]
    _ok(run, "login_a", "login_b", "connected_a", "connected_b", "send_a", "recv_b", "send_b", "recv_a")
    sent1, got1 = run.step("send_a")["result"], run.step("recv_b")["result"]
    sent2, got2 = run.step("send_b")["result"], run.step("recv_a")["result"]
    where = run.describe()
    for sent, got, sender, receiver, text in ((sent1, got1, a, b, res["texts"]["a"]),
                                              (sent2, got2, b, a, res["texts"]["b"])):
        assert sent["clientMsgID"] and sent["serverMsgID"], f"send reply lacks IDs: {sent}\n{where}"
        assert sent["sendTime"] and sent["sendTime"] > 0, f"send reply lacks sendTime: {sent}\n{where}"
        assert got["clientMsgID"] == sent["clientMsgID"], f"pushed message is not the sent one\n{where}"
        assert got["serverMsgID"] == sent["serverMsgID"], f"serverMsgID differs between ack and push\n{where}"
        assert (got["sendID"], got["recvID"], got["text"]) == (sender, receiver, text), where
        assert got["sessionType"] == 1 and got["contentType"] == 101, where
        assert got["seq"] > 0, f"pushed message has no seq: {got}\n{where}"
    assert got2["seq"] > got1["seq"], f"seqs do not increase in the conversation: {got1['seq']} {got2['seq']}\n{where}"


def check_history(run: DriverRun) -> None:
    res = run.result
    _ok(run, "mint_a2", "login_a2", "history_a2")
    sent1, sent2 = run.step("send_a")["result"], run.step("send_b")["result"]
    got1, got2 = run.step("recv_b")["result"], run.step("recv_a")["result"]
    msgs: list[dict[str, Any]] = run.step("history_a2")["result"]["messages"]
    by_id = {m["clientMsgID"]: m for m in msgs}
    where = run.describe()
    assert sent1["clientMsgID"] in by_id and sent2["clientMsgID"] in by_id, (
        f"fresh instance's history lacks the exchanged messages: {msgs}\n{where}")
    h1, h2 = by_id[sent1["clientMsgID"]], by_id[sent2["clientMsgID"]]
    assert h1["text"] == res["texts"]["a"] and h2["text"] == res["texts"]["b"], where
    assert 0 < h1["seq"] < h2["seq"], f"history seqs not increasing: {h1['seq']}, {h2['seq']}\n{where}"
    assert (h1["seq"], h2["seq"]) == (got1["seq"], got2["seq"]), f"history seqs differ from pushed seqs\n{where}"
    assert h1["sendID"] == res["users"]["a"] and h2["sendID"] == res["users"]["b"], where
    seqs = [m["seq"] for m in msgs]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"history order/seqs broken: {seqs}\n{where}"


def check_kick(run: DriverRun) -> None:
    _ok(run, "login_a2", "kicked_a")
    evs = run.result["events"]
    assert "kicked" in evs["a"], f"first client saw no kicked event: {evs}\n{run.describe()}"
    assert "kicked" not in evs.get("a2", []), f"the new login was kicked instead: {evs}\n{run.describe()}"


@pytest.fixture(scope="module", params=["js", "native", "wasm"])
def scenario(request: pytest.FixtureRequest, node_modules: Path, server: ServerProc, admin: Admin,
             tmp_path_factory: pytest.TempPathFactory) -> DriverRun:
    kind: str = request.param
    if kind == "wasm":
        request.getfixturevalue("chromium")  # skips (with the reason) if Chromium is unusable
    user_a, user_b = admin.register_pair(f"it_{kind}")
    run = run_driver(SCRIPTS[kind], server, admin, user_a, user_b, tmp_path_factory.mktemp(f"run-{kind}"),
                     timeout=RUN_TIMEOUT_S[kind], step_timeout_ms=STEP_TIMEOUT_MS[kind])
    print(f"\n[interop] {kind} scenario took {run.seconds:.1f}s")
    return run


def test_login_send_push_reply(scenario: DriverRun) -> None:
    """A and B log in; A -> B text is pushed to B; B's reply is pushed to A; seqs increase."""
    check_messaging(scenario)


def test_fresh_instance_gets_history(scenario: DriverRun) -> None:
    """A fresh instance (empty data dir / browser storage) of A finds both messages, seqs increasing."""
    check_messaging(scenario)
    check_history(scenario)


def test_second_login_same_platform_kicks_first(scenario: DriverRun) -> None:
    """Multi-login policy 1: the second login of A on the same platform kicks the first client."""
    check_kick(scenario)


def test_json_client_and_gob_client_interoperate(node_modules: Path, server: ServerProc, admin: Admin,
                                                 tmp_path: Path) -> None:
    """JS SDK (JSON envelopes) <-> Go core (gob + gzip): push both ways, kick across encodings, history."""
    user_a, user_b = admin.register_pair("it_mixed")
    run = run_driver("mixed_client.mjs", server, admin, user_a, user_b, tmp_path / "run-mixed")
    print(f"\n[interop] mixed scenario took {run.seconds:.1f}s")
    assert run.result["kinds"] == {"a": "js", "b": "native", "a2": "native"}
    check_messaging(run)
    check_kick(run)
    check_history(run)


@pytest.mark.parametrize("kind", ["js", "native"])
def test_forged_token_is_refused(kind: str, node_modules: Path, server: ServerProc, admin: Admin,
                                 tmp_path: Path) -> None:
    """A token signed with another secret: the handshake must be refused with 1505 and the official
    client must report it (OnUserTokenInvalid) instead of ever getting a working connection."""
    user_a, user_b = admin.register_pair(f"it_forged_{kind}")
    now = int(time.time())
    platform = 5 if kind == "js" else 3
    forged = jwt.encode({"UserID": user_a, "PlatformID": platform, "exp": now + 86400, "iat": now - 5},
                        "not-the-server-secret-but-long-enough", algorithm="HS256")
    run = run_driver(SCRIPTS[kind], server, admin, user_a, user_b, tmp_path / "run-forged",
                     step_timeout_ms=8000, extra=["--token-a", forged, "--only-login"])
    notices = run.result["notices"]["a"]
    invalid = [n for n in notices if n["event"] == "token-invalid"]
    assert invalid, f"client did not report the refused token: {notices}\n{run.describe()}"
    assert "1505" in str(invalid[0]["data"]), f"expected errCode 1505 (bad signature): {invalid}\n{run.describe()}"
    if kind == "native":
        # The Go core stops reconnecting on 1501-1507 and never reaches connect-success.
        assert "connect-success" not in run.result["events"]["a"], run.describe()
