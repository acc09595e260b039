"""The outcome of grading one answer: verdict, score, reason, feedback, counterexample, and its JSON form.

A `GradeResult` keeps what the grader found as data: the reason without the verdict word, where the
counterexample lies, which feedback items the reason states. Its `message` (the sentence the CLI, the
JSON API, Gradescope and the bulk CSV show) is worded from those pieces by `checkers.grading.wording`,
so a page that shows the verdict or the counterexample on its own asks for the pieces instead of
taking the message apart.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

from checkers.grading.feedback import Feedback
from checkers.grading.wording import compose_message, counterexample_sentence, exact_number_sentence, join_sentences
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


_FROM_NON_FINITE = {text: float(name) for name, text in NON_FINITE.items()}


def json_restored(value):
    """`value` as `json_safe` had it: the strings "NaN", "Infinity" and "-Infinity" back as floats."""
    if isinstance(value, str):
        return _FROM_NON_FINITE.get(value, value)
    if isinstance(value, dict):
        return {k: json_restored(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_restored(v) for v in value]
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
    # Why, without the verdict word: "equals the reference on 96 random instances", the feedback sentence an
    # incorrect answer is told, "" for an incorrect answer with nothing named; an invalid answer's whole message.
    reason: str
    feedback: list[Feedback] = field(default_factory=list)
    counterexample: dict | None = None
    symbolic: dict | None = None
    instances: int = 0
    seconds: float = 0.0
    internal_error: bool = False
    read_as: str | None = None
    # Where the counterexample lies, as the message words it ("n = 1"); None when the message states no
    # counterexample (an answer undefined somewhere says where in its reason).
    where: str | None = None
    exact_value: str | None = None  # an exact problem's wrong number, as the message writes it
    stated_feedback: tuple[str, ...] = ()  # ids of the feedback items whose sentence the reason already is
    # What made an invalid answer invalid, the same for every answer that failed the same way (failures.failure_cause:
    # the grader statement that refused it, or the limit it hit); "" for a graded answer or an older document.
    cause: str = ""
    # The message of a JSON document written before results kept their pieces (from_json); None otherwise.
    recorded_message: str | None = field(default=None, repr=False)
    # The answer's values on the problem's instances (one tensor per dimension group), kept only when asked
    # (grade_in_process(keep_values=True), for the class analysis's fingerprints); never in the JSON.
    values: list | None = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS} (got {self.verdict!r})")

    @property
    def score(self) -> float | None:
        return SCORES[self.verdict]

    @property
    def evidence(self) -> str:
        """The sentence after the reason: the counterexample, or an exact problem's wrong number ("" if neither)."""
        if self.where is not None and self.counterexample is not None:
            return counterexample_sentence(self.where, self.counterexample["student"],
                                           self.counterexample["reference"])
        if self.exact_value is not None:
            return exact_number_sentence(self.exact_value)
        return ""

    @property
    def message(self) -> str:
        """The whole sentence: verdict word, reason, evidence (see wording.compose_message)."""
        if self.recorded_message is not None:
            return self.recorded_message
        return compose_message(self.verdict, self.reason, self.evidence)

    def explanation(self, *, counterexample: bool = True) -> str:
        """The message without the verdict word, for a page that shows the verdict beside it; with
        `counterexample=False`, also without the counterexample sentence (the page shows the counterexample on
        its own; the reason before it keeps its full stop). A document with only its message gives the message."""
        if self.recorded_message is not None:
            return self.recorded_message
        if not counterexample and self.where is not None:
            return f"{self.reason}." if self.reason else ""
        return join_sentences(self.reason, self.evidence)

    def to_json(self) -> dict:
        out = {
            "problem": self.problem,
            "answer": self.answer,
            "verdict": self.verdict,
            "score": self.score,
            "message": self.message,
            "reason": self.reason,
            "feedback": [{"id": f.id, "message": f.message} for f in self.feedback],
            "stated_feedback": list(self.stated_feedback),
            "instances": self.instances,
            "seconds": round(self.seconds, 4),
        }
        if self.counterexample is not None:
            out["counterexample"] = json_safe(self.counterexample)
        if self.where is not None:
            out["where"] = self.where
        if self.exact_value is not None:
            out["exact_value"] = self.exact_value
        if self.symbolic is not None:
            out["symbolic"] = self.symbolic
        if self.read_as is not None:
            out["read_as"] = self.read_as
        if self.cause:
            out["cause"] = self.cause
        if self.internal_error:
            out["internal_error"] = True
        return out

    @classmethod
    def from_json(cls, doc: dict) -> GradeResult:
        """The result `to_json` wrote; a document written before results kept their pieces (no "reason") keeps
        its message as it is (`recorded_message`), with an empty reason."""
        cx = doc.get("counterexample")
        pieces = "reason" in doc
        return cls(problem=doc["problem"], answer=doc.get("answer", ""), verdict=doc["verdict"],
                   reason=doc["reason"] if pieces else "",
                   feedback=[Feedback(f["id"], f["message"]) for f in doc.get("feedback", [])],
                   counterexample=json_restored(cx) if cx is not None else None, symbolic=doc.get("symbolic"),
                   instances=doc.get("instances", 0), seconds=doc.get("seconds", 0.0),
                   internal_error=doc.get("internal_error", False), read_as=doc.get("read_as"),
                   where=doc.get("where"), exact_value=doc.get("exact_value"),
                   stated_feedback=tuple(doc.get("stated_feedback", ())), cause=doc.get("cause", ""),
                   recorded_message=None if pieces else doc["message"])


def invalid(problem: str, answer: str, message: str, *, cause: str, internal: bool = False,
            seconds: float = 0.0) -> GradeResult:
    """An answer that could not be graded; the message says why (it is the reason: no verdict word), `cause` what
    made it invalid, shared by every answer that failed the same way (see failures.failure_cause)."""
    return GradeResult(problem=problem, answer=answer, verdict="invalid", reason=message, internal_error=internal,
                       seconds=seconds, cause=cause)
