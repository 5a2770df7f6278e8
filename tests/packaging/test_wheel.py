"""The built distribution works outside the checkout (issue 17: distribution, extras, package data).

Builds the sdist and the wheel with ``python -m build``, installs the wheel into fresh venvs in a
temporary directory (never the checkout: the tests run from a cwd where the sources are not
importable) and there runs the SDK, ``openim server``, ``openim demo --script`` and
``openim --version``. A second venv holds the wheel without extras: the SDK imports, the CLI,
chat and server dependencies are absent, and ``openim`` says which extra to install.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
pytestmark = pytest.mark.packaging


def _run(args: list[str], cwd: Path, timeout: float = 600, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} -> {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def _clean_env(home: Path) -> dict[str, str]:
    """No PYTHONPATH or venv of the caller leaks in; config and data go to a temporary HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "OPENIM_"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               OPENIM_CONFIG_DIR=str(home / "cfg"), OPENIM_DATA_DIR=str(home / "data"))
    return env


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(out), str(ROOT)], cwd=out)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (whl,) = dist.glob("openim_py-*.whl")
    return whl


def _venv(where: Path, requirement: str) -> Path:
    _run([sys.executable, "-m", "venv", str(where)], cwd=where.parent)
    py = where / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", requirement], cwd=where.parent)
    return py


@pytest.fixture(scope="module")
def full_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("venv-all") / "v", f"{wheel}[all]")


@pytest.fixture(scope="module")
def base_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("venv-sdk") / "v", str(wheel))


def test_sdist_and_wheel_carry_the_package_data(dist: Path, wheel: Path) -> None:
    assert list(dist.glob("openim_py-*.tar.gz")), list(dist.iterdir())
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("openim_sdk/protocol/data/") and n.endswith(".json") for n in names), "route table"
    assert any(n.startswith("openim_sdk/protocol/pb/") and n.endswith("_pb2.py") for n in names), "proto modules"
    assert any(n.startswith("openim_tui/") and n.endswith(".tcss") for n in names), "chat stylesheet"
    assert "openim_sdk/py.typed" in names
    assert not any(n.startswith("tests/") for n in names)


@pytest.fixture
def server(full_venv: Path, tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = _clean_env(tmp_path / "home")
    proc = subprocess.Popen([str(full_venv.parent / "openim"), "server", "--api-port", "0", "--ws-port", "0",
                             "--data", str(tmp_path / "server.sqlite3")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("READY"):
                ports = dict(kv.split("=") for kv in line.split()[1:])
                break
        else:
            raise AssertionError(f"openim server did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield f"http://127.0.0.1:{ports['api_port']}", f"ws://127.0.0.1:{ports['ws_port']}"
    finally:
        proc.terminate()
        proc.wait(15)


def test_wheel_with_all_extras_runs_outside_the_checkout(full_venv: Path, server: tuple[str, str],
                                                         tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    py = str(full_venv)
    where = _run([py, "-c", "import openim_sdk, openim_cli, openim_tui, server_stub; "
                            "print(openim_sdk.__file__, openim_tui.__file__)"], cwd=tmp_path, env=env)
    assert str(ROOT) not in where.stdout and str(full_venv.parents[1]) in where.stdout, where.stdout

    version = _run([str(full_venv.parent / "openim"), "--version"], cwd=tmp_path, env=env)
    assert version.stdout.startswith("openim ")

    # the chat's stylesheet and the route table load from the installed package
    _run([py, "-c", "from openim_tui.app import ChatApp; from openim_sdk.protocol.routes import ROUTES; "
                    "assert len(ROUTES) == 153, len(ROUTES); "
                    "import pathlib, openim_tui; assert list(pathlib.Path(openim_tui.__file__).parent.rglob('*.tcss'))"],
         cwd=tmp_path, env=env)

    api, ws = server
    got = _run([py, str(HERE / "wheel_roundtrip.py"), api, ws, str(tmp_path / "clients")], cwd=tmp_path, env=env,
               timeout=120)
    assert "RECEIVED hello from the wheel" in got.stdout, got.stdout + got.stderr


def test_demo_script_from_the_wheel(full_venv: Path, tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    out = _run([str(full_venv.parent / "openim"), "demo", "--script", "--api-port", "0", "--ws-port", "0",
                "--data", str(tmp_path / "demo.sqlite3")], cwd=tmp_path, env=env, timeout=180)
    assert any(line.startswith("bob: bob heard: ") for line in out.stdout.splitlines()), out.stdout


def test_sdk_only_install_is_small_and_openim_names_the_extra(base_venv: Path, tmp_path: Path) -> None:
    env = _clean_env(tmp_path / "home")
    py = str(base_venv)
    _run([py, "-c", "from openim_sdk.client import OpenIMClient; from openim_sdk.rest import RestClient; "
                    "import importlib.util as u; "
                    "absent = [m for m in ('typer', 'textual', 'uvicorn', 'starlette', 'rich') if u.find_spec(m)]; "
                    "assert not absent, absent"], cwd=tmp_path, env=env)
    cli = _run([str(base_venv.parent / "openim"), "--version"], cwd=tmp_path, env=env, check=False)
    assert cli.returncode == 2, cli
    assert "pip install 'openim-py[cli]'" in cli.stderr and "Traceback" not in cli.stderr, cli.stderr
