"""The one registry of services: which handler serves which route, built at start-up.

:data:`SERVICE_MODULES` is the explicit list of service modules. :func:`build_registry` collects
the handlers they mark with ``@service(path)`` (POST routes of the catalogue) and ``@raw_route``
(HTTP outside the JSON table: file PUT/GET, redirects, discovery). Nothing depends on import
order: a path marked twice, in one module or in two, is a :class:`DuplicateRouteError`, and a
path the route catalogue (``openim_sdk.protocol.routes``) does not know is a :class:`UnknownRouteError`,
both raised when the server starts.
"""

from __future__ import annotations

import types
from collections.abc import Iterable
from dataclasses import dataclass, field

from openim_sdk.protocol.routes import ROUTES, ROUTES_BY_PATH

from . import ops
from .context import RAW_EXTRA_MARK, RAW_MARK, SERVICE_MARK, RawHandler, Service
from .services import (
    auth,
    conversation,
    conversation_ext,
    friend,
    group,
    group_applications,
    group_members,
    misc,
    msg,
    msg_read,
    msg_send,
    statistics,
    third,
    third_misc,
    user,
)

#: Every module whose marked handlers the server serves. Raw handlers are tried in this order.
SERVICE_MODULES: tuple[types.ModuleType, ...] = (
    auth, user, msg, msg_send, msg_read, conversation, conversation_ext, friend, group,
    group_members, group_applications, third, third_misc, misc, statistics, ops,
)


class RegistryError(ValueError):
    """The service modules do not form a valid route table (raised at start-up)."""


class DuplicateRouteError(RegistryError):
    pass


class UnknownRouteError(RegistryError):
    pass


@dataclass(frozen=True)
class Registered:
    service: Service
    where: str  # "module.function", for error messages and the route listing


@dataclass
class ServiceRegistry:
    """POST path -> handler, plus the raw HTTP handlers and the catalogue routes they serve."""

    services: dict[str, Registered] = field(default_factory=dict)
    raw_handlers: list[RawHandler] = field(default_factory=list)
    raw_routes: dict[tuple[str, str], str] = field(default_factory=dict)
    #: routes outside the catalogue (``/healthz``, ``/metrics``) -> "module.function"
    extra_routes: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, path: str, svc: Service, where: str) -> None:
        route = ROUTES_BY_PATH.get(path)
        if route is None or route.method != "POST":
            raise UnknownRouteError(f"{where} registers {path}, which is not a POST route of the catalogue")
        if path in self.services:
            raise DuplicateRouteError(f"{path} is registered twice: {self.services[path].where} and {where}")
        self.services[path] = Registered(svc, where)

    def add_raw(self, fn: RawHandler, routes: Iterable[tuple[str, str]], where: str,
                extra: Iterable[tuple[str, str]] = ()) -> None:
        for method, path in extra:
            if path in ROUTES_BY_PATH:
                raise RegistryError(f"{where} serves {method} {path} as a non-catalogue route, but the "
                                    "catalogue has it: list it as a catalogue route")
            if (method, path) in self.extra_routes:
                raise DuplicateRouteError(f"{method} {path} is served twice: "
                                          f"{self.extra_routes[method, path]} and {where}")
            self.extra_routes[method, path] = where
        for method, path in routes:
            route = ROUTES_BY_PATH.get(path)
            if route is None or route.method != method:
                raise UnknownRouteError(f"{where} serves {method} {path}, which is not a route of the catalogue")
            if (method, path) in self.raw_routes:
                raise DuplicateRouteError(f"{method} {path} is served twice: {self.raw_routes[method, path]} "
                                          f"and {where}")
            self.raw_routes[method, path] = where
        self.raw_handlers.append(fn)

    def get(self, path: str) -> Service | None:
        reg = self.services.get(path)
        return reg.service if reg is not None else None

    def routes(self) -> set[tuple[str, str]]:
        """The catalogue routes this registry serves, as ``(method, path)``."""
        return {("POST", p) for p in self.services} | set(self.raw_routes)

    def missing(self) -> list[tuple[str, str]]:
        """Catalogue routes nobody serves (empty for the bundled server)."""
        served = self.routes()
        return [(r.method, r.path) for r in ROUTES if (r.method, r.path) not in served]


def build_registry(modules: Iterable[types.ModuleType] = SERVICE_MODULES) -> ServiceRegistry:
    """Collect the marked handlers of ``modules`` (functions defined in the module itself)."""
    reg = ServiceRegistry()
    seen: set[str] = set()
    done: set[int] = set()
    for mod in modules:
        if mod.__name__ in seen:
            raise DuplicateRouteError(f"module {mod.__name__} is listed twice")
        seen.add(mod.__name__)
        for name, obj in vars(mod).items():
            if not callable(obj) or getattr(obj, "__module__", None) != mod.__name__:
                continue  # imported from elsewhere: registered by its own module
            if id(obj) in done:
                continue  # an alias of a function already collected
            done.add(id(obj))
            where = f"{mod.__name__}.{name}"
            mark = getattr(obj, SERVICE_MARK, None)
            if mark is not None:
                path, validate = mark
                reg.add(path, Service(obj, validate), where)
            raw = getattr(obj, RAW_MARK, None)
            if raw is not None:
                reg.add_raw(obj, raw, where, getattr(obj, RAW_EXTRA_MARK, ()))
    return reg
