r"""Backpropagation through batch normalization written as `+=` loops (the quiz's solution), against autograd.

# Main statements

Forward, all accumulators starting at 0, for a minibatch $x \in \mathbb{R}^{B \times J}$:
`for b, j: μ[j] += x[b,j]/B`; `for b, j: s[j] += (x[b,j] − μ[j])²/(B−1)`;
`for b, j: x'[b,j] += (x[b,j] − μ[j])/√s[j]` (unbiased variance, no ε). Backward, in this order:

1. `x.grad[b,j] += x'.grad[b,j]/√s[j]`
2. `μ.grad[j] −= x'.grad[b,j]/√s[j]`
3. `s.grad[j] −= ½ (x[b,j] − μ[j]) s[j]^{−3/2} x'.grad[b,j]`
4. `x.grad[b,j] += 2/(B−1) (x[b,j] − μ[j]) s.grad[j]`
5. `μ.grad[j] −= 2/(B−1) (x[b,j] − μ[j]) s.grad[j]`
6. `x.grad[b,j] += μ.grad[j]/B`

* `forward-loops`: the forward loops give $x' = (x - \bar x)/\mathrm{std}_{B-1}(x)$.
* `s-grad`, `mu-grad`, `x-grad`: loops 1–6 give exactly the gradients autograd assigns to the
  intermediate nodes $s$ and $\mu$ (`retain_grad`) and to the input $x$, for any upstream $x'$.grad.
* `mu-grad-line-5-vanishes`: loop 5 adds exactly 0, because $\sum_b (x[b,j] - \mu[j]) = 0$; so
  $\mu$.grad$[j] = -\sum_b x'.\mathrm{grad}[b,j]/\sqrt{s[j]}$.

# Notation

Tensors carry a leading instance axis: $x, x'.\mathrm{grad} \in \mathbb{R}^{N \times B \times J}$ for N
random instances. Each `for b, j: T[...] += expr` line is implemented as one tensor statement
`T = T + expr` (summed over the `b` axis when `T` is indexed by `j` only), so every statement of the
quiz is one line of code, in the quiz's order, and all instances and all (b, j) run at once.

# Implementation notes

* Symbolic (sympy), per feature (features do not interact) for $B \in \{2, 3, 4\}$ ($\{2, 3\}$ for
  x.grad, whose total derivative grows quickly with B): with symbolic
  $x_b$ and upstream gradients $g_b$, each loop result equals the partial derivative it stands for:
  s.grad $= \partial L/\partial s$, μ.grad $= \partial L/\partial\mu + s.\mathrm{grad}\,\partial s/\partial\mu$,
  and x.grad $= \mathrm{d}L/\mathrm{d}x_b$, the total derivative of $L = \sum_b g_b x'_b$ through
  $\mu(x)$ and $s(x, \mu)$.
* Numeric: minibatches with B = 2..8 and J = 1..4 features whose per-feature variance is drawn in
  [0.1, 10] (the gradients contain $s^{-1/2}$ and $s^{-3/2}$, unbounded as $s \to 0$), float64/float32
  against `torch.autograd` (float64 oracle). float16 runs for the forward pass only: s.grad is a sum
  of B terms $(x-\mu)s^{-3/2}g$ that cancel, so its float16 error (about B·u times the largest term) is
  not bounded relative to the result, and no fixed tolerance would be both honest and passable.
* For B = 2, $x' = \pm 1/\sqrt{2}$ whatever x is, so x.grad = 0: the loops return 0 up to rounding
  (the relative errors printed for x-grad are relative to 0); the mutants are caught on B >= 3.
* References: `torch.nn.functional.batch_norm` in training mode, which normalises with the biased
  variance, rescaled by $\sqrt{(B-1)/B}$ (torch rejects ε = 0, so ε is the smallest positive float64,
  which does not change var + ε), for the forward pass; autograd through it (ATen's batch-norm
  backward kernel) for x.grad.

# References

* quiz1-2020 Problem 3 (backpropagation loops for batch normalization).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch
import torch.nn.functional as F

from checkers import (Answer, Claim, Derivation, Kind, Matrix, Misconception, Mutant, Part, Problem, Reference, Symbol,
                      Tolerance, Variable, Vector, facts, not_attempted, one_based)



@dataclass(frozen=True)
class Minibatch(Kind):
    """A (B, J) minibatch whose features have unbiased variance log-uniform in [low, high] and means in [-2, 2].

    The loops contain s^{-1/2} and s^{-3/2}: as s → 0 (a feature whose values coincide) the gradients blow
    up and x' is undefined, so the variance is drawn away from 0 rather than left to chance.
    """

    rows: str = "B"
    cols: str = "J"
    low: float = 0.1
    high: float = 10.0

    @property
    def description(self) -> str:
        return f"{self.rows}x{self.cols} minibatch, per-feature variance in [{self.low}, {self.high}]"

    def draw(self, batch, dims, gen):
        z = torch.randn(batch, dims[self.rows], dims[self.cols], generator=gen, dtype=torch.float64)
        z = (z - z.mean(1, keepdim=True)) / z.std(1, correction=1, keepdim=True)
        u = torch.rand(batch, 1, dims[self.cols], generator=gen, dtype=torch.float64)
        variance = torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)
        mean = 4 * torch.rand(batch, 1, dims[self.cols], generator=gen, dtype=torch.float64) - 2
        return mean + variance.sqrt() * z


VARIABLES = (Variable("x", Minibatch()), Variable("g", Matrix("B", "J"), latex=r"x'.\mathrm{grad}"))
DIMS = {"B": (2, 8), "J": (1, 4)}


def forward_loops(x: torch.Tensor):
    """The quiz's forward += loops as tensor statements; returns (μ, s, x')."""
    n, batch, features = x.shape
    mu = torch.zeros(n, features, dtype=x.dtype, device=x.device)
    mu = mu + (x / batch).sum(1)                                     # for b, j: μ[j] += x[b,j]/B
    s = torch.zeros(n, features, dtype=x.dtype, device=x.device)
    s = s + ((x - mu[:, None]) ** 2 / (batch - 1)).sum(1)            # for b, j: s[j] += (x[b,j]−μ[j])²/(B−1)
    xp = torch.zeros_like(x)
    xp = xp + (x - mu[:, None]) / torch.sqrt(s)[:, None]             # for b, j: x'[b,j] += (x[b,j]−μ[j])/√s[j]
    return mu, s, xp


def backward_loops(x: torch.Tensor, g: torch.Tensor, *, variance_divisor: int | None = None, half: float = 0.5,
                   s_power: float = -1.5, line2_sign: float = -1.0, with_line6: bool = True):
    """The backward loops with the wrong variants the mutants check (defaults: the quiz's loops, as in
    `quiz_backward_loops`, which the claims execute)."""
    n, batch, features = x.shape
    mu, s, _ = forward_loops(x)
    centred, root = x - mu[:, None], torch.sqrt(s)[:, None]
    divisor = batch - 1 if variance_divisor is None else variance_divisor
    x_grad = torch.zeros_like(x)
    mu_grad = torch.zeros(n, features, dtype=x.dtype, device=x.device)
    s_grad = torch.zeros(n, features, dtype=x.dtype, device=x.device)
    x_grad = x_grad + g / root                                                  # 1. x.grad += x'.grad/√s
    mu_grad = mu_grad + line2_sign * (g / root).sum(1)                          # 2. μ.grad −= x'.grad/√s
    s_grad = s_grad - (half * centred * s[:, None] ** s_power * g).sum(1)       # 3. s.grad −= ½(x−μ)s^{−3/2}x'.grad
    x_grad = x_grad + 2 / divisor * centred * s_grad[:, None]                   # 4. x.grad += 2/(B−1)(x−μ)s.grad
    mu_grad = mu_grad - (2 / divisor * centred * s_grad[:, None]).sum(1)        # 5. μ.grad −= 2/(B−1)(x−μ)s.grad
    if with_line6:
        x_grad = x_grad + mu_grad[:, None] / batch                              # 6. x.grad += μ.grad/B
    return x_grad, mu_grad, s_grad


def autograd_gradients(x: torch.Tensor, g: torch.Tensor):
    """(x.grad, μ.grad, s.grad) from torch.autograd on the same forward pass, with retain_grad on μ and s."""
    with torch.enable_grad():
        x = x.detach().clone().requires_grad_(True)
        mu = x.mean(1)
        mu.retain_grad()
        s = ((x - mu[:, None]) ** 2).sum(1) / (x.shape[1] - 1)
        s.retain_grad()
        xp = (x - mu[:, None]) / torch.sqrt(s)[:, None]
        xp.backward(g)
    return x.grad, mu.grad, s.grad


def quiz_backward_loops(x, x_prime_grad):
    """The quiz's six backward loops, in the order they run, for x of shape (B, J); returns (x.grad, μ.grad, s.grad).

    Each `for b, j` loop is one tensor statement over all (b, j) at once (axis 0 is b, axis 1 is j);
    a loop that accumulates into μ.grad[j] or s.grad[j] sums over b.
    """
    B = x.shape[0]
    mu = x.sum(0) / B  # the forward loops: μ[j] += x[b,j]/B
    s = ((x - mu) ** 2).sum(0) / (B - 1)  # s[j] += (x[b,j] − μ[j])²/(B−1)
    x_grad, mu_grad, s_grad = torch.zeros_like(x), torch.zeros_like(mu), torch.zeros_like(s)
    # 1. for b, j: x.grad[b,j] += x'.grad[b,j] / √s[j]
    x_grad = x_grad + x_prime_grad / torch.sqrt(s)
    # 2. for b, j: μ.grad[j] −= x'.grad[b,j] / √s[j]
    mu_grad = mu_grad - (x_prime_grad / torch.sqrt(s)).sum(0)
    # 3. for b, j: s.grad[j] −= ½ (x[b,j] − μ[j]) s[j]^(−3/2) x'.grad[b,j]
    s_grad = s_grad - (0.5 * (x - mu) * s ** -1.5 * x_prime_grad).sum(0)
    # 4. for b, j: x.grad[b,j] += 2/(B−1) (x[b,j] − μ[j]) s.grad[j]
    x_grad = x_grad + 2 / (B - 1) * (x - mu) * s_grad
    # 5. for b, j: μ.grad[j] −= 2/(B−1) (x[b,j] − μ[j]) s.grad[j]
    mu_grad = mu_grad - (2 / (B - 1) * (x - mu) * s_grad).sum(0)
    # 6. for b, j: x.grad[b,j] += μ.grad[j] / B
    x_grad = x_grad + mu_grad / B
    return x_grad, mu_grad, s_grad


def gradient_pair(which: int, **wrong):
    """(gradient `which` from the quiz's loops, or from a wrong variant when `wrong` is given; autograd's)."""
    def numeric(sample):
        """(the gradient from the quiz's backward loops, the gradient autograd assigns to the same node)."""
        loops = backward_loops(sample["x"], sample["g"], **wrong) if wrong else torch.vmap(
            quiz_backward_loops)(sample["x"], sample["g"])
        return loops[which], autograd_gradients(sample["x"], sample["g"])[which]
    return numeric


# --- sympy: one feature, B = 2, 3, 4 ----------------------------------------------------------------------------------

def _symbolic(batch: int):
    xs = sp.symbols(f"x0:{batch}", real=True)
    gs = sp.symbols(f"g0:{batch}", real=True)
    mu_sym, s_sym = sp.Symbol("mu", real=True), sp.Symbol("s", positive=True)
    mu_of_x = sum(xs) / batch
    s_of = sum((xb - mu_sym) ** 2 for xb in xs) / (batch - 1)          # s(x, μ)
    loss = sum(gb * (xb - mu_sym) / sp.sqrt(s_sym) for gb, xb in zip(gs, xs))  # L(x, μ, s) = Σ g x'
    # the loops, with μ and s as symbols (the values the forward pass stored)
    s_grad = -sum(sp.Rational(1, 2) * (xb - mu_sym) * s_sym ** sp.Rational(-3, 2) * gb for xb, gb in zip(xs, gs))
    mu_grad = -sum(gb / sp.sqrt(s_sym) for gb in gs) - sum(sp.Rational(2, batch - 1) * (xb - mu_sym) * s_grad
                                                          for xb in xs)
    x_grad = [gb / sp.sqrt(s_sym) + sp.Rational(2, batch - 1) * (xb - mu_sym) * s_grad + mu_grad / batch
              for xb, gb in zip(xs, gs)]
    return xs, gs, mu_sym, s_sym, mu_of_x, s_of, loss, s_grad, mu_grad, x_grad


def _at_forward_values(expr, xs, mu_sym, s_sym, mu_of_x, s_of):
    return expr.subs(s_sym, s_of).subs(mu_sym, mu_of_x)


def _s_grad_fact(batch):
    def fact():
        xs, gs, mu, s, mu_x, s_of, loss, s_grad, _, _ = _symbolic(batch)
        return sp.simplify(s_grad - sp.diff(loss, s))
    return fact


def _mu_grad_fact(batch):
    def fact():
        xs, gs, mu, s, mu_x, s_of, loss, s_grad, mu_grad, _ = _symbolic(batch)
        chain = sp.diff(loss, mu) + sp.diff(loss, s) * sp.diff(s_of, mu)
        return sp.simplify(mu_grad - chain)
    return fact


def _x_grad_fact(batch):
    def fact():
        xs, gs, mu, s, mu_x, s_of, loss, _, _, x_grad = _symbolic(batch)
        # total derivative of L(x, μ(x), s(x, μ(x))), the function autograd differentiates
        total = loss.subs(s, s_of).subs(mu, mu_x)
        variance = s_of.subs(mu, mu_x)
        diffs = [_at_forward_values(x_grad[b], xs, mu, s, mu_x, s_of) - sp.diff(total, xs[b]) for b in range(batch)]
        # every term carries s^{-1/2} or s^{-3/2}: times s^{3/2} (> 0) the difference is a polynomial
        return sp.Matrix([sp.expand(diff * variance ** sp.Rational(3, 2)) for diff in diffs])
    return fact


def _line5_fact(batch):
    def fact():
        xs = sp.symbols(f"x0:{batch}", real=True)
        return sp.expand(sum(xb - sum(xs) / batch for xb in xs))
    return fact


BATCHES = (2, 3, 4)
GRADIENT_DTYPES = (torch.float64, torch.float32)  # float16: see the implementation notes
HALF = Tolerance(1e-2, 1e-2, "float16 (u = 4.9e-4): x − μ loses |μ|·u ≤ 2u absolutely, divided by √s >= √0.1: "
                             "about 20u")


def _facts(make, what, batches=BATCHES):
    scope = f"one feature (features are independent), B ∈ {{{', '.join(map(str, batches))}}}"
    return facts(*((f"B = {b}: {what}" if b == batches[0] else f"B = {b}: the same", make(b)) for b in batches),
                 scope=scope)


def _matrix_zero(make):
    def outer(batch):
        thunk = make(batch)
        return lambda: sp.true if all(entry == 0 for entry in thunk()) else sp.false
    return outer


def rescaled_torch_batch_norm(x: torch.Tensor) -> torch.Tensor:
    """F.batch_norm in training mode, each (instance, feature) pair a channel, rescaled by √((B−1)/B).

    torch normalises with the biased variance; √((B−1)/B) turns that into the unbiased one. torch rejects
    ε = 0 in training mode; ε = the smallest positive float64 leaves var + ε = var exactly.
    """
    n, batch, features = x.shape
    channels = x.permute(1, 0, 2).reshape(batch, n * features)
    y = F.batch_norm(channels, None, None, training=True, eps=torch.finfo(torch.float64).tiny)
    return y.reshape(batch, n, features).permute(1, 0, 2) * ((batch - 1) / batch) ** 0.5


def torch_batch_norm_input_gradient(sample) -> torch.Tensor:
    """x.grad by autograd through F.batch_norm (ATen's own batch-norm backward kernel)."""
    with torch.enable_grad():
        x = sample["x"].detach().clone().requires_grad_(True)
        rescaled_torch_batch_norm(x).backward(sample["g"])
    return x.grad


def unbiased_standardisation(sample, correction: int = 1):
    x = sample["x"]
    return (x - x.mean(1, keepdim=True)) / x.std(1, correction=correction, keepdim=True)


forward_claim = Claim(
    id="forward-loops",
    statement=r"the forward loops give $x'[b,j] = (x[b,j] - \mu[j])/\sqrt{s[j]}$ with the mean "
              r"$\mu[j] = \frac1B\sum_b x[b,j]$ and the unbiased variance "
              r"$s[j] = \frac{1}{B-1}\sum_b (x[b,j]-\mu[j])^2$ (no $\varepsilon$)",
    variables=VARIABLES[:1],
    dims=DIMS,
    numeric=lambda s: (forward_loops(s["x"])[2], unbiased_standardisation(s)),
    symbolic=not_attempted("the loops accumulate the defining sums of the mean and of the unbiased variance; "
                           "that each tensor statement sums over b is what the numeric check tests"),
    references=(Reference("torch-batch-norm", "F.batch_norm(training=True, ε = 2.2e-308) (biased variance) times √((B−1)/B)",
                          lambda s: rescaled_torch_batch_norm(s["x"]), side="lhs"),),
    mutants=(Mutant("biased-variance", "x' normalised with the 1/B variance (what nn.BatchNorm uses)",
                    numeric=lambda s: (forward_loops(s["x"])[2], unbiased_standardisation(s, correction=0))),),
    tolerances={torch.float16: HALF},
    instances=400,
)

s_grad_claim = Claim(
    id="s-grad",
    statement=r"loop 3 gives $s.\mathrm{grad}[j] = \frac{\partial L}{\partial s[j]} = -\frac12\sum_b "
              r"(x[b,j]-\mu[j])\, s[j]^{-3/2}\, x'.\mathrm{grad}[b,j]$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=gradient_pair(2),
    symbolic=_facts(lambda b: _s_grad_fact(b), "s.grad − ∂L/∂s simplifies to 0"),
    mutants=(Mutant("no-half", "without the factor ½", numeric=gradient_pair(2, half=1.0)),
             Mutant("power-minus-half", "1/√s instead of 1/(s√s), the power −1/2 instead of −3/2",
                    numeric=gradient_pair(2, s_power=-0.5))),
    dtypes=GRADIENT_DTYPES,
    instances=400,
)

mu_grad_claim = Claim(
    id="mu-grad",
    statement=r"loops 2 and 5 give $\mu.\mathrm{grad}[j] = \frac{\partial L}{\partial \mu[j]} + "
              r"s.\mathrm{grad}[j]\,\frac{\partial s[j]}{\partial \mu[j]}$, the gradient autograd assigns to "
              r"the node $\mu$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=gradient_pair(1),
    symbolic=_facts(lambda b: _mu_grad_fact(b), "μ.grad − (∂L/∂μ + ∂L/∂s · ∂s/∂μ) simplifies to 0"),
    mutants=(Mutant("line-2-plus", "μ.grad += x'.grad/√s in loop 2 (wrong sign)", numeric=gradient_pair(1, line2_sign=1.0)),),
    dtypes=GRADIENT_DTYPES,
    instances=400,
)

x_grad_claim = Claim(
    id="x-grad",
    statement=r"loops 1, 4 and 6 give $x.\mathrm{grad}[b,j] = \frac{dL}{dx[b,j]}$, the total derivative "
              r"through $\mu(x)$ and $s(x, \mu)$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=gradient_pair(0),
    symbolic=_facts(_matrix_zero(_x_grad_fact), "s√s·(x.grad[b] − dL/dx[b]) expands to 0 for every b",
                    batches=(2, 3)),
    references=(Reference("torch-batch-norm-backward", "autograd through F.batch_norm (training mode) times "
                                                       "√((B−1)/B): ATen's batch-norm backward kernel",
                          torch_batch_norm_input_gradient, side="lhs"),),
    mutants=(
        Mutant("no-line-6", "forgets loop 6 (the path through μ)", numeric=gradient_pair(0, with_line6=False)),
        Mutant("biased-divisor", "2/B instead of 2/(B−1) in loop 4", numeric=lambda s: gradient_pair(
            0, variance_divisor=s.dims["B"])(s)),
        Mutant("no-half", "s.grad without the ½ of loop 3", numeric=gradient_pair(0, half=1.0)),
    ),
    dtypes=GRADIENT_DTYPES,
    instances=400,
)


# Gradeable: dL/dx_b for one feature in closed form (the classic three terms), 1-based as students write it;
# the witness is autograd through the quiz's forward pass (unbiased variance, no ε).
_xb, _gb = sp.IndexedBase("x", real=True), sp.IndexedBase("g", real=True)
_B, _b = sp.Symbol("B", integer=True, positive=True), sp.Symbol("b", integer=True, positive=True)
_a, _c, _e = sp.symbols("a c e", integer=True, positive=True)  # distinct indices: nested sums print unambiguously
_MEAN = sp.Sum(_xb[_a], (_a, 1, _B)) / _B
_S = sp.Sum((_xb[_c] - _MEAN) ** 2, (_c, 1, _B)) / (_B - 1)


def _normalised(index):
    return (_xb[index] - _MEAN) / sp.sqrt(_S)


def _input_gradient(variance_divisor=_B - 1, mean_term=True, variance_term=True):
    inner = _gb[_b]
    if mean_term:
        inner -= sp.Sum(_gb[_e], (_e, 1, _B)) / _B
    if variance_term:
        inner -= _normalised(_b) * sp.Sum(_gb[_e] * _normalised(_e), (_e, 1, _B)) / variance_divisor
    return inner / sp.sqrt(_S)


def _autograd_input_gradient(sample) -> torch.Tensor:
    x = sample["x"][:, 1:].clone().requires_grad_(True)
    normalised = (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True)  # unbiased, as the quiz
    (grad,) = torch.autograd.grad((normalised * sample["g"][:, 1:]).sum(), x)
    return grad[:, sample.dims["b"] - 1]


GRADEABLE = (
    Problem(
        id="bn-input-gradient", title="Batch norm backward: the gradient with respect to one input",
        source="quiz1-2020 P3", claim=x_grad_claim,
        statement=r"For one feature with $x'_b = (x_b - \mu)/\sqrt{s}$, $\mu = \frac1B\sum_c x_c$, "
                  r"$s = \frac1{B-1}\sum_c (x_c - \mu)^2$ and upstream gradients $g_b = \partial L/\partial x'_b$, "
                  r"give $\partial L / \partial x_b$ in closed form.",
        symbols=(Symbol(_xb, "x_b", ("x",)), Symbol(_gb, "g_b", ("g",)), Symbol(_b, "b"), Symbol(_B, "B"),
                 Symbol(_MEAN, r"\mu", ("mu",), listed=False), Symbol(_S, "s", (), listed=False)),
        answer=_input_gradient(), witness=_autograd_input_gradient,
        variables=(Variable("x", one_based(Vector("B", scale=2.0))), Variable("g", one_based(Vector("B")))),
        dims={"B": (3, 5), "b": (1, 2, 3, 5)}, dims_where=lambda d: d["b"] <= d["B"],  # first, middle, last
        sum_range=(sp.Integer(1), _B), instances_per_group=8,
        misconceptions=(
            Misconception("no-mean-path", "the path through μ is missing: every x_c moves the mean, which "
                          "contributes −(1/B) Σ_c g_c", _input_gradient(mean_term=False)),
            Misconception("no-variance-path", "the path through s is missing: every x_c moves the variance, which "
                          "contributes −x'_b Σ_c g_c x'_c / (B − 1)", _input_gradient(variance_term=False)),
            Misconception("biased-divisor", "s is the unbiased variance, so ∂s/∂x_b = 2(x_b − μ)/(B − 1): the "
                          "third term is divided by B − 1, not B", _input_gradient(variance_divisor=_B)),
            Misconception("upstream-only", "that is g_b/√s, the gradient if μ and s were constants",
                          _input_gradient(mean_term=False, variance_term=False)),
        ),
    ),
)


def line_5_terms(sample, wrong_power: float = 0.5):
    """(μ.grad from the quiz's loops, −Σ_b x'.grad[b, j]/√s[j]): loop 5 adds exactly zero."""
    _, s, _ = forward_loops(sample["x"])
    mu_grad = torch.vmap(quiz_backward_loops)(sample["x"], sample["g"])[1]
    return mu_grad, -(sample["g"] / s[:, None] ** wrong_power).sum(1)


line_5_claim = Claim(
    id="mu-grad-line-5-vanishes",
    statement=r"loop 5 adds 0, because $\sum_b (x[b,j]-\mu[j]) = 0$; so "
              r"$\mu.\mathrm{grad}[j] = -\sum_b x'.\mathrm{grad}[b,j]/\sqrt{s[j]}$",
    variables=VARIABLES,
    dims=DIMS,
    numeric=line_5_terms,
    symbolic=_facts(lambda b: _line5_fact(b), "the deviations x[b] − (x[1] + … + x[B])/B, summed over b, expand to 0"),
    mutants=(Mutant("divide-by-s", "−Σ_b x'.grad[b,j]/s[j] (the variance instead of the standard deviation)",
                    numeric=lambda s: line_5_terms(s, wrong_power=1.0)),),
    dtypes=GRADIENT_DTYPES,
    instances=400,
)

DERIVATIONS = (
    Derivation(
        id="bn-backprop-loops",
        title="Backpropagation loops for batch normalization",
        source="quiz1-2020 P3",
        statement=r"Batch normalization of a minibatch $x[b, j]$ ($b = 1, \dots, B$, features $j$) is defined by "
                  r"three loops over $b, j$, every computed tensor starting at zero: $\mu[j] {+}{=} "
                  r"\frac1B x[b,j]$; then $s[j] {+}{=} \frac{1}{B-1}(x[b,j]-\mu[j])^2$; then $x'[b,j] "
                  r"{+}{=} (x[b,j]-\mu[j])/\sqrt{s[j]}$.",
        claims=(forward_claim, s_grad_claim, mu_grad_claim, x_grad_claim, line_5_claim),
        parts=(
            Part(
                label="",
                question=r"Give backpropagation $+=$ (or $-=$) loops computing $x.\mathrm{grad}[b,j]$, "
                         r"$\mu.\mathrm{grad}[j]$ and $s.\mathrm{grad}[j]$ from $x'.\mathrm{grad}[b,j]$, in the "
                         r"order they are executed.",
                answer=Answer(
                    algorithm=(
                        r"For $b, j$: $x.\mathrm{grad}[b,j] {+}{=} x'.\mathrm{grad}[b,j]/\sqrt{s[j]}$.",
                        r"For $b, j$: $\mu.\mathrm{grad}[j] {-}{=} x'.\mathrm{grad}[b,j]/\sqrt{s[j]}$.",
                        r"For $b, j$: $s.\mathrm{grad}[j] {-}{=} \frac12 (x[b,j]-\mu[j])\, s[j]^{-3/2}\, "
                        r"x'.\mathrm{grad}[b,j]$.",
                        r"For $b, j$: $x.\mathrm{grad}[b,j] {+}{=} \frac{2}{B-1} (x[b,j]-\mu[j])\, "
                        r"s.\mathrm{grad}[j]$.",
                        r"For $b, j$: $\mu.\mathrm{grad}[j] {-}{=} \frac{2}{B-1} (x[b,j]-\mu[j])\, "
                        r"s.\mathrm{grad}[j]$ (this loop adds exactly 0, since $\sum_b (x[b,j]-\mu[j]) = 0$).",
                        r"For $b, j$: $x.\mathrm{grad}[b,j] {+}{=} \frac1B\, \mu.\mathrm{grad}[j]$.",
                    ),
                    code=quiz_backward_loops,
                    text=r"Loops 1, 2 and 3 push $x'.\mathrm{grad}$ back through $x' = (x-\mu)/\sqrt{s}$; loops 4 "
                         r"and 5 push $s.\mathrm{grad}$ back through the variance loop; loop 6 pushes "
                         r"$\mu.\mathrm{grad}$ back through the mean loop. Each runs only after every loop that "
                         r"adds to the gradient it reads. In the listing each loop is one tensor statement.",
                    scope=r"proved by sympy for one feature with $B \in \{2, 3, 4\}$ ($x.\mathrm{grad}$: "
                          r"$B \in \{2, 3\}$; features do not interact); checked numerically against autograd "
                          r"for $B = 2, \dots, 8$ and $J = 1, \dots, 4$",
                ),
                claims=("s-grad", "mu-grad", "x-grad", "mu-grad-line-5-vanishes", "forward-loops"),
            ),
        ),
    ),
)
