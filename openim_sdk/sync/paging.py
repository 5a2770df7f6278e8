"""History paging over the cache: where a cached page has a hole the server may fill. Pure."""

from __future__ import annotations

from collections.abc import Container, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._intervals import IntervalSet


def page_hole(
    synced: int,
    seqs: Sequence[int],
    before_seq: int | None,
    limit: int,
    settled: Sequence[tuple[int, int]],
    at_bottom: bool,
) -> tuple[int, int, int] | None:
    """The highest run of seqs ``lo..hi`` missing from a cached page, and how many rows the page
    still has room for below its complete upper part; None when the page is complete.

    ``seqs``: the page's rows' seqs (0 for rows not numbered yet); ``synced``: the sync engine's
    settled seq for the conversation; ``settled``: holes already known to have nothing to pull;
    ``at_bottom``: nothing older than seq 1 exists (a hole reaching seq 1 is then not asked).
    """
    top = synced if before_seq is None else min(before_seq - 1, synced)
    numbered = sorted((s for s in seqs if 0 < s <= top), reverse=True)
    above = len(seqs) - len(numbered)  # unnumbered (sending) rows and anything above ``top``
    expected = top
    for s in [*numbered, 0]:
        if above >= limit or expected < 1:
            return None
        if s < expected:
            lo, hi = s + 1, expected
            if lo == 1 and at_bottom:
                return None
            if not any(a <= lo and hi <= b for a, b in settled):
                return lo, hi, limit - above
        above += 1 if s else 0
        expected = s - 1
    return None


def missing_runs(held: Sequence[int], lo: int, hi: int, piece: int) -> list[tuple[int, int]]:
    """The seqs of ``lo..hi`` not in ``held`` (ascending or not), as runs of at most ``piece``
    seqs, newest first: what a full-history download asks the server for."""
    if piece < 1:
        raise ValueError("piece must be >= 1")
    out: list[tuple[int, int]] = []
    top = hi
    for s in sorted({s for s in held if lo <= s <= hi}, reverse=True) + [lo - 1]:
        while top > s:
            bottom = max(s + 1, top - piece + 1)
            out.append((bottom, top))
            top = bottom - 1
        top = s - 1
    return out


def older_unseen(seen: IntervalSet, inflight: Container[int], hi: int, lowest: int, bottom: int,
                 count: int) -> tuple[list[int], bool]:
    """Up to ``count`` seqs of ``lowest..hi`` neither ``seen`` nor ``inflight``, the highest
    ones, ascending: what one history request asks of a conversation; and whether the search ran
    below ``bottom`` (the oldest seq the server keeps: nothing older left to ask)."""
    seqs: list[int] = []
    s = seen.prev_absent(hi)
    while s >= lowest and len(seqs) < count:
        if s not in inflight:
            seqs.append(s)
        s = seen.prev_absent(s - 1)
    seqs.reverse()
    return seqs, s < bottom
