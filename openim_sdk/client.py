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

The client is a facade: each concept is owned by a part in :mod:`openim_sdk.session` (sending
and the outbox, the sync engine's adapter and deliveries, notification handling through one
:class:`~openim_sdk.session.context.NotificationRouter`, history paging, typing, events); the
client builds them over one :class:`~openim_sdk.session.context.SessionContext` and wires them to
the connection, the REST client and the cache, all of which can be passed in (``connection=``,
``rest=``) so client logic can be tested over fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from . import events as ev
from .messages import OutgoingMessage  # wiring: messages
from .models import Conversation, Message
from .protocol.constants import Platform, SessionType
from .protocol.conversation_id import (
    group_conversation_id,
    is_notification_conversation,
    single_conversation_id,
)
from .protocol.errors import LocalError, NotFoundError, OpenIMError
from .protocol.pb.sdkws import sdkws_pb2
from .rest import RestClient
from .rest.files import Progress
from .session.connection_state import SessionState
from .session.context import NotificationRouter, SessionContext
from .session.conversations import Conversations  # wiring: conversations
from .session.device import Device, login_status_of  # wiring: device
from .session.emitter import Emitter, EventStream, as_openim
from .session.history import History
from .session.message_events import MessageEvents
from .session.message_ops import MessageOps  # wiring: messages
from .session.outbox import Outbox, OutboxDriver
from .session.sender import MessageSender, SendApi, new_client_msg_id, now_ms
from .session.sync_driver import SyncDriver
from .session.typing import Typing
from .social import Friends, Groups, Users  # wiring: social
from .social.events import SelfInfoUpdated  # wiring: social
from .store import LocalStore
from .store.conversations import _ConversationRow as ConversationRow  # wiring: conversations
from .sync import actions as sa
from .sync.engine import SyncEngine
from .sync.pending import PendingEdits
from .ws import LongConnection
from .ws.backoff import DEFAULT_BACKOFF, BackoffPolicy

__all__ = ["EventStream", "OpenIMClient", "new_client_msg_id", "now_ms"]

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ev.Event)


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
        if rest_sync and isinstance(self.api, RestClient):
            RestClient.load()  # its login sync calls REST at once; a session without it loads nothing
        self.store: LocalStore | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._started = False
        # the parts, over one context (see openim_sdk.session)
        self._events = Emitter(self._spawn_guarded)
        self.ctx = SessionContext(user_id, self.api, self._events.emit, self._spawn_guarded, clock=clock,
                                  monotonic=monotonic)
        self.router = NotificationRouter()
        self._pending = PendingEdits()  # revokes/deletes that came before their message
        self._typing = Typing(self.ctx)
        self._history = History(self.ctx, lambda step: self._sync.ask(step), lambda: self._sync.engine,
                                lambda: self.connected)
        self._message_events = MessageEvents(self.ctx, self.router, self._pending, self._conversation_changed)
        self._sync = SyncDriver(self.ctx, self.ws, self.router, self._typing, self._history, self._pending,
                                _ConversationSink(self), in_outbox=lambda c: c in self._outbox,
                                set_state=self._set_state)
        self._sender = MessageSender(self.ctx, self.ws, self._sync, lambda: self.connected)
        self._outbox = OutboxDriver(self._sender, Outbox(window=send_window, send_timeout=send_timeout),
                                    monotonic=monotonic, spawn=lambda c: self._spawn(self._guard(c, "send")))
        self._session = SessionState(self._events.emit, on_connected_changed=self._outbox.connection,
                                     on_push=self._on_push, on_disconnected=self._on_disconnected)
        # the social parts (friends, groups, users) and the conversation / message parts, over the same
        # context; each registers the notification types it owns on the router
        self.friends = Friends(self.ctx, self.router)  # wiring: social
        self.groups = Groups(self.ctx, self.router)  # wiring: social
        self.users = Users(self.ctx, self.router, ws=self.ws, on_profiles=self.friends.refresh_users)  # wiring: social
        self.on(SelfInfoUpdated)(lambda e: setattr(self._send, "nickname", e.user.nickname))  # wiring: social
        self.conversations_api = Conversations(self.ctx, self.router)  # wiring: conversations
        self.messages_api = MessageOps(self.ctx, self.conversations_api)  # wiring: messages
        self._send = SendApi(self.ctx, platform_id=self.platform_id, sync=self._sync, outbox=self._outbox,
                             sender=self._sender, conversations=self.conversations_api, typing=self._typing,
                             conn=self.ws, connected=lambda: self.connected, fetch_self=lambda: self.users.get_user(user_id))
        self.device = Device(self.ctx, self.ws, end_session=self.close, log_dir=self.data_dir / "logs",  # wiring: device
                             login_status=lambda: login_status_of(self._started, self._session))  # wiring: device

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
        return self._send.nickname

    async def start(self) -> None:
        """Open the cache, queue unsent messages, and start the connection (returns at once)."""
        if self._started:
            return
        self._started = True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        opening = asyncio.to_thread(LocalStore, self.data_dir / "openim.sqlite3")
        if self._rest_sync_enabled and isinstance(self.api, RestClient):  # the login sync will need it at once:
            store, _ = await asyncio.gather(opening, asyncio.to_thread(self.api.prepare))  # make it off the loop
        else:
            store = await opening
        self.store = store
        self.ctx.attach_store(store)
        local = await asyncio.to_thread(store.max_seqs)
        self._sync.engine = SyncEngine(self.user_id, local, config=self._sync_config, fresh_install=not local)
        self._sender.restore(await asyncio.to_thread(store.send_errors))  # refusals of an earlier run
        for cmid in await asyncio.to_thread(store.unsent_message_ids, self.user_id):
            self._sync.mark_shown(cmid, "")  # shown before the restart: its numbered copy is no news
            self._outbox.queue(cmid)
        self.ws.on_connected(self._on_ws_connected)
        self.ws.on_event(self._session.on_ws_event)
        self._set_state(ev.ConnectionState.CONNECTING)
        self._spawn(self._outbox.run())
        await self.ws.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until the on-connect sync has caught up (the state is CONNECTED). Raises the
        session's error when it ends first (``TokenError`` for a refused token, ``KickedError``,
        ``LocalError`` when closed), ``TimeoutError`` after ``timeout`` seconds."""
        await asyncio.wait_for(self._session.wait_connected(), timeout)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued message has been answered by the server (sent or refused)."""
        await asyncio.wait_for(self._outbox.drained(), timeout)

    async def wait_sent(self, client_msg_id: str, timeout: float | None = None) -> Message:
        """Wait until a queued message is answered: the sent message, or the server's refusal
        raised as its own :class:`OpenIMError` (e.g. ``MessageError`` code 1402 muted)."""
        self._store()
        return await self._send.wait_sent(client_msg_id, timeout)

    def send_error(self, client_msg_id: str) -> OpenIMError | None:
        """Why the server refused a message (this run or an earlier one: refusals are kept in the
        cache until the message is sent), if it did."""
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
            self.ctx.attach_store(None)  # wiring: social
            await asyncio.to_thread(self.store.close)
        self._session.end(ev.ConnectionState.STOPPED, None)

    async def __aenter__(self) -> OpenIMClient:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ device and session (session/device.py)

    async def logout(self, timeout: float | None = 20.0) -> None:
        """Log out as the official core does (WS 2003: the server drops this platform's push token),
        then close the session. The token itself stays valid (only an admin can revoke it)."""
        await self.device.logout(timeout)

    async def set_app_background_status(self, is_background: bool) -> None:
        """Tell the server the app went to the background (or came back): WS 2004."""
        await self.device.set_app_background_status(is_background)

    async def update_fcm_token(self, token: str, expire_time: int = 0) -> None:
        """Register this device's push token (``/third/fcm_update_token``)."""
        await self.device.update_fcm_token(token, expire_time)

    async def set_app_badge(self, unread_count: int) -> None:
        """The badge number the server's offline pushes should show (``/third/set_app_badge``)."""
        await self.device.set_app_badge(unread_count)

    async def upload_logs(self, paths: Sequence[str | os.PathLike[str]] | None = None, *, line: int = 0,
                          ex: str = "", progress: Progress | None = None) -> str:
        """Zip log files (default: ``<data_dir>/logs``; ``line=n``: the last n lines of the newest),
        upload the zip and register it (``/third/logs/upload``); returns its URL."""
        return await self.device.upload_logs(paths, line=line, ex=ex, progress=progress)

    def get_login_status(self) -> int:
        """1 logged out, 2 logging in, 3 logged in (the official core's values)."""
        return int(self.device.login_status())

    @staticmethod
    def get_sdk_version() -> str:
        return Device.sdk_version()

    def network_status_changed(self) -> None:
        """The network changed (Wi-Fi to mobile...): redial now instead of waiting out the backoff."""
        self.device.network_status_changed()

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
        self.conversations_api.publish([Conversation.from_row(row)], unread_total)  # wiring: conversations

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

    # ------------------------------------------------------------------ login-time REST sync

    async def _rest_sync(self) -> None:
        """Self info, conversations, friends, groups and user commands through the incremental routes."""
        store = self._store()
        me = await self.api.user.get_users_info(user_ids=[self.user_id])
        await asyncio.to_thread(store.upsert_users, me.usersInfo)
        if me.usersInfo:
            self._send.nickname = me.usersInfo[0].nickname
        await self.conversations_api.sync()  # wiring: conversations
        # wiring: social (login-time relation sync; each list's failure is reported, the others go on)
        for where, part_sync in (("friends sync", self.friends.sync_all), ("groups sync", self.groups.sync_all),
                                 ("user commands sync", self.users.sync_commands)):
            try:
                await part_sync()
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, where))

    # ------------------------------------------------------------------ reading

    async def conversations(self, *, include_notifications: bool = False,
                            include_hidden: bool = False) -> list[Conversation]:
        """The conversation list (official ``GetAllConversationList``): pinned first, then the most
        recent activity first. Hidden conversations (no latest message: never used, hidden or
        deleted; the next message brings them back) are left out unless ``include_hidden``."""
        self._store()
        return await self.conversations_api.get_list(include_hidden=include_hidden,  # wiring: conversations
                                                     include_notifications=include_notifications)

    async def download_history(self, conversation_ids: Sequence[str] | None = None, *, window: int = 4,
                               progress: Callable[[int, int], None] | None = None) -> int:
        """Fetch the whole history of these conversations (default: all chats) into the cache:
        only what the cache lacks, ``window`` pulls of up to 1,000 messages in flight.
        ``progress(done, total)`` counts seqs asked; returns how many messages were added. Needs
        the connection (``NetworkError`` otherwise); pages then come from the cache."""
        return await self._history.download(conversation_ids, window=window, progress=progress)

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
        return await self.messages_api.search_server(  # wiring: messages
            send_id=send_id, recv_id=recv_id, content_type=content_type, session_type=session_type,
            send_time=send_time, page=page, page_size=page_size)

    async def delete_message(self, conversation_id: str, client_msg_id: str) -> None:  # wiring: messages
        """Delete a message for yourself, here and on the server (other devices sync it)."""  # wiring: messages
        with contextlib.suppress(NotFoundError):  # wiring: messages
            await self.messages_api.delete(client_msg_id)  # wiring: messages

    async def clear_conversation(self, conversation_id: str) -> None:  # wiring: conversations
        """Clear a conversation's history for yourself, here and on the server."""  # wiring: conversations
        await self.conversations_api.clear_with_messages(conversation_id)  # wiring: conversations

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
                await self.conversations_api.names.name_now(row)  # wiring: conversations
            row = await asyncio.to_thread(store.conversation, cid) or row
        return Conversation.from_row(row)

    async def resolve_target(self, target: str, group: bool = False) -> tuple[str, int, str, str]:
        """(conversationID, sessionType, recvID, groupID) for a user ID, a group ID (``group=True``)
        or a known conversation ID."""
        self._store()
        return await asyncio.to_thread(self._send.target, target, group)

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
        self._store()
        return await self._send.send_text(target, text, group=group, at_user_ids=at_user_ids, quote=quote,
                                          wait=wait)

    async def send_message(
        self,
        target: str,
        content_type: int,
        content: dict[str, Any],
        *,
        group: bool = False,
        at_user_ids: Iterable[str] = (),
        options: dict[str, bool] | None = None,
        offline_push: sdkws_pb2.OfflinePushInfo | None = None,  # wiring: messages
        ex: str = "",  # wiring: messages
        wait: bool = False,
    ) -> Message:
        """Send any content element (see docs/spec/ws-protocol.md §8 for the shapes).

        Returns the cached row at once (status SENDING); with ``wait=True``, waits for the server
        and returns the sent message or raises its refusal (see :meth:`wait_sent`)."""
        self._store()
        return await self._send.send_message(target, content_type, content, group=group, at_user_ids=at_user_ids,
                                             options=options, offline_push=offline_push, ex=ex, wait=wait)

    async def send(self, target: str, message: OutgoingMessage, *, group: bool = False,  # wiring: messages
                   progress: Progress | None = None) -> Message:  # wiring: messages
        """Send a built message (:mod:`openim_sdk.messages`), uploading its local files first."""  # wiring: messages
        self._store()
        return await self._send.send(target, message, group=group, progress=progress)  # wiring: messages

    async def retry(self, client_msg_id: str) -> Message:
        """Send a failed message again."""
        self._store()
        return await self._send.retry(client_msg_id)

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
        self._store()
        return await self._send.send_custom(target, data, description=description, extension=extension, group=group)

    async def send_image(self, target: str, path: str | os.PathLike[str], *, group: bool = False,
                         progress: Progress | None = None) -> Message:
        return await self.send_file(target, path, group=group, image=True, progress=progress)

    async def send_typing(self, conversation_id: str, typing: bool = True) -> None:
        await self.typing(conversation_id, typing)

    async def send_file(
        self, target: str, path: str | os.PathLike[str], *, group: bool = False, image: bool = False,
        progress: Progress | None = None,
    ) -> Message:
        """Upload a file (or a picture, with its width and height) and send it."""
        self._store()
        return await self._send.send_file(target, path, group=group, image=image, progress=progress)

    async def download(self, message: Message, dest_dir: str | os.PathLike[str],
                       progress: Progress | None = None) -> Path:
        """Download the file or picture of a message into ``dest_dir``; returns the path."""
        return await self.messages_api.download(message, dest_dir, progress)  # wiring: messages

    async def mark_read(self, conversation_id: str) -> None:  # wiring: conversations
        """Mark a conversation read here and on the server (which sends the read receipt)."""  # wiring: conversations
        await self.conversations_api.mark_read(conversation_id)  # wiring: conversations

    async def revoke(self, conversation_id: str, client_msg_id: str) -> None:
        """Revoke a sent message (the server notifies everyone; the row becomes a placeholder)."""
        self._store()
        await self.messages_api.revoke(conversation_id, client_msg_id)  # wiring: messages

    async def typing(self, conversation_id: str, typing: bool = True) -> None:
        """Tell the other side you are typing (online only; never stored)."""
        self._store()
        await self._send.typing(conversation_id, typing)

    async def set_draft(self, conversation_id: str, draft: str) -> None:  # wiring: conversations
        await self.conversations_api.set_draft(conversation_id, draft)  # wiring: conversations

    def _store(self) -> LocalStore:
        if self.store is None:
            raise LocalError(message="the client is not started: use `async with OpenIMClient(...)`")
        return self.store


class _ConversationSink:
    """What the sync driver reports about conversations, answered by the client for now."""

    def __init__(self, client: OpenIMClient) -> None:
        self._client = client

    def show(self, row: ConversationRow, unread_total: int) -> None:
        self._client._emit_conversation(row, unread_total)

    def needs_name(self, row: ConversationRow) -> None:
        self._client.conversations_api.names.request(row)  # wiring: conversations
