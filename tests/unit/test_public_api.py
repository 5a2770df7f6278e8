"""The package root re-exports the public surface (issue 13), lazily, and every name resolves."""

from __future__ import annotations

import subprocess
import sys

import openim_sdk


def test_every_exported_name_resolves_to_its_owner() -> None:
    for name in openim_sdk.__all__:
        value = getattr(openim_sdk, name)
        assert value is not None, name
    from openim_sdk.client import OpenIMClient
    from openim_sdk.protocol.errors import OpenIMError
    from openim_sdk.rest import RestClient

    assert openim_sdk.OpenIMClient is OpenIMClient and openim_sdk.RestClient is RestClient
    assert openim_sdk.OpenIMError is OpenIMError


def test_importing_the_package_does_not_load_the_client() -> None:
    code = ("import sys, openim_sdk; assert 'openim_sdk.client' not in sys.modules; "
            "from openim_sdk import OpenIMClient; assert 'openim_sdk.client' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_names_are_attribute_errors() -> None:
    try:
        openim_sdk.NoSuchThing  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_message_full_text_keeps_what_the_preview_folds_and_cuts() -> None:
    import json

    from openim_sdk import ContentType, Message

    body = "line one\n\n  line two " + "x" * 300
    m = Message(client_msg_id="x", conversation_id="si_a_b", send_id="a", recv_id="b", group_id="", session_type=1,
                content_type=ContentType.TEXT, content_json=json.dumps({"content": body}))
    assert m.full_text == body
    assert len(m.text) == 200 and "\n" not in m.text
    quote = Message(client_msg_id="q", conversation_id="si_a_b", send_id="a", recv_id="b", group_id="",
                    session_type=1, content_type=ContentType.QUOTE, content_json=json.dumps({"text": "  said  "}))
    assert quote.full_text == "  said  "


def test_the_protocol_package_loads_its_parts_on_demand() -> None:
    code = ("import sys; import openim_sdk.protocol.errors; "
            "assert 'openim_sdk.protocol.routes' not in sys.modules; "
            "assert 'openim_sdk.protocol.envelope' not in sys.modules; "
            "from openim_sdk.protocol import ROUTES, encode_request, jsoncodec; "
            "assert ROUTES and 'openim_sdk.protocol.routes' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
