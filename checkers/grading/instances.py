"""The random instances a problem's answers are compared on: the engine's own `Sample`s, drawn once per process.

For every combination of the problem's dimension values (the whole declared range, e.g. d = 1..5)
one batch is drawn by the engine's `draw_sample` from the claim's kinds and definitions (Σ = AAᵀ),
with a seed derived from the problem's; the reference is evaluated once per batch by the engine's
evaluator (`Sample.evaluate`). Nothing here draws or evaluates on its own.

A term that vanishes on every declared dimension ((d−1)(d−2)⋯(d−5), 1[T > 8]) would pass a check made
only there, so answers are also compared beyond the declared range (`beyond`): each dimension steps
past its largest value (d = 6, 7; a single dimension by half its range again, T = 9..12), where the
claim allows it, that is where the problem's own `dims_where` keeps the combination, the kinds can
be drawn and the reference is finite there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp
import torch

from checkers.errors import InternalError
from checkers.evaluate import evaluate as engine_evaluate
from checkers.grading.problem import Problem
from checkers.model import Sample
from checkers.sampling import Config, draw_sample


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
        """`d = 1..7`; with several dimensions the declared grid and the combinations past it:
        `n_x = 2..4, n_y = 2..4, and (n_x, n_y) = (5, 5), (6, 6)`."""
        ranges = self.problem.dim_ranges
        if len(ranges) == 1:
            (name,) = ranges
            return _describe_values(name, {g.dims[name] for g in self.groups})
        parts = [_describe_values(name, values) for name, values in ranges.items()]
        past = [g.dims for g in self.groups if any(g.dims[n] not in ranges[n] for n in ranges)]
        if past:
            names = ", ".join(ranges)
            points = ", ".join("(" + ", ".join(str(dims[n]) for n in ranges) + ")" for dims in past)
            parts.append(f"and ({names}) = {points}")
        return ", ".join(parts)


def _describe_values(name: str, values) -> str:
    values = sorted(values)
    contiguous = values == list(range(values[0], values[-1] + 1))
    return (f"{name} = {values[0]}..{values[-1]}" if contiguous and len(values) > 2
            else f"{name} ∈ {{{', '.join(map(str, values))}}}")


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


BEYOND_STEPS = 2  # steps past the declared range for each dimension (a single dimension: half its range, if more)


def beyond(problem: Problem) -> list[dict[str, int]]:
    """The dimension combinations past the declared range that answers are also compared on.

    Every dimension takes its k-th step past its largest declared value together (d = 6, 7 for d = 1..5; m
    in (1, 2, 4) steps by 2), k = 1..BEYOND_STEPS; a problem with one dimension goes as far again as half its
    range (T = 1..8 adds T = 9..12). Combinations the problem's `dims_where` excludes are left out.
    """
    ranges = problem.dim_ranges
    if not ranges:
        return []
    steps = BEYOND_STEPS
    if len(ranges) == 1:
        (values,) = ranges.values()
        steps = max(steps, len(values) // 2)
    out = []
    for k in range(1, steps + 1):
        combo = {}
        for name, values in ranges.items():
            values = sorted(values)
            step = values[-1] - values[-2] if len(values) > 1 else 1
            combo[name] = values[-1] + k * step
        if problem.dims_where is None or problem.dims_where(combo):
            out.append(combo)
    return out


def _draw_group(problem: Problem, dims: dict[str, int], batch_seed: int) -> tuple[Sample, torch.Tensor, int]:
    """One batch at `dims`, the reference's values there, and how many instances the reference is not finite on."""
    group = draw_sample(problem.sampling_claim, Config(dims=dict(dims), batch_seed=batch_seed),
                        problem.instances_per_group)
    reference = evaluate(group, problem.reference_expr)
    bad = int((~torch.isfinite(reference.reshape(group.size, -1)).all(dim=1)).sum())
    return group, reference, bad


def draw(problem: Problem, seed: int | None = None) -> Instances:
    """Draw every batch of `problem` with the engine and evaluate its reference there (and beyond the range)."""
    seed = problem.seed if seed is None else seed
    groups, references = [], []
    declared = problem.dim_combinations()
    for index, dims in enumerate(declared):
        group, reference, bad = _draw_group(problem, dims, group_seed(seed, index))
        if bad:
            raise InternalError(f"{problem.id}: the reference is not finite on {bad} drawn instances "
                                f"at {dims}; the declared kinds leave the reference's domain")
        groups.append(group)
        references.append(reference)
    for index, dims in enumerate(beyond(problem), start=len(declared)):
        try:
            group, reference, bad = _draw_group(problem, dims, group_seed(seed, index))
        except Exception:  # noqa: BLE001 - a kind that cannot be drawn there: the claim does not reach these dims
            continue
        if not bad:
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
