"""The ``openim`` console script: checks that the ``cli`` extra is installed before importing it.

``pip install openim-py`` gives the SDK only; the command needs ``openim-py[cli]`` (Typer, rich).
Without it, a one-line message says which extra to install instead of an ImportError traceback.
The top-level help comes from :mod:`openim_cli.helpcache` (no Typer import once it is cached).
This module imports nothing outside the standard library.
"""

from __future__ import annotations

import importlib.util
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
    from .main import app

    app(prog_name="openim")


if __name__ == "__main__":  # pragma: no cover
    main()
