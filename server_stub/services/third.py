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
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import hmac
import math
import os
import shutil
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import is_valid_platform
from openim_sdk.protocol.errors import (
    ArgsError,
    NoPermissionError,
    NotFoundError,
    OpenIMError,
    ServerInternalError,
)
from openim_sdk.protocol.pb.third import third_pb2

from .. import relation_store as rs
from ..context import RequestContext, check_pagination, need, page_bounds, service
from ..notify import current_request, option, register_raw
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
    done: set[int] = field(default_factory=set)


# --------------------------------------------------------------------------- settings and paths


def _limits(core: ServerCore) -> tuple[int, int, int]:
    return (int(option(core, "min_part_size", MIN_PART_SIZE)), int(option(core, "max_part_size", MAX_PART_SIZE)),
            int(option(core, "max_num_parts", MAX_NUM_SIZE)))


def _max_file(core: ServerCore) -> int:
    lo, hi, n = _limits(core)
    return int(option(core, "max_file_size", hi * n))


def files_dir(core: ServerCore) -> Path:
    """``<dir of the SQLite file>/objects``; a per-server temp dir for ``:memory:``."""
    d = core.extensions.get("_files_dir")
    if d is None:
        if core.config.memory:
            d = Path(tempfile.mkdtemp(prefix="openim-objects-"))
        else:
            d = Path(core.config.resolved_data_path()).parent / "objects"
        (d / "blobs").mkdir(parents=True, exist_ok=True)
        (d / "uploads").mkdir(parents=True, exist_ok=True)
        core.extensions["_files_dir"] = d
    return Path(d)


def _uploads(core: ServerCore) -> dict[str, Upload]:
    return core.extensions.setdefault("_uploads", {})


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


def _check_name(ctx: RequestContext, name: str) -> None:
    need(name, "name is empty")
    if name.startswith("/"):
        raise ArgsError(detail="name must not start with /")
    if len(name.encode()) > 1024:
        raise ArgsError(detail="name too long")
    if not ctx.is_admin and not name.startswith(ctx.user_id + "/"):
        raise NoPermissionError(detail=f"name must start with {ctx.user_id}/")


async def _object(core: ServerCore, name: str) -> tuple[str, int, str] | None:
    r = await core.storage.run(lambda c: c.execute("SELECT hash, size, content_type FROM objects WHERE name = ?",
                                                   (name,)).fetchone())
    return (r[0], r[1], r[2]) if r else None


async def _put_object(core: ServerCore, name: str, key: str, size: int, ctype: str, group: str) -> None:
    await core.storage.run(lambda c: c.execute("INSERT OR REPLACE INTO objects VALUES (?,?,?,?,?,?)",
                                               (name, key, size, ctype, group, now_ms())))


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
    _check_name(ctx, req.name)
    need(req.hash, "hash is empty")
    if req.size <= 0:
        raise ArgsError(detail="size must be greater than 0")
    if req.size > _max_file(ctx.core):
        raise ArgsError(detail=f"file too large: {req.size} > {_max_file(ctx.core)} bytes")
    lo, hi, n = _limits(ctx.core)
    psize = req.partSize
    if psize <= 0:
        raise ArgsError(detail="partSize must be greater than 0")
    if psize > hi:
        raise ArgsError(detail=f"partSize must be at most {hi}")
    if psize < lo and psize < req.size:
        raise ArgsError(detail=f"partSize must be at least {lo}")
    parts = math.ceil(req.size / psize)
    if parts > n:
        raise ArgsError(detail=f"too many parts: {parts} > {n}")
    base = base_url(ctx, req.urlPrefix)
    url_prefix = base + "object/"
    key = req.hash.lower()
    if (files_dir(ctx.core) / "blobs" / key).exists():
        await _put_object(ctx.core, req.name, key, req.size, req.contentType, req.cause)
        return third_pb2.InitiateMultipartUploadResp(url=url_prefix + _quote(req.name))
    if req.maxParts > parts:
        raise ServerInternalError(detail="too many parts")
    up = Upload(os.urandom(16).hex(), key, req.size, psize, parts, req.name, req.contentType, ctx.user_id,
                now_ms() + UPLOAD_EXPIRE_MS)
    _uploads(ctx.core)[up.upload_id] = up
    (files_dir(ctx.core) / "uploads" / up.upload_id).mkdir(parents=True, exist_ok=True)
    numbers = list(range(1, parts + 1)) if req.maxParts < 0 else list(range(1, req.maxParts + 1))
    info = third_pb2.UploadInfo(uploadID=up.upload_id, partSize=psize, expireTime=up.expire,
                                sign=_part_signs(ctx, up, numbers, base))
    return third_pb2.InitiateMultipartUploadResp(url="", upload=info)


def _get_upload(ctx: RequestContext, upload_id: str) -> Upload:
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
    return third_pb2.AuthSignResp(url=sign.url, query=sign.query, header=sign.header, parts=sign.parts)


@service("/object/complete_multipart_upload")
async def complete(ctx: RequestContext, req: third_pb2.CompleteMultipartUploadReq) -> Any:
    up = _get_upload(ctx, req.uploadID)
    _check_name(ctx, req.name)
    md5s = [p.lower() for p in req.parts]
    if hashlib.md5(",".join(md5s).encode()).hexdigest() != up.hash:
        raise ServerInternalError(detail="md5 mismatching")
    if len(md5s) != up.parts:
        raise ServerInternalError(detail=f"expected {up.parts} parts, got {len(md5s)}")
    root = files_dir(ctx.core)
    pdir = root / "uploads" / up.upload_id
    total = 0
    for i, want in enumerate(md5s, 1):
        p = pdir / str(i)
        if not p.exists():
            raise ServerInternalError(detail=f"part {i} not uploaded")
        data = p.read_bytes()
        if hashlib.md5(data).hexdigest() != want:
            raise ServerInternalError(detail=f"part {i} md5 mismatching")
        total += len(data)
    if total != up.size:
        raise OpenIMError(90007, detail=f"file size mismatch: {total} != {up.size}")
    tmp = root / "blobs" / f".{up.upload_id}.tmp"
    with tmp.open("wb") as out:
        for i in range(1, up.parts + 1):
            with (pdir / str(i)).open("rb") as src:
                shutil.copyfileobj(src, out)
    tmp.replace(root / "blobs" / up.hash)
    shutil.rmtree(pdir, ignore_errors=True)
    _uploads(ctx.core).pop(up.upload_id, None)
    await _put_object(ctx.core, req.name, up.hash, up.size, req.contentType or up.content_type, req.cause)
    return third_pb2.CompleteMultipartUploadResp(url=base_url(ctx, req.urlPrefix) + "object/" + _quote(req.name))


def _access(core: ServerCore, base: str, name: str) -> tuple[str, int]:
    expires = now_ms() + URL_EXPIRE_MS
    path = "/_files/" + _quote(name)
    return base + path[1:] + "?" + urllib.parse.urlencode(_signed_query(core, path, expires)), expires


@service("/object/access_url")
async def access_url(ctx: RequestContext, req: third_pb2.AccessURLReq) -> Any:
    need(req.name, "name is empty")
    if await _object(ctx.core, req.name) is None:
        raise NotFoundError(1004, detail=f"object {req.name} not found")
    url, expires = _access(ctx.core, base_url(ctx), req.name)
    return third_pb2.AccessURLResp(url=url, expireTime=expires)


# --------------------------------------------------------------------------- form data


@service("/object/initiate_form_data")
async def initiate_form(ctx: RequestContext, req: third_pb2.InitiateFormDataReq) -> Any:
    _check_name(ctx, req.name)
    if req.size <= 0:
        raise ArgsError(detail="size must be greater than 0")
    if req.size > _max_file(ctx.core):
        raise ArgsError(detail=f"file too large: {req.size} > {_max_file(ctx.core)} bytes")
    if (req.millisecond or req.absolute) and not ctx.is_admin:
        raise NoPermissionError(detail="only admin can set millisecond/absolute")
    expire = now_ms() + (req.millisecond if req.millisecond > 0 else URL_EXPIRE_MS)
    up = Upload(os.urandom(16).hex(), "", req.size, req.size, 1, req.name, req.contentType, ctx.user_id, expire,
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
    up = _uploads(ctx.core).get(req.id)
    if up is None or not up.form:
        raise NotFoundError(1004, detail=f"form upload {req.id} not found")
    if up.user_id != ctx.user_id and not ctx.is_admin:
        raise NoPermissionError(detail="not your upload")
    p = files_dir(ctx.core) / "uploads" / f"form-{up.upload_id}"
    if not p.exists():
        raise OpenIMError(1004, detail="file not uploaded")
    size = p.stat().st_size
    if size != up.size:
        raise OpenIMError(90007, detail=f"file size mismatch: {size} != {up.size}")
    digest = hashlib.md5(p.read_bytes()).hexdigest()
    key = hashlib.md5(digest.encode()).hexdigest()  # OpenIM hash of a one-part file
    p.replace(files_dir(ctx.core) / "blobs" / key)
    _uploads(ctx.core).pop(up.upload_id, None)
    await _put_object(ctx.core, up.name, key, size, up.content_type, up.group)
    return third_pb2.CompleteFormDataResp(url=base_url(ctx, req.urlPrefix) + "object/" + _quote(up.name))


# --------------------------------------------------------------------------- raw HTTP handlers


def _text(status: int, text: str) -> Any:
    from starlette.responses import Response

    from ..rest import CORS_HEADERS

    return Response(text.encode(), status_code=status, headers=CORS_HEADERS, media_type="text/plain")


async def _read_limited(request: Any, limit: int) -> bytes | None:
    chunks, got = [], 0
    async for chunk in request.stream():
        got += len(chunk)
        if got > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@register_raw
async def _raw_files(core: ServerCore, request: Any) -> Any:
    from starlette.responses import FileResponse, RedirectResponse, Response

    from ..rest import CORS_HEADERS

    path, method = request.url.path, request.method
    if method == "PUT" and path.startswith("/_upload/"):
        bits = path.split("/")
        if len(bits) != 4 or not bits[3].isdigit():
            return _text(404, "not found")
        err = _check_signature(core, path, request.query_params)
        if err:
            return _text(403, err)
        up = _uploads(core).get(bits[2])
        n = int(bits[3])
        if up is None or up.form or not 1 <= n <= up.parts:
            return _text(404, "upload not found")
        expected = up.part_size if n < up.parts else up.size - up.part_size * (up.parts - 1)
        data = await _read_limited(request, expected)
        if data is None:
            return _text(413, f"part {n} larger than {expected} bytes")
        pdir = files_dir(core) / "uploads" / up.upload_id
        pdir.mkdir(parents=True, exist_ok=True)
        tmp = pdir / f".{n}.tmp"
        tmp.write_bytes(data)
        tmp.replace(pdir / str(n))
        up.done.add(n)
        return Response(b"", status_code=200, headers={**CORS_HEADERS, "ETag": f'"{hashlib.md5(data).hexdigest()}"'})
    if method == "POST" and path.startswith("/_form/"):
        err = _check_signature(core, path, request.query_params)
        if err:
            return _text(403, err)
        up = _uploads(core).get(path.rsplit("/", 1)[1])
        if up is None or not up.form:
            return _text(404, "upload not found")
        body = await _read_limited(request, up.size + 64 * 1024)
        if body is None:
            return _text(413, f"file larger than {up.size} bytes")
        content = _form_file(request.headers.get("content-type", ""), body)
        if content is None:
            return _text(400, f"multipart form without a '{FORM_FILE_FIELD}' field")
        (files_dir(core) / "uploads" / f"form-{up.upload_id}").write_bytes(content)
        return Response(b"", status_code=204, headers=CORS_HEADERS)
    if method in ("GET", "HEAD") and path.startswith("/object/"):
        name = urllib.parse.unquote(path[len("/object/"):])
        if not name:
            return _text(400, "name is empty")
        if await _object(core, name) is None:
            return _text(404, "object not found")
        url, _ = _access(core, base_url(core), name)
        return RedirectResponse(url, status_code=302, headers=CORS_HEADERS)
    if method in ("GET", "HEAD") and path.startswith("/_files/"):
        err = _check_signature(core, path, request.query_params)
        if err:
            return _text(403, err)
        name = urllib.parse.unquote(path[len("/_files/"):])
        obj = await _object(core, name)
        blob = files_dir(core) / "blobs" / obj[0] if obj else None
        if obj is None or blob is None or not blob.exists():
            return _text(404, "object not found")
        return FileResponse(blob, media_type=obj[2] or "application/octet-stream", headers=CORS_HEADERS,
                            filename=None)
    if method == "GET" and path == "/third/prometheus":
        return RedirectResponse(str(option(core, "grafana_url", "http://127.0.0.1:13000")), status_code=302,
                                headers=CORS_HEADERS)
    return None


def _form_file(content_type: str, body: bytes) -> bytes | None:
    if "multipart/form-data" not in content_type:
        return None
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    for part in msg.iter_parts():
        if part.get_param("name", header="content-disposition") == FORM_FILE_FIELD:
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else b""
    return None


# --------------------------------------------------------------------------- logs, FCM, badge


_PLATFORMS = {1: "IOS", 2: "Android", 3: "Windows", 4: "OSX", 5: "Web", 6: "MiniWebApp", 7: "Linux",
              8: "AndroidPad", 9: "IPad", 10: "Admin", 11: "HarmonyOS"}


@service("/third/logs/upload")
async def upload_logs(ctx: RequestContext, req: third_pb2.UploadLogsReq) -> Any:
    need(len(req.fileURLs) > 0, "fileURLs is empty")
    rows = [(os.urandom(10).hex(), ctx.user_id, _PLATFORMS.get(req.platform, str(req.platform)), f.URL, f.filename,
             req.appFramework, req.appFramework, req.version, req.ex, now_ms()) for f in req.fileURLs]
    await ctx.core.storage.run(lambda c: c.executemany(
        "INSERT INTO client_logs VALUES (?,?,?,?,?,?,?,?,?,?)", rows))
    return third_pb2.UploadLogsResp()


@service("/third/logs/delete")
async def delete_logs(ctx: RequestContext, req: third_pb2.DeleteLogsReq) -> Any:
    ids = list(dict.fromkeys(req.logIDs))
    need(ids, "logIDs is empty")

    def op(conn: Any) -> None:
        found = [r[0] for r in conn.execute(f"SELECT log_id FROM client_logs WHERE log_id IN ({rs.in_clause(ids)})",
                                            ids)]
        if len(found) != len(ids):
            raise NotFoundError(1004, detail=f"logIDs not found: {','.join(set(ids) - set(found))}")
        conn.execute(f"DELETE FROM client_logs WHERE log_id IN ({rs.in_clause(ids)})", ids)

    await ctx.core.storage.run(op)
    return third_pb2.DeleteLogsResp()


@service("/third/logs/search", check_pagination)
async def search_logs(ctx: RequestContext, req: third_pb2.SearchLogsReq) -> Any:
    off, lim = page_bounds(req.pagination)
    where, params = "1=1", list[Any]()
    if req.keyword:
        where += " AND (user_id LIKE ? OR filename LIKE ? OR version LIKE ?)"
        params += [f"%{req.keyword}%"] * 3
    if req.startTime:
        where += " AND create_time >= ?"
        params.append(req.startTime)
    if req.endTime:
        where += " AND create_time <= ?"
        params.append(req.endTime)

    def op(conn: Any) -> tuple[int, list[third_pb2.LogInfo]]:
        total = conn.execute(f"SELECT COUNT(*) FROM client_logs WHERE {where}", params).fetchone()[0]
        rows = conn.execute(f"SELECT log_id, user_id, platform, url, filename, system_type, version, ex, create_time "
                            f"FROM client_logs WHERE {where} ORDER BY create_time DESC LIMIT ? OFFSET ?",
                            (*params, lim, off)).fetchall()
        us = rs.users(conn, [r[1] for r in rows])
        return total, [third_pb2.LogInfo(logID=r[0], userID=r[1], platform=r[2], url=r[3], filename=r[4],
                                         systemType=r[5], version=r[6], ex=r[7], createTime=r[8],
                                         nickname=us[r[1]].nickname if r[1] in us else "") for r in rows]

    total, logs = await ctx.core.storage.run(op)
    return third_pb2.SearchLogsResp(logsInfos=logs, total=total)


def _v_fcm(req: Any) -> None:
    need(is_valid_platform(req.platformID), "platformID is invalidate")
    need(req.fcmToken, "FcmToken is empty")
    need(req.account, "account is empty")


@service("/third/fcm_update_token", _v_fcm)
async def fcm_update_token(ctx: RequestContext, req: third_pb2.FcmUpdateTokenReq) -> Any:
    await ctx.core.storage.run(lambda c: c.execute("INSERT OR REPLACE INTO third_kv VALUES (?,?,?)",
                                                   (req.account, f"fcm:{req.platformID}", req.fcmToken)))
    return third_pb2.FcmUpdateTokenResp()


@service("/third/set_app_badge", lambda r: need(r.userID, "UserID is empty"))
async def set_app_badge(ctx: RequestContext, req: third_pb2.SetAppBadgeReq) -> Any:
    ctx.check_access(req.userID)
    await ctx.core.storage.run(lambda c: c.execute("INSERT OR REPLACE INTO third_kv VALUES (?,?,?)",
                                                   (req.userID, "badge", str(req.appUnreadCount))))
    return third_pb2.SetAppBadgeResp()


_ = time
