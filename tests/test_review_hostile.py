"""`proofcheck review` on hostile submissions: a 5 MB file, 10,000 displays, \\input{/etc/passwd}, \\write18,
unbalanced braces, bytes that are not UTF-8, and a line that hangs or crashes the reader. Every line gets its own
limits, the other lines are still reviewed, nothing is executed, and the exit code says what happened."""

from __future__ import annotations

import json
import os
import shutil
import signal
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.review import review

KL = (r"\frac12\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^T\Sigma_1^{-1}(\mu_1-\mu_0) - d + "
      r"\log\frac{\det\Sigma_1}{\det\Sigma_0}\right)")


def _by_line(doc: dict) -> dict[int, dict]:
    return {e["line"]: e for e in doc["lines"]}


def test_a_5_mb_file_is_reviewed_in_proportion_to_its_size(tmp_path):
    path = tmp_path / "big.md"
    filler = "The argument goes on in words. " * 40 + "\n"
    huge_display = "$$" + "x + " * 600_000 + "x$$\n"  # 2.4 MB in one display
    text = "## Problem 5\n\n$$D_{KL} = " + KL + "$$\n\n" + huge_display + filler * (2_600_000 // len(filler))
    path.write_text(text)
    assert path.stat().st_size > 5_000_000
    started = time.perf_counter()
    doc = review(path, "hw6-2021", time_limit=2.0)
    elapsed = time.perf_counter() - started
    by_line = _by_line(doc)
    assert by_line[3]["verdict"] == "label"  # the answer line is reviewed ...
    assert {a["problem"]: a["verdict"] for a in doc["answers"]}["kl-gaussian"] == "correct"
    assert by_line[5]["verdict"] == "unread"  # ... the huge one is not read
    assert "over the grader's limit" in by_line[5]["message"]
    print(f"5 MB submission reviewed in {elapsed:.1f} s")


def test_10000_displays_are_listed_and_the_cap_on_checked_lines_is_reported(tmp_path):
    path = tmp_path / "many.md"
    path.write_text("## Problem 5\n" + "".join(f"$$d = {i}$$\n" for i in range(10_000)))
    doc = review(path, "hw6-2021", max_lines=40)
    assert len(doc["lines"]) == 10_000 and [e["line"] for e in doc["lines"]] == list(range(2, 10_002))
    capped = [e for e in doc["lines"] if e["message"].startswith("not checked")]
    assert len(capped) == 10_000 - 40 and "the review checks the first 40" in capped[0]["message"]
    assert any("10,000 display lines; the first 40 were checked" in n for n in doc["notes"])
    assert all(e["verdict"] in ("label", "follows", "unread") for e in doc["lines"][:40])


def test_tex_commands_are_text_never_run_or_read(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.tex"
    path.write_text("\\section*{Problem 5}\n\\input{/etc/passwd}\n\\include{/etc/shadow}\n"
                    f"\\immediate\\write18{{touch {marker}}}\n"
                    f"\\[ D = \\input{{/etc/passwd}} \\write18{{touch {marker}}} \\]\n"
                    f"\\[ \\boxed{{{KL}}} \\]\n")
    from checkers.cli import main
    from checkers.review.render import render_html

    doc = review(path, "hw6-2021")
    assert not marker.exists()
    page = render_html(doc, path.read_text().split("\n"))
    assert "root:" not in json.dumps(doc) and "root:" not in page
    by_line = _by_line(doc)
    assert by_line[5]["verdict"] == "unread"
    assert {a["problem"]: (a["line"], a["verdict"]) for a in doc["answers"]}["kl-gaussian"] == (6, "correct")
    assert main(["review", str(path), "--set", "hw6-2021", "--out", str(tmp_path)]) == 1  # other problems missing
    assert not marker.exists() and "root:" not in (tmp_path / "evil-review.html").read_text()


def test_unbalanced_braces_and_bytes_that_are_not_utf8_cost_only_their_own_lines(tmp_path):
    path = tmp_path / "broken.md"
    path.write_bytes(b"## Problem 5\n\n$$D_{KL} = \\frac{1}{2 = \\left( d \xff\xfe$$\n\n$$\\}}}{{{ = ($$\n\n"
                     b"$$D_{KL} = \\boxed{" + KL.encode() + b"}$$\n\n## Problem 2\n\\begin{align*} x &= {\n")
    doc = review(path, "hw6-2021")
    by_line = _by_line(doc)
    assert by_line[3]["verdict"] in ("unread", "label") and by_line[5]["verdict"] in ("unread", "label")
    assert all(e["verdict"] != "wrong" for e in doc["lines"])
    assert {a["problem"]: (a["line"], a["verdict"]) for a in doc["answers"]}["kl-gaussian"] == (7, "correct")
    assert any("2 byte(s) of the file are not UTF-8" in n for n in doc["notes"])


def test_a_line_that_hangs_or_crashes_the_reader_costs_only_itself(tmp_path, monkeypatch):
    from checkers.grading import steps

    real = steps.parse_answer

    def hostile(problem, text):
        if "HANG" in text:
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            while True:
                pass
        if "CRASH" in text:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(problem, text)

    monkeypatch.setattr(steps, "parse_answer", hostile)  # the forked workers inherit the patch
    path = tmp_path / "hang.md"
    path.write_text("## Problem 5\n\n"
                    f"$$D_{{KL}} = {KL}$$\n\n$$= HANG$$\n\n$$= CRASH$$\n\n"
                    f"$$= \\frac12\\operatorname{{tr}}(\\Sigma_1^{{-1}}\\Sigma_0) + "
                    f"\\frac12(\\mu_1-\\mu_0)^T\\Sigma_1^{{-1}}"
                    f"(\\mu_1-\\mu_0) - \\frac{{d}}{{2}} + \\frac12\\log\\frac{{\\det\\Sigma_1}}{{\\det\\Sigma_0}}$$\n")
    doc = review(path, "hw6-2021", time_limit=1.0)
    by_line = _by_line(doc)
    assert by_line[5]["verdict"] == "unread" and "ran past the time limit of 1 s" in by_line[5]["message"]
    assert by_line[7]["verdict"] == "unread" and "crashed" in by_line[7]["message"]
    assert by_line[9]["verdict"] == "follows" and by_line[9]["compared_with_line"] == 3
    assert {a["problem"]: (a["line"], a["verdict"]) for a in doc["answers"]}["kl-gaussian"] == (9, "correct")


def test_a_file_too_large_or_absent_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from checkers.cli import main
    from checkers.review import document

    path = tmp_path / "s.md"
    path.write_text("x" * 2000)
    monkeypatch.setattr(document, "MAX_BYTES", 1000)
    assert main(["review", str(path), "--set", "hw6-2021"]) == 2
    assert main(["review", str(tmp_path), "--set", "hw6-2021"]) == 2


@pytest.mark.parametrize("bad", ["[1", '[{"line": "x"}]', '{"a": 1}',
                                 '[{"line": 1, "problem": "nope", "reading": "x"}]'])
def test_a_bad_readings_file_is_a_usage_error(tmp_path, bad):
    from checkers.cli import main

    submission = tmp_path / "s.md"
    submission.write_text("## Problem 5\n$$d$$\n")
    readings = tmp_path / "r.json"
    readings.write_text(bad)
    assert main(["review", str(submission), "--set", "hw6-2021", "--readings", str(readings)]) == 2


def test_deeply_nested_and_exploding_displays_cost_only_their_own_lines(tmp_path):
    path = tmp_path / "deep.md"
    path.write_text("## Problem 5\n\n$$D = " + "{" * 900 + "d" + "}" * 900 + "$$\n\n$$= " + "\\frac{1}{" * 300 + "d"
                    + "}" * 300 + "$$\n\n$$= d^{d^{d^{d^{d^{d^{d}}}}}}$$\n\n$$" + "(" * 5000 + "$$\n\n"
                    f"$$D = \\boxed{{{KL}}}$$\n")
    doc = review(path, "hw6-2021", time_limit=1.0)
    by_line = _by_line(doc)
    assert [by_line[n]["verdict"] for n in (3, 5, 9)] == ["unread"] * 3
    assert "over the grader's limit of 2,000" in by_line[5]["message"] and "5,000 characters" in by_line[9]["message"]
    assert all(e["verdict"] != "wrong" for e in doc["lines"])
    assert {a["problem"]: (a["line"], a["verdict"]) for a in doc["answers"]}["kl-gaussian"] == (11, "correct")


@pytest.mark.skipif(not (shutil.which("latexmk") and shutil.which("pdflatex")),
                    reason="latexmk/pdflatex not installed")
def test_the_pdf_is_typeset_with_shell_escape_off_and_nothing_outside_its_folder_read(tmp_path):
    from checkers.review.pdf import build_pdf

    marker = tmp_path / "ran"
    write18 = tmp_path / "write18.tex"
    write18.write_text("\\documentclass{article}\n\\begin{document}\nHello $x^2$.\n"
                       f"\\immediate\\write18{{touch {marker}}}\n\\end{{document}}\n")
    result = build_pdf(write18, tmp_path)
    assert not marker.exists()
    assert result.path == tmp_path / "write18.pdf" and result.path.read_bytes().startswith(b"%PDF")
    openout = tmp_path / "openout.tex"
    openout.write_text("\\documentclass{article}\n\\begin{document}\n"
                       f"\\immediate\\openout5={tmp_path}/written.txt\n\\immediate\\write5{{x}}\n\\end{{document}}\n")
    result = build_pdf(openout, tmp_path)
    assert result.path is None and "can't write" in result.message and not (tmp_path / "written.txt").exists()
    passwd = tmp_path / "passwd.tex"
    passwd.write_text("\\documentclass{article}\n\\begin{document}\n\\input{/etc/passwd}\n\\end{document}\n")
    result = build_pdf(passwd, tmp_path)
    assert result.path is None and "/etc/passwd" in result.message and not (tmp_path / "passwd.pdf").exists()


def test_a_checker_bug_on_one_line_is_exit_code_3_and_the_rest_is_still_reviewed(tmp_path, monkeypatch):
    from checkers.grading import steps
    from checkers.review.cli import exit_code

    real = steps.parse_answer

    def buggy(problem, text):
        if "BUG" in text:
            raise KeyError("a bug in the reader")
        return real(problem, text)

    monkeypatch.setattr(steps, "parse_answer", buggy)
    path = tmp_path / "bug.md"
    path.write_text(f"## Problem 5\n\n$$D = BUG$$\n\n$$D = \\boxed{{{KL}}}$$\n")
    doc = review(path, "hw6-2021", time_limit=2.0)
    by_line = _by_line(doc)
    assert by_line[3]["internal_error"] and "internal error" in by_line[3]["message"]
    assert by_line[3]["verdict"] == "unread"
    assert {a["problem"]: a["verdict"] for a in doc["answers"]}["kl-gaussian"] == "correct"
    assert doc["internal_error"] and exit_code(doc) == 3


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="$\\{}[]()&=_^%`\n abxP0123456789.-+", max_size=300))
def test_any_text_is_read_into_displays_and_chains_without_error(text):
    from checkers.review.chains import build_chains
    from checkers.review.document import parse_submission

    for tex in (False, True):
        submission = parse_submission("## Problem 1\n" + text, tex=tex)
        total = len(submission.lines)
        for display in submission.displays:
            assert 1 <= display.first_line <= display.last_line <= total
            assert all(display.first_line <= row.line <= display.last_line for row in display.rows)
        for chain in build_chains(submission):
            assert chain.links and all(1 <= link.line <= total and link.text for link in chain.links)
