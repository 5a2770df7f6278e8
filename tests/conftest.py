"""Shared test configuration.

A watchdog for hung tests: a test still running after ``OPENIM_TEST_WATCHDOG`` seconds (default
300) gets a signal; if an event loop is running, the stack of every asyncio task is printed to
stderr and the tasks are cancelled (the test fails there, showing where it waited), else the
threads' stacks are printed. A hang then fails with its place instead of stalling the run.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

WATCHDOG_SECONDS = float(os.environ.get("OPENIM_TEST_WATCHDOG", "300"))


def _on_watchdog(signum: int, frame: FrameType | None) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        print(f"\n=== watchdog: a test is still running after {WATCHDOG_SECONDS:g}s (no event loop):",
              file=sys.stderr)
        faulthandler.dump_traceback(file=sys.stderr)
        return
    loop.call_soon_threadsafe(_dump_and_cancel, loop)  # threadsafe: wakes the loop from its select


def _dump_and_cancel(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    print(f"\n=== watchdog: a test is still running after {WATCHDOG_SECONDS:g}s; {len(tasks)} asyncio tasks:",
          file=sys.stderr)
    for task in tasks:
        task.print_stack(file=sys.stderr)
    for task in tasks:
        task.cancel()


@pytest.fixture(autouse=True)
def _hang_watchdog() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGUSR2"):
        yield
        return
    previous = signal.signal(signal.SIGUSR2, _on_watchdog)
    main = threading.main_thread().ident
    assert main is not None
    timer = threading.Timer(WATCHDOG_SECONDS, signal.pthread_kill, (main, signal.SIGUSR2))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        signal.signal(signal.SIGUSR2, previous)
