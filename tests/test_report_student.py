"""The student-hw6 report grades the submission's transcribed answers: they parse, the real mistakes are found."""

import re
import xml.etree.ElementTree as ET

import pytest

from checkers import grade
from checkers.reporting.build import BuildOptions, build_reports
from proofs import student_hw6_answers
from proofs.gaussian_change_of_variables import DERIVATIONS
from proofs.student_hw6_answers import ALTERNATIVE_READINGS, ANSWERS

GAUSSIAN = DERIVATIONS[0]


def _grade(answer):
    return grade(answer.problem, answer.answer, symbolic=False, isolate=False, time_limit=20.0)


@pytest.fixture(scope="module")
def graded():
    return {answer: _grade(answer) for answer in ANSWERS}


def test_module_is_data_not_derivations():
    assert not hasattr(student_hw6_answers, "DERIVATIONS")  # the registry collects nothing from it
    assert {a.problem for a in ANSWERS} >= {"gaussian-density", "kaiming-variance", "bn-fold-weight",
                                            "bn-fold-bias", "kl-gaussian"}
    # one numbering: the student's problem number with the set's in parentheses, and no line numbers of the scan
    numbering = re.compile(r"^Problem \d+(\([a-z]\))? \((set Problem \d+(\([a-z]\))?|not in the set[^)]*)\)")
    assert all(numbering.match(a.where) and "seed line" not in a.where for a in ANSWERS)
    assert all(numbering.match(r.where) for r in student_hw6_answers.RUBRIC_GRADED)


def test_every_transcribed_answer_is_read_by_the_grader(graded):
    for answer, result in graded.items():
        assert result.verdict != "invalid", (answer.where, result.message)
        assert not result.internal_error


def test_missing_square_root_density_is_incorrect_with_the_square_root_misconception(graded):
    (density,) = [a for a in ANSWERS if a.problem == "gaussian-density"]
    result = graded[density]
    assert result.verdict == "incorrect"
    assert "no-square-root" in [f.id for f in result.feedback]
    assert "square root is missing" in result.message
    assert result.counterexample["student"] != pytest.approx(result.counterexample["reference"])


def test_kl_verdict_does_not_rest_on_the_ambiguous_ocr_reading(graded):
    readings = [a for a in (*ANSWERS, *ALTERNATIVE_READINGS) if a.problem == "kl-gaussian"]
    assert len(readings) >= 2
    for reading in readings:  # det ratio inverted and mean term missing under every reading
        assert _grade(reading).verdict == "incorrect", reading.where


def test_literal_density_reading_is_unreadable_which_is_why_it_was_not_chosen():
    (literal,) = [a for a in ALTERNATIVE_READINGS if a.problem == "gaussian-density"]
    result = _grade(literal)
    assert result.verdict == "invalid" and "row vector" in result.message


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    options = BuildOptions(out_dir=root / "out", sets=("hw6-2021", "student-hw6"), formats=("html", "tex"),
                           derivations=(GAUSSIAN,), devices=("cpu",), instances=40, cache_dir=root / "cache")
    return options, build_reports(options)


def _html(path) -> ET.Element:
    return ET.fromstring(re.sub(r"^<!DOCTYPE html>", "", path.read_text(encoding="utf-8")))


def test_student_html_has_the_graded_section(built, graded):
    options, outcome = built
    assert outcome.passed
    page = _html(options.out_dir / "student-hw6.html")
    (section,) = [s for s in page.iter("section") if s.get("id") == "graded-answers"]
    assert "".join(section.find("h2").itertext()) == "The submitted answers, graded"
    blocks = [s for s in section.iter("section") if s.get("class") == "claim"]
    assert len(blocks) == len(ANSWERS)
    for block, answer in zip(blocks, ANSWERS):
        result = graded[answer]
        text = " ".join("".join(block.itertext()).split())
        verdicts = [s for s in block.iter("span") if "status" in s.get("class", "").split()]
        assert verdicts and verdicts[0].text == result.verdict
        assert verdicts[0].get("class").split()[-1] == {"correct": "ok", "incorrect": "fail"}[result.verdict]
        assert answer.problem not in text  # the grader's ids are not a TA's words
        assert text.count(result.verdict) >= 1 and f"{result.verdict}. {result.verdict}" not in text.lower()
        maths = list(block.iter("{http://www.w3.org/1998/Math/MathML}math")) or list(block.iter("math"))
        assert maths, "the submitted formula is shown as MathML"
        assert text.count("Counterexample") == (result.verdict == "incorrect")  # shown once
        assert "seed line" not in text
    assert "graded-answers" not in (options.out_dir / "hw6-2021.html").read_text(encoding="utf-8")


def test_student_html_says_each_feedback_sentence_once(built, graded):
    options, _ = built
    page = _html(options.out_dir / "student-hw6.html")
    (section,) = [s for s in page.iter("section") if s.get("id") == "graded-answers"]
    blocks = [s for s in section.iter("section") if s.get("class") == "claim"]
    sentences = 0
    for block, answer in zip(blocks, ANSWERS):
        text = " ".join("".join(block.itertext()).split()).lower()
        for f in graded[answer].feedback:
            sentences += 1
            assert text.count(" ".join(f.message.split()).lower()) == 1, (answer.where, f.message)
    assert sentences >= 1  # the missing square root is named


def test_student_tex_has_the_graded_section_escaped(built, graded):
    options, _ = built
    tex = (options.out_dir / "student-hw6.tex").read_text(encoding="utf-8")
    assert r"\section{The submitted answers, graded}" in tex
    assert "student" + r"\_\allowbreak{}hw6" not in tex  # no module names
    graded_part = tex.split(r"\section{The submitted answers, graded}")[1].split(r"\section")[0]
    assert graded_part.count(r"\subsection{Problem") == len(ANSWERS) + len(student_hw6_answers.RUBRIC_GRADED)
    assert r"\section{The submitted answers, graded}" not in (options.out_dir / "hw6-2021.tex").read_text()


def test_student_page_says_what_is_wrong_where_and_grades_the_arguments_by_rubric(built):
    from proofs.student_hw6_answers import NOT_GRADED, RUBRIC_GRADED

    options, _ = built
    page = _html(options.out_dir / "student-hw6.html")
    text = " ".join("".join(page.itertext()).split())
    for answer in ANSWERS:
        for mistake in answer.mistakes:
            assert f"First appears in {' '.join(mistake.first_appears.split())}" in text or \
                "First appears in" in text  # the line may contain math, rendered
        assert (answer.uncertain == ()) or "Reading the handwriting:" in text
    assert sum(len(a.mistakes) for a in ANSWERS) == text.count("First appears in")
    rubric = [s for s in page.iter("section") if (s.get("id") or "").startswith("rubric-")]
    assert len(rubric) == len(RUBRIC_GRADED)
    for block, item in zip(rubric, RUBRIC_GRADED):
        block_text = " ".join("".join(block.itertext()).split())
        awarded, points = sum(i.awarded for i in item.items), sum(i.points for i in item.items)
        assert f"{awarded:g} of {points:g} marks" in block_text
        assert len(list(block.iter("li"))) == len(item.items)  # every criterion with its marks and reason
    assert not NOT_GRADED or [s for s in page.iter("section") if s.get("id") == "not-graded"]
