"""The student-hw6 transcription: every problem is graded or says why not, and each named mistake is the whole error."""

import re

import pytest

from checkers import grade
from proofs.student_hw6_answers import ANSWERS, NOT_GRADED, RUBRIC_GRADED

SUBMISSION_PROBLEMS = (1, 2, 3, 4, 5, 6)  # the submission's own numbering (its headings "Problem 1." .. "Problem 6.")


def _grade(problem: str, answer: str):
    return grade(problem, answer, symbolic=False, isolate=False, time_limit=20.0)


def _number(where: str) -> int:
    match = re.match(r"Problem (\d)", where)
    assert match, f"where does not start with the submission's problem number: {where!r}"
    return int(match.group(1))


def test_every_problem_of_the_submission_is_graded_or_says_why_not():
    graded = {_number(a.where) for a in ANSWERS}
    by_rubric = {_number(r.where) for r in RUBRIC_GRADED}
    skipped = {_number(where) for where, _ in NOT_GRADED}
    assert graded | by_rubric | skipped == set(SUBMISSION_PROBLEMS)
    assert not (graded | by_rubric) & skipped
    assert all(len(why) > 40 for _, why in NOT_GRADED)


def test_a_rubric_grade_gives_a_reason_for_every_mark_and_never_more_than_the_points():
    for grade_ in RUBRIC_GRADED:
        assert grade_.items and grade_.question
        for item in grade_.items:
            assert 0 <= item.awarded <= item.points and item.criterion and item.reason
            if item.awarded < item.points:  # a lost mark says what is wrong and what it should be
                assert "should" in item.reason, item.reason


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: a.problem)
def test_an_answer_names_mistakes_exactly_when_the_grader_finds_it_wrong(answer):
    verdict = _grade(answer.problem, answer.answer).verdict
    assert verdict == ("incorrect" if answer.mistakes else "correct"), answer.where
    for mistake in answer.mistakes:
        assert mistake.term and mistake.correct and mistake.why
        assert "row" in mistake.first_appears and "seed line" not in mistake.first_appears  # a TA's words
    for note in (*answer.remarks, *answer.uncertain):  # plain prose: printed as it is
        assert "$" not in note and "\\" not in note, note


DENSITY_FIXED = r"\frac{1}{\sqrt{(2\pi)^{n} \det(\Sigma)}} \exp\{-\frac{1}{2}(x - b)^{T} \Sigma^{-1}(x - b)\}"
KL_TERMS = {  # the three named mistakes, each as (as written, corrected)
    "ratio": (r"\frac{\det \Sigma_{0}}{\det \Sigma_{1}}", r"\frac{\det \Sigma_{1}}{\det \Sigma_{0}}"),
    "trace": (r"- tr(\Sigma_{1}^{-1})", r"- d"),
    "quadratic": (r"+ tr(\Sigma_{1}^{-1}\Sigma_{0})",
                  r"+ tr(\Sigma_{1}^{-1}\Sigma_{0}) + (\mu_1 - \mu_0)^T \Sigma_1^{-1} (\mu_1 - \mu_0)"),
}


def _kl_fixed(*which: str) -> str:
    (kl,) = [a for a in ANSWERS if a.problem == "kl-gaussian"]
    text = kl.answer
    for name in which:
        written, corrected = KL_TERMS[name]
        assert text.count(written) == 1, name
        text = text.replace(written, corrected)
    return text


def test_the_density_is_right_once_its_one_mistake_is_fixed():
    (density,) = [a for a in ANSWERS if a.problem == "gaussian-density"]
    assert len(density.mistakes) == 1 and "sqrt" in density.mistakes[0].correct
    assert _grade("gaussian-density", DENSITY_FIXED).verdict == "correct"


def test_the_kl_is_right_once_its_three_mistakes_are_fixed_and_each_fix_is_needed():
    (kl,) = [a for a in ANSWERS if a.problem == "kl-gaussian"]
    assert len(kl.mistakes) == len(KL_TERMS) == 3
    assert _grade("kl-gaussian", _kl_fixed(*KL_TERMS)).verdict == "correct"
    for left_out in KL_TERMS:
        others = [name for name in KL_TERMS if name != left_out]
        assert _grade("kl-gaussian", _kl_fixed(*others)).verdict == "incorrect", left_out
