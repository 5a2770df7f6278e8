"""server_stub.ws_pipeline.Pipeline on its own: which requests overlap, the order answers leave
in, the turn each send waits for, the bound and the drain (real asyncio tasks; "not yet" is
checked after letting every ready task run, never with a timer)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from openim_sdk.protocol.envelope import WsRequest, WsResponse
from server_stub.ws_pipeline import Outcome, Pipeline, overlaps


async def _settle() -> None:
    for _ in range(20):  # let every task that can run, run
        await asyncio.sleep(0)


def _outcome(n: int) -> Outcome:
    req = WsRequest(1003, send_id="u", msg_incr=f"u_{n}")
    return req, WsResponse(1003, msg_incr=req.msg_incr), None


class Step:
    """A fake send handler: records that it started, calls ``queued`` when told, ends when told."""

    def __init__(self, n: int, log: list[str]) -> None:
        self.n, self.log = n, log
        self.queue_now, self.end_now = asyncio.Event(), asyncio.Event()

    async def __call__(self, queued: Callable[[], None]) -> Outcome:
        self.log.append(f"start {self.n}")
        await self.queue_now.wait()
        queued()
        await self.end_now.wait()
        return _outcome(self.n)


def test_only_sends_overlap() -> None:
    assert overlaps(1003)
    assert not any(overlaps(r) for r in (1001, 1002, 1004, 1005, 1006, 2003, 2004, 2005))


async def test_each_send_starts_when_the_one_before_queued_and_answers_leave_in_order() -> None:
    log: list[str] = []
    finished: list[str] = []
    pipe = Pipeline(lambda o: finished.append(o[0].msg_incr))
    steps = [Step(i, log) for i in range(3)]
    for s in steps:
        pipe.start(s)
    await _settle()
    assert log == ["start 0"]  # the others wait for their turn
    steps[0].queue_now.set()
    await _settle()
    assert log == ["start 0", "start 1"]
    steps[1].queue_now.set()
    steps[2].queue_now.set()
    await _settle()
    assert log == ["start 0", "start 1", "start 2"]
    steps[2].end_now.set()  # the last one is done first ...
    steps[1].end_now.set()
    await _settle()
    assert finished == []  # ... but nothing leaves before the first
    steps[0].end_now.set()
    await _settle()
    assert finished == ["u_0", "u_1", "u_2"]
    assert len(pipe) == 0


async def test_a_send_that_fails_before_queueing_lets_the_next_one_start() -> None:
    log: list[str] = []
    pipe = Pipeline(lambda o: None)

    async def refused(queued: Callable[[], None]) -> Outcome:
        log.append("refused")
        return _outcome(0)  # an error answer: never queued anything

    nxt = Step(1, log)
    pipe.start(refused)
    pipe.start(nxt)
    await _settle()
    assert log == ["refused", "start 1"]
    nxt.queue_now.set()
    nxt.end_now.set()
    await pipe.drain()


async def test_room_waits_at_the_bound_and_drain_waits_for_all() -> None:
    log: list[str] = []
    pipe = Pipeline(lambda o: None, limit=2)
    steps = [Step(i, log) for i in range(2)]
    for s in steps:
        s.queue_now.set()
        pipe.start(s)
    room = asyncio.ensure_future(pipe.room())
    drained = asyncio.ensure_future(pipe.drain())
    await _settle()
    assert not room.done() and not drained.done()
    steps[0].end_now.set()
    await _settle()
    assert room.done() and not drained.done()
    steps[1].end_now.set()
    await _settle()
    assert drained.done()


async def test_a_failing_answer_does_not_stall_the_ones_after_it() -> None:
    finished: list[str] = []

    def finish(o: Outcome) -> None:
        if o[0].msg_incr == "u_0":
            raise RuntimeError("bug")
        finished.append(o[0].msg_incr)

    pipe = Pipeline(finish)
    steps = [Step(i, []) for i in range(2)]
    for s in steps:
        s.queue_now.set()
        s.end_now.set()
        pipe.start(s)
    await pipe.drain()
    await _settle()
    assert finished == ["u_1"] and len(pipe) == 0
