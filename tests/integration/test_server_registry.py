"""The running server answers every route of the catalogue, and refuses to start on a bad registry."""

from __future__ import annotations

import types

import httpx
import pytest

from openim_sdk.protocol.routes import ROUTES
from server_stub import ServerApp
from server_stub.context import service
from server_stub.registry import SERVICE_MODULES, DuplicateRouteError

from .conftest import Api, server_config

NOT_FOUND = b"404 page not found"  # what the dispatcher answers for a path nobody serves


async def test_the_served_route_table_is_the_catalogue(server, admin: Api, http: httpx.AsyncClient):
    assert len(ROUTES) == 153
    unserved = []
    for r in ROUTES:
        if r.method == "GET":
            resp = await http.get(r.path.replace("*name", "some/name"))
        else:
            resp = await admin.raw(r.path, {})
        if resp.status_code == 404 and resp.content == NOT_FOUND:
            unserved.append((r.method, r.path))
        elif r.method == "POST":  # a handler ran: the answer is OpenIM's envelope, never "not implemented"
            assert "not implemented in the bundled server" not in resp.text, (r.path, resp.text)
    assert unserved == []
    # the check can fail: a path outside the catalogue is not served, whatever the method
    for resp in (await admin.raw("/user/no_such_route", {}), await http.get("/prometheus_discovery_x")):
        assert resp.status_code == 404 and resp.content == NOT_FOUND


async def test_a_duplicate_registration_stops_the_start(tmp_path):
    async def again(ctx, req):  # pragma: no cover - never served
        return None

    dup = types.ModuleType("dup_auth")
    again.__module__ = "dup_auth"
    dup.again = service("/auth/get_admin_token")(again)
    app = ServerApp(server_config(tmp_path), modules=[*SERVICE_MODULES, dup])
    with pytest.raises(DuplicateRouteError, match="/auth/get_admin_token is registered twice"):
        await app.start()
    assert app.core is None and not (tmp_path / "openim.sqlite3").exists()  # refused before any I/O
