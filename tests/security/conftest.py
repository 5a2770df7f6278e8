"""Security tests run against the real bundled server: the integration fixtures, shared."""

from __future__ import annotations

import json
import os
from typing import Any

from openim_sdk.protocol.pb.sdkws import sdkws_pb2
from tests.integration.conftest import (  # noqa: F401  (pytest fixtures)
    Api,
    WsClient,
    admin,
    http,
    op_id,
    server,
    server_config,
    ws_url,
)


def user_msg(user: str, recv: str = "", group: str = "", text: str = "hi", content_type: int = 101,
             **fields: Any) -> bytes:
    """A serialized MsgData as an ordinary client sends it (unique clientMsgID); ``fields`` override,
    ``options={...}`` sets options."""
    m = sdkws_pb2.MsgData(sendID=user, recvID=recv, groupID=group, clientMsgID=os.urandom(16).hex(),
                          sessionType=3 if group else 1, msgFrom=100, contentType=content_type,
                          content=json.dumps({"content": text}).encode(), senderPlatformID=5)
    for k, v in fields.items():
        if k == "options":
            m.options.update(v)
        else:
            setattr(m, k, v)
    return m.SerializeToString()
