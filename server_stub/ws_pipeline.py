"""One WebSocket connection's requests in flight (issue 16): which may overlap, in what order
their answers leave, and how many may wait.

Upstream's msggateway (``internal/msggateway/client.go`` ``readMessage``) reads a frame and
calls ``handleMessage`` inline before it reads the next: a connection's requests run one at a
time there too. It can afford it because its send (``SendMessage`` -> the msg RPC) only produces
the message to Kafka and returns; the seq is allocated later, in batches, by msgtransfer. Here a
send's answer comes after its seq was allocated and its transaction committed (group commit on
the writer thread, :mod:`server_stub.storage`), so one-at-a-time would cap a connection at one
commit per message. Instead a connection's sends overlap, under these rules:

- Only sends (1003) overlap (:func:`overlaps`). Every other request is a barrier: it starts when
  everything before it has answered, and nothing after it starts before it answered (a pull
  after a send sees the send; a logout or set-background status applies to everything after it).
- Sends reach their seq allocation in arrival order: each send's handler starts when the send
  before it has *queued* its store on the writer (the ``queued`` callback it is given, called by
  ``Storage.run`` right after the enqueue), or has finished without one. The writer runs its queue
  in order, so seqs follow arrival order, and sends queued while the writer is busy share one
  group-commit transaction.
- Answers leave in arrival order: a finished send waits for the ones before it; its ack is
  queued and its push callback runs (pushes in seq order) only then (:meth:`Pipeline._done`).
- At most ``limit`` requests wait per connection; the reader stops reading until one answered
  (back-pressure to the socket: websockets' own buffer, then TCP).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from openim_sdk.protocol.constants import ReqIdentifier
from openim_sdk.protocol.envelope import WsRequest, WsResponse

log = logging.getLogger("server_stub.gateway")

#: Requests per connection in flight before the gateway stops reading (the SDK's outbox keeps 8).
MAX_IN_FLIGHT = 16

#: A request's result as the gateway sends it: the request, its answer, and what runs after the
#: answer is queued (a send's pushes) or None.
Outcome = tuple[WsRequest, WsResponse, Callable[[], Any] | None]

#: Runs one overlapping request; given the callback that lets the next one start.
Start = Callable[[Callable[[], None]], Awaitable[Outcome]]


def overlaps(req_identifier: int) -> bool:
    """True for the requests that may run while the ones before them are still running: sends."""
    return req_identifier == ReqIdentifier.SEND_MSG


class Pipeline:
    """The requests of one connection in flight, oldest first; ``finish`` gets each outcome, in
    arrival order, as soon as it and every one before it are done."""

    def __init__(self, finish: Callable[[Outcome], None], limit: int = MAX_IN_FLIGHT) -> None:
        self._finish = finish
        self._limit = max(1, limit)
        self._fifo: deque[asyncio.Task[Outcome]] = deque()
        self._changed = asyncio.Event()  # set whenever a request left the fifo
        self._turn: asyncio.Event | None = None  # opens when the newest send may be followed

    def __len__(self) -> int:
        return len(self._fifo)

    def start(self, run: Start) -> None:
        """Start an overlapping request; it begins once the one before it let it (see module doc)."""
        before, mine = self._turn, asyncio.Event()
        self._turn = mine

        async def go() -> Outcome:
            try:
                if before is not None:
                    await before.wait()
                return await run(mine.set)
            finally:
                mine.set()

        task = asyncio.get_running_loop().create_task(go())
        self._fifo.append(task)
        task.add_done_callback(self._done)

    async def room(self) -> None:
        """Return when fewer than ``limit`` requests are in flight."""
        while len(self._fifo) >= self._limit:
            self._changed.clear()
            await self._changed.wait()

    async def drain(self) -> None:
        """Return when every request started so far has been answered."""
        while self._fifo:
            self._changed.clear()
            await self._changed.wait()

    def _done(self, _: asyncio.Task[Outcome]) -> None:
        fifo = self._fifo
        try:
            while fifo and fifo[0].done():
                task = fifo.popleft()
                if not task.cancelled() and task.exception() is None:  # the gateway's runner answers every error
                    self._finish(task.result())
        except Exception:  # a bug in one answer must not stall the ones after it
            log.exception("answering a request failed")
            asyncio.get_running_loop().call_soon(self._done, _)
        finally:
            self._changed.set()
