"""Symbolic strategies: they prove true identities, refuse false ones, and say honestly what happened."""

import sympy as sp

from checkers.notation import quadratic_form
import pytest

from checkers.symbolic import (SymbolicResult, SymbolicStatus, explicit_entries, facts, for_dimensions, identity,
                               not_attempted)

n = sp.Symbol("n", integer=True, positive=True)
A = sp.MatrixSymbol("A", n, n)
v = sp.MatrixSymbol("v", n, 1)


def test_identity_proves_in_general():
    result = identity().prove(sp.Determinant(A * A.T), sp.Determinant(A) ** 2)
    assert (result.status, result.scope) == ("proved", "general")


def test_identity_rejects_a_wrong_variant():
    assert identity().prove(sp.Determinant(A * A.T), sp.Determinant(A)).status == "failed"
    assert identity().prove((A * A.T).I, A.I * A.T.I).status == "failed"


def test_quadratic_forms_through_inverse_of_gram_matrix():
    result = identity().prove(quadratic_form(A.I * v, sp.Identity(n)), quadratic_form(v, (A * A.T).I))
    assert result.status == "proved"


def test_log_quotient_needs_positivity():
    a, b = sp.symbols("a b", positive=True)
    x, y = sp.symbols("x y")
    assert identity().prove(sp.log(a / b), sp.log(a) - sp.log(b)).status == "proved"
    # Without positivity the rule is false (x = y = -1 aside, branch cuts): sympy must not claim it.
    assert identity().prove(sp.log(x / y), sp.log(x) - sp.log(y)).status == "failed"


def test_for_dimensions_records_its_scope_and_where_it_stopped():
    ok = for_dimensions(n, (1, 2), explicit_entries(A)).prove(sp.Determinant(A.T), sp.Determinant(A))
    assert ok.status == "proved" and ok.scope == "n ∈ {1, 2}"
    wrong = for_dimensions(n, (1, 2, 3), explicit_entries(A)).prove(sp.Trace(A * A), sp.Trace(A) ** 2)
    assert wrong.status == "failed" and "n = 2" in wrong.detail and "{1}" in wrong.detail


def test_facts_alone_only_support_the_claim_and_fail_on_the_first_unestablished_fact():
    t = sp.Symbol("t", positive=True)
    result = facts(("f(1) = 0", lambda: (t - 1 - sp.log(t)).subs(t, 1)),
                   ("f'' > 0", lambda: sp.diff(t - 1 - sp.log(t), t, 2) > 0)).prove(None, None, "<=")
    assert result.status == SymbolicStatus.SUPPORTED and result.status == "supported by lemmas" and result.ok
    assert "f(1) = 0" in result.detail and result.lemmas == ("f(1) = 0", "f'' > 0")
    bad = facts(("t > 1", lambda: t > 1)).prove(None, None, "<=")
    assert bad.status == "failed" and "t > 1" in bad.detail and bad.lemmas == ()


def test_facts_prove_the_claim_only_by_deriving_its_own_formula():
    a, b = sp.symbols("a b", positive=True)
    lemma = ("log(ab) = log a + log b", lambda: sp.expand_log(sp.log(a * b)) - sp.log(a) - sp.log(b))
    derive = lambda lhs, rhs, relation: sp.expand_log(lhs) - rhs  # noqa: E731 - the claim's own difference, lemma applied
    strategy = facts(lemma, derive=derive, derivation="expand the log of the product")
    ok = strategy.prove(sp.log(a * b * b), sp.log(a) + 2 * sp.log(b))
    assert ok.status == SymbolicStatus.PROVED and "expand the log" in ok.detail
    assert ok.lemmas == ("log(ab) = log a + log b",)
    wrong = strategy.prove(sp.log(a * b * b), sp.log(a) + sp.log(b) * sp.Rational(21, 10))
    assert wrong.status == "failed" and "does not follow" in wrong.detail


def test_statuses_are_an_enum_that_reads_and_serialises_as_its_text():
    import json

    assert [s.value for s in SymbolicStatus] == ["proved", "supported by lemmas", "not attempted", "failed"]
    result = SymbolicResult("proved", "general")
    assert result.status is SymbolicStatus.PROVED and f"{result.status}" == "proved"
    assert json.dumps({"status": result.status}) == '{"status": "proved"}'
    with pytest.raises(ValueError):
        SymbolicResult("probably proved")


def test_time_limit_turns_into_failed_not_proved():
    slow = facts(("busy", lambda: [sp.factorint(2**199 - 1) for _ in range(100)] and sp.S.Zero), time_limit=0.2)
    result = slow.prove(None, None, "=")
    assert result.status == "failed" and "limit" in result.detail


def test_not_attempted_keeps_the_reason():
    result = not_attempted("integral over R^n").prove(None, None)
    assert result.status == "not attempted" and result.detail == "integral over R^n" and result.ok


def test_nested_time_limits_keep_the_outer_one_armed():
    import time

    from checkers.errors import SymbolicTimeout
    from checkers.limits import time_limit

    with pytest.raises(SymbolicTimeout, match="outer"):
        with time_limit(0.3, "outer"):
            with time_limit(5, "inner"):
                pass
            time.sleep(1)  # the outer limit must still fire after the inner block ended
