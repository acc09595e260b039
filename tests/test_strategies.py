"""Structured strategies: checked case splits, moment expectations and induction read the claim and refuse wrong ones."""

import pytest
import sympy as sp

from checkers.notation import quadratic_form
from checkers.strategies import (Case, Cases, CaseSplit, MomentExpectation, Recursion, RecursionInduction, Split,
                                 coverage_problem, intervals, le_total, product, sign_split, trichotomy)
from checkers.symbolic import SymbolicStatus, explicit_entries

a, b = sp.symbols("a b", real=True)
y = sp.Symbol("y", real=True)


@pytest.mark.parametrize("family", [le_total(a, b), trichotomy(a, b), intervals(y, (-1, 1)), intervals(y, (0,)),
                                    sign_split(2 * a - 3 * b + 1, b), sign_split(a + b, a, strict=True),
                                    product(le_total(a, b), intervals(y, (-2, 0, 3)))])
def test_generated_case_families_cover_the_domain(family):
    assert coverage_problem(family) is None


def test_a_family_missing_a_case_is_refused_and_names_the_gap():
    (split,) = trichotomy(a, b).splits
    without_equal = Cases((Split(split.expr, split.cases[:2]),))
    assert "{0}" in coverage_problem(without_equal)
    (split,) = intervals(y, (-1, 1)).splits
    without_middle = Cases((Split(split.expr, (split.cases[0], split.cases[2])),))
    assert "Interval.open(-1, 1)" in coverage_problem(without_middle)


def test_a_hand_written_case_must_really_parametrise_its_part():
    c = sp.Symbol("c", nonnegative=True)
    # claims to cover a ≥ b with a = b + c², which is fine, but a − b = c² is not monotone-checked as a map of c ≥ 0
    # onto [0, ∞) only if sympy can sign its slope: 2c is only nonnegative (0 at c = 0), so it is refused.
    family = Cases((Split(a - b, (Case("a ≥ b", a, c ** 2), Case("a ≤ b", b, -c))),))
    assert "not monotone" in coverage_problem(family)
    nonlinear = Cases((Split(a ** 3 - b, (Case("a ≥ ...", a, c), Case("a ≤ ...", a, -c))),))
    assert "not linear" in coverage_problem(nonlinear)
    dependent = product(le_total(a, b), le_total(a, y))
    assert "not independent" in coverage_problem(dependent)


def test_a_sign_split_decides_abs_and_max_of_a_linear_expression():
    proof = CaseSplit(cases=sign_split(2 * a - 3 * b + 1, b))
    e = 2 * a - 3 * b + 1
    assert proof.prove(sp.Abs(e), sp.Max(e, -e)).status == SymbolicStatus.PROVED
    assert proof.prove(sp.Abs(e), sp.Max(e, 0)).status == SymbolicStatus.FAILED


def test_case_split_proves_a_true_identity_and_refuses_an_uncovered_one():
    proof = CaseSplit(cases=le_total(a, b))
    assert proof.prove(sp.Abs(a - b), sp.Max(a, b) - sp.Min(a, b)).status == SymbolicStatus.PROVED
    assert proof.prove(sp.Abs(a - b), a - b).status == SymbolicStatus.FAILED
    (split,) = le_total(a, b).splits
    half = CaseSplit(cases=Cases((Split(split.expr, split.cases[1:]),)))  # only a ≥ b, where |a − b| = a − b
    result = half.prove(sp.Abs(a - b), a - b)
    assert result.status == SymbolicStatus.FAILED and "does not cover" in result.detail


d = sp.Symbol("d", integer=True, positive=True)
x, mu, m = (sp.MatrixSymbol(name, d, 1) for name in ("x", "mu", "m"))
Sigma, M = sp.MatrixSymbol("Sigma", d, d), sp.MatrixSymbol("M", d, d)
ENTRIES = explicit_entries(x, mu, m, M, Sigma, symmetric=("Sigma",))


def test_moment_expectation_reads_the_claims_right_side_and_reports_the_dimensions_proved():
    proof = MomentExpectation(integrand=quadratic_form(x - m, M), variable=x, mean=mu, cov=Sigma, dim=d,
                              values=(1, 2), substitution=ENTRIES)
    right = sp.Trace(M * Sigma) + quadratic_form(mu - m, M)
    result = proof.prove(None, right, "≈")
    assert (result.status, result.scope) == (SymbolicStatus.PROVED, "d ∈ {1, 2}")
    for wrong in (right * sp.Rational(21, 20), quadratic_form(mu - m, M), sp.Trace(M * Sigma)):
        assert proof.prove(None, wrong, "≈").status == SymbolicStatus.FAILED


def test_moment_expectation_refuses_an_integrand_beyond_second_moments():
    proof = MomentExpectation(integrand=quadratic_form(x, M) ** 2, variable=x, mean=mu, cov=Sigma, dim=d, values=(1,),
                              substitution=ENTRIES)
    result = proof.prove(None, sp.S.Zero, "=")
    assert result.status == SymbolicStatus.FAILED and "degree ≤ 2" in result.detail


def test_kl_closed_form_is_not_proved_with_an_inverted_log_determinant_ratio():
    from proofs import kl_gaussian as kl

    claim = kl.closed_form
    assert claim.symbolic.prove(claim.lhs, claim.rhs).status == SymbolicStatus.PROVED
    inverted = kl.half * (sp.Trace(kl.Sigma1.I * kl.Sigma0) + quadratic_form(kl.mu1 - kl.mu0, kl.Sigma1.I) - kl.d
                          + sp.log(sp.Determinant(kl.Sigma0) / sp.Determinant(kl.Sigma1)))
    assert claim.symbolic.prove(claim.lhs, inverted).status == SymbolicStatus.FAILED


L = sp.Symbol("L", integer=True, positive=True)
k = sp.Symbol("k", integer=True, positive=True)
w = sp.IndexedBase("w")
u = sp.Symbol("u")


def test_induction_uses_the_declared_recursion_and_rejects_a_different_one():
    # u_0 = 2, u_{L+1} = u_L/2 + w_L: u_L = 2^{1-L} + Σ_{k=1}^{L} w_{k-1}/2^{L-k}.
    closed = 2 ** (1 - L) + sp.Sum(w[k - 1] / 2 ** (L - k), (k, 1, L))
    halving = Recursion(index=L, state=u, step=u / 2 + w[L], initial=2)
    assert halving.value(2) == sp.Rational(1, 2) + w[0] / 2 + w[1]
    assert RecursionInduction(recursion=halving).prove(closed, closed).status == SymbolicStatus.PROVED
    thirding = Recursion(index=L, state=u, step=u / 3 + w[L], initial=2)
    result = RecursionInduction(recursion=thirding).prove(closed, closed)
    assert result.status == SymbolicStatus.FAILED and "does not solve" in result.detail


def test_indexed_derivative_reads_the_claims_index_and_size():
    from checkers.strategies import IndexedDerivative

    size, j_, k_ = sp.Symbol("N", integer=True, positive=True), *sp.symbols("j k", integer=True)
    v = sp.IndexedBase("v", real=True)
    lhs = sp.Derivative(sp.Sum(sp.exp(v[j_]), (j_, 1, size)), v[k_])
    proof = IndexedDerivative(size=size, index=k_)
    result = proof.prove(lhs, sp.exp(v[k_]))
    assert (result.status, result.scope) == (SymbolicStatus.PROVED, "general N")
    assert proof.prove(lhs, 2 * sp.exp(v[k_])).status == SymbolicStatus.FAILED


def test_for_sizes_lists_the_sizes_it_proved_and_stops_at_the_first_failure():
    from checkers.strategies import ForSizes

    size, i_ = sp.Symbol("N", integer=True, positive=True), sp.Symbol("i", integer=True, nonnegative=True)
    p_ = sp.IndexedBase("p", positive=True)
    total = sp.Sum(p_[i_], (i_, 0, size - 1))
    logs = sp.Sum(sp.log(p_[i_] ** 2), (i_, 0, size - 1))
    proof = ForSizes(sizes=({size: 2}, {size: 3}))
    result = proof.prove(logs, 2 * sp.Sum(sp.log(p_[i_]), (i_, 0, size - 1)))
    assert (result.status, result.scope) == (SymbolicStatus.PROVED, "(N = 2); (N = 3)")
    squares = proof.prove(total ** 2, sp.Sum(p_[i_] ** 2, (i_, 0, size - 1)))
    assert squares.status == SymbolicStatus.FAILED and "N = 2" in squares.detail


def test_an_inequality_is_proved_from_the_claims_own_gap_by_convexity():
    from checkers.strategies import nonnegative_by_convexity
    from checkers.symbolic import facts

    t = sp.Symbol("t", positive=True)
    proof = facts(derive=nonnegative_by_convexity(t, 1))
    assert proof.prove(sp.log(t), t - 1, "<=").status == SymbolicStatus.PROVED
    assert proof.prove(t - 1, sp.log(t), ">=").status == SymbolicStatus.PROVED
    for wrong in ((sp.log(t), (t - 1) / 2, "<="), (sp.log(t), t - 2, "<="), (sp.log(t), t - 1, ">=")):
        assert proof.prove(*wrong).status == SymbolicStatus.FAILED, wrong


def test_a_sum_is_nonnegative_only_when_its_own_gap_is_a_sum_of_nonnegative_terms():
    from checkers.strategies import Lemma, nonnegative_by_convexity, nonnegative_termwise, normalised_linearity
    from checkers.symbolic import facts, not_attempted

    t = sp.Symbol("t", positive=True)
    n_, i_ = sp.Symbol("n", integer=True, positive=True), sp.Symbol("i", integer=True, nonnegative=True)
    p_, q_ = sp.IndexedBase("p", positive=True), sp.IndexedBase("q", positive=True)
    simplex = normalised_linearity({sp.Sum(p_[i_], (i_, 0, n_ - 1)): 1, sp.Sum(q_[i_], (i_, 0, n_ - 1)): 1})
    lemma = Lemma("log t ≤ t − 1", sp.log(t), t - 1, facts(derive=nonnegative_by_convexity(t, 1)), "<=")
    kl = sp.Sum(p_[i_] * sp.log(p_[i_] / q_[i_]), (i_, 0, n_ - 1))

    def gibbs(lemma=lemma, weight=p_[i_], limits=((i_, 0, n_ - 1),)):
        return facts(derive=nonnegative_termwise(simplex, lemma, t, weight, q_[i_] / p_[i_], limits))

    assert gibbs().prove(kl, sp.S.Zero, ">=").status == SymbolicStatus.PROVED
    assert gibbs().prove(kl, sp.S.Zero, "<=").status == SymbolicStatus.FAILED  # the reversed inequality
    unweighted = sp.Sum(sp.log(p_[i_] / q_[i_]), (i_, 0, n_ - 1))
    assert gibbs().prove(unweighted, sp.S.Zero, ">=").status == SymbolicStatus.FAILED
    unproved = Lemma("log t ≤ t − 1", sp.log(t), t - 1, not_attempted("no proof"), "<=")
    assert gibbs(lemma=unproved).prove(kl, sp.S.Zero, ">=").status == SymbolicStatus.FAILED
    # Karr's convention: a sum running downwards (from 5 to 2) is minus the sum from 3 to 4, so nonnegative terms
    # do not make it nonnegative.
    terms = p_[i_] * (q_[i_] / p_[i_] - 1 - sp.log(q_[i_] / p_[i_]))
    upward, downward = sp.Sum(terms, (i_, 2, 5)), sp.Sum(terms, (i_, 5, 2))
    assert gibbs(limits=((i_, 2, 5),)).prove(upward, sp.S.Zero, ">=").status == SymbolicStatus.PROVED
    result = gibbs(limits=((i_, 5, 2),)).prove(downward, sp.S.Zero, ">=")
    assert result.status == SymbolicStatus.FAILED and "upwards" in result.detail


def test_case_parameters_must_be_fresh_continuous_and_unshared():
    c = sp.Symbol("c", nonnegative=True)
    x_, z_ = sp.symbols("x z", real=True)
    shared = product(le_total(a, b, c), le_total(x_, z_, c))  # a − b = x − z in every case: not a cover
    assert "share" in coverage_problem(shared)
    # the parameter c is also a variable of the claim: the cases would tie it to a − b
    result = CaseSplit(cases=le_total(a, b, c)).prove(sp.Abs(a - b) + c, sp.Max(a, b) - sp.Min(a, b) + c)
    assert result.status == SymbolicStatus.FAILED and "also occur in the claim" in result.detail
    s_ = sp.Symbol("s", nonnegative=True)
    jump = Cases((Split(y, (Case("y ≤ 0", y, -s_), Case("y ≥ 0 with a pole", y, s_ / (1 - s_)))),))
    assert "not continuous" in coverage_problem(jump)


STRATEGY_CLAIMS = [("kl_gaussian", "closed_form"), ("kl_gaussian", "quadratic_form_expectation"),
                   ("kaiming_variance", "closed_form"), ("kaiming_variance", "layer_variance"),
                   ("kaiming_variance", "init_variance"), ("tv_min", "pointwise"), ("tv_min", "discrete"),
                   ("hinge_gan", "any_discriminator"), ("hinge_gan", "lower_bound"), ("log_sum_exp", "softmax_gradient"),
                   ("mutual_information", "mi_entropy_y"), ("kl_nonnegative", "gibbs_discrete"),
                   ("kl_nonnegative", "gap_identity")]


@pytest.mark.parametrize("module, name", STRATEGY_CLAIMS, ids=[f"{m}.{c}" for m, c in STRATEGY_CLAIMS])
def test_each_strategy_proves_its_claim_and_not_the_claim_moved_by_a_free_delta(module, name):
    import importlib

    claim = getattr(importlib.import_module(f"proofs.{module}"), name)
    lhs, rhs = claim.expand_definitions(claim.lhs), claim.expand_definitions(claim.rhs)
    assert claim.symbolic.prove(lhs, rhs, claim.relation).status == SymbolicStatus.PROVED
    delta = sp.Symbol("delta", positive=True)
    moved = rhs - delta if claim.relation == "<=" else rhs + delta  # false for every delta > 0
    assert claim.symbolic.prove(lhs, moved, claim.relation).status != SymbolicStatus.PROVED
