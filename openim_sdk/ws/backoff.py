"""Reconnect schedules for the long connection — pure: no I/O, no clock, no global random state.

A policy answers one question: how long to wait before the next connection attempt, given the
attempt number, how long the outage has lasted so far and a random source.
:class:`ReconnectSchedule` keeps that state across failures, handshakes and drops; its caller
passes the time in, so both can be tested without sleeping.

- :class:`FullJitterBackoff` (the default): every wait is drawn uniformly from
  ``[0, window]`` ("full jitter") where the window is the time since the outage began, at least
  ``first`` (0.5 s) and at most ``cap`` (16 s). So:

  * after a drop the first retry comes within 0.5 s: a server that restarts in under a second
    costs a user well under a second more;
  * the window grows with the outage, so on average each retry instant is 1.5 times the one
    before — exponential backoff in time — up to one retry per 8 s on average once capped;
  * no retry waits longer than the outage has lasted (or 0.5 s, or ``cap``), so however the
    draws fall a client is back at most ``max(first, outage)`` after the server is;
  * every client draws from the whole window, so a crowd dropped by one server restart comes
    back spread over about as long as the outage was, not in step.

  (A per-attempt window, ``first * 2**(n-1)``, was tried first: clients whose early draws were
  short reached a 4 s window before a 0.9 s restart was over, and 1 % of them came back 3.5 s
  late — later than with the old schedule.)
- :class:`FixedBackoff`: a fixed cycle of delays, each spread by +-``jitter`` — the schedule
  before (1, 2, 4, 8, 16 s cycled, +-20 %); what a plain sequence passed as ``backoff=`` means.

A connection that drops sooner than ``stable_after`` seconds after its handshake does not start
a new outage: the attempt count and the outage clock (time spent disconnected) go on from before
it, so a server that accepts and closes at once is not redialled at the quick first-retry rate
forever.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_BACKOFF",
    "LEGACY_BACKOFF",
    "BackoffPolicy",
    "FixedBackoff",
    "FullJitterBackoff",
    "ReconnectSchedule",
    "as_policy",
]


@runtime_checkable
class BackoffPolicy(Protocol):
    """How long to wait before reconnect attempt ``attempt`` (>= 1) of an outage ``elapsed`` s old."""

    @property
    def stable_after(self) -> float:
        """A connection up at least this long (seconds) ends the outage when it is made."""
        ...

    def delay(self, attempt: int, elapsed: float, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class FullJitterBackoff:
    """Wait ``uniform(0, window)``, the window being the outage so far clamped to ``[first, cap]``."""

    first: float = 0.5
    cap: float = 16.0
    factor: float = 1.0  # window = factor * elapsed (clamped): 1.0 -> retry instants grow ~1.5x each
    stable_after: float = 5.0

    def __post_init__(self) -> None:
        values = (self.first, self.cap, self.factor, self.stable_after)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("FullJitterBackoff parameters must be finite")
        if not (self.first > 0 and self.cap >= self.first and self.factor >= 0 and self.stable_after >= 0):
            raise ValueError("FullJitterBackoff needs first > 0, cap >= first, factor >= 0, stable_after >= 0")

    def window(self, elapsed: float) -> float:
        """The upper end of the wait drawn ``elapsed`` seconds into an outage."""
        return min(self.cap, max(self.first, self.factor * max(elapsed, 0.0)))

    def delay(self, attempt: int, elapsed: float, rng: random.Random) -> float:
        return rng.uniform(0.0, self.window(elapsed))


@dataclass(frozen=True)
class FixedBackoff:
    """A fixed cycle of delays, each spread by +-``jitter`` (relative); the count resets on every drop."""

    delays: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    jitter: float = 0.2
    stable_after: float = 0.0

    def __post_init__(self) -> None:
        if not self.delays or any(not (d >= 0 and math.isfinite(d)) for d in self.delays):
            raise ValueError("backoff must be a non-empty sequence of non-negative delays")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.stable_after < 0:
            raise ValueError("stable_after must be >= 0")

    def delay(self, attempt: int, elapsed: float, rng: random.Random) -> float:
        if attempt < 1:
            raise ValueError("attempt must be >= 1")
        base = self.delays[(attempt - 1) % len(self.delays)]
        if not self.jitter:
            return base
        return max(base * (1 + rng.uniform(-self.jitter, self.jitter)), 0.0)


DEFAULT_BACKOFF = FullJitterBackoff()
LEGACY_BACKOFF = FixedBackoff()  # the schedule before: 1, 2, 4, 8, 16 s cycled, +-20 %


def as_policy(backoff: Sequence[float] | BackoffPolicy, jitter: float = 0.2) -> BackoffPolicy:
    """A policy as is; a sequence of delays as a :class:`FixedBackoff` with ``jitter``."""
    if isinstance(backoff, BackoffPolicy):
        return backoff
    if isinstance(backoff, str | bytes):
        raise TypeError("backoff must be a sequence of delays or a BackoffPolicy")
    return FixedBackoff(tuple(float(d) for d in backoff), jitter)


class ReconnectSchedule:
    """The state of a connection loop's backoff (sans-I/O): attempt count and outage start.

    ``attempt`` counts the waits since the last connection that stayed up ``stable_after``
    seconds (or since the start). Times are seconds on any monotonic clock, passed in by the
    caller. Each report returns ``(attempt, delay)``.
    """

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng if rng is not None else random.Random()
        self.attempt = 0
        self._since: float | None = None  # when the current outage began
        self._connected_at: float | None = None
        self._carried: tuple[int, float | None] = (0, None)  # (attempt, since) when last connected

    def failed(self, now: float) -> tuple[int, float]:
        """A dial or handshake failed at ``now`` (no connection was made)."""
        if self._since is None:
            self._since = now
        self.attempt += 1
        return self.attempt, self._delay(now)

    def connected(self, now: float) -> None:
        """A handshake succeeded at ``now``."""
        self._carried = (self.attempt, self._since)
        self._connected_at = now
        self.attempt = 0
        self._since = None

    def dropped(self, now: float) -> tuple[int, float]:
        """The connection made by the last :meth:`connected` ended at ``now``."""
        up_since, self._connected_at = self._connected_at, None
        if up_since is None or now - up_since >= self.policy.stable_after:
            self.attempt, self._since = 1, now  # a new outage
        else:  # dropped at once: the outage it interrupted goes on (the time it was up not counted)
            attempt, since = self._carried
            down_before = 0.0 if since is None else up_since - since
            self.attempt, self._since = attempt + 1, now - down_before
        return self.attempt, self._delay(now)

    def _delay(self, now: float) -> float:
        elapsed = 0.0 if self._since is None else now - self._since
        return max(float(self.policy.delay(self.attempt, elapsed, self.rng)), 0.0)
