"""Wall-clock limits for pure-Python work (sympy) in the main thread, via SIGALRM."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from checkers.errors import SymbolicTimeout


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise SymbolicTimeout if the body runs longer than `seconds`.

    Outside the main thread (where signals cannot be used) the body runs without a limit; callers
    that handle untrusted input use a killable worker process instead (see checkers.grading).
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(signum, frame):
        raise SymbolicTimeout(f"{what} ran past its limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
