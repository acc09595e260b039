"""Wall-clock limits for pure-Python work (sympy) in the main thread, via SIGALRM; nested limits compose."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from checkers.errors import SymbolicTimeout


@contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise SymbolicTimeout if the body runs longer than `seconds`.

    Nested limits compose: an inner limit never outlives the outer one, and on exit the outer
    limit is re-armed with what is left of it (firing at once if that is already spent). Outside the
    main thread (where signals cannot be used) the body runs without a limit; callers that handle
    untrusted input use a killable worker process instead (see checkers.grading).
    """
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_remaining, _ = signal.getitimer(signal.ITIMER_REAL)
    started = time.monotonic()

    def on_alarm(signum, frame):
        raise SymbolicTimeout(f"{what} ran past its limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    own = seconds if not outer_remaining else min(seconds, outer_remaining)
    signal.setitimer(signal.ITIMER_REAL, own)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_remaining:
            left = outer_remaining - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))
