"""Quotes of revoked messages, rewritten when messages are read (pulled), as upstream does.

Upstream pkg/common/storage/controller/msg.go ``handlerDBMsg``: a quote message (contentType 114)
whose ``quoteMessage`` names a seq of the same conversation that was revoked (or no longer exists) is
served with ``quoteMessage.contentType`` 2101 and ``quoteMessage.content`` = the revoked message's
content (``"{}"`` when it is gone); a quoted content of ``"e30="`` (base64 of ``{}``) reads as ``"{}"``.
One difference: upstream also marks a quote of a seq-less message (seq 0) as revoked; here only
quotes naming a seq are checked.
Nothing is rewritten in storage and live pushes are not touched (upstream does it on reads only).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.constants import ContentType
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

if TYPE_CHECKING:
    from ..app import ServerCore


def _quote(m: sdkws_pb2.MsgData) -> dict[str, Any] | None:
    if m.contentType != ContentType.QUOTE or not m.content:
        return None
    try:
        body = json.loads(m.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or not isinstance(body.get("quoteMessage"), dict):
        return None
    return body


async def rewrite_quotes(core: ServerCore, cid: str, msgs: list[sdkws_pb2.MsgData]) -> None:
    """Rewrite, in place, the quotes in ``msgs`` (read from ``cid``) whose quoted message was revoked."""
    quotes = [(m, q) for m in msgs if (q := _quote(m)) is not None]
    if not quotes:
        return
    wanted = {int(q["quoteMessage"].get("seq") or 0) for _, q in quotes} - {0}
    rows = await core.storage.messages_by_seqs(cid, sorted(wanted)) if wanted else {}
    from .msg_read import render_message

    for m, q in quotes:
        quoted = q["quoteMessage"]
        changed = False
        if quoted.get("content") == "e30=":
            quoted["content"], changed = "{}", True
        seq = int(quoted.get("seq") or 0)
        if seq <= 0 and quoted.get("contentType") == ContentType.MSG_REVOKE_NOTIFICATION:
            pass
        elif seq > 0:
            row = rows.get(seq)
            if row is None or row.revoke is not None:
                quoted["contentType"] = int(ContentType.MSG_REVOKE_NOTIFICATION)
                quoted["content"] = render_message(row, seq).content.decode() if row is not None else "{}"
                changed = True
        if changed:
            m.content = json.dumps(q, ensure_ascii=False, separators=(",", ":")).encode()
