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
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_PROBLEMS = 4  # problems kept warm at once (each holds `workers` forked processes)
MAX_STEPS_AT_ONCE = 2  # check-steps requests graded at once (each forks its own small pool)
MAX_CSV_AT_ONCE = 1  # CSV uploads graded at once (each uses a pool of one worker per core)


@dataclass(frozen=True)
class Limits:
    """Per-answer limits, as on the command line: seconds and extra MiB of address space per worker."""

    time_limit: float = 2.0
    memory_mb: int = 1024


class _Warm:
    """The warm pools of one problem and the queue of those free to take a request."""

    def __init__(self, problem_id: str, size: int, limits: Limits):
        from checkers.grading.isolation import GradingPool

        self.problem_id = problem_id
        self.pools = [GradingPool(problem_id, workers=1, time_limit=limits.time_limit, memory_mb=limits.memory_mb,
                                  symbolic=False, explain=False) for _ in range(size)]
        self.free: asyncio.Queue = asyncio.Queue()
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
        self._steps = asyncio.Semaphore(MAX_STEPS_AT_ONCE)
        self._csv = asyncio.Semaphore(MAX_CSV_AT_ONCE)
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
                warm.free.put_nowait(pool)
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

    async def _run(self, problem_id: str, work):
        """`work(pool)` in a thread, on a free warm pool of the problem."""
        while True:
            warm = await self._pools(problem_id)
            if not warm.closed:  # (evicted while it was starting: take the fresh one)
                break
        warm.users += 1
        try:
            pool = await warm.free.get()
            try:
                return await asyncio.to_thread(work, pool)
            finally:
                warm.free.put_nowait(pool)
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

    # -- what the API offers -----------------------------------------------------------------------
    async def grade(self, problem_id: str, answer: str, full: bool = False) -> dict:
        """The `grade --json` document of one answer; `full` adds the reading and the sympy confirmation (slower)."""
        from checkers.grading.isolation import Task
        from checkers.grading.parse import MAX_LENGTH
        from checkers.grading.result import invalid

        if len(answer) > MAX_LENGTH:  # refused before it is shipped anywhere, as the grader would refuse it
            return invalid(problem_id, answer[:200] + "…", f"the answer is {len(answer)} characters long; the limit "
                                                            f"is {MAX_LENGTH}").to_json()
        if not full:
            return await self._run(problem_id, lambda pool: pool.grade(answer))
        task = Task("checkers.serve.tasks:grade_task", (answer,), self.limits.time_limit)
        return await self._run(problem_id, lambda pool: pool.grade(task))

    async def read(self, problem_id: str, answer: str) -> dict:
        """The parse preview: {"ok", "mathml", "words"} or {"ok": false, "message"}."""
        from checkers.grading.isolation import Task
        from checkers.grading.parse import MAX_LENGTH

        if len(answer) > MAX_LENGTH:
            return {"ok": False, "message": f"the answer is {len(answer)} characters long; the limit is {MAX_LENGTH}"}
        task = Task("checkers.serve.tasks:read_task", (answer,), self.limits.time_limit)
        doc = await self._run(problem_id, lambda pool: pool.grade(task))
        if "verdict" in doc:  # the worker was stopped (time or memory): the pool reports it as an invalid grade
            return {"ok": False, "message": doc["message"].replace("grading this answer", "reading this answer")}
        return doc

    async def check_steps(self, problem_id: str, derivation: str) -> dict:
        """The `check-steps --json` report: each line and step in a killable worker under its own limits."""
        from checkers.grading.steps import check_steps_isolated

        async with self._steps:
            def work():
                return check_steps_isolated(problem_id, derivation, time_limit=self.limits.time_limit,
                                            memory_mb=self.limits.memory_mb, workers=min(2, self.workers))

            return await asyncio.to_thread(work)

    async def grade_csv(self, problem_id: str, data: bytes) -> dict:
        """Grade an uploaded `id,answer` CSV: counts, the graded CSV text and the class analysis page (HTML)."""
        from checkers.grading.bulk import grade_csv

        async with self._csv:
            def work():
                with tempfile.TemporaryDirectory(prefix="proofcheck-serve-") as tmp:
                    source, out, page = Path(tmp, "answers.csv"), Path(tmp, "graded.csv"), Path(tmp, "class.html")
                    source.write_bytes(data)
                    started = time.perf_counter()
                    summary = grade_csv(problem_id, source, out, analysis=page, workers=self.workers,
                                        time_limit=self.limits.time_limit, memory_mb=self.limits.memory_mb,
                                        progress=False)
                    return {"problem": problem_id, "total": summary.total, "counts": dict(summary.counts),
                            "internal_errors": summary.internal_errors,
                            "seconds": round(time.perf_counter() - started, 3),
                            "csv": out.read_text(encoding="utf-8"),
                            "analysis_html": page.read_text(encoding="utf-8")}

            return await asyncio.to_thread(work)

    async def close(self) -> None:
        """Stop every worker (busy ones are killed); called when the server shuts down."""
        self._closing = True
        warm, self._warm = list(self._warm.values()), OrderedDict()
        await asyncio.to_thread(lambda: self._stop(warm))
