#!/usr/bin/env python3
"""Webhook bot: a small HTTP receiver for the OpenIM server's webhooks (callbacks).

No long connection and no cache: the server calls this bot over HTTP, and the bot answers.

* ``before`` callbacks (``callbackBeforeSendSingleMsgCommand``, ``callbackBeforeSendGroupMsgCommand``)
  ask whether a message may be sent: the bot refuses one containing a ``--banned`` word. The sender
  gets the refusal as a send error with the bot's ``errCode`` (``--refuse-code``, default 5001)
  and ``errMsg``; nobody receives the message.
* ``callbackAfterSendSingleMsgCommand`` says a message was stored: when it was sent to ``--user``
  (the bot's own user ID) the bot answers the sender over REST (``/msg/send_msg`` with an admin
  token, as ``--user``), with ``--reply`` (``{nickname}`` and ``{text}`` are filled in).

Point the server at it in its TOML file (``openim server --config server.toml``)::

    [webhooks]
    url = "http://127.0.0.1:10006/callbackExample"

    [webhooks.beforeSendSingleMsg]
    enable = true
    failedContinue = false   # bot down: refuse messages rather than let them through unchecked

    [webhooks.beforeSendGroupMsg]
    enable = true

    [webhooks.afterSendSingleMsg]
    enable = true

and run ``python examples/webhook_bot.py --user helpdesk --banned crypto``. The server does not sign
its calls: keep the receiver on a private address (the default is loopback). The REST replies use
the admin secret ``OPENIM_SECRET`` (default ``openIM123``) against ``--api``/``OPENIM_API``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import threading
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from openim_sdk import ContentType, OpenIMError, RegisteredAlreadyError, RestClient, SessionType

GO_ON = {"actionCode": 0, "errCode": 0, "errMsg": "", "errDlt": "", "nextCode": 0}
BEFORE_SEND = {"callbackBeforeSendSingleMsgCommand", "callbackBeforeSendGroupMsgCommand"}
AFTER_SINGLE = "callbackAfterSendSingleMsgCommand"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", default=os.environ.get("WEBHOOK_LISTEN", "127.0.0.1:10006"),
                   help="host:port to receive the callbacks on (default 127.0.0.1:10006)")
    p.add_argument("--api", default=os.environ.get("OPENIM_API", "http://127.0.0.1:10002"), help="REST API URL")
    p.add_argument("--user", default=os.environ.get("OPENIM_USER", "helpdesk"),
                   help="the bot's user ID: messages sent to it get --reply")
    p.add_argument("--register", action="store_true", help="register --user first if the server lacks it")
    p.add_argument("--reply", default="Thanks {nickname}, we got your message: {text}",
                   help="the answer to a message sent to --user ({nickname}, {text})")
    p.add_argument("--banned", action="append", default=[], help="refuse messages with this word (repeatable)")
    p.add_argument("--refuse-code", type=int, default=5001, help="errCode of a refusal (default 5001)")
    return p.parse_args()


def text_of(body: dict[str, Any]) -> str | None:
    """The text of a callback's message (``content`` is the content element as a JSON string)."""
    if body.get("contentType") not in (ContentType.TEXT, ContentType.AT_TEXT, ContentType.QUOTE):
        return None
    try:
        content = json.loads(body.get("content") or "{}")
    except ValueError:
        return None
    return str(content.get("content") or content.get("text") or "") if isinstance(content, dict) else None


class WebhookBot:
    """The decisions. ``handle`` runs in the HTTP server's threads and must answer quickly: a
    ``before`` callback holds up the sender (the server waits up to its ``timeout``)."""

    def __init__(self, args: argparse.Namespace, api: RestClient, loop: asyncio.AbstractEventLoop) -> None:
        self.args, self.api, self.loop = args, api, loop

    def handle(self, command: str, body: dict[str, Any]) -> dict[str, Any]:
        text = text_of(body)
        if command in BEFORE_SEND and text is not None:
            word = next((w for w in self.args.banned if w.casefold() in text.casefold()), None)
            if word is not None:
                print(f"refused a message from {body.get('sendID')}: {word!r}", flush=True)
                # actionCode 0 + nextCode 1 = refuse; the sender gets errCode/errMsg (errDlt on REST only)
                return {"actionCode": 0, "nextCode": 1, "errCode": self.args.refuse_code,
                        "errMsg": f"{word!r} is not allowed here", "errDlt": "webhook_bot banned words"}
        elif (command == AFTER_SINGLE and text is not None and body.get("recvID") == self.args.user
                and body.get("sendID") != self.args.user):
            # An "after" callback changes nothing on the server: answer at once, reply in the background.
            reply = self.args.reply.format(nickname=body.get("senderNickname") or body["sendID"], text=text)
            future = asyncio.run_coroutine_threadsafe(self.send(body["sendID"], reply), self.loop)
            future.add_done_callback(self._report)
        return GO_ON

    async def send(self, to: str, text: str) -> None:
        """Send ``text`` to ``to`` as the bot, over REST with the admin token."""
        await self.api.msg.send_msg(body={
            "sendID": self.args.user, "recvID": to, "senderPlatformID": 5, "senderNickname": self.args.user,
            "contentType": ContentType.TEXT, "sessionType": SessionType.SINGLE_CHAT, "content": {"content": text},
        })
        print(f"replied to {to}", flush=True)

    @staticmethod
    def _report(future: Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            print(f"reply failed: {future.exception()}", flush=True)


def make_server(listen: str, bot: WebhookBot) -> ThreadingHTTPServer:
    host, _, port = listen.rpartition(":")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            except ValueError:
                self.send_error(400, "not JSON")
                return
            # the URL is <webhooks.url>/<callbackCommand>; the body carries the command as well
            command = str(body.get("callbackCommand") or self.path.split("?")[0].rsplit("/", 1)[-1])
            data = json.dumps(bot.handle(command, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per callback would drown the bot's own output

    return ThreadingHTTPServer((host or "127.0.0.1", int(port)), Handler)


async def run(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    api = await RestClient.admin(args.api, secret=os.environ.get("OPENIM_SECRET", "openIM123"))
    async with api:
        if args.register:
            with contextlib.suppress(RegisteredAlreadyError):
                await api.user.user_register(users=[{"userID": args.user, "nickname": args.user}])
        httpd = make_server(args.listen, WebhookBot(args, api, asyncio.get_running_loop()))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        host, port = args.listen.rpartition(":")[0] or "127.0.0.1", httpd.server_address[1]
        print(f"ready: webhooks at http://{host}:{port}/callbackExample", flush=True)
        await stop.wait()
        await asyncio.to_thread(httpd.shutdown)
        httpd.server_close()


def main() -> int:
    args = parse_args()
    try:
        asyncio.run(run(args))
    except OpenIMError as err:
        print(f"error: {err}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
