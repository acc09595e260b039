"""Formulas for the reports: sympy -> MathML Core and sympy -> LaTeX, and author statements -> MathML/LaTeX."""

import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest
import sympy as sp

from checkers.notation import Scalar, quadratic_form
from checkers.reporting.latex_math import to_latex
from checkers.reporting.mathml import CORE_ELEMENTS, to_mathml
from checkers.reporting.statements import render_statement

n = sp.Symbol("n", integer=True, positive=True)
i = sp.Symbol("i", integer=True)
A = sp.MatrixSymbol("A", n, n)
S0 = sp.MatrixSymbol("Sigma_0", n, n)
x = sp.MatrixSymbol("x", n, 1)
X = sp.IndexedBase("X")


def parse(markup: str) -> ET.Element:
    """Parses as XML: no named entities, every element closed."""
    return ET.fromstring(markup)


def texts(root: ET.Element, tag: str) -> list[str]:
    return [e.text or "" for e in root.iter(tag)]


EXPRESSIONS = [
    quadratic_form(x, S0.I), sp.Determinant(S0), sp.Trace(A * S0), S0.I, sp.Sum(X[i] ** 2, (i, 1, n)),
    X[i, n], sp.exp(-Scalar(x.T * x) / 2), sp.Abs(sp.Determinant(A.I)), sp.Matrix([[1, 2], [3, 4]]),
    sp.Piecewise((1, sp.Symbol("t") > 0), (0, True)), sp.conjugate(sp.Symbol("z")), sp.Rational(-1, 2),
    sp.Integral(sp.exp(-sp.Symbol("y") ** 2), (sp.Symbol("y"), -sp.oo, sp.oo)), sp.log(sp.Symbol("beta")),
    sp.Max(sp.Symbol("a"), 0), sp.Derivative(sp.Function("f")(sp.Symbol("y")), sp.Symbol("y")), A.T * x,
]


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=[sp.srepr(e)[:40] for e in EXPRESSIONS])
def test_output_is_mathml_core_and_well_formed(expr):
    root = parse(to_mathml(expr))
    assert root.tag == "math"
    assert {e.tag for e in root.iter()} <= CORE_ELEMENTS
    assert "&" not in to_mathml(expr).replace("&gt;", "").replace("&lt;", "").replace("&amp;", "")


def test_scalar_prints_as_its_matrix_argument():
    root = parse(to_mathml(quadratic_form(x - sp.MatrixSymbol("b", n, 1), S0.I)))
    assert not any("calar" in t for t in texts(root, "mi"))
    assert "x" in texts(root, "mi") and "Σ" in texts(root, "mi")


def test_greek_matrix_symbol_with_index_is_upright_sigma_sub_zero():
    root = parse(to_mathml(S0))
    (sub,) = root.iter("msub")
    base, index = list(sub)
    assert (base.tag, base.text, base.get("mathvariant")) == ("mi", "Σ", "normal")
    assert (index.tag, index.text) == ("mn", "0")


def test_determinant_trace_inverse_sum_indexed():
    assert texts(parse(to_mathml(sp.Determinant(S0))), "mi")[0] == "det"
    assert texts(parse(to_mathml(sp.Trace(A))), "mi")[0] == "tr"
    inverse = parse(to_mathml(S0.I))
    (sup,) = [e for e in inverse.iter("msup")]
    assert "−" in texts(sup, "mo") and "1" in texts(sup, "mn")
    total = parse(to_mathml(sp.Sum(X[i] ** 2, (i, 1, n))))
    (op,) = total.iter("munderover")
    assert op[0].text == "∑"
    indexed = parse(to_mathml(X[i, n]))
    (sub,) = indexed.iter("msub")
    assert texts(sub, "mo") == [","] and texts(sub, "mi") == ["X", "i", "n"]


def test_a_sum_over_two_indices_shows_both_outermost_first():
    j, m = sp.Symbol("j", integer=True), sp.Symbol("m", integer=True, positive=True)
    total = parse(to_mathml(sp.Sum(X[i, j], (j, 1, m), (i, 1, n))))
    ranges = [("".join(op[1].itertext()), "".join(op[2].itertext())) for op in total.iter("munderover")]
    assert ranges == [("i=1", "n"), ("j=1", "m")]


def test_max_over_an_index_and_products_print_as_operators_not_function_names():
    from checkers.reductions import IndexedMax

    j = sp.Symbol("j", integer=True)
    for expr, sign in ((IndexedMax(X[j], (j, 1, n)), "max"), (sp.Product(X[j], (j, 1, n)), "∏")):
        markup = to_mathml(expr)
        (op,) = parse(markup).iter("munderover")
        assert op[0].text == sign and "".join(op[1].itertext()) == "j=1", markup
        assert "indexedmax" not in markup and "product" not in markup


def test_latex_printer_shares_the_notation():
    assert to_latex(sp.Determinant(S0)) == r"\det\left(\Sigma_{0}\right)"
    assert to_latex(sp.Trace(A) ** 2).startswith(r"\operatorname{tr}\left(A\right)")
    assert "Scalar" not in to_latex(quadratic_form(x, S0.I))


# -- author statements ---------------------------------------------------------------------------------------

STATEMENT = (r"Let $Y \sim \mathcal{N}(0, I)$ in $\mathbb{R}^n$ and $\Sigma = AA^\top$. Show that "
             r"$p_X(x) = ((2\pi)^n\det\Sigma)^{-1/2}\exp(-\tfrac12 (x-b)^\top\Sigma^{-1}(x-b))$ for 50% of cases.")


def test_statement_math_becomes_mathml_and_text_is_escaped():
    r = render_statement(STATEMENT + " <script>alert(1)</script>")
    assert r.problems == ()
    root = parse(f"<div>{r.html}</div>")
    maths = list(root.iter("math"))
    assert len(maths) == 4
    assert all({e.tag for e in m.iter()} <= CORE_ELEMENTS for m in maths)
    assert "ℝ" in texts(root, "mi") and "𝒩" in texts(root, "mi")
    (half,) = [f for f in root.iter("mfrac")]
    assert [c.text for c in half] == ["1", "2"]  # \tfrac12 takes one digit per argument
    assert "<script>" not in str(r.html) and "&lt;script&gt;" in str(r.html)
    assert r"50\%" in r.tex and r"\tfrac12" in r.tex  # a bare % would comment out the rest of the line


@pytest.mark.parametrize("source, problem", [
    (r"uses \undefinedmacro{x}", r"unknown command \undefinedmacro"),
    (r"$\frac{a}{b$", "not closed"),
    (r"x_i outside math", "'_' outside math"),
    (r"$x_1_2$", "double subscript"),
    (r"\begin{tikzpicture}\end{tikzpicture}", "unknown environment tikzpicture"),
])
def test_unsupported_statements_are_shown_as_source_with_a_reason(source, problem):
    r = render_statement(source)
    assert r.problems and problem in r.problems[0]
    assert r.tex.startswith(r"\texttt{") and "<math" not in r.html
    assert source.split()[0].replace("<", "&lt;") in r.html


def test_display_math_lists_and_environments():
    r = render_statement(r"\begin{itemize}\item $a$ \item \emph{b}\end{itemize}"
                         r"\[ f(x) = \begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases} \]")
    assert r.problems == ()
    root = parse(f"<div>{r.html}</div>")
    assert [li.tag for li in root.iter("li")] == ["li", "li"]
    (display,) = [m for m in root.iter("math") if m.get("display") == "block"]
    assert len(list(display.iter("mtr"))) == 2


@pytest.mark.parametrize("expr, fragment", [
    (sp.Function("p_X")(sp.Symbol("x")), "<msub><mi>p</mi><mi>X</mi></msub>"),
    (sp.Function("Var")(sp.Symbol("y_L")), "<mi>Var</mi>"),
    (sp.Function("f_theta")(sp.Symbol("x")), "<msub><mi>f</mi><mi>θ</mi></msub>"),
    (sp.Symbol("p_true"), "<msub><mi>p</mi><mi>true</mi></msub>"),
    (sp.Symbol("ell"), "<mi>ℓ</mi>"),
    (sp.Symbol("n_ell"), "<msub><mi>n</mi><mi>ℓ</mi></msub>"),
    (sp.Symbol("qtilde"), '<mover accent="true"><mi>q</mi><mo>~</mo></mover>'),
])
def test_mathml_names_are_split_as_latex_splits_them(expr, fragment):
    """Function names keep their case and subscripts; ell, Greek and accent modifiers read as LaTeX reads them."""
    assert fragment in to_mathml(expr)


def test_epsilon_is_one_letter_in_every_format():
    eps = sp.Symbol("epsilon")
    assert to_latex(eps + sp.Symbol("epsilon_1")) in (r"\varepsilon + \varepsilon_{1}", r"\varepsilon_{1} + \varepsilon")
    assert "<mi>ε</mi>" in to_mathml(eps)


def test_named_functions_in_statements_get_tex_thin_spaces():
    markup = str(render_statement(r"$E \ln P(y) = \log_2 x + \exp(x)$").html)
    row = parse(markup.removeprefix("<p>").removesuffix("</p>"))
    sequence = [child.tag if child.tag != "mi" else child.text for child in row.iter() if child.tag in
                {"mi", "mspace", "msub"} or child.text == "("]
    assert sequence[:4] == ["E", "mspace", "ln", "mspace"]  # E ln P, not ElnP
    assert sequence[sequence.index("msub"):][:4] == ["msub", "log", "mspace", "x"]
    exp = sequence.index("exp")
    assert sequence[exp + 1] != "mspace"  # exp(x): no space before a bracket


def test_matrix_entries_print_counted_from_one_with_one_index_for_vectors():
    j = sp.Symbol("j", integer=True)
    entry, component = A[i - 1, j - 1], x[i, 0]
    assert to_latex(entry) == "{A}_{i,j}" and to_latex(component) == "{x}_{i + 1}"
    sub = parse(to_mathml(entry)).find(".//msub")
    assert texts(sub, "mi") == ["A", "i", "j"] and texts(sub, "mn") == []
    assert "".join(parse(to_mathml(component)).find(".//msub")[1].itertext()) == "i+1"


def test_heaviside_indicators_print_as_the_indicator_students_wrote():
    a, b = sp.symbols("a b", real=True)
    cases = {1 - sp.Heaviside(sp.Abs(a - b), 0): ("=", "="), sp.Heaviside(sp.Abs(a - b), 0): (r"\neq", "≠"),
             1 - sp.Heaviside(a - b, 0): (r"\le", "≤"), sp.Heaviside(b - a, 0): (">", ">")}
    for step, (tex, sign) in cases.items():
        assert str(to_latex(step)).startswith(r"\mathbb{1}\left[") and f" {tex} " in str(to_latex(step)), step
        root = parse(to_mathml(step))
        assert root[0][0].text == "𝟙" and sign in texts(root, "mo"), step
    # H(0) = 1/2 is not an indicator of any condition: it keeps its own name.
    assert "mathbb" not in str(to_latex(sp.Heaviside(a - b))) and "𝟙" not in to_mathml(1 - sp.Heaviside(a - b))


def test_the_printer_writes_the_natural_logarithm_as_the_problem_set_does():
    from checkers.reporting.mathml import expression_node, serialize
    from checkers.reporting.render import latex_environment

    y = sp.Symbol("y", positive=True)
    assert to_latex(sp.log(y)) == r"\log{\left(y \right)}"
    assert to_latex(sp.log(y), log_name="ln") == r"\ln{\left(y \right)}"
    assert "<mi>ln</mi>" in serialize(expression_node(sp.log(y), log_name="ln"))
    assert "<mi>log</mi>" in serialize(expression_node(sp.log(y)))
    template = latex_environment().from_string("((( formula | math )))")
    formula = SimpleNamespace(parts=(sp.log(y),))  # a Formula: the filter reads its parts
    assert template.render(formula=formula, log_name="ln") == r"\ln{\left(y \right)}"
    assert template.render(formula=formula) == r"\log{\left(y \right)}"


def test_a_word_in_a_subscript_is_upright_in_both_formats():
    p_true, x = sp.Function("p_true"), sp.Symbol("x")
    assert to_latex(p_true(x)).startswith(r"p_{\mathrm{true}}") and "<mi>true</mi>" in to_mathml(p_true(x))
    assert to_latex(sp.Symbol("c_out")) == r"c_{\mathrm{out}}"
    # Letters, numbers and Greek letters in a script stay as they are; so do function names.
    assert to_latex(sp.Symbol("x_1")) == "x_{1}" and to_latex(sp.Symbol("sigma_theta")) == r"\sigma_{\theta}"
    assert to_latex(sp.Symbol("x_i")) == "x_{i}" and to_latex(sp.log(x)) == r"\log{\left(x \right)}"
    # A symbol named by a word is upright too (the HTML's <mi>weight</mi> is); a function keeps \operatorname.
    assert to_latex(sp.Symbol("running_mean")) == r"\mathrm{running}_{\mathrm{mean}}"
    assert to_latex(sp.Function("softplus")(x)).startswith(r"\operatorname{softplus}")
