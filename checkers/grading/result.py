"""The outcome of grading one answer: verdict, score, message, feedback, counterexample, and its JSON form."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from checkers.grading.feedback import Feedback
from checkers.results import NON_FINITE

VERDICTS = ("correct", "incorrect", "invalid")


def json_safe(value):
    """`value` with every non-finite float replaced by the string "NaN", "Infinity" or "-Infinity" (strict JSON)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else NON_FINITE[repr(value)]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """`text` with control characters (NUL, CR, ESC, ...; not newline or tab) written as \\xNN: safe for a
    terminal or a spreadsheet cell (a student's ESC sequence cannot reach the TA's terminal)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def dumps(doc, **kwargs) -> str:
    """Strict JSON text of `doc` (non-finite numbers as strings; never the non-standard NaN / Infinity tokens)."""
    return json.dumps(json_safe(doc), allow_nan=False, **kwargs)
SCORES = {"correct": 1.0, "incorrect": 0.0, "invalid": None}  # invalid: not graded, no penalty implied


@dataclass
class GradeResult:
    """One graded answer. `internal_error` marks a grader bug (reported as invalid, never as a wrong answer)."""

    problem: str
    answer: str
    verdict: str
    message: str
    feedback: list[Feedback] = field(default_factory=list)
    counterexample: dict | None = None
    symbolic: dict | None = None
    instances: int = 0
    seconds: float = 0.0
    internal_error: bool = False
    read_as: str | None = None
    # The answer's values on the problem's instances (one tensor per dimension group), kept only when asked
    # (grade_in_process(keep_values=True), for the class analysis's fingerprints); never in the JSON.
    values: list | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS} (got {self.verdict!r})")

    @property
    def score(self) -> float | None:
        return SCORES[self.verdict]

    def to_json(self) -> dict:
        out = {
            "problem": self.problem,
            "answer": self.answer,
            "verdict": self.verdict,
            "score": self.score,
            "message": self.message,
            "feedback": [{"id": f.id, "message": f.message} for f in self.feedback],
            "instances": self.instances,
            "seconds": round(self.seconds, 4),
        }
        if self.counterexample is not None:
            out["counterexample"] = json_safe(self.counterexample)
        if self.symbolic is not None:
            out["symbolic"] = self.symbolic
        if self.read_as is not None:
            out["read_as"] = self.read_as
        if self.internal_error:
            out["internal_error"] = True
        return out

    @classmethod
    def from_json(cls, doc: dict) -> GradeResult:
        return cls(problem=doc["problem"], answer=doc.get("answer", ""), verdict=doc["verdict"], message=doc["message"],
                   feedback=[Feedback(f["id"], f["message"]) for f in doc.get("feedback", [])],
                   counterexample=doc.get("counterexample"), symbolic=doc.get("symbolic"),
                   instances=doc.get("instances", 0), seconds=doc.get("seconds", 0.0),
                   internal_error=doc.get("internal_error", False), read_as=doc.get("read_as"))


def invalid(problem: str, answer: str, message: str, *, internal: bool = False, seconds: float = 0.0) -> GradeResult:
    """An answer that could not be graded; the message says why."""
    return GradeResult(problem=problem, answer=answer, verdict="invalid", message=message, internal_error=internal,
                       seconds=seconds)
