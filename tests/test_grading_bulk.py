r"""Bulk grading: CSV quoting, isolation of bad answers, resume after an interruption, CLI."""

import csv
import json

import pytest

from checkers.cli import main
from checkers.grading.bulk import grade_csv, journal_path

from answer_csv import read, write
from instant_pool import instant_pool

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


def test_csv_round_trip_with_quotes_commas_newlines(tmp_path):
    src = write(tmp_path / "answers.csv", ROWS)
    summary = grade_csv("kl-gaussian", src, tmp_path / "out.csv", workers=2, progress=False)
    out = read(tmp_path / "out.csv")
    assert [r["id"] for r in out] == [r[0] for r in ROWS]  # input order, ids intact
    assert [r["verdict"] for r in out] == [r[2] for r in ROWS]
    assert [r["score"] for r in out] == ["1" if r[2] == "correct" else "0" if r[2] == "incorrect" else "" for r in ROWS]
    assert list(out[0]) == ["id", "verdict", "score", "message", "feedback", "counterexample"]
    bob = out[1]
    assert "correct only for d = 1" in bob["message"] and json.loads(bob["counterexample"])["instance"]["d"] == 2
    assert "','" in out[3]["message"] and "position" in out[3]["message"]  # the parser names the comma
    assert "'\"'" in out[4]["message"]
    assert "3000 characters" in out[6]["message"]
    assert summary.counts == {"correct": 3, "incorrect": 1, "invalid": 3} and summary.total == 7
    assert not journal_path(tmp_path / "out.csv").exists()


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
    assert len(journal.read_text().splitlines()) == 1 + 3  # the header, then what was graded is kept
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
    from checkers.grading.bulk import journal_header
    from checkers.grading.catalog import get_problem

    journal = journal_path(out)
    header = journal_header(get_problem("kl-gaussian"), {"time_limit": 2.0, "memory_mb": 1024, "symbolic": False})
    journal.write_text(json.dumps(header) + "\n" +
                       json.dumps({"key": "1:a:0000000000000000", "result": {"verdict": "correct"}}) + "\n")
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
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv"), "--workers", "2"]) == 0
    assert "3 answers: 2 correct, 1 incorrect, 0 invalid" in capsys.readouterr().out
    assert len(read(tmp_path / "o.csv")) == 3
    # The whole-class Gradescope file is gone (Gradescope reads one results.json per submission): refused, with
    # a pointer to the autograder, before any work.
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o2.csv"), "--gradescope",
                 str(tmp_path / "r.json")]) == 2
    assert "proofcheck gradescope build" in capsys.readouterr().err
    assert not (tmp_path / "o2.csv").exists() and not (tmp_path / "r.json").exists()


def test_public_api():
    from checkers import grade

    result = grade("kl-gaussian", KL.replace(r"\Sigma_1^{-1}\Sigma_0", r"\Sigma_0^{-1}\Sigma_1"), symbolic=False)
    assert result.verdict == "incorrect" and "the trace arguments are swapped" in result.message
    assert grade("kl-gaussian", KL, isolate=False, symbolic=False).verdict == "correct"


# --- issue 11: keyed resume, per-row limits, no overwrites, checked options, strict and safe output ---


def _interrupt_after(n):
    seen = []

    def hook(row, doc):
        seen.append(row.id)
        if len(seen) == n:
            raise KeyboardInterrupt

    return hook


def test_journal_of_another_problem_or_other_options_is_refused(tmp_path):
    from checkers.errors import UsageError

    src = write(tmp_path / "answers.csv", [(f"s{i}", KL, "") for i in range(6)])
    out = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        grade_csv("kl-gaussian", src, out, workers=1, progress=False, on_result=_interrupt_after(2))
    # Another problem on the same output: the kl-gaussian grades must not be reused.
    with pytest.raises(UsageError, match=r"problem kl-gaussian \(now gaussian-density\).*--restart"):
        grade_csv("gaussian-density", src, out, workers=1, progress=False)
    with pytest.raises(UsageError, match=r"time limit 2 s \(now 1 s\)"):
        grade_csv("kl-gaussian", src, out, workers=1, time_limit=1.0, progress=False)
    with pytest.raises(UsageError, match=r"memory limit 1024 MiB \(now 512 MiB\)"):
        grade_csv("kl-gaussian", src, out, workers=1, memory_mb=512, progress=False)
    assert not out.exists()
    # The same command resumes; --restart regrades everything under the new problem.
    summary = grade_csv("kl-gaussian", src, out, workers=1, progress=False)
    assert summary.resumed == 2 and summary.graded_now == 4
    with pytest.raises(KeyboardInterrupt):
        grade_csv("kl-gaussian", src, out, workers=1, progress=False, on_result=_interrupt_after(1))
    summary = grade_csv("gaussian-density", src, out, workers=1, progress=False, restart=True)
    assert summary.resumed == 0 and summary.graded_now == 6
    assert {r["verdict"] for r in read(out)} == {"invalid"}  # KL symbols are not gaussian-density's


def test_a_journal_from_another_grader_version_or_format_is_refused(tmp_path):
    from checkers.errors import UsageError

    src = write(tmp_path / "answers.csv", [("a", KL, "")])
    out = tmp_path / "out.csv"
    journal = journal_path(out)
    journal.write_text(json.dumps({"key": "1:a:x", "result": {"verdict": "correct"}}) + "\n")  # the old format
    with pytest.raises(UsageError, match="older proofcheck"):
        grade_csv("kl-gaussian", src, out, workers=1, progress=False)
    from checkers.grading.bulk import journal_header
    from checkers.grading.catalog import get_problem

    header = journal_header(get_problem("kl-gaussian"), {"time_limit": 2.0, "memory_mb": 1024, "symbolic": False})
    header["grader"] = "0.0.1+000000000000"
    journal.write_text(json.dumps(header) + "\n")
    with pytest.raises(UsageError, match=r"grader version 0.0.1\+000000000000 \(now "):
        grade_csv("kl-gaussian", src, out, workers=1, progress=False)


def test_over_long_and_undecodable_answers_are_their_rows_invalid_verdicts(tmp_path):
    src = tmp_path / "answers.csv"
    huge = "d+" * 100_000  # 200,000 characters: over csv's default field limit of 131,072
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer"])
        w.writerow(["a", KL])
        w.writerow(["b", huge])
        w.writerow(["c", "two\nlines " + KL])
    with open(src, "ab") as f:  # a Latin-1 byte (é) in row d, on line 6 of the file (row c spans lines 4-5)
        f.write(b'd,"\\mu_0 caf\xe9"\r\ne,' + KL.encode() + b"\r\n")
    summary = grade_csv("kl-gaussian", src, tmp_path / "out.csv", workers=1, progress=False)
    out = read(tmp_path / "out.csv")
    assert [r["id"] for r in out] == ["a", "b", "c", "d", "e"]
    assert [r["verdict"] for r in out] == ["correct", "invalid", "invalid", "invalid", "correct"]
    assert out[1]["message"] == "line 3: the answer is 200000 characters long; the limit is 2000"
    assert out[3]["message"].startswith("line 6: the answer is not UTF-8 text (byte 0xe9 at character 10)")
    assert summary.total == 5


def test_input_size_is_checked_before_the_file_is_read(tmp_path, monkeypatch):
    import builtins

    from checkers.errors import UsageError
    from checkers.grading import bulk

    src = write(tmp_path / "answers.csv", [(f"s{i}", KL, "") for i in range(50)])
    monkeypatch.setattr(bulk, "MAX_INPUT_BYTES", 1000)
    real_open = builtins.open

    def no_read(path, *args, **kwargs):
        assert str(path) != str(src), "the over-size input was opened"
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_read)
    with pytest.raises(UsageError, match=r"answers.csv is \d[\d,]* bytes; the limit is 1,000 bytes"):
        grade_csv("kl-gaussian", src, tmp_path / "out.csv", progress=False)


def _no_pool(monkeypatch):
    from checkers.grading import bulk

    class Refuse:
        def __init__(self, *a, **k):
            raise AssertionError("grading started although the command should have been refused")

    monkeypatch.setattr(bulk, "GradingPool", Refuse)


def test_outputs_that_would_overwrite_the_input_or_each_other_are_refused(tmp_path, capsys, monkeypatch):
    import os

    _no_pool(monkeypatch)
    src = write(tmp_path / "answers.csv", ROWS[:2])
    before = src.read_bytes()
    (tmp_path / "link.csv").symlink_to(src)
    cases = [
        (["--out", str(src)], "is the input file"),
        (["--out", str(tmp_path / "." / "answers.csv")], "is the input file"),
        (["--out", str(tmp_path / "link.csv")], "is the input file"),
        (["--out", str(tmp_path / "o.csv"), "--analysis", str(src)], "is the input file"),
        (["--out", str(tmp_path / "o.csv"), "--analysis", str(tmp_path / "o.csv")], "are the same file"),
    ]
    os.link(src, tmp_path / "hard.csv")
    cases.append((["--out", str(tmp_path / "hard.csv")], "is the input file"))
    for extra, message in cases:
        assert main(["grade", "kl-gaussian", "--csv", str(src), *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert src.read_bytes() == before


@pytest.mark.parametrize("extra, message", [
    (["--time-limit", "nan"], "--time-limit must be a positive number of seconds (got nan)"),
    (["--time-limit", "inf"], "--time-limit must be a positive number of seconds (got inf)"),
    (["--time-limit", "0"], "--time-limit must be a positive number of seconds (got 0.0)"),
    (["--time-limit", "-1"], "--time-limit must be a positive number of seconds (got -1.0)"),
    (["--memory-mb", "0"], "--memory-mb must be at least 64 MiB per worker (got 0)"),
    (["--workers", "0"], "--workers must be at least 1 (got 0)"),
    (["--csv", "{tmp}"], "is a folder; --csv needs a CSV file"),
    (["--out", "{tmp}/missing/o.csv"], "the folder {tmp}/missing does not exist"),
    (["--out", "{tmp}"], "is a folder; give a file name"),
    (["--analysis", "{tmp}/missing/c.html"], "the folder {tmp}/missing does not exist"),
])
def test_bad_paths_and_options_are_one_line_errors_before_any_work(tmp_path, capsys, monkeypatch, extra, message):
    _no_pool(monkeypatch)
    src = write(tmp_path / "answers.csv", ROWS[:2])
    extra = [e.replace("{tmp}", str(tmp_path)) for e in extra]
    args = ["grade", "kl-gaussian"] + ([] if "--csv" in extra else ["--csv", str(src)]) + extra
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("proofcheck: error: ") and len(err.strip().splitlines()) == 1, err
    assert message.replace("{tmp}", str(tmp_path)) in err


def test_single_answer_options_are_checked_too(capsys):
    assert main(["grade", "kl-gaussian", KL, "--time-limit", "nan"]) == 2
    assert "--time-limit must be a positive number" in capsys.readouterr().err
    assert main(["grade", "kl-gaussian", KL, "--memory-mb", "0"]) == 2
    assert main(["check-steps", "kl-gaussian", "-", "--time-limit", "inf"]) == 2


def test_read_only_output_folder_is_refused(tmp_path, capsys, monkeypatch):
    import os

    if os.geteuid() == 0:
        pytest.skip("running as root: permissions do not stop root from writing, so there is no read-only folder")
    _no_pool(monkeypatch)
    src = write(tmp_path / "answers.csv", ROWS[:2])
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(locked / "o.csv")]) == 2
        assert "is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def _strict_loads(text):
    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    return json.loads(text, parse_constant=refuse)


NAN_ANSWER = r"\log(-d)"  # NaN on every instance: an incorrect answer whose counterexample value is not a number


def test_json_is_strict_and_csv_cells_are_safe(tmp_path, capsys):
    assert main(["grade", "kl-gaussian", NAN_ANSWER, "--json", "--no-symbolic"]) == 1
    doc = _strict_loads(capsys.readouterr().out)
    assert doc["verdict"] == "incorrect" and doc["counterexample"]["student"] == "NaN"
    hostile = [("=HYPERLINK(\"http://x\")", KL), ("+1", KL), ("-1", KL), ("@SUM(A1)", KL), ("\tx", KL),
               ("\rx", KL), ("nul\x00id", "d\x00"), ("n", NAN_ANSWER)]
    src = write(tmp_path / "answers.csv", hostile)
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv"), "--workers", "1"]) == 0
    raw = (tmp_path / "o.csv").read_text(encoding="utf-8")
    assert "\x00" not in raw
    out = read(tmp_path / "o.csv")
    ids = [r["id"] for r in out]
    assert ids[:6] == ["'=HYPERLINK(\"http://x\")", "'+1", "'-1", "'@SUM(A1)", "'\tx", "\\x0dx"]  # CR escaped
    assert ids[6] == "nul\\x00id" and "\\x00" in out[6]["message"]
    for r in out:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), r
    assert _strict_loads(out[7]["counterexample"])["student"] == "NaN"


def test_exit_code_says_when_an_answer_hit_an_internal_error(tmp_path, capsys, monkeypatch):
    from checkers.grading import isolation
    from checkers.grading.result import invalid

    real = isolation.grade_in_process

    def buggy(problem, answer, **kw):
        if answer == "BUG":
            return invalid("kl-gaussian", answer, "internal error while grading (a bug): boom", cause="internal error",
                           internal=True)
        return real(problem, answer, **kw)

    monkeypatch.setattr(isolation, "grade_in_process", buggy)
    src = write(tmp_path / "answers.csv", [("a", KL), ("b", "BUG")])
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv"), "--workers", "1"]) == 3
    assert "1 answers hit an internal error of the grader" in capsys.readouterr().err
    assert [r["verdict"] for r in read(tmp_path / "o.csv")] == ["correct", "invalid"]  # the outputs are written


def test_text_output_escapes_control_characters(capsys):
    assert main(["grade", "kl-gaussian", "d\x1b[2J\x00", "--no-symbolic"]) == 2  # a terminal escape in the answer
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x00" not in out and "\\x1b" in out


def test_a_huge_answer_on_standard_input_is_not_read_whole(monkeypatch, capsys):
    import io

    class Endless(io.StringIO):
        def read(self, size=-1):
            assert size is not None and 0 < size <= 10_000, f"stdin read without a bound (size={size})"
            return "d+" * (size // 2 + 1)

    monkeypatch.setattr("sys.stdin", Endless())
    assert main(["grade", "kl-gaussian", "-", "--no-symbolic"]) == 2
    assert "longer than 2000 characters" in capsys.readouterr().out


def test_a_quote_left_open_is_an_error_naming_its_line_not_a_swallowed_class(tmp_path, capsys, monkeypatch):
    _no_pool(monkeypatch)
    src = tmp_path / "answers.csv"
    src.write_text('id,answer\na,d\nb,"d/2\nc,d\nd,2d\ne,3d\n', encoding="utf-8")
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "never closed" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.csv").exists()
    src.write_text('id,answer\na,d\nb,"d"/2\nc,d\n', encoding="utf-8")  # text after a closing quote
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "line 3" in err and "after the closing quote" in err, err


def test_rows_with_too_many_or_too_few_cells_are_their_rows_invalid_verdicts(tmp_path):
    from checkers.grading.bulk import read_answers

    src = tmp_path / "answers.csv"
    src.write_text("id,answer\na,\\frac{1}{2}(d, d)\nb,d\nc\n\nd,d,\n", encoding="utf-8")
    rows = read_answers(src)
    assert [(r.id, r.line) for r in rows] == [("a", 2), ("b", 3), ("c", 4), ("d", 6)]
    assert "line 2 has 3 cells" in rows[0].refused and "quote" in rows[0].refused
    assert rows[1].refused is None and rows[1].answer == "d"
    assert "line 4 has no answer" in rows[2].refused
    assert "line 6 has 3 cells" in rows[3].refused


def test_a_file_over_the_row_cap_is_refused_while_it_is_read(tmp_path, capsys, monkeypatch):
    from checkers.grading import bulk

    _no_pool(monkeypatch)
    monkeypatch.setattr(bulk, "MAX_ROWS", 50)
    src = tmp_path / "answers.csv"
    src.write_text("id,answer\n" + "1,d\n" * 51, encoding="utf-8")
    assert main(["grade", "kl-gaussian", "--csv", str(src), "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert "more than 50 answers (line 52 is answer 51)" in err and "split the class" in err, err
    src.write_text("id,answer\n" + "1,d\n" * 50, encoding="utf-8")
    assert len(bulk.read_answers(src)) == 50


def test_the_grading_process_keeps_a_few_hundred_bytes_a_row_not_every_result(tmp_path, monkeypatch):
    """Results stay in the journal; the parent keeps each row and a 9-byte ledger entry (allocations counted by
    tracemalloc, so the figure does not depend on the machine's load)."""
    import tracemalloc

    from checkers import grade
    from checkers.grading import bulk

    result = grade("kl-gaussian", "d", symbolic=False).to_json()  # incorrect, with a counterexample
    monkeypatch.setattr(bulk, "GradingPool", instant_pool(result))
    rows = 10_000
    src = tmp_path / "answers.csv"
    src.write_text("id,answer\n" + "1,d\n" * rows, encoding="utf-8")
    tracemalloc.start()
    try:
        summary = grade_csv("kl-gaussian", src, tmp_path / "o.csv", workers=1, progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.counts["incorrect"] == rows and len(read(tmp_path / "o.csv")) == rows
    assert peak / rows < 1200, f"{peak / rows:.0f} bytes a row at the peak"


def test_bytes_that_are_not_utf8_never_reach_the_output(capsys, monkeypatch):
    """An answer given as bytes that are not UTF-8 ($'d\\xff' in a shell) is invalid, and the output (JSON or text)
    is valid UTF-8 that shows the byte as \\xff."""
    import io

    for extra in (["--json"], []):
        assert main(["grade", "kl-gaussian", "d\udcff", "--no-symbolic", *extra]) == 2, extra
        out = capsys.readouterr().out
        out.encode("utf-8")  # strict: a lone surrogate (a raw 0xff byte on the terminal) would raise here
        assert "not UTF-8" in out and "byte 0xff at character 2" in out, out
    doc = json.loads(main(["grade", "kl-gaussian", "d\udcff", "--json"]) and capsys.readouterr().out)
    assert doc["verdict"] == "invalid" and doc["answer"] == "d\\xff"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"d\xff"), encoding="utf-8"))  # strict decoding
    assert main(["grade", "kl-gaussian", "-", "--no-symbolic"]) == 2
    out = capsys.readouterr().out
    out.encode("utf-8")
    assert "not UTF-8" in out and "0xff" in out


def test_check_steps_refuses_a_derivation_that_is_not_utf8_on_standard_input(capsys, monkeypatch):
    import io

    # As in the C locale, where Python reads standard input with surrogateescape: the raw byte arrives as text.
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"&= d\xff \\\\\n&= d"), encoding="utf-8",
                                                      errors="surrogateescape"))
    assert main(["check-steps", "kl-gaussian", "-", "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "not UTF-8" in captured.err and "0xff" in captured.err, captured
