"""Keeps the cache's full-text index caught up while the session is idle.

Message writes only queue rows for the index (store schema v5: indexing a trigram row costs more
than the rest of a pulled message's write); ``LocalStore.search`` indexes the queue before it
answers, so nothing is ever missed. This part moves that work off the search: after writes it
waits until none came for ``idle`` seconds, then indexes the queue in chunks, going back to
waiting whenever a write comes in between. Time comes from the context's ``monotonic`` clock.
"""

from __future__ import annotations

import asyncio

from .context import SessionContext

#: Seconds without cache writes before indexing starts.
IDLE = 1.0
#: Rows indexed per step (one short write transaction each).
CHUNK = 2000


class SearchIndexer:
    def __init__(self, ctx: SessionContext, *, idle: float = IDLE, chunk: int = CHUNK) -> None:
        self._ctx = ctx
        self._idle = idle
        self._chunk = chunk
        self._last_write = 0.0
        self._task: asyncio.Task[None] | None = None

    def wrote(self) -> None:
        """Messages were written: index them once the session has been idle for a while."""
        self._last_write = self._ctx.monotonic()
        if self._task is None or self._task.done():
            self._task = self._ctx.spawn(self._run(), "search index")

    def idle_for(self) -> float:
        """Seconds still to wait before indexing may start (0: now)."""
        return max(0.0, self._last_write + self._idle - self._ctx.monotonic())

    async def _run(self) -> None:
        while True:
            wait = self.idle_for()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            if not self._ctx.started:
                return
            done = await self._ctx.run(self._ctx.store.index_pending, self._chunk)
            if done < self._chunk:
                return
