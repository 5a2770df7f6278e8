"""``openim``: OpenIM from the terminal. Thin over the SDK; heavy imports happen lazily."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from . import output

T = TypeVar("T")

# The SDK logs (e.g. "ws stopped for good: 1506 …") would reach stderr through logging's last-resort
# handler and double the one-line error the CLI prints; keep them out unless a handler is configured.
logging.getLogger("openim_sdk").addHandler(logging.NullHandler())

app = typer.Typer(
    name="openim",
    help="OpenIM from the terminal: log in, send, pull, watch, manage friends and groups, call any API route.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
friends_app = typer.Typer(help="Friends: list, add, accept, reject, remove, black.", no_args_is_help=True)
groups_app = typer.Typer(help="Groups: list, create, join, members, invite, kick, mute, quit, dismiss.",
                         no_args_is_help=True)
user_app = typer.Typer(help="Users (admin): register.", no_args_is_help=True)
app.add_typer(friends_app, name="friends")
app.add_typer(groups_app, name="groups")
app.add_typer(user_app, name="user")

def _version(value: bool) -> None:
    if value:
        from openim_sdk import __version__

        typer.echo(f"openim {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", "-V", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """OpenIM from the terminal: log in, send, pull, watch, manage friends and groups, call any API route."""
    if ctx.invoked_subcommand != "config":  # `openim config edit` must still work to fix a broken file
        from . import settings

        try:
            settings.load()
        except settings.SettingsError as exc:
            output.fail(f"{exc} (fix it with `openim config edit`)", output.EXIT_USAGE)


DEFAULT_API = "http://127.0.0.1:10002"
DEFAULT_WS = "ws://127.0.0.1:10001"

ProfileOpt = Annotated[str | None, typer.Option("--profile", "-p", help="Session profile (env OPENIM_PROFILE).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]


def run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    """Run an async body with the CLI's error handling."""
    import asyncio

    with output.errors():
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    raise AssertionError("unreachable")  # pragma: no cover


def parse_platform(value: str) -> int:
    from openim_sdk.protocol.constants import PLATFORM_NAMES

    if value.isdigit():
        pid = int(value)
        if pid in PLATFORM_NAMES:
            return pid
    else:
        for pid, name in PLATFORM_NAMES.items():
            if name.lower() == value.lower():
                return pid
    raise typer.BadParameter(f"unknown platform {value!r}; use one of "
                             + ", ".join(f"{n} ({i})" for i, n in PLATFORM_NAMES.items()))


def need_profile(name: str | None) -> Any:
    from . import profiles

    prof = profiles.load(name)
    if prof is None:
        output.fail(f"not logged in (profile {profiles.profile_name(name)!r}); run `openim login` first",
                    output.EXIT_SESSION)
    return prof


def rest_for(prof: Any) -> Any:
    from openim_sdk.rest import RestClient

    return RestClient(prof.api_url, prof.token)


# --------------------------------------------------------------------------- server


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def server(ctx: typer.Context) -> None:
    """Run the bundled OpenIM server (REST :10002 + WS :10001, SQLite). Flags: see `openim server --help`;
    `openim server backup PATH` / `openim server restore PATH` copy the database online / put a copy back."""
    output.need_extra("server", what="openim server")
    import os

    # the server is its own program (the CLI imports no server code): this process becomes it, so
    # signals, output and the exit code are the server's own
    env = dict(os.environ, OPENIM_SERVER_PROG="openim server")
    os.execve(sys.executable, [sys.executable, "-m", "server_stub", *ctx.args], env)


# --------------------------------------------------------------------------- session


@app.command()
def login(
    user: Annotated[str | None, typer.Option("--user", "-u", help="Your user ID.")] = None,
    api: Annotated[str, typer.Option(envvar="OPENIM_API", help="REST API URL.")] = DEFAULT_API,
    ws: Annotated[str, typer.Option(envvar="OPENIM_WS", help="WebSocket gateway URL.")] = DEFAULT_WS,
    platform: Annotated[str, typer.Option(help="Platform name or ID (default Linux).")] = "Linux",
    token: Annotated[str | None, typer.Option(envvar="OPENIM_TOKEN", help="An IM token for the user.")] = None,
    secret: Annotated[str | None, typer.Option(
        envvar="OPENIM_SECRET", help="Admin secret: mint a token through the admin routes. On the command "
        "line it is visible to other local users (process list): prefer --secret-file or OPENIM_SECRET.")] = None,
    secret_file: Annotated[str | None, typer.Option(
        envvar="OPENIM_SECRET_FILE", help="Read the admin secret from this file (one trailing newline is "
        "stripped); takes precedence over --secret.")] = None,
    admin_user: Annotated[str, typer.Option(help="Admin user ID used with --secret.")] = "imAdmin",
    register: Annotated[bool, typer.Option(help="With --secret: register the user if it does not exist.")] = False,
    nickname: Annotated[str | None, typer.Option(help="Nickname when registering.")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log in and store the session (mode 0600) under the config dir."""
    from . import profiles

    if user is None:
        user = typer.prompt("User ID")
    pid = parse_platform(platform)
    if secret_file is not None:
        secret = _read_secret_file(secret_file)
    if token is None and secret is None:
        if not sys.stdin.isatty():
            output.fail("give --token or --secret", output.EXIT_USAGE)
        secret = typer.prompt("Admin secret (or leave empty to paste a token)", default="", hide_input=True,
                              show_default=False)
        if not secret:
            token = typer.prompt("Token", hide_input=True)

    async def body() -> dict[str, Any]:
        from openim_sdk.protocol import errors as e
        from openim_sdk.rest import RestClient

        not_registered = (f"user {user!r} is not registered on {api}"
                          + ("; add --register to create it" if token is None else ""))
        tok = token
        if tok is None:
            admin = await RestClient.admin(api, secret or "", admin_user)
            async with admin:
                if register:
                    try:
                        await admin.user.user_register(users=[{"userID": user, "nickname": nickname or user}])
                    except e.RegisteredAlreadyError:
                        pass
                try:
                    tok = await admin.mint_user_token(user, pid)
                except e.NotFoundError:
                    output.fail(not_registered, output.EXIT_OPENIM)
        async with RestClient(api, tok) as client:
            try:
                claims = client.claims()
            except e.OpenIMError as exc:
                output.fail(f"the token is not valid ({exc.message or exc.name}); ask for a new one, or log in "
                            "with --secret", output.EXIT_USAGE)
            if claims.user_id != user or claims.platform_id != pid:
                output.fail(f"the token is for user {claims.user_id!r} on platform {claims.platform_id}, "
                            f"not {user!r} on {pid}", output.EXIT_USAGE)
            try:
                info = await client.user.get_users_info(user_ids=[user])
            except e.TokenError as exc:
                output.fail(f"the server refused the token: {exc.code} {exc.name}"
                            + (f" ({exc.message})" if exc.message and exc.message != exc.name else "")
                            + "; ask for a new one, or log in with --secret", output.EXIT_SESSION)
            if not info.usersInfo:
                output.fail(not_registered, output.EXIT_OPENIM)
        assert tok is not None  # minted above, or given
        prof = profiles.Profile(profiles.profile_name(profile), api, ws, user, pid, tok)
        profiles.save(prof)
        return {"profile": prof.name, "userID": user, "platformID": pid, "nickname": info.usersInfo[0].nickname,
                "expires": claims.expires_at}

    result = run(body)
    if as_json:
        output.emit_json(result)
    else:
        output.say(f"Logged in as [bold]{result['userID']}[/] ({result['nickname']}) on platform "
                   f"{result['platformID']}, profile [bold]{result['profile']}[/].")


def _read_secret_file(path: str) -> str:
    secret = ""
    try:
        with open(path, encoding="utf-8") as fh:
            secret = fh.read().removesuffix("\n").removesuffix("\r")
    except (OSError, UnicodeDecodeError) as exc:
        output.fail(f"cannot read the secret file {path!r}: {exc}", output.EXIT_USAGE)
    if not secret:
        output.fail(f"the secret file {path!r} is empty", output.EXIT_USAGE)
    return secret


@app.command()
def logout(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Forget the stored session."""
    from . import profiles

    if profiles.delete(profile):
        output.done(as_json, f"Logged out of profile {profiles.profile_name(profile)!r}.",
                    profile=profiles.profile_name(profile))
    else:
        output.fail(f"no stored session for profile {profiles.profile_name(profile)!r}", output.EXIT_SESSION)


@app.command()
def whoami(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Show the logged-in user, checked against the server."""
    prof = need_profile(profile)

    async def body() -> dict[str, Any]:
        async with rest_for(prof) as client:
            info = await client.user.get_users_info(user_ids=[prof.user_id])
            claims = client.claims()
        u = info.usersInfo[0] if info.usersInfo else None
        return {"profile": prof.name, "userID": prof.user_id, "nickname": u.nickname if u else "",
                "platformID": prof.platform_id, "api": prof.api_url, "ws": prof.ws_url,
                "expires": claims.expires_at}

    result = run(body)
    if as_json:
        output.emit_json(result)
    else:
        rows = [(k, output.when(v) if k == "expires" else v) for k, v in result.items()]
        output.table("whoami", ["field", "value"], rows)


# --------------------------------------------------------------------------- api


@app.command()
def api(
    route: Annotated[str, typer.Argument(help="Route path, e.g. /user/get_users_info (see --list).")] = "",
    body: Annotated[str | None, typer.Argument(help="JSON body; '-' or omitted with piped stdin reads stdin.")] = None,
    list_routes: Annotated[bool, typer.Option("--list", help="List every route.")] = False,
    api_url: Annotated[str | None, typer.Option("--api", envvar="OPENIM_API",
                                                help="REST API URL when no profile is used.")] = None,
    profile: ProfileOpt = None,
) -> None:
    """Call any of the 153 REST routes with a JSON body and print the JSON answer."""
    import json

    from openim_sdk.protocol.routes import ROUTES, ROUTES_BY_PATH

    if list_routes:
        for r in ROUTES:
            typer.echo(f"{r.method:4} {r.path:55} {r.access}")
        return
    if not route:
        output.fail("give a route path, or --list", output.EXIT_USAGE)
    if not route.startswith("/"):
        route = "/" + route
    if route not in ROUTES_BY_PATH:
        output.fail(f"unknown route {route!r} (see `openim api --list`)", output.EXIT_USAGE)
    if body is None and not sys.stdin.isatty():
        body = "-"
    text = sys.stdin.read() if body == "-" else (body or "{}")
    try:
        payload = json.loads(text or "{}")
    except ValueError as exc:
        output.fail(f"the body is not valid JSON: {exc}", output.EXIT_USAGE)
    if not isinstance(payload, dict):
        output.fail("the body must be a JSON object", output.EXIT_USAGE)
    prof = need_profile(profile) if ROUTES_BY_PATH[route].needs_token else _maybe_profile(profile)

    async def call() -> Any:
        from openim_sdk.rest import RestClient

        url = prof.api_url if prof else (api_url or DEFAULT_API)
        async with RestClient(url, prof.token if prof else None) as c:
            return await c.call(route, payload)

    output.emit_json(run(call))


def _maybe_profile(name: str | None) -> Any:
    from . import profiles

    return profiles.load(name)


# --------------------------------------------------------------------------- users (admin)


@user_app.command("register")
def user_register(
    user_ids: Annotated[list[str], typer.Argument(help="User IDs to create.")],
    nickname: Annotated[str | None, typer.Option(help="Nickname (default: the user ID).")] = None,
    api: Annotated[str, typer.Option(envvar="OPENIM_API", help="REST API URL.")] = DEFAULT_API,
    secret: Annotated[str | None, typer.Option(
        envvar="OPENIM_SECRET", help="Admin secret (asked for when neither this nor --secret-file is given). On "
        "the command line it is visible to other local users: prefer --secret-file or OPENIM_SECRET.")] = None,
    secret_file: Annotated[str | None, typer.Option(
        envvar="OPENIM_SECRET_FILE", help="Read the admin secret from this file; takes precedence over --secret.")
    ] = None,
    admin_user: Annotated[str, typer.Option(help="Admin user ID.")] = "imAdmin",
    as_json: JsonOpt = False,
) -> None:
    """Register users (admin)."""
    if secret_file is not None:
        secret = _read_secret_file(secret_file)
    if secret is None:
        secret = typer.prompt("Admin secret", default="openIM123", hide_input=True, show_default=False)

    async def body() -> None:
        from openim_sdk.rest import RestClient

        admin = await RestClient.admin(api, secret, admin_user)
        async with admin:
            await admin.user.user_register(users=[{"userID": u, "nickname": nickname or u} for u in user_ids])

    run(body)
    output.done(as_json, f"Registered {', '.join(user_ids)}.", userIDs=list(user_ids))


def main() -> None:  # pragma: no cover - console script
    app()


# --------------------------------------------------------------------------- command modules

#: the modules that register commands on ``app`` when imported (besides this one)
COMMAND_MODULES = ("config_cmd", "demo", "help_cmd", "messaging", "social")


def load_commands(modules: tuple[str, ...] = COMMAND_MODULES) -> None:
    import importlib

    for name in modules:
        if name != "main":
            importlib.import_module(f"{__package__}.{name}")


# All of them, unless the console script runs a command whose module it knows (entry.COMMAND_MODULE).
from .entry import ONLY_MODULE  # noqa: E402

load_commands(COMMAND_MODULES if ONLY_MODULE is None else (ONLY_MODULE,))
