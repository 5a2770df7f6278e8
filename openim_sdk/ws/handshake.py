"""Dialling the msg-gateway: the handshake URL, the connect, and the server's answer (spec
ws-protocol §1). Pure functions and one coroutine; the connection loop
(:class:`~openim_sdk.ws.connection.LongConnection`) owns when to dial."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.http11 import Response

from openim_sdk.protocol.errors import InvalidResponseError, NetworkError, OpenIMError, error_for_code

log = logging.getLogger("openim_sdk.ws")


@dataclass(frozen=True, slots=True)
class DialOptions:
    """What a dial needs besides the URL (the connection's settings)."""

    connect_timeout: float
    max_frame: int
    sdk_version: str
    is_msg_resp: bool
    proxy: str | None = None


def handshake_url(ws_url: str, *, user_id: str, token: str, platform_id: int, operation_id: str,
                  is_background: bool, compress: bool, json_encoding: bool, is_msg_resp: bool,
                  sdk_version: str) -> str:
    """The handshake URL with OpenIM's query parameters (sendID, token, platformID, ...)."""
    params: dict[str, str] = {
        "sendID": user_id,
        "token": token,
        "platformID": str(platform_id),
        "operationID": operation_id,
        "isBackground": "true" if is_background else "false",
    }
    if compress:
        params["compression"] = "gzip"
    if json_encoding:
        params["sdkType"] = "js"
    if is_msg_resp:
        params["isMsgResp"] = "true"
    params["sdkVersion"] = sdk_version
    sep = "&" if "?" in ws_url else "?"
    return ws_url + sep + urlencode(params)


def refusal(response: Response, opid: str) -> OpenIMError:
    """The OpenIMError for a non-101 handshake reply (normally HTTP 200 + JSON)."""
    body = bytes(response.body or b"")
    try:
        doc = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("errCode"), int) and doc["errCode"] != 0:
        return error_for_code(doc["errCode"], str(doc.get("errMsg") or ""), str(doc.get("errDlt") or ""), opid)
    return InvalidResponseError(message="handshake refused", detail=f"HTTP {response.status_code}: {body[:200]!r}",
                                operation_id=opid)


def handshake_result(text: str, opid: str) -> OpenIMError | None:
    """The error in an ``isMsgResp`` result frame, None when it says success."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if not isinstance(doc, dict) or not isinstance(doc.get("errCode"), int):
        return InvalidResponseError(message="bad handshake result frame", detail=text[:200], operation_id=opid)
    if doc["errCode"] == 0:
        return None
    return error_for_code(doc["errCode"], str(doc.get("errMsg") or ""), str(doc.get("errDlt") or ""), opid)


async def dial(url: str, opid: str, opts: DialOptions) -> tuple[ClientConnection, bytes | None]:
    """Connect and read the handshake result; returns the connection and an early binary frame,
    if one came before the result. Raises the server's refusal or a NetworkError."""
    try:
        ws = await connect(url, open_timeout=opts.connect_timeout, ping_interval=None, compression=None,
                           max_size=opts.max_frame, close_timeout=2.0, proxy=opts.proxy,
                           user_agent_header=opts.sdk_version)
    except InvalidStatus as e:
        raise refusal(e.response, opid) from None
    except Exception as e:  # OSError, timeouts, InvalidHandshake, or anything else from the library
        if not isinstance(e, OSError | TimeoutError | InvalidHandshake):
            log.debug("unexpected connect failure", exc_info=e)
        raise NetworkError(message="connect failed", detail=f"{type(e).__name__}: {e}", operation_id=opid) from None
    if not opts.is_msg_resp:
        return ws, None
    try:
        first = await asyncio.wait_for(ws.recv(), timeout=opts.connect_timeout)
    except (TimeoutError, ConnectionClosed) as e:
        await ws.close()
        raise NetworkError(message="handshake failed", detail=f"no handshake result frame: {type(e).__name__}",
                           operation_id=opid) from None
    if isinstance(first, bytes):
        log.warning("server sent no isMsgResp result frame", extra={"operationID": opid})
        return ws, first
    err = handshake_result(first, opid)
    if err is not None:
        await ws.close()
        raise err
    return ws, None
