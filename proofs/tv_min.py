r"""Total variation distance as one minus the overlap: $\tfrac12\int|p-q| = 1 - \int\min(p, q)$.

# Main statements

* `pointwise`: for real $a, b$: $\tfrac12|a-b| = \tfrac12(a+b) - \min(a, b)$.
* `discrete`: for probability vectors $p, q \in \Delta_n$: $\tfrac12\sum_i |p_i-q_i| = 1 - \sum_i \min(p_i, q_i)$.
* `continuous`: for densities $p, q$ on $\mathbb R$ (tabulated on a grid, integrals as Riemann sums with
  spacing $\Delta x$ and $\sum_i p_i\Delta x = \sum_i q_i \Delta x = 1$):
  $D_{\mathrm{TV}}(p,q) = \tfrac12\sum_i|p_i-q_i|\Delta x = 1 - \sum_i\min(p_i,q_i)\Delta x$.

* `integral`: for probability densities $p, q$ on $\mathbb{R}^n$, $\tfrac12\int|p - q| = 1 - \int\min(p, q)$,
  proved by sympy in general: the pointwise lemma under the integral, linearity, $\int p = \int q = 1$ (the
  variable $x$ stands for a point of $\mathbb{R}^n$); checked numerically with the grid's Riemann sums.

# Notation

$D_{\mathrm{TV}}(p, q) = \tfrac12\int|p - q|$ as the exam defines it; $\int\min(p, q)$ is the overlap
(the shaded area in the figure).

# Implementation notes

* `pointwise` is proved by sympy for all reals by a case split ($a = b + c$ or $b = a + c$ with
  $c \ge 0$); plain `simplify` cannot do it (it leaves $-\tfrac a2 - \tfrac b2 + \tfrac{|a-b|}2 + \min(a,b)$).
* `discrete` and `continuous` are proved for general $n$ (any grid size) by `Termwise`: the pointwise
  lemma (proved by its own case split inside the strategy) rewrites every term, sums are distributed
  by linearity, and the normalisations $\sum p_i = \sum q_i = 1$ (resp. $= 1/\Delta x$) are substituted.
  The Riemann-sum identity is exact, not an approximation: the grid densities are normalised so that
  their Riemann sums are 1, and the integral identity is the same computation with $\int$ for $\sum\Delta x$.
* References: the supremum over events $\max_{A} |P(A) - Q(A)|$ by enumerating all $2^n$ events
  (discrete), and Scheffé's set $A = \{p > q\}$, $P(A) - Q(A)$ (continuous), both classical equivalent
  definitions of total variation that share no code with either side.
* Low precision: $1 - \int\min$ cancels when $p \approx q$; the engine allows each formula's
  first-order rounding bound. Rounding $p, q$ to float16/bfloat16 also breaks $\sum p_i\Delta x = 1$
  by up to $\sim u$, which the identity needs: the overrides below say so.

# References

* final-2022 Problem 6(d) (the hint: split $\mathbb R^n$ into $A = \{p \le q\}$ and $A^C$).
"""

from __future__ import annotations

from itertools import product

import sympy as sp
import torch

from checkers import (Answer, CaseSplit, Claim, Constant, DensityOnGrid, Derivation, Figure, Lemma, Misconception,
                      Mutant, Part, ProbabilityVector, Problem, Real, Reference, Step, Symbol, Termwise, Tolerance,
                      Variable, density_grid, facts, le_total, normalised_linearity, one_based, proved)

# ---------------------------------------------------------------------------------------------------------------
# Symbols

a, b = sp.symbols("a b", real=True)
c = sp.Symbol("c", nonnegative=True)
half = sp.Rational(1, 2)
ORDER_CASES = le_total(a, b, c)  # a ≤ b: b = a + c; a ≥ b: a = b + c (c ≥ 0); coverage checked by the strategy

n = sp.Symbol("n", integer=True, positive=True)
m = sp.Symbol("m", integer=True, positive=True)
i = sp.Symbol("i", integer=True, nonnegative=True)
p = sp.IndexedBase("p", real=True)
q = sp.IndexedBase("q", real=True)
dx = sp.Symbol("dx", positive=True)

ABS_AS_MIN = Lemma("|a − b| = a + b − 2 min(a, b)", sp.Abs(a - b), a + b - 2 * sp.Min(a, b),
                   CaseSplit(cases=ORDER_CASES))


def total_variation(upper: sp.Basic, weight: sp.Basic = sp.Integer(1)) -> sp.Expr:
    """½ Σ_{i=0}^{upper} |p_i − q_i| · weight."""
    return half * sp.Sum(sp.Abs(p[i] - q[i]) * weight, (i, 0, upper))


def one_minus_overlap(upper: sp.Basic, weight: sp.Basic = sp.Integer(1)) -> sp.Expr:
    """1 − Σ_{i=0}^{upper} min(p_i, q_i) · weight."""
    return 1 - sp.Sum(sp.Min(p[i], q[i]) * weight, (i, 0, upper))


# ---------------------------------------------------------------------------------------------------------------
# Kinds and references


def grid_spacing(points: int = 401) -> Constant:
    """The spacing Δx of `density_grid(points)`, the same for every instance (shape (B,))."""
    return Constant(density_grid(points)[1], text=f"spacing of the {points}-point grid over [-10, 10]")


def sup_over_events(sample) -> torch.Tensor:
    """max over all 2^n events A of |P(A) − Q(A)|, by enumeration."""
    pv, qv = sample["p"], sample["q"]
    size = pv.shape[-1]
    events = torch.tensor(list(product((0.0, 1.0), repeat=size)), dtype=pv.dtype, device=pv.device)
    return ((pv - qv) @ events.T).abs().amax(-1)


def scheffe(sample) -> torch.Tensor:
    """P(A) − Q(A) for Scheffé's set A = {x : p(x) > q(x)}, as Riemann sums."""
    pv, qv = sample["p"], sample["q"]
    inside = pv > qv
    return ((pv - qv) * inside).sum(-1) * sample["dx"]


def riemann_sides(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """½ Σ|pᵢ − qᵢ| Δx and 1 − Σ min(pᵢ, qᵢ) Δx with torch's reductions, in the sample's dtype."""
    pv, qv, step = sample["p"], sample["q"], sample["dx"]
    return 0.5 * (pv - qv).abs().sum(-1) * step, 1 - torch.minimum(pv, qv).sum(-1) * step


# ---------------------------------------------------------------------------------------------------------------
# Claims

pointwise = Claim(
    id="pointwise",
    statement=r"$\frac12|a - b| = \frac12(a + b) - \min(a, b)$ for real $a, b$",
    lhs=half * sp.Abs(a - b), rhs=half * (a + b) - sp.Min(a, b),
    variables=(Variable("a", Real(-3, 3)), Variable("b", Real(-3, 3))),
    symbolic=CaseSplit(cases=ORDER_CASES),
    mutants=(
        Mutant("max-for-min", "½(a + b) − max(a, b) (= −½|a − b|)", rhs=half * (a + b) - sp.Max(a, b)),
        Mutant("no-half", "a + b − min(a, b): the ½ dropped on the right", rhs=a + b - sp.Min(a, b)),
        Mutant("min-only", "½ min(a, b)", rhs=half * sp.Min(a, b)),
    ),
    dtypes=(torch.float64, torch.float32, torch.float16, torch.bfloat16),
)

DISCRETE_TERMWISE = Termwise(lemmas=((ABS_AS_MIN, ({a: p[i], b: q[i]},)),),
                             normalisation={sp.Sum(p[i], (i, 0, n - 1)): 1, sp.Sum(q[i], (i, 0, n - 1)): 1})

discrete = Claim(
    id="discrete",
    statement=r"$\frac12\sum_i |p_i - q_i| = 1 - \sum_i \min(p_i, q_i)$ for probability vectors $p, q$",
    lhs=total_variation(n - 1), rhs=one_minus_overlap(n - 1),
    variables=(Variable("p", ProbabilityVector("n")), Variable("q", ProbabilityVector("n"))),
    dims={"n": (2, 10)},
    assumptions=(r"$\sum_i p_i = \sum_i q_i = 1$",),
    steps=(
        Step(half * sp.Sum(p[i] + q[i] - 2 * sp.Min(p[i], q[i]), (i, 0, n - 1)),
             r"termwise $|p_i - q_i| = p_i + q_i - 2\min(p_i, q_i)$ (case split $p_i \ge q_i$ or $p_i \le q_i$)"),
        Step(half * sp.Sum(p[i], (i, 0, n - 1)) + half * sp.Sum(q[i], (i, 0, n - 1))
             - sp.Sum(sp.Min(p[i], q[i]), (i, 0, n - 1)), "linearity of the sum"),
        Step(one_minus_overlap(n - 1), r"$\sum_i p_i = \sum_i q_i = 1$"),
    ),
    symbolic=DISCRETE_TERMWISE,
    references=(Reference("sup-over-events", "max over all 2^n events A of |P(A) − Q(A)| (enumerated)",
                          sup_over_events, side="lhs"),),
    mutants=(
        Mutant("max-for-min", "1 − Σ max(p_i, q_i)", rhs=1 - sp.Sum(sp.Max(p[i], q[i]), (i, 0, n - 1))),
        Mutant("half-overlap", "½(1 − Σ min(p_i, q_i)): the ½ applied twice", rhs=half * one_minus_overlap(n - 1)),
        Mutant("overlap", "Σ min(p_i, q_i): the overlap itself", rhs=sp.Sum(sp.Min(p[i], q[i]), (i, 0, n - 1))),
    ),
    tolerances={
        torch.float16: Tolerance(1e-3, 4e-3, "rounding p, q to float16 moves Σp_i and Σq_i by up to u = 2^-11 "
                                             "each (|δp_i| <= u p_i), and the identity uses Σp = Σq = 1: "
                                             "allowance 8u"),
        torch.bfloat16: Tolerance(1.6e-2, 3e-2, "as for float16 with u = 2^-8: allowance 8u"),
    },
    dtypes=(torch.float64, torch.float32, torch.float16, torch.bfloat16),
)


# Gradeable: the two closed forms of D_TV on discrete distributions, written with 1-based indices as students
# write them; the witness is this claim's independent reference (the supremum over all 2^n events).
_P, _Q = one_based(ProbabilityVector("n")), one_based(ProbabilityVector("n"))


def _events_witness(sample) -> torch.Tensor:
    return sup_over_events({"p": sample["p"][:, 1:], "q": sample["q"][:, 1:]})


_TV_COMMON = dict(
    source="final-2022 P6", claim=discrete, symbols=(Symbol(p, "p_i", ("p",)), Symbol(q, "q_i", ("q",)), Symbol(n, "n")),
    variables=(Variable("p", _P), Variable("q", _Q)), dims={"n": (2, 3, 4, 5, 6)}, sum_range=(sp.Integer(1), n),
    witness=_events_witness,
)
GRADEABLE = (
    Problem(
        id="tv-overlap", title="Total variation distance as one minus the overlap",
        statement=r"For probability vectors $p, q$ on $\{1, \dots, n\}$, write $D_{TV}(p, q) = \sup_A |P(A) - Q(A)|$ "
                  r"with $\min(p_i, q_i)$.",
        answer=1 - sp.Sum(sp.Min(p[i], q[i]), (i, 1, n)),
        misconceptions=(
            Misconception("max-for-min", "the overlap is Σ min(p_i, q_i), the mass both distributions share; "
                          "1 − Σ max(p_i, q_i) is negative", 1 - sp.Sum(sp.Max(p[i], q[i]), (i, 1, n))),
            Misconception("overlap", "that is the overlap Σ min(p_i, q_i) itself; the distance is 1 minus it",
                          sp.Sum(sp.Min(p[i], q[i]), (i, 1, n))),
            Misconception("half-overlap", "the ½ belongs to the form ½ Σ |p_i − q_i|; here it is applied twice",
                          half * (1 - sp.Sum(sp.Min(p[i], q[i]), (i, 1, n)))),
        ),
        **_TV_COMMON,
    ),
    Problem(
        id="tv-half-l1", title="Total variation distance as half the L1 distance",
        statement=r"For probability vectors $p, q$ on $\{1, \dots, n\}$, write $D_{TV}(p, q) = \sup_A |P(A) - Q(A)|$ "
                  r"with $|p_i - q_i|$.",
        answer=half * sp.Sum(sp.Abs(p[i] - q[i]), (i, 1, n)),
        misconceptions=(
            Misconception("no-half", "Σ |p_i − q_i| counts every difference twice (once where p exceeds q, once "
                          "where q exceeds p): D_TV is half of it", sp.Sum(sp.Abs(p[i] - q[i]), (i, 1, n))),
            Misconception("squared", "the total variation distance is ½ Σ |p_i − q_i|, not a sum of squares",
                          half * sp.Sum((p[i] - q[i]) ** 2, (i, 1, n))),
        ),
        **_TV_COMMON,
    ),
)

GRID_POINTS = 401

continuous = Claim(
    id="continuous",
    statement=r"on a grid of $m$ points with spacing $\Delta x$, for grid densities ($\sum_i p_i\Delta x = "
              r"\sum_i q_i\Delta x = 1$): $\frac12\sum_i |p_i - q_i|\,\Delta x = 1 - \sum_i \min(p_i, q_i)\,"
              r"\Delta x$, the Riemann-sum form of the integral identity",
    lhs=total_variation(m - 1, dx), rhs=one_minus_overlap(m - 1, dx),
    variables=(Variable("p", DensityOnGrid(GRID_POINTS)), Variable("q", DensityOnGrid(GRID_POINTS)),
               Variable("dx", grid_spacing(GRID_POINTS), r"\Delta x")),
    dims={"m": (GRID_POINTS, GRID_POINTS)},
    assumptions=(r"$\sum_i p_i \Delta x = \sum_i q_i \Delta x = 1$ (the grid densities integrate to 1)",),
    symbolic=Termwise(lemmas=((ABS_AS_MIN, ({a: p[i], b: q[i]},)),),
                      normalisation={sp.Sum(p[i], (i, 0, m - 1)): 1 / dx, sp.Sum(q[i], (i, 0, m - 1)): 1 / dx},
                      scope="any grid (every m and Δx), for the Riemann sums"),
    numeric=riemann_sides,
    references=(Reference("scheffe", "Scheffé's set A = {p > q}: P(A) − Q(A)", scheffe, side="lhs"),),
    mutants=(
        Mutant("max-for-min", "1 − ∫max(p, q)", rhs=1 - sp.Sum(sp.Max(p[i], q[i]) * dx, (i, 0, m - 1))),
        Mutant("no-half", "∫|p − q| = 1 − ∫min(p, q) read as D_TV = 2(1 − ∫min)", rhs=2 * one_minus_overlap(m - 1, dx)),
        Mutant("no-dx", "1 − Σ min(p_i, q_i): the grid spacing forgotten", rhs=one_minus_overlap(m - 1)),
    ),
    tolerances={
        torch.float16: Tolerance(1e-3, 4e-3, "p, q and Δx rounded to float16 integrate to 1 only within ~2u "
                                             "(u = 2^-11), which the identity uses; 1 − ∫min cancels: absolute "
                                             "error ~u·∫min; allowance 8u"),
        torch.bfloat16: Tolerance(1.6e-2, 3e-2, "as for float16 with u = 2^-8: allowance 8u"),
    },
    dtypes=(torch.float64, torch.float32, torch.float16, torch.bfloat16),
)


x_point = sp.Symbol("x", real=True)  # stands for a point of R^n: every step is pointwise or linearity of ∫
p_density, q_density = sp.Function("p", nonnegative=True), sp.Function("q", nonnegative=True)
EVERYWHERE = (x_point, -sp.oo, sp.oo)
P_X, Q_X = p_density(x_point), q_density(x_point)
TV_INTEGRAL = half * sp.Integral(sp.Abs(P_X - Q_X), EVERYWHERE)
SPLIT_INTEGRAL = half * sp.Integral(P_X + Q_X - 2 * sp.Min(P_X, Q_X), EVERYWHERE)
LINEAR_INTEGRAL = (half * sp.Integral(P_X, EVERYWHERE) + half * sp.Integral(Q_X, EVERYWHERE)
                   - sp.Integral(sp.Min(P_X, Q_X), EVERYWHERE))
OVERLAP_INTEGRAL = 1 - sp.Integral(sp.Min(P_X, Q_X), EVERYWHERE)
DENSITIES_INTEGRATE_TO_ONE = normalised_linearity(
    {sp.Integral(P_X, EVERYWHERE): 1, sp.Integral(Q_X, EVERYWHERE): 1}, r"linearity of ∫ and ∫p = ∫q = 1")


def _pointwise_lemma_proved() -> sp.Basic:
    """True when the case split proves |a − b| = a + b − 2 min(a, b) for all real a, b."""
    return sp.true if ABS_AS_MIN.proof.prove(ABS_AS_MIN.lhs, ABS_AS_MIN.rhs, "=").status == "proved" else sp.false


def _integral_follows(lhs, rhs, relation="=") -> sp.Basic:
    """The claim's own sides: |p − q| rewritten by the lemma under ∫, then linearity and normalisation."""
    rewritten = lhs.xreplace({sp.Abs(P_X - Q_X): P_X + Q_X - 2 * sp.Min(P_X, Q_X)})
    return proved(DENSITIES_INTEGRATE_TO_ONE, rewritten, rhs)


integral = Claim(
    id="integral",
    statement=r"$D_{\mathrm{TV}}(p, q) = \frac12\int_{\mathbb{R}^n} |p(x) - q(x)|\,dx = 1 - \int_{\mathbb{R}^n} "
              r"\min\{p(x), q(x)\}\,dx$ for probability densities $p, q$",
    lhs=TV_INTEGRAL, rhs=OVERLAP_INTEGRAL,
    variables=(Variable("p", DensityOnGrid(GRID_POINTS)), Variable("q", DensityOnGrid(GRID_POINTS)),
               Variable("dx", grid_spacing(GRID_POINTS), r"\Delta x")),
    dims={"m": (GRID_POINTS, GRID_POINTS)},
    assumptions=(r"$\int p = \int q = 1$, and $p$, $q$ integrable",),
    steps=(
        Step(SPLIT_INTEGRAL, r"pointwise $|a - b| = a + b - 2\min(a, b)$ (case split $a \ge b$ or $a \le b$)",
             symbolic=facts(("|a − b| = a + b − 2 min(a, b) by cases", _pointwise_lemma_proved)), numeric=False),
        Step(LINEAR_INTEGRAL, "linearity of the integral", symbolic=normalised_linearity({}, "linearity of ∫"),
             numeric=False),
        Step(OVERLAP_INTEGRAL, r"$\int p = \int q = 1$", symbolic=DENSITIES_INTEGRATE_TO_ONE, numeric=False),
    ),
    symbolic=facts(("|a − b| = a + b − 2 min(a, b) for real a, b (case split)", _pointwise_lemma_proved),
                   derive=_integral_follows,
                   derivation="the lemma applied under the integral, then linearity of ∫ and ∫p = ∫q = 1"),
    numeric=riemann_sides,
    mutants=(
        Mutant("max-for-min", "1 − ∫max(p, q)",
               numeric=lambda s: (riemann_sides(s)[0], 1 - torch.maximum(s["p"], s["q"]).sum(-1) * s["dx"])),
        Mutant("no-half", "D_TV = 2(1 − ∫min(p, q))",
               numeric=lambda s: (riemann_sides(s)[0], 2 * riemann_sides(s)[1])),
    ),
    dtypes=(torch.float64, torch.float32),
)


# ---------------------------------------------------------------------------------------------------------------
# Figure


def _mixture(x: torch.Tensor, parts: tuple[tuple[float, float, float], ...]) -> torch.Tensor:
    out = torch.zeros_like(x)
    for weight, mean, std in parts:
        out += weight * torch.exp(-0.5 * ((x - mean) / std) ** 2) / (std * (2 * torch.pi) ** 0.5)
    return out


def draw_overlap(ax) -> None:
    """Two densities, their overlap min(p, q) shaded; TV = 1 − shaded area = ½∫|p − q|."""
    x, step = density_grid(GRID_POINTS)
    pv = _mixture(x, ((0.6, -1.2, 0.6), (0.4, 1.0, 0.5)))
    qv = _mixture(x, ((0.7, 0.8, 0.7), (0.3, -2.0, 0.4)))
    pv, qv = pv / (pv.sum() * step), qv / (qv.sum() * step)
    overlap = torch.minimum(pv, qv)
    tv_abs = float(0.5 * (pv - qv).abs().sum() * step)
    tv_min = float(1 - overlap.sum() * step)
    keep = x.abs() <= 5
    ax.plot(x[keep], pv[keep], label="p")
    ax.plot(x[keep], qv[keep], label="q")
    ax.fill_between(x[keep], 0, overlap[keep], alpha=0.3, label=r"$\min(p, q)$")
    ax.set_title(rf"$\frac{{1}}{{2}}\int|p-q| = {tv_abs:.4f}$, $1 - \int\min(p,q) = {tv_min:.4f}$")
    ax.set_xlabel("x")
    ax.legend()


DERIVATIONS = (
    Derivation(
        id="tv-min",
        title="Total variation distance equals one minus the overlap",
        source="final-2022 P6",
        statement=r"For probability densities $p, q$ on $\mathbb{R}^n$, the total variation distance is "
                  r"$D_{\mathrm{TV}}(p, q) = \frac12\int |p(x) - q(x)|\,dx$.",
        claims=(pointwise, discrete, continuous, integral),
        parts=(
            Part(
                label="(d)",
                question=r"For any probability density functions $p$ and $q$, show that $D_{\mathrm{TV}}(p, q) = "
                         r"\frac12\int_{\mathbb{R}^n} |p(x) - q(x)|\,dx = 1 - \int_{\mathbb{R}^n} \min\{p(x), "
                         r"q(x)\}\,dx$.",
                answer=Answer(
                    formula=OVERLAP_INTEGRAL,
                    lhs=TV_INTEGRAL,
                    text=r"Pointwise, $|a - b| = a + b - 2\min(a, b)$ (if $a \ge b$ both sides are $a - b$, "
                         r"otherwise $b - a$). Integrating, $\frac12\int|p - q| = \frac12\int p + \frac12\int q - "
                         r"\int\min\{p, q\} = 1 - \int\min\{p, q\}$. (The hint's sets give the same: with "
                         r"$A = \{p \le q\}$, $\int\min\{p,q\} = \int_A p + \int_{A^C} q$ and "
                         r"$\frac12\int|p - q| = \frac12(\int_A (q - p) + \int_{A^C} (p - q))$.)",
                    scope=r"proved by sympy in general (the pointwise lemma by cases, then linearity and "
                          r"normalisation of the integral; $x$ stands for a point of $\mathbb{R}^n$); the same "
                          r"identity for Riemann sums on any grid and for probability vectors; checked numerically "
                          r"on random grid densities and probability vectors",
                ),
                claims=("integral", "pointwise", "discrete", "continuous"),
            ),
        ),
        figures=(Figure("overlap", "Two densities and their overlap min(p, q) (shaded): the total variation "
                        "distance is one minus the shaded area", draw_overlap),),
    ),
)
