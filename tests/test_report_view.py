"""The wording of the reports, without building one: statuses, numeric criteria, descriptions, lemma lists, listings."""

import enum

import pytest
import sympy as sp

from checkers import Claim, Mutant, Real, Variable, identity
from checkers.reporting.documents import set_view
from checkers.reporting.evidence import (LEMMAS_LEAD, claim_view, lemma_lines, numeric_row, readable, said_once,
                                         status_name, symbolic_text, verified_line)
from checkers.reporting.graded import GradedSection
from checkers.reporting.problem_sets import Placement, ProblemSet
from checkers.reporting.records import RunView
from checkers.reporting.render import code_listing, prose_html, prose_tex
from checkers.results import NumericResult

t = sp.Symbol("t", real=True)
FORMULA = Claim(id="square", statement="(t+1)² = t² + 2t + 1", lhs=(t + 1) ** 2, rhs=t ** 2 + 2 * t + 1,
                variables=(Variable("t", Real()),), symbolic=identity(),
                mutants=(Mutant("no-cross", "t² + 1", rhs=t ** 2 + 1),))


class Status(enum.Enum):
    PROVED = "proved"
    LEMMAS = "supported by lemmas"


@pytest.mark.parametrize("status, words", [("proved", "proved"), (Status.PROVED, "proved"),
                                           (Status.LEMMAS, "supported by lemmas"), ("not attempted", "not attempted")])
def test_symbolic_status_is_read_from_a_string_or_an_enum(status, words):
    assert status_name(status) == words


def test_symbolic_wording_states_the_scope_and_names_lemmas():
    assert symbolic_text("proved", "general") == "proved symbolically in general"
    assert symbolic_text("proved", "n ∈ {1, 2, 3}") == "proved symbolically for n ∈ {1, 2, 3}"
    assert symbolic_text(Status.LEMMAS, "", "a ≥ 0") == "supported by lemmas: a ≥ 0"
    assert symbolic_text("not attempted", "", "an integral") == "not proved symbolically (an integral)"


def _row(dtype, worst_abs, worst_rel, rtol, atol, passed=True):
    return NumericResult("cpu", dtype, 1000, worst_abs, worst_rel, rtol, atol, passed)


def test_numeric_row_prints_the_criterion_applied():
    row = numeric_row(_row("float32", 1e-7, 1e-7, 1.3e-6, 1e-5), FORMULA)
    assert row.criterion == "|lhs − rhs| ≤ atol + rtol·|rhs| + rounding bound"
    assert numeric_row(_row("float64", 0, 0, 1e-7, 1e-7), FORMULA).criterion == "|lhs − rhs| ≤ atol + rtol·|rhs|"


def test_a_relative_error_above_rtol_is_never_printed_next_to_passed():
    near_zero = numeric_row(_row("float64", 1e-9, 2.1, 1e-7, 1e-7), FORMULA)  # |rhs| ≈ 0: judged by atol
    assert near_zero.status == "passed" and near_zero.worst_rel == "–†"
    rounding = numeric_row(_row("float16", 3e-3, 0.5, 1e-3, 1e-5), FORMULA)  # within the rounding bound
    assert rounding.status == "passed" and rounding.worst_rel == "–‡"
    failed = numeric_row(_row("float64", 1.0, 2.1, 1e-7, 1e-7, passed=False), FORMULA)
    assert failed.status == "FAILED" and failed.worst_rel == "2.1e+00"  # a failure shows its error
    ok = numeric_row(_row("float64", 1e-16, 3e-16, 1e-7, 1e-7), FORMULA)
    assert ok.worst_rel == "3.0e-16"


def test_readable_descriptions_typeset_powers_and_subscripts():
    assert readable("vector in R^d") == r"vector in $\mathbb{R}^{d}$"
    assert readable("vector in R^{m+f-1}") == r"vector in $\mathbb{R}^{m+f-1}$"
    assert readable("invertible nxn matrix (condition number <= 4)") == "invertible n×n matrix (condition number ≤ 4)"
    assert readable("widths n_{L-1} in [1, 64]") == r"widths $n_{L-1}$ in [1, 64]"
    tex, html = prose_tex(readable("binary image in {0, 1}^n")), str(prose_html(readable("binary image in {0, 1}^n")))
    assert r"\{0, 1\}" in tex and "<msup>" in html and "R^" not in html


def test_lemma_lists_say_each_lemma_once():
    lemmas = ("A v = w for n = 1", "A v = w for n = 2", "b ≥ 0 (as x; y)", "b ≥ 0 (as x; y)", "A v = w")
    assert said_once(lemmas) == ("A v = w for each of: n = 1 | n = 2", "b ≥ 0 (as x; y)", "A v = w")


def test_a_claim_supported_by_lemmas_shows_exactly_its_lemmas_once_each():
    from checkers.symbolic import facts

    lemmas = ("t² ≥ 0; and so on", "(t + 1)² − t² − 2t − 1 expands to 0", "t² ≥ 0; and so on")
    supported = facts(*((lemma, lambda: sp.S.Zero) for lemma in lemmas)).prove(None, None, "=")
    shown = lemma_lines(supported)
    assert shown == (f"{LEMMAS_LEAD}: t² ≥ 0; and so on", "(t + 1)² − t² − 2t − 1 expands to 0")
    printed = "; ".join(shown)
    assert all(printed.count(lemma) == 1 for lemma in lemmas)
    # and so in the documents: the appendix of each format names each lemma once
    from checkers.reporting.render import html_environment, latex_environment
    from checkers.results import ClaimResult, MutantResult

    result = ClaimResult("square", "", "=", supported, (), (_row("float64", 0, 0, 1e-7, 1e-7),), (),
                         (MutantResult("no-cross", "", True, "rejected"),))
    view = claim_view(FORMULA, result)
    html = html_environment().get_template("report-evidence.html.j2").render(claim=view)
    tex = latex_environment().get_template("report-evidence.tex.j2").render(claim=view)
    assert html.count("t² ≥ 0; and so on") == 1 and html.count("(t + 1)² − t² − 2t − 1 expands to 0") == 1
    assert tex.count("and so on") == 1 and tex.count("expands to 0") == 1
    proved = facts((lemmas[1], lambda: sp.S.Zero), derive=lambda lhs, rhs, relation: lhs - rhs).prove(
        (t + 1) ** 2, t ** 2 + 2 * t + 1)
    assert proved.status == "proved" and proved.lemmas == lemmas[1:2] and lemma_lines(proved) == ()


def test_code_listing_is_verbatim_with_non_ascii_escaped():
    out = code_listing("x = a ** 2  # σ² ≤ 1\n")
    assert out.startswith("x = a ** 2  # ") and r"(*@\ensuremath{\sigma}@*)" in out and "≤" not in out


def _run() -> RunView:
    return RunView("Checked", "today", 0, "cpu", "2", "1", "3", False)


def test_a_graded_submission_is_headed_by_its_verdicts_in_red():
    graded = GradedSection((object(),) * 5, "3 correct, 2 incorrect of 5 answers", "answers",
                           {"correct": 3, "incorrect": 2, "invalid": 0})
    view = set_view(ProblemSet("student", "S", ""), [], _run(), graded)
    assert (view.status, view.css) == ("2 of 5 answers wrong", "fail")
    assert "passed" not in view.status and view.checks_summary.startswith("Reference solutions")
    right = GradedSection((object(),) * 2, "2 correct of 2 answers", "answers", {"correct": 2})
    assert set_view(ProblemSet("s", "S", ""), [], _run(), right).status == "all 2 answers correct"


def test_half_precision_of_an_exact_identity_is_left_out_of_the_one_line_summary():
    from checkers.results import ClaimResult, MutantResult
    from checkers.symbolic import SymbolicResult

    rows = tuple(_row(d, 0, 0, 1e-3, 1e-5) for d in ("float64", "float32", "float16"))
    result = ClaimResult("square", "", "=", SymbolicResult("proved", "general"), (), rows, (),
                         (MutantResult("no-cross", "", True, "rejected"),))
    line, css = verified_line([FORMULA], [result])
    assert css == "ok" and "float16" not in line and "cpu float64/float32" in line
    assert line.startswith("Verified: proved symbolically in general") and "1 of 1 wrong variants rejected" in line
    # the row is not dropped: the evidence table shows it, with the criterion that judged it
    evidence = [numeric_row(r, FORMULA) for r in rows]
    assert [row.dtype for row in evidence] == ["float64", "float32", "float16"]
    assert evidence[2].criterion.endswith("+ rounding bound") and evidence[2].status == "passed"


def test_a_monte_carlo_reference_is_judged_by_its_standard_errors():
    mc = numeric_row(_row("float64", 1.4, 0.3, 1e-7, 1e-7), FORMULA, monte_carlo=True)
    assert mc.criterion == "|estimate − value| ≤ 5·std.err. + atol + rtol·|value|" and mc.worst_rel == "–"


@pytest.mark.parametrize("text, tex, mathml", [
    ("caught: 3^{-L}: the bias terms forgotten", "$3^{-L}$: the bias", "<msup><mn>3</mn>"),
    ("v_ℓ = v_{ℓ-1} + 1/n_{ℓ-1}", r"$v_\ensuremath{\ell} = v_{\ensuremath{\ell}-1} + 1/n_{\ensuremath{\ell}-1}$",
     "<mo>+</mo>"),
    ("and lim_{β→∞} log(n)/β = 0", r"$\lim_{", "<mo>lim</mo>"),
    ("Σ_{i̸=i*} exp(x)", r"\ne", "<mo>≠</mo>"),
    ("each sums Σ_{c ≤ C_in/g} 1", r"C_{\mathrm{in}}", "<mi mathvariant=\"normal\">i</mi>"),
])
def test_plain_text_scripts_are_typeset_as_math(text, tex, mathml):
    """Mutant and lemma texts written as n_{ℓ-1} print as math in both formats, never as raw `_{`."""
    assert tex in prose_tex(text)
    html = str(prose_html(text))
    assert mathml in html and "_{" not in html


def test_python_names_stay_plain_and_one_letter_names_take_their_subscript():
    assert prose_tex("uses torch.nn.utils.fuse_conv_bn_weights") == r"uses torch.nn.utils.fuse\_conv\_bn\_weights"
    assert str(prose_html("x_prime_grad and __init__, 100%")) == "x_prime_grad and __init__, 100%"
    assert prose_tex("‖∇ν_β(x) − e_max‖₁ and 100%").count("$") == 4 and r"e_{\mathrm{max}}" in prose_tex("e_max")


def test_mutant_evidence_names_dimensions_in_words():
    from checkers.results import rejection_text

    assert rejection_text({}, 0, 3, 64, 2.0) == "3/64 instances out of tolerance (batch seed 0; worst relative error 2)"
    assert rejection_text({"n": 8, "L": 2}, 7, 1, 4, 0.5) == \
        "1/4 instances out of tolerance (n = 8, L = 2, batch seed 7; worst relative error 0.5)"


def test_a_part_with_claims_of_different_outcomes_counts_them_from_their_statuses():
    from checkers.reporting.documents import group_problems
    from checkers.reporting.records import DerivationView, SymbolicOutcome
    from checkers.results import ClaimResult, MutantResult
    from checkers.symbolic import SymbolicResult

    def result(symbolic):
        return ClaimResult("square", "", "=", symbolic, (), (_row("float64", 0, 0, 1e-7, 1e-7),), (),
                           (MutantResult("no-cross", "", True, "rejected"),))

    symbolics = (SymbolicResult("proved", "general"), SymbolicResult("proved", "n ∈ {1, 2}"),
                 SymbolicResult("supported by lemmas", "general", lemmas=("a ≥ 0",)),
                 SymbolicResult("not attempted", detail="an integral"), SymbolicResult("proved", ""))
    line, css = verified_line([FORMULA] * 5, [result(s) for s in symbolics])
    assert css == "ok" and line.startswith(
        "Verified: of 5 claims, 2 proved symbolically in general, 1 proved symbolically for stated dimensions, "
        "1 supported by lemmas, 1 checked numerically only;")
    claims = [claim_view(FORMULA, result(s)) for s in symbolics]
    assert [c.outcome for c in claims] == [SymbolicOutcome.GENERAL, SymbolicOutcome.DIMENSIONS, SymbolicOutcome.LEMMAS,
                                           SymbolicOutcome.NUMERIC_ONLY, SymbolicOutcome.GENERAL]

    def how_checked(views):
        derivation = DerivationView("d", "D", "s P1", None, (), (), tuple(views), "passed", "ok", "", "")
        return group_problems([Placement(None, "Problem 1", (1,), "1")], [derivation])[0].how_checked

    assert how_checked([claims[0], claims[4]]).startswith("Every statement here is proved symbolically in general")
    assert how_checked(claims[:2]).startswith("Checked by symbolic proofs (some for small dimensions)")
    assert how_checked(claims[2:4]).startswith("Checked numerically on random instances")


def test_a_step_says_why_it_was_not_proved_once():
    from checkers import Step
    from checkers.results import ClaimResult, MutantResult, StepResult
    from checkers.symbolic import SymbolicResult

    claim = Claim(id="square", statement="(t+1)² = t² + 2t + 1", lhs=(t + 1) ** 2, rhs=t ** 2 + 2 * t + 1,
                  variables=(Variable("t", Real()),), symbolic=identity(), steps=(Step(t ** 2 + 2 * t + 1, "expand"),),
                  mutants=(Mutant("no-cross", "t² + 1", rhs=t ** 2 + 1),))

    def step_text(symbolic):
        result = ClaimResult("square", "", "=", SymbolicResult("proved", "general"), (StepResult(1, "expand", symbolic,
                             None),), (), (), (MutantResult("no-cross", "", True, "rejected"),))
        return claim_view(claim, result).steps[0].symbolic

    assert step_text(SymbolicResult("not attempted", detail="an integral")) == "not proved symbolically (an integral)"
    assert step_text(SymbolicResult("failed", detail="sympy left t")) == "symbolic check FAILED: sympy left t"
    assert step_text(SymbolicResult("supported by lemmas", lemmas=("a ≥ 0", "a ≥ 0"))) == \
        f"supported by lemmas: {LEMMAS_LEAD}: a ≥ 0"
    assert step_text(SymbolicResult("proved", "general", "lhs - rhs simplifies to 0")) == \
        "proved symbolically in general"
