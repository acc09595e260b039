r"""The student-formula grammar: every spelling the issue lists, built into the right sympy objects; clear errors."""

import pytest
import sympy as sp

from checkers.errors import StudentInputError
from checkers.grading.catalog import get_problem
from checkers.grading.grader import grade_in_process
from checkers.grading.parse import parse_answer
from checkers.notation import Scalar


def problem(pid):
    p = get_problem(pid)
    if not p.available():
        pytest.fail(f"{p.module}, the reference of {p.id}, is missing")
    return p


def read(pid, text):
    return parse_answer(problem(pid), text)


def same_value(pid, a, b):
    """Both spellings grade to the same numbers: b, graded against a, ... via the numeric comparison."""
    from checkers.grading.equivalence import compare, evaluate_on
    from checkers.grading.instances import instances_for

    p = problem(pid)
    ea, eb = read(pid, a), read(pid, b)
    inst = instances_for(p)
    return compare(ea, evaluate_on(inst.groups, ea), eb, evaluate_on(inst.groups, eb), inst).passed


G = "gaussian-density"
K = "kl-gaussian"


@pytest.mark.parametrize("variant, plain", [
    (r"\frac{1}{2}x^Tx", r"1/2 x^T x"),
    (r"\tfrac{1}{2}x^Tx", r"1/2 x^T x"),
    (r"\dfrac12 x^Tx", r"1/2 x^T x"),
    (r"\frac12 x^\top x", r"0.5*x'*x"),
    (r"\sqrt{n}", r"n^(1/2)"),
    (r"\sqrt[3]{n}", r"n**(1/3)"),
    (r"x^{\top}\Sigma^{-1}x", r"x'*inv(Sigma)*x"),
    (r"x^{T} \Sigma^{-1} x", r"x' S^-1 x"),
    (r"x'\Sigma^{-1}x", r"transpose"),
    (r"\det\Sigma", r"det(S)"),
    (r"\det(\Sigma)", r"det(S)"),
    (r"\det\left(\Sigma\right)", r"det(S)"),
    (r"|\Sigma|", r"det(S)"),
    (r"\left|\Sigma\right|", r"det(S)"),
    (r"\|x-b\|", r"sqrt((x-b)'(x-b))"),
    (r"\|x-b\|^2", r"(x-b)'(x-b)"),
    (r"\lVert x-b\rVert_2^2", r"(x-b)'(x-b)"),
    (r"\operatorname{tr}(\Sigma)", r"tr(Sigma)"),
    (r"\mathrm{tr}\,\Sigma", r"tr(Sigma)"),
    (r"\text{tr}(\Sigma)", r"trace(Sigma)"),
    (r"\mathrm{Tr}\left[\Sigma\right]", r"Tr(Sigma)"),
    (r"\log\det\Sigma", r"log(det(Sigma))"),
    (r"\ln|\Sigma|", r"log(det(Sigma))"),
    (r"\exp(-x^Tx)", r"e^(-x'x)"),
    (r"e^{-x^T x}", r"exp(-x'*x)"),
    (r"\exp\{-\tfrac12 x^\top x\}", r"exp(-x'*x/2)"),
    (r"\exp\left\{-\frac{1}{2}x^Tx\right\}", r"exp(-x'*x/2)"),
    (r"\left(2\pi\right)^{-n/2}", r"(2*pi)^(-n/2)"),
    (r"\left[2\pi\right]^{-\frac{n}{2}}", r"(2*pi)^(-n/2)"),
    (r"2\pi \cdot n", r"2*pi*n"),
    (r"2 \times \pi\, n", r"2*pi*n"),
    (r"\pi n", r"pi*n"),
    (r"A A^T", r"Sigma"),
    (r"A^{-T}A^{-1}", r"inv(Sigma)"),
    (r"(A^{-1})^\top A^{-1}", r"inv(Sigma)"),
    (r"\det(A)^2", r"det(Sigma)"),
    (r"{\det A}^{2}", r"det(Sigma)"),
])
def test_gaussian_spellings_mean_the_same(variant, plain):
    if plain == "transpose":
        assert read(G, variant) == read(G, r"x^T\Sigma^{-1}x")
        return
    assert same_value(G, variant, plain), (variant, plain)


@pytest.mark.parametrize("variant, plain", [
    (r"\mu_0^T\mu_1", r"mu0'*mu1"),
    (r"\mu_{0}^{T}\mu_{1}", r"mu_0' mu_1"),
    (r"\mu_0 \cdot \mu_1", r"mu0'*mu1"),  # \cdot between two vectors is their dot product
    (r"\Sigma_{1}^{-1}", r"inv(S1)"),
    (r"\Sigma_1^{-1}\Sigma_0", r"S1^-1 S0"),
    (r"\operatorname{tr}\Sigma_1^{-1}\Sigma_0", r"tr(inv(Sigma1)*Sigma0)"),
    (r"\log\frac{\det\Sigma_1}{\det\Sigma_0}", r"log(det(S1)/det(S0))"),
    (r"\boldsymbol{\mu}_0^\top\mathbf{\Sigma}_1\boldsymbol\mu_0", r"mu0' S1 mu0"),
])
def test_kl_spellings_mean_the_same(variant, plain):
    assert same_value(K, variant, plain), (variant, plain)


def test_structure_of_common_constructs():
    table = problem(G).table
    n, Sigma, x = table.lookup("n"), table.lookup("Sigma"), table.lookup("x")
    assert read(G, r"\pi") == sp.pi
    assert read(G, r"e^{n}") == sp.exp(n)
    assert read(G, r"|\Sigma|") == sp.Determinant(Sigma)
    assert read(G, r"\Sigma^{-1}") == Sigma.I
    assert read(G, r"x^T") == x.T
    quad = read(G, r"x^T\Sigma^{-1}x")
    assert isinstance(quad, Scalar) and quad.args[0].shape == (1, 1)


def test_implicit_multiplication_and_function_arguments():
    n = problem(G).table.lookup("n")
    assert read(G, "2n") == 2 * n
    assert read(G, r"\log n n") == sp.log(n * n)  # a bare function takes the product after it
    assert read(G, r"\log(n) n") == n * sp.log(n)  # with brackets, only the bracket
    assert read(G, r"\log(n)^2") == sp.log(n) ** 2
    assert read(G, r"\frac12n") == n / 2  # TeX reads one digit for each \frac argument
    assert read(G, r"{n}^23") == 3 * n ** 2  # and for ^ (x^23 is x^2 3 in TeX)
    assert read(G, "n^23") == read(G, "n**23") == n ** 23  # plain text keeps whole numbers
    assert read(G, "1/2 n") == read(G, "1/2n") == n / 2  # one level for all products, left to right
    assert read(G, "1/(2n)") == 1 / (2 * n)


def test_unicode_pasted_from_rendered_math():
    assert same_value(K, "½(tr(Σ₁⁻¹Σ₀) − d)", r"\frac12(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) - d)")


def test_indexed_sums_with_any_index_letter():
    p = problem("kaiming-variance")
    ref = r"3^{-L} + \sum_{\ell=1}^{L} \frac{1}{3^{L-\ell+1} n_{\ell-1}}"
    for variant in (r"3^{-L}+\sum_{k=1}^{L}\frac{1}{3^{L-k+1}n_{k-1}}",
                    r"3^{-L}+\sum_{i=0}^{L-1}3^{-(L-i)}/n_i",
                    r"\sum^{L}_{j=1} \frac{1}{3^{L-j+1} n_{j-1}} + \frac{1}{3^L}",
                    r"3^{-L} + \sum_{l=1}^{L} 1/(3^{L-l+1} n_{l-1})"):
        assert same_value(p.id, ref, variant), variant
    s = read(p.id, ref)
    (summ,) = s.atoms(sp.Sum)
    assert any(isinstance(a, sp.Indexed) for a in sp.preorder_traversal(summ))


def test_n_L_is_the_output_width_one():
    assert same_value("kaiming-variance", "n_L", "1")


@pytest.mark.parametrize("pid, text, message", [
    (G, "c + 1", r"unknown symbol c; this problem's symbols are x, b, \Sigma, A, n"),
    (K, r"\Sigma_2", r"unknown symbol \Sigma_2; this problem's symbols are \mu_0, \mu_1, \Sigma_0, \Sigma_1, d"),
    (K, r"\mu_0 + 1", "cannot add a scalar (`1`) and a d×1 vector (`\\mu_0`)"),
    (K, r"\Sigma_1(\mu_1-\mu_0)^T", "cannot multiply a d×d matrix"),
    (K, r"\mu_0\mu_1", "did you forget a transpose?"),
    (K, r"\log\Sigma_0", "did you mean \\log\\det?"),
    (K, r"\frac{1}{\Sigma_0}", "cannot divide by a d×d matrix"),
    (K, r"\mu_0^2", "cannot raise a d×1 vector"),
    (G, r"\frac{1}{2}\left(x", "'(' is never closed"),
    (G, r"x + }", "nothing to close"),
    (G, r"(x]", "closes a different bracket"),
    (G, r"x +", "ends too early"),
    (G, r"x ++ * b", "unexpected"),
    (G, r"\Sigma^{1/2}", "only understood inside a determinant"),
    (G, r"\frac{1}{0}", "division by zero"),
    (G, "", "empty"),
])
def test_errors_name_the_problem_and_the_text(pid, text, message):
    problem(pid)
    with pytest.raises(StudentInputError) as info:
        read(pid, text)
    assert message in str(info.value)


def test_determinant_of_a_matrix_root_is_the_root_of_the_determinant():
    assert same_value(G, r"\det(\Sigma^{1/2})", r"\sqrt{\det\Sigma}")
    assert same_value(G, r"\det(\sqrt{\Sigma})", r"\sqrt{\det\Sigma}")


def test_vector_answer_to_a_scalar_problem_is_invalid():
    result = grade_in_process(K, r"\mu_1 - \mu_0", symbolic=False)
    assert result.verdict == "invalid" and "d×1 vector" in result.message and "scalar" in result.message
