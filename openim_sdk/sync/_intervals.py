"""A compact set of integers stored as sorted, disjoint, non-adjacent closed intervals."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator


class IntervalSet:
    """Set of ints as ``[(lo, hi), ...]`` (inclusive, sorted, merged). O(log n) lookups."""

    __slots__ = ("_los", "_his")

    def __init__(self) -> None:
        self._los: list[int] = []
        self._his: list[int] = []

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self._los, value) - 1
        return i >= 0 and self._his[i] >= value

    def __len__(self) -> int:
        return sum(hi - lo + 1 for lo, hi in zip(self._los, self._his, strict=True))

    def __iter__(self) -> Iterator[int]:
        for lo, hi in zip(self._los, self._his, strict=True):
            yield from range(lo, hi + 1)

    def intervals(self) -> list[tuple[int, int]]:
        return list(zip(self._los, self._his, strict=True))

    def add(self, value: int) -> None:
        self.add_range(value, value)

    def add_range(self, lo: int, hi: int) -> None:
        if hi < lo:
            return
        # First interval that could touch [lo, hi]: the one starting at or before lo - 1.
        i = bisect_right(self._los, lo - 1) - 1
        if i < 0 or self._his[i] < lo - 1:
            i += 1
        j = i
        new_lo, new_hi = lo, hi
        while j < len(self._los) and self._los[j] <= hi + 1:
            new_lo = min(new_lo, self._los[j])
            new_hi = max(new_hi, self._his[j])
            j += 1
        self._los[i:j] = [new_lo]
        self._his[i:j] = [new_hi]

    def missing_in(self, lo: int, hi: int) -> list[int]:
        """The values of ``[lo, hi]`` that are not in the set, ascending."""
        out: list[int] = []
        cur = lo
        i = max(bisect_right(self._los, lo) - 1, 0)
        while cur <= hi and i < len(self._los):
            a, b = self._los[i], self._his[i]
            if b < cur:
                i += 1
                continue
            if a > hi:
                break
            out.extend(range(cur, min(a - 1, hi) + 1))
            cur = max(cur, b + 1)
            i += 1
        if cur <= hi:
            out.extend(range(cur, hi + 1))
        return out

    def prev_absent(self, value: int) -> int:
        """The largest integer ``<= value`` that is not in the set."""
        i = bisect_right(self._los, value) - 1
        if i >= 0 and self._his[i] >= value:
            return self._los[i] - 1
        return value

    def discard_above(self, value: int) -> None:
        """Remove every member greater than ``value``."""
        i = bisect_right(self._los, value)
        del self._los[i:]
        del self._his[i:]
        if self._his and self._his[-1] > value:
            self._his[-1] = value
