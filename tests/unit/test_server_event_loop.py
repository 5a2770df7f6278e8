"""uvloop is an optional extra of the server ([speed]): used when installed, never required."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from server_stub import cli


def test_uvloop_is_off_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENIM_UVLOOP", "0")
    assert cli.loop_factory() is None


def test_without_uvloop_the_server_uses_asyncio(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENIM_UVLOOP", raising=False)
    real_import = builtins.__import__

    def no_uvloop(name: str, *args: Any, **kw: Any) -> Any:
        if name == "uvloop":
            raise ImportError("no uvloop here")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_uvloop)
    assert cli.loop_factory() is None


def test_with_uvloop_installed_it_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    uvloop = pytest.importorskip("uvloop")
    monkeypatch.delenv("OPENIM_UVLOOP", raising=False)
    assert cli.loop_factory() is uvloop.new_event_loop
