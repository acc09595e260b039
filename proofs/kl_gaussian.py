r"""KL divergence between two multivariate Gaussians in closed form, from the definition.

# Main statements

For $X \sim \mathcal{N}(\mu_0, \Sigma_0)$ and $\mathcal{N}(\mu_1, \Sigma_1)$ on $\mathbb{R}^d$ with
$\Sigma_0, \Sigma_1$ symmetric positive definite, $D_{\mathrm{KL}} = \mathbb{E}_0[\log p_0(X) - \log p_1(X)]$ and

* `log-density-ratio`: $\log p_0(x) - \log p_1(x) = \tfrac12\log\frac{\det\Sigma_1}{\det\Sigma_0}
  - \tfrac12 (x-\mu_0)^\top\Sigma_0^{-1}(x-\mu_0) + \tfrac12 (x-\mu_1)^\top\Sigma_1^{-1}(x-\mu_1)$ for every $x$.
* `quadratic-form-expectation`: $\mathbb{E}[(X-m)^\top M (X-m)] = \operatorname{tr}(M\Sigma_0)
  + (\mu_0-m)^\top M(\mu_0-m)$ for any $m \in \mathbb{R}^d$, $M \in \mathbb{R}^{d\times d}$.
* `closed-form`: taking $\mathbb{E}_0$ of the log-density ratio with the lemma ($m = \mu_0, M = \Sigma_0^{-1}$
  and $m = \mu_1, M = \Sigma_1^{-1}$) gives
  $D_{\mathrm{KL}}(\mathcal{N}(\mu_0,\Sigma_0)\,\|\,\mathcal{N}(\mu_1,\Sigma_1))
  = \tfrac12\big(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)
  + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\tfrac{\det\Sigma_1}{\det\Sigma_0}\big)$.

# Notation

$p_i(x) = (2\pi)^{-d/2}\det(\Sigma_i)^{-1/2}\exp(-\tfrac12 (x-\mu_i)^\top\Sigma_i^{-1}(x-\mu_i))$; $\mathbb{E}_0$ is the
expectation over $X \sim p_0$. The module-level names `d`, `mu0`, `mu1`, `Sigma0`, `Sigma1`, `KL_CLOSED_FORM`
and the claim `closed_form` are the reference answer other parts of the project import.

# Implementation notes

* `closed-form` is proved from the definition for $d \in \{1, 2, 3\}$ (`MomentExpectation`): the
  integrand $\log p_0(x) - \log p_1(x)$ is built from the two densities (not from the right-hand side),
  made explicit with $\Sigma_i = L_iL_i^\top$, its logarithms split (positive factors), and its
  monomials in $x$ replaced by the moments of $\mathcal N(\mu_0, \Sigma_0)$; the result minus the claim's
  own right-hand side simplifies to 0. The chain of steps starts from the definition after the
  lemma, $\tfrac12\log\frac{\det\Sigma_1}{\det\Sigma_0} - \tfrac12\operatorname{tr}(\Sigma_0^{-1}\Sigma_0)
  + \tfrac12(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_0-\mu_1)^\top\Sigma_1^{-1}(\mu_0-\mu_1))$, and each
  step is proved for general $d$ by `identity()` (matrix-expression rules: $\Sigma_0^{-1}\Sigma_0 = I_d$,
  $\operatorname{tr} I_d = d$, $(-v)^\top M(-v) = v^\top M v$). Independent references compute the KL itself
  from the definition: `torch.distributions.kl_divergence(MultivariateNormal, MultivariateNormal)` and a
  Monte Carlo mean of $\log p_0(X) - \log p_1(X)$ with `MultivariateNormal.log_prob` (within 5 standard
  errors).
* `log-density-ratio` is proved entrywise for $d \in \{1, 2, 3\}$ with $\Sigma_i = L_iL_i^\top$, $L_i$
  lower triangular with a positive diagonal (a parametrisation of every SPD matrix, which makes
  $\det\Sigma_i > 0$ visible to sympy so that logarithms of products split). With `MatrixSymbol`s and
  symbolic $d$ sympy knows no sign of $\det\Sigma_i$ and cannot split $\log(\det(\Sigma)^{-1/2}e^{q})$.
* `quadratic-form-expectation` is proved for $d \in \{1, 2, 3\}$ against its own right-hand side
  (`MomentExpectation`) from the two moments the problem gives ($\mathbb{E}X = \mu_0$,
  $\mathbb{E}[(X-\mu_0)(X-\mu_0)^\top] = \Sigma_0$): the integrand $(x-m)^\top M(x-m)$ is expanded as a
  polynomial in explicit entries $x_i$ and each monomial replaced by its moment
  ($x_i \mapsto \mu_i$, $x_ix_j \mapsto \Sigma_{ij} + \mu_i\mu_j$), which is linearity of expectation. It is
  checked numerically by Monte Carlo (relation ≈, 5 standard errors) for $d = 1..5$ and general
  (non-symmetric) $M$: $2^{18}$ antithetic pairs $\mu_0 \pm Lz$ per instance (1000 instances), sharp
  enough that the target scaled by 1.02 or 0.98 is rejected (the `target-x1.02`/`target-x0.98` mutants;
  at seed 0 the median instance rejects a 2% error by 10 standard errors). Its deterministic reference
  is 2-point-per-axis Gauss–Hermite quadrature, exact for this quadratic integrand.
* Half precision is not run: torch has no float16 `linalg.inv`, `det` or `cholesky` on the CPU.
* The figure shows a running Monte Carlo estimate of the KL with a ±2 standard-error band converging to
  the closed form on one fixed, seeded instance ($d = 3$).

# References

* hw6-2021 Problem 5 ($D_{\mathrm{KL}}$ of Gaussian random variables).
"""

from __future__ import annotations

import functools
import math

import sympy as sp
import torch

from checkers import (Answer, Claim, Derivation, Estimate, Figure, Matrix, Misconception, MomentExpectation, Mutant,
                      Part, Problem, Reference, SPD, Sample, Step, Symbol, Variable, Vector, for_dimensions,
                      gauss_hermite_normal, identity, per_batch, quadratic_form, sharpness_mutants,
                      Scalar)

d = sp.Symbol("d", integer=True, positive=True)
mu0 = sp.MatrixSymbol("mu_0", d, 1)
mu1 = sp.MatrixSymbol("mu_1", d, 1)
Sigma0 = sp.MatrixSymbol("Sigma_0", d, d)
Sigma1 = sp.MatrixSymbol("Sigma_1", d, d)
x = sp.MatrixSymbol("x", d, 1)
m = sp.MatrixSymbol("m", d, 1)
M = sp.MatrixSymbol("M", d, d)
half = sp.Rational(1, 2)

LOG_DET_RATIO = sp.log(sp.Determinant(Sigma1) / sp.Determinant(Sigma0))

KL_CLOSED_FORM = half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu1 - mu0, Sigma1.I) - d + LOG_DET_RATIO)

# E_0[log p0(X) - log p1(X)] with E_0[(X - mu_i)^T Sigma_i^{-1} (X - mu_i)] from the lemma.
KL_FROM_MOMENTS = (half * LOG_DET_RATIO - half * sp.Trace(Sigma0.I * Sigma0)
                   + half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu0 - mu1, Sigma1.I)))

DIMS = {"d": (1, 5)}
MEANS_AND_COVARIANCES = (Variable("mu_0", Vector("d"), r"\mu_0"), Variable("mu_1", Vector("d"), r"\mu_1"),
                         Variable("Sigma_0", SPD("d"), r"\Sigma_0"), Variable("Sigma_1", SPD("d"), r"\Sigma_1"))


def spd_cholesky(n: int) -> dict[sp.Basic, sp.Basic]:
    """Explicit d = n entries: Sigma_i = L_i L_i^T (L_i lower triangular, positive diagonal); real vectors and M."""

    def lower(name: str) -> sp.ImmutableMatrix:
        return sp.ImmutableMatrix(n, n, lambda i, j: sp.Symbol(f"L{name}_{i}{j}", positive=(i == j), real=True)
                                  if i >= j else 0)

    out: dict[sp.Basic, sp.Basic] = {}
    for name, suffix in (("Sigma_0", "0"), ("Sigma_1", "1")):
        low = lower(suffix)
        out[sp.MatrixSymbol(name, n, n)] = sp.ImmutableMatrix(low * low.T)
    for name in ("mu_0", "mu_1", "x", "m"):
        out[sp.MatrixSymbol(name, n, 1)] = sp.ImmutableMatrix(n, 1, lambda i, j, s=name: sp.Symbol(f"{s}_{i}", real=True))
    out[sp.MatrixSymbol("M", n, n)] = sp.ImmutableMatrix(n, n, lambda i, j: sp.Symbol(f"M_{i}{j}", real=True))
    return out


EXPLICIT_SPD = for_dimensions(d, (1, 2, 3), spd_cholesky)


def gaussian_density(point: sp.MatrixExpr, mean: sp.MatrixExpr, cov: sp.MatrixExpr) -> sp.Expr:
    """(2π)^{-d/2} det(cov)^{-1/2} exp(-½ (point - mean)^T cov^{-1} (point - mean))."""
    return ((2 * sp.pi) ** (-d / 2) * sp.Determinant(cov) ** (-half)
            * sp.exp(-half * quadratic_form(point - mean, cov.I)))


# --- torch side: independent implementations -----------------------------------------------------------------


def _mvn(mean: torch.Tensor, cov: torch.Tensor) -> torch.distributions.MultivariateNormal:
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov)


def torch_kl(sample) -> torch.Tensor:
    """torch.distributions.kl_divergence(N(mu_0, Sigma_0), N(mu_1, Sigma_1))."""
    return torch.distributions.kl_divergence(_mvn(sample["mu_0"], sample["Sigma_0"]),
                                             _mvn(sample["mu_1"], sample["Sigma_1"]))


def _gaussian_draws(sample, mean: torch.Tensor, cov: torch.Tensor, count: int, offset: int) -> torch.Tensor:
    """`count` draws of N(mean, cov) per instance, shaped (count, B, d), seeded from the batch.

    The standard normal draws z are shared by the instances of a batch (x = mean + L z with each
    instance's own Cholesky factor L): every instance still gets `count` independent draws from its own
    Gaussian, at a fraction of the cost of drawing B * count vectors.
    """
    z = torch.randn(count, mean.shape[-1], generator=sample.generator(offset), dtype=torch.float64)
    z = z.to(device=mean.device, dtype=mean.dtype)
    return mean + torch.einsum("bij,sj->sbi", torch.linalg.cholesky(cov), z)


def _estimate(values: torch.Tensor) -> Estimate:
    """Mean and standard error over the first (draw) axis."""
    return Estimate(values.mean(0), values.std(0) / math.sqrt(values.shape[0]))


MC_DRAWS = 1000


def monte_carlo_kl(sample, draws: int = MC_DRAWS) -> Estimate:
    """Mean of log p0(X) - log p1(X) over X ~ N(mu_0, Sigma_0), log-densities from MultivariateNormal.log_prob."""
    p0, p1 = _mvn(sample["mu_0"], sample["Sigma_0"]), _mvn(sample["mu_1"], sample["Sigma_1"])
    xs = _gaussian_draws(sample, sample["mu_0"], sample["Sigma_0"], draws, offset=1)
    return _estimate(p0.log_prob(xs) - p1.log_prob(xs))


def torch_log_ratio(sample) -> torch.Tensor:
    """log p0(x) - log p1(x) with MultivariateNormal.log_prob."""
    return (_mvn(sample["mu_0"], sample["Sigma_0"]).log_prob(sample["x"])
            - _mvn(sample["mu_1"], sample["Sigma_1"]).log_prob(sample["x"]))


# --- claims -----------------------------------------------------------------------------------------------------

LOG_RATIO = half * LOG_DET_RATIO - half * quadratic_form(x - mu0, Sigma0.I) + half * quadratic_form(x - mu1, Sigma1.I)

log_density_ratio = Claim(
    id="log-density-ratio",
    statement="log p0(x) − log p1(x) = ½ log(det Σ₁/det Σ₀) − ½(x−μ₀)ᵀΣ₀⁻¹(x−μ₀) + ½(x−μ₁)ᵀΣ₁⁻¹(x−μ₁)",
    lhs=sp.log(gaussian_density(x, mu0, Sigma0)) - sp.log(gaussian_density(x, mu1, Sigma1)),
    rhs=LOG_RATIO,
    variables=MEANS_AND_COVARIANCES + (Variable("x", Vector("d")),),
    dims=DIMS,
    assumptions=("Σ₀, Σ₁ symmetric positive definite",),
    symbolic=EXPLICIT_SPD,
    references=(Reference("torch-log-prob",
                          "MultivariateNormal(μ₀, Σ₀).log_prob(x) − MultivariateNormal(μ₁, Σ₁).log_prob(x)",
                          torch_log_ratio, side="lhs"),),
    mutants=(
        Mutant("ratio-inverted", "½ log(det Σ₀/det Σ₁): the normalising constants swapped",
               rhs=LOG_RATIO - LOG_DET_RATIO),
        Mutant("no-half-on-log-det", "log(det Σ₁/det Σ₀) without the ½ (det Σ instead of √det Σ)",
               rhs=LOG_RATIO + half * LOG_DET_RATIO),
        Mutant("quadratic-signs", "+½(x−μ₀)ᵀΣ₀⁻¹(x−μ₀) − ½(x−μ₁)ᵀΣ₁⁻¹(x−μ₁): the exponents' signs flipped",
               rhs=(half * LOG_DET_RATIO + half * quadratic_form(x - mu0, Sigma0.I)
                    - half * quadratic_form(x - mu1, Sigma1.I))),
    ),
    dtypes=(torch.float64, torch.float32),
)


QF_PAIRS = 2 ** 18  # antithetic pairs per instance; sized so that the target scaled by 1.02 or 0.98 is rejected
QF_CHUNK = 2 ** 14
QF_EXPECTATION = sp.Trace(M * Sigma0) + quadratic_form(mu0 - m, M)


@functools.lru_cache(maxsize=8)
def _outer_moments(seed: int, dim: int, pairs: int = QF_PAIRS) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample mean (d²,) and centred scatter (d², d²) of vec(zzᵀ) over `pairs` draws z ~ N(0, I_dim), float64.

    The draws are seeded from the batch (offset 2) and shared by its instances, so their moments are
    computed once per batch, in chunks.
    """
    gen = torch.Generator().manual_seed(seed + 2)
    total, scatter = torch.zeros(dim * dim, dtype=torch.float64), torch.zeros(dim * dim, dim * dim, dtype=torch.float64)
    for start in range(0, pairs, QF_CHUNK):
        z = torch.randn(min(QF_CHUNK, pairs - start), dim, generator=gen, dtype=torch.float64)
        outer = (z.unsqueeze(-1) * z.unsqueeze(-2)).reshape(z.shape[0], -1)
        total += outer.sum(0)
        scatter += outer.T @ outer
    mean = total / pairs
    return mean, scatter - pairs * torch.outer(mean, mean)


@per_batch
def quadratic_form_monte_carlo(sample, pairs: int = QF_PAIRS) -> Estimate:
    """Mean of g(X) = (X − m)ᵀM(X − m) over antithetic pairs X = μ₀ ± Lz, z ~ N(0, I), Σ₀ = LLᵀ.

    Each pair mean ½(g(μ₀ + Lz) + g(μ₀ − Lz)) equals g(μ₀) + (Lz)ᵀM(Lz) exactly (g is quadratic: its
    odd part cancels), and (Lz)ᵀM(Lz) = vec(zzᵀ)·vec(LᵀML). The instances of a batch share the draws z,
    so the sample mean and sample variance of the pair means over all draws follow from the draws'
    own first and second moments of vec(zzᵀ) (`_outer_moments`): the same numbers as summing the
    2¹⁸ pair means of every instance, at the cost of one d² x d² quadratic form per instance. The pair
    means are iid, so s/√N is the estimate's standard error.
    """
    factor = torch.linalg.cholesky(sample["Sigma_0"])
    inner = (factor.transpose(-1, -2) @ sample["M"] @ factor).reshape(sample.size, -1)  # vec(LᵀML), (B, d²)
    at_mean = sample["mu_0"] - sample["m"]
    g_mean = torch.einsum("bi,bij,bj->b", at_mean, sample["M"], at_mean)
    mean_outer, scatter = (t.to(inner) for t in _outer_moments(sample.seed, factor.shape[-1], pairs))
    variance = torch.einsum("bi,ij,bj->b", inner, scatter, inner) / (pairs - 1)
    return Estimate(g_mean + inner @ mean_outer, torch.sqrt(variance.clamp_min(0) / pairs))


def quadratic_form_quadrature(sample) -> torch.Tensor:
    """E[(X − m)ᵀM(X − m)] by 2-point-per-axis Gauss–Hermite quadrature over z (X = μ₀ + Lz): exact for quadratics."""
    nodes, weights = gauss_hermite_normal(2, sample.dims["d"], sample.dtype, sample.device)
    factor = torch.linalg.cholesky(sample["Sigma_0"])
    xs = sample["mu_0"].unsqueeze(1) + nodes @ factor.transpose(-1, -2) - sample["m"].unsqueeze(1)  # (B, K, d)
    return ((xs @ sample["M"].transpose(-1, -2)) * xs).sum(-1) @ weights


def _qf_claimed(sample, expectation=QF_EXPECTATION):
    """A Monte Carlo mean of (X − m)ᵀM(X − m) over X ∼ N(μ₀, Σ₀), against tr(MΣ₀) + (μ₀ − m)ᵀM(μ₀ − m)."""
    return quadratic_form_monte_carlo(sample), sample.evaluate(expectation)


quadratic_form_expectation = Claim(
    id="quadratic-form-expectation",
    statement="E[(X−m)ᵀM(X−m)] = tr(MΣ₀) + (μ₀−m)ᵀM(μ₀−m) for X ∼ N(μ₀, Σ₀)",
    rhs=QF_EXPECTATION,
    relation="≈",
    argument=(
        r"Write $X - m = (X - \mu_0) + (\mu_0 - m)$ and expand: $(X-m)^\top M (X-m) = (X-\mu_0)^\top M (X-\mu_0) "
        r"+ (X-\mu_0)^\top M(\mu_0-m) + (\mu_0-m)^\top M (X-\mu_0) + (\mu_0-m)^\top M(\mu_0-m)$.",
        r"The two cross terms have expectation 0, since $\mathbb{E}[X - \mu_0] = 0$ and they are linear in "
        r"$X - \mu_0$.",
        r"A scalar is its own trace and $\operatorname{tr}(ab^\top M) = b^\top M a$: $\mathbb{E}[(X-\mu_0)^\top M "
        r"(X-\mu_0)] = \operatorname{tr}(M\,\mathbb{E}[(X-\mu_0)(X-\mu_0)^\top]) = \operatorname{tr}(M\Sigma_0)$.",
        r"Adding up: $\mathbb{E}[(X-m)^\top M(X-m)] = \operatorname{tr}(M\Sigma_0) + (\mu_0-m)^\top M(\mu_0-m)$.",
    ),
    variables=(Variable("mu_0", Vector("d"), r"\mu_0"), Variable("Sigma_0", SPD("d"), r"\Sigma_0"),
               Variable("m", Vector("d")), Variable("M", Matrix("d", "d"))),
    dims=DIMS,
    assumptions=("E X = μ₀", "E[(X−μ₀)(X−μ₀)ᵀ] = Σ₀"),
    symbolic=MomentExpectation(integrand=quadratic_form(x - m, M), what="(X−m)ᵀM(X−m)", variable=x, mean=mu0,
                               cov=Sigma0, dim=d, values=(1, 2, 3), substitution=spd_cholesky),
    numeric=_qf_claimed,
    references=(Reference("gauss-hermite", "E[(X−m)ᵀM(X−m)] by 2-point Gauss–Hermite quadrature per axis "
                                           "(exact for polynomials of degree ≤ 3)", quadratic_form_quadrature),),
    mutants=(
        *sharpness_mutants(_qf_claimed),
        Mutant("no-trace-term", "(μ₀−m)ᵀM(μ₀−m) alone: the covariance's contribution forgotten",
               numeric=lambda s: _qf_claimed(s, quadratic_form(mu0 - m, M))),
        Mutant("no-mean-term", "tr(MΣ₀) alone: as if m = μ₀",
               numeric=lambda s: _qf_claimed(s, sp.Trace(M * Sigma0))),
        Mutant("trace-of-inverse", "tr(MΣ₀⁻¹) + (μ₀−m)ᵀM(μ₀−m)",
               numeric=lambda s: _qf_claimed(s, sp.Trace(M * Sigma0.I) + quadratic_form(mu0 - m, M))),
    ),
    dtypes=(torch.float64, torch.float32),
)


closed_form = Claim(
    id="closed-form",
    statement="KL(N(μ₀, Σ₀) ‖ N(μ₁, Σ₁)) = ½(tr(Σ₁⁻¹Σ₀) + (μ₁−μ₀)ᵀΣ₁⁻¹(μ₁−μ₀) − d + log(det Σ₁/det Σ₀))",
    lhs=KL_FROM_MOMENTS,
    rhs=KL_CLOSED_FORM,
    variables=MEANS_AND_COVARIANCES,
    dims=DIMS,
    assumptions=("Σ₀, Σ₁ symmetric positive definite",
                 "lhs: E₀[log p₀(X) − log p₁(X)] after log-density-ratio and quadratic-form-expectation"),
    steps=(
        Step(half * LOG_DET_RATIO - half * d + half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu0 - mu1, Sigma1.I)),
             "Σ₀⁻¹Σ₀ = I_d and tr(I_d) = d", symbolic=identity()),
        Step(half * LOG_DET_RATIO - half * d + half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu1 - mu0, Sigma1.I)),
             "(−v)ᵀΣ₁⁻¹(−v) = vᵀΣ₁⁻¹v with v = μ₁ − μ₀", symbolic=identity()),
        Step(KL_CLOSED_FORM, "collect the terms under one factor ½", symbolic=identity()),
    ),
    symbolic=MomentExpectation(integrand=log_density_ratio.lhs, what="log p₀(X) − log p₁(X), from the densities",
                               variable=x, mean=mu0, cov=Sigma0, dim=d, values=(1, 2, 3), substitution=spd_cholesky),
    references=(
        Reference("torch-kl", "torch.distributions.kl_divergence(MultivariateNormal, MultivariateNormal)", torch_kl),
        Reference("monte-carlo", f"mean of log p₀(X) − log p₁(X) over {MC_DRAWS} draws X ∼ N(μ₀, Σ₀) "
                                 "(MultivariateNormal.log_prob), within 5 standard errors", monte_carlo_kl,
                  illustration=f"{MC_DRAWS} draws leave a standard error of a few percent of the KL on every "
                               "instance, so the reference cannot reject the closed form scaled by 1.02 or 0.98 "
                               "(0 of 1,000 instances at seed 0); torch-kl is the evidence"),
    ),
    mutants=(
        Mutant("trace-swapped", "tr(Σ₀⁻¹Σ₁) instead of tr(Σ₁⁻¹Σ₀)",
               rhs=half * (sp.Trace(Sigma0.I * Sigma1) + quadratic_form(mu1 - mu0, Sigma1.I) - d + LOG_DET_RATIO)),
        Mutant("det-ratio-inverted", "log(det Σ₀/det Σ₁)",
               rhs=half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu1 - mu0, Sigma1.I) - d - LOG_DET_RATIO)),
        Mutant("missing-minus-d", "without the − d",
               rhs=half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu1 - mu0, Sigma1.I) + LOG_DET_RATIO)),
        Mutant("missing-half", "without the factor ½",
               rhs=sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu1 - mu0, Sigma1.I) - d + LOG_DET_RATIO),
        Mutant("quadratic-form-sigma0", "(μ₁−μ₀)ᵀΣ₀⁻¹(μ₁−μ₀): the wrong covariance in the mean term",
               rhs=half * (sp.Trace(Sigma1.I * Sigma0) + quadratic_form(mu1 - mu0, Sigma0.I) - d + LOG_DET_RATIO)),
    ),
    dtypes=(torch.float64, torch.float32),
)


GRADEABLE_CLOSED_FORM = Problem(
    id="kl-gaussian", title="KL divergence between two Gaussians", source="hw6-2021 P5", claim=closed_form,
    statement=r"Give $D_{\mathrm{KL}}(\mathcal{N}(\mu_0, \Sigma_0) \,\|\, \mathcal{N}(\mu_1, \Sigma_1))$ in "
              r"$\mathbb{R}^d$ in closed form.",
    symbols=(Symbol(mu0, r"\mu_0", ("mu0", "m0")), Symbol(mu1, r"\mu_1", ("mu1", "m1")),
             Symbol(Sigma0, r"\Sigma_0", ("Sigma0", "S0")), Symbol(Sigma1, r"\Sigma_1", ("Sigma1", "S1")), Symbol(d, "d")),
    misconceptions=(
        Misconception("minus-one", "correct only for d = 1: tr(Σ₀⁻¹Σ₀) = tr(I_d) = d, so the constant term is −d, "
                      "not −1", lambda ref: ref + (d - 1) / 2),
        Misconception("reversed", "this is D_KL(N(μ₁, Σ₁) ‖ N(μ₀, Σ₀)): the two Gaussians have swapped roles",
                      lambda ref: ref.xreplace({mu0: mu1, mu1: mu0, Sigma0: Sigma1, Sigma1: Sigma0})),
        Misconception("quadratic-form-not-inverted", "the mean term needs Σ₁⁻¹, not Σ₁: (μ₁ − μ₀)ᵀΣ₁⁻¹(μ₁ − μ₀)",
                      lambda ref: ref + half * (quadratic_form(mu1 - mu0, Sigma1) - quadratic_form(mu1 - mu0, Sigma1.I))),
    ),
    mutant_feedback={
        "trace-swapped": "the trace arguments are swapped: the trace term is tr(Σ₁⁻¹Σ₀), not tr(Σ₀⁻¹Σ₁)",
        "det-ratio-inverted": "the determinant ratio is upside down: the log term is log(det Σ₁ / det Σ₀)",
        "missing-minus-d": "the −d term is missing (it comes from tr(Σ₀⁻¹Σ₀) = d)",
        "missing-half": "the factor ½ in front is missing",
        "quadratic-form-sigma0": "the mean term uses Σ₁⁻¹ (the second Gaussian's covariance), not Σ₀⁻¹",
    },
)
GRADEABLE = (GRADEABLE_CLOSED_FORM,)


# --- figure -------------------------------------------------------------------------------------------------------

FIGURE_SEED = 2021
FIGURE_DRAWS = 20000


def _figure_instance() -> Sample:
    """One fixed d = 3 instance: means and SPD covariances drawn from a seeded generator."""
    dims = {"d": 3}
    gen = torch.Generator().manual_seed(FIGURE_SEED)
    values = {v.name: v.draw(1, dims, gen) for v in closed_form.variables}
    return Sample(values=values, dims=dims, seed=FIGURE_SEED, size=1)


def draw_monte_carlo_convergence(ax) -> None:
    """Running Monte Carlo mean of log p0(X) − log p1(X) with a ±2 standard-error band, against the closed form."""
    sample = _figure_instance()
    exact = float(sample.evaluate(KL_CLOSED_FORM)[0])
    p0, p1 = _mvn(sample["mu_0"], sample["Sigma_0"]), _mvn(sample["mu_1"], sample["Sigma_1"])
    xs = _gaussian_draws(sample, sample["mu_0"], sample["Sigma_0"], FIGURE_DRAWS, offset=1)
    values = (p0.log_prob(xs) - p1.log_prob(xs))[:, 0]
    count = torch.arange(1, FIGURE_DRAWS + 1, dtype=torch.float64)
    mean = values.cumsum(0) / count
    second = (values ** 2).cumsum(0) / count
    stderr = ((second - mean ** 2).clamp_min(0) * count / (count - 1).clamp_min(1)).sqrt() / count.sqrt()
    start = 10
    n, mu, se = count[start:].numpy(), mean[start:].numpy(), stderr[start:].numpy()
    ax.fill_between(n, mu - 2 * se, mu + 2 * se, alpha=0.3, label="±2 standard errors")
    ax.plot(n, mu, lw=1, label="Monte Carlo mean of log p₀(X) − log p₁(X)")
    ax.axhline(exact, color="black", ls="--", lw=1, label=f"closed form = {exact:.4f}")
    ax.set_xscale("log")
    ax.set_xlabel("number of draws X ∼ N(μ₀, Σ₀)")
    ax.set_ylabel("KL estimate")
    ax.legend(loc="best")


STATEMENT = (r"Let $\mathcal{N}(\mu, \Sigma)$ be the Gaussian with $\mathbb{E}X = \mu$ and "
                  r"$\mathbb{E}[(X-\mu)(X-\mu)^\top] = \Sigma$. Show that for positive definite $\Sigma_0, \Sigma_1$, "
                  r"$D_{\mathrm{KL}}(\mathcal{N}(\mu_0, \Sigma_0) \| \mathcal{N}(\mu_1, \Sigma_1)) = \frac12\big("
                  r"\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d "
                  r"+ \log\frac{\det\Sigma_1}{\det\Sigma_0}\big)$, where $d$ is the dimension.")

DERIVATIONS = (
    Derivation(
        id="kl-gaussian",
        title="KL divergence between multivariate Gaussians",
        source="hw6-2021 P5, student-hw6 P6",
        statement=STATEMENT,
        claims=(log_density_ratio, quadratic_form_expectation, closed_form),
        parts=(
            Part(label="", question=STATEMENT,
                 answer=Answer(
                     formula=KL_CLOSED_FORM,
                     named=r"D_{\mathrm{KL}}(\mathcal{N}(\mu_0, \Sigma_0) \| \mathcal{N}(\mu_1, \Sigma_1))",
                     display=sp.Mul(half, sp.Add(
                         sp.Trace(Sigma1.I * Sigma0),
                         Scalar(sp.MatMul(sp.Transpose(sp.MatAdd(mu1, -mu0, evaluate=False)), Sigma1.I,
                                          sp.MatAdd(mu1, -mu0, evaluate=False), evaluate=False)),
                         -d, LOG_DET_RATIO, evaluate=False), evaluate=False),
                     text=r"is $D_{\mathrm{KL}}(\mathcal{N}(\mu_0, \Sigma_0) \,\|\, \mathcal{N}(\mu_1, \Sigma_1)) "
                          r"= \mathbb{E}_0[\log p_0(X) - \log p_1(X)]$, $X \sim \mathcal{N}(\mu_0, \Sigma_0)$: the log-ratio "
                          r"of the densities is $\frac12\log\frac{\det\Sigma_1}{\det\Sigma_0} - \frac12 (x-\mu_0)^\top"
                          r"\Sigma_0^{-1}(x-\mu_0) + \frac12 (x-\mu_1)^\top\Sigma_1^{-1}(x-\mu_1)$, and "
                          r"$\mathbb{E}[(X-m)^\top M(X-m)] = \operatorname{tr}(M\Sigma_0) + (\mu_0-m)^\top M(\mu_0-m)$ "
                          r"turns the two quadratic forms into $\operatorname{tr}(I_d) = d$ and "
                          r"$\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)$.",
                     scope=r"Derived by sympy from the definition (the two densities and the two given moments) with "
                           r"explicit entries for $d \in \{1, 2, 3\}$ only, like the two lemmas; the algebra of the last "
                           r"steps is proved for every $d$. Checked numerically for $d = 1, \dots, 5$ against "
                           r"torch.distributions and Monte Carlo."),
                 claims=("log-density-ratio", "quadratic-form-expectation", "closed-form")),
        ),
        figures=(Figure("monte-carlo-convergence", "Monte Carlo KL converging to the closed form",
                        draw_monte_carlo_convergence),),
    ),
)
