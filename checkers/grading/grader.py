"""Grading one answer in this process: parse, compare numerically, diagnose, optionally confirm with sympy.

The verdict comes from the numeric comparison on the problem's instances (see equivalence.py): it
is `correct` when every instance agrees, `incorrect` with a counterexample otherwise, and `invalid`
when the answer cannot be read. A symbolic confirmation may follow a correct verdict; it is
reported next to the verdict and never makes a verdict `correct`. It can only take one away: where
sympy reduces answer − reference to a nonzero expression of the dimensions alone (a term like
1[T > 20] or (d−1)⋯(d−7) that vanishes on every checked dimension), the exact value at the first
dimension where it is not 0 proves the answer wrong, and the verdict is `incorrect`. The whole grading runs under a wall-clock limit
(SIGALRM); use checkers.grading.isolation for a killable worker with a memory limit as well.
"""

from __future__ import annotations

import time

import sympy as sp

from checkers.errors import StudentInputError, SymbolicTimeout, UnsupportedExpression, UsageError
from checkers.grading.build import describe, is_matrix
from checkers.grading.lexer import abbreviate_numbers
from checkers.grading.catalog import get_problem
from checkers.grading.equivalence import Undefined, as_plain, compare, evaluate_on
from checkers.grading.failures import failure_cause, failure_message
from checkers.grading.feedback import Feedback, diagnose, misconception_values
from checkers.grading.instances import Instances, group_seed, instances_for
from checkers.grading.parse import parse_answer
from checkers.grading.problem import Problem
from checkers.grading.result import GradeResult, invalid
from checkers.grading.wording import brief_value
from checkers.limits import DEFAULT_TIME_LIMIT, time_limit
from checkers.symbolic import real_matrix_scalars, identity

SYMBOLIC_SHARE = 0.5  # at most this share of the time limit goes to the optional sympy confirmation


def _names(problem: Problem) -> dict[str, str]:
    """sympy name -> how the problem writes it (Sigma_0 -> \\Sigma_0), for counterexamples."""
    out = {}
    for s in problem.symbols:
        if s.name is not None and s.listed:
            out[s.name] = s.latex.split("_")[0] if s.family else s.latex
    return out


def counterexample(instances: Instances, group_index: int, index: int, student, reference) -> dict:
    """The failing instance as the problem writes its symbols, both values, and what replays it."""
    group = instances.groups[group_index]
    names = _names(instances.problem)
    return {
        "instance": {names.get(k, k): v for k, v in group.instance(index).items()},
        "student": student,
        "reference": reference,
        "seed": instances.seed,
        "batch_seed": group_seed(instances.seed, group_index),
        "group": group_index,
        "index": index,
    }


def where_text(instances: Instances, cx: dict) -> str:
    """Where a counterexample lies, for a message: its dimensions, or else its scalar values."""
    problem = instances.problem
    inst = cx["instance"]
    if problem.dim_ranges:
        return ", ".join(f"{k} = {inst[k]}" for k in problem.dim_ranges)
    return ", ".join(f"{k} = {brief_value(v)}" for k, v in inst.items() if isinstance(v, float))


def _symbolic(problem: Problem, expr: sp.Basic, budget: float) -> dict:
    reference = problem.reference_expr
    if expr == problem.reference_as_built or expr == reference:
        return {"status": "identical", "detail": "the same sympy expression as the reference"}
    if budget <= 0.05:
        return {"status": "skipped", "detail": "no time left within the limit"}
    started = time.perf_counter()
    defs = problem.definition_map
    extra = set().union(*(v.free_symbols for v in defs.values())) if defs else set()
    lhs, rhs = expr, reference
    if extra & expr.free_symbols:
        lhs, rhs = expr.subs(defs), reference.subs(defs)
    try:
        result = identity(time_limit=budget).prove(lhs, rhs)
    except SymbolicTimeout:
        raise
    except Exception as exc:  # sympy failing on an odd expression is a failed confirmation, not a verdict
        return {"status": "not proved", "detail": f"sympy raised {type(exc).__name__}: {exc}"}
    if result.status == "proved":
        return {"status": "proved", "detail": f"sympy shows answer − reference = 0 ({result.scope})"}
    disproof = _nonzero_in_dimensions(problem, lhs, rhs, budget - (time.perf_counter() - started))
    if disproof is not None:
        return disproof
    return {"status": "not proved", "detail": result.detail or "sympy did not reach 0"}


DISPROOF_SEARCH = 200  # dimension values past the declared range tried one by one, before powers of ten


def _candidate_dimensions(problem: Problem):
    """Dimension combinations past the declared range, nearest first, then far out (10², ..., 10³⁰)."""
    ranges = problem.dim_ranges
    tops = {name: max(values) for name, values in ranges.items()}
    lows = {name: min(values) for name, values in ranges.items()}
    far = [10 ** k for k in range(2, 31)]
    for n in [*range(1, DISPROOF_SEARCH + 1), *far]:
        combos = [{name: tops[name] + n for name in ranges}]  # every dimension n past its range
        if len(ranges) > 1:  # and each one alone past its range, the others at their smallest value
            combos += [{**lows, name: tops[name] + n} for name in ranges]
        for combo in combos:
            if problem.dims_where is None or problem.dims_where(combo):
                yield combo


def _nonzero_in_dimensions(problem: Problem, lhs: sp.Basic, rhs: sp.Basic, budget: float) -> dict | None:
    """A proof that lhs ≠ rhs, where sympy reduces lhs − rhs to a nonzero function of the dimensions alone.

    The difference is then computed exactly (sympy's integers and rationals, no rounding) at dimensions past
    the declared range until it is not 0; None if it keeps other symbols, is 0 everywhere tried, or time runs out.
    """
    if budget <= 0.05:
        return None
    symbols = {s.name: s for s in problem.table.dimensions}
    if not symbols:
        return None
    try:
        with time_limit(budget, "the symbolic check"):
            difference = sp.expand(real_matrix_scalars(lhs - rhs))
            if difference == 0 or not difference.free_symbols or not difference.free_symbols <= set(symbols.values()):
                return None
            for combo in _candidate_dimensions(problem):
                value = difference.xreplace({symbols[k]: sp.Integer(v) for k, v in combo.items() if k in symbols})
                if value.is_number and value.is_zero is False:
                    where = ", ".join(f"{k} = {abbreviate_numbers(str(v))}" for k, v in combo.items())
                    shown = abbreviate_numbers(sp.sstr(value if value.is_Rational else sp.N(value, 6)))
                    return {"status": "disproved", "where": combo,
                            "detail": f"sympy shows answer − reference = {abbreviate_numbers(sp.sstr(difference))}, "
                                      f"which is {shown} at {where}, not 0"}
    except (SymbolicTimeout, TimeoutError):
        return None
    except Exception:  # noqa: BLE001 - sympy failing on an odd expression proves nothing either way
        return None
    return None


def _grade(problem: Problem, answer: str, *, symbolic: bool, explain: bool, started: float, limit: float,
           keep_values: bool) -> GradeResult:
    expr = parse_answer(problem, answer)
    return grade_expression(problem, expr, answer, symbolic=symbolic, explain=explain, started=started, limit=limit,
                            keep_values=keep_values)


def _read_as(expr: sp.Basic) -> str | None:
    """How the answer was understood, in sympy's notation (None if sympy's printer cannot print it)."""
    try:
        return abbreviate_numbers(sp.sstr(expr))
    except Exception:  # the printer simplifies matrix expressions and can raise on degenerate ones
        return None


def grade_expression(problem: Problem, expr: sp.Basic, answer: str = "", *, symbolic: bool = False,
                     explain: bool = False, started: float | None = None,
                     limit: float = DEFAULT_TIME_LIMIT, keep_values: bool = False) -> GradeResult:
    """Grade an already-built sympy expression (the part of grading after parsing; raises StudentInputError).
    `keep_values`: the result's `values` are the answer's values on the instances, when they were computed."""
    result = _grade_expression(problem, expr, answer, symbolic=symbolic, explain=explain, started=started,
                               limit=limit)
    if not keep_values:
        result.values = None
    return result


def _grade_expression(problem: Problem, expr: sp.Basic, answer: str, *, symbolic: bool, explain: bool,
                      started: float | None, limit: float) -> GradeResult:
    started = time.perf_counter() if started is None else started
    reference = problem.reference_expr
    if is_matrix(expr) != is_matrix(reference) or (is_matrix(expr) and expr.shape != reference.shape):
        raise StudentInputError(f"your answer is {describe(expr)}, but the answer to {problem.id} is {describe(reference)}")
    read_as = _read_as(expr) if explain else None
    if problem.exact:
        return _grade_exact(problem, expr, answer, read_as)
    instances = instances_for(problem)
    ref_values = instances.references
    try:
        values = evaluate_on(instances.groups, expr)
    except Undefined as u:
        gi = u.index  # (not groups.index(u.group): comparing batches compares their tensors)
        cx = counterexample(instances, gi, 0, None, as_plain(ref_values[gi][0]))
        return GradeResult(problem.id, answer, "incorrect", f"your answer is undefined at {where_text(instances, cx)}: "
                           f"{u.why}", counterexample=cx, instances=instances.count, read_as=read_as)
    except UnsupportedExpression as exc:
        if "out of range" in str(exc):
            raise StudentInputError(f"your answer uses an index outside its symbol's range (such as x_{{n+1}} or "
                                    f"n_{{L+1}}): {exc}") from None
        raise StudentInputError(str(exc)) from None
    comparison = compare(expr, values, reference, ref_values, instances)
    span = instances.describe_dims()
    if comparison.passed:
        where = f" ({span})" if span else ""
        reason = f"equals the reference on {comparison.checked} random instances{where}"
        sym = None
        if symbolic:
            budget = min(limit * SYMBOLIC_SHARE, limit - (time.perf_counter() - started) - 0.2)
            sym = _symbolic(problem, expr, budget)
            if sym["status"] == "disproved":
                feedback = [Feedback("nonzero-difference", f"{sym['detail']}: a term that vanishes on the checked "
                                                           f"dimensions does not vanish in general")]
                return GradeResult(problem.id, answer, "incorrect", feedback[0].message, feedback=feedback,
                                   symbolic=sym, instances=comparison.checked, read_as=read_as,
                                   stated_feedback=(feedback[0].id,), values=values)
            if sym["status"] in ("identical", "proved"):
                reason += "; sympy confirms it symbolically"
            else:
                reason += "; sympy did not confirm it symbolically, so the verdict rests on the numeric check"
        elif expr == problem.reference_as_built or expr == reference:
            sym = {"status": "identical", "detail": "the same sympy expression as the reference"}
        return GradeResult(problem.id, answer, "correct", reason, symbolic=sym, instances=comparison.checked,
                           read_as=read_as, values=values)
    gi = comparison.failing_groups()[0]
    index = comparison.worst(gi)
    cx = counterexample(instances, gi, index, as_plain(values[gi][index]), as_plain(ref_values[gi][index]))
    feedback = diagnose(instances, values, comparison)
    return GradeResult(problem.id, answer, "incorrect", feedback[0].message if feedback else "", feedback=feedback,
                       counterexample=cx, instances=comparison.checked, read_as=read_as,
                       where=where_text(instances, cx), stated_feedback=(feedback[0].id,) if feedback else (),
                       values=values)


def _grade_exact(problem: Problem, expr: sp.Basic, answer: str, read_as: str | None) -> GradeResult:
    """A number compared exactly (an operation count): rational arithmetic, no instances, no tolerance."""
    if expr.free_symbols:
        names = ", ".join(sorted(str(s) for s in expr.free_symbols))
        raise StudentInputError(f"the answer to {problem.id} is a number; yours depends on {names}")
    reference = problem.reference_expr
    if expr == reference or (expr.is_Rational and reference.is_Rational and expr == reference):
        return GradeResult(problem.id, answer, "correct", "exactly the reference number", instances=1,
                           symbolic={"status": "identical", "detail": "exact rational arithmetic"}, read_as=read_as)
    named = [Feedback(m.id, m.feedback) for m, wrong in problem.misconception_exprs() if wrong == expr]
    value = str(expr) if expr.is_Rational else f"{sp.N(expr, 15)}"
    if not named and expr.is_Rational and reference.is_Rational and reference != 0:
        ratio = expr / reference
        if ratio.is_Rational and ratio.q <= 48:
            named = [Feedback("constant-factor", f"your answer is {ratio} times the reference")]
    return GradeResult(problem.id, answer, "incorrect", named[0].message if named else "", feedback=named,
                       instances=1, read_as=read_as, exact_value=value, stated_feedback=(named[0].id,) if named else ())


def grade_in_process(problem: str | Problem, answer: str, *, limit: float = DEFAULT_TIME_LIMIT,
                     symbolic: bool = True, explain: bool = True, keep_values: bool = False) -> GradeResult:
    """Grade one answer here, under a wall-clock limit; never raises for bad answers (UsageError for a bad problem id).
    `keep_values`: the result carries the answer's values on the instances (`values`, None where none were computed),
    so that a caller that needs them (the class analysis's fingerprints) does not evaluate the answer again."""
    problem = get_problem(problem) if isinstance(problem, str) else problem
    started = time.perf_counter()
    if not isinstance(answer, str):
        raise UsageError(f"answer must be a string (got {type(answer).__name__})")
    if not problem.exact:  # per-problem setup, done once per process (before forking, in the workers' parent)
        misconception_values(instances_for(problem))
        started = time.perf_counter()
    try:
        with time_limit(limit, "grading this answer"):
            result = _grade(problem, answer, symbolic=symbolic, explain=explain, started=started, limit=limit,
                            keep_values=keep_values)
    except UsageError:
        raise
    except Exception as exc:  # the student's mistake, a limit, or a grader bug (never shown as the student's mistake)
        message, internal = failure_message(exc, "grading this answer", limit)
        result = invalid(problem.id, answer, message, cause=failure_cause(exc), internal=internal)
    result.seconds = time.perf_counter() - started
    return result
