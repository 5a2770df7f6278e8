"""Friends, groups and users seen from every side: two or three SDK clients against the bundled
server, each checking its own events and its own cache (issue 13)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from openim_sdk.client import OpenIMClient
from openim_sdk.events import Event, MessageSendFailed
from openim_sdk.protocol.constants import GroupRole, GroupVerification
from openim_sdk.rest import RestClient
from openim_sdk.social import events as sev
from server_stub import ServerApp

E = TypeVar("E", bound=Event)


class Peer:
    """A started client and every event it emitted, with a wait that needs no sleeps."""

    def __init__(self, client: OpenIMClient) -> None:
        self.client = client
        self.events: list[Event] = []
        self._bump = asyncio.Event()
        client.on(Event)(self._record)

    def _record(self, event: Event) -> None:  # synchronous: recorded before emit() returns
        self.events.append(event)
        self._bump.set()

    def seen(self, cls: type[E], pred: Callable[[E], bool] = lambda e: True) -> list[E]:
        return [e for e in self.events if isinstance(e, cls) and pred(e)]

    async def wait(self, cls: type[E], pred: Callable[[E], bool] = lambda e: True, timeout: float = 10) -> E:
        async def found() -> E:
            while not self.seen(cls, pred):
                self._bump.clear()
                await self._bump.wait()
            return self.seen(cls, pred)[0]

        return await asyncio.wait_for(found(), timeout)

    def forget(self) -> None:
        self.events.clear()


@contextlib.asynccontextmanager
async def peers(server: ServerApp, tmp_path: Any, *ids: str) -> AsyncIterator[list[Peer]]:
    """Register ``ids`` (a ``user:platform`` entry is a second device of ``user``) and start a client each."""
    admin = await RestClient.admin(server.api_url)
    async with admin:
        users = sorted({i.split(":")[0] for i in ids})
        await admin.user.user_register(users=[{"userID": u, "nickname": u.title()} for u in users])
        clients = []
        for entry in ids:
            uid, _, platform = entry.partition(":")
            token = await admin.mint_user_token(uid, int(platform or 7))
            clients.append(OpenIMClient(server.api_url, server.ws_url, uid, token, platform_id=int(platform or 7),
                                        data_dir=tmp_path / f"data-{uid}-{platform or 7}", backoff=(0.05, 0.1, 0.2)))
    async with contextlib.AsyncExitStack() as stack:
        out = []
        for c in clients:
            await stack.enter_async_context(c)
            out.append(Peer(c))
        for c in clients:
            await c.wait_synced(10)
        for p in out:  # the login-time relation sync runs after the message sync: let it land
            await p.client.friends.sync_all()
            await p.client.groups.sync_all()
            p.forget()
        yield out


async def befriend(a: Peer, b: Peer) -> None:
    await a.client.friends.add(b.client.user_id)
    await b.wait(sev.FriendApplicationAdded)
    await b.client.friends.accept(a.client.user_id)
    await a.wait(sev.FriendAdded, lambda e: e.friend.user_id == b.client.user_id)
    a.forget()
    b.forget()


# ------------------------------------------------------------------ friends


async def test_friend_application_accepted_seen_from_both_sides(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob") as (alice, bob):
        await alice.client.friends.add("bob", "hi, it's alice")
        mine = alice.seen(sev.FriendApplicationAdded)  # the operation's own re-read: no wait needed
        assert [(a.from_user_id, a.to_user_id, a.req_msg) for a in (e.application for e in mine)] == [
            ("alice", "bob", "hi, it's alice")]
        got = await bob.wait(sev.FriendApplicationAdded)
        assert got.application.from_user_id == "alice" and got.application.handle_result == 0
        assert [a.from_user_id for a in await bob.client.friends.applications_to_me()] == ["alice"]
        assert [a.to_user_id for a in await alice.client.friends.applications_from_me()] == ["bob"]

        await bob.client.friends.accept("alice", "welcome")
        assert bob.seen(sev.FriendApplicationAccepted) and bob.seen(sev.FriendAdded)
        accepted = await alice.wait(sev.FriendApplicationAccepted)
        assert accepted.application.handle_msg == "welcome"
        added = await alice.wait(sev.FriendAdded)
        assert added.friend.user_id == "bob" and added.friend.user.nickname == "Bob"
        assert [f.user_id for f in await alice.client.friends.list()] == ["bob"]
        assert [f.user_id for f in await bob.client.friends.list()] == ["alice"]
        assert await alice.client.friends.check(["bob", "carol"]) == {"bob": True, "carol": False}
        assert (await alice.client.friends.applications_from_me())[0].handle_result == 1
        # each change is reported once, though the operation and the notification both re-read
        await asyncio.wait_for(alice.client.friends.sync_all(), 10)
        assert len(alice.seen(sev.FriendAdded)) == 1 and len(bob.seen(sev.FriendApplicationAccepted)) == 1


async def test_friend_application_refused_seen_from_both_sides(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob") as (alice, bob):
        await alice.client.friends.add("bob")
        await bob.wait(sev.FriendApplicationAdded)
        await bob.client.friends.refuse("alice", "no thanks")
        assert bob.seen(sev.FriendApplicationRejected)
        rejected = await alice.wait(sev.FriendApplicationRejected)
        assert rejected.application.handle_msg == "no thanks" and rejected.application.handle_result == -1
        assert await alice.client.friends.list() == [] and not alice.seen(sev.FriendAdded)


async def test_remark_pin_search_and_delete(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob", "carol") as (alice, bob, carol):
        await befriend(alice, bob)
        await befriend(alice, carol)
        await alice.client.friends.set_remark("bob", "Bobby")
        changed = await alice.wait(sev.FriendInfoChanged)
        assert changed.friend.remark == "Bobby" and changed.friend.name == "Bobby"
        await alice.client.friends.set_pinned(["carol"])
        assert [f.user_id for f in await alice.client.friends.list()] == ["carol", "bob"]
        assert [f.user_id for f in await alice.client.friends.search("bobby")] == ["bob"]
        assert await alice.client.friends.search("bobby", remark=False) == []
        assert [f.user_id for f in await alice.client.friends.list(offset=1, count=1)] == ["bob"]
        await alice.client.friends.add_black("carol")  # still a friend, but blocked: CheckFriend says no
        assert await alice.client.friends.check(["bob", "carol"]) == {"bob": True, "carol": False}
        assert [f.user_id for f in await alice.client.friends.list(filter_black=True)] == ["bob"]
        await alice.client.friends.remove_black("carol")
        await alice.client.friends.delete("bob")
        deleted = await alice.wait(sev.FriendDeleted)
        assert deleted.friend.user_id == "bob"
        assert [f.user_id for f in await alice.client.friends.list()] == ["carol"]
        # deleting is one-way: bob keeps alice
        await bob.client.friends.sync()
        assert [f.user_id for f in await bob.client.friends.list()] == ["alice"] and not bob.seen(sev.FriendDeleted)


async def test_blacklist_seen_on_the_other_device_and_enforced(server, tmp_path):
    async with peers(server, tmp_path, "alice", "alice:5", "carol") as (alice, alice2, carol):
        await alice.client.friends.add_black("carol")
        assert [e.entry.user_id for e in alice.seen(sev.BlacklistAdded)] == ["carol"]
        other = await alice2.wait(sev.BlacklistAdded)  # 1207, on alice's other device
        assert other.entry.user_id == "carol" and other.entry.user.nickname == "Carol"
        assert [b.user_id for b in await alice2.client.friends.blacklist()] == ["carol"]
        assert await alice.client.friends.is_blocked("carol")
        await carol.client.send_text("alice", "hi")
        refused = await carol.wait(MessageSendFailed)
        assert refused.error is not None and refused.error.code == 1302
        await alice.client.friends.remove_black("carol")
        await alice2.wait(sev.BlacklistDeleted)
        assert await alice2.client.friends.blacklist() == []


# ------------------------------------------------------------------ groups


async def test_group_lifecycle_seen_by_every_member(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob", "carol") as (alice, bob, carol):
        group = await alice.client.groups.create("crew", ["bob"])
        gid = group.group_id
        assert alice.seen(sev.JoinedGroupAdded)
        joined = await bob.wait(sev.JoinedGroupAdded)
        assert joined.group.group_name == "crew" and await bob.client.groups.is_joined(gid)
        # reported once the members are cached
        assert sorted(m.user_id for m in await bob.client.groups.members(gid)) == ["alice", "bob"]

        await alice.client.groups.invite(gid, ["carol"])
        assert (await bob.wait(sev.GroupMemberAdded)).member.user_id == "carol"
        await carol.wait(sev.JoinedGroupAdded)
        assert sorted(m.user_id for m in await carol.client.groups.members(gid)) == ["alice", "bob", "carol"]

        await alice.client.groups.set_info(gid, name="crew 2", notification="read me")
        info = await bob.wait(sev.GroupInfoChanged, lambda e: e.group.group_name == "crew 2")
        assert info.group.notification == "read me"

        await alice.client.groups.mute(gid)
        await carol.wait(sev.GroupInfoChanged, lambda e: e.group.is_muted)
        assert (await carol.client.groups.get_group(gid)).is_muted
        await alice.client.groups.mute(gid, False)
        await carol.wait(sev.GroupInfoChanged, lambda e: not e.group.is_muted)

        await alice.client.groups.mute_member(gid, "bob", 600)
        muted = await carol.wait(sev.GroupMemberInfoChanged, lambda e: e.member.user_id == "bob")
        assert muted.member.mute_end_time > 0
        await alice.client.groups.set_admin(gid, "carol")
        await bob.wait(sev.GroupMemberInfoChanged, lambda e: e.member.user_id == "carol" and e.member.is_admin)

        await alice.client.groups.kick(gid, ["bob"])
        assert (await carol.wait(sev.GroupMemberDeleted)).member.user_id == "bob"
        assert (await bob.wait(sev.JoinedGroupDeleted)).group.group_id == gid
        assert not await bob.client.groups.is_joined(gid) and await bob.client.groups.list() == []
        assert sorted(m.user_id for m in await alice.client.groups.members(gid)) == ["alice", "carol"]

        await alice.client.groups.transfer_owner(gid, "carol")
        owner = await carol.wait(sev.GroupInfoChanged, lambda e: e.group.owner_user_id == "carol")
        assert owner.group.owner_user_id == "carol"
        roles = {m.user_id: m.role_level for m in await carol.client.groups.members(gid)}
        assert roles == {"carol": GroupRole.OWNER, "alice": GroupRole.MEMBER}

        await carol.client.groups.dismiss(gid)
        assert carol.seen(sev.GroupDismissed)
        dismissed = await alice.wait(sev.GroupDismissed)
        assert dismissed.group.is_dismissed and len(alice.seen(sev.GroupDismissed)) == 1
        assert (await alice.client.groups.get_group(gid)).is_dismissed
        assert await alice.client.groups.members(gid) == [] and not await alice.client.groups.is_joined(gid)


async def test_join_with_application_accepted_and_refused(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob", "carol") as (alice, bob, carol):
        group = await alice.client.groups.create("club", [], need_verification=GroupVerification.ALL_NEED_VERIFICATION)
        gid = group.group_id
        await bob.client.groups.join(gid, "let me in")
        mine = bob.seen(sev.GroupApplicationAdded)
        assert [(e.application.group_id, e.application.req_msg) for e in mine] == [(gid, "let me in")]
        assert not await bob.client.groups.is_joined(gid)
        got = await alice.wait(sev.GroupApplicationAdded)  # 1503 to the owner
        assert got.application.user_id == "bob" and got.application.group.group_name == "club"
        assert [a.user_id for a in await alice.client.groups.applications_to_me()] == ["bob"]

        await alice.client.groups.accept(gid, "bob", "ok")
        assert alice.seen(sev.GroupApplicationAccepted)
        assert (await alice.wait(sev.GroupMemberAdded)).member.user_id == "bob"
        accepted = await bob.wait(sev.GroupApplicationAccepted)
        assert accepted.application.handle_msg == "ok"
        await bob.wait(sev.JoinedGroupAdded)
        assert await bob.client.groups.is_joined(gid)

        await carol.client.groups.join(gid, "me too")
        await alice.wait(sev.GroupApplicationAdded, lambda e: e.application.user_id == "carol")
        await alice.client.groups.refuse(gid, "carol", "full")
        rejected = await carol.wait(sev.GroupApplicationRejected)
        assert rejected.application.handle_msg == "full"
        assert not await carol.client.groups.is_joined(gid) and not carol.seen(sev.JoinedGroupAdded)


async def test_quit_seen_by_the_others(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob") as (alice, bob):
        gid = (await alice.client.groups.create("pair", ["bob"])).group_id
        await bob.wait(sev.JoinedGroupAdded)
        await bob.client.groups.quit(gid)
        assert bob.seen(sev.JoinedGroupDeleted)
        assert (await alice.wait(sev.GroupMemberDeleted)).member.user_id == "bob"
        assert [m.user_id for m in await alice.client.groups.members(gid)] == ["alice"]


async def test_member_list_paging_and_filters(server, tmp_path):
    async with peers(server, tmp_path, "alice") as (alice,):
        admin = await RestClient.admin(server.api_url)
        async with admin:
            await admin.user.user_register(users=[{"userID": f"m{i}", "nickname": f"Member {i}"} for i in range(6)])
        gid = (await alice.client.groups.create("big", ["m2", "m3", "m4", "m5"], admin_user_ids=["m0", "m1"])).group_id
        groups = alice.client.groups
        everyone = await groups.members(gid)
        assert [m.user_id for m in everyone][:1] == ["alice"] and len(everyone) == 7
        assert [m.user_id for m in await groups.members(gid, role_filter=1)] == ["alice"]
        assert sorted(m.user_id for m in await groups.members(gid, role_filter=2)) == ["m0", "m1"]
        assert sorted(m.user_id for m in await groups.members(gid, role_filter=3)) == ["m2", "m3", "m4", "m5"]
        assert len(await groups.members(gid, role_filter=4)) == 6
        assert len(await groups.owner_and_admins(gid)) == 3
        pages = [await groups.members(gid, offset=o, count=3) for o in (0, 3, 6)]
        assert [len(p) for p in pages] == [3, 3, 1]
        assert [m.user_id for p in pages for m in p] == [m.user_id for m in everyone]
        cut = sorted(m.join_time for m in everyone)[3]
        later = await groups.members_by_join_time(gid, join_time_begin=cut, exclude_user_ids=["m5"])
        assert later and all(m.join_time >= cut and m.user_id != "m5" for m in later)
        assert [m.user_id for m in await groups.search_members(gid, "member 3")] == ["m3"]
        assert [m.user_id for m in await groups.get_members(gid, ["m4", "alice"])] == ["m4", "alice"]
        assert [g.group_id for g in await groups.search("BIG")] == [gid]
        assert await groups.users_in_group(gid, ["m1", "nobody", "alice"]) == ["m1", "alice"]


# ------------------------------------------------------------------ users


async def test_self_info_update_reported_and_cached(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob") as (alice, bob):
        await befriend(alice, bob)
        me = await alice.client.users.set_self_info(nickname="Alicia", ex='{"mood":"sunny"}')
        assert me.nickname == "Alicia" and me.ex == '{"mood":"sunny"}'
        assert [e.user.nickname for e in alice.seen(sev.SelfInfoUpdated)] == ["Alicia"]
        assert (await alice.client.users.get_self()).nickname == "Alicia" and alice.client.nickname == "Alicia"
        # bob re-reads alice's profile: the friend entry follows
        await bob.client.users.refresh(["alice"])
        changed = await bob.wait(sev.FriendInfoChanged)
        assert changed.friend.user.nickname == "Alicia"
        assert (await bob.client.friends.list())[0].name == "Alicia"


async def test_self_info_update_pushed_to_friends_and_other_devices(server, tmp_path):
    async with peers(server, tmp_path, "alice", "alice:5", "bob") as (alice, alice2, bob):
        await befriend(alice, bob)
        await alice.client.users.set_self_info(nickname="Alicia")
        await alice2.wait(sev.SelfInfoUpdated, timeout=3)
        await bob.wait(sev.FriendInfoChanged, timeout=3)


async def test_users_through_the_cache_status_and_commands(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob") as (alice, bob):
        users = alice.client.users
        got = await users.get(["bob", "nobody"])
        assert [u.user_id for u in got] == ["bob"] and got[0].nickname == "Bob"
        now = await users.subscribe_status(["bob"])
        assert now[0].user_id == "bob" and now[0].online
        assert (await users.get_status(["bob"]))[0].online
        await users.unsubscribe_status(["bob"])

        await users.add_command(1, "u1", "v1")
        assert [e.command.uuid for e in alice.seen(sev.UserCommandAdded)] == ["u1"]
        await users.update_command(1, "u1", value="v2")
        assert alice.seen(sev.UserCommandUpdated)[0].command.value == "v2"
        assert [c.value for c in await users.commands(1)] == ["v2"]
        await users.delete_command(1, "u1")
        assert alice.seen(sev.UserCommandDeleted) and await users.commands() == []


async def test_changes_made_while_offline_arrive_with_the_next_login(server, tmp_path):
    async with peers(server, tmp_path, "alice", "bob", "carol") as (alice, bob, carol):
        gid = (await alice.client.groups.create("crew", ["bob", "carol"])).group_id
        await befriend(alice, bob)
        token, data_dir = alice.client.api.token, alice.client.data_dir
        await alice.client.close()
        await bob.client.groups.quit(gid)  # alice is away: no notification reaches her
        await carol.client.friends.add("alice", "hello")
        await bob.client.friends.delete("alice")  # one-way: alice keeps bob
        again = Peer(OpenIMClient(server.api_url, server.ws_url, "alice", token, platform_id=7, data_dir=data_dir,
                                  backoff=(0.05, 0.1, 0.2)))
        async with again.client:
            gone = await again.wait(sev.GroupMemberDeleted)  # the incremental member sync from the stored version
            assert gone.member.user_id == "bob"
            applied = await again.wait(sev.FriendApplicationAdded)
            assert applied.application.from_user_id == "carol" and applied.application.req_msg == "hello"
            assert not again.seen(sev.JoinedGroupAdded) and not again.seen(sev.FriendAdded)  # nothing else is news
            assert sorted(m.user_id for m in await again.client.groups.members(gid)) == ["alice", "carol"]
            assert [f.user_id for f in await again.client.friends.list()] == ["bob"]
