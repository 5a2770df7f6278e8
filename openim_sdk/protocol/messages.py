"""Lookup of the generated OpenIM messages by their fully-qualified proto names."""

from __future__ import annotations

import importlib
from functools import cache

from google.protobuf import descriptor_pool, message_factory
from google.protobuf.message import Message

#: Every generated package under ``openim_sdk.protocol.pb``.
PACKAGES: tuple[str, ...] = (
    "auth",
    "conversation",
    "group",
    "jssdk",
    "msg",
    "msggateway",
    "push",
    "relation",
    "sdkws",
    "statistics",
    "third",
    "user",
    "wrapperspb",
)


@cache
def _load_all() -> None:
    for pkg in PACKAGES:
        importlib.import_module(f"openim_sdk.protocol.pb.{pkg}.{pkg}_pb2")


@cache
def message_class(full_name: str) -> type[Message]:
    """The class of ``openim.<pkg>.<Name>`` (nested names like ``A.B`` work).

    Raises ``KeyError`` when no such message exists.
    """
    _load_all()
    try:
        desc = descriptor_pool.Default().FindMessageTypeByName(full_name)
    except KeyError:
        raise KeyError(f"unknown OpenIM message {full_name!r}") from None
    return message_factory.GetMessageClass(desc)
