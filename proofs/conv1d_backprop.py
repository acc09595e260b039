r"""Backprop through 1-D convolutions: Jacobians, filter and bias gradients, and A_w, A_wᵀ as (transposed) convolutions.

# Main statements

The network is $y_0 = x \in \mathbb{R}^{n_0}$, $z_\ell = A_{w_\ell} y_{\ell-1} + b_\ell \mathbf{1}_{n_\ell}$,
$y_\ell = \sigma(z_\ell)$ for $\ell < L$ and $y_L = z_L \in \mathbb{R}$, where $A_w \in \mathbb{R}^{(n-f+1)\times n}$
is the matrix of the stride-1, unpadded convolution with the filter $w \in \mathbb{R}^f$,
$(A_w y)_i = \sum_{j=1}^{f} w_j y_{i+j-1}$ (cross-correlation, as `torch.nn.functional.conv1d` computes).
With $v_L = 1$ and $v_\ell = \frac{\partial y_L}{\partial y_\ell} \operatorname{diag}(\sigma'(z_\ell))$:

* `layer-jacobians`: $\frac{\partial y_L}{\partial y_{L-1}} = A_{w_L}$ and
  $\frac{\partial y_\ell}{\partial y_{\ell-1}} = \operatorname{diag}(\sigma'(z_\ell)) A_{w_\ell}$ for $\ell < L$.
* `filter-gradients`: $\frac{\partial y_L}{\partial w_\ell} = (\mathcal{C}_{v_\ell^\top} y_{\ell-1})^\top$, the
  convolution of $y_{\ell-1}$ with $v_\ell$ as the filter.
* `bias-gradients`: $\frac{\partial y_L}{\partial b_\ell} = v_\ell \mathbf{1}_{n_\ell}$.
* `conv-is-matrix-product`: $A_w v$ = `conv1d(v, w)`.
* `transpose-conv-is-transpose-product`: $A_w^\top u$ = `conv_transpose1d(u, w)`.
* `backprop-by-convolutions`: the backward pass done with `conv1d` and `conv_transpose1d` only
  ($\frac{\partial y_L}{\partial y_{\ell-1}} = (A_{w_\ell}^\top v_\ell^\top)^\top$, no matrix formed) gives
  autograd's gradients with respect to every $w_\ell$, $b_\ell$ and $x$.

Part (b) is answered as numbered prose (the forward and the backward pass with convolutions and
transposed convolutions only); `backprop_by_convolutions` is that procedure in torch, checked against
autograd.

# Notation

$n_\ell = n_{\ell-1} - f_\ell + 1$, $n_L = 1$, so $n_0 = \sum_\ell f_\ell - L + 1$. Gradients of the scalar
$y_L$ are rows, as in the problem. $\sigma = \tanh$ in the numeric checks.

# Implementation notes

* Symbolic: sympy proves the part (a) formulas with explicit symbolic filters, biases, inputs and an
  undefined differentiable $\sigma$ (derivative $\sigma'$ another undefined function), computing
  $\partial y_L/\partial y_\ell$ and $\partial y_L/\partial w_\ell$ by differentiation of the network itself,
  for the filter-size tuples in `SYMBOLIC_NETWORKS` (L = 1, 2, 3). Part (b) is proved entrywise for
  $f, n - f + 1 \in \{1, 2, 3\}$ against the index formulas of correlation and transposed convolution.
* Numeric: random networks with L ∈ {2, 3, 4} layers and filter sizes 1..4, batched over instances
  (every instance has its own filters: a grouped convolution with one group per instance), against
  `torch.autograd.grad` and central finite differences, in float64 and float32. float16 runs only for
  `conv-is-matrix-product`: elsewhere torch's float16 CPU kernels (the transposed convolution, and the
  forward and backward passes through up to four layers) are off from the float64 oracle by up to a few
  1e-3 on entries that cancel to about 1e-2, i.e. by the rounding of the summed terms, which an
  elementwise rtol/atol cannot state without being loose everywhere.

# References

* hw7-2024 Problem 4 (backprop with convolutions), parts (a) and (b).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch
import torch.nn.functional as F

from checkers import (Answer, Claim, Derivation, Kind, Misconception, Mutant, Part, Problem, Real, Reference, Symbol,
                      Tolerance, Variable, Vector, facts, one_based)

MAX_LAYERS = 4
# float16 is run only where it is meaningful: see the implementation notes.
HALF_FREE = (torch.float64, torch.float32)
DIMS = {"L": (2, MAX_LAYERS), **{f"f{l}": (1, 4) for l in range(1, MAX_LAYERS + 1)}}


def filter_sizes(dims) -> list[int]:
    return [dims[f"f{l}"] for l in range(1, dims["L"] + 1)]


@dataclass(frozen=True)
class InputSignal(Kind):
    """x ∈ R^{n_0} with n_0 = f_1 + ... + f_L − L + 1 (so that n_L = 1), iid N(0, 1) entries."""

    @property
    def description(self) -> str:
        return "input signal of length n₀ = Σ f_ℓ − L + 1"

    def draw(self, batch, dims, gen):
        n0 = sum(filter_sizes(dims)) - dims["L"] + 1
        return torch.randn(batch, n0, generator=gen, dtype=torch.float64)


NETWORK = (Variable("x", InputSignal()),
           *(Variable(f"w{l}", Vector(f"f{l}", scale=0.8), rf"w_{l}") for l in range(1, MAX_LAYERS + 1)),
           *(Variable(f"b{l}", Real(-1.0, 1.0), rf"b_{l}") for l in range(1, MAX_LAYERS + 1)))


# ---------------------------------------------------------------------------------------------------------------
# Batched 1-D convolutions: every instance has its own filter (one group per instance).

def conv(y: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(A_w y) per instance: y (B, n), w (B, f) -> (B, n − f + 1), by conv1d."""
    return F.conv1d(y.unsqueeze(0), w.unsqueeze(1), groups=y.shape[0]).squeeze(0)


def conv_transpose(u: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(A_wᵀ u) per instance: u (B, m), w (B, f) -> (B, m + f − 1), by conv_transpose1d."""
    return F.conv_transpose1d(u.unsqueeze(0), w.unsqueeze(1), groups=u.shape[0]).squeeze(0)


def toeplitz(w: torch.Tensor, n: int) -> torch.Tensor:
    """The explicit matrix A_w, (B, n − f + 1, n), with (A_w)[i, i + j] = w[j]."""
    batch, f = w.shape
    m = n - f + 1
    a = torch.zeros(batch, m, n, dtype=w.dtype, device=w.device)
    rows = torch.arange(m, device=w.device)
    for j in range(f):
        a[:, rows, rows + j] = w[:, j : j + 1]
    return a


def sigma(z):
    return torch.tanh(z)


def sigma_prime(z):
    return 1 - torch.tanh(z) ** 2


def parameters(sample) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    layers = sample.dims["L"]
    return ([sample[f"w{l}"] for l in range(1, layers + 1)], [sample[f"b{l}"] for l in range(1, layers + 1)])


def forward(x, ws, bs) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """ys = [y_0, ..., y_L] and zs = [z_1, ..., z_L], batched, by conv1d."""
    ys, zs = [x], []
    for l, (w, b) in enumerate(zip(ws, bs), start=1):
        z = conv(ys[-1], w) + b.unsqueeze(-1)
        zs.append(z)
        ys.append(sigma(z) if l < len(ws) else z)
    return ys, zs


# ---------------------------------------------------------------------------------------------------------------
# Part (a): the problem's formulas with explicit matrices, against autograd.

def layer_jacobian_formula(w, y_prev, z, last: bool, derivative=sigma_prime, flip: bool = False) -> torch.Tensor:
    """diag(σ'(z_ℓ)) A_{w_ℓ} (A_{w_L} for the last layer), (B, n_ℓ, n_{ℓ−1})."""
    a = toeplitz(w.flip(-1) if flip else w, y_prev.shape[-1])
    return a if last else derivative(z).unsqueeze(-1) * a


def v_vectors(sample, derivative=sigma_prime, with_sigma_prime: bool = True) -> tuple[list, list, list]:
    """v_1, ..., v_L (each (B, n_ℓ)) from the definition, with ∂y_L/∂y_ℓ the product of the layer Jacobians."""
    x = sample["x"]
    ws, bs = parameters(sample)
    ys, zs = forward(x, ws, bs)
    layers = len(ws)
    vs = [None] * layers
    vs[-1] = torch.ones_like(zs[-1])
    for l in range(layers - 1, 0, -1):  # v_l for l = L-1, ..., 1 (python index l - 1)
        d_yl = (vs[l].unsqueeze(1) @ toeplitz(ws[l], ys[l].shape[-1])).squeeze(1)  # ∂y_L/∂y_l = v_{l+1} A_{l+1}
        vs[l - 1] = d_yl * derivative(zs[l - 1]) if with_sigma_prime else d_yl
    return vs, ys, zs


def autograd_gradients(sample) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """∂y_L/∂w_ℓ, ∂y_L/∂b_ℓ and ∂y_L/∂x by autograd (instances are independent, so grad of the sum)."""
    ws, bs = parameters(sample)
    with torch.enable_grad():
        x = sample["x"].detach().clone().requires_grad_(True)
        ws = [w.detach().clone().requires_grad_(True) for w in ws]
        bs = [b.detach().clone().requires_grad_(True) for b in bs]
        ys, _ = forward(x, ws, bs)
        grads = torch.autograd.grad(ys[-1].sum(), [*ws, *bs, x])
    layers = len(ws)
    return list(grads[:layers]), list(grads[layers:2 * layers]), grads[-1]


def autograd_layer_jacobians(sample) -> torch.Tensor:
    """∂y_ℓ/∂y_{ℓ−1} for ℓ = 1..L by autograd, one output row at a time for all instances, concatenated."""
    ws, bs = parameters(sample)
    ys, _ = forward(sample["x"], ws, bs)
    out = []
    with torch.enable_grad():
        for l, (w, b) in enumerate(zip(ws, bs), start=1):
            y_prev = ys[l - 1].detach().clone().requires_grad_(True)
            z = conv(y_prev, w) + b.unsqueeze(-1)
            y = z if l == len(ws) else sigma(z)
            rows = [torch.autograd.grad(y[:, i].sum(), y_prev, retain_graph=True)[0] for i in range(y.shape[1])]
            out.append(torch.stack(rows, dim=1).flatten(1))
    return torch.cat(out, dim=1)


def formula_layer_jacobians(derivative=sigma_prime, flip: bool = False, drop_sigma_prime: bool = False):
    def jacobians(sample) -> torch.Tensor:
        ws, bs = parameters(sample)
        ys, zs = forward(sample["x"], ws, bs)
        out = [layer_jacobian_formula(w, ys[l], zs[l], last=drop_sigma_prime or l == len(ws) - 1,
                                      derivative=derivative, flip=flip).flatten(1)
               for l, w in enumerate(ws)]
        return torch.cat(out, dim=1)
    return jacobians


def formula_filter_gradients(flip_v: bool = False, **v_options):
    """(C_{v_ℓᵀ} y_{ℓ−1})ᵀ for ℓ = 1..L: y_{ℓ−1} convolved with v_ℓ as the filter, concatenated."""
    def gradients(sample) -> torch.Tensor:
        vs, ys, _ = v_vectors(sample, **v_options)
        return torch.cat([conv(ys[l], v.flip(-1) if flip_v else v) for l, v in enumerate(vs)], dim=1)
    return gradients


def formula_bias_gradients(**v_options):
    """v_ℓ 1_{n_ℓ} for ℓ = 1..L, (B, L)."""
    def gradients(sample) -> torch.Tensor:
        vs, _, _ = v_vectors(sample, **v_options)
        return torch.stack([v.sum(-1) for v in vs], dim=1)
    return gradients


def autograd_filter_gradients(sample) -> torch.Tensor:
    return torch.cat(autograd_gradients(sample)[0], dim=1)


def autograd_bias_gradients(sample) -> torch.Tensor:
    return torch.stack(autograd_gradients(sample)[1], dim=1)


FD_STEP = 1e-5


def finite_difference_filter_gradients(sample) -> torch.Tensor:
    """∂y_L/∂w_ℓ by central differences (y_L(w + h e_j) − y_L(w − h e_j)) / 2h, all coordinates batched."""
    ws, bs = parameters(sample)
    x = sample["x"]
    columns = []
    for l, w in enumerate(ws):
        for j in range(w.shape[-1]):
            step = torch.zeros_like(w)
            step[:, j] = FD_STEP
            plus = forward(x, [*ws[:l], w + step, *ws[l + 1:]], bs)[0][-1]
            minus = forward(x, [*ws[:l], w - step, *ws[l + 1:]], bs)[0][-1]
            columns.append((plus - minus) / (2 * FD_STEP))
    return torch.cat(columns, dim=1)


# ---------------------------------------------------------------------------------------------------------------
# Symbolic proofs of part (a) with sympy: explicit symbols, σ an undefined function with derivative σ'.

sigma_p = sp.Function("sigma_prime")


class sigma_s(sp.Function):  # noqa: N801 (a sympy function class named like the math)
    """An undefined differentiable activation whose derivative is the undefined function σ'."""

    def fdiff(self, argindex=1):
        return sigma_p(self.args[0])


SYMBOLIC_NETWORKS = ((2,), (2, 2), (3, 2), (2, 2, 2), (1, 3, 2))


def _sym_toeplitz(w: list[sp.Symbol], n: int) -> sp.Matrix:
    f = len(w)
    return sp.Matrix(n - f + 1, n, lambda i, j: w[j - i] if 0 <= j - i < f else 0)


def _sym_layer(y: sp.Matrix, w, b, last: bool) -> tuple[sp.Matrix, sp.Matrix]:
    """One layer: (y_ℓ, z_ℓ) with z_ℓ = A_w y + b 1 and y_ℓ = σ(z_ℓ), or z_ℓ itself for the last layer."""
    z = _sym_toeplitz(w, y.rows) * y + b * sp.ones(y.rows - len(w) + 1, 1)
    return (z if last else z.applyfunc(sigma_s)), z


def _sym_layers(y: sp.Matrix, ws, bs, start: int) -> tuple[list[sp.Matrix], list[sp.Matrix]]:
    """Run layers start..L (0-based) from y; returns the ys after each layer and the zs."""
    ys, zs = [], []
    for l in range(start, len(ws)):
        y, z = _sym_layer(y, ws[l], bs[l], last=l == len(ws) - 1)
        ys.append(y)
        zs.append(z)
    return ys, zs


def _sym_network(sizes: tuple[int, ...]):
    layers = len(sizes)
    n0 = sum(sizes) - layers + 1
    x = sp.Matrix(sp.symbols(f"x1:{n0 + 1}", real=True))
    ws = [list(sp.symbols(f"w{l + 1}_1:{f + 1}", real=True)) for l, f in enumerate(sizes)]
    bs = list(sp.symbols(f"b1:{layers + 1}", real=True))
    ys, zs = _sym_layers(x, ws, bs, 0)
    return x, ws, bs, [x, *ys], zs


def _dyL_dy(ws, bs, ys, l: int) -> sp.Matrix:
    """∂y_L/∂y_l (a row) by differentiating the rest of the network with respect to fresh symbols for y_l."""
    fresh = sp.Matrix(sp.symbols(f"t1:{ys[l].rows + 1}", real=True))
    rest, _ = _sym_layers(fresh, ws, bs, l)
    row = sp.Matrix([[sp.diff(rest[-1][0], t) for t in fresh]])
    return row.subs(dict(zip(fresh, ys[l])), simultaneous=True)


def _sym_v(ws, bs, ys, zs, l: int) -> sp.Matrix:
    """v_l = ∂y_L/∂y_l · diag(σ'(z_l)), v_L = 1 (l is 1-based)."""
    if l == len(ws):
        return sp.Matrix([[1]])
    return _dyL_dy(ws, bs, ys, l) * sp.diag(*[sigma_p(z) for z in zs[l - 1]])


def _jacobian_facts(sizes):
    def make():
        x, ws, bs, ys, zs = _sym_network(sizes)
        diffs = []
        for l in range(1, len(sizes) + 1):
            fresh = sp.Matrix(sp.symbols(f"t1:{ys[l - 1].rows + 1}", real=True))
            out, _ = _sym_layer(fresh, ws[l - 1], bs[l - 1], last=l == len(sizes))
            jac = out.jacobian(fresh).subs(dict(zip(fresh, ys[l - 1])), simultaneous=True)
            a = _sym_toeplitz(ws[l - 1], ys[l - 1].rows)
            formula = a if l == len(sizes) else sp.diag(*[sigma_p(z) for z in zs[l - 1]]) * a
            diffs.extend(sp.expand(entry) for entry in jac - formula)
        return sp.ImmutableMatrix(diffs)
    return (f"∂y_ℓ/∂y_ℓ₋₁ for filter sizes {sizes}", make)


def _filter_facts(sizes):
    def make():
        x, ws, bs, ys, zs = _sym_network(sizes)
        diffs = []
        for l in range(1, len(sizes) + 1):
            v = _sym_v(ws, bs, ys, zs, l)
            y_prev = ys[l - 1]
            correlation = [sum(v[j] * y_prev[i + j] for j in range(v.cols)) for i in range(len(ws[l - 1]))]
            grad = [sp.diff(ys[-1][0], wj) for wj in ws[l - 1]]
            diffs.extend(sp.expand(g - c) for g, c in zip(grad, correlation))
        return sp.ImmutableMatrix(diffs)
    return (f"∂y_L/∂w_ℓ = (C_vℓ y_ℓ₋₁)ᵀ for filter sizes {sizes}", make)


def _bias_facts(sizes):
    def make():
        x, ws, bs, ys, zs = _sym_network(sizes)
        diffs = [sp.expand(sp.diff(ys[-1][0], bs[l - 1]) - sum(_sym_v(ws, bs, ys, zs, l)))
                 for l in range(1, len(sizes) + 1)]
        return sp.ImmutableMatrix(diffs)
    return (f"∂y_L/∂b_ℓ = v_ℓ 1 for filter sizes {sizes}", make)


SYMBOLIC_SCOPE = "filter sizes " + ", ".join(str(s) for s in SYMBOLIC_NETWORKS) + " (σ undefined)"

layer_jacobians = Claim(
    id="layer-jacobians",
    statement="the layer Jacobians of part (a): the top layer's is its convolution matrix, and below it each layer's "
              "is diag(σ′) of its pre-activation times its convolution matrix",
    variables=NETWORK,
    dims=DIMS,
    symbolic=facts(*(_jacobian_facts(s) for s in SYMBOLIC_NETWORKS), scope=SYMBOLIC_SCOPE),
    numeric=lambda s: (autograd_layer_jacobians(s), formula_layer_jacobians()(s)),
    dtypes=HALF_FREE,
    mutants=(
        Mutant("no-sigma-prime", "A_{w_ℓ} alone for the hidden layers (the activation's derivative forgotten)",
               numeric=lambda s: (autograd_layer_jacobians(s), formula_layer_jacobians(drop_sigma_prime=True)(s))),
        Mutant("sigma-prime-of-output", "σ'(y_ℓ) instead of σ'(z_ℓ): the derivative at the activation's output",
               numeric=lambda s: (autograd_layer_jacobians(s),
                                  formula_layer_jacobians(derivative=lambda z: sigma_prime(sigma(z)))(s))),
        Mutant("flipped-filter", "A built from the reversed filter (true convolution instead of correlation)",
               numeric=lambda s: (autograd_layer_jacobians(s), formula_layer_jacobians(flip=True)(s))),
    ),
)

filter_gradients = Claim(
    id="filter-gradients",
    statement="the filter gradients of part (a): the gradient of the output with respect to a layer's filter is the "
              "layer's input convolved with that layer's row v as the filter",
    variables=NETWORK,
    dims=DIMS,
    symbolic=facts(*(_filter_facts(s) for s in SYMBOLIC_NETWORKS), scope=SYMBOLIC_SCOPE),
    numeric=lambda s: (autograd_filter_gradients(s), formula_filter_gradients()(s)),
    references=(Reference("finite-differences", f"central differences with step {FD_STEP:g} in float64",
                          finite_difference_filter_gradients, side="lhs",
                          tolerance=Tolerance(1e-6, 1e-8, "central differences with h = 1e-5: truncation "
                                                          "h²·|∂³y_L|/6 ≈ 1e-10, rounding ε·|y_L|/h ≈ 1e-11")),),
    dtypes=HALF_FREE,
    mutants=(
        Mutant("flipped-v", "y_{ℓ−1} convolved with v_ℓ reversed",
               numeric=lambda s: (autograd_filter_gradients(s), formula_filter_gradients(flip_v=True)(s))),
        Mutant("no-sigma-prime", "v_ℓ = ∂y_L/∂y_ℓ without diag(σ'(z_ℓ))",
               numeric=lambda s: (autograd_filter_gradients(s),
                                  formula_filter_gradients(with_sigma_prime=False)(s))),
    ),
)


# Gradeable: one entry of the filter gradient, ∂y_L/∂w_ℓ[j] = Σ_i v_ℓ[i] y_{ℓ−1}[i + j − 1] (the correlation of
# y_{ℓ−1} with v_ℓ), for a layer with filter size f and m outputs, 1-based as in the problem. Witness: autograd
# of v·conv1d(y, w) with respect to w.
_v, _y = sp.IndexedBase("v", real=True), sp.IndexedBase("y", real=True)
_f, _m = sp.Symbol("f", integer=True, positive=True), sp.Symbol("m", integer=True, positive=True)
_i, _j = sp.Symbol("i", integer=True, positive=True), sp.Symbol("j", integer=True, positive=True)


def _autograd_filter_gradient(sample) -> torch.Tensor:
    f, j = sample.dims["f"], sample.dims["j"]
    w = torch.zeros(sample.size, 1, f, dtype=torch.float64, requires_grad=True)
    signal = sample["y"][:, 1:].unsqueeze(0)  # (1, B, n): one group per instance
    z = F.conv1d(signal, w, groups=sample.size)[0]  # (B, m)
    (grad,) = torch.autograd.grad((z * sample["v"][:, 1:]).sum(), w)
    return grad[:, 0, j - 1]


GRADEABLE = (
    Problem(
        id="conv-filter-gradient", title="Backprop through a 1-D convolution: the filter gradient",
        source="hw7-2024 P4", claim=filter_gradients,
        statement=r"With $(A_w y)_i = \sum_{j=1}^{f} w_j y_{i+j-1}$ ($i = 1..m$) and $v = \partial y_L / \partial z_\ell$, "
                  r"give $\partial y_L / \partial w_j$ in terms of $v$ and the layer's input $y$.",
        symbols=(Symbol(_v, "v_i", ("v",)), Symbol(_y, "y_i", ("y",)), Symbol(_j, "j"), Symbol(_f, "f"), Symbol(_m, "m")),
        answer=sp.Sum(_v[_i] * _y[_i + _j - 1], (_i, 1, _m)), witness=_autograd_filter_gradient,
        variables=(Variable("v", one_based(Vector("m"))), Variable("y", one_based(Vector("m + f - 1")))),
        dims={"f": (1, 2, 3), "m": (1, 2, 4), "j": (1, 2, 3)}, dims_where=lambda d: d["j"] <= d["f"],
        sum_range=(sp.Integer(1), _m), instances_per_group=8,
        misconceptions=(
            Misconception("flipped-filter", "A_w is a cross-correlation (w_j meets y_{i+j−1}), so the gradient "
                          "does not flip the filter index", sp.Sum(_v[_i] * _y[_i + _f - _j], (_i, 1, _m))),
            Misconception("no-upstream-gradient", "each output z_i reaches y_L with weight v_i: the chain rule "
                          "multiplies by v_i", sp.Sum(_y[_i + _j - 1], (_i, 1, _m))),
        ),
    ),
)

bias_gradients = Claim(
    id="bias-gradients",
    statement="the bias gradients of part (a): the gradient of the output with respect to a layer's bias is the sum "
              "of the entries of that layer's row v",
    variables=NETWORK,
    dims=DIMS,
    symbolic=facts(*(_bias_facts(s) for s in SYMBOLIC_NETWORKS), scope=SYMBOLIC_SCOPE),
    numeric=lambda s: (autograd_bias_gradients(s), formula_bias_gradients()(s)),
    dtypes=HALF_FREE,
    mutants=(
        Mutant("no-sigma-prime", "∂y_L/∂y_ℓ 1 without diag(σ'(z_ℓ))",
               numeric=lambda s: (autograd_bias_gradients(s), formula_bias_gradients(with_sigma_prime=False)(s))),
        Mutant("sigma-prime-of-output", "σ'(y_ℓ) instead of σ'(z_ℓ)",
               numeric=lambda s: (autograd_bias_gradients(s),
                                  formula_bias_gradients(derivative=lambda z: sigma_prime(sigma(z)))(s))),
    ),
)


# ---------------------------------------------------------------------------------------------------------------
# Part (b): products with A_w and A_wᵀ by conv1d and conv_transpose1d.

@dataclass(frozen=True)
class Signal(Kind):
    """A vector of length m + f − 1 (the input of a convolution with an f-tap filter and m outputs)."""

    @property
    def description(self) -> str:
        return "vector in R^{m+f−1}"

    def draw(self, batch, dims, gen):
        return torch.randn(batch, dims["m"] + dims["f"] - 1, generator=gen, dtype=torch.float64)


PART_B = (Variable("w", Vector("f")), Variable("v", Signal()), Variable("u", Vector("m")))
PART_B_DIMS = {"f": (1, 6), "m": (1, 8)}
PART_B_SIZES = [(m, f) for m in (1, 2, 3) for f in (1, 2, 3)]
PART_B_SCOPE = "n − f + 1 ∈ {1, 2, 3}, f ∈ {1, 2, 3}"


def _sym_product_facts(transpose: bool):
    def fact(m, f):
        def make():
            w = sp.symbols(f"w1:{f + 1}", real=True)
            a = _sym_toeplitz(list(w), m + f - 1)
            if not transpose:
                v = sp.symbols(f"v1:{m + f}", real=True)
                correlation = sp.Matrix([sum(w[j] * v[i + j] for j in range(f)) for i in range(m)])
                return sp.ImmutableMatrix(a * sp.Matrix(v) - correlation)
            u = sp.symbols(f"u1:{m + 1}", real=True)
            # conv_transpose1d: every input u_i scatters w_j to output i + j.
            scatter = sp.Matrix([sum(u[i] * w[k - i] for i in range(m) if 0 <= k - i < f) for k in range(m + f - 1)])
            return sp.ImmutableMatrix(a.T * sp.Matrix(u) - scatter)
        what = "A_wᵀu = Σᵢ u_i w_{k−i}" if transpose else "A_w v = Σⱼ w_j v_{i+j}"
        return (f"{what} for n − f + 1 = {m}, f = {f}", make)
    return facts(*(fact(m, f) for m, f in PART_B_SIZES), scope=PART_B_SCOPE)


def _matrix_product(sample, name: str, transpose: bool) -> torch.Tensor:
    w, vec = sample["w"], sample[name]
    n = vec.shape[-1] if not transpose else vec.shape[-1] + w.shape[-1] - 1
    a = toeplitz(w, n)
    return ((a.transpose(-1, -2) if transpose else a) @ vec.unsqueeze(-1)).squeeze(-1)


conv_product = Claim(
    id="conv-is-matrix-product",
    statement="the product of the convolution matrix of a filter w with a vector is conv1d with w: the matrix is "
              "never formed",
    variables=PART_B,
    dims=PART_B_DIMS,
    symbolic=_sym_product_facts(transpose=False),
    numeric=lambda s: (conv(s["v"], s["w"]), _matrix_product(s, "v", transpose=False)),
    mutants=(
        Mutant("true-convolution", "conv1d with the reversed filter (the textbook convolution)",
               numeric=lambda s: (conv(s["v"], s["w"].flip(-1)), _matrix_product(s, "v", transpose=False))),
        Mutant("shifted", "the window starting one entry late (wraps around)",
               numeric=lambda s: (conv(s["v"].roll(-1, dims=-1), s["w"]), _matrix_product(s, "v", transpose=False))),
    ),
)

transpose_product = Claim(
    id="transpose-conv-is-transpose-product",
    statement="the product of the transposed convolution matrix with a vector u is conv_transpose1d(u, w), so a row "
              "times the convolution matrix is a transposed convolution",
    variables=PART_B,
    dims=PART_B_DIMS,
    symbolic=_sym_product_facts(transpose=True),
    numeric=lambda s: (conv_transpose(s["u"], s["w"]), _matrix_product(s, "u", transpose=True)),
    references=(Reference("autograd-vjp", "the vector-Jacobian product uᵀ ∂(conv1d(v, w))/∂v by autograd",
                          lambda s: _vjp_of_conv(s), side="lhs"),),
    dtypes=HALF_FREE,
    mutants=(
        Mutant("flipped-filter", "conv_transpose1d with the reversed filter",
               numeric=lambda s: (conv_transpose(s["u"], s["w"].flip(-1)), _matrix_product(s, "u", transpose=True))),
        Mutant("padded-correlation", "conv1d of u zero-padded by f − 1 on both sides (the correlation, not the "
               "scatter: equals A_{w}ᵀu only for the reversed filter)",
               numeric=lambda s: (conv(F.pad(s["u"], (s["w"].shape[-1] - 1,) * 2), s["w"]),
                                  _matrix_product(s, "u", transpose=True))),
    ),
)


def _vjp_of_conv(sample) -> torch.Tensor:
    """uᵀ A_w by autograd: the gradient of ⟨u, conv1d(v, w)⟩ with respect to v."""
    with torch.enable_grad():
        v = torch.zeros(sample["u"].shape[0], sample["u"].shape[-1] + sample["w"].shape[-1] - 1,
                        dtype=sample["u"].dtype, device=sample["u"].device, requires_grad=True)
        (grad,) = torch.autograd.grad((conv(v, sample["w"]) * sample["u"]).sum(), v)
    return grad


def backprop_by_convolutions(transpose=conv_transpose, with_sigma_prime: bool = True):
    """∂y_L/∂(w_ℓ, b_ℓ, x) with conv1d and conv_transpose1d only: g_ℓ = ∂y_L/∂y_ℓ, v_ℓ = g_ℓ ⊙ σ'(z_ℓ)."""
    def gradients(sample) -> torch.Tensor:
        ws, bs = parameters(sample)
        ys, zs = forward(sample["x"], ws, bs)
        grads_w, grads_b = [None] * len(ws), [None] * len(ws)
        g = torch.ones_like(zs[-1])  # ∂y_L/∂y_L
        for l in range(len(ws), 0, -1):
            v = g if l == len(ws) or not with_sigma_prime else g * sigma_prime(zs[l - 1])
            grads_w[l - 1] = conv(ys[l - 1], v)  # C_{vᵀ} y_{ℓ−1}
            grads_b[l - 1] = v.sum(-1, keepdim=True)
            g = transpose(v, ws[l - 1])  # ∂y_L/∂y_{ℓ−1} = (A_{w_ℓ}ᵀ v_ℓᵀ)ᵀ
        return torch.cat([*grads_w, *grads_b, g], dim=1)
    return gradients


def autograd_all(sample) -> torch.Tensor:
    gw, gb, gx = autograd_gradients(sample)
    return torch.cat([*gw, *(g.unsqueeze(-1) for g in gb), gx], dim=1)


backprop_convolutions = Claim(
    id="backprop-by-convolutions",
    statement="backpropagation with conv1d (filter gradients) and conv_transpose1d (row times convolution matrix) "
              "only, no matrix formed, gives autograd's gradients with respect to every filter, every bias and x",
    variables=NETWORK,
    dims=DIMS,
    symbolic=facts(*(_filter_facts(s) for s in SYMBOLIC_NETWORKS[:2]), *(_bias_facts(s) for s in SYMBOLIC_NETWORKS[:2]),
                   scope="the formulas it implements, for filter sizes (2,), (2, 2); the conv_transpose step is "
                         "proved in transpose-conv-is-transpose-product"),
    numeric=lambda s: (autograd_all(s), backprop_by_convolutions()(s)),
    dtypes=HALF_FREE,
    mutants=(
        Mutant("flipped-transpose", "conv_transpose1d with the reversed filter in the backward pass",
               numeric=lambda s: (autograd_all(s),
                                  backprop_by_convolutions(lambda u, w: conv_transpose(u, w.flip(-1)))(s))),
        Mutant("no-sigma-prime", "the activation's derivative skipped in the backward pass",
               numeric=lambda s: (autograd_all(s), backprop_by_convolutions(with_sigma_prime=False)(s))),
    ),
)

QUESTION_A = (r"Define $v_L = 1$ and $v_\ell = \frac{\partial y_L}{\partial y_\ell}\operatorname{diag}(\sigma'(A_{w_\ell} "
              r"y_{\ell-1} + b_\ell \mathbf{1}_{n_\ell}))$ for $\ell = 1, \dots, L-1$, and let $\mathcal{C}_{v_\ell^\top}$ "
              r"be the 1-D convolution with $v_\ell^\top \in \mathbb{R}^{n_\ell}$ as the filter. Show that "
              r"$\frac{\partial y_L}{\partial y_{L-1}} = A_{w_L}$, $\frac{\partial y_\ell}{\partial y_{\ell-1}} = "
              r"\operatorname{diag}(\sigma'(A_{w_\ell} y_{\ell-1} + b_\ell \mathbf{1}_{n_\ell})) A_{w_\ell}$ for "
              r"$\ell = 2, \dots, L-1$, $\frac{\partial y_L}{\partial w_\ell} = (\mathcal{C}_{v_\ell^\top} "
              r"y_{\ell-1})^\top$ and $\frac{\partial y_L}{\partial b_\ell} = v_\ell \mathbf{1}_{n_\ell}$ for "
              r"$\ell = 1, \dots, L$.")
QUESTION_B = (r"Forming the full matrix $A_{w_\ell}$ is wasteful and should be avoided. Describe how matrix-vector or "
              r"vector-matrix products with $A_{w_\ell}$ or $A_{w_\ell}^\top$ should be used in the forward pass and "
              r"in backpropagation (a product $A_{w_\ell} v$ by a convolution, a product "
              r"$u^\top A_{w_\ell} = (A_{w_\ell}^\top u)^\top$ by a transposed convolution).")
_SYMBOLIC_CASES = (r"Proved by sympy by differentiating the network itself, with symbolic filters, biases, input and "
                   r"an undefined differentiable $\sigma$, for the filter sizes $(2)$, $(2, 2)$, $(3, 2)$, $(2, 2, 2)$ "
                   r"and $(1, 3, 2)$ ($L = 1, 2, 3$) only; checked numerically against autograd and finite "
                   r"differences for $L = 2, 3, 4$ layers with filter sizes 1 to 4.")

DERIVATIONS = (
    Derivation(
        id="conv1d-backprop",
        title="Backprop through 1-D convolutions",
        source="hw7-2024 P4",
        statement=r"For the 1-D convolutional network $y_\ell = \sigma(A_{w_\ell} y_{\ell-1} + b_\ell \mathbf{1})$, "
                  r"$y_L = A_{w_L} y_{L-1} + b_L$, (a) show the Jacobian formulas for "
                  r"$\partial y_\ell/\partial y_{\ell-1}$, $\partial y_L/\partial w_\ell$ and "
                  r"$\partial y_L/\partial b_\ell$; (b) describe how products with $A_{w}$ and $A_{w}^\top$ are "
                  r"done by convolution and transposed convolution.",
        claims=(layer_jacobians, filter_gradients, bias_gradients, conv_product, transpose_product,
                backprop_convolutions),
        parts=(
            Part(label="(a)", question=QUESTION_A,
                 answer=Answer(
                     text=r"With $z_\ell = A_{w_\ell} y_{\ell-1} + b_\ell \mathbf{1}_{n_\ell}$: "
                          r"$y_L = z_L$ gives $\partial y_L/\partial y_{L-1} = A_{w_L}$, and $y_\ell = \sigma(z_\ell)$ "
                          r"gives $\partial y_\ell/\partial y_{\ell-1} = \operatorname{diag}(\sigma'(z_\ell)) A_{w_\ell}$ "
                          r"(chain rule, $\sigma$ acting entrywise). Since $(z_\ell)_i = \sum_{j=1}^{f_\ell} (w_\ell)_j "
                          r"(y_{\ell-1})_{i+j-1} + b_\ell$ and $\partial y_L/\partial z_\ell = v_\ell$, "
                          r"$\partial y_L/\partial (w_\ell)_j = \sum_{i=1}^{n_\ell} (v_\ell)_i (y_{\ell-1})_{i+j-1}$, "
                          r"which is entry $j$ of $\mathcal{C}_{v_\ell^\top} y_{\ell-1}$, so "
                          r"$\partial y_L/\partial w_\ell = (\mathcal{C}_{v_\ell^\top} y_{\ell-1})^\top$; and "
                          r"$\partial y_L/\partial b_\ell = \sum_i (v_\ell)_i = v_\ell \mathbf{1}_{n_\ell}$.",
                     scope=_SYMBOLIC_CASES),
                 claims=("layer-jacobians", "filter-gradients", "bias-gradients")),
            Part(label="(b)", question=QUESTION_B,
                 answer=Answer(
                     algorithm=(
                         r"Forward pass, for $\ell = 1, \dots, L$: compute $A_{w_\ell} y_{\ell-1}$ as the convolution "
                         r"of $y_{\ell-1}$ with the filter $w_\ell$ (stride 1, no padding: entry $i$ is "
                         r"$\sum_{j=1}^{f_\ell} (w_\ell)_j (y_{\ell-1})_{i+j-1}$), add $b_\ell$ to every entry to get "
                         r"$z_\ell$, and set $y_\ell = \sigma(z_\ell)$ ($y_L = z_L$). Keep $y_{\ell-1}$ and $z_\ell$.",
                         r"Backward pass: start from $v_L = 1$.",
                         r"For $\ell = L, L-1, \dots, 1$: the filter gradient $\partial y_L/\partial w_\ell = "
                         r"(\mathcal{C}_{v_\ell^\top} y_{\ell-1})^\top$ is the convolution of the stored $y_{\ell-1}$ "
                         r"with $v_\ell$ as the filter ($f_\ell$ numbers), and the bias gradient is the sum of the "
                         r"entries of $v_\ell$.",
                         r"If $\ell > 1$: the vector-matrix product $\partial y_L/\partial y_{\ell-1} = v_\ell A_{w_\ell} "
                         r"= (A_{w_\ell}^\top v_\ell^\top)^\top$ is the transposed convolution of $v_\ell$ with $w_\ell$ "
                         r"(entry $k$ is $\sum_i (v_\ell)_i (w_\ell)_{k-i+1}$, a vector of length $n_{\ell-1}$); then "
                         r"$v_{\ell-1} = \partial y_L/\partial y_{\ell-1} \odot \sigma'(z_{\ell-1})$, an entrywise "
                         r"product in place of the diagonal matrix.",
                         r"No $A_{w_\ell}$ is formed: each product costs $f_\ell n_\ell$ multiplications instead of "
                         r"$n_\ell n_{\ell-1}$, and the gradients are those of part (a).",
                     ),
                     scope=r"The convolution and transposed-convolution identities are proved by sympy entrywise for "
                           r"$f, n_\ell \in \{1, 2, 3\}$ and checked numerically for $f \le 6$, $n_\ell \le 8$; the "
                           r"whole backward pass is checked against autograd for $L = 2, 3, 4$ layers."),
                 claims=("conv-is-matrix-product", "transpose-conv-is-transpose-product", "backprop-by-convolutions")),
        ),
    ),
)
