"""``Webhooks``: the one object services call at upstream's callback points.

Built once at start-up (``ServerApp.start``) from ``ServerConfig.webhooks`` and handed to the
core as ``core.webhooks``; each call site is one line. ``before_*`` methods are awaited and
raise the receiver's refusal (or, without ``failedContinue``, the failure) as an
``OpenIMError``, which the REST/WS layers turn into OpenIM's error envelope; ``after_*``
methods queue the POST and return at once. Which upstream function each method mirrors is
said in its docstring (``internal/rpc/*/callback.go``, ``internal/msggateway/callback.go``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from openim_sdk.protocol import jsoncodec
from openim_sdk.protocol.errors import OpenIMError
from openim_sdk.protocol.pb.sdkws import sdkws_pb2

from . import bodies as b
from .client import WebhookClient
from .config import CallbackConfig, WebhooksConfig

if TYPE_CHECKING:
    from ..push import Hub

log = logging.getLogger("server_stub.webhooks")

GROUP_OWNER, GROUP_ADMIN, GROUP_ORDINARY = 100, 60, 20
#: The conversation record fields a before-create-conversation reply may set, with their types.
CONVERSATION_FIELDS: dict[str, type] = {"recvMsgOpt": int, "isPinned": bool, "isPrivateChat": bool,
                                        "burnDuration": int, "groupAtType": int, "attachedInfo": str, "ex": str}


_INFO_EX = ("groupName", "notification", "introduction", "faceURL", "ex", "needVerification", "lookMemberInfo",
            "applyMemberFriend")


class Webhooks:
    def __init__(self, config: WebhooksConfig | None = None, hub: Hub | None = None,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config or WebhooksConfig()
        self.hub = hub
        self.client = WebhookClient(self.config.url, transport) if self.config.any_enabled else None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._push_lock = asyncio.Lock()

    async def close(self, grace: float = 2.0) -> None:
        """Give queued callbacks ``grace`` seconds, then drop the rest (a dead receiver never
        holds up shutdown)."""
        if self.client is not None:
            try:
                await asyncio.wait_for(self.drain(), grace)
            except TimeoutError:
                log.warning("webhooks: dropping callbacks still queued at shutdown")
            for task in list(self._tasks):
                task.cancel()
            await self.client.close()

    async def drain(self) -> None:
        """Wait for every queued after-callback and background before-callback (tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self.client is not None:
            await self.client.drain()

    # -- plumbing ------------------------------------------------------------------------------

    def _cfg(self, name: str) -> CallbackConfig | None:
        cfg = self.config.get(name)
        return cfg if cfg.enable and self.client is not None else None

    async def _before(self, name: str, body: dict[str, Any], op: str) -> dict[str, Any] | None:
        cfg = self._cfg(name)
        if cfg is None or self.client is None:
            return None
        return await self.client.sync_post(b.CMD[name], body, cfg, op)

    def _after(self, name: str, body: dict[str, Any], op: str, query: dict[str, str] | None = None) -> None:
        cfg = self._cfg(name)
        if cfg is not None and self.client is not None:
            self.client.async_post(b.CMD[name], body, cfg, op, query)

    def _background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- messages (internal/rpc/msg/callback.go, send.go, verify.go) -----------------------------

    async def before_send(self, msg: sdkws_pb2.MsgData, op: str, sender_is_admin: bool = False) -> None:
        """beforeSendSingleMsg (not for an app-manager sender) / beforeSendGroupMsg, then
        beforeMsgModify, whose reply may change the message (``webhookBeforeMsgModify``)."""
        if msg.sessionType not in (b.SINGLE, b.GROUP) or self.client is None:
            return
        name = "beforeSendSingleMsg" if msg.sessionType == b.SINGLE else "beforeSendGroupMsg"
        cfg = self._cfg(name)
        if cfg is not None and not (sender_is_admin and msg.sessionType == b.SINGLE) \
                and not b.is_denied(msg, cfg.denied_types):
            await self._before(name, self._msg_body(name, msg, op), op)
        cfg = self._cfg("beforeMsgModify")
        if cfg is not None and not b.is_denied(msg, cfg.denied_types):
            reply = await self._before("beforeMsgModify", b.common_msg(msg, b.CMD["beforeMsgModify"], op), op)
            if reply:
                b.apply_modify(msg, reply)

    def after_send(self, msg: sdkws_pb2.MsgData, recipients: list[str], op: str, duplicate: bool = False) -> None:
        """afterSendSingleMsg / afterSendGroupMsg (``?key=`` query) and afterMsgSaveDB (with the seq,
        ``internal/msgtransfer/callback.go``); the push callbacks are in ``push``. Nothing for a ``duplicate`` (a resend answered with the first copy's ack)."""
        if self.client is None or duplicate or msg.sessionType not in (b.SINGLE, b.GROUP, 4):
            return
        if msg.sessionType in (b.SINGLE, b.GROUP):
            name = "afterSendSingleMsg" if msg.sessionType == b.SINGLE else "afterSendGroupMsg"
            cfg = self._cfg(name)
            if cfg is not None and not b.is_denied(msg, cfg.denied_types, cfg.attention_ids):
                self._after(name, self._msg_body(name, msg, op), op, b.key_query(msg))
        cfg = self._cfg("afterMsgSaveDB")
        if cfg is not None and msg.seq and not b.is_denied(msg, cfg.denied_types, cfg.attention_ids):
            body = b.common_msg(msg, b.CMD["afterMsgSaveDB"], op, msg.seq)
            body["recvID"], body["groupID"] = ("", msg.groupID) if msg.sessionType == b.GROUP else (msg.recvID, "")
            self._after("afterMsgSaveDB", body, op, b.key_query(msg))

    def push(self, msg: sdkws_pb2.MsgData, recipients: list[str], offline_candidates: list[str],
             online: Callable[[list[str]], None],
             offline: Callable[[list[str], sdkws_pb2.OfflinePushInfo | None], None], op: str) -> Callable[[], None]:
        """The push of a sent message, as ``internal/push/push_handler.go`` Push2User/Push2Group:
        beforeOnlinePush (1:1 and notification chats) or beforeGroupOnlinePush (groups) first — a
        refusal or, without ``failedContinue``, a failure drops the push (online and offline; the
        message stays stored), a non-empty ``userIDList`` in a group reply replaces the online
        recipients — then ``online(users)``; then, of ``offline_candidates`` (the send path's
        ``msg_rules.offline_push_candidates``: offlinePush on, receive options applied), those the
        online push missed go through beforeOfflinePush: a refusal drops the offline push, a
        non-empty ``userIDList`` replaces the targets, an ``offlinePushInfo`` replaces the
        message's; then ``offline(targets, info)``. With none of these callbacks enabled (or for
        typing) the returned callable pushes at once; otherwise it runs in a background task, one
        push at a time, in send order."""
        name = "beforeGroupOnlinePush" if msg.sessionType == b.GROUP else "beforeOnlinePush"
        typing = msg.contentType == b.TYPING
        gated = self._cfg(name) is not None and not typing
        offline_hook = bool(offline_candidates) and self._cfg("beforeOfflinePush") is not None and not typing
        hub = self.hub
        if hub is None or not (gated or offline_hook):
            def plain() -> None:
                online(list(recipients))
                if offline_candidates:
                    offline(offline_candidates, None)
            return plain

        async def run() -> None:
            async with self._push_lock:
                users = list(recipients)
                if gated:
                    try:
                        reply = await self._before(name, self._online_push_body(name, msg, recipients, op), op)
                    except Exception as err:  # noqa: BLE001 - a refused push is logged, as upstream
                        log.info("%s: push dropped: %s", name, err, extra={"operationID": op})
                        return
                    listed = reply.get("userIDList") if reply and name == "beforeGroupOnlinePush" else None
                    if isinstance(listed, list) and listed:
                        users = [str(u) for u in listed]
                online(users)
                if not offline_candidates:
                    return
                if not offline_hook:
                    offline(offline_candidates, None)
                    return
                targets = [u for u in dict.fromkeys(offline_candidates) if not hub.online(u)]
                if not targets:
                    return
                try:
                    reply = await self._before("beforeOfflinePush", b.offline_push(msg, targets, op), op)
                except Exception as err:  # noqa: BLE001 - push failures are only logged upstream too
                    log.warning("webhookBeforeOfflinePush: offline push dropped: %s", err, extra={"operationID": op})
                    return
                info = None
                if reply:
                    listed = reply.get("userIDList")
                    if isinstance(listed, list) and listed:
                        targets = [str(u) for u in listed]
                    if isinstance(reply.get("offlinePushInfo"), dict):
                        info = jsoncodec.from_go_json(sdkws_pb2.OfflinePushInfo, reply["offlinePushInfo"])
                offline(targets, info)

        return lambda: self._background(run())

    @staticmethod
    def _online_push_body(name: str, msg: sdkws_pb2.MsgData, recipients: list[str], op: str) -> dict[str, Any]:
        if name == "beforeOnlinePush":
            body = b.user_status(b.CMD[name], op, msg.senderPlatformID, userIDList=list(recipients))
        else:
            body = b.user_status(b.CMD[name], op, msg.senderPlatformID)
            body["groupID"], body["seq"] = msg.groupID, msg.seq
        body.update({"clientMsgID": msg.clientMsgID, "sendID": msg.sendID, "contentType": msg.contentType,
                     "sessionType": msg.sessionType, "atUserIDList": list(msg.atUserIDList) or None,
                     "content": b.content_text(msg)})
        body.setdefault("groupID", msg.groupID)
        return body

    @staticmethod
    def _msg_body(name: str, msg: sdkws_pb2.MsgData, op: str) -> dict[str, Any]:
        body = b.common_msg(msg, b.CMD[name], op)
        if msg.sessionType == b.SINGLE:
            body["recvID"] = msg.recvID
        else:
            body["groupID"] = msg.groupID
        return body

    def after_revoke(self, conversation_id: str, seq: int, user_id: str, op: str) -> None:
        """afterRevokeMsg (``CallbackAfterRevokeMsgReq``)."""
        self._after("afterRevokeMsg", {"callbackCommand": b.CMD["afterRevokeMsg"], "conversationID": conversation_id,
                                       "seq": seq, "userID": user_id}, op)

    def after_single_msg_read(self, conversation_id: str, user_id: str, seqs: list[int], conv_type: int,
                              op: str) -> None:
        """afterSingleMsgRead (``as_read.go`` MarkMsgsAsRead: every conversation type; the key
        ``Seqs`` is capitalised and ``contentType`` holds the conversation type, as upstream)."""
        self._after("afterSingleMsgRead", {"callbackCommand": b.CMD["afterSingleMsgRead"],
                                           "conversationID": conversation_id, "userID": user_id,
                                           "Seqs": list(seqs), "contentType": conv_type}, op)

    def after_conversation_read(self, conv: Any, user_id: str, seqs: list[int], has_read_seq: int, op: str) -> None:
        """MarkConversationAsRead: afterSingleMsgRead for a 1:1 conversation, afterGroupMsgRead
        (``sendID`` the owner, ``receiveID`` the reader, ``unreadMsgNum`` = hasReadSeq) for a group."""
        if conv.conversationType == b.SINGLE:
            self.after_single_msg_read(conv.conversationID, user_id, seqs, conv.conversationType, op)
        elif conv.conversationType == b.GROUP:
            self._after("afterGroupMsgRead", {"callbackCommand": b.CMD["afterGroupMsgRead"], "sendID": user_id,
                                              "receiveID": user_id, "unreadMsgNum": has_read_seq,
                                              "contentType": conv.conversationType}, op)

    # -- connections (internal/msggateway/callback.go, online.go) ---------------------------------

    def user_online(self, client: Any, kicked: list[Any]) -> None:
        """afterUserOnline when ``client`` is the first connection of its user on its platform;
        afterUserKickOff for each connection the multi-login policy kicked (upstream defines
        that callback but never fires it; the stub does, here)."""
        if self.client is None or self.hub is None:
            return
        for k in kicked:
            self._after("afterUserKickOff", b.user_status(b.CMD["afterUserKickOff"], client.operation_id,
                                                          k.platform_id, userID=k.user_id, seq=b.now_ms()),
                        client.operation_id)
        if self._on_platform(client) == 1:
            self._after("afterUserOnline", b.user_status(
                b.CMD["afterUserOnline"], client.operation_id, client.platform_id, userID=client.user_id,
                seq=b.now_ms(), isAppBackground=bool(client.is_background), connID=client.conn_id),
                client.operation_id)

    def user_offline(self, client: Any) -> None:
        """afterUserOffline when the last connection of the user on that platform closed."""
        if self.client is None or self.hub is None or self._on_platform(client):
            return
        self._after("afterUserOffline", b.user_status(
            b.CMD["afterUserOffline"], client.operation_id, client.platform_id, userID=client.user_id,
            seq=b.now_ms(), connID=client.conn_id), client.operation_id)

    def _on_platform(self, client: Any) -> int:
        assert self.hub is not None
        return sum(1 for c in self.hub.of(client.user_id) if c.platform_id == client.platform_id)

    # -- friends (internal/rpc/relation/callback.go) ------------------------------------------------

    async def before_add_friend(self, from_id: str, to_id: str, req_msg: str, ex: str, op: str) -> None:
        await self._before("beforeAddFriend", {"callbackCommand": b.CMD["beforeAddFriend"], "fromUserID": from_id,
                                               "toUserID": to_id, "reqMsg": req_msg, "ex": ex}, op)

    def after_add_friend(self, from_id: str, to_id: str, req_msg: str, op: str) -> None:
        self._after("afterAddFriend", {"callbackCommand": b.CMD["afterAddFriend"], "fromUserID": from_id,
                                       "toUserID": to_id, "reqMsg": req_msg}, op)

    async def before_add_friend_agree(self, from_id: str, to_id: str, result: int, handle_msg: str,
                                      op: str) -> None:
        """Only for an accepting answer (result 1), as upstream ``RespondFriendApply``."""
        if result == 1:
            await self._before("beforeAddFriendAgree", self._agree("beforeAddFriendAgree", from_id, to_id, result,
                                                                   handle_msg), op)

    def after_add_friend_agree(self, from_id: str, to_id: str, result: int, handle_msg: str, op: str) -> None:
        if result == 1:
            self._after("afterAddFriendAgree", self._agree("afterAddFriendAgree", from_id, to_id, result,
                                                           handle_msg), op)

    @staticmethod
    def _agree(name: str, from_id: str, to_id: str, result: int, handle_msg: str) -> dict[str, Any]:
        return {"callbackCommand": b.CMD[name], "fromUserID": from_id, "blackUserID": to_id,
                "HandleResult": result, "HandleMsg": handle_msg}

    def after_delete_friend(self, owner: str, friend: str, op: str) -> None:
        self._after("afterDeleteFriend", {"callbackCommand": b.CMD["afterDeleteFriend"], "ownerUserID": owner,
                                          "friendUserID": friend}, op)

    async def before_add_black(self, owner: str, black: str, op: str) -> None:
        await self._before("beforeAddBlack", {"callbackCommand": b.CMD["beforeAddBlack"], "ownerUserID": owner,
                                              "blackUserID": black}, op)

    def after_remove_black(self, owner: str, black: str, op: str) -> None:
        self._after("afterRemoveBlack", {"callbackCommand": b.CMD["afterRemoveBlack"], "ownerUserID": owner,
                                         "blackUserID": black}, op)

    async def before_set_friend_remark(self, req: Any, op: str) -> None:
        """beforeSetFriendRemark; a non-empty ``remark`` in the reply replaces the request's."""
        reply = await self._before("beforeSetFriendRemark", self._remark("beforeSetFriendRemark", req), op)
        if reply and reply.get("remark"):
            req.remark = str(reply["remark"])

    def after_set_friend_remark(self, req: Any, op: str) -> None:
        self._after("afterSetFriendRemark", self._remark("afterSetFriendRemark", req), op)

    @staticmethod
    def _remark(name: str, req: Any) -> dict[str, Any]:
        return {"callbackCommand": b.CMD[name], "ownerUserID": req.ownerUserID, "friendUserID": req.friendUserID,
                "remark": req.remark}

    async def before_import_friends(self, owner: str, friend_ids: list[str], op: str) -> None:
        """beforeImportFriends; a non-empty ``friendUserIDs`` in the reply replaces the list (in place)."""
        reply = await self._before("beforeImportFriends", {"callbackCommand": b.CMD["beforeImportFriends"],
                                                           "ownerUserID": owner, "friendUserIDs": list(friend_ids)}, op)
        if reply and isinstance(reply.get("friendUserIDs"), list) and reply["friendUserIDs"]:
            friend_ids[:] = [str(u) for u in reply["friendUserIDs"]]

    def after_import_friends(self, owner: str, friend_ids: list[str], op: str) -> None:
        self._after("afterImportFriends", {"callbackCommand": b.CMD["afterImportFriends"], "ownerUserID": owner,
                                           "friendUserIDs": list(friend_ids)}, op)

    # -- conversations (internal/rpc/conversation/callback.go) ------------------------------------

    def enabled(self, name: str) -> bool:
        """Whether ``name`` will be called (lets a caller skip the work of preparing its body)."""
        return self._cfg(name) is not None

    @staticmethod
    def _conversation_body(name: str, owner: str, cid: str, conv_type: int, peer_key: str, peer: str,
                           fields: dict[str, Any] | None = None) -> dict[str, Any]:
        """``Callback{Before,After}Create{Single,Group}ChatConversationsReq``: the new record's
        fields (upstream's tags: ``ownerUserId``, ``conversationId``, ``userId``/``groupId``),
        at their defaults unless a before-reply changed them (``fields``)."""
        body = {"callbackCommand": b.CMD[name], "ownerUserId": owner, "conversationId": cid,
                "conversationType": conv_type, peer_key: peer, "recvMsgOpt": 0, "isPinned": False,
                "isPrivateChat": False, "burnDuration": 0, "groupAtType": 0, "attachedInfo": "", "ex": ""}
        body.update(fields or {})
        return body

    @staticmethod
    def _record_fields(reply: dict[str, Any] | None) -> dict[str, Any]:
        """The record fields a before-reply sets (its non-null ``recvMsgOpt``, ``isPinned``,
        ``isPrivateChat``, ``burnDuration``, ``groupAtType``, ``attachedInfo``, ``ex``: upstream
        ``NotNilReplace``), typed as the ``Conversation`` fields they go to."""
        out: dict[str, Any] = {}
        for key, kind in CONVERSATION_FIELDS.items():
            value = (reply or {}).get(key)
            if value is None:
                continue
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise OpenIMError(90007, "DataError", detail=f"callback reply: {key} {value!r} is not {kind.__name__}")
            out[key] = value
        return out

    async def before_create_single_chat_conversations(self, owner: str, cid: str, conv_type: int, peer: str,
                                                      op: str) -> dict[str, Any]:
        """beforeCreateSingleChatConversations: may refuse; returns the record fields the reply sets."""
        reply = await self._before("beforeCreateSingleChatConversations", self._conversation_body(
            "beforeCreateSingleChatConversations", owner, cid, conv_type, "userId", peer), op)
        return self._record_fields(reply)

    def after_create_single_chat_conversations(self, owner: str, cid: str, conv_type: int, peer: str, op: str,
                                               fields: dict[str, Any] | None = None) -> None:
        self._after("afterCreateSingleChatConversations", self._conversation_body(
            "afterCreateSingleChatConversations", owner, cid, conv_type, "userId", peer, fields), op)

    async def before_create_group_chat_conversations(self, group_id: str, op: str) -> dict[str, Any]:
        """beforeCreateGroupChatConversations: may refuse; returns the record fields the reply sets.
        As upstream, the body names no owner (``ownerUserId`` is empty)."""
        reply = await self._before("beforeCreateGroupChatConversations", self._conversation_body(
            "beforeCreateGroupChatConversations", "", f"sg_{group_id}", 3, "groupId", group_id), op)
        return self._record_fields(reply)

    def after_create_group_chat_conversations(self, group_id: str, op: str,
                                              fields: dict[str, Any] | None = None) -> None:
        self._after("afterCreateGroupChatConversations", self._conversation_body(
            "afterCreateGroupChatConversations", "", f"sg_{group_id}", 3, "groupId", group_id, fields), op)

    # -- groups (internal/rpc/group/callback.go) -------------------------------------------------

    async def before_create_group(self, req: Any, op: str) -> None:
        """beforeCreateGroup; the reply's non-null group fields replace the request's."""
        body = {"operationID": op, "callbackCommand": b.CMD["beforeCreateGroup"], **self._create_body(req)}
        reply = await self._before("beforeCreateGroup", body, op)
        if not reply:
            return
        gi = req.groupInfo
        for key in ("groupID", "groupName", "notification", "introduction", "faceURL", "ownerUserID", "ex",
                    "status", "creatorUserID", "groupType", "needVerification", "lookMemberInfo"):
            if reply.get(key) is not None:
                setattr(gi, key, type(getattr(gi, key))(reply[key]))

    async def before_members_join_group(self, group_id: str, user_ids: list[str], group_ex: str, op: str) -> None:
        """beforeMemberJoinGroup (``CallbackBeforeMembersJoinGroupReq``): may refuse. The reply's
        ``memberCallbackList`` (per-member nickname/faceURL/roleLevel/muteEndTime/ex) is not applied."""
        await self._before("beforeMemberJoinGroup", {
            "callbackCommand": b.CMD["beforeMemberJoinGroup"], "groupID": group_id,
            "memberList": [{"userID": u, "ex": ""} for u in user_ids], "groupEx": group_ex}, op)

    def after_create_group(self, req: Any, group: sdkws_pb2.GroupInfo, op: str) -> None:
        self._after("afterCreateGroup", {"callbackCommand": b.CMD["afterCreateGroup"],
                                         **self._create_body(req, group)}, op)

    @staticmethod
    def _create_body(req: Any, group: sdkws_pb2.GroupInfo | None = None) -> dict[str, Any]:
        info = {k: v for k, v in jsoncodec.to_go_dict(group or req.groupInfo).items() if v not in ("", 0, None)}
        members = [{"userID": req.ownerUserID, "roleLevel": GROUP_OWNER}]
        members += [{"userID": u, "roleLevel": GROUP_ADMIN} for u in req.adminUserIDs]
        members += [{"userID": u, "roleLevel": GROUP_ORDINARY} for u in req.memberUserIDs]
        return {**info, "initMemberList": members}

    async def before_apply_join_group(self, group_id: str, apply_id: str, req_message: str, ex: str, op: str,
                                      group_type: int = 2) -> None:
        """``groupType`` is ``string(group.GroupType)`` upstream: Go turns the int into a rune, so
        a working group (2) is sent as ``"\u0002"``; kept as is."""
        await self._before("beforeApplyJoinGroup", {
            "callbackCommand": b.CMD["beforeApplyJoinGroup"], "groupID": group_id,
            "groupType": chr(group_type), "applyID": apply_id, "reqMessage": req_message, "ex": ex}, op)

    def after_join_group(self, group_id: str, req_message: str, join_source: int, inviter: str, op: str) -> None:
        self._after("afterJoinGroup", {"callbackCommand": b.CMD["afterJoinGroup"], "operationID": op,
                                       "groupID": group_id, "reqMessage": req_message, "joinSource": join_source,
                                       "inviterUserID": inviter}, op)

    async def before_invite_user_to_group(self, group_id: str, reason: str, invited: list[str], op: str) -> None:
        await self._before("beforeInviteUserToGroup", {
            "callbackCommand": b.CMD["beforeInviteUserToGroup"], "operationID": op, "groupID": group_id,
            "reason": reason, "invitedUserIDs": list(invited)}, op)

    def after_quit_group(self, group_id: str, user_id: str, op: str) -> None:
        self._after("afterQuitGroup", {"callbackCommand": b.CMD["afterQuitGroup"], "groupID": group_id,
                                       "userID": user_id}, op)

    def after_kick_group_member(self, group_id: str, kicked: list[str], reason: str, op: str) -> None:
        self._after("afterKickGroupMember", {"callbackCommand": b.CMD["afterKickGroupMember"], "groupID": group_id,
                                             "kickedUserIDs": list(kicked), "reason": reason}, op)

    def after_dismiss_group(self, group: sdkws_pb2.GroupInfo, member_ids: list[str], op: str) -> None:
        self._after("afterDismissGroup", {"callbackCommand": b.CMD["afterDismissGroup"], "groupID": group.groupID,
                                          "ownerID": group.ownerUserID, "groupType": chr(group.groupType),
                                          "membersID": list(member_ids)}, op)

    async def before_set_group_info(self, info: sdkws_pb2.GroupInfoForSet, op: str) -> None:
        """beforeSetGroupInfo; the reply's ``ex``, ``needVerification``, ``lookMemberInfo``,
        ``applyMemberFriend`` (non-null) and non-empty ``groupName``/``faceURL``/``introduction``
        replace the request's. (Upstream copies the last three and ``groupID`` even when the reply
        leaves them empty, which blanks them; not done here.)"""
        reply = await self._before("beforeSetGroupInfo", {"callbackCommand": b.CMD["beforeSetGroupInfo"],
                                                          **self._set_info_body(info, op)}, op)
        if reply:
            for key in ("groupName", "faceURL", "introduction"):
                if reply.get(key):
                    setattr(info, key, str(reply[key]))
            self._set_wrappers(info, reply, ("ex", "needVerification", "lookMemberInfo", "applyMemberFriend"))

    async def before_set_group_info_ex(self, req: Any, op: str) -> None:
        """beforeSetGroupInfoEx; non-null wrapper fields of the reply replace the request's."""
        reply = await self._before("beforeSetGroupInfoEx", self._info_ex_body("beforeSetGroupInfoEx", req, op), op)
        if reply:
            self._set_wrappers(req, reply, _INFO_EX)

    def after_set_group_info_ex(self, req: Any, op: str) -> None:
        self._after("afterSetGroupInfoEx", self._info_ex_body("afterSetGroupInfoEx", req, op), op)

    @staticmethod
    def _info_ex_body(name: str, req: Any, op: str) -> dict[str, Any]:
        """``wrapperspb`` values marshal as plain JSON values, unset ones as null (openimsdk/protocol)."""
        body: dict[str, Any] = {"callbackCommand": b.CMD[name], "operationID": op, "groupID": req.groupID}
        body.update({k: getattr(req, k).value if req.HasField(k) else None for k in _INFO_EX})
        return body

    @staticmethod
    def _set_wrappers(msg: Any, reply: dict[str, Any], keys: tuple[str, ...]) -> None:
        for key in keys:
            if reply.get(key) is not None:
                field = getattr(msg, key)
                field.value = type(field.value)(reply[key])

    def after_set_group_info(self, info: sdkws_pb2.GroupInfoForSet, op: str) -> None:
        self._after("afterSetGroupInfo", {"callbackCommand": b.CMD["afterSetGroupInfo"],
                                          **self._set_info_body(info, op)}, op)

    @staticmethod
    def _set_info_body(info: Any, op: str) -> dict[str, Any]:
        body: dict[str, Any] = {"operationID": op, "groupID": info.groupID, "groupName": info.groupName,
                                "notification": info.notification, "introduction": info.introduction,
                                "faceURL": info.faceURL}
        for key in ("ex", "needVerification", "lookMemberInfo", "applyMemberFriend"):
            if info.HasField(key):
                body[key] = getattr(info, key).value
        return body

    async def before_set_group_member_info(self, member: Any, op: str) -> None:
        """beforeSetGroupMemberInfo for one ``SetGroupMemberInfo``; non-null ``nickName``,
        ``faceURL``, ``roleLevel``, ``ex`` in the reply replace the request's."""
        reply = await self._before("beforeSetGroupMemberInfo", self._member_body("beforeSetGroupMemberInfo", member), op)
        if reply:
            for key, attr in (("nickName", "nickname"), ("faceURL", "faceURL"), ("roleLevel", "roleLevel"),
                              ("ex", "ex")):
                if reply.get(key) is not None:
                    field = getattr(member, attr)
                    field.value = type(field.value)(reply[key])

    def after_set_group_member_info(self, member: Any, op: str) -> None:
        self._after("afterSetGroupMemberInfo", self._member_body("afterSetGroupMemberInfo", member), op)

    @staticmethod
    def _member_body(name: str, m: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"callbackCommand": b.CMD[name], "groupID": m.groupID, "userID": m.userID}
        for key, attr in (("nickName", "nickname"), ("faceURL", "faceURL"), ("roleLevel", "roleLevel"),
                          ("ex", "ex")):
            body[key] = getattr(m, attr).value if m.HasField(attr) else None
        return body

    def after_transfer_group_owner(self, group_id: str, old_owner: str, new_owner: str, op: str) -> None:
        self._after("afterTransferGroupOwner", {"callbackCommand": b.CMD["afterTransferGroupOwner"],
                                                "groupID": group_id, "oldOwnerUserID": old_owner,
                                                "newOwnerUserID": new_owner}, op)

    # -- users (internal/rpc/user/callback.go) -------------------------------------------------

    async def before_update_user_info(self, user: sdkws_pb2.UserInfo, op: str) -> None:
        """beforeUpdateUserInfo; non-null ``nickName``/``faceURL``/``ex`` in the reply replace the request's."""
        reply = await self._before("beforeUpdateUserInfo", {
            "callbackCommand": b.CMD["beforeUpdateUserInfo"], "userID": user.userID,
            "nickName": user.nickname, "faceURL": user.faceURL, "ex": user.ex}, op)
        if reply:
            for key, attr in (("nickName", "nickname"), ("faceURL", "faceURL"), ("ex", "ex")):
                if reply.get(key) is not None:
                    setattr(user, attr, str(reply[key]))

    def after_update_user_info(self, user: sdkws_pb2.UserInfo, op: str) -> None:
        self._after("afterUpdateUserInfo", {"callbackCommand": b.CMD["afterUpdateUserInfo"], "userID": user.userID,
                                            "nickName": user.nickname, "faceURL": user.faceURL, "ex": user.ex}, op)

    async def before_user_register(self, req: Any, op: str) -> None:
        """beforeUserRegister; a non-empty ``users`` in the reply replaces the request's users."""
        reply = await self._before("beforeUserRegister", {"callbackCommand": b.CMD["beforeUserRegister"],
                                                          "users": [jsoncodec.to_go_dict(u) for u in req.users]}, op)
        if reply and isinstance(reply.get("users"), list) and reply["users"]:
            users = [jsoncodec.from_go_json(sdkws_pb2.UserInfo, u) for u in reply["users"]]
            del req.users[:]
            req.users.extend(users)

    async def before_update_user_info_ex(self, user: Any, op: str) -> None:
        """beforeUpdateUserInfoEx; non-null ``nickName``/``faceURL``/``ex`` in the reply replace the request's."""
        reply = await self._before("beforeUpdateUserInfoEx", self._user_ex("beforeUpdateUserInfoEx", user), op)
        if reply:
            for key, attr in (("nickName", "nickname"), ("faceURL", "faceURL"), ("ex", "ex")):
                if reply.get(key) is not None:
                    getattr(user, attr).value = str(reply[key])

    def after_update_user_info_ex(self, user: Any, op: str) -> None:
        self._after("afterUpdateUserInfoEx", self._user_ex("afterUpdateUserInfoEx", user), op)

    @staticmethod
    def _user_ex(name: str, user: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"callbackCommand": b.CMD[name], "userID": user.userID}
        for key, attr in (("nickName", "nickname"), ("faceURL", "faceURL"), ("ex", "ex")):
            body[key] = getattr(user, attr).value if user.HasField(attr) else None
        return body

    def after_user_register(self, users: list[Any], op: str) -> None:
        self._after("afterUserRegister", {"callbackCommand": b.CMD["afterUserRegister"],
                                          "users": [jsoncodec.to_go_dict(u) for u in users]}, op)
