"""Targeted feedback for an incorrect answer: named misconceptions first, then generic diagnoses.

A named misconception matches when the student's values agree with the misconception's formula on
every instance, under the problem's tolerance (`checkers.tolerances.within`, the test every check
uses). The generic diagnoses look at how the student's values relate to the reference, each
decided by the same test: right only for the smallest dimension ("correct only for n = 1"), a
constant multiple or the negative of the reference, the reference plus a constant, or plus a term
that depends only on the dimension. No closeness constant lives here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from checkers.errors import UnsupportedExpression
from checkers.grading.equivalence import Comparison, Undefined, evaluate_on, matches
from checkers.grading.instances import Instances
from checkers.tolerances import Tolerance, within


@dataclass(frozen=True)
class Feedback:
    """One diagnosis: a stable id (misconception id or generic kind) and the sentence for the student."""

    id: str
    message: str


def misconception_values(instances: Instances):
    """(misconception, values) for every named mistake, evaluated once per process and de-duplicated.

    Also returns the scalar problems' values stacked (mistakes, instances) so that one `within` call
    matches an answer against every mistake at once (None for matrix-valued problems).
    """
    cached = instances.cache.get("misconceptions")
    if cached is not None:
        return cached
    problem = instances.problem
    kept = []
    for m, expr in problem.misconception_exprs():
        try:
            values = evaluate_on(instances.groups, expr)
        except (Undefined, UnsupportedExpression):
            continue
        if matches(values, instances.references, problem.tolerance) or any(
                matches(values, v, problem.tolerance) for _, v in kept):
            continue  # equal to the reference or to an earlier mistake on these instances: not distinguishable
        kept.append((m, values))
    stacked = None
    if kept and all(v.dim() == 1 for _, vs in kept for v in vs):
        stacked = torch.stack([torch.cat(vs) for _, vs in kept])  # (mistakes, instances)
    instances.cache["misconceptions"] = (kept, stacked)
    return kept, stacked




def fmt(c: float, tol: Tolerance) -> str:
    """A constant as a short fraction when it is one within the tolerance (1/2, −3), else 6 significant digits."""
    if not math.isfinite(c):
        return f"{c}"
    f = Fraction(c).limit_denominator(48)
    if abs(c) < 1e12 and abs(float(f) - c) <= tol.atol + tol.rtol * abs(c):  # 1e299 stays 1e+299, not 300 digits
        text = str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    else:
        text = f"{c:.6g}"
    return text.replace("-", "−")


def _all_within(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance) -> bool:
    return actual.numel() > 0 and bool(within(actual, expected, tol).all())


def _only_smallest_dimension(instances: Instances, comparison: Comparison) -> Feedback | None:
    """Right at the smallest dimension only, or right up to some dimension and wrong past it (one dimension)."""
    ranges = instances.problem.dim_ranges
    if len(ranges) != 1:
        return None
    (name,) = ranges
    groups = instances.groups
    right = {g.dims[name] for i, g in enumerate(groups) if bool(comparison.ok[i].all())}
    wrong = {g.dims[name] for i, g in enumerate(groups) if not bool(comparison.ok[i].all())}
    smallest = min(g.dims[name] for g in groups)
    if not right or not wrong or right & wrong or max(right) > min(wrong):
        return None
    if right == {smallest}:
        return Feedback("only-smallest-dimension", f"correct only for {name} = {smallest}: your formula agrees with "
                                                   f"the reference when {name} = {smallest} but not for "
                                                   f"{name} = {min(wrong)}")
    return Feedback("only-up-to-a-dimension", f"your formula agrees with the reference for {name} = "
                                              f"{smallest}..{max(right)} but not for {name} = {min(wrong)}: a term that "
                                              f"vanishes at the smaller dimensions does not vanish in general")


def _relation(instances: Instances, comparison: Comparison) -> Feedback | None:
    """A constant factor, the sign, a constant offset, or an offset depending only on the dimension."""
    tol = instances.problem.tolerance
    s, r = torch.cat(comparison.values), torch.cat(comparison.others)
    usable = torch.isfinite(s) & torch.isfinite(r) & (r != 0)
    if bool(usable.any()):
        factor = float((s[usable] / r[usable]).median())
        if math.isfinite(factor) and _all_within(s, factor * r, tol):
            if _all_within(s, torch.zeros_like(s), tol):
                return Feedback("zero", "your answer is 0 on every instance")
            if factor < 0 and _all_within(s, -r, tol):
                return Feedback("wrong-sign", "your answer has the wrong sign (it is −1 times the reference)")
            return Feedback("constant-factor", f"your answer is {fmt(factor, tol)} times the reference")
    offset = float((s - r).median())
    if math.isfinite(offset) and _all_within(s, r + offset, tol):
        sign = "+" if offset > 0 else "−"
        return Feedback("constant-offset", f"your answer differs from the reference by a constant: it is the "
                                           f"reference {sign} {fmt(abs(offset), tol)}")
    ranges = instances.problem.dim_ranges
    groups = instances.groups
    if len(ranges) == 1 and len(groups) >= 3:
        (name,) = ranges
        per_group = [float((v - o).median()) for v, o in zip(comparison.values, comparison.others)]
        dims = [g.dims[name] for g in groups]
        if dims[-1] == dims[0] or not all(math.isfinite(c) for c in per_group):
            return None
        slope = (per_group[-1] - per_group[0]) / (dims[-1] - dims[0])
        intercept = per_group[0] - slope * dims[0]
        if all(_all_within(v, o + (intercept + slope * d), tol)
               for v, o, d in zip(comparison.values, comparison.others, dims)):
            term = f"{fmt(slope, tol)}·{name}" if slope != 0 else ""
            if intercept != 0:
                term = (f"{term} {'+' if intercept > 0 else '−'} {fmt(abs(intercept), tol)}" if term
                        else fmt(intercept, tol))
            return Feedback("dimension-offset", f"your answer minus the reference is {term.strip()}, "
                                                f"a term that depends only on {name}")
    return None


def _generic(instances: Instances, comparison: Comparison) -> list[Feedback]:
    out: list[Feedback] = []
    smallest = _only_smallest_dimension(instances, comparison)
    if smallest is not None:
        out.append(smallest)
    undefined = [bool((torch.isnan(v) & torch.isfinite(o)).any()) for v, o in zip(comparison.values, comparison.others)]
    if any(undefined):
        out.append(Feedback("undefined", "your answer is undefined (NaN) on some instances: a log or square root "
                                         "of a negative number, or an index outside its range (x_0)"))
        return out
    if all(v.dim() == 1 for v in comparison.values):
        relation = _relation(instances, comparison)
        if relation is not None:
            out.append(relation)
    return out


def _undefined_alike(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Both with 0 where both are NaN: a mistake is matched where it is undefined too (log h for h < 0)."""
    both = torch.isnan(a) & torch.isnan(b)
    return torch.where(both, torch.zeros_like(a), a), torch.where(both, torch.zeros_like(b), b)


def diagnose(instances: Instances, values: list[torch.Tensor], comparison: Comparison) -> list[Feedback]:
    """Named misconceptions the answer matches (undefined where they are), else generic diagnoses (possibly none)."""
    tol = instances.problem.tolerance
    kept, stacked = misconception_values(instances)
    if stacked is not None and all(v.dim() == 1 for v in values):
        raw = torch.cat(values).unsqueeze(0).expand_as(stacked)
        answer, mistakes = _undefined_alike(raw, stacked)
        defined = ~torch.isnan(stacked).all(dim=1)  # a mistake undefined everywhere identifies nothing
        hits = (within(answer, mistakes, tol) & defined).tolist()  # one row per mistake
        named = [Feedback(m.id, m.feedback) for (m, _), hit in zip(kept, hits) if hit]
    else:
        named = [Feedback(m.id, m.feedback) for m, v in kept
                 if matches(*zip(*(_undefined_alike(a, b) for a, b in zip(values, v))), tol)]
    return named or _generic(instances, comparison)
