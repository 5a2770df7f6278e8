"""Service functions, registered on import with :func:`server_stub.context.service`."""
# ruff: noqa: I001  (part-2 modules wrap some part-1 services, so they are imported after part 1)

from . import auth, conversation, msg, msg_read, msg_send, user  # noqa: F401
from . import conversation_ext, friend, group, misc, statistics, third, third_misc  # noqa: F401
from . import group_applications, group_members  # noqa: F401
