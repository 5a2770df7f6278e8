"""The seam every session part is built on: who we are, the REST client, the cache, the event sink.

A part (outbox, conversations, friends, groups, ...) receives a :class:`SessionContext` in its
constructor and never reaches into the client. Notification messages (content types 1200-2200)
reach the part that owns them through one :class:`NotificationRouter`: a part registers the
content types it handles when it is built; the client dispatches each notification once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..protocol.pb.sdkws import sdkws_pb2

if TYPE_CHECKING:
    from ..events import Event
    from ..rest import RestClient
    from ..store import LocalStore

log = logging.getLogger(__name__)

T = TypeVar("T")

#: ``handler(message, detail)``: ``detail`` is the notification's decoded ``detail`` JSON object
#: (``{}`` when absent or unreadable), ``message`` the raw wire message.
NotificationHandler = Callable[[sdkws_pb2.MsgData, dict[str, Any]], Awaitable[None]]


@dataclass
class SessionContext:
    """What a session part needs, passed in (never looked up): tests build one over fakes.

    ``store`` is opened by the client at start; reading it before raises ``RuntimeError``.
    ``emit`` delivers an event to every listener; ``spawn`` runs a background coroutine whose
    failure becomes an ``ErrorEvent`` (``where`` names it); ``run`` runs blocking cache work in a
    thread; ``clock`` is ``time.time``-like (seconds), ``monotonic`` ``time.monotonic``-like.
    """

    user_id: str
    rest: RestClient
    emit: Callable[[Event], None]
    spawn: Callable[[Awaitable[Any], str], asyncio.Task[Any]]
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    _store: LocalStore | None = field(default=None, repr=False)

    @property
    def store(self) -> LocalStore:
        if self._store is None:
            raise RuntimeError("the session has not started: no cache yet")
        return self._store

    def attach_store(self, store: LocalStore | None) -> None:
        self._store = store

    @property
    def started(self) -> bool:
        return self._store is not None

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking cache work off the event loop."""
        return await asyncio.to_thread(fn, *args, **kwargs)

    def now_ms(self) -> int:
        return int(self.clock() * 1000)


class NotificationRouter:
    """One place that maps each notification content type to the part that handles it."""

    def __init__(self) -> None:
        self._handlers: dict[int, list[NotificationHandler]] = {}

    def register(self, content_types: Iterable[int], handler: NotificationHandler) -> None:
        for ct in content_types:
            self._handlers.setdefault(int(ct), []).append(handler)

    def handles(self, content_type: int) -> bool:
        return content_type in self._handlers

    def content_types(self) -> set[int]:
        return set(self._handlers)

    @staticmethod
    def detail(m: sdkws_pb2.MsgData) -> dict[str, Any]:
        """The ``detail`` object of a notification's content (``{"detail": "<json>"}``), or ``{}``."""
        try:
            outer = json.loads(m.content or b"{}")
            raw = outer.get("detail", "{}") if isinstance(outer, dict) else "{}"
            value = json.loads(raw) if isinstance(raw, str | bytes) else raw
        except (ValueError, TypeError):
            return {}
        return value if isinstance(value, dict) else {}

    async def dispatch(self, m: sdkws_pb2.MsgData) -> bool:
        """Run every handler registered for ``m.contentType``; False when nobody handles it."""
        handlers = self._handlers.get(m.contentType)
        if not handlers:
            return False
        detail = self.detail(m)
        for handler in handlers:
            await handler(m, detail)
        return True
