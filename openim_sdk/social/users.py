"""Users: my own profile, other users' profiles through the cache, online status, user
commands: ``client.users``.

Notifications 1303-1307 land here: 1303 (a user's info changed) refreshes the cached profile
(mine: :class:`SelfInfoUpdated`; a friend's: :class:`FriendInfoChanged` through the friends
part), 1304 is a status change, 1305-1307 re-read the command list and report what changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..events import Event
from ..protocol import jsoncodec
from ..protocol.constants import ContentType
from ..protocol.pb.sdkws import sdkws_pb2
from ..session.context import NotificationRouter, SessionContext
from . import events as sev
from .diff import diff
from .models import User, UserCommand, UserStatus

if TYPE_CHECKING:
    from ..ws import LongConnection

log = logging.getLogger(__name__)

USER_NOTIFICATIONS = (
    ContentType.USER_INFO_UPDATED,
    ContentType.USER_STATUS_CHANGE,
    ContentType.USER_COMMAND_ADD,
    ContentType.USER_COMMAND_DELETE,
    ContentType.USER_COMMAND_UPDATE,
)

#: Called with the fresh profiles of users other than me whose info changed (the friends part).
ProfilesChanged = Callable[[list[sdkws_pb2.UserInfo]], Awaitable[None]]


class Users:
    """Profiles (cached in the store), online status (over the long connection), commands."""

    def __init__(self, ctx: SessionContext, router: NotificationRouter | None = None, *,
                 ws: LongConnection | None = None, on_profiles: ProfilesChanged | None = None) -> None:
        self._ctx = ctx
        self._ws = ws
        self._on_profiles = on_profiles
        self._commands_lock = asyncio.Lock()
        self._refresh_lock = asyncio.Lock()
        if router is not None:
            router.register(USER_NOTIFICATIONS, self._on_notification)

    # ------------------------------------------------------------------ profiles

    async def get_self(self, *, refresh: bool = False) -> User:
        """GetSelfUserInfo: from the cache, or the server when not cached (or ``refresh``)."""
        me = self._ctx.user_id
        if refresh:
            await self.refresh([me])
        found = await self.get([me])
        if not found:
            raise LookupError(f"no profile for {me}")
        return found[0]

    async def set_self_info(self, *, nickname: str | None = None, face_url: str | None = None,
                            ex: str | None = None, global_recv_msg_opt: int | None = None) -> User:
        """SetSelfInfo: change the given fields only; reports :class:`SelfInfoUpdated`."""
        info: dict[str, Any] = {"userID": self._ctx.user_id}
        for key, value in (("nickname", nickname), ("faceURL", face_url), ("ex", ex),
                           ("globalRecvMsgOpt", global_recv_msg_opt)):
            if value is not None:
                info[key] = value  # a wrapper on the wire: set means "change it"
        await self._ctx.rest.user.update_user_info_ex(user_info=info)
        await self.refresh([self._ctx.user_id])
        return await self.get_self()

    async def get(self, user_ids: Iterable[str]) -> list[User]:
        """GetUsersInfo: cached profiles, the missing ones fetched (and cached) from the server."""
        ids = list(dict.fromkeys(user_ids))
        store = self._ctx.store
        cached = {u.userID: u for u in await self._ctx.run(store.users, ids)}
        missing = [u for u in ids if u not in cached]
        if missing:
            resp = await self._ctx.rest.user.get_users_info(user_ids=missing)
            await self._ctx.run(store.upsert_users, resp.usersInfo)
            cached.update((u.userID, u) for u in resp.usersInfo)
        return [User.from_pb(cached[u]) for u in ids if u in cached]

    async def get_user(self, user_id: str) -> User | None:
        found = await self.get([user_id])
        return found[0] if found else None

    async def refresh(self, user_ids: Iterable[str]) -> list[User]:
        """Re-read profiles from the server; report what changed (mine: :class:`SelfInfoUpdated`;
        others': to the friends part)."""
        ids = list(dict.fromkeys(user_ids))
        if not ids:
            return []
        store = self._ctx.store
        async with self._refresh_lock:  # compare-and-store as one step: a 1303 racing our own set reports once
            before = {u.userID: User.from_pb(u) for u in await self._ctx.run(store.users, ids)}
            resp = await self._ctx.rest.user.get_users_info(user_ids=ids)
            await self._ctx.run(store.upsert_users, resp.usersInfo)
        fresh = [User.from_pb(u) for u in resp.usersInfo]
        changed = [u for u in fresh if before.get(u.user_id) != u]
        for u in changed:
            if u.user_id == self._ctx.user_id:
                self._ctx.emit(sev.SelfInfoUpdated(u))
        others = [u for u in resp.usersInfo if u.userID != self._ctx.user_id
                  and before.get(u.userID) != User.from_pb(u)]
        if others and self._on_profiles is not None:
            await self._on_profiles(others)
        return fresh

    # ------------------------------------------------------------------ online status

    async def subscribe_status(self, user_ids: Iterable[str]) -> list[UserStatus]:
        """SubscribeUsersStatus (WS 2005): their status now; changes follow as
        :class:`~openim_sdk.events.OnlineStatusChanged`."""
        ids = list(dict.fromkeys(user_ids))
        now = await self._require_ws().subscribe_online_status(ids)
        return [UserStatus(u, 1 if now.get(u) else 0, tuple(now.get(u, ()))) for u in ids]

    async def unsubscribe_status(self, user_ids: Iterable[str]) -> None:
        """UnsubscribeUsersStatus."""
        await self._require_ws().unsubscribe_online_status(list(user_ids))

    async def get_status(self, user_ids: Iterable[str]) -> list[UserStatus]:
        """GetUserStatus (``/user/get_users_status``)."""
        resp = await self._ctx.rest.user.get_users_status(user_id=self._ctx.user_id, user_ids=list(user_ids))
        return [UserStatus(s.userID, s.status, tuple(s.platformIDs)) for s in resp.statusList]

    def _require_ws(self) -> LongConnection:
        if self._ws is None:
            raise RuntimeError("online status needs the long connection")
        return self._ws

    # ------------------------------------------------------------------ commands

    async def commands(self, type: int | None = None) -> list[UserCommand]:
        """GetAllUserCommands (``type`` None) or those of one type, from the cache."""
        rows = await self._ctx.run(self._ctx.store.user_commands)
        return [UserCommand(*r) for r in rows if type is None or r[0] == type]

    async def add_command(self, type: int, uuid: str, value: str = "", ex: str = "") -> None:
        await self._ctx.rest.user.process_user_command_add(user_id=self._ctx.user_id, type=type, uuid=uuid,
                                                           value=value, ex=ex)
        await self.sync_commands()

    async def update_command(self, type: int, uuid: str, *, value: str | None = None, ex: str | None = None) -> None:
        await self._ctx.rest.user.process_user_command_update(user_id=self._ctx.user_id, type=type, uuid=uuid,
                                                              value=value, ex=ex)
        await self.sync_commands()

    async def delete_command(self, type: int, uuid: str) -> None:
        await self._ctx.rest.user.process_user_command_delete(user_id=self._ctx.user_id, type=type, uuid=uuid)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Re-read my commands; one event per added, deleted or updated command (none on the
        very first read of a fresh cache: those are not news)."""
        ctx = self._ctx
        store = ctx.store
        async with self._commands_lock:
            resp = await ctx.rest.user.process_user_command_get_all(user_id=ctx.user_id)
            fresh = [UserCommand(c.type, c.uuid, c.value, c.ex, c.createTime) for c in resp.CommandResp]
            first = await ctx.run(store.get_version, "user_commands") is None
            cached = [UserCommand(*r) for r in await ctx.run(store.user_commands)]
            d = diff(cached, fresh, key=lambda c: (c.type, c.uuid))
            await ctx.run(store.replace_user_commands, [(c.type, c.uuid, c.value, c.ex, c.create_time) for c in fresh])
            await ctx.run(store.set_version, "user_commands", "", 1)
            if first:
                return
            events: list[Event] = [sev.UserCommandDeleted(c) for c in d.deleted]
            events += [sev.UserCommandAdded(c) for c in d.inserted]
            events += [sev.UserCommandUpdated(new) for _, new in d.updated]
            for e in events:
                ctx.emit(e)

    # ------------------------------------------------------------------ notifications

    async def _on_notification(self, msg: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        ct = msg.contentType
        if ct == ContentType.USER_INFO_UPDATED:
            tips = jsoncodec.from_go_json(sdkws_pb2.UserInfoUpdatedTips, detail)
            self._ctx.spawn(self.refresh([tips.userID or msg.sendID]), "user info refresh")
        elif ct == ContentType.USER_STATUS_CHANGE:
            st = jsoncodec.from_go_json(sdkws_pb2.UserStatusChangeTips, detail)
            platforms = (st.platformID,) if st.status and st.platformID else ()
            self._ctx.emit(sev.UserStatusChanged(UserStatus(st.fromUserID, st.status, platforms)))
        else:
            self._ctx.spawn(self.sync_commands(), "user commands sync")
