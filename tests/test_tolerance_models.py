"""Tolerances from models, not from one seed: running-error bounds, degenerate Monte Carlo estimates, sharp references.

Each test pairs what a model must allow with what it must still reject, so that no allowance here
can be widened into one that passes anything.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch

from checkers import Claim, Derivation, Estimate, Mutant, Real, Reference, Tolerance, Variable, Vector
from checkers.rounding import running_error, running_error_weight
from checkers.tolerances import unit_roundoff
from checkers.verify import ClaimChecker

U16 = unit_roundoff(torch.float16)
u, w = sp.symbols("u w", real=True)


def _run(claim: Claim, dtypes=(torch.float64,), seed: int = 0):
    derivation = Derivation(id="toy", title="toy", source="none P0", claims=(claim,))
    return ClaimChecker(derivation, claim, seed=seed).run(["cpu"], list(dtypes))


# --- running-error weights ---------------------------------------------------------------------------------------

def _shifted_log_sum_exp(x: torch.Tensor) -> torch.Tensor:
    top = x.amax(-1, keepdim=True)
    return top.squeeze(-1) + torch.log(torch.exp(x - top).sum(-1))


def test_one_rounding_weighs_the_result_and_exact_operations_weigh_nothing():
    x = torch.randn(16, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    (added,) = running_error_weight(lambda: x[:, 0] + x[:, 1], 16)
    assert torch.allclose(added, (x[:, 0] + x[:, 1]).abs())
    (largest,) = running_error_weight(lambda: x.amax(-1).abs(), 16)
    assert torch.equal(largest, torch.zeros(16, dtype=torch.float64))


def test_a_sum_weighs_its_terms_not_its_cancelled_result():
    x = torch.tensor([[1.0, -1.0, 1e-3] * 4], dtype=torch.float64).expand(4, 12)
    (weight,) = running_error_weight(lambda: x.sum(-1), 4)
    assert torch.allclose(weight, torch.full((4,), 12 * float(x[0].abs().sum()), dtype=torch.float64))


@pytest.mark.parametrize("seed", range(5))
def test_the_bound_covers_the_float16_error_of_a_cancelling_computation(seed):
    gen = torch.Generator().manual_seed(seed)
    x = 30 * torch.randn(2000, 6, generator=gen, dtype=torch.float64)
    beta = torch.exp(torch.empty(2000, dtype=torch.float64).uniform_(math.log(0.01), math.log(30), generator=gen))
    x16, beta16 = x.half(), beta.half()
    exact = _shifted_log_sum_exp(beta16.double().unsqueeze(-1) * x16.double()) / beta16.double()
    computed = (_shifted_log_sum_exp(beta16.unsqueeze(-1) * x16) / beta16).double()
    (weight,) = running_error_weight(
        lambda: _shifted_log_sum_exp(beta16.double().unsqueeze(-1) * x16.double()) / beta16.double(), 2000)
    error = (computed - exact).abs()
    assert (error <= U16 * weight + 1e-12).all(), float((error - U16 * weight).max())
    # the bound is a bound, not a blanket: some instance uses a fair share of its allowance
    assert float((error / (U16 * weight)).max()) > 0.2


def _cancelling(sample, bug: float = 0.0):
    """x₀ + (x₁ − x₀) = x₁ on values of size 100: float16 loses ~u·100 to rounding; `bug` adds an error in float16."""
    x = sample["x"]
    shift = 100.0 * torch.ones_like(x[:, 0])
    lhs = (x[:, 0] + shift) + (x[:, 1] - (x[:, 0] + shift))
    return lhs + (bug if sample.dtype == torch.float16 else 0.0), x[:, 1]


def _claim(numeric, tolerances=None):
    return Claim(id="cancel", statement="x₀ + 100 + (x₁ − x₀ − 100) = x₁", numeric=numeric,
                 variables=(Variable("x", Vector(2, scale=1e-3)),), dtypes=(torch.float64, torch.float16),
                 mutants=(Mutant("plus", "x₁ + 1", numeric=lambda s: (s["x"][:, 1], s["x"][:, 1] + 1)),),
                 tolerances=tolerances or {}, instances=256)


def test_a_claim_with_a_rounding_model_passes_where_the_table_alone_fails():
    modelled = {torch.float16: Tolerance(1e-3, 1e-5, "table plus the running-error bound",
                                          rounding=running_error(_cancelling))}
    assert not _run(_claim(_cancelling), (torch.float16,)).passed  # the table's 1e-3 relative of |x₁| ≈ 1e-3: too tight
    result = _run(_claim(_cancelling, modelled), (torch.float16,))
    assert result.passed, result.failures
    assert "running-error" in modelled[torch.float16].reason


def test_the_rounding_model_does_not_excuse_an_error_beyond_rounding():
    modelled = {torch.float16: Tolerance(1e-3, 1e-5, "table plus the running-error bound",
                                          rounding=running_error(_cancelling))}
    buggy = _claim(lambda s: _cancelling(s, bug=0.5), modelled)
    result = _run(buggy, (torch.float16,))
    assert not result.passed
    assert "first-order rounding bound" in result.numeric[0].failure.tolerance_reason


# --- degenerate Monte Carlo estimates ----------------------------------------------------------------------------

def _estimate_claim(mean_fn, stderr_fn):
    def numeric(sample):
        t = sample["t"]
        return Estimate(mean_fn(t), stderr_fn(t)), t
    return Claim(id="mc", statement="E = t", relation="≈", numeric=numeric, variables=(Variable("t", Real(1.0, 2.0)),),
                 dtypes=(torch.float64,), instances=64,
                 mutants=(Mutant("double", "2t", numeric=lambda s: (Estimate(s["t"], 0.01 * s["t"]), 2 * s["t"])),))


def test_an_estimate_with_zero_standard_error_is_degenerate_not_failed_and_not_passed():
    result = _run(_estimate_claim(lambda t: t * 0, lambda t: t * 0))  # every draw 0: mean 0 ± 0, target t
    row = result.numeric[0]
    assert row.skipped.startswith("estimate degenerate") and not row.passed
    assert row.degenerate == row.instances == 64
    assert result.passed and not result.ran_numeric  # not a failure of the claim, and no numeric evidence either


def test_degenerate_instances_are_counted_and_the_others_still_judge():
    half = lambda t: torch.where(torch.arange(t.shape[0]) % 2 == 0, torch.zeros_like(t), 0.01 * t)  # noqa: E731
    good = _run(_estimate_claim(lambda t: t, half))
    assert good.passed and good.numeric[0].degenerate == 32 and not good.numeric[0].skipped
    wrong = _run(_estimate_claim(lambda t: 1.5 * t, half))  # off by 50 standard errors where they are not 0
    assert not wrong.passed


def test_a_nan_estimate_is_broken_not_degenerate():
    result = _run(_estimate_claim(lambda t: t * math.nan, lambda t: t * math.nan))
    assert not result.passed and result.numeric[0].degenerate == 0


# --- Monte Carlo references: evidence only when sharp -----------------------------------------------------------

def _with_reference(stderr: float, illustration: str = ""):
    reference = Reference("mc", "u + w ± noise", lambda s: Estimate(s["u"] + s["w"], stderr * torch.ones_like(s["u"])),
                          illustration=illustration)
    return Claim(id="sum", statement="u + w", lhs=u + w, rhs=w + u,
                 variables=(Variable("u", Real(1.0, 2.0)), Variable("w", Real(1.0, 2.0))), dtypes=(torch.float64,),
                 mutants=(Mutant("minus", "u − w", rhs=u - w),), references=(reference,), instances=64)


def test_a_blunt_monte_carlo_reference_is_not_evidence():
    blunt = _run(_with_reference(stderr=1.0))
    assert not blunt.passed
    assert any("Monte Carlo estimate declared as evidence" in f for f in blunt.failures), blunt.failures
    assert "rejects the side ×1.02 on 0 of 64 instances" in blunt.references[0].sharpness


def test_a_sharp_reference_is_evidence_and_a_blunt_one_may_be_an_illustration():
    sharp = _run(_with_reference(stderr=1e-4))
    assert sharp.passed and sharp.references[0].sharp and not sharp.references[0].illustration
    shown = _run(_with_reference(stderr=1.0, illustration="too few draws to reject a 2% error"))
    assert shown.passed and shown.references[0].illustration == "too few draws to reject a 2% error"


# --- one-sided references, float64 never skipped ---------------------------------------------------------------

def test_kaimings_observed_bound_rejects_a_bound_ten_percent_too_large():
    from proofs.kaiming_variance import init_bound, init_max_abs

    assert _run(init_bound, (torch.float64,)).passed
    loose = dataclasses.replace(init_bound, numeric=lambda s: (init_max_abs(s)[0], 1.1 * init_max_abs(s)[1]))
    result = _run(loose, (torch.float64,))
    assert not result.references[0].passed
    assert all(r.passed for r in result.numeric)  # the claim's own "max <= bound" cannot see it: only the reference


def _unsupported(sample):
    raise RuntimeError(f'"addmm_impl_cpu_" not implemented for {sample.dtype}')


def test_an_unsupported_kernel_skips_low_precision_but_never_float64():
    claim = _claim(_unsupported)
    half = _run(claim, (torch.float16,)).numeric[0]
    assert half.skipped.startswith("torch cannot compute this in float16")
    with pytest.raises(RuntimeError, match="not implemented for"):
        _run(claim, (torch.float64,))


def test_the_report_names_the_rounding_bound_where_a_numeric_claim_has_a_model():
    from checkers.reporting.evidence import criterion_text

    modelled = _claim(_cancelling, {torch.float16: Tolerance(1e-3, 1e-5, "model", rounding=running_error(_cancelling))})
    assert criterion_text(modelled, "float16").endswith("+ rounding bound")
    assert not criterion_text(_claim(_cancelling), "float16").endswith("+ rounding bound")
    assert not criterion_text(modelled, "float64").endswith("+ rounding bound")
