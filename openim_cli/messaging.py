"""``openim send``, ``pull``, ``watch``, ``read``, ``revoke``, ``search``: over an SDK session.

Each command opens an :class:`~openim_sdk.client.OpenIMClient` on the profile's cache (shared
with ``openim chat``), does its work and closes it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from . import output
from .main import JsonOpt, ProfileOpt, app, need_profile, run

T = TypeVar("T")

GroupOpt = Annotated[bool, typer.Option("--group", "-g", help="TO is a group ID.")]
WaitOpt = Annotated[float, typer.Option(help="Seconds to wait for the server.")]


def with_client(profile: str | None, body: Callable[[Any], Awaitable[T]], *, wait: float = 15.0,
                synced: bool = True) -> T:
    """Run ``body(client)`` inside a session of the stored profile."""
    prof = need_profile(profile)

    async def main() -> T:
        import asyncio

        from openim_sdk import events as ev
        from openim_sdk.client import OpenIMClient
        from openim_sdk.protocol import errors as e

        client = OpenIMClient(prof.api_url, prof.ws_url, prof.user_id, prof.token, data_dir=prof.data_dir,
                              platform_id=prof.platform_id)
        async with client:
            if synced:
                ended: list[Any] = []
                gone = asyncio.Event()  # a kicked/expired session ends at once: don't wait the full timeout

                @client.on(ev.SessionEnded)
                def _ended(event: Any) -> None:
                    ended.append(event)
                    gone.set()

                waits = [asyncio.ensure_future(client.wait_synced()), asyncio.ensure_future(gone.wait())]
                done, _ = await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
                if waits[0] not in done:
                    if ended and ended[0].error is not None:
                        raise ended[0].error from None
                    if client.ws.fatal_error is not None:
                        raise client.ws.fatal_error from None
                    raise e.NetworkError(message=f"no connection to {prof.ws_url} within {wait:g}s") from None
            return await body(client)

    return run(main)


def message_dict(m: Any) -> dict[str, Any]:
    return {"conversationID": m.conversation_id, "clientMsgID": m.client_msg_id, "serverMsgID": m.server_msg_id,
            "seq": m.seq, "sendID": m.send_id, "recvID": m.recv_id, "groupID": m.group_id,
            "sessionType": m.session_type, "contentType": m.content_type, "content": m.content,
            "text": m.text, "sendTime": m.send_time, "status": m.status}


def print_message(m: Any, me: str) -> None:
    ts = time.strftime("%H:%M", time.localtime(m.time / 1000)) if m.time else "--:--"
    who = "you" if m.send_id == me else (m.sender_nickname or m.send_id)
    style = "dim" if m.is_notification else ("cyan" if m.send_id == me else "green")
    from rich.markup import escape

    output.say(f"[dim]{m.seq:>5} {ts}[/] [{style}]{escape(who)}[/]: {escape(m.text)}")


@app.command()
def send(
    to: Annotated[str, typer.Argument(help="User ID, group ID (with --group) or conversation ID.")],
    text: Annotated[str | None, typer.Argument(help="The text; '-' reads stdin.")] = None,
    group: GroupOpt = False,
    file: Annotated[Path | None, typer.Option("--file", exists=True, dir_okay=False, help="Send a file.")] = None,
    image: Annotated[Path | None, typer.Option("--image", exists=True, dir_okay=False,
                                               help="Send a picture.")] = None,
    wait: WaitOpt = 15.0,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a text, a file or a picture; prints its serverMsgID and seq."""
    if text == "-":
        text = sys.stdin.read().rstrip("\n")
    if not text and file is None and image is None:
        output.fail("nothing to send: give TEXT, '-', --file or --image", output.EXIT_USAGE)

    async def body(client: Any) -> Any:
        from openim_sdk import events as ev
        from openim_sdk.protocol import errors as e
        from openim_sdk.protocol.constants import MsgStatus

        events = client.events()
        sent = []
        if file is not None or image is not None:
            path = file or image
            assert path is not None
            with _progress(path.name, as_json) as progress:
                sent.append(await client.send_file(to, path, group=group, image=image is not None,
                                                   progress=progress))
        if text:
            sent.append(await client.send_text(to, text, group=group))
        await client.flush(wait)
        results = []
        for m in sent:
            row = await client.message(m.client_msg_id)
            if row.status == MsgStatus.SEND_FAILED:  # the server's own code and name (1402 muted, ...)
                raise client.send_error(m.client_msg_id) or e.MessageError(
                    message="the server refused the message", detail=m.client_msg_id)
            deadline = time.monotonic() + 3
            while row.seq == 0 and time.monotonic() < deadline:  # the seq arrives with the sender-sync push
                try:
                    await _next(events, lambda x: isinstance(x, ev.MessageUpdated | ev.MessageReceived), 0.5)
                except TimeoutError:
                    pass
                row = await client.message(m.client_msg_id)
            results.append(row)
        events.close()
        return results

    rows = with_client(profile, body, wait=wait)
    for r in rows:
        if as_json:
            output.emit_json(message_dict(r))
        else:
            output.say(f"Sent to {r.conversation_id}: serverMsgID [bold]{r.server_msg_id}[/], seq [bold]{r.seq}[/]")


async def _next(stream: Any, pred: Callable[[Any], bool], timeout: float) -> Any:
    import asyncio

    async def find() -> Any:
        async for x in stream:
            if pred(x):
                return x
        return None

    return await asyncio.wait_for(find(), timeout)


class _progress:
    """A rich progress bar for uploads (silent with --json)."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name, self.quiet = name, quiet

    def __enter__(self) -> Callable[[int, int], None] | None:
        if self.quiet:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self.bar = Progress("[bold]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            transient=True)
        self.bar.start()
        self.task = self.bar.add_task(self.name, total=None)

        def update(done: int, total: int) -> None:
            self.bar.update(self.task, completed=done, total=total)

        return update

    def __exit__(self, *exc: object) -> None:
        if not self.quiet:
            self.bar.stop()


@app.command()
def pull(
    target: Annotated[str | None, typer.Argument(help="Conversation ID, user ID or group ID (--group); "
                                                      "omit to sync and list conversations.")] = None,
    group: GroupOpt = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many messages.")] = 20,
    before_seq: Annotated[int | None, typer.Option(help="Only messages older than this seq.")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sync and print history (JSON lines with --json)."""

    async def body(client: Any) -> Any:
        if target is None:
            return await client.conversations()
        cid, *_ = await client.resolve_target(target, group)
        return await client.messages(cid, before_seq=before_seq, limit=limit)

    rows = with_client(profile, body)
    me = need_profile(profile).user_id
    if target is None:
        for c in rows:
            if as_json:
                output.emit_json({"conversationID": c.conversation_id, "title": c.title, "unread": c.unread_count,
                                  "latest": c.latest_text, "latestTime": c.latest_time, "pinned": c.is_pinned})
            else:
                output.say(f"{c.conversation_id:30} {c.unread_count or '':>4} {c.title}: {c.latest_text}")
        return
    for m in rows:
        if as_json:
            output.emit_json(message_dict(m))
        else:
            print_message(m, me)


@app.command()
def watch(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Stream incoming messages live until interrupted (JSON lines with --json)."""
    me = need_profile(profile).user_id

    async def body(client: Any) -> None:
        from openim_sdk import events as ev

        if not as_json:
            output.say(f"[dim]watching as {me}; Ctrl-C to stop[/]")
        async for event in client.events():
            if isinstance(event, ev.MessageReceived) and not event.is_self:
                if as_json:
                    output.emit_json(message_dict(event.message))
                else:
                    print_message(event.message, me)
            elif isinstance(event, ev.ConnectionStateChanged) and not as_json:
                output.say(f"[dim]({event.state.value})[/]")
            elif isinstance(event, ev.SessionEnded):
                if event.error is not None:
                    raise event.error
                return

    try:
        with_client(profile, body)
    except KeyboardInterrupt:
        pass


@app.command()
def read(
    target: Annotated[str, typer.Argument(help="Conversation ID, user ID or group ID (--group).")],
    group: GroupOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Mark a conversation read (the other side gets a read receipt)."""

    async def body(client: Any) -> str:
        cid, *_ = await client.resolve_target(target, group)
        await client.mark_read(cid)
        return str(cid)

    output.say(f"Marked {with_client(profile, body)} read.")


@app.command()
def revoke(
    target: Annotated[str, typer.Argument(help="Conversation ID, user ID or group ID (--group).")],
    message: Annotated[str, typer.Argument(help="clientMsgID, or the seq of the message.")],
    group: GroupOpt = False,
    profile: ProfileOpt = None,
) -> None:
    """Revoke a message you sent."""

    async def body(client: Any) -> None:
        from openim_sdk.protocol import errors as e

        cid, *_ = await client.resolve_target(target, group)
        cmid = message
        if message.isdigit():
            rows = await client.messages(cid, before_seq=int(message) + 1, limit=1)
            if not rows or rows[-1].seq != int(message):
                raise e.NotFoundError(message="RecordNotFoundError", detail=f"no message with seq {message}")
            cmid = rows[-1].client_msg_id
        await client.revoke(cid, cmid)

    with_client(profile, body)
    output.say("Revoked.")


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to find.")],
    target: Annotated[str | None, typer.Option("--in", help="Only this conversation/user/group.")] = None,
    group: GroupOpt = False,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search cached messages (local full-text search)."""

    async def body(client: Any) -> Any:
        cid = None
        if target:
            cid, *_ = await client.resolve_target(target, group)
        return await client.search(text, cid, limit)

    rows = with_client(profile, body, synced=False)
    me = need_profile(profile).user_id
    for m in rows:
        if as_json:
            output.emit_json(message_dict(m))
        else:
            print_message(m, me)
    if not rows and not as_json:
        output.say("[dim]no messages found[/]")
