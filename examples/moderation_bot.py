#!/usr/bin/env python3
"""Moderation bot: mutes a group member who posts a banned keyword, and can revoke and explain.

Run it as a user who is the owner or an admin of the groups to watch (OpenIM lets only those mute
members and revoke their messages):

    python examples/moderation_bot.py --user mod --keyword spam --keyword "buy now" \
        --mute-minutes 10 --revoke --explain

For every group text (plain, @-mention or quote) that contains a keyword (case-insensitive), the
bot mutes the sender for ``--mute-minutes``; with ``--revoke`` it also revokes the message, with
``--explain`` it says in the group why. Owners and admins are left alone (the server would refuse
to mute them anyway). ``--group`` limits it to some groups.

Messages that arrived while the bot was away are checked too (they come as the session's
"offline" messages), unless they are older than the mute would last: muting now for an old
message would be pointless.

Server and credentials: ``--api``/``OPENIM_API``, ``--ws``/``OPENIM_WS``, ``--token``/``OPENIM_TOKEN``
or the admin secret ``OPENIM_SECRET`` (default ``openIM123``) to mint a token. Ctrl+C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time

from openim_sdk import (
    ContentType,
    Message,
    MessageReceived,
    OpenIMClient,
    OpenIMError,
    RestClient,
    SessionEnded,
    SessionType,
    explain,
)

TEXT_TYPES = (ContentType.TEXT, ContentType.AT_TEXT, ContentType.QUOTE)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default=os.environ.get("OPENIM_API", "http://127.0.0.1:10002"), help="REST API URL")
    p.add_argument("--ws", default=os.environ.get("OPENIM_WS", "ws://127.0.0.1:10001"), help="WebSocket URL")
    p.add_argument("--user", default=os.environ.get("OPENIM_USER", "moderator"), help="the bot's user ID")
    p.add_argument("--token", default=os.environ.get("OPENIM_TOKEN"), help="a token for --user (else minted)")
    p.add_argument("--data-dir", default=None, help="the bot's cache (default ./<user>-data)")
    p.add_argument("--keyword", action="append", default=[], required=True,
                   help="a banned word or phrase (repeat for more)")
    p.add_argument("--mute-minutes", type=float, default=10, help="how long to mute (default 10)")
    p.add_argument("--revoke", action="store_true", help="also revoke the offending message")
    p.add_argument("--explain", action="store_true", help="post a note in the group saying why")
    p.add_argument("--group", action="append", default=[], help="only watch this group ID (repeatable)")
    return p.parse_args()


async def get_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    admin = await RestClient.admin(args.api, secret=os.environ.get("OPENIM_SECRET", "openIM123"))
    async with admin:
        return await admin.mint_user_token(args.user)


def text_of(msg: Message) -> str | None:
    """The whole text of a text-like message (``msg.text`` is a one-line preview), else None."""
    return msg.full_text if msg.content_type in TEXT_TYPES else None


def banned_word(text: str, keywords: list[str]) -> str | None:
    lowered = text.casefold()
    return next((k for k in keywords if k.casefold() in lowered), None)


async def moderate(client: OpenIMClient, event: MessageReceived, args: argparse.Namespace) -> None:
    msg = event.message
    if event.is_self or msg.session_type != SessionType.READ_GROUP_CHAT:
        return
    if args.group and msg.group_id not in args.group:
        return
    text = text_of(msg)
    word = banned_word(text, args.keyword) if text else None
    if word is None:
        return
    seconds = int(args.mute_minutes * 60)
    if msg.send_time and msg.send_time < (time.time() - seconds) * 1000:
        return  # older than the mute would last (a backlog message)
    who = f"{msg.send_id} in {msg.group_id}"
    members = await client.groups.get_members(msg.group_id, [msg.send_id])
    if any(m.is_owner or m.is_admin for m in members):
        print(f"ignored {who}: owner or admin", flush=True)
        return
    try:
        await client.groups.mute_member(msg.group_id, msg.send_id, seconds)
    except OpenIMError as err:  # e.g. 1002: the bot is not an admin of this group
        print(f"cannot mute {who}: {explain(err)}", flush=True)
        return
    print(f"muted {who} for {seconds} s (said {word!r})", flush=True)
    if args.revoke:
        try:
            await client.revoke(msg.conversation_id, msg.client_msg_id)
        except OpenIMError as err:
            print(f"cannot revoke {msg.client_msg_id}: {explain(err)}", flush=True)
    if args.explain:
        name = msg.sender_nickname or msg.send_id
        minutes = f"{args.mute_minutes:g} minute{'s' if args.mute_minutes != 1 else ''}"
        await client.send_text(msg.group_id, f"{name} is muted for {minutes}: {word!r} is not allowed here.",
                               group=True)


async def run(args: argparse.Namespace) -> int:
    """Run until Ctrl+C (0) or until the server ends the session (1: kicked, token expired)."""
    token = await get_token(args)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    async with OpenIMClient(args.api, args.ws, args.user, token,
                            data_dir=args.data_dir or f"./{args.user}-data") as client:
        events = client.events()  # subscribe before the first sync, so no message slips by
        ended: list[SessionEnded] = []

        async def loop() -> None:
            # one message at a time, in order: a moderation decision never races the next one
            async for event in events:
                if isinstance(event, SessionEnded):  # kicked, or the token expired: the last event
                    ended.append(event)
                    return
                if isinstance(event, MessageReceived):
                    try:
                        await moderate(client, event, args)
                    except OpenIMError as err:  # e.g. the network: log it, go on with the next one
                        print(f"error on {event.message.client_msg_id}: {explain(err)}", flush=True)

        task = asyncio.create_task(loop())
        task.add_done_callback(lambda _: stop.set())  # should the loop crash, stop (loudly, below)
        # wait_synced() raises instead should the session end first (a refused token)
        synced = asyncio.create_task(client.wait_synced())
        await asyncio.wait({synced, task}, return_when=asyncio.FIRST_COMPLETED)
        if synced.done() and not synced.exception():
            print(f"ready: {args.user} watching for {', '.join(map(repr, args.keyword))}", flush=True)
        synced.cancel()
        await stop.wait()
        if task.done():
            task.result()  # re-raises whatever ended the loop
        task.cancel()
        if ended:
            print(f"the session ended: {ended[0].reason} {ended[0].error or ''}".rstrip(), flush=True)
            return 1
        await client.flush(timeout=10)
    return 0


def main() -> int:
    args = parse_args()
    try:
        return asyncio.run(run(args))
    except OpenIMError as err:
        print(f"error: {err}")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
