r"""Grading student formulas against checked claims: parse safely, compare numerically, explain mistakes.

    >>> from checkers import grade
    >>> result = grade("kl-gaussian", r"\frac12(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + ...)")
    >>> result.verdict, result.message, result.counterexample

Gradeable problems are declared in the proof modules beside their claims with `Problem`, `Symbol`
and `Misconception` (checkers.grading.problem), and found through the configured proof packages.
`grade` runs in a forked worker with a time and memory limit by default (`isolate=False` grades in
this process, under the time limit only). `check_steps` checks a multi-line derivation; `grade_csv`
grades a CSV of answers with a pool of workers. Imports are deferred so that `import checkers`
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT

if TYPE_CHECKING:
    from checkers.grading.bulk import BulkSummary
    from checkers.grading.result import GradeResult

__all__ = ["Misconception", "Problem", "Symbol", "check_steps", "grade", "grade_csv", "problem_ids"]

_DECLARATIONS = ("Misconception", "Problem", "Symbol")


def __getattr__(name: str):
    if name in _DECLARATIONS:  # imported on first use: the declarations need sympy and the grammar
        from checkers.grading import problem

        return getattr(problem, name)
    raise AttributeError(f"module 'checkers.grading' has no attribute {name!r}")


def grade(problem: str, answer: str, *, time_limit: float = DEFAULT_TIME_LIMIT, memory_mb: int = DEFAULT_MEMORY_MB, symbolic: bool = True,
          isolate: bool = True) -> GradeResult:
    """Grade one answer to `problem` (an id from `problem_ids()`): verdict correct / incorrect / invalid.

    The result carries the message, named feedback, a counterexample for incorrect answers (the
    instance, the student's value, the reference value) and the symbolic confirmation, if any.
    """
    from checkers.grading.grader import grade_in_process
    from checkers.grading.isolation import grade_isolated
    from checkers.grading.result import GradeResult

    if not isolate:
        return grade_in_process(problem, answer, limit=time_limit, symbolic=symbolic)
    return GradeResult.from_json(grade_isolated(problem, answer, time_limit=time_limit, memory_mb=memory_mb,
                                                symbolic=symbolic))


def check_steps(problem: str, derivation: str, *, time_limit: float = DEFAULT_TIME_LIMIT, memory_mb: int = DEFAULT_MEMORY_MB,
                isolate: bool = True) -> dict:
    r"""Check an align*-style derivation line by line (each line under its own time and memory limit); returns the
    report (lines, steps, first_invalid, final)."""
    from checkers.grading.steps import check_steps_in_process, check_steps_isolated

    if not isolate:
        return check_steps_in_process(problem, derivation, limit=time_limit)
    return check_steps_isolated(problem, derivation, time_limit=time_limit, memory_mb=memory_mb)


def grade_csv(problem: str, csv_path, out=None, **options) -> BulkSummary:
    """Grade a CSV of `id,answer` rows; `analysis="class.html"` also writes the class analysis page
    (see checkers.grading.bulk.grade_csv for the options)."""
    from checkers.grading.bulk import grade_csv as run

    return run(problem, csv_path, out, **options)


def problem_ids() -> list[str]:
    """The ids of the gradeable problems (declared in the configured proof packages)."""
    from checkers.grading.catalog import problems

    return list(problems())
