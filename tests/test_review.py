"""`proofcheck review` on submissions written for it (Markdown and LaTeX, slips planted on known lines), its JSON,
its exit codes, its page in headless Chromium, and the pieces it is built from (headings, rows, chains, arithmetic)."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest

from checkers.review import review
from checkers.review.arithmetic import NotArithmetic, value_of
from checkers.review.chains import build_chains
from checkers.review.document import parse_submission
from checkers.review.locate import name_like

DATA = Path(__file__).parent / "data" / "review"
SUBMISSIONS = ("hw6.md", "hw7.tex", "quiz1.md")
VERDICTS = {"follows", "wrong", "unread", "label"}


def _expected(name: str) -> dict:
    return json.loads((DATA / name).with_suffix(".expected.json").read_text())


@pytest.fixture(scope="module")
def reviews() -> dict[str, dict]:
    return {name: review(DATA / name, _expected(name)["set"]) for name in SUBMISSIONS}


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_every_answer_is_found_on_its_line_with_its_verdict_and_rule(reviews, name):
    expected = _expected(name)["answers"]
    got = {a["problem"]: [a["line"], a["verdict"], a["found_by"]] for a in reviews[name]["answers"]}
    assert got == expected


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_every_planted_slip_is_wrong_on_its_line_and_no_other_line_is(reviews, name):
    expected = _expected(name)
    lines = reviews[name]["lines"]
    assert sorted(e["line"] for e in lines if e["verdict"] == "wrong") == expected["wrong_lines"]
    for entry in lines:
        if entry["verdict"] == "wrong":
            assert entry["counterexample"] and entry["message"].startswith(("does not follow", "this is exactly"))


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_the_line_after_a_slip_says_whether_the_error_is_carried_on(reviews, name):
    expected = _expected(name)
    by_line = {e["line"]: e for e in reviews[name]["lines"]}
    for line in expected["isolated_slips"]:
        assert by_line[line]["after_wrong"] == "isolated slip"
        assert any("isolated" in link["message"] for link in by_line[line]["links"] if link["verdict"] == "follows")
        assert by_line[line]["verdict"] == ("wrong" if line in expected["wrong_lines"] else "follows")
    for line in expected["errors_carried_on"]:
        assert by_line[line]["verdict"] == "follows" and by_line[line]["after_wrong"] == "error carried on"
    marked = {e["line"] for e in reviews[name]["lines"] if e.get("after_wrong")}
    assert marked == set(expected["isolated_slips"]) | set(expected["errors_carried_on"])


def test_labels_and_unknown_symbols_are_never_wrong(reviews):
    by_line = {e["line"]: e for e in reviews["hw6.md"]["lines"]}
    assert by_line[9]["links"][0] == {"text": "W'", "verdict": "label", "problem": "bn-fold-weight",
                                      "message": "W' names the quantity (a label, not a link of the chain)"}
    expectation = by_line[46]  # D_KL = E_X[log p0(X)/p1(X)]: a label, then a formula the grader cannot read
    assert [link["verdict"] for link in expectation["links"]] == ["label", "unread"]
    assert "\\mathbb" in expectation["links"][1]["message"]
    assert by_line[23]["verdict"] == "unread" and "unknown symbol X" in by_line[23]["message"]


@pytest.mark.parametrize("name", SUBMISSIONS)
def test_the_json_has_one_answer_per_gradeable_problem_and_one_entry_per_display_line(reviews, name):
    doc = reviews[name]
    assert doc["set"] == _expected(name)["set"] and doc["file"].endswith(name)
    from checkers.grading.catalog import problems

    in_set = {p.id for p in problems().values() if p.source.startswith(doc["set"] + " ")}
    assert [a["problem"] for a in doc["answers"]] == sorted(in_set, key=[a["problem"] for a in doc["answers"]].index)
    assert {a["problem"] for a in doc["answers"]} == in_set
    text = (DATA / name).read_text().split("\n")
    display_lines = [e["line"] for e in doc["lines"]]
    assert display_lines == sorted(set(display_lines))
    for entry in doc["lines"]:
        assert entry["verdict"] in VERDICTS and entry["message"]
        assert 1 <= entry["line"] <= len(text)
        assert any(ch in text[entry["line"] - 1] for ch in "=$\\") or text[entry["line"] - 1].strip()


def test_each_answer_explains_its_verdict_without_repeating_the_verdict_word(reviews):
    answers = [a for doc in reviews.values() for a in doc["answers"]]
    assert {"correct", "incorrect"} <= {a["verdict"] for a in answers}
    for a in answers:
        assert a["explanation"] and not a["explanation"].lower().startswith(a["verdict"]), a
        assert a["message"].endswith(a["explanation"])  # the message is the verdict word, then the explanation


def test_a_problem_without_an_answer_is_missing_with_no_line(tmp_path):
    path = tmp_path / "short.md"
    path.write_text("## Problem 5\n\n$$D_{KL} = \\frac12(\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0) - d)$$\n")
    doc = review(path, "hw6-2021")
    by_problem = {a["problem"]: a for a in doc["answers"]}
    assert by_problem["kaiming-variance"]["verdict"] == "missing" and by_problem["kaiming-variance"]["line"] is None
    assert by_problem["kl-gaussian"]["line"] == 3 and by_problem["kl-gaussian"]["verdict"] == "incorrect"


def test_the_command_writes_the_page_prints_json_and_exits_with_what_happened(tmp_path, capsys):
    from checkers.cli import main

    code = main(["review", str(DATA / "hw6.md"), "--set", "hw6-2021", "--out", str(tmp_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1  # wrong lines and a wrong answer
    assert {"set", "file", "answers", "lines"} <= set(doc)
    page = (tmp_path / "hw6-review.html").read_text()
    assert "✗" in page and "✓" in page and "for the TA" in page
    assert "<script" not in page and "http://" not in page and "https://" not in page
    clean = tmp_path / "clean.md"
    clean.write_text("## Problem 5\n\n$$\\boxed{\\frac12\\left(\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0) + "
                     "(\\mu_1-\\mu_0)^T\\Sigma_1^{-1}(\\mu_1-\\mu_0) - d + \\log\\frac{\\det\\Sigma_1}{\\det\\Sigma_0}"
                     "\\right)}$$\n")
    assert main(["review", str(clean), "--set", "hw6-2021"]) == 1  # the other four problems are missing
    assert "kl-gaussian" in capsys.readouterr().out
    assert main(["review", str(clean), "--set", "no-such-set"]) == 2
    assert "the sets with gradeable problems are" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "absent.md"), "--set", "hw6-2021"]) == 2


def test_the_page_reads_in_headless_chromium(reviews, tmp_path, browser):
    from checkers.review.render import write_html

    doc = reviews["hw7.tex"]
    page = write_html(doc, (DATA / "hw7.tex").read_text().split("\n"), tmp_path)
    browser.get(page.as_uri())
    marks = browser.execute_script(
        "return Array.from(document.querySelectorAll('li[data-verdict]')).map(li => "
        "[Number(li.dataset.line), li.dataset.verdict, li.querySelector('.mark').textContent])")
    assert {line for line, verdict, _ in marks if verdict == "wrong"} == set(_expected("hw7.tex")["wrong_lines"])
    assert all(mark == "✗" for _, verdict, mark in marks if verdict == "wrong")
    assert any(mark == "✓" for _, _, mark in marks)
    rows = browser.execute_script("return document.querySelectorAll('table.scores tr.answer-row').length")
    assert rows == len(doc["answers"])
    overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors


# --- the pieces ---

def test_headings_are_found_as_the_set_numbers_them():
    text = "\n".join(["\\section*{Problem 3}", "\\subsection*{(a)}", "x", "## Problem 4", "(b) text",
                      "Problem 5(c)", "**(d)** more", "1.4 Problem 6.", "Problem 6."])
    sections = parse_submission(text, tex=True).sections
    assert [(s.problem, s.part, s.first_line) for s in sections] == [
        (3, None, 1), (3, "a", 2), (4, None, 4), (4, "b", 5), (5, "c", 6), (5, "d", 7), (6, None, 8)]
    bare = parse_submission("1. first\n$x = 1$\n2. second\n(a) part\n").sections
    assert [(s.problem, s.part) for s in bare] == [(1, None), (2, None), (2, "a")]


def test_rows_carry_the_line_where_their_formula_ends():
    text = ("intro\n\\begin{align*}\na &= b \\\\\n  &= c\n\\end{align*}\n$$x$$ and $y = 2$ and $z$\n"
            "```\n$$q = 1$$\n```\n")
    submission = parse_submission(text)
    assert [[(r.line, r.text) for r in d.rows] for d in submission.displays] == [
        [(3, "a &= b"), (4, "&= c")], [(6, "x")], [(6, "y = 2")]]  # $z$ states nothing; code holds no math
    markdown = parse_submission("50% of it: $a = 1$\n% not a comment in Markdown: $b = 2$\n")
    tex = parse_submission("50\\% of it: $a = 1$\n% a TeX comment: $b = 2$\n", tex=True)
    assert [d.first_line for d in markdown.displays] == [1, 2] and [d.first_line for d in tex.displays] == [1]


def test_chains_join_rows_and_displays_that_start_with_a_relation():
    text = "## Problem 1\n$$a = b$$\n$$= c \\Rightarrow d = e$$\n$$f \\ge g = h$$\n"
    chains = build_chains(parse_submission(text))
    assert [[(link.relation, link.text, link.line) for link in c.links] for c in chains] == [
        [(None, "a", 2), ("=", "b", 2), ("=", "c", 3)], [(None, "d", 3), ("=", "e", 3)],
        [(None, "f", 4), ("\\ge", "g", 4), ("=", "h", 4)]]


def test_arithmetic_is_exact_bounded_and_never_evaluated():
    assert value_of("105415200 + 55 \\cdot 55 \\cdot 96") == 105415200 + 55 * 55 * 96
    assert value_of("\\frac{3}{4} - 2^{3}") == Fraction(3, 4) - 8
    for text in ("10^{10^{10}}", "x + 1", "__import__('os')", "1" * 41, "2^{99999}", "1/0"):
        with pytest.raises(NotArithmetic):
            value_of(text)


def test_a_label_names_a_quantity_and_a_formula_does_not():
    for label in ("W'", "b'", "p_X(x)", "D_{\\mathrm{KL}}", "\\operatorname{Var}(y_L)", "\\nu_\\beta",
                  "\\frac{\\partial \\nu_\\beta}{\\partial x_k}", "Cov(X, Y)"):
        assert name_like(label), label
    for formula in ("AA^T", "x + y", "\\sum_i x_i", "2 W"):
        assert not name_like(formula), formula
