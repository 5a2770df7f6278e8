"""The ``openim`` console script: checks that the ``cli`` extra is installed before importing it.

``pip install openim-py`` gives the SDK only; the command needs ``openim-py[cli]`` (Typer, rich).
Without it, a one-line message says which extra to install instead of an ImportError traceback.
The top-level help comes from :mod:`openim_cli.helpcache` (no Typer import once it is cached).
This module imports nothing outside the standard library.
"""

from __future__ import annotations

import importlib.util
import os
import sys

TYPE_CHECKING = False  # not `from typing import`: typing costs ~7 ms to import

if TYPE_CHECKING:
    from collections.abc import Sequence

#: extra name -> the top-level modules it brings (checked by :func:`missing_extra`)
EXTRAS: dict[str, tuple[str, ...]] = {
    "cli": ("typer", "rich"),
    "tui": ("textual",),
    "server": ("uvicorn", "starlette", "python_multipart", "prometheus_client"),
}


def missing_extra(*extras: str) -> str | None:
    """The first of ``extras`` whose modules are not importable, or None when all are there."""
    return _find(extras)[0]


def _find(extras: Sequence[str]) -> tuple[str | None, list[str | None]]:
    """(the first missing extra or None, the files of the modules found: a cache key of the help)."""
    origins: list[str | None] = []
    for extra in extras:
        for mod in EXTRAS[extra]:
            spec = importlib.util.find_spec(mod)
            if spec is None:
                return extra, origins
            origins.append(spec.origin)
    return None, origins


def install_hint(extra: str) -> str:
    return f"pip install 'openim-py[{extra}]'"


def main() -> None:
    extra, origins = _find(("cli",))
    if extra is not None:
        sys.stderr.write(f"error: the openim command needs the {extra!r} extra: {install_hint(extra)}\n")
        raise SystemExit(2)
    from . import helpcache

    if helpcache.applies(sys.argv[1:]):
        helpcache.run(sys.argv[1:], origins)  # the top-level help without importing Typer; exits
    # httpx imports its own command line (click, pygments, rich.syntax/progress/table: ~30 ms) unless
    # that import fails, which httpx/__init__ allows for (its ``main`` then only prints a hint).
    # `openim` never runs httpx's CLI: block it before anything imports httpx.
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    global ONLY_MODULE
    ONLY_MODULE = _module_of(sys.argv[1:])
    from .main import app

    if sys.argv[1:2] and sys.argv[1] in QUICK_EXIT:
        try:
            app(prog_name="openim")
        except SystemExit as exc:
            _quick_exit(exc.code)
        _quick_exit(0)
    app(prog_name="openim")


#: top-level command -> the module that defines it and its subcommands ("main": openim_cli.main). A run
#: of one of these imports only that module, so Typer builds a few commands, not all ~45
#: (tests/cli/test_help_cache.py checks the table against the full command tree). ``help`` walks the
#: whole tree, and an unknown name gets click's suggestions: both load every module.
COMMAND_MODULE: dict[str, str] = {
    "server": "main", "login": "main", "logout": "main", "whoami": "main", "api": "main", "user": "main",
    "send": "messaging", "pull": "messaging", "watch": "messaging", "read": "messaging", "revoke": "messaging",
    "download": "messaging", "search": "messaging",
    "friends": "social", "groups": "social", "conversations": "social",
    "config": "config_cmd", "chat": "demo", "demo": "demo",
}
#: set by :func:`main` before it imports :mod:`openim_cli.main`: the one command module this run
#: needs, or None for all of them
ONLY_MODULE: str | None = None


def _module_of(argv: list[str]) -> str | None:
    """The command module of ``openim COMMAND ...`` (an option first, such as ``-V``: None, all)."""
    return COMMAND_MODULE.get(argv[0]) if argv else None


#: commands that hold nothing open when they return (their SDK session, REST client and cache are
#: closed by then): the process ends with ``os._exit`` instead of Python's finalization
QUICK_EXIT = frozenset({"send", "pull", "read", "revoke", "search", "download", "whoami", "api", "conversations",
                        "friends", "groups"})


def _quick_exit(code: object) -> None:
    """End the process without tearing down every module: with the SDK, httpx and Typer loaded that
    teardown costs ~90 ms, a fifth of an ``openim send``. What an exit would still do is done here:
    ``logging.shutdown`` (the only ``atexit`` handler these commands register) and flushing stdout and
    stderr. The normal exit is kept while another thread runs, under coverage (it writes its data at
    exit), with ``OPENIM_NO_QUICK_EXIT=1``, or when flushing fails (a closed pipe: Python reports it)."""
    if (not isinstance(code, int | None) or os.environ.get("OPENIM_NO_QUICK_EXIT") or "coverage" in sys.modules
            or ("threading" in sys.modules and sys.modules["threading"].active_count() > 1)):
        raise SystemExit(code)
    try:
        if "logging" in sys.modules:
            sys.modules["logging"].shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        raise SystemExit(code) from None
    os._exit(code or 0)


if __name__ == "__main__":  # pragma: no cover
    main()
