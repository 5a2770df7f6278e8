"""Scheduled clean-up, as upstream's cron task (internal/tools/cron, config openim-crontask.yml):

- **destructed messages** (cron/user_msg.go -> conversation.go ClearUserConversationMsg): for each
  conversation record with ``isMsgDestruct`` and ``msgDestructTime`` (seconds) whose last run is
  that long ago, the owner's ``minSeq`` moves past the messages older than ``msgDestructTime``
  (they are gone for that user only); ``latestMsgDestructTime`` records the run, and the owner gets
  a 1300 when their ``minSeq`` moved;
- **chat records** older than ``retain_chat_records_days`` (cron/msg.go -> DestructMsgs): deleted,
  and the conversation's global min seq moves past them;
- **files** older than ``file_expire_days`` in the upstream object groups (cron/s3.go ->
  third DeleteOutdatedData): the object records go, and a blob no record uses any more.

Upstream runs at a cron time (``0 2 * * *``); here every ``cleanup_interval`` seconds (0 = off).
Time comes from ``clock`` and waiting from ``sleep``, both passed in, so tests drive it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openim_sdk.protocol.pb.conversation import conversation_pb2

from .repos.conversations import all_conversations, update_conversation_data
from .repos.messages import last_seq_sent_by, messages_sent_before
from .storage import bump_version

if TYPE_CHECKING:
    from .app import ServerCore

log = logging.getLogger("server_stub.cleanup")

DAY_MS = 24 * 3600 * 1000
#: Object groups the file clean-up deletes (upstream openim-crontask.yml deleteObjectType).
DELETE_OBJECT_GROUPS = ("msg-picture", "msg-file", "msg-voice", "msg-video", "msg-video-snapshot", "sdklog")


@dataclass
class CleanupReport:
    destructed: int = 0  # conversation records whose minSeq moved
    deleted_messages: int = 0
    deleted_objects: int = 0


class Cleanup:
    def __init__(self, core: ServerCore, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.core = core
        self.clock = clock
        self.sleep = sleep
        self._task: asyncio.Task[None] | None = None
        self.last: CleanupReport | None = None  # the report of the latest scheduled round

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # -- scheduling -----------------------------------------------------------------

    def start(self) -> None:
        if self.core.config.cleanup_interval > 0 and self._task is None:
            self._task = asyncio.create_task(self.run_forever(), name="cleanup")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_forever(self, rounds: int | None = None) -> None:
        """Wait an interval, clean, repeat (``rounds`` times, or for ever); a failing round is logged."""
        done = 0
        while rounds is None or done < rounds:
            await self.sleep(self.core.config.cleanup_interval)
            try:
                self.last = await self.run_once()
            except Exception:  # noqa: BLE001 - the schedule goes on
                log.exception("clean-up failed", extra={"operationID": ""})
            done += 1

    async def run_once(self) -> CleanupReport:
        now = self.now_ms()
        op = f"cron_{os.getpid()}_{now}"
        report = CleanupReport()
        report.destructed = await self.destruct(now, op)
        cfg = self.core.config
        if cfg.retain_chat_records_days > 0:
            report.deleted_messages = await self.delete_messages(now - cfg.retain_chat_records_days * DAY_MS)
        if cfg.file_expire_days > 0:
            report.deleted_objects = await self.delete_files(now - cfg.file_expire_days * DAY_MS)
        log.info("clean-up: %s", report, extra={"operationID": op})
        return report

    # -- the three tasks ------------------------------------------------------------

    async def destruct(self, now: int, operation_id: str) -> int:
        from .services.conversation_state import conversation_changed

        def op(conn: Any) -> list[tuple[str, str]]:
            moved = []
            for owner, cid, data in all_conversations(conn):
                conv = conversation_pb2.Conversation.FromString(data)
                if not conv.isMsgDestruct or conv.msgDestructTime <= 0:
                    continue
                if conv.latestMsgDestructTime + conv.msgDestructTime * 1000 >= now:
                    continue
                last = last_seq_sent_by(conn, cid, now - conv.msgDestructTime * 1000)
                conv.latestMsgDestructTime = now
                if last and last + 1 > conv.minSeq:
                    conv.minSeq = last + 1
                    moved.append((owner, cid))
                update_conversation_data(conn, owner, cid, conv.SerializeToString())
            for owner, cid in moved:
                bump_version(conn, "conversation", owner, [cid], 3)
            return moved

        moved = await self.core.storage.run(op)
        for owner, cid in moved:
            await conversation_changed(self.core, owner, [cid], operation_id)
        return len(moved)

    async def delete_messages(self, before_ms: int) -> int:
        old = await self.core.storage.run(lambda conn: messages_sent_before(conn, before_ms))
        if old.conversation_ids:
            await self.core.storage.delete_before(old.conversation_ids, before_ms)
        return old.count

    async def delete_files(self, before_ms: int) -> int:
        from .services.third import blob_path

        expired = await self.core.storage.delete_objects_before(before_ms, DELETE_OBJECT_GROUPS)
        for h in expired.unused_hashes:
            p = blob_path(self.core, h)
            if p is not None:
                with contextlib.suppress(OSError):
                    p.unlink()
        return expired.deleted
