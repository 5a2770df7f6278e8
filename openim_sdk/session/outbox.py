"""The outbox: what this device typed, sent in order through a window, retried only when it makes sense.

Two layers, as websockets splits its protocol from its I/O:

- :class:`Outbox` is a pure state machine (no I/O, no asyncio, no clock of its own): it is fed
  "queued", "connection up/down", "this attempt was answered / refused / failed" and the current
  time, and answers which message to send next, when to look again, and which attempts timed out.
- :class:`OutboxDriver` is the thin async loop that runs its decisions against a
  :class:`SendPort` (the client: read the payload from the cache, send it, settle the answer).

Rules (the same as before the split, now in one place):

- messages leave in the order typed, at most ``window`` in flight (the server handles one
  connection's requests in order, so the order holds);
- a transient failure (network, timeout, the server busy, an unexpected local error) puts the
  message back in its place; a permanent refusal (the server's business codes: 1402 muted,
  1302 blocked, 1004 no such user, ...) fails it for good and is never retried;
- after a transient failure or a dropped connection with sends in flight, nothing new leaves
  until every send in flight has come back (else a later message could overtake an earlier one
  whose failure was reported late), and then not before ``retry_delay`` has passed;
- an attempt not answered within ``send_timeout`` counts as a transient failure; its late answer
  (if any) is ignored, since every attempt carries its own number.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..protocol.errors import (
    KickedError,
    NetworkError,
    OpenIMError,
    RateLimitedError,
    ServerInternalError,
    TokenError,
)

log = logging.getLogger(__name__)


def is_transient(error: BaseException) -> bool:
    """True when trying again later can succeed: network and timeouts, a busy server, token trouble
    (the session ends; the message stays queued for the next login) and local surprises. The
    server's business refusals (codes 1001-1499 and the like) are permanent."""
    if isinstance(error, NetworkError | RateLimitedError | ServerInternalError | TokenError | KickedError):
        return True
    return not isinstance(error, OpenIMError)


@dataclass(frozen=True)
class Attempt:
    """One try at sending ``client_msg_id``; answers are matched by ``attempt`` number."""

    client_msg_id: str
    attempt: int


@dataclass(frozen=True)
class Verdict:
    """What to do with an answered attempt: ``done`` (sent, or refused for good: ``error``),
    ``retry`` (back in its place), or ``stale`` (not the current attempt: ignore it)."""

    kind: str  # "done" | "failed" | "retry" | "stale"
    client_msg_id: str
    error: BaseException | None = None


@dataclass
class Outbox:
    """The pure outbox state (see the module docstring). Times are in seconds of any monotonic clock."""

    window: int = 8
    send_timeout: float = 30.0
    retry_delay: float = 0.2
    error_delay: float = 1.0
    _order: dict[str, int] = field(default_factory=dict)  # queued or in flight -> position typed
    _waiting: list[str] = field(default_factory=list)  # ascending by position
    _in_flight: dict[str, tuple[int, float]] = field(default_factory=dict)  # cmid -> (attempt, deadline)
    _positions: itertools.count = field(default_factory=itertools.count)  # type: ignore[type-arg]
    _attempts: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]
    _connected: bool = False
    _barrier: bool = False  # let what is in flight settle before anything new leaves
    _not_before: float = 0.0

    # ---------------------------------------------------------------- inputs

    def queue(self, client_msg_id: str) -> bool:
        """Queue a message (no-op when it is queued or in flight already); True if added."""
        if client_msg_id in self._order:
            return False
        self._order[client_msg_id] = next(self._positions)
        self._waiting.append(client_msg_id)
        return True

    def set_connected(self, connected: bool) -> None:
        if self._connected and not connected and self._in_flight:
            self._barrier = True
        self._connected = connected

    def next_send(self, now: float) -> Attempt | None:
        """The next message to send now, or None (nothing waiting, not connected, window full,
        waiting for in-flight sends to settle, or for the retry delay)."""
        if not self._may_send(now):
            return None
        self._barrier = False  # the sends before the disconnect have all settled
        cmid = self._waiting.pop(0)
        attempt = next(self._attempts)
        self._in_flight[cmid] = (attempt, now + self.send_timeout)
        return Attempt(cmid, attempt)

    def sends_now(self, client_msg_id: str, now: float) -> bool:
        """True when :meth:`next_send` would hand out this message now. Reads the state only."""
        return self._may_send(now) and self._waiting[0] == client_msg_id

    def _may_send(self, now: float) -> bool:
        """Something waits, connected, room in the window, nothing to settle first, no retry delay."""
        if not self._waiting or not self._connected or len(self._in_flight) >= self.window:
            return False
        if self._barrier and self._in_flight:
            return False
        return now >= self._not_before

    def skip(self, attempt: Attempt) -> None:
        """The message needs no sending (deleted meanwhile, or already numbered by the server)."""
        if self._current(attempt):
            del self._in_flight[attempt.client_msg_id]
            self._order.pop(attempt.client_msg_id, None)

    def answered(self, attempt: Attempt, now: float, error: BaseException | None = None) -> Verdict:
        """The outcome of an attempt: ``error`` None when the server accepted it."""
        cmid = attempt.client_msg_id
        if not self._current(attempt):
            return Verdict("stale", cmid, error)
        del self._in_flight[cmid]
        if error is None or not is_transient(error):
            self._order.pop(cmid, None)
            return Verdict("done" if error is None else "failed", cmid, error)
        self._put_back(cmid)
        delay = self.retry_delay if isinstance(error, OpenIMError) else self.error_delay
        self._not_before = max(self._not_before, now + delay)
        self._barrier = True
        return Verdict("retry", cmid, error)

    def expired(self, now: float) -> list[Attempt]:
        """Attempts past their deadline: each is put back (a transient failure); the caller may
        cancel them, their late answers come back ``stale``."""
        late = [Attempt(c, a) for c, (a, deadline) in self._in_flight.items() if deadline <= now]
        for at in late:
            del self._in_flight[at.client_msg_id]
            self._put_back(at.client_msg_id)
            self._barrier = True
            self._not_before = max(self._not_before, now + self.retry_delay)
        return late

    # ---------------------------------------------------------------- outputs

    def next_wakeup(self, now: float) -> float | None:
        """When the state could change by time alone (a retry delay ends, an attempt expires)."""
        times = [deadline for _, deadline in self._in_flight.values()]
        if self._waiting and self._not_before > now:
            times.append(self._not_before)
        return min(times) if times else None

    @property
    def pending(self) -> frozenset[str]:
        """Queued or in flight."""
        return frozenset(self._order)

    @property
    def waiting(self) -> list[str]:
        return list(self._waiting)

    @property
    def in_flight(self) -> frozenset[str]:
        return frozenset(self._in_flight)

    def __contains__(self, client_msg_id: object) -> bool:
        return client_msg_id in self._order

    def __len__(self) -> int:
        return len(self._order)

    # ---------------------------------------------------------------- helpers

    def _current(self, attempt: Attempt) -> bool:
        cur = self._in_flight.get(attempt.client_msg_id)
        return cur is not None and cur[0] == attempt.attempt

    def _put_back(self, cmid: str) -> None:
        pos = self._order[cmid]
        i = 0
        while i < len(self._waiting) and self._order[self._waiting[i]] < pos:
            i += 1
        self._waiting.insert(i, cmid)


class SendPort(Protocol):
    """What the driver needs from the session (the client implements it; tests fake it)."""

    @property
    def can_send(self) -> bool:
        """Connected and synced: sends may leave now."""

    async def payload(self, client_msg_id: str) -> bytes | None:
        """The wire bytes of a queued message, or None when it needs no sending any more."""

    async def transmit(self, client_msg_id: str, payload: bytes) -> bytes:
        """Send; returns the server's answer (raises :class:`OpenIMError` on a refusal or a failure)."""

    async def accepted(self, client_msg_id: str, reply: bytes) -> None:
        """The server accepted the message: settle the cache and tell the app."""

    async def refused(self, client_msg_id: str, error: BaseException) -> None:
        """The server refused the message for good: mark it failed and tell the app why."""

    async def retrying(self, client_msg_id: str, error: BaseException) -> None:
        """A transient failure: the message goes out again later."""


class OutboxDriver:
    """Runs an :class:`Outbox` against a :class:`SendPort`; one loop task, one task per attempt."""

    def __init__(
        self,
        port: SendPort,
        outbox: Outbox | None = None,
        *,
        monotonic: Callable[[], float],
        spawn: Callable[[Awaitable[None]], asyncio.Task[None]] | None = None,
        poll: float = 0.5,
    ) -> None:
        self.port = port
        self.state = outbox if outbox is not None else Outbox()
        self._monotonic = monotonic
        self._spawn = spawn or asyncio.ensure_future
        self._wake = asyncio.Event()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._outcomes: dict[str, list[asyncio.Future[BaseException | None]]] = {}
        self._drained = asyncio.Event()
        self._drained.set()
        self._poll = poll

    def queue(self, client_msg_id: str) -> None:
        if self.state.queue(client_msg_id):
            self._drained.clear()
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def connection(self, up: bool) -> None:
        self.state.set_connected(up)
        self.wake()

    def __contains__(self, client_msg_id: object) -> bool:
        return client_msg_id in self.state

    def sends_now(self, client_msg_id: str) -> bool:
        """This queued message goes out at the loop's next turn (see :meth:`Outbox.sends_now`)."""
        return self.port.can_send and self.state.sends_now(client_msg_id, self._monotonic())

    async def drained(self) -> None:
        """Wait until every queued message has been answered (sent or refused)."""
        await self._drained.wait()

    def outcome(self, client_msg_id: str) -> asyncio.Future[BaseException | None]:
        """Resolves when the message is sent (None) or refused for good (the error), once the port
        has settled that answer (``accepted``/``refused`` returned)."""
        fut: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
        if client_msg_id not in self.state and client_msg_id not in self._tasks:
            fut.set_result(None)  # neither queued nor being settled: the caller checks the cached status
        else:
            self._outcomes.setdefault(client_msg_id, []).append(fut)
        return fut

    async def run(self) -> None:
        while True:
            now = self._monotonic()
            for late in self.state.expired(now):
                task = self._tasks.pop(late.client_msg_id, None)
                if task is not None:
                    task.cancel()
            self.state.set_connected(self.port.can_send)
            attempt = self.state.next_send(now)
            if attempt is None:
                self._check_drained()
                wake_at = self.state.next_wakeup(now)
                timeout = None if wake_at is None else max(0.0, wake_at - now)
                if self.state.waiting and not self.port.can_send:  # hear of a reconnect even if
                    timeout = self._poll if timeout is None else min(timeout, self._poll)  # nobody wakes us
                self._wake.clear()
                with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it swallows a
                    async with asyncio.timeout(timeout):  # cancel that comes with a wake-up,
                        await self._wake.wait()  # and close() would wait for this task forever
                continue
            try:
                payload = await self.port.payload(attempt.client_msg_id)  # read in queue order
            except Exception as exc:  # never lose the message or the loop: try again later
                self.state.answered(attempt, self._monotonic(), exc)
                await self.port.retrying(attempt.client_msg_id, exc)
                continue
            if payload is None:
                self.state.skip(attempt)
                self._resolve(attempt.client_msg_id, None)
                continue
            self._tasks[attempt.client_msg_id] = self._spawn(self._attempt(attempt, payload))

    async def _attempt(self, attempt: Attempt, payload: bytes) -> None:
        cmid = attempt.client_msg_id
        error: BaseException | None = None
        reply = b""
        try:
            reply = await self.port.transmit(cmid, payload)
        except asyncio.CancelledError:
            if self._tasks.get(cmid) is not asyncio.current_task():
                return  # expired: already put back
            raise
        except Exception as exc:
            error = exc
        verdict = self.state.answered(attempt, self._monotonic(), error)
        try:
            if verdict.kind == "done":
                await self.port.accepted(cmid, reply)
            elif verdict.kind == "failed":
                assert error is not None
                await self.port.refused(cmid, error)
            elif verdict.kind == "retry":
                assert error is not None
                await self.port.retrying(cmid, error)
        finally:
            # whoever waits for this answer hears of it once it is settled (or settling it failed:
            # they read the cache); until then outcome() counts the message as pending
            if verdict.kind in ("done", "failed"):
                self._resolve(cmid, error)
            if self._tasks.get(cmid) is asyncio.current_task():
                del self._tasks[cmid]  # only now: drained means every answer has been told
            self._check_drained()
            self.wake()

    def _resolve(self, cmid: str, error: BaseException | None) -> None:
        for fut in self._outcomes.pop(cmid, []):
            if not fut.done():
                fut.set_result(error)
        self._check_drained()

    def _check_drained(self) -> None:
        if not len(self.state) and not self._tasks:
            self._drained.set()
