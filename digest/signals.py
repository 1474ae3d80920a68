"""Stopping a long-running command on SIGTERM or SIGINT without deadlocking it.

A Python signal handler runs in the main thread between two bytecodes, possibly while that
thread is inside `threading.Event.wait()` holding the event's internal lock. A handler that
calls `event.set()` there waits for that same lock and never returns: the process hangs on
its first SIGTERM. (It happens when the signal arrives just as the main loop starts waiting,
which is exactly when a supervisor or a test sends it after start-up.) So the handler here
only starts a thread that sets the event; the main thread gets its lock back as soon as the
handler returns, and the thread finishes the job.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def stop_on_signals(stop: threading.Event, logger: logging.Logger, message: str) -> Iterator[None]:
    """Set `stop` on SIGTERM or SIGINT (logging `message % signal name`) while in the block.

    The previous handlers come back at the end.
    """

    def announce_and_stop(name: str) -> None:
        logger.info(message, name)
        stop.set()

    def handler(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        threading.Thread(target=announce_and_stop, args=(name,), name="stop-signal").start()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
