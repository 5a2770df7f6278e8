"""Who hears what the long connection reports: listeners, push listeners, on-connect hooks and
subscriber queues, fed in order by one dispatcher task (so a listener or a hook may itself send
requests without blocking the read loop)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from openim_sdk.ws.events import Connected, Event, PushReceived, Stopped

log = logging.getLogger("openim_sdk.ws")

EventCallback = Callable[[Event], Awaitable[None] | None]


class Listeners:
    """The event fan-out of one connection. ``before_connected`` runs (awaited) before a
    :class:`Connected` event reaches anyone: the connection's resubscribe and on-connect hooks."""

    def __init__(self, before_connected: Callable[[Connected], Awaitable[None]]) -> None:
        self._before_connected = before_connected
        self._events: asyncio.Queue[Event | None] = asyncio.Queue()
        self._listeners: list[EventCallback] = []
        self._push_listeners: list[EventCallback] = []
        self._queues: set[asyncio.Queue[Event]] = set()

    def emit(self, event: Event | None) -> None:
        """Queue ``event`` for delivery (None ends the dispatcher)."""
        self._events.put_nowait(event)

    def on_event(self, callback: EventCallback) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def on_push(self, callback: EventCallback) -> Callable[[], None]:
        self._push_listeners.append(callback)
        return lambda: self._push_listeners.remove(callback) if callback in self._push_listeners else None

    def subscribe(self) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.add(q)
        return q

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._queues.discard(queue)

    async def events(self) -> AsyncIterator[Event]:
        q = self.subscribe()
        try:
            while True:
                ev = await q.get()
                yield ev
                if isinstance(ev, Stopped):
                    return
        finally:
            self.unsubscribe(q)

    async def dispatch(self) -> None:
        """Deliver queued events in order until the None sentinel."""
        while True:
            event = await self._events.get()
            if event is None:
                return
            if isinstance(event, Connected):
                await self._before_connected(event)
            for q in list(self._queues):
                q.put_nowait(event)
            for cb in list(self._listeners):
                await call(cb, event)
            if isinstance(event, PushReceived):
                for cb in list(self._push_listeners):
                    await call(cb, event)


async def call(cb: Callable[..., Awaitable[None] | None], *args: object) -> None:
    """Run a sync or async callback; its failure is logged, never raised."""
    try:
        result = cb(*args)
        if inspect.isawaitable(result):
            await result
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("ws event listener failed on %s", type(args[0]).__name__ if args else "?")
