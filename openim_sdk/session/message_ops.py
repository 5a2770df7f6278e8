"""The messages part: what the official core does to messages besides sending and syncing —
find by IDs, delete (locally, or also on the server), delete all, revoke, insert a message locally
(``InsertSingleMessageToLocalStorage`` / ``InsertGroupMessageToLocalStorage``), the local ex,
local search with filters, the server's search, and downloading a message's file. Each call updates the cache and emits the official core's
callbacks as events (:class:`~openim_sdk.events.MessageDeleted`, and for the conversation
:class:`~openim_sdk.events.ConversationChanged` / ``NewConversation`` / ``UnreadTotalChanged``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..messages.builders import OutgoingMessage
from ..models import Conversation, Message
from ..protocol.constants import MsgFrom, MsgStatus, SessionType
from ..protocol.conversation_id import group_conversation_id, single_conversation_id
from ..protocol.errors import ArgsError, LocalError, NotFoundError
from ..protocol.pb.sdkws import sdkws_pb2
from ..rest.files import Progress, download_file
from .context import SessionContext
from .conversation_rules import apply_message
from .conversations import Conversations, record_message
from .sender import new_client_msg_id

if TYPE_CHECKING:
    from ..store import LocalStore, StoredMessage
    from ..store.conversations import _ConversationRow


def _after_delete(c: Conversation, gone: StoredMessage, latest: StoredMessage | None, me: str) -> Conversation:
    """The conversation once ``gone`` is deleted: one unread less if it was unread and not ours;
    the latest message falls back to ``latest`` (the newest one left) if ``gone`` was it."""
    changes: dict[str, Any] = {}
    if not gone.is_read and gone.send_id != me and gone.seq > c.has_read_seq and c.unread_count > 0:
        changes["unread_count"] = c.unread_count - 1
    if c.latest_client_msg_id == gone.client_msg_id:
        changes.update(latest_msg="", latest_text="", latest_client_msg_id="")
        c = dataclasses.replace(c, **changes)
        if latest is not None:  # only the latest-message fields of what the rules compute
            md = latest.to_msg()
            md.options.clear()
            fresh = apply_message(dataclasses.replace(c, latest_time=0, max_seq=max(c.max_seq, md.seq)), md, me)
            c = dataclasses.replace(c, latest_msg=fresh.latest_msg, latest_text=fresh.latest_text,
                                    latest_client_msg_id=fresh.latest_client_msg_id, latest_time=fresh.latest_time)
        return c
    return dataclasses.replace(c, **changes) if changes else c


class MessageOps:
    """Find, delete, insert, local ex and local search. See the module docstring."""

    def __init__(self, ctx: SessionContext, conversations: Conversations) -> None:
        self._ctx = ctx
        self._conversations = conversations  # conversation events leave through it

    @property
    def _store(self) -> LocalStore:
        return self._ctx.store

    async def _conversation_event(self, conv: Conversation | None, *, new: bool = False) -> None:
        self._conversations.publish([conv], await self._ctx.run(self._store.total_unread), new=new)

    # ------------------------------------------------------------------ reading

    async def find(self, client_msg_ids: Sequence[str], conversation_id: str | None = None) -> list[Message]:
        """Cached messages by clientMsgID, in the order asked (official ``FindMessageList``)."""
        rows = await self._ctx.run(self._store.messages_by_ids, list(client_msg_ids), conversation_id)
        return [Message.from_row(r) for r in rows]

    async def search(self, keywords: Sequence[str] | str = (), *, match_all: bool = False,
                     content_types: Sequence[int] = (), sender_ids: Sequence[str] = (),
                     conversation_id: str | None = None, start_time: int = 0, end_time: int = 0,
                     offset: int = 0, count: int = 50) -> list[Message]:
        """Local search, newest first (official ``SearchLocalMessages``): any keyword (every one
        with ``match_all``), content types, senders, a conversation, send time in
        ``[start_time, end_time)`` ms, ``offset``/``count`` paging."""
        words = [keywords] if isinstance(keywords, str) else list(keywords)
        if count < 0 or offset < 0:
            raise ArgsError(detail="offset and count must not be negative")
        rows = await self._ctx.run(lambda: self._store.search_messages(
            keywords=words, match_all=match_all, content_types=list(content_types), sender_ids=list(sender_ids),
            conversation_id=conversation_id, start_time=start_time, end_time=end_time, offset=offset, count=count))
        return [Message.from_row(r) for r in rows]

    # ------------------------------------------------------------------ delete

    async def delete_local(self, client_msg_id: str) -> Message:
        """Delete a message from this device only (official ``DeleteMessageFromLocalStorage``)."""
        store, me = self._store, self._ctx.user_id

        def work() -> tuple[StoredMessage | None, Conversation | None]:
            gone = store.mark_message_deleted(client_msg_id)
            if gone is None:
                return None, None
            latest = store.latest_active_message(gone.conversation_id)

            def change(row: _ConversationRow | None) -> _ConversationRow | None:
                if row is None:
                    return None
                return _after_delete(Conversation.from_row(row), gone, latest, me).to_row()

            conv = store.change_conversation(gone.conversation_id, change)
            return gone, Conversation.from_row(conv) if conv is not None else None

        gone, conv = await self._ctx.run(work)
        if gone is None:
            raise NotFoundError(detail=f"message {client_msg_id} is not in the cache")
        deleted = dataclasses.replace(Message.from_row(gone), status=MsgStatus.DELETED)
        self._ctx.emit(ev.MessageDeleted(deleted))
        await self._conversation_event(conv)
        return deleted

    async def delete(self, client_msg_id: str) -> Message:
        """Delete a message for us here and on the server (``/msg/delete_msgs``; our other devices
        hear it as a 2102); a message the server never numbered is deleted locally only."""
        rows = await self._ctx.run(self._store.messages_by_ids, [client_msg_id])
        if not rows:
            raise NotFoundError(detail=f"message {client_msg_id} is not in the cache")
        row = rows[0]
        if row.seq > 0 and row.status != MsgStatus.SEND_FAILED:
            await self._ctx.rest.msg.delete_msgs(conversation_id=row.conversation_id, seqs=[row.seq],
                                                 user_id=self._ctx.user_id,
                                                 delete_sync_opt={"IsSyncSelf": True, "IsSyncOther": False})
        return await self.delete_local(client_msg_id)

    async def delete_all_local(self) -> list[str]:
        """Every message of every conversation, from this device only (official
        ``DeleteAllMessageFromLocalStorage``); the conversations stay, empty. Returns their IDs."""
        store = self._store

        def work() -> list[Conversation]:
            out = []
            seqs = store.max_seqs()
            ids = sorted({*store.conversation_ids_with_messages(), *(r.conversation_id for r in store.conversations())})
            for cid in ids:
                store.clear_messages(cid)
                if seqs.get(cid):
                    store.set_max_seq(cid, seqs[cid])  # never pull the deleted seqs again

                def change(row: _ConversationRow | None, keep: int = seqs.get(cid, 0)) -> _ConversationRow | None:
                    if row is None:
                        return None
                    c = Conversation.from_row(row)
                    top = max(c.max_seq, keep)
                    return dataclasses.replace(c, unread_count=0, latest_msg="", latest_text="",
                                               latest_client_msg_id="", group_at_type=0, max_seq=top,
                                               has_read_seq=max(c.has_read_seq, top)).to_row()

                conv = store.change_conversation(cid, change)
                if conv is not None:
                    out.append(Conversation.from_row(conv))
            return out

        convs = await self._ctx.run(work)
        for c in convs:
            await self._conversation_event(c)
        return [c.conversation_id for c in convs]

    async def delete_all(self) -> list[str]:
        """Every message, here and on the server (``/msg/user_clear_all_msg``; official
        ``DeleteAllMsgFromLocalAndServer``)."""
        await self._ctx.rest.msg.user_clear_all_msg(user_id=self._ctx.user_id,
                                                    delete_sync_opt={"IsSyncSelf": True, "IsSyncOther": False})
        return await self.delete_all_local()

    # ------------------------------------------------------------------ local insert and local ex

    async def insert_single(self, message: OutgoingMessage, recv_id: str, send_id: str) -> Message:
        """Store a message in a single chat without sending it (official
        ``InsertSingleMessageToLocalStorage``): e.g. a tip only this device shows."""
        if not recv_id or not send_id:
            raise ArgsError(detail="recv_id and send_id are required")
        me = self._ctx.user_id
        peer = recv_id if send_id == me else send_id
        cid = single_conversation_id(me, peer)
        return await self._insert(message, cid, SessionType.SINGLE_CHAT, send_id, recv_id, "")

    async def insert_group(self, message: OutgoingMessage, group_id: str, send_id: str) -> Message:
        """Store a message in a group without sending it (official ``InsertGroupMessageToLocalStorage``)."""
        if not group_id or not send_id:
            raise ArgsError(detail="group_id and send_id are required")
        return await self._insert(message, group_conversation_id(group_id), SessionType.READ_GROUP_CHAT,
                                  send_id, "", group_id)

    async def _insert(self, message: OutgoingMessage, cid: str, session_type: int, send_id: str, recv_id: str,
                      group_id: str) -> Message:
        store, me = self._store, self._ctx.user_id
        now = self._ctx.now_ms()
        md = sdkws_pb2.MsgData(
            sendID=send_id, recvID=recv_id, groupID=group_id, clientMsgID=new_client_msg_id(send_id),
            sessionType=session_type, msgFrom=MsgFrom.USER, contentType=message.content_type,
            content=message.content_bytes(), createTime=now, sendTime=now, status=MsgStatus.SEND_SUCCESS,
            atUserIDList=list(message.at_user_ids), ex=message.ex,
        )
        if message.offline_push is not None:
            md.offlinePushInfo.CopyFrom(message.offline_push)

        def work() -> tuple[StoredMessage | None, bool, _ConversationRow | None]:
            existed = store.conversation(cid) is not None
            store.upsert_messages([md], cid)
            conv = record_message(store, cid, md, me)
            return store.message(md.clientMsgID), existed, conv

        row, existed, conv = await self._ctx.run(work)
        assert row is not None
        await self._conversation_event(Conversation.from_row(conv) if conv is not None else None, new=not existed)
        return Message.from_row(row)

    async def set_local_ex(self, client_msg_id: str, local_ex: str) -> Message:
        """App data kept with a message on this device only (official ``SetMessageLocalEx``)."""
        store = self._store

        def work() -> StoredMessage | None:
            store.set_local_ex(client_msg_id, local_ex)
            return store.message(client_msg_id)

        row = await self._ctx.run(work)
        if row is None:
            raise NotFoundError(detail=f"message {client_msg_id} is not in the cache")
        msg = Message.from_row(row)
        self._ctx.emit(ev.MessageUpdated(msg))
        return msg

    # ------------------------------------------------------------------ revoke, the server's search, files

    async def revoke(self, conversation_id: str, client_msg_id: str) -> None:
        """Revoke a sent message (``/msg/revoke_msg``: the server notifies everyone; the row becomes
        a placeholder when the 2101 comes back)."""
        row = await self._ctx.run(self._store.message, client_msg_id)
        if row is None or row.conversation_id != conversation_id:
            raise NotFoundError(message="RecordNotFoundError",
                                detail=f"no message {client_msg_id!r} in {conversation_id}")
        if row.seq == 0:
            raise LocalError(message="the message is not on the server yet", detail=client_msg_id)
        await self._ctx.rest.msg.revoke_msg(conversation_id=conversation_id, seq=row.seq, user_id=self._ctx.user_id)

    async def search_server(self, *, send_id: str = "", recv_id: str = "", content_type: int = 0,
                            session_type: int = 0, send_time: str = "", page: int = 1,
                            page_size: int = 50) -> list[Message]:
        """Search on the server (``/msg/search_msg``; an admin route on OpenIM)."""
        resp = await self._ctx.rest.msg.search_msg(
            send_id=send_id, recv_id=recv_id, content_type=content_type, session_type=session_type,
            send_time=send_time, pagination={"pageNumber": page, "showNumber": page_size})
        out = []
        for item in resp.chatLogs:
            log_ = item.chatLog
            out.append(Message(
                client_msg_id=log_.clientMsgID, conversation_id="", send_id=log_.sendID, recv_id=log_.recvID,
                group_id=log_.groupID, session_type=log_.sessionType, content_type=log_.contentType,
                content_json=log_.content, seq=log_.seq, server_msg_id=log_.serverMsgID,
                send_time=log_.sendTime, create_time=log_.createTime, status=log_.status,
                sender_nickname=log_.senderNickname))
        return out

    async def download(self, message: Message, dest_dir: str | os.PathLike[str],
                       progress: Progress | None = None) -> Path:
        """Download the file or picture of a message into ``dest_dir``; returns the path."""
        c = message.content
        url = c.get("sourceUrl") or (c.get("sourcePicture") or {}).get("url") or c.get("videoUrl")
        if not url:
            raise LocalError(message="this message has no file to download", detail=message.client_msg_id)
        name = c.get("fileName") or os.path.basename(str(url).split("?")[0]) or message.client_msg_id
        dest = Path(dest_dir) / os.path.basename(name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        await download_file(self._ctx.rest, str(url), dest, progress=progress)
        return dest
