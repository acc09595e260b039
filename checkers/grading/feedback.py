"""Targeted feedback for an incorrect answer: named misconceptions first, then generic diagnoses.

A named misconception matches when the student's values agree with the misconception's formula on
every instance (the same tolerance as grading). The generic diagnoses look at how the student's values
relate to the reference: right only for the smallest dimension ("correct only for n = 1"), off by a
constant factor or the sign, off by a constant, or off by a term that depends only on the dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from checkers.grading.equivalence import Comparison, evaluate_on, matches, Undefined
from checkers.grading.instances import Instances
from checkers.errors import UnsupportedExpression


@dataclass(frozen=True)
class Feedback:
    """One diagnosis: a stable id (misconception id or generic kind) and the sentence for the student."""

    id: str
    message: str


def _misconception_values(instances: Instances):
    """(misconception, values) for every named mistake, evaluated once per process and de-duplicated."""
    cached = getattr(instances, "_misconceptions", None)
    if cached is not None:
        return cached
    problem = instances.problem
    reference = [g.reference for g in instances.groups]
    kept = []
    for m, expr in problem.misconception_exprs():
        try:
            values = evaluate_on(instances.groups, expr)
        except (Undefined, UnsupportedExpression):
            continue
        if matches(values, reference, problem.tolerance) or any(matches(values, v, problem.tolerance) for _, v in kept):
            continue  # equal to the reference or to an earlier mistake on these instances: not distinguishable
        kept.append((m, values))
    stacked = None
    if kept and all(v.dim() == 1 for _, vs in kept for v in vs):
        stacked = torch.stack([torch.cat(vs) for _, vs in kept]).numpy()  # (mistakes, instances): one-shot matching
    instances._misconceptions = (kept, stacked)
    return instances._misconceptions


def fmt(c: float) -> str:
    """A constant as a short fraction when it is one (1/2, −3), else 6 significant digits."""
    f = Fraction(c).limit_denominator(48)
    if abs(float(f) - c) <= 1e-9 * max(1.0, abs(c)):
        text = str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    else:
        text = f"{c:.6g}"
    return text.replace("-", "−")


def _constant(x: torch.Tensor, rel: float = 1e-6) -> float | None:
    x = x[torch.isfinite(x)]
    if x.numel() < 2:
        return None
    c = float(x.median())
    if bool(((x - c).abs() <= rel * max(1.0, abs(c))).all()):
        return c
    return None


def _generic(instances: Instances, comparison: Comparison) -> list[Feedback]:
    problem = instances.problem
    out: list[Feedback] = []
    groups = instances.groups
    if len(problem.dims) == 1:
        (name,) = problem.dims
        smallest = min(g.dims[name] for g in groups)
        small_ok = [bool(comparison.ok[i].all()) for i, g in enumerate(groups) if g.dims[name] == smallest]
        failing = [g.dims[name] for i, g in enumerate(groups) if not bool(comparison.ok[i].all())]
        if small_ok and all(small_ok) and failing:
            out.append(Feedback("only-smallest-dimension",
                                f"correct only for {name} = {smallest}: your formula agrees with the reference when "
                                f"{name} = {smallest} but not for {name} = {min(failing)}"))
    undefined = [bool((torch.isnan(v) & torch.isfinite(o)).any()) for v, o in zip(comparison.values, comparison.others)]
    if any(undefined):
        out.append(Feedback("undefined", "your answer is undefined (NaN) on some instances: a log or square root "
                                         "of a negative number, or an index outside its range (x_0)"))
        return out
    if any(v.dim() != 1 for v in comparison.values):
        return out
    s = torch.cat(comparison.values)
    r = torch.cat(comparison.others)
    usable = torch.isfinite(s) & torch.isfinite(r) & (r.abs() > 1e-12)
    factor = _constant(s[usable] / r[usable]) if bool(usable.any()) else None
    if factor is not None and abs(factor - 1) > 1e-6:
        if abs(factor) < 1e-12:
            out.append(Feedback("zero", "your answer is 0 on every instance"))
        elif abs(factor + 1) < 1e-6:
            out.append(Feedback("wrong-sign", "your answer has the wrong sign (it is −1 times the reference)"))
        else:
            out.append(Feedback("constant-factor", f"your answer is {fmt(factor)} times the reference"))
        return out
    offset = _constant(s - r)
    if offset is not None:
        sign = "+" if offset > 0 else "−"
        out.append(Feedback("constant-offset", f"your answer differs from the reference by a constant: it is the "
                                               f"reference {sign} {fmt(abs(offset))}"))
        return out
    if len(problem.dims) == 1 and len(groups) >= 3:
        (name,) = problem.dims
        per_group = [_constant(v - o) for v, o in zip(comparison.values, comparison.others)]
        if all(c is not None for c in per_group):
            dims = [g.dims[name] for g in groups]
            slope = (per_group[-1] - per_group[0]) / (dims[-1] - dims[0])
            intercept = per_group[0] - slope * dims[0]
            if all(abs(intercept + slope * d - c) <= 1e-6 * max(1.0, abs(c)) for d, c in zip(dims, per_group)):
                term = f"{fmt(slope)}·{name}" if abs(slope) > 1e-12 else ""
                if abs(intercept) > 1e-12:
                    term = f"{term} {'+' if intercept > 0 else '−'} {fmt(abs(intercept))}" if term else fmt(intercept)
                out.append(Feedback("dimension-offset", f"your answer minus the reference is {term.strip()}, "
                                                        f"a term that depends only on {name}"))
    return out


def diagnose(instances: Instances, values: list[torch.Tensor], comparison: Comparison) -> list[Feedback]:
    """Named misconceptions the answer matches, else generic diagnoses (possibly none)."""
    tol = instances.problem.tolerance
    kept, stacked = _misconception_values(instances)
    if stacked is not None and all(v.dim() == 1 for v in values):
        s = np.concatenate([v.numpy() for v in values])[None, :]
        with np.errstate(invalid="ignore"):
            close = (np.abs(s - stacked) <= tol.atol + tol.rtol * np.abs(stacked)) | (np.isinf(s) & (s == stacked))
        hits = close.all(axis=1).tolist()
        named = [Feedback(m.id, m.feedback) for (m, _), hit in zip(kept, hits) if hit]
    else:
        named = [Feedback(m.id, m.feedback) for m, v in kept if matches(values, v, tol)]
    return named or _generic(instances, comparison)
