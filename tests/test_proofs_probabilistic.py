"""Tests of the machinery the probabilistic and backprop proof modules rely on, independent of their claims."""

import sympy as sp
import torch

from checkers import Claim, Derivation, Mutant, Real, Variable, not_attempted
from checkers.evaluate import evaluate
from checkers.verify import ClaimChecker


def test_sympy_flattened_double_sums_bind_both_indices():
    i, j = sp.symbols("i j", integer=True, nonnegative=True)
    a = sp.IndexedBase("a")
    n, m = sp.symbols("n m", integer=True, positive=True)
    expr = sp.Sum(sp.Sum(a[i * m + j] * (j + 1), (j, 0, m - 1)), (i, 0, n - 1))
    assert len(expr.limits) == 2  # sympy flattens the nesting
    values = torch.arange(6, dtype=torch.float64).reshape(1, 6)
    got = evaluate(expr, {"a": values}, {"n": 2, "m": 3})
    expected = sum(float(values[0, r * 3 + c]) * (c + 1) for r in range(2) for c in range(3))
    assert float(got) == expected


def test_an_inner_sum_may_reuse_the_outer_index():
    k = sp.Symbol("k", integer=True, nonnegative=True)
    q = sp.IndexedBase("q")
    n = sp.Symbol("n", integer=True, positive=True)
    total = sp.Sum(q[k], (k, 0, n - 1))
    expr = sp.Sum(q[k] * total + k, (k, 0, n - 1))  # the inner k shadows the outer one
    values = torch.tensor([[1.0, 2.0, 4.0]], dtype=torch.float64)
    assert float(evaluate(expr, {"q": values}, {"n": 3})) == 7.0 * 7.0 + 0 + 1 + 2


def test_a_mutant_that_evaluates_to_nan_is_rejected():
    u = sp.Symbol("u", real=True)
    claim = Claim(id="c", statement="s", lhs=u, rhs=u, variables=(Variable("u", Real(-1, 1)),),
                  symbolic=not_attempted("test"), dtypes=(torch.float64,),
                  mutants=(Mutant("nan-where-negative", "equal to u, except NaN where u < 0",
                                  numeric=lambda s: (s["u"], torch.where(s["u"] < 0, torch.log(s["u"]), s["u"]))),))
    derivation = Derivation(id="toy", title="toy", source="none P0", claims=(claim,))
    result = ClaimChecker(derivation, claim, seed=0).run(["cpu"])
    assert result.mutants[0].caught, result.mutants[0].evidence


def test_graph_depth_counts_the_longest_chain_of_operations():
    from proofs.rnn_parallel_time import graph_depth, graph_depth_kahn

    x = torch.randn(3, requires_grad=True)
    chain = x.mul(2).exp().sin()  # three operations in a row
    diamond = chain + x.cos()  # a short branch beside the long one: the long one counts
    assert graph_depth(chain.grad_fn) == graph_depth_kahn(chain.grad_fn) == 3
    assert graph_depth(diamond.grad_fn) == graph_depth_kahn(diamond.grad_fn) == 4
    h = x
    for _ in range(5):
        h = torch.tanh(h * 1.5)
    assert graph_depth(h.grad_fn) == 10


def test_gauss_hermite_rule_integrates_gaussian_moments_exactly():
    from proofs.vae_bernoulli import gauss_hermite

    nodes, weights = gauss_hermite(2, nodes=10)
    assert abs(float(weights.sum()) - 1) < 1e-13
    moment = (weights * nodes[:, 0] ** 2 * nodes[:, 1] ** 4).sum()  # E[ε₁²] E[ε₂⁴] = 1 · 3
    assert abs(float(moment) - 3) < 1e-12
    assert abs(float((weights * nodes[:, 0] ** 3).sum())) < 1e-13
