r"""The geometric (hinge) GAN: the optimal discriminator, and the maximin problem as total-variation minimisation.

# Main statements

* `lower-bound`: for $a, b \ge 0$ and every $y \in \mathbb R$, $h(y) = a(1-y)_+ + b(1+y)_+ \ge 2\min(a, b)$.
* `minimizer`: the bound is attained at $y^\star = \operatorname{sign}(a - b)$: $y^\star = +1$ if $a > b$,
  $-1$ if $a < b$ (at a tie every $y \in [-1, 1]$, in particular $0$): $\min_y h = h(y^\star) = 2\min(a, b)$.
* `inner-minimum`: for the exam's objective $\mathcal L(D) = \mathbb E_{p_{\text{true}}}[(1 - D(X))_+] +
  \mathbb E_{p_\theta}[(1 + D(X))_+] = \int p_{\text{true}}(1-D)_+ + p_\theta(1+D)_+$, the infinitely
  powerful discriminator $D^\star(x) = \operatorname{sign}(p_{\text{true}}(x) - p_\theta(x))$ gives
  $\mathcal L(D^\star) = 2\int\min(p_{\text{true}}, p_\theta)$.
* `any-discriminator`: $\mathcal L(D) \ge 2\int\min(p_{\text{true}}, p_\theta)$ for every $D$, so
  $\min_D \mathcal L(D) = 2\int\min(p_{\text{true}}, p_\theta)$.
* `tv-objective`: $\min_D \mathcal L(D) = 2 - 2\,D_{\mathrm{TV}}(p_{\text{true}}, p_\theta)$. The constant is 2:
  the generator's maximin problem $\max_\theta \min_D \mathcal L$ is $\max_\theta 2\int\min(p_{\text{true}}, p_\theta)$,
  i.e. $\min_\theta D_{\mathrm{TV}}(p_{\text{true}}, p_\theta)$ since $t \mapsto 2 - 2t$ is decreasing.

# Notation

$(r)_+ = \max\{0, r\}$; $a = p_{\text{true}}(x)$, $b = p_\theta(x)$ pointwise; densities are tabulated on a grid
and integrals are Riemann sums with spacing $\Delta x$ (as in `tv-min`).

# Implementation notes

* `lower-bound` is proved by sympy by a case split into $a \le b$ / $a \ge b$ times the three pieces
  $y \le -1$, $-1 \le y \le 1$, $y \ge 1$ of $h$ (each parametrised by a nonnegative symbol, so the
  positive parts evaluate). `minimizer` by the cases $a > b$, $a < b$, $a = b$.
* `inner-minimum` and `tv-objective` are proved for any grid by `Termwise` (from `tv-min`): the pointwise
  lemma $h(\operatorname{sign}(a-b)) = 2\min(a,b)$ (resp. $= a + b - |a-b|$), proved by cases, rewrites
  every term; then linearity and $\sum p_i\Delta x = \sum q_i\Delta x = 1$. `any-discriminator` sums the
  pointwise lower bound: every term of $\mathcal L(D) - 2\int\min$ is shown nonnegative by the same case split.
* References: the exam's objective as expectations, estimated by Monte Carlo with samples drawn from the
  grid densities (checked within 5 standard errors); a dense grid of $y$ for $\min_y h$.
* Because the discriminator is unrestricted, $\min_D$ acts pointwise; this is the step from (a) to (b) of
  the exam and is what `any-discriminator` checks on random discriminators (smooth random functions, and
  perturbations and rescalings of $D^\star$).

# References

* final-2022 Problem 6 (a), (b), (e); (d) is `tv-min`.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch

from checkers import (Answer, CaseSplit, Claim, DensityOnGrid, Derivation, Estimate, Figure, Kind, Lemma, Misconception,
                      Mutant, Part, ProbabilityVector, Problem, Real, Reference, Symbol, Termwise, TermwiseNonnegative,
                      Tolerance, Variable, density_grid, intervals, le_total, one_based, product, trichotomy)
from proofs.tv_min import GRID_POINTS, grid_spacing

a, b = sp.symbols("a b", nonnegative=True)
y = sp.Symbol("y", real=True)
c = sp.Symbol("c", nonnegative=True)
c_pos = sp.Symbol("c", positive=True)
s, t = sp.symbols("s t", nonnegative=True)


def hinge(a_, b_, y_):
    """h(y) = a (1 − y)_+ + b (1 + y)_+."""
    return a_ * sp.Max(0, 1 - y_) + b_ * sp.Max(0, 1 + y_)


H = hinge(a, b, y)
Y_STAR = sp.sign(a - b)

ORDER = le_total(a, b, c)  # a ≤ b: b = a + c; a ≥ b: a = b + c
PIECES = intervals(y, (-1, 1))  # y ≤ −1, −1 < y ≤ 1, y ≥ 1
LOWER_BOUND_CASES = product(ORDER, PIECES)
STRICT_ORDER_CASES = trichotomy(a, b, c_pos)  # a > b, a < b, a = b

# ---------------------------------------------------------------------------------------------------------------
# Grid objects


m = sp.Symbol("m", integer=True, positive=True)
i = sp.Symbol("i", integer=True, nonnegative=True)
p = sp.IndexedBase("p", real=True)  # p_true
q = sp.IndexedBase("q", real=True)  # p_θ
D = sp.IndexedBase("D", real=True)
dx = sp.Symbol("dx", positive=True)


def objective(disc: sp.Basic) -> sp.Expr:
    """L(D) = Σ_i (p_i (1 − D_i)_+ + q_i (1 + D_i)_+) Δx."""
    return sp.Sum(hinge(p[i], q[i], disc) * dx, (i, 0, m - 1))


L_OPTIMAL = objective(sp.sign(p[i] - q[i]))
OVERLAP2 = 2 * sp.Sum(sp.Min(p[i], q[i]) * dx, (i, 0, m - 1))
TV = sp.Rational(1, 2) * sp.Sum(sp.Abs(p[i] - q[i]) * dx, (i, 0, m - 1))
NORMALISATION = {sp.Sum(p[i], (i, 0, m - 1)): 1 / dx, sp.Sum(q[i], (i, 0, m - 1)): 1 / dx}
ON_GRID = {a: p[i], b: q[i]}

OPTIMAL_VALUE = Lemma("h(sign(a − b)) = 2 min(a, b)", hinge(a, b, Y_STAR), 2 * sp.Min(a, b),
                     CaseSplit(cases=STRICT_ORDER_CASES))
OPTIMAL_AS_ABS = Lemma("h(sign(a − b)) = a + b − |a − b|", hinge(a, b, Y_STAR), a + b - sp.Abs(a - b),
                       CaseSplit(cases=STRICT_ORDER_CASES))


@dataclass(frozen=True)
class DiscriminatorOnGrid(Kind):
    """A random smooth discriminator on the density grid: an offset plus 4 Gaussian bumps, values in about [−6, 6]."""

    points: int = GRID_POINTS

    @property
    def description(self) -> str:
        return f"random smooth function on the {self.points}-point grid"

    def draw(self, batch, dims, gen):
        x, _ = density_grid(self.points)
        k = 4
        amp = 6 * torch.rand(batch, k, 1, generator=gen, dtype=torch.float64) - 3
        mu = 8 * torch.rand(batch, k, 1, generator=gen, dtype=torch.float64) - 4
        width = 0.3 + 1.7 * torch.rand(batch, k, 1, generator=gen, dtype=torch.float64)
        offset = 3 * torch.rand(batch, 1, generator=gen, dtype=torch.float64) - 1.5
        return offset + (amp * torch.exp(-0.5 * ((x - mu) / width) ** 2)).sum(1)


# ---------------------------------------------------------------------------------------------------------------
# Numeric functions and references


def hinge_objective(pv, qv, disc, step) -> torch.Tensor:
    """Σ (p (1 − D)_+ + q (1 + D)_+) Δx over the last axis."""
    return (pv * torch.relu(1 - disc) + qv * torch.relu(1 + disc)).sum(-1) * step


def optimal_sides(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """L(D*) with D* = sign(p − q), and 2 Σ min(p, q) Δx."""
    pv, qv, step = sample["p"], sample["q"], sample["dx"]
    return hinge_objective(pv, qv, torch.sign(pv - qv), step), 2 * torch.minimum(pv, qv).sum(-1) * step


def tv_sides(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """L(D*), and 2 − 2 D_TV(p, q) = 2 − Σ|p − q| Δx."""
    pv, qv, step = sample["p"], sample["q"], sample["dx"]
    return hinge_objective(pv, qv, torch.sign(pv - qv), step), 2 - (pv - qv).abs().sum(-1) * step


def discriminator_family(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """L(D) for D a random smooth function, D*, D*/2, 2D*, D* + D/4, against 2 Σ min(p, q) Δx."""
    pv, qv, step, rand = sample["p"], sample["q"], sample["dx"], sample["D"]
    star = torch.sign(pv - qv)
    family = torch.stack([rand, star, star / 2, 2 * star, star + rand / 4], 1)
    values = hinge_objective(pv.unsqueeze(1), qv.unsqueeze(1), family, step.unsqueeze(-1))
    return values, 2 * torch.minimum(pv, qv).sum(-1) * step


MC_SAMPLES = 1024


def _sample_grid(dens: torch.Tensor, step: torch.Tensor, count: int, gen: torch.Generator) -> torch.Tensor:
    """Indices of `count` iid draws per row from the grid density (cell masses dens·Δx)."""
    masses = (dens * step.unsqueeze(-1)).to("cpu", torch.float64)
    return torch.multinomial(masses, count, replacement=True, generator=gen).to(dens.device)


def monte_carlo_objective(sample) -> Estimate:
    """E_{X~p}[(1 − D*(X))_+] + E_{X~q}[(1 + D*(X))_+] from samples of the grid densities (D* = sign(p − q))."""
    pv, qv, step = sample["p"], sample["q"], sample["dx"]
    star = torch.sign(pv - qv)
    gen = sample.generator(5)
    real = torch.relu(1 - torch.gather(star, -1, _sample_grid(pv, step, MC_SAMPLES, gen)))
    fake = torch.relu(1 + torch.gather(star, -1, _sample_grid(qv, step, MC_SAMPLES, gen)))
    mean = real.mean(-1) + fake.mean(-1)
    stderr = torch.sqrt((real.var(-1) + fake.var(-1)) / MC_SAMPLES)
    return Estimate(mean, stderr)


def scheffe_objective(sample) -> torch.Tensor:
    """2 − 2 (P(A) − Q(A)) with Scheffé's set A = {p > q}: the total variation computed as an event's mass."""
    from proofs.tv_min import scheffe

    return 2 - 2 * scheffe(sample)


def grid_minimum(sample) -> torch.Tensor:
    """min of h over a dense grid of y in [−4, 4] that contains ±1 (vectorised over the batch)."""
    grid = torch.cat([torch.linspace(-4, 4, 801, dtype=torch.float64), torch.tensor([-1.0, 1.0], dtype=torch.float64)])
    grid = grid.to(sample["a"].device)
    av, bv = sample["a"].unsqueeze(-1), sample["b"].unsqueeze(-1)
    return (av * torch.relu(1 - grid) + bv * torch.relu(1 + grid)).amin(-1)


def _fast_mutant(id_: str, description: str, rhs: sp.Basic, claim_numeric, wrong) -> Mutant:
    """A mutant with its wrong formula `rhs` (the symbolic strategy must not prove it) and the same formula in
    torch (`wrong(sample)`), so the numeric rejection does not loop over the grid in sympy's evaluator."""
    return Mutant(id_, description, rhs=rhs, numeric=lambda sample: (claim_numeric(sample)[0], wrong(sample)))


def _overlap(sample, op=torch.minimum) -> torch.Tensor:
    return op(sample["p"], sample["q"]).sum(-1) * sample["dx"]


def _tv(sample) -> torch.Tensor:
    return 0.5 * (sample["p"] - sample["q"]).abs().sum(-1) * sample["dx"]


# ---------------------------------------------------------------------------------------------------------------
# Claims

SCALAR_VARIABLES = (Variable("a", Real(0.0, 3.0)), Variable("b", Real(0.0, 3.0)))
GRID_VARIABLES = (Variable("p", DensityOnGrid(GRID_POINTS), r"p_{\mathrm{true}}"),
                  Variable("q", DensityOnGrid(GRID_POINTS), r"p_\theta"),
                  Variable("dx", grid_spacing(GRID_POINTS), r"\Delta x"))
ALL_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
SUM_TOLERANCES = {
    torch.float16: Tolerance(2e-3, 1e-5, "two roundings of the result (the sum, then the product with Δx): 2u, "
                                         "u = 2^-11"),
}
NORMALISED_TOLERANCES = {
    torch.float16: Tolerance(2e-3, 4e-3, "p, q and Δx rounded to float16 integrate to 1 only within ~2u "
                                         "(u = 2^-11), which 2 − 2 D_TV uses; allowance 8u"),
    torch.bfloat16: Tolerance(1.6e-2, 3e-2, "as for float16 with u = 2^-8: allowance 8u"),
}

lower_bound = Claim(
    id="lower-bound",
    statement=r"$h(y) = a(1 - y)_+ + b(1 + y)_+ \ge 2\min(a, b)$ for $a, b \ge 0$ and every real $y$",
    lhs=H, rhs=2 * sp.Min(a, b), relation=">=",
    variables=SCALAR_VARIABLES + (Variable("y", Real(-4.0, 4.0)),),
    assumptions=(r"$a, b \ge 0$",),
    symbolic=CaseSplit(cases=LOWER_BOUND_CASES),
    mutants=(
        Mutant("max", "2 max(a, b): the value at the wrong end", rhs=2 * sp.Max(a, b)),
        Mutant("at-zero", "a + b: the value at y = 0 taken as the minimum", rhs=a + b),
    ),
    dtypes=ALL_DTYPES,
)

minimizer = Claim(
    id="minimizer",
    statement=r"$h$ attains $2\min(a, b)$ at $y^\star = \mathrm{sign}(a - b)$: $y^\star = +1$ if $a > b$, $-1$ if "
              r"$a < b$ (any $y \in [-1, 1]$ if $a = b$)",
    lhs=hinge(a, b, Y_STAR), rhs=2 * sp.Min(a, b),
    variables=SCALAR_VARIABLES,
    assumptions=(r"$a, b \ge 0$",),
    symbolic=CaseSplit(cases=STRICT_ORDER_CASES),
    references=(Reference("dense-grid", "min of h over 803 values of y in [−4, 4] (including ±1)", grid_minimum),),
    mutants=(
        Mutant("constant-1", "min(a, b): the constant 1 instead of 2", rhs=sp.Min(a, b)),
        Mutant("wrong-minimizer", "2 max(a, b) = h(−sign(a − b)): the minimizer's sign flipped", rhs=2 * sp.Max(a, b)),
        Mutant("at-zero", "a + b = h(0)", rhs=a + b),
    ),
    dtypes=ALL_DTYPES,
)

inner_minimum = Claim(
    id="inner-minimum",
    statement=r"with $D^\star(x) = \mathrm{sign}(p_{\mathrm{true}}(x) - p_\theta(x))$: $L(D^\star) = \int "
              r"p_{\mathrm{true}}(1 - D^\star)_+ + p_\theta(1 + D^\star)_+ = 2\int\min\{p_{\mathrm{true}}, p_\theta\}$ "
              r"(integrals as Riemann sums on a grid)",
    lhs=L_OPTIMAL, rhs=OVERLAP2,
    variables=GRID_VARIABLES,
    dims={"m": (GRID_POINTS, GRID_POINTS)},
    symbolic=Termwise(lemmas=((OPTIMAL_VALUE, (ON_GRID,)),), scope="any grid (every m and Δx), for the Riemann sums"),
    numeric=optimal_sides,
    references=(Reference("monte-carlo", f"the exam's expectations E_p[(1 − D*(X))_+] + E_q[(1 + D*(X))_+] from "
                                         f"{MC_SAMPLES} samples of each density", monte_carlo_objective, side="lhs",
                          illustration="the objective 2∫min(p, q) is the mass where the densities overlap, which "
                                       "draws from p and q rarely hit: 1,024 draws cannot reject it scaled by 1.02 "
                                       "or 0.98 (0 of 1,000 instances at seed 0), and where no draw hits it the "
                                       "estimate is degenerate (standard error 0); the Riemann sums are the "
                                       "evidence"),),
    mutants=(
        _fast_mutant("constant-1", "∫min(p, q)", OVERLAP2 / 2, optimal_sides, _overlap),
        _fast_mutant("max", "2∫max(p, q)", 2 * sp.Sum(sp.Max(p[i], q[i]) * dx, (i, 0, m - 1)), optimal_sides,
                     lambda s_: 2 * _overlap(s_, torch.maximum)),
    ),
    tolerances=SUM_TOLERANCES,
    dtypes=ALL_DTYPES,
)

any_discriminator = Claim(
    id="any-discriminator",
    statement=r"$L(D) \ge 2\int\min\{p_{\mathrm{true}}, p_\theta\}$ for every discriminator $D$, so "
              r"$\min_D L(D) = 2\int\min\{p_{\mathrm{true}}, p_\theta\}$ (integrals as Riemann sums on a grid)",
    lhs=objective(D[i]), rhs=OVERLAP2, relation=">=",
    variables=GRID_VARIABLES + (Variable("D", DiscriminatorOnGrid(GRID_POINTS)),),
    dims={"m": (GRID_POINTS, GRID_POINTS)},
    symbolic=TermwiseNonnegative(generic={p[i]: a, q[i]: b, D[i]: y}, cases=LOWER_BOUND_CASES,
                                 scope="any grid (every m and Δx), for the Riemann sums"),
    numeric=discriminator_family,
    mutants=(
        _fast_mutant("total-mass", "L(D) >= 2 = ∫p + ∫q", sp.Integer(2), discriminator_family,
                     lambda s_: torch.full_like(s_["dx"], 2.0)),
        _fast_mutant("max", "L(D) >= 2∫max(p, q)", 2 * sp.Sum(sp.Max(p[i], q[i]) * dx, (i, 0, m - 1)),
                     discriminator_family, lambda s_: 2 * _overlap(s_, torch.maximum)),
    ),
    tolerances=SUM_TOLERANCES,
    dtypes=ALL_DTYPES,
)

tv_objective = Claim(
    id="tv-objective",
    statement=r"$\min_D L(D) = L(D^\star) = 2 - 2 D_{\mathrm{TV}}(p_{\mathrm{true}}, p_\theta)$: the generator's "
              r"maximin problem minimises $D_{\mathrm{TV}}$ (integrals as Riemann sums on a grid)",
    lhs=L_OPTIMAL, rhs=2 - 2 * TV,
    variables=GRID_VARIABLES,
    dims={"m": (GRID_POINTS, GRID_POINTS)},
    assumptions=(r"$\int p_{\mathrm{true}} = \int p_\theta = 1$",),
    symbolic=Termwise(lemmas=((OPTIMAL_AS_ABS, (ON_GRID,)),), normalisation=NORMALISATION,
                      scope="any grid (every m and Δx), for the Riemann sums"),
    numeric=tv_sides,
    references=(Reference("scheffe", "2 − 2 (P(A) − Q(A)) with Scheffé's set A = {p_true > p_θ}", scheffe_objective),),
    mutants=(
        _fast_mutant("constant-1", "1 − D_TV", 1 - TV, tv_sides, lambda s_: 1 - _tv(s_)),
        _fast_mutant("sign", "2 + 2 D_TV", 2 + 2 * TV, tv_sides, lambda s_: 2 + 2 * _tv(s_)),
        _fast_mutant("no-half", "2 − 4 D_TV: ½ dropped from D_TV", 2 - 4 * TV, tv_sides, lambda s_: 2 - 4 * _tv(s_)),
    ),
    tolerances=NORMALISED_TOLERANCES,
    dtypes=ALL_DTYPES,
)


# Gradeable: the optimal value min_D L(D) on discrete distributions (1-based, as students write it); the
# witness minimises the hinge objective over a grid of discriminator values containing ±1, point by point.
n_points = sp.Symbol("n", integer=True, positive=True)
_ONE_BASED = one_based(ProbabilityVector("n"))


def _grid_minimum(sample) -> torch.Tensor:
    pv, qv = sample["p"][:, 1:].unsqueeze(-1), sample["q"][:, 1:].unsqueeze(-1)
    d = torch.linspace(-2.0, 2.0, 401, dtype=torch.float64)
    values = pv * torch.clamp(1 - d, min=0) + qv * torch.clamp(1 + d, min=0)
    return values.amin(dim=-1).sum(dim=-1)


GRADEABLE = (
    Problem(
        id="hinge-gan-value", title="Optimal value of the hinge-GAN discriminator loss", source="final-2022 P6",
        claim=tv_objective,
        statement=r"For distributions $p, q$ on $\{1, \dots, n\}$, give $\min_D \sum_i p_i (1 - D_i)_+ + q_i (1 + D_i)_+$ "
                  r"in terms of $p$ and $q$.",
        symbols=(Symbol(p, "p_i", ("p",)), Symbol(q, "q_i", ("q",)), Symbol(n_points, "n")),
        answer=2 - sp.Sum(sp.Abs(p[i] - q[i]), (i, 1, n_points)), witness=_grid_minimum,
        variables=(Variable("p", _ONE_BASED), Variable("q", _ONE_BASED)), dims={"n": (2, 3, 4, 5, 6)},
        sum_range=(sp.Integer(1), n_points),
        misconceptions=(
            Misconception("constant-1", "the loss at the optimum is 2 − 2 D_TV(p, q) (each hinge term is 2 at "
                          "D = ∓1), not 1 − D_TV", 1 - sp.Rational(1, 2) * sp.Sum(sp.Abs(p[i] - q[i]), (i, 1, n_points))),
            Misconception("max", "the optimal discriminator keeps the smaller of the two terms at each point: "
                          "2 Σ min(p_i, q_i), not max", 2 * sp.Sum(sp.Max(p[i], q[i]), (i, 1, n_points))),
            Misconception("no-tv-factor", "min_D L(D) = 2 − 2 D_TV(p, q) and D_TV = ½ Σ |p_i − q_i|: the value is "
                          "2 − Σ |p_i − q_i|", 2 - sp.Rational(1, 2) * sp.Sum(sp.Abs(p[i] - q[i]), (i, 1, n_points))),
        ),
    ),
)


# ---------------------------------------------------------------------------------------------------------------
# Figure


def draw_hinge(ax) -> None:
    """h(y) for three (a, b) pairs, with the minimum 2 min(a, b) attained at y = sign(a − b)."""
    ys = torch.linspace(-2.5, 2.5, 501, dtype=torch.float64)
    for av, bv in ((2.0, 1.0), (1.0, 2.0), (1.5, 1.5)):
        h = av * torch.relu(1 - ys) + bv * torch.relu(1 + ys)
        line = ax.plot(ys, h, label=f"a = {av}, b = {bv}")[0]
        star = (av > bv) - (av < bv)
        ax.plot([star], [2 * min(av, bv)], "o", color=line.get_color())
    ax.set_xlabel("y")
    ax.set_ylabel(r"$h(y) = a(1-y)_+ + b(1+y)_+$")
    ax.legend()


DERIVATIONS = (
    Derivation(
        id="hinge-gan",
        title="Geometric GAN: the optimal discriminator and total-variation minimisation",
        source="final-2022 P6",
        statement=r"With $(r)_+ = \max\{0, r\}$, a GAN with generator $G_\theta$ and discriminator $D_\phi$ is "
                  r"trained by the maximin problem $\max_\theta \min_\phi \mathbb{E}_{X\sim "
                  r"p_{\mathrm{true}}}[(1 - D_\phi(X))_+] + \mathbb{E}_{Z\sim\mathcal{N}(0,I)}[(1 + "
                  r"D_\phi(G_\theta(Z)))_+]$; $p_\theta$ is the density of $G_\theta(Z)$. Problem (1) is "
                  r"$\max_\theta \int\min\{p_{\mathrm{true}}(x), p_\theta(x)\}\,dx$.",
        claims=(lower_bound, minimizer, inner_minimum, any_discriminator, tv_objective),
        figures=(Figure("hinge", "h(y) for three (a, b): the minimum 2 min(a, b) sits at y = sign(a − b)",
                        draw_hinge),),
        parts=(
            Part(
                label="(a)",
                question=r"Let $a, b \in [0, \infty)$. Show that $h(y) = a(1-y)_+ + b(1+y)_+$ is minimized at "
                         r"$y = -1$ or $y = +1$.",
                answer=Answer(
                    text=r"$h$ is piecewise linear: $h(y) = a(1 - y)$ with slope $-a \le 0$ on $y \le -1$, "
                         r"$h(y) = (a + b) + (b - a)y$ with slope $b - a$ on $-1 \le y \le 1$, and $h(y) = b(1 + y)$ "
                         r"with slope $b \ge 0$ on $y \ge 1$. So it does not increase up to $y = -1$, "
                         r"is linear on $[-1, 1]$ and does not decrease after $y = 1$: its minimum over "
                         r"$\mathbb{R}$ is at an end of $[-1, 1]$, at $y = +1$ when $a \ge b$ ($h(1) = 2b$) and at "
                         r"$y = -1$ when $a \le b$ ($h(-1) = 2a$). The minimum value is $2\min(a, b)$.",
                    scope=r"proved by sympy for all $a, b \ge 0$ and all real $y$ (case split into $a \le b$ or "
                          r"$a \ge b$, times the three pieces of $h$)",
                ),
                claims=("lower-bound", "minimizer"),
            ),
            Part(
                label="(b)",
                question=r"With $D_\phi$ infinitely powerful, show that the minimax problem is equivalent to "
                         r"maximizing $\int \min\{p_{\mathrm{true}}(x), p_\theta(x)\}\,dx$ over $\theta$.",
                answer=Answer(
                    text=r"$\mathbb{E}_{Z}[(1 + D(G_\theta(Z)))_+] = \int p_\theta(x)(1 + D(x))_+\,dx$, so the "
                         r"inner objective is $L(D) = \int h_x(D(x))\,dx$ with $h_x$ the function of (a) for "
                         r"$a = p_{\mathrm{true}}(x)$, $b = p_\theta(x)$. Since $D$ can be any function, the "
                         r"minimum is taken pointwise: by (a) each $x$ contributes at least "
                         r"$2\min\{p_{\mathrm{true}}(x), p_\theta(x)\}$, attained by $D^\star(x) = "
                         r"\mathrm{sign}(p_{\mathrm{true}}(x) - p_\theta(x))$. Hence $\min_D L(D) = "
                         r"2\int\min\{p_{\mathrm{true}}, p_\theta\}$, and the outer problem "
                         r"$\max_\theta 2\int\min\{p_{\mathrm{true}}, p_\theta\}$ has the same maximizers as (1).",
                    scope=r"the pointwise step proved by sympy for all $a, b \ge 0$, $y$; the summed statements "
                          r"proved for Riemann sums on any grid and checked numerically on random grid densities "
                          r"(401 points) and random discriminators, and by Monte Carlo with the exam's expectations",
                ),
                claims=("inner-minimum", "any-discriminator"),
            ),
            Part(
                label="(e)",
                question=r"Show that (1) is equivalent to minimizing $D_{\mathrm{TV}}(p_{\mathrm{true}}, p_\theta)$ "
                         r"over $\theta$.",
                answer=Answer(
                    text=r"By (d), $\int\min\{p_{\mathrm{true}}, p_\theta\} = 1 - D_{\mathrm{TV}}(p_{\mathrm{true}}, "
                         r"p_\theta)$, and $t \mapsto 1 - t$ is decreasing: maximizing the overlap over $\theta$ is "
                         r"minimizing the total variation distance. Equivalently, the inner minimum of the "
                         r"exam's objective is $2 - 2D_{\mathrm{TV}}(p_{\mathrm{true}}, p_\theta)$.",
                    scope=r"the identity $L(D^\star) = 2 - 2D_{\mathrm{TV}}$ proved for Riemann sums on any grid; "
                          r"(d) is proved for densities in general (derivation tv-min)",
                ),
                claims=("tv-objective",),
            ),
        ),
    ),
)
