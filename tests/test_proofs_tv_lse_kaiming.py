"""Behaviour of the tv-min, hinge-gan, log-sum-exp and kaiming-variance proofs beyond their own claims.

Overflow thresholds of the naive log-sum-exp, the custom symbolic strategies (sound and necessary),
the torch-source reading of the default init (and that a changed init fails), and the consistency of
mutants that carry both a sympy formula and a torch computation.
"""

import math

import pytest
import sympy as sp
import torch

from checkers import Derivation
from checkers.verify import ClaimChecker
from proofs import hinge_gan, kaiming_variance, log_sum_exp, tv_min
from test_torch_source import _he_uniform_reset


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_naive_log_sum_exp_overflows_exactly_past_log_of_the_largest_finite_value(dtype):
    threshold = math.log(torch.finfo(dtype).max)  # 11.09, 88.72, 88.72, 709.78
    x = torch.tensor([[1.0, 0.0]], dtype=dtype)
    below = torch.tensor([threshold * 0.98], dtype=dtype)
    above = torch.tensor([threshold * 1.02], dtype=dtype)
    assert torch.isfinite(log_sum_exp.naive_nu(x, below)).all()
    assert torch.isinf(log_sum_exp.naive_nu(x, above)).all()
    for beta in (above, above * 100):
        exact = log_sum_exp.stable_nu(x.double(), beta.double())
        got = log_sum_exp.stable_nu(x, beta).double()
        assert torch.isfinite(got).all()
        assert torch.allclose(got, exact, rtol=4 * torch.finfo(dtype).eps, atol=0)


def test_plain_simplify_cannot_prove_the_pointwise_tv_identity_but_the_case_split_can():
    a, b = tv_min.a, tv_min.b
    lhs, rhs = tv_min.pointwise.lhs, tv_min.pointwise.rhs
    assert sp.simplify(lhs - rhs) != 0
    assert tv_min.pointwise.symbolic.prove(lhs, rhs).status == "proved"
    wrong = sp.Rational(1, 2) * (a + b) - sp.Max(a, b)
    assert tv_min.pointwise.symbolic.prove(lhs, wrong).status == "failed"


def test_a_case_split_missing_a_case_is_not_a_proof_of_a_false_inequality():
    a, b = tv_min.a, tv_min.b
    (split,) = tv_min.ORDER_CASES.splits
    only_one_side = tv_min.CaseSplit(cases=type(tv_min.ORDER_CASES)((type(split)(split.expr, split.cases[1:]),)))
    # a - b >= 0 holds in the one case left (a >= b), but that case does not cover the domain:
    result = only_one_side.prove(a, b, ">=")
    assert result.status == "failed" and "does not cover" in result.detail
    both = tv_min.CaseSplit(cases=tv_min.ORDER_CASES)
    assert both.prove(a, b, ">=").status == "failed"


def test_termwise_needs_the_normalisation_of_both_vectors():
    claim = tv_min.discrete
    without = tv_min.Termwise(lemmas=tv_min.DISCRETE_TERMWISE.lemmas)
    assert without.prove(claim.lhs, claim.rhs).status == "failed"
    half = tv_min.Termwise(lemmas=tv_min.DISCRETE_TERMWISE.lemmas,
                           normalisation={sp.Sum(tv_min.p[tv_min.i], (tv_min.i, 0, tv_min.n - 1)): 1})
    assert half.prove(claim.lhs, claim.rhs).status == "failed"
    assert tv_min.DISCRETE_TERMWISE.prove(claim.lhs, claim.rhs).status == "proved"


def test_the_hinge_minimum_is_at_plus_one_when_a_exceeds_b():
    h = hinge_gan.H
    a, b, y = hinge_gan.a, hinge_gan.b, hinge_gan.y
    values = {a: 3, b: 1}
    at = {point: h.subs(values).subs(y, point) for point in (-1, 0, 1)}
    assert at[1] == 2 == 2 * min(3, 1) and at[-1] == 6 and at[0] == 4


def _samples(module, claim):
    derivation = module.DERIVATIONS[0]
    return ClaimChecker(derivation, claim, seed=0).samples


def test_mutants_with_a_formula_and_a_torch_computation_agree():
    # hinge-gan's grid mutants are rejected numerically by torch code and symbolically by their formula:
    # both must be the same wrong statement. (log-sum-exp's formulas are 1-based indexed sums and a
    # symbolic shift M, which have no batched evaluation; their rejection is tested separately.)
    checked = 0
    for claim in hinge_gan.DERIVATIONS[0].claims:
        for mutant in claim.mutants:
            if mutant.rhs is None or mutant.numeric is None:
                continue
            sample = _samples(hinge_gan, claim)[0]
            torch_value = mutant.numeric(sample)[1]
            formula_value = sample.evaluate(mutant.rhs)
            assert torch.allclose(torch_value.reshape(formula_value.shape), formula_value, rtol=1e-9, atol=1e-12), \
                (claim.id, mutant.id)
            checked += 1
    assert checked > 0


def test_log_sum_exp_mutant_formulas_are_rejected_by_the_claims_strategies():
    for claim in (log_sum_exp.softmax_gradient, log_sum_exp.gradient_beta, log_sum_exp.stable_evaluation):
        assert claim.symbolic.prove(claim.lhs, claim.rhs).status == "proved"
        for mutant in claim.mutants:
            if mutant.rhs is not None:
                assert claim.symbolic.prove(claim.lhs, mutant.rhs).status == "failed", mutant.id


def test_the_default_init_is_read_from_the_installed_source():
    found = kaiming_variance.read_default_init()
    fan_in = kaiming_variance.fan_in
    assert found.a == sp.sqrt(5)
    assert sp.simplify(found.weight_bound - 1 / sp.sqrt(fan_in)) == 0
    assert sp.simplify(found.bias_bound - 1 / sp.sqrt(fan_in)) == 0
    assert sp.simplify(found.variance(found.weight_bound) - 1 / (3 * fan_in)) == 0


def test_a_changed_default_init_fails_both_the_proof_and_the_monte_carlo(monkeypatch):
    derivation = kaiming_variance.DERIVATIONS[0]
    claim = kaiming_variance.init_variance
    before = ClaimChecker(derivation, claim, seed=0).run(["cpu"], [torch.float64])
    assert before.passed
    monkeypatch.setattr(torch.nn.Linear, "reset_parameters", _he_uniform_reset)
    after = ClaimChecker(derivation, claim, seed=0).run(["cpu"], [torch.float64])
    assert after.symbolic.status == "failed" and "2" in after.symbolic.detail
    assert not after.numeric[0].passed
    assert not after.passed


def test_closed_form_recursion_and_unrolled_form_agree_on_a_hand_computed_network():
    # n_0 = 2, n_1 = 5: v_1 = 1/3 + 1/6 = 1/2, v_2 = v_1/3 + 1/15 = 7/30.
    L, n = kaiming_variance.L, kaiming_variance.n
    widths = {n[0]: 2, n[1]: 5}
    for form in (kaiming_variance.VARIANCE_CLOSED_FORM, kaiming_variance.VARIANCE_UNROLLED):
        assert form.subs(L, 2).doit().subs(widths) == sp.Rational(7, 30)
    from checkers.model import Sample

    sample = Sample(values={"n": torch.tensor([[2.0, 5.0]], dtype=torch.float64)}, dims={"L": 2}, seed=0, size=1)
    assert abs(float(kaiming_variance.recursion(sample)[0]) - 7 / 30) < 1e-15


def test_the_induction_rejects_a_closed_form_with_a_wrong_step():
    right = kaiming_variance.closed_form
    strategy = right.symbolic  # the recursion is read from layer-variance's right-hand side
    assert strategy.prove(right.lhs, right.rhs).status == "proved"
    for mutant in right.mutants:
        assert strategy.prove(right.lhs, mutant.rhs).status == "failed", mutant.id


def test_width_kinds_draw_unequal_integer_widths_in_range():
    gen = torch.Generator().manual_seed(1)
    widths = kaiming_variance.Widths("L", 1, 6).draw(200, {"L": 4}, gen)
    assert widths.shape == (200, 4)
    assert torch.equal(widths, widths.round()) and widths.min() >= 1 and widths.max() <= 6
    assert (widths.amax(-1) != widths.amin(-1)).float().mean() > 0.9


def test_layer_copies_are_default_initialised_per_fan_in():
    fan_in = torch.tensor([1.0, 4.0, 4.0, 9.0])
    fan_out = torch.tensor([3.0, 2.0, 2.0, 1.0])
    seen = 0
    for idx, weight, bias in kaiming_variance._layer_copies(fan_in, fan_out, 4096, seed=0):
        fi = weight.shape[-1]
        assert torch.all(fan_in[idx] == fi)
        bound = 1 / math.sqrt(fi)
        assert weight.abs().max() <= bound and bias.abs().max() <= bound
        assert abs(float(weight.var()) - bound ** 2 / 3) < 5 * bound ** 2 / 3 * math.sqrt(0.8 / weight.numel())
        seen += len(idx)
    assert seen == 4


def test_figures_draw():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for module in (tv_min, hinge_gan, log_sum_exp, kaiming_variance):
        derivation: Derivation = module.DERIVATIONS[0]
        for figure in derivation.figures:
            fig, ax = plt.subplots()
            figure.draw(ax)
            fig.canvas.draw()  # renders every label (mathtext errors surface here)
            assert ax.lines or ax.collections, figure.id
            plt.close(fig)
