r"""The log-sum-exp ("true softmax") $\nu_\beta(x) = \frac1\beta\log\sum_i e^{\beta x_i}$: bounds, limit, gradient.

# Main statements

* `lower-bound`, `upper-bound`: $\max_i x_i \le \nu_\beta(x) \le \max_i x_i + \frac{\log n}{\beta}$ for $\beta > 0$.
* `limit`: $\nu_\beta(x) \to \max_i x_i$ as $\beta \to \infty$ (squeeze between the bounds).
* `stable-evaluation`: for every real shift $M$ (in practice $M = \max_i x_i$),
  $\nu_\beta(x) = M + \frac1\beta\log\sum_i e^{\beta(x_i - M)}$: the form every numeric check uses.
* `softmax-gradient`: $\nabla\nu_1 = \mu$, the softmax $\mu_k(x) = e^{x_k}/\sum_j e^{x_j}$.
* `gradient-beta`: $\nabla\nu_\beta(x) = \mu(\beta x)$.
* `gradient-limit`: if $i_{\max}$ is the unique argmax and $\delta > 0$ the gap to the second largest entry,
  $\|\nabla\nu_\beta(x) - e_{i_{\max}}\|_1 \le 2(n-1)e^{-\beta\delta} \to 0$, so $\nabla\nu_\beta(x) \to e_{i_{\max}}$.

# Notation

$M = \max_i x_i$, $d_i = M - x_i \ge 0$; $S = \sum_{i \ne i_{\max}} e^{-\beta d_i}$.

# Implementation notes

* Symbolic: the bounds by facts (factor $e^{\beta M}$ out of the sum; $\log(1 + S) \ge 0$; $e^{-\beta d} \le 1$
  because exp is increasing; $\log$ is increasing); the limit by sympy's `limit` for $\log(n)/\beta$ (general
  $n$, squeeze) and directly for $n = 2$ ($\nu_\beta - x_1 = \log(1 + e^{-\beta\delta})/\beta$); sympy's
  Gruntz algorithm cannot take $n = 3$ with two gaps in reasonable time, so general $n$ rests on the
  squeeze. `stable-evaluation` and both gradient claims are proved for general $n$ with indexed sums
  (the gradient by differentiating the sum, the index $k$ written as $1 + r$, $n = k + s$).
* Numerics use the max-shifted evaluation in every dtype. The naive $\frac1\beta\log\sum_i e^{\beta x_i}$
  overflows once $\beta \max_i x_i$ exceeds $\log$ of the dtype's largest finite value: 11.09 (float16),
  88.72 (float32 and bfloat16), 709.78 (float64); the `stable-evaluation` claim draws $\beta x$ up to ~$10^4$,
  where the naive form (mutant `naive`) is infinite even in float64, and `limit` checks at $\beta = 10^9$.
  The tests show the float16 and float32 thresholds exactly, and the figure `overflow` plots them.
* Gradients come from reverse-mode autograd over the whole batch (`torch.autograd.grad` of the summed
  batch: each instance's gradient is its own row) and are compared with the softmax formula and with
  `torch.softmax`.

# References

* hw7-2024 Problem 1 (a), (b), (c).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
import torch

from checkers import (Answer, Claim, Derivation, Figure, IndexedDerivative, IndexedMax, IndexedMin, Kind, Misconception,
                      Mutant, Part, Positive, Problem, Reference, Symbol, Termwise, Tolerance, Variable, Vector, facts,
                      one_based,
                      running_error)

beta = sp.Symbol("beta", positive=True)
n = sp.Symbol("n", integer=True, positive=True)
j, k = sp.symbols("j k", integer=True)
x = sp.IndexedBase("x", real=True)
M = sp.Symbol("M", real=True)
S = sp.Symbol("S", nonnegative=True)
T = sp.Symbol("T", positive=True)
d = sp.Symbol("d", nonnegative=True)
w = sp.Symbol("w", nonnegative=True)
u = sp.Symbol("u", real=True)
delta = sp.Symbol("delta", positive=True)
x1 = sp.Symbol("x_1", real=True)


def _holds(assumption: bool | None) -> sp.Basic:
    """sympy's verdict from its assumptions system (True, False or None = unknown) as a fact value."""
    return sp.true if assumption is True else sp.false


def nu(scale: sp.Basic = beta) -> sp.Expr:
    """ν_scale(x) = (1/scale) log Σ_{j=1}^n exp(scale x_j)."""
    return sp.log(sp.Sum(sp.exp(scale * x[j]), (j, 1, n))) / scale


def softmax_k(scale: sp.Basic = beta) -> sp.Expr:
    """μ_k(scale x) = exp(scale x_k) / Σ_j exp(scale x_j)."""
    return sp.exp(scale * x[k]) / sp.Sum(sp.exp(scale * x[j]), (j, 1, n))


NU = nu()
SHIFTED = M + sp.log(sp.Sum(sp.exp(beta * (x[j] - M)), (j, 1, n))) / beta


# ---------------------------------------------------------------------------------------------------------------
# Strategy: derivatives of indexed sums


# ---------------------------------------------------------------------------------------------------------------
# Kinds


@dataclass(frozen=True)
class VectorWithGap(Kind):
    """A vector in R^dim with N(0, scale²) entries whose largest entry exceeds the second by a gap in [low, high]."""

    dim: str = "n"
    scale: float = 1.0
    low: float = 0.1
    high: float = 1.0

    @property
    def description(self) -> str:
        return f"vector in R^{self.dim} with a unique argmax, gap in [{self.low}, {self.high}]"

    def draw(self, batch, dims, gen):
        v = self.scale * torch.randn(batch, dims[self.dim], generator=gen, dtype=torch.float64)
        gap = self.low + (self.high - self.low) * torch.rand(batch, generator=gen, dtype=torch.float64)
        if v.shape[-1] > 1:
            top2 = torch.topk(v, 2, dim=-1)
            v.scatter_(-1, top2.indices[:, :1], (top2.values[:, 1] + gap).unsqueeze(-1))
        return v


# ---------------------------------------------------------------------------------------------------------------
# Numeric functions


def _column(b: torch.Tensor | float):
    return b.unsqueeze(-1) if torch.is_tensor(b) else b


def stable_nu(xv: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """ν_β(x) = M + (1/β) log Σ exp(β (x_i − M)), M = max x: no overflow in any dtype (β a tensor or a float)."""
    top = xv.amax(-1, keepdim=True)
    return top.squeeze(-1) + torch.log(torch.exp(_column(b) * (xv - top)).sum(-1)) / b


def naive_nu(xv: torch.Tensor, b: torch.Tensor | float) -> torch.Tensor:
    """(1/β) log Σ exp(β x_i) as written: overflows once β max x > log(finfo(dtype).max)."""
    return torch.log(torch.exp(_column(b) * xv).sum(-1)) / b


def gradient(xv: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """∇_x ν_β(x) by reverse-mode autograd, for the whole batch at once.

    Instances are independent, so the gradient of Σ_instances ν_β(x) with respect to the (B, n) input
    holds each instance's gradient in its own row.
    """
    with torch.enable_grad():
        leaf = xv.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad(stable_nu(leaf, b.detach()).sum(), leaf)
    return grad


def softmax_formula(xv: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """μ(βx)_k = exp(β x_k − β M) / Σ_j exp(β x_j − β M), written out."""
    e = torch.exp(b.unsqueeze(-1) * (xv - xv.amax(-1, keepdim=True)))
    return e / e.sum(-1, keepdim=True)


def longdouble_nu(sample) -> torch.Tensor:
    """The naive formula in numpy's extended precision (x87: largest value ~1.19e4932, so exp(β x) for β x up
    to ~11356 is finite); falls back to an explicit max shift where the platform has no extended type."""
    xv = sample["x"].detach().cpu().numpy().astype(np.longdouble)
    b = sample["beta"].detach().cpu().numpy().astype(np.longdouble)
    scaled = b[:, None] * xv
    if np.log(np.finfo(np.longdouble).max) > float(np.abs(scaled).max()) + 10:
        value = np.log(np.exp(scaled).sum(-1)) / b
    else:  # pragma: no cover - platforms without an extended long double
        top = scaled.max(-1, keepdims=True)
        value = (top[:, 0] + np.log(np.exp(scaled - top).sum(-1))) / b
    return torch.tensor(value.astype(np.float64), dtype=torch.float64, device=sample["x"].device)


def _fast_mutant(id_: str, description: str, numeric, rhs: sp.Basic | None = None) -> Mutant:
    return Mutant(id_, description, rhs=rhs, numeric=numeric)


# ---------------------------------------------------------------------------------------------------------------
# Claims

X_VARIABLE = Variable("x", Vector("n", scale=2.0))
BETA_VARIABLE = Variable("beta", Positive(0.01, 100.0), r"\beta")
ALL_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
BOUND_TOLERANCES = {
    torch.float16: Tolerance(2e-3, 1e-5, "M + log(Σ)/β rounds twice (the quotient, then the sum) on each side of "
                                         "the inequality: 4u, u = 2^-11"),
}

lower_bound = Claim(
    id="lower-bound",
    statement="maxᵢ xᵢ ≤ ν_β(x) for β > 0",
    relation="<=",
    variables=(X_VARIABLE, BETA_VARIABLE),
    dims={"n": (1, 10)},
    symbolic=facts(
        ("Σᵢ exp(βxᵢ) = exp(βM)(1 + S) with S = Σ_{i≠i*} exp(β(xᵢ − M)) ≥ 0, so ν_β − M = log(1 + S)/β",
         lambda: sp.expand_log(sp.log(sp.exp(beta * M) * (1 + S)) / beta - M - sp.log(1 + S) / beta)),
        ("log(1 + S)/β ≥ 0 for S ≥ 0, β > 0", lambda: sp.Ge(sp.log(1 + S) / beta, 0)),
    ),
    numeric=lambda s: (s["x"].amax(-1), stable_nu(s["x"], s["beta"])),
    mutants=(
        _fast_mutant("reversed", "ν_β(x) ≤ max x", lambda s: (stable_nu(s["x"], s["beta"]), s["x"].amax(-1))),
        _fast_mutant("upper-as-lower", "max x + log(n)/β ≤ ν_β(x)",
                     lambda s: (s["x"].amax(-1) + math.log(s["x"].shape[-1]) / s["beta"], stable_nu(s["x"], s["beta"]))),
    ),
    dtypes=ALL_DTYPES,
)

upper_bound = Claim(
    id="upper-bound",
    statement="ν_β(x) ≤ maxᵢ xᵢ + log(n)/β for β > 0",
    relation="<=",
    variables=(X_VARIABLE, BETA_VARIABLE),
    dims={"n": (1, 10)},
    symbolic=facts(
        ("with dᵢ = M − xᵢ ≥ 0, Σᵢ exp(βxᵢ) = exp(βM) T, T = Σᵢ exp(−βdᵢ), so ν_β − M = log(T)/β",
         lambda: sp.expand_log(sp.log(sp.exp(beta * M) * T) / beta - M - sp.log(T) / beta)),
        ("exp is increasing: d/du e^u = e^u > 0", lambda: _holds(sp.exp(u).diff(u).is_positive)),
        ("−βd ≤ 0, so exp(−βdᵢ) ≤ e^0 = 1 and T ≤ n", lambda: _holds((-beta * d).is_nonpositive)),
        ("T ≤ n means n = T(1 + w), w ≥ 0, and (log n − log T)/β = log(1 + w)/β ≥ 0",
         lambda: sp.Ge(sp.expand_log(sp.log(T * (1 + w)) - sp.log(T)) / beta, 0)),
    ),
    numeric=lambda s: (stable_nu(s["x"], s["beta"]), s["x"].amax(-1) + math.log(s["x"].shape[-1]) / s["beta"]),
    mutants=(
        _fast_mutant("no-slack", "ν_β(x) ≤ max x", lambda s: (stable_nu(s["x"], s["beta"]), s["x"].amax(-1))),
        _fast_mutant("one-over-beta", "ν_β(x) ≤ max x + 1/β (log n replaced by 1)",
                     lambda s: (stable_nu(s["x"], s["beta"]), s["x"].amax(-1) + 1 / s["beta"])),
    ),
    tolerances=BOUND_TOLERANCES,
    dtypes=ALL_DTYPES,
)

BIG_BETA = 1e9

limit = Claim(
    id="limit",
    statement="ν_β(x) → maxᵢ xᵢ as β → ∞ (numerically: ν_β at β = 10⁹ equals max x within log(n)/10⁹)",
    variables=(X_VARIABLE,),
    dims={"n": (1, 10)},
    symbolic=facts(
        ("squeeze: 0 ≤ ν_β − max x ≤ log(n)/β (lower-bound, upper-bound) and lim_{β→∞} log(n)/β = 0",
         lambda: sp.limit(sp.log(n) / beta, beta, sp.oo)),
        ("n = 2, x_2 = x₁ − δ, δ > 0: ν_β − x₁ = log(1 + exp(−βδ))/β",
         lambda: sp.expand_log(sp.log(sp.exp(beta * x1) * (1 + sp.exp(-beta * delta))) / beta - x1
                               - sp.log(1 + sp.exp(-beta * delta)) / beta)),
        ("n = 2: lim_{β→∞} log(1 + exp(−βδ))/β = 0", lambda: sp.limit(sp.log(1 + sp.exp(-beta * delta)) / beta, beta, sp.oo)),
        scope="general n (squeeze); directly for n = 2",
    ),
    numeric=lambda s: (stable_nu(s["x"], BIG_BETA), s["x"].amax(-1)),
    mutants=(
        _fast_mutant("naive", "the naive (1/β) log Σ exp(β xᵢ) at β = 10⁹: exp overflows to inf even in float64",
                     lambda s: (naive_nu(s["x"], BIG_BETA), s["x"].amax(-1))),
        _fast_mutant("mean", "ν_β → the mean of x", lambda s: (stable_nu(s["x"], BIG_BETA),
                                                            s["x"].mean(-1))),
        _fast_mutant("log-n", "ν_β → max x + log n (the 1/β lost)",
                     lambda s: (stable_nu(s["x"], BIG_BETA),
                                s["x"].amax(-1) + math.log(s["x"].shape[-1]))),
    ),
    dtypes=ALL_DTYPES,
)


# Gradeable: the limit max_j x_j, 1-based as students write it; the witness is the claim's own computation,
# the stable ν_β at a β so large that ν_β − max x <= log(n)/β is far below the tolerance.
_LIMIT_BETA = 1e12


def _nu_at_large_beta(sample) -> torch.Tensor:
    return stable_nu(sample["x"][:, 1:], torch.full((sample.size,), _LIMIT_BETA, dtype=torch.float64))


GRADEABLE_LIMIT = Problem(
    id="lse-limit", title="Low-temperature limit of log-sum-exp", source="hw7-2024 P1", claim=limit,
    statement=r"Give $\lim_{\beta \to \infty} \nu_\beta(x)$ for $\nu_\beta(x) = \frac1\beta \log \sum_{j=1}^n e^{\beta x_j}$.",
    symbols=(Symbol(x, "x_j", ("x",)), Symbol(n, "n")),
    answer=IndexedMax(x[j], (j, 1, n)), witness=_nu_at_large_beta,
    variables=(Variable("x", one_based(Vector("n", scale=2.0))),), dims={"n": (1, 2, 3, 4, 5)},
    sum_range=(sp.Integer(1), n), instances_per_group=24,
    misconceptions=(
        Misconception("mean", "as β grows the largest term dominates the sum: the limit is the maximum, not the "
                      "mean", sp.Sum(x[j], (j, 1, n)) / n),
        Misconception("log-n", "ν_β − max_j x_j <= log(n)/β, which vanishes: no log n remains in the limit",
                      IndexedMax(x[j], (j, 1, n)) + sp.log(n)),
        Misconception("beta-one", "that is ν_1 = log Σ_j e^{x_j}; the limit β → ∞ is max_j x_j",
                      sp.log(sp.Sum(sp.exp(x[j]), (j, 1, n)))),
    ),
)

def _stable_and_logsumexp(s):
    return stable_nu(s["x"], s["beta"]), torch.logsumexp(s["beta"].unsqueeze(-1) * s["x"], -1) / s["beta"]


def _rounding_model(s):
    """Both sides written out as torch computes them: torch.logsumexp(y) is max y + log Σ exp(y − max y), and its
    two terms can cancel (β x ≈ −0.62, −0.64 gives 0.061), so it is not one rounding of its result."""
    y = s["beta"].unsqueeze(-1) * s["x"]
    top = y.amax(-1)
    return stable_nu(s["x"], s["beta"]), (top + torch.log(torch.exp(y - top.unsqueeze(-1)).sum(-1))) / s["beta"]


stable_evaluation = Claim(
    id="stable-evaluation",
    statement="ν_β(x) = M + (1/β) log Σᵢ exp(β (xᵢ − M)) for every real M; with M = max x nothing overflows",
    lhs=SHIFTED, rhs=NU,
    variables=(Variable("x", Vector("n", scale=30.0)), Variable("beta", Positive(0.01, 30.0), r"\beta")),
    dims={"n": (1, 10)},
    symbolic=Termwise(scope="general n"),
    numeric=_stable_and_logsumexp,
    references=(Reference("long-double", "the naive formula in numpy's 80-bit extended precision (range to 1e4932)",
                          longdouble_nu, side="lhs"),),
    mutants=(
        _fast_mutant("naive", "evaluating (1/β) log Σ exp(β xᵢ) as written: inf once β max x > 709.78 (float64)",
                     lambda s: (stable_nu(s["x"], s["beta"]), naive_nu(s["x"], s["beta"]))),
        _fast_mutant("shift-without-beta", "M + (1/β) log Σ exp(xᵢ − M): the shift not scaled by β",
                     lambda s: (stable_nu(s["x"], s["beta"]),
                                s["x"].amax(-1) + torch.log(torch.exp(s["x"] - s["x"].amax(-1, keepdim=True)).sum(-1))
                                / s["beta"]),
                     rhs=M + sp.log(sp.Sum(sp.exp(x[j] - M), (j, 1, n))) / beta),
    ),
    tolerances={
        torch.float16: Tolerance(1e-3, 1e-5, "the table's float16 allowance plus the running-error bound of each side "
                                             "(every rounding of β x, x − M, exp, Σ, log, /β and + on this instance, "
                                             "torch.logsumexp's inside included)",
                                 rounding=running_error(_rounding_model)),
        torch.bfloat16: Tolerance(1.6e-2, 1e-5, "as for float16 with u = 2^-8",
                                  rounding=running_error(_rounding_model)),
    },
    dtypes=ALL_DTYPES,
)

GRAD_TOLERANCES = {
    torch.float16: Tolerance(2e-3, 2e-3, "each softmax entry μᵢ carries an absolute rounding error of about "
                                         "μᵢ·u·(3 + β|xᵢ − max x|) ≤ 4u (u = 2^-11) from β(x − max), exp and "
                                         "the normalising sum"),
    torch.bfloat16: Tolerance(1.6e-2, 1.6e-2, "as for float16 with u = 2^-8: 4u"),
}

softmax_gradient = Claim(
    id="softmax-gradient",
    statement="∇ν_1(x) = μ(x): ∂ν_1/∂xₖ = exp(xₖ) / Σⱼ exp(xⱼ)",
    lhs=sp.Derivative(nu(sp.Integer(1)), x[k]), rhs=softmax_k(sp.Integer(1)),
    variables=(X_VARIABLE,),
    dims={"n": (1, 10)},
    symbolic=IndexedDerivative(size=n, index=k),
    numeric=lambda s: (gradient(s["x"], torch.ones_like(s["x"][:, 0])),
                       softmax_formula(s["x"], torch.ones_like(s["x"][:, 0]))),
    references=(Reference("torch-softmax", "torch.softmax(x, -1)", lambda s: torch.softmax(s["x"], -1)),),
    mutants=(
        _fast_mutant("unnormalised", "exp(xₖ): the normalising sum forgotten",
                     lambda s: (gradient(s["x"], torch.ones_like(s["x"][:, 0])), torch.exp(s["x"])), rhs=sp.exp(x[k])),
        _fast_mutant("sigmoid", "1/(1 + exp(−xₖ)): the logistic function entrywise",
                     lambda s: (gradient(s["x"], torch.ones_like(s["x"][:, 0])), torch.sigmoid(s["x"])),
                     rhs=1 / (1 + sp.exp(-x[k]))),
    ),
    tolerances=GRAD_TOLERANCES,
    dtypes=ALL_DTYPES,
)


GRADEABLE_SOFTMAX = Problem(
    id="softmax-gradient", title="Gradient of log-sum-exp: the softmax", source="hw7-2024 P1", claim=softmax_gradient,
    statement=r"Give $\partial \nu_1 / \partial x_k$ for $\nu_1(x) = \log \sum_{j=1}^n e^{x_j}$.",
    symbols=(Symbol(x, "x_j", ("x",)), Symbol(k, "k"), Symbol(n, "n")),
    variables=(Variable("x", one_based(Vector("n", scale=2.0))),),  # x[j] is x_j; x_0 is NaN
    dims={"n": (1, 2, 3, 4, 5), "k": (1, 2, 3, 4, 5)}, dims_where=lambda dims: dims["k"] <= dims["n"],
    sum_range=(sp.Integer(1), n), instances_per_group=8,
    misconceptions=(
        Misconception("wrong-component", "the numerator is exp(xₖ), the component you differentiate by",
                      lambda ref: ref.subs(x[k], x[1])),
        Misconception("log-of-softmax", "that is log μₖ; the derivative of log Σ exp(xⱼ) is μₖ itself",
                      lambda ref: sp.log(ref)),
    ),
    mutant_feedback={
        "unnormalised": "the normalising sum is missing: ∂/∂xₖ log Σⱼ exp(xⱼ) = exp(xₖ) / Σⱼ exp(xⱼ)",
        "sigmoid": "that is the logistic function of xₖ; the gradient of log-sum-exp is the softmax "
                   "exp(xₖ) / Σⱼ exp(xⱼ)",
    },
)
GRADEABLE = (GRADEABLE_LIMIT, GRADEABLE_SOFTMAX)

gradient_beta = Claim(
    id="gradient-beta",
    statement="∇ν_β(x) = μ(βx): ∂ν_β/∂xₖ = exp(βxₖ) / Σⱼ exp(βxⱼ)",
    lhs=sp.Derivative(NU, x[k]), rhs=softmax_k(),
    variables=(X_VARIABLE, BETA_VARIABLE),
    dims={"n": (1, 10)},
    symbolic=IndexedDerivative(size=n, index=k),
    numeric=lambda s: (gradient(s["x"], s["beta"]), softmax_formula(s["x"], s["beta"])),
    references=(Reference("torch-softmax", "torch.softmax(β x, -1)",
                          lambda s: torch.softmax(s["beta"].unsqueeze(-1) * s["x"], -1)),),
    mutants=(
        _fast_mutant("chain-rule-factor", "β μ(βx): the inner derivative β not cancelled by the 1/β",
                     lambda s: (gradient(s["x"], s["beta"]), s["beta"].unsqueeze(-1) * softmax_formula(s["x"], s["beta"])),
                     rhs=beta * softmax_k()),
        _fast_mutant("beta-forgotten", "μ(x)", lambda s: (gradient(s["x"], s["beta"]),
                                                          softmax_formula(s["x"], torch.ones_like(s["beta"]))),
                     rhs=softmax_k(sp.Integer(1))),
    ),
    tolerances=GRAD_TOLERANCES,
    dtypes=ALL_DTYPES,
)


GRADEABLE_GRADIENT_BETA = Problem(
    id="lse-gradient-beta", title="Gradient of the scaled log-sum-exp ν_β", source="hw7-2024 P1", claim=gradient_beta,
    statement=r"Give $\partial \nu_\beta / \partial x_k$ for $\nu_\beta(x) = \frac1\beta \log \sum_{j=1}^n e^{\beta x_j}$.",
    symbols=(Symbol(x, "x_j", ("x",)), Symbol(k, "k"), Symbol(n, "n"), Symbol(beta, r"\beta", ("beta", "b"))),
    # β up to 10 with |x_j| of a few units keeps e^{βx_j} far from overflow; x[j] is x_j (x_0 is NaN)
    variables=(Variable("x", one_based(Vector("n", scale=2.0))), Variable("beta", Positive(0.1, 10.0))),
    dims={"n": (1, 2, 3, 4, 5), "k": (1, 2, 3, 4, 5)}, dims_where=lambda dims: dims["k"] <= dims["n"],
    sum_range=(sp.Integer(1), n), instances_per_group=8,
    misconceptions=(
        Misconception("one-over-beta", "the 1/β in front of the log cancels the inner derivative β: no factor "
                      "1/β is left", lambda ref: ref / beta),
    ),
    mutant_feedback={
        "chain-rule-factor": "the inner derivative β of exp(βxₖ) cancels the 1/β in front of the log: the "
                             "gradient is exp(βxₖ) / Σⱼ exp(βxⱼ), without a factor β",
        "beta-forgotten": "that is the gradient of ν_1; with the scale β the softmax is of βx: "
                          "exp(βxₖ) / Σⱼ exp(βxⱼ)",
    },
)
GRADEABLE = (*GRADEABLE, GRADEABLE_GRADIENT_BETA)


def _gap(xv: torch.Tensor) -> torch.Tensor:
    top2 = torch.topk(xv, 2, dim=-1).values
    return top2[:, 0] - top2[:, 1]


def _distance_to_argmax(sample, target=None) -> torch.Tensor:
    g = gradient(sample["x"], sample["beta"])
    index = (sample["x"].argmax(-1) if target is None else target).unsqueeze(-1)
    return (g - torch.zeros_like(g).scatter(-1, index, 1.0)).abs().sum(-1)


def gradient_limit_sides(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """The 1-norm distance of the gradient (by autograd) from the basis vector of the argmax, against 2(n − 1)exp(−βδ)."""
    xv, b = sample["x"], sample["beta"]
    return _distance_to_argmax(sample), 2 * (xv.shape[-1] - 1) * torch.exp(-b * _gap(xv))


gradient_limit = Claim(
    id="gradient-limit",
    statement="unique argmax with gap δ > 0: ‖∇ν_β(x) − e_max‖₁ ≤ 2(n − 1) exp(−βδ) → 0 as β → ∞",
    relation="<=",
    variables=(Variable("x", VectorWithGap("n", low=0.1, high=1.0)), Variable("beta", Positive(1.0, 1000.0), r"\beta")),
    dims={"n": (2, 10)},
    symbolic=facts(
        ("∇ν_β = μ(βx) (gradient-beta); with S = Σ_{i≠i*} exp(−β(M − xᵢ)): μ_{i*} = 1/(1 + S) and "
         "‖μ − e_{i*}‖₁ = (1 − μ_{i*}) + Σ_{i≠i*} μᵢ = 2(1 − μ_{i*}) = 2S/(1 + S)",
         lambda: sp.simplify(2 * (1 - 1 / (1 + S)) - 2 * S / (1 + S))),
        ("2S/(1 + S) ≤ 2S for S ≥ 0", lambda: sp.Ge(sp.factor(2 * S - 2 * S / (1 + S)), 0)),
        ("M − xᵢ ≥ δ and exp is increasing, so every term of S is ≤ exp(−βδ) and S ≤ (n − 1) exp(−βδ)",
         lambda: _holds(sp.exp(u).diff(u).is_positive)),
        ("lim_{β→∞} 2(n − 1) exp(−βδ) = 0 for δ > 0", lambda: sp.limit(2 * (n - 1) * sp.exp(-beta * delta), beta, sp.oo)),
    ),
    numeric=gradient_limit_sides,
    mutants=(
        _fast_mutant("argmin", "∇ν_β → e_min", lambda s: (_distance_to_argmax(s, s["x"].argmin(-1)),
                                                            gradient_limit_sides(s)[1])),
        _fast_mutant("rate-2", "‖∇ν_β − e_max‖₁ ≤ (n − 1) exp(−2βδ): twice the true rate",
                     lambda s: (gradient_limit_sides(s)[0],
                                (s["x"].shape[-1] - 1) * torch.exp(-2 * s["beta"] * _gap(s["x"])))),
        _fast_mutant("uniform", "∇ν_β → (1/n, ..., 1/n)",
                     lambda s: ((gradient(s["x"], s["beta"]) - 1 / s["x"].shape[-1]).abs().sum(-1),
                                gradient_limit_sides(s)[1])),
    ),
    tolerances={
        torch.float16: Tolerance(1e-3, 1e-2, "the 1-norm adds n ≤ 10 softmax entries, each with an absolute "
                                             "rounding error of ~u (u = 2^-11): 2nu"),
        torch.bfloat16: Tolerance(1.6e-2, 8e-2, "as for float16 with u = 2^-8"),
    },
    dtypes=ALL_DTYPES,
)


# Gradeable: the limit of the gradient, the indicator of the (unique) argmax, written 1 − H(max_j x_j − x_k, 0)
# (H(t, 0) = 1 for t > 0, 0 otherwise; printed as 1[max_j x_j <= x_k]). Students write it
# \mathbb{1}[x_k = \max_j x_j] (or \mathbf{1}\{...\}), which the parser reads as the same steps. Witness: the
# softmax μ(βx)_k at β = 10³ on vectors whose largest entry leads by at least 0.1 (e^{−100} from the limit).
def _softmax_at_large_beta(sample) -> torch.Tensor:
    return torch.softmax(1e3 * sample["x"][:, 1:], dim=-1)[:, sample.dims["k"] - 1]


def _indicator_of_max(body):
    return 1 - sp.Heaviside(IndexedMax(x[j], (j, 1, n)) - body, 0)


GRADEABLE_GRADIENT_LIMIT = Problem(
    id="lse-gradient-limit", title="Low-temperature limit of the log-sum-exp gradient", source="hw7-2024 P1",
    claim=gradient_limit,
    statement=r"For $x$ with a unique largest entry, give $\lim_{\beta \to \infty} \partial \nu_\beta / \partial x_k$.",
    symbols=(Symbol(x, "x_j", ("x",)), Symbol(k, "k"), Symbol(n, "n")),
    answer=_indicator_of_max(x[k]), witness=_softmax_at_large_beta,
    variables=(Variable("x", one_based(VectorWithGap("n", low=0.1, high=1.0))),),
    dims={"n": (1, 2, 3, 4, 5), "k": (1, 2, 3, 4, 5)}, dims_where=lambda dims: dims["k"] <= dims["n"],
    sum_range=(sp.Integer(1), n), instances_per_group=8,
    misconceptions=(
        Misconception("uniform", "the softmax concentrates on the largest entry as β grows; it does not spread "
                      "evenly", 1 / n),
        Misconception("softmax-at-one", "that is the gradient at β = 1; as β → ∞ it tends to 1 at the argmax "
                      "and 0 elsewhere", sp.exp(x[k]) / sp.Sum(sp.exp(x[j]), (j, 1, n))),
        Misconception("argmin", "the weight goes to the largest entry, not the smallest",
                      1 - sp.Heaviside(x[k] - IndexedMin(x[j], (j, 1, n)), 0)),
    ),
)
GRADEABLE = (*GRADEABLE, GRADEABLE_GRADIENT_LIMIT)


# ---------------------------------------------------------------------------------------------------------------
# Figures


def draw_limit(ax) -> None:
    """ν_β(x) against β for one x, squeezed between max x and max x + log(n)/β."""
    xv = torch.tensor([[1.0, 0.7, 0.2, -0.5]], dtype=torch.float64)
    betas = torch.logspace(-1, 2, 200, dtype=torch.float64)
    values = torch.stack([stable_nu(xv, b.reshape(1))[0] for b in betas])
    top, size = float(xv.max()), xv.shape[-1]
    ax.semilogx(betas, values, label=r"$\nu_\beta(x)$")
    ax.semilogx(betas, top + math.log(size) / betas, "--", label=r"$\max x + \log(n)/\beta$")
    ax.axhline(top, color="k", lw=0.8, label=r"$\max x$")
    ax.set_ylim(top - 0.5, top + 3)
    ax.set_xlabel(r"$\beta$")
    ax.set_title("x = (1.0, 0.7, 0.2, -0.5)")
    ax.legend()


def draw_overflow(ax) -> None:
    """Relative error of the naive and the max-shifted evaluation per dtype as β max x grows."""
    xv = torch.tensor([1.0, 0.5, -0.3], dtype=torch.float64)
    betas = torch.logspace(0, 3.2, 400, dtype=torch.float64)
    exact = torch.stack([stable_nu(xv.unsqueeze(0), b.reshape(1))[0] for b in betas])
    for dtype in (torch.float16, torch.float32, torch.float64):
        for name, fn, style in (("naive", naive_nu, "-"), ("shifted", stable_nu, ":")):
            got = torch.stack([fn(xv.to(dtype).unsqueeze(0), b.to(dtype).reshape(1))[0] for b in betas]).double()
            err = ((got - exact).abs() / exact.abs()).nan_to_num(nan=1e3, posinf=1e3).clamp(1e-17, 1e3)
            ax.loglog(betas, err, style, label=f"{name}, {str(dtype).removeprefix('torch.')}")
        ax.axvline(math.log(torch.finfo(dtype).max), color="grey", lw=0.6)
    ax.set_xlabel(r"$\beta \max x$ (grey: $\log$ of the largest finite value: 11.09, 88.72, 709.78)")
    ax.set_ylabel("relative error (1e3 = inf)")
    ax.legend(fontsize="small")


DERIVATIONS = (
    Derivation(
        id="log-sum-exp",
        title="Log-sum-exp: bounds, low-temperature limit, softmax gradient",
        source="hw7-2024 P1",
        statement=r"For $\nu_\beta(x) = \frac1\beta\log\sum_{i=1}^n\exp(\beta x_i)$ show (a) $\nu_\beta(x) \to "
                  r"\max_i x_i$ as $\beta\to\infty$; (b) $\nabla\nu_1 = \mu$, the softmax; (c) if $i_{\max} = "
                  r"\operatorname{argmax}_i x_i$ is unique, $\nabla\nu_\beta(x) \to e_{i_{\max}}$ as $\beta\to\infty$.",
        claims=(lower_bound, upper_bound, limit, stable_evaluation, softmax_gradient, gradient_beta, gradient_limit),
        parts=(
            Part(label="(a)", question=r"Show that $\nu_\beta(x) \to \max\{x_1, \dots, x_n\}$ as $\beta \to \infty$.",
                 answer=Answer(
                     text=r"$\lim_{\beta\to\infty} \nu_\beta(x) = \max_i x_i$, because "
                          r"$\max_i x_i \le \nu_\beta(x) \le \max_i x_i + \frac{\log n}{\beta}$ for every $\beta > 0$: "
                          r"with $M = \max_i x_i$, $\sum_i e^{\beta x_i} = e^{\beta M} \sum_i e^{-\beta (M - x_i)}$, and "
                          r"the last sum lies between 1 (the term $i = i_{\max}$) and $n$ (every term is at most 1).",
                     scope=r"The lemmas are proved by sympy for every $n$ (the factorisation, $\log(1 + S) \ge 0$, "
                           r"$e^{-\beta d} \le 1$, $\lim_{\beta\to\infty} \log(n)/\beta = 0$), and the limit directly "
                           r"for $n = 2$; the squeeze that combines them is the argument above, not a sympy proof. "
                           r"Checked numerically for $n \le 10$, up to $\beta = 10^9$."),
                 claims=("lower-bound", "upper-bound", "limit", "stable-evaluation")),
            Part(label="(b)", question=r"Show that $\nabla \nu_1 = \mu$, where $\mu$ is the softmax function.",
                 answer=Answer(
                     formula=softmax_gradient.rhs, lhs=softmax_gradient.lhs,
                     text=r"for $k = 1, \dots, n$: the derivative of $\log s$ is $1/s$, and that of "
                          r"$\sum_j e^{x_j}$ by $x_k$ is $e^{x_k}$, so $\partial\nu_1/\partial x_k = \mu_k(x)$, that is "
                          r"$\nabla\nu_1 = \mu$."),
                 claims=("softmax-gradient",)),
            Part(label="(c)", question=r"If $i_{\max} = \operatorname{argmax}_{1 \le i \le n} x_i$ is uniquely defined, "
                                       r"show that $\nabla \nu_\beta(x) \to e_{i_{\max}}$ as $\beta \to \infty$.",
                 answer=Answer(
                     text=r"$\nabla\nu_\beta(x) = \mu(\beta x)$, and with $\delta > 0$ the gap between the largest "
                          r"and the second largest entry of $x$, $\|\nabla\nu_\beta(x) - e_{i_{\max}}\|_1 \le "
                          r"2(n-1)e^{-\beta\delta} \to 0$: every entry $\mu_i(\beta x) = e^{-\beta(M - x_i)}/"
                          r"\sum_j e^{-\beta(M - x_j)}$ with $i \ne i_{\max}$ is at most $e^{-\beta\delta}$, and "
                          r"$\mu_{i_{\max}}(\beta x) = 1 - \sum_{i \ne i_{\max}} \mu_i(\beta x)$.",
                     scope=r"$\nabla\nu_\beta(x) = \mu(\beta x)$ is proved by sympy for every $n$; the bound rests on "
                           r"lemmas sympy proves (the 1-norm as $2S/(1+S)$, each term of $S$ at most "
                           r"$e^{-\beta\delta}$), combined as above, and is checked numerically for $n \le 10$."),
                 claims=("gradient-beta", "gradient-limit")),
        ),
        figures=(Figure("limit", "The log-sum-exp ν approaches max x from above as β grows, staying below "
                        "max x + log(n)/β", draw_limit),
                 Figure("overflow", "Naive log-sum-exp overflows at β·max x = log(largest finite value) of each "
                        "dtype; the max-shifted form does not", draw_overflow)),
    ),
)
