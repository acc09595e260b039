"""hw6-2021 and hw7-2024 solutions: every sub-question has its answer, lettered as the problem set letters it."""

import pytest
import sympy as sp
import torch

from checkers.reporting.statements import render_statement
from proofs import (alexnet_ops, bn_fold, conv1d_backprop, fc_as_conv, gaussian_change_of_variables, kaiming_variance,
                    kl_additivity, kl_gaussian, kl_nonnegative, log_sum_exp)

LETTERS = {  # derivation id -> the sub-question labels of its problem, as the seed text letters them
    "bn-fold": ("",), "kaiming-variance": ("",), "gaussian-change-of-variables": ("",), "kl-nonnegative": ("(a)",),
    "kl-additivity": ("(b)",), "kl-gaussian": ("",), "log-sum-exp": ("(a)", "(b)", "(c)"), "alexnet-ops": ("",),
    "conv1d-backprop": ("(a)", "(b)"), "fc-as-conv": ("(a)", "(b)"),
}
MODULES = (alexnet_ops, bn_fold, conv1d_backprop, fc_as_conv, gaussian_change_of_variables, kaiming_variance,
           kl_additivity, kl_gaussian, kl_nonnegative, log_sum_exp)
DERIVATIONS = {d.id: d for m in MODULES for d in m.DERIVATIONS}


def test_every_problem_has_its_sub_questions_in_order():
    assert set(DERIVATIONS) == set(LETTERS)
    for derivation_id, labels in LETTERS.items():
        assert tuple(p.label for p in DERIVATIONS[derivation_id].parts) == labels, derivation_id


@pytest.mark.parametrize("derivation_id", sorted(LETTERS))
def test_every_claim_is_evidence_for_some_answer(derivation_id):
    derivation = DERIVATIONS[derivation_id]
    cited = {c for part in derivation.parts for c in part.claims}
    assert cited == {c.id for c in derivation.claims}


@pytest.mark.parametrize("derivation_id", sorted(LETTERS))
def test_answer_prose_is_in_the_supported_latex(derivation_id):
    for part in DERIVATIONS[derivation_id].parts:
        answer = part.answer
        for source in (part.question, answer.text, answer.scope, *answer.algorithm):
            if source:
                assert not render_statement(source).problems, (part.label, source[:80])
                assert "_qf" not in source and "CONV_ADDS" not in source


def test_formula_answers_are_the_checked_objects():
    formulas = [(d, p.answer) for d in DERIVATIONS.values() for p in d.parts if p.answer.formula is not None]
    assert len(formulas) >= 5
    for derivation, answer in formulas:
        sides = [s for c in derivation.claims for s in (c.lhs, c.rhs) if s is not None]
        assert any(answer.formula is s or answer.formula == s for s in sides), derivation.id


def test_answers_of_the_shape_the_question_asks_for():
    def answer(derivation_id, label=""):
        (part,) = [p for p in DERIVATIONS[derivation_id].parts if p.label == label]
        return part.answer
    assert answer("bn-fold").code is bn_fold.remove_batch_norm
    assert answer("fc-as-conv", "(a)").code is fc_as_conv.Net2
    assert answer("fc-as-conv", "(b)").code is fc_as_conv.net1_on_windows
    assert len(answer("conv1d-backprop", "(b)").algorithm) >= 4
    assert answer("kl-nonnegative", "(a)").relation == ">="
    assert "every" in answer("kl-additivity", "(b)").text
    for derivation_id, label in (("kl-gaussian", ""), ("kaiming-variance", ""), ("fc-as-conv", "(a)"),
                                 ("conv1d-backprop", "(a)"), ("kl-nonnegative", "(a)"), ("kl-additivity", "(b)")):
        assert answer(derivation_id, label).scope, (derivation_id, label)  # checked only in stated cases: said


def test_remove_batch_norm_makes_small_net_test_compute_small_net_train():
    net = bn_fold.trained_small_net(3)
    test = bn_fold.remove_batch_norm(net, bn_fold.SmallNetTest().to(torch.float64))
    images = bn_fold.Images().draw(16, {}, torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(test(images), net(images), rtol=1e-10, atol=1e-10)
        plain_copy = bn_fold.SmallNetTest().to(torch.float64)
        plain_copy.load_state_dict({k: v for k, v in net.state_dict().items() if k in plain_copy.state_dict()},
                                   strict=False)
        assert not torch.allclose(plain_copy(images), net(images))  # the check can fail: copying is not enough


def test_net2_and_the_window_loop_compute_net1():
    net1 = fc_as_conv.random_net1(5)
    net2 = fc_as_conv.net2_from(net1)
    gen = torch.Generator().manual_seed(0)
    x32 = torch.randn(3, 3, 32, 32, generator=gen, dtype=torch.float64)
    x = torch.randn(2, 3, 33, 35, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(net2(x32).reshape(3, -1), net1(x32))
        windows = fc_as_conv.net1_on_windows(net1, x)
        torch.testing.assert_close(windows, net2(x))
        shifted = fc_as_conv.net1_on_windows(net1, x.roll(-1, dims=-1))
        assert not torch.allclose(shifted, net2(x))


def test_d_dimensional_kl_statements_are_proved_for_every_d():
    from checkers.strategies import proved
    assert proved(kl_nonnegative.DENSITIES_SPACE, kl_nonnegative.KL_SPACE, kl_nonnegative.GAP_SPACE) == sp.true
    assert proved(kl_additivity.STEP_DENSITIES, kl_additivity.STEP_JOINT, kl_additivity.STEP_SUM) == sp.true
    assert proved(kl_additivity.STEP_DENSITIES, kl_additivity.STEP_JOINT, 2 * kl_additivity.STEP_SUM) != sp.true
