r"""Removing batch norm after training: fold an eval-mode BatchNorm into the preceding Conv2d or Linear layer.

# Main statements

* `per-channel`: in eval mode, batch norm with running statistics $\mu, \sigma^2$ after an affine map
  $Wx + b$ is itself affine: for every channel,
  $\gamma \frac{Wx + b - \mu}{\sqrt{\sigma^2 + \varepsilon}} + \beta = W'x + b'$ with
  $W' = \frac{\gamma W}{\sqrt{\sigma^2 + \varepsilon}}$ and
  $b' = \beta + \frac{\gamma (b - \mu)}{\sqrt{\sigma^2 + \varepsilon}}$.
* `bn-fold-weight`, `bn-fold-bias`: $W'$ is the slope and $b'$ the value at 0 of the per-channel map
  (the reference formulas `FOLDED_WEIGHT` and `FOLDED_BIAS` of this module).
* `conv-fold-matches-torch`, `linear-fold-matches-torch`: applying $W', b'$ channel by channel to a Conv2d
  (resp. Linear) layer and its BN gives the parameters of `torch.nn.utils.fusion.fuse_conv_bn_weights`
  (resp. `fuse_linear_bn_weights`).
* `folded-network`: the seed's `smallNetTest` with folded parameters equals the trained `smallNetTrain`
  in eval mode, output for output. The answer's code, `remove_batch_norm(model, model_test)` (the
  problem's notebook cell written out), is run by this claim as the reference `answer-code`.

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
* The layer and network claims use the sympy formulas themselves, turned into torch functions by
  `sympy.lambdify`, so the folding that is checked is the folding that was proved; their mutants are the
  per-channel mutants pushed through the same code. The layer claims draw 400 random layers (weights,
  BN parameters, running statistics) and fold all their channels in one call to torch's fusion function.
* `folded-network` uses the seed's architecture shrunk for speed (4 channels instead of 16, 8×8 images
  instead of 32×32, so fc1 is Linear(256, 64) instead of Linear(16384, 1024)). Each hypothesis
  configuration builds one network from its seed, draws γ, β at random and trains it 8 SGD steps in train
  mode on synthetic images (so μ, σ² are non-trivial), then compares both networks in eval mode on 250
  images, and checks the folded layers against `fuse_conv_bn_eval` / `fuse_linear_bn_eval`. Folding the
  train-mode batch statistics instead of the running ones is a mutant. No symbolic attempt: a network
  output is not a closed form, and the layer algebra is what `per-channel` proves.
* float16 is not run for the layer claims: they compare two implementations of the same arithmetic, and
  in half precision the cancelling bias terms only measure conditioning. The network claim runs float16
  with the tolerance stated next to it.

# References

* hw6-2021 Problem 1 and hw7-2024 Problem 3 (removing BN after training).
* student-hw6 Problem 1 (the submitted `smallNetTrain` → `smallNetTest` notebook).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights

from checkers import (Answer, Claim, Derivation, Kind, Misconception, Mutant, Part, Positive, Problem, Real, Reference,
                      Step, Symbol, Tolerance, Variable, identity, not_attempted)

# The names the grader imports: one channel's parameters, and the folded weight and bias.
gamma = sp.Symbol("gamma", real=True)
W = sp.Symbol("W", real=True)
sigma2 = sp.Symbol("sigma^2", positive=True)  # prints as σ²; samples key it "sigma^2"
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
    Variable("sigma^2", Positive(0.01, 10.0), r"\sigma^2"),
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
            out[rows] = F.batch_norm(inputs[rows].reshape(1, -1), sample["mu"][rows], sample["sigma^2"][rows],
                                     sample["gamma"][rows], sample["beta"][rows], training=False,
                                     eps=value).reshape(-1)
    return out


def torch_bn_of_affine(sample) -> torch.Tensor:
    """BN_eval(Wx + b) computed by torch.nn.functional.batch_norm."""
    return _torch_batch_norm_eval(sample, sample["W"] * sample["x"] + sample["b"])


def torch_fused(sample) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.nn.utils.fusion.fuse_linear_bn_weights on B one-input channels: weights (B,), biases (B,)."""
    w, bias = fuse_linear_bn_weights(sample["W"].unsqueeze(-1), sample["b"], sample["mu"], sample["sigma^2"],
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


_BN_SPELLINGS = (
    Symbol(gamma, r"\gamma", ("gamma",)), Symbol(W, "W", ("w",)), Symbol(sigma2, r"\sigma^2", ("sigma2", "var")),
    Symbol(sp.sqrt(sigma2), r"\sigma", ("sigma", r"\sigma_B"), listed=False),
    Symbol(epsilon, r"\epsilon", (r"\varepsilon", "eps", "epsilon")),
    Symbol(beta, r"\beta", ("beta",)), Symbol(b, "b"), Symbol(mu, r"\mu", ("mu", r"\mu_B")),
)
_NO_EPS = "ε is missing: batch norm divides by √(σ² + ε)"
_STD = "σ² is the running variance: divide by √(σ² + ε), not √(σ + ε)"
_BN_STATEMENT = r"$x \mapsto \gamma\frac{Wx + b - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta$"

GRADEABLE_WEIGHT = Problem(
    id="bn-fold-weight", title="Folding eval-mode batch norm into the preceding layer: the weight",
    source="hw6-2021 P1", claim=fold_weight,
    statement=rf"Give the weight $W'$ of the layer that replaces {_BN_STATEMENT}.",
    symbols=tuple(s for s in _BN_SPELLINGS if s.target not in (beta, b, mu)),
    instances_per_group=96,
    misconceptions=(
        Misconception("no-gamma", "γ is missing: the BN scale multiplies the folded weight",
                      lambda ref: ref.subs(gamma, 1)),
        Misconception("multiplied", "you multiplied by √(σ² + ε) instead of dividing by it",
                      lambda ref: ref * (sigma2 + epsilon)),
    ),
    mutant_feedback={"no-eps": _NO_EPS, "std-instead-of-var": _STD,
                     "no-sqrt": "your answer is the reference without the square root: divide by the standard "
                                "deviation √(σ² + ε), not by the variance"},
)

fold_bias = Claim(
    id="bn-fold-bias",
    statement="the folded bias b' = β + γ(b − μ)/√(σ²+ε) is what remains of BN(Wx + b) once the folded weight's "
              "term W'x is taken away, for every x (so it is the map's value at x = 0)",
    lhs=sp.Add(BN_OF_AFFINE, -FOLDED_WEIGHT * x, evaluate=False),
    rhs=FOLDED_BIAS,
    variables=CHANNEL,
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


GRADEABLE_BIAS = Problem(
    id="bn-fold-bias", title="Folding eval-mode batch norm into the preceding layer: the bias",
    source="hw6-2021 P1", claim=fold_bias,
    statement=rf"Give the bias $b'$ of the layer that replaces {_BN_STATEMENT}.",
    symbols=tuple(s for s in _BN_SPELLINGS if s.target != W),
    instances_per_group=96,
    misconceptions=(
        Misconception("no-beta", "β is missing: the BN shift is added to the folded bias", lambda ref: ref.subs(beta, 0)),
        Misconception("unscaled", "b − μ must be scaled by γ/√(σ² + ε)", beta + b - mu),
    ),
    mutant_feedback={"no-eps": _NO_EPS, "std-instead-of-var": _STD,
                     "bias-without-mean": "the running mean μ is not subtracted: the bias is β + γ(b − μ)/√(σ² + ε)",
                     "mean-unscaled": "μ must be scaled with b: the bias is β + γ(b − μ)/√(σ² + ε)"},
)
GRADEABLE = (GRADEABLE_WEIGHT, GRADEABLE_BIAS)


# ---------------------------------------------------------------------------------------------------------------
# Whole layers and the whole network: the folding formulas above, applied channel by channel with torch.

Fold = Callable[..., torch.Tensor]
_ARGS = (gamma, W, sigma2, epsilon, beta, b, mu)


def folding(weight: sp.Expr = FOLDED_WEIGHT, bias: sp.Expr = FOLDED_BIAS) -> tuple[Fold, Fold]:
    """The sympy folding formulas as torch functions of (γ, W, σ², ε, β, b, μ), broadcasting like tensors."""
    return (sp.lambdify(_ARGS, weight, modules=[{"sqrt": torch.sqrt}]),
            sp.lambdify(_ARGS, bias, modules=[{"sqrt": torch.sqrt}]))


def fold_layer(layer: nn.Module, bn: nn.modules.batchnorm._BatchNorm, formulas: tuple[Fold, Fold],
               mean: torch.Tensor | None = None, var: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Folded (weight, bias) of `layer` followed by eval-mode `bn`; `mean`/`var` replace the running statistics."""
    weight_of, bias_of = formulas
    mean = bn.running_mean if mean is None else mean
    var = bn.running_var if var is None else var
    per_out = (-1,) + (1,) * (layer.weight.dim() - 1)  # one channel per output row / filter
    folded_w = weight_of(bn.weight.reshape(per_out), layer.weight, var.reshape(per_out), bn.eps,
                         bn.bias.reshape(per_out), layer.bias.reshape(per_out), mean.reshape(per_out))
    folded_b = bias_of(bn.weight, layer.weight, var, bn.eps, bn.bias, layer.bias, mean)
    return folded_w.detach(), folded_b.detach()


@dataclass(frozen=True)
class Array(Kind):
    """An array of iid entries per instance, shape given by dimension names: N(0, scale²), or log-uniform."""

    shape: tuple[int | str, ...] = ()
    scale: float = 1.0
    positive: tuple[float, float] | None = None  # (low, high) for a log-uniform positive array

    @property
    def description(self) -> str:
        what = f"log-uniform in {self.positive}" if self.positive else f"N(0, {self.scale:g}²) entries"
        return f"array of shape ({', '.join(map(str, self.shape))}), {what}"

    def draw(self, batch, dims, gen):
        shape = (batch, *(s if isinstance(s, int) else dims[s] for s in self.shape))
        if self.positive is None:
            return self.scale * torch.randn(*shape, generator=gen, dtype=torch.float64)
        low, high = map(math.log, self.positive)
        return torch.exp(low + (high - low) * torch.rand(*shape, generator=gen, dtype=torch.float64))


BN_EPS = 1e-5  # nn.BatchNorm's default


def _layer_variables(weight_shape: tuple[str, ...]) -> tuple[Variable, ...]:
    return (Variable("weight", Array(weight_shape)), Variable("bias", Array(("c_out",))),
            Variable("bn_weight", Array(("c_out",))), Variable("bn_bias", Array(("c_out",))),
            Variable("running_mean", Array(("c_out",), scale=2.0)),
            Variable("running_var", Array(("c_out",), positive=(0.01, 10.0))))


def _fold_batched(sample, formulas: tuple[Fold, Fold]) -> torch.Tensor:
    """Our folded (weight, bias) of B random layers at once, flattened per instance."""
    weight_of, bias_of = formulas
    w = sample["weight"]
    per_out = w.shape[:2] + (1,) * (w.dim() - 2)  # one channel per output row / filter, broadcast over its taps
    channel = [sample[n] for n in ("bn_weight", "running_var", "bn_bias", "bias", "running_mean")]
    gamma_, var_, beta_, bias_, mean_ = (t.reshape(per_out) for t in channel)
    folded_w = weight_of(gamma_, w, var_, BN_EPS, beta_, bias_, mean_)
    gamma_b, var_b, beta_b, bias_b, mean_b = channel  # (B, C_out): the bias formula does not involve W
    folded_b = bias_of(gamma_b, w, var_b, BN_EPS, beta_b, bias_b, mean_b)
    return torch.cat([folded_w.reshape(w.shape[0], -1), folded_b.reshape(w.shape[0], -1)], dim=1)


def _torch_fold_batched(sample, fuse) -> torch.Tensor:
    """torch.nn.utils.fusion on the B·C_out channels of B random layers (a channel's fold involves only itself)."""
    w = sample["weight"]
    batch, c_out = w.shape[:2]
    flat = lambda name: sample[name].reshape(batch * c_out)  # noqa: E731
    fused_w, fused_b = fuse(w.reshape(batch * c_out, *w.shape[2:]), flat("bias"), flat("running_mean"),
                            flat("running_var"), BN_EPS, flat("bn_weight"), flat("bn_bias"))
    return torch.cat([fused_w.detach().reshape(batch, -1), fused_b.detach().reshape(batch, -1)], dim=1)


def _layer_fold_claim(kind: str, weight_shape: tuple[str, ...], dims: dict, fuse) -> Claim:
    def ours(formulas):
        return lambda s: (_fold_batched(s, formulas), _torch_fold_batched(s, fuse))

    return Claim(
        id=f"{kind}-fold-matches-torch",
        statement=f"folding BN into a {kind} layer channel by channel with W', b' gives the parameters of "
                  f"torch.nn.utils.fusion.{fuse.__name__}",
        variables=_layer_variables(weight_shape),
        dims=dims,
        assumptions=(f"BN eps = {BN_EPS:g} (PyTorch's default)",),
        symbolic=not_attempted("the per-channel algebra is proved in per-channel; this claim compares tensors"),
        numeric=ours(folding()),
        mutants=(
            Mutant("no-eps", "ε forgotten", numeric=ours(folding(NO_EPS_WEIGHT, NO_EPS_BIAS))),
            Mutant("std-instead-of-var", "running variance used as a standard deviation",
                   numeric=ours(folding(STD_WEIGHT, beta + gamma * (b - mu) / sp.sqrt(sp.sqrt(sigma2) + epsilon)))),
            Mutant("bias-without-mean", "running mean not subtracted in the bias",
                   numeric=ours(folding(FOLDED_WEIGHT, NO_MEAN_BIAS))),
        ),
        dtypes=(torch.float64, torch.float32),
        instances=400,
    )


conv_fold = _layer_fold_claim("conv", ("c_out", "c_in", "k", "k"), {"c_out": (1, 6), "c_in": (1, 4), "k": (1, 3)},
                              fuse_conv_bn_weights)
linear_fold = _layer_fold_claim("linear", ("c_out", "c_in"), {"c_out": (1, 8), "c_in": (1, 8)},
                                fuse_linear_bn_weights)


# The seed's smallNetTrain / smallNetTest (student-hw6 P1), shrunk for speed: 4 channels instead of 16 on
# 8x8 images instead of 32x32, so fc1 is Linear(4·8·8, 8·8) instead of Linear(16·32·32, 32·32).
CHANNELS, SIZE, CLASSES = 4, 8, 10
HIDDEN = SIZE * SIZE
TRAIN_STEPS, TRAIN_BATCH, LEARNING_RATE, MOMENTUM = 8, 32, 0.05, 0.1
IMAGE_MEAN, IMAGE_SCALE = 1.0, 2.0


class SmallNetTrain(nn.Module):
    """smallNetTrain: (Conv2d-BN2d-ReLU) ×2, Linear-BN1d-ReLU, Linear-ReLU."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, CHANNELS, 3, padding=1), nn.BatchNorm2d(CHANNELS, momentum=MOMENTUM),
                                   nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1),
                                   nn.BatchNorm2d(CHANNELS, momentum=MOMENTUM), nn.ReLU())
        self.fc1 = nn.Sequential(nn.Linear(CHANNELS * SIZE * SIZE, HIDDEN), nn.BatchNorm1d(HIDDEN, momentum=MOMENTUM),
                                 nn.ReLU())
        self.fc2 = nn.Sequential(nn.Linear(HIDDEN, CLASSES), nn.ReLU())

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        return self.fc2(self.fc1(x.reshape(-1, CHANNELS * SIZE * SIZE)))


class SmallNetTest(nn.Module):
    """smallNetTest: the same network without the BN layers."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, CHANNELS, 3, padding=1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(CHANNELS, CHANNELS, 3, padding=1), nn.ReLU())
        self.fc1 = nn.Sequential(nn.Linear(CHANNELS * SIZE * SIZE, HIDDEN), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Linear(HIDDEN, CLASSES), nn.ReLU())

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        return self.fc2(self.fc1(x.reshape(-1, CHANNELS * SIZE * SIZE)))


@dataclass(frozen=True)
class Images(Kind):
    """A batch of 3 x SIZE x SIZE images with iid N(IMAGE_MEAN, IMAGE_SCALE²) pixels (synthetic, no data set)."""

    @property
    def description(self) -> str:
        return f"3x{SIZE}x{SIZE} image, iid N({IMAGE_MEAN:g}, {IMAGE_SCALE:g}²) pixels"

    def draw(self, batch, dims, gen):
        return IMAGE_MEAN + IMAGE_SCALE * torch.randn(batch, 3, SIZE, SIZE, generator=gen, dtype=torch.float64)


@lru_cache(maxsize=8)
def trained_small_net(seed: int) -> SmallNetTrain:
    """smallNetTrain with random weights (BN γ, β too) from `seed`, then TRAIN_STEPS SGD steps in train mode.

    Training on synthetic images and labels moves the running statistics away from (0, 1) and gives
    every BN layer its own γ, β, μ, σ². Float64 throughout; the returned network is in eval mode.
    """
    gen = torch.Generator().manual_seed(seed)
    net = SmallNetTrain().to(torch.float64)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen, dtype=torch.float64)
                                    * math.sqrt(2.0 / fan_in))
                module.bias.copy_(0.5 * torch.randn(module.bias.shape, generator=gen, dtype=torch.float64))
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                sign = torch.where(torch.rand(module.weight.shape, generator=gen) < 0.2, -1.0, 1.0)
                module.weight.copy_(sign * (0.5 + torch.rand(module.weight.shape, generator=gen, dtype=torch.float64)))
                module.bias.copy_(0.5 * torch.randn(module.bias.shape, generator=gen, dtype=torch.float64))
    optimizer = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE)
    net.train()
    with torch.enable_grad():
        for _ in range(TRAIN_STEPS):
            images = Images().draw(TRAIN_BATCH, {}, gen)
            labels = torch.randint(CLASSES, (TRAIN_BATCH,), generator=gen)
            optimizer.zero_grad()
            F.cross_entropy(net(images), labels).backward()
            optimizer.step()
    return net.eval()


FOLDED = ("conv1", "conv2", "fc1")  # the Sequential blocks whose (layer, BN) pair is folded


def folded_small_net(net: SmallNetTrain, formulas: tuple[Fold, Fold] = folding(),
                     statistics: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None) -> SmallNetTest:
    """smallNetTest with each (layer, BN) pair folded by `formulas`; `statistics` replaces running mean/var."""
    test = SmallNetTest().to(torch.float64)
    with torch.no_grad():
        for name in FOLDED:
            layer, bn = getattr(net, name)[0], getattr(net, name)[1]
            mean, var = (statistics or {}).get(name, (None, None))
            w, bias = fold_layer(layer, bn, formulas, mean, var)
            getattr(test, name)[0].weight.copy_(w)
            getattr(test, name)[0].bias.copy_(bias)
        test.fc2[0].weight.copy_(net.fc2[0].weight)
        test.fc2[0].bias.copy_(net.fc2[0].bias)
    return test.eval()


def torch_fused_small_net(net: SmallNetTrain) -> SmallNetTest:
    """smallNetTest whose layers are torch.nn.utils.fusion.fuse_conv_bn_eval / fuse_linear_bn_eval of net's."""
    test = SmallNetTest().to(torch.float64)
    test.conv1[0] = fuse_conv_bn_eval(net.conv1[0], net.conv1[1])
    test.conv2[0] = fuse_conv_bn_eval(net.conv2[0], net.conv2[1])
    test.fc1[0] = fuse_linear_bn_eval(net.fc1[0], net.fc1[1])
    test.fc2[0] = copy.deepcopy(net.fc2[0])
    return test.eval()


def train_mode_statistics(net: SmallNetTrain, images: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The batch mean and biased variance each BN layer normalizes with in train mode, on `images`."""
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    train = copy.deepcopy(net).train()
    hooks = []
    for name in FOLDED:
        def record(module, inputs, name=name):
            (z,) = inputs
            axes = [0] + list(range(2, z.dim()))
            seen[name] = (z.mean(dim=axes), z.var(dim=axes, unbiased=False))
        hooks.append(getattr(train, name)[1].register_forward_pre_hook(record))
    with torch.no_grad():
        train(images.to("cpu", torch.float64))
    return seen


def _at(module: nn.Module, sample) -> nn.Module:
    return copy.deepcopy(module).to(device=sample.device, dtype=sample.dtype)


def _network_sides(formulas: tuple[Fold, Fold] = folding(), batch_statistics: bool = False):
    def sides(sample):
        """(smallNetTrain in eval mode, smallNetTest with the folded layers) on the images x."""
        net = trained_small_net(sample.seed)
        stats = train_mode_statistics(net, sample["x"]) if batch_statistics else None
        test = folded_small_net(net, formulas, stats)
        with torch.no_grad():
            return _at(net, sample)(sample["x"]), _at(test, sample)(sample["x"])
    return sides


def remove_batch_norm(model, model_test):
    """Set smallNetTest's parameters from smallNetTrain: each BN folded into the layer before it."""
    with torch.no_grad():
        for name in ("conv1", "conv2", "fc1"):
            layer, bn = getattr(model, name)[0], getattr(model, name)[1]
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # γ/√(σ² + ε) per channel
            per_channel = (-1,) + (1,) * (layer.weight.dim() - 1)  # a filter, or a weight row
            new = getattr(model_test, name)[0]
            new.weight.copy_(layer.weight * scale.reshape(per_channel))  # W' = γW/√(σ² + ε)
            new.bias.copy_(bn.bias + scale * (layer.bias - bn.running_mean))  # b' = β + γ(b − μ)/√(σ² + ε)
        model_test.fc2[0].weight.copy_(model.fc2[0].weight)  # fc2 has no BN: copied
        model_test.fc2[0].bias.copy_(model.fc2[0].bias)
    return model_test.eval()


def answer_outputs(sample) -> torch.Tensor:
    """smallNetTest set by the answer's code `remove_batch_norm`, on the images x."""
    net = trained_small_net(sample.seed)
    with torch.no_grad():
        return _at(remove_batch_norm(net, SmallNetTest().to(torch.float64)), sample)(sample["x"])


def torch_fused_outputs(sample) -> torch.Tensor:
    with torch.no_grad():
        return _at(torch_fused_small_net(trained_small_net(sample.seed)), sample)(sample["x"])


# Half precision: four layers with fan-in up to 4·8·8 = 256 each add about √(fan-in)·u relative error
# (the probabilistic rounding bound of Higham & Mary, 2019), so depth·√(fan-in)·u of the O(1) outputs.
_FP16_NETWORK = 4 * math.sqrt(CHANNELS * SIZE * SIZE) * torch.finfo(torch.float16).eps / 2
_FP16_REASON = (f"float16 through 4 layers of fan-in ≤ {CHANNELS * SIZE * SIZE}: depth·√(fan-in)·u = "
                f"{_FP16_NETWORK:.2g} (Higham–Mary probabilistic rounding bound), outputs are O(1)")

folded_network = Claim(
    id="folded-network",
    statement="smallNetTest with every (Conv2d/Linear, BN) pair folded into W', b' computes exactly what the trained "
              "smallNetTrain computes in eval mode",
    variables=(Variable("x", Images()),),
    assumptions=("smallNetTrain in eval mode (running statistics)",
                 f"widths shrunk: {CHANNELS} conv channels on {SIZE}x{SIZE} images, "
                 f"fc1 = Linear({CHANNELS * SIZE * SIZE}, {HIDDEN})",
                 f"BN statistics from {TRAIN_STEPS} SGD steps on synthetic data"),
    symbolic=not_attempted("a network output has no closed form; the per-layer identity is proved in per-channel"),
    numeric=_network_sides(),
    references=(Reference("torch-fusion", "the same layers fused by torch.nn.utils.fusion.fuse_conv_bn_eval and "
                          "fuse_linear_bn_eval", torch_fused_outputs),
                Reference("answer-code", "smallNetTest set by the answer's code (remove_batch_norm)", answer_outputs)),
    mutants=(
        Mutant("no-eps", "ε forgotten when folding", numeric=_network_sides(folding(NO_EPS_WEIGHT, NO_EPS_BIAS))),
        Mutant("std-instead-of-var", "running variance used as a standard deviation",
               numeric=_network_sides(folding(STD_WEIGHT,
                                              beta + gamma * (b - mu) / sp.sqrt(sp.sqrt(sigma2) + epsilon)))),
        Mutant("bias-without-mean", "running mean not subtracted in the folded bias",
               numeric=_network_sides(folding(FOLDED_WEIGHT, NO_MEAN_BIAS))),
        Mutant("train-batch-statistics", "folded with the batch mean and variance of train mode instead of the "
               "running statistics", numeric=_network_sides(batch_statistics=True)),
    ),
    tolerances={torch.float16: Tolerance(_FP16_NETWORK, _FP16_NETWORK, _FP16_REASON)},
    instances=1000,
)

STATEMENT = (r"During testing, batch normalization can be combined with the preceding convolutional or linear "
             r"layer, so that no additional computational cost is incurred. Load the pre-trained "
             r"\texttt{smallNetTrain} (Conv2d, BatchNorm2d, ReLU twice; Linear, BatchNorm1d, ReLU; Linear, ReLU) and "
             r"set the weights and parameters of \texttt{smallNetTest} (the same network without the batch-norm "
             r"layers) so that the two models produce exactly the same outputs on the test set.")

DERIVATIONS = (
    Derivation(
        id="bn-fold",
        title="Removing batch norm after training",
        source="hw6-2021 P1, hw7-2024 P3, student-hw6 P1",
        statement=STATEMENT,
        claims=(per_channel, fold_weight, fold_bias, conv_fold, linear_fold, folded_network),
        parts=(
            Part(label="", question=STATEMENT,
                 answer=Answer(
                     code=remove_batch_norm,
                     text=r"In eval mode a batch-norm layer is the affine map "
                          r"$z \mapsto \gamma\,(z - \mu)/\sqrt{\sigma^2 + \varepsilon} + \beta$ of each channel "
                          r"($\mu$, $\sigma^2$ the running mean and variance), so it folds into the layer $Wx + b$ "
                          r"before it: $W' = \gamma W/\sqrt{\sigma^2 + \varepsilon}$ and "
                          r"$b' = \beta + \gamma (b - \mu)/\sqrt{\sigma^2 + \varepsilon}$, channel by channel; "
                          r"\texttt{fc2} has no batch norm and is copied.",
                     scope=r"The per-channel algebra is proved by sympy for every layer. The code is run on the "
                           r"problem's architecture with the widths shrunk (4 convolution channels on "
                           r"$8 \times 8$ images instead of 16 on $32 \times 32$, so \texttt{fc1} is "
                           r"Linear(256, 64)), trained briefly on synthetic images so that the running statistics "
                           r"are not trivial; the starter file \texttt{smallNetSaved} is not available."),
                 claims=("per-channel", "bn-fold-weight", "bn-fold-bias", "conv-fold-matches-torch",
                         "linear-fold-matches-torch", "folded-network")),
        ),
    ),
)
