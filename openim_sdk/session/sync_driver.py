"""The sync engine's adapter: runs the pure engine's actions against the connection and the cache.

:meth:`SyncDriver.feed` runs one engine step and applies its actions in order under the session
lock (so deliveries reach the cache and the events in seq order); requests the engine asks for
are sent outside the lock and feed their replies back. Deliveries become events here:

- every message the engine delivers to *this process* is shown once (``MessageReceived``), also
  when another process sharing the cache stored the row first (two ``openim`` commands on one
  profile): "shown" is remembered per process, not read from the shared cache;
- ``offline=True`` for messages pulled by the on-connect sync, False for live pushes;
- online-only messages (not kept in history) are never cached: ``OnlineOnlyMessage``;
- typing goes to :class:`~openim_sdk.session.typing.Typing`, notifications to the
  :class:`~openim_sdk.session.context.NotificationRouter`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .. import events as ev
from ..models import Message
from ..protocol.constants import ContentType, MsgOption, MsgStatus, ReqIdentifier, option_is_set
from ..protocol.conversation_id import is_notification_conversation
from ..protocol.errors import NetworkError, OpenIMError
from ..protocol.pb.msg import msg_pb2
from ..protocol.pb.sdkws import sdkws_pb2
from ..sync import actions as sa
from ..sync.engine import SyncEngine
from ..sync.pending import PendingEdits
from .context import NotificationRouter, SessionContext
from .conversations import record_message, record_messages
from .history import History
from .search_index import SearchIndexer
from .typing import Typing

if TYPE_CHECKING:
    from ..store.conversations import _ConversationRow as ConversationRow
    from ..store.local import StoredMessage

log = logging.getLogger(__name__)

Step = Callable[[SyncEngine], list[sa.Action]]

#: How many clientMsgIDs a process remembers as shown (far more than one sync window).
SHOWN_LIMIT = 50_000


class Requester(Protocol):
    async def request(self, req_identifier: int, data: bytes) -> Any: ...


def is_online_only(m: sdkws_pb2.MsgData) -> bool:
    """Sent "online only": no seq, and not kept in the history or not persisted."""
    return m.seq == 0 and not (option_is_set(m.options, MsgOption.HISTORY)
                               and option_is_set(m.options, MsgOption.PERSISTENT))


def wire_message(conversation_id: str, m: sdkws_pb2.MsgData) -> Message:
    """The public model of a message that is never cached (online only)."""
    return Message(
        client_msg_id=m.clientMsgID, conversation_id=conversation_id, send_id=m.sendID, recv_id=m.recvID,
        group_id=m.groupID, session_type=m.sessionType, content_type=m.contentType,
        content_json=m.content.decode("utf-8", "replace"), seq=m.seq, server_msg_id=m.serverMsgID,
        send_time=m.sendTime, create_time=m.createTime, status=m.status or MsgStatus.SEND_SUCCESS,
        sender_nickname=m.senderNickname, at_user_ids=list(m.atUserIDList), ex=m.ex,
    )


def _is_chat(a: sa.Deliver) -> bool:
    """A chat conversation's delivery: may share a commit with its neighbours. A notification
    conversation's is stored and dispatched alone (its handler may change what follows it)."""
    return not (a.notification or is_notification_conversation(a.conversation_id))


@dataclass(slots=True)
class _Prepared:
    action: sa.Deliver
    cid: str
    keep: list[sdkws_pb2.MsgData]
    notification: bool
    live: bool


@dataclass(slots=True)
class _Written:
    new_ids: set[str]
    show: list[Message]
    conv: ConversationRow | None


class Conversations(Protocol):
    """What the driver tells about conversations (the client, or the conversations part)."""

    def show(self, row: ConversationRow, unread_total: int) -> None: ...

    def needs_name(self, row: ConversationRow) -> None: ...


class SyncDriver:
    def __init__(
        self,
        ctx: SessionContext,
        conn: Requester,
        router: NotificationRouter,
        typing: Typing,
        history: History,
        pending: PendingEdits,
        conversations: Conversations,
        *,
        in_outbox: Callable[[str], bool],
        set_state: Callable[[ev.ConnectionState], None],
    ) -> None:
        self._ctx = ctx
        self._conn = conn
        self._router = router
        self._typing = typing
        self._history = history
        self._pending = pending
        self._convs = conversations
        self._in_outbox = in_outbox
        self._set_state = set_state
        self.engine: SyncEngine | None = None
        self.lock = asyncio.Lock()
        self._persisted_seqs: dict[str, int] = {}
        self._shown: dict[str, str] = {}  # clientMsgID -> conversationID, shown by this process
        self._sent_reported: dict[str, None] = {}
        self._syncing = False
        self._sync_delivered = 0
        self._sync_conversations: set[str] = set()
        self._persist: tuple[sa.Action, dict[str, int]] | None = None
        self.search_index = SearchIndexer(ctx)

    # ---------------------------------------------------------------- per-process "shown"

    def mark_shown(self, client_msg_id: str, conversation_id: str) -> None:
        self._shown[client_msg_id] = conversation_id
        while len(self._shown) > SHOWN_LIMIT:
            self._shown.pop(next(iter(self._shown)))

    def _forget_shown(self, conversation_id: str) -> None:
        for cmid in [c for c, cid in self._shown.items() if cid == conversation_id]:
            del self._shown[cmid]

    # ---------------------------------------------------------------- engine steps

    async def feed(self, step: Step) -> None:
        """Run one engine step and apply its actions, in order, under the session lock."""
        requests: list[sa.Action] = []
        async with self.lock:
            if self.engine is None:
                return
            actions = step(self.engine)
            if not actions:
                return
            seqs = self.engine.synced_seqs()
            changed = {c: s for c, s in seqs.items() if self._persisted_seqs.get(c) != s}
            # the new synced seqs are written with the step's last message write (same commit, after
            # every message of the step is stored: a crash never leaves a seq marked without its message)
            writes = [a for a in actions if isinstance(a, sa.Deliver | sa.Merge)]
            self._persist = (writes[-1], changed) if changed and writes and self._ctx.started else None
            await self._apply(actions, requests)
            if self._persist is not None:  # the last write did not take them (e.g. nothing was kept)
                self._persist = None
                await self._ctx.run(self._ctx.store.set_max_seqs, changed)
            elif changed and self._ctx.started and not writes:
                await self._ctx.run(self._ctx.store.set_max_seqs, changed)
            if changed and self._ctx.started:
                self._persisted_seqs.update(changed)
        for req in requests:
            self._ctx.spawn(self._send_request(req), "sync request")

    def ask(self, step: Step) -> None:
        """Run a step that only asks the server for messages (``request_history``) at once, not
        behind the deliveries waiting for the lock: it changes nothing in the cache or the events,
        so it needs no place in their order (the engine itself is never mid-step here). This is
        what lets history pulls overlap with the writes of the pages before them."""
        if self.engine is None:
            return
        for a in step(self.engine):
            if isinstance(a, sa.Pull | sa.PullSeqs):
                self._ctx.spawn(self._send_request(a), "sync request")
            elif isinstance(a, sa.HistoryEnd):
                self._history.reached_bottom(a.conversation_id)
            else:
                raise AssertionError(f"not a request-only step: {a!r}")

    def _persist_with(self, action: sa.Action) -> dict[str, int] | None:
        """The synced seqs to write in ``action``'s write, if it is the step's last one."""
        if self._persist is not None and self._persist[0] is action:
            seqs = self._persist[1]
            self._persist = None
            return seqs
        return None

    async def _apply(self, actions: list[sa.Action], requests: list[sa.Action]) -> None:
        store = self._ctx.store
        run = self._ctx.run
        batch: list[sa.Deliver] = []  # consecutive chat deliveries: one commit (see _deliver)
        for i, a in enumerate(actions):
            if isinstance(a, sa.Deliver):
                batch.append(a)
                following = actions[i + 1] if i + 1 < len(actions) else None
                if _is_chat(a) and isinstance(following, sa.Deliver) and _is_chat(following):
                    continue
                await self._deliver(batch)
                batch = []
            elif isinstance(a, sa.RequestNewestSeqs | sa.RequestReadSeqs | sa.Pull | sa.PullSeqs):
                requests.append(a)
            elif isinstance(a, sa.Merge):
                await self._merge(a)
            elif isinstance(a, sa.ReadSeqs):
                await self._read_seqs(a)
            elif isinstance(a, sa.Resync):  # confirmed by the engine: the server's history went back
                log.warning("server history of %s went back (%d -> %d): dropping local copies above it",
                            a.conversation_id, a.local_max, a.server_max)
                await run(store.rewind_conversation, a.conversation_id, a.server_max)
                self._forget_shown(a.conversation_id)
                self._ctx.emit(ev.ServerHistoryRewound(a.conversation_id, a.local_max, a.server_max))
            elif isinstance(a, sa.GapGiveUp):
                log.warning("gave up seqs %s of %s (%s)", a.seqs, a.conversation_id, a.reason)
            elif isinstance(a, sa.HistoryEnd):
                self._history.reached_bottom(a.conversation_id)
            elif isinstance(a, sa.SyncStarted):
                self._syncing, self._sync_delivered = True, 0
                self._sync_conversations.clear()
                self._set_state(ev.ConnectionState.SYNCING)
                self._ctx.emit(ev.SyncStarted())
            elif isinstance(a, sa.SyncFinished):
                self._syncing = False
                self._set_state(ev.ConnectionState.CONNECTED)
                self._ctx.emit(ev.SyncFinished(self._sync_delivered))
            elif isinstance(a, sa.SyncFailed):
                self._syncing = False
                self._ctx.emit(ev.ErrorEvent(NetworkError(message="newest-seq request failed", detail=a.reason),
                                             "sync"))
                self._ctx.emit(ev.SyncFailed(a.reason))
                self._set_state(ev.ConnectionState.CONNECTED)

    async def _read_seqs(self, a: sa.ReadSeqs) -> None:
        """The server's read state: applied, and every chat conversation it names reported with the
        new unread total, in one thread hop (not two per conversation: on connect it names them all)."""
        store = self._ctx.store
        entries = [(e.conversation_id, e.has_read_seq, e.max_seq) for e in a.entries]

        def apply() -> tuple[list[ConversationRow], int]:
            store.set_read_seqs(entries)
            rows = [store.conversation(cid) for cid, _, _ in entries if not is_notification_conversation(cid)]
            return [r for r in rows if r is not None], store.total_unread()

        rows, total = await self._ctx.run(apply)
        for row in rows:
            self._convs.show(row, total)

    async def _merge(self, a: sa.Merge) -> None:
        """Our own message's numbered copy: the row gets its seq, the conversation follows (and the
        step's synced seqs when this is its last write), in one commit and one thread hop."""
        store, me = self._ctx.store, self._ctx.user_id
        persist = self._persist_with(a)

        def merge() -> tuple[StoredMessage | None, ConversationRow, int]:
            with store.transaction():
                store.upsert_messages([a.message], a.conversation_id)
                store.merge_sent(a.client_msg_id, a.seq, a.server_msg_id, a.send_time)
                conv = record_message(store, a.conversation_id, a.message, me)
                if persist:
                    store.set_max_seqs(persist)
            return store.message(a.client_msg_id), conv, store.total_unread()

        row, conv, total = await self._ctx.run(merge)
        if row is not None:
            self.report_sent(Message.from_row(row))
        if not is_notification_conversation(conv.conversation_id):
            self._convs.show(conv, total)

    async def _send_request(self, req: sa.Action) -> None:
        uid = self._ctx.user_id
        if isinstance(req, sa.RequestNewestSeqs):
            try:
                resp = await self._conn.request(ReqIdentifier.GET_NEWEST_SEQ, req.to_pb(uid).SerializeToString())
                newest = sdkws_pb2.GetMaxSeqResp.FromString(resp.data)
            except OpenIMError as exc:
                reason, rid0 = str(exc), req.request_id
                await self.feed(lambda eng: eng.on_newest_seqs_failed(reason, rid0))
                return
            await self.feed(functools.partial(SyncEngine.on_newest_seqs, resp=newest, request_id=req.request_id))
        elif isinstance(req, sa.RequestReadSeqs):
            resp = await self._conn.request(ReqIdentifier.GET_CONV_MAX_READ_SEQ, req.to_pb(uid).SerializeToString())
            reads = msg_pb2.GetConversationsHasReadAndMaxSeqResp.FromString(resp.data)
            await self.feed(lambda eng: eng.on_read_seqs(reads))
        elif isinstance(req, sa.Pull | sa.PullSeqs):
            rid = req.request_id
            try:
                if isinstance(req, sa.Pull):
                    r = await self._conn.request(ReqIdentifier.PULL_MSG_BY_RANGE, req.to_pb(uid).SerializeToString())
                    reply: Any = sdkws_pb2.PullMessageBySeqsResp.FromString(r.data)
                else:
                    r = await self._conn.request(ReqIdentifier.PULL_MSG_BY_SEQ_LIST,
                                                 req.to_pb(uid).SerializeToString())
                    reply = msg_pb2.GetSeqMessageResp.FromString(r.data)
            except (OpenIMError, ValueError) as exc:
                log.info("pull %d failed: %s", rid, exc)
                await self.feed(lambda eng: eng.on_pull_failed(rid))
            else:
                await self.feed(lambda eng: eng.on_pull_reply(rid, reply))
            finally:
                self._history.pull_done(rid)

    async def detect_server_reset(self, push: sdkws_pb2.PushMessages) -> None:
        """A pushed message at a seq we already hold, under another clientMsgID, means the server's
        history was replaced (e.g. its database was reset): drop the stale copy and resync, instead
        of discarding the push as already seen."""
        engine = self.engine
        if engine is None or not self._ctx.started:
            return
        store = self._ctx.store
        for cid, pulled in push.msgs.items():
            state = engine.conversation_state(cid)
            if state is None:
                continue
            for m in pulled.Msgs:
                if not 0 < m.seq <= state.synced:
                    continue
                held = await self._ctx.run(store.messages, cid, m.seq + 1, 1)
                if held and held[-1].seq == m.seq and held[-1].client_msg_id != m.clientMsgID:
                    log.warning("server history of %s differs at seq %d: resyncing", cid, m.seq)
                    await self.feed(functools.partial(SyncEngine.on_server_reset, conversation_id=cid,
                                                      server_max=m.seq - 1))
                    break

    # ---------------------------------------------------------------- deliveries

    def _prepare(self, a: sa.Deliver) -> _Prepared | None:
        """The loop-side part of a delivery: typing and online-only messages go out at once (never
        cached); edits that came before their message are applied; None when nothing is left to store."""
        me = self._ctx.user_id
        cid = a.conversation_id
        notification = a.notification or is_notification_conversation(cid)
        keep: list[sdkws_pb2.MsgData] = []
        for m in a.messages:
            if m.contentType == ContentType.TYPING:
                self._typing.on_message(cid, m)
            elif not notification and is_online_only(m):
                if m.sendID != me or m.clientMsgID not in self._shown:
                    self._ctx.emit(ev.OnlineOnlyMessage(wire_message(cid, m)))
            else:
                keep.append(m)
        keep = self._pending.apply(cid, keep) if self._pending else keep
        if not keep:
            return None
        live = not notification and a.source != "history"  # history: the app asked through messages()
        return _Prepared(a, cid, keep, notification, live)

    async def _deliver(self, batch: list[sa.Deliver]) -> None:
        """Deliveries of consecutive chat conversations (or one notification conversation's): stored
        in one commit and one thread hop, then announced in order."""
        prepared = [p for p in map(self._prepare, batch) if p is not None]
        if not prepared:
            return
        store, me, shown = self._ctx.store, self._ctx.user_id, self._shown
        persist = None
        for a in batch:
            persist = persist or self._persist_with(a)

        def write() -> tuple[list[_Written], int]:
            """Store the messages and apply the new ones to their conversations (with the step's
            synced seqs, when its last write is here) in one commit; then read back every message
            this process has not shown yet."""
            stored: list[tuple[set[str], list[StoredMessage], ConversationRow | None]] = []
            with store.transaction():
                if persist:
                    store.set_max_seqs(persist)
                for p in prepared:
                    if not p.live:  # nobody reads these rows back here: skip building them
                        stored.append((store.store_page(p.keep, p.cid), [], None))
                        continue
                    rows = store.upsert_messages(p.keep, p.cid)
                    by_id = {m.clientMsgID: m for m in p.keep}
                    conv = record_messages(store, p.cid, [by_id.get(r.client_msg_id) or r.to_msg() for r in rows],
                                           me) if rows else None
                    stored.append(({r.client_msg_id for r in rows}, rows, conv))
            out: list[_Written] = []
            for p, (new_ids, rows, conv) in zip(prepared, stored, strict=True):
                show: list[Message] = []
                if p.live:
                    fresh = {r.client_msg_id: r for r in rows}
                    for m in p.keep:
                        if m.clientMsgID in shown:
                            continue
                        found = fresh.get(m.clientMsgID) or store.message(m.clientMsgID)
                        if found is None or found.status == MsgStatus.DELETED or found.conversation_id != p.cid:
                            continue
                        show.append(Message.from_row(found))
                    if show and conv is None:
                        conv = store.conversation(p.cid)  # another process applied them: show its state
                out.append(_Written(new_ids, show, conv))
            total = store.total_unread() if any(w.conv is not None for w in out) else 0
            return out, total

        written, total = await self._ctx.run(write)
        for p, w in zip(prepared, written, strict=True):
            await self._announce(p, w, total)

    async def _announce(self, p: _Prepared, w: _Written, total: int) -> None:
        """The loop-side end of a delivery: notifications to their handlers, our own sends settled,
        and the events (new messages, sync progress, the conversation)."""
        me, cid = self._ctx.user_id, p.cid
        if w.new_ids:
            self.search_index.wrote()
        if p.notification:
            for m in p.keep:
                await self._router.dispatch(m)
            return
        await self._settle_own_sends(p.keep, w.new_ids)
        if not p.live:
            return
        offline = p.action.source == "pull"
        for msg in w.show:
            self.mark_shown(msg.client_msg_id, cid)
            self._ctx.emit(ev.MessageReceived(msg, is_self=msg.send_id == me, offline=offline))
        if w.show and self._syncing:
            self._sync_delivered += len(w.show)
            self._sync_conversations.add(cid)
            self._ctx.emit(ev.SyncProgress(self._sync_delivered, len(self._sync_conversations)))
        elif not self._syncing:
            self._sync_delivered += len(w.show)
        if w.conv is not None:
            if not w.conv.show_name:
                self._convs.needs_name(w.conv)
            self._convs.show(w.conv, total)

    def report_sent(self, msg: Message) -> None:
        """MessageSent once per message (at the ack, or at its numbered copy if that came first);
        later changes of the row (the seq arriving) are plain MessageUpdated."""
        if msg.client_msg_id in self._sent_reported:
            self._ctx.emit(ev.MessageUpdated(msg))
            return
        self._sent_reported[msg.client_msg_id] = None
        while len(self._sent_reported) > 10_000:
            self._sent_reported.pop(next(iter(self._sent_reported)))
        self._ctx.emit(ev.MessageSent(msg))

    async def _settle_own_sends(self, msgs: list[sdkws_pb2.MsgData], new_ids: set[str]) -> None:
        """A queued send of ours came back numbered before its ack (lost when the connection or
        the server died after the commit): the row is now sent, and the outbox skips it; say so."""
        store = self._ctx.store
        for m in msgs:
            cmid = m.clientMsgID
            if m.sendID != self._ctx.user_id or m.seq <= 0 or cmid in new_ids or not self._in_outbox(cmid):
                continue
            row = await self._ctx.run(store.message, cmid)
            if row is not None and row.status == MsgStatus.SEND_SUCCESS:
                self.report_sent(Message.from_row(row))

