#!/usr/bin/env python3
"""Echo bot: replies to every text message sent to it in a one-to-one chat with the same text.

The smallest useful OpenIM bot: log in, listen to the session's events, answer.

    python examples/echo_bot.py --user echo --register

Server and credentials come from the command line or the environment (the ``openim`` CLI's
variables): ``--api``/``OPENIM_API`` (default http://127.0.0.1:10002), ``--ws``/``OPENIM_WS``
(default ws://127.0.0.1:10001), and either ``--token``/``OPENIM_TOKEN`` (a user token your app
server minted) or the admin secret ``OPENIM_SECRET`` (default ``openIM123``, the bundled server's)
to mint one. Stop it with Ctrl+C (or SIGTERM): it closes the session cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal

from openim_sdk import (
    ContentType,
    MessageReceived,
    OpenIMClient,
    OpenIMError,
    RegisteredAlreadyError,
    RestClient,
    SessionEnded,
    SessionType,
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default=os.environ.get("OPENIM_API", "http://127.0.0.1:10002"), help="REST API URL")
    p.add_argument("--ws", default=os.environ.get("OPENIM_WS", "ws://127.0.0.1:10001"), help="WebSocket URL")
    p.add_argument("--user", default=os.environ.get("OPENIM_USER", "echo"), help="the bot's user ID")
    p.add_argument("--token", default=os.environ.get("OPENIM_TOKEN"), help="a token for --user (else minted)")
    p.add_argument("--register", action="store_true", help="register --user first if the server lacks it")
    p.add_argument("--data-dir", default=None,
                   help="the bot's cache (default ./<user>-data): keep it, and each message is answered once")
    p.add_argument("--ignore-backlog", action="store_true",
                   help="answer only messages that arrive while running, not those sent while it was away")
    return p.parse_args()


async def get_token(args: argparse.Namespace) -> str:
    """The bot's token: --token as given, or minted with the admin secret (OPENIM_SECRET)."""
    if args.token:
        return str(args.token)
    admin = await RestClient.admin(args.api, secret=os.environ.get("OPENIM_SECRET", "openIM123"))
    async with admin:
        if args.register:
            with contextlib.suppress(RegisteredAlreadyError):
                await admin.user.user_register(users=[{"userID": args.user, "nickname": "Echo bot"}])
        return await admin.mint_user_token(args.user)


async def run(args: argparse.Namespace) -> int:
    """Run until Ctrl+C (0) or until the server ends the session (1: kicked, token expired)."""
    token = await get_token(args)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    data_dir = args.data_dir or f"./{args.user}-data"
    async with OpenIMClient(args.api, args.ws, args.user, token, data_dir=data_dir) as client:
        events = client.events()  # subscribed now: nothing delivered by the first sync is missed
        ended: list[SessionEnded] = []

        async def answer() -> None:
            # One event at a time, so the replies keep the order of the messages. (An async
            # ``@client.on(MessageReceived)`` callback would also work, but its calls run
            # concurrently: see file_drop_bot.py.)
            async for event in events:
                if isinstance(event, SessionEnded):  # kicked, or the token expired: the last event
                    ended.append(event)
                    return
                if not isinstance(event, MessageReceived) or event.is_self:
                    continue  # other events; our own messages (from this or another device)
                msg = event.message
                if msg.session_type != SessionType.SINGLE_CHAT or msg.content_type != ContentType.TEXT:
                    continue  # groups; pictures, files, notifications...
                if event.offline and args.ignore_backlog:
                    continue
                text = msg.full_text  # the whole text (msg.text is a one-line preview)
                # Queued in the cache and sent when connected; returns at once.
                try:
                    await client.send_text(msg.send_id, text)
                except OpenIMError as err:  # e.g. the sender was deleted meanwhile: log it, go on
                    print(f"cannot answer {msg.send_id}: {err}", flush=True)
                    continue
                print(f"echoed {len(text)} chars to {msg.send_id}", flush=True)

        task = asyncio.create_task(answer())
        task.add_done_callback(lambda _: stop.set())  # should the loop crash, stop (loudly, below)
        # wait_synced() raises instead should the session end first (a refused token)
        synced = asyncio.create_task(client.wait_synced())
        await asyncio.wait({synced, task}, return_when=asyncio.FIRST_COMPLETED)
        if synced.done() and not synced.exception():
            print(f"ready: {args.user} on {args.api}", flush=True)
        synced.cancel()
        await stop.wait()
        if task.done():
            task.result()  # re-raises whatever ended the loop
        task.cancel()
        if ended:
            print(f"the session ended: {ended[0].reason} {ended[0].error or ''}".rstrip(), flush=True)
            return 1
        await client.flush(timeout=10)  # let the last replies go out before closing
    return 0


def main() -> int:
    args = parse_args()
    try:
        return asyncio.run(run(args))
    except OpenIMError as err:  # e.g. a bad secret or token at start-up
        print(f"error: {err}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
