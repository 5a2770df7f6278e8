"""Message builders: each returns an :class:`OutgoingMessage` whose content is the JSON the
official core sends for that content type (``sdk_struct`` elements, Go ``omitempty`` rules).

Media from a path carry the local path and the metadata read from the file
(:mod:`.media_info`); their URLs are filled by :func:`openim_sdk.messages.upload.upload_media`
before sending. Media from a URL carry what the caller gives.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..protocol.constants import ContentType, MsgStatus
from ..protocol.pb.sdkws import sdkws_pb2
from . import media_info
from .struct import decode_content, struct_content

JSONDict = dict[str, Any]


@dataclass(frozen=True)
class OutgoingMessage:
    """A message ready to send: content type, content element, mentions, app ``ex``, push info."""

    content_type: int
    content: JSONDict
    at_user_ids: tuple[str, ...] = ()
    ex: str = ""
    offline_push: sdkws_pb2.OfflinePushInfo | None = None
    options: Mapping[str, bool] = field(default_factory=dict)

    def content_bytes(self) -> bytes:
        return json.dumps(self.content, ensure_ascii=False, separators=(",", ":")).encode()

    def with_offline_push(self, title: str = "", desc: str = "", ex: str = "", *, ios_push_sound: str = "",
                          ios_badge_count: bool = False) -> OutgoingMessage:
        """The same message with the vendor push text (``OfflinePushInfo``) set."""
        info = sdkws_pb2.OfflinePushInfo(title=title, desc=desc, ex=ex, iOSPushSound=ios_push_sound,
                                         iOSBadgeCount=ios_badge_count)
        return replace(self, offline_push=info)

    @property
    def local_paths(self) -> list[str]:
        """Local files this message still has to upload (paths whose URL is empty)."""
        c, out = self.content, []
        if self.content_type == ContentType.PICTURE and c.get("sourcePath") and not _url(c.get("sourcePicture")):
            out.append(c["sourcePath"])
        elif self.content_type == ContentType.VOICE and c.get("soundPath") and not c.get("sourceUrl"):
            out.append(c["soundPath"])
        elif self.content_type == ContentType.FILE and c.get("filePath") and not c.get("sourceUrl"):
            out.append(c["filePath"])
        elif self.content_type == ContentType.VIDEO:
            if c.get("videoPath") and not c.get("videoUrl"):
                out.append(c["videoPath"])
            if c.get("snapshotPath") and not c.get("snapshotUrl"):
                out.append(c["snapshotPath"])
        return out


def _url(pic: Any) -> str:
    return str(pic.get("url", "")) if isinstance(pic, dict) else ""


def _omit(d: JSONDict, *keys: str) -> JSONDict:
    """Go ``omitempty`` for the named keys (empty strings, lists, dicts and None go)."""
    return {k: v for k, v in d.items() if not (k in keys and v in ("", None, [], {}))}


def new_uuid() -> str:
    return hashlib.md5(f"{time.time_ns()}{secrets.token_hex(8)}".encode()).hexdigest()


def _ext(path_or_url: str) -> str:
    return Path(path_or_url.split("?")[0]).suffix.lstrip(".").lower()


# ---------------------------------------------------------------------- text-like


def text(content: str) -> OutgoingMessage:
    return OutgoingMessage(ContentType.TEXT, {"content": content})


def _entities(entities: Iterable[Mapping[str, Any]]) -> list[JSONDict]:
    out = []
    for e in entities:
        item = {"type": e.get("type", ""), "offset": int(e.get("offset", 0)), "length": int(e.get("length", 0)),
                "url": e.get("url", ""), "ex": e.get("ex", "")}
        out.append(_omit(item, "type", "url", "ex"))
    return out


def advanced_text(content: str, entities: Iterable[Mapping[str, Any]] = ()) -> OutgoingMessage:
    """Text with entities (``{"type","offset","length","url","ex"}``: links, mentions, styles)."""
    return OutgoingMessage(ContentType.ADVANCED_TEXT,
                           _omit({"text": content, "messageEntityList": _entities(entities)}, "text", "messageEntityList"))


def at_text(content: str, at_user_ids: Sequence[str], *, at_users_info: Iterable[Mapping[str, str]] = (),
            quote: Mapping[str, Any] | None = None, me: str = "") -> OutgoingMessage:
    """A group text mentioning users (``"AtAllTag"`` mentions everyone)."""
    info = [_omit({"atUserID": i.get("atUserID", ""), "groupNickname": i.get("groupNickname", "")},
                  "atUserID", "groupNickname") for i in at_users_info]
    body = {"text": content, "atUserList": list(at_user_ids), "atUsersInfo": info,
            "quoteMessage": _quoted(quote) if quote is not None else None, "isAtSelf": bool(me and me in at_user_ids)}
    return OutgoingMessage(ContentType.AT_TEXT, _omit(body, "text", "atUserList", "atUsersInfo", "quoteMessage"),
                           at_user_ids=tuple(at_user_ids))


def _quoted(quoted: Mapping[str, Any]) -> JSONDict:
    """The quoted MsgStruct; a quote of a quote becomes a text (the official core avoids nesting)."""
    q: dict[str, Any] = json.loads(json.dumps(quoted))  # a deep copy the caller cannot change afterwards
    if int(q.get("contentType", 0)) == ContentType.QUOTE:
        inner = q.pop("quoteElem", None) or {}
        q["contentType"] = int(ContentType.TEXT)
        q["textElem"] = {"content": inner.get("text", "")}
    return q


def quote(content: str, quoted: Mapping[str, Any], entities: Iterable[Mapping[str, Any]] = ()) -> OutgoingMessage:
    """A reply embedding the whole quoted message (its MsgStruct: :func:`message_struct`)."""
    body = {"text": content, "quoteMessage": _quoted(quoted), "messageEntityList": _entities(entities)}
    return OutgoingMessage(ContentType.QUOTE, _omit(body, "text", "messageEntityList"))


def location(description: str, longitude: float, latitude: float) -> OutgoingMessage:
    return OutgoingMessage(ContentType.LOCATION, _omit(
        {"description": description, "longitude": float(longitude), "latitude": float(latitude)}, "description"))


def card(user_id: str, nickname: str = "", face_url: str = "", ex: str = "") -> OutgoingMessage:
    return OutgoingMessage(ContentType.CARD, {"userID": user_id, "nickname": nickname, "faceURL": face_url, "ex": ex})


def custom(data: str, extension: str = "", description: str = "") -> OutgoingMessage:
    return OutgoingMessage(ContentType.CUSTOM, _omit(
        {"data": data, "description": description, "extension": extension}, "data", "description", "extension"))


def face(index: int, data: str = "") -> OutgoingMessage:
    return OutgoingMessage(ContentType.FACE, _omit({"index": int(index), "data": data}, "data"))


def merger(messages: Sequence[Mapping[str, Any]], title: str, summaries: Sequence[str] = ()) -> OutgoingMessage:
    """Chat history: whole messages (MsgStructs), a title and one summary line per message."""
    body = {"title": title, "abstractList": list(summaries),
            "multiMessage": [json.loads(json.dumps(m)) for m in messages]}
    return OutgoingMessage(ContentType.MERGER, _omit(body, "title", "abstractList", "multiMessage"))


def forward(message: Mapping[str, Any]) -> OutgoingMessage:
    """The same content again, as a new message (official ``CreateForwardMessage``: only a
    message the server accepted can be forwarded)."""
    status = int(message.get("status", MsgStatus.SEND_SUCCESS))
    if status != MsgStatus.SEND_SUCCESS:
        raise ValueError("only a message the server accepted can be forwarded")
    ct = int(message.get("contentType", 0))
    content = struct_content(dict(message))
    if not content and isinstance(message.get("content"), str):
        content = decode_content(message["content"])
    return OutgoingMessage(ct, content)


# ---------------------------------------------------------------------- media


def _picture(url: str, *, uuid: str = "", kind: str = "", size: int = 0, width: int = 0, height: int = 0) -> JSONDict:
    return _omit({"uuid": uuid, "type": kind, "size": size, "width": width, "height": height, "url": url},
                 "uuid", "type", "url")


def image(path: str | os.PathLike[str]) -> OutgoingMessage:
    """A picture from a local file: size, type and width/height read from it (PNG, JPEG, GIF,
    WebP, BMP); uploaded at send time."""
    p = os.fspath(path)
    size = os.path.getsize(p)
    dims = media_info.image_size(p) or (0, 0)
    kind = mimetypes.guess_type(p)[0] or f"image/{_ext(p)}"
    pic = _picture("", uuid=new_uuid(), kind=kind, size=size, width=dims[0], height=dims[1])
    return OutgoingMessage(ContentType.PICTURE, {"sourcePath": p, "sourcePicture": pic, "bigPicture": dict(pic),
                                                 "snapshotPicture": dict(pic)})


def image_url(url: str, *, width: int = 0, height: int = 0, size: int = 0, kind: str = "",
              big_url: str = "", snapshot_url: str = "", uuid: str = "") -> OutgoingMessage:
    """A picture already online (official ``CreateImageMessageByURL``)."""
    kind = kind or mimetypes.guess_type(url.split("?")[0])[0] or ""
    base: dict[str, Any] = {"uuid": uuid, "kind": kind, "size": size, "width": width, "height": height}
    return OutgoingMessage(ContentType.PICTURE, {
        "sourcePicture": _picture(url, **base), "bigPicture": _picture(big_url or url, **base),
        "snapshotPicture": _picture(snapshot_url or url, **base)})


def sound(path: str | os.PathLike[str], duration: int | None = None) -> OutgoingMessage:
    """A voice message from a local file; ``duration`` (seconds) is read from WAV and MP3 files
    when not given (other formats: pass it)."""
    p = os.fspath(path)
    if duration is None:
        duration = media_info.sound_duration(p) or 0
    body = {"uuid": new_uuid(), "soundPath": p, "sourceUrl": "", "dataSize": os.path.getsize(p),
            "duration": int(duration), "soundType": f"audio/{_ext(p)}" if _ext(p) else ""}
    return OutgoingMessage(ContentType.VOICE, _omit(body, "uuid", "soundPath", "sourceUrl", "soundType"))


def sound_url(url: str, duration: int, *, size: int = 0, sound_type: str = "", uuid: str = "") -> OutgoingMessage:
    body = {"uuid": uuid, "sourceUrl": url, "dataSize": size, "duration": int(duration),
            "soundType": sound_type or (f"audio/{_ext(url)}" if _ext(url) else "")}
    return OutgoingMessage(ContentType.VOICE, _omit(body, "uuid", "sourceUrl", "soundType"))


def video(path: str | os.PathLike[str], snapshot_path: str | os.PathLike[str] | None = None, *,
          duration: int | None = None) -> OutgoingMessage:
    """A video from a local file with its snapshot picture (made by the app, as with the official
    core); ``duration`` (seconds) is read from MP4/MOV when not given."""
    p = os.fspath(path)
    if duration is None:
        duration = media_info.video_duration(p) or 0
    body: JSONDict = {"videoPath": p, "videoUUID": new_uuid(), "videoUrl": "",
                      "videoType": mimetypes.guess_type(p)[0] or f"video/{_ext(p)}", "videoSize": os.path.getsize(p),
                      "duration": int(duration), "snapshotSize": 0, "snapshotWidth": 0, "snapshotHeight": 0}
    if snapshot_path is not None:
        s = os.fspath(snapshot_path)
        w, h = media_info.image_size(s) or (0, 0)
        body.update(snapshotPath=s, snapshotUUID=new_uuid(), snapshotSize=os.path.getsize(s), snapshotWidth=w,
                    snapshotHeight=h, snapshotType=mimetypes.guess_type(s)[0] or f"image/{_ext(s)}")
    return OutgoingMessage(ContentType.VIDEO, _omit(body, "videoPath", "videoUUID", "videoUrl", "videoType"))


def video_url(url: str, duration: int, *, size: int = 0, video_type: str = "", snapshot_url: str = "",
              snapshot_width: int = 0, snapshot_height: int = 0, snapshot_size: int = 0) -> OutgoingMessage:
    body = {"videoUrl": url, "videoType": video_type or mimetypes.guess_type(url.split("?")[0])[0] or "",
            "videoSize": size, "duration": int(duration), "snapshotUrl": snapshot_url, "snapshotSize": snapshot_size,
            "snapshotWidth": snapshot_width, "snapshotHeight": snapshot_height}
    return OutgoingMessage(ContentType.VIDEO, _omit(body, "videoUrl", "videoType", "snapshotUrl"))


def file(path: str | os.PathLike[str], name: str | None = None) -> OutgoingMessage:
    p = os.fspath(path)
    body = {"filePath": p, "uuid": new_uuid(), "sourceUrl": "", "fileName": name or os.path.basename(p),
            "fileSize": os.path.getsize(p), "fileType": _ext(p)}
    return OutgoingMessage(ContentType.FILE, _omit(body, "filePath", "uuid", "sourceUrl", "fileName", "fileType"))


def file_url(url: str, name: str, *, size: int = 0, file_type: str = "", uuid: str = "") -> OutgoingMessage:
    body = {"uuid": uuid, "sourceUrl": url, "fileName": name, "fileSize": size, "fileType": file_type or _ext(name)}
    return OutgoingMessage(ContentType.FILE, _omit(body, "uuid", "sourceUrl", "fileName", "fileType"))
