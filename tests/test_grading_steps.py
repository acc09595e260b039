r"""check-steps: a student's align* derivation checked line by line, then its last line against the reference."""

import json

import pytest

from checkers.cli import main
from checkers.grading import check_steps
from checkers.grading.steps import split_derivation

GOOD = r"""
\begin{align*}
D_{\mathrm{KL}}(p_0 \| p_1)
  &= \frac12 \log\frac{\det\Sigma_1}{\det\Sigma_0} - \frac12\operatorname{tr}(\Sigma_0^{-1}\Sigma_0)
     + \frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_0-\mu_1)^\top\Sigma_1^{-1}(\mu_0-\mu_1)\right) \\
  &= \frac12 \log\frac{\det\Sigma_1}{\det\Sigma_0} - \frac{d}{2}
     + \frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)\right)
     \quad \text{(since $\Sigma_0^{-1}\Sigma_0 = I_d$)} \label{eq:kl} \\
  &= \frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d
     + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)
\end{align*}
"""


def test_split_lines_drops_remarks_and_left_hand_sides():
    lines = split_derivation(GOOD)
    assert len(lines) == 3
    assert not any("D_" in line or "label" in line or "since" in line for line in lines)
    assert split_derivation(r"a &= b \\ &= c \\ &\quad + d \\ &= e") == ["b", "c + d", "e"]
    broken = split_derivation(r"f(x) &= \frac{1}{2}\left(x \\ &\qquad + y\right) \\ &= z \label{a}")
    assert [line.split() for line in broken] == [[r"\frac{1}{2}\left(x", "+", r"y\right)"], ["z"]]


def test_matrix_environments_keep_their_entries_and_rows():
    text = r"a &= \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix} \\ &= \left|\begin{vmatrix} b & 0 \\ 0 & c \end{vmatrix}\right| \\ &= d"
    assert split_derivation(text) == [r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
                                      r"\left|\begin{vmatrix} b & 0 \\ 0 & c \end{vmatrix}\right|", "d"]


def test_a_determinant_written_as_a_matrix_is_read_as_one():
    # |d 0; 1 1| = d, so the step from "- d" to "- vmatrix" is valid; reading it row-merged (d^2, or garbage) is not.
    last = GOOD.split(r"\end{align*}")[0].rsplit("&=", 1)[1]
    as_matrix = last.replace("- d", r"- \begin{vmatrix} d & 0 \\ 1 & 1 \end{vmatrix}")
    wrong = last.replace("- d", r"- \begin{vmatrix} d & 0 \\ 0 & d \end{vmatrix}")
    doc = check_steps("kl-gaussian", f"D &= {last} \\\\ &= {as_matrix} \\\\ &= {last}", isolate=False)
    assert [s["valid"] for s in doc["steps"]] == [True, True], doc
    doc = check_steps("kl-gaussian", f"D &= {last} \\\\ &= {wrong} \\\\ &= {last}", isolate=False)
    assert [s["valid"] for s in doc["steps"]] == [False, False] and doc["first_invalid"] == 2, doc


def test_a_correct_derivation():
    doc = check_steps("kl-gaussian", GOOD, isolate=False)
    assert [s["line"] for s in doc["steps"]] == [2, 3]
    assert all(s["valid"] for s in doc["steps"]) and doc["first_invalid"] is None
    assert doc["final"]["verdict"] == "correct" and doc["verdict"] == "correct"


def test_first_invalid_line_is_found():
    bad = GOOD.replace(r"- \frac{d}{2}", r"- \frac{1}{2}")  # tr(I_d) taken as 1 on line 2
    doc = check_steps("kl-gaussian", bad, isolate=False)
    assert [s["valid"] for s in doc["steps"]] == [False, False]
    assert doc["first_invalid"] == 2
    assert doc["steps"][0]["counterexample"]["instance"]["d"] == 2
    assert doc["final"]["verdict"] == "correct"  # the last line is right, the reasoning to it is not


def test_unreadable_line_is_invalid():
    bad = GOOD.replace(r"- \frac{d}{2}", r"- \frac{d}{2} + \Sigma_7")
    doc = check_steps("kl-gaussian", bad, isolate=False)
    assert doc["first_invalid"] == 2 and "unknown symbol \\Sigma_7" in doc["steps"][0]["message"]
    assert doc["steps"][1]["valid"] is True  # line 3 is compared with line 1, the last readable one


def test_wrong_final_line():
    text = GOOD.replace(r"\log\frac{\det\Sigma_1}{\det\Sigma_0}\right)", r"\log\frac{\det\Sigma_0}{\det\Sigma_1}\right)")
    doc = check_steps("kl-gaussian", text)  # isolated worker
    assert doc["first_invalid"] == 3 and doc["verdict"] == "incorrect"
    assert doc["final"]["feedback"][0]["id"] == "det-ratio-inverted"


def test_cli_json_and_exit_codes(tmp_path, capsys):
    good = tmp_path / "good.tex"
    good.write_text(GOOD)
    assert main(["check-steps", "kl-gaussian", str(good), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["first_invalid"] is None and all({"line", "valid"} <= set(s) for s in doc["steps"])
    bad = tmp_path / "bad.tex"
    bad.write_text(GOOD.replace(r"- \frac{d}{2}", r"- \frac{1}{2}"))
    assert main(["check-steps", "kl-gaussian", str(bad), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["first_invalid"] == 2
    assert main(["check-steps", "kl-gaussian", str(tmp_path / "missing.tex")]) == 2


# --- issue 11: each line under its own limits, every line reported even when one is hostile ---

FOUR = r"""
D &= \frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right) \\
  &= HANG \\
  &= CRASH \\
  &= \frac12\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + \frac12(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - \frac{d}{2} + \frac12\log\frac{\det\Sigma_1}{\det\Sigma_0}
"""


def test_a_hanging_or_crashing_line_costs_only_itself(monkeypatch):
    import os
    import signal

    from checkers.grading import steps

    real = steps.parse_answer

    def hostile(problem, text):
        if text.strip() == "HANG":
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        if text.strip() == "CRASH":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(problem, text)

    monkeypatch.setattr(steps, "parse_answer", hostile)  # forked workers inherit the patch
    doc = check_steps("kl-gaussian", FOUR, time_limit=1.0)
    assert [line["line"] for line in doc["lines"]] == [1, 2, 3, 4]
    assert doc["lines"][0]["parsed"] and doc["lines"][3]["parsed"]
    assert "ran past the time limit of 1 s" in doc["lines"][1]["message"]
    assert "crashed" in doc["lines"][2]["message"]
    assert [s["valid"] for s in doc["steps"]] == [False, False, True]  # line 4 is compared with line 1
    assert doc["steps"][2]["message"].startswith("equals line 1")
    assert doc["first_invalid"] == 2 and doc["verdict"] == "correct"


def test_the_time_limit_is_per_line(monkeypatch):
    import time

    from checkers.grading import steps

    real = steps.parse_answer

    def slow(problem, text):
        if text.strip() == "HANG":
            time.sleep(30)
        return real(problem, text)

    monkeypatch.setattr(steps, "parse_answer", slow)
    doc = check_steps("kl-gaussian", FOUR.replace("CRASH", r"\frac{d}{2}"), time_limit=1.0, isolate=False)
    assert "reading this line ran past the time limit of 1 s" in doc["lines"][1]["message"]
    assert doc["lines"][2]["parsed"] and doc["lines"][3]["parsed"]  # the lines after the slow one are still read
    assert len(doc["steps"]) == 3 and doc["final"]["verdict"] == "correct"


@pytest.mark.parametrize("isolate", [False, True], ids=["in_process", "isolated"])
def test_a_line_that_breaks_the_reader_is_reported_and_the_rest_checked(monkeypatch, isolate):
    from checkers.grading import steps

    real = steps.parse_answer

    def broken(problem, text):
        if "HANG" in text:  # as `int('9' * 5000)` does past Python's 4300-digit limit: a ValueError from deep inside
            raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")
        return real(problem, text)

    monkeypatch.setattr(steps, "parse_answer", broken)
    doc = check_steps("kl-gaussian", FOUR.replace("CRASH", r"\frac{d}{2}"), isolate=isolate)
    assert len(doc["lines"]) == 4 and not doc["lines"][1]["parsed"]
    assert "internal error while reading this line" in doc["lines"][1]["message"]
    assert doc["internal_error"] is True and doc["final"]["verdict"] == "correct"


def test_huge_numbers_in_a_line_never_lose_the_report():
    text = GOOD.replace(r"- \frac{d}{2}", r"- \frac{d}{2} + d^{10^{1000}10^{1000}10^{1000}}")
    doc = check_steps("kl-gaussian", text, isolate=False)
    assert len(doc["lines"]) == 3 and len(doc["steps"]) == 2 and doc["final"]["verdict"] == "correct"


def test_cli_reports_every_line_as_strict_json(tmp_path, capsys):
    path = tmp_path / "d.tex"
    path.write_text(FOUR.replace("HANG", r"\log(-d)").replace("CRASH", r"\Sigma_9"))
    code = main(["check-steps", "kl-gaussian", str(path), "--json", "--time-limit", "1"])
    out = capsys.readouterr().out

    def refuse(token):
        raise AssertionError(f"non-standard JSON token {token}")

    doc = json.loads(out, parse_constant=refuse)
    assert code == 1 and len(doc["lines"]) == 4 and doc["first_invalid"] == 2
    assert main(["check-steps", "kl-gaussian", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
