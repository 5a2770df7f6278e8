"""Groups: ``client.groups``. Reads come from the cache (joined groups and their members, kept
by :class:`~openim_sdk.social.group_sync.GroupSync`); each operation calls the server, then
re-reads or applies what it changed, so the cache and the events follow without waiting for the
notification (which, when it comes, finds nothing new to report).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from ..protocol.constants import GroupRole, GroupStatus, JoinSource
from ..protocol.pb.sdkws import sdkws_pb2
from ..session.context import NotificationRouter, SessionContext
from .diff import filter_members
from .group_sync import GroupSync
from .models import ACCEPTED, REJECTED, Group, GroupApplication, GroupMember


class Groups:
    """Joined groups, members, applications and every group operation of the official core."""

    def __init__(self, ctx: SessionContext, router: NotificationRouter | None = None) -> None:
        self._ctx = ctx
        self.cache = GroupSync(ctx, router)

    @property
    def _me(self) -> str:
        return self._ctx.user_id

    # ------------------------------------------------------------------ reading

    async def list(self, *, offset: int = 0, count: int = 0) -> builtins.list[Group]:
        """GetJoinedGroupList (GetJoinedGroupListPage with ``count`` > 0); dismissed groups stay
        listed with ``is_dismissed``."""
        rows = [Group.from_pb(g) for g in await self._ctx.run(self._ctx.store.groups)]
        return rows[offset:offset + count] if count else rows[offset:]

    async def get(self, group_ids: Iterable[str]) -> builtins.list[Group]:
        """GetSpecifiedGroupsInfo: joined groups from the cache, others from the server (not cached)."""
        ids = list(dict.fromkeys(group_ids))
        cached = {g.group_id: g for g in await self.list() if g.group_id in ids}
        missing = [g for g in ids if g not in cached]
        if missing:
            resp = await self._ctx.rest.group.get_groups_info(group_ids=missing)
            cached.update((g.groupID, Group.from_pb(g)) for g in resp.groupInfos)
        return [cached[g] for g in ids if g in cached]

    async def get_group(self, group_id: str) -> Group | None:
        found = await self.get([group_id])
        return found[0] if found else None

    async def is_joined(self, group_id: str) -> bool:
        """IsJoinGroup."""
        g = await self._ctx.run(self._ctx.store.group, group_id)
        return g is not None and g.status != GroupStatus.DISMISSED

    async def search(self, keyword: str, *, by_id: bool = True, by_name: bool = True) -> builtins.list[Group]:
        """SearchGroups over joined groups (case-insensitive substring)."""
        kw = keyword.lower()
        return [g for g in await self.list()
                if (by_id and kw in g.group_id.lower()) or (by_name and kw in g.group_name.lower())]

    async def _members(self, group_id: str) -> builtins.list[GroupMember]:
        """Cached members; a group whose members were never synced (e.g. asked for before the
        login-time sync reached it) is synced first."""
        ctx = self._ctx
        rows = await ctx.run(ctx.store.group_members, group_id)
        if not rows and await ctx.run(ctx.store.get_version, "group_members", group_id) is None:
            await self.cache.sync_members([group_id], quiet=True)
            rows = await ctx.run(ctx.store.group_members, group_id)
        return [GroupMember.from_pb(m) for m in rows]

    async def members(self, group_id: str, *, role_filter: int = 0, offset: int = 0, count: int = 0) -> builtins.list[GroupMember]:
        """GetGroupMemberList: owner, admins, members by join time; ``role_filter`` 0 all,
        1 owner, 2 admins, 3 members, 4 admins+members, 5 owner+admins; a page of ``count``
        (0 = all) from ``offset``."""
        return filter_members(await self._members(group_id), role_filter=role_filter, offset=offset, count=count)

    async def members_by_join_time(self, group_id: str, *, join_time_begin: int = 0, join_time_end: int = 0,
                                   exclude_user_ids: Iterable[str] = (), offset: int = 0,
                                   count: int = 0) -> builtins.list[GroupMember]:
        """GetGroupMemberListByJoinTimeFilter (milliseconds; 0 = open bound)."""
        return filter_members(await self._members(group_id), join_time_begin=join_time_begin,
                              join_time_end=join_time_end, exclude_user_ids=exclude_user_ids, offset=offset,
                              count=count)

    async def owner_and_admins(self, group_id: str) -> builtins.list[GroupMember]:
        """GetGroupMemberOwnerAndAdmin."""
        return await self.members(group_id, role_filter=5)

    async def get_members(self, group_id: str, user_ids: Iterable[str]) -> builtins.list[GroupMember]:
        """GetSpecifiedGroupMembersInfo: cached members, the rest asked from the server."""
        ids = list(dict.fromkeys(user_ids))
        cached = {m.user_id: m for m in await self._members(group_id) if m.user_id in ids}
        missing = [u for u in ids if u not in cached]
        if missing:
            resp = await self._ctx.rest.group.get_group_members_info(group_id=group_id, user_ids=missing)
            cached.update((m.userID, GroupMember.from_pb(m)) for m in resp.members)
        return [cached[u] for u in ids if u in cached]

    async def users_in_group(self, group_id: str, user_ids: Iterable[str]) -> builtins.list[str]:
        """GetUsersInGroup: which of ``user_ids`` are members (empty when I have not joined)."""
        if not await self.is_joined(group_id):
            return []
        present = {m.user_id for m in await self._members(group_id)}
        return [u for u in dict.fromkeys(user_ids) if u in present]

    async def search_members(self, group_id: str, keyword: str, *, by_user_id: bool = True,
                             by_nickname: bool = True, offset: int = 0, count: int = 0) -> builtins.list[GroupMember]:
        """SearchGroupMembers in a joined group."""
        kw = keyword.lower()
        found = [m for m in await self.members(group_id)
                 if (by_user_id and kw in m.user_id.lower()) or (by_nickname and kw in m.nickname.lower())]
        return found[offset:offset + count] if count else found[offset:]

    async def applications_to_me(self) -> builtins.list[GroupApplication]:
        """GetGroupApplicationListAsRecipient (groups I own or administer), newest first."""
        rows = await self._ctx.run(self._ctx.store.group_requests, exclude_user_id=self._me)
        return [GroupApplication.from_pb(r) for r in rows]

    async def applications_from_me(self) -> builtins.list[GroupApplication]:
        """GetGroupApplicationListAsApplicant, newest first."""
        rows = await self._ctx.run(self._ctx.store.group_requests, user_id=self._me)
        return [GroupApplication.from_pb(r) for r in rows]

    # ------------------------------------------------------------------ writing

    async def create(self, name: str, member_user_ids: Iterable[str] = (), *, admin_user_ids: Iterable[str] = (),
                     group_id: str = "", face_url: str = "", introduction: str = "", notification: str = "",
                     ex: str = "", need_verification: int = 0, look_member_info: int = 0,
                     apply_member_friend: int = 0) -> Group:
        """CreateGroup (I am the owner)."""
        info = {"groupID": group_id, "groupName": name, "faceURL": face_url, "introduction": introduction,
                "notification": notification, "ex": ex, "groupType": 2, "needVerification": need_verification,
                "lookMemberInfo": look_member_info, "applyMemberFriend": apply_member_friend}
        resp = await self._ctx.rest.group.create_group(
            owner_user_id=self._me, member_user_ids=list(member_user_ids), admin_user_ids=list(admin_user_ids),
            group_info=info)
        await self.cache.sync_joined()
        return Group.from_pb(resp.groupInfo)

    async def join(self, group_id: str, req_msg: str = "", *, join_source: int = JoinSource.SEARCH,
                   ex: str = "") -> None:
        """JoinGroup: joins at once, or leaves an application when the group asks for verification."""
        await self._ctx.rest.group.join_group(group_id=group_id, req_message=req_msg, join_source=join_source,
                                              ex=ex)
        await self.cache.sync_applications()
        await self.cache.sync_joined()

    async def quit(self, group_id: str) -> None:
        """QuitGroup (the owner must transfer or dismiss instead)."""
        await self._ctx.rest.group.quit_group(group_id=group_id, user_id=self._me)
        await self.cache.remove_members(group_id, [self._me])

    async def dismiss(self, group_id: str) -> None:
        """DismissGroup (owner only)."""
        await self._ctx.rest.group.dismiss_group(group_id=group_id)
        resp = await self._ctx.rest.group.get_groups_info(group_ids=[group_id])
        for g in resp.groupInfos:
            await self.cache.apply_dismissed(g)

    async def invite(self, group_id: str, user_ids: Iterable[str], reason: str = "") -> None:
        """InviteUserToGroup (an application per user when the group verifies invitations)."""
        await self._ctx.rest.group.invite_user_to_group(group_id=group_id, invited_user_ids=list(user_ids),
                                                        reason=reason)
        await self.cache.sync_members([group_id])

    async def kick(self, group_id: str, user_ids: Iterable[str], reason: str = "") -> None:
        """KickGroupMember."""
        ids = list(user_ids)
        await self._ctx.rest.group.kick_group(group_id=group_id, kicked_user_ids=ids, reason=reason)
        await self.cache.remove_members(group_id, ids)

    async def transfer_owner(self, group_id: str, new_owner_user_id: str) -> None:
        """TransferGroupOwner (I become an ordinary member)."""
        await self._ctx.rest.group.transfer_group(group_id=group_id, old_owner_user_id=self._me,
                                                  new_owner_user_id=new_owner_user_id)
        await self._refresh(group_id)

    async def mute(self, group_id: str, muted: bool = True) -> None:
        """ChangeGroupMute: only the owner and admins may speak while muted."""
        if muted:
            await self._ctx.rest.group.mute_group(group_id=group_id)
        else:
            await self._ctx.rest.group.cancel_mute_group(group_id=group_id)
        await self._refresh(group_id)

    async def mute_member(self, group_id: str, user_id: str, seconds: int) -> None:
        """ChangeGroupMemberMute: ``seconds`` 0 lifts the mute."""
        if seconds > 0:
            await self._ctx.rest.group.mute_group_member(group_id=group_id, user_id=user_id, muted_seconds=seconds)
        else:
            await self._ctx.rest.group.cancel_mute_group_member(group_id=group_id, user_id=user_id)
        await self.cache.sync_members([group_id])

    async def set_info(self, group_id: str, *, name: str | None = None, notification: str | None = None,
                       introduction: str | None = None, face_url: str | None = None, ex: str | None = None,
                       need_verification: int | None = None, look_member_info: int | None = None,
                       apply_member_friend: int | None = None) -> Group | None:
        """SetGroupInfo: only the given fields change."""
        await self._ctx.rest.group.set_group_info_ex(
            group_id=group_id, group_name=name, notification=notification, introduction=introduction,
            face_url=face_url, ex=ex, need_verification=need_verification, look_member_info=look_member_info,
            apply_member_friend=apply_member_friend)
        await self._refresh(group_id)
        return await self.get_group(group_id)

    async def set_member_info(self, group_id: str, user_id: str, *, nickname: str | None = None,
                              face_url: str | None = None, role_level: int | None = None,
                              ex: str | None = None) -> None:
        """SetGroupMemberInfo (group nickname, face, ex; ``role_level`` 60 admin / 20 member)."""
        member: dict[str, Any] = {"groupID": group_id, "userID": user_id}
        for key, value in (("nickname", nickname), ("faceURL", face_url), ("roleLevel", role_level), ("ex", ex)):
            if value is not None:
                member[key] = value  # a wrapper on the wire: set means "change it"
        await self._ctx.rest.group.set_group_member_info(members=[member])
        await self.cache.sync_members([group_id])

    async def set_admin(self, group_id: str, user_id: str, admin: bool = True) -> None:
        await self.set_member_info(group_id, user_id, role_level=GroupRole.ADMIN if admin else GroupRole.MEMBER)

    async def accept(self, group_id: str, user_id: str, handle_msg: str = "") -> None:
        """AcceptGroupApplication."""
        await self._respond(group_id, user_id, ACCEPTED, handle_msg)

    async def refuse(self, group_id: str, user_id: str, handle_msg: str = "") -> None:
        """RefuseGroupApplication."""
        await self._respond(group_id, user_id, REJECTED, handle_msg)

    async def _respond(self, group_id: str, user_id: str, result: int, handle_msg: str) -> None:
        await self._ctx.rest.group.group_application_response(group_id=group_id, from_user_id=user_id,
                                                              handle_result=result, handled_msg=handle_msg)
        await self.cache.sync_applications()
        if result == ACCEPTED:
            await self.cache.sync_members([group_id])

    async def _refresh(self, group_id: str) -> None:
        """Re-read a joined group's info and members after an operation on it."""
        resp = await self._ctx.rest.group.get_groups_info(group_ids=[group_id])
        for g in resp.groupInfos:
            await self.cache.apply_group(g)
        await self.cache.sync_members([group_id])

    # ------------------------------------------------------------------ sync

    async def sync_all(self) -> None:
        await self.cache.sync_all()

    async def refresh_group(self, g: sdkws_pb2.GroupInfo) -> None:
        await self.cache.apply_group(g)
