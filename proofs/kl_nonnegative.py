r"""Gibbs' inequality: the KL divergence is non-negative, for probability vectors and for densities, via log t <= t - 1.

# Main statements

* `log-le-linear`: $\log t \le t - 1$ for every $t > 0$, with equality only at $t = 1$.
* `gap-identity`: $D_{\mathrm{KL}}(p\|q) = \sum_i p_i\,\varphi(q_i/p_i)$ with $\varphi(t) = t - 1 - \log t \ge 0$,
  for probability vectors $p, q$ with positive entries. Since $\varphi(t) = 0$ only at $t = 1$, this is
  the equality case: $D_{\mathrm{KL}}(p\|q) = 0$ if and only if $p = q$.
* `gibbs-discrete`: $D_{\mathrm{KL}}(p\|q) = -\sum_i p_i\log\frac{q_i}{p_i} \ge -\sum_i p_i\big(\frac{q_i}{p_i} - 1\big)
  = \sum_i p_i - \sum_i q_i = 0$.
* `gibbs-continuous`: $D_{\mathrm{KL}}(f\|g) = \int f\log\frac fg \ge -\int f\,(\frac gf - 1) = 0$ for probability
  densities $f, g$ on $\mathbb{R}$.
* `gibbs-d-dimensional`: the problem's statement, $\int_{\mathbb{R}^d} f\log\frac fg \ge 0$ for probability
  densities on $\mathbb{R}^d$, every $d$.
* `self-zero`: $D_{\mathrm{KL}}(p\|p) = 0$ and $D_{\mathrm{KL}}(f\|f) = 0$.

# Notation

$\varphi(t) = t - 1 - \log t$ is the gap of the lemma. Probability vectors are written as indexed
families $p_i$, $i = 0, \dots, n-1$, and densities as undefined positive functions $f(x)$, $g(x)$.

# Implementation notes

* The lemma is proved by sympy for all $t > 0$ from facts about $\varphi$: $\varphi(1) = 0$, $\varphi'(1) = 0$,
  $\varphi''(t) = 1/t^2 > 0$, and $t\varphi'(t) = t - 1$, so $\varphi$ strictly decreases on $(0, 1)$ and
  strictly increases on $(1, \infty)$: $\varphi \ge \varphi(1) = 0$ with equality only at 1.
* Identities between sums (or integrals) are proved for general $n$ by `normalised_linearity`: split
  logarithms of products of positive quantities, distribute each sum or integral over $+$, pull out
  factors that do not depend on the summation variable, and use $\sum_i p_i = 1$ (resp. $\int f = 1$).
  For integrals this is linearity, which assumes every piece is integrable (finite KL and entropies).
* The inequality steps are proved from the termwise gap: the step's two sides differ by
  $\sum_i p_i\varphi(q_i/p_i)$ (resp. $\int f\varphi(g/f)$), a sum of non-negative terms by the lemma.
* `gibbs-d-dimensional` is proved with $x$ an abstract point of $\mathbb{R}^d$ (the argument is pointwise, so
  the dimension never enters; sympy writes the integral over $\mathbb{R}^d$ as $\int \dots dx$), and once more
  with two explicit coordinates $f(x_1, x_2)$. Numerically: general (non-product) densities, mixtures of three
  Gaussians with diagonal covariances, on a $15^d$ grid over $[-6, 6]^d$ for $d = 1, 2, 3$ (200 instances per
  configuration, float64 and float32).
* Numeric: probability vectors of length 2..8; densities are Gaussian mixtures on an 801-point grid on
  $[-10, 10]$, each mixed with weight $10^{-3}$ with a wide $\mathcal{N}(0, 3^2)$ component so that no value
  underflows in float32 or float16 (a KL between densities with disjoint numerical support is $+\infty$).
  The continuous KL is the Riemann sum $\sum_k f_k\log(f_k/g_k)\,\Delta x$ of grid densities normalised so
  that $\sum_k f_k\Delta x = 1$: the inequality holds exactly for these sums, so no quadrature error enters.
  The lemma runs on $t \in [10^{-30}, 10^{30}]$ in float64 and float32 (float16 cannot represent the range).
* References: `torch.distributions.kl_divergence(Categorical(p), Categorical(q))` and
  `torch.nn.functional.kl_div` (the Riemann sum).

# References

* hw6-2021 Problem 4(a) ($D_{\mathrm{KL}}$ of continuous random variables is non-negative).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch

import math

from checkers import (Answer, Claim, DensityOnGrid, Derivation, Kind, Lemma, Mutant, Part, Positive, ProbabilityVector,
                      Reference, Step, Variable, density_grid, facts, nonnegative_by_convexity, nonnegative_termwise,
                      normalised_linearity, proved)

SPLIT_LOGS = normalised_linearity({}, "log of a quotient of positive quantities splits; linearity")

# --- the lemma log t <= t - 1 -------------------------------------------------------------------------------------

t = sp.Symbol("t", positive=True)


def gap(u: sp.Basic) -> sp.Basic:
    """φ(u) = u - 1 - log u, the gap in log u <= u - 1."""
    return u - 1 - sp.log(u)


LEMMA_FACTS = (
    ("φ(1) = 0 for φ(t) = t − 1 − log t", lambda: gap(t).subs(t, 1)),
    ("φ'(1) = 0", lambda: sp.diff(gap(t), t).subs(t, 1)),
    ("φ''(t) = 1/t² > 0 for t > 0 (φ is convex)", lambda: sp.diff(gap(t), t, 2) > 0),
    ("t·φ'(t) = t − 1: φ strictly decreases on (0, 1) and increases on (1, ∞), so φ(t) > φ(1) = 0 for t ≠ 1",
     lambda: sp.expand(t * sp.diff(gap(t), t)) - (t - 1)),
)


def _lemma(sample, wrong_rhs=None):
    value = sample["t"]
    return torch.log(value), (value - 1 if wrong_rhs is None else wrong_rhs(value))


log_le_linear = Claim(
    id="log-le-linear",
    statement="log t ≤ t − 1 for every t > 0, with equality only at t = 1",
    lhs=sp.log(t),
    rhs=t - 1,
    relation="<=",
    variables=(Variable("t", Positive(1e-30, 1e30)),),
    assumptions=("t > 0",),
    symbolic=facts(*LEMMA_FACTS, derive=nonnegative_by_convexity(t, 1),
                   derivation="the claim's own gap (t − 1) − log t vanishes with its derivative at t = 1 and has a "
                              "positive second derivative on t > 0, so it is ≥ 0"),
    mutants=(
        Mutant("reversed", "t − 1 ≤ log t: the inequality reversed", numeric=lambda s: _lemma(s)[::-1]),
        Mutant("t-minus-2", "log t ≤ t − 2", numeric=lambda s: _lemma(s, lambda v: v - 2)),
        Mutant("half-slope", "log t ≤ (t − 1)/2: the tangent's slope halved",
               numeric=lambda s: _lemma(s, lambda v: (v - 1) / 2)),
    ),
    dtypes=(torch.float64, torch.float32),
)

LOG_LEMMA = Lemma(log_le_linear.id, log_le_linear.lhs, log_le_linear.rhs, log_le_linear.symbolic,
                  log_le_linear.relation)  # the claim itself: its own sides and proof

# --- probability vectors ---------------------------------------------------------------------------------------

n = sp.Symbol("n", integer=True, positive=True)
i = sp.Symbol("i", integer=True, nonnegative=True)
p = sp.IndexedBase("p", positive=True)
q = sp.IndexedBase("q", positive=True)


def kl_sum(a: sp.IndexedBase, b: sp.IndexedBase) -> sp.Expr:
    """Σ_i a_i log(a_i / b_i)."""
    return sp.Sum(a[i] * sp.log(a[i] / b[i]), (i, 0, n - 1))


KL_DISCRETE = kl_sum(p, q)
GAP_SUM = sp.Sum(p[i] * gap(q[i] / p[i]), (i, 0, n - 1))
SIMPLEX = normalised_linearity({sp.Sum(p[i], (i, 0, n - 1)): 1, sp.Sum(q[i], (i, 0, n - 1)): 1},
                               "linearity of Σ and Σ pᵢ = Σ qᵢ = 1 (general n)")
VECTORS = (Variable("p", ProbabilityVector("n")), Variable("q", ProbabilityVector("n")))
VECTOR_DIMS = {"n": (2, 8)}

STEP_ONE = -sp.Sum(p[i] * sp.log(q[i] / p[i]), (i, 0, n - 1))
STEP_TWO = -sp.Sum(p[i] * (q[i] / p[i] - 1), (i, 0, n - 1))
GIBBS_DISCRETE_FACTS = (
    ("Σ pᵢ log(pᵢ/qᵢ) = Σ pᵢ φ(qᵢ/pᵢ) (linearity, Σp = Σq = 1)", lambda: proved(SIMPLEX, KL_DISCRETE, GAP_SUM)),
    ("pᵢ > 0", lambda: p[i] > 0),
    *LEMMA_FACTS,
)

gap_identity = Claim(
    id="gap-identity",
    statement="KL(p‖q) = Σᵢ pᵢ φ(qᵢ/pᵢ) with φ(t) = t − 1 − log t ≥ 0 (so KL = 0 iff p = q)",
    lhs=KL_DISCRETE,
    rhs=GAP_SUM,
    variables=VECTORS,
    dims=VECTOR_DIMS,
    assumptions=("pᵢ, qᵢ > 0", "Σ pᵢ = Σ qᵢ = 1"),
    symbolic=SIMPLEX,
    mutants=(
        Mutant("unweighted", "Σᵢ φ(qᵢ/pᵢ): the weights pᵢ dropped", rhs=sp.Sum(gap(q[i] / p[i]), (i, 0, n - 1))),
        Mutant("ratio-inverted", "Σᵢ pᵢ φ(pᵢ/qᵢ)", rhs=sp.Sum(p[i] * gap(p[i] / q[i]), (i, 0, n - 1))),
    ),
)


def kl_vectors(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Σ_i a_i (log a_i - log b_i) over the last axis."""
    return (a * (torch.log(a) - torch.log(b))).sum(-1)


def categorical_kl(sample) -> torch.Tensor:
    """torch.distributions.kl_divergence(Categorical(p), Categorical(q))."""
    cat = torch.distributions.Categorical
    return torch.distributions.kl_divergence(cat(probs=sample["p"]), cat(probs=sample["q"]))


def _zero(sample) -> torch.Tensor:
    return torch.zeros(sample.size, dtype=sample.dtype, device=sample.device)


gibbs_discrete = Claim(
    id="gibbs-discrete",
    statement="KL(p‖q) = Σᵢ pᵢ log(pᵢ/qᵢ) ≥ 0 for probability vectors p, q",
    lhs=KL_DISCRETE,
    rhs=sp.S.Zero,
    relation=">=",
    variables=VECTORS,
    dims=VECTOR_DIMS,
    assumptions=("pᵢ, qᵢ > 0", "Σ pᵢ = Σ qᵢ = 1"),
    steps=(
        Step(STEP_ONE, "log(pᵢ/qᵢ) = −log(qᵢ/pᵢ)", symbolic=SPLIT_LOGS),
        Step(STEP_TWO, "log t ≤ t − 1 at t = qᵢ/pᵢ, times pᵢ > 0 (equality iff qᵢ = pᵢ)", relation=">=",
             symbolic=facts(("the two sides differ by Σ pᵢ φ(qᵢ/pᵢ)",
                             lambda: proved(SPLIT_LOGS, STEP_ONE - STEP_TWO, GAP_SUM)),
                            *LEMMA_FACTS,
                            derive=nonnegative_termwise(SPLIT_LOGS, LOG_LEMMA, t, p[i], q[i] / p[i], ((i, 0, n - 1),)),
                            derivation="the step's own gap is Σ pᵢ·(t − 1 − log t) at t = qᵢ/pᵢ, terms ≥ 0")),
        Step(sp.S.Zero, "−Σ pᵢ (qᵢ/pᵢ − 1) = Σ pᵢ − Σ qᵢ = 1 − 1", symbolic=SIMPLEX),
    ),
    symbolic=facts(*GIBBS_DISCRETE_FACTS, derive=nonnegative_termwise(SIMPLEX, LOG_LEMMA, t, p[i], q[i] / p[i],
                                                                      ((i, 0, n - 1),)),
                   derivation="the claim's own KL(p‖q) − 0 is Σ pᵢ·(t − 1 − log t) at t = qᵢ/pᵢ (linearity, Σp = Σq = 1), "
                              "a sum of terms ≥ 0 by log-le-linear"),
    references=(Reference("torch-categorical", "torch.distributions.kl_divergence(Categorical(p), Categorical(q))",
                          categorical_kl, side="lhs"),),
    mutants=(
        Mutant("reversed", "KL(p‖q) ≤ 0", numeric=lambda s: (_zero(s), kl_vectors(s["p"], s["q"]))),
        Mutant("unweighted", "Σᵢ log(pᵢ/qᵢ) ≥ 0: the weights pᵢ dropped",
               numeric=lambda s: ((torch.log(s["p"]) - torch.log(s["q"])).sum(-1), _zero(s))),
        Mutant("weights-from-q", "Σᵢ qᵢ log(pᵢ/qᵢ) ≥ 0 (that is −KL(q‖p))",
               numeric=lambda s: ((s["q"] * (torch.log(s["p"]) - torch.log(s["q"]))).sum(-1), _zero(s))),
    ),
)

# --- densities ----------------------------------------------------------------------------------------------------

GRID_POINTS = 801
FLOOR_WEIGHT = 1e-3
FLOOR_STD = 3.0


@dataclass(frozen=True)
class FlooredDensityOnGrid(DensityOnGrid):
    """A DensityOnGrid mixture mixed with weight 1e-3 with N(0, 3^2), renormalised: no value underflows in float16."""

    @property
    def description(self) -> str:
        return (f"density on a {self.points}-point grid over [-10, 10] (Gaussian mixture, mixed with weight "
                f"{FLOOR_WEIGHT:g} with N(0, {FLOOR_STD:g}²))")

    def draw(self, batch, dims, gen):
        x, dx = density_grid(self.points)
        wide = torch.exp(-0.5 * (x / FLOOR_STD) ** 2)
        wide = wide / (wide.sum() * dx)
        mixed = (1 - FLOOR_WEIGHT) * super().draw(batch, dims, gen) + FLOOR_WEIGHT * wide
        return mixed / (mixed.sum(-1, keepdim=True) * dx)


_, DX = density_grid(GRID_POINTS)
xv = sp.Symbol("x", real=True)
f = sp.Function("f", positive=True)
g = sp.Function("g", positive=True)
REAL_LINE = (xv, -sp.oo, sp.oo)
KL_INTEGRAL = sp.Integral(f(xv) * sp.log(f(xv) / g(xv)), REAL_LINE)
INTEGRAL_STEP_ONE = -sp.Integral(f(xv) * sp.log(g(xv) / f(xv)), REAL_LINE)
INTEGRAL_STEP_TWO = -sp.Integral(f(xv) * (g(xv) / f(xv) - 1), REAL_LINE)
GAP_INTEGRAL = sp.Integral(f(xv) * gap(g(xv) / f(xv)), REAL_LINE)
DENSITIES = normalised_linearity({sp.Integral(f(xv), REAL_LINE): 1, sp.Integral(g(xv), REAL_LINE): 1},
                                 "linearity of ∫ and ∫f = ∫g = 1")


def kl_grid(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Riemann sum Σ_k a_k (log a_k - log b_k) Δx over the grid axis."""
    return (a * (torch.log(a) - torch.log(b))).sum(-1) * DX


def _gibbs_grid(sample, kl=kl_grid):
    """The KL of the grid densities as a Riemann sum, against 0."""
    return kl(sample["f"], sample["g"]), _zero(sample)


def torch_kl_div(sample) -> torch.Tensor:
    """torch.nn.functional.kl_div(log g, f) summed over the grid, times Δx."""
    return torch.nn.functional.kl_div(torch.log(sample["g"]), sample["f"], reduction="none").sum(-1) * DX


GRID_DENSITIES = (Variable("f", FlooredDensityOnGrid(GRID_POINTS)), Variable("g", FlooredDensityOnGrid(GRID_POINTS)))

gibbs_continuous = Claim(
    id="gibbs-continuous",
    statement="KL(f‖g) = ∫ f log(f/g) ≥ 0 for probability densities f, g (Riemann sums on a grid)",
    lhs=KL_INTEGRAL,
    rhs=sp.S.Zero,
    relation=">=",
    variables=GRID_DENSITIES,
    assumptions=("f, g > 0", "∫f = ∫g = 1", "f log f, f log g integrable"),
    steps=(
        Step(INTEGRAL_STEP_ONE, "log(f/g) = −log(g/f)", symbolic=SPLIT_LOGS, numeric=False),
        Step(INTEGRAL_STEP_TWO, "log t ≤ t − 1 at t = g(x)/f(x), times f(x) > 0, integrated", relation=">=",
             symbolic=facts(("the two sides differ by ∫ f φ(g/f)",
                             lambda: proved(SPLIT_LOGS, INTEGRAL_STEP_ONE - INTEGRAL_STEP_TWO, GAP_INTEGRAL)),
                            *LEMMA_FACTS,
                            derive=nonnegative_termwise(SPLIT_LOGS, LOG_LEMMA, t, f(xv), g(xv) / f(xv), (REAL_LINE,),
                                                        over=sp.Integral),
                            derivation="the step's own gap is ∫ f·(t − 1 − log t) at t = g/f, integrand ≥ 0"),
             numeric=False),
        Step(sp.S.Zero, "−∫ f (g/f − 1) = ∫f − ∫g = 1 − 1 (f > 0 everywhere here; where f = 0 the integrand "
                        "is 0 and ∫ over {f > 0} of g is at most 1, so the bound is still ≥ 0)",
             symbolic=DENSITIES, numeric=False),
    ),
    symbolic=facts(("∫ f log(f/g) = ∫ f φ(g/f) (linearity, ∫f = ∫g = 1)",
                    lambda: proved(DENSITIES, KL_INTEGRAL, GAP_INTEGRAL)),
                   *LEMMA_FACTS,
                   derive=nonnegative_termwise(DENSITIES, LOG_LEMMA, t, f(xv), g(xv) / f(xv), (REAL_LINE,), over=sp.Integral),
                   derivation="the claim's own ∫ f log(f/g) − 0 is ∫ f·(t − 1 − log t) at t = g/f over ℝ (linearity, "
                              "∫f = ∫g = 1), an integral of a function ≥ 0 by log-le-linear"),
    numeric=_gibbs_grid,
    references=(Reference("torch-kl-div", "torch.nn.functional.kl_div(log g, f, reduction='none').sum() · Δx",
                          torch_kl_div, side="lhs"),),
    mutants=(
        Mutant("reversed", "∫ f log(f/g) ≤ 0", numeric=lambda s: _gibbs_grid(s)[::-1]),
        Mutant("unweighted", "∫ log(f/g) ≥ 0 over the grid: the weight f dropped",
               numeric=lambda s: ((torch.log(s["f"]) - torch.log(s["g"])).sum(-1) * DX, _zero(s))),
    ),
)

# --- densities on R^d ---------------------------------------------------------------------------------------------
# The problem's statement: f, g densities on R^d. The argument is pointwise in x, so sympy proves it with x an
# abstract point of R^d (an integral over R^d written ∫ … dx); explicitly with two coordinates as a cross-check.
# Numerically f and g are general (non-product) densities tabulated on a grid of R^d, d = 1, 2, 3.

GRID_D_POINTS = 15  # per axis: 15^3 = 3375 grid points in d = 3
GRID_D_HALF_WIDTH = 6.0
point = sp.Symbol("x")  # a point of R^d


def over_space(expr: sp.Expr) -> sp.Integral:
    """∫_{R^d} expr dx, with x = `point` a point of R^d."""
    return sp.Integral(expr, point)


KL_SPACE = over_space(f(point) * sp.log(f(point) / g(point)))
SPACE_STEP_ONE = -over_space(f(point) * sp.log(g(point) / f(point)))
SPACE_STEP_TWO = -over_space(f(point) * (g(point) / f(point) - 1))
GAP_SPACE = over_space(f(point) * gap(g(point) / f(point)))
DENSITIES_SPACE = normalised_linearity({over_space(f(point)): 1, over_space(g(point)): 1},
                                       "linearity of ∫ over ℝᵈ and ∫f = ∫g = 1")


def _plane_fact():
    """The same gap identity with two explicit coordinates: f(x₁, x₂), g(x₁, x₂) on ℝ²."""
    x1, x2 = sp.symbols("x_1 x_2", real=True)
    limits = [(x1, -sp.oo, sp.oo), (x2, -sp.oo, sp.oo)]
    plane = lambda e: sp.Integral(e, *limits)  # noqa: E731
    fx, gx = f(x1, x2), g(x1, x2)
    strategy = normalised_linearity({plane(fx): 1, plane(gx): 1}, "linearity of ∬ and ∬f = ∬g = 1")
    return proved(strategy, plane(fx * sp.log(fx / gx)), plane(fx * gap(gx / fx)))


@dataclass(frozen=True)
class DensityOnGridND(Kind):
    """A density on R^d tabulated on a GRID_D_POINTS^d grid over [-6, 6]^d: a mixture of 3 Gaussians with diagonal
    covariances (not a product of one-dimensional densities), mixed with weight 1e-3 with N(0, 3² I) and normalised
    so that its Riemann sum is exactly 1. Flattened per instance: shape (B, GRID_D_POINTS^d)."""

    dim: str = "d"

    @property
    def description(self) -> str:
        return (f"density on a {GRID_D_POINTS}^{self.dim} grid over [−6, 6]^{self.dim} (mixture of 3 Gaussians, "
                f"mixed with weight {FLOOR_WEIGHT:g} with N(0, 3² I))")

    def draw(self, batch, dims, gen):
        d = dims[self.dim]
        axis, cell = grid_axis()
        mesh = torch.stack(torch.meshgrid(*([axis] * d), indexing="ij"), dim=-1).reshape(-1, d)  # (P^d, d)
        means = 4 * torch.rand(batch, 3, 1, d, generator=gen, dtype=torch.float64) - 2
        stds = 0.5 + torch.rand(batch, 3, 1, d, generator=gen, dtype=torch.float64)
        weights = torch.softmax(2 * torch.randn(batch, 3, 1, generator=gen, dtype=torch.float64), dim=1)
        z = (mesh - means) / stds
        comps = torch.exp(-0.5 * (z ** 2).sum(-1)) / (stds.prod(-1) * (2 * math.pi) ** (d / 2))
        wide = torch.exp(-0.5 * ((mesh / FLOOR_STD) ** 2).sum(-1)) / (FLOOR_STD ** d * (2 * math.pi) ** (d / 2))
        mixed = (1 - FLOOR_WEIGHT) * (weights * comps).sum(1) + FLOOR_WEIGHT * wide
        return mixed / (mixed.sum(-1, keepdim=True) * cell ** d)


def grid_axis() -> tuple[torch.Tensor, float]:
    """One axis of the grid on [-6, 6] and its spacing."""
    axis = torch.linspace(-GRID_D_HALF_WIDTH, GRID_D_HALF_WIDTH, GRID_D_POINTS, dtype=torch.float64)
    return axis, float(axis[1] - axis[0])


def kl_space(sample, weight: str = "f") -> torch.Tensor:
    """Riemann sum Σ_k w_k (log f_k − log g_k) Δx^d over the grid of R^d (w = f: the KL)."""
    cell = grid_axis()[1] ** sample.dims["d"]
    return (sample[weight] * (torch.log(sample["f"]) - torch.log(sample["g"]))).sum(-1) * cell


def torch_kl_div_space(sample) -> torch.Tensor:
    """torch.nn.functional.kl_div(log g, f, reduction='none') summed over the grid of R^d, times Δx^d."""
    cell = grid_axis()[1] ** sample.dims["d"]
    return torch.nn.functional.kl_div(torch.log(sample["g"]), sample["f"], reduction="none").sum(-1) * cell


gibbs_space = Claim(
    id="gibbs-d-dimensional",
    statement="KL(X‖Y) = ∫ f(x) log(f(x)/g(x)) dx ≥ 0, the integral over ℝᵈ, for probability densities f, g on ℝᵈ, "
              "every d",
    lhs=KL_SPACE,
    rhs=sp.S.Zero,
    relation=">=",
    variables=(Variable("f", DensityOnGridND()), Variable("g", DensityOnGridND())),
    dims={"d": (1, 3)},
    assumptions=("f, g > 0 on ℝᵈ", "∫f = ∫g = 1", "f log f and f log g integrable", "x ∈ ℝᵈ; ∫ is over ℝᵈ"),
    steps=(
        Step(SPACE_STEP_ONE, "log(f/g) = −log(g/f), at every point x ∈ ℝᵈ", symbolic=SPLIT_LOGS, numeric=False),
        Step(SPACE_STEP_TWO, "log t ≤ t − 1 at t = g(x)/f(x), times f(x) > 0, at every x ∈ ℝᵈ; integrate",
             relation=">=",
             symbolic=facts(("the two sides differ by ∫ f φ(g/f) over ℝᵈ",
                             lambda: proved(SPLIT_LOGS, SPACE_STEP_ONE - SPACE_STEP_TWO, GAP_SPACE)),
                            *LEMMA_FACTS,
                            derive=nonnegative_termwise(SPLIT_LOGS, LOG_LEMMA, t, f(point), g(point) / f(point),
                                                        ((point,),), over=sp.Integral),
                            derivation="the step's own gap is ∫ f·(t − 1 − log t) at t = g/f over ℝᵈ, integrand ≥ 0"),
             numeric=False),
        Step(sp.S.Zero, "−∫ f (g/f − 1) = ∫f − ∫g = 1 − 1 (integrals over ℝᵈ; where f = 0 the integrand is 0 and "
                        "∫ over {f > 0} of g is at most 1, so the bound is still ≥ 0)", symbolic=DENSITIES_SPACE,
             numeric=False),
    ),
    symbolic=facts(("∫ f log(f/g) = ∫ f φ(g/f) over ℝᵈ (linearity, ∫f = ∫g = 1), x a point of ℝᵈ",
                    lambda: proved(DENSITIES_SPACE, KL_SPACE, GAP_SPACE)),
                   ("the same with two explicit coordinates, f(x₁, x₂) and g(x₁, x₂) on ℝ²", _plane_fact),
                   *LEMMA_FACTS,
                   derive=nonnegative_termwise(DENSITIES_SPACE, LOG_LEMMA, t, f(point), g(point) / f(point), ((point,),),
                                               over=sp.Integral),
                   derivation="the claim's own ∫ f log(f/g) − 0 is ∫ f·(t − 1 − log t) at t = g(x)/f(x) over ℝᵈ "
                              "(linearity, ∫f = ∫g = 1), an integral of a function ≥ 0 by log-le-linear",
                   scope="every d: the argument is pointwise, x an abstract point of ℝᵈ; also explicitly for d = 2"),
    numeric=lambda s: (kl_space(s), _zero(s)),
    references=(Reference("torch-kl-div", "torch.nn.functional.kl_div(log g, f, reduction='none') summed over the "
                          "grid of ℝᵈ, times Δxᵈ", torch_kl_div_space, side="lhs"),),
    mutants=(
        Mutant("reversed", "∫ f log(f/g) ≤ 0", numeric=lambda s: (_zero(s), kl_space(s))),
        Mutant("weights-from-g", "∫ g log(f/g) ≥ 0 (that is −KL(g‖f))",
               numeric=lambda s: (kl_space(s, weight="g"), _zero(s))),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=200,
)

# --- equality -----------------------------------------------------------------------------------------------------


def _self_kl(sample, kl_discrete=kl_vectors, kl_density=kl_grid):
    """KL(p‖p) and KL(f‖f) (a Riemann sum), against 0."""
    both = torch.stack([kl_discrete(sample["p"], sample["p"]), kl_density(sample["f"], sample["f"])], dim=1)
    return both, torch.zeros_like(both)


self_zero = Claim(
    id="self-zero",
    statement="KL(p‖p) = 0 and KL(f‖f) = 0",
    variables=(VECTORS[0], GRID_DENSITIES[0]),
    dims=VECTOR_DIMS,
    symbolic=facts(("pᵢ/pᵢ = 1 and log 1 = 0", lambda: sp.expand(sp.log(p[i] / p[i]))),
                   ("f(x)/f(x) = 1 and log 1 = 0", lambda: sp.expand(sp.log(f(xv) / f(xv))))),
    numeric=_self_kl,
    mutants=(
        Mutant("negative-entropy", "Σ p log p and ∫ f log f instead of the KL (the log-ratio's denominator dropped)",
               numeric=lambda s: _self_kl(s, lambda a, b: (a * torch.log(a)).sum(-1),
                                          lambda a, b: (a * torch.log(a)).sum(-1) * DX)),
    ),
)

STATEMENT = (r"The KL divergence between continuous random variables $X \sim f$ and $Y \sim g$, where $f$ and $g$ "
             r"are probability density functions on $\mathbb{R}^d$, is $D_{\mathrm{KL}}(X\|Y) = \int_{\mathbb{R}^d} "
             r"f(x)\log\frac{f(x)}{g(x)}\,dx$. (a) Show that $D_{\mathrm{KL}}(X\|Y) \ge 0$.")

DERIVATIONS = (
    Derivation(
        id="kl-nonnegative",
        title="Gibbs' inequality: the KL divergence is non-negative",
        source="hw6-2021 P4(a), student-hw6 P5(a)",
        statement=STATEMENT,
        claims=(log_le_linear, gap_identity, gibbs_discrete, gibbs_continuous, gibbs_space, self_zero),
        parts=(
            Part(label="(a)", question=r"Show that $D_{\mathrm{KL}}(X \| Y) \ge 0$.",
                 answer=Answer(
                     formula=sp.S.Zero, lhs=KL_SPACE, relation=">=",
                     text=r"for probability densities $f, g$ on $\mathbb{R}^d$, every $d$ (the integral is over "
                          r"$\mathbb{R}^d$), with equality only if $f = g$ almost everywhere. Proof: "
                          r"where $f(x) > 0$, $\log t \le t - 1$ at $t = g(x)/f(x)$, multiplied by $f(x)$, gives "
                          r"$f(x) \log\frac{f(x)}{g(x)} \ge f(x) - g(x)$; where $f(x) = 0$ the integrand is 0 "
                          r"($0 \log 0 = 0$) and contributes nothing. Integrating over $S = \{x : f(x) > 0\}$, "
                          r"$D_{\mathrm{KL}}(X\|Y) \ge \int_S f - \int_S g = 1 - \int_S g \ge 1 - 1 = 0$, "
                          r"since $\int_S g \le \int g = 1$.",
                     scope=r"The argument is pointwise in $x$: sympy proves $D_{\mathrm{KL}}(X\|Y) = \int f\,"
                           r"\varphi(g/f)$ with $\varphi(t) = t - 1 - \log t$ for $x$ an abstract point of "
                           r"$\mathbb{R}^d$ (and once more with two explicit coordinates), and $\varphi \ge 0$; that "
                           r"an integral of a non-negative function is non-negative is the last step of the argument "
                           r"above, not a sympy proof. Numerically the inequality "
                           r"is checked for general (non-product) densities tabulated on grids in $d = 1, 2, 3$, where "
                           r"the integral is a Riemann sum."),
                 claims=("log-le-linear", "gibbs-d-dimensional", "gibbs-continuous", "gap-identity", "gibbs-discrete",
                         "self-zero")),
        ),
    ),
)
