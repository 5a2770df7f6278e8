"""The committed generated modules are exactly what scripts/gen_proto.py makes from proto/."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openim_sdk" / "protocol" / "pb"


@pytest.mark.skipif(importlib.util.find_spec("grpc_tools") is None, reason="grpcio-tools not installed")
def test_generated_modules_are_fresh(tmp_path):
    out = tmp_path / "pb"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_proto.py"), str(out)], check=True)
    fresh = {p.relative_to(out): p.read_text() for p in out.rglob("*.py*") if p.is_file()}
    committed = {
        p.relative_to(COMMITTED): p.read_text()
        for p in COMMITTED.rglob("*.py*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert sorted(fresh) == sorted(committed), "generated file set differs: run scripts/gen_proto.py"
    stale = [str(k) for k in fresh if fresh[k] != committed[k]]
    assert not stale, f"stale generated modules (run scripts/gen_proto.py): {stale}"


def test_every_proto_has_a_module():
    protos = {p.stem for p in (ROOT / "proto").glob("*/*.proto")}
    modules = {p.name.removesuffix("_pb2.py") for p in COMMITTED.rglob("*_pb2.py")}
    assert protos == modules
