r"""The HINT flow of the final exam: its inverse, its lower-triangular Jacobian and its log-determinant.

# Main statements

For $n = 2^K$ the flow is $f_\theta = h_K$ with, for $k = K, \dots, 1$ and $m = 2^{k-1}$,
$h_k(x) = \big[h_{k-1}(x_{1:m});\ e^{s_{k-1}(x_{1:m})} \odot x_{m+1:2m} + t_{k-1}(x_{1:m})\big]$
and a one-dimensional flow $h_0$.

* `inverse-of-forward`, `forward-of-inverse`: the algorithm $x_1 = h_0^{-1}(z_1)$, then for
  $k = 1, \dots, K$: $x_{m+1:2m} = e^{-s_{k-1}(x_{1:m})} \odot (z_{m+1:2m} - t_{k-1}(x_{1:m}))$, inverts
  $f_\theta$ (bottom-up: the conditioner needs the *recovered* $x_{1:m}$, not $z_{1:m}$).
* `jacobian-structure`: $\partial f_\theta/\partial x$ is lower triangular with diagonal
  $\big(h_0'(x_1),\ e^{s_0(x_1)},\ e^{s_1(x_{1:2})},\ \dots,\ e^{s_{K-1}(x_{1:2^{K-1}})}\big)$.
* `log-det`: $\log\left|\det \frac{\partial f_\theta}{\partial x}(x)\right|
  = \log|h_0'(x_1)| + \sum_{k=1}^{K} \mathbf{1}^\top s_{k-1}(x_{1:2^{k-1}})$.

* `log-det-induction-step`: for every $m = 2^{k-1}$, if $J_{k-1} = \partial h_{k-1}/\partial x_{1:m}$ is lower
  triangular then $\partial h_k/\partial x = [J_{k-1}, 0; C, \mathrm{diag}(e^{s_{k-1}})]$ is lower triangular and
  $\log|\det \partial h_k/\partial x| = \log|\det J_{k-1}| + \mathbf{1}^\top s_{k-1}$: with the base case
  $\log|h_0'(x_1)|$ this proves `log-det` for every $K$ by induction.

# Notation

$s_{k-1}, t_{k-1} \colon \mathbb{R}^{2^{k-1}} \to \mathbb{R}^{2^{k-1}}$ share one hidden layer:
$u \mapsto \tanh(W u + b)$, then $s = \tanh(W_s u' + b_s)$ and $t = W_t u' + b_t$. The 1-D flow is
$h_0(u) = a \sinh u + c$ with $a \ne 0$ of either sign, so $h_0^{-1}(v) = \operatorname{asinh}((v - c)/a)$
and $h_0'(u) = a \cosh u$. Every instance has its own random networks (the `theta` variable, one flat
parameter vector per instance); all networks are evaluated batched over instances.

# Implementation notes

* Symbolic (sympy), for $K \in \{1, 2, 3, 4\}$ with *undefined* functions $s_{k-1,i}$, $t_{k-1,i}$ of all
  $2^{k-1}$ conditioning coordinates and an undefined $h_0$: the Jacobian's strict upper triangle is
  identically 0 and its diagonal is as stated; $\det = h_0'(x_1)\exp(\sum s)$; and the inverse algorithm
  applied to $f_\theta(x)$ returns $x$ given only $h_0^{-1}(h_0(u)) = u$. The networks are arbitrary in
  these proofs, so they cover every choice of $s, t$, not just the ones drawn numerically. These are
  lemmas about a sympy model of the flow: the claims themselves compare the torch implementation
  (its inverse, its Jacobian, its `log_det`) with autograd, so their symbolic status is "supported by
  lemmas", not "proved" — a wrong formula in the torch code is caught by the numeric check and the
  mutants, not by sympy.
* `inverse-induction-step`: the inverse's step, coordinatewise, $x_{m+i} = e^{-s_i}(z_{m+i} - t_i)$ for
  $z_{m+i} = e^{s_i}x_{m+i} + t_i$, proved by sympy in general: with the base case $h_0^{-1}(h_0(x_1)) = x_1$
  the inverse algorithm is correct for every $K$.
* The induction step is proved for general $m$: sympy's block determinant
  $\det[A, 0; C, D] = \det A \det D$ (A invertible), $\log\prod_i e^{s_i} = \sum_i s_i$, and the derivative of a
  coupling entry $e^{s_i}x_{m+i} + t_i$ with respect to $x_{m+j}$; numerically on random lower-triangular
  $J_{k-1}$ (both determinant signs), $m = 1..8$.
* Numeric: for K = 1..4 on random networks and inputs, against the Jacobian from
  `torch.func.jacrev` (vmapped over instances) and, as an independent reference, from
  `torch.autograd.functional.jacobian`. Half of the instances have $a < 0$, so a log-determinant
  without the absolute value is caught. float16: the Jacobian structure is checked at the table's
  tolerance; the round trips with a tolerance of about 20 unit roundoffs (stated next to the claims);
  the log-determinant is skipped, as torch has no half `slogdet` on the CPU.

# References

* final-2022 Problem 2 (HINT flow): (a) the inverse, (b) the log-determinant via the lower-triangular
  Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch

from checkers import (Answer, Claim, Derivation, Kind, Matrix, Misconception, Mutant, OneOf, Part, Problem, Real,
                      Reference, Symbol, Tolerance, Variable, Vector, facts, identity, one_based,
                      running_error)

HIDDEN = 6
DIMS = {"K": (1, 4)}


def _level_sizes(level: int) -> tuple[int, ...]:
    """Sizes of W, b, W_s, b_s, W_t, b_t of the coupling at `level` (input width m = 2^level)."""
    m = 2 ** level
    return (HIDDEN * m, HIDDEN, m * HIDDEN, m, m * HIDDEN, m)


def parameter_count(depth: int) -> int:
    """Number of parameters of a depth-K HINT flow: a, c of h_0, then the couplings of levels 0..K-1."""
    return 2 + sum(sum(_level_sizes(level)) for level in range(depth))


@dataclass(frozen=True)
class FlowInput(Kind):
    """A point of R^(2^K): iid N(0, 1) entries."""

    depth: str = "K"

    @property
    def description(self) -> str:
        return f"point of ℝⁿ, n = 2^{self.depth}"

    def draw(self, batch, dims, gen):
        return torch.randn(batch, 2 ** dims[self.depth], generator=gen, dtype=torch.float64)


@dataclass(frozen=True)
class FlowParameters(Kind):
    """The flat parameter vector of one random HINT flow of depth K.

    a = ±e^u with u uniform on [-0.5, 0.5] (even instances negative), c ~ N(0, 1); weights N(0, 1/fan_in),
    biases N(0, 1/4).
    """

    depth: str = "K"

    @property
    def description(self) -> str:
        return f"parameters of a random depth-{self.depth} HINT flow (hidden width {HIDDEN})"

    def draw(self, batch, dims, gen):
        depth = dims[self.depth]
        a = torch.exp(torch.rand(batch, generator=gen, dtype=torch.float64) - 0.5)
        a = torch.where(torch.arange(batch) % 2 == 0, -a, a)
        c = torch.randn(batch, generator=gen, dtype=torch.float64)
        parts = [a[:, None], c[:, None]]
        for level in range(depth):
            m = 2 ** level
            scales = (m ** -0.5, 0.5, HIDDEN ** -0.5, 0.5, HIDDEN ** -0.5, 0.5)
            for size, scale in zip(_level_sizes(level), scales):
                parts.append(scale * torch.randn(batch, size, generator=gen, dtype=torch.float64))
        return torch.cat(parts, dim=1)


VARIABLES = (Variable("x", FlowInput("K")), Variable("theta", FlowParameters("K"), latex=r"\theta"))


class Flow:
    """A batch of HINT flows, one per row of `theta` (leading dims of x and theta must agree)."""

    def __init__(self, theta: torch.Tensor, depth: int):
        self.depth = depth
        self.a, self.c = theta[..., 0:1], theta[..., 1:2]
        self.levels = []
        offset = 2
        for level in range(depth):
            m = 2 ** level
            chunks = []
            for size in _level_sizes(level):
                chunks.append(theta[..., offset:offset + size])
                offset += size
            w, b, ws, bs, wt, bt = chunks
            lead = theta.shape[:-1]
            self.levels.append((w.reshape(*lead, HIDDEN, m), b, ws.reshape(*lead, m, HIDDEN), bs,
                                wt.reshape(*lead, m, HIDDEN), bt))

    def st(self, level: int, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(s_level(u), t_level(u)) for u in R^(2^level)."""
        w, b, ws, bs, wt, bt = self.levels[level]
        hidden = torch.tanh(torch.einsum("...hm,...m->...h", w, u) + b)
        s = torch.tanh(torch.einsum("...mh,...h->...m", ws, hidden) + bs)
        t = torch.einsum("...mh,...h->...m", wt, hidden) + bt
        return s, t

    def h0(self, u):
        return self.a * torch.sinh(u) + self.c

    def h0_inverse(self, v):
        return torch.asinh((v - self.c) / self.a)

    def h(self, k: int, x: torch.Tensor) -> torch.Tensor:
        """h_k(x) for x in R^(2^k), by the exam's recursion."""
        if k == 0:
            return self.h0(x)
        m = 2 ** (k - 1)
        x1, x2 = x[..., :m], x[..., m:]
        s, t = self.st(k - 1, x1)
        return torch.cat((self.h(k - 1, x1), torch.exp(s) * x2 + t), dim=-1)

    def forward(self, x):
        return self.h(self.depth, x)

    def inverse(self, z, conditioner_on_z: bool = False, sign: float = -1.0):
        """x = f^{-1}(z), bottom-up; the flags build the wrong variants used as mutants."""
        x = self.h0_inverse(z[..., :1])
        for level in range(self.depth):
            m = 2 ** level
            s, t = self.st(level, z[..., :m] if conditioner_on_z else x)
            x = torch.cat((x, torch.exp(sign * s) * (z[..., m:2 * m] - t)), dim=-1)
        return x

    def diagonal(self, x, sign: float = 1.0):
        """The Jacobian diagonal by the formula: h_0'(x_1), then e^{s_{k-1}(x_{1:2^{k-1}})} for k = 1..K."""
        parts = [self.a * torch.cosh(x[..., :1])]
        for level in range(self.depth):
            s, _ = self.st(level, x[..., :2 ** level])
            parts.append(torch.exp(sign * s))
        return torch.cat(parts, dim=-1)

    def log_det(self, x, absolute: bool = True, with_h0: bool = True, levels: range | None = None):
        """log|h_0'(x_1)| + Σ_k 1ᵀ s_{k-1}(x_{1:2^{k-1}}); the keywords build the wrong variants."""
        h0_prime = self.a[..., 0] * torch.cosh(x[..., 0])
        out = (torch.log(h0_prime.abs()) if absolute else torch.log(h0_prime)) if with_h0 else torch.zeros_like(x[..., 0])
        for level in (range(self.depth) if levels is None else levels):
            s, _ = self.st(level, x[..., :2 ** level])
            out = out + s.sum(-1)
        return out


def flow_of(sample) -> Flow:
    return Flow(sample["theta"], sample.dims["K"])


def hint_inverse(z, K, s, t, h0_inverse):
    """x = f_θ⁻¹(z) for z of shape (..., 2**K), given s(k, u) = s_{k,θ}(u), t(k, u) = t_{k,θ}(u) and h₀⁻¹."""
    x = h0_inverse(z[..., :1])
    for k in range(1, K + 1):
        m = 2 ** (k - 1)
        # the conditioner is evaluated at the already recovered first half x_{1:m}, not at z_{1:m}
        x = torch.cat((x, torch.exp(-s(k - 1, x)) * (z[..., m:2 * m] - t(k - 1, x))), dim=-1)
    return x


def hint_log_det(x, K, s, h0_prime):
    """log|det ∂f_θ/∂x(x)| = log|h₀'(x₁)| + Σ_{k=1}^{K} (sum of the entries of s_{k-1,θ}(x_{1:2^{k-1}}))."""
    total = torch.log(torch.abs(h0_prime(x[..., 0])))
    for k in range(1, K + 1):
        total = total + s(k - 1, x[..., :2 ** (k - 1)]).sum(-1)
    return total


def _exam_callables(flow: Flow):
    """The functions the exam lets us evaluate, for this batch of test flows: s(k, u), t(k, u), h₀⁻¹, h₀'."""
    return (lambda k, u: flow.st(k, u)[0], lambda k, u: flow.st(k, u)[1], flow.h0_inverse,
            lambda u: flow.a[..., 0] * torch.cosh(u))


def _hint_inverse(flow: Flow, z: torch.Tensor) -> torch.Tensor:
    s, t, h0_inverse, _ = _exam_callables(flow)
    return hint_inverse(z, flow.depth, s, t, h0_inverse)


def _hint_log_det(flow: Flow, x: torch.Tensor) -> torch.Tensor:
    s, _, _, h0_prime = _exam_callables(flow)
    return hint_log_det(x, flow.depth, s, h0_prime)


def jacobian_jacrev(sample, flow_cls=Flow) -> torch.Tensor:
    """∂f/∂x per instance from torch.func.jacrev, vmapped over the batch."""
    depth = sample.dims["K"]

    def single(x, theta):
        return flow_cls(theta, depth).forward(x)

    return torch.vmap(torch.func.jacrev(single, argnums=0))(sample["x"], sample["theta"])


def jacobian_autograd_functional(sample) -> torch.Tensor:
    """∂f/∂x per instance from torch.autograd.functional.jacobian of the batch-summed outputs."""
    flow = flow_of(sample)
    jac = torch.autograd.functional.jacobian(lambda x: flow.forward(x).sum(0), sample["x"], vectorize=True)
    return jac.permute(1, 0, 2)  # (n, B, n) -> (B, n, n): instances are independent


# --- (a) inverse ---------------------------------------------------------------------------------------------------

def round_trip(sample, **wrong):
    """(f_θ⁻¹(f_θ(x)) by the inverse algorithm, x)."""
    flow = flow_of(sample)
    z = flow.forward(sample["x"])
    return (flow.inverse(z, **wrong) if wrong else _hint_inverse(flow, z)), sample["x"]


def round_trip_reversed(sample, **wrong):
    """(f_θ(f_θ⁻¹(z)) by the inverse algorithm, z)."""
    flow = flow_of(sample)
    z = sample["x"]  # any point of R^n is in the range of f
    return flow.forward(flow.inverse(z, **wrong) if wrong else _hint_inverse(flow, z)), z


def _symbolic_flow(depth: int):
    """f_θ(x) for K = depth with undefined s_{k-1,i}, t_{k-1,i} (functions of all of x_{1:2^{k-1}}) and h_0."""
    n = 2 ** depth
    x = sp.symbols(f"x1:{n + 1}", real=True)
    h0 = sp.Function("h0")

    def st(level, args):
        m = 2 ** level
        return ([sp.Function(f"s{level}_{i}")(*args) for i in range(m)],
                [sp.Function(f"t{level}_{i}")(*args) for i in range(m)])

    def h(k, xs):
        if k == 0:
            return [h0(xs[0])]
        m = 2 ** (k - 1)
        s, t = st(k - 1, xs[:m])
        return h(k - 1, xs[:m]) + [sp.exp(s[i]) * xs[m + i] + t[i] for i in range(m)]

    return x, sp.Matrix(h(depth, list(x))), st, h0


def _inverse_fact(depth: int):
    def fact():
        x, f, st, h0 = _symbolic_flow(depth)
        h0_inverse = sp.Function("h0inv")
        z = list(f)
        rec = [h0_inverse(z[0]).subs(h0_inverse(h0(x[0])), x[0])]  # h_0 is a 1-D flow: h_0^{-1}(h_0(u)) = u
        for level in range(depth):
            m = 2 ** level
            s, t = st(level, rec[:m])
            rec += [sp.exp(-s[i]) * (z[m + i] - t[i]) for i in range(m)]
        return sp.Matrix([sp.simplify(r - xi) for r, xi in zip(rec, x)])
    return fact


def _forward_of_inverse_fact(depth: int):
    def fact():
        n = 2 ** depth
        z = sp.symbols(f"z1:{n + 1}", real=True)
        x, f, st, h0 = _symbolic_flow(depth)
        h0_inverse = sp.Function("h0inv")
        rec = [h0_inverse(z[0])]
        for level in range(depth):
            m = 2 ** level
            s, t = st(level, rec[:m])
            rec += [sp.exp(-s[i]) * (z[m + i] - t[i]) for i in range(m)]
        image = f.subs(dict(zip(x, rec)), simultaneous=True)
        image = image.subs(h0(h0_inverse(z[0])), z[0])  # h_0 is a 1-D flow: h_0(h_0^{-1}(v)) = v
        return sp.Matrix([sp.simplify(i - zi) for i, zi in zip(image, z)])
    return fact


def _structure_fact(depth: int):
    def fact():
        x, f, st, h0 = _symbolic_flow(depth)
        jac = f.jacobian(x)
        expected = [sp.diff(h0(x[0]), x[0])]
        for level in range(depth):
            s, _ = st(level, x[:2 ** level])
            expected += [sp.exp(si) for si in s]
        upper = [jac[i, j] for i in range(jac.rows) for j in range(i + 1, jac.cols)]
        return sp.Matrix(upper + [jac[i, i] - expected[i] for i in range(jac.rows)])
    return fact


def _det_fact(depth: int):
    def fact():
        x, f, st, h0 = _symbolic_flow(depth)
        total = sum(si for level in range(depth) for si in st(level, x[:2 ** level])[0])
        return f.jacobian(x).det() - sp.diff(h0(x[0]), x[0]) * sp.exp(total)
    return fact


def _matrix_is_zero(thunk):
    """Turn a thunk returning a sympy Matrix into one returning True when every entry is exactly 0."""
    def fact():
        m = thunk()
        return sp.true if all(sp.simplify(entry) == 0 for entry in m) else sp.false
    return fact


SCOPE = "K ∈ {1, 2, 3, 4}, arbitrary s, t, h₀"


def for_each_depth(what: str, make) -> tuple:
    """The facts `make(K)` for K = 1..4, the sentence `what` written once (the same statement for every K)."""
    return tuple((f"K = 1: {what}" if depth == 1 else f"K = {depth}: the same", make(depth)) for depth in (1, 2, 3, 4))
HALF_ROUND_TRIP = Tolerance(1e-2, 1e-2, "float16 round trip (u = 4.9e-4) through 2K + 1 exp/sinh/asinh evaluations "
                                        "of values up to |z| ≈ 10, each error amplified by up to exp(|s|) ≤ e: ≈ 20u")

inverse_of_forward = Claim(
    id="inverse-of-forward",
    statement=r"$f_\theta^{-1}(f_\theta(x)) = x$, with $f_\theta^{-1}$ computed bottom-up: "
              r"$x_1 = h_0^{-1}(z_1)$, then for $k = 1, \dots, K$ and $m = 2^{k-1}$: "
              r"$x_{m+1:2m} = e^{-s_{k-1}(x_{1:m})} \odot (z_{m+1:2m} - t_{k-1}(x_{1:m}))$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=round_trip,
    symbolic=facts(*for_each_depth("inverse(f(x)) − x simplifies to 0 (undefined s, t; h₀⁻¹∘h₀ = id)",
                                    lambda k: _matrix_is_zero(_inverse_fact(k))), scope=SCOPE),
    mutants=(
        Mutant("conditioner-on-z", "conditions s, t on the first half of z (the output hₖ₋₁) instead of the "
                                   "recovered first half of x",
               numeric=lambda s: round_trip(s, conditioner_on_z=True)),
        Mutant("exp-plus-s", "multiplies by exp(s) instead of dividing by it",
               numeric=lambda s: round_trip(s, sign=1.0)),
    ),
    tolerances={torch.float16: HALF_ROUND_TRIP},
    dtypes=(torch.float64, torch.float32, torch.float16),
    instances=400,
)

forward_of_inverse = Claim(
    id="forward-of-inverse",
    statement=r"$f_\theta(f_\theta^{-1}(z)) = z$ for every $z \in \mathbb{R}^n$ ($f_\theta$ is onto: $h_0$ and "
              r"every coupling are bijections)",
    variables=VARIABLES,
    dims=DIMS,
    numeric=round_trip_reversed,
    symbolic=facts(*for_each_depth("f(inverse(z)) − z simplifies to 0 (undefined s, t; h₀∘h₀⁻¹ = id)",
                                    lambda k: _matrix_is_zero(_forward_of_inverse_fact(k))), scope=SCOPE),
    mutants=(
        Mutant("conditioner-on-z", "conditions s, t on the first half of z instead of the recovered first half of x",
               numeric=lambda s: round_trip_reversed(s, conditioner_on_z=True)),
    ),
    tolerances={torch.float16: HALF_ROUND_TRIP},
    dtypes=(torch.float64, torch.float32, torch.float16),
    instances=400,
)


# --- (b) Jacobian structure and log-determinant ---------------------------------------------------------------------

def structure(sample, flow_cls=Flow, sign: float = 1.0):
    """(upper triangle incl. diagonal of the autograd Jacobian, diag of the formula as a matrix)."""
    jac = jacobian_jacrev(sample, flow_cls)
    return torch.triu(jac), torch.diag_embed(flow_of(sample).diagonal(sample["x"], sign=sign))


class ReversedFlow(Flow):
    """The wrong orientation: the first half is conditioned on the second (upper-triangular Jacobian)."""

    def h(self, k, x):
        if k == 0:
            return self.h0(x)
        m = 2 ** (k - 1)
        x1, x2 = x[..., :m], x[..., m:]
        s, t = self.st(k - 1, x2)
        return torch.cat((torch.exp(s) * x1 + t, self.h(k - 1, x2)), dim=-1)


def _diagonal_rounding_model(sample):
    """The diagonal computed as the formula computes it, on both sides (the rest of the upper triangle is exact 0)."""
    diagonal = torch.diag_embed(flow_of(sample).diagonal(sample["x"]))
    return diagonal, diagonal


jacobian_structure = Claim(
    id="jacobian-structure",
    statement=r"$\frac{\partial f_\theta}{\partial x}$ is lower triangular with diagonal "
              r"$(h_0'(x_1), e^{s_0(x_1)}, e^{s_1(x_{1:2})}, \dots, e^{s_{K-1}(x_{1:2^{K-1}})})$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=structure,
    symbolic=facts(*for_each_depth("every entry above the diagonal of the sympy Jacobian is 0 and the diagonal is as "
                                    "stated", lambda k: _matrix_is_zero(_structure_fact(k))), scope=SCOPE),
    references=(Reference("autograd-functional", "upper triangle of torch.autograd.functional.jacobian",
                          lambda s: torch.triu(jacobian_autograd_functional(s)), side="lhs"),),
    mutants=(
        Mutant("reversed-coupling", "conditioning the first half on the second half (upper-triangular Jacobian)",
               numeric=lambda s: structure(s, flow_cls=ReversedFlow)),
        Mutant("exp-minus-s", "diagonal exp(−s) (the inverse's factors) instead of exp(s)",
               numeric=lambda s: structure(s, sign=-1.0)),
    ),
    tolerances={torch.float16: Tolerance(1e-3, 1e-5, "the table's float16 allowance plus the running-error bound of "
                                                     "the diagonal on this instance: autograd's diagonal entries are the "
                                                     "forward values a·cosh x₁ and exp(s) (s through two tanh layers of "
                                                     "width ≤ 8), so the formula's roundings bound theirs",
                                         rounding=running_error(_diagonal_rounding_model))},
    dtypes=(torch.float64, torch.float32, torch.float16),
    instances=400,
)


def log_det(sample, **wrong):
    """(log|det| of the jacrev Jacobian, the recursive formula)."""
    _, logabs = torch.linalg.slogdet(jacobian_jacrev(sample))
    flow = flow_of(sample)
    return logabs, (flow.log_det(sample["x"], **wrong) if wrong else _hint_log_det(flow, sample["x"]))


log_det_claim = Claim(
    id="log-det",
    statement=r"$\log|\det \frac{\partial f_\theta}{\partial x}(x)| = \log|h_0'(x_1)| + \sum_{k=1}^{K} "
              r"\mathbf{1}^\top s_{k-1}(x_{1:2^{k-1}})$: the matrix is lower triangular, so its log-determinant is "
              r"the sum of the logs of its diagonal",
    variables=VARIABLES,
    dims=DIMS,
    numeric=log_det,
    symbolic=facts(*for_each_depth("det ∂f/∂x − h₀'(x₁)·exp(Σ s) simplifies to 0 (and exp > 0, so "
                                    "log|det| = log|h₀'| + Σ s)", _det_fact), scope=SCOPE),
    references=(Reference("autograd-functional", "log|det| of torch.autograd.functional.jacobian (slogdet)",
                          lambda s: torch.linalg.slogdet(jacobian_autograd_functional(s))[1], side="lhs"),),
    mutants=(
        Mutant("no-abs", "log h₀'(x₁) without the absolute value (NaN for a < 0)",
               numeric=lambda s: log_det(s, absolute=False)),
        Mutant("no-h0", "drops the 1-D flow's log|h₀'(x₁)|", numeric=lambda s: log_det(s, with_h0=False)),
        Mutant("top-coupling-only", "only the outermost coupling's sₖ₋₁ with k = K, forgetting the recursion",
               numeric=lambda s: log_det(s, levels=range(s.dims["K"] - 1, s.dims["K"]))),
    ),
    dtypes=(torch.float64, torch.float32, torch.float16),
    instances=400,
)


# Gradeable: the log-determinant written with d_0 = h_0'(x_1) and S_k = 1ᵀ s_{k−1}(x_{1:2^{k−1}}), the sum of
# the k-th coupling's log-scales. Witness: slogdet of a random lower-triangular matrix with that diagonal
# (d_0, then for each k, 2^{k−1} entries e^{s_i} whose s_i sum to S_k), the structure `jacobian-structure` proves.
_K = sp.Symbol("K", integer=True, positive=True)
_k = sp.Symbol("k", integer=True, positive=True)
_d0 = sp.Symbol("d_0", real=True)
_S = sp.IndexedBase("S", real=True)
_LOG_DET = sp.log(sp.Abs(_d0)) + sp.Sum(_S[_k], (_k, 1, _K))


def _triangular_log_det(sample) -> torch.Tensor:
    gen, depth = sample.generator(7), sample.dims["K"]
    diagonal = [sample["d_0"].unsqueeze(1)]
    for k in range(1, depth + 1):
        width = 2 ** (k - 1)
        noise = torch.randn(sample.size, width, generator=gen, dtype=torch.float64)
        scales = sample["S"][:, k:k + 1] / width + noise - noise.mean(dim=1, keepdim=True)  # sums to S_k
        diagonal.append(torch.exp(scales))
    diag = torch.cat(diagonal, dim=1)
    size = diag.shape[1]
    lower = torch.tril(torch.randn(sample.size, size, size, generator=gen, dtype=torch.float64), diagonal=-1)
    return torch.linalg.slogdet(lower + torch.diag_embed(diag))[1]


GRADEABLE = (
    Problem(
        id="hint-log-det", title="HINT flow: the log-determinant of the Jacobian", source="final-2022 P2",
        claim=log_det_claim,
        statement=r"With $d_0 = h_0'(x_1)$ and $S_k = \mathbf{1}^\top s_{k-1}(x_{1:2^{k-1}})$, give "
                  r"$\log\left|\det \frac{\partial f_\theta}{\partial x}(x)\right|$ for the depth-$K$ HINT flow.",
        symbols=(Symbol(_d0, "d_0", ("d0", "h_0'(x_1)")), Symbol(_S, "S_k", ("S",)), Symbol(_K, "K")),
        answer=_LOG_DET, witness=_triangular_log_det,
        variables=(Variable("d_0", OneOf((Real(0.2, 3.0), Real(-3.0, -0.2)))), Variable("S", one_based(Vector("K")))),
        dims={"K": (1, 2, 3, 4)}, sum_range=(sp.Integer(1), _K),
        misconceptions=(
            Misconception("no-abs", "h_0' is negative when a < 0: the log-determinant takes log|h_0'(x_1)|",
                          sp.log(_d0) + sp.Sum(_S[_k], (_k, 1, _K))),
            Misconception("no-h0", "the 1-D flow h_0 is the first diagonal entry: log|h_0'(x_1)| belongs to the sum",
                          sp.Sum(_S[_k], (_k, 1, _K))),
            Misconception("top-coupling-only", "every level k = 1..K contributes its coupling's log-scales, not "
                          "only the outermost", sp.log(sp.Abs(_d0)) + _S[_K]),
            Misconception("exp-of-scales", "the diagonal entries are e^{s_i}: their logs are the s_i themselves",
                          sp.log(sp.Abs(_d0)) + sp.Sum(sp.exp(_S[_k]), (_k, 1, _K))),
        ),
    ),
)

# --- the induction step: every K ---------------------------------------------------------------------------------

_m = sp.Symbol("m", integer=True, positive=True)
_i, _j = sp.symbols("i j", integer=True, positive=True)


def _coupling_derivative_fact():
    """∂(e^{s_i} x_{m+i} + t_i)/∂x_{m+j} − e^{s_i} δ_{m+i, m+j} for s_i, t_i that read only x_{1:m}: 0."""
    x = sp.IndexedBase("x", real=True)
    scale, shift = sp.Function("s"), sp.Function("t")  # s_i(x_{1:m}), t_i(x_{1:m}): no x_{m+j} among their inputs
    entry = sp.exp(scale(_i)) * x[_m + _i] + shift(_i)
    return sp.diff(entry, x[_m + _j]) - sp.exp(scale(_i)) * sp.KroneckerDelta(_m + _i, _m + _j)


def _block_determinant_fact():
    """det [[A, 0], [C, D]] − det A det D for m × m blocks (A invertible), by sympy's BlockMatrix: 0."""
    a, c, dd = (sp.MatrixSymbol(name, _m, _m) for name in ("A", "C", "D"))
    with sp.assuming(sp.Q.invertible(a)):
        return sp.det(sp.BlockMatrix([[a, sp.ZeroMatrix(_m, _m)], [c, dd]])) - sp.det(a) * sp.det(dd)


def _log_product_fact():
    """log Π_{i=1}^{m} e^{s_i} − Σ_{i=1}^{m} s_i for real s: 0 (the log-determinant of diag(e^s))."""
    scale = sp.IndexedBase("s", real=True)
    return sp.expand_log(sp.log(sp.Product(sp.exp(scale[_i]), (_i, 1, _m)))) - sp.Sum(scale[_i], (_i, 1, _m))


@dataclass(frozen=True)
class Triangular(Kind):
    """A lower-triangular m x m matrix with diagonal ±e^u, u uniform on [−1, 1] (even instances one negative entry)."""

    dim: str = "m"

    @property
    def description(self) -> str:
        return f"lower-triangular {self.dim}x{self.dim} matrix, nonzero diagonal of both signs"

    def draw(self, batch, dims, gen):
        m = dims[self.dim]
        lower = torch.tril(torch.randn(batch, m, m, generator=gen, dtype=torch.float64), diagonal=-1)
        diagonal = torch.exp(2 * torch.rand(batch, m, generator=gen, dtype=torch.float64) - 1)
        diagonal[::2, 0] *= -1
        return lower + torch.diag_embed(diagonal)


def block_sides(sample, upper: bool = False, sign: float = 1.0, with_previous: bool = True):
    """(log|det| of the block matrix with blocks J, 0, C, diag(exp(s)), and the size of its upper triangle;
    log|det J| + Σ s, and 0).

    The second pair checks that the block matrix is lower triangular when J is. The keywords build the
    wrong variants the mutants check.
    """
    jac, lower_left, scale = sample["J"], sample["C"], sample["s"]
    top = torch.cat((jac, lower_left if upper else torch.zeros_like(lower_left)), dim=-1)
    block = torch.cat((top, torch.cat((lower_left, torch.diag_embed(torch.exp(sign * scale))), dim=-1)), dim=-2)
    previous = torch.linalg.slogdet(jac)[1] if with_previous else torch.zeros_like(scale[:, 0])
    strict_upper = torch.triu(block, diagonal=1).abs().sum((-2, -1))
    return (torch.stack((torch.linalg.slogdet(block)[1], strict_upper), -1),
            torch.stack((previous + scale.sum(-1), torch.zeros_like(strict_upper)), -1))


induction_step = Claim(
    id="log-det-induction-step",
    statement=r"induction step, for every $m = 2^{k-1}$: if $J_{k-1} = \frac{\partial h_{k-1}}{\partial x_{1:m}}$ "
              r"is lower triangular, then $\frac{\partial h_k}{\partial x} = \begin{bmatrix} J_{k-1} & 0 \\ "
              r"C & \mathrm{diag}(e^{s_{k-1}}) \end{bmatrix}$ is lower triangular and "
              r"$\log|\det \frac{\partial h_k}{\partial x}| = \log|\det J_{k-1}| + \mathbf{1}^\top s_{k-1}"
              r"(x_{1:m})$",
    variables=(Variable("J", Triangular("m"), latex="J_{k-1}"), Variable("C", Matrix("m", "m")),
               Variable("s", Vector("m"), latex="s_{k-1}")),
    dims={"m": (1, 8)},
    assumptions=(r"$h_{k-1}$, $s_{k-1}$ and $t_{k-1}$ read only $x_{1:m}$",),
    numeric=block_sides,
    symbolic=facts(
        ("the top block hₖ₋₁ reads only the first half x₁, …, xₘ, so its rows are [Jₖ₋₁, 0]; in the bottom block, "
         "entry i = exp(sᵢ)·x(m+i) + tᵢ has derivative exp(sᵢ) with respect to x(m+i) and 0 with respect to the "
         "other second-half coordinates, i.e. diag(exp(s)) (general m)",
         _coupling_derivative_fact),
        ("det [[A, 0], [C, D]] = det A · det D for m × m blocks (sympy's block determinant, general m)",
         _block_determinant_fact),
        ("log det diag(exp(s₁), …, exp(sₘ)) = log Π exp(sᵢ) = Σ sᵢ (general m)", _log_product_fact),
        scope="every m, hence every K by induction on k (base case K = 0: log|h₀'(x₁)|)",
    ),
    mutants=(
        Mutant("full-block", "the upper-right block C instead of 0 (a first half that also reads the second half)",
               numeric=lambda s_: block_sides(s_, upper=True)),
        Mutant("inverse-scale", "diag(exp(−s)): the inverse map's factors",
               numeric=lambda s_: block_sides(s_, sign=-1.0)),
        Mutant("no-recursion", "log|det| = 1ᵀsₖ₋₁ only, forgetting log|det Jₖ₋₁|",
               numeric=lambda s_: block_sides(s_, with_previous=False)),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=400,
)

_s, _t, _u, _z = sp.symbols("s t u z", real=True)  # one coordinate: x_{m+i} = u, z_{m+i} = z
COUPLING_UNDONE = sp.exp(-_s) * (_z - _t)

inverse_induction_step = Claim(
    id="inverse-induction-step",
    statement=r"induction step of the inverse, coordinatewise for every $m = 2^{k-1}$: once $x_{1:m}$ is recovered, "
              r"$(s, t) = \psi_{k-1,\theta}(x_{1:m})$ are the values the forward pass used, and "
              r"$e^{-s_i}(z_{m+i} - t_i) = e^{-s_i}((e^{s_i}x_{m+i} + t_i) - t_i) = x_{m+i}$",
    lhs=_u, rhs=COUPLING_UNDONE,
    definitions={_z: sp.exp(_s) * _u + _t},
    variables=(Variable("s", Real(-2.0, 2.0)), Variable("t", Real(-3.0, 3.0)), Variable("u", Real(-3.0, 3.0))),
    symbolic=identity(),
    mutants=(
        Mutant("times-exp-s", "multiplies by exp(s) instead of exp(−s)", rhs=sp.exp(_s) * (_z - _t)),
        Mutant("undone-in-the-wrong-order", "exp(−s)·z − t: divides before subtracting the shift",
               rhs=sp.exp(-_s) * _z - _t),
    ),
    dtypes=(torch.float64, torch.float32),  # an exact identity; z − t cancels, so float16 would measure only that
)

INVERSE_SCOPE = (r"proved by sympy for $K \in \{1, 2, 3, 4\}$ with arbitrary (undefined) $s$, $t$ and $h_0$; for "
                 r"every $K$ by induction on $k$: the base case is $h_0^{-1}(h_0(x_1)) = x_1$, and the step "
                 r"(claim inverse-induction-step, proved by sympy) is coordinatewise, so it holds for every $m$; "
                 r"checked numerically for $K = 1, \dots, 4$")
LOG_DET_SCOPE = (r"the induction step (claim log-det-induction-step) holds for every $m = 2^{k-1}$, so the formula "
                 r"holds for every $K$; the full Jacobian is also expanded by sympy for $K \in \{1, 2, 3, 4\}$ "
                 r"with arbitrary $s$, $t$, $h_0$, and checked numerically against autograd for "
                 r"$K = 1, \dots, 4$")

DERIVATIONS = (
    Derivation(
        id="hint-flow",
        title="HINT flow: inverse, triangular Jacobian and log-determinant",
        source="final-2022 P2",
        statement=r"For $n = 2^K$, $f_\theta = h_K$ where, for $k = K, \dots, 1$, $h_k(x) = "
                  r"[h_{k-1}(x_{1:2^{k-1}});\ e^{s_{k-1,\theta}(x_{1:2^{k-1}})} \odot x_{2^{k-1}+1:2^k} + "
                  r"t_{k-1,\theta}(x_{1:2^{k-1}})]$ (an affine coupling layer conditioned by $\psi_{k-1,\theta} "
                  r"= (s_{k-1,\theta}, t_{k-1,\theta})$), and $h_0$ is a one-dimensional flow. We can evaluate "
                  r"every $s_{k,\theta}$, $t_{k,\theta}$, $h_0^{-1}$ and $h_0'$.",
        claims=(inverse_of_forward, forward_of_inverse, inverse_induction_step, jacobian_structure, log_det_claim,
                induction_step),
        parts=(
            Part(
                label="(a)",
                question=r"Describe an algorithm for computing $x = f_\theta^{-1}(z)$.",
                answer=Answer(
                    algorithm=(
                        r"$x_1 = h_0^{-1}(z_1)$.",
                        r"For $k = 1, 2, \dots, K$, with $m = 2^{k-1}$: evaluate "
                        r"$(s, t) = \psi_{k-1,\theta}(x_{1:m})$ at the already recovered $x_{1:m}$ (not at "
                        r"$z_{1:m}$), then $x_{m+1:2m} = e^{-s} \odot (z_{m+1:2m} - t)$.",
                        r"Return $x = x_{1:2^K}$.",
                    ),
                    code=hint_inverse,
                    text=r"Bottom-up, because $h_k$ keeps its first half as $h_{k-1}(x_{1:m})$ and conditions "
                         r"the second half on $x_{1:m}$: inverting level $k-1$ first recovers exactly the input "
                         r"of $\psi_{k-1,\theta}$.",
                    scope=INVERSE_SCOPE,
                ),
                claims=("inverse-induction-step", "inverse-of-forward", "forward-of-inverse"),
            ),
            Part(
                label="(b)",
                question=r"Describe an algorithm for computing $\log|\det \frac{\partial f_\theta}{\partial x}(x)|$.",
                answer=Answer(
                    algorithm=(
                        r"$L = \log|h_0'(x_1)|$.",
                        r"For $k = 1, 2, \dots, K$, with $m = 2^{k-1}$: $L \leftarrow L + \sum_{i=1}^{m} "
                        r"s_{k-1,\theta}(x_{1:m})_i$.",
                        r"Return $L = \log|h_0'(x_1)| + \sum_{k=1}^{K} \mathbf{1}^\top s_{k-1,\theta}(x_{1:2^{k-1}})$.",
                    ),
                    code=hint_log_det,
                    text=r"By induction on $k$: $\frac{\partial h_k}{\partial x} = \begin{bmatrix} "
                         r"\frac{\partial h_{k-1}}{\partial x_{1:m}} & 0 \\ C & \mathrm{diag}(e^{s_{k-1}}) "
                         r"\end{bmatrix}$ is block lower triangular (the first half does not read $x_{m+1:2m}$, "
                         r"and entry $i$ of the second half reads $x_{m+i}$ only through $e^{s_i}x_{m+i}$), so "
                         r"$\log|\det \frac{\partial h_k}{\partial x}| = \log|\det "
                         r"\frac{\partial h_{k-1}}{\partial x_{1:m}}| + \mathbf{1}^\top s_{k-1}$, starting "
                         r"from $\log|h_0'(x_1)|$ at $k = 0$. The whole Jacobian is lower triangular with "
                         r"diagonal $(h_0'(x_1), e^{s_0}, \dots, e^{s_{K-1}})$.",
                    scope=LOG_DET_SCOPE,
                ),
                claims=("log-det-induction-step", "jacobian-structure", "log-det"),
            ),
        ),
    ),
)
