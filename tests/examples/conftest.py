"""Fixtures for the example tests: the bundled server and each example as real subprocesses.

The server is ``python -m server_stub`` on ephemeral ports (read back from its ``READY`` line) with a
real SQLite file in ``tmp_path``; an example runs as ``python examples/<name>.py ...``, exactly as a
bot author would start it. The test's own clients are ordinary ``OpenIMClient`` sessions.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openim_sdk import OpenIMClient, RestClient
from openim_sdk import events as ev

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SECRET = "openIM123"


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a child: no OPENIM_* of the caller's shell, the project on the path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENIM_")}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass
class Proc:
    """A child process whose stdout is read line by line (stderr goes to a log file)."""

    name: str
    proc: asyncio.subprocess.Process
    log: Path
    lines: list[str] = field(default_factory=list)

    async def line(self, pred: Callable[[str], bool], timeout: float = 20) -> str:
        """The first stdout line (from the start) matching ``pred``, waiting for it."""
        for seen in self.lines:
            if pred(seen):
                return seen

        async def read() -> str:
            assert self.proc.stdout is not None
            while raw := await self.proc.stdout.readline():
                text = raw.decode().rstrip("\n")
                self.lines.append(text)
                if pred(text):
                    return text
            raise AssertionError(f"{self.name} exited ({await self.proc.wait()}) before the line; "
                                 f"stdout: {self.lines}; stderr: {self.stderr()}")

        try:
            return await asyncio.wait_for(read(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name}: no such line in {timeout} s; stdout: {self.lines}; "
                                 f"stderr: {self.stderr()}") from None

    async def finish(self, timeout: float = 30) -> tuple[int, str]:
        """Wait for the exit; the return code and the whole stdout."""
        assert self.proc.stdout is not None
        rest = await asyncio.wait_for(self.proc.stdout.read(), timeout)
        self.lines.extend(rest.decode().splitlines())
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        return code, "\n".join(self.lines)

    async def stop(self, sig: int = signal.SIGINT, timeout: float = 20) -> int:
        """Ask it to stop as Ctrl+C would and wait; returns the exit code."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return (await self.finish(timeout))[0]

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    def stderr(self) -> str:
        return self.log.read_text()[-3000:] if self.log.exists() else ""


async def spawn(name: str, args: Sequence[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    with open(log, "w") as err:
        proc = await asyncio.create_subprocess_exec(sys.executable, *args, cwd=ROOT, env=env or clean_env(),
                                                    stdout=asyncio.subprocess.PIPE, stderr=err)
    return Proc(name, proc, log)


@dataclass
class Server:
    proc: Proc
    api_url: str
    ws_url: str


@dataclass
class Harness:
    """Starts the server, examples and test clients; everything is stopped at the end of the test."""

    tmp_path: Path
    stack: AsyncExitStack
    procs: list[Proc] = field(default_factory=list)

    async def server(self, config_toml: str = "") -> Server:
        args = ["-m", "server_stub", "--api-port", "0", "--ws-port", "0",
                "--data", str(self.tmp_path / "server.sqlite3"), "--log-level", "WARNING"]
        if config_toml:
            path = self.tmp_path / "server.toml"
            path.write_text(config_toml)
            args += ["--config", str(path)]
        proc = await spawn("server", args, self.tmp_path / "server.log")
        self.procs.append(proc)
        ready = await proc.line(lambda s: s.startswith("READY"), timeout=60)
        m = re.search(r"api_port=(\d+) ws_port=(\d+)", ready)
        assert m, ready
        return Server(proc, f"http://127.0.0.1:{m[1]}", f"ws://127.0.0.1:{m[2]}")

    async def example(self, server: Server | None, script: str, *args: str, ws: bool = True, **env: str) -> Proc:
        """``python examples/<script> --api ... --ws ... <args>`` (no URLs without a server)."""
        urls = ["--api", server.api_url] + (["--ws", server.ws_url] if ws else []) if server else []
        proc = await spawn(script, [str(EXAMPLES / script), *urls, *args],
                           self.tmp_path / f"{script}-{len(self.procs)}.log", clean_env(**env))
        self.procs.append(proc)
        return proc

    async def users(self, server: Server, *ids: str) -> dict[str, str]:
        """Register users and mint a token for each."""
        admin = await RestClient.admin(server.api_url, secret=SECRET)
        async with admin:
            await admin.user.user_register(users=[{"userID": u, "nickname": u.title()} for u in ids])
            return {u: await admin.mint_user_token(u) for u in ids}

    async def client(self, server: Server, user_id: str, token: str) -> OpenIMClient:
        """A started, synced session of ``user_id`` (closed at the end of the test)."""
        client = OpenIMClient(server.api_url, server.ws_url, user_id, token,
                              data_dir=self.tmp_path / f"client-{user_id}", backoff=(0.05, 0.1, 0.2))
        await self.stack.enter_async_context(client)
        await client.wait_synced(20)
        return client

    async def admin(self, server: Server) -> RestClient:
        admin = await RestClient.admin(server.api_url, secret=SECRET)
        await self.stack.enter_async_context(admin)
        return admin


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    async with AsyncExitStack() as stack:
        h = Harness(tmp_path, stack)
        try:
            yield h
        finally:
            await stack.aclose()
            for proc in reversed(h.procs):  # examples first, the server last
                if proc.proc.returncode is None:
                    proc.proc.terminate()
                    try:
                        await asyncio.wait_for(proc.proc.wait(), 10)
                    except TimeoutError:
                        proc.kill()
                        await proc.proc.wait()


async def next_event(events: Any, pred: Callable[[ev.Event], bool], timeout: float = 20) -> Any:
    """The next event of a stream matching ``pred`` (AssertionError after ``timeout`` s)."""
    async def find() -> ev.Event:
        async for e in events:
            if pred(e):
                return e
        raise AssertionError("the event stream ended")

    try:
        return await asyncio.wait_for(find(), timeout)
    except TimeoutError:
        raise AssertionError(f"no matching event within {timeout} s") from None


def text_of(e: ev.Event) -> str:
    """The full text of a received text message (``Message.text`` is a one-line preview:
    whitespace collapsed, cut at 200 characters)."""
    assert isinstance(e, ev.MessageReceived), e
    return str(e.message.content.get("content", ""))


def received(text: str | None = None, sender: str | None = None) -> Callable[[ev.Event], bool]:
    """A predicate: a message from someone else (optionally with this text, from this sender)."""
    def pred(e: ev.Event) -> bool:
        return (isinstance(e, ev.MessageReceived) and not e.is_self and not e.message.is_notification
                and (text is None or e.message.text == text)
                and (sender is None or e.message.send_id == sender))

    return pred

