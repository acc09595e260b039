"""Numeric equivalence of two expressions on a problem's instances, decided by the engine's tolerance code.

Both sides are evaluated in float64 on every batch by the engine's evaluator. An instance agrees when
`checkers.tolerances.within` says so under the problem's tolerance (by default the float64 row of
the table): the very test `proofcheck verify` applies. Where instances disagree but agree to
half precision (the float16 row of the same table), they are judged again with the allowance the
engine gives low-precision runs, the first-order rounding bound
u·Σ|∂f/∂vᵢ|·|vᵢ| of both evaluations on that instance (`checkers.evaluate.rounding_sensitivity`),
so a correct answer written with cancelling large terms is not marked wrong, while a genuine
formula error, far beyond what rounding explains, still is. The counterexample is the instance
with the largest relative error (`Discrepancy.rel_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch

from checkers.errors import UnsupportedExpression
from checkers.evaluate import rounding_sensitivity
from checkers.grading.instances import Instances, evaluate
from checkers.model import Sample
from checkers.tolerances import DEFAULT_TOLERANCES, Tolerance, compare as discrepancy, unit_roundoff, within


class Undefined(Exception):
    """The student's expression has no value on an instance (a singular matrix was inverted)."""

    def __init__(self, group: Sample, why: str, index: int = 0):
        super().__init__(why)
        self.group, self.why, self.index = group, why, index  # index: the batch's position in the list evaluated


@dataclass
class Comparison:
    """Per-batch agreement masks of one expression against another, and the values compared."""

    ok: list[torch.Tensor]  # (B,) bool per batch
    values: list[torch.Tensor]  # the expression's values per batch
    others: list[torch.Tensor]  # what they were compared with
    tolerance: Tolerance

    @property
    def passed(self) -> bool:
        return all(bool(m.all()) for m in self.ok)

    @property
    def checked(self) -> int:
        return sum(int(m.numel()) for m in self.ok)

    def failing_groups(self) -> list[int]:
        return [i for i, m in enumerate(self.ok) if not bool(m.all())]

    def worst(self, group: int) -> int:
        """Index of the failing instance with the largest relative error in batch `group`."""
        a, b = self.values[group], self.others[group]
        if a.shape != b.shape:
            return 0
        rel = discrepancy(a, b, self.tolerance).rel_error
        rel = torch.where(self.ok[group], torch.full_like(rel, -1.0), rel.nan_to_num(nan=float("inf")))
        return int(rel.argmax())


def evaluate_on(groups: list[Sample], expr: sp.Basic) -> list[torch.Tensor]:
    """Values of `expr` on every batch; Undefined if torch cannot evaluate it (singular matrix)."""
    out = []
    for index, g in enumerate(groups):
        try:
            out.append(evaluate(g, expr).to(torch.float64))
        except torch.linalg.LinAlgError as exc:
            raise Undefined(g, f"it inverts a singular matrix ({str(exc).splitlines()[0]})", index) from None
    return out


def rounding_allowance(exprs: tuple[sp.Basic, ...], group: Sample) -> torch.Tensor | None:
    """u(float64) times the summed first-order rounding weights of `exprs` on each instance; None if not computable."""
    try:
        weight = sum(rounding_sensitivity(e, group.values, group.dims, batch=group.size) for e in exprs)
    except (UnsupportedExpression, RuntimeError, torch.linalg.LinAlgError):
        return None
    return unit_roundoff(torch.float64) * weight


def _rounding_rescue(expr, other, group: Sample, a, b, mask, tol: Tolerance, instances: Instances) -> torch.Tensor:
    """Re-judge the mismatches of one batch with the float64 rounding bound of both evaluations.

    The reference's bound is computed once per batch (it is the same for every answer).
    """
    key = ("rounding", id(group))
    if other is instances.problem.reference_expr:
        if key not in instances.cache:
            instances.cache[key] = rounding_allowance((other,), group)
        other_bound = instances.cache[key]
    else:
        other_bound = rounding_allowance((other,), group)
    own = rounding_allowance((expr,), group)
    if own is None or other_bound is None:
        return mask
    return mask | within(a, b, tol, own + other_bound)


def compare(expr: sp.Basic, values: list[torch.Tensor], other: sp.Basic, other_values: list[torch.Tensor],
            instances: Instances) -> Comparison:
    """Where `values` (of expr) agree with `other_values` (of other) on each batch.

    The rounding bound (an autograd pass per batch) is computed only when every mismatch of the answer
    is a near miss, within the half-precision row of the tolerance table: a formula off by more than
    that on any instance is wrong whatever its rounding, and computing the bound for every plainly
    wrong answer would cost more than the grading itself.
    """
    tol = instances.problem.tolerance
    near = DEFAULT_TOLERANCES[torch.float16]
    if all(a.dim() == 1 and a.shape == b.shape for a, b in zip(values, other_values)):
        # Scalar answers: one test over every batch at once (per-call overhead dominates on tiny batches).
        a, b = torch.cat(values), torch.cat(other_values)
        flat = within(a, b, tol)
        masks = list(flat.split([v.shape[0] for v in values]))
        near_misses_only = bool(flat.all()) or bool((flat | within(a, b, near)).all())
    else:
        masks, near_misses_only = _per_batch(values, other_values, instances, tol, near)
    if near_misses_only:
        for i, (g, a, b) in enumerate(zip(instances.groups, values, other_values)):
            if not bool(masks[i].all()):
                masks[i] = _rounding_rescue(expr, other, g, a, b, masks[i], tol, instances)
    return Comparison(ok=masks, values=values, others=other_values, tolerance=tol)


def _per_batch(values, other_values, instances: Instances, tol: Tolerance, near: Tolerance):
    masks, near_misses_only = [], True
    for g, a, b in zip(instances.groups, values, other_values):
        if a.shape != b.shape:
            masks.append(torch.zeros(g.size, dtype=torch.bool))
            near_misses_only = False
            continue
        mask = within(a, b, tol)
        if near_misses_only and not bool(mask.all()):
            near_misses_only = bool((mask | within(a, b, near)).all())
        masks.append(mask)
    return masks, near_misses_only


def matches(values: list[torch.Tensor], other_values: list[torch.Tensor], tol: Tolerance) -> bool:
    """Full agreement on every instance (no rounding allowance), for misconception matching."""
    return all(a.shape == b.shape and bool(within(a, b, tol).all()) for a, b in zip(values, other_values))


def as_plain(t: torch.Tensor):
    """A float, or nested lists of floats, for JSON."""
    t = t.detach().to(torch.float64)
    return float(t) if t.dim() == 0 else t.tolist()
