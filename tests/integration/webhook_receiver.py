"""A real HTTP webhook receiver for the tests: ``http.server`` in a thread on a free loopback port.

It records every POST (path, query, headers, JSON body) and answers with the reply set for the
callbackCommand (a dict, or a function of the body), by default "go on"."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GO_ON = {"actionCode": 0, "errCode": 0, "errMsg": "", "errDlt": "", "nextCode": 0}


@dataclass
class Call:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def command(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class Receiver:
    def __init__(self) -> None:
        self.calls: list[Call] = []  # in arrival order, answered or not yet
        self.replies: dict[str, dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                call = Call(parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()},
                            {k.lower(): v for k, v in self.headers.items()}, json.loads(raw))
                with receiver._cond:  # recorded on arrival, so calls keep the order they were made in
                    receiver.calls.append(call)
                    receiver._cond.notify_all()
                reply = receiver.replies.get(call.command, GO_ON)
                if callable(reply):
                    reply = reply(call.body)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # a caller that gave up (timeout, shutdown) leaves a broken pipe behind: not an error here
        self.httpd.handle_error = lambda request, client_address: None  # type: ignore[method-assign]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/callbackExample"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def of(self, command: str) -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.command == command]

    async def wait_for_request(self, command: str, timeout: float = 10) -> None:
        """Until a call of ``command`` arrived (its answer may still be pending)."""
        def wait() -> None:
            with self._cond:
                if not self._cond.wait_for(lambda: bool(self.of(command)), timeout):
                    raise AssertionError(f"{command} never arrived")

        await asyncio.to_thread(wait)

    async def wait_for(self, command: str, count: int = 1, timeout: float = 10) -> list[Call]:
        """The first ``count`` calls of ``command``, waiting (on a condition, no polling) for them."""
        def wait() -> list[Call]:
            with self._cond:
                if not self._cond.wait_for(lambda: len(self.of(command)) >= count, timeout):
                    raise AssertionError(f"{command}: saw {[c.command for c in self.calls]}")
                return self.of(command)[:count]

        return await asyncio.to_thread(wait)
