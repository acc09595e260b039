"""Killable grading workers: forked processes with a memory limit, a per-answer deadline, and respawn on failure.

The parent prepares everything once (parser, instances, reference and misconception values) and forks
long-lived workers that inherit it, so a worker starts warm in milliseconds. Each worker grades one
answer at a time (with the next one already waiting in its pipe) under a soft wall-clock limit
(SIGALRM inside grade_in_process) and an address-space limit (resource.RLIMIT_AS, set in the worker);
the parent enforces a hard deadline a little later and kills and replaces a worker that overruns or
dies, recording that answer as invalid with the reason. Other answers are unaffected. Workers ignore
SIGINT, so Ctrl-C reaches only the parent.

Workers never outlive the process that started them, whatever ends it (SIGKILL, SIGTERM, SIGHUP, a
`subprocess.run(..., timeout=...)`): on Linux each asks the kernel for SIGKILL when its parent dies
(prctl PR_SET_PDEATHSIG), each closes the parent's ends of its siblings' pipes (so the parent's death
is an end of file on its own pipe), and while idle each checks every second that its parent is still
the process that forked it.

Public API (also for a server that grades answers as they arrive):

    pool = GradingPool("kl-gaussian", workers=2, time_limit=2.0, memory_mb=1024)
    pool.start()                       # prepare the problem once, fork the workers
    doc = pool.grade(answer)           # one answer, blocking: the result JSON (never raises for bad answers)
    for key, doc in pool.map(items):   # many (key, answer) pairs, in completion order
        ...
    pool.close()                       # stop the workers (also `with GradingPool(...) as pool:`)

A pool is used from one thread at a time; `pool.cancel()`, from another thread, kills the workers busy
on it (a server calls it when the client that asked has left), and `grade` or `map` then returns at
once. Other work runs in the workers under the same limits as a `Task`: a module-level function
(sent to the worker by reference, as concurrent.futures sends it), its arguments and its time limit;
check-steps runs each line of a derivation so, the server its preview, a review its links:

    outcome = pool.call(Task(read_line_task, (line,), limit))   # Done(value) or Stopped(reason, ...)
    for key, outcome in pool.run(items):  # many (key, Task or answer) pairs, in completion order
        ...

`run` and `call` report what happened as data (`Done`, `Stopped`) and word nothing: the caller says
what it was doing (checkers.grading.failures.stop_message); `grade` and `map` are `run` for answers,
a stopped answer becoming an invalid verdict ("grading this answer ran past the time limit ...").
"""

from __future__ import annotations

import ctypes
import faulthandler
import gc
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import wait

from checkers.grading.catalog import get_problem
from checkers.grading.failures import stop_cause, stop_message
from checkers.grading.grader import DEFAULT_TIME_LIMIT, grade_in_process
from checkers.grading.problem import Problem
from checkers.grading.result import invalid
from checkers.limits import DEFAULT_MEMORY_MB, MAX_TIME_LIMIT, MIN_MEMORY_MB, check_limits  # noqa: F401  (the pool's rules; re-exported)

HARD_GRACE = 1.0  # seconds past the soft limit before the parent kills a worker
QUEUE_DEPTH = 2  # answers handed to a worker at once (the next one waits in its pipe)
LIVENESS_POLL = 1.0  # seconds between an idle worker's checks that its parent is alive
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True)
class Task:
    """Work other than grading one answer: `function` is called in a worker as function(problem_id, *args,
    limit=limit) and returns a picklable value; `limit` is its soft time limit. `function` must be defined at
    the top level of a module (it travels to the worker by reference, as pickle sends functions)."""

    function: Callable
    args: tuple
    limit: float


@dataclass(frozen=True)
class Done:
    """An item the worker finished: `value` is the answer's result JSON, or what the task's function returned."""

    value: object


@dataclass(frozen=True)
class Stopped:
    """An item the pool stopped before it finished: `reason` is "time-limit" (it ran past `limit` seconds and its
    worker was killed), "crashed" (the worker died, `how` says how: "signal 9", "exit code 1") or "cancelled"
    (from `call` only: `cancel()` stopped it; `run` leaves the items it did not finish out)."""

    reason: str
    limit: float = 0.0
    how: str = ""


def prepare(problem: Problem) -> None:
    """Build the parser, draw the instances and evaluate the reference and misconceptions, before forking."""
    from checkers.grading.feedback import misconception_values
    from checkers.grading.grammar import parser
    from checkers.grading.instances import instances_for

    parser()
    parser(positions=True)
    misconception_values(instances_for(problem))
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


def limit_memory(extra_mb: int) -> None:
    """Cap this process's address space at its current size plus `extra_mb` MiB (0 or less: no cap)."""
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


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies; exit now if that already happened."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the liveness check below still ends the worker
            pass
    if os.getppid() != parent_pid:  # the parent died between fork and prctl
        os._exit(0)


def release_inherited_sockets(keep: int) -> None:
    """Point every socket this forked process inherited (a server's listening socket and its clients' connections),
    except the file descriptor `keep`, at /dev/null, so that a connection its parent closes is really closed (the
    numbers stay taken: an inherited object that closes one later closes /dev/null, not a file of this process)."""
    import stat

    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: the sockets stay open until this process ends
        return
    null = os.open(os.devnull, os.O_RDWR)
    for fd in fds:
        if fd in (keep, null):
            continue
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                os.dup2(null, fd)
        except OSError:
            pass
    os.close(null)


def _worker_main(conn, problem_id: str, options: dict, parent_pid: int, inherited: list) -> None:
    die_with_parent(parent_pid)
    for c in inherited:  # the parent's ends of the siblings' pipes: holding them would hide the parent's death
        try:
            c.close()
        except OSError:
            pass
    release_inherited_sockets(keep=conn.fileno())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    devnull = open(os.devnull, "w")
    sys.stdout = sys.stderr = devnull  # never touch a stream lock the parent may have held at fork time
    faulthandler.disable()  # a crash is reported by the parent as an invalid answer, not as a traceback dump
    import torch

    torch.set_num_threads(1)
    limit_memory(options["memory_mb"])
    fingerprint = None
    if options.get("fingerprint"):
        from checkers.grading.analysis import fingerprint
    while True:
        try:
            while not conn.poll(LIVENESS_POLL):
                if os.getppid() != parent_pid:
                    return
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        key, payload = message
        if isinstance(payload, Task):
            doc = payload.function(problem_id, *payload.args, limit=payload.limit)
        else:
            started = time.perf_counter()
            result = grade_in_process(problem_id, payload, limit=options["time_limit"], symbolic=options["symbolic"],
                                      explain=options["explain"], keep_values=fingerprint is not None)
            doc = result.to_json()
            if fingerprint is not None and doc["verdict"] != "invalid":
                left = options["time_limit"] - (time.perf_counter() - started)
                doc["fingerprint"] = fingerprint(problem_id, payload, limit=max(left, 0.1), values=result.values)
        try:
            conn.send((key, doc))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, ctx, problem_id: str, options: dict, siblings: list[_Worker]):
        self.conn, child = ctx.Pipe()
        inherited = [w.conn for w in siblings]
        self.process = ctx.Process(target=_worker_main, args=(child, problem_id, options, os.getpid(), inherited),
                                   daemon=True)
        self.process.start()
        child.close()
        self.queue: deque = deque()  # (key, payload) sent and not yet answered; the head is being worked on
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
                 fingerprint: bool = False):
        check_limits(time_limit, memory_mb, workers)
        self.problem = get_problem(problem) if isinstance(problem, str) else problem
        self.size = max(1, workers or os.cpu_count() or 1)
        self.time_limit = time_limit
        # With fingerprints a worker evaluates the answer once more after grading it, under a second limit.
        self.hard_limit = time_limit * (2 if fingerprint else 1) + HARD_GRACE
        self.options = {"time_limit": time_limit, "memory_mb": memory_mb, "symbolic": symbolic, "explain": explain,
                        "fingerprint": fingerprint}
        self.ctx = mp.get_context("fork")
        self.workers: list[_Worker] = []
        self.restarts = 0
        self.started = False
        self.cancelled = False  # set by cancel(): the running map stops at its next step

    def start(self) -> GradingPool:
        """Prepare the problem in this process and fork the workers (idempotent)."""
        if self.started:
            return self
        prepare(self.problem)
        # Freeze what exists now out of the garbage collector's reach: forked workers then neither scan
        # nor copy (copy-on-write) the parent's millions of torch/sympy objects on every full collection.
        gc.collect()
        gc.freeze()
        for _ in range(self.size):
            self.workers.append(self._spawn())
        self.started = True
        return self

    def __enter__(self) -> GradingPool:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _spawn(self) -> _Worker:
        return _Worker(self.ctx, self.problem.id, self.options, self.workers)

    def close(self) -> None:
        """Stop every worker (killing those still busy); the pool can be started again."""
        for w in self.workers:
            w.stop(kill=bool(w.queue))
        self.workers = []
        if self.started:
            gc.unfreeze()
        self.started = False

    def cancel(self) -> None:
        """Stop the running `grade` or `map` call (safe from another thread; for work whose caller is gone): the workers
        busy on it are killed and replaced, and it returns at once, without the items it had not started. A cancel
        that arrives before the call starts is forgotten when it starts."""
        self.cancelled = True
        for w in list(self.workers):
            if w.queue:
                w.process.kill()

    def _stopped_answer(self, answer: str, stopped: Stopped) -> dict:
        """The result JSON of an answer the pool stopped: invalid, saying why."""
        return invalid(self.problem.id, answer, stop_message(stopped, "grading this answer"),
                       cause=stop_cause(stopped)).to_json()

    def _replace(self, worker: _Worker, kill: bool) -> None:
        worker.stop(kill=kill)
        index = self.workers.index(worker)
        self.workers[index] = _Worker(self.ctx, self.problem.id, self.options,
                                      [w for w in self.workers if w is not worker])
        self.restarts += 1

    def _hard_limit(self, payload) -> float:
        return payload.limit + HARD_GRACE if isinstance(payload, Task) else self.hard_limit

    def _soft_limit(self, payload) -> float:
        return payload.limit if isinstance(payload, Task) else self.time_limit

    def grade(self, answer: str) -> dict:
        """Grade one answer in a worker under the pool's limits; the result JSON (invalid if it hung or crashed)."""
        return self._answer_result(_answer(answer), self.call(answer))

    def map(self, items: Iterable[tuple[object, str]]) -> Iterator[tuple[object, dict]]:
        """Grade every (key, answer); (key, result JSON) in completion order, one per answer (invalid if it hung or
        crashed), none for the answers not started when the pool was cancelled."""
        answers: dict = {}  # key -> answer, while it is being graded (the text of a stopped answer's result)

        def remembered():
            for key, answer in items:
                answers[key] = _answer(answer)
                yield key, answer

        for key, outcome in self.run(remembered()):
            yield key, self._answer_result(answers.pop(key, ""), outcome)

    def _answer_result(self, answer: str, outcome: Done | Stopped) -> dict:
        return outcome.value if isinstance(outcome, Done) else self._stopped_answer(answer, outcome)

    def call(self, item: str | Task) -> Done | Stopped:
        """Run one Task (or grade one answer) in a worker under its limits: Done(value), or Stopped(why)."""
        done = list(self.run([(0, item)]))
        if not done:  # cancelled before it was sent to a worker
            return Stopped("cancelled")
        return done[0][1]

    def run(self, items: Iterable[tuple[object, str | Task]]) -> Iterator[tuple[object, Done | Stopped]]:
        """Run every (key, Task) or grade every (key, answer); (key, Done or Stopped) in completion order, one per
        item started (the items not started when the pool is cancelled are left out).

        Never raises for what an item does. Each worker holds up to QUEUE_DEPTH items, so it never
        waits for the parent between two; the deadline of the item it is working on starts when the
        previous one's result arrives.
        """
        self.start()
        self.cancelled = False
        pending = iter(items)
        retry: deque = deque()  # items queued on a worker that was replaced before it reached them
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
            if self.cancelled:
                for w in self.workers:
                    if w.queue:
                        w.queue.clear()
                        self._replace(w, kill=True)
                return
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
                        w.deadline = time.monotonic() + self._hard_limit(task[1])
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
                        key, payload = w.queue.popleft()
                        w.process.join(timeout=1)
                        code = w.process.exitcode
                        how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                        replace(w)
                        yield key, Stopped("crashed", how=how)
                        continue
                    w.queue.popleft()
                    if w.queue:
                        w.deadline = time.monotonic() + self._hard_limit(w.queue[0][1])
                    yield got_key, Done(doc)
                elif time.monotonic() >= w.deadline:
                    key, payload = w.queue.popleft()
                    replace(w)
                    yield key, Stopped("time-limit", limit=self._soft_limit(payload))


def _answer(item) -> str:
    if not isinstance(item, str):
        raise TypeError(f"grade and map take answers (text); run a Task with call or run (got {item!r})")
    return item


def grade_isolated(problem: str | Problem, answer: str, *, time_limit: float = DEFAULT_TIME_LIMIT,
                   memory_mb: int = DEFAULT_MEMORY_MB, symbolic: bool = True, explain: bool = True) -> dict:
    """Grade one answer in a fresh forked worker with time and memory limits; returns the result JSON."""
    with GradingPool(problem, workers=1, time_limit=time_limit, memory_mb=memory_mb, symbolic=symbolic,
                     explain=explain) as pool:
        return pool.grade(answer)
