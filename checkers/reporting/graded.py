"""A problem set's submitted answers graded with `checkers.grade`, turned into records the templates print.

A problem set that names a data module (`ProblemSet.answers`, e.g. `student_hw6_answers` in a proof package)
gets a section of graded answers: each `SubmittedAnswer` of the module's `ANSWERS` is graded by the
grader's public API, and its verdict, message, named feedback and counterexample are worded and
formatted here, so the templates only print. The student's formula is shown as the student wrote
it (the answer's LaTeX through the statement converter: sanitized TeX for the PDF, MathML for the
HTML); the counterexample's instance is written as math the same way.

Grading is deterministic (the grader's instances are seeded, the optional sympy confirmation is off
because its time budget would make the wording depend on machine load), so an unchanged submission
renders the same LaTeX and an incremental build compiles nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from checkers.reporting.statements import RenderedStatement, render_statement

__all__ = ["GradedAnswerView", "GradedSection", "RubricView", "graded_section"]

_CSS = {"correct": "ok", "incorrect": "fail", "invalid": "warn"}
TIME_LIMIT = 20.0  # seconds per answer: generous, so a loaded machine never turns a verdict into a time-out


@dataclass(frozen=True)
class GradedAnswerView:
    anchor: str
    problem_id: str
    title: str  # the grader's title of the problem
    source: str  # which problem of which set it answers, e.g. "hw6-2021 P3"
    statement: RenderedStatement  # the problem as the grader states it
    where: str  # where in the submission the formula is
    formula: RenderedStatement  # the student's formula, as written
    verdict: str  # "correct" / "incorrect" / "invalid"
    css: str
    message: str
    feedback: tuple[tuple[str, str], ...]  # (id, sentence), sentence "" when the message already says it
    counterexample: RenderedStatement | None  # the instance and both values, as math; None unless incorrect
    readings: tuple[tuple[str, RenderedStatement, str], ...] = ()  # other readings of the scan: (where, formula, verdict)
    mistakes: tuple[MistakeView, ...] = ()  # which term is wrong, what belongs there, where it first appears
    remarks: tuple[str, ...] = ()  # slips that do not change the final formula
    uncertain: tuple[str, ...] = ()  # where the transcription of the scan is uncertain


@dataclass(frozen=True)
class MistakeView:
    """One wrong term of a submitted formula, as the transcription names it."""

    term: RenderedStatement  # the term as written (math)
    correct: RenderedStatement  # what belongs there (math)
    first_appears: str  # the line of the student's work where it first appears
    why: str  # one sentence, inline math allowed


@dataclass(frozen=True)
class RubricItemView:
    points: str
    criterion: RenderedStatement
    awarded: str
    reason: RenderedStatement
    full: bool  # full marks


@dataclass(frozen=True)
class RubricView:
    """A reasoning answer graded by hand against a stated rubric."""

    anchor: str
    where: str
    question: RenderedStatement
    items: tuple[RubricItemView, ...]
    total: str  # "2.5 of 3 marks"
    css: str


@dataclass(frozen=True)
class NotGradedView:
    """A problem of the submission that the report does not grade, and why."""

    where: str
    reason: str


@dataclass(frozen=True)
class GradedSection:
    answers: tuple[GradedAnswerView, ...]
    summary: str  # "3 correct, 2 incorrect of 5 answers"
    module: str  # the data module the answers come from
    counts: dict = field(default_factory=dict)  # verdict -> number of answers
    not_graded: tuple[NotGradedView, ...] = ()
    not_graded_summary: str = ""  # "2 problems not graded"
    rubric: tuple[RubricView, ...] = ()  # reasoning answers graded by hand against a stated rubric


def _number(x: float) -> str:
    """LaTeX math for a number, 4 significant digits, powers of ten written out."""
    text = f"{x:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def _value(v) -> str:
    """LaTeX math for a scalar, a vector (a tuple) or a matrix (a pmatrix) as the grader reports it."""
    if isinstance(v, list) and v and isinstance(v[0], list):
        rows = [" & ".join(_number(x) for x in row) for row in v]
        return r"\begin{pmatrix} " + r" \\ ".join(rows) + r" \end{pmatrix}"
    if isinstance(v, list):
        return "(" + ", ".join(_number(x) for x in v) + ")"
    if v is None:
        return r"\text{undefined}"
    return _number(v)


def _counterexample(cx: dict | None) -> RenderedStatement | None:
    """The instance where the answer and the reference differ (display math), then both values."""
    if not cx:
        return None
    instance = r",\quad ".join(f"{name} = {_value(value)}" for name, value in cx["instance"].items())
    return render_statement(rf"\[ {instance} \] the submitted formula gives ${_value(cx['student'])}$, "
                            rf"the reference gives ${_value(cx['reference'])}$.")


def _message(result, counterexample_shown: bool) -> str:
    """The grader's explanation without the verdict word (shown beside it) and without the counterexample sentence
    when the counterexample is shown on its own, so that nothing is said twice; as a sentence (capitalised)."""
    text = result.explanation(counterexample=not counterexample_shown)
    return text[:1].upper() + text[1:]


def _marks(x: float) -> str:
    return f"{x:g}"


def _rubric_view(index: int, item) -> RubricView:
    awarded = sum(i.awarded for i in item.items)
    points = sum(i.points for i in item.items)
    items = tuple(RubricItemView(_marks(i.points), render_statement(i.criterion), _marks(i.awarded),
                                 render_statement(i.reason), i.awarded >= i.points) for i in item.items)
    return RubricView(f"rubric-{index}", item.where, render_statement(item.question), items,
                      f"{_marks(awarded)} of {_marks(points)} marks", "ok" if awarded >= points else "warn")


def _view(index: int, submitted, problem, result, readings=()) -> GradedAnswerView:
    cx = _counterexample(result.counterexample if result.verdict == "incorrect" else None)
    return GradedAnswerView(
        anchor=f"answer-{index}", problem_id=problem.id, title=problem.title, source=problem.source,
        statement=render_statement(problem.statement), where=submitted.where,
        formula=render_statement(rf"\[ {submitted.answer} \]"), verdict=result.verdict, css=_CSS[result.verdict],
        message=_message(result, cx is not None),
        feedback=tuple((f.id, "" if f.id in result.stated_feedback else f.message) for f in result.feedback),
        counterexample=cx, readings=tuple(readings),
        mistakes=tuple(MistakeView(render_statement(f"${m.term}$"), render_statement(f"${m.correct}$"),
                                   m.first_appears, m.why) for m in getattr(submitted, "mistakes", ())),
        remarks=tuple(getattr(submitted, "remarks", ())), uncertain=tuple(getattr(submitted, "uncertain", ())))


def _not_graded(item) -> NotGradedView:
    """An entry of the module's NOT_GRADED: a (where, reason) pair or a record with those attributes."""
    if isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return NotGradedView(*item)
    where = getattr(item, "where", None) or getattr(item, "problem", None) or getattr(item, "label", "")
    return NotGradedView(str(where), str(getattr(item, "reason", "")))


def graded_section(module_name: str) -> GradedSection:
    """Grade every answer in `module_name`'s ANSWERS (in order) and return the section's records."""
    from checkers import grade
    from checkers.grading.catalog import get_problem

    from checkers.registry import find_module

    module = find_module(module_name)
    views = []
    alternatives = tuple(getattr(module, "ALTERNATIVE_READINGS", ()))
    for index, submitted in enumerate(module.ANSWERS, start=1):
        result = grade(submitted.problem, submitted.answer, symbolic=False, time_limit=TIME_LIMIT)
        readings = []
        for other in alternatives:
            if other.problem == submitted.problem:
                verdict = grade(other.problem, other.answer, symbolic=False, time_limit=TIME_LIMIT).verdict
                readings.append((other.where, render_statement(rf"\[ {other.answer} \]"), verdict))
        views.append(_view(index, submitted, get_problem(submitted.problem), result, readings))
    counts = {verdict: sum(v.verdict == verdict for v in views) for verdict in _CSS}
    summary = ", ".join(f"{n} {verdict}" for verdict, n in counts.items() if n) + f" of {len(views)} answers"
    not_graded = tuple(_not_graded(item) for item in getattr(module, "NOT_GRADED", ()))
    skipped = f"{len(not_graded)} problem{'s' if len(not_graded) != 1 else ''} not graded" if not_graded else ""
    rubric = tuple(_rubric_view(i, item) for i, item in enumerate(getattr(module, "RUBRIC_GRADED", ()), start=1))
    if rubric:
        marks = [(sum(i.awarded for i in item.items), sum(i.points for i in item.items))
                 for item in module.RUBRIC_GRADED]
        summary += (f"; {len(rubric)} argument{'s' if len(rubric) != 1 else ''} graded by rubric, "
                    f"{_marks(sum(a for a, _ in marks))} of {_marks(sum(p for _, p in marks))} marks")
    return GradedSection(tuple(views), summary, module.__name__, counts, not_graded, skipped, rubric)
