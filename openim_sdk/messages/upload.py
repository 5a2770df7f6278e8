"""Upload the local files of a media message and fill in their URLs (what the official core
does inside ``SendMessage`` before the message leaves)."""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..protocol.constants import ContentType
from ..rest.files import Progress, upload_file
from .builders import OutgoingMessage, new_uuid

if TYPE_CHECKING:
    from ..rest import RestClient

_CAUSE: dict[int, str] = {ContentType.PICTURE: "msg-picture", ContentType.VOICE: "msg-voice", ContentType.VIDEO: "msg-video",
          ContentType.FILE: "msg-file"}


async def upload_media(rest: RestClient, message: OutgoingMessage, user_id: str, *,
                       progress: Progress | None = None) -> OutgoingMessage:
    """``message`` with every local file uploaded and its URL set; others are returned as they are."""
    if not message.local_paths:
        return message
    c: dict[str, Any] = copy.deepcopy(message.content)
    cause = _CAUSE.get(message.content_type, "msg-file")

    async def put(path: str, uuid: str) -> str:
        name = f"{user_id}/{uuid or new_uuid()}/{os.path.basename(path)}"
        state = await upload_file(rest, path, name, cause=cause, progress=progress)
        return state.url

    ct = message.content_type
    if ct == ContentType.PICTURE:
        url = await put(c["sourcePath"], c.get("sourcePicture", {}).get("uuid", ""))
        for key in ("sourcePicture", "bigPicture", "snapshotPicture"):
            c.setdefault(key, {})["url"] = url
    elif ct == ContentType.VOICE:
        c["sourceUrl"] = await put(c["soundPath"], c.get("uuid", ""))
    elif ct == ContentType.FILE:
        c["sourceUrl"] = await put(c["filePath"], c.get("uuid", ""))
    elif ct == ContentType.VIDEO:
        if c.get("videoPath") and not c.get("videoUrl"):
            c["videoUrl"] = await put(c["videoPath"], c.get("videoUUID", ""))
        if c.get("snapshotPath") and not c.get("snapshotUrl"):
            c["snapshotUrl"] = await put(c["snapshotPath"], c.get("snapshotUUID", ""))
    return replace(message, content=c)
