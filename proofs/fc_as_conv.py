r"""Fully-connected layers as convolutions: Net2 computes Net1, and slides Net1 over larger images.

# Main statements

* `linear-is-conv`: a Linear layer on a flattened $C \times k \times k$ map is the $k \times k$ convolution
  whose filters are the weight rows reshaped to $C \times k \times k$ (row-major: channel, row, column).
* `net2-equals-net1`: Net2 (classifier = Conv2d(C, H, 18), ReLU, Conv2d(H, H, 1), ReLU, Conv2d(H, 10, 1))
  with Net1's weights copied (`weight.view(H, C, 18, 18)`, `weight.view(·, ·, 1, 1)`) computes Net1 on
  $B \times 3 \times 32 \times 32$ inputs.
* `net2-slides-net1`: on $X \in \mathbb{R}^{B \times 3 \times h \times w}$ with $h, w > 32$,
  $\mathrm{Net2}(X)[:, :, i, j] = \mathrm{Net1}(X[:, :, i:i+32, j:j+32])$ for every
  $0 \le i \le h - 32$, $0 \le j \le w - 32$: the `...` of the problem's loop is `images[:, :, i:i+32, j:j+32]`.

The answers are code: `Net2` is the problem's skeleton filled in (part (a); `copy_weights_from` views
each Linear weight as a filter bank), run by `net2-equals-net1` and `net2-slides-net1`; `net1_on_windows`
is part (b)'s loop with `...` = `images[:, :, i:i+32, j:j+32]`, run by `net2-slides-net1` as the reference
`answer-code`.

# Notation

$C$ is the channel count of Net1's last feature map ($18 \times 18$ for a $32 \times 32$ input), $H$ the
hidden width of the classifier.

# Implementation notes

* `linear-is-conv` and the per-position form of `net2-slides-net1` are proved by sympy with explicit
  symbolic weights and inputs for $C \in \{1, 2\}$, $k \in \{1, 2, 3\}$ (and a $(k+1) \times (k+2)$ input for
  the sliding window): both are sums over the same index set, so this is index bookkeeping made explicit.
* The networks are checked numerically only. Widths are shrunk for speed (features 3→4→6→6→6→4 instead
  of 3→64→192→384→256→256, hidden width 16 instead of 4096); kernel sizes, strides and the 32 → 18
  spatial sizes are the problem's, so the 18 × 18 classifier convolution is exactly the problem's.
  Each hypothesis configuration builds its own random Net1 from its seed.
* The network claims run in float64 and float32 (tolerance next to the claims) on 48 and 16 images:
  float16 convolutions have no fast CPU kernels, and bn-fold already checks a network in float16.
* On larger inputs all $(h-31)(w-31)$ patches of every image go through Net1 in one batch
  (`Tensor.unfold` twice), for $h \in [33, 36]$, $w \in [33, 38]$ (the problem resizes to 36 × 38).

# References

* hw7-2024 Problem 5 (larger network in network), parts (a) and (b).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
import torch
from torch import nn

from checkers import Answer, Claim, Derivation, Kind, Mutant, Part, Reference, Tolerance, Variable, facts, not_attempted

WIDTHS = (3, 4, 6, 6, 6, 4)  # problem: 3, 64, 192, 384, 256, 256
KERNELS = (7, 3, 3, 3, 3)
HIDDEN, CLASSES, SIZE = 16, 10, 32
MAP = SIZE - sum(k - 1 for k in KERNELS)  # 18


def features(widths: tuple[int, ...] = WIDTHS) -> nn.Sequential:
    """Net1's (and Net2's) convolutional features: 7x7, then four 3x3 convolutions, ReLU between them."""
    layers: list[nn.Module] = []
    for i, k in enumerate(KERNELS):
        layers.append(nn.Conv2d(widths[i], widths[i + 1], kernel_size=k, stride=1))
        if i < len(KERNELS) - 1:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Net1(nn.Module):
    """The problem's Net1 (widths shrunk): convolutional features, then three Linear layers."""

    def __init__(self):
        super().__init__()
        self.features = features()
        self.classifier = nn.Sequential(nn.Linear(WIDTHS[-1] * MAP * MAP, HIDDEN), nn.ReLU(),
                                        nn.Linear(HIDDEN, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, CLASSES))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


class Net2(nn.Module):
    """The problem's Net2 template with the classifier filled in: an 18x18 convolution, then two 1x1 ones."""

    def __init__(self, num_classes=10):
        super(Net2, self).__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=7, stride=1),
            nn.ReLU(),
            nn.Conv2d(64, 192, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Conv2d(192, 384, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Conv2d(384, 256, kernel_size=3, stride=1),
            nn.ReLU(),
            nn.Conv2d(256, 256, kernel_size=3, stride=1),
        )
        self.classifier = nn.Sequential(
            nn.Conv2d(256, 4096, kernel_size=18),  # Linear(256*18*18, 4096) on the 18x18 feature map
            nn.ReLU(),
            nn.Conv2d(4096, 4096, kernel_size=1),  # Linear(4096, 4096) at every position
            nn.ReLU(),
            nn.Conv2d(4096, num_classes, kernel_size=1),  # Linear(4096, num_classes) at every position
        )

    def copy_weights_from(self, net1):
        with torch.no_grad():
            for i in range(0, len(self.features), 2):
                self.features[i].weight.copy_(net1.features[i].weight)
                self.features[i].bias.copy_(net1.features[i].bias)

            for i in range(len(self.classifier)):
                if isinstance(self.classifier[i], nn.Conv2d):  # the ReLUs have no parameters
                    conv, linear = self.classifier[i], net1.classifier[i]
                    # torch.flatten orders a C x 18 x 18 map as (channel, row, column): viewing each weight
                    # row as a C x 18 x 18 filter (or a 1 x 1 one) makes the convolution the same sum.
                    conv.weight.copy_(linear.weight.view(conv.weight.shape))
                    conv.bias.copy_(linear.bias)
        return self

    def forward(self, x):
        x = self.features(x)
        x = self.classifier(x)
        return x


def net1_on_windows(model1, images):
    """Part (b)'s loop with its ... filled in: Net1 on the 32x32 window of the images at (i, j)."""
    b, w, h = images.shape[0], images.shape[-1], images.shape[-2]
    out1 = torch.empty((b, 10, h - 31, w - 31), dtype=images.dtype, device=images.device)
    for i in range(h - 31):
        for j in range(w - 31):
            out1[:, :, i, j] = model1(images[:, :, i:i + 32, j:j + 32])
    return out1


@lru_cache(maxsize=8)
def random_net1(seed: int) -> Net1:
    """Net1 in float64 with He-scaled normal weights and small biases drawn from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    net = Net1().to(torch.float64)
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen, dtype=torch.float64)
                                    * math.sqrt(2.0 / fan_in))
                module.bias.copy_(0.1 * torch.randn(module.bias.shape, generator=gen, dtype=torch.float64))
    return net.eval()


class SmallNet2(Net2):
    """Net2 at this module's shrunk widths for the checks: the answer's copy_weights_from and forward, inherited."""

    def __init__(self):
        nn.Module.__init__(self)
        self.features = features(WIDTHS)
        self.classifier = nn.Sequential(
            nn.Conv2d(WIDTHS[-1], HIDDEN, kernel_size=MAP), nn.ReLU(),
            nn.Conv2d(HIDDEN, HIDDEN, kernel_size=1), nn.ReLU(),
            nn.Conv2d(HIDDEN, CLASSES, kernel_size=1),
        )


def net2_from(net1: Net1, reshape=None) -> Net2:
    """Net2 (this module's widths) with Net1's weights copied by the answer's code; `reshape` replaces the copy of
    the 18x18 classifier filters (for the mutants)."""
    net2 = SmallNet2().to(torch.float64).copy_weights_from(net1)
    if reshape is not None:
        with torch.no_grad():
            net2.classifier[0].weight.copy_(reshape(net1.classifier[0].weight, net2.classifier[0]))
    return net2.eval()


def answer_windows(sample) -> torch.Tensor:
    """Net1 on every 32x32 window of X by the answer's loop (net1_on_windows), one window at a time."""
    return run_fn(lambda x: net1_on_windows(random_net1(sample.seed), x), sample["x"])


@dataclass(frozen=True)
class Images(Kind):
    """Images 3 x h x w with iid N(0, 1) pixels; h, w are dimension names or fixed sizes."""

    height: int | str = SIZE
    width: int | str = SIZE

    @property
    def description(self) -> str:
        return f"3x{self.height}x{self.width} image, iid N(0, 1) pixels"

    def draw(self, batch, dims, gen):
        size = [s if isinstance(s, int) else dims[s] for s in (self.height, self.width)]
        return torch.randn(batch, 3, *size, generator=gen, dtype=torch.float64)


def run(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x) without gradients, in x's dtype (a low-precision copy of the float64 module)."""
    with torch.no_grad():
        same = x.dtype == torch.float64 and x.device.type == "cpu"
        return (module if same else copy.deepcopy(module).to(device=x.device, dtype=x.dtype))(x)


def run_fn(fn, x: torch.Tensor) -> torch.Tensor:
    """fn(x) without gradients (the answer's loop in float64 on the CPU)."""
    with torch.no_grad():
        return fn(x.to("cpu", torch.float64))


def patches(x: torch.Tensor) -> torch.Tensor:
    """Every 32 x 32 window of every image: (B, 3, h, w) -> (B·(h−31)·(w−31), 3, 32, 32), row-major windows."""
    windows = x.unfold(2, SIZE, 1).unfold(3, SIZE, 1)  # (B, 3, h−31, w−31, 32, 32)
    return windows.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, SIZE, SIZE)


def net1_on_patches(net1: Net1, x: torch.Tensor) -> torch.Tensor:
    """out1[:, :, i, j] = Net1(x[:, :, i:i+32, j:j+32]), all windows in one batch: (B, 10, h−31, w−31)."""
    batch, _, h, w = x.shape
    out = run(net1, patches(x))
    return out.reshape(batch, h - SIZE + 1, w - SIZE + 1, CLASSES).permute(0, 3, 1, 2)


def spatially_transposed(weight: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Wrong copy: the 18 x 18 filter read column-major (rows and columns swapped)."""
    return weight.view(conv.weight.shape).transpose(-1, -2)


def channels_last(weight: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """Wrong copy: the flattened input read as (row, column, channel), as if the map were channels-last."""
    o, c, k, _ = conv.weight.shape
    return weight.view(o, k, k, c).permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------------------------
# Symbolic: Linear on a flattened map = a k x k convolution; a convolution over a larger map = Linear per window.

def _linear_is_conv(c: int, k: int):
    def make():
        x = [[[sp.Symbol(f"x_{ch}{i}{j}", real=True) for j in range(k)] for i in range(k)] for ch in range(c)]
        w = sp.symbols(f"w0:{c * k * k}", real=True)
        flat = [x[ch][i][j] for ch in range(c) for i in range(k) for j in range(k)]  # torch.flatten order
        linear = sum(wi * xi for wi, xi in zip(w, flat))
        kernel = lambda ch, i, j: w[(ch * k + i) * k + j]  # noqa: E731  weight.view(C, k, k)
        conv = sum(kernel(ch, i, j) * x[ch][i][j] for ch in range(c) for i in range(k) for j in range(k))
        return sp.expand(linear - conv)
    return (f"Linear(flatten(x)) = conv with weight.view(C, k, k), C = {c}, k = {k}", make)


def _sliding(c: int, k: int):
    def make():
        h, w = k + 1, k + 2
        x = [[[sp.Symbol(f"x_{ch}{i}{j}", real=True) for j in range(w)] for i in range(h)] for ch in range(c)]
        wt = sp.symbols(f"w0:{c * k * k}", real=True)
        diffs = []
        for r in range(h - k + 1):
            for s in range(w - k + 1):
                conv = sum(wt[(ch * k + a) * k + bb] * x[ch][r + a][s + bb]
                           for ch in range(c) for a in range(k) for bb in range(k))
                window = [x[ch][r + a][s + bb] for ch in range(c) for a in range(k) for bb in range(k)]
                linear = sum(wi * xi for wi, xi in zip(wt, window))
                diffs.append(sp.expand(conv - linear))
        return sp.ImmutableMatrix(diffs)
    return (f"conv output (i, j) = Linear(flatten(window at (i, j))), C = {c}, k = {k}", make)


SMALL = [(c, k) for c in (1, 2) for k in (1, 2, 3)]


@dataclass(frozen=True)
class LinearLayer(Kind):
    """The weight of Linear(C·k·k, o) and a C x k x k input, packed per instance as (o + 1, C·k·k)."""

    @property
    def description(self) -> str:
        return "Linear weight (o x Ck²) stacked on a flattened C x k x k input"

    def draw(self, batch, dims, gen):
        return torch.randn(batch, dims["o"] + 1, dims["c"] * dims["k"] ** 2, generator=gen, dtype=torch.float64)


def _linear_and_conv(reshape):
    def sides(sample):
        """(Linear on flatten(x), Conv2d with the reshaped weight on x), one group per instance."""
        packed = sample["layer"]
        c, k, o = sample.dims["c"], sample.dims["k"], sample.dims["o"]
        weight, x = packed[:, :o], packed[:, o]
        linear = (weight @ x.unsqueeze(-1)).squeeze(-1)
        batch = packed.shape[0]
        # One group per instance: (1, B·C, k, k) input, (B·o, C, k, k) filters.
        filters = reshape(weight, batch, o, c, k).reshape(batch * o, c, k, k)
        conv = torch.nn.functional.conv2d(x.reshape(1, batch * c, k, k), filters, groups=batch)
        return linear, conv.reshape(batch, o)
    return sides


linear_is_conv = Claim(
    id="linear-is-conv",
    statement="Linear(C·k·k, o) on flatten(x) equals Conv2d(C, o, k) with weight.view(o, C, k, k) on x (C x k x k)",
    variables=(Variable("layer", LinearLayer()),),
    dims={"c": (1, 6), "k": (1, 6), "o": (1, 5)},
    symbolic=facts(*(_linear_is_conv(c, k) for c, k in SMALL), scope="C ∈ {1, 2}, k ∈ {1, 2, 3}"),
    numeric=_linear_and_conv(lambda w, b, o, c, k: w.reshape(b, o, c, k, k)),
    tolerances={torch.float32: Tolerance(1.3e-6, 1e-4, "float32 sums of n ≤ 6·6·6 = 216 products of N(0, 1) entries "
                                                       "in different orders: √n·u·Σ|w·x| ≈ 15·6e-8·140 ≈ 1e-4")},
    mutants=(
        Mutant("spatially-transposed", "the filter read column-major",
               numeric=_linear_and_conv(lambda w, b, o, c, k: w.reshape(b, o, c, k, k).transpose(-1, -2))),
        Mutant("channels-last", "the flattened input read as (row, column, channel)",
               numeric=_linear_and_conv(lambda w, b, o, c, k: w.reshape(b, o, k, k, c).permute(0, 1, 4, 2, 3))),
    ),
)


def _equal_on_32(reshape=None):
    def sides(sample):
        """(Net1(x), Net2(x) with Net1's weights copied) on 32 x 32 images."""
        net1 = random_net1(sample.seed)
        x = sample["x"]
        return run(net1, x), run(net2_from(net1, reshape), x).reshape(x.shape[0], CLASSES)
    return sides


def _sliding_sides(reshape=None, shift: int = 0):
    def sides(sample):
        """(Net2(X), Net1 on every 32 x 32 window of X arranged as a map)."""
        net1 = random_net1(sample.seed)
        x = sample["x"]
        windows = net1_on_patches(net1, x.roll(-shift, dims=-1) if shift else x)
        return run(net2_from(net1, reshape), x), windows
    return sides


# Rounding: the widest sum is the 18 x 18 classifier filter over C channels (fan-in 4·18·18 = 1296); each of
# the 8 layers adds about √(fan-in)·u relative error (Higham & Mary's probabilistic bound) to O(1) outputs.
_FAN_IN = WIDTHS[-1] * MAP * MAP


def _network_tolerance(dtype: torch.dtype) -> Tolerance:
    bound = 8 * math.sqrt(_FAN_IN) * torch.finfo(dtype).eps / 2
    return Tolerance(bound, bound, f"{dtype} through 8 layers of fan-in ≤ {_FAN_IN}: depth·√(fan-in)·u = {bound:.2g} "
                                   "(Higham–Mary probabilistic rounding bound), outputs are O(1)")


NETWORK_TOLERANCES = {torch.float32: _network_tolerance(torch.float32)}
NETWORK_DTYPES = (torch.float64, torch.float32)

net2_equals_net1 = Claim(
    id="net2-equals-net1",
    statement="Net2 with Net1's weights copied (Linear weights viewed as 18x18 and 1x1 filters) computes Net1 on "
              "Bx3x32x32 inputs",
    variables=(Variable("x", Images()),),
    assumptions=("widths shrunk: features 3→4→6→6→6→4, hidden 16; kernels and spatial sizes as in the problem",),
    symbolic=not_attempted("a network output is not a closed form; the layer identity is linear-is-conv"),
    numeric=_equal_on_32(),
    mutants=(
        Mutant("spatially-transposed", "18x18 filters read column-major",
               numeric=_equal_on_32(spatially_transposed)),
        Mutant("channels-last", "flattened map read as (row, column, channel)", numeric=_equal_on_32(channels_last)),
    ),
    tolerances=NETWORK_TOLERANCES,
    dtypes=NETWORK_DTYPES,
    instances=48,
)

net2_slides_net1 = Claim(
    id="net2-slides-net1",
    statement="on Bx3xhxw inputs (h, w > 32), Net2(X)[:, :, i, j] = Net1(X[:, :, i:i+32, j:j+32]) for every i, j",
    variables=(Variable("x", Images("h", "w")),),
    dims={"h": (33, 36), "w": (33, 38)},
    assumptions=("widths shrunk as in net2-equals-net1",),
    symbolic=facts(*(_sliding(c, k) for c, k in SMALL), scope="per output position, C ∈ {1, 2}, k ∈ {1, 2, 3}"),
    numeric=_sliding_sides(),
    references=(Reference("answer-code", "part (b)'s loop with its ... filled in (net1_on_windows), one window at a time",
                          answer_windows),),
    mutants=(
        Mutant("window-shifted", "Net1 on the window one column to the right, X[:, :, i:i+32, j+1:j+33]",
               numeric=_sliding_sides(shift=1)),
        Mutant("spatially-transposed", "18x18 filters read column-major", numeric=_sliding_sides(spatially_transposed)),
    ),
    tolerances=NETWORK_TOLERANCES,
    dtypes=NETWORK_DTYPES,
    instances=16,
)

QUESTION_A = (r"Consider \texttt{Net2}, which replaces the fully-connected layers of \texttt{Net1} with convolutional "
              r"layers. Implement \texttt{Net2} and the weight initialization function so that, when the parameters "
              r"of \texttt{Net1} are appropriately copied over, \texttt{Net2} produces exactly the same output as "
              r"\texttt{Net1} for inputs of size $B \times 3 \times 32 \times 32$.")
QUESTION_B = (r"Let $\mathbf{X}$ be a tensor of size $B \times 3 \times h \times w$ with $h > 32$ and $w > 32$. "
              r"While \texttt{Net2} can take $\mathbf{X}$ as input, \texttt{Net1} cannot. By filling in the "
              r"\texttt{...} of the loop \texttt{out1[:, :, i, j] = model1(...)}, describe how \texttt{Net2} "
              r"applied to $\mathbf{X}$ is equivalent to \texttt{Net1} applied to patches of $\mathbf{X}$.")
_SHRUNK = (r"Run with the widths shrunk for speed (features $3 \to 4 \to 6 \to 6 \to 6 \to 4$ channels, hidden "
           r"width 16 instead of $3 \to 64 \to 192 \to 384 \to 256 \to 256$ and 4096); the kernel sizes and the "
           r"$32 \to 18$ spatial sizes are the problem's. The Linear-as-convolution identity is proved by sympy "
           r"for $C \in \{1, 2\}$ channels and $k \in \{1, 2, 3\}$ only, and checked numerically for "
           r"$C, k \le 6$.")

DERIVATIONS = (
    Derivation(
        id="fc-as-conv",
        title="Fully-connected layers as convolutions",
        source="hw7-2024 P5",
        statement=r"(a) Replace the Linear layers of Net1 by convolutions (Net2) and copy the weights so that both "
                  r"give the same output on $B \times 3 \times 32 \times 32$ inputs. (b) For $h, w > 32$, show "
                  r"that Net2 applied to $X \in \mathbb{R}^{B \times 3 \times h \times w}$ is Net1 applied to the "
                  r"$32 \times 32$ patches of $X$.",
        claims=(linear_is_conv, net2_equals_net1, net2_slides_net1),
        parts=(
            Part(label="(a)", question=QUESTION_A,
                 answer=Answer(
                     code=Net2,
                     text=r"A Linear layer on the flattened $256 \times 18 \times 18$ feature map is an "
                          r"$18 \times 18$ convolution whose filters are the weight rows viewed as "
                          r"$256 \times 18 \times 18$ arrays; the two Linear layers after it are $1 \times 1$ "
                          r"convolutions. \texttt{copy\_weights\_from} copies each weight with "
                          r"\texttt{view(conv.weight.shape)} and each bias as it is.",
                     scope=_SHRUNK),
                 claims=("linear-is-conv", "net2-equals-net1")),
            Part(label="(b)", question=QUESTION_B,
                 answer=Answer(
                     code=net1_on_windows,
                     text=r"The ... is \texttt{images[:, :, i:i+32, j:j+32]}: for $0 \le i \le h - 32$ and "
                          r"$0 \le j \le w - 32$, $\mathrm{Net2}(\mathbf{X})[:, :, i, j]$ is \texttt{Net1} applied "
                          r"to the $32 \times 32$ patch of $\mathbf{X}$ whose top-left corner is $(i, j)$: every "
                          r"layer of Net2 is a convolution of stride 1, so output position $(i, j)$ sees exactly "
                          r"that patch, and there it computes what Net1 computes.",
                     scope=_SHRUNK.replace("Run", "Checked for $33 \\le h \\le 36$, $33 \\le w \\le 38$ (the "
                                           "problem resizes to $36 \\times 38$), run", 1)),
                 claims=("net2-slides-net1",)),
        ),
    ),
)
