"""The ``openim`` console script: checks that the ``cli`` extra is installed before importing it.

``pip install openim-py`` gives the SDK only; the command needs ``openim-py[cli]`` (Typer, rich).
Without it, a one-line message says which extra to install instead of an ImportError traceback.
This module imports nothing outside the standard library.
"""

from __future__ import annotations

import importlib.util
import sys

#: extra name -> the top-level modules it brings (checked by :func:`missing_extra`)
EXTRAS: dict[str, tuple[str, ...]] = {
    "cli": ("typer", "rich"),
    "tui": ("textual",),
    "server": ("uvicorn", "starlette", "python_multipart", "prometheus_client"),
}


def missing_extra(*extras: str) -> str | None:
    """The first of ``extras`` whose modules are not importable, or None when all are there."""
    for extra in extras:
        if any(importlib.util.find_spec(mod) is None for mod in EXTRAS[extra]):
            return extra
    return None


def install_hint(extra: str) -> str:
    return f"pip install 'openim-py[{extra}]'"


def main() -> None:
    extra = missing_extra("cli")
    if extra is not None:
        sys.stderr.write(f"error: the openim command needs the {extra!r} extra: {install_hint(extra)}\n")
        raise SystemExit(2)
    from .main import app

    app(prog_name="openim")


if __name__ == "__main__":  # pragma: no cover
    main()
