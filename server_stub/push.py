"""Online connection registry: multi-login kicks, pushes (2001), online-status subscriptions (2005)."""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openim_sdk.protocol.constants import MultiLoginPolicy, PlatformClass, ReqIdentifier, platform_class
from openim_sdk.protocol.envelope import WsResponse
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from .wire import encode_response

if TYPE_CHECKING:
    from .gateway import Client

log = logging.getLogger("server_stub.push")
_conn_ids = itertools.count(1)


def next_conn_id() -> str:
    return f"c{next(_conn_ids)}"


def _env_int(name: str) -> int:
    try:
        return max(0, int(os.environ.get(name, "") or 0))
    except ValueError:
        return 0


@dataclass
class Hub:
    policy: int = 1
    clients: dict[str, set[Client]] = field(default_factory=dict)
    # subscriber user -> users it watches; watched user -> subscriber clients
    watchers: dict[str, set[Client]] = field(default_factory=dict)
    # TEST-ONLY fault injection, off by default: drop every k-th 2001 frame (counted per
    # connection, frames that would have been queued are silently not sent) so that clients
    # must fill the gaps by pulling. Set from the environment (OPENIM_TEST_DROP_PUSH_EVERY=k,
    # read when the server starts) or on a running in-process server: ``srv.core.hub.drop_push_every = k``.
    drop_push_every: int = field(default_factory=lambda: _env_int("OPENIM_TEST_DROP_PUSH_EVERY"))
    _push_counts: dict[str, int] = field(default_factory=dict, repr=False)
    dropped_pushes: int = 0
    #: The offline (vendor) pushes the server would hand to a push provider, newest last:
    #: (userIDs, conversationID, MsgData). There is no provider in the reference server; this is
    #: the seam (and what tests and the beforeOfflinePush webhook look at).
    offline_pushes: collections.deque[tuple[list[str], str, sdkws_pb2.MsgData]] = field(
        default_factory=lambda: collections.deque(maxlen=1000), repr=False)

    def count(self) -> int:
        return sum(len(v) for v in self.clients.values())

    def of(self, user_id: str) -> list[Client]:
        return list(self.clients.get(user_id, ()))

    def platforms(self, user_id: str) -> list[int]:
        return sorted({c.platform_id for c in self.clients.get(user_id, ())})

    def register(self, client: Client) -> list[Client]:
        """Add ``client``; returns the existing connections the multi-login policy kicks."""
        existing = [c for c in self.clients.get(client.user_id, ()) if c.token != client.token]
        kicked = self._victims(existing, client.platform_id)
        self.clients.setdefault(client.user_id, set()).add(client)
        for c in kicked:
            c.kick()
        self._notify_status(client.user_id)
        return kicked

    def _victims(self, existing: list[Client], pid: int) -> list[Client]:
        def cls(p: int) -> PlatformClass | None:
            try:
                return platform_class(p)
            except KeyError:
                return None

        if self.policy == MultiLoginPolicy.ALL_LOGIN_BUT_SAME_TERM_KICK:
            return [c for c in existing if c.platform_id == pid]
        if self.policy == MultiLoginPolicy.ALL_LOGIN_BUT_SAME_CLASS_KICK:
            return [c for c in existing if cls(c.platform_id) == cls(pid)]
        if self.policy == MultiLoginPolicy.PC_AND_OTHER:
            if cls(pid) == PlatformClass.PC:
                return []
            return [c for c in existing if cls(c.platform_id) != PlatformClass.PC]
        return []

    def unregister(self, client: Client) -> None:
        conns = self.clients.get(client.user_id)
        if conns is not None and client in conns:
            conns.discard(client)
            if not conns:
                del self.clients[client.user_id]
            self._notify_status(client.user_id)
        self._push_counts.pop(client.conn_id, None)
        for watched in list(client.subscriptions):
            self.watchers.get(watched, set()).discard(client)

    def kick_user(self, user_id: str, platform_id: int | None = None) -> int:
        victims = [c for c in self.of(user_id) if platform_id is None or c.platform_id == platform_id]
        for c in victims:
            c.kick()
        return len(victims)

    # -- pushes --------------------------------------------------------------------------

    def push_message(self, user_ids: Iterable[str], conversation_id: str, msg: sdkws_pb2.MsgData,
                     operation_id: str = "") -> int:
        """One 2001 frame with ``msg`` to every connection of every user; returns frames queued."""
        pm = sdkws_pb2.PushMessages()
        target = pm.notificationMsgs if conversation_id.startswith("n_") else pm.msgs
        target[conversation_id].Msgs.append(msg)
        payload = pm.SerializeToString()
        resp = WsResponse(req_identifier=int(ReqIdentifier.PUSH_MSG), operation_id=operation_id, data=payload)
        cache: dict[tuple[str, bool], bytes] = {}
        sent = 0
        for uid in dict.fromkeys(user_ids):
            for c in self.of(uid):
                if c.platform_id == 1 and c.is_background:
                    continue  # iOS in background: vendor push territory (1604)
                if self.drop_push_every > 0 and self._drop(c):
                    continue
                key = (c.encoding, c.compress)
                if key not in cache:
                    cache[key] = encode_response(resp, c.encoding, c.compress)
                c.enqueue(cache[key])
                sent += 1
        return sent

    def online(self, user_id: str) -> bool:
        """True if a push reaches ``user_id`` over a connection (an iOS app in background does not)."""
        return any(not (c.platform_id == 1 and c.is_background) for c in self.clients.get(user_id, ()))

    def offline_push(self, user_ids: Iterable[str], conversation_id: str, msg: sdkws_pb2.MsgData,
                     operation_id: str = "") -> list[str]:
        """Hand ``msg`` to the offline push for those of ``user_ids`` not online; returns them.
        (upstream internal/push/push_handler.go: offline push for users the online push missed.)"""
        targets = [u for u in dict.fromkeys(user_ids) if not self.online(u)]
        if targets:
            self.offline_pushes.append((targets, conversation_id, msg))
            log.debug("offline push %s to %s", msg.clientMsgID, targets, extra={"operationID": operation_id})
        return targets

    def _drop(self, c: Client) -> bool:
        n = self._push_counts.get(c.conn_id, 0) + 1
        self._push_counts[c.conn_id] = n
        if n % self.drop_push_every:
            return False
        self.dropped_pushes += 1
        return True

    # -- online status subscriptions ----------------------------------------------------

    def subscribe(self, client: Client, subscribe: Iterable[str], unsubscribe: Iterable[str]) -> list[str]:
        for uid in unsubscribe:
            client.subscriptions.discard(uid)
            self.watchers.get(uid, set()).discard(client)
        new = []
        for uid in subscribe:
            if uid not in client.subscriptions:
                new.append(uid)
            client.subscriptions.add(uid)
            self.watchers.setdefault(uid, set()).add(client)
        return new

    def status_tips(self, user_ids: Iterable[str]) -> sdkws_pb2.SubUserOnlineStatusTips:
        tips = sdkws_pb2.SubUserOnlineStatusTips()
        for uid in user_ids:
            tips.subscribers.add(userID=uid, onlinePlatformIDs=self.platforms(uid))
        return tips

    def _notify_status(self, user_id: str) -> None:
        watchers = self.watchers.get(user_id)
        if not watchers:
            return
        data = self.status_tips([user_id]).SerializeToString()
        resp = WsResponse(req_identifier=int(ReqIdentifier.SUB_USER_ONLINE_STATUS), data=data)
        for c in list(watchers):
            c.enqueue(encode_response(resp, c.encoding, c.compress))


async def drain(clients: Iterable[Client]) -> None:
    await asyncio.gather(*(c.closed.wait() for c in clients), return_exceptions=True)
