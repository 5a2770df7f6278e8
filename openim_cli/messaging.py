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
                synced: bool = True, offline_ok: bool = False, rest_sync: bool = True) -> T:
    """Run ``body(client)`` inside a session of the stored profile.

    When the first connection attempt fails (nothing listening, DNS, refused) the command does not
    sit out ``wait``: it stops at once with exit code 3 — or, with ``offline_ok``, warns and runs
    ``body`` on the local cache. ``rest_sync=False``: no login-time REST sync (self info,
    conversations, friends, groups), for a command that needs none of them."""
    prof = need_profile(profile)

    async def main() -> T:
        import asyncio

        from openim_sdk import events as ev
        from openim_sdk.client import OpenIMClient
        from openim_sdk.protocol import errors as e

        client = OpenIMClient(prof.api_url, prof.ws_url, prof.user_id, prof.token, data_dir=prof.data_dir,
                              platform_id=prof.platform_id, rest_sync=rest_sync)
        async with client:
            if synced:
                ended: list[Any] = []
                gone = asyncio.Event()  # a kicked/expired session ends at once: don't wait the full timeout
                reached, unreachable = asyncio.Event(), asyncio.Event()

                @client.on(ev.SessionEnded)
                def _ended(event: Any) -> None:
                    ended.append(event)
                    gone.set()

                @client.on(ev.ConnectionStateChanged)
                def _state(event: Any) -> None:
                    if event.state in (ev.ConnectionState.CONNECTED, ev.ConnectionState.SYNCING):
                        reached.set()
                    elif event.state == ev.ConnectionState.RECONNECTING and not reached.is_set():
                        unreachable.set()  # the very first dial failed
                        gone.set()

                waits = [asyncio.ensure_future(client.wait_synced()), asyncio.ensure_future(gone.wait())]
                done, _ = await asyncio.wait(waits, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                for w in waits:
                    w.cancel()
                failed = waits[0].exception() if waits[0] in done else None
                if failed is not None:
                    raise failed from None  # the session ended first (token refused, kicked)
                if waits[0] not in done:
                    if ended and ended[0].error is not None:
                        raise ended[0].error from None
                    if client.ws.fatal_error is not None:
                        raise client.ws.fatal_error from None
                    if unreachable.is_set() and offline_ok:
                        output.warn(f"offline: cannot reach {prof.ws_url}; showing what this device has cached")
                        return await body(client)
                    if unreachable.is_set():
                        raise e.NetworkError(message=f"cannot reach {prof.ws_url}") from None
                    raise e.NetworkError(message=f"no connection to {prof.ws_url} within {wait:g}s") from None
            return await body(client)

    return run(main)


def message_dict(m: Any) -> dict[str, Any]:
    return {"conversationID": m.conversation_id, "clientMsgID": m.client_msg_id, "serverMsgID": m.server_msg_id,
            "seq": m.seq, "sendID": m.send_id, "recvID": m.recv_id, "groupID": m.group_id,
            "sessionType": m.session_type, "contentType": m.content_type, "content": m.content,
            "text": m.text, "sendTime": m.send_time, "status": m.status}


def print_message(m: Any, me: str, where: str = "") -> None:
    """One message per line: ``[where] seq time who: text``, plus the send state of an unsent one of ours."""
    from rich.markup import escape

    from openim_sdk.protocol.constants import MsgStatus

    ts = time.strftime("%H:%M", time.localtime(m.time / 1000)) if m.time else "--:--"
    who = "you" if m.send_id == me else (m.sender_nickname or m.send_id)
    style = "dim" if m.is_notification else ("cyan" if m.send_id == me else "green")
    state = ""
    if m.send_id == me and m.status == MsgStatus.SEND_FAILED:
        state = "  [bold red]✗ not sent (failed)[/]"
    elif m.send_id == me and m.status == MsgStatus.SENDING:
        state = "  [yellow]… not sent yet (queued)[/]"
    seq = f"{m.seq:>5}" if m.seq else "    -"
    prefix = f"[magenta]{escape(where)}[/] " if where else ""
    output.say(f"{prefix}[dim]{seq} {ts}[/] [{style}]{escape(who)}[/]: {escape(m.text)}{state}")


async def conversation_label(client: Any, m: Any, cache: dict[str, str]) -> str:
    """A short name for a message's conversation in a mixed stream (watch, search): ``#group`` or
    ``@user`` (the peer's nickname once known)."""
    cid = m.conversation_id
    if cid not in cache:
        conv = await client.conversation(cid)
        group = (conv is not None and conv.is_group) or bool(m.group_id)
        title = conv.show_name if conv is not None else ""
        if not title and not group and m.send_id != client.user_id and m.sender_nickname:
            title = m.sender_nickname  # the conversation's name is not resolved yet; the peer's is known
        if not title:
            return f"#{m.group_id or cid}" if group else f"@{conv.title if conv is not None else cid}"
        cache[cid] = f"#{title}" if group else f"@{title}"
    return cache[cid]


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
    if text is not None and text and not text.strip():
        output.fail("the text is blank: nothing to send", output.EXIT_USAGE)
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
            if row.status == MsgStatus.SEND_FAILED:  # why, in words, with the server's code and name
                refusal = client.send_error(m.client_msg_id) or e.MessageError(
                    message="the server refused the message", detail=m.client_msg_id)
                output.fail(f"not sent: {e.explain(refusal)}", output.EXIT_OPENIM)
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

    # One-shot: the send is cache-first and the outbox sends once the on-connect sync is done (the
    # wait below); the login-time REST sync of conversations, friends and groups is not needed (our
    # nickname and an unknown peer are looked up on demand, cache first).
    rows = with_client(profile, body, wait=wait, rest_sync=False)
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
    """A rich progress bar for uploads and downloads, on stderr when it is a terminal (silent with --json
    and when piped: stdout stays the command's answer)."""

    def __init__(self, name: str, quiet: bool) -> None:
        self.name, self.quiet = name, quiet

    def __enter__(self) -> Callable[[int, int], None] | None:
        console = output.console(stderr=True)
        self.quiet = self.quiet or not console.is_terminal
        if self.quiet:
            return None
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self.bar = Progress("[bold]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                            transient=True, console=console)
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

    rows = with_client(profile, body, offline_ok=True)
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
def watch(
    target: Annotated[str | None, typer.Option("--in", help="Only this conversation/user/group.")] = None,
    group: GroupOpt = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stream incoming messages and revokes live until interrupted (JSON lines with --json)."""
    me = need_profile(profile).user_id

    async def body(client: Any) -> None:
        from openim_sdk import events as ev

        only = (await client.resolve_target(target, group))[0] if target else None
        labels: dict[str, str] = {}
        if not as_json:
            output.say(f"[dim]watching as {me}{f' in {only}' if only else ''}; Ctrl-C to stop[/]")
        async for event in client.events():
            msg = getattr(event, "message", None)
            if msg is not None and only is not None and msg.conversation_id != only:
                continue
            if isinstance(event, ev.MessageRevoked):
                msg = event.message
                who = event.revoker_user_id or msg.send_id
                if as_json:
                    output.emit_json({**message_dict(msg), "revoked": True, "revokerUserID": who})
                else:
                    where = await conversation_label(client, msg, labels)
                    output.say(f"[magenta]{where}[/] [dim]{msg.seq:>5}[/] {who} revoked a message")
            elif isinstance(event, ev.MessageReceived) and not event.is_self:
                if as_json:
                    output.emit_json(message_dict(event.message))
                else:
                    print_message(event.message, me, await conversation_label(client, msg, labels))
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
    as_json: JsonOpt = False,
) -> None:
    """Mark a conversation read (the other side gets a read receipt)."""

    async def body(client: Any) -> str:
        cid, *_ = await client.resolve_target(target, group)
        await client.mark_read(cid)
        return str(cid)

    cid = with_client(profile, body)
    if as_json:
        output.emit_json({"conversationID": cid, "read": True})
    else:
        output.say(f"Marked {cid} read.")


@app.command()
def revoke(
    target: Annotated[str, typer.Argument(help="Conversation ID, user ID or group ID (--group).")],
    message: Annotated[str, typer.Argument(help="clientMsgID, or the seq of the message.")],
    group: GroupOpt = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a message you sent."""

    async def body(client: Any) -> dict[str, Any]:

        cid, *_ = await client.resolve_target(target, group)
        cmid = message
        if message.isdigit():
            cmid = (await _find(client, cid, message)).client_msg_id
        await client.revoke(cid, cmid)
        return {"conversationID": cid, "clientMsgID": cmid, "revoked": True}

    result = with_client(profile, body)
    if as_json:
        output.emit_json(result)
    else:
        output.say("Revoked.")


async def _find(client: Any, cid: str, message: str) -> Any:
    """The message of a conversation by clientMsgID or by seq (digits)."""
    from openim_sdk.protocol import errors as e

    if message.isdigit():
        rows = await client.messages(cid, before_seq=int(message) + 1, limit=1)
        if rows and rows[-1].seq == int(message):
            return rows[-1]
        raise e.NotFoundError(message="RecordNotFoundError", detail=f"no message with seq {message} in {cid}")
    m = await client.message(message)
    if m is None or m.conversation_id != cid:
        raise e.NotFoundError(message="RecordNotFoundError", detail=f"no message {message!r} in {cid}")
    return m


@app.command()
def download(
    target: Annotated[str, typer.Argument(help="Conversation ID, user ID or group ID (--group).")],
    message: Annotated[str, typer.Argument(help="clientMsgID, or the seq of the message.")],
    to: Annotated[Path | None, typer.Option("--to", file_okay=False,
                                            help="Directory to save into (default: the settings' "
                                                 "chat.download_dir, else ~/Downloads, else here).")] = None,
    group: GroupOpt = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Download the file or picture of a message; prints where it was saved."""
    dest = to or _download_dir()

    async def body(client: Any) -> dict[str, Any]:
        cid, *_ = await client.resolve_target(target, group)
        m = await _find(client, cid, message)
        with _progress(m.content.get("fileName") or "download", as_json) as progress:
            path = await client.download(m, dest, progress=progress)
        return {"conversationID": cid, "clientMsgID": m.client_msg_id, "path": str(path),
                "size": path.stat().st_size}

    result = with_client(profile, body)
    if as_json:
        output.emit_json(result)
    else:
        output.say(f"Saved {result['path']} ({result['size']:,} bytes)")


def _download_dir() -> Path:
    from . import settings

    configured = settings.load().download_path
    if configured is not None:
        return configured
    home = Path.home() / "Downloads"
    return home if home.is_dir() else Path.cwd()


@app.command()
def search(
    text: Annotated[str, typer.Argument(help="Words to find.")],
    target: Annotated[str | None, typer.Option("--in", help="Only this conversation/user/group.")] = None,
    group: GroupOpt = False,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many messages.")] = 50,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Search cached messages (local full-text search)."""

    async def body(client: Any) -> Any:
        cid = None
        if target:
            cid, *_ = await client.resolve_target(target, group)
        return await client.search(text, cid, limit)

    async def labelled(client: Any) -> list[tuple[Any, str]]:
        labels: dict[str, str] = {}
        return [(m, await conversation_label(client, m, labels)) for m in await body(client)]

    rows = with_client(profile, labelled, synced=False)
    me = need_profile(profile).user_id
    for m, where in rows:
        if as_json:
            output.emit_json(message_dict(m))
        else:
            print_message(m, me, where)
    if not rows and not as_json:
        output.say("[dim]no messages found[/]")
