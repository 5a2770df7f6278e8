"""Friends, friend applications and the blacklist: ``client.friends``.

Every operation calls the server, then re-reads what it changed the way the official core does
(friends through the incremental route with the stored version, applications and the blacklist
in full) and writes the difference to the cache, emitting one event per changed row. The
notifications 1201-1210 run the same syncs, so another device's change, or the other side's,
arrives the same way; one lock per list keeps two syncs from reporting one change twice.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from collections.abc import Iterable
from typing import Any

from ..events import Event
from ..protocol import jsoncodec
from ..protocol.constants import ContentType
from ..protocol.pb.sdkws import sdkws_pb2
from ..session.context import NotificationRouter, SessionContext
from . import events as sev
from .diff import all_pages, application_outcome, diff, version_diff
from .models import ACCEPTED, REJECTED, BlacklistEntry, Friend, FriendApplication

log = logging.getLogger(__name__)

#: Friend notifications (1201-1210); each re-syncs the lists it names.
FRIEND_NOTIFICATIONS: dict[int, tuple[str, ...]] = {
    ContentType.FRIEND_APPLICATION_APPROVED: ("applications", "friends"),
    ContentType.FRIEND_APPLICATION_REJECTED: ("applications",),
    ContentType.FRIEND_APPLICATION: ("applications",),
    ContentType.FRIEND_ADDED: ("friends",),
    ContentType.FRIEND_DELETED: ("friends",),
    ContentType.FRIEND_REMARK_SET: ("friends",),
    ContentType.BLACK_ADDED: ("blacklist",),
    ContentType.BLACK_DELETED: ("blacklist",),
    ContentType.FRIEND_INFO_UPDATED: ("friends",),
    ContentType.FRIENDS_INFO_UPDATE: ("friends",),
}

_APPLICATION_EVENTS: dict[str, type[sev.FriendApplicationAdded | sev.FriendApplicationAccepted
                                     | sev.FriendApplicationRejected]] = {
    "added": sev.FriendApplicationAdded,
    "accepted": sev.FriendApplicationAccepted,
    "rejected": sev.FriendApplicationRejected,
}


class Friends:
    """The friend list, applications to and from me, and my blacklist (see the module docstring)."""

    def __init__(self, ctx: SessionContext, router: NotificationRouter | None = None) -> None:
        self._ctx = ctx
        self._locks = {k: asyncio.Lock() for k in ("friends", "applications", "blacklist")}
        if router is not None:
            router.register(FRIEND_NOTIFICATIONS, self._on_notification)

    @property
    def _me(self) -> str:
        return self._ctx.user_id

    # ------------------------------------------------------------------ reading (the cache)

    async def list(self, *, offset: int = 0, count: int = 0, filter_black: bool = False) -> builtins.list[Friend]:
        """My friends, pinned first (GetFriendList; GetFriendListPage with ``count`` > 0);
        ``filter_black`` leaves out friends I have blacklisted."""
        rows = [Friend.from_pb(f) for f in await self._ctx.run(self._ctx.store.friends, self._me)]
        if filter_black:
            blocked = {b.user_id for b in await self.blacklist()}
            rows = [f for f in rows if f.user_id not in blocked]
        return rows[offset:offset + count] if count else rows[offset:]

    async def get(self, user_ids: Iterable[str], *, filter_black: bool = False) -> builtins.list[Friend]:
        """The friends among ``user_ids`` (GetSpecifiedFriendsInfo; non-friends are left out)."""
        wanted = set(user_ids)
        return [f for f in await self.list(filter_black=filter_black) if f.user_id in wanted]

    async def check(self, user_ids: Iterable[str]) -> dict[str, bool]:
        """CheckFriend: for each user, whether they are my friend and not on my blacklist (by the cache)."""
        mine = {f.user_id for f in await self.list(filter_black=True)}
        return {u: u in mine for u in user_ids}

    async def is_friend(self, user_id: str) -> bool:
        return (await self.check([user_id]))[user_id]

    async def search(self, keyword: str, *, user_id: bool = True, nickname: bool = True,
                     remark: bool = True) -> builtins.list[Friend]:
        """SearchFriends: case-insensitive substring over the chosen fields."""
        kw = keyword.lower()
        out = []
        for f in await self.list():
            fields = [f.user_id if user_id else "", f.user.nickname if nickname else "", f.remark if remark else ""]
            if any(kw in x.lower() for x in fields if x):
                out.append(f)
        return out

    async def applications_to_me(self) -> builtins.list[FriendApplication]:
        """GetFriendApplicationListAsRecipient, newest first."""
        rows = await self._ctx.run(self._ctx.store.friend_requests, to_user_id=self._me)
        return [FriendApplication.from_pb(r) for r in rows]

    async def applications_from_me(self) -> builtins.list[FriendApplication]:
        """GetFriendApplicationListAsApplicant, newest first."""
        rows = await self._ctx.run(self._ctx.store.friend_requests, from_user_id=self._me)
        return [FriendApplication.from_pb(r) for r in rows]

    async def blacklist(self) -> builtins.list[BlacklistEntry]:
        """GetBlackList."""
        rows = await self._ctx.run(self._ctx.store.blacks, self._me)
        return [BlacklistEntry.from_pb(b) for b in rows]

    async def is_blocked(self, user_id: str) -> bool:
        return any(b.user_id == user_id for b in await self.blacklist())

    # ------------------------------------------------------------------ writing (server, then sync)

    async def add(self, user_id: str, req_msg: str = "", ex: str = "") -> None:
        """AddFriend: send a friend application to ``user_id``."""
        await self._ctx.rest.friend.add_friend(from_user_id=self._me, to_user_id=user_id, req_msg=req_msg, ex=ex)
        await self.sync_applications()

    apply = add

    async def accept(self, user_id: str, handle_msg: str = "") -> None:
        """AcceptFriendApplication: accept ``user_id``'s application to me."""
        await self._respond(user_id, ACCEPTED, handle_msg)

    async def refuse(self, user_id: str, handle_msg: str = "") -> None:
        """RefuseFriendApplication."""
        await self._respond(user_id, REJECTED, handle_msg)

    async def _respond(self, user_id: str, result: int, handle_msg: str) -> None:
        await self._ctx.rest.friend.add_friend_response(from_user_id=user_id, to_user_id=self._me,
                                                        handle_result=result, handle_msg=handle_msg)
        await self.sync_applications()
        if result == ACCEPTED:
            await self.sync()

    async def delete(self, user_id: str) -> None:
        """DeleteFriend (one-way: I leave their list of mine)."""
        await self._ctx.rest.friend.delete_friend(owner_user_id=self._me, friend_user_id=user_id)
        await self.sync()

    async def update(self, user_ids: Iterable[str], *, remark: str | None = None, is_pinned: bool | None = None,
                     ex: str | None = None) -> None:
        """UpdateFriends: the given fields only, for each of ``user_ids``."""
        await self._ctx.rest.friend.update_friends(owner_user_id=self._me, friend_user_ids=list(user_ids),
                                                   remark=remark, is_pinned=is_pinned, ex=ex)
        await self.sync()

    async def set_remark(self, user_id: str, remark: str) -> None:
        """SetFriendRemark (UpdateFriends with a remark)."""
        await self._ctx.rest.friend.update_friends(owner_user_id=self._me, friend_user_ids=[user_id], remark=remark)
        await self.sync()

    async def set_pinned(self, user_ids: Iterable[str], pinned: bool = True) -> None:
        """PinFriends / unpin."""
        await self._ctx.rest.friend.update_friends(owner_user_id=self._me, friend_user_ids=list(user_ids),
                                                   is_pinned=pinned)
        await self.sync()

    async def set_ex(self, user_ids: Iterable[str], ex: str) -> None:
        """SetFriendsEx."""
        await self._ctx.rest.friend.update_friends(owner_user_id=self._me, friend_user_ids=list(user_ids), ex=ex)
        await self.sync()

    async def add_black(self, user_id: str, ex: str = "") -> None:
        """AddBlack: ``user_id`` can no longer send to me."""
        await self._ctx.rest.friend.add_black(owner_user_id=self._me, black_user_id=user_id, ex=ex)
        await self.sync_blacklist()

    async def remove_black(self, user_id: str) -> None:
        """RemoveBlack."""
        await self._ctx.rest.friend.remove_black(owner_user_id=self._me, black_user_id=user_id)
        await self.sync_blacklist()

    # ------------------------------------------------------------------ sync

    async def sync_all(self) -> None:
        """Login-time sync: friends, applications both ways, blacklist."""
        await self.sync()
        await self.sync_applications()
        await self.sync_blacklist()

    async def sync(self) -> None:
        """Friends through ``get_incremental_friends`` from the stored version (or every page on
        ``full``); one event per added, deleted or changed friend."""
        ctx, me = self._ctx, self._me
        store = ctx.store
        async with self._locks["friends"]:
            ver = await ctx.run(store.get_version, "friends")
            resp = await ctx.rest.friend.get_incremental_friends(
                user_id=me, version_id=ver.version_id if ver else "", version=ver.version if ver else 0)
            cached = [Friend.from_pb(f) for f in await ctx.run(store.friends, me)]
            rows, d = await version_diff(
                cached, resp, Friend.from_pb, lambda f: f.user_id,
                lambda: all_pages(lambda p: ctx.rest.friend.get_friend_list(user_id=me, pagination=p), "friendsInfo"))
            changed = {f.user_id for f in d.inserted} | {new.user_id for _, new in d.updated}
            await ctx.run(store.delete_friends, [f.user_id for f in d.deleted], me)
            await ctx.run(store.upsert_friends, [f for f in rows if f.friendUser.userID in changed])
            await ctx.run(store.upsert_users, [f.friendUser for f in rows if f.friendUser.userID in changed])
            await ctx.run(store.set_version, "friends", resp.versionID, resp.version)
            events: builtins.list[Event] = [sev.FriendDeleted(f) for f in d.deleted]
            events += [sev.FriendAdded(f) for f in d.inserted]
            events += [sev.FriendInfoChanged(new) for _, new in d.updated]
            self._emit_all(events)

    async def sync_applications(self) -> None:
        """Applications to me and from me, in full (SyncAllFriendApplication and
        SyncAllSelfFriendApplication of the official core)."""
        ctx, me = self._ctx, self._me
        store = ctx.store
        async with self._locks["applications"]:
            to_me = await all_pages(lambda p: ctx.rest.friend.get_friend_apply_list(user_id=me, pagination=p),
                                    "FriendRequests")
            from_me = await all_pages(
                lambda p: ctx.rest.friend.get_self_friend_apply_list(user_id=me, pagination=p), "friendRequests")
            cached = [*await ctx.run(store.friend_requests, to_user_id=me),
                      *await ctx.run(store.friend_requests, from_user_id=me)]
            await self._apply_applications(cached, [*to_me, *from_me])

    async def sync_application_pair(self, from_user_id: str, to_user_id: str) -> None:
        """The applications between two users, both ways (SyncBothFriendRequest: what a friend
        application notification names)."""
        ctx, me = self._ctx, self._me
        store = ctx.store
        pair = {(from_user_id, to_user_id), (to_user_id, from_user_id)}
        async with self._locks["applications"]:
            resp = await ctx.rest.friend.get_designated_friend_apply(from_user_id=from_user_id,
                                                                     to_user_id=to_user_id)
            cached = [r for r in [*await ctx.run(store.friend_requests, to_user_id=me),
                                  *await ctx.run(store.friend_requests, from_user_id=me)]
                      if (r.fromUserID, r.toUserID) in pair]
            server = [r for r in resp.friendRequests if (r.fromUserID, r.toUserID) in pair]
            await self._apply_applications(cached, server)

    async def _apply_applications(self, cached: builtins.list[sdkws_pb2.FriendRequest],
                                  server: builtins.list[sdkws_pb2.FriendRequest]) -> None:
        """Write the difference and report it (caller holds the applications lock)."""
        ctx = self._ctx
        d = diff([FriendApplication.from_pb(r) for r in cached], [FriendApplication.from_pb(r) for r in server],
                 key=lambda a: a.key)
        changed = {a.key for a in d.inserted} | {new.key for _, new in d.updated}
        await ctx.run(ctx.store.delete_friend_requests, [a.key for a in d.deleted])
        await ctx.run(ctx.store.upsert_friend_requests, [r for r in server if (r.fromUserID, r.toUserID) in changed])
        events: list[Event] = [sev.FriendApplicationDeleted(a) for a in d.deleted]
        for old, new in [(None, a) for a in d.inserted] + [(o, n) for o, n in d.updated]:
            outcome = application_outcome(None if old is None else old.handle_result, new.handle_result)
            events.append(_APPLICATION_EVENTS[outcome](new))
        self._emit_all(events)

    async def sync_blacklist(self) -> None:
        """My blacklist, in full (the v3.8 server does not implement ``get_incremental_blacks``)."""
        ctx, me = self._ctx, self._me
        store = ctx.store
        async with self._locks["blacklist"]:
            server = await all_pages(lambda p: ctx.rest.friend.get_black_list(user_id=me, pagination=p), "blacks")
            cached = [BlacklistEntry.from_pb(b) for b in await ctx.run(store.blacks, me)]
            d = diff(cached, [BlacklistEntry.from_pb(b) for b in server], key=lambda b: b.user_id)
            await ctx.run(store.delete_blacks, me, [b.user_id for b in d.deleted])
            await ctx.run(store.upsert_blacks, server)
            events: builtins.list[Event] = [sev.BlacklistDeleted(b) for b in d.deleted]
            events += [sev.BlacklistAdded(b) for b in d.inserted]
            self._emit_all(events)

    async def refresh_users(self, users: Iterable[sdkws_pb2.UserInfo]) -> None:
        """A friend's own profile changed (1303 seen through ``client.users``): update the
        embedded profile and report :class:`FriendInfoChanged`."""
        ctx = self._ctx
        by_id = {u.userID: u for u in users}
        rows = [f for f in await ctx.run(ctx.store.friends, self._me) if f.friendUser.userID in by_id]
        events: builtins.list[Event] = []
        for f in rows:
            before = Friend.from_pb(f)
            f.friendUser.CopyFrom(by_id[f.friendUser.userID])
            after = Friend.from_pb(f)
            if after != before:
                events.append(sev.FriendInfoChanged(after))
        await ctx.run(ctx.store.upsert_friends, rows)
        self._emit_all(events)

    # ------------------------------------------------------------------ notifications

    async def _on_notification(self, msg: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        """Spawned, not awaited: this runs in the delivery path and the syncs call the server."""
        ctx = self._ctx
        for kind in FRIEND_NOTIFICATIONS.get(msg.contentType, ()):
            if kind == "applications":
                raw = detail.get("fromToUserID")
                pair = jsoncodec.from_go_json(sdkws_pb2.FromToUserID, raw if isinstance(raw, dict) else {})
                if pair.fromUserID and pair.toUserID:
                    ctx.spawn(self.sync_application_pair(pair.fromUserID, pair.toUserID), "applications sync")
                else:
                    ctx.spawn(self.sync_applications(), "applications sync")
            elif kind == "friends":
                ctx.spawn(self.sync(), "friends sync")
            else:
                ctx.spawn(self.sync_blacklist(), "blacklist sync")

    def _emit_all(self, events: builtins.list[Event]) -> None:
        for e in events:
            self._ctx.emit(e)
