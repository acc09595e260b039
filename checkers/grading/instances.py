"""The random instances a problem's answers are compared on: the engine's own `Sample`s, drawn once per process.

For every combination of the problem's dimension values (the whole declared range, e.g. d = 1..5)
one batch is drawn by the engine's `draw_sample` from the claim's kinds and definitions (Σ = AAᵀ),
with a seed derived from the problem's; the reference is evaluated once per batch by the engine's
evaluator (`Sample.evaluate`). Nothing here draws or evaluates on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
import torch

from checkers.errors import InternalError
from checkers.evaluate import evaluate as engine_evaluate
from checkers.grading.problem import Problem
from checkers.model import Sample
from checkers.verify import Config, draw_sample


def group_seed(seed: int, index: int) -> int:
    """The torch seed of the `index`-th batch of a problem drawn with `seed` (printed in counterexamples)."""
    return seed * 1009 + index


@dataclass
class Instances:
    """Every batch (`groups`, engine Samples) of a problem, with the reference's values on each."""

    problem: Problem
    groups: list[Sample]
    references: list[torch.Tensor]
    seed: int
    cache: dict = field(default_factory=dict)  # per-process values derived from the instances (misconceptions)

    @property
    def count(self) -> int:
        return sum(g.size for g in self.groups)

    def describe_dims(self) -> str:
        parts = []
        for name, values in self.problem.dim_ranges.items():
            values = sorted(values)
            contiguous = values == list(range(values[0], values[-1] + 1))
            parts.append(f"{name} = {values[0]}..{values[-1]}" if contiguous and len(values) > 2
                         else f"{name} ∈ {{{', '.join(map(str, values))}}}")
        return ", ".join(parts)


MEMO_LIMIT = 20_000  # subexpression values kept per batch before the memo starts afresh
_MEMOS: dict[int, tuple[Sample, dict]] = {}  # id(batch) -> (the batch, kept alive so its id stays its own; memo)


def evaluate(group: Sample, expr: sp.Basic) -> torch.Tensor:
    """(B,) for scalar expressions, (B, rows, cols) for matrices, in float64 (the engine's evaluator).

    The engine's memo is kept per batch, so the subtrees that answers share with the reference and
    with each other (tr(Σ₁⁻¹Σ₀), det Σ₀) are computed once per process.
    """
    _, memo = _MEMOS.setdefault(id(group), (group, {}))
    if len(memo) > MEMO_LIMIT:
        memo.clear()
    return engine_evaluate(expr, group.values, group.dims, dtype=group.dtype, device=group.device, batch=group.size,
                           memo=memo)


def draw(problem: Problem, seed: int | None = None) -> Instances:
    """Draw every batch of `problem` with the engine and evaluate its reference there."""
    seed = problem.seed if seed is None else seed
    claim = problem.sampling_claim
    groups, references = [], []
    for index, dims in enumerate(problem.dim_combinations()):
        group = draw_sample(claim, Config(dims=dict(dims), batch_seed=group_seed(seed, index)),
                            problem.instances_per_group)
        reference = evaluate(group, problem.reference_expr)
        bad = ~torch.isfinite(reference.reshape(group.size, -1)).all(dim=1)
        if bad.any():
            raise InternalError(f"{problem.id}: the reference is not finite on {int(bad.sum())} drawn instances "
                                f"at {dims}; the declared kinds leave the reference's domain")
        groups.append(group)
        references.append(reference)
    return Instances(problem=problem, groups=groups, references=references, seed=seed)


_CACHE: dict[tuple[str, int], Instances] = {}


def instances_for(problem: Problem, seed: int | None = None) -> Instances:
    """The (cached) instances of `problem`; forked workers inherit the parent's cache."""
    key = (problem.id, problem.seed if seed is None else seed)
    if key not in _CACHE:
        _CACHE[key] = draw(problem, seed)
    return _CACHE[key]
