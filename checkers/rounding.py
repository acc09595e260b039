"""First-order rounding-error bounds of torch computations (Higham's running error), for numeric claims in low precision.

A formula claim is judged in float16 against its float64 oracle with the table's tolerance plus
u·Σ|∂f/∂vᵢ|·|vᵢ|, the first-order bound on what rounding every operation of that instance can do
(`checkers.evaluate.rounding_sensitivity`, from the sympy tree). A claim computed by a torch
function has no sympy tree; `running_error_weight` gets the same bound from the function itself: it
runs it in float64 under a `TorchFunctionMode` that multiplies the result of every rounding torch
operation by (1 + δ) with δ = 0, and autograd gives Σ|∂out/∂δ_j| = Σ|∂out/∂v_j|·|v_j| per instance.
Operations that do not round (views, indexing, max, abs, concatenation, dtype moves) get no δ; a
sum or contraction of k terms (sum, mean, matmul, einsum) errs by up to k·u·Σ|terms|; any other
kernel counts as one rounding of its result, so a fused kernel whose inside can cancel (logsumexp
is max + log Σ exp(· − max)) must be written out in the model that the claim passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.overrides import TorchFunctionMode

# Results that are exact copies, selections or rearrangements of their inputs: rounding them loses nothing.
EXACT_OPERATIONS = frozenset({
    "__get__", "__getitem__", "__neg__", "abs", "amax", "amin", "max", "min", "maximum", "minimum", "neg", "clamp",
    "clamp_min", "clamp_max", "relu", "sign", "where", "masked_fill", "reshape", "view", "view_as", "flatten",
    "unflatten", "unsqueeze", "squeeze", "expand", "expand_as", "broadcast_to", "cat", "stack", "split", "chunk",
    "unbind", "narrow", "select", "index_select", "gather", "flip", "roll", "movedim", "permute", "transpose", "t",
    "contiguous", "clone", "detach", "to", "double", "float", "half", "type_as", "diag_embed", "diagonal", "diag",
    "triu", "tril", "zeros_like", "ones_like", "full_like", "new_zeros", "new_ones", "new_full", "sort",
})


class _Perturbations(TorchFunctionMode):
    """Attaches a zero relative perturbation δ (requiring grad) to every rounding result shaped (batch, ...)."""

    def __init__(self, batch: int):
        super().__init__()
        self.batch = batch
        self.deltas: list[torch.Tensor] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if (not isinstance(out, torch.Tensor) or not out.is_floating_point() or out.dim() == 0
                or out.shape[0] != self.batch or name in EXACT_OPERATIONS or name.endswith("_")):
            return out
        delta = torch.zeros_like(out, requires_grad=True)
        self.deltas.append(delta)
        return out + delta * _rounding_scale(name, out, args, kwargs or {})


def _terms(inputs: torch.Tensor, out: torch.Tensor) -> int:
    return max(1, inputs.numel() // max(1, out.numel()))


def _rounding_scale(name: str, out: torch.Tensor, args: tuple, kwargs: dict) -> torch.Tensor:
    """The absolute rounding error of one result, per unit roundoff, to first order.

    One correctly rounded operation errs by u·|out|. A sum of k terms (sum, mean, a dot product in
    matmul or einsum) is bounded by γ_k·Σ|terms| ≈ k·u·Σ|terms| (Higham, eq. 4.4), which is what
    matters when the terms cancel; the same reduction of the absolute values gives Σ|terms|.
    """
    with torch.no_grad():
        if name in ("sum", "mean", "nansum") and isinstance(args[0], torch.Tensor):
            absolute = getattr(torch, name)(args[0].detach().abs(), *args[1:], **kwargs)
            return _terms(args[0], out) * absolute.reshape(out.shape)
        if name in ("matmul", "__matmul__", "bmm", "mm") and all(isinstance(a, torch.Tensor) for a in args[:2]):
            a, b = args[0].detach(), args[1].detach()
            return a.shape[-1] * torch.matmul(a.abs(), b.abs()).reshape(out.shape)
        if name == "einsum" and isinstance(args[0], str):
            operands = args[1:] if len(args) > 2 or not isinstance(args[1], (list, tuple)) else tuple(args[1])
            absolute = torch.einsum(args[0], *(t.detach().abs() for t in operands))
            return _contracted_terms(args[0], operands) * absolute.reshape(out.shape)
        return out.detach().abs()


def _contracted_terms(equation: str, operands: tuple) -> int:
    """How many products each output entry of an einsum sums (the sizes of the contracted indices)."""
    inputs, _, output = equation.replace(" ", "").partition("->")
    sizes: dict[str, int] = {}
    for spec, tensor in zip(inputs.split(","), operands):
        spec = spec.replace("...", "")
        for letter, size in zip(spec[::-1], tensor.shape[::-1]):
            sizes[letter] = size
    terms = 1
    for letter, size in sizes.items():
        if letter not in output:
            terms *= size
    return terms


def running_error_weight(compute: Callable[[], torch.Tensor | Sequence[torch.Tensor | None]],
                         batch: int) -> tuple[torch.Tensor | None, ...]:
    """Σ_j |∂out/∂v_j|·|v_j| per instance for each output of `compute()` (run in float64, batch-first results).

    `compute` returns one tensor or a tuple (None entries stay None); each output's weight is that of
    its worst entry, shape (batch,). Multiply by the unit roundoff u of a dtype for the first-order
    bound on the error of the same computation in that dtype.
    """
    mode = _Perturbations(batch)
    with torch.enable_grad(), mode:
        outputs = compute()
    single = isinstance(outputs, torch.Tensor)
    weights = []
    for out in ((outputs,) if single else tuple(outputs)):
        if out is None:
            weights.append(None)
            continue
        flat = out.reshape(batch, -1)
        total = torch.zeros(batch, flat.shape[1], dtype=torch.float64, device=flat.device)
        for column in range(flat.shape[1]):
            if not flat.requires_grad:
                break
            grads = torch.autograd.grad(flat[:, column].sum(), mode.deltas, retain_graph=True, allow_unused=True)
            for g in grads:
                if g is not None:
                    total[:, column] += torch.nan_to_num(g.abs(), nan=float("inf")).reshape(batch, -1).sum(1)
        weights.append(total.amax(dim=1).detach())
    return tuple(weights)


def running_error(numeric: Callable) -> Callable:
    """A `Tolerance.rounding` model from a claim's numeric function: the running-error weights of its (lhs, rhs)."""
    def weights(sample) -> tuple[torch.Tensor | None, ...]:
        return running_error_weight(lambda: numeric(sample), sample.size)
    return weights
