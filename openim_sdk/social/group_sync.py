"""The joined-group cache: login-time and on-demand syncs, and the group notifications 1501-1520.

Two ways in, one way out. Syncs read the incremental routes from the stored versions (joined
groups; each joined group's members, in batches) or the application lists in full; a
notification whose change the server commits *after* sending it (quit, kick: the leaving member
must still receive it) is applied straight from its tips instead. Both write the difference to
the cache under one lock per list and emit one event per changed row, so the same change seen
twice (the operation's own re-read, then its notification) is reported once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable
from typing import Any

from ..events import Event
from ..protocol import jsoncodec
from ..protocol.constants import ContentType, GroupStatus
from ..protocol.pb.sdkws import sdkws_pb2
from ..session.context import NotificationRouter, SessionContext
from . import events as sev
from .diff import all_pages, application_outcome, diff, version_diff
from .models import Group, GroupApplication, GroupMember

log = logging.getLogger(__name__)

GROUP_NOTIFICATIONS = tuple(range(ContentType.GROUP_CREATED, ContentType.GROUP_INFO_SET_NAME + 1))

#: Notifications whose tips carry the whole group: applied directly.
_GROUP_INFO = {ContentType.GROUP_INFO_SET, ContentType.GROUP_INFO_SET_ANNOUNCEMENT, ContentType.GROUP_INFO_SET_NAME,
               ContentType.GROUP_MUTED, ContentType.GROUP_CANCEL_MUTED}
#: Notifications whose tips carry one changed member: (tips class, field).
_MEMBER_CHANGED: dict[int, tuple[Any, str]] = {
    ContentType.GROUP_MEMBER_MUTED: (sdkws_pb2.GroupMemberMutedTips, "mutedUser"),
    ContentType.GROUP_MEMBER_CANCEL_MUTED: (sdkws_pb2.GroupMemberCancelMutedTips, "mutedUser"),
    ContentType.GROUP_MEMBER_INFO_SET: (sdkws_pb2.GroupMemberInfoSetTips, "changedUser"),
    ContentType.GROUP_MEMBER_SET_TO_ADMIN: (sdkws_pb2.GroupMemberInfoSetTips, "changedUser"),
    ContentType.GROUP_MEMBER_SET_TO_ORDINARY: (sdkws_pb2.GroupMemberInfoSetTips, "changedUser"),
}
_INFO_TIPS: dict[int, Any] = {
    ContentType.GROUP_INFO_SET: sdkws_pb2.GroupInfoSetTips,
    ContentType.GROUP_INFO_SET_ANNOUNCEMENT: sdkws_pb2.GroupInfoSetAnnouncementTips,
    ContentType.GROUP_INFO_SET_NAME: sdkws_pb2.GroupInfoSetNameTips,
    ContentType.GROUP_MUTED: sdkws_pb2.GroupMutedTips,
    ContentType.GROUP_CANCEL_MUTED: sdkws_pb2.GroupCancelMutedTips,
}
_APPLICATION_EVENTS: dict[str, Any] = {
    "added": sev.GroupApplicationAdded,
    "accepted": sev.GroupApplicationAccepted,
    "rejected": sev.GroupApplicationRejected,
}
_MEMBERS_BATCH = 50
_BATCH_CHANGE_LIMIT = 500  # the server answers a batch until about this many changed members


class GroupSync:
    """Owner of the cached joined groups, their members and the group applications."""

    def __init__(self, ctx: SessionContext, router: NotificationRouter | None = None) -> None:
        self._ctx = ctx
        self._groups_lock = asyncio.Lock()
        self._members_lock = asyncio.Lock()
        self._apps_lock = asyncio.Lock()
        if router is not None:
            router.register(GROUP_NOTIFICATIONS, self._on_notification)

    @property
    def _me(self) -> str:
        return self._ctx.user_id

    def _emit_all(self, events: Iterable[Event]) -> None:
        for e in events:
            self._ctx.emit(e)

    # ------------------------------------------------------------------ syncs

    async def sync_all(self) -> None:
        """Login-time: joined groups, members of every joined group, applications."""
        await self.sync_joined()
        groups = await self._ctx.run(self._ctx.store.groups)
        await self.sync_members([g.groupID for g in groups if g.status != GroupStatus.DISMISSED])
        await self.sync_applications()

    async def sync_joined(self) -> None:
        """Joined groups through ``get_incremental_join_groups`` (every page on ``full``)."""
        ctx, me = self._ctx, self._me
        store = ctx.store
        async with self._groups_lock:
            ver = await ctx.run(store.get_version, "groups")
            resp = await ctx.rest.group.get_incremental_join_groups(
                user_id=me, version_id=ver.version_id if ver else "", version=ver.version if ver else 0)
            cached = [Group.from_pb(g) for g in await ctx.run(store.groups)]
            rows, d = await version_diff(
                cached, resp, Group.from_pb, lambda g: g.group_id,
                lambda: all_pages(lambda p: ctx.rest.group.get_joined_group_list(from_user_id=me, pagination=p),
                                  "groups"))
            await ctx.run(store.delete_groups, [g.group_id for g in d.deleted])
            await ctx.run(store.upsert_groups, rows)
            await ctx.run(store.set_version, "groups", resp.versionID, resp.version)
            events: list[Event] = [sev.JoinedGroupDeleted(g) for g in d.deleted]
            events += [_info_event(old, new) for old, new in d.updated]
            added = [g for g in d.inserted if not g.is_dismissed]
            for g in d.deleted:
                await ctx.run(store.set_version, "group_members", "", 0, g.group_id)
            self._emit_all(events)
        if added:  # a new group is reported once its members are cached (their rows are not news)
            await self.sync_members([g.group_id for g in added], quiet=True)
        self._emit_all(sev.JoinedGroupAdded(g) for g in d.inserted)

    async def sync_members(self, group_ids: Iterable[str], *, quiet: bool = False) -> None:
        """Members of joined groups through the incremental batch route, per-group versions
        (``quiet``: no member events, for a group just joined)."""
        ctx = self._ctx
        store = ctx.store
        pending = list(dict.fromkeys(group_ids))
        infos: list[sdkws_pb2.GroupInfo] = []
        async with self._members_lock:
            while pending:
                chunk, pending = pending[:_MEMBERS_BATCH], pending[_MEMBERS_BATCH:]
                reqs = []
                for gid in chunk:
                    ver = await ctx.run(store.get_version, "group_members", gid)
                    reqs.append({"groupID": gid, "versionID": ver.version_id if ver else "",
                                 "version": ver.version if ver else 0})
                resp = await ctx.rest.group.get_incremental_group_members_batch(user_id=self._me, req_list=reqs)
                answered = dict(resp.respList)
                changes = 0
                for gid in chunk:
                    if gid in answered:
                        r = answered[gid]
                        changes += len(r.insert) + len(r.update) + len(r.delete)
                        await self._apply_members_delta(gid, r, quiet)
                        if r.HasField("group") and r.group.groupID:
                            infos.append(r.group)
                if answered and changes >= _BATCH_CHANGE_LIMIT:  # the server stopped early: ask for the rest
                    pending = [g for g in chunk if g not in answered] + pending
                # otherwise an unanswered group is dismissed (the batch route skips those)
        for g in infos:
            await self.apply_group(g)

    async def _apply_members_delta(self, gid: str, resp: Any, quiet: bool) -> None:
        ctx = self._ctx
        store = ctx.store
        cached = [GroupMember.from_pb(m) for m in await ctx.run(store.group_members, gid)]
        rows, d = await version_diff(
            cached, resp, GroupMember.from_pb, lambda m: m.user_id,
            lambda: all_pages(lambda p: ctx.rest.group.get_group_member_list(group_id=gid, pagination=p), "members"))
        await ctx.run(store.delete_group_members, gid, [m.user_id for m in d.deleted])
        await ctx.run(store.upsert_group_members, rows)
        await ctx.run(store.set_version, "group_members", resp.versionID, resp.version, gid)
        events: list[Event] = [sev.GroupMemberDeleted(m) for m in d.deleted]
        events += [sev.GroupMemberAdded(m) for m in d.inserted]
        events += [sev.GroupMemberInfoChanged(new) for _, new in d.updated]
        if not quiet:
            self._emit_all(events)

    async def sync_applications(self) -> None:
        """Applications to groups I manage and my own, in full (as the official core does)."""
        ctx, me = self._ctx, self._me
        store = ctx.store
        async with self._apps_lock:
            recv = await all_pages(
                lambda p: ctx.rest.group.get_recv_group_applicationList(from_user_id=me, pagination=p),
                "groupRequests")
            mine = await all_pages(
                lambda p: ctx.rest.group.get_user_req_group_applicationList(user_id=me, pagination=p),
                "groupRequests")
            server = [*recv, *mine]
            cached = [*await ctx.run(store.group_requests, exclude_user_id=me),
                      *await ctx.run(store.group_requests, user_id=me)]
            d = diff([GroupApplication.from_pb(r) for r in cached], [GroupApplication.from_pb(r) for r in server],
                     key=lambda a: a.key)
            changed = {a.key for a in d.inserted} | {new.key for _, new in d.updated}
            await ctx.run(store.delete_group_requests, [a.key for a in d.deleted])
            await ctx.run(store.upsert_group_requests,
                          [r for r in server if (r.groupInfo.groupID, r.userInfo.userID) in changed])
            events: list[Event] = [sev.GroupApplicationDeleted(a) for a in d.deleted]
            for old, new in [(None, a) for a in d.inserted] + [(o, n) for o, n in d.updated]:
                outcome = application_outcome(None if old is None else old.handle_result, new.handle_result)
                events.append(_APPLICATION_EVENTS[outcome](new))
            self._emit_all(events)

    # ------------------------------------------------------------------ direct applies (from tips or replies)

    async def apply_group(self, g: sdkws_pb2.GroupInfo) -> None:
        """A joined group's new info: store it, report :class:`GroupInfoChanged` (or
        :class:`GroupDismissed`) when it differs. Groups I have not joined are not cached."""
        ctx = self._ctx
        async with self._groups_lock:
            old = await ctx.run(ctx.store.group, g.groupID)
            if old is None:
                return
            before, after = Group.from_pb(old), Group.from_pb(g)
            if before == after:
                return
            await ctx.run(ctx.store.upsert_groups, [g])
            self._ctx.emit(_info_event(before, after))

    async def apply_dismissed(self, g: sdkws_pb2.GroupInfo) -> None:
        """The group is dismissed: keep it (status 2) without members; report it once."""
        ctx = self._ctx
        dismissed = sdkws_pb2.GroupInfo()
        dismissed.CopyFrom(g)
        dismissed.status = GroupStatus.DISMISSED
        async with self._members_lock:
            await ctx.run(ctx.store.delete_group_members, g.groupID)
            await ctx.run(ctx.store.set_version, "group_members", "", 0, g.groupID)
        await self.apply_group(dismissed)

    async def apply_members(self, gid: str, members: Iterable[sdkws_pb2.GroupMemberFullInfo]) -> None:
        """Members added or changed (as tips carry them), in a group I have joined."""
        ctx = self._ctx
        rows = [m for m in members if m.userID]
        async with self._members_lock:
            if not rows or await ctx.run(ctx.store.group, gid) is None:
                return
            cached = [GroupMember.from_pb(m) for m in await ctx.run(ctx.store.group_members, gid)]
            d = diff(cached, [GroupMember.from_pb(m) for m in rows], key=lambda m: m.user_id, complete=False)
            await ctx.run(ctx.store.upsert_group_members, rows)
            events: list[Event] = [sev.GroupMemberAdded(m) for m in d.inserted]
            events += [sev.GroupMemberInfoChanged(new) for _, new in d.updated]
            self._emit_all(events)

    async def remove_members(self, gid: str, user_ids: Iterable[str]) -> None:
        """Members left (quit, kicked). If I am among them, the group leaves the cache."""
        ctx = self._ctx
        ids = set(user_ids)
        if self._me in ids:
            await self._left(gid)
            return
        async with self._members_lock:
            gone = [GroupMember.from_pb(m) for m in await ctx.run(ctx.store.group_members, gid) if m.userID in ids]
            await ctx.run(ctx.store.delete_group_members, gid, [m.user_id for m in gone])
            self._emit_all(sev.GroupMemberDeleted(m) for m in gone)

    async def _left(self, gid: str) -> None:
        ctx = self._ctx
        async with self._groups_lock:
            old = await ctx.run(ctx.store.group, gid)
            if old is None:
                return
            async with self._members_lock:
                await ctx.run(ctx.store.delete_groups, [gid])
                await ctx.run(ctx.store.set_version, "group_members", "", 0, gid)
            self._ctx.emit(sev.JoinedGroupDeleted(Group.from_pb(old)))

    # ------------------------------------------------------------------ notifications

    async def _on_notification(self, msg: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        """Cache-only work inline; REST re-reads are spawned (this runs in the delivery path)."""
        ct = msg.contentType
        gid = msg.groupID
        if ct in _GROUP_INFO:
            await self.apply_group(jsoncodec.from_go_json(_INFO_TIPS[ct], detail).group)
        elif ct in _MEMBER_CHANGED:
            cls, name = _MEMBER_CHANGED[ct]
            tips = jsoncodec.from_go_json(cls, detail)
            await self.apply_members(tips.group.groupID or gid, [getattr(tips, name)])
        elif ct == ContentType.MEMBER_QUIT:
            q = jsoncodec.from_go_json(sdkws_pb2.MemberQuitTips, detail)
            await self.remove_members(q.group.groupID or gid, [q.quitUser.userID])
        elif ct == ContentType.MEMBER_KICKED:
            k = jsoncodec.from_go_json(sdkws_pb2.MemberKickedTips, detail)
            await self.remove_members(k.group.groupID or gid, [m.userID for m in k.kickedUserList])
        elif ct == ContentType.GROUP_DISMISSED:
            await self.apply_dismissed(jsoncodec.from_go_json(sdkws_pb2.GroupDismissedTips, detail).group)
        elif ct == ContentType.GROUP_OWNER_TRANSFERRED:
            t = jsoncodec.from_go_json(sdkws_pb2.GroupOwnerTransferredTips, detail)
            await self.apply_group(t.group)
            await self.apply_members(t.group.groupID or gid, [t.oldGroupOwnerInfo, t.newGroupOwner])
        elif ct in (ContentType.MEMBER_INVITED, ContentType.MEMBER_ENTER, ContentType.GROUP_CREATED):
            if ct == ContentType.MEMBER_INVITED:
                i = jsoncodec.from_go_json(sdkws_pb2.MemberInvitedTips, detail)
                g, entered = i.group, list(i.invitedUserList)
            elif ct == ContentType.MEMBER_ENTER:
                e = jsoncodec.from_go_json(sdkws_pb2.MemberEnterTips, detail)
                g, entered = e.group, [e.entrantUser]
            else:
                c = jsoncodec.from_go_json(sdkws_pb2.GroupCreatedTips, detail)
                g, entered = c.group, list(c.memberList)
            if any(m.userID == self._me for m in entered):
                self._spawn(self.sync_joined(), "joined groups sync")
            else:
                await self.apply_members(g.groupID or gid, entered)
                if g.groupID:
                    await self.apply_group(g)  # the tips' group already counts the newcomers
        elif ct == ContentType.JOIN_GROUP_APPLICATION:
            self._spawn(self.sync_applications(), "group applications sync")
        elif ct in (ContentType.GROUP_APPLICATION_ACCEPTED, ContentType.GROUP_APPLICATION_REJECTED):
            self._spawn(self.sync_applications(), "group applications sync")
            if ct == ContentType.GROUP_APPLICATION_ACCEPTED:
                self._spawn(self.sync_joined(), "joined groups sync")

    def _spawn(self, coro: Awaitable[Any], where: str) -> None:
        self._ctx.spawn(coro, where)


def _info_event(before: Group, after: Group) -> Event:
    if after.is_dismissed and not before.is_dismissed:
        return sev.GroupDismissed(after)
    return sev.GroupInfoChanged(after)
