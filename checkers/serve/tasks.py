"""What the server's grading workers run besides plain grading: the parse preview and the full grade document.

These functions run inside a forked, memory-limited worker of checkers.grading.isolation (as a
`Task`: called as function(problem_id, *args, limit=seconds)), never in the server process: student
text is parsed there by the grammar (never evaluated as code), and the MathML of the preview is
printed from the parsed sympy object by the reports' printer (checkers.reporting.mathml), not from
the text the student typed.
"""

from __future__ import annotations

import time

from checkers.grading.failures import failure_message
from checkers.limits import time_limit


_PROBLEMS: dict = {}  # in a worker: the problem objects by id (looking one up checks the static index's digest)


def _words(problem, expr) -> str:
    """The reading in words: its shape and the problem symbols it uses, e.g. 'a scalar in d, Σ₀, Σ₁, μ₀, μ₁'."""
    from checkers.grading.build import describe

    import sympy as sp

    names = set()
    for s in expr.free_symbols:
        if isinstance(s, sp.Indexed):
            names.add(s.base.label.name)
        elif hasattr(s, "name") and not isinstance(s, sp.Dummy):
            names.add(s.name)
    listed = {s.name: s.latex for s in problem.symbols if s.name is not None}
    shown = sorted(listed.get(n, n) for n in names)
    shape = describe(expr)
    return f"{shape} in {', '.join(shown)}" if shown else f"{shape} with no symbols (a constant)"


def read_task(problem_id: str, answer: str, *, limit: float) -> dict:
    """The parse preview of `answer`: {"ok": True, "mathml", "words"} or {"ok": False, "message"}; never raises."""
    from checkers.grading.catalog import get_problem
    from checkers.grading.parse import parse_answer
    from checkers.reporting.mathml import to_mathml

    problem = _PROBLEMS.get(problem_id) or _PROBLEMS.setdefault(problem_id, get_problem(problem_id))
    started = time.perf_counter()
    try:
        with time_limit(limit, "reading this answer"):
            expr = parse_answer(problem, answer)
            doc = {"ok": True, "mathml": to_mathml(expr, display=True), "words": _words(problem, expr)}
    except Exception as exc:  # student mistakes, limits, and printer or parser bugs (said to be ours)
        message, internal = failure_message(exc, "reading this answer", limit)
        doc = {"ok": False, "message": message, **({"internal_error": True} if internal else {})}
    doc["seconds"] = round(time.perf_counter() - started, 4)
    return doc


def grade_task(problem_id: str, answer: str, *, limit: float) -> dict:
    """The full `grade --json` document (with the reading and the symbolic confirmation), as the CLI grades one answer."""
    from checkers.grading.grader import grade_in_process

    return grade_in_process(problem_id, answer, limit=limit, symbolic=True, explain=True).to_json()
