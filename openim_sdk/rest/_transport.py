"""The one call path of the REST client: headers, Go-style JSON, envelope, errors, retries."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from google.protobuf.message import Message

from ..protocol import jsoncodec
from ..protocol.errors import (
    CodecError,
    InvalidResponseError,
    NetworkError,
    RateLimitedError,
    RequestTimeoutError,
    ServerInternalError,
    error_for_code,
)
from ..protocol.routes import Route

if TYPE_CHECKING:  # httpx loads on the first REST call: ~20 ms a session that never calls REST skips
    import httpx

log = logging.getLogger(__name__)

#: Route-name prefixes that only read, so a call may be repeated safely.
_SAFE_PREFIXES = ("get_", "search", "is_", "check", "pull", "newest_seq", "account_check", "parse_token",
                  "part_limit", "part_size", "access_url")


def new_operation_id() -> str:
    """A unique operationID: milliseconds plus random hex, like the official SDKs."""
    return f"{int(time.time() * 1000)}{secrets.token_hex(4)}"


def is_safe_to_retry(route: Route) -> bool:
    """Reads only: GET routes, statistics, and routes whose name says they read."""
    if route.is_get or route.module in ("discovery", "statistics"):
        return True
    return route.name.startswith(_SAFE_PREFIXES)


def _plain(value: Any) -> Any:
    """Messages given as arguments become their Go-style JSON form."""
    if isinstance(value, Message):
        return jsoncodec.to_go_dict(value)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Transport:
    """Owns the ``httpx.AsyncClient`` and turns a route + body into a decoded answer."""

    def __init__(
        self,
        api_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.2,
        http: httpx.AsyncClient | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.retries = retries
        self.backoff = backoff
        self._own_http = http is None
        self._http = http
        self._http_options = (timeout, dict(headers or {}))

    @property
    def http(self) -> httpx.AsyncClient:
        """The pooled HTTP client, made on first use: a session that never calls REST skips its
        set-up (an SSL context, ~50 ms) and the close of an unused one."""
        if self._http is None:
            import httpx

            timeout, headers = self._http_options
            self._http = httpx.AsyncClient(timeout=timeout, headers=headers)
        return self._http

    async def aclose(self) -> None:
        if self._own_http and self._http is not None:
            await self._http.aclose()

    # -- the call path ---------------------------------------------------------------

    async def call(
        self,
        route: Route,
        body: Mapping[str, Any] | Message | None = None,
        *,
        operation_id: str | None = None,
        token: str | None = None,
    ) -> Any:
        """POST ``body`` to ``route`` and return the decoded ``data``.

        ``data`` becomes the route's response message (a list of them for ``array`` routes,
        the raw JSON value for custom ones). A non-zero errCode raises the matching
        :class:`OpenIMError`; transport failures raise :class:`NetworkError` /
        :class:`RequestTimeoutError`; all carry the operationID.
        """
        op = operation_id or new_operation_id()
        payload = self._encode_body(route, body, op)
        headers = {"operationID": op, "Content-Type": "application/json"}
        tok = token if token is not None else self.token
        if tok:
            headers["token"] = tok
        attempts = 1 + (self.retries if is_safe_to_retry(route) else 0)
        for attempt in range(attempts):
            try:
                return await self._once(route, payload, headers, op)
            except (NetworkError, RateLimitedError, ServerInternalError) as exc:
                retryable = not isinstance(exc, ServerInternalError) or exc.code in (502, 503, 504)
                if attempt + 1 >= attempts or not retryable:
                    raise
                delay = self.backoff * (2**attempt) * (0.5 + random.random())
                if isinstance(exc, RateLimitedError) and getattr(exc, "retry_after", None):
                    delay = max(delay, float(exc.retry_after))  # type: ignore[attr-defined]
                log.info("retrying %s after %s [operationID=%s]", route.path, exc.name, op)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _encode_body(self, route: Route, body: Mapping[str, Any] | Message | None, op: str) -> bytes:
        if route.is_get:
            return b""
        if isinstance(body, Message):
            return jsoncodec.dumps(body)
        data = {k: _plain(v) for k, v in (body or {}).items()}
        if route.request is not None:
            try:
                return jsoncodec.dumps(jsoncodec.from_go_json(route.request, data))
            except CodecError as exc:
                exc.operation_id = op
                raise
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    async def _once(self, route: Route, payload: bytes, headers: dict[str, str], op: str) -> Any:
        url = self.api_url + route.path
        http = self.http
        import httpx  # loaded by ``self.http`` (or by the caller that handed its own client in)

        try:
            if route.is_get:
                resp = await http.get(url, params={"operationID": op})
            else:
                resp = await http.post(url, content=payload, headers=headers)
        except httpx.TimeoutException as exc:
            raise RequestTimeoutError(message=f"timed out calling {route.path}", detail=str(exc),
                                      operation_id=op) from exc
        except httpx.HTTPError as exc:
            raise NetworkError(message=f"cannot reach {url}", detail=f"{type(exc).__name__}: {exc}",
                               operation_id=op) from exc
        log.debug("%s -> HTTP %s [operationID=%s]", route.path, resp.status_code, op)
        return self._decode(route, resp, op)

    def _decode(self, route: Route, resp: httpx.Response, op: str) -> Any:
        status = resp.status_code
        if route.response_shape in ("redirect",):
            if status >= 400:
                raise error_for_code(500 if status >= 500 else 1004, "", resp.text[:200], op)
            return resp
        if status == 429:
            err = RateLimitedError(message="too many requests, please try again later", operation_id=op)
            err.retry_after = resp.headers.get("Retry-After")  # type: ignore[attr-defined]
            raise err
        if status >= 500 and not resp.content:
            raise ServerInternalError(status, f"HTTP {status}", "", op)
        try:
            env = resp.json()
        except ValueError:
            if status >= 500:
                raise ServerInternalError(status, f"HTTP {status}", resp.text[:200], op) from None
            raise InvalidResponseError(message=f"HTTP {status}: not a JSON answer from {route.path}",
                                       detail=resp.text[:200], operation_id=op) from None
        if route.response_shape == "raw_json" and isinstance(env, list):
            return env
        if not isinstance(env, dict) or not isinstance(env.get("errCode"), int):
            raise InvalidResponseError(message=f"HTTP {status}: malformed envelope from {route.path}",
                                       detail=str(env)[:200], operation_id=op)
        code = env["errCode"]
        if code != 0:
            raise error_for_code(code, str(env.get("errMsg") or ""), str(env.get("errDlt") or ""), op)
        if status != 200:
            raise ServerInternalError(status, f"HTTP {status}", str(env)[:200], op)
        data = env.get("data")
        return self._decode_data(route, data, op)

    def _decode_data(self, route: Route, data: Any, op: str) -> Any:
        cls = route.response
        if cls is None or route.response_shape in ("custom", "raw_json"):
            if cls is not None and isinstance(data, dict):
                return self._message(cls, data, op)
            return data
        if route.response_shape == "array":
            if data is None:
                return []
            if not isinstance(data, list):
                raise InvalidResponseError(message=f"expected a list from {route.path}", operation_id=op)
            return [self._message(cls, item, op) for item in data]
        return self._message(cls, data if data is not None else {}, op)

    @staticmethod
    def _message(cls: type[Message], data: Any, op: str) -> Message:
        try:
            return jsoncodec.from_go_json(cls, data)
        except CodecError as exc:
            raise InvalidResponseError(message=f"cannot decode {cls.DESCRIPTOR.full_name}",
                                       detail=exc.message, operation_id=op) from exc
