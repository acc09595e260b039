"""Monte Carlo estimators for statistical claims: means and variances with standard errors, quadrature, sharpness mutants.

A claim that rests on Monte Carlo returns an `Estimate(mean, stderr)` per instance and component, and
the engine accepts it within `z` standard errors of the target, component by component. These
helpers build such estimates in one vectorised pass over the instances (never a Python loop per
instance), in chunks of draws so that memory stays bounded however many draws a claim needs, and
give every Monte Carlo claim the two mutants that show it is sharp: its target scaled by 1.02 and by
0.98 (`sharpness_mutants`). Deterministic references for the same expectations (Gauss–Hermite
quadrature) live here too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from checkers.model import Estimate, Mutant, Sample, Value

SHARPNESS_FACTORS = (1.02, 0.98)


def estimate(values: torch.Tensor, dim: int = 0) -> Estimate:
    """Sample mean over `dim` and its standard error s/√N (s the unbiased standard deviation)."""
    count = values.shape[dim]
    if count < 2:
        raise ValueError(f"a standard error needs at least 2 draws (got {count})")
    return Estimate(values.mean(dim), values.std(dim) / math.sqrt(count))


@dataclass
class Moments:
    """Running count, mean and sum of squared deviations of draws that arrive in chunks (Chan et al.'s update).

    Numerically stable (no Σx² − N·mean² cancellation), so millions of draws can be accumulated in
    float32 as well as in float64.
    """

    count: int = 0
    mean: torch.Tensor | float = 0.0
    m2: torch.Tensor | float = 0.0

    def add(self, values: torch.Tensor, dim: int = 0) -> None:
        n = values.shape[dim]
        mean = values.mean(dim)
        m2 = ((values - mean.unsqueeze(dim)) ** 2).sum(dim)
        if self.count == 0:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.count * n / total)
        self.count = total

    def estimate(self) -> Estimate:
        if self.count < 2:
            raise ValueError(f"a standard error needs at least 2 draws (got {self.count})")
        return Estimate(self.mean, torch.sqrt(self.m2 / (self.count - 1) / self.count))


def chunked_estimate(draw: Callable[[int, int], torch.Tensor], draws: int, chunk: int = 4096) -> Estimate:
    """Mean and standard error of `draws` draws produced in chunks: `draw(start, count)` returns (count, ...) values.

    `draw` is called with consecutive ranges, so it can seed or slice its noise by `start` and the
    result does not depend on `chunk`'s effect on memory (only on the draws themselves).
    """
    moments = Moments()
    for start in range(0, draws, chunk):
        moments.add(draw(start, min(chunk, draws - start)))
    return moments.estimate()


def variance_estimate(values: torch.Tensor, counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unbiased variance of each row's first counts[i] entries (the rest zero-padded) and its standard error.

    stderr² = (m4 − m2²)/N: the delta-method variance of the sample variance, from the fourth central
    moment m4 (for a uniform law m4 = 1.8 σ⁴, so the relative standard error is √(0.8/N)).
    """
    counts = counts.to(values.device)
    mask = torch.arange(values.shape[-1], device=values.device) < counts.unsqueeze(-1)
    n_ = counts.to(values.dtype)
    mean = (values * mask).sum(-1) / n_
    centred = (values - mean.unsqueeze(-1)) * mask
    m2 = (centred ** 2).sum(-1) / n_
    m4 = (centred ** 4).sum(-1) / n_
    var = m2 * n_ / (n_ - 1)
    return var, torch.sqrt((m4 - m2 ** 2).clamp_min(0) / n_)


def segment_variance_estimate(values: torch.Tensor, segments: torch.Tensor,
                              count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Like `variance_estimate` for rows grouped by segment: `values` (T, k), `segments` (T,) in [0, count).

    Every entry of the rows of segment i is one draw of instance i; returns the unbiased variance
    (count,) and its delta-method standard error, from two vectorised passes (mean, then central moments).
    """
    values = values.reshape(values.shape[0], -1)
    per_row = values.shape[1]

    def total(rows: torch.Tensor) -> torch.Tensor:
        return torch.zeros(count, dtype=rows.dtype, device=rows.device).index_add_(0, segments, rows)

    n_ = total(torch.full((values.shape[0],), float(per_row), dtype=values.dtype, device=values.device))
    mean = total(values.sum(1)) / n_
    centred = values - mean[segments].unsqueeze(1)
    squared = centred ** 2
    m2 = total(squared.sum(1)) / n_
    m4 = total((squared ** 2).sum(1)) / n_
    return m2 * n_ / (n_ - 1), torch.sqrt((m4 - m2 ** 2).clamp_min(0) / n_)


def normal_draws(gen: torch.Generator, count: int, dim: int, antithetic: bool = True) -> torch.Tensor:
    """`count` standard normal vectors (count, dim), float64 CPU; antithetic: the second half is minus the first.

    Antithetic pairs z, −z leave every draw N(0, I) and the mean unbiased, and cancel the odd part of
    the integrand exactly (for a quadratic form, its linear term); `count` must then be even. The
    standard error of an antithetic estimate must be taken over pair means (`pair_means`), which are
    independent, not over the correlated draws.
    """
    if not antithetic:
        return torch.randn(count, dim, generator=gen, dtype=torch.float64)
    if count % 2:
        raise ValueError(f"antithetic draws come in pairs (got count={count})")
    half = torch.randn(count // 2, dim, generator=gen, dtype=torch.float64)
    return torch.cat([half, -half])


def pair_means(values: torch.Tensor) -> torch.Tensor:
    """Means of the antithetic pairs (i, i + N/2) of `normal_draws(..., antithetic=True)` along dim 0: iid draws."""
    half = values.shape[0] // 2
    return (values[:half] + values[half:2 * half]) / 2


def gauss_hermite_normal(points: int, dim: int, dtype: torch.dtype = torch.float64,
                         device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes (points^dim, dim) and weights (points^dim,) with Σ w f(node) = E f(Z), Z ~ N(0, I_dim).

    The tensor product of the `points`-point probabilists' Gauss–Hermite rule (numpy's hermegauss):
    exact, up to rounding, for every polynomial of degree <= 2·points − 1 in each coordinate. A
    deterministic reference for Gaussian expectations of polynomials and a quadrature for smooth
    integrands.
    """
    import numpy as np

    x, w = np.polynomial.hermite_e.hermegauss(points)
    nodes_1d = torch.tensor(x, dtype=torch.float64)
    weights_1d = torch.tensor(w, dtype=torch.float64) / math.sqrt(2 * math.pi)
    grids = torch.meshgrid(*([nodes_1d] * dim), indexing="ij")
    nodes = torch.stack([g.reshape(-1) for g in grids], dim=-1)
    weight_grids = torch.meshgrid(*([weights_1d] * dim), indexing="ij")
    weights = torch.stack([g.reshape(-1) for g in weight_grids], dim=-1).prod(-1)
    return nodes.to(device=device, dtype=dtype), weights.to(device=device, dtype=dtype)


def degenerate_components(mean: torch.Tensor, stderr: torch.Tensor) -> torch.Tensor:
    """True where a finite estimate's standard error cannot back a judgement: exactly 0, or infinite.

    A zero standard error from a finite number of draws does not mean the estimate is exact: the draws
    all landed where the integrand is constant (hinge-gan at seed 5: 1,024 draws from p all fell where
    D* = 1, so every term was 0, while the expectation is 2.3e-3 from the tails). An infinite one (no
    effective draws) would accept anything. Such a component is reported as "estimate degenerate": it
    cannot judge the target, so it neither fails nor passes the check. A NaN mean or standard error is
    not degenerate but broken, and fails as before.
    """
    return torch.isfinite(mean) & ((stderr == 0) | torch.isinf(stderr))


def scale_target(target: Value, factor: float) -> Value:
    """`target` times `factor` (a tensor target, or the mean of an Estimate target)."""
    if isinstance(target, Estimate):
        return Estimate(target.mean * factor, target.stderr * abs(factor))
    return target * factor


def sharpness_mutants(numeric: Callable[[Sample], tuple[Value, Value]],
                      factors: tuple[float, ...] = SHARPNESS_FACTORS) -> tuple[Mutant, ...]:
    """Mutants whose target (the right side) is the claim's own target scaled by each factor (1.02, 0.98).

    A Monte Carlo claim that lets a 2% error in its target through is too blunt to check anything;
    the engine must reject both variants on some instance within the same z standard errors that the
    true target passes.
    """
    def scaled(factor: float):
        def mutant(sample: Sample):
            lhs, rhs = numeric(sample)
            return lhs, scale_target(rhs, factor)
        return mutant

    return tuple(Mutant(f"target-x{factor:g}", f"the target scaled by {factor:g} (a {abs(factor - 1):.0%} error): "
                        "the Monte Carlo check must be sharp enough to reject it", numeric=scaled(factor))
                 for factor in factors)


def sharpness(estimate_: Estimate, target: torch.Tensor, factor: float = 1.02, z: float = 5.0) -> torch.Tensor:
    """(B,) the margin, in standard errors, by which each instance rejects the target scaled by `factor`.

    |mean − factor·target| / stderr − z, maximised over the components; > 0 means that instance alone
    rejects the scaled target. A diagnostic for the benchmark and the tests.
    """
    batch = target.shape[0] if target.dim() else 1
    mean = estimate_.mean.reshape(batch, -1).to(torch.float64)
    se = estimate_.stderr.reshape(batch, -1).to(torch.float64)
    scaled = (target.reshape(batch, -1) * factor).to(torch.float64)
    return ((mean - scaled).abs() / se - z).amax(dim=1)
