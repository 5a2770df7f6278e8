"""The parts that :class:`~openim_sdk.client.OpenIMClient` is a facade over.

Each part owns one concept, takes a :class:`SessionContext` (and its collaborators) in its
constructor and is testable without sockets; the client only builds and wires them:

- ``outbox``: the send queue as a pure state machine (order, window, retry of transient failures,
  timeouts on a passed-in clock) and its async driver; ``sender``: the send API the client's
  ``send_*`` methods delegate to (a pure ``compose`` of the stored row, then queued in the outbox,
  ``wait=True``) and the driver's port to the connection and the cache (refusals keep the
  server's code);
- ``sync_driver``: runs the sync engine's actions, turns deliveries into events (once per
  process, ``offline`` told apart, online-only never cached);
- ``message_events``: revoke, delete, read receipts, business notifications through the
  :class:`NotificationRouter` (its docstring shows how a part registers content types);
- ``history``: pages older / newer than a seq, holes pulled; ``typing``: who types where;
- ``connection_state``: the connection state and its events; ``emitter``: event streams and
  callbacks.
"""

from .context import NotificationHandler, NotificationRouter, SessionContext

__all__ = ["NotificationHandler", "NotificationRouter", "SessionContext"]
