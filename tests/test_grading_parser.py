r"""The student-formula grammar: every spelling the issue lists, built into the right sympy objects; clear errors."""

import pytest
import sympy as sp

from checkers.errors import StudentInputError
from checkers.grading.catalog import get_problem
from checkers.grading.grader import grade_in_process
from checkers.grading.parse import parse_answer
from checkers.notation import Scalar


def problem(pid):
    return get_problem(pid)


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
    assert read(G, r"\log n \exp n") == sp.log(n) * sp.exp(n)  # without, up to the next function (TeX, sympy)
    assert read(G, r"\log \exp n") == sp.log(sp.exp(n))  # a function right after it is its argument
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


# -- course notation, read in a symbol table made for the test (independent of any problem's declarations) ---------
import re  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from sympy.matrices.expressions.matexpr import MatrixElement  # noqa: E402

from checkers.evaluate import evaluate  # noqa: E402
from checkers.grading.build import MAX_DIGITS, SIGMOID, CommutingScalar, SymbolTable  # noqa: E402
from checkers.grading.parse import parse_formula  # noqa: E402
from checkers.reductions import IndexedMax, IndexedMin  # noqa: E402

N = sp.Symbol("n", integer=True, positive=True)
A_ = sp.MatrixSymbol("A", N, N)
X_ = sp.MatrixSymbol("x", N, 1)
a_, b_, c_ = sp.symbols("a b c", real=True)
P_ = sp.IndexedBase("p", real=True)
MU0 = sp.Symbol("mu_0", real=True)
SIGMA_ = sp.MatrixSymbol("Sigma", N, N)


def table(sum_range=None) -> SymbolTable:
    """A, x (n×1), Sigma, a, b, c, n, mu_0, the family p_j, and σ declared as the sigmoid."""
    return SymbolTable(entries={"A": A_, "x": X_, "a": a_, "b": b_, "c": c_, "n": N, "mu0": MU0, "Sigma": SIGMA_,
                                "sigma": SIGMOID},
                       families={"p": P_}, dimensions=frozenset({N}), listing="A, x, a, b, c, n, \\mu_0, \\Sigma, p_j",
                       sum_range=sum_range, dimension_values=({N: sp.Integer(3)},))


def parse(text, sum_range=None):
    return parse_formula(text, table(sum_range))


@pytest.mark.parametrize("text, expected", [
    (r"AA^T", sp.MatMul(A_, A_.T)),
    (r"AA^\top", sp.MatMul(A_, A_.T)),
    (r"AA'", sp.MatMul(A_, A_.T)),
    (r"xx^\top", sp.MatMul(X_, X_.T)),
    (r"AAx", sp.MatMul(sp.MatMul(A_, A_), X_)),
    (r"ab", a_ * b_),
    (r"abc", a_ * b_ * c_),
    (r"Sigma", SIGMA_),  # a declared multi-letter name stays one name
    (r"mu_0 a", MU0 * a_),
    (r"mu0", MU0),
])
def test_juxtaposed_declared_letters_are_products(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, expected", [
    (r"\frac n2", N / 2),
    (r"\frac12", sp.Rational(1, 2)),
    (r"\frac ab", a_ / b_),
    (r"\frac{a}2", a_ / 2),
    (r"\frac{1}2a", a_ / 2),
    (r"\frac a{b}", a_ / b_),
    (r"\frac\pi2", sp.pi / 2),
    (r"\sqrt a", sp.sqrt(a_)),
    (r"\sqrt2", sp.sqrt(2)),
    (r"\sqrt ab", sp.sqrt(a_) * b_),  # TeX: \sqrt takes one token
    (r"-\frac n2 + 1", 1 - N / 2),
])
def test_single_token_arguments(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize("text, expected", [
    (r"\max(a, b)", sp.Max(a_, b_)),
    (r"\min\{a, b, c\}", sp.Min(a_, b_, c_)),
    (r"\max(0, a)^2", sp.Max(0, a_) ** 2),
    (r"max(a,b)", sp.Max(a_, b_)),
    (r"\min(a, b) + 1", sp.Min(a_, b_) + 1),
    (r"\tanh a", sp.tanh(a_)),
    (r"\tanh(a)^2", sp.tanh(a_) ** 2),
    (r"\sigma(a)", SIGMOID(a_)),  # declared as the sigmoid in this table: it stays σ(a)
    (r"\sigma(a)^2", SIGMOID(a_) ** 2),
    (r"\sigma(a + b)", SIGMOID(a_ + b_)),
    (r"\operatorname{sigmoid}(a)", SIGMOID(a_)),
    (r"\operatorname{ReLU}(a)", sp.Max(0, a_)),
    (r"\mathrm{ReLU}(a - b)", sp.Max(0, a_ - b_)),
    (r"relu(a)", sp.Max(0, a_)),
    (r"\log_2 a", sp.log(a_) / sp.log(2)),
    (r"\log_{10}(a)", sp.log(a_) / sp.log(10)),
    (r"\log_23", sp.log(3) / sp.log(2)),  # TeX: one digit for the base
    (r"\log_e a", sp.log(a_)),
    (r"log_2(a)", sp.log(a_) / sp.log(2)),
    (r"a \div b", a_ / b_),
    (r"\mathit{a}", a_),
    (r"a\thinspace b", a_ * b_),
    (r"a\,b", a_ * b_),
    (r"a\;b", a_ * b_),
    (r"a\!b", a_ * b_),
    (r"a\quad b", a_ * b_),
    (r"a \cdot b", a_ * b_),
    (r"a \times b", a_ * b_),
    (r"\left|a\right|", sp.Abs(a_)),
    (r"\lvert a - b\rvert", sp.Abs(a_ - b_)),
    (r"\begin{pmatrix} a & b \\ c & a \end{pmatrix}", sp.ImmutableMatrix([[a_, b_], [c_, a_]])),
    (r"\begin{bmatrix} a \\ b \end{bmatrix}", sp.ImmutableMatrix([[a_], [b_]])),
    (r"\begin{bmatrix} a & b \\ c & a \\ \end{bmatrix}", sp.ImmutableMatrix([[a_, b_], [c_, a_]])),
    (r"\begin{vmatrix} a & b \\ c & a \end{vmatrix}", sp.Determinant(sp.ImmutableMatrix([[a_, b_], [c_, a_]]))),
])
def test_course_notation(text, expected):
    assert parse(text) == expected


def test_max_and_min_over_an_index():
    j = sp.Symbol("j", integer=True)
    # over a declared vector, the range comes from its length: x_j is entry j counted from 1
    assert parse(r"\max_j x_j") == IndexedMax(X_[j - 1, 0], (j, 1, N))
    assert parse(r"\max_{j} x_j") == IndexedMax(X_[j - 1, 0], (j, 1, N))
    assert parse(r"\max_{j=1}^{n} x_j") == IndexedMax(X_[j - 1, 0], (j, 1, N))
    i = sp.Symbol("i", integer=True)
    assert parse(r"\min_i x_i") == IndexedMin(X_[i - 1, 0], (i, 1, N))
    # over an indexed family, the problem's declared range
    assert parse(r"\max_j p_j", sum_range=(sp.Integer(1), N)) == IndexedMax(P_[j], (j, 1, N))
    assert parse(r"\max_i (p_i - a)", sum_range=(sp.Integer(1), N)) == IndexedMax(P_[i] - a_, (i, 1, N))
    # the body is the product after it, up to the next + or -
    assert parse(r"\max_j x_j + a") == IndexedMax(X_[j - 1, 0], (j, 1, N)) + a_
    assert parse(r"\max\limits_{j} x_j") == IndexedMax(X_[j - 1, 0], (j, 1, N))
    assert parse(r"\max_{1 \le j \le n} x_j") == IndexedMax(X_[j - 1, 0], (j, 1, N))
    assert parse(r"\min_{2 \leq i \leq n} x_i") == IndexedMin(X_[i - 1, 0], (i, 2, N))
    assert parse(r"\sum_{1 \leq j \leq n} x_j") == sp.Sum(X_[j - 1, 0], (j, 1, N))
    # the max of a vector is the max of its entries
    e = parse(r"\max(x)")
    assert isinstance(e, IndexedMax) and isinstance(e.function, MatrixElement)
    assert isinstance(parse(r"\min x"), IndexedMin)


Q_ = sp.MatrixSymbol("Q", N, N + 1)


def test_matrix_entries_and_double_sums():
    i, j = sp.symbols("i j", integer=True)
    t = table()
    t.entries["Q"] = Q_
    entry = Q_[i - 1, j - 1]  # counted from 1, as students write them
    rows, cols = (i, 1, N), (j, 1, N + 1)
    for text in (r"\sum_{i,j} Q_{ij}", r"\sum_{ij} Q_{i,j}", r"\sum_{i, j} Q_{i j}",
                 r"\sum_{i=1}^{n}\sum_{j=1}^{n+1} Q_{ij}", r"\sum_{1 \le i \le n} \sum_{j} Q_{ij}"):
        e = parse_formula(text, t)
        assert e.function == entry and set(e.limits) == {rows, cols}, (text, e)
        assert e.limits[-1] == rows, (text, e)  # the first index written is the outermost, as when nested
    assert parse_formula(r"\max_{i,j} Q_{ij}", t) == IndexedMax(IndexedMax(entry, cols), rows)
    assert parse_formula(r"\sum_i Q_{i1}", t) == sp.Sum(Q_[i - 1, 0], rows)
    with pytest.raises(StudentInputError, match="does not index one declared vector, matrix side or family"):
        parse_formula(r"\sum_{i,j} Q_{12}", t)
    with pytest.raises(StudentInputError, match="already a symbol"):
        parse_formula(r"\sum_{i,i} Q_{ii}", t)


def test_an_index_past_the_end_is_refused_not_wrapped_around():
    values, dims = _values()
    # x_{j-1} for j = 1 would read x[-1], the last entry, and \max_j x_{j-1} would equal \max_j x_j
    with pytest.raises(Exception, match="out of range"):
        evaluate(parse(r"\max_j x_{j-1}"), values, dims)
    with pytest.raises(Exception, match="out of range"):
        evaluate(parse(r"\sum_j x_{j+1}"), values, dims)


def _values(batch=16, n=3, seed=20240429):
    gen = torch.Generator().manual_seed(seed)
    draw = lambda *shape: torch.randn(batch, *shape, generator=gen, dtype=torch.float64)  # noqa: E731
    return {"x": draw(n), "a": draw(), "b": draw(), "c": draw(), "A": draw(n, n), "p": draw(n + 1)}, {"n": n}


def test_new_notation_evaluates_to_what_it_means():
    values, dims = _values()
    x, a, b = values["x"], values["a"], values["b"]

    def ev(text, **kw):
        return evaluate(parse(text, **kw), values, dims)

    torch.testing.assert_close(ev(r"\max_j x_j"), x.amax(1))
    torch.testing.assert_close(ev(r"\min_{i=1}^{n} x_i"), x.amin(1))
    torch.testing.assert_close(ev(r"\max(x)"), x.amax(1))
    torch.testing.assert_close(ev(r"\max_j p_j", sum_range=(sp.Integer(1), N)), values["p"][:, 1:].amax(1))
    torch.testing.assert_close(ev(r"\max(a, b, 0)"), torch.clamp(torch.maximum(a, b), min=0))
    torch.testing.assert_close(ev(r"\sigma(a)"), torch.sigmoid(a))
    torch.testing.assert_close(ev(r"\operatorname{ReLU}(a)"), torch.relu(a))
    torch.testing.assert_close(ev(r"\tanh a"), torch.tanh(a))
    torch.testing.assert_close(ev(r"\log_2 |a|"), torch.log2(a.abs()))
    torch.testing.assert_close(ev(r"\begin{vmatrix} a & b \\ 1 & a \end{vmatrix}"), a * a - b)
    torch.testing.assert_close(ev(r"\begin{pmatrix} 1 & 2 \end{pmatrix}\begin{pmatrix} a \\ b \end{pmatrix}"),
                               a + 2 * b)
    A = values["A"]
    torch.testing.assert_close(ev(r"\operatorname{tr}(AA^\top)"), (A * A).sum((1, 2)))
    torch.testing.assert_close(ev(r"x^T AA^T x"), ((A.transpose(1, 2) @ x.unsqueeze(-1)) ** 2).sum((1, 2)))


def test_explicit_row_times_column_is_a_scalar():
    e = parse(r"\begin{pmatrix} a & b \end{pmatrix}\begin{pmatrix} 1 \\ 2 \end{pmatrix} + c")
    assert any(isinstance(t, CommutingScalar) for t in sp.preorder_traversal(e))


LONG = re.compile(r"\d{31,}")


@pytest.mark.parametrize("text, message", [
    ("1.1.1", "malformed number `1.1.1`"),
    ("1..2", "malformed number `1..2`"),
    ("2.5.3 a", "malformed number `2.5.3`"),
    ("a + .1.", "malformed number `.1.`"),
    ("3" * 31, "has more than 30 digits"),
    ("0." + "0" * 40 + "1", "has more than 30 digits"),
    (r"a^{10^{1000}}", f"has more than {MAX_DIGITS} digits"),
    (r"10^{10^{1000}10^{1000}}", f"has more than {MAX_DIGITS} digits"),
    (r"a^{10^{1000}10^{1000}10^{1000}10^{1000}10^{1000}}", f"has more than {MAX_DIGITS} digits"),
    (r"2^{1000}", f"has more than {MAX_DIGITS} digits"),
    (r"(10^{200}a)^3", f"has more than {MAX_DIGITS} digits"),
    (r"10^{200} \cdot 10^{200}", f"has more than {MAX_DIGITS} digits"),
    (r"\frac{1}{10^{200}10^{200}}", f"has more than {MAX_DIGITS} digits"),
    (r"a^{999999999999}", "too large"),
    (r"A^{99999999999999999999999999999999999}", "has more than 30 digits"),
    (r"A^{10^{100}}", "too large"),
    (r"\max(a, )", "unexpected"),
    (r"\max()", "unexpected"),
    (r"\max(A, a)", "takes scalars"),
    (r"\max_j A", "takes scalars"),
    (r"\max_j p_j", "give the range"),
    (r"\max_j b", "give the range"),
    (r"\max(A)", "only the entries of a vector"),
    (r"\tanh(A)", "applies to scalars"),
    (r"\tanh(a, b)", "takes one argument"),
    (r"\sigma(a, b)", "takes 1 argument(s), not 2"),
    (r"\sigma(x)", "applies to scalars"),
    (r"\operatorname{ReLU}(x)", "applies to scalars"),
    (r"\log_1 a", "base 1"),
    (r"\log_0 a", "base 0"),
    (r"\log_{" + "7" * 40 + "} a", "has more than 30 digits"),
    (r"\begin{pmatrix} a & b \\ c \end{pmatrix}", "different lengths (2, 1)"),
    (r"\begin{pmatrix} A & a \end{pmatrix}", "entries must be scalars"),
    (r"\begin{pmatrix} a & b", "never closed"),
    (r"a \end{pmatrix}", "without \\begin{pmatrix}"),
    (r"\begin{array}{cc} a \end{array}", "unsupported environment \\begin{array}"),
    (r"\begin{vmatrix} a & b \end{vmatrix}", "must be square"),
    (r"a \\ b", "line break"),
    (r"x \times x", "cross product"),
    (r"a \le b", "unexpected '\\le'"),
    (r"\max_{1 \le j} x_j", "unexpected '}'"),
    (r"ay", "unknown symbol ay"),  # y is not declared: the word is not split
    # readings TeX does not settle are refused, never guessed (issue 19, item 13)
    (r"\mathit{AA}^T", "unknown symbol \\mathit{AA}"),  # one multi-letter name in TeX, not A·A
    (r"\mathrm{ab}", "unknown symbol \\mathrm{ab}"),
    (r"a'", "a prime on the scalar `a`"),
    (r"a' b + a b'", "a prime on the scalar"),
    (r"\frac{d}{db} a", "reads as a derivative"),
    (r"\frac{d a}{d b}", "reads as a derivative"),
])
def test_malformed_forms_are_refused_with_a_message(text, message):
    with pytest.raises(StudentInputError) as info:
        parse(text)
    assert message in str(info.value), str(info.value)
    assert not LONG.search(str(info.value)), f"a number of more than 30 digits is printed: {info.value}"


def test_largest_allowed_numbers_are_read():
    assert parse(r"10^{299}") == sp.Integer(10) ** 299  # 300 digits: the limit
    assert parse("9" * 30) == sp.Integer("9" * 30)
    assert parse(r"2^{-996} a") == a_ / sp.Integer(2) ** 996


# -- the notation graded against the real problems -----------------------------------------------------------------
KL_FRAC_D2 = (r"\frac12\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + \frac12(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)"
              r" - \frac d2 + \frac12\log\frac{\det\Sigma_1}{\det\Sigma_0}")


@pytest.mark.parametrize("pid, answer, verdict", [
    (G, r"(2\pi)^{-n/2}\det(AA^\top)^{-1/2}\exp\left(-\frac12 (x-b)^\top(AA^\top)^{-1}(x-b)\right)", "correct"),
    (G, r"(2\pi)^{-n/2}|\det A|^{-1}\exp\left(-\frac12 (x-b)^T(AA^T)^{-1}(x-b)\right)", "correct"),
    (G, r"(2\pi)^{-n/2}\det(AA^\top)^{-1/2}\exp\left(-\frac12 (x-b)^\top AA^\top(x-b)\right)", "incorrect"),
    (K, KL_FRAC_D2, "correct"),
    (K, KL_FRAC_D2.replace(r"\frac d2", r"\frac 12"), "incorrect"),
    ("softmax-gradient", r"\frac{e^{x_k - \max_j x_j}}{\sum_j e^{x_j - \max_i x_i}}", "correct"),
    ("softmax-gradient", r"\frac{\exp(x_k - \max_{j} x_j)}{\sum_{j=1}^{n} \exp(x_j - \max_{i=1}^{n} x_i)}", "correct"),
    ("softmax-gradient", r"\frac{e^{x_k - \max_j x_j}}{\sum_j e^{x_j}}", "incorrect"),
    ("lse-limit", r"\max_j x_j", "correct"),
    ("lse-limit", r"\max_{1 \le i \le n} x_i", "correct"),
    ("lse-limit", r"\min_j x_j", "incorrect"),
    ("mutual-information", r"\sum_{i,j} P_{ij}\log\frac{P_{ij}}{\sum_k P_{ik}\sum_l P_{lj}}", "correct"),
    ("mutual-information", r"\sum_{i=1}^{n_x}\sum_{j=1}^{n_y} P_{i,j}\log\frac{P_{i,j}}{\sum_k P_{i,k}}", "incorrect"),
    ("mutual-information", r"\sum_{i,j} P_{ij}\log\frac{P_{ij}}{p_i q_j}", "correct"),
    ("mutual-information", r"\sum_{a=1}^{n_x}\sum_{b=1}^{n_y} P_{a,b}\log\frac{P_{a,b}}{p_a q_b}", "correct"),
    ("mutual-information", r"\sum_{i,j} P_{ij}\log\frac{P_{ij}}{p_i}", "incorrect"),
    ("lse-gradient-limit", r"\mathbb{1}[x_k = \max_j x_j]", "correct"),
    ("lse-gradient-limit", r"\mathbf{1}\{x_k = \max_{j=1}^{n} x_j\}", "correct"),
    ("lse-gradient-limit", r"\mathbb{1}_{x_k \ge \max_j x_j}", "correct"),
    ("lse-gradient-limit", r"\mathbb{1}[x_k \neq \max_j x_j]", "incorrect"),
    ("lse-gradient-limit", r"\mathbb{1}[x_k < \max_j x_j]", "incorrect"),
    ("hint-log-det", r"\log|h_0'(x_1)| + \sum_{k=1}^{K} S_k", "correct"),
    ("hint-log-det", r"\log\left|h_{0}'(x_{1})\right| + \sum_k S_k", "correct"),
    ("hint-log-det", r"\log|h_0'(x_1)| + S_K", "incorrect"),
    ("tv-overlap", r"1 - \sum_i \min(p_i, q_i)", "correct"),
    ("tv-overlap", r"1 - \sum_i \max\{p_i, q_i\}", "incorrect"),
    ("tv-half-l1", r"\frac12\sum_{i=1}^{n}\left|p_i - q_i\right|", "correct"),
])
def test_new_notation_grades_correctly(pid, answer, verdict):
    problem(pid)
    result = grade_in_process(pid, answer, symbolic=False, limit=30.0)
    assert result.verdict == verdict, result.message


@pytest.mark.parametrize("pid, answer, mistake", [
    ("mutual-information", r"\sum_{i,j} P_{ij}\log\frac{p_i q_j}{P_{ij}}", "ratio-inverted"),
    ("mutual-information", r"\sum_{i,j} P_{ij}\log P_{ij}", "no-marginals"),
    ("lse-gradient-limit", r"\mathbb{1}[x_k = \min_j x_j]", "argmin"),
    ("hint-log-det", r"\log h_0'(x_1) + \sum_{k=1}^{K} S_k", "no-abs"),
])
def test_indicators_and_marginals_name_the_misconception(pid, answer, mistake):
    result = grade_in_process(pid, answer, symbolic=False, limit=30.0)
    assert result.verdict == "incorrect" and [f.id for f in result.feedback] == [mistake], result.message


def test_indicator_is_one_exactly_where_its_condition_holds():
    values = {"a": torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64),
              "b": torch.tensor([2.0, 2.0, 2.0], dtype=torch.float64)}
    expected = {"=": [0, 1, 0], r"\neq": [1, 0, 1], r"\le": [1, 1, 0], "<": [1, 0, 0], r"\geq": [0, 1, 1], ">": [0, 0, 1]}
    for op, want in expected.items():
        for spelling in (rf"\mathbb{{1}}[a {op} b]", rf"\mathbf 1\{{a {op} b\}}", rf"\mathds{{1}}_{{a {op} b}}"):
            got = evaluate(parse(spelling), values, {"n": 3})
            assert got.tolist() == [float(w) for w in want], (spelling, got)
    assert parse(r"\mathbb{1}[a = a]") == 1  # H(0) = 0: equal is 1, not sympy's Heaviside(0) = 1/2
    assert parse(r"2\mathbf{1}") == 2  # a bold one without a condition stays a one
    for bad in (r"\mathbb{1}[a]", r"\mathbb{1}[x = a]"):
        with pytest.raises(StudentInputError):
            parse(bad)


def test_evaluator_reduces_indexed_extrema_and_explicit_matrices():
    j, i = sp.symbols("j i", integer=True)
    values, dims = _values(n=4)
    p = values["p"]
    inner = IndexedMax(P_[i] - P_[j], (i, 1, N))  # nested: for each j, the largest p_i - p_j
    torch.testing.assert_close(evaluate(IndexedMin(inner, (j, 1, N)), values, dims),
                               (p[:, 1:].unsqueeze(2) - p[:, 1:].unsqueeze(1)).amax(1).amin(1))
    torch.testing.assert_close(evaluate(IndexedMax(P_[j], (j, 2, 3)), values, dims), p[:, 2:4].amax(1))
    assert IndexedMax(P_[j], (j, 1, 3)).doit() == sp.Max(P_[1], P_[2], P_[3])
    assert IndexedMin(P_[j], (j, 1, N)).doit() == IndexedMin(P_[j], (j, 1, N))  # symbolic range: kept
    with pytest.raises(Exception, match="empty range"):
        evaluate(IndexedMax(P_[j], (j, 3, 2)), values, dims)
    m = sp.ImmutableMatrix([[a_, 1], [b_, a_ * b_]])
    out = evaluate(m, values, dims)
    assert out.shape == (16, 2, 2)
    torch.testing.assert_close(out[:, 1, 1], values["a"] * values["b"])
    torch.testing.assert_close(evaluate(sp.Determinant(m), values, dims), values["a"] ** 2 * values["b"] - values["b"])


def test_accented_names_are_symbols_only_where_declared():
    t = table()
    xhat, mubar = sp.Symbol("xhat"), sp.Symbol("mubar")
    t.entries["hatx"], t.entries["barmu"] = xhat, mubar  # spellings \hat{x} and \bar{\mu}
    assert parse_formula(r"\hat{x} + \hat x a", t) == xhat + a_ * xhat
    assert parse_formula(r"\hat xa", t) == a_ * xhat  # TeX: the accent takes one letter
    assert parse_formula(r"\bar{\mu}^2", t) == mubar ** 2
    with pytest.raises(StudentInputError, match=r"unknown symbol \\tilde\{x\}"):
        parse_formula(r"\tilde{x}", t)
    with pytest.raises(StudentInputError, match="takes one letter"):
        parse_formula(r"\hat{}", t)


@pytest.mark.parametrize("answer", [r"10^{299}", r"10^{299} d", r"\frac{1}{2^{990}}", "9" * 30 + r"\cdot 10^{200}"])
def test_graded_messages_and_readings_never_print_long_numbers(answer):
    problem(K)
    result = grade_in_process(K, answer, symbolic=False, limit=30.0)
    assert result.verdict == "incorrect" and not result.internal_error, result.message
    for text in (result.message, result.read_as or "", *(f.message for f in result.feedback)):
        assert not LONG.search(text), text


def test_explicit_matrices_are_inverted_numerically_and_long_quotes_are_shortened():
    values, dims = _values()
    a = values["a"]
    e = parse(r"\begin{pmatrix} a & 1 \\ 0 & 1 \end{pmatrix}^{-1}")
    assert isinstance(e, sp.Inverse)  # not sympy's symbolic inverse, which takes minutes for a 12 x 12 matrix
    out = evaluate(e, values, dims)
    torch.testing.assert_close(out[:, 0, 0], 1 / a)
    torch.testing.assert_close(out[:, 0, 1], -1 / a)
    big = r"\begin{pmatrix}" + r" \\ ".join(" & ".join("a" for _ in range(12)) for _ in range(12)) + r"\end{pmatrix}"
    assert isinstance(parse(big + "^{-1}"), sp.Inverse)
    with pytest.raises(StudentInputError) as info:
        parse(big + "x")
    assert len(str(info.value)) < 300 and "…" in str(info.value), str(info.value)


def test_bare_index_runs_over_the_range_the_reference_sums_the_family_over():
    from checkers.grading.build import family_ranges_from

    i, j = sp.symbols("i j", integer=True)
    d = sp.Symbol("d", integer=True, positive=True)
    mu = sp.IndexedBase("mu")
    ref = sp.Sum(P_[i] ** 2, (i, 1, N)) + sp.Sum(mu[j], (j, 0, d - 1)) + sp.Sum(P_[j], (j, 2, N))
    assert family_ranges_from(ref) == {mu: (0, d - 1)}  # p is summed over two ranges: none is guessed
    assert family_ranges_from(sp.Sum(P_[i], (i, 1, N))) == {P_: (1, N)}
    t = table()
    t.families["mu"], t.family_ranges = mu, {P_: (sp.Integer(1), N), mu: (sp.Integer(0), d - 1)}
    k = sp.Symbol("k", integer=True)
    assert parse_formula(r"\sum_k p_k^2 + \max_k \mu_k", t) == sp.Sum(P_[k] ** 2, (k, 1, N)) + IndexedMax(mu[k], (k, 0, d - 1))
    with pytest.raises(StudentInputError, match="give the range"):
        parse_formula(r"\sum_k p_k \mu_k", t)  # two families, two ranges


@pytest.mark.parametrize("pid, answer", [
    ("vae-reconstruction", r"-\sum_i \left[x_i\log f_i + (1-x_i)\log(1-f_i)\right]"),
    ("vae-objective", r"-\sum_i \left[x_i\log f_i + (1-x_i)\log(1-f_i)\right] + \frac12\sum_j (\mu_j^2 + \sigma_j^2 "
                      r"- \log\sigma_j^2 - 1)"),
])
def test_bare_sums_over_declared_families_grade_correctly(pid, answer):
    problem(pid)
    result = grade_in_process(pid, answer, symbolic=False, limit=30.0)
    assert result.verdict == "correct", result.message


def test_pasted_unicode_for_the_new_notation():
    j = sp.Symbol("j", integer=True)
    assert parse("max_{1≤j≤n} x_j") == IndexedMax(X_[j - 1, 0], (j, 1, N))
    assert parse("∑_j x_j") == sp.Sum(X_[j - 1, 0], (j, 1, N))
    assert parse("a ÷ b") == a_ / b_
    assert parse("σ(a)") == SIGMOID(a_)


def test_max_of_a_sum_is_built_unevaluated_not_a_crash():
    # sympy's Max raises ValueError ("not comparable") on some sums; the builder keeps them unevaluated
    assert parse(r"\operatorname{ReLU}\sum_{i,j}2", sum_range=(1, 3)).func is sp.Max
    assert parse(r"\max(\sum_j x_j, 0)").func is sp.Max
    problem("tv-overlap")
    result = grade_in_process("tv-overlap", r"\max(0, \sum_i p_i - 1) + \operatorname{ReLU}(\sum_i q_i)", symbolic=False,
                              limit=30.0)
    assert result.verdict == "incorrect" and not result.internal_error, result.message


def test_a_declared_value_at_a_point_is_one_name_only_as_declared():
    with pytest.raises(StudentInputError, match="unknown symbol h_0"):
        read("hint-log-det", r"\log|h_0'(x_2)| + \sum_k S_k")  # the derivative at another point is not declared


def test_the_stored_grammar_analysis_parses_as_a_fresh_build(tmp_path, monkeypatch):
    from checkers.grading import grammar

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    stored = grammar._cache_file(False)
    assert stored and stored.startswith(str(tmp_path / "proofcheck"))
    texts = [r"\frac12 x^\top\Sigma^{-1}x", r"\mathbb{1}[x_k = \max_j x_j]", r"\sum_{i,j} P_{ij}", "a*b - c"]
    fresh = grammar.Lark(grammar.GRAMMAR, parser="lalr", lexer=grammar.FormulaLexer, maybe_placeholders=False)
    for _ in range(2):  # the first build writes the analysis, the second loads it
        built = grammar.Lark(grammar.GRAMMAR, parser="lalr", lexer=grammar.FormulaLexer, maybe_placeholders=False,
                             cache=stored)
        assert [built.parse(t) for t in texts] == [fresh.parse(t) for t in texts]
    assert Path(stored).is_file()
    (tmp_path / "proofcheck").chmod(0o777)  # a folder others can write could hold a planted pickle: not used
    assert grammar._cache_file(False) is False
