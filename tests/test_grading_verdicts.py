r"""Verdicts: correct rewrites accepted, known mistakes rejected with their feedback, real counterexamples."""

import pytest
import torch

from checkers.evaluate import evaluate
from checkers.grading.catalog import get_problem, problems
from checkers.grading.grader import grade_expression, grade_in_process
from checkers.grading.instances import instances_for
from checkers.grading.parse import parse_answer


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def problem(pid):
    return get_problem(pid)


def grade(pid, text, **kw):
    problem(pid)
    kw.setdefault("symbolic", False)
    return grade_in_process(pid, text, **kw)


KL = r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)"


@pytest.mark.parametrize("answer", [
    KL,
    r"\frac12\left(\mathrm{tr}(\Sigma_0\Sigma_1^{-1}) + (\mu_0-\mu_1)^T\Sigma_1^{-1}(\mu_0-\mu_1) - d - \log\det\Sigma_0 + \log\det\Sigma_1\right)",
    r"\tfrac12\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + \tfrac12(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - \frac{d}{2} + \frac12\ln\frac{|\Sigma_1|}{|\Sigma_0|}",
    r"\frac{1}{2}\left[\operatorname{tr}\left(\Sigma_1^{-1}\Sigma_0\right) - d + (\mu_1-\mu_0)'\Sigma_1^{-1}(\mu_1-\mu_0) + \log\det(\Sigma_0^{-1}\Sigma_1)\right]",
    "1/2*(tr(inv(S1)*S0) + (mu1-mu0)'*inv(S1)*(mu1-mu0) - d + log(det(S1)/det(S0)))",
    "0.5 (tr(S0 S1^-1) + (mu0 - mu1)' S1^-1 (mu0 - mu1) - d - log(det(S0)/det(S1)))",
])
def test_kl_rewrites_are_correct(answer):
    result = grade("kl-gaussian", answer)
    assert result.verdict == "correct", result.message
    assert result.score == 1.0 and result.instances >= 100 and result.counterexample is None


@pytest.mark.parametrize("answer, mistake, words", [
    (KL.replace(r"\Sigma_1^{-1}\Sigma_0", r"\Sigma_0^{-1}\Sigma_1"), "trace-swapped", "the trace arguments are swapped"),
    (KL.replace(r"\frac{\det\Sigma_1}{\det\Sigma_0}", r"\frac{\det\Sigma_0}{\det\Sigma_1}"), "det-ratio-inverted",
     "upside down"),
    (KL.replace("- d", "- 1"), "minus-one", "correct only for d = 1"),
    (KL.replace(r"\frac{1}{2}", ""), "missing-half", "factor ½"),
    (KL.replace(r"^\top\Sigma_1^{-1}", r"^\top\Sigma_0^{-1}"), "quadratic-form-sigma0", "Σ₁⁻¹"),
    (KL.replace("- d", ""), "missing-minus-d", "−d term is missing"),
])
def test_kl_mistakes_are_named(answer, mistake, words):
    result = grade("kl-gaussian", answer)
    assert result.verdict == "incorrect" and result.score == 0.0
    assert result.feedback[0].id == mistake and words in result.message


def test_a_formula_right_only_for_n_1_is_incorrect():
    # (2π)^{-n²/2} equals (2π)^{-n/2} at n = 1 only; no named mistake covers it, the dimension sweep does.
    answer = r"(2\pi)^{-n^2/2}\det(\Sigma)^{-1/2}\exp\left(-\frac12 (x-b)^T\Sigma^{-1}(x-b)\right)"
    result = grade("gaussian-density", answer)
    assert result.verdict == "incorrect"
    assert result.feedback[0].id == "only-smallest-dimension" and "correct only for n = 1" in result.message
    assert result.counterexample["instance"]["n"] >= 2
    # The classic version of the mistake, the one-dimensional constant, has its own feedback.
    classic = grade("gaussian-density", r"\frac{1}{\sqrt{2\pi\det\Sigma}} e^{-\frac{1}{2}(x-b)^\top \Sigma^{-1}(x-b)}")
    assert classic.verdict == "incorrect" and classic.feedback[0].id == "one-dimensional-constant"


def test_gaussian_density_mistakes_and_the_student_hw6_missing_square_root():
    result = grade("gaussian-density", r"\frac{1}{(2\pi)^{n/2}\det\Sigma} e^{-\frac{1}{2}(x-b)^\top \Sigma^{-1}(x-b)}")
    assert result.verdict == "incorrect" and "without the square root" in result.message
    no_abs = grade("gaussian-density", r"\frac{1}{(2\pi)^{n/2}\det A}\exp(-\frac12\|A^{-1}(x-b)\|^2)")
    assert no_abs.verdict == "incorrect" and no_abs.feedback[0].id == "no-abs-det"
    with_abs = grade("gaussian-density", r"\frac{1}{(2\pi)^{n/2}|\det A|}\exp(-\frac12\|A^{-1}(x-b)\|^2)")
    assert with_abs.verdict == "correct"


def test_counterexample_is_real():
    p = problem("kl-gaussian")
    result = grade("kl-gaussian", KL.replace("- d", "- 1"))
    cx = result.counterexample
    inst = instances_for(p)
    group = inst.groups[cx["group"]]
    # The reported instance is the drawn one, and re-evaluating both formulas there gives the reported values.
    assert group.dims["d"] == cx["instance"]["d"] == 2
    values = {k: v[cx["index"]:cx["index"] + 1] for k, v in group.values.items()}
    assert torch.allclose(values["Sigma_0"][0], torch.tensor(cx["instance"][r"\Sigma_0"], dtype=torch.float64))
    student = evaluate(parse_answer(p, KL.replace("- d", "- 1")), values, group.dims)
    reference = evaluate(p.reference_expr, values, group.dims)
    assert float(student) == pytest.approx(cx["student"], rel=1e-12)
    assert float(reference) == pytest.approx(cx["reference"], rel=1e-12)
    assert abs(cx["student"] - cx["reference"]) == pytest.approx(0.5, rel=1e-9)  # (d − 1)/2 at d = 2
    assert cx["seed"] == p.seed


@pytest.mark.parametrize("suffix, kind, words", [
    (r" \cdot 3", "constant-factor", "3 times the reference"),
    (r" \cdot (-1)", "wrong-sign", "wrong sign"),
    (r" + \frac{1}{4}", "constant-offset", "reference + 1/4"),
    (r" + 2d - 1", "dimension-offset", "2·d − 1"),
])
def test_generic_diagnoses(suffix, kind, words):
    result = grade("kl-gaussian", f"({KL}){suffix}")
    assert result.verdict == "incorrect" and result.feedback[0].id == kind and words in result.message


def test_reference_itself_is_correct_and_identical_for_every_problem():
    for pid, p in problems().items():
        result = grade_expression(p, p.reference_expr, symbolic=True)
        assert result.verdict == "correct" and result.symbolic["status"] == "identical", pid


def test_verdict_does_not_rest_on_sympy():
    # sympy cannot show this rewrite equal (log-det difference, commuted trace); the numeric verdict stands.
    answer = r"\frac12\left(\mathrm{tr}(\Sigma_0\Sigma_1^{-1}) + (\mu_0-\mu_1)^T\Sigma_1^{-1}(\mu_0-\mu_1) - d - \log\det\Sigma_0 + \log\det\Sigma_1\right)"
    result = grade("kl-gaussian", answer, symbolic=True)
    assert result.verdict == "correct"
    assert result.symbolic["status"] != "proved" and "rests on the numeric check" in result.message


def test_symbolic_confirmation_when_sympy_can():
    result = grade("bn-fold-weight", r"\frac{\gamma W \sigma^2 + \gamma W\epsilon}{(\sigma^2+\epsilon)^{3/2}}", symbolic=True)
    assert result.verdict == "correct" and result.symbolic["status"] == "proved"


@pytest.mark.parametrize("answer, verdict", [
    (r"\frac{\gamma W}{\sqrt{\sigma^2+\epsilon}}", "correct"),
    (r"\gamma w/\sqrt{\sigma_B^2+\varepsilon}", "correct"),
    (r"\frac{\gamma}{\sigma}W\sqrt{\frac{\sigma^2}{\sigma^2+\epsilon}}", "correct"),
    (r"\frac{\gamma W}{\sigma^2+\epsilon}", "incorrect"),
    (r"\frac{\gamma W}{\sigma}", "incorrect"),
])
def test_bn_fold_weight(answer, verdict):
    assert grade("bn-fold-weight", answer).verdict == verdict


def test_bn_fold_bias():
    assert grade("bn-fold-bias", r"\beta + \gamma\frac{b-\mu}{\sqrt{\sigma^2+\epsilon}}").verdict == "correct"
    assert grade("bn-fold-bias", r"\beta - \frac{\gamma(\mu - b)}{\sqrt{\sigma^2 + \epsilon}}").verdict == "correct"
    wrong = grade("bn-fold-bias", r"\gamma\frac{b-\mu}{\sqrt{\sigma^2+\epsilon}}")
    assert wrong.verdict == "incorrect" and wrong.feedback[0].id == "no-beta"


def test_kaiming_variance():
    ok = grade("kaiming-variance", r"\frac{1}{3^L} + \sum_{k=0}^{L-1} \frac{1}{3^{L-k} n_k}")
    assert ok.verdict == "correct", ok.message
    shifted = grade("kaiming-variance", r"3^{-L} + \sum_{\ell=1}^{L} \frac{1}{3^{L-\ell+1} n_{\ell}}")
    assert shifted.verdict == "incorrect" and shifted.feedback[0].id == "n-ell"
    only_one = grade("kaiming-variance", r"\frac{1}{3} + \frac{1}{3 n_0}")
    assert only_one.verdict == "incorrect" and "correct only for L = 1" in only_one.message


def test_cancelling_large_terms_are_judged_by_the_rounding_bound():
    # Mathematically equal, but evaluating it loses ~1e-6 to cancellation of 1e10-sized terms.
    big = r"\frac{\gamma W + 10^{10}\gamma\sqrt{\sigma^2+\epsilon}}{\sqrt{\sigma^2+\epsilon}} - 10^{10}\gamma"
    assert grade("bn-fold-weight", big).verdict == "correct"
    wrong = r"\frac{\gamma W + 10^{10}\gamma\sqrt{\sigma^2+\epsilon}}{\sqrt{\sigma^2+\epsilon}} - 10^{10}\gamma + 10^{-3}"
    assert grade("bn-fold-weight", wrong).verdict == "incorrect"


def test_undefined_answers_are_incorrect_with_a_reason():
    result = grade("kl-gaussian", KL + r" + \operatorname{tr}((\Sigma_0 - \Sigma_0)^{-1})")
    assert result.verdict == "incorrect"


def test_instances_cover_the_declared_domain():
    p = problem("gaussian-density")
    inst = instances_for(p)
    assert sorted({g.dims["n"] for g in inst.groups}) == [1, 2, 3, 4, 5, 6, 7]  # declared 1..5, and two past it
    dets = torch.cat([torch.linalg.det(g.values["A"]) for g in inst.groups])
    assert bool((dets < 0).any()) and bool((dets > 0).any())  # both determinant signs
    assert inst.count >= 100


@pytest.mark.parametrize("answer, verdict, mistake", [
    (r"\frac{e^{x_k}}{\sum_{j=1}^{n} e^{x_j}}", "correct", None),
    (r"\frac{\exp(x_k)}{\sum_j \exp(x_j)}", "correct", None),  # a bare \sum_j runs over 1..n
    (r"\exp\left(x_k - \log\sum_{i=1}^n e^{x_i}\right)", "correct", None),
    (r"e^{x_k}", "incorrect", "unnormalised"),
    (r"\frac{1}{1+e^{-x_k}}", "incorrect", "sigmoid"),
    (r"\frac{e^{x_1}}{\sum_{j=1}^{n} e^{x_j}}", "incorrect", "wrong-component"),
    (r"\frac{e^{x_k}}{\sum_{j=0}^{n} e^{x_j}}", "incorrect", "undefined"),  # x_0 does not exist
    (r"\frac{e^{x_k}}{\sum_{j=1}^{n+1} e^{x_j}}", "invalid", None),
])
def test_softmax_gradient(answer, verdict, mistake):
    result = grade("softmax-gradient", answer)
    assert result.verdict == verdict, result.message
    if mistake:
        assert result.feedback[0].id == mistake


# -- terms that vanish on the declared dimensions (issue 19, item 11) ------------------------------------------------
@pytest.mark.parametrize("pid, answer", [
    ("rnn-depth", r"T + 1 + \mathbb{1}[T > 8]"),
    ("kl-gaussian", KL + "+ (d-1)(d-2)(d-3)(d-4)(d-5)"),
])
def test_a_term_vanishing_on_the_declared_dimensions_is_caught_past_them(pid, answer):
    # numerically, without sympy: the instances go past the declared range (d = 6, 7; T = 9..12)
    result = grade(pid, answer)
    assert result.verdict == "incorrect", result.message
    assert result.feedback[0].id == "only-up-to-a-dimension", result.message
    name = "T" if pid == "rnn-depth" else "d"
    assert result.counterexample["instance"][name] == (9 if pid == "rnn-depth" else 6)


@pytest.mark.parametrize("pid, answer, where", [
    ("rnn-depth", r"T + 1 + \mathbb{1}[T > 100]", {"T": 101}),
    ("rnn-depth", r"T + 1 + \mathbb{1}_{T > 10^{12}}", {"T": 8 + 10 ** 12}),
    ("kl-gaussian", KL + "+ (d-1)(d-2)(d-3)(d-4)(d-5)(d-6)(d-7)", {"d": 8}),
])
def test_sympy_reducing_the_difference_to_a_nonzero_term_in_the_dimensions_makes_it_incorrect(pid, answer, where):
    assert grade(pid, answer).verdict == "correct"  # past every dimension the numbers reach: only sympy sees it
    result = grade(pid, answer, symbolic=True, limit=10.0)
    assert result.verdict == "incorrect", result.message
    assert result.symbolic["status"] == "disproved" and result.symbolic["where"] == where, result.symbolic
    assert result.feedback[0].id == "nonzero-difference" and "not 0" in result.message


@pytest.mark.parametrize("pid, answer", [
    ("rnn-depth", "T + 1"),
    ("rnn-depth", r"T + 1 + \mathbb{1}[T < 1]"),  # vanishes at every dimension: still the reference
    ("kl-gaussian", KL + r" + \sin(\pi d)"),  # exactly 0 at every whole d
    ("kl-gaussian", KL),
])
def test_differences_that_vanish_on_every_dimension_stay_correct(pid, answer):
    result = grade(pid, answer, symbolic=True, limit=10.0)
    assert result.verdict == "correct", result.message


# -- readings TeX does not support are refused, not guessed (issue 19, item 13) ---------------------------------------
def test_a_prime_on_a_scalar_answer_is_invalid_not_dropped():
    import sympy as sp

    reference = sp.latex(problem("vae-reconstruction").reference_expr)
    assert grade("vae-reconstruction", reference).verdict == "correct"
    result = grade("vae-reconstruction", reference + "'")
    assert result.verdict == "invalid" and "prime" in result.message, result.message
    # on vectors and matrices a prime is still the transpose
    assert grade("kl-gaussian", KL.replace(r"(\mu_1-\mu_0)^\top", r"(\mu_1-\mu_0)'")).verdict == "correct"


@pytest.mark.parametrize("answer, verdict", [
    (r"\exp 0 \max_j x_j", "correct"),  # exp(0)·max_j x_j: the function stops at the next operator
    (r"\cos 0 \max_j x_j", "correct"),
    (r"\max_j x_j \cos 0", "correct"),
    (r"\frac{d}{dn} \max_j x_j", "invalid"),  # a derivative, not (d/(d n))·max
])
def test_a_function_without_brackets_stops_at_the_next_function(answer, verdict):
    result = grade("lse-limit", answer)
    assert result.verdict == verdict, result.message
