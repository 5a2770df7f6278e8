"""Where events go: every open :class:`EventStream` and every ``@client.on(EventType)`` callback.

A failing callback never kills the session: it becomes an :class:`~openim_sdk.events.ErrorEvent`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from .. import events as ev
from ..protocol.errors import LocalError, OpenIMError

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ev.Event)


def as_openim(exc: BaseException) -> OpenIMError:
    if isinstance(exc, OpenIMError):
        return exc
    return LocalError(message=f"{type(exc).__name__}: {exc}")


class EventStream:
    """An async iterator over a client's events, subscribed from the moment it is created."""

    def __init__(self, registry: list[asyncio.Queue[ev.Event]]) -> None:
        self._registry = registry
        self._queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._done = False
        registry.append(self._queue)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ev.Event:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if isinstance(event, ev.SessionEnded):
            self.close()
        return event

    def close(self) -> None:
        self._done = True
        if self._queue in self._registry:
            self._registry.remove(self._queue)


class Emitter:
    def __init__(self, spawn: Callable[[Awaitable[Any], str], Any]) -> None:
        self._spawn = spawn
        self._queues: list[asyncio.Queue[ev.Event]] = []
        self._callbacks: list[tuple[type[ev.Event], Callable[[Any], Any]]] = []

    def stream(self) -> EventStream:
        return EventStream(self._queues)

    def on(self, event_type: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        def deco(fn: Callable[[E], Any]) -> Callable[[E], Any]:
            self._callbacks.append((event_type, fn))
            return fn

        return deco

    def emit(self, event: ev.Event) -> None:
        for queue in self._queues:
            queue.put_nowait(event)
        for etype, fn in self._callbacks:
            if isinstance(event, etype):
                try:
                    result = fn(event)
                    if asyncio.iscoroutine(result):
                        self._spawn(result, f"callback {getattr(fn, '__name__', fn)}")
                except Exception as exc:  # a user callback must not kill the session
                    log.exception("event callback failed")
                    if not isinstance(event, ev.ErrorEvent):
                        self.emit(ev.ErrorEvent(as_openim(exc), "callback"))
