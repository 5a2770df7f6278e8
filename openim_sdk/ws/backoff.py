"""Reconnect schedules for the long connection — pure: no I/O, no clock, no global random state.

A policy answers one question: how long to wait before attempt ``n`` (``n`` >= 1), given a random
source. :class:`ReconnectSchedule` keeps the attempt count across failures, handshakes and drops
and is fed the time by its caller, so both can be tested without sleeping.

- :class:`ExponentialBackoff` (the default): "full jitter" exponential backoff. Attempt ``n``
  waits ``uniform(0, min(cap, first * factor ** (n - 1)))``: after a drop the first retry comes
  within ``first`` seconds (0.5 s), so a server that restarts in under a second costs a user
  well under a second; each retry doubles the window up to ``cap``; and because every delay is
  drawn from the whole window, a crowd of clients dropped at the same instant comes back spread
  out instead of in step.
- :class:`FixedBackoff`: a fixed cycle of delays with relative jitter — the schedule before
  (1, 2, 4, 8, 16 s cycled, +-20 %); what a plain sequence of delays passed as ``backoff=`` means.

A connection that drops sooner than ``stable_after`` seconds after its handshake does not reset
the count (the next wait continues to grow), so a server that accepts and then closes at once
is not redialled at the fast first-retry rate forever.
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
    "ExponentialBackoff",
    "FixedBackoff",
    "ReconnectSchedule",
    "as_policy",
]


@runtime_checkable
class BackoffPolicy(Protocol):
    """How long to wait before reconnect attempt ``attempt`` (>= 1)."""

    @property
    def stable_after(self) -> float:
        """A connection up at least this long (seconds) resets the attempt count when it drops."""
        ...

    def delay(self, attempt: int, rng: random.Random) -> float: ...


@dataclass(frozen=True)
class ExponentialBackoff:
    """Exponential backoff with full jitter: attempt n waits uniform(0, min(cap, first * factor**(n-1)))."""

    first: float = 0.5
    factor: float = 2.0
    cap: float = 16.0
    stable_after: float = 5.0

    def __post_init__(self) -> None:
        if not (self.first > 0 and self.cap >= self.first and self.factor >= 1 and self.stable_after >= 0):
            raise ValueError("ExponentialBackoff needs first > 0, cap >= first, factor >= 1, stable_after >= 0")
        if not all(math.isfinite(v) for v in (self.first, self.factor, self.cap, self.stable_after)):
            raise ValueError("ExponentialBackoff parameters must be finite")

    def ceiling(self, attempt: int) -> float:
        """The upper end of attempt ``attempt``'s window."""
        if attempt < 1:
            raise ValueError("attempt must be >= 1")
        if self.factor == 1:
            return self.first
        # first * factor**k > cap once k > log(cap/first)/log(factor): avoid float overflow for large k
        k = attempt - 1
        if k > math.log(self.cap / self.first) / math.log(self.factor):
            return self.cap
        return min(self.cap, self.first * self.factor**k)

    def delay(self, attempt: int, rng: random.Random) -> float:
        return rng.uniform(0.0, self.ceiling(attempt))


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

    def delay(self, attempt: int, rng: random.Random) -> float:
        if attempt < 1:
            raise ValueError("attempt must be >= 1")
        base = self.delays[(attempt - 1) % len(self.delays)]
        if not self.jitter:
            return base
        return max(base * (1 + rng.uniform(-self.jitter, self.jitter)), 0.0)


DEFAULT_BACKOFF = ExponentialBackoff()
LEGACY_BACKOFF = FixedBackoff()  # the schedule of 0.1: 1, 2, 4, 8, 16 s cycled, +-20 %


def as_policy(backoff: Sequence[float] | BackoffPolicy, jitter: float = 0.2) -> BackoffPolicy:
    """A policy as is; a sequence of delays as a :class:`FixedBackoff` with ``jitter``."""
    if isinstance(backoff, BackoffPolicy):
        return backoff
    if isinstance(backoff, str | bytes):
        raise TypeError("backoff must be a sequence of delays or a BackoffPolicy")
    return FixedBackoff(tuple(float(d) for d in backoff), jitter)


class ReconnectSchedule:
    """The attempt count of a connection loop and the delays it waits (sans-I/O).

    ``attempt`` counts the waits since the last connection that stayed up ``stable_after``
    seconds (or since the start). The caller reports what happened and gets ``(attempt, delay)``.
    """

    def __init__(self, policy: BackoffPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.rng = rng if rng is not None else random.Random()
        self.attempt = 0
        self._carried = 0  # the attempt count when the current connection was made
        self._connected_at: float | None = None

    def failed(self) -> tuple[int, float]:
        """A dial or handshake failed (no connection was made)."""
        self.attempt += 1
        return self.attempt, self._delay()

    def connected(self, now: float) -> None:
        """A handshake succeeded at ``now`` (any monotonic clock, seconds)."""
        self._carried = self.attempt
        self._connected_at = now
        self.attempt = 0

    def dropped(self, now: float) -> tuple[int, float]:
        """The connection made by the last :meth:`connected` ended at ``now``."""
        since = self._connected_at
        self._connected_at = None
        stable = since is None or now - since >= self.policy.stable_after
        self.attempt = 1 if stable else self._carried + 1
        return self.attempt, self._delay()

    def _delay(self) -> float:
        return max(float(self.policy.delay(self.attempt, self.rng)), 0.0)
