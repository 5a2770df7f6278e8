"""The service registry serves exactly the route catalogue, and refuses ambiguous registrations."""

import types

import pytest

from openim_sdk.protocol.routes import ROUTES
from server_stub.context import raw_route, service
from server_stub.registry import SERVICE_MODULES, DuplicateRouteError, UnknownRouteError, build_registry
from server_stub.services import auth


def _module(name: str, **fns: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    for k, fn in fns.items():
        fn.__module__ = name  # type: ignore[attr-defined]
        setattr(mod, k, fn)
    return mod


def _handler():
    async def h(ctx, req):  # pragma: no cover - never called
        return None

    return h


def test_the_registry_serves_the_153_route_catalogue():
    reg = build_registry()
    want = {(r.method, r.path) for r in ROUTES}
    assert len(want) == 153
    assert reg.routes() == want and reg.missing() == []


def test_get_routes_are_the_raw_ones():
    reg = build_registry()
    gets = {p for m, p in reg.routes() if m == "GET"}
    discovery = {f"/prometheus_discovery/{n}" for n in ("api", "user", "group", "msg", "friend", "conversation",
                                                         "third", "auth", "push", "msg_gateway", "msg_transfer")}
    assert gets == {"/third/prometheus", "/object/*name"} | discovery
    assert set(reg.raw_routes) == {("GET", p) for p in gets}


def test_a_route_registered_in_two_modules_is_an_error():
    dup = _module("fake_dup", again=service("/auth/get_admin_token")(_handler()))
    with pytest.raises(DuplicateRouteError, match="/auth/get_admin_token"):
        build_registry([auth, dup])


def test_a_route_registered_twice_in_one_module_is_an_error():
    one = _module("fake_one", a=service("/user/user_register")(_handler()), b=service("/user/user_register")(_handler()))
    with pytest.raises(DuplicateRouteError, match="/user/user_register"):
        build_registry([one])


def test_a_module_listed_twice_is_an_error():
    with pytest.raises(DuplicateRouteError, match="listed twice"):
        build_registry([*SERVICE_MODULES, auth])


def test_a_path_outside_the_catalogue_is_an_error():
    with pytest.raises(UnknownRouteError, match="/user/no_such_route"):
        build_registry([_module("fake_unknown", a=service("/user/no_such_route")(_handler()))])
    with pytest.raises(UnknownRouteError, match="GET /auth/get_admin_token"):  # a POST route served as GET
        build_registry([_module("fake_raw", r=raw_route(("GET", "/auth/get_admin_token"))(_handler()))])


def test_a_raw_route_served_twice_is_an_error():
    twice = _module("fake_raw2", r=raw_route(("GET", "/third/prometheus"))(_handler()))
    with pytest.raises(DuplicateRouteError, match="/third/prometheus"):
        build_registry([*SERVICE_MODULES, twice])


def test_imported_handlers_and_aliases_are_collected_once():
    h = service("/auth/parse_token")(_handler())
    mod = _module("fake_alias", h=h)
    mod.alias = h
    mod.foreign = auth.get_admin_token  # imported from another module: that module registers it
    reg = build_registry([mod])
    assert set(reg.services) == {"/auth/parse_token"}


def test_one_function_cannot_serve_two_paths():
    with pytest.raises(ValueError, match="already the handler"):
        service("/auth/parse_token")(service("/auth/get_admin_token")(_handler()))
