"""History paging: a page of a conversation, older than a seq or newer than a seq, without holes.

A page is served from the cache; where the cache has holes (older messages never fetched, seqs
the on-connect sync window skipped after a long time offline) they are pulled from the server
first through the sync engine (``request_history``: a 1005 by seq list), so a page has no gaps
except seqs that do not exist. Where to look is pure (:func:`page_hole` below a seq, in
``sync/paging.py``; :func:`page_hole_after` above one); :class:`History` runs it against the
engine and the cache.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ..models import Message
from ..protocol.conversation_id import is_notification_conversation
from ..protocol.errors import NetworkError
from ..sync import actions as sa
from ..sync.paging import missing_runs, page_hole
from .context import SessionContext

if TYPE_CHECKING:
    from ..sync.engine import SyncEngine

Step = Callable[["SyncEngine"], list[sa.Action]]
#: Runs a request-only engine step at once (``SyncDriver.ask``).
Ask = Callable[[Step], None]

#: Seconds to wait for the pulls of one hole.
PULL_TIMEOUT = 30.0


def page_hole_after(
    synced: int, seqs: Sequence[int], after_seq: int, limit: int, settled: Sequence[tuple[int, int]]
) -> tuple[int, int] | None:
    """The lowest run of seqs ``lo..hi`` missing from the page of the ``limit`` oldest messages
    above ``after_seq`` (none above ``synced``, the engine's settled seq); ``hi`` is capped so the
    page asks no more than it has room for. None when the page is complete. ``settled``: runs
    known to have nothing to pull (they count as absent seqs)."""
    numbered = sorted({s for s in seqs if after_seq < s <= synced})
    expected, count = after_seq + 1, 0
    for s in [*numbered, synced + 1]:
        if count >= limit or expected > synced:
            return None
        if s > expected:
            lo, hi = expected, min(s - 1, expected + (limit - count) - 1)
            if not any(a <= lo and hi <= b for a, b in settled):
                return lo, hi
        count += 1
        expected = s + 1
    return None


#: Conversations one ``download`` request asks for: a reply of up to 4 x 1,000 messages is written
#: in one commit, where four commits of 1,000 would each rewrite most of the (randomly keyed)
#: clientMsgID index's pages.
DOWNLOAD_CONVERSATIONS_PER_REQUEST = 4


def take_pieces(pieces: deque[tuple[str, int, int]], limit: int) -> list[tuple[str, int, int]]:
    """The first pieces ``(conversationID, lo, hi)`` of up to ``limit`` different conversations
    (one request asks one run per conversation); the others stay queued, in order."""
    batch: list[tuple[str, int, int]] = []
    later: list[tuple[str, int, int]] = []
    names: set[str] = set()
    while pieces and len(batch) < limit:
        piece = pieces.popleft()
        if piece[0] in names:
            later.append(piece)
        else:
            names.add(piece[0])
            batch.append(piece)
    pieces.extendleft(reversed(later))
    return batch


class History:
    """Pages of history in both directions; owns the pulls it waits for and the "no older
    messages" marks the engine reports (``HistoryEnd``)."""

    def __init__(self, ctx: SessionContext, ask: Ask, engine: Callable[[], SyncEngine | None],
                 connected: Callable[[], bool]) -> None:
        self._ctx = ctx
        self._ask = ask
        self._engine = engine
        self._connected = connected
        self._waiters: dict[int, asyncio.Future[None]] = {}
        self._at_bottom: set[str] = set()

    # ---------------------------------------------------------------- fed by the engine adapter

    def reached_bottom(self, conversation_id: str) -> None:
        self._at_bottom.add(conversation_id)

    def pull_done(self, request_id: int) -> None:
        waiter = self._waiters.pop(request_id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---------------------------------------------------------------- pages

    async def before(self, conversation_id: str, before_seq: int | None = None, limit: int = 50) -> list[Message]:
        """The newest ``limit`` messages below ``before_seq`` (or the newest), ascending."""
        store = self._ctx.store
        rows = await self._ctx.run(store.messages, conversation_id, before_seq, limit)
        settled: list[tuple[int, int]] = []  # holes with nothing (left) to pull in this call
        pulls = 0
        while self._connected() and pulls <= limit // 10 + 4:  # bounded, in case pulls keep failing
            synced = self._synced(conversation_id)
            if synced is None:
                break
            hole = page_hole(synced, [r.seq for r in rows], before_seq, limit, settled,
                             conversation_id in self._at_bottom)
            if hole is None:
                break
            lo, hi, room = hole
            pulls += 1
            if not await self.pull(conversation_id, hi + 1, min(room, hi - lo + 1), floor=lo):
                settled.append((lo, hi))
                continue
            rows = await self._ctx.run(store.messages, conversation_id, before_seq, limit)
        return [Message.from_row(r) for r in rows]

    async def after(self, conversation_id: str, after_seq: int, limit: int = 50) -> list[Message]:
        """The oldest ``limit`` messages above ``after_seq``, ascending (paging back down)."""
        store = self._ctx.store

        def read() -> list[Message]:
            return [Message.from_row(r) for r in store.messages(conversation_id, None, limit, after_seq=after_seq)]

        page = await self._ctx.run(read)
        settled: list[tuple[int, int]] = []
        pulls = 0
        while self._connected() and pulls <= limit // 10 + 4:
            synced = self._synced(conversation_id)
            if synced is None:
                break
            hole = page_hole_after(synced, [m.seq for m in page], after_seq, limit, settled)
            if hole is None:
                break
            lo, hi = hole
            pulls += 1
            if not await self.pull(conversation_id, hi + 1, hi - lo + 1, floor=lo):
                settled.append((lo, hi))
                continue
            page = await self._ctx.run(read)
        return page

    async def pull(self, conversation_id: str, before_seq: int, count: int, floor: int = 1) -> bool:
        """Pull up to ``count`` messages below ``before_seq`` (none below ``floor``) and wait for
        them to be stored; False when there was nothing to ask."""
        return await self._pull_many([(conversation_id, before_seq, count, floor)])

    async def _pull_many(self, wants: Sequence[tuple[str, int, int, int]]) -> bool:
        """:meth:`pull` for several conversations ``(id, before_seq, count, floor)`` in one request."""
        waiters: list[asyncio.Future[None]] = []

        def step(eng: SyncEngine) -> list[sa.Action]:
            acts = eng.request_histories(wants)
            for a in acts:
                if isinstance(a, sa.PullSeqs):
                    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    self._waiters[a.request_id] = fut
                    waiters.append(fut)
            return acts

        self._ask(step)
        if waiters:
            await asyncio.wait_for(asyncio.gather(*waiters), timeout=PULL_TIMEOUT)
        return bool(waiters)

    async def download(self, conversation_ids: Sequence[str] | None = None, *, window: int = 4,
                       per_request: int = DOWNLOAD_CONVERSATIONS_PER_REQUEST,
                       progress: Callable[[int, int], None] | None = None) -> int:
        """Pull every message of these conversations (default: every chat the session knows) that
        the cache lacks, up to the synced seq, into the cache: the missing runs in pieces of up to
        ``SyncConfig.history_page`` seqs, the pieces of up to ``per_request`` conversations in one
        request (whose reply is stored with one write), ``window`` requests in flight.
        ``progress(done, total)`` counts seqs asked. Returns how many messages were added."""
        engine = self._engine()
        if engine is None or not self._connected():
            raise NetworkError(message="not connected", detail="history download needs the connection")
        if window < 1 or per_request < 1:
            raise ValueError("window and per_request must be >= 1")
        store = self._ctx.store
        ids = list(conversation_ids) if conversation_ids is not None else [
            c for c in engine.synced_seqs() if not is_notification_conversation(c)]
        piece = engine.config.history_page
        pieces: deque[tuple[str, int, int]] = deque()
        for cid in ids:
            state = engine.conversation_state(cid)
            if state is None or state.synced < 1:
                continue
            held = await self._ctx.run(store.held_seqs, cid)
            pieces.extend((cid, lo, hi) for lo, hi in missing_runs(held, 1, state.synced, piece))
        before = await self._ctx.run(store.count_messages, ids)
        total = sum(hi - lo + 1 for _, lo, hi in pieces)
        done = 0

        async def worker() -> None:
            nonlocal done
            while pieces and self._connected():
                batch = take_pieces(pieces, per_request)
                await self._pull_many([(cid, hi + 1, hi - lo + 1, lo) for cid, lo, hi in batch])
                done += sum(hi - lo + 1 for _, lo, hi in batch)
                if progress is not None:
                    progress(done, total)

        await asyncio.gather(*(worker() for _ in range(window)))
        return await self._ctx.run(store.count_messages, ids) - before

    def _synced(self, conversation_id: str) -> int | None:
        engine = self._engine()
        state = engine.conversation_state(conversation_id) if engine is not None else None
        return None if state is None else state.synced
