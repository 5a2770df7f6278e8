"""The top-level help (``openim``, ``openim --help``, ``openim -h``) without importing Typer.

Typer and the command modules cost ~35 ms of imports before a line is printed, more than the
whole start-up budget. The first run renders the help with Typer, as always, and keeps what it
wrote (stdout, stderr, exit code) in a small cache file; later runs print it with stdlib-only code.

The cache is keyed by everything that can change the text: the size and mtime of every module of
``openim_cli`` (the commands and their docstrings), of ``openim_sdk/__init__.py`` (the version)
and of the ``typer`` and ``rich`` packages' ``__init__.py`` (an upgrade), the terminal width as
click computes it (``COLUMNS``, else the size of the terminal on stdout), the environment variables
that affect the formatting (``TYPER_*``, ``NO_COLOR``, ``FORCE_COLOR``, ``TERM``, the locale), the
Python version and the arguments. A key that is not in the file renders again (the file keeps the
last few keys, so a couple of terminal widths do not evict each other). It is not used when
Typer's rich help is on (``TYPER_USE_RICH=1``), during shell completion, or with
``OPENIM_NO_HELP_CACHE=1``. Where it lives: ``$OPENIM_CACHE_DIR``, else the platform's user cache
directory (``~/.cache/openim-py`` on Linux). A cache that cannot be read or written is ignored.

This module imports nothing outside the standard library (and only what ``python -c pass``
already has loaded, plus ``marshal``).
"""

from __future__ import annotations

import marshal
import os
import sys

TYPE_CHECKING = False  # not `from typing import`: typing costs ~7 ms to import

if TYPE_CHECKING:
    from collections.abc import Sequence

FORMAT = 1
FILE_NAME = "help-cache.marshal"
#: argument lists whose output is cached: all three print the top-level help
ARGV: frozenset[tuple[str, ...]] = frozenset({(), ("--help",), ("-h",)})
KEEP = 8
_ENV = ("COLUMNS", "NO_COLOR", "FORCE_COLOR", "TERM", "LANG", "LANGUAGE", "LC_ALL", "LC_MESSAGES")
_ENV_PREFIXES = ("TYPER_", "_TYPER_")

#: what a run printed: (stdout, stderr, exit code)
Output = tuple[str, str, int]


def applies(argv: Sequence[str]) -> bool:
    """Whether this command line prints the cacheable top-level help."""
    env = os.environ
    if tuple(argv) not in ARGV or env.get("OPENIM_NO_HELP_CACHE"):
        return False
    if env.get("TYPER_USE_RICH") != "0":  # openim_cli/__init__ sets "0"; anything else may mean rich
        return False
    return not any(k.startswith("_") and k.endswith("_COMPLETE") for k in env)  # shell completion


def cache_dir() -> str:
    env = os.environ
    if env.get("OPENIM_CACHE_DIR"):
        return env["OPENIM_CACHE_DIR"]
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        return os.path.join(env.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local"), "openim-py", "Cache")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Caches", "openim-py")
    return os.path.join(env.get("XDG_CACHE_HOME") or os.path.join(home, ".cache"), "openim-py")


def _stat(path: str | None) -> tuple[int, int] | None:
    if not path:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


def columns() -> int:
    """The terminal width as ``shutil.get_terminal_size`` finds it (what click's help formatter uses)."""
    try:
        cols = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        cols = 0
    if cols <= 0:
        try:
            cols = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            cols = 0
    return cols or 80


def key(argv: Sequence[str], origins: Sequence[str | None] = ()) -> tuple[object, ...]:
    """Everything the help text depends on (see the module docstring); ``origins``: the files of the
    packages that render it (typer's and rich's ``__init__.py``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        modules = sorted((e.name, *(_stat(e.path) or ())) for e in os.scandir(here) if e.name.endswith(".py"))
    except OSError:
        modules = []
    env = sorted((k, v) for k, v in os.environ.items() if k in _ENV or k.startswith(_ENV_PREFIXES))
    return (FORMAT, sys.hexversion, tuple(argv), columns(), tuple(env), tuple(modules),
            _stat(os.path.join(os.path.dirname(here), "openim_sdk", "__init__.py")),
            tuple(_stat(o) for o in origins))


def _load(path: str) -> dict[object, Output]:
    try:
        with open(path, "rb") as fh:
            data = marshal.load(fh)
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def read(k: tuple[object, ...]) -> Output | None:
    found = _load(os.path.join(cache_dir(), FILE_NAME)).get(k)
    if isinstance(found, tuple) and len(found) == 3:
        return found
    return None


def write(k: tuple[object, ...], out: Output) -> None:
    """Add ``out`` under ``k`` (atomically: concurrent runs never see half a file); errors are ignored."""
    if "\x1b" in out[0] + out[1]:  # styled output depends on the terminal: not cached
        return
    folder = cache_dir()
    path = os.path.join(folder, FILE_NAME)
    data = _load(path)
    data.pop(k, None)
    data[k] = out
    while len(data) > KEEP:
        del data[next(iter(data))]
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(folder, exist_ok=True)
        with open(tmp, "wb") as fh:
            marshal.dump(data, fh)
        os.replace(tmp, path)
    except (OSError, ValueError):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def render(argv: Sequence[str]) -> Output:
    """Run the Typer app on ``argv`` and capture what it prints (the help never touches anything else)."""
    import contextlib
    import io

    from .main import app

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app(args=list(argv), prog_name="openim")
        except SystemExit as exc:
            code = exc.code
    return out.getvalue(), err.getvalue(), code if isinstance(code, int) else (0 if code is None else 1)


def show(out: Output) -> None:
    """Print a captured run and exit as it did."""
    stdout, stderr, code = out
    if stdout:
        sys.stdout.write(stdout)
        sys.stdout.flush()
    if stderr:
        sys.stderr.write(stderr)
        sys.stderr.flush()
    raise SystemExit(code)


def run(argv: Sequence[str], origins: Sequence[str | None] = ()) -> None:
    """Print the help for ``argv`` from the cache, rendering (and caching) it first when needed; exits."""
    k = key(argv, origins)
    out = read(k)
    if out is None:
        out = render(argv)
        write(k, out)
    show(out)
