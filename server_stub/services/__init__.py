"""Service functions, registered on import with :func:`server_stub.context.service`."""

from . import (  # noqa: F401  # noqa: F401,E401  (part 2)
    auth,
    conversation,
    conversation_ext,
    friend,
    group,
    misc,
    msg,
    msg_send,
    statistics,
    stubs,
    third,
    user,
)
