"""Prometheus metrics of one server (``ServerCore.metrics``), served as ``GET /metrics``.

Every server builds its own :class:`Metrics` on its own ``CollectorRegistry`` (nothing lives in
module globals), so two servers in one process, as in the tests, count separately.

==================================  =========  ==================================================
name                                type       what
==================================  =========  ==================================================
``openim_connections``              gauge      WebSocket connections open now
``openim_connections_opened_total`` counter    WebSocket connections accepted since start
``openim_messages_in_total``        counter    messages accepted (stored or relayed), by transport
``openim_messages_out_total``       counter    push frames (2001) queued to connections
``openim_push_latency_seconds``     histogram  from the arrival of a send to its push frames queued
``openim_requests_total``           counter    WS requests and REST calls, by transport
``openim_errors_total``             counter    answers with a non-zero errCode, by code and transport
==================================  =========  ==================================================
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from .push import Hub

if TYPE_CHECKING:
    from openim_sdk.protocol.pb.sdkws import sdkws_pb2

    from .gateway import Client

CONTENT_TYPE = CONTENT_TYPE_LATEST

#: When the request being served arrived (``time.perf_counter()``); set per request by the gateway
#: and the REST app, read by :class:`MeteredHub` to time a push from the send that caused it.
#: A context variable carries no metrics object: each task sees its own request's value.
request_started: contextvars.ContextVar[float | None] = contextvars.ContextVar("openim_request_started",
                                                                                default=None)

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SEND_PATHS = frozenset({"/msg/send_msg", "/msg/batch_send_msg", "/msg/send_business_notification"})
WS_SEND_MSG = 1003


class Metrics:
    """The collectors of one server, on their own registry."""

    def __init__(self, connections: Callable[[], float] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Gauge("openim_connections", "WebSocket connections open now", registry=r)
        if connections is not None:
            self.connections.set_function(connections)
        self.connections_opened = Counter("openim_connections_opened", "WebSocket connections accepted",
                                          registry=r)
        self.messages_in = Counter("openim_messages_in", "Messages accepted by the server", ["transport"],
                                   registry=r)
        self.messages_out = Counter("openim_messages_out", "Push frames (2001) queued to connections",
                                    registry=r)
        self.push_latency = Histogram("openim_push_latency_seconds",
                                      "Seconds from the arrival of a send to its push frames queued",
                                      buckets=_LATENCY_BUCKETS, registry=r)
        self.requests = Counter("openim_requests", "WebSocket requests and REST calls", ["transport"],
                                registry=r)
        self.errors = Counter("openim_errors", "Answers with a non-zero errCode", ["code", "transport"],
                              registry=r)
        for transport in ("ws", "rest"):  # present (at 0) from the start, so rates work at once
            self.messages_in.labels(transport)
            self.requests.labels(transport)
        # the children counted on every WS request, looked up once (labels() takes a lock each time)
        self._ws_requests = self.requests.labels("ws")
        self._ws_messages_in = self.messages_in.labels("ws")

    def track_connections(self, count: Callable[[], float]) -> None:
        self.connections.set_function(count)

    def ws_request(self, req_identifier: int, err_code: int) -> None:
        """One answered WebSocket request."""
        self._ws_requests.inc()
        if err_code:
            self.errors.labels(str(err_code), "ws").inc()
        elif req_identifier == WS_SEND_MSG:
            self._ws_messages_in.inc()

    def rest_call(self, path: str, http_status: int, err_code: int | str | None) -> None:
        """One answered REST call (``err_code`` as the envelope had it; None/"" when not an envelope)."""
        self.requests.labels("rest").inc()
        if err_code:
            self.errors.labels(str(err_code), "rest").inc()
        elif http_status >= 500:
            self.errors.labels(str(http_status), "rest").inc()
        elif http_status == 200 and path in SEND_PATHS:
            self.messages_in.labels("rest").inc()

    def pushed(self, frames: int) -> None:
        if frames <= 0:
            return
        self.messages_out.inc(frames)
        started = request_started.get()
        if started is not None:
            self.push_latency.observe(max(0.0, time.perf_counter() - started))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MeteredHub(Hub):
    """The push hub, counting connections and pushes into ``metrics``."""

    metrics: Metrics | None = None

    def register(self, client: Client) -> list[Client]:
        kicked = super().register(client)
        if self.metrics is not None:
            self.metrics.connections_opened.inc()
        return kicked

    def push_message(self, user_ids: Iterable[str], conversation_id: str, msg: sdkws_pb2.MsgData,
                     operation_id: str = "") -> int:
        sent = super().push_message(user_ids, conversation_id, msg, operation_id)
        if self.metrics is not None:
            self.metrics.pushed(sent)
        return sent


def metered_hub(policy: int, metrics: Metrics) -> MeteredHub:
    hub = MeteredHub(policy=policy)
    hub.metrics = metrics
    metrics.track_connections(hub.count)
    return hub
