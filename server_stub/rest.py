"""The REST API (starlette): OpenIM's middleware order, envelope and route-table dispatch."""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from google.protobuf.message import DecodeError, Message
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.errors import ArgsError, CodecError, OpenIMError, ServerInternalError
from openim_sdk.protocol.routes import ROUTES_BY_PATH, Route

from .context import RawData, RequestContext, current_request
from .metrics import request_started

if TYPE_CHECKING:
    from .app import ServerCore

log = logging.getLogger("server_stub.rest")

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Expose-Headers": (
        "Content-Length, Access-Control-Allow-Origin, Access-Control-Allow-Headers, Cache-Control, "
        "Content-Language, Content-Type, Expires, Last-Modified, Pragma, FooBar"
    ),
    "Access-Control-Max-Age": "172800",
    "Access-Control-Allow-Credentials": "false",
}
TOKEN_WHITELIST = ("/auth/get_admin_token", "/auth/parse_token")
_PROTOBUF_TYPES = ("application/protobuf", "application/x-protobuf")
_OMIT = object()
#: Bodies larger than this are decoded on a small worker pool, not on the event loop, so one big
#: (allowed) body never delays other clients' REST calls and WebSocket frames.
OFFLOAD_BYTES = 256 * 1024
#: Two workers: big bodies wait for each other, never for (or instead of) anything else.
_DECODE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="openim-body")
T = TypeVar("T")


def envelope(code: int = 0, msg: str = "", dlt: str = "", data: Any = _OMIT) -> bytes:
    body: dict[str, Any] = {"errCode": code, "errMsg": msg, "errDlt": dlt}
    if data is not _OMIT:
        body["data"] = data
    return jsoncodec.dumps(body, escape_html=True)


def json_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, headers=CORS_HEADERS, media_type="application/json")


def error_response(err: OpenIMError, status: int = 200) -> Response:
    resp = json_response(envelope(err.code, err.message, err.detail), status)
    resp._openim_code = err.code  # type: ignore[attr-defined]  # for the log line and the metrics
    return resp


def body_too_large(limit: int) -> Response:
    """HTTP 413 with OpenIM's envelope, sent at once. The rest of the body is never buffered: uvicorn
    discards it as it arrives. (Closing the connection instead would reset it while the client is
    still sending, and a client that reads only after sending, like httpx, would lose the 413.)"""
    resp = json_response(envelope(1001, "ArgsError", f"request body larger than {limit} bytes (max_body_bytes)"),
                         413)
    resp._openim_code = 1001  # type: ignore[attr-defined]
    return resp


class _BodyTooLarge(Exception):
    pass


def declared_too_large(request: Request, limit: int) -> bool:
    declared = request.headers.get("content-length", "").strip()
    return declared.isdigit() and int(declared) > limit


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (:class:`_BodyTooLarge`) as soon as it is known to exceed ``limit``.

    A declared Content-Length is checked before anything is read; a chunked body is counted while
    it streams in, so at most ``limit`` bytes (plus one chunk) are ever held.
    """
    if declared_too_large(request, limit):
        raise _BodyTooLarge
    buf = bytearray()
    async for chunk in request.stream():
        if len(buf) + len(chunk) > limit:
            raise _BodyTooLarge
        buf += chunk
    return bytes(buf)


async def _decode(body: bytes, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, on the decode pool when ``body`` is big."""
    if len(body) <= OFFLOAD_BYTES:
        return fn(*args)
    return await asyncio.get_running_loop().run_in_executor(_DECODE_POOL, functools.partial(fn, *args))


class BodilessSafeGZip:
    """Starlette's GZip (every non-empty response, like gin's gzip middleware), except HEAD requests
    and responses without a body (204, 304, empty): gzip would give them a 20-byte body and a
    Content-Length that HTTP forbids there (h11 then breaks the connection)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # an empty body (< 1 byte) is sent as it is; level 1 (BestSpeed): a 1,000-message pull page
        # compresses in ~1 ms instead of ~30 ms at Starlette's default 9, for ~7 % more bytes
        self.gzip = GZipMiddleware(app, minimum_size=1, compresslevel=1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "HEAD":
            await self.app(scope, receive, send)
        else:
            await self.gzip(scope, receive, send)


def not_found() -> Response:
    return Response(b"404 page not found", status_code=404, headers=CORS_HEADERS, media_type="text/plain")


def _has_fields(msg: Message) -> bool:
    return bool(msg.DESCRIPTOR.fields)


def render_data(result: Any, route: Route, as_protobuf: bool) -> Any:
    """The value of ``data`` for a handler result, or ``_OMIT``."""
    if result is None:
        return _OMIT
    if isinstance(result, RawData):
        return result.value
    if isinstance(result, Message):
        if as_protobuf:
            return base64.b64encode(result.SerializeToString()).decode("ascii")
        if not _has_fields(result):
            return _OMIT
        return jsoncodec.to_go_dict(result)
    if isinstance(result, list):
        if not result:
            return None
        return [jsoncodec.to_go_dict(x) if isinstance(x, Message) else x for x in result]
    return result


class RestApi:
    def __init__(self, core: ServerCore) -> None:
        self.core = core

    def build(self) -> Starlette:
        return Starlette(
            routes=[StarletteRoute("/{path:path}", self.handle, methods=["GET", "POST", "PUT", "DELETE", "OPTIONS",
                                                                          "PATCH", "HEAD"])],
            middleware=[Middleware(BodilessSafeGZip)],
        )

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        request_started.set(started)  # push latency is timed from here (metrics.py)
        path = request.url.path
        op_id = request.headers.get("operationID", "")
        resp: Response
        user = ""
        try:
            resp, user = await self._dispatch(request, path, op_id)
        except Exception:  # a panic: HTTP 500, empty body
            log.exception("panic handling %s", path, extra={"operationID": op_id})
            resp = Response(b"", status_code=500, headers=CORS_HEADERS)
        self.core.metrics.rest_call(path, resp.status_code, getattr(resp, "_openim_code", None))
        log.info("%s %s -> %d %s user=%s %.1fms", request.method, path, resp.status_code,
                 getattr(resp, "_openim_code", ""), user, (time.perf_counter() - started) * 1000,
                 extra={"operationID": op_id})
        return resp

    async def _dispatch(self, request: Request, path: str, op_id: str) -> tuple[Response, str]:
        current_request.set(request)  # services read headers (X-Request-Api, Host) for URL prefixes
        for raw in self.core.registry.raw_handlers:  # file PUT/GET routes, redirects, discovery (registry.py)
            resp = await raw(self.core, request)
            if resp is not None:
                return resp, ""
        method = request.method
        limit = self.core.config.max_body_bytes
        if method == "POST" and declared_too_large(request, limit):
            return body_too_large(limit), ""  # before the token check: whitelisted routes too
        if method == "OPTIONS":
            return json_response(b'"Options Request!"'), ""
        route = ROUTES_BY_PATH.get(path)
        if method == "GET":
            if path.startswith("/object/") or path == "/third/prometheus":
                return Response(b"not implemented in the bundled server", status_code=404,
                                headers=CORS_HEADERS, media_type="text/plain"), ""
            return not_found(), ""
        if method != "POST":
            return not_found(), ""
        ctx = RequestContext(core=self.core, operation_id=op_id, query=dict(request.query_params))
        if not op_id:
            return error_response(ArgsError(detail="header must have operationID")), ""
        if not path.startswith(TOKEN_WHITELIST):
            token = request.headers.get("token", "")
            if not token:
                return error_response(ArgsError(detail="header must have token")), ""
            try:
                claims = await self.core.tokens.parse(token)
            except OpenIMError as err:
                return error_response(err), ""
            ctx.user_id, ctx.platform_id, ctx.token = claims.user_id, claims.platform_id, token
        if route is None or route.method != "POST":
            return not_found(), ctx.user_id
        try:
            body = await read_body(request, limit)
        except _BodyTooLarge:
            return body_too_large(limit), ctx.user_id
        except ClientDisconnect:
            return Response(b"", status_code=400, headers=CORS_HEADERS), ctx.user_id
        try:
            result, as_pb = await self._call(ctx, route, request, body)
        except _BindError as err:
            return json_response(envelope(1001, "ArgsError", err.detail), 400), ctx.user_id
        except OpenIMError as err:
            resp = error_response(err)
            resp._openim_code = err.code  # type: ignore[attr-defined]
            return resp, ctx.user_id
        data = render_data(result, route, as_pb)
        return json_response(envelope(data=data)), ctx.user_id

    async def _call(self, ctx: RequestContext, route: Route, request: Request, body: bytes) -> tuple[Any, bool]:
        svc = self.core.registry.get(route.path)
        as_pb = False
        req: Any = None
        if route.body_binding == "gin_bindjson":
            req = await _decode(body, _bind_json, body)
        elif route.request is not None and route.body_binding in ("a2r", "a2r_or_protobuf"):
            ctype = request.headers.get("content-type", "")
            if route.body_binding == "a2r_or_protobuf" and any(t in ctype for t in _PROTOBUF_TYPES):
                as_pb = True
                req = route.request()
                try:
                    await _decode(body, req.ParseFromString, body)
                except DecodeError as exc:
                    raise ArgsError(detail=f"proto: {exc}") from None
            elif route.body_binding == "a2r_or_protobuf" and ctype and "json" not in ctype:
                raise ArgsError(detail="unsupported content type")
            else:
                try:
                    req = await _decode(body, jsoncodec.from_go_json, route.request, body)
                except CodecError as exc:
                    text = exc.message or exc.detail
                    raise ArgsError(message=f"Error: {text}", detail="") from None
        if svc is None:
            raise ServerInternalError(detail=f"not implemented in the bundled server: {route.path}")
        if svc.validate is not None and route.body_binding != "a2r_or_protobuf":
            svc.validate(req)
        if route.access == "admin" and route.body_binding != "gin_bindjson":
            ctx.require_admin()
        return await svc.fn(ctx, req), as_pb


class _BindError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _bind_json(body: bytes) -> dict[str, Any]:
    try:
        value = jsoncodec.loads(body)
    except CodecError as exc:
        raise _BindError(exc.message or exc.detail) from None
    if not isinstance(value, dict):
        raise _BindError("json: cannot unmarshal non-object into Go value")
    return value


def bind_error(detail: str) -> _BindError:
    """For BindJSON-route handlers: HTTP 400 with the validator text."""
    return _BindError(detail)
