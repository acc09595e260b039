r"""Additivity of the KL divergence over independent coordinates: discrete, on a 2-D grid, and for Gaussians.

# Main statements

* `induction-step`: for densities $F, G$ on $\mathbb{R}^{d-1}$ and $f_d, g_d$ on $\mathbb{R}$,
  $D_{\mathrm{KL}}(F\otimes f_d\,\|\,G\otimes g_d) = D_{\mathrm{KL}}(F\|G) + D_{\mathrm{KL}}(f_d\|g_d)$.
* `continuous-d-factors`: hw6-2021 P4(b) for every $d$: by induction, since the first $d - 1$ independent
  coordinates have the product density, a density on $\mathbb{R}^{d-1}$.
* `discrete-two-factors`: for probability vectors $p, q \in \Delta^{n}$, $P, Q \in \Delta^{k}$ and the
  joint (outer-product) vectors $p \otimes P$, $q \otimes Q$:
  $D_{\mathrm{KL}}(p\otimes P\,\|\,q\otimes Q) = \sum_{i,j} p_iP_j\log\frac{p_iP_j}{q_iQ_j}
  = D_{\mathrm{KL}}(p\|q) + D_{\mathrm{KL}}(P\|Q)$.
* `discrete-three-factors`: the same for three factors, with the joint built as an outer product.
* `continuous-grid`: for densities $f(x, y) = f_1(x)f_2(y)$ and $g(x, y) = g_1(x)g_2(y)$ on $\mathbb{R}^2$,
  $\iint f\log\frac fg = \int f_1\log\frac{f_1}{g_1} + \int f_2\log\frac{f_2}{g_2}$.
* `gaussian-product`: for diagonal covariances, the multivariate closed form of `kl-gaussian` equals the
  sum of the coordinate KLs $\sum_i \tfrac12\big(\frac{\sigma_{0,i}^2}{\sigma_{1,i}^2}
  + \frac{(\mu_{1,i}-\mu_{0,i})^2}{\sigma_{1,i}^2} - 1 + \log\frac{\sigma_{1,i}^2}{\sigma_{0,i}^2}\big)$.

# Notation

Probability vectors are indexed families ($p_i$, $i < n$; $P_j$, $j < k$; $R_l$, $l < m$); densities are
undefined positive functions. $\Sigma_0 = \operatorname{diag}(\sigma_0^2)$, $\Sigma_1 = \operatorname{diag}(\sigma_1^2)$.

# Implementation notes

* The discrete and continuous identities are proved by sympy for general lengths (and for arbitrary
  densities) with `normalised_linearity` from `kl-nonnegative`: the logarithm of a product of positive
  factors splits, each double sum (integral) is distributed over $+$, factors free of the inner variable
  move out, and $\sum_j P_j = \sum_i p_i = 1$ (resp. $\int f_2 = \int f_1 = 1$) removes them. This is hw6-2021
  P4(b) for $d = 2$ and $d = 3$ factors; $d$ factors follow by induction, since $p \otimes P$ is itself a
  probability vector (density).
* Numerically the joint is materialised as an outer product and its KL computed without using the
  factorisation; references: `torch.distributions.kl_divergence` of `Categorical`s on the flattened joint,
  and the sum of the factors' `Categorical` KLs. The grid claim uses 81-point grids on $[-10, 10]$ (an
  81 x 81 joint grid); Riemann sums of normalised grid densities satisfy the identity exactly, so no
  quadrature error enters.
* float16 is not run for the joints: their entries are products of two or three probabilities (down to
  $10^{-8}$; grid densities down to $10^{-13}$), which flush to zero or push the ratios $p/q$ past 65504 in
  half precision, so the half-precision KL of the joint is $\infty$ rather than a rounded value.
* `gaussian-product` is proved entrywise for $d \in \{1, 2, 3\}$ with explicit diagonal covariances
  (positive symbols), and checked numerically for $d = 1..6$ against
  `kl_divergence(Independent(Normal), Independent(Normal))`, the sum of `kl_divergence(Normal, Normal)`,
  and a Monte Carlo estimate with the joint density from `MultivariateNormal.log_prob`.
  torch has no float16 `linalg.inv`/`det` on the CPU: that claim runs float64 and float32.

* `induction-step` is proved with $u$ an abstract point of $\mathbb{R}^{d-1}$ (sympy writes its integral
  $\int \dots du$) and checked on grids: $F, G$ general densities on $15^e$ grids of $\mathbb{R}^e$, $e = 1, 2, 3$.
  `continuous-d-factors` checks the identity on product grids for $d = 1..4$ (11 points per axis) and
  proves it explicitly for $d = 2, 3, 4$ besides the induction.

# References

* hw6-2021 Problem 4(b) ($D_{\mathrm{KL}}$ of independent coordinates is the sum of the coordinates' KLs).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch

from checkers import (Answer, Claim, Derivation, Estimate, Kind, Mutant, Part, ProbabilityVector, Reference, Step,
                      Variable, Vector, density_grid, facts, for_dimensions, normalised_linearity, proved)
from proofs.kl_gaussian import KL_CLOSED_FORM, Sigma0, Sigma1, d, mu0, mu1
from proofs.kl_nonnegative import DensityOnGridND, FlooredDensityOnGrid, grid_axis

# --- probability vectors ------------------------------------------------------------------------------------------

n, k, m = (sp.Symbol(s, integer=True, positive=True) for s in ("n", "k", "m"))
i, j, l = (sp.Symbol(s, integer=True, nonnegative=True) for s in ("i", "j", "l"))
p, q, P, Q, R, S = (sp.IndexedBase(s, positive=True) for s in ("p", "q", "P", "Q", "R", "S"))
FACTORS = ((p, q, i, n), (P, Q, j, k), (R, S, l, m))


def kl(a: sp.IndexedBase, b: sp.IndexedBase, index: sp.Symbol, size: sp.Symbol) -> sp.Expr:
    """Σ_index a log(a / b)."""
    return sp.Sum(a[index] * sp.log(a[index] / b[index]), (index, 0, size - 1))


def kl_joint(factors) -> sp.Expr:
    """KL of the outer-product joints: Σ over every index of Π a · log(Π a / Π b)."""
    a = sp.Mul(*[f[0][f[2]] for f in factors])
    b = sp.Mul(*[f[1][f[2]] for f in factors])
    return sp.Sum(a * sp.log(a / b), *[(f[2], 0, f[3] - 1) for f in factors])


def _normalisations(factors) -> dict:
    return {sp.Sum(v[idx], (idx, 0, size - 1)): 1 for a, b, idx, size in factors for v in (a, b)}


TWO = FACTORS[:2]
SPLIT = normalised_linearity({}, "log of a product of positive factors splits; linearity of Σ")
ON_SIMPLICES = normalised_linearity(_normalisations(FACTORS), "linearity of Σ and Σ p = Σ q = Σ P = Σ Q (= Σ R = Σ S) = 1, "
                                                              "general lengths")

KL_TWO = kl_joint(TWO)
SUM_TWO = kl(*FACTORS[0]) + kl(*FACTORS[1])
SPLIT_TWO = sp.Sum(p[i] * P[j] * (sp.log(p[i] / q[i]) + sp.log(P[j] / Q[j])), (j, 0, k - 1), (i, 0, n - 1))
FACTORED_TWO = (kl(*FACTORS[0]) * sp.Sum(P[j], (j, 0, k - 1)) + kl(*FACTORS[1]) * sp.Sum(p[i], (i, 0, n - 1)))

VECTORS = tuple(Variable(v.name, ProbabilityVector(size.name)) for a, b, idx, size in FACTORS for v in (a, b))


def _outer_joint(vectors: list[torch.Tensor]) -> torch.Tensor:
    """The joint probability vector of independent factors, flattened: (B, n1 * n2 * ...)."""
    out = vectors[0]
    for v in vectors[1:]:
        out = (out.unsqueeze(-1) * v.unsqueeze(-2)).reshape(out.shape[0], -1)
    return out


def _kl_vectors(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * (torch.log(a) - torch.log(b))).sum(-1)


def _names(count: int) -> list[tuple[str, str]]:
    return [(f[0].name, f[1].name) for f in FACTORS[:count]]


def joint_and_sum(sample, count: int, combine=sum):
    """KL of the materialised outer-product joint, and the combination (sum) of the factor KLs."""
    names = _names(count)
    joint = _kl_vectors(_outer_joint([sample[a] for a, _ in names]), _outer_joint([sample[b] for _, b in names]))
    return joint, combine([_kl_vectors(sample[a], sample[b]) for a, b in names])


def categorical_joint(count: int):
    def compute(sample) -> torch.Tensor:
        names = _names(count)
        cat = torch.distributions.Categorical
        return torch.distributions.kl_divergence(cat(probs=_outer_joint([sample[a] for a, _ in names])),
                                                 cat(probs=_outer_joint([sample[b] for _, b in names])))
    return compute


def categorical_sum(count: int):
    def compute(sample) -> torch.Tensor:
        cat = torch.distributions.Categorical
        return sum(torch.distributions.kl_divergence(cat(probs=sample[a]), cat(probs=sample[b])) for a, b in _names(count))
    return compute


def _product(values):
    return math.prod(values)


discrete_two_factors = Claim(
    id="discrete-two-factors",
    statement="KL(p⊗P ‖ q⊗Q) = KL(p‖q) + KL(P‖Q) for probability vectors",
    lhs=KL_TWO,
    rhs=SUM_TWO,
    variables=VECTORS[:4],
    dims={"n": (2, 5), "k": (2, 5)},
    assumptions=("all entries > 0", "Σp = Σq = ΣP = ΣQ = 1", "the joint of independent coordinates is the outer product"),
    steps=(
        Step(SPLIT_TWO, "log(pᵢ Pⱼ / (qᵢ Qⱼ)) = log(pᵢ/qᵢ) + log(Pⱼ/Qⱼ) (positive factors)", symbolic=SPLIT),
        Step(FACTORED_TWO, "split the double sum; pᵢ log(pᵢ/qᵢ) does not depend on j, Pⱼ log(Pⱼ/Qⱼ) not on i",
             symbolic=SPLIT),
        Step(SUM_TWO, "Σⱼ Pⱼ = Σᵢ pᵢ = 1", symbolic=ON_SIMPLICES),
    ),
    symbolic=ON_SIMPLICES,
    references=(
        Reference("torch-categorical-joint", "kl_divergence(Categorical(p⊗P), Categorical(q⊗Q))", categorical_joint(2),
                  side="lhs"),
        Reference("torch-categorical-sum", "kl_divergence(Categorical(p), Categorical(q)) + the same for P, Q",
                  categorical_sum(2)),
    ),
    mutants=(
        Mutant("product", "KL(p‖q) · KL(P‖Q): product instead of sum", rhs=kl(*FACTORS[0]) * kl(*FACTORS[1])),
        Mutant("average", "½(KL(p‖q) + KL(P‖Q)): the mean of the coordinate KLs", rhs=SUM_TWO / 2),
        Mutant("second-reversed", "KL(p‖q) + KL(Q‖P)", rhs=kl(*FACTORS[0]) + kl(Q, P, j, k)),
    ),
    dtypes=(torch.float64, torch.float32),
)

discrete_three_factors = Claim(
    id="discrete-three-factors",
    statement="KL(p⊗P⊗R ‖ q⊗Q⊗S) = KL(p‖q) + KL(P‖Q) + KL(R‖S), joint built as an outer product",
    lhs=kl_joint(FACTORS),
    rhs=SUM_TWO + kl(*FACTORS[2]),
    variables=VECTORS,
    dims={"n": (2, 4), "k": (2, 4), "m": (2, 4)},
    assumptions=("all entries > 0", "every factor sums to 1"),
    symbolic=ON_SIMPLICES,
    numeric=lambda s: joint_and_sum(s, 3),
    references=(
        Reference("torch-categorical-joint", "kl_divergence(Categorical(p⊗P⊗R), Categorical(q⊗Q⊗S))",
                  categorical_joint(3), side="lhs"),
        Reference("torch-categorical-sum", "sum of kl_divergence(Categorical, Categorical) over the three factors",
                  categorical_sum(3)),
    ),
    mutants=(
        Mutant("product", "KL(p‖q) · KL(P‖Q) · KL(R‖S): product instead of sum",
               numeric=lambda s: joint_and_sum(s, 3, _product)),
        Mutant("two-of-three", "KL(p‖q) + KL(P‖Q): the third factor forgotten",
               numeric=lambda s: (joint_and_sum(s, 3)[0], joint_and_sum(s, 2)[1])),
    ),
    dtypes=(torch.float64, torch.float32),
)

# --- densities on a 2-D grid --------------------------------------------------------------------------------------

GRID_POINTS = 81
_, DX = density_grid(GRID_POINTS)
x, y = sp.symbols("x y", real=True)
f1, g1, f2, g2 = (sp.Function(s, positive=True) for s in ("f_1", "g_1", "f_2", "g_2"))
LINE = (-sp.oo, sp.oo)


def kl_integral(a, b, v) -> sp.Expr:
    return sp.Integral(a(v) * sp.log(a(v) / b(v)), (v, *LINE))


KL_PLANE = sp.Integral(f1(x) * f2(y) * sp.log(f1(x) * f2(y) / (g1(x) * g2(y))), (x, *LINE), (y, *LINE))
SUM_LINES = kl_integral(f1, g1, x) + kl_integral(f2, g2, y)
ON_DENSITIES = normalised_linearity({sp.Integral(a(v), (v, *LINE)): 1 for a, v in ((f1, x), (g1, x), (f2, y), (g2, y))},
                                    "linearity of ∫ and ∫f₁ = ∫g₁ = ∫f₂ = ∫g₂ = 1, for arbitrary densities")


def grid_joint_and_sum(sample, combine=sum):
    """Riemann sum of the KL of the 2-D product densities, and the combined 1-D Riemann sums."""
    joint_f = sample["f1"].unsqueeze(-1) * sample["f2"].unsqueeze(-2)
    joint_g = sample["g1"].unsqueeze(-1) * sample["g2"].unsqueeze(-2)
    plane = (joint_f * (torch.log(joint_f) - torch.log(joint_g))).sum((-2, -1)) * DX * DX
    lines = [(sample[a] * (torch.log(sample[a]) - torch.log(sample[b]))).sum(-1) * DX
             for a, b in (("f1", "g1"), ("f2", "g2"))]
    return plane, combine(lines)


def kl_div_plane(sample) -> torch.Tensor:
    """torch.nn.functional.kl_div(log g, f) over the 2-D grid, times Δx Δy."""
    joint_f = sample["f1"].unsqueeze(-1) * sample["f2"].unsqueeze(-2)
    joint_g = sample["g1"].unsqueeze(-1) * sample["g2"].unsqueeze(-2)
    return torch.nn.functional.kl_div(torch.log(joint_g), joint_f, reduction="none").sum((-2, -1)) * DX * DX


continuous_grid = Claim(
    id="continuous-grid",
    statement="∬ f₁(x)f₂(y) log(f₁(x)f₂(y) / (g₁(x)g₂(y))) = KL(f₁‖g₁) + KL(f₂‖g₂) (Riemann sums on a 2-D grid)",
    lhs=KL_PLANE,
    rhs=SUM_LINES,
    variables=tuple(Variable(name, FlooredDensityOnGrid(GRID_POINTS)) for name in ("f1", "g1", "f2", "g2")),
    assumptions=("densities > 0", "each integrates to 1", "f log f, f log g integrable"),
    symbolic=ON_DENSITIES,
    numeric=grid_joint_and_sum,
    references=(Reference("torch-kl-div", "torch.nn.functional.kl_div(log g, f, reduction='none') summed over the 2-D "
                                          "grid, times ΔxΔy", kl_div_plane, side="lhs"),),
    mutants=(
        Mutant("product", "KL(f₁‖g₁) · KL(f₂‖g₂)", numeric=lambda s: grid_joint_and_sum(s, _product)),
        Mutant("first-only", "KL(f₁‖g₁): the second coordinate forgotten",
               numeric=lambda s: grid_joint_and_sum(s, lambda lines: lines[0])),
    ),
    dtypes=(torch.float64, torch.float32),
)

# --- d coordinates: the induction step on R^(d-1) x R, and d = 1..4 on grids --------------------------------------
# Induction on d: the first d − 1 coordinates of X are independent, so they have a density F on R^(d-1) (the
# product of their densities), and X = (X', X_d) has the density F(u) f_d(t), u ∈ R^(d-1), t ∈ R; the same for Y
# with G and g_d. The two-factor identity for F ⊗ f_d, with u an abstract point of R^(d-1), then gives
# D_KL(X‖Y) = D_KL(X'‖Y') + D_KL(X_d‖Y_d), and the induction hypothesis splits D_KL(X'‖Y').

u_point = sp.Symbol("u")  # a point of R^(d-1)
t_line = sp.Symbol("t", real=True)
F_, G_ = sp.Function("F", positive=True), sp.Function("G", positive=True)
fd, gd = sp.Function("f_d", positive=True), sp.Function("g_d", positive=True)
T_LINE = (t_line, -sp.oo, sp.oo)
STEP_JOINT = sp.Integral(F_(u_point) * fd(t_line) * sp.log(F_(u_point) * fd(t_line) / (G_(u_point) * gd(t_line))),
                         u_point, T_LINE)
STEP_SUM = (sp.Integral(F_(u_point) * sp.log(F_(u_point) / G_(u_point)), u_point)
            + sp.Integral(fd(t_line) * sp.log(fd(t_line) / gd(t_line)), T_LINE))
STEP_DENSITIES = normalised_linearity(
    {sp.Integral(F_(u_point), u_point): 1, sp.Integral(G_(u_point), u_point): 1,
     sp.Integral(fd(t_line), T_LINE): 1, sp.Integral(gd(t_line), T_LINE): 1},
    "linearity of ∫ and ∫F = ∫G = 1 over ℝᵈ⁻¹, ∫f_d = ∫g_d = 1 over ℝ")
STEP_GRID_POINTS = 15


def _explicit_factors(count: int):
    """D_KL of the product densities of `count` coordinates minus the sum of the coordinate KLs, by linearity."""
    def fact():
        xs = sp.symbols(f"x_1:{count + 1}", real=True)
        fs = [sp.Function(f"f_{a}", positive=True) for a in range(1, count + 1)]
        gs = [sp.Function(f"g_{a}", positive=True) for a in range(1, count + 1)]
        joint_f = sp.Mul(*[h(v) for h, v in zip(fs, xs)])
        joint_g = sp.Mul(*[h(v) for h, v in zip(gs, xs)])
        lhs = sp.Integral(joint_f * sp.log(joint_f / joint_g), *[(v, -sp.oo, sp.oo) for v in xs])
        rhs = sum(sp.Integral(a(v) * sp.log(a(v) / b(v)), (v, -sp.oo, sp.oo)) for a, b, v in zip(fs, gs, xs))
        strategy = normalised_linearity({sp.Integral(h(v), (v, -sp.oo, sp.oo)): 1
                                         for a, b, v in zip(fs, gs, xs) for h in (a, b)})
        return proved(strategy, lhs, rhs)
    return (f"d = {count}, explicitly: the KL of f₁(x₁)⋯f_{count}(x_{count}) against g₁(x₁)⋯g_{count}(x_{count}) is "
            f"the sum of the {count} coordinate KLs", fact)


def step_sides(sample, combine=sum):
    """The KL of F(u)f_d(t) against G(u)g_d(t), a Riemann sum on a grid of ℝᵈ⁻¹ × ℝ, and KL(F‖G) + KL(f_d‖g_d)."""
    e = sample.dims["e"]
    cell_u = grid_axis()[1] ** e
    _, cell_t = density_grid(STEP_GRID_POINTS)
    joint_f = sample["F"].unsqueeze(-1) * sample["f_d"].unsqueeze(-2)
    joint_g = sample["G"].unsqueeze(-1) * sample["g_d"].unsqueeze(-2)
    joint = (joint_f * (torch.log(joint_f) - torch.log(joint_g))).sum((-2, -1)) * cell_u * cell_t
    first = (sample["F"] * (torch.log(sample["F"]) - torch.log(sample["G"]))).sum(-1) * cell_u
    last = (sample["f_d"] * (torch.log(sample["f_d"]) - torch.log(sample["g_d"]))).sum(-1) * cell_t
    return joint, combine([first, last])


induction_step = Claim(
    id="induction-step",
    statement="for densities F, G on ℝᵈ⁻¹ and f_d, g_d on ℝ: the KL of F(u)f_d(t) against G(u)g_d(t) on ℝᵈ is "
              "KL(F‖G) + KL(f_d‖g_d) (u ∈ ℝᵈ⁻¹, t ∈ ℝ)",
    lhs=STEP_JOINT,
    rhs=STEP_SUM,
    variables=(Variable("F", DensityOnGridND("e")), Variable("G", DensityOnGridND("e")),
               Variable("f_d", FlooredDensityOnGrid(STEP_GRID_POINTS)),
               Variable("g_d", FlooredDensityOnGrid(STEP_GRID_POINTS))),
    dims={"e": (1, 3)},
    assumptions=("all densities > 0, each integrates to 1", "F, G arbitrary densities on ℝᵈ⁻¹ (u an abstract point)",
                 "f log f and f log g integrable"),
    symbolic=STEP_DENSITIES,
    numeric=step_sides,
    mutants=(
        Mutant("product", "KL(F‖G) · KL(f_d‖g_d)", numeric=lambda s: step_sides(s, _product)),
        Mutant("last-forgotten", "KL(F‖G) alone: the new coordinate forgotten",
               numeric=lambda s: step_sides(s, lambda parts: parts[0])),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=200,
)

FACTOR_GRID_POINTS = 11
MAX_FACTORS = 4
_, FACTOR_DX = density_grid(FACTOR_GRID_POINTS)


def factors_sides(sample, combine=sum):
    """The KL of the product densities f₁⋯f_d against g₁⋯g_d, a Riemann sum on a grid of ℝᵈ, and the sum of the
    coordinates' KLs."""
    count = sample.dims["d"]
    names = [(f"f{a}", f"g{a}") for a in range(1, count + 1)]
    joint_f = _outer_joint([sample[a] for a, _ in names])
    joint_g = _outer_joint([sample[b] for _, b in names])
    joint = (joint_f * (torch.log(joint_f) - torch.log(joint_g))).sum(-1) * FACTOR_DX ** count
    lines = [(sample[a] * (torch.log(sample[a]) - torch.log(sample[b]))).sum(-1) * FACTOR_DX for a, b in names]
    return joint, combine(lines)


continuous_factors = Claim(
    id="continuous-d-factors",
    statement="X = (X₁, …, X_d), Y = (Y₁, …, Y_d) with independent coordinates of densities fᵢ, gᵢ: "
              "KL(X‖Y) = KL(X₁‖Y₁) + ⋯ + KL(X_d‖Y_d), every d",
    variables=tuple(Variable(f"{h}{a}", FlooredDensityOnGrid(FACTOR_GRID_POINTS))
                    for a in range(1, MAX_FACTORS + 1) for h in ("f", "g")),
    dims={"d": (1, MAX_FACTORS)},
    assumptions=("independent coordinates: the densities are f(x) = f₁(x₁)⋯f_d(x_d) and g(x) = g₁(x₁)⋯g_d(x_d)",
                 "all densities > 0, each integrates to 1"),
    symbolic=facts(("induction step (induction-step): the KL of F(u)f_d(t) against G(u)g_d(t) is KL(F‖G) + "
                    "KL(f_d‖g_d) for any densities F, G on ℝᵈ⁻¹", lambda: proved(STEP_DENSITIES, STEP_JOINT, STEP_SUM)),
                   *(_explicit_factors(count) for count in (2, 3, 4)),
                   scope="every d, by induction on d (the first d − 1 independent coordinates have the product "
                         "density, a density on ℝᵈ⁻¹); explicitly for d = 2, 3, 4"),
    numeric=factors_sides,
    mutants=(
        Mutant("product", "the product of the coordinate KLs instead of their sum",
               numeric=lambda s: factors_sides(s, _product)),
        Mutant("one-short", "the last coordinate's KL forgotten",
               numeric=lambda s: factors_sides(s, lambda lines: sum(lines[:-1]) if len(lines) > 1 else 0 * lines[0])),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=200,
)

# --- Gaussians with diagonal covariance ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DiagonalSPD(Kind):
    """A diagonal d x d covariance with entries log-uniform on [low, high]."""

    dim: str = "d"
    low: float = 0.25
    high: float = 4.0

    @property
    def description(self) -> str:
        return f"diagonal {self.dim}x{self.dim} covariance (entries in [{self.low}, {self.high}])"

    def draw(self, batch, dims, gen):
        u = torch.rand(batch, dims[self.dim], generator=gen, dtype=torch.float64)
        return torch.diag_embed(torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u))


half = sp.Rational(1, 2)


def coordinate_kl(idx: sp.Basic, minus_one: bool = True, ratio: int = 1) -> sp.Expr:
    """½(σ0²/σ1² + (μ1 − μ0)²/σ1² − 1 + log(σ1²/σ0²)) of coordinate `idx` = 1..d (variants for mutants)."""
    s0, s1 = Sigma0[idx - 1, idx - 1], Sigma1[idx - 1, idx - 1]
    return half * (s0 / s1 + (mu1[idx - 1, 0] - mu0[idx - 1, 0]) ** 2 / s1 - (1 if minus_one else 0)
                   + sp.log((s1 / s0) ** ratio))


SUM_COORDINATES = sp.Sum(coordinate_kl(i), (i, 1, d))


def diagonal_entries(size: int) -> dict[sp.Basic, sp.Basic]:
    """Explicit d = size: diagonal covariances with positive symbols, real mean vectors."""
    out: dict[sp.Basic, sp.Basic] = {}
    for name in ("Sigma_0", "Sigma_1"):
        entries = [sp.Symbol(f"{name}_{a}", positive=True) for a in range(size)]
        out[sp.MatrixSymbol(name, size, size)] = sp.ImmutableMatrix(sp.diag(*entries))
    for name in ("mu_0", "mu_1"):
        out[sp.MatrixSymbol(name, size, 1)] = sp.ImmutableMatrix(size, 1,
                                                                 lambda a, b, s=name: sp.Symbol(f"{s}_{a}", real=True))
    return out


def _normals(sample, which: str):
    std = torch.diagonal(sample[f"Sigma_{which}"], dim1=-2, dim2=-1).sqrt()
    return torch.distributions.Normal(sample[f"mu_{which}"], std)


def independent_normal_kl(sample) -> torch.Tensor:
    """kl_divergence(Independent(Normal(μ0, σ0), 1), Independent(Normal(μ1, σ1), 1))."""
    ind = torch.distributions.Independent
    return torch.distributions.kl_divergence(ind(_normals(sample, "0"), 1), ind(_normals(sample, "1"), 1))


def summed_normal_kls(sample) -> torch.Tensor:
    """Σ_i kl_divergence(Normal(μ0_i, σ0_i), Normal(μ1_i, σ1_i))."""
    return torch.distributions.kl_divergence(_normals(sample, "0"), _normals(sample, "1")).sum(-1)


MC_DRAWS = 1000


def monte_carlo_joint(sample) -> Estimate:
    """Mean of log p0(X) − log p1(X), X ~ N(μ0, Σ0), with the joint densities from MultivariateNormal.log_prob."""
    mvn = torch.distributions.MultivariateNormal
    p0 = mvn(sample["mu_0"], covariance_matrix=sample["Sigma_0"])
    p1 = mvn(sample["mu_1"], covariance_matrix=sample["Sigma_1"])
    z = torch.randn(MC_DRAWS, sample["mu_0"].shape[-1], generator=sample.generator(3), dtype=torch.float64)
    z = z.to(sample.device)
    xs = sample["mu_0"] + z.unsqueeze(1) * torch.diagonal(sample["Sigma_0"], dim1=-2, dim2=-1).sqrt()
    values = p0.log_prob(xs) - p1.log_prob(xs)
    return Estimate(values.mean(0), values.std(0) / math.sqrt(MC_DRAWS))


def _product_of_coordinates(sample):
    lhs = sample.evaluate(KL_CLOSED_FORM)
    per = torch.stack([sample.evaluate(coordinate_kl(a).subs(d, sample.dims["d"]))
                       for a in range(1, sample.dims["d"] + 1)], dim=-1)
    return lhs, per.prod(-1)


gaussian_product = Claim(
    id="gaussian-product",
    statement="KL(N(μ₀, diag σ₀²) ‖ N(μ₁, diag σ₁²)) = Σᵢ KL(N(μ₀ᵢ, σ₀ᵢ²) ‖ N(μ₁ᵢ, σ₁ᵢ²))",
    lhs=KL_CLOSED_FORM,
    rhs=SUM_COORDINATES,
    variables=(Variable("mu_0", Vector("d"), r"\mu_0"), Variable("mu_1", Vector("d"), r"\mu_1"),
               Variable("Sigma_0", DiagonalSPD("d"), r"\Sigma_0"), Variable("Sigma_1", DiagonalSPD("d"), r"\Sigma_1")),
    dims={"d": (1, 6)},
    assumptions=("Σ₀, Σ₁ diagonal with positive entries", "lhs: the closed form proved in kl-gaussian"),
    symbolic=for_dimensions(d, (1, 2, 3), diagonal_entries),
    references=(
        Reference("torch-independent", "kl_divergence(Independent(Normal(μ₀, σ₀), 1), Independent(Normal(μ₁, σ₁), 1))",
                  independent_normal_kl, side="lhs"),
        Reference("torch-normal-sum", "Σᵢ kl_divergence(Normal(μ₀ᵢ, σ₀ᵢ), Normal(μ₁ᵢ, σ₁ᵢ))", summed_normal_kls),
        Reference("monte-carlo", f"mean of log p₀(X) − log p₁(X) over {MC_DRAWS} draws, joint densities from "
                                 "MultivariateNormal.log_prob, within 5 standard errors", monte_carlo_joint, side="lhs",
                  illustration=f"{MC_DRAWS} draws cannot reject the joint KL scaled by 1.02 or 0.98 (0 of 1,000 "
                               "instances at seed 0); torch-independent and torch-normal-sum are the evidence"),
    ),
    mutants=(
        Mutant("product", "Π_i of the coordinate KLs instead of their sum", numeric=_product_of_coordinates),
        Mutant("no-minus-one", "each coordinate KL without its − 1 (the − d of the joint formula forgotten)",
               rhs=sp.Sum(coordinate_kl(i, minus_one=False), (i, 1, d))),
        Mutant("log-ratio-inverted", "log(σ₀ᵢ²/σ₁ᵢ²) in each coordinate",
               rhs=sp.Sum(coordinate_kl(i, ratio=-1), (i, 1, d))),
    ),
    dtypes=(torch.float64, torch.float32),
)

QUESTION = (r"Show that if $X = (X_1, \dots, X_d)$ is a continuous random variable such that $X_1, \dots, X_d$ are "
            r"independent and $Y = (Y_1, \dots, Y_d)$ is a continuous random variable such that $Y_1, \dots, Y_d$ "
            r"are independent, then $D_{\mathrm{KL}}(X\|Y) = D_{\mathrm{KL}}(X_1\|Y_1) + \dots "
            r"+ D_{\mathrm{KL}}(X_d\|Y_d)$.")

DERIVATIONS = (
    Derivation(
        id="kl-additivity",
        title="KL divergence of independent coordinates is the sum of the coordinates' KLs",
        source="hw6-2021 P4(b), student-hw6 P5(b)",
        statement=r"(b) " + QUESTION,
        claims=(induction_step, continuous_factors, discrete_two_factors, discrete_three_factors, continuous_grid,
                gaussian_product),
        parts=(
            Part(label="(b)", question=QUESTION,
                 answer=Answer(
                     text=r"$D_{\mathrm{KL}}(X\|Y) = \sum_{i=1}^d D_{\mathrm{KL}}(X_i\|Y_i)$ for every $d$. "
                          r"Independence means $f(x) = f_1(x_1)\cdots f_d(x_d)$ and $g(x) = g_1(x_1)\cdots g_d(x_d)$, "
                          r"so $\log\frac{f(x)}{g(x)} = \sum_{i=1}^d \log\frac{f_i(x_i)}{g_i(x_i)}$. Integrated "
                          r"against $f$, the $i$-th term is $\int f_i(x_i)\log\frac{f_i(x_i)}{g_i(x_i)}\,dx_i$ times "
                          r"$\prod_{j \ne i} \int f_j(x_j)\,dx_j = 1$, that is $D_{\mathrm{KL}}(X_i\|Y_i)$. As an "
                          r"induction on $d$: $(X_1, \dots, X_{d-1})$ has the density "
                          r"$F = f_1 \cdots f_{d-1}$ on $\mathbb{R}^{d-1}$, and for any densities $F, G$ on "
                          r"$\mathbb{R}^{d-1}$ and $f_d, g_d$ on $\mathbb{R}$ the KL of $F \otimes f_d$ against "
                          r"$G \otimes g_d$ is $D_{\mathrm{KL}}(F\|G) + D_{\mathrm{KL}}(f_d\|g_d)$.",
                     scope=r"The induction step is proved by sympy for arbitrary densities (with $u$ an abstract point "
                           r"of $\mathbb{R}^{d-1}$) and the identity explicitly for $d = 2, 3, 4$; the induction on "
                           r"$d$ that combines them is the argument above. Numerically the identity is "
                           r"checked on grids for $d = 1, \dots, 4$ coordinates (Riemann sums, which satisfy it "
                           r"exactly). The discrete and Gaussian versions are checked for 2 and 3 factors and for "
                           r"$d = 1, \dots, 6$."),
                 claims=("induction-step", "continuous-d-factors", "continuous-grid", "discrete-two-factors",
                         "discrete-three-factors", "gaussian-product")),
        ),
    ),
)
