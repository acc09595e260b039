r"""Layer normalization over (C, P, Q), why it needs no train/eval modes, and the exam's myBatchNorm vs nn.BatchNorm2d.

# Main statements

* `layernorm-matches-torch`: the exam's definition, per sample $b$,
  $\hat\mu_b = \frac{1}{CPQ}\sum_{c,i,j} X[b,c,i,j]$,
  $\hat\sigma^2_b = \frac{1}{CPQ}\sum_{c,i,j}(X[b,c,i,j]-\hat\mu_b)^2$,
  $\mathrm{LN}(X)[b,c,i,j] = \gamma[c,i,j]\frac{X[b,c,i,j]-\hat\mu_b}{\sqrt{\hat\sigma^2_b+\varepsilon}}
  + \beta[c,i,j]$,
  implemented as `MyLayerNorm`, equals `torch.nn.LayerNorm((C, P, Q))`.
* `per-sample-statistics`: LN of a batch is LN of each sample alone: the statistics never mix samples.
  This is why LN needs no running statistics and no train/eval distinction.
* `train-equals-eval`: `nn.LayerNorm` gives the same output in train and in eval mode, even after
  forward passes on other batches (BatchNorm2d does not: that is a mutant).
* `mybatchnorm-train-output`: in train mode the exam's `myBatchNorm` normalizes exactly as `nn.BatchNorm2d`.
* `momentum-convention`: the exam's `momentum=0.9` multiplies the old running mean (new = 0.9·old + 0.1·batch),
  while PyTorch's `momentum` multiplies the batch value (new = (1 − m)·old + m·batch): exam $m$ ↔ torch $1 - m$.
  Also, `run_mean` (shape (C,)) plus `mean` (shape (1, C, 1, 1)) broadcasts to shape (1, C, 1, C) in the exam's
  code; entry [0, c, 0, c'] is the running mean of channel c for every c'.
* `running-variance-unbiased`: `nn.BatchNorm2d` normalizes with the biased batch variance but puts the
  unbiased one, $\frac{M}{M-1}\hat\sigma^2$ with $M = BPQ$, into `running_var`.
* `mybatchnorm-running-variance-biased`: the exam's `run_var` uses the biased $\hat\sigma^2$ (and broadcasts
  to (1, C, 1, C) like `run_mean`), so the two running variances differ by the factor $\frac{M}{M-1}$.

# Notation

$X \in \mathbb{R}^{N \times C \times P \times Q}$ is one input batch ($N$ samples, called $B$ in the exam); each
random instance of a claim is one such batch, or a sequence of 3 batches for the running statistics.

# Implementation notes

* No symbolic proof of the module equalities: they compare implementations. `per-sample-statistics` has
  a structural sympy proof for $N = 2$ and $CPQ \le 4$: the LN output of sample 1 contains no entry of
  sample 2 (and vice versa), with explicit symbols.
* `myBatchNorm` is the exam's code verbatim, except the class name in `super()` (the exam writes
  `MyBatchNorm`, a NameError for a class named `myBatchNorm`); its `mode == 'test'` branch is `pass`, so
  `out` is unbound there (an UnboundLocalError), and `run_mean`/`run_var` are plain attributes, not
  registered buffers, so they are neither saved in `state_dict()` nor moved by `.to(device)`.
  These three are facts about the code, stated here, not checked claims.
* Instances are batched: `myBatchNorm` runs under `torch.vmap` (one instance = one (N, C, P, Q) batch),
  `nn.BatchNorm2d` runs once on all instances with their channels side by side (per-channel statistics
  never mix channels, so this is exact). γ, β are drawn per configuration from its seed.
* Data: per-channel offsets in [−1, 1] and scales in [1, 2]; every statistic is over at least 8 values
  (C, P, Q ≥ 2 for LN; N ≥ 4, P ≥ 2 for BN) so that σ̂ is not tiny: x − μ̂ is ill-conditioned when
  σ̂ ≪ |x|, and low precision would then measure only that.
* float64, float32 and float16; the float16 tolerances (stated next to the claims) follow from the
  conditioning u·|x|/σ̂ of the normalization and u·|x| of the running means.

# References

* final-2022 Problem 1 (layer normalization).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch
from torch import nn

from checkers import (Answer, Claim, Derivation, Kind, Misconception, Mutant, OneOf, Part, Problem, Symbol, Tolerance,
                      Variable, Vector, facts, not_attempted, one_based)

EPS = 1e-5
STEPS = 3  # training steps for the running statistics
# Every statistic is taken over at least 8 values (CPQ ≥ 8 for LN, NPQ ≥ 8 for BN), so that σ̂ is rarely
# tiny: x − μ̂ is ill-conditioned when σ̂ ≪ |x| and low-precision results would then measure only that.
DIMS = {"N": (2, 6), "C": (2, 4), "P": (2, 4), "Q": (2, 4)}
BN_DIMS = {"N": (4, 8), "C": (1, 4), "P": (2, 4), "Q": (1, 4)}


@dataclass(frozen=True)
class Batches(Kind):
    """`steps` input batches (N, C, P, Q) per instance: per-channel offset in [-1, 1], scale in [1, 2]."""

    steps: int = 1

    @property
    def description(self) -> str:
        return f"{self.steps} batch(es) of shape (N, C, P, Q), channel offsets and scales at random"

    def draw(self, batch, dims, gen):
        n, c, p, q = (dims[k] for k in ("N", "C", "P", "Q"))
        offset = 2 * torch.rand(batch, 1, 1, c, 1, 1, generator=gen, dtype=torch.float64) - 1
        scale = 1 + torch.rand(batch, 1, 1, c, 1, 1, generator=gen, dtype=torch.float64)
        x = offset + scale * torch.randn(batch, self.steps, n, c, p, q, generator=gen, dtype=torch.float64)
        return x[:, 0] if self.steps == 1 else x


ONE_BATCH = (Variable("X", Batches()),)
THREE_BATCHES = (Variable("X", Batches(STEPS)),)


def layer_norm(x, gamma, beta, epsilon=1e-5):
    """LN of a batch x of shape (B, C, P, Q): mean and variance over (C, P, Q) of each sample; γ, β of shape (C, P, Q).

    There is no mode argument: the computation is the same in training and at test time.
    """
    mean = x.mean(dim=(1, 2, 3), keepdim=True)  # each sample's mean, shape (B, 1, 1, 1)
    var = ((x - mean) ** 2).mean(dim=(1, 2, 3), keepdim=True)  # each sample's (biased) variance
    return gamma * (x - mean) / torch.sqrt(var + epsilon) + beta


class MyLayerNorm(nn.Module):
    """Layer norm as the exam defines it, as a module: learned γ (weight) and β (bias) of shape (C, P, Q)."""

    def __init__(self, shape, epsilon=1e-5):
        super().__init__()
        self.epsilon = epsilon
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x):  # no mode: the same computation in train and in eval
        return layer_norm(x, self.weight, self.bias, self.epsilon)


class myBatchNorm(nn.Module):  # noqa: N801 (the exam's name)
    """The exam's myBatchNorm, verbatim but for the class name in super() (see the module notes)."""

    def __init__(self, num_features, momentum=0.9, epsilon=1e-05):
        super(myBatchNorm, self).__init__()  # noqa: UP008 (as in the exam)
        self.momentum = momentum
        self.insize = num_features
        self.epsilon = epsilon
        # init weight(gamma), bias(beta),running mean, var
        self.weight = nn.Parameter(torch.ones(self.insize))
        self.bias = nn.Parameter(torch.zeros(self.insize))
        self.run_mean = torch.zeros(self.insize)
        self.run_var = torch.ones(self.insize)

    def forward(self, input, mode):  # noqa: A002 (the exam's signature)
        if mode == 'train':
            # mean over dims 0,2,3
            mean = input.mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
            # var over dims 0,2,3
            var = ((input - mean) ** 2).mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
            run_mean_curr = self.momentum * self.run_mean
            self.run_mean = run_mean_curr + (1 - self.momentum) * mean
            run_var_curr = self.momentum * self.run_var
            self.run_var = run_var_curr + (1 - self.momentum) * var
            weight = self.weight.view(1, -1, 1, 1)
            bias = self.bias.view(1, -1, 1, 1)
            out = weight * (input - mean) / torch.sqrt(var + self.epsilon) + bias
        if mode == 'test':
            pass  # in this problem, only consider train mode
        return out


def _affine(sample, shape, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """γ around 1 and β around 0 of the given shape, drawn from the configuration's seed."""
    gen = sample.generator(offset)
    gamma = 1 + 0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)
    beta = 0.5 * torch.randn(shape, generator=gen, dtype=torch.float64)
    return gamma.to(sample.device, sample.dtype), beta.to(sample.device, sample.dtype)


def _flat(x: torch.Tensor) -> torch.Tensor:
    """(B, N, C, P, Q) -> (B·N, C, P, Q): LayerNorm's statistics are per sample, so instances may be stacked."""
    return x.reshape(-1, *x.shape[2:])


def _dims(sample) -> tuple[int, int, int, int]:
    return tuple(sample.dims[k] for k in ("N", "C", "P", "Q"))


def my_layernorm(sample, x: torch.Tensor | None = None) -> torch.Tensor:
    x = sample["X"] if x is None else x
    _, c, p, q = _dims(sample)
    ln = MyLayerNorm((c, p, q)).to(sample.device, sample.dtype)
    with torch.no_grad():
        ln.weight.copy_(_affine(sample, (c, p, q))[0])
        ln.bias.copy_(_affine(sample, (c, p, q))[1])
        return ln(_flat(x)).reshape(x.shape)


def torch_layernorm_module(sample) -> nn.LayerNorm:
    _, c, p, q = _dims(sample)
    ln = nn.LayerNorm((c, p, q), eps=EPS).to(sample.device, sample.dtype)
    with torch.no_grad():
        ln.weight.copy_(_affine(sample, (c, p, q))[0])
        ln.bias.copy_(_affine(sample, (c, p, q))[1])
    return ln


def torch_layernorm(sample) -> torch.Tensor:
    x = sample["X"]
    with torch.no_grad():
        return torch_layernorm_module(sample)(_flat(x)).reshape(x.shape)


def _variant_layernorm(dims: tuple[int, ...], unbiased: bool = False):
    """Wrong layer norms: statistics over other axes of (B, N, C, P, Q), or the unbiased variance."""
    def ln(sample) -> torch.Tensor:
        x = sample["X"]
        _, c, p, q = _dims(sample)
        gamma, beta = _affine(sample, (c, p, q))
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, correction=1 if unbiased else 0)
        return gamma * (x - mean) / torch.sqrt(var + EPS) + beta
    return ln


# float16: x − μ̂ is rounded to about u·|x| and then divided by σ̂; the data have |x|/σ̂ ≲ 10 and |γ| ≲ 2.
_FP16_NORM = {torch.float16: Tolerance(1e-2, 1e-2, "float16: x − μ̂ carries u·|x| rounding error, divided by σ̂; "
                                                   "with |x|/σ̂ ≲ 10 and |γ| ≲ 2 that is about 20u ≈ 1e-2")}


def _structural_fact(cpq: int):
    def make():
        xs = [sp.symbols(f"x{b}_0:{cpq}", real=True) for b in range(2)]
        eps = sp.Symbol("epsilon", positive=True)
        leaks = []
        for b in range(2):
            mean = sum(xs[b]) / cpq
            var = sum((v - mean) ** 2 for v in xs[b]) / cpq
            outputs = [(v - mean) / sp.sqrt(var + eps) for v in xs[b]]
            other = set(xs[1 - b])
            leaks.extend(sp.Integer(len(o.free_symbols & other)) for o in outputs)
        return sp.ImmutableMatrix(leaks)
    return (f"no output of sample b depends on the other sample (N = 2, CPQ = {cpq})", make)


layernorm_matches_torch = Claim(
    id="layernorm-matches-torch",
    statement=r"the exam's layer norm (statistics over $(C, P, Q)$ of each sample, elementwise $\gamma, \beta$ of "
              r"shape $(C, P, Q)$), implemented as MyLayerNorm, equals torch.nn.LayerNorm((C, P, Q))",
    variables=ONE_BATCH,
    dims=DIMS,
    symbolic=not_attempted("compares two implementations of the same definition"),
    numeric=lambda s: (my_layernorm(s), torch_layernorm(s)),
    tolerances=_FP16_NORM,
    mutants=(
        Mutant("unbiased-variance", "variance with 1/(CPQ − 1)", numeric=lambda s: (
            _variant_layernorm((2, 3, 4), unbiased=True)(s), torch_layernorm(s))),
        Mutant("channels-only", "statistics over C at each position (i, j)", numeric=lambda s: (
            _variant_layernorm((2,))(s), torch_layernorm(s))),
        Mutant("batch-norm-statistics", "statistics over (N, P, Q) per channel, as batch norm", numeric=lambda s: (
            _variant_layernorm((1, 3, 4))(s), torch_layernorm(s))),
    ),
)


# Gradeable: LayerNorm's output for one entry of one sample, its m = C·P·Q entries written as x_1..x_m
# (the statistics are per sample), without the affine part; witness: torch.nn.functional.layer_norm.
_x, _i, _m = sp.IndexedBase("x", real=True), sp.Symbol("i", integer=True, positive=True), sp.Symbol("m", integer=True, positive=True)
_eps = sp.Symbol("epsilon", positive=True)
_a, _c = sp.symbols("a c", integer=True, positive=True)
_LN_MEAN = sp.Sum(_x[_a], (_a, 1, _m)) / _m
_LN_VAR = sp.Sum((_x[_c] - _LN_MEAN) ** 2, (_c, 1, _m)) / _m
_LN_EPS = (1e-5, 1e-3, 1e-1)


def _torch_layer_norm(sample) -> torch.Tensor:
    x, eps, i = sample["x"][:, 1:], sample["epsilon"], sample.dims["i"] - 1
    out = torch.empty(sample.size, dtype=torch.float64)
    for value in _LN_EPS:
        rows = eps == value
        out[rows] = nn.functional.layer_norm(x[rows], (x.shape[1],), eps=value)[:, i]
    return out


GRADEABLE = (
    Problem(
        id="layernorm-output", title="LayerNorm's output", source="final-2022 P1", claim=layernorm_matches_torch,
        statement=r"A sample's $m = C \cdot P \cdot Q$ activations are $x_1, \dots, x_m$. Give LayerNorm's output "
                  r"$y_i$ (without the learned scale and shift), with $\epsilon$ added to the variance.",
        symbols=(Symbol(_x, "x_i", ("x",)), Symbol(_i, "i"), Symbol(_m, "m"),
                 Symbol(_eps, r"\epsilon", (r"\varepsilon", "eps", "epsilon")),
                 Symbol(_LN_MEAN, r"\mu", ("mu",), listed=False), Symbol(_LN_VAR, r"\sigma^2", ("sigma^2",), listed=False),
                 Symbol(sp.sqrt(_LN_VAR), r"\sigma", ("sigma",), listed=False)),
        answer=(_x[_i] - _LN_MEAN) / sp.sqrt(_LN_VAR + _eps), witness=_torch_layer_norm,
        variables=(Variable("x", one_based(Vector("m", scale=2.0))), Variable("epsilon", OneOf(_LN_EPS))),
        dims={"m": (2, 3, 5), "i": (1, 2, 3, 5)}, dims_where=lambda d: d["i"] <= d["m"],  # first, middle, last
        sum_range=(sp.Integer(1), _m), instances_per_group=8,
        misconceptions=(
            Misconception("unbiased-variance", "LayerNorm normalises with the biased variance, dividing by m, "
                          "not m − 1", (_x[_i] - _LN_MEAN) / sp.sqrt(_LN_VAR * _m / (_m - 1) + _eps)),
            Misconception("eps-outside-root", "ε is added to the variance under the square root: "
                          "(x_i − μ)/√(σ² + ε)", (_x[_i] - _LN_MEAN) / (sp.sqrt(_LN_VAR) + _eps)),
            Misconception("variance-not-root", "divide by the standard deviation √(σ² + ε), not by the variance",
                          (_x[_i] - _LN_MEAN) / (_LN_VAR + _eps)),
        ),
    ),
)


def _one_at_a_time(norm):
    """The same normalization applied to each sample alone (a batch of one), stacked back."""
    def sides(sample):
        """(the normalization of the whole batch, of each sample alone)."""
        x = sample["X"]
        whole = norm(sample, x)
        alone = torch.stack([norm(sample, x[:, n:n + 1]).squeeze(1) for n in range(x.shape[1])], dim=1)
        return whole, alone
    return sides


def _batch_norm_statistics(sample, x: torch.Tensor) -> torch.Tensor:
    """Batch norm's train-mode normalization of (B, N, C, P, Q): statistics over (N, P, Q) per channel."""
    c = x.shape[2]
    gamma, beta = _affine(sample, (c,))
    mean = x.mean(dim=(1, 3, 4), keepdim=True)
    var = x.var(dim=(1, 3, 4), keepdim=True, correction=0)
    return gamma.view(1, 1, -1, 1, 1) * (x - mean) / torch.sqrt(var + EPS) + beta.view(1, 1, -1, 1, 1)


per_sample_statistics = Claim(
    id="per-sample-statistics",
    statement=r"LN of a batch equals LN of each sample alone: the statistics $\hat\mu[b]$, $\hat\sigma^2[b]$ of "
              r"sample $b$ use only $X[b]$",
    variables=ONE_BATCH,
    dims=DIMS,
    symbolic=facts(*(_structural_fact(k) for k in (1, 2, 3, 4)), scope="N = 2, CPQ ≤ 4 (structural)"),
    numeric=_one_at_a_time(my_layernorm),
    tolerances=_FP16_NORM,
    mutants=(Mutant("batch-norm", "nn.BatchNorm2d (train mode) in place of LN: its statistics mix the samples",
                    numeric=_one_at_a_time(_batch_norm_statistics)),),
)


def _train_and_eval(make_module):
    """The module's output in train mode and in eval mode, after two forward passes on other batches."""
    def sides(sample):
        """(the output in train mode, in eval mode) after passes on other batches."""
        x = sample["X"]
        module = make_module(sample)
        with torch.no_grad():
            for offset in (1, 2):  # other batches, seen in train mode
                other = torch.randn(x.shape, generator=sample.generator(offset), dtype=torch.float64).to(x)
                module.train()(_stack(other, module))
            train = module.train()(_stack(x, module))
            evaluated = module.eval()(_stack(x, module))
        return _unstack(train, x, module), _unstack(evaluated, x, module)
    return sides


def _stack(x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    if isinstance(module, nn.BatchNorm2d):  # instances side by side as channels
        batch, n, c, p, q = x.shape
        return x.permute(1, 0, 2, 3, 4).reshape(n, batch * c, p, q)
    return _flat(x)


def _unstack(out: torch.Tensor, x: torch.Tensor, module: nn.Module) -> torch.Tensor:
    if isinstance(module, nn.BatchNorm2d):
        batch, n, c, p, q = x.shape
        return out.reshape(n, batch, c, p, q).permute(1, 0, 2, 3, 4)
    return out.reshape(x.shape)


def _batch_norm_module(sample) -> nn.BatchNorm2d:
    batch, _, c = sample["X"].shape[:3]
    return nn.BatchNorm2d(batch * c, eps=EPS).to(sample.device, sample.dtype)


train_equals_eval = Claim(
    id="train-equals-eval",
    statement="torch.nn.LayerNorm gives the same output in train and in eval mode, whatever batches it has seen",
    variables=ONE_BATCH,
    dims=DIMS,
    symbolic=not_attempted("a statement about module modes; the reason is per-sample-statistics"),
    numeric=_train_and_eval(torch_layernorm_module),
    tolerances=_FP16_NORM,
    mutants=(Mutant("batch-norm", "nn.BatchNorm2d: train mode uses batch statistics, eval mode running ones",
                    numeric=_train_and_eval(_batch_norm_module)),),
)


# ---------------------------------------------------------------------------------------------------------------
# The exam's myBatchNorm against nn.BatchNorm2d.

def _my_bn_run(sample, steps: int, momentum: float = 0.9):
    """Run the exam's myBatchNorm in train mode on each instance's batches (vmap over instances).

    Returns the last output (B, N, C, P, Q) and run_mean, run_var as they end up, (B, 1, C, 1, C).
    """
    x = sample["X"] if steps > 1 else sample["X"].unsqueeze(1)
    c = x.shape[3]
    gamma, beta = _affine(sample, (c,))

    def run(batches):
        bn = myBatchNorm(c, momentum=momentum).to(batches.device, batches.dtype)
        # run_mean and run_var are plain attributes, not buffers: .to() leaves them on the CPU in float32.
        bn.run_mean, bn.run_var = bn.run_mean.to(batches), bn.run_var.to(batches)
        with torch.no_grad():
            bn.weight.copy_(gamma)
            bn.bias.copy_(beta)
            for t in range(steps):
                out = bn(batches[t], 'train')
        return out, bn.run_mean, bn.run_var

    return torch.vmap(run)(x)


def _torch_bn_run(sample, steps: int, momentum: float = 0.1):
    """nn.BatchNorm2d in train mode on the same batches: last output, running_mean, running_var (B, C)."""
    x = sample["X"] if steps > 1 else sample["X"].unsqueeze(1)
    batch, _, n, c, p, q = x.shape
    gamma, beta = _affine(sample, (c,))
    bn = nn.BatchNorm2d(batch * c, eps=EPS, momentum=momentum).to(sample.device, sample.dtype).train()
    with torch.no_grad():
        bn.weight.copy_(gamma.repeat(batch))
        bn.bias.copy_(beta.repeat(batch))
        for t in range(steps):
            out = bn(x[:, t].permute(1, 0, 2, 3, 4).reshape(n, batch * c, p, q))
    out = out.reshape(n, batch, c, p, q).permute(1, 0, 2, 3, 4)
    return out, bn.running_mean.reshape(batch, c), bn.running_var.reshape(batch, c)


def _my_bn_output_variant(unbiased: bool = False, eps: float = EPS):
    def out(sample):
        x = sample["X"]
        gamma, beta = _affine(sample, (x.shape[2],))
        mean = x.mean(dim=(1, 3, 4), keepdim=True)
        var = x.var(dim=(1, 3, 4), keepdim=True, correction=1 if unbiased else 0)
        return gamma.view(1, 1, -1, 1, 1) * (x - mean) / torch.sqrt(var + eps) + beta.view(1, 1, -1, 1, 1)
    return out


mybatchnorm_train_output = Claim(
    id="mybatchnorm-train-output",
    statement=r"in train mode, the exam's myBatchNorm normalizes exactly as torch.nn.BatchNorm2d (biased batch "
              r"variance, the same $\varepsilon$)",
    variables=ONE_BATCH,
    dims=BN_DIMS,
    symbolic=not_attempted("compares two implementations of the same definition"),
    numeric=lambda s: (_my_bn_run(s, 1)[0], _torch_bn_run(s, 1)[0]),
    tolerances=_FP16_NORM,
    mutants=(
        Mutant("unbiased-normalization", "normalized with the unbiased batch variance", numeric=lambda s: (
            _my_bn_output_variant(unbiased=True)(s), _torch_bn_run(s, 1)[0])),
        Mutant("no-eps", "ε left out of the square root", numeric=lambda s: (
            _my_bn_output_variant(eps=0.0)(s), _torch_bn_run(s, 1)[0])),
    ),
)


def _columns(run_stat: torch.Tensor) -> torch.Tensor:
    """The exam's (B, 1, C, 1, C) running statistic as (B, C, C): entry [c, c'] = run_stat[0, c, 0, c']."""
    return run_stat[:, 0, :, 0, :]


def _expanded(stat: torch.Tensor) -> torch.Tensor:
    """torch's (B, C) running statistic repeated along a second channel axis: entry [c, c'] = stat[c]."""
    return stat.unsqueeze(-1).expand(*stat.shape, stat.shape[-1])


momentum_convention = Claim(
    id="momentum-convention",
    statement=r"after 3 training steps, the exam's \texttt{run\_mean} with momentum 0.9 equals "
              r"torch.nn.BatchNorm2d's \texttt{running\_mean} with momentum $0.1 = 1 - 0.9$; the exam's "
              r"\texttt{run\_mean} has shape $(1, C, 1, C)$, and every entry $[0, c, 0, c']$ holds channel $c$'s "
              r"value",
    variables=THREE_BATCHES,
    dims=BN_DIMS,
    symbolic=not_attempted("compares two implementations of the exponential moving average"),
    numeric=lambda s: (_columns(_my_bn_run(s, STEPS)[1]), _expanded(_torch_bn_run(s, STEPS)[1])),
    tolerances={torch.float16: Tolerance(1e-3, 3e-3, "float16: each batch mean of values |x| ≲ 9 is off by a few "
                                                     "u·|x|; the 0.1-weighted sum of 3 of them, about 3e-3")},
    mutants=(
        Mutant("same-number", "nn.BatchNorm2d with momentum 0.9 (the same number, the opposite convention)",
               numeric=lambda s: (_columns(_my_bn_run(s, STEPS)[1]), _expanded(_torch_bn_run(s, STEPS, 0.9)[1]))),
        Mutant("broadcast-other-axis", "entry [0, c, 0, c'] read as channel c''s value",
               numeric=lambda s: (_columns(_my_bn_run(s, STEPS)[1]),
                                  _expanded(_torch_bn_run(s, STEPS)[1]).transpose(-1, -2))),
    ),
)


def moving_average_variance(sample, unbiased: bool, momentum: float = 0.1) -> torch.Tensor:
    """v ← (1 − m)·v + m·s², from v = 1, with s² the biased or unbiased batch variance per channel: (B, C)."""
    x = sample["X"]
    v = torch.ones(x.shape[0], x.shape[3], dtype=x.dtype, device=x.device)
    for t in range(STEPS):
        v = (1 - momentum) * v + momentum * x[:, t].var(dim=(1, 3, 4), correction=1 if unbiased else 0)
    return v


# float16: the moving average of the variance sums squares of up to N·P·Q ≤ 96 terms of size up to ~16.
_FP16_VAR = {torch.float16: Tolerance(4e-3, 1e-3, "float16 variance of up to 96 terms: √96·u·(offset² + scale²) "
                                                  "relative to the variance, about 4e-3")}

running_variance_unbiased = Claim(
    id="running-variance-unbiased",
    statement=r"torch.nn.BatchNorm2d's \texttt{running\_var} averages the unbiased batch variance "
              r"$\frac{M}{M-1}\hat\sigma^2$ ($M = BPQ$), although it normalizes with the biased $\hat\sigma^2$",
    variables=THREE_BATCHES,
    dims=BN_DIMS,
    symbolic=not_attempted("compares torch's buffer with the moving-average formula"),
    numeric=lambda s: (_torch_bn_run(s, STEPS)[2], moving_average_variance(s, unbiased=True)),
    mutants=(
        Mutant("biased-like-the-exam", "torch's running_var against the exam's run_var (biased σ̂²)",
               numeric=lambda s: (_torch_bn_run(s, STEPS)[2], _columns(_my_bn_run(s, STEPS)[2])[..., 0])),
        Mutant("biased-formula", "the moving average of the biased σ̂²",
               numeric=lambda s: (_torch_bn_run(s, STEPS)[2], moving_average_variance(s, unbiased=False))),
    ),
    tolerances=_FP16_VAR,
)

mybatchnorm_running_variance = Claim(
    id="mybatchnorm-running-variance-biased",
    statement=r"the exam's \texttt{run\_var} averages the biased batch variance $\hat\sigma^2$ "
              r"($0.9 \cdot \mathrm{old} + 0.1\,\hat\sigma^2$), in every column of its $(1, C, 1, C)$ shape",
    variables=THREE_BATCHES,
    dims=BN_DIMS,
    symbolic=not_attempted("compares the exam's code with the moving-average formula"),
    numeric=lambda s: (_columns(_my_bn_run(s, STEPS)[2]), _expanded(moving_average_variance(s, unbiased=False))),
    mutants=(
        Mutant("unbiased-like-torch", "the exam's run_var against nn.BatchNorm2d's running_var",
               numeric=lambda s: (_columns(_my_bn_run(s, STEPS)[2]), _expanded(_torch_bn_run(s, STEPS)[2]))),
    ),
    tolerances=_FP16_VAR,
)

DERIVATIONS = (
    Derivation(
        id="layernorm",
        title="Layer normalization, and the exam's batch norm against torch.nn.BatchNorm2d",
        source="final-2022 P1",
        statement=r"BatchNorm2D normalizes $X \in \mathbb{R}^{B\times C\times P\times Q}$ per channel with the "
                  r"mean and variance over $(B, P, Q)$, and keeps running statistics to replace them in test "
                  r"mode. Layer normalization normalizes each sample instead: $\hat\mu[b] = "
                  r"\frac{1}{CPQ}\sum_{c,i,j} X[b,c,i,j]$, $\hat\sigma^2[b] = \frac{1}{CPQ}\sum_{c,i,j} "
                  r"(X[b,c,i,j]-\hat\mu[b])^2$ and $\mathrm{LN}_{\gamma,\beta}(X)[b,c,i,j] = "
                  r"\gamma[c,i,j]\frac{X[b,c,i,j] - \hat\mu[b]}{\sqrt{\hat\sigma^2[b] + \varepsilon}} + "
                  r"\beta[c,i,j]$. (The exam's batch-norm code myBatchNorm is also compared with "
                  r"torch.nn.BatchNorm2d.)",
        claims=(layernorm_matches_torch, per_sample_statistics, train_equals_eval, mybatchnorm_train_output,
                momentum_convention, running_variance_unbiased, mybatchnorm_running_variance),
        parts=(
            Part(
                label="",
                question=r"Explain why layer norm does not need to distinguish train mode from test mode, and "
                         r"implement layer normalization.",
                answer=Answer(
                    text=r"Layer norm computes $\hat\mu[b]$ and $\hat\sigma^2[b]$ of each sample $X[b]$ from "
                         r"that sample alone (over $c, i, j$), never across the batch. The output for a sample "
                         r"therefore does not depend on the rest of the batch or on its size, and there are no "
                         r"running statistics to keep: the computation used in training is exactly right at test "
                         r"time, even for a single sample. Batch norm needs a test mode only because its "
                         r"statistics are taken over the batch, which at test time is absent or not "
                         r"representative, so it substitutes running averages. The listed implementation has no "
                         r"mode argument; as a module, $\gamma$ and $\beta$ are parameters of shape $(C, P, Q)$ "
                         r"initialised to 1 and 0, and the forward pass calls it.",
                    code=(layer_norm, MyLayerNorm),
                    scope=r"MyLayerNorm checked against torch.nn.LayerNorm((C, P, Q)) for $B = 2, \dots, 6$ "
                          r"samples and $C, P, Q = 2, \dots, 4$; that no output uses another sample is proved "
                          r"by sympy for $B = 2$, $CPQ \le 4$ and checked numerically for all these sizes",
                ),
                claims=("layernorm-matches-torch", "per-sample-statistics", "train-equals-eval",
                        # the exam's own batch-norm code against torch.nn.BatchNorm2d, for contrast
                        "mybatchnorm-train-output", "momentum-convention", "running-variance-unbiased",
                        "mybatchnorm-running-variance-biased"),
            ),
        ),
    ),
)
