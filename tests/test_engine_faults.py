"""Engine self-tests that bite: each check passes on the real engine and fails when one engine function is faulty.

Every check below runs one small derivation (or one generator) and asserts what the engine must do.
The mutation harness at the bottom plants, one at a time, a plausible fault in one engine function
(monkeypatch) — an SPD generator without spread, a sign-blind comparison, a side compared with itself,
a timeout recorded as a proof, a case split missing a case, a dimension scope reported wider than
proved, fewer instances than declared, a lemma derivation that ignores the claim — and expects the
matching check to go red. A check that
stayed green under its fault would be a check that cannot fail.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import sympy as sp
import torch

import checkers.kinds
import checkers.strategies
import checkers.symbolic
import checkers.tolerances
import checkers.verify
from checkers import (SPD, Claim, Derivation, Matrix, Mutant, Real, Reference, Step, Variable, explicit_entries,
                      facts, for_dimensions, identity, not_attempted)
from checkers.strategies import Cases, CaseSplit, Split, le_total
from checkers.symbolic import ForDimensions, SymbolicResult, SymbolicStatus
from checkers.verify import ClaimChecker

u = sp.Symbol("u", real=True)
w = sp.Symbol("w", real=True)
n = sp.Symbol("n", integer=True, positive=True)
A = sp.MatrixSymbol("A", n, n)
TOY = (Variable("u", Real(-2.0, 2.0)), Variable("w", Real(-2.0, 2.0)))


def _run(claim: Claim, dtypes=(torch.float64,)):
    derivation = Derivation(id="toy", title="toy", source="none P0", claims=(claim,))
    return ClaimChecker(derivation, claim, seed=0).run(["cpu"], list(dtypes))


# ---------------------------------------------------------------------------------------------------------------
# The checks


def check_spd_has_spread():
    """SPD draws fill the declared spectrum and are not diagonal: a near-identity generator fails this."""
    low, high = 0.25, 4.0
    gen = torch.Generator().manual_seed(0)
    for dim in (1, 2, 3, 4):
        m = SPD("n", low=low, high=high).draw(256, {"n": dim}, gen)
        assert torch.allclose(m, m.transpose(-1, -2))
        eig = torch.linalg.eigvalsh(m)
        assert eig.min() >= low - 1e-9 and eig.max() <= high + 1e-9
        # log-uniform eigenvalues: the lowest and highest eighth of the log-range are both hit
        assert eig.min() < low * (high / low) ** 0.125 and eig.max() > high / (high / low) ** 0.125, (dim, eig.min(), eig.max())
        assert float(eig.log().std()) > 0.25 * math.log(high / low) / math.sqrt(12), "eigenvalues bunched together"
        if dim > 1:
            off = m - torch.diag_embed(torch.diagonal(m, dim1=-2, dim2=-1))
            assert float(off.abs().mean()) > 0.05 * float(m.abs().mean()), "SPD draws are (nearly) diagonal"


def check_comparison_sees_signs():
    """lhs = u against rhs = −u fails, and a mutant that flips a sign is caught."""
    wrong = Claim(id="sign", statement="u = −u", lhs=u, rhs=-u, variables=TOY,
                  symbolic=not_attempted("numeric test"), mutants=(Mutant("same", "same", rhs=-u),))
    result = _run(wrong)
    assert not result.numeric[0].passed, "u = −u passed the numeric comparison"
    right = Claim(id="sign-mutant", statement="u·w = w·u", lhs=u * w, rhs=w * u, variables=TOY,
                  symbolic=not_attempted("numeric test"), mutants=(Mutant("flipped", "−u·w", rhs=-u * w),))
    result = _run(right)
    assert result.passed and result.mutants[0].caught, result.failures


def check_sides_are_compared_with_each_other():
    """A false claim fails in every dtype (each compares the claim's own lhs with its rhs), and its mutant is caught."""
    false = Claim(id="off", statement="u = 1.01 u + 0.01", lhs=u, rhs=1.01 * u + 0.01, variables=TOY,
                  symbolic=not_attempted("numeric test"), mutants=(Mutant("far", "u + 1", rhs=u + 1),))
    result = _run(false, dtypes=(torch.float64, torch.float32, torch.float16))
    ran = [r for r in result.numeric if not r.skipped]
    assert len(ran) == 3 and not any(r.passed for r in ran), [(r.dtype, r.passed) for r in ran]
    assert result.mutants[0].caught
    # a true claim whose wrong step and wrong reference must each be reported
    true = Claim(id="steps", statement="(u + w)² = u² + 2uw + w²", lhs=(u + w) ** 2, rhs=u ** 2 + 2 * u * w + w ** 2,
                 variables=TOY, symbolic=not_attempted("numeric test"),
                 steps=(Step(u ** 2 + u * w + w ** 2, "a wrong middle step", symbolic=not_attempted("numeric test")),
                        Step(u ** 2 + 2 * u * w + w ** 2, "back to the right form", symbolic=not_attempted("x"))),
                 references=(Reference("wrong", "(u + w)² + 0.1", lambda s: (s["u"] + s["w"]) ** 2 + 0.1),),
                 mutants=(Mutant("far", "u²", rhs=u ** 2),))
    result = _run(true)
    assert result.numeric[0].passed
    assert not result.steps[0].numeric.passed and not result.steps[1].numeric.passed
    assert not result.references[0].passed


def check_timeout_is_not_a_proof():
    """A strategy that runs out of time is `failed`, never `proved` (nor merely supported), and fails the claim."""
    slow = ("busy", lambda: [sp.factorint(2 ** 199 - 1) for _ in range(100)] and sp.S.Zero)
    strategy = facts(slow, derive=lambda lhs, rhs, relation: lhs - rhs, time_limit=0.2)
    result = strategy.prove(u, u)
    assert result.status == SymbolicStatus.FAILED and "limit" in result.detail, result
    claim = Claim(id="slow", statement="u = u", lhs=u, rhs=u, variables=TOY, symbolic=strategy,
                  mutants=(Mutant("plus", "u + 1", rhs=u + 1),))
    assert not _run(claim).passed


def check_derivation_reads_the_claim():
    """facts(derive=...) proves a claim only with a derivation that depends on the claim's sides."""
    t = sp.Symbol("t", positive=True)
    blind = facts(("log 1 = 0", lambda: sp.log(1)), derive=lambda lhs, rhs, relation: sp.S.Zero)
    result = blind.prove(sp.log(t), t - 1, "<=")
    assert result.status == SymbolicStatus.FAILED and "does not read the claim" in result.detail, result
    wrong = _run(Claim(id="blind", statement="log t ≤ t − 2", lhs=sp.log(t), rhs=t - 2, relation="<=",
                       variables=(Variable("t", Real(0.5, 2.0)),), symbolic=blind,
                       mutants=(Mutant("m", "t − 3", rhs=t - 3),)))
    assert wrong.symbolic.status != SymbolicStatus.PROVED


def check_case_split_needs_every_case():
    """|a − b| = a − b holds where a ≥ b: a split that leaves out a ≤ b must not prove it."""
    a, b = sp.symbols("a b", real=True)
    (split,) = le_total(a, b).splits
    assert CaseSplit(cases=le_total(a, b)).prove(sp.Abs(a - b), a - b).status == SymbolicStatus.FAILED
    partial = Cases((Split(split.expr, tuple(c for c in split.cases if "≥" in c.description)),))
    result = CaseSplit(cases=partial).prove(sp.Abs(a - b), a - b)
    assert result.status == SymbolicStatus.FAILED, result


def check_scope_is_what_was_proved():
    """for_dimensions reports exactly the dimensions proved; one that fails at n = 2 is `failed`, not proved for {1, 2, 3}."""
    ok = for_dimensions(n, (1, 2), explicit_entries(A)).prove(sp.Determinant(A.T), sp.Determinant(A))
    assert (ok.status, ok.scope) == (SymbolicStatus.PROVED, "n ∈ {1, 2}"), ok
    only_one = for_dimensions(n, (1, 2, 3), explicit_entries(A)).prove(sp.Trace(A * A), sp.Trace(A) ** 2)
    assert only_one.status == SymbolicStatus.FAILED and "n = 2" in only_one.detail, only_one
    claim = Claim(id="det-t", statement="det Aᵀ = det A", lhs=sp.Determinant(A.T), rhs=sp.Determinant(A),
                  variables=(Variable("A", Matrix("n", "n")),), dims={"n": (1, 5)},
                  symbolic=for_dimensions(n, (1, 2), explicit_entries(A)),
                  mutants=(Mutant("twice", "2 det A", rhs=2 * sp.Determinant(A)),))
    result = _run(claim)
    assert result.passed and result.symbolic.scope == "n ∈ {1, 2}", (result.symbolic, result.failures)


def check_declared_instances_are_checked():
    """Every comparison runs on at least the claim's declared number of instances."""
    claim = Claim(id="count", statement="u + w = w + u", lhs=u + w, rhs=w + u, variables=TOY, symbolic=identity(),
                  mutants=(Mutant("plus", "u + w + 1", rhs=u + w + 1),), instances=1000)
    claim = dataclasses.replace(claim, steps=(Step(w + u, "commute", symbolic=identity()),),
                                references=(Reference("torch", "torch.add", lambda s: torch.add(s["w"], s["u"])),))
    result = _run(claim, dtypes=(torch.float64, torch.float32))
    assert result.passed
    counts = ([r.instances for r in result.numeric] + [s.numeric.instances for s in result.steps]
              + [r.instances for ref in result.references for r in ref.results])
    assert all(c >= claim.instances for c in counts), counts


# ---------------------------------------------------------------------------------------------------------------
# The faults, one engine function each


def _near_identity_spd(self, batch, dims, gen):
    size = dims[self.dim] if isinstance(self.dim, str) else self.dim
    noise = 1e-3 * torch.randn(batch, size, size, generator=gen, dtype=torch.float64)
    return torch.eye(size, dtype=torch.float64) + (noise + noise.transpose(-1, -2)) / 2


def _diagonal_spd(self, batch, dims, gen):
    size = dims[self.dim] if isinstance(self.dim, str) else self.dim
    u_ = torch.rand(batch, size, generator=gen, dtype=torch.float64)
    lam = torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u_)
    return torch.diag_embed(lam)  # the right spectrum, never rotated


def _sign_blind(real):
    def compare(actual, expected, tol, extra=None):
        return real(actual.abs(), expected.abs(), tol, extra)
    return compare


def _side_with_itself(real):
    def discrepancy(lhs, rhs, relation, tol, z, batch, extra=None):
        return real(lhs, lhs, relation, tol, z, batch, extra)
    return discrepancy


def _timeout_as_proof(real):
    def outcome(exc):
        if isinstance(exc, checkers.symbolic.SymbolicTimeout):
            return SymbolicResult(SymbolicStatus.PROVED, "general", "ran out of time")
        return real(exc)
    return outcome


def _skip_failing_dimensions(self, lhs, rhs, relation):
    proved = [k for k in self.values
              if checkers.symbolic._simplifies_to_zero(
                  checkers.symbolic.explicit_difference(lhs, rhs, self.dim, k, self.substitution))]
    return SymbolicResult(SymbolicStatus.PROVED, checkers.symbolic.scope_of(self.dim, self.values or proved), "")


def _half_batches(real):
    def draw_sample(claim, config, batch):
        return real(claim, config, max(1, batch // 2))
    return draw_sample


FAULTS = {
    "spd-near-identity": (check_spd_has_spread, lambda mp: mp.setattr(checkers.kinds.SPD, "draw", _near_identity_spd)),
    "spd-diagonal": (check_spd_has_spread, lambda mp: mp.setattr(checkers.kinds.SPD, "draw", _diagonal_spd)),
    "sign-blind-comparison": (check_comparison_sees_signs,
                              lambda mp: mp.setattr(checkers.verify, "compare", _sign_blind(checkers.verify.compare))),
    "side-compared-with-itself": (check_sides_are_compared_with_each_other, lambda mp: mp.setattr(
        checkers.verify, "_discrepancy", _side_with_itself(checkers.verify._discrepancy))),
    "timeout-recorded-as-proof": (check_timeout_is_not_a_proof, lambda mp: mp.setattr(
        checkers.symbolic, "outcome_of_exception", _timeout_as_proof(checkers.symbolic.outcome_of_exception))),
    "derivation-blind-to-the-claim": (check_derivation_reads_the_claim, lambda mp: mp.setattr(
        checkers.symbolic, "derivation_reads_the_claim", lambda *args: True)),
    "case-split-missing-a-case": (check_case_split_needs_every_case,
                                  lambda mp: mp.setattr(checkers.strategies, "coverage_problem", lambda *args: None)),
    "scope-general": (check_scope_is_what_was_proved,
                      lambda mp: mp.setattr(checkers.symbolic, "scope_of", lambda dim, values: "general")),
    "scope-skips-failing-dimensions": (check_scope_is_what_was_proved,
                                       lambda mp: mp.setattr(ForDimensions, "_attempt", _skip_failing_dimensions)),
    "fewer-instances-than-declared": (check_declared_instances_are_checked, lambda mp: mp.setattr(
        checkers.verify, "draw_sample", _half_batches(checkers.verify.draw_sample))),
}

CHECKS = sorted({check.__name__: check for check, _ in FAULTS.values()}.items())


@pytest.mark.parametrize("check", [c for _, c in CHECKS], ids=[name for name, _ in CHECKS])
def test_the_real_engine_passes(check):
    check()


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_planted_engine_fault_turns_its_check_red(fault, monkeypatch):
    check, plant = FAULTS[fault]
    plant(monkeypatch)
    with pytest.raises(AssertionError):
        check()
