"""HTTP side of the webhooks, as upstream's ``pkg/common/webhook/http_client.go``:

- the URL is ``<url>/<callbackCommand>`` (``AsyncPostWithQuery`` adds a query, e.g. ``?key=...``);
- header ``operationID``, JSON body, per-callback ``timeout`` in seconds;
- a reply is ``CommonCallbackResp`` (``pkg/callbackstruct/common.go``): ``actionCode == 0`` with
  ``nextCode == 1`` refuses, the caller gets ``errCode``/``errMsg``/``errDlt`` as the error;
- a network failure is 90004 NetworkError, a reply that is not JSON 90007 DataError; a
  before-callback with ``failedContinue`` goes on as if the callback had answered "continue"
  (v3.5 ``pkg/common/http/http_client.go`` semantics; v3.8 still declares the key);
- after-callbacks go through a bounded queue with two workers (``memamq``, 2 workers, 100 slots).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx

from openim_sdk.protocol.errors import OpenIMError

from .config import CallbackConfig

log = logging.getLogger("server_stub.webhooks")

NETWORK_ERROR = 90004
DATA_ERROR = 90007
NEXT = 1
WORKERS = 2
QUEUE_SIZE = 100


class WebhookRefused(OpenIMError):
    """A before-callback said no; ``code``/``message``/``detail`` are the receiver's."""


class WebhookClient:
    def __init__(self, url: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self._http = httpx.AsyncClient(transport=transport)
        self._queue: asyncio.Queue[Callable[[], Any]] | None = None
        self._workers: list[asyncio.Task[None]] = []

    async def close(self) -> None:
        for w in self._workers:
            w.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        await self._http.aclose()

    # -- synchronous (before) ---------------------------------------------------------------

    async def sync_post(self, command: str, body: dict[str, Any], cfg: CallbackConfig,
                        operation_id: str = "") -> dict[str, Any] | None:
        """POST and parse; the receiver's reply (None when a failure was let through by
        ``failedContinue``). Raises the refusal, or the failure when ``failedContinue`` is false."""
        try:
            return await self._post(command, body, cfg.timeout, operation_id)
        except WebhookRefused:
            raise
        except OpenIMError as err:
            if cfg.failed_continue:
                log.warning("webhook %s failed, continuing (failedContinue): %s", command, err,
                            extra={"operationID": operation_id})
                return None
            raise

    # -- asynchronous (after) ---------------------------------------------------------------

    def async_post(self, command: str, body: dict[str, Any], cfg: CallbackConfig, operation_id: str = "",
                   query: dict[str, str] | None = None) -> None:
        if not cfg.enable:
            return
        queue = self._ensure_workers()

        async def job() -> None:
            try:
                await self._post(command, body, cfg.timeout, operation_id, query)
            except OpenIMError as err:
                log.warning("webhook %s: %s", command, err, extra={"operationID": operation_id})

        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            log.warning("webhook queue full, dropping %s", command, extra={"operationID": operation_id})

    async def drain(self) -> None:
        """Wait until every queued after-callback was posted (tests, shutdown)."""
        if self._queue is not None:
            await self._queue.join()

    def _ensure_workers(self) -> asyncio.Queue[Callable[[], Any]]:
        if self._queue is None:
            self._queue = asyncio.Queue(QUEUE_SIZE)
            self._workers = [asyncio.create_task(self._worker(self._queue)) for _ in range(WORKERS)]
        return self._queue

    @staticmethod
    async def _worker(queue: asyncio.Queue[Callable[[], Any]]) -> None:
        while True:
            job = await queue.get()
            try:
                await job()
            except Exception:  # noqa: BLE001 - a worker never dies
                log.exception("webhook job failed")
            finally:
                queue.task_done()

    # -- the one POST ------------------------------------------------------------------------

    async def _post(self, command: str, body: dict[str, Any], timeout: float, operation_id: str,
                    query: dict[str, str] | None = None) -> dict[str, Any]:
        full = f"{self.url}/{command}"
        try:
            r = await self._http.post(full, params=query, json=body, timeout=timeout,
                                      headers={"operationID": operation_id})
            r.raise_for_status()
        except httpx.HTTPError as exc:
            raise OpenIMError(NETWORK_ERROR, "NetworkError", detail=f"{exc} post url {full}") from None
        try:
            reply = json.loads(r.content)
            if not isinstance(reply, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise OpenIMError(DATA_ERROR, "DataError", detail=f"{exc} response format error") from None
        if _int(reply.get("actionCode")) == 0 and _int(reply.get("nextCode")) == NEXT:
            raise WebhookRefused(_int(reply.get("errCode")), str(reply.get("errMsg") or ""),
                                 detail=str(reply.get("errDlt") or ""))
        log.info("webhook %s ok", command, extra={"operationID": operation_id})
        return reply


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0
