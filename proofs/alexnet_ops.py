r"""Operation counts of AlexNet's conv and linear layers on a 3×227×227 input, by closed-form per-layer formulas.

# Main statements

For a convolution with $C_\text{in}$ input and $C_\text{out}$ output channels, $g$ groups, a $k \times k$ kernel,
stride $s$, padding $p$ on an $H \times H$ input, the output is $H' \times H'$ with
$H' = \lfloor (H + 2p - k)/s \rfloor + 1$ and

* multiplications $= C_\text{out} H'^2 \cdot \frac{C_\text{in}}{g} k^2$ (one per weight tap per output),
* additions $= C_\text{out} H'^2 \big(\frac{C_\text{in}}{g} k^2 - 1\big) + C_\text{out} H'^2$ (summing the
  products, then the bias), which equals the number of multiplications.

A Linear layer $n_\text{in} \to n_\text{out}$ with bias takes $n_\text{in} n_\text{out}$ multiplications and
$n_\text{out}(n_\text{in} - 1) + n_\text{out} = n_\text{in} n_\text{out}$ additions.

* `conv-layer-counts`, `linear-layer-counts`: these formulas, on random layer shapes, against
  `torch.utils.flop_counter.FlopCounterMode` and the module's real output shape.
* `alexnet-per-layer`: the formulas chained through AlexNet (2012, grouped), per layer, equal the torch
  counts; the claim's statement lists the numbers (computed from the formulas).
* `alexnet-ungrouped-per-layer`: the same without groups.
* `alexnet-totals`: the convolutions take about 0.67 G multiplications and as many additions, the linear
  layers about 59 M of each: about 92% of the operations are in the convolutions, while the linear layers
  hold about 96% of the parameters (the exact figures are in the claim's statement).

# Notation and conventions

Variant counted (the problem's `counting_params.py` is not available): the original AlexNet of
Krizhevsky, Sutskever and Hinton (2012) on a 3×227×227 input: conv1 96 11×11 stride 4; max-pool 3×3
stride 2; conv2 256 5×5 padding 2, 2 groups; max-pool; conv3 384 3×3 padding 1; conv4 384 3×3 padding 1,
2 groups; conv5 256 3×3 padding 1, 2 groups; max-pool; fc6 9216 → 4096, fc7 4096 → 4096, fc8 4096 → 1000;
every layer has a bias. The two-GPU grouping is what makes "96% of the parameters are in the linear
layers" true (96.2%; without groups it is 94.0%), so it is the variant the problem describes; the
ungrouped counts are given too. ReLU, local response normalization, pooling, dropout and softmax are
not counted, as the problem says.

Convention: a multiply-accumulate is one multiplication and one addition; the first product of each
output needs no addition but its bias does, so additions = multiplications. `FlopCounterMode` counts
2 FLOPs per multiply-accumulate and ignores the bias, so its multiplications are FLOPs/2 and its
additions FLOPs/2 − outputs + (outputs if the layer has a bias), with the outputs read from the
module's actual output shape.

# Implementation notes

* Symbolic: sympy proves the per-output counts
  ($\sum_{c \le C_\text{in}/g} \sum_{i, j \le k} 1 = \frac{C_\text{in}}{g} k^2$ products; $(n - 1) + 1$
  additions with the bias) in general; the output-size formula $H'$ is PyTorch's
  definition, checked numerically against the module's output shape. These per-output counts are
  lemmas: the claims compare the closed-form totals (which use $H'$) with FlopCounterMode, so their
  symbolic status is "supported by lemmas", not "proved".
* Numeric: counts are exact integers below 2^53, so only float64 is run (float32 would round counts
  above 2^24). The torch side runs the real modules on the `meta` device: shapes and FLOP counts
  without arithmetic. The first use of `FlopCounterMode` imports `torch._dynamo` (a few seconds, once
  per process).

# References

* hw7-2024 Problem 2 (are linear layers compute-heavy?).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from checkers import Answer, Claim, Derivation, Integer, Misconception, Mutant, Part, Problem, Variable, facts

C_in, C_out, k, s, g, H = sp.symbols("C_in C_out k s g H", integer=True, positive=True)
p = sp.Symbol("p", integer=True, nonnegative=True)
n_in, n_out = sp.symbols("n_in n_out", integer=True, positive=True)
SYMBOLS = {x.name: x for x in (C_in, C_out, k, s, p, g, H, n_in, n_out)}

H_OUT = sp.floor((H + 2 * p - k) / s) + 1
CONV_OUTPUTS = C_out * H_OUT ** 2
CONV_MULTS = CONV_OUTPUTS * (C_in / g) * k ** 2
CONV_ADDS = CONV_OUTPUTS * ((C_in / g) * k ** 2 - 1) + CONV_OUTPUTS  # sum of the products, then the bias
LINEAR_MULTS = n_in * n_out
LINEAR_ADDS = n_out * (n_in - 1) + n_out
POOL_OUT = sp.floor((H - 3) / 2) + 1  # max-pool 3x3, stride 2

# Wrong formulas (mutants).
CONV_ADDS_NO_BIAS = CONV_OUTPUTS * ((C_in / g) * k ** 2 - 1)
H_OUT_NO_STRIDE = H + 2 * p - k + 1
H_OUT_NO_PADDING = sp.floor((H - k) / s) + 1


def _count(expr: sp.Expr, **values: int) -> int:
    value = expr.subs({SYMBOLS[name]: v for name, v in values.items()})
    assert value.is_Integer, f"{expr} at {values} is not an integer: {value}"
    return int(value)


# ---------------------------------------------------------------------------------------------------------------
# AlexNet, layer by layer: (name, kind, parameters). Input 3 x 227 x 227.

@dataclass(frozen=True)
class ConvSpec:
    c_in: int
    c_out: int
    k: int
    s: int = 1
    p: int = 0
    g: int = 1
    pool_after: bool = False


@dataclass(frozen=True)
class LinearSpec:
    n_in: int
    n_out: int


def alexnet_spec(grouped: bool = True) -> tuple[tuple[str, ConvSpec | LinearSpec], ...]:
    two = 2 if grouped else 1
    return (("conv1", ConvSpec(3, 96, 11, s=4, pool_after=True)),
            ("conv2", ConvSpec(96, 256, 5, p=2, g=two, pool_after=True)),
            ("conv3", ConvSpec(256, 384, 3, p=1)),
            ("conv4", ConvSpec(384, 384, 3, p=1, g=two)),
            ("conv5", ConvSpec(384, 256, 3, p=1, g=two, pool_after=True)),
            ("fc6", LinearSpec(256 * 6 * 6, 4096)),
            ("fc7", LinearSpec(4096, 4096)),
            ("fc8", LinearSpec(4096, 1000)))


INPUT = 227


@lru_cache(maxsize=None)
def closed_form_counts(grouped: bool = True, size: int = INPUT, mults=CONV_MULTS, adds=CONV_ADDS,
                       h_out=H_OUT, linear_adds=LINEAR_ADDS) -> tuple[list[int], list[int]]:
    """Per-layer (multiplications, additions) from the formulas, the spatial size chained through the layers."""
    mult_counts, add_counts = [], []
    for _, layer in alexnet_spec(grouped):
        if isinstance(layer, ConvSpec):
            values = dict(C_in=layer.c_in, C_out=layer.c_out, k=layer.k, s=layer.s, p=layer.p, g=layer.g, H=size)
            wrong_size = {H_OUT: h_out}
            mult_counts.append(_count(mults.subs(wrong_size), **values))
            add_counts.append(_count(adds.subs(wrong_size), **values))
            size = _count(h_out, **values)
            if layer.pool_after:
                size = _count(POOL_OUT, H=size)
        else:
            mult_counts.append(_count(LINEAR_MULTS, n_in=layer.n_in, n_out=layer.n_out))
            add_counts.append(_count(linear_adds, n_in=layer.n_in, n_out=layer.n_out))
    return mult_counts, add_counts


def closed_form_parameters(grouped: bool = True) -> list[int]:
    """Weights and biases per layer: C_out·(C_in/g)·k² + C_out, and n_in·n_out + n_out."""
    counts = []
    for _, layer in alexnet_spec(grouped):
        if isinstance(layer, ConvSpec):
            counts.append(layer.c_out * (layer.c_in // layer.g) * layer.k ** 2 + layer.c_out)
        else:
            counts.append(layer.n_in * layer.n_out + layer.n_out)
    return counts


def alexnet_module(grouped: bool = True) -> nn.Sequential:
    """The torch module (on the meta device: shapes only), built from the same layer table."""
    layers: list[nn.Module] = []
    with torch.device("meta"):
        for name, layer in alexnet_spec(grouped):
            if isinstance(layer, ConvSpec):
                layers += [nn.Conv2d(layer.c_in, layer.c_out, layer.k, stride=layer.s, padding=layer.p,
                                     groups=layer.g), nn.ReLU()]
                if layer.pool_after:
                    layers.append(nn.MaxPool2d(3, stride=2))
            else:
                if name == "fc6":
                    layers.append(nn.Flatten())
                layers += [nn.Dropout(), nn.Linear(layer.n_in, layer.n_out)]
                if name != "fc8":
                    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_counts(module: nn.Module, x: torch.Tensor) -> list[tuple[int, int]]:
    """(multiplications, additions) of every Conv2d/Linear in forward order, from FlopCounterMode and output shapes."""
    layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    outputs: dict[nn.Module, int] = {}
    hooks = [m.register_forward_hook(lambda mod, inp, out: outputs.__setitem__(mod, out[0].numel())) for m in layers]
    flops_per_layer = []
    try:
        with torch.no_grad():
            for i, layer in enumerate(layers):
                counter = FlopCounterMode(display=False)
                with counter:
                    out = layer(x)
                flops_per_layer.append(counter.get_total_flops())
                x = _through_to_next(module, layer, layers[i + 1] if i + 1 < len(layers) else None, out)
    finally:
        for hook in hooks:
            hook.remove()
    counts = []
    for layer, flops in zip(layers, flops_per_layer):
        macs = flops // 2
        bias_adds = outputs[layer] if layer.bias is not None else 0
        counts.append((macs, macs - outputs[layer] + bias_adds))
    return counts


def _through_to_next(module: nn.Sequential, layer: nn.Module, following: nn.Module | None, out: torch.Tensor):
    """Run the modules strictly between `layer` and `following` (ReLU, pooling, flatten, dropout) on `out`."""
    children = list(module)
    start = children.index(layer) + 1
    stop = children.index(following) if following is not None else len(children)
    for child in children[start:stop]:
        out = child(out)
    return out


@lru_cache(maxsize=None)
def alexnet_torch_counts(grouped: bool = True, size: int = INPUT) -> tuple[list[int], list[int]]:
    module = alexnet_module(grouped).eval()
    counts = torch_counts(module, torch.empty(1, 3, size, size, device="meta"))
    return [m for m, _ in counts], [a for _, a in counts]


def _rows(values: list[float], sample) -> torch.Tensor:
    """The same counts for every instance of the batch (a claim without random variables), float64."""
    return torch.tensor(values, dtype=torch.float64).expand(sample.size, len(values))


# ---------------------------------------------------------------------------------------------------------------
# Symbolic facts: what each output costs.

_c, _i, _j, _n = sp.symbols("c i j n", integer=True, positive=True)
PER_OUTPUT = facts(
    ("each output sums (C_in/g)·k² products: Σ_{c ≤ C_in/g} Σ_{i ≤ k} Σ_{j ≤ k} 1 = (C_in/g)·k²",
     lambda: sp.summation(1, (_c, 1, C_in / g), (_i, 1, k), (_j, 1, k)) - C_in / g * k ** 2),
    ("summing n products takes n − 1 additions and the bias one more: a convolution's additions equal its "
     "multiplications",
     lambda: CONV_ADDS - CONV_MULTS),
    ("a Linear output sums n_in products plus the bias: a Linear layer's additions equal its multiplications",
     lambda: LINEAR_ADDS - LINEAR_MULTS),
)


# ---------------------------------------------------------------------------------------------------------------
# Random single layers against FlopCounterMode.

CONV_VARIABLES = (Variable("C_in", Integer(1, 6)), Variable("C_out", Integer(1, 6)), Variable("k", Integer(1, 7)),
                  Variable("s", Integer(1, 4)), Variable("p", Integer(0, 3)), Variable("g", Integer(1, 3)),
                  Variable("H", Integer(8, 40)))


_CONV_ARGS = (C_in, C_out, k, s, p, g, H)


def _conv_formula_counts(sample, mults=CONV_MULTS, adds=CONV_ADDS, h_out=H_OUT) -> torch.Tensor:
    """(B, 2): the formulas evaluated on all instances at once (exact: integers far below 2^53 in float64)."""
    shapes = _conv_shapes(sample)
    columns = [torch.tensor([v[x.name] for v in shapes], dtype=torch.float64) for x in _CONV_ARGS]
    out = []
    for formula in (mults, adds):
        f = sp.lambdify(_CONV_ARGS, formula.subs({H_OUT: h_out}), modules=[{"floor": torch.floor}])
        out.append(f(*columns))
    return torch.stack(out, dim=1)


def _conv_shapes(sample) -> list[dict[str, int]]:
    names = ("C_in", "C_out", "k", "s", "p", "g", "H")
    columns = {n: sample[n].to(torch.int64).tolist() for n in names}
    shapes = []
    for i in range(sample.size):
        v = {n: columns[n][i] for n in names}
        v["C_in"], v["C_out"] = v["C_in"] * v["g"], v["C_out"] * v["g"]  # channels divisible by the groups
        shapes.append(v)
    return shapes


def _conv_torch_counts(sample) -> torch.Tensor:
    rows = []
    for v in _conv_shapes(sample):
        with torch.device("meta"):
            conv = nn.Conv2d(v["C_in"], v["C_out"], v["k"], stride=v["s"], padding=v["p"], groups=v["g"])
        rows.append(torch_counts(nn.Sequential(conv), torch.empty(1, v["C_in"], v["H"], v["H"], device="meta"))[0])
    return torch.tensor(rows, dtype=torch.float64)


conv_layer_counts = Claim(
    id="conv-layer-counts",
    statement="a Conv2d(C_in, C_out, k, stride s, padding p, groups g) on an H×H input takes C_out·H'²·(C_in/g)·k² "
              "multiplications and as many additions (bias included), H' = ⌊(H + 2p − k)/s⌋ + 1",
    variables=CONV_VARIABLES,
    assumptions=("C_in and C_out are multiples of g (the drawn values are multiplied by g)", "square input and kernel"),
    symbolic=PER_OUTPUT,
    numeric=lambda smp: (_conv_formula_counts(smp), _conv_torch_counts(smp)),
    mutants=(
        Mutant("no-bias", "additions without the bias: C_out·H'²·((C_in/g)·k² − 1)",
               numeric=lambda smp: (_conv_formula_counts(smp, adds=CONV_ADDS_NO_BIAS), _conv_torch_counts(smp))),
        Mutant("no-stride", "H' = H + 2p − k + 1: the stride forgotten",
               numeric=lambda smp: (_conv_formula_counts(smp, h_out=H_OUT_NO_STRIDE), _conv_torch_counts(smp))),
        Mutant("no-padding", "H' = ⌊(H − k)/s⌋ + 1: the padding forgotten",
               numeric=lambda smp: (_conv_formula_counts(smp, h_out=H_OUT_NO_PADDING), _conv_torch_counts(smp))),
        Mutant("no-groups", "C_out·H'²·C_in·k²: every filter sees all input channels",
               numeric=lambda smp: (_conv_formula_counts(smp, mults=CONV_MULTS.subs(g, 1), adds=CONV_ADDS.subs(g, 1)),
                                    _conv_torch_counts(smp))),
        Mutant("flops-as-multiplications", "2·MACs (FLOPs) counted as multiplications",
               numeric=lambda smp: (_conv_formula_counts(smp, mults=2 * CONV_MULTS), _conv_torch_counts(smp))),
    ),
    dtypes=(torch.float64,),
    instances=40,
)


def _linear_formula_counts(sample, adds=LINEAR_ADDS) -> torch.Tensor:
    rows = [[_count(LINEAR_MULTS, n_in=a, n_out=b), _count(adds, n_in=a, n_out=b)]
            for a, b in zip(sample["n_in"].to(torch.int64).tolist(), sample["n_out"].to(torch.int64).tolist())]
    return torch.tensor(rows, dtype=torch.float64)


def _linear_torch_counts(sample) -> torch.Tensor:
    rows = []
    for a, b in zip(sample["n_in"].to(torch.int64).tolist(), sample["n_out"].to(torch.int64).tolist()):
        with torch.device("meta"):
            linear = nn.Linear(a, b)
        rows.append(torch_counts(nn.Sequential(linear), torch.empty(1, a, device="meta"))[0])
    return torch.tensor(rows, dtype=torch.float64)


linear_layer_counts = Claim(
    id="linear-layer-counts",
    statement="a Linear(n_in, n_out) layer with bias takes n_in·n_out multiplications and n_out(n_in − 1) + n_out "
              "= n_in·n_out additions",
    variables=(Variable("n_in", Integer(1, 5000)), Variable("n_out", Integer(1, 5000))),
    symbolic=PER_OUTPUT,
    numeric=lambda smp: (_linear_formula_counts(smp), _linear_torch_counts(smp)),
    mutants=(Mutant("no-bias", "n_out(n_in − 1) additions: the bias forgotten",
                    numeric=lambda smp: (_linear_formula_counts(smp, adds=n_out * (n_in - 1)),
                                         _linear_torch_counts(smp))),),
    dtypes=(torch.float64,),
    instances=40,
)


# ---------------------------------------------------------------------------------------------------------------
# AlexNet itself.

def _per_layer(grouped: bool, **formula_options):
    def sides(sample):
        """(per-layer multiplications then additions from the formulas, the same from FlopCounterMode)."""
        mults, adds = closed_form_counts(grouped, **formula_options)
        torch_mults, torch_adds = alexnet_torch_counts(grouped)
        return _rows(mults + adds, sample), _rows(torch_mults + torch_adds, sample)
    return sides


def _per_layer_claim(grouped: bool) -> Claim:
    which = "grouped (2012)" if grouped else "ungrouped"
    mults, _ = closed_form_counts(grouped)
    listing = "; ".join(f"{name} {m:,}" for (name, _), m in zip(alexnet_spec(grouped), mults))
    return Claim(
        id="alexnet-per-layer" if grouped else "alexnet-ungrouped-per-layer",
        statement=f"AlexNet ({which}) on 3×227×227, multiplications per layer (additions are equal): {listing}; these "
                  "per-layer formulas give FlopCounterMode's counts",
        symbolic=PER_OUTPUT,
        numeric=_per_layer(grouped),
        mutants=(
            Mutant("input-224", "a 3×224×224 input (conv1's output is 54×54, not 55×55)",
                   numeric=lambda smp: (_per_layer(grouped, size=224)(smp)[0], _per_layer(grouped)(smp)[1])),
            Mutant("no-bias", "additions without the bias",
                   numeric=_per_layer(grouped, adds=CONV_ADDS_NO_BIAS, linear_adds=n_out * (n_in - 1))),
            Mutant("no-padding", "H' = ⌊(H − k)/s⌋ + 1 for every convolution",
                   numeric=_per_layer(grouped, h_out=H_OUT_NO_PADDING)),
            Mutant("other-grouping", f"the {'ungrouped' if grouped else 'grouped'} variant's counts",
                   numeric=lambda smp: (_per_layer(not grouped)(smp)[0], _per_layer(grouped)(smp)[1])),
        ),
        dtypes=(torch.float64,),
        instances=4,
    )


alexnet_per_layer = _per_layer_claim(grouped=True)
alexnet_ungrouped = _per_layer_claim(grouped=False)

CONV_LAYERS = 5


def _totals(grouped: bool = True, parameters=closed_form_parameters):
    """[conv mults, conv adds, linear mults, linear adds, conv share of operations, linear share of parameters]."""
    def totals(mults, adds, params):
        conv_ops = sum(mults[:CONV_LAYERS]) + sum(adds[:CONV_LAYERS])
        linear_ops = sum(mults[CONV_LAYERS:]) + sum(adds[CONV_LAYERS:])
        return [sum(mults[:CONV_LAYERS]), sum(adds[:CONV_LAYERS]), sum(mults[CONV_LAYERS:]), sum(adds[CONV_LAYERS:]),
                conv_ops / (conv_ops + linear_ops), sum(params[CONV_LAYERS:]) / sum(params)]

    def sides(sample):
        """(conv and linear totals and shares from the formulas, the same from the torch module)."""
        ours = totals(*closed_form_counts(grouped), parameters(grouped))
        module = alexnet_module(grouped)
        layers = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        torch_params = [sum(q.numel() for q in m.parameters()) for m in layers]
        theirs = totals(*alexnet_torch_counts(grouped), torch_params)
        return _rows(ours, sample), _rows(theirs, sample)
    return sides


def _headline() -> str:
    mults, adds = closed_form_counts(True)
    params = closed_form_parameters(True)
    conv = sum(mults[:CONV_LAYERS]) + sum(adds[:CONV_LAYERS])
    linear = sum(mults[CONV_LAYERS:]) + sum(adds[CONV_LAYERS:])
    ungrouped = closed_form_parameters(False)
    return (f"AlexNet (2012, grouped): the convolutions take {sum(mults[:CONV_LAYERS]):,} multiplications and "
            f"{sum(adds[:CONV_LAYERS]):,} additions, the linear layers {sum(mults[CONV_LAYERS:]):,} and "
            f"{sum(adds[CONV_LAYERS:]):,}: {100 * conv / (conv + linear):.1f}% of the operations are in the "
            f"convolutions, while {100 * sum(params[CONV_LAYERS:]) / sum(params):.1f}% of the {sum(params):,} "
            f"parameters are in the linear layers ({100 * sum(ungrouped[CONV_LAYERS:]) / sum(ungrouped):.1f}% "
            "without groups)")


alexnet_totals = Claim(
    id="alexnet-totals",
    statement=_headline(),
    symbolic=PER_OUTPUT,
    numeric=_totals(),
    mutants=(
        Mutant("ungrouped-parameters", "the ungrouped variant's parameter counts",
               numeric=lambda smp: (_totals(parameters=lambda grouped: closed_form_parameters(False))(smp)[0],
                                    _totals()(smp)[1])),
        Mutant("weights-only", "parameters without the biases",
               numeric=lambda smp: (_totals(parameters=lambda grouped: [
                   q - (layer.c_out if isinstance(layer, ConvSpec) else layer.n_out)
                   for q, (_, layer) in zip(closed_form_parameters(grouped), alexnet_spec(grouped))])(smp)[0],
                   _totals()(smp)[1])),
    ),
    dtypes=(torch.float64,),
    instances=4,
)



def _layer_total(layers: slice, counts=closed_form_counts, *args) -> sp.Integer:
    """Multiplications (= additions) of the layers in `layers`, an exact integer from the per-layer formulas."""
    return sp.Integer(sum(counts(*args)[0][layers]))


def _torch_total(layers: slice):
    """The same total from FlopCounterMode on the torch module (the grader's witness), for every instance."""
    return lambda sample: torch.full((sample.size,), float(sum(alexnet_torch_counts(True)[0][layers])),
                                     dtype=torch.float64)


_CONV, _LINEAR = slice(0, CONV_LAYERS), slice(CONV_LAYERS, None)
_COUNT_QUESTION = (r"How many multiplications do the {} layers of AlexNet (2012, grouped) take in the forward pass "
                   r"of one $3 \times 227 \times 227$ image? (Additions are as many: one per product, the first "
                   r"replaced by the bias.)")
GRADEABLE = (
    Problem(
        id="alexnet-conv-multiplications", title="AlexNet: multiplications in the convolutional layers",
        source="hw7-2024 P2", claim=alexnet_totals, statement=_COUNT_QUESTION.format("convolutional"),
        symbols=(), answer=_layer_total(_CONV), witness=_torch_total(_CONV), exact=True,
        misconceptions=(
            Misconception("ungrouped", "that is the count without the two-GPU groups: conv2, conv4 and conv5 each "
                          "see only half of the input channels (C_in/g per output)", _layer_total(_CONV, closed_form_counts, False)),
            Misconception("input-224", "the input is 227 × 227 (224 × 224 does not give conv1's 55 × 55 output)",
                          _layer_total(_CONV, closed_form_counts, True, 224)),
            Misconception("multiply-adds-doubled", "that counts multiplications and additions together; the "
                          "question asks for the multiplications (as many additions come on top)",
                          2 * _layer_total(_CONV)),
        ),
    ),
    Problem(
        id="alexnet-linear-multiplications", title="AlexNet: multiplications in the linear layers",
        source="hw7-2024 P2", claim=alexnet_totals, statement=_COUNT_QUESTION.format("linear"),
        symbols=(), answer=_layer_total(_LINEAR), witness=_torch_total(_LINEAR), exact=True,
        misconceptions=(
            Misconception("parameters", "that is the number of parameters (weights and biases); each weight takes "
                          "one multiplication, the biases take additions only",
                          sp.Integer(sum(closed_form_parameters(True)[_LINEAR]))),
            Misconception("multiply-adds-doubled", "that counts multiplications and additions together; the "
                          "question asks for the multiplications (as many additions come on top)",
                          2 * _layer_total(_LINEAR)),
        ),
    ),
)

def _answer() -> str:
    """The answer's sentences, every number computed from the per-layer formulas (the checked counts)."""
    def variant(grouped: bool) -> str:
        mults, adds = closed_form_counts(grouped)
        params = closed_form_parameters(grouped)
        conv_ops = sum(mults[:CONV_LAYERS]) + sum(adds[:CONV_LAYERS])
        linear_ops = sum(mults[CONV_LAYERS:]) + sum(adds[CONV_LAYERS:])
        return (rf"the five convolutional layers take {sum(mults[:CONV_LAYERS]):,} multiplications and "
                rf"{sum(adds[:CONV_LAYERS]):,} additions, the three linear layers {sum(mults[CONV_LAYERS:]):,} "
                rf"multiplications and {sum(adds[CONV_LAYERS:]):,} additions: "
                rf"{100 * conv_ops / (conv_ops + linear_ops):.1f}\% of the operations are in the convolutions, "
                rf"while {100 * sum(params[CONV_LAYERS:]) / sum(params):.1f}\% of the parameters are in the "
                rf"linear layers")
    return (r"The problem's \texttt{counting\_params.py} is not available, so both common versions of AlexNet "
            r"are counted, on a $3 \times 227 \times 227$ image. "
            rf"\textbf{{With the two-GPU groups}} of the 2012 paper (conv2, conv4 and conv5 in 2 groups; this is "
            rf"the version in which 96\% of the parameters are in the linear layers), {variant(True)}. "
            rf"\textbf{{Without groups}}, {variant(False)}. Either way the linear layers are not compute-heavy. "
            r"A convolution with $C_\mathrm{out}$ filters of size $(C_\mathrm{in}/g) \times k \times k$ on an "
            r"$H' \times H'$ output takes $C_\mathrm{out} H'^2 (C_\mathrm{in}/g) k^2$ multiplications and as many "
            r"additions (summing the products, then the bias); a linear layer $n_\mathrm{in} \to n_\mathrm{out}$ "
            r"takes $n_\mathrm{in} n_\mathrm{out}$ of each.")


DERIVATIONS = (
    Derivation(
        id="alexnet-ops",
        title="Are linear layers compute-heavy? Operation counts of AlexNet",
        source="hw7-2024 P2",
        statement=r"In AlexNet, 96% of trainable parameters are in the final linear layers. How many additions and "
                  r"multiplications do the linear and the convolutional layers require in the forward pass of a "
                  r"$3 \times 227 \times 227$ image? (Activation, pooling, dropout and softmax are not counted.)",
        claims=(conv_layer_counts, linear_layer_counts, alexnet_per_layer, alexnet_ungrouped, alexnet_totals),
        parts=(
            Part(label="", question=r"In AlexNet, 96\% of trainable parameters are in the final linear layers, and only "
                                    r"4\% are in the convolutional layers. How many operations (additions and "
                                    r"multiplications, not counting activation, pooling, dropout and softmax) do the "
                                    r"linear and the convolutional layers require in the forward pass of a "
                                    r"$3 \times 227 \times 227$ image?",
                 answer=Answer(
                     text=_answer(),
                     scope=r"The problem's \texttt{counting\_params.py} is not available: the counts are for the "
                           r"original AlexNet of Krizhevsky, Sutskever and Hinton (2012), whose two-GPU grouping is "
                           r"what makes the 96\% of parameters true; the ungrouped variant is counted too. A "
                           r"multiply-accumulate counts as one multiplication and one addition. Sympy proves the "
                           r"count per output; the totals are computed from it layer by layer and equal the counts of "
                           r"torch's FlopCounterMode on the same network."),
                 claims=("conv-layer-counts", "linear-layer-counts", "alexnet-per-layer", "alexnet-ungrouped-per-layer",
                         "alexnet-totals")),
        ),
    ),
)
