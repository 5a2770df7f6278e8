"""Names and faces of conversations that have none yet: the peer's nickname, the group's name.

Owned by the conversations part. Lookups are batched: the login-time conversation sync names all
its new conversations with one users call and one groups call (instead of one REST call per
conversation), and conversations that a delivery finds unnamed are queued: while one lookup is in
flight, the ones queued meanwhile wait and go in the next batch. Profiles come from the cache when
it has them; those fetched are cached.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from ..models import Conversation
from ..protocol.errors import NotFoundError, OpenIMError
from ..protocol.pb.sdkws import sdkws_pb2
from .context import SessionContext

if TYPE_CHECKING:
    from ..store.conversations import _ConversationRow

log = logging.getLogger(__name__)

#: IDs per users / groups info request.
BATCH = 100

Named = Callable[[list[Conversation]], Awaitable[None]]


def _needs_name(c: Conversation) -> bool:
    return not c.show_name and bool(c.user_id or c.group_id) and not c.is_notification


class ConversationNames:
    """Fills in ``show_name``/``face_url``; ``on_named`` reports the conversations renamed by the
    queue (the caller publishes them)."""

    def __init__(self, ctx: SessionContext, on_named: Named) -> None:
        self._ctx = ctx
        self._on_named = on_named
        self._queued: dict[str, Conversation] = {}
        self._task: asyncio.Task[None] | None = None

    def request(self, row: _ConversationRow) -> None:
        """Name this conversation soon (batched with others); the result goes to ``on_named``."""
        conv = Conversation.from_row(row)
        if not _needs_name(conv):
            return
        self._queued[conv.conversation_id] = conv
        if self._task is None or self._task.done():
            self._task = self._ctx.spawn(self._drain(), "conversation names")

    async def name_now(self, row: _ConversationRow) -> None:
        """Name this conversation now (a conversation just opened); reported to ``on_named``."""
        named = [c for c in await self.name([Conversation.from_row(row)]) if c.show_name and not row.show_name]
        if named:
            await self._on_named(named)

    async def _drain(self) -> None:
        while self._queued:
            batch, self._queued = list(self._queued.values()), {}
            named = [c for c in await self.name(batch) if c.show_name]
            if named:
                await self._on_named(named)

    async def name(self, convs: Sequence[Conversation]) -> list[Conversation]:
        """``convs`` with names and faces where they had none and one is known (stored)."""
        todo = [c for c in convs if _needs_name(c)]
        if not todo:
            return list(convs)
        found = await self._lookup([c.user_id for c in todo if not c.group_id], [c.group_id for c in todo if c.group_id])
        store = self._ctx.store

        def write() -> dict[str, Conversation]:
            out: dict[str, Conversation] = {}
            for c in todo:
                name, face = found.get(c.group_id or c.user_id, ("", ""))
                if not name:
                    continue

                def change(row: _ConversationRow | None, name: str = name, face: str = face) -> _ConversationRow | None:
                    if row is None or row.show_name:
                        return row  # gone, or named meanwhile
                    return dataclasses.replace(Conversation.from_row(row), show_name=name, face_url=face).to_row()

                row = store.change_conversation(c.conversation_id, change)
                if row is not None:
                    out[c.conversation_id] = Conversation.from_row(row)
            return out

        renamed = await self._ctx.run(write)
        return [renamed.get(c.conversation_id, c) for c in convs]

    async def of(self, user_id: str, group_id: str) -> tuple[str, str]:
        """(name, face) of one user or group (``NotFoundError`` when the server has no such one;
        ``("", "")`` when it cannot be asked now: the name comes later)."""
        key = group_id or user_id
        try:
            found = await self._lookup([] if group_id else [user_id], [group_id] if group_id else [])
        except NotFoundError:
            raise
        except OpenIMError as exc:
            log.info("no name for %s yet: %s", key, exc)
            return "", ""
        if key not in found:
            raise NotFoundError(detail=f"{'group' if group_id else 'user'} {key}")
        return found[key]

    async def _lookup(self, user_ids: Iterable[str], group_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """ID -> (name, face) for users and groups: the cache first, then the server in batches."""
        store, rest = self._ctx.store, self._ctx.rest
        uids, gids = list(dict.fromkeys(user_ids)), list(dict.fromkeys(group_ids))

        def cached() -> tuple[list[sdkws_pb2.UserInfo], list[sdkws_pb2.GroupInfo]]:
            groups = [g for g in (store.group(i) for i in gids) if g is not None]
            return (store.users(uids) if uids else []), groups

        users, groups = await self._ctx.run(cached)
        out = {u.userID: (u.nickname, u.faceURL) for u in users}
        out.update((g.groupID, (g.groupName, g.faceURL)) for g in groups)
        missing_users = [u for u in uids if u not in out]
        for i in range(0, len(missing_users), BATCH):
            resp = await rest.user.get_users_info(user_ids=missing_users[i : i + BATCH])
            await self._ctx.run(store.upsert_users, resp.usersInfo)
            out.update((u.userID, (u.nickname, u.faceURL)) for u in resp.usersInfo)
        missing_groups = [g for g in gids if g not in out]
        for i in range(0, len(missing_groups), BATCH):
            resp2 = await rest.group.get_groups_info(group_ids=missing_groups[i : i + BATCH])
            out.update((g.groupID, (g.groupName, g.faceURL)) for g in resp2.groupInfos)
        return out
