r"""Mean and variance of a linear MLP's output under PyTorch's default `nn.Linear` initialisation.

# Main statements

* `init-bound`: the default init of `nn.Linear(fan_in, fan_out)` draws every weight and every bias
  from $\mathcal U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})$, so $|w|, |b| \le 1/\sqrt{\text{fan\_in}}$.
* `init-variance`: hence $\operatorname{Var} w = \operatorname{Var} b = 1/(3\,\text{fan\_in})$.
* `layer-variance`: if $y \in \mathbb R^{n_{\ell-1}}$ has zero-mean entries with $\mathbb E y_k^2 = v_{\ell-1}$
  (correlated or not) and is independent of the layer, then $z = A y + b$ has $\mathbb E z_i = 0$ and
  $\mathbb E z_i^2 = v_{\ell-1}/3 + 1/(3 n_{\ell-1})$: the recursion $v_\ell = v_{\ell-1}/3 + 1/(3n_{\ell-1})$, $v_0 = 1$.
* `closed-form`: the recursion unrolled, $\frac{1}{3n_{L-1}} + \frac{1}{3^2 n_{L-2}} + \dots + \frac{1}{3^L n_0}
  + 3^{-L}$, equals `VARIANCE_CLOSED_FORM` $= 3^{-L} + \sum_{\ell=1}^{L} \frac{1}{3^{L-\ell+1} n_{\ell-1}}$.
* `network-moments`: for $y_L = A_L(\cdots(A_1 x + b_1)\cdots) + b_L$ ($\sigma(z) = z$, $n_L = 1$) with
  default-initialised layers and $x$ iid zero-mean unit-variance, $\mathbb E y_L = 0$ and
  $\operatorname{Var} y_L$ is the closed form, checked on real `nn.Linear` layers.

# Notation

$n_0, \dots, n_{L-1}$ are the widths (`n[0] .. n[L-1]`, a (B, L) tensor per batch), $n_L = 1$;
$v_\ell = \operatorname{Var}(y_\ell)_i$ is the variance of any entry of layer $\ell$'s output.

# Implementation notes

* Nothing about the init is assumed: `init-bound` and `init-variance` are proved by a strategy
  (`FromTorchSource` of `checkers.torch_source`, against each claim's own right-hand side) that
  reads the installed torch's source at check time (`ast` of `nn.Linear.reset_parameters`,
  `init.kaiming_uniform_`, `init.calculate_gain`), translates the bound formulas into sympy
  (`a = math.sqrt(5)` → $\sqrt5$, gain $\sqrt{2/(1+a^2)}$, bound $\sqrt3\cdot\text{gain}/\sqrt{\text{fan}}$,
  bias bound $1/\sqrt{\text{fan\_in}}$) and integrates the uniform law's variance. If a future torch
  changes the default init, these proofs fail (naming the line that changed) and the Monte Carlo
  checks on real modules fail with them.
* `layer-variance` is proved symbolically for $n_{\ell-1} \in \{1, 2, 3, 4\}$ by expanding
  $\mathbb E[(\sum_k A_k y_k + b)^2]$ with independent zero-mean $A_k$, $b$ and an arbitrary
  covariance $C$ of $y$ (diagonal $v$), with $\operatorname{Var} A_k = \operatorname{Var} b$ read from
  `init-variance`'s right-hand side (`IndependentSecondMoment`); the general-$n$ sum has the same form
  termwise.
* `closed-form` is proved for general $L$ by induction (`RecursionInduction`): both sides satisfy
  $v_0 = 1$ and $v_{L+1} = v_L/3 + 1/(3 n_L)$, the recursion being `layer-variance`'s right-hand side
  (`LAYER_RECURSION`, not retyped); sympy checks the base case and the step after splitting off one
  term of the sum, so they are equal.
* Monte Carlo, sharp to 2%: every estimate is checked component by component within 5 of its own
  standard errors, and each claim carries the mutants `target-x1.02` and `target-x0.98` (its target
  scaled by 1.02 and 0.98), which must be rejected. `init-bound` uses one freshly constructed
  `nn.Linear(fan_in, fan_out)` per instance (exact shapes; constructing the module is what is under test).
  `init-variance` (32 instances) gives instance $i$ $\lceil 2^{14}/\text{fan\_out}_i\rceil$ copies of its layer,
  and `layer-variance` (16 instances, $2^{18}$ copies) and `network-moments` (16 instances, $2^{16}$ weight
  draws) draw R re-initialisations of a layer for all instances that share its shape
  $(n_{\ell-1}, n_\ell)$, all as the row blocks of one real `nn.Linear(n_{ℓ-1}, count·R·n_ℓ)`: rows of the
  default init are iid with a law that depends on fan_in only (read from the source above; checked on
  exact shapes by `init-bound`). Each layer is one batched product per distinct shape, never a loop
  over instances. Inputs are uniform on $[-\sqrt3, \sqrt3]$ (mean 0, variance 1). `network-moments` takes
  the expectation over the input exactly for each drawn network ($y_L = Px + c$, so
  $\mathbb E_x y_L^2 = c^2 + \lVert P\rVert^2$ from $\mathbb E x = 0$, $\mathbb E xx^\top = I$) and Monte Carlo over
  the weights only. The standard error of a variance estimate comes from the fourth central moment;
  draws are seeded from the batch seed (torch's global generator, forked and restored), and a batch's
  draws are computed once and reused by the oracle and the mutants. Deterministic references: the
  targets rebuilt from `torch.distributions.Uniform(±1/√fan_in).variance` (weights, one layer, the
  network layer by layer). The float32 run of
  `init-variance` is not declared: the draws are torch's default dtype and their statistics are taken
  in float64.

# References

* hw6-2021 Problem 2 (default weight initialisation), and student-hw6 Problem 2 (a correct
  submission; the mutants are the slips one makes on the way: exponent off by one, the bias
  forgotten, $n_\ell$ for $n_{\ell-1}$, $b^2$ for the variance of $\mathcal U(-b, b)$).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import sympy as sp
import torch

from checkers import (  # noqa: F401 - read_default_init: tests
    Answer, Claim, Derivation, Estimate, Figure, FromTorchSource, IndependentSecondMoment, Integer, Kind, Mutant, Part,
    Positive, Problem, Real, Recursion, RecursionInduction, Reference, Symbol, Tolerance, Variable, append_value,
    estimate, not_attempted, per_batch, read_default_init, segment_variance_estimate, sharpness_mutants,
    variance_estimate)

# ---------------------------------------------------------------------------------------------------------------
# Symbols (fixed names: the grader imports them)

L = sp.Symbol("L", integer=True, positive=True)
ell = sp.Symbol("ell", integer=True, positive=True)
n = sp.IndexedBase("n")
k = sp.Symbol("k", integer=True, nonnegative=True)

VARIANCE_CLOSED_FORM = 3 ** (-L) + sp.Sum(1 / (3 ** (L - ell + 1) * n[ell - 1]), (ell, 1, L))
# The recursion unrolled from the top layer down, as the submitted solution writes it:
# 1/(3 n_{L-1}) + 1/(3^2 n_{L-2}) + ... + 1/(3^L n_0) + 3^{-L}.
VARIANCE_UNROLLED = sp.Sum(1 / (3 ** (k + 1) * n[L - 1 - k]), (k, 0, L - 1)) + 3 ** (-L)

fan_in, fan_out = sp.symbols("fan_in fan_out", positive=True)
v, n_prev = sp.symbols("v n", positive=True)  # n_prev: the fan-in of one layer (n_{ℓ-1}), printed n
rho = sp.Symbol("rho", nonnegative=True)
third = sp.Rational(1, 3)


# ---------------------------------------------------------------------------------------------------------------
# Instance kinds: integer widths


@dataclass(frozen=True)
class Widths(Kind):
    """The widths n_0, ..., n_{depth-1} of one network per instance: integers in [low, high], shape (B, depth)."""

    depth: str = "L"
    low: int = 1
    high: int = 64

    @property
    def description(self) -> str:
        return f"{self.depth} integer widths n₀..n_{{{self.depth}-1}} in [{self.low}, {self.high}] (n_{self.depth} = 1)"

    def draw(self, batch, dims, gen):
        return torch.randint(self.low, self.high + 1, (batch, dims[self.depth]), generator=gen).to(torch.float64)


# ---------------------------------------------------------------------------------------------------------------
# Monte Carlo on real nn.Linear modules


def _init_functions() -> tuple:
    """The torch functions the draws run: a patched or changed init must not be answered from the cache."""
    return (torch.nn.Linear.reset_parameters, torch.nn.init.kaiming_uniform_, torch.nn.init.uniform_,
            torch.nn.init.calculate_gain)


_memo = per_batch(depends=_init_functions)  # per batch, dtype and device
_drawn_once = per_batch(per_dtype=False, depends=_init_functions)  # float64 CPU draws shared by every dtype


@_drawn_once
def _fresh_linear_parameters(sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One freshly constructed nn.Linear(fan_in, fan_out) per instance (float64, CPU).

    Returns the weights and the biases, each zero-padded to one row per instance, and their counts.
    Constructing the module is what is under test, so each instance gets its own.
    """
    weights, biases = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sample.seed)
        for fi, fo in zip(sample["fan_in"].tolist(), sample["fan_out"].tolist()):
            layer = torch.nn.Linear(int(round(fi)), int(round(fo)))
            weights.append(layer.weight.detach().reshape(-1))
            biases.append(layer.bias.detach())
    pad = torch.nn.utils.rnn.pad_sequence
    return (pad(weights, batch_first=True), torch.tensor([len(w) for w in weights]),
            pad(biases, batch_first=True), torch.tensor([len(b) for b in biases]))


@_memo
def init_max_abs(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest |w| and |b| of each instance's freshly constructed module, against the bound 1/√fan_in."""
    w, _, b, _ = _fresh_linear_parameters(sample)
    dt, dev = sample.dtype, sample.device
    top = torch.maximum(w.to(dev, dt).abs().amax(-1), b.to(dev, dt).abs().amax(-1))
    return top, 1 / torch.sqrt(sample["fan_in"])


INIT_ROWS = 2 ** 14  # output rows (bias draws) per instance; weights get fan_in times as many


@_memo
def init_moments(sample) -> tuple[Estimate, torch.Tensor]:
    """Estimates of Var w and Var b over the rows of default-initialised nn.Linear(fan_in, ·), against 1/(3 fan_in).

    Instance i gets R_i = ⌈INIT_ROWS / fan_out_i⌉ copies of its nn.Linear(fan_in_i, fan_out_i), as the row
    blocks of one real nn.Linear(fan_in, Σ R_i fan_out_i) per distinct fan_in (the default init draws
    rows iid with a law that depends on fan_in only; `init-bound` checks the exact shapes). The
    variances and their standard errors are computed per instance by segment sums in float64 (the
    draws themselves are torch's default dtype), one vectorised pass per distinct fan_in.
    """
    fan_in = sample["fan_in"].to("cpu", torch.float64).round().long()
    fan_out = sample["fan_out"].to("cpu", torch.float64).round().long()
    copies = (INIT_ROWS + fan_out - 1) // fan_out
    stats = torch.zeros(4, sample.size, dtype=torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sample.seed)
        for fi in torch.unique(fan_in).tolist():
            idx = torch.nonzero(fan_in == fi).squeeze(-1)
            rows = copies[idx] * fan_out[idx]
            layer = torch.nn.Linear(fi, int(rows.sum()))
            segments = torch.repeat_interleave(torch.arange(len(idx)), rows)
            weight, bias = layer.weight.detach().to(torch.float64), layer.bias.detach().to(torch.float64)
            stats[0, idx], stats[1, idx] = segment_variance_estimate(weight, segments, len(idx))
            stats[2, idx], stats[3, idx] = segment_variance_estimate(bias.unsqueeze(-1), segments, len(idx))
    stats = stats.to(sample.device, sample.dtype)
    target = 1 / (3 * sample["fan_in"])
    return Estimate(torch.stack([stats[0], stats[2]], -1), torch.stack([stats[1], stats[3]], -1)), \
        torch.stack([target, target], -1)


def _layer_copies(fan_ins: torch.Tensor, fan_outs: torch.Tensor, copies: int, seed: int):
    """Default inits of each instance's layer, `copies` times: yields (instance indices, weights, biases).

    All instances with the same (fan_in, fan_out) share one freshly constructed real
    nn.Linear(fan_in, count * copies * fan_out) (default dtype, default init) whose row blocks are
    the copies: weights (count, copies, fan_out, fan_in), biases (count, copies, fan_out).
    """
    pairs = torch.stack([fan_ins, fan_outs], -1).to("cpu", torch.float64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for fi, fo in torch.unique(pairs, dim=0).long().tolist():
            idx = torch.nonzero((pairs == torch.tensor([fi, fo], dtype=pairs.dtype)).all(-1)).squeeze(-1)
            layer = torch.nn.Linear(fi, len(idx) * copies * fo)
            yield (idx, layer.weight.detach().reshape(len(idx), copies, fo, fi),
                   layer.bias.detach().reshape(len(idx), copies, fo))


LAYER_COPIES = 2 ** 18  # per instance: enough for the target scaled by 1.02 or 0.98 to be rejected


@functools.lru_cache(maxsize=4)
def _layer_draws(seed: int, fan_ins: tuple[int, ...], copies: int) -> tuple[torch.Tensor, ...]:
    """The random parts of `layer_moments` for one batch (float64, CPU): g_0, Σ_k A_k, Σ_k A_k g_k and b, each (B, copies).

    g_0 and g_k are uniform on [−√3, √3]; (A, b) are the rows of real default-initialised layers
    (`_layer_copies`). They depend on the batch's seed and widths only, so the float64 run, the oracle
    of the float32 run and the mutants share them.
    """
    gen = torch.Generator().manual_seed(seed + 7)
    fan = torch.tensor(fan_ins, dtype=torch.float64)
    batch = len(fan_ins)
    g0 = (2 * torch.rand(batch, copies, generator=gen, dtype=torch.float64) - 1) * math.sqrt(3)
    weight_sum, weighted_g, bias = (torch.zeros(batch, copies, dtype=torch.float64) for _ in range(3))
    for idx, weight, b in _layer_copies(fan, torch.ones_like(fan), copies, seed + 11):
        w = weight[:, :, 0].to(torch.float64)  # (count, copies, fan_in)
        g = (2 * torch.rand(w.shape, generator=gen, dtype=torch.float64) - 1) * math.sqrt(3)
        weight_sum[idx], weighted_g[idx], bias[idx] = w.sum(-1), (w * g).sum(-1), b[..., 0].to(torch.float64)
    return g0, weight_sum, weighted_g, bias


@_memo
def layer_moments(sample, copies: int = LAYER_COPIES) -> tuple[Estimate, torch.Tensor]:
    """Estimates of E[z] and E[z²] for one default-initialised layer applied to correlated inputs with E[yₖ²] = v.

    y_k = √v (√ρ g_0 + √(1 − ρ) g_k) has E y_k = 0, E y_k² = v and corr(y_j, y_k) = ρ; the layer's
    output z = Σ_k A_k y_k + b is computed as √v (√ρ g_0 Σ_k A_k + √(1 − ρ) Σ_k A_k g_k) + b (the same
    sum, distributed), in the batch's dtype, from draws shared by every dtype (`_layer_draws`).
    """
    fan = tuple(int(round(f)) for f in sample["n"].to("cpu", torch.float64).tolist())
    dt, dev = sample.dtype, sample.device
    g0, weight_sum, weighted_g, bias = (t.to(dev, dt) for t in _layer_draws(sample.seed, fan, copies))
    rho_, v_ = sample["rho"].unsqueeze(-1), sample["v"].unsqueeze(-1)
    z = v_.sqrt() * (rho_.sqrt() * g0 * weight_sum + (1 - rho_).sqrt() * weighted_g) + bias
    first, second = estimate(z, dim=1), estimate(z ** 2, dim=1)
    target = sample.evaluate(LAYER_RHS)
    return (Estimate(torch.stack([first.mean, second.mean], -1), torch.stack([first.stderr, second.stderr], -1)),
            torch.stack([torch.zeros_like(target), target], -1))


NETWORK_COPIES = 384


def network_outputs(sample, copies: int = NETWORK_COPIES) -> torch.Tensor:
    """y_L of `copies` independently initialised networks per instance, each on its own input x: (B, copies)."""
    widths = sample["n"].to("cpu", torch.float64)
    batch, depth = widths.shape
    wmax = int(widths.max())
    gen = sample.generator(3)
    dt, dev = sample.dtype, sample.device
    # x with iid entries of mean 0 and variance 1 (uniform on [-sqrt 3, sqrt 3]); zero beyond n_0.
    x = (torch.rand(batch, copies, wmax, generator=gen, dtype=torch.float64) * 2 - 1) * math.sqrt(3)
    y = (x * (torch.arange(wmax) < widths[:, :1]).unsqueeze(1)).to(dev, dt)
    for layer in range(depth):
        fan_out = widths[:, layer + 1] if layer + 1 < depth else torch.ones(batch, dtype=torch.float64)
        out = torch.zeros(batch, copies, wmax, dtype=dt, device=dev)
        for idx, weight, bias in _layer_copies(widths[:, layer], fan_out, copies, sample.seed + 101 * (layer + 1)):
            fo, fi = weight.shape[-2:]
            out[idx, :, :fo] = torch.einsum("brij,brj->bri", weight.to(dev, dt), y[idx, :, :fi]) + bias.to(dev, dt)
        y = out
    return y[..., 0]


NETWORK_WEIGHT_DRAWS = 2 ** 16


@_memo
def network_moments(sample, copies: int = NETWORK_WEIGHT_DRAWS) -> tuple[Estimate, torch.Tensor]:
    """Estimates of the output's mean and second moment over re-initialisations of real nn.Linear layers, against 0
    and the closed form.

    The expectation over the input is taken exactly for each drawn network: y_L = P x + c is affine in
    x (σ(z) = z), so E_x y_L = c and E_x y_L² = c² + ‖P‖² use only E x = 0 and E xxᵀ = I (the input's
    hypotheses). P = A_L ⋯ A_1 (a row, built top-down) and c = Σ_ℓ A_L ⋯ A_{ℓ+1} b_ℓ come from the layers'
    own weights and biases. The Monte Carlo over the `copies` weight draws per instance then has a
    smaller spread than averaging y_L² over random inputs (Rao–Blackwell); E y_L² = Var y_L when E y_L = 0,
    which the first component checks.
    """
    widths = sample["n"].to("cpu", torch.float64)
    batch, depth = widths.shape
    wmax = int(widths.max())
    dt, dev = sample.dtype, sample.device
    row = torch.zeros(batch, copies, 1, dtype=dt, device=dev)  # A_L ⋯ A_{ℓ+1}, top-down; starts as the output
    row[..., 0] = 1.0
    offset = torch.zeros(batch, copies, dtype=dt, device=dev)
    for layer in reversed(range(depth)):
        fan_out = widths[:, layer + 1] if layer + 1 < depth else torch.ones(batch, dtype=torch.float64)
        weights = torch.zeros(batch, copies, row.shape[-1], wmax, dtype=dt, device=dev)
        biases = torch.zeros(batch, copies, row.shape[-1], dtype=dt, device=dev)
        for idx, weight, bias in _layer_copies(widths[:, layer], fan_out, copies, sample.seed + 101 * (layer + 1)):
            fo, fi = weight.shape[-2:]
            weights[idx, :, :fo, :fi], biases[idx, :, :fo] = weight.to(dev, dt), bias.to(dev, dt)
        offset = offset + (row * biases).sum(-1)
        row = (row.unsqueeze(-2) @ weights).squeeze(-2)  # (B, copies, wmax): A_L ⋯ A_ℓ
    first, second = estimate(offset, dim=1), estimate(offset ** 2 + (row ** 2).sum(-1), dim=1)
    target = sample.evaluate(VARIANCE_CLOSED_FORM)
    return (Estimate(torch.stack([first.mean, second.mean], -1), torch.stack([first.stderr, second.stderr], -1)),
            torch.stack([torch.zeros_like(target), target], -1))


def _uniform_variance(fan: torch.Tensor) -> torch.Tensor:
    """Variance of the default init's law for this fan_in: torch.distributions.Uniform(−1/√fan, 1/√fan).variance."""
    bound = 1 / torch.sqrt(fan)
    return torch.distributions.Uniform(-bound, bound).variance


def uniform_init_variances(sample) -> torch.Tensor:
    """(Var w, Var b) of U(−1/√fan_in, 1/√fan_in) from torch.distributions: the closed form the estimates target."""
    variance = _uniform_variance(sample["fan_in"])
    return torch.stack([variance, variance], -1)


def uniform_layer_moments(sample) -> torch.Tensor:
    """(E z, E z²) = (0, n·v·Var A + Var b) with Var A = Var b from torch.distributions.Uniform (independent A, b, y)."""
    variance = _uniform_variance(sample["n"])
    return torch.stack([torch.zeros_like(variance), sample["n"] * sample["v"] * variance + variance], -1)


def uniform_network_moments(sample) -> torch.Tensor:
    """(E y_L, E y_L²) by v_ℓ = n_{ℓ-1}·v_{ℓ-1}·Var A + Var b, v_0 = 1, with torch.distributions.Uniform's variance."""
    widths = sample["n"]
    value = torch.ones_like(widths[:, 0])
    for layer in range(widths.shape[1]):
        variance = _uniform_variance(widths[:, layer])
        value = widths[:, layer] * value * variance + variance
    return torch.stack([torch.zeros_like(value), value], -1)


def recursion(sample) -> torch.Tensor:
    """v_L by running v_ℓ = v_{ℓ-1}/3 + 1/(3 n_{ℓ-1}) from v_0 = 1, one layer at a time over the batch."""
    widths = sample["n"].to(torch.float64)
    value = torch.ones(widths.shape[0], dtype=torch.float64, device=widths.device)
    for layer in range(widths.shape[1]):
        value = value / 3 + 1 / (3 * widths[:, layer])
    return value


def _wrong_target(fn, position: int, wrong):
    """A mutant numeric function: the claim's estimate against a wrong formula at `position` of the target."""

    def mutant(sample):
        estimate, target = fn(sample)
        target = target.clone()
        target[..., position] = sample.evaluate(wrong) if isinstance(wrong, sp.Basic) else wrong(sample)
        return estimate, target

    return mutant


# ---------------------------------------------------------------------------------------------------------------
# Claims

INIT_VARIABLES = (Variable("fan_in", Integer(1, 32), r"\text{fan\_in}"), Variable("fan_out", Integer(128, 256), r"\text{fan\_out}"))

init_bound = Claim(
    id="init-bound",
    statement="nn.Linear(fan_in, fan_out)'s default weights and biases lie in [-1/√fan_in, 1/√fan_in]",
    lhs=None, rhs=1 / sp.sqrt(fan_in), relation="<=",
    variables=INIT_VARIABLES,
    assumptions=("the installed torch's nn.Linear.reset_parameters",),
    symbolic=FromTorchSource(quantity="bound", fan_in=fan_in),
    numeric=init_max_abs,
    references=(
        Reference("observed-bound", "the largest |w| or |b| of the fresh module (order statistic of ≥ 128 draws)",
                  lambda s: init_max_abs(s)[0], side="rhs",
                  relation="<=",
                  tolerance=Tolerance(0.08, 1e-6, "one-sided: the largest of the N = (fan_in + 1)·fan_out ≥ 256 iid "
                                                  "|U(-B, B)| never exceeds B (atol: float32 draws) and falls short of "
                                                  "it by B·E/N, E ∼ Exp(1); a shortfall over 0.08 B has probability "
                                                  "(1 − 0.08)^256 < 1e-9, while a bound 10% too large leaves a "
                                                  "shortfall of at least 1 − 1/1.1 = 9.1%")),
    ),
    mutants=(
        Mutant("std-for-bound", "1/√(3 fan_in): the standard deviation taken as the bound",
               numeric=lambda s: (init_max_abs(s)[0], 1 / torch.sqrt(3 * s["fan_in"]))),
        Mutant("fan-out", "1/√fan_out: fan_out in place of fan_in",
               numeric=lambda s: (init_max_abs(s)[0], 1 / torch.sqrt(s["fan_out"]))),
    ),
    dtypes=(torch.float64, torch.float32),
)

init_variance = Claim(
    id="init-variance",
    statement="default weights and biases of nn.Linear(fan_in, fan_out) have mean 0 and variance 1/(3 fan_in)",
    lhs=None, rhs=1 / (3 * fan_in), relation="≈",
    variables=INIT_VARIABLES,
    assumptions=("the installed torch's nn.Linear.reset_parameters",),
    symbolic=FromTorchSource(quantity="variance", fan_in=fan_in),
    numeric=init_moments,
    references=(Reference("torch-uniform", "Var of torch.distributions.Uniform(−1/√fan_in, 1/√fan_in), for w and b",
                          uniform_init_variances),),
    mutants=(
        *sharpness_mutants(init_moments),
        Mutant("bound-squared", "1/fan_in: Var U(-B, B) taken as B²", numeric=_wrong_target(init_moments, 0, 1 / fan_in)),
        Mutant("he-normal", "2/fan_in: the He (kaiming normal, ReLU gain) variance",
               numeric=_wrong_target(init_moments, 0, 2 / fan_in)),
        Mutant("bias-fan-out", "bias variance 1/(3 fan_out)", numeric=_wrong_target(init_moments, 1, 1 / (3 * fan_out))),
    ),
    # the draws are torch's default dtype and their statistics are taken in float64: no other dtype to run
    dtypes=(torch.float64,),
    instances=32,
)

LAYER_RHS = v / 3 + 1 / (3 * n_prev)

layer_variance = Claim(
    id="layer-variance",
    statement="one default-initialised layer z = Ay + b with n inputs, applied to y with E[y] = 0 and E[yₖ²] = v: "
              "E[zᵢ] = 0 and E[zᵢ²] = v/3 + 1/(3n)",
    lhs=None, rhs=LAYER_RHS, relation="≈",
    argument=(
        r"$z_i = \sum_{k=1}^{n} A_{ik} y_k + b_i$, and $\mathbb{E}[z_i] = \sum_k \mathbb{E}[A_{ik}]\,\mathbb{E}[y_k] "
        r"+ \mathbb{E}[b_i] = 0$, because $A$ and $b$ are independent of $y$ and have mean 0.",
        r"$\mathbb{E}[z_i^2] = \sum_{k,l} \mathbb{E}[A_{ik}A_{il}]\,\mathbb{E}[y_k y_l] + 2\sum_k "
        r"\mathbb{E}[A_{ik} b_i]\,\mathbb{E}[y_k] + \mathbb{E}[b_i^2]$, expanding the square and using independence.",
        r"$\mathbb{E}[A_{ik}A_{il}] = 0$ for $k \ne l$ (independent, mean 0), so only $k = l$ remains, even "
        r"when the $y_k$ are correlated; the middle sum is 0 because $\mathbb{E}[A_{ik} b_i] = 0$.",
        r"So $\mathbb{E}[z_i^2] = \sum_{k=1}^{n} \frac{1}{3n}\, v + \frac{1}{3n} = \frac{v}{3} + \frac{1}{3n}$, "
        r"with $\mathrm{Var}\,A_{ik} = \mathrm{Var}\,b_i = \frac{1}{3n}$ for the uniform law on "
        r"$[-1/\sqrt{n}, 1/\sqrt{n}]$.",
    ),
    variables=(Variable("n", Integer(1, 12), r"n_{\ell-1}"), Variable("v", Positive(0.1, 10.0), "v"),
               Variable("rho", Real(0.0, 0.9), r"\rho")),
    assumptions=("y independent of (A, b)", "E[y] = 0, E[yₖ²] = v; the yₖ may be correlated (ρ)",
                 "Aᵢⱼ, bᵢ iid, mean 0, variance 1/(3n)"),
    symbolic=IndependentSecondMoment(width=n_prev, variance=v, widths=(1, 2, 3, 4),
                                     weight_variance=init_variance.rhs.subs(fan_in, n_prev),
                                     bias_variance=init_variance.rhs.subs(fan_in, n_prev)),
    numeric=layer_moments,
    references=(Reference("torch-uniform", "(0, n·v·Var A + Var b), Var from torch.distributions.Uniform(±1/√n)",
                          uniform_layer_moments),),
    mutants=(
        *sharpness_mutants(layer_moments),
        Mutant("no-bias", "v/3: the bias forgotten", numeric=_wrong_target(layer_moments, 1, v / 3)),
        Mutant("n-out", "v + 1/(3n): Var A_ij taken as 1/n", numeric=_wrong_target(layer_moments, 1, v + 1 / (3 * n_prev))),
        Mutant("cross-terms", "v(1 + (n-1)ρ)/3 + 1/(3n): correlations of y counted as if A were shared",
               numeric=_wrong_target(layer_moments, 1, v * (1 + (n_prev - 1) * rho) / 3 + 1 / (3 * n_prev))),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=16,
)

# v_0 = Var x_i = 1 and v_{ℓ+1} = layer-variance's right-hand side at v = v_ℓ, n_{ℓ-1} = n_ℓ (layer ℓ + 1's fan-in).
LAYER_RECURSION = Recursion(index=L, state=v, step=layer_variance.rhs.subs(n_prev, n[L]), initial=1, origin=0)

closed_form = Claim(
    id="closed-form",
    statement="the layer recursion v ↦ v/3 + 1/(3n), run from the input variance v₀ = 1 through layers 1, …, L "
              "(layer 1 has n₀ inputs, layer 2 has n₁, and so on), unrolled: the problem's sum from the top layer down equals "
              "the closed form",
    lhs=VARIANCE_UNROLLED, rhs=VARIANCE_CLOSED_FORM,
    variables=(Variable("n", Widths("L", 1, 64), r"n_{\ell}"),),
    dims={"L": (1, 8)},
    assumptions=("n_L = 1",),
    symbolic=RecursionInduction(recursion=LAYER_RECURSION, first=1),
    references=(Reference("recursion", "v_L by running the recursion layer by layer", recursion),),
    mutants=(
        Mutant("exponent-off-by-one", "1/(3^{L-ℓ} n_{ℓ-1}): one factor 1/3 short in every term",
               rhs=3 ** (-L) + sp.Sum(1 / (3 ** (L - ell) * n[ell - 1]), (ell, 1, L))),
        Mutant("no-bias", "3^{-L}: the bias terms forgotten", rhs=3 ** (-L)),
        Mutant("no-input", "the input's 3^{-L} forgotten", rhs=sp.Sum(1 / (3 ** (L - ell + 1) * n[ell - 1]), (ell, 1, L))),
        Mutant("n-ell", "1/(3^{L-ℓ+1} n_ℓ): the layer's output width for its input width (n_L = 1)",
               rhs=3 ** (-L) + sp.Sum(1 / (3 ** (L - ell + 1) * n[ell]), (ell, 1, L - 1)) + third),
    ),
    dtypes=(torch.float64, torch.float32, torch.float16, torch.bfloat16),
)


GRADEABLE_CLOSED_FORM = Problem(
    id="kaiming-variance", title="Output variance of a linear MLP under PyTorch's default initialisation",
    source="hw6-2021 P2", claim=closed_form,
    statement=r"Give $\operatorname{Var} y_L$ for the depth-$L$ network with $\sigma(z) = z$, widths "
              r"$n_0, \dots, n_{L-1}$, $n_L = 1$, and PyTorch's default nn.Linear initialisation.",
    symbols=(Symbol(L, "L"), Symbol(n, "n_k", ("n",))),
    variables=(Variable("n", append_value(Widths("L", 1, 64), 1.0)),),  # n_L = 1 is part of the answer's domain
    dims={"L": (1, 2, 3, 4, 5, 6)},
    mutant_feedback={
        "exponent-off-by-one": "each layer multiplies the variance by 1/3, so layer ℓ contributes "
                               "1/(3^{L−ℓ+1} n_{ℓ−1}): one factor 1/3 is missing in every term",
        "no-bias": "the bias terms are missing: layer ℓ's bias adds variance 1/(3 n_{ℓ−1})",
        "no-input": "the input's contribution 3^{−L} is missing",
        "n-ell": "the weights of layer ℓ have fan-in n_{ℓ−1}: the term is 1/(3^{L−ℓ+1} n_{ℓ−1}), not n_ℓ",
    },
)
GRADEABLE = (GRADEABLE_CLOSED_FORM,)

network_moments_claim = Claim(
    id="network-moments",
    statement="real default-initialised nn.Linear networks of depth L with σ(z) = z and iid standardised inputs: "
              "the output has mean 0 and the closed-form variance",
    lhs=None, rhs=VARIANCE_CLOSED_FORM, relation="≈",
    variables=(Variable("n", Widths("L", 1, 6), r"n_{\ell}"),),
    dims={"L": (1, 5)},
    assumptions=("PyTorch's default nn.Linear init", "xᵢ iid, mean 0, variance 1"),
    symbolic=not_attempted("an empirical check on real networks: its mathematics is layer-variance (each layer, "
                           "proved) composed by closed-form (proved by induction)"),
    numeric=network_moments,
    references=(Reference("torch-uniform", "(0, v_L) by v_ℓ = n_{ℓ-1} v_{ℓ-1} Var A + Var b with "
                                           "torch.distributions.Uniform(±1/√n_{ℓ-1})", uniform_network_moments),),
    mutants=(
        *sharpness_mutants(network_moments),
        Mutant("exponent-off-by-one", "3^{-L} + Σ 1/(3^{L-ℓ} n_{ℓ-1})", numeric=_wrong_target(
            network_moments, 1, 3 ** (-L) + sp.Sum(1 / (3 ** (L - ell) * n[ell - 1]), (ell, 1, L)))),
        Mutant("bound-squared", "Var U(-B, B) taken as B²: v_ℓ = v_{ℓ-1} + 1/n_{ℓ-1}",
               numeric=_wrong_target(network_moments, 1, 1 + sp.Sum(1 / n[ell - 1], (ell, 1, L)))),
        Mutant("no-bias", "3^{-L}: the biases forgotten", numeric=_wrong_target(network_moments, 1, 3 ** (-L))),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=16,
)


# ---------------------------------------------------------------------------------------------------------------
# Figure


def draw_variance_over_depth(ax) -> None:
    """Empirical Var(y_L) of real nn.Linear networks against the closed form, for depths 1..8."""
    from checkers import Sample

    profile = [4, 2, 5, 3, 6, 2, 4, 3]
    depths = list(range(1, len(profile) + 1))
    predicted, empirical, errors = [], [], []
    for depth in depths:
        widths = torch.tensor([profile[:depth]], dtype=torch.float64)
        sample = Sample(values={"n": widths}, dims={"L": depth}, seed=depth, size=1)
        y = network_outputs(sample, copies=20000)
        var, se = variance_estimate(y, torch.tensor([y.shape[-1]]))
        predicted.append(float(sample.evaluate(VARIANCE_CLOSED_FORM)[0]))
        empirical.append(float(var[0]))
        errors.append(5 * float(se[0]))
    ax.semilogy(depths, predicted, "-", label=r"$3^{-L} + \sum_\ell 1/(3^{L-\ell+1} n_{\ell-1})$")
    ax.errorbar(depths, empirical, yerr=errors, fmt="o", capsize=3, label="nn.Linear networks (±5 s.e.)")
    ax.set_xlabel("depth L (widths 4, 2, 5, 3, 6, 2, 4, 3)")
    ax.set_ylabel(r"Var $y_L$")
    ax.legend()


STATEMENT = (r"For $y_L = A_L y_{L-1} + b_L$, $y_\ell = \sigma(A_\ell y_{\ell-1} + b_\ell)$, $y_0 = x$, "
                  r"$A_\ell \in \mathbb R^{n_\ell \times n_{\ell-1}}$, $n_L = 1$, $\sigma(z) = z$ and $x$ with iid "
                  r"zero-mean unit-variance entries: with PyTorch's default initialisation, what are the mean and "
                  r"variance of $y_L$? (Read the source of nn.Linear.)")

DERIVATIONS = (
    Derivation(
        id="kaiming-variance",
        title="Output variance of a linear MLP under PyTorch's default initialisation",
        source="hw6-2021 P2, student-hw6 P2",
        statement=STATEMENT,
        claims=(init_bound, init_variance, layer_variance, closed_form, network_moments_claim),
        parts=(
            Part(label="", question=STATEMENT,
                 answer=Answer(
                     formula=VARIANCE_CLOSED_FORM, lhs=sp.Function("Var")(sp.Symbol("y_L")),
                     display=sp.Add(sp.Sum(sp.Pow(sp.Mul(sp.Pow(3, sp.Add(L, -ell, 1, evaluate=False), evaluate=False),
                                                          n[sp.Add(ell, -1, evaluate=False)], evaluate=False), -1,
                                                   evaluate=False), (ell, 1, L)),
                                    sp.Pow(sp.Pow(3, L, evaluate=False), -1, evaluate=False), evaluate=False),
                     text=r"and $\mathbb{E}[y_L] = 0$. PyTorch's default initialisation of "
                          r"\texttt{nn.Linear}$(n_{\ell-1}, n_\ell)$ draws every weight and bias from "
                          r"$\mathcal{U}(-1/\sqrt{n_{\ell-1}}, 1/\sqrt{n_{\ell-1}})$, of mean 0 and variance "
                          r"$1/(3n_{\ell-1})$. So every layer has mean-zero outputs, and it maps the variance $v$ of its "
                          r"input entries to $v/3 + 1/(3n_{\ell-1})$; unrolling from $v_0 = 1$ gives the sum above, "
                          r"$\frac{1}{3n_{L-1}} + \frac{1}{3^2 n_{L-2}} + \dots + \frac{1}{3^L n_0} + \frac{1}{3^L}$.",
                     scope=r"The layer step $v \mapsto v/3 + 1/(3n_{\ell-1})$ is proved by sympy for "
                           r"$n_{\ell-1} \in \{1, 2, 3, 4\}$ (the general sum has the same terms) and checked by Monte "
                           r"Carlo on real nn.Linear layers; the unrolled formula is proved for every depth $L$ by "
                           r"induction."),
                 claims=("init-bound", "init-variance", "layer-variance", "closed-form", "network-moments")),
        ),
        figures=(Figure("variance-over-depth", "The output variance of real default-initialised networks against the "
                        "closed form, as the depth L grows", draw_variance_over_depth),),
    ),
)
