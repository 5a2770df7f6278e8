"""Output for people (rich) and scripts (``--json``), and the one place errors become exit codes.

Exit codes: 0 ok; 1 an OpenIM error (code and name shown); 2 usage; 3 server unreachable;
4 session kicked or expired (log in again).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

EXIT_OPENIM = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_SESSION = 4


def console(stderr: bool = False) -> Any:
    return _console(stderr)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    # NO_COLOR (https://no-color.org): no escapes at all, not only no colours (bold/dim too).
    plain = bool(os.environ.get("NO_COLOR"))
    return Console(stderr=stderr, no_color=plain, color_system=None if plain else "auto", highlight=False)


def to_jsonable(value: Any) -> Any:
    from google.protobuf.message import Message

    if isinstance(value, Message):
        from openim_sdk.protocol import jsoncodec

        return jsoncodec.to_go_dict(value)
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_jsonable(value), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def say(text: str) -> None:
    # soft_wrap: a long line stays one line when piped (rich would wrap it at 80 columns).
    _console().print(text, soft_wrap=True)


def done(as_json: bool, text: str, **fields: Any) -> None:
    """The outcome of a command that changes something: one line for people, or with ``--json``
    ``{"ok": true, "message": ..., **fields}`` (the line without its styling)."""
    if as_json:
        from rich.text import Text

        emit_json({"ok": True, "message": Text.from_markup(text).plain, **fields})
    else:
        say(text)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.table import Table

    t = Table(title=title, title_justify="left")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    _console().print(t)


def when(epoch_seconds: float | int | None) -> str:
    """A point in time for people: local date and time plus how far away it is."""
    import datetime

    if not epoch_seconds:
        return ""
    at = datetime.datetime.fromtimestamp(float(epoch_seconds)).astimezone()
    delta = float(epoch_seconds) - datetime.datetime.now().timestamp()
    span, unit = abs(delta), "s"
    for size, name in ((86400, "d"), (3600, "h"), (60, "min")):
        if span >= size:
            span, unit = span / size, name
            break
    rel = f"in {span:.0f} {unit}" if delta >= 0 else f"{span:.0f} {unit} ago"
    return f"{at:%Y-%m-%d %H:%M %Z} ({rel})"


def warn(message: str) -> None:
    _console(stderr=True).print(f"[bold yellow]warning:[/] {message}", markup=True, soft_wrap=True)


def need_extra(*extras: str, what: str) -> None:
    """Stop with a one-line hint when ``what`` needs an extra that is not installed."""
    from .entry import install_hint, missing_extra

    extra = missing_extra(*extras)
    if extra is not None:
        fail(f"{what} needs the {extra!r} extra: {install_hint(extra)}", EXIT_USAGE)


def fail(message: str, code: int) -> None:
    import typer

    _console(stderr=True).print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors() -> Iterator[None]:
    """Turn SDK exceptions into one clear line and the documented exit code."""
    from openim_sdk.protocol import errors as e

    try:
        yield
    except e.TokenError as exc:
        fail(f"{exc.code} {exc.name}: your session is no longer valid; run `openim login` again", EXIT_SESSION)
    except e.KickedError:
        fail("this session was kicked by another login; run `openim login` again", EXIT_SESSION)
    except e.NetworkError as exc:
        where = f" ({exc.detail})" if exc.detail else ""
        fail(f"cannot reach the server: {exc.message}{where}", EXIT_UNREACHABLE)
    except e.OpenIMError as exc:
        # a local error has no OpenIM code: "0 Success: ..." would read as a contradiction
        text = f"{exc.code} {exc.name}" if exc.code else ""
        if exc.message and exc.message != exc.name:
            text = f"{text}: {exc.message}" if text else exc.message
        if exc.detail:
            text += f" — {exc.detail}"
        fail(text, EXIT_OPENIM)
