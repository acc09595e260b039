"""`proofcheck serve`'s JSON API against a real server process: documents, hostile inputs, limits, clean shutdown.

Each server is a subprocess on 127.0.0.1 (a free port), polled until warm within a bounded time; the
requests use httpx. Speed is measured in benchmarks/serve_bench.py, not here.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx", reason="httpx not installed (pip install -e '.[test]')")

from serve_process import Server, alive, descendants  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KL = "kl-gaussian"
KL_CORRECT = (r"\frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d"
              r" + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)")
KL_SWAPPED = KL_CORRECT.replace(r"\Sigma_1^{-1}\Sigma_0)", r"\Sigma_0^{-1}\Sigma_1)")


def grade(client, answer: str, problem: str = KL, **extra) -> dict:
    response = client.post("/api/grade", json={"problem": problem, "answer": answer, **extra})
    assert response.status_code == 200, response.text
    return response.json()


# -- documents -------------------------------------------------------------------------------------
def test_problems_list_every_gradeable_problem_with_statement_and_symbols(client):
    problems = client.get("/api/problems").json()["problems"]
    ids = [p["id"] for p in problems]
    assert len(ids) >= 20 and len(set(ids)) == len(ids) and KL in ids
    kl = next(p for p in problems if p["id"] == KL)
    assert kl["source"] == "hw6-2021 P5"
    assert "<math" in kl["statement_html"] and "D" in kl["statement"]
    assert [s["latex"] for s in kl["symbols"]] == [r"\mu_0", r"\mu_1", r"\Sigma_0", r"\Sigma_1", "d"]
    assert all(s["mathml"].startswith("<math") for s in kl["symbols"])
    assert kl["dims"] == {"d": [1, 2, 3, 4, 5]}


def test_grade_returns_the_grade_json_document(client):
    from checkers.grading.grader import grade_in_process

    for answer in (KL_CORRECT, KL_SWAPPED):
        doc = grade(client, answer)
        expected = grade_in_process(KL, answer, symbolic=False, explain=False).to_json()
        for doc_ in (doc, expected):
            doc_.pop("seconds")
        assert doc == expected
    assert grade(client, KL_CORRECT)["verdict"] == "correct"
    wrong = grade(client, KL_SWAPPED)
    assert wrong["verdict"] == "incorrect" and wrong["score"] == 0.0
    assert [f["id"] for f in wrong["feedback"]] == ["trace-swapped"]
    assert set(wrong["counterexample"]) >= {"instance", "student", "reference", "seed"}


def test_full_grade_adds_the_reading_and_the_symbolic_confirmation(client):
    doc = grade(client, KL_CORRECT, full=True)
    assert doc["verdict"] == "correct"
    symbolic = doc["symbolic"]
    assert symbolic["status"] != "not proved", symbolic  # a correct answer that sympy cannot confirm is a bug
    if symbolic["status"] == "skipped":  # the answer's time limit left sympy no time (a loaded machine)
        assert "no time left" in symbolic["detail"], symbolic
    else:
        assert symbolic["status"] in ("proved", "identical"), symbolic
        assert "= 0" in symbolic["detail"] or "same sympy expression" in symbolic["detail"], symbolic
    assert "Sigma_1" in doc["read_as"]


def test_read_prints_mathml_from_the_parsed_object(client):
    from checkers.grading.catalog import get_problem
    from checkers.grading.parse import parse_answer
    from checkers.reporting.mathml import to_mathml

    doc = client.post("/api/read", json={"problem": KL, "answer": "tr(S1^-1 * S0)/2 - d/2"}).json()
    assert doc["ok"] is True
    assert doc["mathml"] == to_mathml(parse_answer(get_problem(KL), "tr(S1^-1 * S0)/2 - d/2"), display=True)
    assert "S1" not in doc["mathml"] and "<msub><mi mathvariant=\"normal\">Σ</mi><mn>1</mn></msub>" in doc["mathml"]
    assert doc["words"] == r"a scalar in \Sigma_0, \Sigma_1, d"


def test_read_of_an_unreadable_answer_says_why(client):
    doc = client.post("/api/read", json={"problem": KL, "answer": r"\Sigma_2 + d"}).json()
    assert doc["ok"] is False and "Sigma_2" in doc["message"]
    doc = client.post("/api/read", json={"problem": KL, "answer": r"\frac{1}{2"}).json()
    assert doc["ok"] is False and doc["message"]


def test_check_steps_finds_the_first_wrong_line(client):
    derivation = textwrap.dedent(r"""
        D &= \frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}
             + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)\right) \\
          &= \frac12\operatorname{tr}(\Sigma_0^{-1}\Sigma_1) - \frac d2 + \frac12\log\frac{\det\Sigma_1}{\det\Sigma_0}
             + \frac12(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) \\
          &= \frac12\operatorname{tr}(\Sigma_0^{-1}\Sigma_1) - \frac d2 + \frac12\log\det\Sigma_1 - \frac12\log\det\Sigma_0
             + \frac12(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)
    """)
    doc = client.post("/api/check-steps", json={"problem": KL, "derivation": derivation}).json()
    assert [line["parsed"] for line in doc["lines"]] == [True, True, True]
    assert doc["first_invalid"] == 2
    assert [s["valid"] for s in doc["steps"]] == [False, True]
    assert doc["final"]["verdict"] == "incorrect"


def test_csv_upload_returns_the_graded_csv_and_the_class_analysis(client):
    rows = ["id,answer", f'a1,"{KL_CORRECT}"', f'a2,"{KL_SWAPPED}"', f'a3,"{KL_SWAPPED.replace(" ", "")}"',
            "a4,\\Sigma_9", "=cmd,d"]
    response = client.post("/api/grade-csv", data={"problem": KL},
                           files={"file": ("answers.csv", "\n".join(rows).encode(), "text/csv")})
    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["total"] == 5
    assert doc["counts"] == {"correct": 1, "incorrect": 3, "invalid": 1}  # "d" is a wrong answer, \Sigma_9 unreadable
    lines = doc["csv"].splitlines()
    assert lines[0] == "id,verdict,score,message,feedback,counterexample"
    assert lines[1].startswith("a1,correct,1") and lines[5].startswith("'=cmd,")
    assert "<html" in doc["analysis_html"] and "trace" in doc["analysis_html"]


def test_problems_beyond_the_warm_limit_evict_the_least_recently_used(server, client):
    from checkers.serve.engine import DEFAULT_MAX_PROBLEMS

    others = ["gaussian-density", "rnn-depth", "tv-half-l1", "lse-limit", "bn-fold-bias"]
    for problem in others:
        doc = grade(client, "d", problem=problem)
        assert doc["problem"] == problem and not doc.get("internal_error")
    # the evicted problem's workers are stopped in the background: wait for it, with a generous deadline
    assert wait_until(lambda: len(descendants(server.process.pid)) <= DEFAULT_MAX_PROBLEMS * 2), \
        descendants(server.process.pid)
    assert grade(client, KL_CORRECT)["verdict"] == "correct"  # evicted first, warmed again on demand


# -- hostile and bad requests ----------------------------------------------------------------------
@pytest.mark.parametrize("answer, message", [
    ("x" * 200_000, "200000 characters long; the limit is 2000"),
    (r"d^{10^{1000}}", "digits"),
    (r"10^{10^{1000}10^{1000}}", "digits"),
    (r"d^{" + r"10^{1000}" * 6 + "}", "digits"),
    ("\x00\x1b[2J" + "d", ""),
    ("(" * 5000, ""),
])
def test_hostile_answers_are_invalid_verdicts_and_the_server_goes_on(client, answer, message):
    doc = grade(client, answer)
    assert doc["verdict"] == "invalid" and message in doc["message"]
    assert len(doc["message"]) < 600 and not doc.get("internal_error")
    assert grade(client, KL_CORRECT)["verdict"] == "correct"


@pytest.mark.parametrize("body, status, message", [
    (b'{"problem": "kl-gaussian", "answer": ', 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    (b'{"problem": "kl-gaussian"}', 400, "no 'answer' field"),
    (b'{"problem": "kl-gaussian", "answer": 3}', 400, "'answer' must be a string"),
    (b'{"problem": "no-such-problem", "answer": "d"}', 404, "unknown problem 'no-such-problem'; gradeable problems:"),
    (b'{"problem": "kl-gaussian", "answer": "d", "full": "yes"}', 400, "'full' must be true or false"),
    (b"\xff\xfe{}", 400, "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, 400, "JSON"),
    (b'{"problem": "kl-gaussian", "answer": "' + b"x" * 2 ** 20 + b'"}', 413, "limit is 262,144 bytes"),
])
def test_bad_requests_get_a_json_error_with_a_4xx_status(client, body, status, message):
    response = client.post("/api/grade", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert message in response.json()["error"]


def test_unknown_routes_and_methods_are_json_errors(client):
    response = client.get("/api/grade")
    assert response.status_code == 405 and "error" in response.json()
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and "error" in response.json()
    response = client.post("/api/grade-csv", json={"problem": KL})
    assert response.status_code == 415 and "multipart/form-data" in response.json()["error"]


def test_page_and_its_files_are_served_by_the_package(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for name in ("serve.js", "serve.css"):
        assert client.get(f"/{name}").status_code == 200
    assert "http" not in page.text.replace("http-equiv", "")  # nothing fetched from another host


# -- a hanging answer, and shutdown ----------------------------------------------------------------
HANGING_SERVER = textwrap.dedent("""
    import sys, time
    from checkers.grading import isolation

    real = isolation.grade_in_process

    def grade_or_hang(problem, answer, **options):
        if answer == "HANG":  # ignores the soft limit (SIGALRM) like a stuck C extension would
            while True:
                time.sleep(0.01) if False else [i * i for i in range(10_000)]
        return real(problem, answer, **options)

    isolation.grade_in_process = grade_or_hang
    from checkers.serve import serve

    serve("127.0.0.1", int(sys.argv[1]), 2, time_limit=HANG_LIMIT)
""").replace("HANG_LIMIT", "5.0")


def wait_until(condition, deadline: float = 60.0, poll: float = 0.1) -> bool:
    """True as soon as `condition()` holds, False if it still does not after `deadline` seconds (no fixed sleeps)."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(poll)
    return condition()


def test_a_hanging_answer_holds_only_its_worker_and_sigterm_leaves_no_worker():
    with Server(script=HANGING_SERVER) as s:
        s.wait_ready()
        with httpx.Client(base_url=s.url, timeout=60) as c:
            assert grade(c, KL_CORRECT)["verdict"] == "correct"
            hung: dict = {}

            def send_hang():
                hung["doc"] = grade(c, "HANG")
                hung["done"] = time.monotonic()

            thread = threading.Thread(target=send_hang)
            thread.start()
            time.sleep(0.5)  # a head start, so the hang usually occupies a worker first; no assertion depends on it
            with httpx.Client(base_url=s.url, timeout=60) as other:
                others = [grade(other, KL_SWAPPED)["verdict"] for _ in range(5)]
                others_done = time.monotonic()
            thread.join(timeout=120)
            assert hung["doc"]["verdict"] == "invalid" and "time limit of 5 s" in hung["doc"]["message"]
            assert others == ["incorrect"] * 5
            # The others were graded by the other worker while the hanging one ran (its limit: 5 s + grace), so
            # they all came back before it did: an ordering of events, not a wall-clock budget.
            assert others_done < hung["done"]
            assert grade(c, KL_CORRECT)["verdict"] == "correct"  # the stopped worker was replaced
        code, below = s.stop(signal.SIGTERM)
        assert below, "the server had started grading workers"
        assert wait_until(lambda: not [p for p in below if alive(p)]), [p for p in below if alive(p)]
        assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM)


def test_sigint_stops_the_server_and_every_worker():
    with Server("--workers", "2") as s:
        s.wait_ready()
        with httpx.Client(base_url=s.url, timeout=60) as c:
            assert grade(c, KL_CORRECT)["verdict"] == "correct"
            assert client_read_ok(c)
        code, below = s.stop(signal.SIGINT)
        assert len(below) >= 2
        assert wait_until(lambda: not [p for p in below if alive(p)]), [p for p in below if alive(p)]
        assert code in (0, -signal.SIGINT, 130)


def client_read_ok(c) -> bool:
    return c.post("/api/read", json={"problem": KL, "answer": "d"}).json()["ok"]


def test_serve_refuses_bad_options_before_starting():
    for options, message in ((["--time-limit", "nan"], "--time-limit"), (["--memory-mb", "0"], "--memory-mb"),
                             (["--workers", "0"], "--workers"), (["--host", "example.org"], "--host")):
        result = subprocess.run([sys.executable, "-m", "checkers", "serve", *options], cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 2 and message in result.stderr
