"""``openim chat`` (the TUI) and ``openim demo`` (server + two users + chat, in one step)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from . import output
from .main import ProfileOpt, app


@app.command()
def chat(
    profile: ProfileOpt = None,
    api: Annotated[str | None, typer.Option(help="REST API URL (instead of a stored profile).")] = None,
    ws: Annotated[str | None, typer.Option(help="WebSocket URL (instead of a stored profile).")] = None,
    user: Annotated[str | None, typer.Option("--user", "-u", help="User ID (instead of a stored profile).")] = None,
    token: Annotated[str | None, typer.Option(envvar="OPENIM_TOKEN", help="Token (with --user).")] = None,
) -> None:
    """Open the terminal chat (Textual) with the stored session, or with --api/--ws/--user/--token."""
    output.need_extra("tui", what="openim chat")
    from openim_tui import run_chat

    overrides = {k: v for k, v in {"api": api, "ws": ws, "user": user, "token": token}.items() if v}
    with output.errors():
        try:
            run_chat(profile, **overrides)
        except (LookupError, ValueError) as exc:
            output.fail(str(exc), output.EXIT_SESSION)


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _server(api_port: int, ws_port: int, data: str | None) -> Iterator[tuple[str, str, bool]]:
    """Reuse a server already listening on the ports, or start the bundled one (third item: started
    here, so it stops when the demo ends)."""
    api_port = api_port or _free_port()
    ws_port = ws_port or _free_port()
    if _port_open(api_port) and _port_open(ws_port):
        yield f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ws_port}", False
        return
    if _port_open(api_port) or _port_open(ws_port):
        api_port, ws_port = _free_port(), _free_port()
    args = [sys.executable, "-m", "server_stub", "--api-port", str(api_port), "--ws-port", str(ws_port)]
    if data:
        args += ["--data", data]
    log = open(os.devnull, "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(args, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while not (_port_open(api_port) and _port_open(ws_port)):
            if proc.poll() is not None or time.monotonic() > deadline:
                output.fail("the bundled server did not start (try `openim server` to see why)", output.EXIT_UNREACHABLE)
            time.sleep(0.1)
        yield f"http://127.0.0.1:{api_port}", f"ws://127.0.0.1:{ws_port}", True
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        log.close()


async def _setup_users(api: str, ws: str, secret: str, users: dict[str, str]) -> dict[str, str]:
    from openim_sdk.protocol import errors as e
    from openim_sdk.rest import RestClient

    admin = await RestClient.admin(api, secret)
    async with admin:
        for uid, nick in users.items():
            with contextlib.suppress(e.RegisteredAlreadyError):
                await admin.user.user_register(users=[{"userID": uid, "nickname": nick}])
        return {uid: await admin.mint_user_token(uid, 7) for uid in users}


class EchoBot(threading.Thread):
    """A second user in the background who answers every message (its own event loop)."""

    def __init__(self, prof: Any) -> None:
        super().__init__(daemon=True, name="openim-demo-bot")
        self.prof = prof
        self.ready = threading.Event()
        self._stop_flag = threading.Event()

    def run(self) -> None:
        import asyncio

        asyncio.run(self._main())

    def stop(self) -> None:
        self._stop_flag.set()
        self.join(5)

    async def _main(self) -> None:
        import asyncio

        from openim_sdk import events as ev
        from openim_sdk.client import OpenIMClient

        p = self.prof
        async with OpenIMClient(p.api_url, p.ws_url, p.user_id, p.token, data_dir=p.data_dir) as bot:

            @bot.on(ev.MessageReceived)
            async def reply(e: ev.MessageReceived) -> None:
                m = e.message
                if e.is_self or m.is_notification or m.group_id:
                    return
                await bot.mark_read(m.conversation_id)
                await bot.typing(m.conversation_id, True)
                await asyncio.sleep(0.4)
                await bot.send_text(m.send_id, f"{p.user_id} heard: {m.text}")

            with contextlib.suppress(TimeoutError):
                await bot.wait_synced(15)
            self.ready.set()
            while not self._stop_flag.is_set():
                await asyncio.sleep(0.1)
            await bot.flush(2)


@app.command()
def demo(
    api_port: Annotated[int, typer.Option(help="REST port of the bundled server.")] = 10002,
    ws_port: Annotated[int, typer.Option(help="WS port of the bundled server.")] = 10001,
    data: Annotated[str | None, typer.Option(help="SQLite file (default: the platformdirs data dir).")] = None,
    secret: Annotated[str, typer.Option(envvar="OPENIM_SECRET", help="Admin secret.")] = "openIM123",
    script: Annotated[bool | None, typer.Option("--script/--tui",
                                                help="Scripted exchange instead of the chat UI "
                                                     "(default: --tui on a terminal).")] = None,
) -> None:
    """Start the bundled server, sign in alice and bob (an echo bot), and open the chat as alice."""
    import asyncio

    from . import profiles

    if script is None:
        script = not (sys.stdin.isatty() and sys.stdout.isatty())
    output.need_extra("server", *(() if script else ("tui",)), what="openim demo")
    with _server(api_port, ws_port, data) as (api, ws, started), output.errors():
        tokens = asyncio.run(_setup_users(api, ws, secret, {"alice": "Alice", "bob": "Bob (echo bot)"}))
        profs = {}
        for uid, tok in tokens.items():
            prof = profiles.Profile(f"demo-{uid}", api, ws, uid, 7, tok)
            profiles.save(prof)
            profs[uid] = prof
        bot = EchoBot(profs["bob"])
        bot.start()
        bot.ready.wait(20)
        try:
            if script:
                asyncio.run(_scripted(profs["alice"], started))
            else:
                from openim_tui import run_chat

                run_chat("demo-alice")
        finally:
            bot.stop()
    if not script:
        output.say("Demo over. The server data stays; `openim chat -p demo-alice` after `openim server` resumes it.")


async def _scripted(prof: Any, server_started: bool) -> None:
    import asyncio

    from openim_sdk import events as ev
    from openim_sdk.client import OpenIMClient

    async with OpenIMClient(prof.api_url, prof.ws_url, prof.user_id, prof.token, data_dir=prof.data_dir) as alice:
        await alice.wait_synced(15)
        events = alice.events()
        sent = await alice.send_text("bob", f"hello from the demo at {time.strftime('%H:%M:%S')}")
        output.say(f"[cyan]alice[/]: {sent.text}")

        async def reply() -> ev.MessageReceived:
            async for e in events:
                if isinstance(e, ev.MessageReceived) and not e.is_self and e.message.send_id == "bob":
                    return e
            raise RuntimeError("session ended")

        got = await asyncio.wait_for(reply(), 15)
        output.say(f"[green]bob[/]: {got.message.text}")
        history = await alice.messages(sent.conversation_id, limit=10)
        output.say(f"[dim]{len(history)} message(s) in {sent.conversation_id}, seqs "
                   f"{[m.seq for m in history]}[/]")
    if server_started:  # the server this demo started stops with it
        output.say("Demo done; the demo's server has stopped (its data stays). To go on: `openim server` "
                   "in one terminal, `openim chat -p demo-alice` in another.")
    else:
        output.say(f"Demo done. Chat with `openim chat -p demo-alice` while the server runs "
                   f"(API {prof.api_url}, WS {prof.ws_url}).")
