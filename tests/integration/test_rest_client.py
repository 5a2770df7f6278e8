"""RestClient (typed methods, one per route) against the real bundled server."""

from __future__ import annotations

import hashlib

import pytest

from openim_sdk.protocol import errors as e
from openim_sdk.rest import RestClient, download, openim_hash, parse_token_claims, upload_file
from openim_sdk.rest.files import download_file, part_md5s


@pytest.fixture
async def admin(server):
    client = await RestClient.admin(server.api_url)
    async with client:
        yield client


async def register(admin, *ids):
    await admin.user.user_register(users=[{"userID": u, "nickname": u.upper()} for u in ids])


async def test_users_tokens_and_errors(server, admin):
    await register(admin, "ra", "rb")
    with pytest.raises(e.RegisteredAlreadyError):
        await register(admin, "ra")
    tok = await admin.mint_user_token("ra", 7)
    claims = parse_token_claims(tok)
    assert (claims.user_id, claims.platform_id) == ("ra", 7)
    async with RestClient(server.api_url, tok) as ra:
        info = await ra.user.get_users_info(user_ids=["ra", "rb"])
        assert sorted(u.nickname for u in info.usersInfo) == ["RA", "RB"]
        parsed = await ra.auth.parse_token(token=tok)
        assert parsed.userID == "ra" and parsed.expireTimeSeconds == claims.expires_at
        with pytest.raises(e.NoPermissionError) as info_err:
            await ra.user.user_register(users=[{"userID": "x", "nickname": "x"}], operation_id="op-denied")
        assert info_err.value.operation_id == "op-denied"
    newer = await admin.mint_user_token("ra", 7)
    assert newer != tok
    async with RestClient(server.api_url, tok) as old:  # policy 1: the older token is kicked
        with pytest.raises(e.TokenKickedError):
            await old.user.get_users_info(user_ids=["ra"])
    async with RestClient(server.api_url, "not-a-jwt") as bad:
        with pytest.raises(e.TokenMalformedError):
            await bad.user.get_users_info(user_ids=["ra"])


async def test_send_by_rest_pull_by_seq_and_conversations(server, admin):
    await register(admin, "sa", "sb")
    for i in range(3):
        resp = await admin.call("/msg/send_msg", {
            "sendID": "sa", "recvID": "sb", "senderPlatformID": 10, "content": {"content": f"t{i}"},
            "contentType": 101, "sessionType": 1})
        assert resp.serverMsgID and resp.sendTime > 0
    tok = await admin.mint_user_token("sb", 7)
    async with RestClient(server.api_url, tok) as sb:
        newest = await sb.msg.newest_seq(user_id="sb")
        assert newest.maxSeqs["si_sa_sb"] == 3
        pulled = await sb.msg.pull_msg_by_seq(
            user_id="sb", seq_ranges=[{"conversationID": "si_sa_sb", "begin": 1, "end": 3, "num": 3}])
        msgs = pulled.msgs["si_sa_sb"].Msgs
        assert [m.seq for m in msgs] == [1, 2, 3]
        assert [m.content for m in msgs] == [b'{"content":"t0"}', b'{"content":"t1"}', b'{"content":"t2"}']
        convs = await sb.conversation.get_sorted_conversation_list(
            user_id="sb", pagination={"pageNumber": 1, "showNumber": 10})
        assert convs.conversationTotal == 1 and convs.conversationElems[0].unreadCount == 3
        await sb.msg.mark_conversation_as_read(conversation_id="si_sa_sb", user_id="sb", has_read_seq=3)
        convs = await sb.conversation.get_sorted_conversation_list(
            user_id="sb", pagination={"pageNumber": 1, "showNumber": 10})
        assert convs.unreadTotal == 0


async def test_friends_and_groups(server, admin):
    await register(admin, "fa", "fb", "fc")
    ta, tb = await admin.mint_user_token("fa", 7), await admin.mint_user_token("fb", 7)
    async with RestClient(server.api_url, ta) as fa, RestClient(server.api_url, tb) as fb:
        await fa.friend.add_friend(from_user_id="fa", to_user_id="fb", req_msg="hi")
        reqs = await fb.friend.get_friend_apply_list(user_id="fb", pagination={"pageNumber": 1, "showNumber": 10})
        assert [r.fromUserID for r in reqs.FriendRequests] == ["fa"]
        await fb.friend.add_friend_response(from_user_id="fa", to_user_id="fb", handle_result=1)
        both = await fa.friend.is_friend(user_id1="fa", user_id2="fb")
        assert both.inUser1Friends and both.inUser2Friends
        friends = await fa.friend.get_friend_list(user_id="fa", pagination={"pageNumber": 1, "showNumber": 10})
        assert [f.friendUser.userID for f in friends.friendsInfo] == ["fb"]
        created = await fa.group.create_group(owner_user_id="fa", member_user_ids=["fb", "fc"],
                                              group_info={"groupName": "team", "groupType": 2})
        gid = created.groupInfo.groupID
        assert gid and created.groupInfo.memberCount == 3
        members = await fb.group.get_group_member_list(group_id=gid, pagination={"pageNumber": 1, "showNumber": 10})
        assert sorted(m.userID for m in members.members) == ["fa", "fb", "fc"]
        await fa.group.mute_group(group_id=gid)
        info = await fb.group.get_groups_info(group_ids=[gid])
        assert info.groupInfos[0].status == 3  # muted
        await fa.group.dismiss_group(group_id=gid)
        with pytest.raises(e.GroupError) as gone:
            await fb.group.quit_group(group_id=gid, user_id="fb")
        assert gone.value.code in (1204, 1201)


async def test_upload_and_download_with_progress(server, admin, tmp_path):
    await register(admin, "up")
    tok = await admin.mint_user_token("up", 7)
    data = bytes(range(256)) * (4 * 1024 * 13)  # 13 MiB: several parts
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    seen: list[tuple[int, int]] = []
    async with RestClient(server.api_url, tok) as up:
        state = await upload_file(up, src, "up/files/big.bin", progress=lambda d, t: seen.append((d, t)))
        assert state.url and len(state.done_parts) > 1
        assert seen[-1] == (len(data), len(data)) and len(seen) >= len(state.done_parts)
        assert state.hash == openim_hash(part_md5s(data, state.part_size))
        got = await download(up, state.url, tmp_path / "copy.bin", expected_hash=state.hash,
                             part_size=state.part_size)
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
        assert (tmp_path / "copy.bin").read_bytes() == data
        again = await upload_file(up, data, "up/files/big.bin")  # same content: already stored
        assert again.url == state.url
        with pytest.raises(e.FileError):
            await download(up, state.url, expected_hash="0" * 32, part_size=state.part_size)
        # straight to a file, chunk by chunk: same bytes, progress to the end, no .part left
        streamed: list[tuple[int, int]] = []
        size = await download_file(up, state.url, tmp_path / "streamed.bin",
                                   progress=lambda d, t: streamed.append((d, t)))
        assert size == len(data) and (tmp_path / "streamed.bin").read_bytes() == data
        assert streamed[-1] == (len(data), len(data)) and not (tmp_path / "streamed.bin.part").exists()
        with pytest.raises(e.FileError):  # a missing object: an error, and nothing written
            await download_file(up, state.url + "-missing", tmp_path / "missing.bin")
        assert not (tmp_path / "missing.bin").exists() and not (tmp_path / "missing.bin.part").exists()
