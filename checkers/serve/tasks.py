"""What the server's grading workers and job processes run: the parse preview, the full grade document, an upload.

`read_task` and `grade_task` run inside a forked, memory-limited worker of checkers.grading.isolation (as a
`Task`: called as function(problem_id, *args, limit=seconds)), never in the server process: student
text is parsed there by the grammar (never evaluated as code), and the MathML of the preview is
printed from the parsed sympy object by the reports' printer (checkers.reporting.mathml), not from
the text the student typed. `grade_upload` runs in a job process of its own (checkers.serve.engine.run_job),
which starts its own grading pool and is killed with it when the request is cancelled.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

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


def grade_upload(problem_id: str, data: bytes, *, workers: int, time_limit: float, memory_mb: int) -> dict:
    """Grade an uploaded `id,answer` CSV as `proofcheck grade --csv` does: counts, the graded CSV text, the class
    analysis page."""
    from checkers.grading.bulk import grade_csv

    with tempfile.TemporaryDirectory(prefix="proofcheck-serve-") as tmp:
        source, out, page = Path(tmp, "answers.csv"), Path(tmp, "graded.csv"), Path(tmp, "class.html")
        source.write_bytes(data)
        started = time.perf_counter()
        summary = grade_csv(problem_id, source, out, analysis=page, workers=workers, time_limit=time_limit,
                            memory_mb=memory_mb, progress=False)
        return {"problem": problem_id, "total": summary.total, "counts": dict(summary.counts),
                "internal_errors": summary.internal_errors, "seconds": round(time.perf_counter() - started, 3),
                "csv": out.read_text(encoding="utf-8"), "analysis_html": page.read_text(encoding="utf-8")}
