"""The jobs a review hands to the grader's workers: read a link, compare two links, grade an answer, for any problem.

A `GradingPool` is prepared for one problem and calls each `Task` as fn(pool_problem, *args, limit=...);
these wrappers take the problem they are about as their first argument, so that one pool serves every
problem of a review (each problem's instances are drawn once, in the parent, before the workers fork).
Each is the grader's own function (`steps.read_line_task`, `steps.step_task`, `grade_in_process`).
"""

from __future__ import annotations


def read_link(pool_problem: str, problem: str, text: str, *, limit: float) -> dict:
    """Read one link in `problem`'s symbols (parse and evaluate on its instances) under `limit` seconds."""
    from checkers.grading.steps import read_line_task

    return read_line_task(problem, text, limit=limit)


def compare_links(pool_problem: str, problem: str, number: int, text: str, previous_number: int, previous_text: str,
                  *, limit: float) -> dict:
    """Compare one link with an earlier one on `problem`'s instances (check-steps' step) under `limit` seconds."""
    from checkers.grading.steps import step_task

    return step_task(problem, number, text, previous_number, previous_text, limit=limit)


def grade_answer(pool_problem: str, problem: str, text: str, *, limit: float) -> dict:
    """Grade one answer to `problem` with the grader, under `limit` seconds; the grade --json document."""
    from checkers.grading.grader import grade_in_process

    return grade_in_process(problem, text, limit=limit, symbolic=False, explain=False).to_json()


def warm(problem: str) -> None:
    """Draw `problem`'s instances and evaluate its reference and named mistakes here, before the workers fork."""
    from checkers.grading.catalog import get_problem
    from checkers.grading.feedback import misconception_values
    from checkers.grading.instances import instances_for

    p = get_problem(problem)
    if not p.exact:
        misconception_values(instances_for(p))
