"""How a grading message is worded from its pieces: values in brief, the evidence sentences, the whole message.

The grader keeps what it found as data (`result.GradeResult`: the verdict, the reason without the
verdict word, where the counterexample lies, the values); the sentences people read are worded here,
in one place, so that the CLI, the JSON API, the reports and the review say the same thing and no
reader takes a message apart again. Nothing is imported: the review and `grade --list` can use these
without loading torch, sympy or the answer parser.
"""

from __future__ import annotations

__all__ = ["brief_value", "compose_message", "counterexample_sentence", "exact_number_sentence", "join_sentences"]


def _round(x, digits: int = 4):
    if isinstance(x, list):
        return [_round(v, digits) for v in x]
    if isinstance(x, str):
        return x
    return float(f"{x:.{digits}g}")


def brief_value(value) -> str:
    """A value as a message shows it: a float to 6 significant digits, a list to 4."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(_round(value))


def counterexample_sentence(where: str, student, reference) -> str:
    """The sentence that states a counterexample: where it lies (`where`, e.g. "n = 1") and both values."""
    return (f"Counterexample at {where}: your answer gives {brief_value(student)}, the reference gives "
            f"{brief_value(reference)}")


def exact_number_sentence(value: str) -> str:
    """The sentence that states an exact problem's wrong number (`value` as the message writes it)."""
    return f"Your answer is {value}, which is not exactly the reference number (counts are compared exactly)"


def join_sentences(reason: str, evidence: str) -> str:
    """The reason and the evidence sentence after it, either of which may be empty."""
    if reason and evidence:
        return f"{reason}. {evidence}"
    return reason or evidence


def compose_message(verdict: str, reason: str, evidence: str) -> str:
    """The whole message: "incorrect: <reason>. <evidence>", "incorrect. <evidence>", "correct: <reason>"; an
    invalid answer's message is its reason alone (it says why the answer could not be graded)."""
    if verdict == "invalid":
        return reason
    head = f"{verdict}: {reason}" if reason else verdict
    return f"{head}. {evidence}" if evidence else head
