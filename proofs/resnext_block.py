r"""A 2-layer ResNeXt block (32 groups of width 4) is a width-128 ResNet block if branches are summed before the ReLU.

The exam's code as written applies the ReLU inside each branch, and then the two blocks are not equivalent.

# Main statements

With $x \in \mathbb{R}^{64 \times S \times S}$, branch $i = 1..32$ having $W^{(1)}_i$ (64 → 4, 3×3) and $W^{(2)}_i$
(4 → 64, 3×3), and $W^{(1)} = [W^{(1)}_1; \dots; W^{(1)}_{32}]$ (stacked along output channels, 64 → 128),
$W^{(2)} = [W^{(2)}_1, \dots, W^{(2)}_{32}]$ (stacked along input channels, 128 → 64):

* `resnext-to-resnet`: $\mathrm{ReLU}\big(\sum_i W^{(2)}_i * \mathrm{ReLU}(W^{(1)}_i * x)\big) + x
  = \mathrm{ReLU}\big(W^{(2)} * \mathrm{ReLU}(W^{(1)} * x)\big) + x$ (ResNeXt weights given, ResNet weights built).
* `resnet-to-resnext`: the same identity read the other way (ResNet weights given, split into 32 branches).
* `grouped-conv-is-block-diagonal`: `Conv2d(128, 128, 3, groups=32)` is the dense convolution whose weight is
  block diagonal with the 32 group filters on the diagonal (the form of the 3-layer ResNeXt block's middle
  layer, which is why the basic ResNeXt block has depth 3), and the blocks are read back from it.
* `literal-code-dominates`: the exam's code as written applies the ReLU inside each branch and then sums,
  $\sum_i \mathrm{ReLU}(W^{(2)}_i * h_i) \ge \mathrm{ReLU}(\sum_i W^{(2)}_i * h_i)$ elementwise (the positive part is
  subadditive), with strict inequality on most outputs: so the two blocks as coded in the exam are
  *not* equal; they are equal in the aggregate-then-ReLU form of the ResNeXt paper (Xie et al. 2017,
  Fig. 3), which is what the first two claims check. The mutant `equal` (the literal code equals the
  ResNet block) is rejected.

# Notation

$*$ is PyTorch's convolution (3×3, padding 1, no bias), ReLU is elementwise, $h_i = \mathrm{ReLU}(W^{(1)}_i * x)$.

# Implementation notes

* Symbolic: sympy proves the weight mapping for 1×1 kernels (convolutions become matrix products) with
  explicit symbols and ReLU an undefined elementwise function, for groups G ∈ {1, 2, 3}, width
  d ∈ {1, 2} and C ∈ {1, 2} channels: the identity is linear tap by tap, so a 3×3 kernel adds nothing
  but indices. The exam's sizes (C = 64, G = 32, d = 4, 3×3) are checked numerically only.
* Numeric: the exam's widths exactly, on S × S inputs with S ∈ {3, 4} (spatial size shrunk for speed),
  32 images, weights drawn per configuration from its seed; the ResNeXt side is the exam's 32-branch loop
  of `nn.Conv2d` modules. That loop costs 64 small convolution calls per forward pass, so only
  `resnext-to-resnet` and the grouped convolution also run in float32; the other two run in float64
  (float16 3×3 convolutions have no fast CPU kernels and are not run).

# References

* final-2022 Problem 7 (2-layer ResNeXt block = 2-layer ResNet block).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from checkers import Answer, Claim, Derivation, Kind, Mutant, Part, Tolerance, Variable, facts, not_attempted

CHANNELS, GROUPS, WIDTH = 64, 32, 4
HIDDEN = GROUPS * WIDTH  # 128


class TwoResNeXt(nn.Module):
    """The exam's twoResNext; `relu_per_branch=True` is its code as written, False the aggregate-then-ReLU form."""

    def __init__(self, relu_per_branch: bool = False):
        super().__init__()
        self.relu_per_branch = relu_per_branch
        self.layer1 = nn.ModuleList([nn.Conv2d(CHANNELS, WIDTH, kernel_size=3, padding=1, bias=False)
                                     for _ in range(GROUPS)])
        self.layer2 = nn.ModuleList([nn.Conv2d(WIDTH, CHANNELS, kernel_size=3, padding=1, bias=False)
                                     for _ in range(GROUPS)])

    def forward(self, x):
        out = 0
        for i in range(GROUPS):
            tmp = F.relu(self.layer1[i](x))
            tmp = self.layer2[i](tmp)
            out = out + (F.relu(tmp) if self.relu_per_branch else tmp)
        return (out if self.relu_per_branch else F.relu(out)) + x


class TwoResNet(nn.Module):
    """The exam's twoResNet."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Conv2d(CHANNELS, HIDDEN, kernel_size=3, padding=1, bias=False)
        self.layer2 = nn.Conv2d(HIDDEN, CHANNELS, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        tmp = F.relu(self.layer1(x))
        tmp = F.relu(self.layer2(tmp))
        return tmp + x


twoResNet = TwoResNet  # the exam's name for the same block  # noqa: N816


def resnet_from_resnext(block):
    """The equal twoResNet block: W1 = the branches' first filters stacked along output channels (64 → 128),
    W2 = their second filters stacked along input channels (128 → 64), in the same branch order."""
    net = twoResNet().to(block.layer1[0].weight.dtype)
    with torch.no_grad():
        net.layer1.weight.copy_(torch.cat([conv.weight for conv in block.layer1], dim=0))
        net.layer2.weight.copy_(torch.cat([conv.weight for conv in block.layer2], dim=1))
    return net


def misaligned_resnet(block: TwoResNeXt, shift: int) -> TwoResNet:
    """A wrong mapping: branch i's first layer paired with branch i + shift's second layer."""
    net = resnet_from_resnext(block)
    order = [(i + shift) % GROUPS for i in range(GROUPS)]
    with torch.no_grad():
        net.layer2.weight.copy_(torch.cat([block.layer2[j].weight for j in order], dim=1))
    return net


def contiguous(i: int) -> slice:
    return slice(WIDTH * i, WIDTH * (i + 1))


def strided(i: int) -> slice:
    return slice(i, HIDDEN, GROUPS)


def resnext_from_resnet(net: TwoResNet, relu_per_branch: bool = False, split1=contiguous,
                        split2=contiguous) -> TwoResNeXt:
    """Branch i gets W1[4i:4i+4] (its 4 output channels) and W2[:, 4i:4i+4] (its 4 input channels).

    Any split works if both layers use the same one (hidden units may be permuted); `split1` != `split2`
    is a wrong mapping.
    """
    block = TwoResNeXt(relu_per_branch).to(net.layer1.weight.dtype)
    with torch.no_grad():
        for i in range(GROUPS):
            block.layer1[i].weight.copy_(net.layer1.weight[split1(i)])
            block.layer2[i].weight.copy_(net.layer2.weight[:, split2(i)])
    return block


def _he(module: nn.Module, gen: torch.Generator) -> nn.Module:
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * math.sqrt(2.0 / p[0].numel()))
    return module


@lru_cache(maxsize=8)
def random_resnext(seed: int) -> TwoResNeXt:
    return _he(TwoResNeXt().to(torch.float64), torch.Generator().manual_seed(seed))


@lru_cache(maxsize=8)
def random_resnet(seed: int) -> TwoResNet:
    return _he(TwoResNet().to(torch.float64), torch.Generator().manual_seed(seed + 1))


@dataclass(frozen=True)
class FeatureMaps(Kind):
    """64 x S x S feature maps with iid N(0, 1) entries."""

    @property
    def description(self) -> str:
        return f"{CHANNELS}xSxS feature map, iid N(0, 1)"

    def draw(self, batch, dims, gen):
        return torch.randn(batch, CHANNELS, dims["S"], dims["S"], generator=gen, dtype=torch.float64)


VARIABLES = (Variable("x", FeatureMaps()),)
DIMS = {"S": (3, 4)}
DTYPES = (torch.float64, torch.float32)


def run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x) without gradients, in x's dtype (a low-precision copy of the float64 module)."""
    with torch.no_grad():
        same = x.dtype == torch.float64 and x.device.type == "cpu"
        return (module if same else copy.deepcopy(module).to(device=x.device, dtype=x.dtype))(x)


def _resnext_to_resnet(relu_per_branch: bool = False, shift: int = 0):
    def sides(sample):
        """(the ResNeXt block, the ResNet block with the stacked weights) on x."""
        block = left = random_resnext(sample.seed)
        if relu_per_branch:  # the same weights in the exam's literal code
            left = TwoResNeXt(relu_per_branch=True).to(torch.float64)
            left.load_state_dict(block.state_dict())
        net = misaligned_resnet(block, shift) if shift else resnet_from_resnext(block)
        return run(left, sample["x"]), run(net, sample["x"])
    return sides


def _resnet_to_resnext(relu_per_branch: bool = False, split1=contiguous, split2=contiguous):
    def sides(sample):
        """(the ResNet block, the ResNeXt block with the split weights) on x."""
        net = random_resnet(sample.seed)
        return run(net, sample["x"]), run(resnext_from_resnet(net, relu_per_branch, split1, split2), sample["x"])
    return sides


# ---------------------------------------------------------------------------------------------------------------
# Symbolic: 1x1 kernels, so each layer is a matrix product; relu an undefined elementwise function.

relu = sp.Function("relu")


def _mapping_difference(groups: int, width: int, channels: int) -> sp.ImmutableMatrix:
    """ResNeXt minus ResNet output for 1×1 kernels with explicit symbols: the zero vector when the mapping is right."""
    x = sp.Matrix(sp.symbols(f"x1:{channels + 1}", real=True))
    w1 = [sp.Matrix(width, channels, lambda r, c, g=g: sp.Symbol(f"a{g}_{r}{c}", real=True)) for g in range(groups)]
    w2 = [sp.Matrix(channels, width, lambda r, c, g=g: sp.Symbol(f"b{g}_{r}{c}", real=True)) for g in range(groups)]
    branches = sum((w2[g] * (w1[g] * x).applyfunc(relu) for g in range(groups)), sp.zeros(channels, 1))
    resnext = branches.applyfunc(relu) + x
    stacked = sp.Matrix.vstack(*w1)  # W1: (G·d) x C
    side_by_side = sp.Matrix.hstack(*w2)  # W2: C x (G·d)
    resnet = (side_by_side * (stacked * x).applyfunc(relu)).applyfunc(relu) + x
    return sp.ImmutableMatrix((resnext - resnet).applyfunc(sp.expand))


def _all_mappings_vanish():
    """True when the difference is exactly 0 for every G ∈ {1, 2, 3}, d ∈ {1, 2}, C ∈ {1, 2}."""
    return sp.true if all(entry == 0 for g in (1, 2, 3) for d in (1, 2) for c in (1, 2)
                          for entry in _mapping_difference(g, d, c)) else sp.false


MAPPING = facts(("ReLU(Σ_g W2_g ReLU(W1_g x)) = ReLU([W2_1 … W2_G] ReLU([W1_1; …; W1_G] x)) with explicit symbolic "
                 "weights, ReLU an undefined elementwise function, for each G ∈ {1, 2, 3}, d ∈ {1, 2}, C ∈ {1, 2}",
                 _all_mappings_vanish),
                scope="1×1 kernels, G ∈ {1, 2, 3}, d ∈ {1, 2}, C ∈ {1, 2}")

resnext_to_resnet = Claim(
    id="resnext-to-resnet",
    statement=r"the ResNeXt block in the aggregate-then-ReLU form (32 branches of width 4, summed before the last "
              r"ReLU) equals the ResNet block of width 128 with $W^{(1)}$ = the branch filters stacked along output "
              r"channels and $W^{(2)}$ = stacked along input channels",
    variables=VARIABLES,
    dims=DIMS,
    assumptions=("no biases; the ReLU after the sum of the branches (not inside each branch, as the exam's code "
                 "has it)",),
    symbolic=MAPPING,
    numeric=_resnext_to_resnet(),
    mutants=(
        Mutant("relu-per-branch", "the exam's code as written: ReLU inside every branch, then the sum",
               numeric=_resnext_to_resnet(relu_per_branch=True)),
        Mutant("misaligned-branches", "branch i's first layer paired with branch i + 1's second layer",
               numeric=_resnext_to_resnet(shift=1)),
    ),
    tolerances={torch.float32: Tolerance(1e-5, 1e-4, "float32: 32 branch sums of 36-term dot products against one "
                                                     "1152-term sum; √1152·u·Σ|w·h| ≈ 1e-4 (Σ|w·h| ≈ 70 on "
                                                     "average for these He-scaled weights and N(0, 1) inputs)")},
    dtypes=DTYPES,
    instances=32,
)

resnet_to_resnext = Claim(
    id="resnet-to-resnext",
    statement=r"the ResNet block of width 128 equals the ResNeXt block (aggregate-then-ReLU form) whose branch $i$ "
              r"has the filters $W^{(1)}[4i:4i+4]$ and $W^{(2)}[:, 4i:4i+4]$",
    variables=VARIABLES,
    dims=DIMS,
    assumptions=("no biases; the ReLU after the sum of the branches (not inside each branch, as the exam's code "
                 "has it)",),
    symbolic=MAPPING,
    numeric=_resnet_to_resnext(),
    mutants=(
        Mutant("relu-per-branch", "the exam's code as written: ReLU inside every branch, then the sum",
               numeric=_resnet_to_resnext(relu_per_branch=True)),
        Mutant("mismatched-split", "branch i takes hidden channels i, i + 32, i + 64, i + 96 of layer 1 but the "
               "contiguous block 4i..4i+3 of layer 2", numeric=_resnet_to_resnext(split1=strided)),
    ),
    dtypes=(torch.float64,),
    instances=32,
)


# ---------------------------------------------------------------------------------------------------------------
# Grouped convolution = dense convolution with a block-diagonal weight.

def block_diagonal(grouped: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """(G·d_out, d_in, k, k) grouped filters -> (G·d_out, G·d_in, k, k) dense filters, zero off the diagonal blocks."""
    d_out, d_in = grouped.shape[0] // GROUPS, grouped.shape[1]
    dense = grouped.new_zeros(grouped.shape[0], GROUPS * d_in, *grouped.shape[2:])
    for g in range(GROUPS):
        h = (g + offset) % GROUPS
        dense[g * d_out:(g + 1) * d_out, h * d_in:(h + 1) * d_in] = grouped[g * d_out:(g + 1) * d_out]
    return dense


def diagonal_blocks(dense: torch.Tensor) -> torch.Tensor:
    """The inverse of block_diagonal: the diagonal blocks of a (G·d_out, G·d_in, k, k) weight."""
    d_out, d_in = dense.shape[0] // GROUPS, dense.shape[1] // GROUPS
    return torch.cat([dense[g * d_out:(g + 1) * d_out, g * d_in:(g + 1) * d_in] for g in range(GROUPS)], dim=0)


@dataclass(frozen=True)
class HiddenMaps(Kind):
    """128 x S x S feature maps (the width of the middle layer of a 3-layer ResNeXt block), iid N(0, 1)."""

    @property
    def description(self) -> str:
        return f"{HIDDEN}xSxS feature map, iid N(0, 1)"

    def draw(self, batch, dims, gen):
        return torch.randn(batch, HIDDEN, dims["S"], dims["S"], generator=gen, dtype=torch.float64)


def _grouped_sides(offset: int = 0):
    def sides(sample):
        """(grouped conv, grouped conv with the blocks read back; dense conv with the block-diagonal weight)."""
        x = sample["x"]
        gen = sample.generator()
        grouped = (torch.randn(HIDDEN, WIDTH, 3, 3, generator=gen, dtype=torch.float64) / 6).to(x)
        dense = block_diagonal(grouped, offset)
        back = diagonal_blocks(block_diagonal(grouped))  # round trip: the blocks are read back exactly
        lhs = torch.cat([F.conv2d(x, grouped, padding=1, groups=GROUPS).flatten(1),
                         F.conv2d(x, back, padding=1, groups=GROUPS).flatten(1)], dim=1)
        rhs = F.conv2d(x, dense, padding=1).flatten(1)
        return lhs, torch.cat([rhs, rhs], dim=1)
    return sides


grouped_conv = Claim(
    id="grouped-conv-is-block-diagonal",
    statement="Conv2d(128, 128, 3, groups=32) equals the dense Conv2d(128, 128, 3) whose weight is block diagonal "
              "with the 32 group filters, and the grouped filters are that weight's diagonal blocks (the middle layer "
              "of the 3-layer ResNeXt block)",
    variables=(Variable("x", HiddenMaps()),),
    dims=DIMS,
    symbolic=not_attempted("the block structure is index bookkeeping; checked numerically on the exam's sizes"),
    numeric=_grouped_sides(),
    mutants=(Mutant("shifted-blocks", "group g's filters placed on the input channels of group g + 1",
                    numeric=_grouped_sides(offset=1)),),
    dtypes=DTYPES,
    instances=32,
)

literal_code = Claim(
    id="literal-code-dominates",
    statement=r"the exam's code as written (ReLU inside each branch, then the sum) is not the ResNet block: with "
              r"the mapped weights it is $\ge$ it elementwise, since $\sum_i \mathrm{ReLU}(a_i) \ge "
              r"\mathrm{ReLU}(\sum_i a_i)$, and strictly larger on many outputs (the mutant equal is rejected)",
    relation=">=",
    variables=VARIABLES,
    dims=DIMS,
    symbolic=not_attempted("ReLU subadditivity (the triangle inequality of the positive part); sympy has no rule "
                           "for sums of Max"),
    numeric=_resnext_to_resnet(relu_per_branch=True),
    mutants=(Mutant("equal", "the literal code is ≤ the ResNet block too, i.e. equal (rejected: strictly larger on "
                    "many outputs)", numeric=lambda s: tuple(reversed(_resnext_to_resnet(relu_per_branch=True)(s)))),),
    dtypes=(torch.float64,),
    instances=32,
)

DERIVATIONS = (
    Derivation(
        id="resnext-block",
        title="2-layer ResNeXt block and 2-layer ResNet block: the exam's code, as written, is not equivalent; "
              "the blocks are equal when the branches are summed before the ReLU",
        source="final-2022 P7",
        statement=r"The 2-layer ResNeXt block twoResNext has 32 branches, each a 3×3 convolution 64 → 4 followed "
                  r"by a ReLU and a 3×3 convolution 4 → 64 (no biases); the exam's code applies a ReLU to every "
                  r"branch, sums the branches and adds the input. The 2-layer ResNet block twoResNet has 3×3 "
                  r"convolutions 64 → 128 → 64 (no biases), a ReLU after each, and adds the input.",
        claims=(resnext_to_resnet, resnet_to_resnext, grouped_conv, literal_code),
        parts=(
            Part(
                label="",
                question=r"Show that the two blocks (twoResNext and twoResNet) are equivalent.",
                answer=Answer(
                    text=r"\textbf{As the exam's code is written, the two blocks are not equivalent}: twoResNext applies "
                         r"the ReLU inside every branch and sums afterwards, and "
                         r"$\sum_i \mathrm{ReLU}(a_i) \ne \mathrm{ReLU}(\sum_i a_i)$ in general (with the mapped "
                         r"weights it is strictly larger on many outputs). They are equivalent in the form of the "
                         r"ResNeXt paper, where the 32 branches are summed before the second ReLU: "
                         r"$\mathrm{ReLU}(\sum_{i=1}^{32} W^{(2)}_i * \mathrm{ReLU}(W^{(1)}_i * x)) + x = "
                         r"\mathrm{ReLU}(W^{(2)} * \mathrm{ReLU}(W^{(1)} * x)) + x$, where $W^{(1)}$ (64 → 128) "
                         r"stacks the 32 first-layer filters $W^{(1)}_i$ (64 → 4) along the output channels and "
                         r"$W^{(2)}$ (128 → 64) stacks the second-layer filters $W^{(2)}_i$ (4 → 64) along the input "
                         r"channels, in the same order. Conversely any twoResNet splits into 32 branches of 4 "
                         r"hidden channels. The reason is that a convolution is linear in its input channels: "
                         r"$W^{(2)} * h = \sum_i W^{(2)}_i * h_i$ for the channel groups $h_i$ of $h$. The mapping "
                         r"is the code below.",
                    code=resnet_from_resnext,
                    scope=r"the equivalence (aggregate-then-ReLU form) proved by sympy for 1×1 kernels with "
                          r"$G \in \{1, 2, 3\}$ groups of width $d \in \{1, 2\}$ and $C \in \{1, 2\}$ channels, "
                          r"and checked numerically at the exam's sizes (3×3, 64 → 128 → 64) on 3×3 and 4×4 "
                          r"inputs; that the literal code differs is shown for the mapped weights (that no other "
                          r"ResNet weights could reproduce it is not checked)",
                ),
                claims=("literal-code-dominates", "resnext-to-resnet", "resnet-to-resnext",
                        "grouped-conv-is-block-diagonal"),
            ),
        ),
    ),
)
