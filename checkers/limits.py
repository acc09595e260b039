"""Wall-clock limits for pure-Python work (sympy) in the main thread, via SIGALRM; nested limits compose.

Also the rules for the grading commands' per-answer limits (`check_limits`), kept here, free of the
grading machinery's imports, so a command line can refuse a bad option before loading anything.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from checkers.errors import SymbolicTimeout, UsageError

DEFAULT_TIME_LIMIT = 2.0  # seconds a grading worker may spend on one answer (or one line of a derivation)
DEFAULT_MEMORY_MB = 1024  # address space a grading worker may add to what it inherits
MIN_MEMORY_MB = 64  # below this a grading worker cannot even import what grading needs
MAX_TIME_LIMIT = 3600.0  # seconds per answer; more is a typo, not a plan


def check_limits(time_limit: float, memory_mb: int, workers: int | None = None) -> None:
    """UsageError (one line, naming the value) unless the limits are usable: finite positive time, real memory."""
    if not isinstance(time_limit, (int, float)) or not math.isfinite(time_limit) or time_limit <= 0:
        raise UsageError(f"--time-limit must be a positive number of seconds (got {time_limit})")
    if time_limit > MAX_TIME_LIMIT:
        raise UsageError(f"--time-limit must be at most {MAX_TIME_LIMIT:g} s per answer (got {time_limit:g})")
    if not isinstance(memory_mb, int) or memory_mb < MIN_MEMORY_MB:
        raise UsageError(f"--memory-mb must be at least {MIN_MEMORY_MB} MiB per worker (got {memory_mb})")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise UsageError(f"--workers must be at least 1 (got {workers})")


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
