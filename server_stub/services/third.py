"""/third/* and /object/* (spec rest-api §11): local-filesystem object storage, client logs, FCM, badge.

Objects live next to the SQLite file (``<data dir>/objects``; a temp dir with ``--memory``):
``blobs/<key>`` holds the content (deduplicated by OpenIM's hash), ``uploads/<uploadID>/<n>``
the parts of unfinished multipart uploads. Upload and download URLs point back at this server
(``X-Request-Api`` header, else the request ``Host``) and are HMAC-signed with the server secret:

- ``PUT  /_upload/<uploadID>/<partNumber>?expires=&signature=``  one part (S3-style, ETag = md5)
- ``POST /_form/<id>?expires=&signature=``                        browser form-data upload
- ``GET  /object/<name>``  302 to ``/_files/<name>?expires=&signature=`` (like the real server's
  redirect to a presigned storage URL); ``GET /_files/...`` serves the bytes.
- ``GET  /third/prometheus``  302 to ``ServerConfig.extra["grafana_url"]``.

Safety rules (issue 12): storage keys are OpenIM hashes (32 hex chars, lower-cased) or IDs the
server generated (32 hex chars); object names are normalised and refused when absolute, with
``..`` segments (also once or twice URL-decoded), backslashes, control characters or over 1024
bytes; names are only database keys, never paths. Every filesystem path is built by
:func:`safe_path`, which resolves it and refuses anything that leaves the objects dir or goes
through a symlink. ``GET /object/`` and ``/_files/`` serve only names recorded in the ``objects``
table whose key is a valid hash of a regular file under ``blobs/``. Directories are 0700 and
files 0600 whatever the umask.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import os
import shutil
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.errors import (
    ArgsError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
    ServerInternalError,
)
from openim_sdk.protocol.pb.third import third_pb2

from ..context import RequestContext, current_request, raw_route, service
from ..notify import option
from ..object_files import KEY as _KEY
from ..object_files import PART as _PART
from ..object_files import (
    TooLargeError,
    UnsafePathError,
    check_hash,
    check_id,
    concat_files,
    extract_form_file,
    md5_file,
    mkdir_private,
    normalize_name,
    regular_file,
    safe_path,
    stream_to_file,
)
from ..repos.objects import ObjectRow
from ..storage import now_ms

if TYPE_CHECKING:
    from ..app import ServerCore

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_NUM_SIZE = 10000
UPLOAD_EXPIRE_MS = 7 * 24 * 3600 * 1000
URL_EXPIRE_MS = 12 * 3600 * 1000
FORM_FILE_FIELD = "file"



@dataclass
class Upload:
    upload_id: str
    hash: str
    size: int
    part_size: int
    parts: int
    name: str
    content_type: str
    user_id: str
    expire: int
    form: bool = False
    group: str = ""
    presigned: bool = False  # the file fits in one part: one presigned PUT (tools s3/cont UploadTypePresigned)
    done: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------- settings and paths


def _limits(core: ServerCore) -> tuple[int, int, int]:
    return (int(option(core, "min_part_size", MIN_PART_SIZE)), int(option(core, "max_part_size", MAX_PART_SIZE)),
            int(option(core, "max_num_parts", MAX_NUM_SIZE)))


def _max_file(core: ServerCore) -> int:
    lo, hi, n = _limits(core)
    return int(option(core, "max_file_size", hi * n))


def files_dir(core: ServerCore) -> Path:
    """``<dir of the SQLite file>/objects``; a per-server temp dir for ``:memory:``.

    The objects dir and its ``blobs``/``uploads`` subdirs are (re)set to 0700 when first used, so
    files inside are unreachable for other OS users even if an older version created them 0644.
    The objects dir itself may be a symlink the operator made (resolved once, here); nothing below
    it may be one.
    """
    d = core.objects.files_dir
    if d is None:
        if core.config.memory:
            d = Path(tempfile.mkdtemp(prefix="openim-objects-"))
        else:
            d = Path(core.config.resolved_data_path()).parent / "objects"
        d.parent.mkdir(parents=True, exist_ok=True)
        d = d.resolve()
        mkdir_private(d)
        mkdir_private(safe_path(d, "blobs"))
        mkdir_private(safe_path(d, "uploads"))
        core.objects.files_dir = d
    return Path(d)


def _blob_path(core: ServerCore, key: str) -> Path | None:
    """The blob file of a stored key; None unless the key is a valid hash and a regular file under blobs/."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        return None
    try:
        p = safe_path(files_dir(core), "blobs", key)
    except UnsafePathError:
        return None
    return p if regular_file(p) else None


blob_path = _blob_path  # for the scheduled file clean-up (server_stub/cleanup.py)


def _uploads(core: ServerCore) -> dict[str, Upload]:
    return core.objects.uploads


def _sign(core: ServerCore, path: str, expires: int) -> str:
    key = ("objects:" + core.config.secret).encode()
    return hmac.new(key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def _signed_query(core: ServerCore, path: str, expires: int) -> list[tuple[str, str]]:
    return [("expires", str(expires)), ("signature", _sign(core, path, expires))]


def _check_signature(core: ServerCore, path: str, query: Any) -> str | None:
    try:
        expires = int(query.get("expires", "0"))
    except ValueError:
        return "bad expires"
    if expires < now_ms():
        return "signature expired"
    if not hmac.compare_digest(query.get("signature", ""), _sign(core, path, expires)):
        return "signature mismatch"
    return None


def base_url(ctx_or_core: Any, url_prefix: str = "") -> str:
    """Public base URL of this server, with a trailing slash (X-Request-Api, else Host)."""
    request = current_request.get()
    if request is not None:
        api = request.headers.get("X-Request-Api", "")
        if api:
            return api.rstrip("/") + "/"
        host = request.headers.get("host")
        if host:
            return f"{request.url.scheme}://{host}/"
    if url_prefix:
        return url_prefix[: -len("object/")] if url_prefix.endswith("object/") else url_prefix.rstrip("/") + "/"
    core = ctx_or_core.core if isinstance(ctx_or_core, RequestContext) else ctx_or_core
    return f"http://{core.config.host}:{core.config.api_port}/"


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="/")


def _check_name(ctx: RequestContext, name: str) -> str:
    name = normalize_name(name)
    if not ctx.is_admin and not name.startswith(ctx.user_id + "/"):
        raise NoPermissionError(detail=f"name must start with {ctx.user_id}/")
    return name


async def _object(core: ServerCore, name: str) -> ObjectRow | None:
    return await core.storage.object_info(name)


async def _put_object(core: ServerCore, name: str, key: str, size: int, ctype: str, group: str) -> None:
    await core.storage.put_object(name, key, size, ctype, group)


# --------------------------------------------------------------------------- part sizes


@service("/object/part_limit")
async def part_limit(ctx: RequestContext, req: third_pb2.PartLimitReq) -> Any:
    lo, hi, n = _limits(ctx.core)
    return third_pb2.PartLimitResp(minPartSize=lo, maxPartSize=hi, maxNumSize=n)


def part_size_for(core: ServerCore, size: int) -> int:
    lo, hi, n = _limits(core)
    if size <= 0:
        raise ArgsError(detail="size must be greater than 0")
    if size > min(hi * n, _max_file(core)):
        raise ArgsError(detail=f"size must be less than {min(hi * n, _max_file(core))}")
    if size <= lo * n:
        return lo
    return math.ceil(size / n)


@service("/object/part_size")
async def part_size(ctx: RequestContext, req: third_pb2.PartSizeReq) -> Any:
    return third_pb2.PartSizeResp(size=part_size_for(ctx.core, req.size))


# --------------------------------------------------------------------------- multipart


def _part_signs(ctx: RequestContext, up: Upload, numbers: list[int], base: str) -> third_pb2.AuthSignParts:
    expires = now_ms() + URL_EXPIRE_MS
    sign = third_pb2.AuthSignParts(url="")
    for n in numbers:
        if not 1 <= n <= up.parts:
            raise ArgsError(detail=f"invalid part number {n}")
        path = f"/_upload/{up.upload_id}/{n}"
        sign.parts.append(third_pb2.SignPart(
            partNumber=n, url=base + path[1:],
            query=[third_pb2.KeyValues(key=k, values=[v]) for k, v in _signed_query(ctx.core, path, expires)]))
    return sign


@service("/object/initiate_multipart_upload")
async def initiate(ctx: RequestContext, req: third_pb2.InitiateMultipartUploadReq) -> Any:
    name = _check_name(ctx, req.name)
    key = check_hash(req.hash)
    if req.size <= 0:
        raise ArgsError(detail="size must be greater than 0")
    if req.size > _max_file(ctx.core):
        raise ArgsError(detail=f"file too large: {req.size} > {_max_file(ctx.core)} bytes")
    # The server picks the part size from the size; the request's partSize is not used
    # (upstream internal/rpc/third/s3.go InitiateMultipartUpload -> tools s3/cont InitiateUpload).
    psize = part_size_for(ctx.core, req.size)
    parts = math.ceil(req.size / psize)
    base = base_url(ctx, req.urlPrefix)
    url_prefix = base + "object/"
    if _blob_path(ctx.core, key) is not None:
        await _put_object(ctx.core, name, key, req.size, req.contentType, req.cause)
        return third_pb2.InitiateMultipartUploadResp(url=url_prefix + _quote(name))
    if req.maxParts > parts:
        raise ServerInternalError(detail="too many parts")
    up = Upload(os.urandom(16).hex(), key, req.size, psize, parts, name, req.contentType, ctx.user_id,
                now_ms() + UPLOAD_EXPIRE_MS, presigned=parts == 1)
    mkdir_private(safe_path(files_dir(ctx.core), "uploads", up.upload_id))
    _uploads(ctx.core)[up.upload_id] = up
    numbers = list(range(1, parts + 1)) if req.maxParts < 0 or up.presigned else list(range(1, req.maxParts + 1))
    info = third_pb2.UploadInfo(uploadID=up.upload_id, partSize=psize, expireTime=up.expire,
                                sign=_part_signs(ctx, up, numbers, base))
    return third_pb2.InitiateMultipartUploadResp(url="", upload=info)


def _get_upload(ctx: RequestContext, upload_id: str) -> Upload:
    upload_id = check_id(upload_id, "uploadID")
    up = _uploads(ctx.core).get(upload_id)
    if up is None or up.form:
        raise NotFoundError(1004, detail=f"upload {upload_id} not found")
    if up.expire < now_ms():
        raise OpenIMError(1701, detail="upload expired")
    if up.user_id != ctx.user_id and not ctx.is_admin:
        raise NoPermissionError(detail="not your upload")
    return up


@service("/object/auth_sign")
async def auth_sign(ctx: RequestContext, req: third_pb2.AuthSignReq) -> Any:
    up = _get_upload(ctx, req.uploadID)
    sign = _part_signs(ctx, up, list(req.partNumbers), base_url(ctx))
    if up.presigned:  # a one-PUT upload has no parts to sign (tools s3/cont Controller.AuthSign)
        raise ServerInternalError(detail="presigned id not support auth sign")
    return third_pb2.AuthSignResp(url=sign.url, query=sign.query, header=sign.header, parts=sign.parts)


@service("/object/complete_multipart_upload")
async def complete(ctx: RequestContext, req: third_pb2.CompleteMultipartUploadReq) -> Any:
    up = _get_upload(ctx, req.uploadID)
    name = _check_name(ctx, req.name)
    md5s = [p.lower() for p in req.parts]
    if hashlib.md5(",".join(md5s).encode()).hexdigest() != up.hash:
        raise ServerInternalError(detail="md5 mismatching")
    if len(md5s) != up.parts:
        raise ServerInternalError(detail=f"expected {up.parts} parts, got {len(md5s)}")
    root = files_dir(ctx.core)
    pdir = safe_path(root, "uploads", up.upload_id)
    if up.presigned:
        await asyncio.to_thread(_check_presigned, root, up)
    await asyncio.to_thread(_assemble, root, up, md5s)
    shutil.rmtree(pdir, ignore_errors=True)
    _uploads(ctx.core).pop(up.upload_id, None)
    await _put_object(ctx.core, name, up.hash, up.size, req.contentType or up.content_type, req.cause)
    return third_pb2.CompleteMultipartUploadResp(url=base_url(ctx, req.urlPrefix) + "object/" + _quote(name))


def _check_presigned(root: Path, up: Upload) -> None:
    """A one-PUT upload: the stored file's size, and the OpenIM hash of its md5, must match the
    upload's (tools s3/cont Controller.CompleteUpload, UploadTypePresigned: 1001 on an md5 mismatch)."""
    p = safe_path(root, "uploads", up.upload_id, "1")
    if not regular_file(p):
        raise ServerInternalError(detail="part 1 not uploaded")
    if os.lstat(p).st_size != up.size:
        raise ServerInternalError(detail="upload size mismatching")
    got = hashlib.md5(md5_file(p).encode()).hexdigest()
    if got != up.hash:
        raise ArgsError(detail=f"md5 mismatching {got} != {up.hash}")


def _assemble(root: Path, up: Upload, md5s: list[str]) -> None:
    """Check every part's md5 and the total size, then join the parts into the blob (blocking)."""
    parts = [safe_path(root, "uploads", up.upload_id, str(i)) for i in range(1, up.parts + 1)]
    total = 0
    for i, (p, want) in enumerate(zip(parts, md5s, strict=True), 1):
        if not regular_file(p):
            raise ServerInternalError(detail=f"part {i} not uploaded")
        if md5_file(p) != want:
            raise ServerInternalError(detail=f"part {i} md5 mismatching")
        total += os.lstat(p).st_size
    if total != up.size:
        raise OpenIMError(90007, detail=f"file size mismatch: {total} != {up.size}")
    concat_files(parts, safe_path(root, "blobs", f".{up.upload_id}.{os.urandom(4).hex()}.tmp"),
                 safe_path(root, "blobs", up.hash))


def _access(core: ServerCore, base: str, name: str) -> tuple[str, int]:
    expires = now_ms() + URL_EXPIRE_MS
    path = "/_files/" + _quote(name)
    return base + path[1:] + "?" + urllib.parse.urlencode(_signed_query(core, path, expires)), expires


@service("/object/access_url")
async def access_url(ctx: RequestContext, req: third_pb2.AccessURLReq) -> Any:
    name = normalize_name(req.name)
    obj = await _object(ctx.core, name)
    if obj is None or _blob_path(ctx.core, obj.hash) is None:
        raise NotFoundError(1004, detail=f"object {name} not found")
    url, expires = _access(ctx.core, base_url(ctx), name)
    return third_pb2.AccessURLResp(url=url, expireTime=expires)


# --------------------------------------------------------------------------- form data


@service("/object/initiate_form_data")
async def initiate_form(ctx: RequestContext, req: third_pb2.InitiateFormDataReq) -> Any:
    name = _check_name(ctx, req.name)
    if req.size <= 0:
        raise ArgsError(detail="size must be greater than 0")
    if req.size > _max_file(ctx.core):
        raise ArgsError(detail=f"file too large: {req.size} > {_max_file(ctx.core)} bytes")
    if (req.millisecond or req.absolute) and not ctx.is_admin:
        raise NoPermissionError(detail="only admin can set millisecond/absolute")
    expire = now_ms() + (req.millisecond if req.millisecond > 0 else URL_EXPIRE_MS)
    up = Upload(os.urandom(16).hex(), "", req.size, req.size, 1, name, req.contentType, ctx.user_id, expire,
                form=True, group=req.group)
    _uploads(ctx.core)[up.upload_id] = up
    path = f"/_form/{up.upload_id}"
    base = base_url(ctx)
    query = urllib.parse.urlencode(_signed_query(ctx.core, path, expire))
    resp = third_pb2.InitiateFormDataResp(id=up.upload_id, url=base + path[1:] + "?" + query, file=FORM_FILE_FIELD,
                                          expires=expire, successCodes=[200, 201, 204])
    resp.formData["key"] = up.upload_id
    if req.contentType:
        resp.formData["Content-Type"] = req.contentType
    return resp


@service("/object/complete_form_data")
async def complete_form(ctx: RequestContext, req: third_pb2.CompleteFormDataReq) -> Any:
    up = _uploads(ctx.core).get(check_id(req.id, "id"))
    if up is None or not up.form:
        raise NotFoundError(1004, detail=f"form upload {req.id} not found")
    if up.user_id != ctx.user_id and not ctx.is_admin:
        raise NoPermissionError(detail="not your upload")
    root = files_dir(ctx.core)
    p = safe_path(root, "uploads", f"form-{up.upload_id}")
    if not regular_file(p):
        raise OpenIMError(1004, detail="file not uploaded")
    size = os.lstat(p).st_size
    if size != up.size:
        raise OpenIMError(90007, detail=f"file size mismatch: {size} != {up.size}")
    part = await asyncio.to_thread(md5_file, p)
    key = hashlib.md5(part.encode()).hexdigest()  # OpenIM hash of a one-part file
    os.replace(p, safe_path(root, "blobs", key))
    _uploads(ctx.core).pop(up.upload_id, None)
    await _put_object(ctx.core, up.name, key, size, up.content_type, up.group)
    return third_pb2.CompleteFormDataResp(url=base_url(ctx, req.urlPrefix) + "object/" + _quote(up.name))


# --------------------------------------------------------------------------- raw HTTP handlers


def _text(status: int, text: str) -> Any:
    from starlette.responses import Response

    from ..rest import CORS_HEADERS

    return Response(text.encode(), status_code=status, headers=CORS_HEADERS, media_type="text/plain")


def _scope_path(request: Any) -> str:
    """The request path decoded exactly once (the ASGI ``path``), never decoded again."""
    path = request.scope.get("path")
    return path if isinstance(path, str) else urllib.parse.unquote(request.url.path)


@raw_route(("GET", "/object/*name"), ("GET", "/third/prometheus"))
async def _raw_files(core: ServerCore, request: Any) -> Any:
    from starlette.responses import FileResponse, RedirectResponse, Response

    from ..rest import CORS_HEADERS

    path, method = request.url.path, request.method
    if method == "PUT" and path.startswith("/_upload/"):
        bits = _scope_path(request).split("/")
        if len(bits) != 4 or bits[1] != "_upload" or not _KEY.fullmatch(bits[2]) or not _PART.fullmatch(bits[3]):
            return _text(400, "invalid upload path")
        upload_id, n = bits[2], int(bits[3])
        err = _check_signature(core, f"/_upload/{upload_id}/{n}", request.query_params)
        if err:
            return _text(403, err)
        up = _uploads(core).get(upload_id)
        if up is None or up.form or not 1 <= n <= up.parts:
            return _text(404, "upload not found")
        expected = up.part_size if n < up.parts else up.size - up.part_size * (up.parts - 1)
        try:
            root = files_dir(core)
            mkdir_private(safe_path(root, "uploads", upload_id))
            _, digest = await stream_to_file(
                request.stream(), safe_path(root, "uploads", upload_id, f".{n}.{os.urandom(4).hex()}.tmp"),
                safe_path(root, "uploads", upload_id, str(n)), expected)
        except TooLargeError:
            return _text(413, f"part {n} larger than {expected} bytes")
        except UnsafePathError:
            return _text(400, "invalid upload path")
        up.done.add(n)
        return Response(b"", status_code=200, headers={**CORS_HEADERS, "ETag": f'"{digest}"'})
    if method == "POST" and path.startswith("/_form/"):
        bits = _scope_path(request).split("/")
        if len(bits) != 3 or bits[1] != "_form" or not _KEY.fullmatch(bits[2]):
            return _text(400, "invalid upload path")
        upload_id = bits[2]
        err = _check_signature(core, f"/_form/{upload_id}", request.query_params)
        if err:
            return _text(403, err)
        up = _uploads(core).get(upload_id)
        if up is None or not up.form:
            return _text(404, "upload not found")
        try:
            root = files_dir(core)
            body = safe_path(root, "uploads", f".form-{upload_id}.{os.urandom(4).hex()}.body")
            await stream_to_file(request.stream(), body.with_suffix(".part"), body, up.size + 64 * 1024)
            try:
                size = await asyncio.to_thread(
                    extract_form_file, body, request.headers.get("content-type", ""), FORM_FILE_FIELD,
                    safe_path(root, "uploads", f".form-{upload_id}.{os.urandom(4).hex()}.tmp"),
                    safe_path(root, "uploads", f"form-{upload_id}"))
            finally:
                body.unlink(missing_ok=True)
        except TooLargeError:
            return _text(413, f"file larger than {up.size} bytes")
        except UnsafePathError:
            return _text(400, "invalid upload path")
        if size is None:
            return _text(400, f"multipart form without a '{FORM_FILE_FIELD}' field")
        return Response(b"", status_code=204, headers=CORS_HEADERS)
    if method in ("GET", "HEAD") and path.startswith("/object/"):
        try:
            name = normalize_name(_scope_path(request)[len("/object/"):])
        except ArgsError as exc:
            return _text(400, exc.detail or "invalid name")
        obj = await _object(core, name)
        if obj is None or _blob_path(core, obj.hash) is None:
            return _text(404, "object not found")
        url, _ = _access(core, base_url(core), name)
        return RedirectResponse(url, status_code=302, headers=CORS_HEADERS)
    if method in ("GET", "HEAD") and path.startswith("/_files/"):
        try:
            name = normalize_name(_scope_path(request)[len("/_files/"):])
        except ArgsError as exc:
            return _text(400, exc.detail or "invalid name")
        err = _check_signature(core, "/_files/" + _quote(name), request.query_params)
        if err:
            return _text(403, err)
        obj = await _object(core, name)
        blob = _blob_path(core, obj.hash) if obj else None
        if obj is None or blob is None:
            return _text(404, "object not found")
        return FileResponse(blob, media_type=obj.content_type or "application/octet-stream", headers=CORS_HEADERS,
                            filename=None)
    if method == "GET" and path == "/third/prometheus":
        return RedirectResponse(str(option(core, "grafana_url", "http://127.0.0.1:13000")), status_code=302,
                                headers=CORS_HEADERS)
    return None


