"""The parity table (issue 13, item 5): every name it lists exists; it lists exactly what the
official core exports; docs/parity.md shows the same rows."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from openim_sdk import OpenIMClient
from openim_sdk.events import Event
from openim_sdk.social.events import CALLBACKS as SOCIAL_CALLBACKS

from .parity_table import CALLBACKS, FUNCTIONS, Row

ROOT = Path(__file__).resolve().parents[2]
SO = ROOT / "tests/interop/node_modules/@openim/electron-client-sdk/assets/linux_x64/libopenimsdk.so"
_NOT_OURS = re.compile(r"^_|^sqlite3_|Trampoline|^Call_CB_|^fatalf$|cgo|^crosscall")


def resolve(path: str, client: OpenIMClient) -> Any:
    """``client.a.b`` on the client instance, else a module path with attributes after it."""
    parts = path.split(".")
    if parts[0] == "client":
        obj: Any = client
        for p in parts[1:]:
            obj = getattr(obj, p)
        return obj
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for p in parts[i:]:
            obj = getattr(obj, p)
        return obj
    raise AssertionError(f"no module in {path}")


@pytest.fixture
def client(tmp_path: Path) -> OpenIMClient:
    return OpenIMClient("http://x", "ws://x", "u", "t", data_dir=tmp_path)


@pytest.mark.parametrize("row", FUNCTIONS, ids=[r[0] for r in FUNCTIONS])
def test_function_target_exists(row: Row, client: OpenIMClient) -> None:
    name, path, note = row
    if path is None:
        assert note, f"{name}: 'not built' needs a reason"
        return
    resolve(path, client)  # raises AttributeError / ImportError if the name is gone


@pytest.mark.parametrize("row", CALLBACKS, ids=[r[0] for r in CALLBACKS])
def test_callback_event_class_exists(row: Row, client: OpenIMClient) -> None:
    name, path, note = row
    if path is None:
        assert note, f"{name}: 'not built' needs a reason"
        return
    cls = resolve(path, client)
    assert isinstance(cls, type) and issubclass(cls, Event), path


def test_social_callbacks_agree_with_the_table() -> None:
    table = {name: path for name, path, _ in CALLBACKS}
    for name, cls in SOCIAL_CALLBACKS.items():
        assert table[name] == f"{cls.__module__}.{cls.__name__}", name


def test_table_has_no_duplicates() -> None:
    for rows in (FUNCTIONS, CALLBACKS):
        names = [r[0] for r in rows]
        assert len(names) == len(set(names))


def test_table_lists_exactly_what_the_official_core_exports() -> None:
    if not SO.exists():
        pytest.skip("tests/interop/node_modules not installed (npm ci in tests/interop): no libopenimsdk.so")
    if shutil.which("nm") is None:
        pytest.skip("binutils nm not installed")
    out = subprocess.run(["nm", "-D", "--defined-only", str(SO)], capture_output=True, text=True, check=True).stdout
    exported = {f[2] for f in (line.split() for line in out.splitlines()) if len(f) == 3 and f[1] == "T"}
    official = {n for n in exported if not _NOT_OURS.search(n)}
    assert official == {r[0] for r in FUNCTIONS}


def _doc_rows(text: str, section: str) -> list[tuple[str, str]]:
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in body.splitlines():
        m = re.match(r"^\| `([A-Za-z0-9_]+)` \| (`[^`]+`|not built) \|", line)
        if m:
            rows.append((m.group(1), m.group(2).strip("`")))
    return rows


def test_doc_shows_the_table() -> None:
    text = (ROOT / "docs/parity.md").read_text()
    for section, rows in (("Functions", FUNCTIONS), ("Listener callbacks", CALLBACKS)):
        assert _doc_rows(text, section) == [(n, p or "not built") for n, p, _ in rows], section
