"""The conversations part: the conversation list and its settings, as the official core's
``conversation_msg`` API, over the local cache and the ``/conversation`` and ``/msg`` routes.

Every call updates the cache and emits what the official ``OnConversationListener`` would:
:class:`~openim_sdk.events.NewConversation`, :class:`~openim_sdk.events.ConversationChanged`
and :class:`~openim_sdk.events.UnreadTotalChanged` (only when the total moved). Notifications:
1300 (settings changed, on any of our devices) and 1701 (private chat switched) re-read the
changed conversations from the server (incremental sync, as the core does); 1702 (read state
changed elsewhere) moves the read seq; 1703 (history cleared on another device) clears locally
and emits :class:`~openim_sdk.events.ConversationCleared`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .. import events as ev
from ..models import Conversation
from ..protocol import jsoncodec
from ..protocol.constants import ContentType, SessionType
from ..protocol.conversation_id import (
    group_conversation_id,
    is_notification_conversation,
    notification_chat_conversation_id,
    single_conversation_id,
)
from ..protocol.errors import ArgsError, NotFoundError, OpenIMError
from ..protocol.pb.conversation import conversation_pb2
from ..protocol.pb.sdkws import sdkws_pb2
from .context import NotificationRouter, SessionContext
from .conversation_names import ConversationNames
from .conversation_rules import apply_message, apply_messages, apply_read

if TYPE_CHECKING:
    from ..store import LocalStore
    from ..store.conversations import _ConversationRow

log = logging.getLogger(__name__)

#: Notification content types this part handles.
HANDLED = (ContentType.CONVERSATION_CHANGE, ContentType.CONVERSATION_PRIVATE_CHAT,
           ContentType.CONVERSATION_UNREAD, ContentType.CLEAR_CONVERSATION)

def record_message(store: LocalStore, conversation_id: str, msg: sdkws_pb2.MsgData,
                   me: str) -> _ConversationRow:
    """Apply ``msg`` to its conversation with :func:`apply_message` and persist the result, in one
    cache transaction (blocking: call it in a thread, next to the message write)."""
    def change(row: _ConversationRow | None) -> _ConversationRow:
        current = Conversation.from_row(row) if row is not None else None
        return apply_message(current, msg, me, conversation_id=conversation_id).to_row()

    row = store.change_conversation(conversation_id, change)
    assert row is not None  # apply_message always answers a conversation
    return row


def record_messages(store: LocalStore, conversation_id: str, msgs: Sequence[sdkws_pb2.MsgData],
                    me: str) -> _ConversationRow:
    """:func:`record_message` for several messages of one conversation (a pulled page), in one
    cache transaction, with :func:`apply_messages`."""
    def change(row: _ConversationRow | None) -> _ConversationRow:
        current = Conversation.from_row(row) if row is not None else None
        return apply_messages(current, msgs, me, conversation_id=conversation_id).to_row()

    row = store.change_conversation(conversation_id, change)
    assert row is not None  # apply_messages always answers a conversation
    return row


def record_read(store: LocalStore, conversation_id: str, has_read_seq: int | None = None) -> Conversation | None:
    """Read up to ``has_read_seq`` (default: everything), here or on another of our devices (its
    read receipt): the messages are flagged read in the cache and the conversation follows
    :func:`apply_read` (unread, and the group @ type once nothing is unread), in one thread hop
    (blocking). None when the conversation is not cached."""
    store.mark_read(conversation_id, has_read_seq)
    return _edit(store, conversation_id, lambda c: apply_read(c, has_read_seq))


def _edit(store: LocalStore, conversation_id: str,
          fn: Callable[[Conversation], Conversation]) -> Conversation | None:
    """Change an existing conversation through a pure function; None when absent."""
    def change(row: _ConversationRow | None) -> _ConversationRow | None:
        return fn(Conversation.from_row(row)).to_row() if row is not None else None

    row = store.change_conversation(conversation_id, change)
    return Conversation.from_row(row) if row is not None else None


def _hidden(c: Conversation) -> Conversation:
    """The official ``ResetConversation``: no latest message, no unread, no draft."""
    return dataclasses.replace(c, unread_count=0, latest_msg="", latest_text="", latest_client_msg_id="",
                               latest_time=0, draft="", draft_time=0, group_at_type=0)


def _cleared(c: Conversation) -> Conversation:
    """The official ``ClearConversation``: history gone, the conversation stays listed."""
    return dataclasses.replace(c, unread_count=0, latest_msg="", latest_text="", latest_client_msg_id="",
                               group_at_type=0, has_read_seq=max(c.has_read_seq, c.max_seq))


class Conversations:
    """List, look up, configure, hide, clear and read conversations. See the module docstring."""

    def __init__(self, ctx: SessionContext, router: NotificationRouter | None = None) -> None:
        self._ctx = ctx
        self._unread_total = 0  # the last total reported (the session starts at 0)
        self.names = ConversationNames(ctx, self._emit_changed)
        if router is not None:
            router.register(HANDLED, self._on_notification)

    @property
    def _store(self) -> LocalStore:
        return self._ctx.store

    # ------------------------------------------------------------------ events

    def publish(self, convs: Iterable[Conversation | None], unread_total: int, *, new: bool = False) -> None:
        """The one place conversation events leave the session: ConversationChanged (or
        NewConversation) per conversation (never for ``n_`` ones), then UnreadTotalChanged when
        the total differs from the last one reported."""
        for c in convs:
            if c is None or c.is_notification:
                continue
            self._ctx.emit(ev.NewConversation(c) if new else ev.ConversationChanged(c))
        if unread_total != self._unread_total:
            self._unread_total = unread_total
            self._ctx.emit(ev.UnreadTotalChanged(unread_total))

    async def _emit_changed(self, convs: Iterable[Conversation | None], *, new: bool = False) -> None:
        self.publish(convs, await self._ctx.run(self._store.total_unread), new=new)

    async def _emit_total(self) -> None:
        await self._emit_changed(())

    # ------------------------------------------------------------------ reading

    async def get_list(self, offset: int = 0, count: int | None = None, *, include_hidden: bool = False,
                   include_notifications: bool = False) -> list[Conversation]:
        """Pinned first, then by latest activity (message or draft), newest first, paged as the
        official ``GetConversationListSplit``. Hidden conversations (no latest message) are left
        out unless ``include_hidden``."""
        if offset < 0 or (count is not None and count < 0):
            raise ArgsError(detail="offset and count must not be negative")
        rows = await self._ctx.run(self._store.conversations)
        out = [Conversation.from_row(r) for r in rows]
        out = [c for c in out if (include_hidden or not c.is_hidden)
               and (include_notifications or not c.is_notification)]
        return out[offset:] if count is None else out[offset:offset + count]

    async def get(self, conversation_id: str) -> Conversation | None:
        row = await self._ctx.run(self._store.conversation, conversation_id)
        return Conversation.from_row(row) if row is not None else None

    async def get_many(self, conversation_ids: Sequence[str]) -> list[Conversation]:
        """The cached conversations among ``conversation_ids``, in the order asked (absent ones left out)."""
        found = []
        for cid in dict.fromkeys(conversation_ids):
            c = await self.get(cid)
            if c is not None:
                found.append(c)
        return found

    async def get_one(self, session_type: int, source_id: str) -> Conversation:
        """The conversation with a user (single/notification) or a group, created locally if new,
        with its name and face from the cache or the server (official ``GetOneConversation``)."""
        me = self._ctx.user_id
        if session_type == SessionType.SINGLE_CHAT:
            cid, user_id, group_id = single_conversation_id(me, source_id), source_id, ""
        elif session_type in (SessionType.READ_GROUP_CHAT, SessionType.WRITE_GROUP_CHAT):
            cid, user_id, group_id = group_conversation_id(source_id), "", source_id
            session_type = SessionType.READ_GROUP_CHAT
        elif session_type == SessionType.NOTIFICATION_CHAT:
            cid, user_id, group_id = notification_chat_conversation_id(me, source_id), source_id, ""
        else:
            raise ArgsError(detail=f"unknown session type {session_type}")
        existing = await self.get(cid)
        if existing is not None:
            return existing
        name, face = await self.names.of(user_id, group_id)
        fresh = Conversation(conversation_id=cid, conversation_type=int(session_type), user_id=user_id,
                             group_id=group_id, show_name=name, face_url=face)

        def create(row: _ConversationRow | None) -> _ConversationRow:
            return row if row is not None else fresh.to_row()

        row = await self._ctx.run(self._store.change_conversation, cid, create)
        assert row is not None
        return Conversation.from_row(row)

    async def search(self, name: str) -> list[Conversation]:
        """Conversations whose shown name contains ``name`` (case-insensitive), newest first."""
        needle = name.strip().casefold()
        if not needle:
            return []
        convs = await self.get_list(include_hidden=True)
        hits = [c for c in convs if needle in c.show_name.casefold()]
        return sorted(hits, key=lambda c: -c.latest_time)

    async def total_unread(self) -> int:
        """Unread messages over conversations that notify (receive option 0) and are listed."""
        return int(await self._ctx.run(self._store.total_unread))

    # ------------------------------------------------------------------ settings (server + cache)

    async def set(self, conversation_id: str, *, pinned: bool | None = None, recv_msg_opt: int | None = None,
                  private_chat: bool | None = None, burn_duration: int | None = None, ex: str | None = None,
                  attached_info: str | None = None, group_at_type: int | None = None,
                  msg_destruct_time: int | None = None, is_msg_destruct: bool | None = None) -> Conversation:
        """Change conversation settings on the server (``/conversation/set_conversations``, which
        tells our other devices with a 1300) and in the cache; emits ConversationChanged."""
        conv = await self.get(conversation_id)
        if conv is None:
            raise NotFoundError(detail=f"conversation {conversation_id} is not in the cache")
        wrap: dict[str, Any] = {}
        local: dict[str, Any] = {}
        for key, wire, value in (
            ("is_pinned", "isPinned", pinned), ("recv_msg_opt", "recvMsgOpt", recv_msg_opt),
            ("is_private_chat", "isPrivateChat", private_chat), ("burn_duration", "burnDuration", burn_duration),
            ("ex", "ex", ex), ("attached_info", "attachedInfo", attached_info),
            ("group_at_type", "groupAtType", group_at_type), ("msg_destruct_time", "msgDestructTime", msg_destruct_time),
            ("is_msg_destruct", "isMsgDestruct", is_msg_destruct),
        ):
            if value is not None:
                wrap[wire] = value  # wrapper fields travel as the bare value (rest-api.md)
                local[key] = value
        if not wrap:
            return conv
        req = {"conversationID": conversation_id, "conversationType": conv.conversation_type,
               "userID": conv.user_id, "groupID": conv.group_id, **wrap}
        await self._ctx.rest.conversation.set_conversations(user_ids=[self._ctx.user_id], conversation=req)
        updated = await self._ctx.run(_edit, self._store, conversation_id,
                                      lambda c: dataclasses.replace(c, **local))
        await self._emit_changed([updated])
        assert updated is not None
        return updated

    async def pin(self, conversation_id: str, pinned: bool = True) -> Conversation:
        return await self.set(conversation_id, pinned=pinned)

    async def set_recv_msg_opt(self, conversation_id: str, opt: int) -> Conversation:
        return await self.set(conversation_id, recv_msg_opt=opt)

    async def set_private_chat(self, conversation_id: str, on: bool, burn_duration: int | None = None) -> Conversation:
        return await self.set(conversation_id, private_chat=on, burn_duration=burn_duration)

    async def set_draft(self, conversation_id: str, draft: str) -> Conversation | None:
        """A draft (local only, as the official core); ``""`` removes it. Emits ConversationChanged."""
        now = self._ctx.now_ms()
        updated = await self._ctx.run(_edit, self._store, conversation_id,
                                      lambda c: dataclasses.replace(c, draft=draft, draft_time=now if draft else 0))
        await self._emit_changed([updated])
        return updated

    # ------------------------------------------------------------------ hide / clear / delete

    async def hide(self, conversation_id: str) -> Conversation:
        """Take a conversation off the list until its next message (local, as the official core)."""
        updated = await self._ctx.run(_edit, self._store, conversation_id, _hidden)
        if updated is None:
            raise NotFoundError(detail=f"conversation {conversation_id} is not in the cache")
        await self._emit_changed([updated])
        return updated

    async def hide_all(self) -> None:
        rows = await self._ctx.run(self._store.conversations)
        changed = [await self._ctx.run(_edit, self._store, r.conversation_id, _hidden) for r in rows]
        await self._emit_changed(changed)

    async def _clear_local(self, conversation_id: str, fn: Callable[[Conversation], Conversation]) -> Conversation | None:
        store = self._store

        def work() -> Conversation | None:
            keep = store.max_seqs().get(conversation_id, 0)
            store.clear_messages(conversation_id)
            if keep:
                store.set_max_seq(conversation_id, keep)  # never pull the cleared seqs again
            return _edit(store, conversation_id, lambda c: fn(dataclasses.replace(c, max_seq=max(c.max_seq, keep))))

        return await self._ctx.run(work)

    async def delete_with_messages(self, conversation_id: str) -> Conversation:
        """Delete a conversation's history here and on the server (``/msg/clear_conversation_msg``)
        and hide it (official ``DeleteConversationAndDeleteAllMsg``)."""
        return await self._clear_everywhere(conversation_id, _hidden)

    async def clear_with_messages(self, conversation_id: str) -> Conversation:
        """Delete a conversation's history here and on the server; it stays listed, empty
        (official ``ClearConversationAndDeleteAllMsg``)."""
        return await self._clear_everywhere(conversation_id, _cleared)

    async def _clear_everywhere(self, conversation_id: str, fn: Callable[[Conversation], Conversation]) -> Conversation:
        if await self.get(conversation_id) is None:
            raise NotFoundError(detail=f"conversation {conversation_id} is not in the cache")
        try:
            await self._ctx.rest.msg.clear_conversation_msg(
                conversation_ids=[conversation_id], user_id=self._ctx.user_id,
                delete_sync_opt={"IsSyncSelf": True, "IsSyncOther": False})
        except NotFoundError:
            pass  # nothing on the server (the official core goes on as well)
        updated = await self._clear_local(conversation_id, fn)
        await self._emit_changed([updated])
        assert updated is not None
        return updated

    async def delete_on_server(self, conversation_ids: Sequence[str]) -> None:
        """Remove conversations from the server's list (``/conversation/delete_conversations``)
        and the cache, messages included."""
        await self._ctx.rest.conversation.delete_conversations(
            owner_user_id=self._ctx.user_id, conversation_ids=list(conversation_ids))
        for cid in conversation_ids:
            await self._ctx.run(self._store.delete_conversation, cid, with_messages=True)
        await self._emit_total()

    # ------------------------------------------------------------------ read state

    async def mark_read(self, conversation_id: str) -> Conversation | None:
        """Mark one conversation read here and on the server (which sends the read receipt)."""
        conv = await self._ctx.run(record_read, self._store, conversation_id)
        if conv is None:
            return None
        await self._emit_changed([conv])
        if conv.has_read_seq > 0:
            try:
                await self._ctx.rest.msg.mark_conversation_as_read(
                    conversation_id=conversation_id, user_id=self._ctx.user_id, has_read_seq=conv.has_read_seq)
            except OpenIMError as exc:  # read here; the server hears of it at the next read
                self._ctx.emit(ev.ErrorEvent(exc, "mark read"))
        return conv

    async def mark_all_read(self) -> list[Conversation]:
        """Mark every conversation with unread messages read (official ``MarkAllConversationMessageAsRead``)."""
        unread = await self._ctx.run(self._store.unread_counts)
        done = []
        for cid in unread:
            if is_notification_conversation(cid):
                continue
            conv = await self.mark_read(cid)
            if conv is not None:
                done.append(conv)
        return done

    # ------------------------------------------------------------------ sync and notifications

    async def sync(self) -> None:
        """Bring the cached settings up to the server's (``/conversation/get_incremental_conversations``,
        with the stored version; a full re-read when the server says so)."""
        store, rest, me = self._store, self._ctx.rest, self._ctx.user_id
        ver = await self._ctx.run(store.get_version, "conversations")
        resp = await rest.conversation.get_incremental_conversations(
            user_id=me, version_id=ver.version_id if ver else "", version=ver.version if ver else 0)
        if resp.full:
            server = list((await rest.conversation.get_all_conversations(owner_user_id=me)).conversations)
        else:
            server = [*resp.insert, *resp.update]
        for cid in resp.delete if not resp.full else ():
            await self._ctx.run(store.delete_conversation, cid)
        new: list[Conversation] = []
        changed: list[Conversation] = []
        for sc in server:
            before, after = await self._ctx.run(self._merge_server, sc)
            if after is None or after == before:
                continue
            (changed if before is not None else new).append(after)
        named = {c.conversation_id: c for c in await self.names.name([*new, *changed])}
        new = [named.get(c.conversation_id, c) for c in new]
        changed = [named.get(c.conversation_id, c) for c in changed]
        await self._ctx.run(store.set_version, "conversations", resp.versionID, resp.version)
        if new:
            await self._emit_changed(new, new=True)
        await self._emit_changed(changed)

    def _merge_server(self, sc: conversation_pb2.Conversation) -> tuple[Conversation | None, Conversation | None]:
        store = self._store
        seen: list[Conversation | None] = []

        def change(row: _ConversationRow | None) -> _ConversationRow:
            cur = Conversation.from_row(row) if row is not None else None
            seen.append(cur)
            base = cur or Conversation(conversation_id=sc.conversationID)
            fields: dict[str, Any] = {"conversation_type": sc.conversationType or base.conversation_type,
                      "user_id": sc.userID or base.user_id, "group_id": sc.groupID or base.group_id,
                      "recv_msg_opt": sc.recvMsgOpt, "is_pinned": sc.isPinned, "is_private_chat": sc.isPrivateChat,
                      "burn_duration": sc.burnDuration or base.burn_duration, "ex": sc.ex,
                      "attached_info": sc.attachedInfo, "min_seq": max(base.min_seq, sc.minSeq),
                      "msg_destruct_time": sc.msgDestructTime or base.msg_destruct_time,
                      "is_msg_destruct": sc.isMsgDestruct}
            return dataclasses.replace(base, **fields).to_row()

        row = store.change_conversation(sc.conversationID, change)
        return (seen[0] if seen else None), (Conversation.from_row(row) if row is not None else None)

    async def _on_notification(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        ct = m.contentType
        if ct in (ContentType.CONVERSATION_CHANGE, ContentType.CONVERSATION_PRIVATE_CHAT):
            self._ctx.spawn(self.sync(), "conversation sync")
        elif ct == ContentType.CONVERSATION_UNREAD:
            tips = jsoncodec.from_go_json(sdkws_pb2.ConversationHasReadTips, detail)
            if tips.userID and tips.userID != self._ctx.user_id:
                return
            conv = await self._ctx.run(_edit, self._store, tips.conversationID,
                                       lambda c: apply_read(c, tips.hasReadSeq or None))
            await self._emit_changed([conv])
        elif ct == ContentType.CLEAR_CONVERSATION:
            tips_c = jsoncodec.from_go_json(sdkws_pb2.ClearConversationTips, detail)
            if tips_c.userID and tips_c.userID != self._ctx.user_id:
                return
            cleared = [await self._clear_local(cid, _cleared) for cid in tips_c.conversationIDs]
            self._ctx.emit(ev.ConversationCleared(tuple(tips_c.conversationIDs)))
            await self._emit_changed(cleared)
