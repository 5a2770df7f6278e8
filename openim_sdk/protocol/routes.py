"""The REST route table: every route of OpenIM v3.8's API, with its messages and access.

Loaded from ``data/routes.json`` (the catalogue of docs/spec/rest-endpoints.json, copied into
the package) and resolved against the generated messages, so the SDK (one generated method
per route) and the bundled server (one dispatcher over the table) share one source.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from .messages import message_class

ACCESS_LEVELS = ("none", "user", "admin", "self_or_admin")


@dataclass(frozen=True, slots=True)
class Route:
    path: str
    method: str
    module: str
    request_name: str | None
    response_name: str | None
    request: type[Message] | None
    response: type[Message] | None
    response_shape: str  # message | array | custom | raw_json | redirect
    access: str  # none | user | admin | self_or_admin
    needs_operation_id: bool
    needs_token: bool
    body_binding: str  # a2r | gin_bindjson | a2r_or_protobuf | none | none (body ignored)
    validation: tuple[str, ...]
    notes: str
    rpc: str
    custom_schema: str | None
    in_stable: bool  # present in v3.8.3-patch.16

    @property
    def name(self) -> str:
        """The Python method name of the route (``/user/get_users_info`` -> ``get_users_info``).

        Path segments after the first are joined with ``_`` (``/statistics/user/active`` ->
        ``user_active``); the wildcard ``/object/*name`` is ``get_object``.
        """
        parts = self.path.strip("/").split("/")
        if parts[-1].startswith("*"):
            return "get_object"
        return "_".join(parts[1:]) or parts[0]

    @property
    def is_get(self) -> bool:
        return self.method == "GET"


def _load() -> tuple[Route, ...]:
    from importlib import resources

    raw = json.loads(resources.files(__package__).joinpath("data/routes.json").read_text("utf-8"))
    routes = []
    for r in raw:
        req_name, resp_name = r.get("request"), r.get("response")
        headers = r.get("headers") or {}
        routes.append(
            Route(
                path=r["path"],
                method=r["method"],
                module=r["module"],
                request_name=req_name,
                response_name=resp_name,
                request=message_class(req_name) if req_name else None,
                response=message_class(resp_name) if resp_name else None,
                response_shape=r["response_shape"],
                access=r["access"],
                needs_operation_id=bool(headers.get("operationID")),
                needs_token=bool(headers.get("token")),
                body_binding=r["body_binding"],
                validation=tuple(r.get("validation") or ()),
                notes=r.get("notes") or "",
                rpc=r.get("rpc") or "",
                custom_schema=r.get("custom_schema"),
                in_stable=bool(r.get("in_v3.8.3-patch.16", True)),
            )
        )
    return tuple(routes)


# The table is built on first use (module ``__getattr__``, PEP 562): resolving 153 routes against
# the generated messages costs ~10-20 ms, which a session that never calls REST (``openim send``)
# does not pay. ``ROUTES``, ``ROUTES_BY_PATH`` and ``MODULES`` read as plain module constants.
if TYPE_CHECKING:
    ROUTES: tuple[Route, ...]
    ROUTES_BY_PATH: dict[str, Route]
    MODULES: tuple[str, ...]


@cache
def _table() -> dict[str, Any]:
    routes = _load()
    return {"ROUTES": routes, "ROUTES_BY_PATH": {r.path: r for r in routes},
            "MODULES": tuple(dict.fromkeys(r.module for r in routes))}


def __getattr__(name: str) -> Any:
    if name in ("ROUTES", "ROUTES_BY_PATH", "MODULES"):
        value = _table()[name]
        globals()[name] = value  # later reads are plain attribute reads
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def route(path: str) -> Route:
    """The route of ``path`` (``KeyError`` when there is none): what the generated methods call."""
    by_path: dict[str, Route] = _table()["ROUTES_BY_PATH"]
    return by_path[path]


def routes_of(module: str) -> tuple[Route, ...]:
    routes: tuple[Route, ...] = _table()["ROUTES"]
    return tuple(r for r in routes if r.module == module)
