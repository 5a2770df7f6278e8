"""Message builders (the official core's ``Create*Message``), the MsgStruct JSON, media metadata
readers and media upload. ``from openim_sdk import messages as m; await client.send(to, m.text("hi"))``."""

from .builders import (
    OutgoingMessage,
    advanced_text,
    at_text,
    card,
    custom,
    face,
    file,
    file_url,
    forward,
    image,
    image_url,
    location,
    merger,
    quote,
    sound,
    sound_url,
    text,
    video,
    video_url,
)
from .struct import message_struct, msg_struct

__all__ = [
    "OutgoingMessage",
    "advanced_text",
    "at_text",
    "card",
    "custom",
    "face",
    "file",
    "file_url",
    "forward",
    "image",
    "image_url",
    "location",
    "merger",
    "message_struct",
    "msg_struct",
    "quote",
    "sound",
    "sound_url",
    "text",
    "video",
    "video_url",
]
