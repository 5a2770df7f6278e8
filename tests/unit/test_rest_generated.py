"""Every route of the catalogue has a RestClient method whose parameters match its request."""

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from openim_sdk.protocol.routes import ROUTES
from openim_sdk.rest import RestClient
from openim_sdk.rest._generated import GROUPS

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from gen_rest import snake  # noqa: E402


def test_generated_file_is_fresh(tmp_path):
    out = tmp_path / "gen.py"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_rest.py"), str(out)], check=True)
    committed = (ROOT / "openim_sdk" / "rest" / "_generated.py").read_text()
    assert out.read_text() == committed, "stale: run scripts/gen_rest.py"


CLIENT = RestClient("http://127.0.0.1:1")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
def test_route_has_typed_method(route):
    client = CLIENT
    group = getattr(client, route.module)
    assert isinstance(group, GROUPS[route.module])
    method = getattr(group, route.name)
    assert inspect.iscoroutinefunction(method)
    sig = inspect.signature(method)
    params = {n for n, p in sig.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert "operation_id" in params
    if route.request is not None:
        expected = {snake(f.name) for f in route.request.DESCRIPTOR.fields}
        assert params - {"operation_id"} == expected
        # the method posts exactly the request message of the table
        src = inspect.getsource(method)
        assert f'route("{route.path}")' in src
        assert route.request_name in (method.__doc__ or "")
    assert route.path in (method.__doc__ or "")


def test_snake_case_names():
    assert snake("userIDs") == "user_ids"
    assert snake("faceURL") == "face_url"
    assert snake("IsSyncSelf") == "is_sync_self"
    assert snake("idHash") == "id_hash"
    assert snake("from") == "from_"
    assert snake("conversationIDs") == "conversation_ids"
    assert snake("URL") == "url"
    assert snake("pinnedConversationIDs") == "pinned_conversation_ids"
