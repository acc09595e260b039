r"""Grading workers never outlive the command that started them, whatever ends it (SIGKILL, SIGTERM, SIGHUP)."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to find the workers")


def _processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state letter) of every process, from /proc."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(entry)] = (int(fields[1]), fields[0])
    return out


def _children(pid: int) -> list[int]:
    return [p for p, (parent, state) in _processes().items() if parent == pid and state != "Z"]


def _alive(pids: list[int]) -> list[int]:
    table = _processes()
    return [p for p in pids if p in table and table[p][1] != "Z"]  # a zombie has exited (only its entry is left)


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")


def _assert_gone_within_5_s(workers: list[int]) -> None:
    deadline = time.monotonic() + 5
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _alive(workers)
    for p in survivors:  # clean up before failing, so a broken build does not leave 200 MB processes behind
        os.kill(p, signal.SIGKILL)
    assert survivors == [], f"workers {survivors} outlived their parent by 5 s"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP], ids=["SIGKILL", "SIGTERM", "SIGHUP"])
def test_bulk_workers_die_with_their_parent(tmp_path, sig):
    src = tmp_path / "answers.csv"
    with open(src, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer"])
        for i in range(3000):  # far more than can be graded before the parent is killed
            w.writerow([f"s{i}", KL + f" + {i % 7}"])
    out = tmp_path / "out.csv"
    journal = tmp_path / "out.csv.partial.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "checkers", "grade", "kl-gaussian", "--csv", str(src), "--out",
                             str(out), "--workers", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: journal.exists() and len(journal.read_text().splitlines()) >= 4, 120,
                  "the first graded answers")
        workers = _wait_for(lambda: len(_children(proc.pid)) >= 2 and _children(proc.pid), 30, "two workers")
        assert proc.poll() is None, "grading finished before the parent could be killed"
        os.kill(proc.pid, sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _assert_gone_within_5_s(workers)
    assert not out.exists()  # interrupted: nothing written but the journal
    assert len(journal.read_text().splitlines()) >= 4  # what was graded is kept for a resume


def test_single_answer_worker_dies_when_the_command_is_killed(tmp_path):
    """As `subprocess.run(["proofcheck", "grade", ...], timeout=...)` does on timeout: SIGKILL to the command."""
    pidfile = tmp_path / "worker.pid"
    script = (
        "import os, sys, time\n"
        "from checkers.grading import isolation\n"
        "real = isolation.grade_in_process\n"
        "def slow(problem, answer, **kw):\n"
        "    if answer != 'SLOW':\n"
        "        return real(problem, answer, **kw)\n"
        "    open(sys.argv[1], 'w').write(str(os.getpid()))\n"
        "    time.sleep(600)\n"
        "isolation.grade_in_process = slow\n"
        "from checkers.cli import main\n"
        "sys.exit(main(['grade', 'kl-gaussian', 'SLOW', '--time-limit', '600']))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(pidfile)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 120, "the worker to start grading")
        worker = int(pidfile.read_text())
        assert _processes()[worker][0] == proc.pid  # it is the command's worker
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _assert_gone_within_5_s([worker])


def test_an_idle_worker_notices_that_its_parent_died():
    """Without PR_SET_PDEATHSIG (other systems) the pipe and the parent-liveness check still end a worker."""
    from checkers.grading import isolation

    script = (
        "import os, sys, time\n"
        "from checkers.grading import isolation\n"
        "isolation.die_with_parent = lambda parent: None  # as where prctl is missing\n"
        "pool = isolation.GradingPool('kl-gaussian', workers=3).start()\n"
        "print(' '.join(str(w.process.pid) for w in pool.workers), flush=True)\n"
        "os._exit(0)  # the parent vanishes without closing anything\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    workers = [int(p) for p in proc.stdout.split()]
    assert len(workers) == 3, proc.stderr
    deadline = time.monotonic() + 5 + isolation.LIVENESS_POLL
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = _alive(workers)
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert survivors == []


def test_pool_api_for_a_server_survives_a_worker_killed_between_answers():
    """start / grade / close, as a server grading answers as they arrive uses the pool."""
    from checkers.grading.isolation import GradingPool

    pool = GradingPool("kl-gaussian", workers=1, time_limit=2.0).start()
    try:
        assert pool.grade(KL)["verdict"] == "correct"
        os.kill(pool.workers[0].process.pid, signal.SIGKILL)  # dies while idle (e.g. the OOM killer)
        pool.workers[0].process.join(5)
        assert pool.grade(KL.replace("- d", "- 1"))["verdict"] == "incorrect"  # a fresh worker took over
        assert pool.restarts == 1
        workers = [w.process.pid for w in pool.workers]
    finally:
        pool.close()
    assert _alive(workers) == [] and pool.workers == []


@pytest.mark.parametrize("args", [["grade", "--list"], ["grade", "lse-limit", r"\max_j x_j"]])
def test_a_reader_that_leaves_early_stops_the_command_quietly(args):
    # `proofcheck grade ... | head`: the reader closes the pipe before anything is written (start-up takes far
    # longer than closing), so the first print hits a broken pipe: exit 141 (128 + SIGPIPE), no traceback.
    proc = subprocess.Popen([sys.executable, "-m", "checkers", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=300) == 141, err
    assert "Traceback" not in err and "internal error" not in err and "BrokenPipe" not in err, err


def _square_task(problem_id: str, x: int, *, limit: float) -> dict:
    return {"problem": problem_id, "square": x * x, "limit": limit}


def _hanging_task(problem_id: str, *, limit: float) -> dict:
    time.sleep(600)  # ignores its limit: the parent must kill it
    return {}


def _exiting_task(problem_id: str, code: int, *, limit: float) -> dict:
    os._exit(code)


def test_pool_runs_function_references_and_reports_stops_as_values():
    """A Task is a function reference; the pool reports Done(value) or Stopped(reason) and words nothing itself."""
    from checkers.grading.failures import stop_message
    from checkers.grading.isolation import Done, GradingPool, Stopped, Task

    with GradingPool("kl-gaussian", workers=1, time_limit=2.0) as pool:
        assert pool.call(Task(_square_task, (7,), 1.5)) == Done({"problem": "kl-gaussian", "square": 49, "limit": 1.5})
        hung = pool.call(Task(_hanging_task, (), 0.2))
        assert hung == Stopped("time-limit", limit=0.2)
        crashed = pool.call(Task(_exiting_task, (3,), 1.0))
        assert crashed == Stopped("crashed", how="exit code 3")
        outcomes = dict(pool.run([("a", Task(_square_task, (3,), 1.0)), ("b", KL)]))
        assert outcomes["a"].value["square"] == 9 and outcomes["b"].value["verdict"] == "correct"
        with pytest.raises(TypeError):
            pool.grade(Task(_square_task, (1,), 1.0))
        assert pool.restarts == 2
    assert stop_message(hung, "reading this line") == "reading this line ran past the time limit of 0.2 s and was stopped"
    assert stop_message(crashed, "comparing these two lines").startswith("comparing these two lines crashed the "
                                                                         "grading process (exit code 3")


def test_the_grader_returns_the_values_it_computed_when_asked():
    """grade_in_process(keep_values=True) carries the answer's values, so the class analysis's fingerprint needs no
    second evaluation; without the option the result carries none."""
    import torch

    from checkers.grading.analysis import fingerprint
    from checkers.grading.catalog import get_problem
    from checkers.grading.equivalence import evaluate_on
    from checkers.grading.grader import grade_in_process
    from checkers.grading.instances import instances_for
    from checkers.grading.parse import parse_answer

    wrong = KL.replace("- d", "- 1")
    kept = grade_in_process("kl-gaussian", wrong, symbolic=False, explain=False, keep_values=True)
    assert kept.verdict == "incorrect" and "values" not in kept.to_json()
    problem = get_problem("kl-gaussian")
    again = evaluate_on(instances_for(problem).groups, parse_answer(problem, wrong))
    assert len(kept.values) == len(again) and all(torch.equal(a, b) for a, b in zip(kept.values, again))
    assert fingerprint("kl-gaussian", wrong, limit=5.0, values=kept.values) == fingerprint("kl-gaussian", wrong,
                                                                                           limit=5.0)
    assert grade_in_process("kl-gaussian", wrong, symbolic=False, explain=False).values is None
