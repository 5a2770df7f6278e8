"""Every POST route of the catalogue has a handler in the bundled server."""

import server_stub.services  # noqa: F401  (registers the handlers)
from openim_sdk.protocol.routes import ROUTES
from server_stub.context import SERVICES


def test_every_post_route_has_a_service():
    missing = [r.path for r in ROUTES if r.method == "POST" and r.path not in SERVICES]
    assert missing == []


def test_get_routes_are_the_raw_ones():
    gets = {r.path for r in ROUTES if r.method == "GET"}
    discovery = {f"/prometheus_discovery/{n}" for n in ("api", "user", "group", "msg", "friend", "conversation",
                                                         "third", "auth", "push", "msg_gateway", "msg_transfer")}
    assert gets == {"/third/prometheus", "/object/*name"} | discovery
