"""The course's own checks: every claim verifies, the grader accepts the reference and names the misconception."""

import pytest

from checkers import grade, verify
from checkers.registry import select

def test_every_claim_verifies_and_every_mutant_is_rejected():
    derivations, _ = select(["softplus-derivative"])
    run = verify(derivations, seed=0, devices=["cpu"])
    assert run.passed, run


@pytest.mark.parametrize("answer", [r"\frac{1}{1 + e^{-x}}", r"\frac{e^x}{1 + e^x}", r"\sigma(x)"])
def test_right_answers_are_correct(answer):
    assert grade("softplus-derivative", answer, isolate=False).verdict == "correct"


def test_the_misconception_is_named():
    result = grade("softplus-derivative", r"\frac{1}{1 + e^{x}}", isolate=False)
    assert result.verdict == "incorrect"
    assert "inner derivative" in result.message
