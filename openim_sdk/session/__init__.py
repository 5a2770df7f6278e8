"""The parts of a session that :class:`~openim_sdk.client.OpenIMClient` is a facade over.

Each part owns one concept, takes a :class:`SessionContext` (and its collaborators) in its
constructor and is testable without sockets; the client only builds and wires them.
"""

from .context import NotificationHandler, NotificationRouter, SessionContext

__all__ = ["NotificationHandler", "NotificationRouter", "SessionContext"]
