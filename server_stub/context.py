"""Per-request context and the path -> service-function registry the REST dispatcher uses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from openim_sdk.protocol.errors import ArgsError, NoPermissionError

if TYPE_CHECKING:
    from .app import ServerCore

log = logging.getLogger("server_stub")


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


SERVICES: dict[str, Service] = {}


def service(path: str, validate: Validator | None = None) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        SERVICES[path] = Service(fn, validate)
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
