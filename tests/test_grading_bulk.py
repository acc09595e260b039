r"""Bulk grading: CSV quoting, isolation of bad answers, resume after an interruption, Gradescope output, CLI."""

import csv
import json

import pytest

from checkers.cli import main
from checkers.grading.bulk import grade_csv, journal_path

KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"
ROWS = [
    ("alice", KL, "correct"),
    ("bob, jr.", KL.replace("- d", "- 1"), "incorrect"),  # comma in the id
    ("carol", '1/2*(tr(inv(S1)*S0) + (mu1-mu0)\'*inv(S1)*(mu1-mu0) - d + log(det(S1)/det(S0)))', "correct"),
    ('dan "the man"', r"\frac{1}{2}(a, b)", "invalid"),  # quotes in the id, a comma in the answer
    ("eve", r'\Sigma_2 + "quoted"', "invalid"),  # quotes in the answer
    ("frank", "0.5 (tr(S0 S1^-1)\n + (mu0 - mu1)' S1^-1 (mu0 - mu1) - d - log(det(S0)/det(S1)))", "correct"),  # newline
    ("grace", "x" * 3000, "invalid"),  # over the length cap
]


@pytest.fixture(autouse=True)
def _available():
    from checkers.grading.catalog import get_problem

    if not get_problem("kl-gaussian").available():
        pytest.fail("kl-gaussian: proofs.kl_gaussian, its reference, is missing")


def write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer"])
        for r in rows:
            w.writerow(r[:2])
    return path


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_csv_round_trip_with_quotes_commas_newlines(tmp_path):
    src = write(tmp_path / "answers.csv", ROWS)
    summary = grade_csv("kl-gaussian", src, tmp_path / "out.csv", tmp_path / "results.json", workers=2,
                        progress=False)
    out = read(tmp_path / "out.csv")
    assert [r["id"] for r in out] == [r[0] for r in ROWS]  # input order, ids intact
    assert [r["verdict"] for r in out] == [r[2] for r in ROWS]
    assert [r["score"] for r in out] == ["1" if r[2] == "correct" else "0" if r[2] == "incorrect" else "" for r in ROWS]
    assert list(out[0]) == ["id", "verdict", "score", "message", "feedback", "counterexample"]
    bob = out[1]
    assert "correct only for d = 1" in bob["message"] and json.loads(bob["counterexample"])["instance"]["d"] == 2
    assert "unexpected character ','" in out[3]["message"]
    assert "unexpected character '\"'" in out[4]["message"]
    assert "3000 characters" in out[6]["message"]
    assert summary.counts == {"correct": 3, "incorrect": 1, "invalid": 3} and summary.total == 7
    assert not journal_path(tmp_path / "out.csv").exists()
    # Gradescope: one test per answer, scores and statuses from the verdicts.
    gs = json.loads((tmp_path / "results.json").read_text())
    assert gs["score"] == 3.0 and len(gs["tests"]) == 7
    assert [t["status"] for t in gs["tests"]] == ["passed" if r[2] == "correct" else "failed" for r in ROWS]
    assert all(t["max_score"] == 1.0 for t in gs["tests"]) and gs["tests"][3]["output"].startswith("not graded")


def test_interrupted_run_resumes_without_regrading(tmp_path):
    rows = [(f"s{i}", KL + f" + {i}" if i % 2 else KL, "") for i in range(8)]
    src = write(tmp_path / "answers.csv", rows)
    out = tmp_path / "out.csv"
    seen = []

    def interrupt(row, doc):
        seen.append(row.id)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        grade_csv("kl-gaussian", src, out, workers=2, progress=False, on_result=interrupt)
    assert not out.exists()
    journal = journal_path(out)
    assert len(journal.read_text().splitlines()) == 3  # what was graded is kept
    regraded = []
    summary = grade_csv("kl-gaussian", src, out, workers=2, progress=False,
                        on_result=lambda row, doc: regraded.append(row.id))
    assert summary.resumed == 3 and summary.graded_now == 5
    assert sorted(regraded) == sorted(set(r[0] for r in rows) - set(seen))
    verdicts = [r["verdict"] for r in read(out)]
    assert verdicts == ["correct" if i % 2 == 0 else "incorrect" for i in range(8)]
    assert not journal.exists()


def test_changed_answer_is_regraded_on_resume(tmp_path):
    src = write(tmp_path / "answers.csv", [("a", KL, ""), ("b", KL, "")])
    out = tmp_path / "out.csv"
    grade_csv("kl-gaussian", src, out, workers=1, progress=False)
    # A leftover journal from an older file: entries whose answer changed do not count.
    journal = journal_path(out)
    journal.write_text(json.dumps({"key": "1:a:0000000000000000", "result": {"verdict": "correct"}}) + "\n")
    summary = grade_csv("kl-gaussian", src, out, workers=1, progress=False)
    assert summary.resumed == 0 and summary.graded_now == 2


def test_a_hanging_or_crashing_answer_costs_only_itself(tmp_path, monkeypatch):
    import os
    import signal

    from checkers.grading import isolation

    real = isolation.grade_in_process

    def hostile(problem, answer, **kw):
        if "HANG" in answer:
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        if "CRASH" in answer:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(problem, answer, **kw)

    monkeypatch.setattr(isolation, "grade_in_process", hostile)
    rows = [("a", KL, ""), ("b", "HANG", ""), ("c", "CRASH", ""), ("d", KL, "")]
    src = write(tmp_path / "answers.csv", rows)
    summary = grade_csv("kl-gaussian", src, tmp_path / "out.csv", workers=2, time_limit=0.5, progress=False)
    out = read(tmp_path / "out.csv")
    assert [r["verdict"] for r in out] == ["correct", "invalid", "invalid", "correct"]
    assert "time limit of 0.5 s" in out[1]["message"] and "crashed" in out[2]["message"]
    assert summary.restarts == 2


def test_bad_csv_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("student,response\n1,x\n")
    assert main(["grade", "kl-gaussian", "--csv", str(bad)]) == 2
    assert "expected a header row with `id` and `answer`" in capsys.readouterr().err
    assert main(["grade", "kl-gaussian", "--csv", str(tmp_path / "missing.csv")]) == 2


def test_cli_single_answer_exit_codes_and_json(capsys):
    assert main(["grade", "kl-gaussian", KL, "--json", "--no-symbolic"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["problem"] == "kl-gaussian" and doc["verdict"] == "correct" and doc["message"]
    assert main(["grade", "kl-gaussian", KL.replace("- d", "- 1"), "--json", "--no-symbolic"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "incorrect" and {"instance", "student", "reference"} <= set(doc["counterexample"])
    assert main(["grade", "kl-gaussian", r"\Sigma_2", "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["verdict"] == "invalid" and "unknown symbol \\Sigma_2" in doc["message"]
    assert main(["grade", "no-such-problem", "x"]) == 2
    assert "unknown problem 'no-such-problem'" in capsys.readouterr().err
    assert main(["grade", "kl-gaussian"]) == 2


def test_cli_csv(tmp_path, capsys):
    src = write(tmp_path / "answers.csv", ROWS[:3])
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv"), "--gradescope",
                 str(tmp_path / "r.json"), "--workers", "2"]) == 0
    assert "3 answers: 2 correct, 1 incorrect, 0 invalid" in capsys.readouterr().out
    assert len(read(tmp_path / "o.csv")) == 3 and json.loads((tmp_path / "r.json").read_text())["score"] == 2.0


def test_public_api():
    from checkers import grade

    result = grade("kl-gaussian", KL.replace(r"\Sigma_1^{-1}\Sigma_0", r"\Sigma_0^{-1}\Sigma_1"), symbolic=False)
    assert result.verdict == "incorrect" and "the trace arguments are swapped" in result.message
    assert grade("kl-gaussian", KL, isolate=False, symbolic=False).verdict == "correct"
