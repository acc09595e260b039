"""The tolerance table keyed by dtype, and the elementwise closeness measure every numeric check uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Tolerance:
    """Allowed error |actual - expected| <= atol + rtol * |expected|; `reason` justifies an override."""

    rtol: float
    atol: float
    reason: str = "default for the dtype (torch.testing's table)"
    # A numeric claim's rounding model: sample (float64) -> first-order rounding weights (B,) of its (lhs, rhs),
    # e.g. checkers.rounding.running_error(numeric); the engine adds u·weight per instance below float64.
    rounding: Callable | None = None


# torch.testing's _DTYPE_PRECISIONS: rounding error of one well-conditioned operation chain.
DEFAULT_TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float64: Tolerance(rtol=1e-7, atol=1e-7),
    torch.float32: Tolerance(rtol=1.3e-6, atol=1e-5),
    torch.float16: Tolerance(rtol=1e-3, atol=1e-5),
    torch.bfloat16: Tolerance(rtol=1.6e-2, atol=1e-5),
}

DTYPES_BY_NAME: dict[str, torch.dtype] = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def dtype_name(dtype: torch.dtype) -> str:
    """`torch.float32` -> `"float32"`."""
    return str(dtype).removeprefix("torch.")


def tolerance_for(dtype: torch.dtype, overrides: dict[torch.dtype, Tolerance] | None = None) -> Tolerance:
    """The claim's override for `dtype` if it has one, else the table's entry."""
    if overrides and dtype in overrides:
        return overrides[dtype]
    return DEFAULT_TOLERANCES[dtype]


@dataclass(frozen=True)
class Discrepancy:
    """Elementwise comparison of `actual` against `expected` (both float64, one row per instance)."""

    abs_error: torch.Tensor  # worst absolute error per instance
    rel_error: torch.Tensor  # worst relative error per instance
    excess: torch.Tensor  # worst (|a - e| - allowed) per instance; > 0 means out of tolerance
    # (B,) bool: instances that were not judged (a Monte Carlo estimate with no usable standard error); None: none
    degenerate: torch.Tensor | None = None


_TINY = torch.finfo(torch.float64).tiny


def unit_roundoff(dtype: torch.dtype) -> float:
    """u = eps / 2: the largest relative error of one correctly rounded operation in `dtype`."""
    return torch.finfo(dtype).eps / 2


def _extra(extra: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | float:
    return 0.0 if extra is None else extra.to(like).reshape(-1, *([1] * (like.dim() - 1)))


def compare(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance,
            extra: torch.Tensor | None = None) -> Discrepancy:
    """Per-instance errors of `actual` vs `expected`; NaN or inf where `expected` is finite counts as failure.

    `extra` (one value per instance) widens the allowance, e.g. by a first-order rounding-error bound.
    Relative errors are taken against max(|expected|, atol), so an expected 0 gives a finite figure.
    """
    actual = actual.to(torch.float64)
    expected = expected.to(device=actual.device, dtype=torch.float64)
    actual, expected = torch.broadcast_tensors(actual, expected)
    diff = (actual - expected).abs()
    both_inf = torch.isinf(actual) & torch.isinf(expected) & (torch.sign(actual) == torch.sign(expected))
    diff = torch.where(both_inf, torch.zeros_like(diff), diff)
    return _per_instance(diff, expected, tol, extra)


def violation(smaller: torch.Tensor, larger: torch.Tensor, tol: Tolerance,
              extra: torch.Tensor | None = None) -> Discrepancy:
    """Per-instance amount by which `smaller <= larger` fails, beyond the rounding allowance."""
    smaller = smaller.to(torch.float64)
    larger = larger.to(device=smaller.device, dtype=torch.float64)
    smaller, larger = torch.broadcast_tensors(smaller, larger)
    over = (smaller - larger).clamp_min(0.0)
    return _per_instance(over, larger, tol, extra)


def short_of(actual: torch.Tensor, bound: torch.Tensor, tol: Tolerance) -> Discrepancy:
    """Per-instance errors of "`actual` lies in [bound − atol − rtol·|bound|, bound + atol]": at most the bound, and short
    of it by no more than the tolerance (an observed maximum against the bound it must approach from below)."""
    actual = actual.to(torch.float64)
    bound = bound.to(device=actual.device, dtype=torch.float64)
    actual, bound = torch.broadcast_tensors(actual, bound)
    over = _per_instance((actual - bound).clamp_min(0.0), bound, Tolerance(0.0, tol.atol), None)
    short = _per_instance((bound - actual).clamp_min(0.0), bound, tol, None)
    return Discrepancy(torch.maximum(over.abs_error, short.abs_error), torch.maximum(over.rel_error, short.rel_error),
                       torch.maximum(over.excess, short.excess))


def _per_instance(error: torch.Tensor, reference: torch.Tensor, tol: Tolerance,
                  extra: torch.Tensor | None) -> Discrepancy:
    """Worst absolute, relative and excess error per instance (row); NaN errors count as infinite."""
    error = torch.where(torch.isnan(error), torch.full_like(error, float("inf")), error)
    allowed = tol.atol + tol.rtol * reference.abs() + _extra(extra, error)
    rel = error / torch.maximum(reference.abs(), torch.full_like(reference, max(tol.atol, _TINY)))
    flat = error.shape[0], -1
    return Discrepancy(
        abs_error=error.reshape(flat).amax(dim=1),
        rel_error=rel.reshape(flat).amax(dim=1),
        excess=(error - allowed).reshape(flat).amax(dim=1),
    )


def within(actual: torch.Tensor, expected: torch.Tensor, tol: Tolerance,
           extra: torch.Tensor | None = None) -> torch.Tensor:
    """(B,) bool: each instance (row) of `actual` agrees with `expected` as `compare` decides (NaN never agrees).

    The one closeness test of the numeric checks, for callers that need a verdict per instance rather
    than the error figures (the grader: answers, misconceptions, derivation steps).
    """
    return compare(actual, expected, tol, extra).excess <= 0
