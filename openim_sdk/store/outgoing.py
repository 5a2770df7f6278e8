"""The send path's cache writes (issue 16): queued from the event loop, committed behind it.

- :class:`WriteBehind`: writes queued now (``LocalStore.defer``) and committed by one writer thread,
  every job queued by then in one transaction (group commit). Each job runs in its own savepoint:
  one that raises is rolled back alone and its future gets the error; the futures are settled
  only after the COMMIT (or all get the COMMIT's error). Order: the store applies what is queued
  before any other read or write (``LocalStore._write``/``_query``), so whoever reads the cache,
  from any thread, sees every write queued before the read, and writes land in the order queued.
- :class:`OutgoingMessages` (a mixin of :class:`~openim_sdk.store.local.LocalStore`): the two
  writes of a send without the general merge rules -- :meth:`~OutgoingMessages.insert_outgoing`
  (a message just composed on this device: one INSERT, nothing to merge) and
  :meth:`~OutgoingMessages.settle_sent` (the 1003 ack: one UPDATE of the row if not numbered yet).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, TypeVar

from ..protocol.constants import MsgStatus
from ..protocol.pb.sdkws import sdkws_pb2

if TYPE_CHECKING:
    from .local import LocalStore, StoredMessage

log = logging.getLogger(__name__)

T = TypeVar("T")
Job = Callable[["LocalStore"], Any]


class WriteBehind:
    """The queue of deferred writes of one store, and the thread that commits them.

    ``lock`` is the store's lock, ``transaction`` its write transaction (yields the connection;
    nested calls join it); :meth:`apply` is called with the lock held, outside any transaction."""

    def __init__(self, store: LocalStore, lock: threading.RLock,
                 transaction: Callable[[], AbstractContextManager[sqlite3.Connection]],
                 busy_wait: Callable[[bool], None]) -> None:
        self._store = store
        self._lock = lock
        self._transaction = transaction
        self._busy_wait = busy_wait  # False: a write finding the file locked fails at once; True: as configured
        self._jobs: list[tuple[Job, Future[Any]]] = []
        self._wake = threading.Condition(threading.Lock())  # guards _jobs, _closed, _thread
        self._thread: threading.Thread | None = None
        self._closed = False
        self._applying = False  # only read and written by the holder of the store's lock

    @property
    def pending(self) -> bool:
        return bool(self._jobs)

    def queue(self, job: Callable[[LocalStore], T]) -> Future[T]:
        """Queue ``job(store)``; the future resolves once its transaction is committed."""
        fut: Future[T] = Future()
        self._enqueue([(job, fut)])
        return fut

    def now_or_queue(self, job: Callable[[LocalStore], T], in_transaction: Callable[[], bool]) -> Future[T]:
        """Run ``job`` at once, on the calling thread, when that cannot block: nobody holds the store
        (its lock, or another process the file's write lock). What is queued goes first, in the
        same transaction. Else queue it (the future is then not done at return). A short write
        this way costs no thread hop (nor another thread holding the GIL while the event loop
        waits for it)."""
        fut: Future[T] = Future()
        if self._lock.acquire(blocking=False):
            try:
                if not self._applying and not in_transaction():
                    with self._wake:
                        jobs, self._jobs = self._jobs, []
                    jobs.append((job, fut))
                    self._applying = True
                    self._busy_wait(False)
                    try:
                        done = self._commit(jobs)
                    except sqlite3.OperationalError as exc:
                        if "locked" in str(exc) or "busy" in str(exc):  # another process is writing:
                            self._enqueue(jobs, first=True)  # the writer waits for it
                            return fut
                        done = self._failed(jobs, exc)
                    except Exception as exc:
                        done = self._failed(jobs, exc)
                    finally:
                        self._busy_wait(True)
                        self._applying = False
                    self._settle(done)
                    return fut
            finally:
                self._lock.release()
        self._enqueue([(job, fut)])
        return fut

    def apply(self) -> None:
        """Commit every queued job, in order, in one transaction (the caller holds the store's lock)."""
        if self._applying:
            return
        with self._wake:
            jobs, self._jobs = self._jobs, []
        if not jobs:
            return
        self._applying = True
        try:
            done = self._commit(jobs)
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch is stored
            done = self._failed(jobs, exc)
        finally:
            self._applying = False
        self._settle(done)

    def _enqueue(self, jobs: list[tuple[Job, Future[Any]]], *, first: bool = False) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError("LocalStore is closed")
            if first:  # taken from the queue by a try that could not write: back in their place
                self._jobs[:0] = jobs
            else:
                self._jobs.extend(jobs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="openim-store-writer", daemon=True)
                self._thread.start()
            self._wake.notify()

    def _commit(self, jobs: list[tuple[Job, Future[Any]]]) -> list[tuple[Future[Any], Any, BaseException | None]]:
        """Run ``jobs`` in one transaction, each in its own savepoint (one that raises is rolled back
        alone); raises what BEGIN or COMMIT raise."""
        done: list[tuple[Future[Any], Any, BaseException | None]] = []
        with self._transaction() as conn:
            for job, fut in jobs:
                conn.execute("SAVEPOINT write_behind")
                try:
                    result = job(self._store)
                except Exception as exc:  # this job only: the batch goes on
                    conn.execute("ROLLBACK TO write_behind")
                    conn.execute("RELEASE write_behind")
                    done.append((fut, None, exc))
                else:
                    conn.execute("RELEASE write_behind")
                    done.append((fut, result, None))
        return done

    @staticmethod
    def _failed(jobs: list[tuple[Job, Future[Any]]],
                exc: BaseException) -> list[tuple[Future[Any], Any, BaseException | None]]:
        log.error("cache write of %d queued jobs failed: %s", len(jobs), exc)
        return [(fut, None, exc) for _, fut in jobs]

    @staticmethod
    def _settle(done: list[tuple[Future[Any], Any, BaseException | None]]) -> None:
        """Resolve the futures, only now that the transaction is over."""
        for fut, result, error in done:
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)

    def close(self) -> None:
        """Commit what is queued and stop the thread (call before closing the connection)."""
        with self._wake:
            self._closed = True
            thread = self._thread
            self._wake.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._lock:
            self.apply()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._jobs and not self._closed:
                    self._wake.wait()
                if not self._jobs:
                    return
            with self._lock:
                self.apply()


class OutgoingMessages:
    """The send path's own writes (a mixin of LocalStore, over its ``_write`` plumbing)."""

    fts_mode: str
    _writes: WriteBehind
    _tx_depth: int
    _busy_timeout_ms: int

    @property
    def _db(self) -> sqlite3.Connection:
        raise NotImplementedError

    def defer(self, job: Callable[[LocalStore], T]) -> Future[T]:
        """Queue ``job(store)`` for the writer thread: returns at once; the future resolves after the
        COMMIT. Any later read or write, from any thread, applies the queued jobs first."""
        return self._writes.queue(job)

    def write_now_or_soon(self, job: Callable[[LocalStore], T]) -> Future[T]:
        """``job(store)`` now, on the calling thread, if that cannot block (the store and the file
        free), after what is queued, in one commit; else :meth:`defer` it. The future is done at
        return in the first case."""
        return self._writes.now_or_queue(job, lambda: self._tx_depth > 0)

    def _busy_wait(self, wait: bool) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms) if wait else 0}")

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def message(self, client_msg_id: str) -> StoredMessage | None:
        raise NotImplementedError

    @staticmethod
    def _row_tuple(cid: str, cmid: str, m: sdkws_pb2.MsgData) -> tuple[Any, ...]:
        raise NotImplementedError

    def upsert_messages(self, msgs: Iterable[sdkws_pb2.MsgData],
                        conversation_id: str | None = None) -> list[StoredMessage]:
        raise NotImplementedError

    def insert_outgoing(self, msg: sdkws_pb2.MsgData, conversation_id: str) -> StoredMessage:
        """Store a message this device just composed (a fresh clientMsgID, no seq): one INSERT and its
        full-text queue entry, the row returned without reading it back. A clientMsgID already
        cached (not expected) goes through :meth:`upsert_messages` and its merge rules."""
        from .local import _INSERT_SQL, _stored_from_values

        values = self._row_tuple(conversation_id, msg.clientMsgID, msg)
        with self._write() as conn:
            try:
                cur = conn.execute(_INSERT_SQL, values)
            except sqlite3.IntegrityError:
                cur = None
            if cur is not None:
                if self.fts_mode != "none":
                    conn.execute("INSERT OR IGNORE INTO fts_pending(id) VALUES (?)", (cur.lastrowid,))
                return _stored_from_values(values)
        self.upsert_messages([msg], conversation_id)
        row = self.message(msg.clientMsgID)
        if row is None:
            raise sqlite3.IntegrityError(f"message {msg.clientMsgID} could not be stored")
        return row

    def settle_sent(self, client_msg_id: str, server_msg_id: str, send_time: int,
                    clear_error: bool = False) -> StoredMessage | None:
        """The server accepted a message of ours (1003 ack: no seq): the row not yet numbered becomes
        sent with the server's ID and time; ``clear_error`` drops a refusal remembered from an
        earlier attempt. Returns the row when it was *not* changed (already numbered by its pushed
        copy, or gone: None either way when it was changed or is missing)."""
        with self._write() as conn:
            if clear_error:
                conn.execute("DELETE FROM send_errors WHERE client_msg_id = ?", (client_msg_id,))
            cur = conn.execute(
                "UPDATE messages SET server_msg_id = ?, send_time = ?, status = ? WHERE client_msg_id = ? AND seq = 0",
                (server_msg_id, send_time, int(MsgStatus.SEND_SUCCESS), client_msg_id))
            if cur.rowcount:
                return None
        return self.message(client_msg_id)

