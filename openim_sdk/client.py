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
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import hashlib
import itertools
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
from . import messages as msgs  # wiring: messages
from .messages import OutgoingMessage  # wiring: messages
from .messages.upload import upload_media  # wiring: messages
from .models import Conversation, Message
from .protocol import jsoncodec
from .protocol.constants import (
    ONLINE_ONLY_OPTIONS,
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
from .protocol.errors import (
    ArgsError,
    LocalError,
    NetworkError,
    NotFoundError,
    OpenIMError,
    UserNotFoundError,
)
from .protocol.pb.msg import msg_pb2
from .protocol.pb.sdkws import sdkws_pb2
from .rest import RestClient
from .rest.files import Progress, download
from .session.context import NotificationRouter, SessionContext
from .session.conversations import Conversations, record_message  # wiring: conversations
from .session.message_ops import MessageOps  # wiring: messages
from .social import Friends, Groups, Users
from .social.events import SelfInfoUpdated
from .store import LocalStore, StoredMessage
from .store.conversations import _ConversationRow as ConversationRow  # wiring: conversations
from .sync import actions as sa
from .sync.engine import SyncEngine
from .sync.paging import page_hole
from .sync.pending import PendingEdits
from .ws import LongConnection
from .ws import events as wse
from .ws.backoff import DEFAULT_BACKOFF, BackoffPolicy

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ev.Event)
Callback = Callable[[Any], Awaitable[None] | None]

_TYPING_TTL = 6.0


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
    ) -> None:
        if platform_id == Platform.IOS:
            raise ValueError("platform 1 (iOS) has special server-side push rules; use another platform")
        self.user_id = user_id
        self.platform_id = int(platform_id)
        self.data_dir = Path(data_dir).expanduser()
        self.api = RestClient(api_url, token, timeout=request_timeout)
        self.ws = LongConnection(
            ws_url, user_id, token, platform_id=self.platform_id, encoding=encoding,  # type: ignore[arg-type]
            compress=compress, request_timeout=request_timeout, heartbeat_interval=heartbeat_interval,
            backoff=DEFAULT_BACKOFF if backoff is None else backoff,
        )
        self._sync_config = sync_config
        self._rest_sync_enabled = rest_sync
        self.store: LocalStore | None = None
        self.sync: SyncEngine | None = None
        self._state = ev.ConnectionState.STOPPED
        self._lock = asyncio.Lock()
        self._queues: list[asyncio.Queue[ev.Event]] = []
        self._callbacks: list[tuple[type[ev.Event], Callback]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._outbox: collections.deque[str] = collections.deque()  # waiting, in the order typed
        self._outbox_order: dict[str, int] = {}  # clientMsgID -> position when queued
        self._outbox_seq = itertools.count()  # positions only grow (entries leave when answered)
        self._outbox_ids: set[str] = set()  # queued or in flight
        self._outbox_wake = asyncio.Event()
        self._send_window = send_window
        self._in_flight = 0  # sends issued and not yet answered
        self._in_flight_idle = asyncio.Event()
        self._in_flight_idle.set()
        self._send_barrier = False  # the connection dropped with sends in flight: let them settle first
        self._history_waiters: dict[int, asyncio.Future[None]] = {}
        self._history_end: set[str] = set()
        self._peer_read: dict[str, int] = {}
        self._pending = PendingEdits()  # revokes/deletes that came before their message
        self._typing: dict[tuple[str, str], float] = {}
        self._connected = asyncio.Event()
        self._unread_total = 0
        self._nickname = ""
        self._persisted_seqs: dict[str, int] = {}
        self._self_fetched = False
        self._sent_reported: dict[str, None] = {}
        self._sync_delivered = 0
        self._ended = False
        self._started = False
        # wiring: parts over one SessionContext; notifications reach them by content type
        self._router = NotificationRouter()
        self._session = SessionContext(user_id, self.api, self._emit,
                                       lambda coro, where: self._spawn(self._guard(coro, where)))
        self.friends = Friends(self._session, self._router)  # wiring: social
        self.groups = Groups(self._session, self._router)  # wiring: social
        self.users = Users(self._session, self._router, ws=self.ws, on_profiles=self.friends.refresh_users)
        self.on(SelfInfoUpdated)(lambda e: setattr(self, "_nickname", e.user.nickname))  # wiring: social
        self.conversations_api = Conversations(self._session, self._router)  # wiring: conversations
        self.messages_api = MessageOps(self._session, self.conversations_api)  # wiring: messages

    # ------------------------------------------------------------------ lifecycle

    @property
    def state(self) -> ev.ConnectionState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

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
        self._session.attach_store(store)  # wiring: social, conversations, messages
        local = await asyncio.to_thread(store.max_seqs)
        self.sync = SyncEngine(self.user_id, local, config=self._sync_config, fresh_install=not local)
        for cmid in await asyncio.to_thread(self._unsent_ids):
            self._queue_send(cmid)
        self.ws.on_connected(self._on_ws_connected)
        self.ws.on_event(self._on_ws_event)
        self._set_state(ev.ConnectionState.CONNECTING)
        self._spawn(self._sender_loop())
        await self.ws.start()

    async def wait_synced(self, timeout: float | None = None) -> None:
        """Wait until the on-connect sync has caught up (the state is CONNECTED)."""
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def flush(self, timeout: float | None = None) -> None:
        """Wait until every queued message has been answered by the server (sent or refused)."""

        async def drained() -> None:
            while self._outbox_ids:
                await asyncio.sleep(0.02)

        await asyncio.wait_for(drained(), timeout)

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
            self._session.attach_store(None)  # wiring: social
            await asyncio.to_thread(self.store.close)
        if not self._ended:
            self._end(ev.ConnectionState.STOPPED, None)

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
        return EventStream(self._queues)

    def on(self, event_type: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        """Decorator: call ``fn(event)`` (sync or async) for every event of ``event_type``."""

        def deco(fn: Callable[[E], Any]) -> Callable[[E], Any]:
            self._callbacks.append((event_type, fn))
            return fn

        return deco

    def _emit(self, event: ev.Event) -> None:
        for queue in self._queues:
            queue.put_nowait(event)
        for etype, fn in self._callbacks:
            if isinstance(event, etype):
                try:
                    result = fn(event)
                    if asyncio.iscoroutine(result):
                        self._spawn(self._guard(result, f"callback {getattr(fn, '__name__', fn)}"))
                except Exception as exc:  # a user callback must not kill the session
                    log.exception("event callback failed")
                    if not isinstance(event, ev.ErrorEvent):
                        self._emit(ev.ErrorEvent(_as_openim(exc), "callback"))

    async def _guard(self, coro: Awaitable[Any], where: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("%s failed", where)
            self._emit(ev.ErrorEvent(_as_openim(exc), where))

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
        if state == self._state:
            return
        self._state = state
        if state == ev.ConnectionState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
            if self._in_flight:
                self._send_barrier = True
        self._emit(ev.ConnectionStateChanged(state, detail))

    def _end(self, reason: ev.ConnectionState, error: OpenIMError | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._set_state(reason, str(error or ""))
        if reason == ev.ConnectionState.KICKED:
            self._emit(ev.Kicked(error))
        elif reason == ev.ConnectionState.TOKEN_INVALID:
            self._emit(ev.TokenExpired(error))
        self._emit(ev.SessionEnded(reason, error))

    # ------------------------------------------------------------------ the connection

    async def _on_ws_connected(self, conn: LongConnection) -> None:
        self._set_state(ev.ConnectionState.SYNCING)
        await self._feed(lambda eng: eng.on_connected())
        if self._rest_sync_enabled:
            self._spawn(self._guard(self._rest_sync(), "login sync"))

    async def _on_ws_event(self, event: wse.Event) -> None:
        if isinstance(event, wse.PushReceived):
            try:
                push = event.push
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, "push"))
                return
            await self._detect_server_reset(push)
            await self._feed(lambda eng: eng.on_push(push))
        elif isinstance(event, wse.Disconnected | wse.Reconnecting):
            await self._feed(lambda eng: eng.on_disconnected())
            if not self._ended:
                self._set_state(ev.ConnectionState.RECONNECTING, getattr(event, "reason", ""))
        elif isinstance(event, wse.Kicked):
            self._end(ev.ConnectionState.KICKED, event.error)
        elif isinstance(event, wse.TokenInvalid):
            self._end(ev.ConnectionState.TOKEN_INVALID, event.error)
        elif isinstance(event, wse.StatusChange):
            try:
                statuses = event.statuses
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, "online status"))
                return
            for uid, platforms in statuses.items():
                self._emit(ev.OnlineStatusChanged(uid, tuple(platforms)))
        elif isinstance(event, wse.ErrorOccurred):
            self._emit(ev.ErrorEvent(event.error, event.where))
        elif isinstance(event, wse.Stopped):
            self._end(ev.ConnectionState.STOPPED, event.error)

    async def _detect_server_reset(self, push: sdkws_pb2.PushMessages) -> None:
        """A pushed message at a seq we already hold, under another clientMsgID, means the server's
        history was replaced (e.g. its database was reset): drop the stale copy and resync, instead
        of discarding the push as already seen."""
        store, sync = self.store, self.sync
        if store is None or sync is None:
            return
        for cid, pulled in push.msgs.items():
            state = sync.conversation_state(cid)
            if state is None:
                continue
            for m in pulled.Msgs:
                if not 0 < m.seq <= state.synced:
                    continue
                held = await asyncio.to_thread(store.messages, cid, m.seq + 1, 1)
                if held and held[-1].seq == m.seq and held[-1].client_msg_id != m.clientMsgID:
                    log.warning("server history of %s differs at seq %d: resyncing", cid, m.seq)
                    await self._feed(functools.partial(SyncEngine.on_server_reset, conversation_id=cid,
                                                       server_max=m.seq - 1))
                    break

    # ------------------------------------------------------------------ sync engine adapter

    async def _feed(self, step: Callable[[SyncEngine], list[sa.Action]]) -> None:
        """Run one engine step and apply its actions, in order, under the session lock."""
        requests: list[sa.Action] = []
        async with self._lock:
            if self.sync is None:
                return
            actions = step(self.sync)
            if not actions:
                return
            await self._apply(actions, requests)
            seqs = self.sync.synced_seqs()
            changed = {c: s for c, s in seqs.items() if self._persisted_seqs.get(c) != s}
            if changed and self.store is not None:
                await asyncio.to_thread(self.store.set_max_seqs, changed)
                self._persisted_seqs.update(changed)
        for req in requests:
            self._spawn(self._guard(self._send_request(req), "sync request"))

    async def _apply(self, actions: list[sa.Action], requests: list[sa.Action]) -> None:
        store = self.store
        assert store is not None
        for a in actions:
            if isinstance(a, sa.RequestNewestSeqs | sa.RequestReadSeqs | sa.Pull | sa.PullSeqs):
                requests.append(a)
            elif isinstance(a, sa.Deliver):
                await self._deliver(a)
            elif isinstance(a, sa.Merge):
                await asyncio.to_thread(store.upsert_messages, [a.message], a.conversation_id)
                await asyncio.to_thread(store.merge_sent, a.client_msg_id, a.seq, a.server_msg_id, a.send_time)
                row = await asyncio.to_thread(store.message, a.client_msg_id)
                conv = await asyncio.to_thread(
                    record_message, store, a.conversation_id, a.message, self.user_id  # wiring: conversations
                )
                if row is not None:
                    self._report_sent(row)
                await self._conversation_changed(conv)
            elif isinstance(a, sa.ReadSeqs):
                entries = [(e.conversation_id, e.has_read_seq, e.max_seq) for e in a.entries]
                await asyncio.to_thread(store.set_read_seqs, entries)
                for e in a.entries:
                    await self._conversation_changed(await asyncio.to_thread(store.conversation, e.conversation_id))
            elif isinstance(a, sa.Resync):  # confirmed by the engine: the server's history went back
                log.warning("server history of %s went back (%d -> %d): dropping local copies above it",
                            a.conversation_id, a.local_max, a.server_max)
                await asyncio.to_thread(store.rewind_conversation, a.conversation_id, a.server_max)
                self._emit(ev.ServerHistoryRewound(a.conversation_id, a.local_max, a.server_max))
            elif isinstance(a, sa.GapGiveUp):
                log.warning("gave up seqs %s of %s (%s)", a.seqs, a.conversation_id, a.reason)
            elif isinstance(a, sa.HistoryEnd):
                self._history_end.add(a.conversation_id)
            elif isinstance(a, sa.SyncStarted):
                self._sync_delivered = 0
                self._set_state(ev.ConnectionState.SYNCING)
                self._emit(ev.SyncStarted())
            elif isinstance(a, sa.SyncFinished):
                self._set_state(ev.ConnectionState.CONNECTED)
                self._emit(ev.SyncFinished(self._sync_delivered))
            elif isinstance(a, sa.SyncFailed):
                self._emit(ev.ErrorEvent(NetworkError(message="newest-seq request failed", detail=a.reason), "sync"))
                self._set_state(ev.ConnectionState.CONNECTED)

    async def _send_request(self, req: sa.Action) -> None:
        sync = self.sync
        assert sync is not None
        uid = self.user_id
        if isinstance(req, sa.RequestNewestSeqs):
            try:
                resp = await self.ws.request(ReqIdentifier.GET_NEWEST_SEQ, req.to_pb(uid).SerializeToString())
                newest = sdkws_pb2.GetMaxSeqResp.FromString(resp.data)
            except OpenIMError as exc:
                reason, rid0 = str(exc), req.request_id
                await self._feed(lambda eng: eng.on_newest_seqs_failed(reason, rid0))
                return
            await self._feed(functools.partial(SyncEngine.on_newest_seqs, resp=newest, request_id=req.request_id))
        elif isinstance(req, sa.RequestReadSeqs):
            resp = await self.ws.request(ReqIdentifier.GET_CONV_MAX_READ_SEQ, req.to_pb(uid).SerializeToString())
            reads = msg_pb2.GetConversationsHasReadAndMaxSeqResp.FromString(resp.data)
            await self._feed(lambda eng: eng.on_read_seqs(reads))
        elif isinstance(req, sa.Pull | sa.PullSeqs):
            rid = req.request_id
            try:
                if isinstance(req, sa.Pull):
                    r = await self.ws.request(ReqIdentifier.PULL_MSG_BY_RANGE, req.to_pb(uid).SerializeToString())
                    reply: Any = sdkws_pb2.PullMessageBySeqsResp.FromString(r.data)
                else:
                    r = await self.ws.request(ReqIdentifier.PULL_MSG_BY_SEQ_LIST, req.to_pb(uid).SerializeToString())
                    reply = msg_pb2.GetSeqMessageResp.FromString(r.data)
            except (OpenIMError, ValueError) as exc:
                log.info("pull %d failed: %s", rid, exc)
                await self._feed(lambda eng: eng.on_pull_failed(rid))
            else:
                await self._feed(lambda eng: eng.on_pull_reply(rid, reply))
            finally:
                waiter = self._history_waiters.pop(rid, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def _deliver(self, a: sa.Deliver) -> None:
        store = self.store
        assert store is not None
        keep: list[sdkws_pb2.MsgData] = []
        for m in a.messages:
            if m.contentType == ContentType.TYPING:
                self._on_typing(a.conversation_id, m)
            else:
                keep.append(m)
        keep = self._pending.apply(a.conversation_id, keep) if self._pending else keep
        if not keep:
            return
        notification = a.notification or is_notification_conversation(a.conversation_id)
        live = not notification and a.source != "history"  # history: the app asked through messages()
        by_id = {m.clientMsgID: m for m in keep}

        def write() -> tuple[list[StoredMessage], ConversationRow | None, int]:
            """Store the messages and apply them to their conversation in one hop."""
            rows = store.upsert_messages(keep, a.conversation_id)
            conv = None
            if live:
                for row in rows:
                    md = by_id.get(row.client_msg_id) or row.to_msg()
                    conv = record_message(store, a.conversation_id, md, self.user_id)  # wiring: conversations
            return rows, conv, store.total_unread() if conv is not None else 0

        rows, conv_row, total = await asyncio.to_thread(write)
        if notification:
            for m in keep:
                await self._on_notification(m)
            return
        await self._settle_own_sends(keep, {r.client_msg_id for r in rows})
        if not live:
            return
        self._sync_delivered += len(rows)
        for row in rows:
            self._emit(ev.MessageReceived(Message.from_row(row), is_self=row.send_id == self.user_id))
        if conv_row is not None:
            if not conv_row.show_name:
                self._spawn(self._guard(self._resolve_name(conv_row), "conversation name"))
            self._emit_conversation(conv_row, total)

    def _report_sent(self, row: StoredMessage) -> None:
        """MessageSent once per message (at the ack, or at its numbered copy if that came first);
        later changes of the row (the seq arriving) are plain MessageUpdated."""
        msg = Message.from_row(row)
        if row.client_msg_id in self._sent_reported:
            self._emit(ev.MessageUpdated(msg))
            return
        self._sent_reported[row.client_msg_id] = None
        while len(self._sent_reported) > 10_000:
            self._sent_reported.pop(next(iter(self._sent_reported)))
        self._emit(ev.MessageSent(msg))

    async def _settle_own_sends(self, msgs: list[sdkws_pb2.MsgData], new_ids: set[str]) -> None:
        """A queued send of ours came back numbered before its ack (lost when the connection or
        the server died after the commit): the row is now sent, and the outbox skips it; say so."""
        store = self._store()
        for m in msgs:
            cmid = m.clientMsgID
            if m.sendID != self.user_id or m.seq <= 0 or cmid in new_ids or cmid not in self._outbox_ids:
                continue
            row = await asyncio.to_thread(store.message, cmid)
            if row is not None and row.status == MsgStatus.SEND_SUCCESS:
                self._report_sent(row)

    def _on_typing(self, conversation_id: str, m: sdkws_pb2.MsgData) -> None:
        if m.sendID == self.user_id:
            return
        try:
            tips = json.loads(m.content or b"{}").get("msgTips", "")
        except (ValueError, AttributeError):
            tips = ""
        typing = tips != "no"
        cid = single_conversation_id(m.sendID, m.recvID) if m.sessionType == SessionType.SINGLE_CHAT else conversation_id
        self._typing[(cid, m.sendID)] = time.monotonic() + _TYPING_TTL if typing else 0.0
        self._emit(ev.TypingChanged(cid, m.sendID, typing))

    def is_typing(self, conversation_id: str, user_id: str) -> bool:
        return self._typing.get((conversation_id, user_id), 0.0) > time.monotonic()

    async def _on_notification(self, m: sdkws_pb2.MsgData) -> None:
        """Apply the state changes that notification messages carry."""
        store = self.store
        assert store is not None
        if await self._router.dispatch(m):  # wiring: conversations, messages
            return  # wiring: conversations, messages
        try:
            detail = json.loads(json.loads(m.content or b"{}").get("detail", "{}"))
        except (ValueError, AttributeError, TypeError):
            return
        if await self._router.dispatch(m):  # wiring: social (friend, user, group notifications)
            return
        if not isinstance(detail, dict):
            return
        if m.contentType == ContentType.MSG_REVOKE_NOTIFICATION:
            tips = jsoncodec.from_go_json(sdkws_pb2.RevokeMsgTips, detail)
            row = await asyncio.to_thread(store.message, tips.clientMsgID)
            if row is None:  # the message is not here yet: revoke it on arrival
                self._pending.revoke_later(tips.clientMsgID, m.content)
                return
            md = row.to_msg()
            md.contentType = ContentType.MSG_REVOKE_NOTIFICATION
            md.content = m.content
            await asyncio.to_thread(store.upsert_messages, [md], row.conversation_id)
            updated = await asyncio.to_thread(store.message, tips.clientMsgID)
            if updated is not None:
                self._emit(ev.MessageRevoked(Message.from_row(updated), tips.revokerUserID))
        elif m.contentType == ContentType.DELETE_MSGS_NOTIFICATION:
            tips_d = jsoncodec.from_go_json(sdkws_pb2.DeleteMsgsTips, detail)
            rows = await asyncio.to_thread(store.mark_deleted, tips_d.conversationID, tips_d.seqs)
            self._pending.delete_later(tips_d.conversationID, set(tips_d.seqs) - {r.seq for r in rows})
            for r in rows:
                self._emit(ev.MessageUpdated(Message.from_row(r)))
        elif m.contentType == ContentType.HAS_READ_RECEIPT:
            tips_r = jsoncodec.from_go_json(sdkws_pb2.MarkAsReadTips, detail)
            cid = tips_r.conversationID
            read = tips_r.hasReadSeq or max(tips_r.seqs, default=0)
            if tips_r.markAsReadUserID == self.user_id:
                await asyncio.to_thread(store.mark_read, cid, read)
                await self._conversation_changed(await asyncio.to_thread(store.conversation, cid))
            else:
                self._peer_read[cid] = max(self._peer_read.get(cid, 0), read)
            self._emit(ev.ReadReceipt(cid, tips_r.markAsReadUserID, read))

    def peer_read_seq(self, conversation_id: str) -> int:
        """The highest seq the other side of a single chat is known to have read."""
        return self._peer_read.get(conversation_id, 0)

    async def _resolve_name(self, conv: ConversationRow) -> None:
        store = self.store
        assert store is not None
        name = face = ""
        if conv.group_id:
            group = await self.groups.get_group(conv.group_id)  # wiring: social
            if group is not None:
                name, face = group.group_name, group.face_url
        elif conv.user_id:
            user = await self.users.get_user(conv.user_id)  # wiring: social
            if user is not None:
                name, face = user.nickname, user.face_url
        if name:
            row = await asyncio.to_thread(store.update_conversation, conv.conversation_id, show_name=name,
                                          face_url=face)
            await self._conversation_changed(row)

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
        # wiring: social (login-time relation sync; each list's failure is reported, the others go on)
        for where, part_sync in (("friends sync", self.friends.sync_all), ("groups sync", self.groups.sync_all),
                                 ("user commands sync", self.users.sync_commands)):
            try:
                await part_sync()
            except OpenIMError as exc:
                self._emit(ev.ErrorEvent(exc, where))

    async def _sync_conversations(self) -> None:  # wiring: conversations
        await self.conversations_api.sync()  # wiring: conversations

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
        with ``after_seq``, the oldest ``limit`` above it, from the cache only (paging back down).

        Served from the cache; where the cache has holes (older messages never fetched, or seqs
        the on-connect sync window skipped after a long time offline) they are pulled from the
        server first, newest first, so a page has no gaps except seqs that do not exist.
        """
        store = self._store()
        if after_seq is not None:
            rows = await asyncio.to_thread(store.messages, conversation_id, None, limit, after_seq=after_seq)
            return [Message.from_row(r) for r in rows]
        rows = await asyncio.to_thread(store.messages, conversation_id, before_seq, limit)
        settled: list[tuple[int, int]] = []  # holes with nothing (left) to pull in this call
        pulls = 0
        while self.connected and pulls <= limit // 10 + 4:  # bounded, in case pulls keep failing
            hole = self._page_hole(conversation_id, rows, before_seq, limit, settled)
            if hole is None:
                break
            lo, hi, room = hole
            pulls += 1
            if not await self._load_history(conversation_id, hi + 1, min(room, hi - lo + 1), floor=lo):
                settled.append((lo, hi))
                continue
            rows = await asyncio.to_thread(store.messages, conversation_id, before_seq, limit)
        return [Message.from_row(r) for r in rows]

    def _page_hole(self, conversation_id: str, rows: Sequence[Any], before_seq: int | None, limit: int,
                   settled: list[tuple[int, int]]) -> tuple[int, int, int] | None:
        state = self.sync.conversation_state(conversation_id) if self.sync is not None else None
        return None if state is None else page_hole(state.synced, [r.seq for r in rows], before_seq, limit,
                                                    settled, conversation_id in self._history_end)

    async def _load_history(self, conversation_id: str, before_seq: int, count: int, floor: int = 1) -> bool:
        """Pull up to ``count`` older messages (none below ``floor``); False when there was
        nothing to ask."""
        waiters: list[asyncio.Future[None]] = []

        def step(eng: SyncEngine) -> list[sa.Action]:
            acts = eng.request_history(conversation_id, before_seq, count, floor)
            for a in acts:
                if isinstance(a, sa.PullSeqs):
                    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                    self._history_waiters[a.request_id] = fut
                    waiters.append(fut)
            return acts

        await self._feed(step)
        if waiters:
            await asyncio.wait_for(asyncio.gather(*waiters), timeout=30)
        return bool(waiters)

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
    ) -> Message:
        """Send a text to a user ID, a group ID (``group=True``) or a conversation ID.

        Returns the cached row at once (status SENDING); :class:`MessageUpdated` follows when
        the server acknowledged it (SEND_SUCCESS) or refused it (SEND_FAILED).
        """
        at = list(at_user_ids)
        if quote is not None:
            built = msgs.quote(text, msgs.message_struct(quote))  # wiring: messages (the whole quoted message)
            return await self.send(target, built, group=group)  # wiring: messages
        if at:
            content = {"text": text, "atUserList": at, "isAtSelf": False}
            return await self.send_message(target, ContentType.AT_TEXT, content, group=group, at_user_ids=at)
        return await self.send_message(target, ContentType.TEXT, {"content": text}, group=group)

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
    ) -> Message:
        """Send any content element (see docs/spec/ws-protocol.md §8 for the shapes)."""
        store = self._store()
        await self._check_peer(target, group)
        if not self._nickname and self.connected and not self._self_fetched:
            self._self_fetched = True  # the login-time sync has not stored our profile yet: ask once
            with contextlib.suppress(OpenIMError, TimeoutError):
                await asyncio.wait_for(self.users.get_user(self.user_id), 3)  # wiring: social
        body = json.dumps(content, ensure_ascii=False).encode()

        def write() -> tuple[StoredMessage, ConversationRow, int]:
            """Everything local in one hop: the row (status sending) before any network call."""
            cid, session_type, recv_id, group_id = self._resolve_target(target, group)
            me = store.user(self.user_id)
            md = sdkws_pb2.MsgData(
                sendID=self.user_id, recvID=recv_id, groupID=group_id,
                clientMsgID=new_client_msg_id(self.user_id), senderPlatformID=self.platform_id,
                senderNickname=me.nickname if me else "", senderFaceURL=me.faceURL if me else "",
                sessionType=session_type, msgFrom=MsgFrom.USER, contentType=content_type, content=body,
                createTime=now_ms(), sendTime=now_ms(), status=MsgStatus.SENDING, atUserIDList=list(at_user_ids),
            )
            md.options.update(options or {})
            md.ex = ex  # wiring: messages
            if offline_push is not None:  # wiring: messages
                md.offlinePushInfo.CopyFrom(offline_push)  # wiring: messages
            store.upsert_messages([md], cid)
            conv = record_message(store, cid, md, self.user_id)  # wiring: conversations
            row = store.message(md.clientMsgID)
            assert row is not None
            return row, conv, store.total_unread()

        async with self._lock:
            row, conv, total = await asyncio.to_thread(write)
        if row.sender_nickname:
            self._nickname = row.sender_nickname
        msg = Message.from_row(row)
        self._emit(ev.MessageReceived(msg, is_self=True))
        self._emit_conversation(conv, total)
        self._queue_send(row.client_msg_id)
        return msg

    async def _check_peer(self, target: str, group: bool) -> None:
        """Refuse a first message to a user the server does not know (a DM to nobody), saying so when
        the ID is a group's. Known users and conversations cost nothing; offline, the send queues."""
        if group or target.startswith(("sg_", "si_", "n_")):
            return
        store = self._store()
        cid = single_conversation_id(self.user_id, target)
        if await asyncio.to_thread(lambda: store.user(target) or store.conversation(cid)) is not None:
            return
        try:
            info = await self.api.user.get_users_info(user_ids=[target])
            if info.usersInfo:
                await asyncio.to_thread(store.upsert_users, info.usersInfo)
                return
            groups = await self.api.group.get_groups_info(group_ids=[target])
        except NetworkError:
            return
        except OpenIMError:
            groups = None
        if groups is not None and groups.groupInfos:
            raise ArgsError(message="ArgsError", detail=f"{target!r} is a group, not a user: send to it as a "
                            "group (group=True; `-g` on the command line)")
        raise UserNotFoundError(message="UserIDNotFoundError", detail=f"no user {target!r} on the server")

    async def send(self, target: str, message: OutgoingMessage, *, group: bool = False,  # wiring: messages
                   progress: Progress | None = None) -> Message:  # wiring: messages
        """Send a built message (:mod:`openim_sdk.messages`), uploading its local files first."""  # wiring: messages
        message = await upload_media(self.api, message, self.user_id, progress=progress)  # wiring: messages
        return await self.send_message(target, message.content_type, message.content, group=group,  # wiring: messages
                                       at_user_ids=message.at_user_ids, options=dict(message.options),  # wiring: messages
                                       offline_push=message.offline_push, ex=message.ex)  # wiring: messages

    async def retry(self, client_msg_id: str) -> Message:
        """Send a failed message again."""
        store = self._store()
        row = await asyncio.to_thread(store.message, client_msg_id)
        if row is None:
            raise LocalError(message="no such message", detail=client_msg_id)
        if row.status != MsgStatus.SEND_SUCCESS:
            await asyncio.to_thread(store.set_message_status, client_msg_id, MsgStatus.SENDING)
            self._queue_send(client_msg_id)
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

    def _queue_send(self, client_msg_id: str) -> None:
        if client_msg_id not in self._outbox_ids:
            self._outbox_ids.add(client_msg_id)
            self._outbox_order[client_msg_id] = next(self._outbox_seq)
            self._outbox.append(client_msg_id)
            self._outbox_wake.set()

    def _requeue(self, client_msg_id: str) -> None:
        """Put a send that hit a broken connection back in its place (before those typed later)."""
        pos = self._outbox_order.get(client_msg_id, 0)
        waiting = sorted([*self._outbox, client_msg_id], key=lambda c: self._outbox_order.get(c, pos))
        self._outbox.clear()
        self._outbox.extend(waiting)
        self._outbox_wake.set()

    def _unsent_ids(self) -> list[str]:
        store = self._store()
        return store.unsent_message_ids(self.user_id)

    async def _sender_loop(self) -> None:
        """Send queued messages in the order typed, whenever connected (survives outages).

        Up to ``send_window`` sends are in flight at once: the server handles one connection's
        requests in order, so the order holds. A send that meets a broken connection goes back
        into its place and leaves again after the reconnect; nothing leaves on the new connection
        until every send of the dropped one has come back (else a later message could overtake
        one whose failure was reported late)."""
        window = asyncio.Semaphore(self._send_window)
        while True:
            while not self._outbox:
                self._outbox_wake.clear()
                await self._outbox_wake.wait()
            await self._connected.wait()
            if self._send_barrier:  # sends of the dropped connection go back in their places first
                await self._in_flight_idle.wait()
                self._send_barrier = False
                continue
            await window.acquire()
            if not self._outbox or not self.connected or not self.ws.connected:
                window.release()
                if not self.ws.connected:
                    await asyncio.sleep(0.05)  # the client hears of the drop a moment later
                continue
            cmid = self._outbox.popleft()
            payload = await self._outgoing_payload(cmid)  # read in queue order: requests leave in order
            if payload is None:
                window.release()
                self._outbox_ids.discard(cmid)
                continue
            self._in_flight += 1
            self._in_flight_idle.clear()
            self._spawn(self._send_in_window(cmid, payload, window))

    async def _outgoing_payload(self, client_msg_id: str) -> bytes | None:
        row = await asyncio.to_thread(self._store().message, client_msg_id)
        if row is None or row.status == MsgStatus.SEND_SUCCESS:
            return None  # deleted meanwhile, or its numbered copy already arrived
        md = row.to_msg()
        md.status = 0
        md.sendTime = 0
        return md.SerializeToString()

    async def _send_in_window(self, cmid: str, payload: bytes, window: asyncio.Semaphore) -> None:
        try:
            if not self.ws.connected:  # never wait for the next connection: an earlier send may be
                raise NetworkError(message="not connected")  # on its way back to the queue
            await self._send_one(cmid, payload)
        except NetworkError:
            self._requeue(cmid)  # the connection dropped: send again after the reconnect
            await asyncio.sleep(0.2)
            return
        except Exception as exc:  # never lose the message or the sender loop
            log.exception("send of %s failed", cmid)
            self._emit(ev.ErrorEvent(_as_openim(exc), "send"))
            self._requeue(cmid)
            await asyncio.sleep(1.0)
            return
        finally:
            window.release()
            self._in_flight -= 1
            if not self._in_flight:
                self._in_flight_idle.set()
        self._outbox_ids.discard(cmid)
        self._outbox_order.pop(cmid, None)

    async def _send_one(self, client_msg_id: str, payload: bytes) -> None:
        store = self._store()
        try:
            resp = await self.ws.request(ReqIdentifier.SEND_MSG, payload)
        except NetworkError:
            raise
        except OpenIMError as exc:
            await asyncio.to_thread(store.set_message_status, client_msg_id, MsgStatus.SEND_FAILED)
            failed = await asyncio.to_thread(store.message, client_msg_id)
            if failed is not None:
                self._emit(ev.MessageSendFailed(Message.from_row(failed), exc))
            return
        ack = msg_pb2.SendMsgResp.FromString(resp.data)

        def settle() -> StoredMessage | None:
            current = store.message(client_msg_id)
            if current is not None and current.seq == 0:  # the push may already have numbered it
                store.merge_sent(client_msg_id, 0, ack.serverMsgID, ack.sendTime)
                current = store.message(client_msg_id)
            return current

        async with self._lock:
            sent = await asyncio.to_thread(settle)
            if self.sync is not None:
                self.sync.on_send_ack(client_msg_id, ack.serverMsgID, ack.sendTime)
        if sent is not None:
            self._report_sent(sent)

    async def send_file(
        self, target: str, path: str | os.PathLike[str], *, group: bool = False, image: bool = False,
        progress: Progress | None = None,
    ) -> Message:
        """Upload a file (or a picture, with its width and height) and send it."""  # wiring: messages
        built = msgs.image(path) if image else msgs.file(path)  # wiring: messages
        return await self.send(target, built, group=group, progress=progress)  # wiring: messages

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

    async def mark_read(self, conversation_id: str) -> None:  # wiring: conversations
        """Mark a conversation read here and on the server (which sends the read receipt)."""  # wiring: conversations
        await self.conversations_api.mark_read(conversation_id)  # wiring: conversations

    async def revoke(self, conversation_id: str, client_msg_id: str) -> None:
        """Revoke a sent message (the server notifies everyone; the row becomes a placeholder)."""
        row = await asyncio.to_thread(self._store().message, client_msg_id)
        if row is None or row.conversation_id != conversation_id:
            raise NotFoundError(message="RecordNotFoundError",
                                detail=f"no message {client_msg_id!r} in {conversation_id}")
        if row.seq == 0:
            raise LocalError(message="the message is not on the server yet", detail=client_msg_id)
        await self.api.msg.revoke_msg(conversation_id=conversation_id, seq=row.seq, user_id=self.user_id)

    async def typing(self, conversation_id: str, typing: bool = True) -> None:
        """Tell the other side you are typing (online only; never stored)."""
        cid, session_type, recv_id, group_id = await self.resolve_target(conversation_id, False)
        if session_type != SessionType.SINGLE_CHAT or not self.connected:
            return
        md = sdkws_pb2.MsgData(
            sendID=self.user_id, recvID=recv_id, clientMsgID=new_client_msg_id(self.user_id),
            senderPlatformID=self.platform_id, sessionType=session_type, msgFrom=MsgFrom.USER,
            contentType=ContentType.TYPING, createTime=now_ms(),
            content=json.dumps({"msgTips": "yes" if typing else "no"}).encode(),
        )
        md.options.update(ONLINE_ONLY_OPTIONS)
        with contextlib.suppress(OpenIMError):
            await self.ws.request(ReqIdentifier.SEND_MSG, md.SerializeToString())

    async def set_draft(self, conversation_id: str, draft: str) -> None:  # wiring: conversations
        await self.conversations_api.set_draft(conversation_id, draft)  # wiring: conversations

    def _store(self) -> LocalStore:
        if self.store is None:
            raise LocalError(message="the client is not started: use `async with OpenIMClient(...)`")
        return self.store


class EventStream:
    """An async iterator over a client's events, subscribed from the moment it is created."""

    def __init__(self, registry: list[asyncio.Queue[ev.Event]]) -> None:
        self._registry = registry
        self._queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._done = False
        registry.append(self._queue)

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ev.Event:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if isinstance(event, ev.SessionEnded):
            self.close()
        return event

    def close(self) -> None:
        self._done = True
        if self._queue in self._registry:
            self._registry.remove(self._queue)


def _as_openim(exc: BaseException) -> OpenIMError:
    if isinstance(exc, OpenIMError):
        return exc
    return LocalError(message=f"{type(exc).__name__}: {exc}")
