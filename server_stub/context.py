"""Per-request context, and the markers service modules put on their handlers.

``@service(path)`` and ``@raw_route(...)`` only *mark* a function; nothing is registered on import.
:mod:`server_stub.registry` collects the marked functions of an explicit list of modules at
start-up (a path registered twice is an error there) and the app serves that registry.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from openim_sdk.protocol.errors import ArgsError, NoPermissionError

if TYPE_CHECKING:
    from starlette.requests import Request

    from .app import ServerCore

log = logging.getLogger("server_stub")

#: The HTTP request being served (set by the REST dispatcher before raw handlers and services run),
#: so a service can read headers (``X-Request-Api``, ``Host``) for URL prefixes.
current_request: contextvars.ContextVar[Request | None] = contextvars.ContextVar("current_request", default=None)


@dataclass
class RequestContext:
    core: ServerCore
    operation_id: str
    user_id: str = ""
    platform_id: int = 0
    token: str = ""
    query: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.core.tokens.is_admin(self.user_id)

    def require_admin(self) -> None:
        if not self.is_admin:
            raise NoPermissionError(detail=f"user {self.user_id} is not admin userID")

    def check_access(self, owner_user_id: str) -> None:
        """``CheckAccess``: the named userID must be the caller, unless the caller is an admin."""
        if owner_user_id != self.user_id and not self.is_admin:
            raise NoPermissionError(detail=f"ownerUserID, {owner_user_id}=MISSING")


@dataclass(frozen=True)
class RawData:
    """A handler result written verbatim as ``data`` (``None`` -> ``"data": null``)."""

    value: Any


Handler = Callable[[RequestContext, Any], Awaitable[Message | list[Any] | dict[str, Any] | RawData | None]]
Validator = Callable[[Any], None]


@dataclass(frozen=True)
class Service:
    fn: Handler
    validate: Validator | None = None


#: Attribute a marked handler carries: the route path and its validator.
SERVICE_MARK = "__openim_service__"
#: Attribute a raw HTTP handler carries: the catalogue routes ``(method, path)`` it serves.
RAW_MARK = "__openim_raw_routes__"
#: Attribute a raw HTTP handler carries: the paths outside the catalogue it serves (``/healthz``).
RAW_EXTRA_MARK = "__openim_raw_extra_routes__"

#: ``fn(core, request) -> Response | None``: HTTP outside the JSON route table (first non-None wins).
RawHandler = Callable[[Any, Any], Awaitable[Any]]


def service(path: str, validate: Validator | None = None) -> Callable[[Handler], Handler]:
    """Mark ``fn`` as the handler of the POST route ``path`` (collected by :mod:`server_stub.registry`)."""
    def deco(fn: Handler) -> Handler:
        if hasattr(fn, SERVICE_MARK):
            raise ValueError(f"{fn.__qualname__} is already the handler of {getattr(fn, SERVICE_MARK)[0]}")
        setattr(fn, SERVICE_MARK, (path, validate))
        return fn

    return deco


def raw_route(*routes: tuple[str, str],
              extra: tuple[tuple[str, str], ...] = ()) -> Callable[[RawHandler], RawHandler]:
    """Mark ``fn(core, request)`` as a raw HTTP handler; ``routes`` are the catalogue routes
    (``("GET", "/object/*name")``) it serves, besides any non-catalogue paths it answers;
    ``extra`` names the non-catalogue routes it serves (``("GET", "/healthz")``), checked by the
    registry for duplicates and for clashes with the catalogue."""
    def deco(fn: RawHandler) -> RawHandler:
        setattr(fn, RAW_MARK, tuple(routes))
        if extra:
            setattr(fn, RAW_EXTRA_MARK, tuple(extra))
        return fn

    return deco


def need(cond: object, detail: str) -> None:
    """Check()-style validation: raise 1001 with ``detail`` unless ``cond``."""
    if not cond:
        raise ArgsError(detail=detail)


def check_pagination(req: Any) -> None:
    need(req.HasField("pagination"), "pagination is empty")
    need(req.pagination.pageNumber >= 1, "pageNumber is invalid")


def page_bounds(p: Any) -> tuple[int, int]:
    show = p.showNumber if p.showNumber > 0 else 20
    return (p.pageNumber - 1) * show, show
