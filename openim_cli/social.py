"""``openim friends …``, ``openim groups …`` and ``openim conversations``: REST, thin over the SDK."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from . import output
from .main import JsonOpt, ProfileOpt, app, friends_app, groups_app, need_profile, rest_for, run

PAGE = {"pageNumber": 1, "showNumber": 1000}


def _rest_call(profile: str | None, fn: Any) -> Any:
    prof = need_profile(profile)

    async def body() -> Any:
        async with rest_for(prof) as api:
            return await fn(api, prof.user_id)

    return run(body)


def _ts(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000)) if ms else ""


# --------------------------------------------------------------------------- conversations


conversations_app = typer.Typer(help="Your conversations: list them (no subcommand), or delete one.")
app.add_typer(conversations_app, name="conversations")


@conversations_app.command("delete")
def conversations_delete(
    target: Annotated[str, typer.Argument(help="Conversation ID, user ID or group ID (--group).")],
    group: Annotated[bool, typer.Option("--group", "-g", help="TARGET is a group ID.")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete a conversation and its messages from your list, here and on the server (also one with
    a user who no longer exists or a group you left)."""
    from .messaging import with_client

    async def body(client: Any) -> str:
        cid, *_ = await client.resolve_target(target, group)
        await client.conversations_api.delete_on_server([cid])
        return str(cid)

    cid = with_client(profile, body)
    if as_json:
        output.emit_json({"conversationID": cid, "deleted": True})
    else:
        output.say(f"Deleted {cid}.")


@conversations_app.callback(invoke_without_command=True)
def conversations(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="How many to show.")] = 50,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List your conversations: pinned first, with unread counts and the latest message."""
    if ctx.invoked_subcommand is not None:
        return

    async def sorted_list(api: Any, me: str) -> tuple[Any, dict[str, str]]:
        from openim_sdk.protocol.errors import NotFoundError
        from openim_sdk.protocol.pb.conversation import conversation_pb2

        try:
            resp = await api.conversation.get_sorted_conversation_list(
                user_id=me, pagination={"pageNumber": 1, "showNumber": limit})
        except NotFoundError:  # the server answers 1004 when there are none
            return conversation_pb2.GetSortedConversationListResp(), {}
        peers = sorted({_peer(c, me) for c in resp.conversationElems} - {""})
        names: dict[str, str] = {}
        if peers:  # the peer's own name, not the latest sender's (which is often you)
            info = await api.user.get_users_info(user_ids=peers)
            names = {u.userID: u.nickname for u in info.usersInfo}
        return resp, names

    resp, names = _rest_call(profile, sorted_list)
    if as_json:
        output.emit_json(resp)
        return
    from openim_sdk.store import preview_text

    me = need_profile(profile).user_id
    rows = []
    for c in resp.conversationElems:
        latest = c.msgInfo
        preview = preview_text(latest.contentType, latest.content) if latest else ""
        peer = _peer(c, me)
        who = (latest.groupName or latest.groupID) if latest.groupID else (names.get(peer) or peer)
        rows.append(("📌" if c.IsPinned else "", c.conversationID, who or c.conversationID, c.unreadCount or "",
                     preview[:40], _ts(latest.LatestMsgRecvTime)))
    output.table(f"Conversations ({resp.conversationTotal}, {resp.unreadTotal} unread)",
                 ["", "conversation", "with", "unread", "latest", "time"], rows)


def _peer(c: Any, me: str) -> str:
    """The other user of a single chat ("" for a group or notification conversation)."""
    m = c.msgInfo
    if m.groupID or not c.conversationID.startswith("si_"):
        return ""
    if m.sendID and m.sendID != me:
        return str(m.sendID)
    if m.recvID and m.recvID != me:
        return str(m.recvID)
    return ""


# --------------------------------------------------------------------------- friends


@friends_app.command("list")
def friends_list(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Your friends."""
    resp = _rest_call(profile, lambda api, me: api.friend.get_friend_list(user_id=me, pagination=PAGE))
    if as_json:
        output.emit_json(resp)
        return
    output.table(f"Friends ({resp.total})", ["user", "nickname", "remark", "since"],
                 [(f.friendUser.userID, f.friendUser.nickname, f.remark, _ts(f.createTime)) for f in resp.friendsInfo])


@friends_app.command("requests")
def friends_requests(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Friend requests you received."""
    resp = _rest_call(profile, lambda api, me: api.friend.get_friend_apply_list(user_id=me, pagination=PAGE))
    if as_json:
        output.emit_json(resp)
        return
    state = {0: "pending", 1: "accepted", -1: "rejected"}
    output.table("Friend requests", ["from", "nickname", "message", "state", "time"],
                 [(r.fromUserID, r.fromNickname, r.reqMsg, state.get(r.handleResult, r.handleResult),
                   _ts(r.createTime)) for r in resp.FriendRequests])


@friends_app.command("add")
def friends_add(
    user_id: Annotated[str, typer.Argument(help="Who to ask.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Request message.")] = "",
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a friend request."""
    _rest_call(profile, lambda api, me: api.friend.add_friend(from_user_id=me, to_user_id=user_id,
                                                                       req_msg=message))
    output.done(as_json, f"Friend request sent to {user_id}.")


def _respond(user_id: str, result: int, message: str, profile: str | None) -> None:
    _rest_call(profile, lambda api, me: api.friend.add_friend_response(
        from_user_id=user_id, to_user_id=me, handle_result=result, handle_msg=message))


@friends_app.command("accept")
def friends_accept(user_id: str, message: str = "", profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Accept USER_ID's friend request."""
    _respond(user_id, 1, message, profile)
    output.done(as_json, f"You and {user_id} are now friends.")


@friends_app.command("reject")
def friends_reject(user_id: str, message: str = "", profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Reject USER_ID's friend request."""
    _respond(user_id, -1, message, profile)
    output.done(as_json, f"Rejected {user_id}'s request.")


@friends_app.command("remove")
def friends_remove(user_id: str, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Remove a friend."""
    _rest_call(profile, lambda api, me: api.friend.delete_friend(owner_user_id=me, friend_user_id=user_id))
    output.done(as_json, f"Removed {user_id} from your friends.")


@friends_app.command("black")
def friends_black(
    user_id: Annotated[str | None, typer.Argument(help="User to block; omit to list the blacklist.")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Unblock instead.")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Block or unblock a user, or list blocked users."""
    if user_id is None:
        resp = _rest_call(profile, lambda api, me: api.friend.get_black_list(user_id=me, pagination=PAGE))
        if as_json:
            output.emit_json(resp)
        else:
            output.table("Blocked", ["user", "nickname", "since"],
                         [(b.blackUserInfo.userID, b.blackUserInfo.nickname, _ts(b.createTime)) for b in resp.blacks])
        return
    if remove:
        _rest_call(profile, lambda api, me: api.friend.remove_black(owner_user_id=me, black_user_id=user_id))
        output.say(f"Unblocked {user_id}.")
    else:
        _rest_call(profile, lambda api, me: api.friend.add_black(owner_user_id=me, black_user_id=user_id))
        output.say(f"Blocked {user_id}.")


# --------------------------------------------------------------------------- groups


@groups_app.command("list")
def groups_list(profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Groups you are in."""
    resp = _rest_call(profile, lambda api, me: api.group.get_joined_group_list(from_user_id=me, pagination=PAGE))
    if as_json:
        output.emit_json(resp)
        return
    output.table(f"Groups ({resp.total})", ["group", "name", "members", "owner"],
                 [(g.groupID, g.groupName + (" (dismissed)" if g.status == 2 else ""), g.memberCount, g.ownerUserID)
                  for g in resp.groups])


@groups_app.command("create")
def groups_create(
    name: Annotated[str, typer.Argument(help="Group name.")],
    members: Annotated[list[str] | None, typer.Argument(help="Initial members.")] = None,
    group_id: Annotated[str, typer.Option("--id", help="Group ID (default: server-chosen).")] = "",
    admins: Annotated[list[str] | None, typer.Option("--admin", help="Admin member (repeatable).")] = None,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group you own."""
    resp = _rest_call(profile, lambda api, me: api.group.create_group(
        owner_user_id=me, member_user_ids=list(members or []), admin_user_ids=list(admins or []),
        group_info={"groupID": group_id, "groupName": name, "groupType": 2}))
    if as_json:
        output.emit_json(resp)
    else:
        output.say(f"Created group [bold]{resp.groupInfo.groupID}[/] ({resp.groupInfo.groupName}).")


@groups_app.command("join")
def groups_join(group_id: str, message: str = "", profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Join (or ask to join) a group."""
    _rest_call(profile, lambda api, me: api.group.join_group(group_id=group_id, req_message=message, join_source=3))
    output.done(as_json, f"Join request for {group_id} sent.")


@groups_app.command("members")
def groups_members(group_id: str, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Members of a group."""
    resp = _rest_call(profile, lambda api, me: api.group.get_group_member_list(group_id=group_id, pagination=PAGE))
    if as_json:
        output.emit_json(resp)
        return
    roles = {100: "owner", 60: "admin", 20: "member"}
    output.table(f"Members of {group_id} ({resp.total})", ["user", "nickname", "role", "muted until"],
                 [(m.userID, m.nickname, roles.get(m.roleLevel, m.roleLevel),
                   _ts(m.muteEndTime) if m.muteEndTime > time.time() * 1000 else "") for m in resp.members])


@groups_app.command("invite")
def groups_invite(group_id: str, user_ids: list[str], profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Invite users into a group."""
    _rest_call(profile, lambda api, me: api.group.invite_user_to_group(group_id=group_id, invited_user_ids=user_ids))
    output.done(as_json, f"Invited {', '.join(user_ids)} to {group_id}.")


@groups_app.command("kick")
def groups_kick(group_id: str, user_ids: list[str], profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Remove members from a group."""
    _rest_call(profile, lambda api, me: api.group.kick_group(group_id=group_id, kicked_user_ids=user_ids))
    output.done(as_json, f"Removed {', '.join(user_ids)} from {group_id}.")


@groups_app.command("mute")
def groups_mute(
    group_id: str,
    user_id: Annotated[str | None, typer.Argument(help="Member to mute; omit to mute the whole group.")] = None,
    seconds: Annotated[int, typer.Option(help="Mute duration for a member.")] = 3600,
    undo: Annotated[bool, typer.Option("--undo", help="Cancel the mute.")] = False,
    profile: ProfileOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mute a member (or the whole group); --undo cancels."""
    if user_id is None:
        if undo:
            _rest_call(profile, lambda api, me: api.group.cancel_mute_group(group_id=group_id))
        else:
            _rest_call(profile, lambda api, me: api.group.mute_group(group_id=group_id))
        output.done(as_json, f"Group {group_id} {'unmuted' if undo else 'muted'}.")
        return
    if undo:
        _rest_call(profile, lambda api, me: api.group.cancel_mute_group_member(group_id=group_id, user_id=user_id))
    else:
        _rest_call(profile, lambda api, me: api.group.mute_group_member(group_id=group_id, user_id=user_id,
                                                                        muted_seconds=seconds))
    output.done(as_json, f"{user_id} {'unmuted' if undo else f'muted for {seconds}s'} in {group_id}.")


@groups_app.command("quit")
def groups_quit(group_id: str, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Leave a group."""
    _rest_call(profile, lambda api, me: api.group.quit_group(group_id=group_id, user_id=me))
    output.done(as_json, f"You left {group_id}.")


@groups_app.command("dismiss")
def groups_dismiss(group_id: str, profile: ProfileOpt = None, as_json: JsonOpt = False) -> None:
    """Dismiss a group you own."""
    _rest_call(profile, lambda api, me: api.group.dismiss_group(group_id=group_id))
    output.done(as_json, f"Group {group_id} dismissed.")
