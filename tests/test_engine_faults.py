"""Engine self-tests that bite: each check passes on the real engine and fails when one engine function is faulty.

Every check below runs one small derivation (or one generator) and asserts what the engine must do.
The mutation harness at the bottom plants, one at a time, a plausible fault in one engine function
(monkeypatch) — a degenerate instance generator (every kind of checkers/kinds.py has a diversity
check: a constant real, one integer, a uniform instead of log-uniform positive, a vector of one
repeated entry, symmetric matrices, orthogonal "invertible" matrices, uniform probability vectors,
grid densities all centred at 0, a OneOf that never leaves its first option, an SPD generator without spread), a sign-blind comparison, a side compared with itself,
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


def _draw(kind, batch=512, dims=None, seed=0):
    return kind.draw(batch, dims or {}, torch.Generator().manual_seed(seed))


def check_real_fills_its_interval():
    """Real(low, high) is uniform: both end tenths are hit and the spread is that of a uniform law."""
    x = _draw(checkers.kinds.Real(-2.0, 3.0))
    assert x.min() >= -2.0 and x.max() <= 3.0
    assert x.min() < -1.5 and x.max() > 2.5
    assert abs(float(x.std()) - 5 / math.sqrt(12)) < 0.15 * 5 / math.sqrt(12)


def check_integer_hits_every_value():
    """Integer(low, high) draws every integer of its range, each roughly equally often."""
    x = _draw(checkers.kinds.Integer(1, 8), batch=800)
    counts = torch.bincount(x.long(), minlength=9)[1:]
    assert torch.equal(x, x.round()) and x.min() >= 1 and x.max() <= 8
    assert counts.min() > 0.5 * 100, counts.tolist()


def check_positive_covers_its_orders_of_magnitude():
    """Positive is log-uniform: every decade of [1e-3, 1e3] gets about a sixth of the draws."""
    x = _draw(checkers.kinds.Positive(1e-3, 1e3), batch=1200)
    decades = torch.histc(x.log10(), bins=6, min=-3.0, max=3.0)
    assert x.min() >= 1e-3 and x.max() <= 1e3
    assert decades.min() > 0.5 * 200, decades.tolist()


def check_vectors_and_matrices_have_independent_normal_entries():
    """Vector and Matrix entries are iid N(0, scale²): right spread, no repeated or mirrored entries."""
    v = _draw(checkers.kinds.Vector("n", scale=2.0), dims={"n": 4})
    m = _draw(checkers.kinds.Matrix("r", "c", scale=0.5), dims={"r": 3, "c": 3})
    for values, scale in ((v.reshape(512, -1), 2.0), (m.reshape(512, -1), 0.5)):
        assert abs(float(values.std()) - scale) < 0.1 * scale and abs(float(values.mean())) < 0.1 * scale
        correlation = torch.corrcoef(values.T) - torch.eye(values.shape[1], dtype=values.dtype)
        assert float(correlation.abs().max()) < 0.25, "entries move together"
    assert float((m - m.transpose(-1, -2)).abs().mean()) > 0.1, "matrices are symmetric"


def check_invertible_fills_its_singular_values_and_both_signs():
    """Invertible: singular values spread over [1/c, c], both determinant signs, not diagonal."""
    for dim in (1, 2, 3, 4):
        a = _draw(checkers.kinds.Invertible("n", cond_sqrt=2.0), batch=256, dims={"n": dim})
        log_s = torch.linalg.svdvals(a).log()
        assert log_s.min() < -math.log(2.0) + math.log(2.0) / 4 and log_s.max() > math.log(2.0) * 3 / 4, dim
        det = torch.linalg.det(a)
        assert (det[0::2] < 0).all() and (det[1::2] > 0).all()
        if dim > 1:
            off = a - torch.diag_embed(torch.diagonal(a, dim1=-2, dim2=-1))
            assert float(off.abs().mean()) > 0.05 * float(a.abs().mean()), dim


def check_probability_vectors_are_spread():
    """ProbabilityVector: strictly positive, sums to 1, and far from uniform on average."""
    for dim in (2, 3, 6):
        p = _draw(checkers.kinds.ProbabilityVector("n"), batch=256, dims={"n": dim})
        assert (p > 0).all() and torch.allclose(p.sum(-1), torch.ones(256, dtype=torch.float64))
        assert float((p.amax(-1) - 1 / dim).mean()) > 0.1 * (1 - 1 / dim), dim


def check_grid_densities_are_diverse():
    """DensityOnGrid: densities whose means, spreads and numbers of modes vary from instance to instance."""
    x, dx = checkers.kinds.density_grid(401)
    p = _draw(checkers.kinds.DensityOnGrid(401), batch=256)
    assert (p >= 0).all() and torch.allclose(p.sum(-1) * dx, torch.ones(256, dtype=torch.float64))
    mean = (p * x).sum(-1) * dx
    std = ((p * (x - mean.unsqueeze(-1)) ** 2).sum(-1) * dx).sqrt()
    assert mean.min() < -1.0 and mean.max() > 1.0, "every density centred alike"
    assert float(std.max() / std.min()) > 2.0, "every density equally wide"
    peaks = ((p[:, 1:-1] > p[:, :-2]) & (p[:, 1:-1] > p[:, 2:]) & (p[:, 1:-1] > 1e-3)).sum(-1)
    assert (peaks == 1).any() and (peaks >= 2).any(), "every density has as many modes"


def check_one_of_draws_every_option():
    """OneOf draws each of its options for some instances, about equally often."""
    x = _draw(checkers.kinds.OneOf((1e-5, 1e-3, 1e-1)), batch=600)
    for option in (1e-5, 1e-3, 1e-1):
        assert int((x == option).sum()) > 0.5 * 200, option


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
              if checkers.symbolic.simplifies_to_zero(
                  checkers.symbolic.explicit_difference(lhs, rhs, self.dim, k, self.substitution))]
    return SymbolicResult(SymbolicStatus.PROVED, checkers.symbolic.scope_of(self.dim, self.values or proved), "")


def _half_batches(real):
    def draw_sample(claim, config, batch):
        return real(claim, config, max(1, batch // 2))
    return draw_sample


def _constant_draw(value_of):
    """A degenerate generator: every instance the same value (of the right shape)."""
    def draw(self, batch, dims, gen):
        return value_of(self, dims).expand(batch, *value_of(self, dims).shape).clone()
    return draw


def _size_of(kind, attr, dims):
    size = getattr(kind, attr)
    return dims[size] if isinstance(size, str) else size


def _repeated_entry_vector(self, batch, dims, gen):
    return self.scale * torch.randn(batch, 1, generator=gen, dtype=torch.float64).expand(batch, _size_of(self, "dim", dims))


def _orthogonal_only(self, batch, dims, gen):
    size = _size_of(self, "dim", dims)
    q = checkers.kinds._orthogonal(batch, size, gen)
    q[1::2, 0, :] *= torch.where(torch.linalg.det(q[1::2]) < 0, -1.0, 1.0).to(q).unsqueeze(-1)
    q[0::2, 0, :] *= torch.where(torch.linalg.det(q[0::2]) > 0, -1.0, 1.0).to(q).unsqueeze(-1)
    return q  # both determinant signs, but every singular value 1


def _centred_densities(real):
    def draw(self, batch, dims, gen):
        x, dx = checkers.kinds.density_grid(self.points)
        stds = 0.3 + 0.7 * torch.rand(batch, 3, 1, generator=gen, dtype=torch.float64)
        weights = torch.softmax(torch.randn(batch, 3, 1, generator=gen, dtype=torch.float64) * 2, dim=1)
        density = (weights * torch.exp(-0.5 * (x / stds) ** 2) / (stds * math.sqrt(2 * math.pi))).sum(dim=1)
        return density / (density.sum(dim=-1, keepdim=True) * dx)  # every mean 0: one mode, centred
    return draw


FAULTS = {
    "real-constant": (check_real_fills_its_interval, lambda mp: mp.setattr(checkers.kinds.Real, "draw", _constant_draw(
        lambda self, dims: torch.tensor((self.low + self.high) / 2, dtype=torch.float64)))),
    "integer-always-low": (check_integer_hits_every_value, lambda mp: mp.setattr(
        checkers.kinds.Integer, "draw", _constant_draw(lambda self, dims: torch.tensor(float(self.low), dtype=torch.float64)))),
    "positive-uniform-not-log-uniform": (check_positive_covers_its_orders_of_magnitude, lambda mp: mp.setattr(
        checkers.kinds.Positive, "draw", lambda self, batch, dims, gen: self.low + (self.high - self.low)
        * torch.rand(batch, generator=gen, dtype=torch.float64))),
    "vector-repeated-entry": (check_vectors_and_matrices_have_independent_normal_entries, lambda mp: mp.setattr(
        checkers.kinds.Vector, "draw", _repeated_entry_vector)),
    "matrix-symmetric": (check_vectors_and_matrices_have_independent_normal_entries, lambda mp: mp.setattr(
        checkers.kinds.Matrix, "draw", lambda self, batch, dims, gen: (lambda m: (m + m.transpose(-1, -2)) / 2)(
            self.scale * torch.randn(batch, _size_of(self, "rows", dims), _size_of(self, "cols", dims), generator=gen,
                                     dtype=torch.float64)))),
    "invertible-orthogonal": (check_invertible_fills_its_singular_values_and_both_signs, lambda mp: mp.setattr(
        checkers.kinds.Invertible, "draw", _orthogonal_only)),
    "probability-vectors-uniform": (check_probability_vectors_are_spread, lambda mp: mp.setattr(
        checkers.kinds.ProbabilityVector, "draw", lambda self, batch, dims, gen: torch.full(
            (batch, _size_of(self, "dim", dims)), 1.0 / _size_of(self, "dim", dims), dtype=torch.float64))),
    "grid-densities-centred": (check_grid_densities_are_diverse, lambda mp: mp.setattr(
        checkers.kinds.DensityOnGrid, "draw", _centred_densities(checkers.kinds.DensityOnGrid.draw))),
    "one-of-first-option-only": (check_one_of_draws_every_option, lambda mp: mp.setattr(
        checkers.kinds.OneOf, "draw", lambda self, batch, dims, gen: self._kinds()[0].draw(batch, dims, gen))),
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
