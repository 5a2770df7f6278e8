"""The outbox state machine (pure, fake clock) and its driver over a fake connection (no sockets)."""

from __future__ import annotations

import asyncio

import pytest

from openim_sdk.protocol.errors import (
    MessageError,
    NetworkError,
    RelationError,
    RequestTimeoutError,
    TokenExpiredError,
    error_for_code,
)
from openim_sdk.session.outbox import Attempt, Outbox, OutboxDriver, is_transient


def connected_box(**kw: float) -> Outbox:
    box = Outbox(**kw)  # type: ignore[arg-type]
    box.set_connected(True)
    return box


def drain(box: Outbox, now: float = 0.0) -> list[Attempt]:
    out = []
    while (a := box.next_send(now)) is not None:
        out.append(a)
    return out


# ---------------------------------------------------------------------------- the pure machine


def test_sends_in_the_order_typed_within_the_window():
    box = connected_box(window=3)
    for i in range(5):
        box.queue(f"m{i}")
    assert [a.client_msg_id for a in drain(box)] == ["m0", "m1", "m2"]
    assert box.answered(Attempt("m0", 1), 0.0).kind == "done"
    assert [a.client_msg_id for a in drain(box)] == ["m3"]
    assert box.pending == {"m1", "m2", "m3", "m4"}


def test_queue_is_idempotent_and_nothing_leaves_while_disconnected():
    box = Outbox()
    assert box.queue("a") and not box.queue("a")
    assert box.next_send(0.0) is None
    box.set_connected(True)
    assert box.next_send(0.0) == Attempt("a", 1)
    assert not box.queue("a")  # in flight: still known


def test_permanent_refusal_fails_without_retry():
    box = connected_box()
    box.queue("a")
    at = box.next_send(0.0)
    assert at is not None
    muted = error_for_code(1402, "MutedInGroup")
    verdict = box.answered(at, 0.0, muted)
    assert verdict.kind == "failed" and verdict.error is muted
    assert "a" not in box and box.next_send(10.0) is None


def test_transient_failure_goes_back_in_place_after_in_flight_settles_and_the_delay():
    box = connected_box(window=4, retry_delay=2.0)
    for c in "abc":
        box.queue(c)
    a, b, c = drain(box)
    assert box.answered(a, 1.0, NetworkError(message="dropped")).kind == "retry"
    box.queue("d")
    assert box.next_send(5.0) is None  # b and c still in flight: nothing overtakes a
    box.answered(b, 1.5)
    box.answered(c, 1.5)
    assert box.next_send(2.5) is None  # retry delay (until 3.0)
    assert box.next_wakeup(2.5) == 3.0
    assert [x.client_msg_id for x in drain(box, 3.0)] == ["a", "d"]


def test_connection_drop_with_sends_in_flight_holds_new_sends_until_they_settle():
    box = connected_box(window=4)
    box.queue("a")
    a = box.next_send(0.0)
    assert a is not None
    box.set_connected(False)
    box.set_connected(True)
    box.queue("b")
    assert box.next_send(0.0) is None
    box.answered(a, 0.0)
    assert box.next_send(0.0) == Attempt("b", 2)


def test_timeout_puts_the_attempt_back_and_its_late_answer_is_stale():
    box = connected_box(send_timeout=10.0, retry_delay=0.5)
    box.queue("a")
    first = box.next_send(0.0)
    assert first is not None
    assert box.next_wakeup(0.0) == 10.0
    assert box.expired(9.9) == []
    assert box.expired(10.0) == [first]
    assert box.next_send(10.2) is None
    second = box.next_send(10.5)
    assert second is not None and second.client_msg_id == "a" and second != first
    assert box.answered(first, 11.0).kind == "stale"
    assert "a" in box
    assert box.answered(second, 11.0).kind == "done"
    assert "a" not in box


def test_sends_now_says_whether_next_send_would_hand_out_the_message():
    box = Outbox(window=1, retry_delay=0.5)
    box.queue("a")
    assert not box.sends_now("a", 0.0)  # not connected
    box.set_connected(True)
    box.queue("b")
    assert box.sends_now("a", 0.0) and not box.sends_now("b", 0.0)  # only the first in line
    a = box.next_send(0.0)
    assert a is not None and not box.sends_now("b", 0.0)  # the window is full
    box.answered(a, 1.0, NetworkError(message="down"))  # back in place, after a delay
    assert not box.sends_now("a", 1.2) and box.sends_now("a", 1.5)
    assert box.next_send(1.5) == Attempt("a", 2)  # what sends_now promised
    assert not box.sends_now("zzz", 9.0)


def test_skip_forgets_the_message():
    box = connected_box()
    box.queue("a")
    at = box.next_send(0.0)
    assert at is not None
    box.skip(at)
    assert len(box) == 0


@pytest.mark.parametrize(("error", "transient"), [
    (NetworkError(message="x"), True),
    (RequestTimeoutError(message="x"), True),
    (TokenExpiredError(1501, "TokenExpiredError"), True),
    (error_for_code(500, "ServerInternalError"), True),
    (RuntimeError("bug"), True),
    (error_for_code(1402, "MutedInGroup"), False),
    (error_for_code(1302, "BlockedByPeer"), False),
    (error_for_code(1004, "RecordNotFoundError"), False),
    (error_for_code(1203, "NotInGroupYetError"), False),
])
def test_transient_or_permanent(error, transient):
    assert is_transient(error) is transient
    assert isinstance(error_for_code(1402), MessageError) and isinstance(error_for_code(1302), RelationError)


# ---------------------------------------------------------------------------- the driver


class FakePort:
    """A fake connection: each transmit waits for the test to answer it."""

    def __init__(self) -> None:
        self.can_send = True
        self.sent: list[str] = []
        self.calls: asyncio.Queue[tuple[str, asyncio.Future[bytes]]] = asyncio.Queue()
        self.accepted_ids: list[str] = []
        self.refused_ids: list[tuple[str, BaseException]] = []
        self.retried: list[str] = []
        self.gone: set[str] = set()

    async def payload(self, cmid: str) -> bytes | None:
        return None if cmid in self.gone else cmid.encode()

    async def transmit(self, cmid: str, payload: bytes) -> bytes:
        self.sent.append(cmid)
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        await self.calls.put((cmid, fut))
        return await fut

    async def accepted(self, cmid: str, reply: bytes) -> None:
        self.accepted_ids.append(cmid)

    async def refused(self, cmid: str, error: BaseException) -> None:
        self.refused_ids.append((cmid, error))

    async def retrying(self, cmid: str, error: BaseException) -> None:
        self.retried.append(cmid)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def next_call(port: FakePort) -> tuple[str, asyncio.Future[bytes]]:
    return await asyncio.wait_for(port.calls.get(), 5)


async def test_driver_sends_in_order_and_reports_refusals():
    port, clock = FakePort(), Clock()
    driver = OutboxDriver(port, Outbox(window=2), monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        for c in ("a", "b", "c"):
            driver.queue(c)
        (ca, fa), (cb, fb) = await next_call(port), await next_call(port)
        assert (ca, cb) == ("a", "b") and port.calls.empty()  # window of 2
        outcome_b = driver.outcome("b")
        fa.set_result(b"ok")
        cc, fc = await next_call(port)
        assert cc == "c"
        fb.set_exception(error_for_code(1402, "MutedInGroup"))
        err = await asyncio.wait_for(outcome_b, 5)
        assert isinstance(err, MessageError) and err.code == 1402
        fc.set_result(b"ok")
        await asyncio.wait_for(driver.drained(), 5)
        assert port.accepted_ids == ["a", "c"]
        assert [(c, e.code) for c, e in port.refused_ids] == [("b", 1402)]  # type: ignore[attr-defined]
        assert port.sent == ["a", "b", "c"]  # the refusal was not retried
    finally:
        task.cancel()


async def test_driver_retries_a_network_failure_in_place():
    port, clock = FakePort(), Clock()
    driver = OutboxDriver(port, Outbox(window=4, retry_delay=0.0), monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        driver.queue("a")
        driver.queue("b")
        (_, fa), (_, fb) = await next_call(port), await next_call(port)
        fa.set_exception(NetworkError(message="connection lost"))
        fb.set_exception(NetworkError(message="connection lost"))
        (c1, f1), (c2, f2) = await next_call(port), await next_call(port)
        assert (c1, c2) == ("a", "b")
        f1.set_result(b"")
        f2.set_result(b"")
        await asyncio.wait_for(driver.drained(), 5)
        assert port.retried == ["a", "b"] and port.accepted_ids == ["a", "b"]
    finally:
        task.cancel()


async def test_driver_skips_messages_that_need_no_sending_and_waits_for_the_connection():
    port, clock = FakePort(), Clock()
    port.can_send = False
    port.gone.add("a")
    driver = OutboxDriver(port, monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        driver.queue("a")
        driver.queue("b")
        await asyncio.sleep(0)
        assert port.sent == []
        port.can_send = True
        driver.connection(True)
        cb, fb = await next_call(port)
        assert cb == "b" and port.sent == ["b"]
        fb.set_result(b"")
        await asyncio.wait_for(driver.drained(), 5)
    finally:
        task.cancel()


async def test_driver_survives_a_failing_cache_read():
    port, clock = FakePort(), Clock()
    reads = {"n": 0}
    real = port.payload

    async def flaky(cmid: str) -> bytes | None:
        reads["n"] += 1
        if reads["n"] == 1:
            raise OSError("disk hiccup")
        return await real(cmid)

    port.payload = flaky  # type: ignore[method-assign]
    driver = OutboxDriver(port, Outbox(error_delay=5.0), monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        driver.queue("a")
        async def retried() -> None:
            while not port.retried:
                await asyncio.sleep(0)  # yields to the driver; no time passes

        await asyncio.wait_for(retried(), 5)
        assert port.retried == ["a"] and port.sent == []
        clock.now = 5.0  # the error delay passed
        driver.wake()
        ca, fa = await next_call(port)
        assert ca == "a"
        fa.set_result(b"")
        await asyncio.wait_for(driver.drained(), 5)
    finally:
        task.cancel()


async def test_drained_only_after_the_answer_has_been_told():
    """flush() returning means every MessageSent/MessageSendFailed has been emitted."""
    port, clock = FakePort(), Clock()
    release = asyncio.Event()
    told: list[str] = []

    async def slow_accepted(cmid: str, reply: bytes) -> None:
        await release.wait()  # e.g. the cache write of the ack
        told.append(cmid)

    port.accepted = slow_accepted  # type: ignore[method-assign]
    driver = OutboxDriver(port, monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        driver.queue("a")
        _, fa = await next_call(port)
        fa.set_result(b"")
        drained = asyncio.ensure_future(driver.drained())
        for _ in range(20):
            driver.wake()  # anything may wake the loop meanwhile (a connection change, a new message)
            await asyncio.sleep(0)  # let the driver run as far as it can without the release
        assert not drained.done() and told == []
        release.set()
        await asyncio.wait_for(drained, 5)
        assert told == ["a"]
    finally:
        task.cancel()


async def test_an_outcome_asked_while_the_refusal_is_settled_is_the_refusal():
    """wait_sent() may ask after the answer came but before the port has settled it (the cache
    row marked failed): it must hear the refusal, not "not queued, read the cache" (which still
    says sending)."""
    port, clock = FakePort(), Clock()
    release = asyncio.Event()

    async def slow_refused(cmid: str, error: BaseException) -> None:
        await release.wait()  # e.g. waiting for the row of a wait=True send to be written
        port.refused_ids.append((cmid, error))

    port.refused = slow_refused  # type: ignore[method-assign]
    driver = OutboxDriver(port, monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        driver.queue("a")
        _, fa = await next_call(port)
        fa.set_exception(error_for_code(1302, "BlockedByPeer"))
        for _ in range(5):
            await asyncio.sleep(0)  # the answer is in; its settling waits for the release
        assert "a" not in driver and port.refused_ids == []
        outcome = driver.outcome("a")
        assert not outcome.done()
        release.set()
        err = await asyncio.wait_for(outcome, 5)
        assert isinstance(err, RelationError) and err.code == 1302 and len(port.refused_ids) == 1
    finally:
        task.cancel()


async def test_an_outcome_is_told_even_when_settling_the_answer_fails():
    port, clock = FakePort(), Clock()

    async def broken_accepted(cmid: str, reply: bytes) -> None:
        raise RuntimeError("cache closed")

    port.accepted = broken_accepted  # type: ignore[method-assign]
    driver = OutboxDriver(port, monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    try:
        driver.queue("a")
        outcome = driver.outcome("a")
        _, fa = await next_call(port)
        fa.set_result(b"")
        assert await asyncio.wait_for(outcome, 5) is None  # the caller reads the cache
    finally:
        task.cancel()


async def test_the_loop_stops_when_cancelled_right_after_a_wake_up():
    """close() cancels the loop just after something woke it (the connection going down): the
    cancel must not be lost (asyncio.wait_for on 3.11 returns the inner result instead), else
    close() waits for the loop forever."""
    port, clock = FakePort(), Clock()
    driver = OutboxDriver(port, monotonic=clock)
    task = asyncio.ensure_future(driver.run())
    driver.queue("a")
    _, fa = await next_call(port)  # in flight: the loop waits with a deadline (a timeout)
    for _ in range(5):
        await asyncio.sleep(0)
    driver.wake()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)  # (a guard against the hang, not a speed check)
    assert task in done and task.cancelled()
    fa.cancel()
