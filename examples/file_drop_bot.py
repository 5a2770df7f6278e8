#!/usr/bin/env python3
"""File drop bot: send it a file in a one-to-one chat, it downloads it and replies with its SHA-256.

    python examples/file_drop_bot.py --user filedrop --register [--save-dir ./drops]

The reply is a line in ``sha256sum`` format (``<hex digest>  <file name>``), so the sender can
check their copy with ``sha256sum -c``. Files (and pictures) are downloaded into a temporary
directory and deleted after hashing, unless ``--save-dir`` keeps them (one sub-directory per
message, so two files of the same name never collide).

Downloads run concurrently: this bot listens with an async ``@client.on(MessageReceived)``
callback, which the SDK runs as a task per event (a slow download does not hold up the next one);
replies may therefore come in a different order than the files were sent.

Server and credentials: ``--api``/``OPENIM_API``, ``--ws``/``OPENIM_WS``, ``--token``/``OPENIM_TOKEN``
or the admin secret ``OPENIM_SECRET`` (default ``openIM123``) to mint a token. Ctrl+C stops it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import signal
import tempfile
from pathlib import Path

from openim_sdk import (
    ContentType,
    MessageReceived,
    OpenIMClient,
    OpenIMError,
    RegisteredAlreadyError,
    RestClient,
    SessionEnded,
    SessionType,
    explain,
)

FILE_TYPES = {ContentType.FILE, ContentType.PICTURE}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--api", default=os.environ.get("OPENIM_API", "http://127.0.0.1:10002"), help="REST API URL")
    p.add_argument("--ws", default=os.environ.get("OPENIM_WS", "ws://127.0.0.1:10001"), help="WebSocket URL")
    p.add_argument("--user", default=os.environ.get("OPENIM_USER", "filedrop"), help="the bot's user ID")
    p.add_argument("--token", default=os.environ.get("OPENIM_TOKEN"), help="a token for --user (else minted)")
    p.add_argument("--register", action="store_true", help="register --user first if the server lacks it")
    p.add_argument("--data-dir", default=None, help="the bot's cache (default ./<user>-data)")
    p.add_argument("--save-dir", default=None, help="keep the files here (default: delete after hashing)")
    return p.parse_args()


async def get_token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    admin = await RestClient.admin(args.api, secret=os.environ.get("OPENIM_SECRET", "openIM123"))
    async with admin:
        if args.register:
            with contextlib.suppress(RegisteredAlreadyError):
                await admin.user.user_register(users=[{"userID": args.user, "nickname": "File drop"}])
        return await admin.mint_user_token(args.user)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def run(args: argparse.Namespace) -> int:
    """Run until Ctrl+C (0) or until the server ends the session (1: kicked, token expired)."""
    token = await get_token(args)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)

    async with OpenIMClient(args.api, args.ws, args.user, token,
                            data_dir=args.data_dir or f"./{args.user}-data") as client:

        @client.on(MessageReceived)
        async def on_message(event: MessageReceived) -> None:
            msg = event.message
            if event.is_self or msg.session_type != SessionType.SINGLE_CHAT or msg.content_type not in FILE_TYPES:
                return
            with contextlib.ExitStack() as cleanup:
                if args.save_dir:
                    where = Path(args.save_dir) / msg.client_msg_id
                else:
                    where = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="filedrop-")))
                try:
                    path = await client.download(msg, where)
                except OpenIMError as err:  # gone from the server, network...: tell the sender
                    await client.send_text(msg.send_id, f"sorry, I could not download it: {explain(err)}")
                    print(f"download failed for {msg.send_id}: {err}", flush=True)
                    return
                digest = await asyncio.to_thread(sha256_of, path)  # hashing a big file: off the event loop
                size = path.stat().st_size
            await client.send_text(msg.send_id, f"{digest}  {path.name}")
            print(f"{msg.send_id}: {path.name} ({size} bytes) sha256 {digest}", flush=True)

        ended: list[SessionEnded] = []

        @client.on(SessionEnded)
        def on_end(event: SessionEnded) -> None:  # kicked, or the token expired: the last event
            ended.append(event)
            stop.set()

        # wait_synced() raises instead should the session end first (a refused token)
        synced = asyncio.create_task(client.wait_synced())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({synced, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if synced.done() and not synced.exception():
            print(f"ready: {args.user} on {args.api}", flush=True)
        synced.cancel()
        await stopped
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
