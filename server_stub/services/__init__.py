"""Service functions, registered on import with :func:`server_stub.context.service`."""

from . import auth, conversation, msg, msg_send, stubs, user  # noqa: F401
