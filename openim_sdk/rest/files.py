"""File transfer over ``/object/*``: multipart upload with progress and resume, and download.

The flow follows OpenIM (docs/spec/rest-api.md §11): choose a part size, hash the parts
(``hash = md5_hex(",".join(part_md5s))``), initiate, PUT each part to its presigned URL,
complete. An :class:`UploadState` records the parts already sent; hand it back to
:func:`upload_file` to resume an interrupted upload without sending them again.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlencode

from ..protocol.errors import FileError, NetworkError

if TYPE_CHECKING:
    import httpx

    from .client import RestClient

#: progress(bytes_done, bytes_total)
Progress = Callable[[int, int], None]


def openim_hash(part_md5s: Iterable[str]) -> str:
    """OpenIM's content hash: md5 hex of the comma-joined lowercase part md5s."""
    return hashlib.md5(",".join(part_md5s).encode()).hexdigest()


def part_md5s(data: bytes, part_size: int) -> list[str]:
    if part_size <= 0:
        raise ValueError("part_size must be positive")
    if not data:
        return [hashlib.md5(b"").hexdigest()]
    return [hashlib.md5(data[i : i + part_size]).hexdigest() for i in range(0, len(data), part_size)]


@dataclass
class UploadState:
    """What is needed to resume an upload: keep it (``asdict``) and pass it back."""

    name: str
    hash: str
    size: int
    part_size: int
    upload_id: str = ""
    done_parts: list[int] = field(default_factory=list)
    url: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read(source: str | os.PathLike[str] | bytes | IO[bytes]) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, str | os.PathLike):
        return Path(source).read_bytes()
    return source.read()


def _merge_kv(*lists: Iterable[Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for kvs in lists:
        for kv in kvs:
            out.extend((kv.key, v) for v in kv.values)
    return out


async def upload_file(
    api: RestClient,
    source: str | os.PathLike[str] | bytes | IO[bytes],
    name: str,
    *,
    content_type: str | None = None,
    cause: str = "",
    progress: Progress | None = None,
    state: UploadState | None = None,
    part_retries: int = 2,
) -> UploadState:
    """Upload ``source`` as object ``name``; returns the finished state with its ``url``.

    For non-admin users ``name`` must start with ``"<userID>/"``. If ``state`` comes from an
    earlier interrupted call for the same content, parts already sent are skipped. On a part
    failure the exception carries the state in ``exc.upload_state`` for a later resume.
    """
    data = _read(source)
    size = len(data)
    ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if state is None or state.size != size or state.name != name:
        part_size = int((await api.object.part_size(size=max(size, 1))).size)
        md5s = part_md5s(data, part_size)
        state = UploadState(name=name, hash=openim_hash(md5s), size=size, part_size=part_size)
    md5s = part_md5s(data, state.part_size)
    if openim_hash(md5s) != state.hash:
        raise FileError(message="content changed since the upload started", detail=name)
    nparts = len(md5s)
    if progress:
        progress(min(size, len(state.done_parts) * state.part_size), size)

    if not state.upload_id:
        init = await api.object.initiate_multipart_upload(
            hash=state.hash, size=size, part_size=state.part_size, max_parts=-1, cause=cause,
            name=name, content_type=ctype,
        )
        if not init.HasField("upload"):  # already stored under this hash
            state.url = init.url
            state.done_parts = list(range(1, nparts + 1))
            if progress:
                progress(size, size)
            return state
        state.upload_id = init.upload.uploadID
        sign: Any = init.upload.sign
    else:
        todo = [n for n in range(1, nparts + 1) if n not in state.done_parts]
        sign = await api.object.auth_sign(upload_id=state.upload_id, part_numbers=todo or [1])

    parts = {p.partNumber: p for p in sign.parts}
    http: httpx.AsyncClient = api._transport.http
    import httpx  # loaded by ``_transport.http``

    sent = sum(min(state.part_size, size - (n - 1) * state.part_size) for n in state.done_parts)
    for number in range(1, nparts + 1):
        if number in state.done_parts:
            continue
        chunk = data[(number - 1) * state.part_size : number * state.part_size]
        part = parts.get(number)
        if part is None:
            resigned = await api.object.auth_sign(upload_id=state.upload_id, part_numbers=[number])
            sign, part = resigned, resigned.parts[0]
        url = part.url or sign.url
        query = _merge_kv(sign.query, part.query)
        if query:
            url += ("&" if "?" in url else "?") + urlencode(query)
        headers = dict(_merge_kv(sign.header, part.header))
        for attempt in range(part_retries + 1):
            try:
                resp = await http.put(url, content=chunk, headers=headers)
            except httpx.HTTPError as exc:
                if attempt == part_retries:
                    err = NetworkError(message=f"part {number} upload failed", detail=str(exc))
                    err.upload_state = state  # type: ignore[attr-defined]
                    raise err from exc
                await asyncio.sleep(0.2 * (attempt + 1))
                continue
            if resp.status_code < 300:
                break
            if resp.status_code < 500 or attempt == part_retries:  # refused: do not hammer the storage
                refused = FileError(code=500 if resp.status_code >= 500 else 1701,
                                    message=f"part {number} upload failed: HTTP {resp.status_code}",
                                    detail=resp.text[:200])
                refused.upload_state = state  # type: ignore[attr-defined]
                raise refused
            await asyncio.sleep(0.2 * (attempt + 1))
        state.done_parts.append(number)
        sent += len(chunk)
        if progress:
            progress(sent, size)

    done = await api.object.complete_multipart_upload(
        upload_id=state.upload_id, parts=md5s, name=name, content_type=ctype, cause=cause
    )
    state.url = done.url
    return state


async def _chunks(api: RestClient, url: str, progress: Progress | None) -> AsyncIterator[bytes]:
    """The body of a GET of ``url`` (following redirects), chunk by chunk, with progress; a non-200
    answer is a :class:`FileError`, a transport failure a :class:`NetworkError`."""
    http: httpx.AsyncClient = api._transport.http
    import httpx  # loaded by ``_transport.http``

    try:
        async with http.stream("GET", url, follow_redirects=True) as resp:
            if resp.status_code != 200:
                body = (await resp.aread())[:200].decode(errors="replace")
                raise FileError(code=1004 if resp.status_code == 404 else 500,
                                message=f"download failed: HTTP {resp.status_code}", detail=body)
            total = int(resp.headers.get("Content-Length") or 0)
            got = 0
            async for chunk in resp.aiter_bytes():
                got += len(chunk)
                yield chunk
                if progress:
                    progress(got, total or got)
    except httpx.HTTPError as exc:
        raise NetworkError(message=f"cannot download {url}", detail=str(exc)) from exc


async def download(
    api: RestClient,
    url: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    expected_hash: str | None = None,
    part_size: int | None = None,
    progress: Progress | None = None,
) -> bytes:
    """Fetch ``url`` (following redirects), optionally write it to ``dest``.

    With ``expected_hash`` (OpenIM's hash) and the ``part_size`` used at upload, the content is
    checked and a mismatch raises :class:`FileError`.
    """
    data = b"".join([chunk async for chunk in _chunks(api, url, progress)])
    if expected_hash is not None:
        if part_size is None:
            raise ValueError("part_size is needed to check OpenIM's hash")
        if openim_hash(part_md5s(data, part_size)) != expected_hash:
            raise FileError(message="downloaded content does not match its hash", detail=url)
    if dest is not None:
        tmp = Path(f"{dest}.part")
        tmp.write_bytes(data)
        tmp.replace(dest)
    return data


async def download_file(api: RestClient, url: str, dest: str | os.PathLike[str], *,
                        progress: Progress | None = None) -> int:
    """Fetch ``url`` (following redirects) straight into ``dest``, chunk by chunk, never holding the
    whole file in memory; written to ``<dest>.part`` and renamed when complete (a failed download
    leaves no partial ``dest``). Returns the size."""
    tmp = Path(f"{dest}.part")
    got = 0
    try:
        with open(tmp, "wb") as out:
            async for chunk in _chunks(api, url, progress):
                await asyncio.to_thread(out.write, chunk)
                got += len(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(dest)
    return got
