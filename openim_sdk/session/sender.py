"""Sending, session side: the send API behind ``OpenIMClient.send_*`` and the outbox's port.

- :func:`compose` (pure, the clock's reading passed in) builds the wire message a send stores
  first; :func:`target_of` (pure) says where a user ID, a group ID or a conversation ID goes.
- :class:`SendApi` is what the client's ``send_text`` / ``send_message`` / ``send`` / ``retry`` /
  ``wait_sent`` / ``typing`` delegate to: everything local in one hop (the row, status sending, and its
  conversation, before any network call), the events, then the message is queued in the
  :class:`~openim_sdk.session.outbox.OutboxDriver` (the one outbox); ``wait=True`` waits for the
  server's answer and raises a refusal as its own error.
- :class:`MessageSender` is the :class:`~openim_sdk.session.outbox.SendPort` the outbox driver
  runs against: reads queued messages from the cache, sends them over the connection and settles
  the answers in the cache and the events. A refusal keeps the server's error:
  ``MessageSendFailed.error`` (``code``, ``reason``) and :meth:`MessageSender.error_of` (what
  ``wait_sent`` raises).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from .. import events as ev
from .. import messages as msgs
from ..messages import OutgoingMessage
from ..messages.upload import upload_media
from ..models import Conversation, Message
from ..protocol.constants import ContentType, MsgFrom, MsgStatus, ReqIdentifier, SessionType
from ..protocol.conversation_id import group_conversation_id, single_conversation_id
from ..protocol.errors import (
    ArgsError,
    LocalError,
    MessageError,
    NetworkError,
    OpenIMError,
    UserNotFoundError,
    error_for_code,
)
from ..protocol.pb.msg import msg_pb2
from ..protocol.pb.sdkws import sdkws_pb2
from ..rest.files import Progress
from .context import SessionContext
from .conversations import Conversations, record_message
from .emitter import as_openim
from .outbox import OutboxDriver
from .sync_driver import SyncDriver
from .typing import Typing

if TYPE_CHECKING:
    from ..store.conversations import _ConversationRow
    from ..store.local import LocalStore, StoredMessage

log = logging.getLogger(__name__)

ERRORS_KEPT = 1_000
TARGETS_KEPT = 10_000
WIRE_WAIT = 0.05  # s: a wait=True send's row is written once its frame is out, or after this at most
COMPOSED_KEPT = 10_000  # sends composed here and not yet acknowledged (older ones: read from the cache)

#: (conversationID, sessionType, recvID, groupID): where a send goes.
Target = tuple[str, int, str, str]


def new_client_msg_id(user_id: str) -> str:
    """32 hex chars, like the official SDK (md5 of time, sender and randomness)."""
    seed = f"{time.time_ns()}{user_id}{secrets.token_hex(8)}"
    return hashlib.md5(seed.encode()).hexdigest()


def now_ms() -> int:
    return int(time.time() * 1000)


def target_of(me: str, target: str, group: bool, known: _ConversationRow | None) -> Target:
    """Where a send to ``target`` goes: a known conversation (``known``: the cached row whose ID is
    ``target``, if any), a group ID (``group``, or an ``sg_`` conversation ID) or a user ID."""
    if known is not None and (known.user_id or known.group_id):
        if known.group_id:
            return known.conversation_id, SessionType.READ_GROUP_CHAT, "", known.group_id
        return known.conversation_id, known.conversation_type or SessionType.SINGLE_CHAT, known.user_id, ""
    if group:
        return group_conversation_id(target), SessionType.READ_GROUP_CHAT, "", target
    if target.startswith("sg_"):
        return target, SessionType.READ_GROUP_CHAT, "", target[3:]
    return single_conversation_id(me, target), SessionType.SINGLE_CHAT, target, ""


def compose(me: str, platform_id: int, target: Target, content_type: int, content: bytes, *,
            client_msg_id: str, now_ms: int, sender: sdkws_pb2.UserInfo | None = None,
            at_user_ids: Iterable[str] = (), options: dict[str, bool] | None = None,
            offline_push: sdkws_pb2.OfflinePushInfo | None = None, ex: str = "") -> sdkws_pb2.MsgData:
    """The wire message a send stores (status sending) before it goes out: our name and face from
    ``sender`` (our cached profile), create and send time ``now_ms``. Pure."""
    _cid, session_type, recv_id, group_id = target
    md = sdkws_pb2.MsgData(
        sendID=me, recvID=recv_id, groupID=group_id, clientMsgID=client_msg_id, senderPlatformID=platform_id,
        senderNickname=sender.nickname if sender else "", senderFaceURL=sender.faceURL if sender else "",
        sessionType=session_type, msgFrom=MsgFrom.USER, contentType=content_type, content=content,
        createTime=now_ms, sendTime=now_ms, status=MsgStatus.SENDING, atUserIDList=list(at_user_ids), ex=ex,
    )
    md.options.update(options or {})
    if offline_push is not None:
        md.offlinePushInfo.CopyFrom(offline_push)
    return md


class Connection(Protocol):
    @property
    def connected(self) -> bool: ...

    async def request(self, req_identifier: int, data: bytes) -> Any: ...


class MessageSender:
    def __init__(self, ctx: SessionContext, conn: Connection, sync: SyncDriver,
                 session_connected: Callable[[], bool]) -> None:
        self._ctx = ctx
        self._conn = conn
        self._sync = sync
        self._session_connected = session_connected
        self._errors: dict[str, OpenIMError] = {}
        self._stored: set[str] = set()  # refusals also kept in the cache (cleared once sent)
        # payloads of messages queued while connected, handed to the outbox without reading the
        # cache again; dropped when the connection goes (what waits offline is read from the cache,
        # where a delete meanwhile is seen)
        self._fresh: dict[str, bytes] = {}
        self._settled: dict[str, Message] = {}  # the last messages acknowledged, for wait_sent
        self._composed: dict[str, asyncio.Future[Message]] = {}  # sends of this process, as stored
        self._wire_waiters: dict[str, asyncio.Future[None]] = {}

    def remember(self, md: sdkws_pb2.MsgData) -> None:
        """A message just stored (status sending) and about to be queued: keep what goes on the wire."""
        if self.can_send:
            self._fresh[md.clientMsgID] = self._wire(md)
            while len(self._fresh) > ERRORS_KEPT:
                self._fresh.pop(next(iter(self._fresh)))

    def settled(self, client_msg_id: str) -> Message | None:
        """The message as acknowledged by this process's last answer (None: not kept)."""
        return self._settled.pop(client_msg_id, None)

    @staticmethod
    def _wire(md: sdkws_pb2.MsgData) -> bytes:
        out = sdkws_pb2.MsgData()
        out.CopyFrom(md)
        out.status = 0
        out.sendTime = 0
        return out.SerializeToString()

    def restore(self, refusals: Iterable[tuple[str, int, str, str]]) -> None:
        """Refusals remembered by the cache (an earlier run): ``error_of`` answers for them too."""
        for cmid, code, message, detail in refusals:
            self._errors.setdefault(cmid, error_for_code(code, message, detail))
            self._stored.add(cmid)

    def error_of(self, client_msg_id: str) -> OpenIMError | None:
        """Why the server refused this message (this process's last attempt), if it did."""
        return self._errors.get(client_msg_id)

    @property
    def can_send(self) -> bool:
        return self._session_connected() and self._conn.connected

    async def payload(self, client_msg_id: str) -> bytes | None:
        if not self.can_send:
            self._fresh.clear()
        fresh = self._fresh.pop(client_msg_id, None)
        if fresh is not None:
            return fresh
        await self._row_written(client_msg_id)  # a wait=True send is queued before its row is
        row = await self._ctx.run(self._ctx.store.message, client_msg_id)
        if row is None or row.status == MsgStatus.SEND_SUCCESS:
            return None  # deleted meanwhile, or its numbered copy already arrived
        return self._wire(row.to_msg())

    def on_wire(self, client_msg_id: str) -> asyncio.Future[None]:
        """Resolves when the message's frame is handed to the connection (its transmit starts)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._wire_waiters[client_msg_id] = fut
        fut.add_done_callback(lambda done: self._wire_waiters.pop(client_msg_id, None)
                              if self._wire_waiters.get(client_msg_id) is done else None)  # (given up)
        return fut

    async def transmit(self, client_msg_id: str, payload: bytes) -> bytes:
        waiter = self._wire_waiters.pop(client_msg_id, None)
        if waiter is not None and not waiter.done():  # its waiter runs once this task has written
            waiter.set_result(None)  # the frame and waits for the reply (request's first suspension)
        self._errors.pop(client_msg_id, None)
        if not self._conn.connected:  # never wait for the next connection: an earlier send may be
            raise NetworkError(message="not connected")  # on its way back to the queue
        resp = await self._conn.request(ReqIdentifier.SEND_MSG, payload)
        return bytes(resp.data)

    async def _row_written(self, client_msg_id: str, forget: bool = False) -> Message | None:
        """A send composed by this process: wait until its row is committed (a wait=True send is
        queued, and may be answered, before that) and return it as stored; None when it was not
        composed here or its write failed (its sender was told: read the cache). ``forget``: its
        answer is being settled, it is not needed any more."""
        written = self._composed.pop(client_msg_id, None) if forget else self._composed.get(client_msg_id)
        if written is None:
            return None
        try:
            return await asyncio.shield(written)  # one waiter cancelled (close) leaves it to the others
        except asyncio.CancelledError:
            raise
        except Exception:
            return None

    def composed(self, client_msg_id: str, written: asyncio.Future[Message]) -> None:
        """A send composed by this process: ``written`` resolves to its row as stored (status sending)
        once committed and announced, so its ack is settled without a cache read (:meth:`accepted`)."""
        self._composed[client_msg_id] = written
        while len(self._composed) > COMPOSED_KEPT:
            self._composed.pop(next(iter(self._composed)))

    async def accepted(self, client_msg_id: str, reply: bytes) -> None:
        ack = msg_pb2.SendMsgResp.FromString(reply)
        stored = client_msg_id in self._stored
        self._stored.discard(client_msg_id)
        local = await self._row_written(client_msg_id, forget=True)
        if local is None:
            await self._accepted_from_cache(client_msg_id, ack, stored)
            return
        # the message as the ack makes it; the cache follows behind (the next read or write of the
        # cache, from any thread, applies it first; a crash before its commit leaves the row
        # "sending": it is sent again at the next start and the server, de-duplicating by
        # clientMsgID, answers with the same message)
        sent = dataclasses.replace(local, status=MsgStatus.SEND_SUCCESS, server_msg_id=ack.serverMsgID,
                                   send_time=ack.sendTime)
        server_id, send_time = ack.serverMsgID, ack.sendTime
        settled = self._ctx.store.write_now_or_soon(
            lambda s: s.settle_sent(client_msg_id, server_id, send_time, stored))
        settled.add_done_callback(functools.partial(self._after_settle, asyncio.get_running_loop()))
        if self._sync.engine is not None:
            self._sync.engine.on_send_ack(client_msg_id, server_id, send_time)
        self._keep_settled(sent)
        self._sync.report_sent(sent)

    def _after_settle(self, loop: asyncio.AbstractEventLoop, done: Future[StoredMessage | None]) -> None:
        """(The writer thread.) The numbered copy came first and the ack changed nothing: say what
        the row is (MessageUpdated), as the ack's report carried no seq."""
        try:
            numbered = done.result()
        except Exception:
            log.exception("storing a send's ack failed (the message is sent again at the next start)")
            return
        if numbered is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: the session is over
                loop.call_soon_threadsafe(self._sync.report_sent, Message.from_row(numbered))

    def _keep_settled(self, sent: Message) -> None:
        self._settled[sent.client_msg_id] = sent
        while len(self._settled) > ERRORS_KEPT:
            self._settled.pop(next(iter(self._settled)))

    async def _accepted_from_cache(self, client_msg_id: str, ack: msg_pb2.SendMsgResp, stored: bool) -> None:
        """The ack of a message this process did not compose (queued at start, from the cache)."""
        store = self._ctx.store

        def settle() -> Message | None:
            if stored:
                store.clear_send_error(client_msg_id)
            current = store.message(client_msg_id)
            if current is not None and current.seq == 0:  # the push may already have numbered it
                store.merge_sent(client_msg_id, 0, ack.serverMsgID, ack.sendTime)
                current = store.message(client_msg_id)
            return Message.from_row(current) if current is not None else None

        async with self._sync.lock:
            sent = await self._ctx.run(settle)
            if self._sync.engine is not None:
                self._sync.engine.on_send_ack(client_msg_id, ack.serverMsgID, ack.sendTime)
        if sent is not None:
            self._keep_settled(sent)
            self._sync.report_sent(sent)

    async def refused(self, client_msg_id: str, error: BaseException) -> None:
        await self._row_written(client_msg_id, forget=True)  # marked failed once it exists
        err = as_openim(error)
        self._errors[client_msg_id] = err
        while len(self._errors) > ERRORS_KEPT:
            self._errors.pop(next(iter(self._errors)))
        store = self._ctx.store
        now = self._ctx.now_ms()

        def fail() -> StoredMessage | None:
            with store.transaction():
                store.set_message_status(client_msg_id, MsgStatus.SEND_FAILED)
                store.set_send_error(client_msg_id, err.code, err.message, err.detail, now)
            return store.message(client_msg_id)

        failed = await self._ctx.run(fail)
        self._stored.add(client_msg_id)
        log.info("send of %s refused: %s", client_msg_id, err)
        if failed is not None:
            self._ctx.emit(ev.MessageSendFailed(Message.from_row(failed), err))

    async def retrying(self, client_msg_id: str, error: BaseException) -> None:
        if not isinstance(error, OpenIMError):  # a local surprise: say so, the message is kept
            log.error("send of %s failed", client_msg_id, exc_info=error)
            self._ctx.emit(ev.ErrorEvent(as_openim(error), "send"))
        else:
            log.info("send of %s will be retried: %s", client_msg_id, error)


class SendApi:
    """The send API (see the module docstring); ``nickname`` is ours as last seen (login-time
    sync, a profile change, or the name our last send carried)."""

    def __init__(self, ctx: SessionContext, *, platform_id: int, sync: SyncDriver, outbox: OutboxDriver,
                 sender: MessageSender, conversations: Conversations, typing: Typing, conn: Connection,
                 connected: Callable[[], bool], fetch_self: Callable[[], Awaitable[Any]]) -> None:
        self._ctx = ctx
        self._typing = typing
        self._conn = conn
        self._platform_id = platform_id
        self._sync = sync
        self._outbox = outbox
        self._sender = sender
        self._conversations = conversations
        self._connected = connected
        self._fetch_self = fetch_self
        self._self_fetched = False
        self._known_peers: set[str] = set()
        self._order = asyncio.Lock()  # FIFO: sends are stored and queued in the order they were called
        self._targets: dict[tuple[str, bool], Target] = {}  # (target, group) -> where it goes
        self._profile: sdkws_pb2.UserInfo | None = None  # ours, as the cache had it (None: read it again)
        self._nickname = ""

    @property
    def nickname(self) -> str:
        return self._nickname

    @nickname.setter
    def nickname(self, value: str) -> None:
        """Ours as just learnt (the login-time sync, a profile change): the profile is read again."""
        self._profile = None
        self._nickname = value

    def target(self, target: str, group: bool) -> Target:
        """:func:`target_of` over the cache (blocking)."""
        return target_of(self._ctx.user_id, target, group, self._ctx.store.conversation(target))

    async def wait_sent(self, client_msg_id: str, timeout: float | None = None) -> Message:
        error = await asyncio.wait_for(self._outbox.outcome(client_msg_id), timeout)
        if error is None:
            sent = self._sender.settled(client_msg_id)
            if sent is not None:
                return sent
        row = await self._ctx.run(self._ctx.store.message, client_msg_id)
        if row is None:
            raise LocalError(message="no such message", detail=client_msg_id)
        if error is None and row.status == MsgStatus.SEND_FAILED:
            error = self._sender.error_of(client_msg_id) or MessageError(
                message="the server refused the message", detail=client_msg_id)
        if error is not None:
            raise as_openim(error)
        return Message.from_row(row)

    async def send_text(self, target: str, text: str, *, group: bool = False, at_user_ids: Iterable[str] = (),
                        quote: Message | None = None, wait: bool = False) -> Message:
        at = list(at_user_ids)
        if quote is not None:
            sent = await self.send(target, msgs.quote(text, msgs.message_struct(quote)), group=group)
            return await self.wait_sent(sent.client_msg_id) if wait else sent
        if at:
            content = {"text": text, "atUserList": at, "isAtSelf": False}
            return await self.send_message(target, ContentType.AT_TEXT, content, group=group, at_user_ids=at,
                                           wait=wait)
        return await self.send_message(target, ContentType.TEXT, {"content": text}, group=group, wait=wait)

    async def send_custom(self, target: str, data: str, *, description: str = "", extension: str = "",
                          group: bool = False) -> Message:
        content = {"data": data, "description": description, "extension": extension}
        return await self.send_message(target, ContentType.CUSTOM, content, group=group)

    async def send_file(self, target: str, path: str | os.PathLike[str], *, group: bool = False,
                        image: bool = False, progress: Progress | None = None) -> Message:
        built = msgs.image(path) if image else msgs.file(path)
        return await self.send(target, built, group=group, progress=progress)

    async def send(self, target: str, message: OutgoingMessage, *, group: bool = False,
                   progress: Progress | None = None) -> Message:
        message = await upload_media(self._ctx.rest, message, self._ctx.user_id, progress=progress)
        return await self.send_message(target, message.content_type, message.content, group=group,
                                       at_user_ids=message.at_user_ids, options=dict(message.options),
                                       offline_push=message.offline_push, ex=message.ex)

    async def send_message(self, target: str, content_type: int, content: dict[str, Any], *, group: bool = False,
                           at_user_ids: Iterable[str] = (), options: dict[str, bool] | None = None,
                           offline_push: sdkws_pb2.OfflinePushInfo | None = None, ex: str = "",
                           wait: bool = False) -> Message:
        async with self._order:  # calls made one after the other are stored and queued in that order,
            md, cid = await self._compose(  # even when the first waits on the network (peer check)
                target, content_type, content, group=group, at_user_ids=at_user_ids, options=options,
                offline_push=offline_push, ex=ex)
            cmid = md.clientMsgID
            written: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
            self._sender.remember(md)
            self._sender.composed(cmid, written)
            self._sync.mark_shown(cmid, cid)
            if wait:  # the frame first, then the row while the server works (stored before this
                self._outbox.queue(cmid)  # returns; the answer is settled only once it is written)
                if self._outbox.sends_now(cmid):
                    on_wire = self._sender.on_wire(cmid)
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(WIRE_WAIT):
                            await on_wire
                self._store(md, cid, written)
            else:  # stored before it is queued: a crash once this returns loses nothing
                self._store(md, cid, written)
                await written
                self._outbox.queue(cmid)
        msg = await written
        if wait:
            return await self.wait_sent(msg.client_msg_id)
        return msg

    async def _compose(self, target: str, content_type: int, content: dict[str, Any], *, group: bool,
                       at_user_ids: Iterable[str], options: dict[str, bool] | None,
                       offline_push: sdkws_pb2.OfflinePushInfo | None, ex: str) -> tuple[sdkws_pb2.MsgData, str]:
        """The wire message of a send, on the loop: where it goes and our profile come from what
        this object remembers (read from the cache once, in one hop, when it does not know them)."""
        ctx = self._ctx
        store, me = ctx.store, ctx.user_id
        await self._check_peer(target, group)
        if not self.nickname and self._connected() and not self._self_fetched:
            self._self_fetched = True  # the login-time sync has not stored our profile yet: ask once
            with contextlib.suppress(OpenIMError, TimeoutError):
                await asyncio.wait_for(self._fetch_self(), 3)
        body = json.dumps(content, ensure_ascii=False).encode()
        key = (target, group)
        cached, profile = self._targets.get(key), self._profile
        if cached is None or profile is None:
            def read() -> tuple[Target, sdkws_pb2.UserInfo | None, bool]:
                known = store.conversation(target)
                return target_of(me, target, group, known), store.user(me), known is not None

            where, profile, known = await ctx.run(read)
            if known or not target.startswith(("si_", "sn_", "n_")):  # no later row can change it
                self._targets[key] = where
                while len(self._targets) > TARGETS_KEPT:
                    self._targets.pop(next(iter(self._targets)))
            self._profile = profile
        else:
            where = cached
        md = compose(me, self._platform_id, where, content_type, body, client_msg_id=new_client_msg_id(me),
                     now_ms=ctx.now_ms(), sender=profile, at_user_ids=at_user_ids, options=options,
                     offline_push=offline_push, ex=ex)
        return md, where[0]

    def _store(self, md: sdkws_pb2.MsgData, cid: str, written: asyncio.Future[Message]) -> None:
        """The row (status sending) and its conversation, one job: written here and now when the
        cache is free, else by its writer thread. ``written`` resolves (or fails with the write's
        error) once committed, after the events (MessageReceived, the conversation) are out."""
        ctx, me = self._ctx, self._ctx.user_id
        loop = asyncio.get_running_loop()

        def write(store: LocalStore) -> tuple[StoredMessage, _ConversationRow, int]:
            row = store.insert_outgoing(md, cid)
            conv = record_message(store, cid, md, me)
            return row, conv, store.total_unread()

        def committed(done: Future[tuple[StoredMessage, _ConversationRow, int]]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
                loop.call_soon_threadsafe(self._announce, done, written)

        done = ctx.store.write_now_or_soon(write)
        if done.done():  # written here and now (the store was free)
            self._announce(done, written)
        else:
            done.add_done_callback(committed)

    def _announce(self, done: Future[tuple[StoredMessage, _ConversationRow, int]],
                  written: asyncio.Future[Message]) -> None:
        """(The loop, once the row is committed.) The events of a new send, then whoever waits on it."""
        try:
            row, conv, total = done.result()
        except Exception as exc:
            written.set_exception(exc)
            written.exception()  # retrieved: the sender raises it, the ack's settling reads the cache
            return
        msg = Message.from_row(row)
        if msg.sender_nickname:
            self._nickname = msg.sender_nickname  # (what the cached profile said: nothing to read again)
        self._ctx.emit(ev.MessageReceived(msg, is_self=True))
        self._conversations.publish([Conversation.from_row(conv)], total)
        written.set_result(msg)

    async def _check_peer(self, target: str, group: bool) -> None:
        """Refuse a first message to a user the server does not know (a DM to nobody), saying so when
        the ID is a group's. Known users and conversations cost nothing; offline, the send queues."""
        if group or target.startswith(("sg_", "si_", "n_")) or target in self._known_peers:
            return
        store, rest = self._ctx.store, self._ctx.rest
        cid = single_conversation_id(self._ctx.user_id, target)
        if await self._ctx.run(lambda: store.user(target) or store.conversation(cid)) is not None:
            self._known_peers.add(target)  # users are never deleted: no need to look again
            return
        try:
            info = await rest.user.get_users_info(user_ids=[target])
            if info.usersInfo:
                await self._ctx.run(store.upsert_users, info.usersInfo)
                return
            groups = await rest.group.get_groups_info(group_ids=[target])
        except NetworkError:
            return
        except OpenIMError:
            groups = None
        if groups is not None and groups.groupInfos:
            raise ArgsError(message="ArgsError", detail=f"{target!r} is a group, not a user: send to it as a "
                            "group (group=True; `-g` on the command line)")
        raise UserNotFoundError(message="UserIDNotFoundError", detail=f"no user {target!r} on the server")

    async def typing(self, conversation_id: str, typing: bool) -> None:
        """The online-only typing message of a single chat (never stored, never queued: dropped
        offline, a refusal ignored)."""
        _cid, session_type, recv_id, _gid = await self._ctx.run(self.target, conversation_id, False)
        if session_type != SessionType.SINGLE_CHAT or not self._connected():
            return
        md = self._typing.message(recv_id, typing, client_msg_id=new_client_msg_id(self._ctx.user_id),
                                  platform_id=self._platform_id)
        with contextlib.suppress(OpenIMError):
            await self._conn.request(ReqIdentifier.SEND_MSG, md.SerializeToString())

    async def retry(self, client_msg_id: str) -> Message:
        store = self._ctx.store
        row = await self._ctx.run(store.message, client_msg_id)
        if row is None:
            raise LocalError(message="no such message", detail=client_msg_id)
        if row.status != MsgStatus.SEND_SUCCESS:
            await self._ctx.run(store.set_message_status, client_msg_id, MsgStatus.SENDING)
            self._outbox.queue(client_msg_id)
            row = await self._ctx.run(store.message, client_msg_id) or row
            self._ctx.emit(ev.MessageUpdated(Message.from_row(row)))
        return Message.from_row(row)
