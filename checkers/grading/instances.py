"""Random instances a problem's answers are compared on, drawn once per process, and memoised batch evaluation.

For every value of the problem's dimension symbols (the whole declared range, e.g. d = 1..5) one
batch is drawn from the declared kinds with a fixed seed, derived values (Σ = AAᵀ) are added, and
the reference and every named misconception are evaluated once. Student expressions are then
evaluated with checkers.evaluate's batched evaluator, memoising subexpressions across answers:
the subtrees students share with the reference (tr(Σ₁⁻¹Σ₀), det Σ₀) are computed once per worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
import torch

from checkers.evaluate import _Evaluator, evaluate
from checkers.grading.problem import Problem

MEMO_LIMIT = 20_000


class _MemoEvaluator(_Evaluator):
    """The engine's evaluator with a memo of subexpression values (skipped inside sums' bound indices)."""

    def __init__(self, memo: dict, *args):
        super().__init__(*args)
        self.memo = memo

    def __call__(self, e):
        if self.bound:
            return super().__call__(e)
        hit = self.memo.get(e)
        if hit is None:
            hit = super().__call__(e)
            self.memo[e] = hit
        return hit


@dataclass
class Group:
    """One batch of instances sharing the dimension values `dims`."""

    dims: dict[str, int]
    values: dict[str, torch.Tensor]
    size: int
    reference: torch.Tensor | None = None
    memo: dict = field(default_factory=dict)

    def evaluate(self, expr: sp.Basic) -> torch.Tensor:
        """(B,) for scalar expressions, (B, rows, cols) for matrices, in float64."""
        if len(self.memo) > MEMO_LIMIT:
            self.memo.clear()
        ev = _MemoEvaluator(self.memo, self.values, self.dims, self.size, torch.float64, "cpu")
        out = ev(expr)
        if isinstance(expr, sp.MatrixExpr) and expr.shape != (1, 1):
            return out
        return out.reshape(self.size)

    def instance(self, index: int, names: dict[str, str]) -> dict[str, object]:
        """Instance `index` as plain numbers, keyed by how the problem writes each symbol."""
        out: dict[str, object] = {names.get(k, k): v for k, v in self.dims.items()}
        for name, v in self.values.items():
            row = v[index].detach().to(torch.float64)
            out[names.get(name, name)] = row.tolist() if row.dim() else float(row)
        return out


@dataclass
class Instances:
    """All groups of a problem, with the reference evaluated on each."""

    problem: Problem
    groups: list[Group]
    seed: int

    @property
    def count(self) -> int:
        return sum(g.size for g in self.groups)

    def describe_dims(self) -> str:
        if not self.problem.dims:
            return ""
        parts = []
        for name, values in self.problem.dims.items():
            values = sorted(values)
            contiguous = values == list(range(values[0], values[-1] + 1))
            parts.append(f"{name} = {values[0]}..{values[-1]}" if contiguous and len(values) > 2
                         else f"{name} ∈ {{{', '.join(map(str, values))}}}")
        return ", ".join(parts)


def draw(problem: Problem, seed: int | None = None) -> Instances:
    """Draw every group of `problem` and evaluate its reference there."""
    seed = problem.seed if seed is None else seed
    definitions = problem.definition_map
    groups = []
    for index, dims in enumerate(problem.dim_combinations()):
        gen = torch.Generator().manual_seed(seed * 1009 + index)
        values = {v.name: v.draw(problem.instances_per_group, dims, gen) for v in problem.drawn}
        for symbol, expr in definitions.items():
            values[symbol.name] = evaluate(expr, values, dims, batch=problem.instances_per_group)
        group = Group(dims=dims, values=values, size=problem.instances_per_group)
        group.reference = group.evaluate(problem.reference_expr)
        bad = ~torch.isfinite(group.reference.reshape(group.size, -1)).all(dim=1)
        if bad.any():
            raise RuntimeError(f"{problem.id}: the reference is not finite on {int(bad.sum())} drawn instances "
                               f"at {dims}; the declared kinds leave the reference's domain")
        groups.append(group)
    return Instances(problem=problem, groups=groups, seed=seed)


_CACHE: dict[tuple[str, int], Instances] = {}


def instances_for(problem: Problem, seed: int | None = None) -> Instances:
    """The (cached) instances of `problem`; forked workers inherit the parent's cache."""
    key = (problem.id, problem.seed if seed is None else seed)
    if key not in _CACHE:
        _CACHE[key] = draw(problem, seed)
    return _CACHE[key]
