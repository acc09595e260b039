"""A graded answer keeps its pieces: the message is worded from them, the JSON carries them, old documents load."""

from __future__ import annotations

import math

import pytest

from checkers import grade
from checkers.grading.grader import grade_in_process
from checkers.grading.result import GradeResult, invalid
from checkers.grading.wording import brief_value, compose_message

KL = (r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + "
      r"\log\frac{\det\Sigma_1}{\det\Sigma_0}\right)")

# (problem, answer, symbolic): one answer for each way a message is worded
CASES = [
    ("rnn-depth", "T + 1", False),  # correct
    ("rnn-depth", r"T + 1 + \mathbb{1}[T > 100]", True),  # incorrect: sympy finds the term that vanishes on the checks
    ("bn-input-gradient", "0", False),  # incorrect, named ("your answer is 0 on every instance"), counterexample
    ("bn-input-gradient", "1", False),  # incorrect, nothing named, counterexample
    ("alexnet-conv-multiplications", "0", False),  # exact number, named
    ("alexnet-conv-multiplications", "1", False),  # exact number, nothing named
    ("kl-gaussian", KL + r" + \operatorname{tr}((\Sigma_0 - \Sigma_0)^{-1})", False),  # undefined on an instance
    ("kl-gaussian", r"\nosuch", False),  # invalid
]


@pytest.fixture(scope="module")
def results():
    return {(pid, answer): grade_in_process(pid, answer, symbolic=symbolic, limit=20.0)
            for pid, answer, symbolic in CASES}


def test_each_case_is_the_kind_it_stands_for(results):
    kinds = [(r.verdict, bool(r.feedback), r.where is not None, r.exact_value is not None)
             for r in results.values()]
    assert kinds == [("correct", False, False, False), ("incorrect", True, False, False),
                     ("incorrect", True, True, False), ("incorrect", False, True, False),
                     ("incorrect", True, False, True), ("incorrect", False, False, True),
                     ("incorrect", False, False, False), ("invalid", False, False, False)]
    assert list(results.values())[1].symbolic["status"] == "disproved"


def test_the_pieces_compose_to_the_message(results):
    for (pid, answer), r in results.items():
        assert r.message == compose_message(r.verdict, r.reason, r.evidence), (pid, answer)
        assert not r.reason.startswith(("correct", "incorrect", "invalid")), r.reason
        if r.verdict != "invalid":
            assert r.message.startswith(f"{r.verdict}: {r.reason}" if r.reason else f"{r.verdict}. ")
        if r.feedback:  # the reason is the first feedback sentence, and says which item it states
            assert r.reason == r.feedback[0].message and r.stated_feedback == (r.feedback[0].id,)
        else:
            assert r.stated_feedback == ()
        if r.where is not None:
            cx = r.counterexample
            assert r.message.endswith(f"Counterexample at {r.where}: your answer gives {brief_value(cx['student'])}, "
                                      f"the reference gives {brief_value(cx['reference'])}")


def test_messages_word_the_pieces_as_before(results):
    exact_named = results[("alexnet-conv-multiplications", "0")]
    assert exact_named.message == ("incorrect: your answer is 0 times the reference. Your answer is 0, which is not "
                                   "exactly the reference number (counts are compared exactly)")
    assert results[("alexnet-conv-multiplications", "1")].message == (
        "incorrect. Your answer is 1, which is not exactly the reference number (counts are compared exactly)")
    assert results[("bn-input-gradient", "1")].message.startswith("incorrect. Counterexample at B = ")
    assert results[("rnn-depth", "T + 1")].message.startswith("correct: equals the reference on ")
    undefined = results[("kl-gaussian", KL + r" + \operatorname{tr}((\Sigma_0 - \Sigma_0)^{-1})")]
    assert undefined.message.startswith("incorrect: your answer is undefined at d = 1: ")
    assert undefined.counterexample["student"] is None and undefined.where is None
    assert results[("kl-gaussian", r"\nosuch")].message == results[("kl-gaussian", r"\nosuch")].reason


def test_explanation_leaves_out_the_verdict_word_and_on_request_the_counterexample(results):
    named = results[("bn-input-gradient", "0")]
    assert named.explanation() == named.message.removeprefix("incorrect: ")
    assert named.explanation(counterexample=False) == "your answer is 0 on every instance."
    assert results[("bn-input-gradient", "1")].explanation(counterexample=False) == ""
    exact = results[("alexnet-conv-multiplications", "1")]  # no counterexample: the exact number stays
    assert exact.explanation(counterexample=False) == exact.message.removeprefix("incorrect. ")


def test_json_carries_the_pieces_and_reads_back_the_same_message(results):
    for r in results.values():
        doc = r.to_json()
        assert doc["reason"] == r.reason and doc["stated_feedback"] == list(r.stated_feedback)
        assert doc.get("where") == r.where and doc.get("exact_value") == r.exact_value
        back = GradeResult.from_json(doc)
        assert back.message == doc["message"] == r.message
        assert back.to_json() == doc


def test_a_result_from_the_isolated_worker_has_the_same_message():
    for pid, answer in [("bn-input-gradient", "0"), ("alexnet-conv-multiplications", "1")]:
        isolated = grade(pid, answer, symbolic=False, time_limit=20.0)
        assert isolated.message == grade_in_process(pid, answer, symbolic=False, limit=20.0).message
        assert isolated.stated_feedback == tuple(f.id for f in isolated.feedback[:1])


def test_non_finite_counterexample_values_word_the_same_message_after_json():
    result = GradeResult("p", "a", "incorrect", "", counterexample={"instance": {"n": 1}, "student": math.inf,
                                                                     "reference": [1.5, math.nan]}, where="n = 1")
    doc = result.to_json()
    assert doc["counterexample"]["student"] == "Infinity"  # strict JSON
    back = GradeResult.from_json(doc)
    assert back.message == result.message == ("incorrect. Counterexample at n = 1: your answer gives inf, the "
                                              "reference gives [1.5, nan]")
    assert back.counterexample["student"] == math.inf


def test_a_document_written_before_the_pieces_were_kept_still_loads():
    old = {"problem": "bn-input-gradient", "answer": "0", "verdict": "incorrect", "score": 0.0,
           "message": "incorrect: your answer is 0 on every instance. Counterexample at B = 3, b = 1: your answer "
                      "gives 0, the reference gives -0.824531",
           "feedback": [{"id": "zero", "message": "your answer is 0 on every instance"}], "instances": 96,
           "seconds": 0.0123, "counterexample": {"instance": {"B": 3, "b": 1}, "student": 0.0,
                                                  "reference": -0.8245314, "seed": 1, "batch_seed": 2, "group": 0,
                                                  "index": 0}}
    result = GradeResult.from_json(old)
    assert result.message == old["message"] and result.verdict == "incorrect" and result.score == 0.0
    assert [f.id for f in result.feedback] == ["zero"] and result.counterexample["reference"] == -0.8245314
    assert result.reason == "" and result.where is None and result.stated_feedback == ()
    assert result.explanation() == old["message"]  # nothing to take apart: the whole message
    assert result.to_json()["message"] == old["message"]


def test_an_invalid_answer_s_message_is_its_reason():
    result = invalid("kl-gaussian", "x", "unknown symbol x", cause="checkers.grading.lexer:153")
    assert result.message == result.reason == "unknown symbol x"
    assert GradeResult.from_json(result.to_json()).message == "unknown symbol x"
    assert GradeResult.from_json(result.to_json()).cause == "checkers.grading.lexer:153"


def test_answers_refused_by_the_same_statement_share_their_cause():
    from checkers.grading.grader import grade_in_process

    first, second, other = (grade_in_process("kl-gaussian", text, symbolic=False)
                            for text in (r"\Sigma_2 + d", r"\Sigma_3", r"\frac{<b>}{2}"))
    assert first.verdict == second.verdict == other.verdict == "invalid"
    assert first.cause == second.cause != other.cause
    assert first.cause.startswith("checkers.grading.") and first.message != second.message
    assert grade_in_process("kl-gaussian", "", symbolic=False).cause.startswith("checkers.grading.parse:")
