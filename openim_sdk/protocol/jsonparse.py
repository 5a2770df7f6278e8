"""Raw JSON text to Python values, as Go's ``encoding/json`` accepts it, with hostile-input limits.

The first stage of :mod:`openim_sdk.protocol.jsoncodec` (and of the server's WS text frames):
UTF-8 only, no NaN/Infinity, non-empty; nesting at most :data:`MAX_DEPTH`, at most
:data:`MAX_VALUES` values, both checked on the raw text before anything is built; a lone
surrogate escape is an error (Go substitutes U+FFFD). Every failure is a
:class:`~openim_sdk.protocol.errors.CodecError` (1001).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from openim_sdk.protocol.errors import CodecError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "SURROGATES", "Pairs", "checked_str", "loads", "parse", "surrogate_error"]

#: Maximum nesting of JSON containers / messages accepted or produced. Go's encoding/json allows
#: 10000; OpenIM's real requests nest fewer than 10 levels. 100 is ample, and keeps the recursive
#: walks here (about two Python frames per level) far below Python's recursion limit of 1000.
MAX_DEPTH = 100
#: Maximum number of values (array elements, object members: counted by their separators) in one
#: document (Go: no limit). Real requests hold a few thousand; millions (``[[],[],...]``, ``[0,0,...]``)
#: cost seconds of parsing and garbage collection that hold the GIL and so stall every other client.
MAX_VALUES = 250_000

SURROGATES = re.compile("[\ud800-\udfff]")
#: A ``\uD800``-``\uDFFF`` escape: only then can parsed text hold a lone surrogate.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
#: A string literal, a bracket or a separator: what the structure pre-scan looks at.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def _err(text: str, path: str = "") -> CodecError:
    return CodecError(message=text, detail=path)


def surrogate_error(value: str, path: str = "") -> CodecError:
    found = SURROGATES.search(value)
    code = f"\\u{ord(found.group(0)):04x}" if found else "?"
    where = f" in field {path}" if path else ""
    return _err(f"json: invalid Unicode{where}: lone surrogate {code} (not a valid UTF-8 string)", path)


def checked_str(value: str, path: str = "") -> str:
    """``value`` unless it holds a lone surrogate, which is an error (see the module docstring)."""
    if SURROGATES.search(value):
        raise surrogate_error(value, path)
    return value


class Pairs(list[tuple[str, Any]]):
    """A JSON object kept as its ordered key/value pairs (duplicates preserved)."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid character in JSON: {name}")


def _to_text(data: bytes | bytearray | memoryview | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _err(f"json: invalid UTF-8 in input at byte {exc.start}") from exc


def parse(data: bytes | bytearray | memoryview | str, hook: Callable[[list[tuple[str, Any]]], Any]) -> Any:
    if not isinstance(data, bytes | bytearray | memoryview | str):
        raise _err(f"json: cannot decode input of type {type(data).__name__}")
    text = _to_text(data)
    if not text.strip(" \t\r\n"):
        raise _err("unexpected end of JSON input")
    if isinstance(data, str) and SURROGATES.search(text):
        raise surrogate_error(text)
    _check_structure(text)
    try:
        value = json.loads(text, object_pairs_hook=hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _err(f"json: invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except RecursionError as exc:  # far deeper than MAX_DEPTH (the C parser recurses per level)
        raise _err(f"json: exceeded max depth {MAX_DEPTH}") from exc
    except (ValueError, TypeError, OverflowError) as exc:
        raise _err(f"json: invalid JSON: {exc}") from exc
    if _SURROGATE_ESCAPE.search(text):  # only then can a parsed string hold a lone surrogate
        _check_strings(value)
    return value


def _check_structure(text: str) -> None:
    """Nesting depth and value count from the raw text, before anything is built. A Python token
    loop holds the GIL only briefly at a time: on a worker thread it never stalls the event loop."""
    if text.count("[") + text.count("{") <= MAX_DEPTH and text.count(",") < MAX_VALUES:  # C-speed bounds
        return
    depth = values = 0
    for match in _TOKENS.finditer(text):
        ch = text[match.start()]
        if ch == ",":
            values += 1
            if values >= MAX_VALUES:
                raise _err(f"json: more than {MAX_VALUES} values")
        elif ch == "[" or ch == "{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _err(f"json: exceeded max depth {MAX_DEPTH}")
        elif ch != '"':
            depth -= 1


def loads(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse raw JSON like Go would accept it (no NaN/Infinity, non-empty, UTF-8).

    Returns plain Python values (dicts keep the last value of a duplicated key). Raises
    :class:`CodecError` on any failure, including nesting deeper than :data:`MAX_DEPTH` and lone
    surrogate escapes.
    """
    return parse(data, dict)


def _check_strings(value: Any) -> None:
    """No string or key of a parsed value holds a lone surrogate."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            checked_str(item)
        elif isinstance(item, dict):
            stack.extend(item.items())  # (key, value) tuples
        elif isinstance(item, list | tuple):  # Pairs too
            stack.extend(item)
