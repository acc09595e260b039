"""Killable grading workers: forked processes with a memory limit, a per-answer deadline, and respawn on failure.

The parent prepares everything once (parser, instances, reference and misconception values) and forks
long-lived workers that inherit it, so a worker starts warm in milliseconds. Each worker grades one
answer at a time (with the next one already waiting in its pipe) under a soft wall-clock limit (SIGALRM inside grade_in_process) and an address-space
limit (resource.RLIMIT_AS, set in the worker); the parent enforces a hard deadline a little later and
kills and replaces a worker that overruns or dies, recording that answer as invalid with the reason.
Other answers are unaffected. Workers ignore SIGINT, so Ctrl-C reaches only the parent.
"""

from __future__ import annotations

import faulthandler
import gc
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.connection import wait

from checkers.grading.catalog import get_problem
from checkers.grading.grader import DEFAULT_TIME_LIMIT, grade_in_process
from checkers.grading.problem import Problem
from checkers.grading.result import invalid

DEFAULT_MEMORY_MB = 1024  # address space a worker may add to what it inherits
HARD_GRACE = 1.0  # seconds past the soft limit before the parent kills a worker
QUEUE_DEPTH = 2  # answers handed to a worker at once (the next one waits in its pipe)


def prepare(problem: Problem) -> None:
    """Build the parser, draw the instances and evaluate the reference and misconceptions, before forking."""
    from checkers.grading.feedback import _misconception_values
    from checkers.grading.grammar import parser
    from checkers.grading.instances import instances_for

    parser()
    parser(positions=True)
    _misconception_values(instances_for(problem))
    # Grade the reference as sympy prints it in LaTeX once, so forked workers inherit warm sympy caches and
    # evaluation memos for the subexpressions most answers share.
    import sympy as sp

    grade_in_process(problem, sp.latex(problem.reference_expr), symbolic=False, explain=False)


def _vm_bytes() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _limit_memory(extra_mb: int) -> None:
    import resource

    if extra_mb <= 0:
        return
    current = _vm_bytes()
    if current:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = current + extra_mb * 2 ** 20
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _worker_main(conn, problem_id: str, options: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = open(os.devnull, "w")
    sys.stdout = sys.stderr = devnull  # never touch a stream lock the parent may have held at fork time
    faulthandler.disable()  # a crash is reported by the parent as an invalid answer, not as a traceback dump
    import torch

    torch.set_num_threads(1)
    _limit_memory(options["memory_mb"])
    task = options.get("task", "grade")
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        key, payload = message
        if task == "steps":
            from checkers.grading.steps import check_steps_in_process

            doc = check_steps_in_process(problem_id, payload, limit=options["time_limit"],
                                         symbolic=options["symbolic"])
        else:
            doc = grade_in_process(problem_id, payload, limit=options["time_limit"], symbolic=options["symbolic"],
                                   explain=options["explain"]).to_json()
        try:
            conn.send((key, doc))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, ctx, problem_id: str, options: dict):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, problem_id, options), daemon=True)
        self.process.start()
        child.close()
        self.queue: deque = deque()  # (key, answer) sent and not yet answered; the head is being graded
        self.deadline = 0.0  # when the head must be done

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                self.process.kill()
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


class GradingPool:
    """A pool of forked grading workers for one problem; `map` yields (key, result JSON) as answers finish."""

    def __init__(self, problem: str | Problem, *, workers: int | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
                 memory_mb: int = DEFAULT_MEMORY_MB, symbolic: bool = False, explain: bool = False,
                 task: str = "grade", hard_limit: float | None = None):
        self.problem = get_problem(problem) if isinstance(problem, str) else problem
        self.size = max(1, workers or os.cpu_count() or 1)
        self.time_limit = time_limit
        self.hard_limit = time_limit + HARD_GRACE if hard_limit is None else hard_limit
        self.options = {"time_limit": time_limit, "memory_mb": memory_mb, "symbolic": symbolic, "explain": explain,
                        "task": task}
        self.ctx = mp.get_context("fork")
        self.workers: list[_Worker] = []
        self.restarts = 0

    def __enter__(self) -> GradingPool:
        prepare(self.problem)
        # Freeze what exists now out of the garbage collector's reach: forked workers then neither scan
        # nor copy (copy-on-write) the parent's millions of torch/sympy objects on every full collection.
        gc.collect()
        gc.freeze()
        self.workers = [self._spawn() for _ in range(self.size)]
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        gc.unfreeze()

    def _spawn(self) -> _Worker:
        return _Worker(self.ctx, self.problem.id, self.options)

    def close(self) -> None:
        for w in self.workers:
            w.stop(kill=bool(w.queue))
        self.workers = []

    def _failure(self, key, answer: str, message: str) -> tuple:
        return key, invalid(self.problem.id, answer, message).to_json()

    def _replace(self, worker: _Worker, kill: bool) -> None:
        worker.stop(kill=kill)
        self.workers[self.workers.index(worker)] = self._spawn()
        self.restarts += 1

    def map(self, items: Iterable[tuple[object, str]]) -> Iterator[tuple[object, dict]]:
        """Grade every (key, answer); results come back in completion order, one per item, never raising.

        Each worker holds up to QUEUE_DEPTH answers, so it never waits for the parent between two; the
        deadline of the answer it is working on starts when the previous one's result arrives.
        """
        pending = iter(items)
        retry: deque = deque()  # answers queued on a worker that was replaced before it reached them
        exhausted = False

        def next_task():
            nonlocal exhausted
            if retry:
                return retry.popleft()
            if exhausted:
                return None
            try:
                return next(pending)
            except StopIteration:
                exhausted = True
                return None

        def replace(w: _Worker) -> None:
            retry.extendleft(reversed(w.queue))
            w.queue.clear()
            self._replace(w, kill=True)

        while True:
            for w in list(self.workers):
                while len(w.queue) < QUEUE_DEPTH:
                    task = next_task()
                    if task is None:
                        break
                    try:
                        w.conn.send(task)
                    except (BrokenPipeError, OSError):  # the worker died while idle: a fresh one takes over
                        retry.appendleft(task)
                        replace(w)
                        break
                    if not w.queue:
                        w.deadline = time.monotonic() + self.hard_limit
                    w.queue.append(task)
            busy = [w for w in self.workers if w.queue]
            if not busy:
                if exhausted and not retry:
                    return
                continue
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy], timeout=timeout)
            for w in busy:
                if w.conn in ready:
                    try:
                        got_key, doc = w.conn.recv()
                    except (EOFError, OSError):
                        key, answer = w.queue.popleft()
                        w.process.join(timeout=1)
                        code = w.process.exitcode
                        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                        replace(w)
                        yield self._failure(key, answer, f"grading this answer crashed the grading process ({how}, "
                                                         f"e.g. the memory limit); the other answers are unaffected")
                        continue
                    w.queue.popleft()
                    w.deadline = time.monotonic() + self.hard_limit
                    yield got_key, doc
                elif time.monotonic() >= w.deadline:
                    key, answer = w.queue.popleft()
                    replace(w)
                    yield self._failure(key, answer, f"grading this answer ran past the time limit of "
                                                     f"{self.time_limit:g} s and was stopped")


def grade_isolated(problem: str | Problem, answer: str, *, time_limit: float = DEFAULT_TIME_LIMIT,
                   memory_mb: int = DEFAULT_MEMORY_MB, symbolic: bool = True, explain: bool = True) -> dict:
    """Grade one answer in a fresh forked worker with time and memory limits; returns the result JSON."""
    with GradingPool(problem, workers=1, time_limit=time_limit, memory_mb=memory_mb, symbolic=symbolic,
                     explain=explain) as pool:
        ((_, doc),) = list(pool.map([(0, answer)]))
    return doc
