"""Numeric equivalence of two expressions on a problem's instances: the tolerance test and the counterexample.

Both sides are evaluated in float64 on every group (one batch per dimension value). An instance
agrees when |student − reference| <= atol + rtol·|reference| (the problem's tolerance, by default the
float64 row of checkers.tolerances) and both are finite, or both are the same infinity. Failures
small enough to be rounding (relative error below 1e-4) are re-tested with the first-order
rounding-error bound of both evaluations (checkers.evaluate.rounding_sensitivity), so a correct answer
written with cancelling large terms is not marked wrong; a genuine formula error is far larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from checkers.errors import UnsupportedExpression
from checkers.evaluate import rounding_sensitivity
from checkers.grading.instances import Group, Instances
from checkers.tolerances import Tolerance

ROUNDING_SUSPECT = 1e-4  # relative error below which a mismatch is re-tested against the rounding bound
UNIT_ROUNDOFF = torch.finfo(torch.float64).eps / 2


class Undefined(Exception):
    """The student's expression has no value on an instance (a singular matrix was inverted)."""

    def __init__(self, group: Group, why: str):
        super().__init__(why)
        self.group, self.why = group, why


@dataclass
class Comparison:
    """Per-group agreement masks of one expression against another, and the worst mismatch."""

    ok: list[torch.Tensor]  # (B,) bool per group
    values: list[torch.Tensor]  # the expression's values per group
    others: list[torch.Tensor]  # what they were compared with

    @property
    def passed(self) -> bool:
        return all(bool(m.all()) for m in self.ok)

    @property
    def checked(self) -> int:
        return sum(int(m.numel()) for m in self.ok)

    def failing_groups(self) -> list[int]:
        return [i for i, m in enumerate(self.ok) if not bool(m.all())]

    def worst(self, group: int) -> int:
        """Index of the instance with the largest relative error in a failing group."""
        a = self.values[group].reshape(self.ok[group].numel(), -1)
        b = self.others[group].reshape(self.ok[group].numel(), -1)
        rel = ((a - b).abs() / b.abs().clamp_min(1e-300)).nan_to_num(nan=float("inf")).amax(dim=1)
        rel = torch.where(self.ok[group], torch.full_like(rel, -1.0), rel)
        return int(rel.argmax())


def evaluate_on(groups: list[Group], expr: sp.Basic) -> list[torch.Tensor]:
    """Values of `expr` on every group; Undefined if torch cannot evaluate it (singular matrix)."""
    out = []
    for g in groups:
        try:
            out.append(g.evaluate(expr).to(torch.float64))
        except torch.linalg.LinAlgError as exc:
            raise Undefined(g, f"it inverts a singular matrix ({str(exc).splitlines()[0]})") from None
    return out


def agree(a: torch.Tensor, b: torch.Tensor, tol: Tolerance) -> torch.Tensor:
    """(B,) mask: every entry of a is within tolerance of b (same infinities count as equal; NaN never does)."""
    n = a.shape[0]
    x, y = a.detach().numpy().reshape(n, -1), b.detach().numpy().reshape(n, -1)  # numpy: cheaper on tiny batches
    with np.errstate(invalid="ignore"):
        close = (np.abs(x - y) <= tol.atol + tol.rtol * np.abs(y)) | (np.isinf(x) & (x == y))
    return torch.from_numpy(close.all(axis=1))


def _rescue_rounding(expr: sp.Basic, other: sp.Basic, group: Group, a, b, mask, tol) -> torch.Tensor:
    """Re-test near misses with the first-order rounding bound of both evaluations."""
    n = a.shape[0]
    rel = ((a - b).reshape(n, -1).abs() / b.reshape(n, -1).abs().clamp_min(1e-300)).amax(dim=1)
    suspects = ~mask & (rel < ROUNDING_SUSPECT)
    if not bool(suspects.any()):
        return mask
    try:
        w = rounding_sensitivity(expr, group.values, group.dims, batch=group.size) + \
            rounding_sensitivity(other, group.values, group.dims, batch=group.size)
    except (UnsupportedExpression, RuntimeError):
        return mask
    extra = (4 * UNIT_ROUNDOFF * w).reshape(n, 1)
    close = ((a - b).reshape(n, -1).abs() <= tol.atol + tol.rtol * b.reshape(n, -1).abs() + extra).all(dim=1)
    return mask | (suspects & close)


def compare(expr: sp.Basic, values: list[torch.Tensor], other: sp.Basic, other_values: list[torch.Tensor],
            instances: Instances) -> Comparison:
    """Where `values` (of expr) agree with `other_values` (of other) on each group."""
    tol = instances.problem.tolerance
    if all(a.dim() == 1 and a.shape == b.shape for a, b in zip(values, other_values)):
        # Scalar answers: one vectorised test over every group at once.
        flat = agree(torch.cat(values), torch.cat(other_values), tol)
        masks = list(flat.split([a.shape[0] for a in values]))
    else:
        masks = [agree(a, b, tol) if a.shape == b.shape else torch.zeros(g.size, dtype=torch.bool)
                 for g, a, b in zip(instances.groups, values, other_values)]
    for i, (g, a, b) in enumerate(zip(instances.groups, values, other_values)):
        if a.shape == b.shape and not bool(masks[i].all()):
            masks[i] = _rescue_rounding(expr, other, g, a, b, masks[i], tol)
    return Comparison(ok=masks, values=values, others=other_values)


def matches(values: list[torch.Tensor], other_values: list[torch.Tensor], tol: Tolerance) -> bool:
    """Quick full agreement test (no rounding rescue), for misconception matching."""
    return all(a.shape == b.shape and bool(agree(a, b, tol).all()) for a, b in zip(values, other_values))


def as_plain(t: torch.Tensor):
    """A float, or nested lists of floats, for JSON."""
    t = t.detach().to(torch.float64)
    return float(t) if t.dim() == 0 else t.tolist()
