"""The gateway's response encoder: :func:`openim_sdk.protocol.envelope.encode_response`, byte for
byte, with a shortcut for big JSON frames (issue 16).

A JSON envelope's ``data`` is standard base64, which holds none of the characters Go escapes
(``<``, ``>``, ``&``, U+2028, U+2029), and it is the last key. So the small fields are encoded
(and checked) by the SDK codec with empty data, and the base64 text is put in place of its
``null``, instead of passing a page of 100 KB through ``json.dumps`` and the escaping regex.
"""

from __future__ import annotations

import base64
import dataclasses

from openim_sdk.protocol.envelope import WsResponse, gzip_compress
from openim_sdk.protocol.envelope import encode_response as _encode_response

#: Below this many bytes of data the plain codec is as fast.
SPLICE_FROM = 2048
_NULL_TAIL = b'"data":null}'


def encode_response(resp: WsResponse, encoding: str = "gob", compress: bool = False) -> bytes:
    if encoding != "json" or len(resp.data) < SPLICE_FROM:
        return _encode_response(resp, encoding, compress)  # type: ignore[arg-type]
    head = _encode_response(dataclasses.replace(resp, data=b""), "json", False)
    if not head.endswith(_NULL_TAIL):  # pragma: no cover - the codec's key order changed
        return _encode_response(resp, encoding, compress)  # type: ignore[arg-type]
    raw = b"".join((head[:-5], b'"', base64.b64encode(resp.data), b'"}'))
    return gzip_compress(raw) if compress else raw
