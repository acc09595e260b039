"""The seed's OCR submission through `review`: with the transcription's readings supplied, the verdicts of the
hand transcription (proofs/student_hw6_answers.py, graded by the student-hw6 report) come out of the review."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkers import grade
from checkers.review import Reading, review
from proofs.student_hw6_answers import ALTERNATIVE_READINGS, ANSWERS

SEED = Path(__file__).parent / "data" / "review" / "001_bdfcf43c6002a42f.txt"  # a copy of shared/seeds' file
ROOT = Path(__file__).resolve().parents[1]


def _readings() -> tuple[Reading, ...]:
    return tuple(Reading(a.line, a.problem, a.answer,
                         tuple(alt.answer for alt in ALTERNATIVE_READINGS if alt.problem == a.problem), a.where)
                 for a in ANSWERS)


@pytest.fixture(scope="module")
def seed_review():
    return review(SEED, "hw6-2021", readings=_readings(), time_limit=5.0)


def _grade(problem: str, answer: str) -> str:
    return grade(problem, answer, symbolic=False, isolate=False, time_limit=20.0).verdict


@pytest.mark.parametrize("shared", [ROOT / "shared" / "seeds", ROOT.parent / "shared" / "seeds"])
def test_the_copy_is_the_seed_itself(shared):
    if not (shared / SEED.name).exists():
        pytest.skip(f"no seeds folder at {shared}")
    assert (shared / SEED.name).read_bytes() == SEED.read_bytes()


def test_every_transcribed_answer_gets_the_transcription_verdict_at_its_line(seed_review):
    by_problem = {a["problem"]: a for a in seed_review["answers"]}
    assert set(by_problem) == {"bn-fold-weight", "bn-fold-bias", "kaiming-variance", "gaussian-density", "kl-gaussian"}
    for answer in ANSWERS:
        got = by_problem[answer.problem]
        assert got["found_by"] == "reading" and got["line"] == answer.line
        assert got["verdict"] == ("incorrect" if answer.mistakes else "correct") == _grade(answer.problem,
                                                                                           answer.answer)


def test_the_other_readings_get_the_verdicts_the_report_gives_them(seed_review):
    by_problem = {a["problem"]: a for a in seed_review["answers"]}
    for alternative in ALTERNATIVE_READINGS:
        others = {o["reading"]: o["verdict"] for o in by_problem[alternative.problem]["other_readings"]}
        assert others[alternative.answer] == _grade(alternative.problem, alternative.answer)


def test_the_ocr_text_itself_is_reviewed_line_by_line_and_nothing_unreadable_is_called_wrong(seed_review):
    lines = seed_review["lines"]
    assert lines and all(e["verdict"] in ("follows", "wrong", "unread", "label") for e in lines)
    assert [e["line"] for e in lines] == sorted({e["line"] for e in lines})
    for entry in lines:
        if entry["verdict"] == "wrong":
            assert entry.get("counterexample"), entry  # a wrong line always carries its counterexample
