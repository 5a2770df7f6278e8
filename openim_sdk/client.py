"""``OpenIMClient``: the one object a bot or an app holds.

It joins the pieces: the REST client (``api``), the long connection (``ws``), the sans-I/O sync
engine (``sync``) and the local SQLite cache (``store``)::

    async with OpenIMClient(api_url, ws_url, "alice", token, data_dir="~/.openim/alice") as client:
        await client.send_text("bob", "hello")
        async for event in client.events():
            if isinstance(event, MessageReceived):
                print(event.message.text)

Promises: a message is stored before it is shown, delivered once and in seq order per
conversation; what you send while offline waits in the cache (status "sending") and goes out
when the connection returns, also after a restart; errors become :class:`ErrorEvent` and the
session goes on, except token errors and kicks, which end it with :class:`SessionEnded`.

The client is a facade: each concept is owned by a part in :mod:`openim_sdk.session` (the
outbox, the sync engine's adapter and deliveries, notification handling through one
:class:`~openim_sdk.session.context.NotificationRouter`, history paging, typing, events); the
client builds them over one :class:`~openim_sdk.session.context.SessionContext` and wires them to
the connection, the REST client and the cache, all of which can be passed in (``connection=``,
``rest=``) so client logic can be tested over fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from . import events as ev
from .models import Conversation, Message
from .protocol.constants import (
    ContentType,
    MsgFrom,
    MsgStatus,
    Platform,
    ReqIdentifier,
    SessionType,
)
from .protocol.conversation_id import (
    group_conversation_id,
    is_notification_conversation,
    single_conversation_id,
)
from .protocol.errors import LocalError, MessageError, NetworkError, OpenIMError
from .protocol.pb.sdkws import sdkws_pb2
from .rest import RestClient
from .rest.files import Progress, download, upload_file
from .session.connection_state import SessionState
from .session.context import NotificationRouter, SessionContext
from .session.emitter import Emitter, EventStream, as_openim
from .session.history import History
from .session.message_events import MessageEvents
from .session.outbox import Outbox, OutboxDriver
from .session.sender import MessageSender
from .session.sync_driver import SyncDriver
from .session.typing import Typing
from .store import Conversation as ConversationRow
from .store import LocalStore
from .sync import actions as sa
from .sync.engine import SyncEngine
from .sync.pending import PendingEdits
from .ws import LongConnection
from .ws.backoff import DEFAULT_BACKOFF, BackoffPolicy

__all__ = ["EventStream", "OpenIMClient", "new_client_msg_id", "now_ms"]

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ev.Event)


def new_client_msg_id(user_id: str) -> str:
    """32 hex chars, like the official SDK (md5 of time, sender and randomness)."""
    seed = f"{time.time_ns()}{user_id}{secrets.token_hex(8)}"
    return hashlib.md5(seed.encode()).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


class OpenIMClient:
    """An OpenIM session: sync, send, history, conversations, events. See the module docstring."""

    def __init__(
        self,
        api_url: str,
        ws_url: str,
        user_id: str,
        token: str,
        *,
        data_dir: str | os.PathLike[str],
        platform_id: int = Platform.LINUX,
        encoding: str = "json",
        compress: bool = True,
        sync_config: sa.SyncConfig | None = None,
        request_timeout: float = 10.0,
        heartbeat_interval: float = 20.0,
        backoff: Sequence[float] | BackoffPolicy | None = None,
        rest_sync: bool = True,
        send_window: int = 8,
        send_timeout: float = 60.0,
        connection: LongConnection | None = None,
        rest: RestClient | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``connection`` and ``rest`` replace the long connection and the REST client built from
        ``ws_url``/``api_url`` (tests pass fakes, as httpx tests clients over ``MockTransport``);
        ``clock``/``monotonic`` replace the time sources of the session's parts."""
        if platform_id == Platform.IOS:
            raise ValueError("platform 1 (iOS) has special server-side push rules; use another platform")
        self.user_id = user_id
        self.platform_id = int(platform_id)
        self.data_dir = Path(data_dir).expanduser()
        self.api = rest if rest is not None else RestClient(api_url, token, timeout=request_timeout)
        self.ws = connection if connection is not None else LongConnection(
            ws_url, user_id, token, platform_id=self.platform_id, encoding=encoding,  # type: ignore[arg-type]
            compress=compress, request_timeout=request_timeout, heartbeat_interval=heartbeat_interval,
            backoff=DEFAULT_BACKOFF if backoff is None else backoff,
        )
        self._sync_config = sync_config
        self._rest_sync_enabled = rest_sync
        self.store: LocalStore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._unread_total = 0
        self._nickname = ""
        self._self_fetched = False
        self._started = False
        # the parts, over one context (see openim_sdk.session)
        self._events = Emitter(self._spawn_guarded)
        self.ctx = SessionContext(user_id, self.api, self._events.emit, self._spawn_guarded, clock=clock,
                                  monotonic=monotonic)
        self.router = NotificationRouter()
        self._pending = PendingEdits()  # revokes/deletes that came before their message
        self._typing = Typing(self.ctx)
        self._history = History(self.ctx, self._feed, lambda: self._sync.engine, lambda: self.connected)
        self._message_events = MessageEvents(self.ctx, self.router, self._pending, self._conversation_changed)
        self._sync = SyncDriver(self.ctx, self.ws, self.router, self._typing, self._history, self._pending,
                                _ConversationSink(self), in_outbox=lambda c: c in self._outbox,
                                set_state=self._set_state)
        self._sender = MessageSender(self.ctx, self.ws, self._sync, lambda: self.connected)
        self._outbox = OutboxDriver(self._sender, Outbox(window=send_window, send_timeout=send_timeout),
                                    monotonic=monotonic, spawn=lambda c: self._spawn(self._guard(c, "send")))
        self._session = SessionState(self._events.emit, on_connected_changed=self._outbox.connection,
                                     on_push=self._on_push, on_disconnected=self._on_disconnected)
        self.router.register(range(1200, 1300), self._on_friend_notification)  # relation block (below)
        self.router.register(range(1500, 1600), self._on_group_notification)

    # ------------------------------------------------------------------ lifecycle

    @property
    def sync(self) -> SyncEngine | None:
        """The sans-I/O sync engine (built at start)."""
        return self._sync.engine

    @property
    def state(self) -> ev.ConnectionState:
        return self._session.state

    @property
    def connected(self) -> bool:
        return self._session.connected

    @property
    def nickname(self) -> str:
        """Your own nickname, once known (login-time sync or first send); "" before."""
        return self._nickname

    async def start(self) -> None:
        """Open the cache, queue unsent messages, and start the connection (returns at once)."""
        if self._started:
            return
        self._started = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = store = await asyncio.to_thread(LocalStore, self.data_dir / "openim.sqlite3")
        self.ctx.attach_store(store)
        local = await asyncio.to_thread(store.max_seqs)
        self._sync.engine = SyncEngine(self.user_id, local, config=self._sync_config, fresh_install=not local)
        for cmid in await asyncio.to_thread(store.unsent_message_ids, self.user_id):
            self._sync.mark_shown(cmid, "")  # shown before the restart: its numbered copy is no news
            self._outbox.queue(cmid)
        self.ws.on_connected(self._on_ws_connected)
        self.ws.on_event(self._session.on_ws_event)
        self._set_state(ev.ConnectionState.CONNECTING)
        self._spawn(self._outbox.run())
        await self.ws.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until the on-connect sync has caught up (the state is CONNECTED)."""
        await asyncio.wait_for(self._session.wait_connected(), timeout)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued message has been answered by the server (sent or refused)."""
        await asyncio.wait_for(self._outbox.drained(), timeout)

    async def wait_sent(self, client_msg_id: str, timeout: float | None = None) -> Message:
        """Wait until a queued message is answered: the sent message, or the server's refusal
        raised as its own :class:`OpenIMError` (e.g. ``MessageError`` code 1402 muted)."""
        error = await asyncio.wait_for(self._outbox.outcome(client_msg_id), timeout)
        row = await asyncio.to_thread(self._store().message, client_msg_id)
        if row is None:
            raise LocalError(message="no such message", detail=client_msg_id)
        if error is None and row.status == MsgStatus.SEND_FAILED:
            error = self._sender.error_of(client_msg_id) or MessageError(
                message="the server refused the message", detail=client_msg_id)
        if error is not None:
            raise as_openim(error)
        return Message.from_row(row)

    def send_error(self, client_msg_id: str) -> OpenIMError | None:
        """Why the server refused a message this session sent, if it did."""
        return self._sender.error_of(client_msg_id)

    async def close(self) -> None:
        """Stop the connection and background work and close the cache. Unsent messages stay queued
        in the cache and go out on the next start."""
        await self.ws.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        await self.api.aclose()
        if self.store is not None:
            await asyncio.to_thread(self.store.close)
        self._session.end(ev.ConnectionState.STOPPED, None)

    async def __aenter__(self) -> OpenIMClient:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ events

    def events(self) -> EventStream:
        """Every event from now on (from this call, not from the first ``anext``), in order;
        the stream ends after :class:`SessionEnded`. ``close()`` it to stop listening early."""
        return self._events.stream()

    def on(self, event_type: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        """Decorator: call ``fn(event)`` (sync or async) for every event of ``event_type``."""
        return self._events.on(event_type)

    def _emit(self, event: ev.Event) -> None:
        self._events.emit(event)

    async def _guard(self, coro: Awaitable[Any], where: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed", where)
            self._emit(ev.ErrorEvent(as_openim(exc), where))

    def _spawn_guarded(self, coro: Awaitable[Any], where: str) -> asyncio.Task[Any]:
        return self._spawn(self._guard(coro, where))

    async def _conversation_changed(self, row: ConversationRow | None) -> None:
        """Report a changed conversation, and the unread total when it moved."""
        if row is None or is_notification_conversation(row.conversation_id):
            return
        self._emit_conversation(row, await asyncio.to_thread(self._store().total_unread))

    def _emit_conversation(self, row: ConversationRow, unread_total: int) -> None:
        if is_notification_conversation(row.conversation_id):
            return
        self._emit(ev.ConversationChanged(Conversation.from_row(row)))
        if unread_total != self._unread_total:
            self._unread_total = unread_total
            self._emit(ev.UnreadTotalChanged(unread_total))

    def _spawn(self, coro: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _set_state(self, state: ev.ConnectionState, detail: str = "") -> None:
        self._session.set(state, detail)

    # ------------------------------------------------------------------ the connection

    async def _on_ws_connected(self, conn: LongConnection) -> None:
        self._session.connection_opened()
        await self._feed(lambda eng: eng.on_connected())
        if self._rest_sync_enabled:
            self._spawn(self._guard(self._rest_sync(), "login sync"))

    async def _on_push(self, push: sdkws_pb2.PushMessages) -> None:
        await self._sync.detect_server_reset(push)
        await self._feed(lambda eng: eng.on_push(push))

    async def _on_disconnected(self) -> None:
        await self._feed(lambda eng: eng.on_disconnected())

    async def _feed(self, step: Callable[[SyncEngine], list[sa.Action]]) -> None:
        await self._sync.feed(step)

    # ------------------------------------------------------------------ message-level state

    def is_typing(self, conversation_id: str, user_id: str) -> bool:
        return self._typing.is_typing(conversation_id, user_id)

    def peer_read_seq(self, conversation_id: str) -> int:
        """The highest seq the other side of a single chat is known to have read."""
        return self._message_events.peer_read_seq(conversation_id)

    # ================================================================== relation block
    # Friends, groups, users and names: owned by the social rework (openim_sdk/social/), kept
    # here unchanged until it lands.

    async def _on_friend_notification(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        if self._rest_sync_enabled:
            self._spawn(self._guard(self._sync_friends(), "friends sync"))

    async def _on_group_notification(self, m: sdkws_pb2.MsgData, detail: dict[str, Any]) -> None:
        if self._rest_sync_enabled:
            self._spawn(self._guard(self._sync_groups(), "groups sync"))

    async def _resolve_name(self, conv: ConversationRow) -> None:
        store = self.store
        assert store is not None
        name = face = ""
        if conv.group_id:
            resp = await self.api.group.get_groups_info(group_ids=[conv.group_id])
            if resp.groupInfos:
                name, face = resp.groupInfos[0].groupName, resp.groupInfos[0].faceURL
                await asyncio.to_thread(store.upsert_groups, resp.groupInfos)
        elif conv.user_id:
            user = await self._user(conv.user_id)
            if user is not None:
                name, face = user.nickname, user.faceURL
        if name:
            row = await asyncio.to_thread(store.update_conversation, conv.conversation_id, show_name=name,
                                          face_url=face)
            await self._conversation_changed(row)

    async def _user(self, user_id: str) -> sdkws_pb2.UserInfo | None:
        store = self.store
        assert store is not None
        user = await asyncio.to_thread(store.user, user_id)
        if user is None:
            resp = await self.api.user.get_users_info(user_ids=[user_id])
            if resp.usersInfo:
                await asyncio.to_thread(store.upsert_users, resp.usersInfo)
                user = resp.usersInfo[0]
        return user

    # ------------------------------------------------------------------ login-time REST sync

    async def _rest_sync(self) -> None:
        """Self info, conversations, friends and groups through the incremental routes."""
        store = self.store
        assert store is not None
        me = await self.api.user.get_users_info(user_ids=[self.user_id])
        await asyncio.to_thread(store.upsert_users, me.usersInfo)
        if me.usersInfo:
            self._nickname = me.usersInfo[0].nickname
        await self._sync_conversations()
        for kind in ("friends", "groups"):
            try:
                await (self._sync_friends() if kind == "friends" else self._sync_groups())
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, f"{kind} sync"))

    async def _sync_conversations(self) -> None:
        store = self.store
        assert store is not None
        ver = await asyncio.to_thread(store.get_version, "conversations")
        resp = await self.api.conversation.get_incremental_conversations(
            user_id=self.user_id, version_id=ver.version_id if ver else "", version=ver.version if ver else 0
        )
        if resp.full:
            allc = await self.api.conversation.get_all_conversations(owner_user_id=self.user_id)
            server = list(allc.conversations)
        else:
            server = [*resp.insert, *resp.update]
        for c in server:
            row = await asyncio.to_thread(
                store.merge_conversation, c.conversationID, conversation_type=c.conversationType,
                user_id=c.userID, group_id=c.groupID, recv_msg_opt=c.recvMsgOpt, is_pinned=c.isPinned, ex=c.ex,
            )
            if not row.show_name:
                await self._resolve_name(row)
            else:
                await self._conversation_changed(row)
        await asyncio.to_thread(store.set_version, "conversations", resp.versionID, resp.version)

    async def _sync_friends(self) -> None:
        store = self._store()
        me = self.user_id
        await self._sync_relation(
            "friends",
            lambda vid, v: self.api.friend.get_incremental_friends(user_id=me, version_id=vid, version=v),
            lambda p: self.api.friend.get_friend_list(user_id=me, pagination=p), "friendsInfo",
            key=lambda f: f.friendUser.userID,
            cached=lambda: store.friends(me),
            delete=lambda ids: store.delete_friends(ids, me),
            upsert=store.upsert_friends,
            changed=ev.FriendsChanged(),
        )

    async def _sync_groups(self) -> None:
        store = self._store()
        me = self.user_id
        await self._sync_relation(
            "groups",
            lambda vid, v: self.api.group.get_incremental_join_groups(user_id=me, version_id=vid, version=v),
            lambda p: self.api.group.get_joined_group_list(from_user_id=me, pagination=p), "groups",
            key=lambda g: g.groupID,
            cached=store.groups,
            delete=store.delete_groups,
            upsert=store.upsert_groups,
            changed=ev.GroupsChanged(),
        )

    async def _sync_relation(
        self,
        kind: str,
        incremental: Callable[[str, int], Awaitable[Any]],
        page: Callable[[dict[str, int]], Awaitable[Any]],
        page_field: str,
        *,
        key: Callable[[Any], str],
        cached: Callable[[], list[Any]],
        delete: Callable[[list[str]], None],
        upsert: Callable[[list[Any]], None],
        changed: ev.Event,
    ) -> None:
        """Incremental sync of one relation list with its stored version (rest-api §12):
        apply the delta, or on ``full`` re-read every page and drop what the server no longer has."""
        store = self._store()
        ver = await asyncio.to_thread(store.get_version, kind)
        resp = await incremental(ver.version_id if ver else "", ver.version if ver else 0)
        if resp.full:
            items = await self._all_pages(page, page_field)
            known = {key(x) for x in await asyncio.to_thread(cached)}
            await asyncio.to_thread(delete, sorted(known - {key(x) for x in items}))
            await asyncio.to_thread(upsert, items)
        else:
            await asyncio.to_thread(delete, list(resp.delete))
            await asyncio.to_thread(upsert, [*resp.insert, *resp.update])
        await asyncio.to_thread(store.set_version, kind, resp.versionID, resp.version)
        if resp.full or resp.delete or resp.insert or resp.update:
            self._emit(changed)

    @staticmethod
    async def _all_pages(call: Callable[[dict[str, int]], Awaitable[Any]], field: str,
                         page_size: int = 500) -> list[Any]:
        out: list[Any] = []
        page = 1
        while True:
            resp = await call({"pageNumber": page, "showNumber": page_size})
            items = list(getattr(resp, field))
            out.extend(items)
            if len(items) < page_size or len(out) >= getattr(resp, "total", 0):
                return out
            page += 1


    # ================================================================== end of the relation block

    # ------------------------------------------------------------------ reading

    async def conversations(self, *, include_notifications: bool = False) -> list[Conversation]:
        """Cached conversations: pinned first, then the most recent activity first."""
        store = self._store()
        rows = await asyncio.to_thread(store.conversations)
        return [Conversation.from_row(r) for r in rows
                if include_notifications or not is_notification_conversation(r.conversation_id)]

    async def conversation(self, conversation_id: str) -> Conversation | None:
        row = await asyncio.to_thread(self._store().conversation, conversation_id)
        return Conversation.from_row(row) if row else None

    async def messages(self, conversation_id: str, before_seq: int | None = None, limit: int = 50, *,
                       after_seq: int | None = None) -> list[Message]:
        """A page of history, ascending: the newest ``limit`` below ``before_seq`` (or the newest);
        with ``after_seq``, the oldest ``limit`` above it (paging back down).

        Served from the cache; where the cache has holes (older messages never fetched, or seqs
        the on-connect sync window skipped after a long time offline) they are pulled from the
        server first, so a page has no gaps except seqs that do not exist.
        """
        if after_seq is not None:
            return await self._history.after(conversation_id, after_seq, limit)
        return await self._history.before(conversation_id, before_seq, limit)

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int = 50) -> list[Message]:
        """The oldest ``limit`` messages above ``after_seq``, ascending, holes pulled first."""
        return await self._history.after(conversation_id, after_seq, limit)

    history = messages

    async def search_server(self, *, send_id: str = "", recv_id: str = "", content_type: int = 0,
                            session_type: int = 0, send_time: str = "", page: int = 1,
                            page_size: int = 50) -> list[Message]:
        """Search on the server (``/msg/search_msg``; an admin route on OpenIM)."""
        resp = await self.api.msg.search_msg(
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

    async def delete_message(self, conversation_id: str, client_msg_id: str) -> None:
        """Delete a message for yourself, here and on the server (other devices sync it)."""
        store = self._store()
        row = await asyncio.to_thread(store.message, client_msg_id)
        if row is None:
            return
        if row.seq > 0:
            await self.api.msg.delete_msgs(conversation_id=conversation_id, seqs=[row.seq], user_id=self.user_id,
                                           delete_sync_opt={"IsSyncSelf": True, "IsSyncOther": False})
        await asyncio.to_thread(store.set_message_status, client_msg_id, MsgStatus.DELETED)
        gone = await asyncio.to_thread(store.message, client_msg_id)
        if gone is not None:
            self._emit(ev.MessageUpdated(Message.from_row(gone)))

    async def clear_conversation(self, conversation_id: str) -> None:
        """Clear a conversation's history for yourself, here and on the server."""
        store = self._store()
        await self.api.msg.clear_conversation_msg(conversation_ids=[conversation_id], user_id=self.user_id,
                                                  delete_sync_opt={"IsSyncSelf": True, "IsSyncOther": False})
        seq = (await asyncio.to_thread(store.max_seqs)).get(conversation_id, 0)
        await asyncio.to_thread(store.clear_messages, conversation_id)
        if seq:
            await asyncio.to_thread(store.set_max_seq, conversation_id, seq)  # never re-pull cleared seqs
        await asyncio.to_thread(store.update_conversation, conversation_id, latest_msg_preview="",
                                latest_msg_client_id="", unread_count=0)
        await self._conversation_changed(await asyncio.to_thread(store.conversation, conversation_id))

    async def subscribe_online_status(self, user_ids: Iterable[str]) -> dict[str, list[int]]:
        """Follow users' online status (2005): returns their platforms now; changes come as
        :class:`OnlineStatusChanged` events."""
        return await self.ws.subscribe_online_status(user_ids)

    async def unsubscribe_online_status(self, user_ids: Iterable[str]) -> None:
        await self.ws.unsubscribe_online_status(user_ids)

    async def message(self, client_msg_id: str) -> Message | None:
        row = await asyncio.to_thread(self._store().message, client_msg_id)
        return Message.from_row(row) if row else None

    async def search(self, text: str, conversation_id: str | None = None, limit: int = 50) -> list[Message]:
        """Local full-text search over cached messages, newest first."""
        rows = await asyncio.to_thread(self._store().search, text, conversation_id, limit)
        return [Message.from_row(r) for r in rows]

    async def friends(self) -> list[sdkws_pb2.FriendInfo]:
        return await asyncio.to_thread(self._store().friends, self.user_id)

    async def groups(self) -> list[sdkws_pb2.GroupInfo]:
        return await asyncio.to_thread(self._store().groups)

    async def group_members(self, group_id: str) -> list[sdkws_pb2.GroupMemberFullInfo]:
        """Members of a group, refreshed from the server when reachable."""
        store = self._store()
        try:
            members = await self._all_pages(
                lambda p: self.api.group.get_group_member_list(group_id=group_id, pagination=p), "members")
        except NetworkError:
            return await asyncio.to_thread(store.group_members, group_id)
        await asyncio.to_thread(store.delete_group_members, group_id)
        await asyncio.to_thread(store.upsert_group_members, members)
        return members

    # ------------------------------------------------------------------ writing

    async def open_conversation(self, user_id: str | None = None, group_id: str | None = None) -> Conversation:
        """The conversation with a user or a group, created locally if new."""
        store = self._store()
        if bool(user_id) == bool(group_id):
            raise ValueError("give exactly one of user_id and group_id")
        if group_id:
            cid, ctype = group_conversation_id(group_id), SessionType.READ_GROUP_CHAT
        else:
            assert user_id is not None
            cid, ctype = single_conversation_id(self.user_id, user_id), SessionType.SINGLE_CHAT
        row = await asyncio.to_thread(store.conversation, cid)
        if row is None:
            row = await asyncio.to_thread(store.merge_conversation, cid, conversation_type=ctype,
                                          user_id=user_id or "", group_id=group_id or "")
            with contextlib.suppress(OpenIMError):
                await self._resolve_name(row)
            row = await asyncio.to_thread(store.conversation, cid) or row
        return Conversation.from_row(row)

    async def resolve_target(self, target: str, group: bool = False) -> tuple[str, int, str, str]:
        """(conversationID, sessionType, recvID, groupID) for a user ID, a group ID (``group=True``)
        or a known conversation ID."""
        return await asyncio.to_thread(self._resolve_target, target, group)

    def _resolve_target(self, target: str, group: bool) -> tuple[str, int, str, str]:
        row = self._store().conversation(target)
        if row is not None and (row.user_id or row.group_id):  # a known conversation ID
            if row.group_id:
                return row.conversation_id, SessionType.READ_GROUP_CHAT, "", row.group_id
            return row.conversation_id, row.conversation_type or SessionType.SINGLE_CHAT, row.user_id, ""
        if group:
            return group_conversation_id(target), SessionType.READ_GROUP_CHAT, "", target
        if target.startswith("sg_"):
            return target, SessionType.READ_GROUP_CHAT, "", target[3:]
        return single_conversation_id(self.user_id, target), SessionType.SINGLE_CHAT, target, ""

    async def send_text(
        self,
        target: str,
        text: str,
        *,
        group: bool = False,
        at_user_ids: Iterable[str] = (),
        quote: Message | None = None,
        wait: bool = False,
    ) -> Message:
        """Send a text to a user ID, a group ID (``group=True``) or a conversation ID.

        Returns the cached row at once (status SENDING); :class:`MessageUpdated` follows when
        the server acknowledged it (SEND_SUCCESS) or refused it (SEND_FAILED). With ``wait=True``, waits
        for the answer and raises a refusal as the server's own error (see :meth:`wait_sent`).
        """
        at = list(at_user_ids)
        if quote is not None:
            content: dict[str, Any] = {"text": text, "quoteMessage": _quote_json(quote)}
            return await self.send_message(target, ContentType.QUOTE, content, group=group, wait=wait)
        if at:
            content = {"text": text, "atUserList": at, "isAtSelf": False}
            return await self.send_message(target, ContentType.AT_TEXT, content, group=group, at_user_ids=at,
                                           wait=wait)
        return await self.send_message(target, ContentType.TEXT, {"content": text}, group=group, wait=wait)

    async def send_message(
        self,
        target: str,
        content_type: int,
        content: dict[str, Any],
        *,
        group: bool = False,
        at_user_ids: Iterable[str] = (),
        options: dict[str, bool] | None = None,
        wait: bool = False,
    ) -> Message:
        """Send any content element (see docs/spec/ws-protocol.md §8 for the shapes).

        Returns the cached row at once (status SENDING); with ``wait=True``, waits for the server
        and returns the sent message or raises its refusal (see :meth:`wait_sent`)."""
        store = self._store()
        if not self._nickname and self.connected and not self._self_fetched:
            self._self_fetched = True  # the login-time sync has not stored our profile yet: ask once
            with contextlib.suppress(OpenIMError, TimeoutError):
                await asyncio.wait_for(self._user(self.user_id), 3)
        body = json.dumps(content, ensure_ascii=False).encode()

        def write() -> tuple[Message, ConversationRow, int]:
            """Everything local in one hop: the row (status sending) before any network call."""
            cid, session_type, recv_id, group_id = self._resolve_target(target, group)
            me = store.user(self.user_id)
            md = sdkws_pb2.MsgData(
                sendID=self.user_id, recvID=recv_id, groupID=group_id,
                clientMsgID=new_client_msg_id(self.user_id), senderPlatformID=self.platform_id,
                senderNickname=me.nickname if me else "", senderFaceURL=me.faceURL if me else "",
                sessionType=session_type, msgFrom=MsgFrom.USER, contentType=content_type, content=body,
                createTime=self.ctx.now_ms(), sendTime=self.ctx.now_ms(), status=MsgStatus.SENDING,
                atUserIDList=list(at_user_ids),
            )
            md.options.update(options or {})
            store.upsert_messages([md], cid)
            conv = store.update_conversation_from_message(cid, md, self_user_id=self.user_id)
            row = store.message(md.clientMsgID)
            assert row is not None
            return Message.from_row(row), conv, store.total_unread()

        async with self._sync.lock:
            msg, conv, total = await asyncio.to_thread(write)
            self._sync.mark_shown(msg.client_msg_id, msg.conversation_id)
        if msg.sender_nickname:
            self._nickname = msg.sender_nickname
        self._emit(ev.MessageReceived(msg, is_self=True))
        self._emit_conversation(conv, total)
        self._outbox.queue(msg.client_msg_id)
        if wait:
            return await self.wait_sent(msg.client_msg_id)
        return msg

    async def retry(self, client_msg_id: str) -> Message:
        """Send a failed message again."""
        store = self._store()
        row = await asyncio.to_thread(store.message, client_msg_id)
        if row is None:
            raise LocalError(message="no such message", detail=client_msg_id)
        if row.status != MsgStatus.SEND_SUCCESS:
            await asyncio.to_thread(store.set_message_status, client_msg_id, MsgStatus.SENDING)
            self._outbox.queue(client_msg_id)
            row = await asyncio.to_thread(store.message, client_msg_id) or row
            self._emit(ev.MessageUpdated(Message.from_row(row)))
        return Message.from_row(row)

    resend = retry

    async def send_at_text(self, group_id: str, text: str, at_user_ids: Iterable[str]) -> Message:
        """A group text mentioning users (``"AtAllTag"`` mentions everyone)."""
        return await self.send_text(group_id, text, group=True, at_user_ids=at_user_ids)

    async def send_quote(self, target: str, text: str, quote: Message, *, group: bool = False) -> Message:
        """A reply quoting ``quote``."""
        return await self.send_text(target, text, group=group, quote=quote)

    async def send_custom(self, target: str, data: str, *, description: str = "", extension: str = "",
                          group: bool = False) -> Message:
        """A custom message (content type 110) carrying app-defined ``data``."""
        content = {"data": data, "description": description, "extension": extension}
        return await self.send_message(target, ContentType.CUSTOM, content, group=group)

    async def send_image(self, target: str, path: str | os.PathLike[str], *, group: bool = False,
                         progress: Progress | None = None) -> Message:
        return await self.send_file(target, path, group=group, image=True, progress=progress)

    async def send_typing(self, conversation_id: str, typing: bool = True) -> None:
        await self.typing(conversation_id, typing)

    async def send_file(
        self, target: str, path: str | os.PathLike[str], *, group: bool = False, image: bool = False,
        progress: Progress | None = None,
    ) -> Message:
        """Upload a file (or a picture) and send it."""
        p = Path(path)
        size = p.stat().st_size
        uid = new_client_msg_id(self.user_id)
        state = await upload_file(self.api, p, f"{self.user_id}/{uid}/{p.name}",
                                  cause="msg-picture" if image else "msg-file", progress=progress)
        ext = p.suffix.lstrip(".")
        if image:
            pic = {"uuid": uid, "type": ext, "size": size, "width": 0, "height": 0, "url": state.url}
            content: dict[str, Any] = {"sourcePath": "", "sourcePicture": pic, "bigPicture": pic,
                                       "snapshotPicture": pic}
            return await self.send_message(target, ContentType.PICTURE, content, group=group)
        content = {"filePath": "", "uuid": uid, "sourceUrl": state.url, "fileName": p.name, "fileSize": size,
                   "fileType": ext}
        return await self.send_message(target, ContentType.FILE, content, group=group)

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
        await download(self.api, str(url), dest, progress=progress)
        return dest

    async def mark_read(self, conversation_id: str) -> None:
        """Mark a conversation read here and on the server (which sends the read receipt)."""
        store = self._store()
        await asyncio.to_thread(store.mark_read, conversation_id)
        row = await asyncio.to_thread(store.conversation, conversation_id)
        if row is None:
            return
        await self._conversation_changed(row)
        if row.has_read_seq > 0:
            try:
                await self.api.msg.mark_conversation_as_read(
                    conversation_id=conversation_id, user_id=self.user_id, has_read_seq=row.has_read_seq)
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, "mark read"))

    async def revoke(self, conversation_id: str, client_msg_id: str) -> None:
        """Revoke a sent message (the server notifies everyone; the row becomes a placeholder)."""
        row = await asyncio.to_thread(self._store().message, client_msg_id)
        if row is None or row.seq == 0:
            raise LocalError(message="the message is not on the server yet", detail=client_msg_id)
        await self.api.msg.revoke_msg(conversation_id=conversation_id, seq=row.seq, user_id=self.user_id)

    async def typing(self, conversation_id: str, typing: bool = True) -> None:
        """Tell the other side you are typing (online only; never stored)."""
        cid, session_type, recv_id, group_id = await self.resolve_target(conversation_id, False)
        if session_type != SessionType.SINGLE_CHAT or not self.connected:
            return
        md = self._typing.message(recv_id, typing, client_msg_id=new_client_msg_id(self.user_id),
                                  platform_id=self.platform_id)
        with contextlib.suppress(OpenIMError):
            await self.ws.request(ReqIdentifier.SEND_MSG, md.SerializeToString())

    async def set_draft(self, conversation_id: str, draft: str) -> None:
        await asyncio.to_thread(self._store().set_draft, conversation_id, draft)

    def _store(self) -> LocalStore:
        if self.store is None:
            raise LocalError(message="the client is not started: use `async with OpenIMClient(...)`")
        return self.store




class _ConversationSink:
    """What the sync driver reports about conversations, answered by the client for now."""

    def __init__(self, client: OpenIMClient) -> None:
        self._client = client

    async def changed(self, row: ConversationRow | None) -> None:
        await self._client._conversation_changed(row)

    def show(self, row: ConversationRow, unread_total: int) -> None:
        self._client._emit_conversation(row, unread_total)

    def needs_name(self, row: ConversationRow) -> None:
        self._client._spawn(self._client._guard(self._client._resolve_name(row), "conversation name"))


def _quote_json(m: Message) -> dict[str, Any]:
    return {"clientMsgID": m.client_msg_id, "serverMsgID": m.server_msg_id, "seq": m.seq, "sendID": m.send_id,
            "senderNickname": m.sender_nickname, "contentType": m.content_type, "sendTime": m.send_time,
            "textElem": {"content": m.text} if m.content_type == ContentType.TEXT else None}


