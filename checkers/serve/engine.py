"""The server's grading engine: warm worker pools per problem, shared by concurrent requests, under the CLI's limits.

Each problem in use gets `workers` single-worker `GradingPool`s (checkers.grading.isolation): the
problem is prepared once in the server process (parser, instances, reference and misconception
values) and forked workers inherit it warm. A request borrows one free pool of its problem, runs
its answer there in a thread (the pool blocks on its worker's pipe, not on the event loop) and
gives the pool back, so `workers` answers of one problem are graded at once, and an answer that
hangs or explodes holds only its own worker until the pool kills and replaces it (the time limit
plus a second): the other requests go on in the other workers. At most `max_problems` problems are
kept warm; the least recently used one is closed when another is needed. Grading, the parse
preview and the full document all run in the workers, never on student text in this process.

No client can hold every worker. With two workers or more, one of a problem's pools is a fast lane:
its time limit is FAST_LANE_LIMIT, it takes any answer not known to be slow, and an answer that
uses up that limit there is graded again by the full-limit pools (and remembered as slow, like any
answer that took SLOW_SECONDS anywhere); known-slow answers wait for the full-limit pools only. So
clients repeating slow answers share the other workers among themselves, and the fast lane keeps
answering everyone else. Waiting requests are served one client at a time (the waiting client
served least recently goes first, clients told apart by address), for answers, derivations and
uploads alike.

Work stops when its request is cancelled (the client left, or the request ran out of its budget:
checkers.serve.app cancels the coroutine): an answer's worker is killed and replaced, and a
derivation or a CSV upload, which runs in a forked job process with its own grading pool, is ended
with its whole pool.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import multiprocessing as mp
import os
import signal
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial

from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT

DEFAULT_MAX_PROBLEMS = 4  # problems kept warm at once (each holds `workers` forked processes)
MAX_STEPS_AT_ONCE = 2  # check-steps requests graded at once (each forks its own small pool)
MAX_CSV_AT_ONCE = 1  # CSV uploads graded at once (each uses a pool of one worker per core)
FAST_LANE_LIMIT = 0.5  # seconds: the time limit of the pool kept for answers not known to be slow
SLOW_SECONDS = 0.5  # an answer that took this long is slow: from then on it waits for the full-limit pools
KNOWN_SLOW = 10_000  # slow answers remembered (the least recently seen is forgotten first)
CLIENTS_REMEMBERED = 10_000  # clients whose last turn the fair queues remember
RUNNING_JOBS: set = set()  # job processes (derivations, uploads) now running: killed when the server stops


@dataclass(frozen=True)
class Limits:
    """Per-answer limits, as on the command line: seconds and extra MiB of address space per worker."""

    time_limit: float = DEFAULT_TIME_LIMIT
    memory_mb: int = DEFAULT_MEMORY_MB


class FairQueue:
    """Slots (pools) lent to requests one client at a time: when a slot comes back it goes to the waiting request
    whose client was served least recently (then the one waiting longest) among those that may use it."""

    def __init__(self):
        self.free: list = []  # in preference order
        self.waiting: dict[asyncio.Future, tuple] = {}  # future -> (client, arrival, accepts)
        self.last_turn: OrderedDict = OrderedDict()  # client -> tick of its last turn
        self.ticks = itertools.count()

    def put(self, slot) -> None:
        """Give a slot back (or add one): to the fairest waiting request that accepts it, else to the free list."""
        chosen = min(((self.last_turn.get(client, -1), arrival, future)
                      for future, (client, arrival, accepts) in self.waiting.items()
                      if accepts(slot) and not future.done()), default=None, key=lambda t: t[:2])
        if chosen is None:
            self.free.append(slot)
            return
        future = chosen[2]
        self._turn(self.waiting.pop(future)[0])
        future.set_result(slot)

    async def get(self, client, accepts=lambda slot: True):
        """A slot this request `accepts`, waiting for its turn if none is free; cancellation leaves the queue whole."""
        for slot in self.free:
            if accepts(slot):
                self.free.remove(slot)
                self._turn(client)
                return slot
        future = asyncio.get_running_loop().create_future()
        self.waiting[future] = (client, next(self.ticks), accepts)
        try:
            return await future
        except asyncio.CancelledError:
            self.waiting.pop(future, None)
            if future.done() and not future.cancelled():  # handed a slot just as the request was cancelled
                self.put(future.result())
            raise

    def _turn(self, client) -> None:
        self.last_turn[client] = next(self.ticks)
        self.last_turn.move_to_end(client)
        while len(self.last_turn) > CLIENTS_REMEMBERED:
            self.last_turn.popitem(last=False)


async def finish_in_thread(function, on_cancel):
    """`function()` in a thread; if the awaiting request is cancelled, `on_cancel()` (which must make the function
    return soon, e.g. by killing the process it waits on), wait for the thread, and re-raise the cancellation."""
    thread = asyncio.ensure_future(asyncio.to_thread(function))
    try:
        return await asyncio.shield(thread)
    except asyncio.CancelledError:
        on_cancel()
        await asyncio.wait([thread])
        if not thread.cancelled():
            thread.exception()  # retrieved: what a stopped job raised is of no interest to a client that left
        raise


def _job_main(conn, parent_pid: int, memory_mb: int, job) -> None:
    """A forked job process: run job() and send back ("ok", result) or ("raised", exception)."""
    from checkers.grading.isolation import die_with_parent, limit_memory, release_inherited_sockets

    die_with_parent(parent_pid)
    release_inherited_sockets(keep=conn.fileno())  # the server's connections close when the server closes them
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    limit_memory(memory_mb)
    try:
        outcome = ("ok", job())
    except BaseException as exc:  # sent back and raised in the server, as if the job had run there
        outcome = ("raised", exc)
    try:
        conn.send(outcome)
    except Exception as exc:  # an exception that does not pickle
        conn.send(("raised", RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]} ({exc})")))
    conn.close()


async def run_job(job, memory_mb: int):
    """job() in a forked job process (which inherits the server's warm imports); its result, or what it
    raised. Cancelling the caller kills the job, and with it every grading worker it started (they die with it)."""
    ctx = mp.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    # Not a daemon: a job starts grading workers of its own. Forked from the event loop's thread, which lives as long
    # as the server (a job is killed by the kernel when the thread that forked it ends: see die_with_parent).
    process = ctx.Process(target=_job_main, args=(sender, os.getpid(), memory_mb, job))
    process.start()
    sender.close()
    RUNNING_JOBS.add(process)

    def receive():
        try:
            return receiver.recv()
        except (EOFError, OSError):
            process.join(timeout=5)
            return ("raised", RuntimeError(f"the job process ended without an answer (exit code {process.exitcode}, "
                                           f"e.g. the memory limit)"))

    try:
        kind, value = await finish_in_thread(receive, process.kill)
    finally:
        if process.is_alive():
            process.kill()
        await asyncio.to_thread(process.join)
        RUNNING_JOBS.discard(process)
        receiver.close()
    if kind == "raised":
        raise value
    return value


class _Warm:
    """The warm pools of one problem (the fast lane last) and the fair queue of those free to take a request."""

    def __init__(self, problem_id: str, size: int, limits: Limits):
        from checkers.grading.isolation import GradingPool

        self.problem_id = problem_id
        fast = 1 if size >= 2 else 0  # with one worker there is nothing to keep back
        self.pools = [GradingPool(problem_id, workers=1, time_limit=limits.time_limit, memory_mb=limits.memory_mb,
                                  symbolic=False, explain=False) for _ in range(size - fast)]
        self.fast = [GradingPool(problem_id, workers=1, time_limit=min(FAST_LANE_LIMIT, limits.time_limit),
                                 memory_mb=limits.memory_mb, symbolic=False, explain=False) for _ in range(fast)]
        self.pools += self.fast  # (full-limit pools first: a request takes the first free one it may use)
        self.free = FairQueue()
        self.ready = asyncio.Event()
        self.failed: BaseException | None = None
        self.closed = False  # evicted: requests that still hold this object go to a fresh one
        self.users = 0  # requests between borrowing a pool and giving it back

    def start_all(self) -> None:
        """Prepare the problem and fork every worker (in a thread: preparing takes a second or more).

        The preview of the problem's own reference answer (trusted text, not a student's) is printed
        here once first, so the workers inherit the printer's imports and sympy's caches warm."""
        import sympy as sp

        from checkers.serve.tasks import read_task

        try:  # (every pool resolved the same problem object when it was made)
            read_task(self.problem_id, sp.latex(self.pools[0].problem.reference_expr), limit=0)
        except Exception:  # only a warm-up: a reference sympy cannot print as LaTeX just leaves the printer cold
            pass
        for pool in self.pools:
            pool.start()

    def close_all(self) -> None:
        for pool in self.pools:
            pool.close()


class Engine:
    """Grades answers for the HTTP handlers; every public coroutine returns a JSON-able dict."""

    def __init__(self, workers: int | None = None, limits: Limits = Limits(), max_problems: int = DEFAULT_MAX_PROBLEMS):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.limits = limits
        self.max_problems = max(1, max_problems)
        self._warm: OrderedDict[str, _Warm] = OrderedDict()
        self._forking = threading.Lock()  # one pool starts (prepares and forks) at a time
        self._steps = FairQueue()  # turns: MAX_STEPS_AT_ONCE derivations at once
        self._csv = FairQueue()  # turns: MAX_CSV_AT_ONCE uploads at once
        for turn in range(MAX_STEPS_AT_ONCE):
            self._steps.put(turn)
        for turn in range(MAX_CSV_AT_ONCE):
            self._csv.put(turn)
        self._slow: OrderedDict = OrderedDict()  # (problem, kind, answer) of answers known to be slow
        self._catalog: list[dict] | None = None
        self._catalog_lock = asyncio.Lock()
        self._ids: list[str] | None = None
        self._ids_lock = asyncio.Lock()
        self._closing = False

    # -- the problems ------------------------------------------------------------------------------
    def load_catalog(self) -> list[dict]:
        """Every gradeable problem for the page: id, title, source, statement (MathML), symbols, dims (once)."""
        if self._catalog is None:
            from checkers.grading.catalog import problems
            from checkers.serve.render import describe_problem

            self._catalog = [describe_problem(p) for p in problems().values()]
        return self._catalog

    async def catalog(self) -> list[dict]:
        """The catalog, loaded in a thread on first use (the event loop keeps serving meanwhile)."""
        async with self._catalog_lock:
            if self._catalog is None:
                await asyncio.to_thread(self.load_catalog)
        return self._catalog

    async def known_ids(self) -> list[str]:
        """The gradeable problems' ids, from the proof packages' static index (no proof module imported while it is
        fresh), read once in a thread."""
        async with self._ids_lock:
            if self._ids is None:
                from checkers.grading.catalog import read_index

                entries, _ = await asyncio.to_thread(read_index)
                self._ids = [e["id"] for e in entries]
        return self._ids

    async def problem_id(self, problem_id) -> str:
        """The id if it is a gradeable problem; UsageError (unknown problem, naming the known ones) otherwise."""
        from checkers.errors import UsageError

        known = await self.known_ids()
        if not isinstance(problem_id, str) or problem_id not in known:
            raise UsageError(f"unknown problem {problem_id!r}; gradeable problems: {', '.join(known)}")
        return problem_id

    # -- warm pools --------------------------------------------------------------------------------
    async def _pools(self, problem_id: str) -> _Warm:
        warm = self._warm.get(problem_id)
        if warm is None:
            warm = _Warm(problem_id, self.workers, self.limits)
            self._warm[problem_id] = warm
            asyncio.get_running_loop().create_task(self._start(warm))
            self._evict()
        self._warm.move_to_end(problem_id)
        await warm.ready.wait()
        if warm.failed is not None:
            if self._warm.get(problem_id) is warm:
                del self._warm[problem_id]
            raise warm.failed
        return warm

    async def _start(self, warm: _Warm) -> None:
        def start():
            with self._forking:
                if not self._closing:
                    warm.start_all()

        try:
            await asyncio.to_thread(start)
            for pool in warm.pools:
                warm.free.put(pool)
        except BaseException as exc:  # surfaced to every request waiting for this problem
            warm.failed = exc
        warm.ready.set()

    def _evict(self) -> None:
        while len(self._warm) > self.max_problems:
            _, old = self._warm.popitem(last=False)
            asyncio.get_running_loop().create_task(self._close_when_idle(old))

    async def _close_when_idle(self, warm: _Warm) -> None:
        warm.closed = True
        await warm.ready.wait()
        while warm.users:  # requests already queued on it finish first
            await asyncio.sleep(0.05)
        await asyncio.to_thread(lambda: self._stop([warm]))

    def _stop(self, warm: list[_Warm]) -> None:
        with self._forking:  # a pool still starting finishes first, then is stopped here
            for w in warm:
                w.close_all()

    async def _run(self, problem_id: str, client, kind: str, answer: str, work) -> dict:
        """`work(pool)` in a thread, on a free warm pool of the problem, in the client's turn. An answer known to be
        slow waits for a full-limit pool; one that uses up the fast lane's limit is run again on a full-limit pool."""
        key = (problem_id, kind, hashlib.sha256(answer.encode("utf-8")).digest())  # (grade, full, read differ)
        full_limit_only = key in self._slow
        while True:
            doc, fast, seconds = await self._run_once(problem_id, client, work, full_limit_only)
            if seconds >= SLOW_SECONDS:
                self._slow[key] = True
                self._slow.move_to_end(key)
                while len(self._slow) > KNOWN_SLOW:
                    self._slow.popitem(last=False)
            if not (fast and seconds >= FAST_LANE_LIMIT):
                return doc
            full_limit_only = True

    async def _run_once(self, problem_id: str, client, work, full_limit_only: bool) -> tuple[dict, bool, float]:
        while True:
            warm = await self._pools(problem_id)
            if not warm.closed:  # (evicted while it was starting: take the fresh one)
                break
        warm.users += 1
        try:
            accepts = (lambda pool: pool not in warm.fast) if full_limit_only else (lambda pool: True)
            pool = await warm.free.get(client, accepts)
            try:
                started = time.monotonic()
                doc = await finish_in_thread(lambda: work(pool), pool.cancel)
                return doc, pool in warm.fast, time.monotonic() - started
            finally:
                warm.free.put(pool)
        finally:
            warm.users -= 1

    async def warm_up(self, problem_ids: list[str]) -> None:
        """Start the pools of these problems (so the first answers are fast too), then load the catalog."""
        def limits():
            import torch

            torch.set_num_threads(1)  # answers are tiny batches; threads only make forking workers unsafe
            from checkers.grading.isolation import check_limits

            check_limits(self.limits.time_limit, self.limits.memory_mb, self.workers)

        await asyncio.to_thread(limits)
        for pid in problem_ids[: self.max_problems]:
            await self._pools(await self.problem_id(pid))
        await self.catalog()

    # -- what the API offers (`client`: who asks, for the fair queues; cancelling a call stops its work) --------
    async def grade(self, problem_id: str, answer: str, full: bool = False, client=None) -> dict:
        """The `grade --json` document of one answer; `full` adds the reading and the sympy confirmation (slower)."""
        from checkers.grading.failures import stop_cause, stop_message
        from checkers.grading.isolation import Done, Task
        from checkers.grading.parse import MAX_LENGTH
        from checkers.grading.result import invalid
        from checkers.serve.tasks import grade_task

        if len(answer) > MAX_LENGTH:  # refused before it is shipped anywhere, as the grader would refuse it
            return invalid(problem_id, answer[:200] + "…", f"the answer is {len(answer)} characters long; the limit "
                                                            f"is {MAX_LENGTH}", cause="answer too long").to_json()
        if not full:
            return await self._run(problem_id, client, "grade", answer, lambda pool: pool.grade(answer))

        def full_grade(pool) -> dict:
            outcome = pool.call(Task(grade_task, (answer,), pool.time_limit))
            if isinstance(outcome, Done):
                return outcome.value
            return invalid(problem_id, answer, stop_message(outcome, "grading this answer"),
                           cause=stop_cause(outcome)).to_json()

        return await self._run(problem_id, client, "full", answer, full_grade)

    async def read(self, problem_id: str, answer: str, client=None) -> dict:
        """The parse preview: {"ok", "mathml", "words"} or {"ok": false, "message"}."""
        from checkers.grading.failures import stop_message
        from checkers.grading.isolation import Done, Task
        from checkers.grading.parse import MAX_LENGTH
        from checkers.serve.tasks import read_task

        if len(answer) > MAX_LENGTH:
            return {"ok": False, "message": f"the answer is {len(answer)} characters long; the limit is {MAX_LENGTH}"}

        def preview(pool) -> dict:
            outcome = pool.call(Task(read_task, (answer,), pool.time_limit))
            if isinstance(outcome, Done):
                return outcome.value
            return {"ok": False, "message": stop_message(outcome, "reading this answer")}  # time, memory or a crash

        return await self._run(problem_id, client, "read", answer, preview)

    async def check_steps(self, problem_id: str, derivation: str, client=None) -> dict:
        """The `check-steps --json` report: each line and step in a killable worker under its own limits (the whole
        derivation in a job process, ended if the request is cancelled)."""
        from checkers.grading.steps import check_steps_isolated

        return await self._job(self._steps, client, partial(
            check_steps_isolated, problem_id, derivation, time_limit=self.limits.time_limit,
            memory_mb=self.limits.memory_mb, workers=min(2, self.workers)))

    async def grade_csv(self, problem_id: str, data: bytes, client=None) -> dict:
        """Grade an uploaded `id,answer` CSV: counts, the graded CSV text and the class analysis page (HTML), in a job
        process (ended, with its workers, if the request is cancelled)."""
        from checkers.serve.tasks import grade_upload

        return await self._job(self._csv, client, partial(
            grade_upload, problem_id, data, workers=self.workers, time_limit=self.limits.time_limit,
            memory_mb=self.limits.memory_mb))

    async def _job(self, turns: FairQueue, client, job) -> dict:
        turn = await turns.get(client)
        try:
            return await run_job(job, self.limits.memory_mb)
        finally:
            turns.put(turn)

    async def close(self) -> None:
        """Stop every worker (busy ones are killed); called when the server shuts down."""
        self._closing = True
        for process in list(RUNNING_JOBS):
            process.kill()
        warm, self._warm = list(self._warm.values()), OrderedDict()
        await asyncio.to_thread(lambda: self._stop(warm))
