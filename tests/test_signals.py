"""A stop signal that arrives while the main thread is inside Event.wait() must not hang it."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from digest.signals import stop_on_signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_arriving_while_the_event_lock_is_held_still_stops(sig, caplog) -> None:
    stop = threading.Event()
    previous = signal.getsignal(sig)
    with caplog.at_level(logging.INFO), stop_on_signals(stop, logging.getLogger("t"), "%s seen"):
        # Event.wait() holds this lock for a moment on every call; a signal handled in that
        # moment used to call stop.set(), which waits for the same lock, forever.
        with stop._cond:  # the private lock is the point of this test
            os.kill(os.getpid(), sig)  # the handler runs here, in this thread, lock held
        assert stop.wait(timeout=5)
    assert f"{sig.name} seen" in caplog.text
    assert signal.getsignal(sig) is previous  # the previous handler is back
