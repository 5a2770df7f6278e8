"""Requests awaiting their reply on the long connection, matched by ``msgIncr`` (spec
ws-protocol §2): the one table of them, so a reply, a drop or the end of the loop settles
each waiter exactly once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from openim_sdk.protocol.envelope import WsResponse
from openim_sdk.protocol.errors import NetworkError
from openim_sdk.rest._transport import new_operation_id


@dataclass
class Pending:
    future: asyncio.Future[WsResponse]
    operation_id: str
    req_identifier: int


class PendingRequests:
    def __init__(self, user_id: str) -> None:
        self._user_id = user_id
        self._waiting: dict[str, Pending] = {}

    def open(self, operation_id: str, req_identifier: int) -> tuple[str, Pending]:
        """A new waiter: its unique ``msgIncr`` (``<userID>_<operationID>``) and the entry."""
        msg_incr = f"{self._user_id}_{operation_id}"
        while msg_incr in self._waiting:
            msg_incr = f"{self._user_id}_{new_operation_id()}"
        entry = Pending(asyncio.get_running_loop().create_future(), operation_id, int(req_identifier))
        self._waiting[msg_incr] = entry
        return msg_incr, entry

    def close(self, msg_incr: str) -> None:
        """The caller stopped waiting (answered, timed out, failed)."""
        entry = self._waiting.pop(msg_incr, None)
        if entry is not None and not entry.future.done():
            entry.future.cancel()

    def answer(self, resp: WsResponse) -> Pending | None:
        """Hand ``resp`` to the request it answers; None when it answers none (a push, a kick...)."""
        entry = self._waiting.pop(resp.msg_incr, None) if resp.msg_incr else None
        if entry is not None and not entry.future.done():
            entry.future.set_result(resp)
        return entry

    def fail_all(self, reason: str) -> None:
        """The connection is gone: every waiter gets a NetworkError."""
        waiting, self._waiting = self._waiting, {}
        for p in waiting.values():
            if not p.future.done():
                p.future.set_exception(NetworkError(message="connection lost",
                                                    detail=f"{reason} (reqIdentifier {p.req_identifier})",
                                                    operation_id=p.operation_id))
                p.future.exception()  # mark retrieved: the waiter may already be gone
