r"""Removing batch norm after training: fold an eval-mode BatchNorm into the preceding Conv2d or Linear layer.

# Main statements

* `per-channel`: in eval mode, batch norm with running statistics $\mu, \sigma^2$ after an affine map
  $Wx + b$ is itself affine: for every channel,
  $\gamma \frac{Wx + b - \mu}{\sqrt{\sigma^2 + \varepsilon}} + \beta = W'x + b'$ with
  $W' = \frac{\gamma W}{\sqrt{\sigma^2 + \varepsilon}}$ and
  $b' = \beta + \frac{\gamma (b - \mu)}{\sqrt{\sigma^2 + \varepsilon}}$.
* `bn-fold-weight`, `bn-fold-bias`: $W'$ is the slope and $b'$ the value at 0 of the per-channel map
  (the reference formulas `FOLDED_WEIGHT` and `FOLDED_BIAS` of this module).

# Notation

For one output channel $c$ of a Conv2d or Linear layer, $W$ stands for its filter (row) and $Wx$ for the
channel's pre-activation; $\gamma, \beta$ are the BN affine parameters, $\mu, \sigma^2$ the running mean
and the running variance, $\varepsilon$ the BN epsilon. Every formula acts channel by channel, so the
scalar identities hold verbatim with $W$ a row of the weight matrix (or a conv filter) and $x$ the input.

# Implementation notes

* The per-channel identities are proved by sympy in general (scalar algebra, $\sigma^2, \varepsilon > 0$).
* Numerically they are checked on 1000 random channels in float64, float32 and float16, and compared with
  `torch.nn.functional.batch_norm` in eval mode, with autograd's slope of that map, and with
  `torch.nn.utils.fusion.fuse_linear_bn_weights` (ε is drawn from {1e-5, 1e-3, 1e-1}; 1e-5 is
  PyTorch's default).

# References

* hw6-2021 Problem 1 and hw7-2024 Problem 3 (removing BN after training).
* student-hw6 Problem 1 (the submitted `smallNetTrain` → `smallNetTest` notebook).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_linear_bn_weights

from checkers import Claim, Derivation, Mutant, Positive, Real, Reference, Step, Variable, identity
from checkers.kinds import Kind

# The names the grader imports: one channel's parameters, and the folded weight and bias.
gamma = sp.Symbol("gamma", real=True)
W = sp.Symbol("W", real=True)
sigma2 = sp.Symbol("sigma2", positive=True)
epsilon = sp.Symbol("epsilon", positive=True)
beta = sp.Symbol("beta", real=True)
b = sp.Symbol("b", real=True)
mu = sp.Symbol("mu", real=True)
x = sp.Symbol("x", real=True)

FOLDED_WEIGHT = gamma * W / sp.sqrt(sigma2 + epsilon)
FOLDED_BIAS = beta + gamma * (b - mu) / sp.sqrt(sigma2 + epsilon)

# Eval-mode batch norm of one channel of the affine map x -> Wx + b. The sums are kept binary
# (evaluate=False) so that numeric evaluation follows the layer's order, (Wx + b) − μ and W'x + b', and the
# low-precision rounding bound counts every rounding of a partial sum.
BN_OF_AFFINE = gamma * sp.Add(W * x + b, -mu, evaluate=False) / sp.sqrt(sigma2 + epsilon) + beta
FOLDED_MAP = sp.Add(FOLDED_WEIGHT * x, FOLDED_BIAS, evaluate=False)

EPSILONS = (1e-5, 1e-3, 1e-1)


@dataclass(frozen=True)
class OneOf(Kind):
    """A scalar drawn uniformly from a few fixed values (BN's epsilon is a hyperparameter, not a continuum)."""

    values: tuple[float, ...] = EPSILONS

    @property
    def description(self) -> str:
        return f"one of {', '.join(f'{v:g}' for v in self.values)}"

    def draw(self, batch, dims, gen):
        index = torch.randint(len(self.values), (batch,), generator=gen)
        return torch.tensor(self.values, dtype=torch.float64)[index]


CHANNEL = (
    Variable("gamma", Real(-2.0, 2.0), r"\gamma"),
    Variable("W", Real(-3.0, 3.0)),
    Variable("sigma2", Positive(0.01, 10.0), r"\sigma^2"),
    Variable("epsilon", OneOf(), r"\varepsilon"),
    Variable("beta", Real(-2.0, 2.0), r"\beta"),
    Variable("b", Real(-3.0, 3.0)),
    Variable("mu", Real(-3.0, 3.0), r"\mu"),
    Variable("x", Real(-3.0, 3.0)),
)


def _torch_batch_norm_eval(sample, inputs: torch.Tensor) -> torch.Tensor:
    """torch's eval-mode batch norm, one channel per instance: input (1, B); one call per epsilon value."""
    out = torch.empty_like(inputs)
    eps = sample["epsilon"]
    for value in EPSILONS:
        rows = eps == torch.tensor(value, dtype=eps.dtype, device=eps.device)
        if bool(rows.any()):
            out[rows] = F.batch_norm(inputs[rows].reshape(1, -1), sample["mu"][rows], sample["sigma2"][rows],
                                     sample["gamma"][rows], sample["beta"][rows], training=False,
                                     eps=value).reshape(-1)
    return out


def torch_bn_of_affine(sample) -> torch.Tensor:
    """BN_eval(Wx + b) computed by torch.nn.functional.batch_norm."""
    return _torch_batch_norm_eval(sample, sample["W"] * sample["x"] + sample["b"])


def torch_fused(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.nn.utils.fusion.fuse_linear_bn_weights on B one-input channels: weights (B,), biases (B,)."""
    w, bias = fuse_linear_bn_weights(sample["W"].unsqueeze(-1), sample["b"], sample["mu"], sample["sigma2"],
                                     sample["epsilon"], sample["gamma"], sample["beta"])
    return w.detach().squeeze(-1), bias.detach()


def torch_fused_map(sample) -> torch.Tensor:
    w, bias = torch_fused(sample)
    return w * sample["x"] + bias


def autograd_slope(sample) -> torch.Tensor:
    """d/dx BN_eval(Wx + b) at x = 0 by autograd through torch's batch norm (the slope of the folded map)."""
    with torch.enable_grad():
        point = torch.zeros_like(sample["W"], requires_grad=True)
        out = _torch_batch_norm_eval(sample, sample["W"] * point + sample["b"])
        (slope,) = torch.autograd.grad(out.sum(), point)
    return slope


def autograd_intercept(sample) -> torch.Tensor:
    """BN_eval(W·0 + b) through torch's batch norm: the folded map's value at x = 0."""
    return _torch_batch_norm_eval(sample, sample["b"])


ROOT = sp.sqrt(sigma2 + epsilon)
NO_EPS_WEIGHT = gamma * W / sp.sqrt(sigma2)
STD_WEIGHT = gamma * W / sp.sqrt(sp.sqrt(sigma2) + epsilon)
NO_SQRT_WEIGHT = gamma * W / (sigma2 + epsilon)
NO_EPS_BIAS = beta + gamma * (b - mu) / sp.sqrt(sigma2)
NO_MEAN_BIAS = beta + gamma * b / ROOT
MEAN_UNSCALED_BIAS = beta + gamma * b / ROOT - mu

per_channel = Claim(
    id="per-channel",
    statement="in eval mode, BN(Wx + b) = W'x + b' channel by channel, with W' = γW/√(σ²+ε), "
              "b' = β + γ(b − μ)/√(σ²+ε)",
    lhs=BN_OF_AFFINE,
    rhs=FOLDED_MAP,
    variables=CHANNEL,
    assumptions=("eval mode: μ, σ² are the running statistics, fixed numbers", "σ² > 0, ε > 0"),
    steps=(
        Step(gamma * W / ROOT * x + gamma * (b - mu) / ROOT + beta,
             "split the numerator: (Wx + b − μ)/√(σ²+ε) = Wx/√(σ²+ε) + (b − μ)/√(σ²+ε)"),
        Step(FOLDED_MAP, "collect: the coefficient of x is W', everything else is b'"),
    ),
    symbolic=identity(),
    references=(
        Reference("torch-batch-norm", "torch.nn.functional.batch_norm(Wx + b, μ, σ², γ, β, training=False, eps=ε)",
                  torch_bn_of_affine, side="lhs"),
        Reference("torch-fusion", "W̃x + b̃ with (W̃, b̃) = torch.nn.utils.fusion.fuse_linear_bn_weights",
                  torch_fused_map),
    ),
    mutants=(
        Mutant("no-eps", "ε forgotten in both folded parameters", rhs=NO_EPS_WEIGHT * x + NO_EPS_BIAS),
        Mutant("std-instead-of-var", "the running variance treated as a standard deviation: √(σ + ε)",
               rhs=STD_WEIGHT * x + beta + gamma * (b - mu) / sp.sqrt(sp.sqrt(sigma2) + epsilon)),
        Mutant("bias-without-mean", "b' = β + γb/√(σ²+ε): the running mean is not subtracted",
               rhs=FOLDED_WEIGHT * x + NO_MEAN_BIAS),
    ),
)

fold_weight = Claim(
    id="bn-fold-weight",
    statement="the folded weight W' = γW/√(σ²+ε) is the slope of x ↦ BN(Wx + b)",
    lhs=BN_OF_AFFINE.subs(x, 1) - BN_OF_AFFINE.subs(x, 0),
    rhs=FOLDED_WEIGHT,
    variables=CHANNEL[:-1],
    assumptions=("eval mode", "an affine map's slope is f(1) − f(0)"),
    symbolic=identity(),
    references=(
        Reference("torch-fusion", "weight of torch.nn.utils.fusion.fuse_linear_bn_weights",
                  lambda s: torch_fused(s)[0]),
        Reference("autograd-slope", "d/dx of torch's eval-mode batch_norm(Wx + b) by autograd", autograd_slope,
                  side="lhs"),
    ),
    mutants=(
        Mutant("no-eps", "γW/√σ²: ε forgotten", rhs=NO_EPS_WEIGHT),
        Mutant("std-instead-of-var", "γW/√(σ + ε): the variance treated as a standard deviation", rhs=STD_WEIGHT),
        Mutant("no-sqrt", "γW/(σ² + ε): divided by the variance, not by the standard deviation", rhs=NO_SQRT_WEIGHT),
    ),
)

fold_bias = Claim(
    id="bn-fold-bias",
    statement="the folded bias b' = β + γ(b − μ)/√(σ²+ε) is the value of x ↦ BN(Wx + b) at x = 0",
    lhs=BN_OF_AFFINE.subs(x, 0),
    rhs=FOLDED_BIAS,
    variables=CHANNEL[:-1],
    assumptions=("eval mode",),
    symbolic=identity(),
    references=(
        Reference("torch-fusion", "bias of torch.nn.utils.fusion.fuse_linear_bn_weights", lambda s: torch_fused(s)[1]),
        Reference("torch-batch-norm", "torch's eval-mode batch_norm(b)", autograd_intercept, side="lhs"),
    ),
    mutants=(
        Mutant("no-eps", "β + γ(b − μ)/√σ²: ε forgotten", rhs=NO_EPS_BIAS),
        Mutant("bias-without-mean", "β + γb/√(σ²+ε): the running mean is not subtracted", rhs=NO_MEAN_BIAS),
        Mutant("mean-unscaled", "β + γb/√(σ²+ε) − μ: the mean subtracted after scaling", rhs=MEAN_UNSCALED_BIAS),
        Mutant("std-instead-of-var", "β + γ(b − μ)/√(σ + ε)",
               rhs=beta + gamma * (b - mu) / sp.sqrt(sp.sqrt(sigma2) + epsilon)),
    ),
)

DERIVATIONS = (
    Derivation(
        id="bn-fold",
        title="Removing batch norm after training",
        source="hw6-2021 P1, hw7-2024 P3, student-hw6 P1",
        statement=r"During testing, batch normalization can be combined with the preceding convolutional or "
                  r"linear layer. Set the weights of `smallNetTest` (no BN) from the trained `smallNetTrain` "
                  r"(Conv2d-BN2d-ReLU twice, Linear-BN1d-ReLU, Linear-ReLU) so that both produce the same outputs.",
        claims=(per_channel, fold_weight, fold_bias),
    ),
)
