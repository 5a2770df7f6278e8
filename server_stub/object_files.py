"""Object files on disk: safe paths under the objects dir, private modes, names and keys.

Pure filesystem rules of the bundled server's object storage (issue 12), used by
``services/third.py``: every path is built by :func:`safe_path`, which resolves it and refuses
anything that leaves the root or goes through a symlink; directories are 0700 and files 0600
whatever the umask; uploads are streamed to disk with a size limit, hashed on the way.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import unicodedata
import urllib.parse
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from openim_sdk.protocol.errors import ArgsError

from .context import need

MAX_NAME_BYTES = 1024
DIR_MODE = 0o700
FILE_MODE = 0o600
CHUNK = 1 << 20

HEX32 = re.compile(r"[0-9a-fA-F]{32}")
KEY = re.compile(r"[0-9a-f]{32}")  # a stored blob key / upload ID: lower-case hex, exactly 32
PART = re.compile(r"[1-9][0-9]{0,5}")


@dataclass
class ObjectState:
    """Per-server state of the object storage (``core.objects``): the objects dir, resolved on first
    use (``services.third.files_dir``), and the uploads in progress by upload ID."""

    files_dir: Path | None = None
    uploads: dict[str, Any] = field(default_factory=dict)


class UnsafePathError(ArgsError):
    """A filesystem path that would leave the objects dir (or pass a symlink): refused, never followed."""


def bad_component(part: str) -> bool:
    return (not isinstance(part, str) or part in ("", ".", "..") or "/" in part or "\\" in part
            or any(unicodedata.category(c) in ("Cc", "Cs") for c in part) or len(part) > 255)


def safe_path(root: Path, *parts: str) -> Path:
    """``root/part/...``, resolved; refused unless it stays under ``root`` without following a symlink.

    Each part must be one plain path component (no separator, ``.``/``..``, NUL or control character).
    The resolved path must equal the lexical one, so a symlink anywhere below ``root`` (pointing out or
    not) is a violation, as is any part that would climb out.
    """
    for part in parts:
        if bad_component(part):
            raise UnsafePathError(detail="invalid storage path")
    base = Path(root).resolve()
    target = base.joinpath(*parts)
    resolved = target.resolve()
    if resolved != target or not resolved.is_relative_to(base):
        raise UnsafePathError(detail="invalid storage path")
    return resolved


def mkdir_private(path: Path) -> None:
    """Create ``path`` (one level) as a real directory with mode 0700 whatever the umask."""
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(detail="invalid storage path")
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        os.chmod(path, DIR_MODE)


def regular_file(path: Path) -> bool:
    """True for an existing regular file that is not a symlink."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def open_write(path: Path) -> int:
    """An fd for writing ``path`` (created 0600, truncated; a symlink at ``path`` is refused)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_atomic(tmp: Path, dest: Path, data: bytes) -> None:
    """Write ``data`` to ``tmp`` (0600) and rename it over ``dest``; both already checked by safe_path."""
    fd = open_write(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)


def open_read(path: Path) -> int:
    return os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))


def check_hash(value: str) -> str:
    """OpenIM's hash (md5 hex of the joined part md5s): 32 hex chars, stored lower-case."""
    need(value, "hash is empty")
    if not HEX32.fullmatch(value):
        raise ArgsError(detail="hash must be 32 hex characters")
    return value.lower()


def check_id(value: str, what: str) -> str:
    """An upload/form ID the server generated: 32 hex chars."""
    need(value, f"{what} is empty")
    if not HEX32.fullmatch(value):
        raise ArgsError(detail=f"invalid {what}")
    return value.lower()


def name_problem(text: str) -> str | None:
    if text.startswith("/"):
        return "name must not be absolute"
    if "\\" in text:
        return "name must not contain a backslash"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
        return "name must not contain control characters"
    if ".." in text.split("/"):
        return "name must not contain '..'"
    return None


def normalize_name(name: str) -> str:
    """An object name, normalised (``.`` and empty segments dropped); 1001 ArgsError when unsafe.

    Refused: empty, over ``MAX_NAME_BYTES`` bytes of UTF-8, absolute, a ``..`` segment, a backslash,
    NUL or another control character, a lone surrogate, and the same in the name once or twice
    URL-decoded (``%2e%2e%2f``, ``%252e%252e%252f``), so no later decoding step can turn it into a path.
    """
    need(isinstance(name, str) and name, "name is empty")
    if len(name) > MAX_NAME_BYTES:
        raise ArgsError(detail="name too long")
    problem = name_problem(name)
    if problem:
        raise ArgsError(detail=problem)
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ArgsError(detail="name too long")
    text = name
    for _ in range(3):
        decoded = urllib.parse.unquote(text)
        if decoded == text:
            break
        problem = name_problem(decoded)
        if problem:
            raise ArgsError(detail=problem + " (URL-encoded)")
        text = decoded
    norm = "/".join(seg for seg in name.split("/") if seg not in ("", "."))
    need(norm, "name is empty")
    return norm


class TooLargeError(Exception):
    """A streamed body went past its limit (nothing was kept)."""


async def stream_to_file(chunks: AsyncIterator[bytes], tmp: Path, dest: Path, limit: int) -> tuple[int, str]:
    """Write ``chunks`` to ``tmp`` (0600), then rename over ``dest``: (size, md5 hex).

    Never holds more than one chunk in memory; past ``limit`` bytes the temp file is removed and
    :class:`TooLargeError` raised. Both paths must come from :func:`safe_path`.
    """
    fd = open_write(tmp)
    md5, size = hashlib.md5(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise TooLargeError(limit)
                md5.update(chunk)
                out.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return size, md5.hexdigest()


def md5_file(path: Path) -> str:
    """md5 hex of a regular file (read in chunks; blocking: call in a thread)."""
    md5 = hashlib.md5()
    fd = open_read(path)
    with os.fdopen(fd, "rb") as src:
        while chunk := src.read(CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def concat_files(parts: Iterable[Path], tmp: Path, dest: Path) -> None:
    """Join ``parts`` into ``tmp`` (0600) and rename over ``dest`` (blocking: call in a thread)."""
    fd = open_write(tmp)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with os.fdopen(open_read(part), "rb") as src:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)


class _FormSink:
    """python-multipart callbacks that copy one named field's bytes to ``out``."""

    def __init__(self, field: str, out: BinaryIO) -> None:
        self.field, self.out = field.encode(), out
        self.header = self.value = b""
        self.mine = self.done = False
        self.size = 0

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_header_field": self.on_header_field, "on_header_value": self.on_header_value,
                "on_header_end": self.on_header_end, "on_part_data": self.on_part_data,
                "on_part_end": self.on_part_end}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def on_header_end(self) -> None:
        from python_multipart.multipart import parse_options_header

        if self.header.lower() == b"content-disposition":
            _, opts = parse_options_header(self.value)
            self.mine = opts.get(b"name") == self.field and not self.done
        self.header = self.value = b""

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.mine:
            self.out.write(data[start:end])
            self.size += end - start

    def on_part_end(self) -> None:
        if self.mine:
            self.done, self.mine = True, False


def extract_form_file(body: Path, content_type: str, field: str, tmp: Path, dest: Path) -> int | None:
    """Copy the ``field`` part of the multipart/form-data file ``body`` into ``dest``: its size.

    Streams through python-multipart (never the whole body in memory); None when the body is not
    multipart/form-data or has no such field. Blocking: call in a thread.
    """
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        return None
    try:
        with os.fdopen(open_write(tmp), "wb") as out, os.fdopen(open_read(body), "rb") as src:
            sink = _FormSink(field, out)
            parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
            while chunk := src.read(CHUNK):
                parser.write(chunk)
            parser.finalize()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if not sink.done:
        tmp.unlink(missing_ok=True)
        return None
    os.replace(tmp, dest)
    return sink.size
