r"""What a course author meets: the one authoring surface, declared functions, the checks on a declaration, the index, the problem sets."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest
import sympy as sp
import torch

import checkers
from checkers import SIGMOID, Claim, Derivation, Mutant, ProblemSet, Real, Step, Variable, identity
from checkers.errors import AuthoringWarning, DeclarationError, ProofcheckError
from checkers.verify import verify  # not `from checkers import verify`: that rebinds `checkers.verify`, the module

ROOT = Path(__file__).resolve().parent.parent
x = sp.Symbol("x", real=True)
X = (Variable("x", Real(-3.0, 3.0)),)


# -- one authoring surface ---------------------------------------------------------------------------------------
def test_every_name_of_the_surface_resolves():
    missing = [name for name in checkers.__all__ if getattr(checkers, name, None) is None]
    assert missing == []


def test_the_bundled_proofs_import_machinery_only_from_checkers():
    offending = []
    for path in sorted((ROOT / "proofs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("checkers.") or \
                    isinstance(node, ast.Import) and any(a.name.startswith("checkers") for a in node.names):
                offending.append(f"{path.name}:{node.lineno}")
    assert offending == []


# -- declared functions ------------------------------------------------------------------------------------------
def test_the_sigmoid_prints_as_itself_everywhere():
    from checkers.reporting.latex_math import to_latex
    from checkers.reporting.mathml import expression_node, serialize

    derivative = sp.diff(SIGMOID(x), x)
    assert sp.sstr(derivative) == "(1 - σ(x))*σ(x)"  # the grader's "read as"
    assert to_latex(derivative) == r"\left(1 - \sigma\left(x\right)\right) \sigma\left(x\right)"
    mathml = serialize(expression_node(derivative))
    assert mathml.count("<mi>σ</mi>") == 2 and "exp" not in mathml and "sigmoid" not in mathml


def test_the_sigmoid_is_unfolded_for_proofs_and_evaluated_with_torch():
    from checkers.evaluate import evaluate

    assert identity().prove(sp.exp(x) / (1 + sp.exp(x)), SIGMOID(x)).status == "proved"
    assert identity().prove(sp.exp(x), SIGMOID(x)).status == "failed"
    values = torch.linspace(-40, 40, 9, dtype=torch.float64)
    got = evaluate(SIGMOID(x) * (1 - SIGMOID(x)), {"x": values}, {}, dtype=torch.float64, device="cpu", batch=9)
    torch.testing.assert_close(got, torch.sigmoid(values) * (1 - torch.sigmoid(values)))


# -- checks on a declaration -------------------------------------------------------------------------------------
def test_a_chain_that_stops_short_of_the_right_side_is_refused():
    with pytest.raises(ValueError, match="stops at .* short of the right side"):
        Claim(id="short", statement="d/dx log(1 + e^x) = σ(x)", lhs=sp.diff(sp.log(1 + sp.exp(x)), x), rhs=SIGMOID(x),
              variables=X, steps=(Step(sp.exp(x) / (1 + sp.exp(x)), "the chain rule"),),
              mutants=(Mutant("m", "wrong", rhs=sp.exp(x)),))


def test_a_step_identical_to_the_one_before_is_a_warning():
    lhs = sp.exp(x) / (1 + sp.exp(x))
    with pytest.warns(AuthoringWarning, match="step 1 .* identical to the expression before it"):
        Claim(id="repeat", statement="s", lhs=lhs, rhs=SIGMOID(x), variables=X,
              steps=(Step(lhs, "nothing done"), Step(SIGMOID(x), "divide by e^x")),
              mutants=(Mutant("m", "wrong", rhs=sp.exp(x)),))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Claim(id="fine", statement="s", lhs=lhs, rhs=SIGMOID(x), variables=X, steps=(Step(SIGMOID(x), "divide"),),
              mutants=(Mutant("m", "wrong", rhs=sp.exp(x)),))


@pytest.mark.parametrize("symbolic", [identity(), None], ids=["proved", "no-strategy"])
def test_a_surviving_mutant_equal_to_the_claim_is_named_so(symbolic):
    claim = Claim(id="c", statement="s", lhs=sp.exp(x) / (1 + sp.exp(x)), rhs=SIGMOID(x), variables=X, symbolic=symbolic,
                  mutants=(Mutant("same", "1/(1 + e^{-x}), the claim again", rhs=1 / (1 + sp.exp(-x))),
                           Mutant("wrong", "e^x", rhs=sp.exp(x))), dtypes=(torch.float64,), instances=50)
    run = verify([Derivation(id="d", title="t", source="hw1 P1", claims=(claim,))], seed=0, devices=["cpu"])
    same, wrong = run.derivations[0].claims[0].mutants
    assert not same.caught and same.evidence.startswith("this mutant equals the claim"), same.evidence
    assert "unsound" not in same.evidence
    assert wrong.caught


# -- the static index --------------------------------------------------------------------------------------------
MODULE = '''"""A course module."""
from checkers import Claim, Misconception, Mutant, Problem, Real, Symbol, Variable
import sympy as sp

x = sp.Symbol("x", real=True)
WIDTH = 3.0
claim = Claim(id="c", statement="s", lhs=2 * x, rhs=x + x, variables=(Variable("x", Real(-WIDTH, WIDTH)),),
              mutants=(Mutant("m", "3x", rhs=3 * x),))
other = Claim(id="o", statement="s", lhs=x, rhs=x, variables=(Variable("x", Real(-1, 1)),),
              mutants=(Mutant("m", "2x", rhs=2 * x),))
GRADEABLE = (Problem(id="p", title="Twice x", source="hw1 P1", claim=claim, symbols=(Symbol(x, "x"),),
                     misconceptions=(Misconception("m", "not 3x", 3 * x),)),)
'''


def test_the_index_goes_stale_only_when_a_gradeable_declaration_changes(tmp_path, monkeypatch):
    import checkers.registry as registry
    from checkers.grading.catalog import sources_digest

    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "__init__.py").write_text('"""A course."""\n')
    module = tmp_path / "course" / "week1.py"
    monkeypatch.setattr(registry, "package_directory", lambda package: tmp_path / package)

    def digest(text: str) -> str:
        module.write_text(text)
        return sources_digest("course")

    base = digest(MODULE)
    assert digest(MODULE.replace('"""A course module."""', '"""Edited prose."""\n# a comment')) == base
    assert digest(MODULE.replace('lhs=x, rhs=x', 'lhs=x + 0, rhs=x')) == base  # a claim no problem grades
    assert digest(MODULE.replace('title="Twice x"', 'title="Two x"')) != base  # the declaration itself
    assert digest(MODULE.replace("WIDTH = 3.0", "WIDTH = 4.0")) != base  # a name the graded claim uses
    assert digest(MODULE.replace('"not 3x"', '"not three x"')) != base


# -- problem sets and the command line ---------------------------------------------------------------------------
def test_problem_sets_come_from_the_proof_package():
    from checkers.registry import problem_sets, warm_first
    from checkers.reporting.problem_sets import group_by_set

    sets = problem_sets()
    assert [s.id for s in sets][:2] == ["hw6-2021", "student-hw6"]
    assert sets[0].heading == "Homework 6 (due 2021-11-09)" and warm_first() == ("kl-gaussian",)
    quiz = ProblemSet("q1", "Quiz 1", "", date="2030-01-01", numbering="Question")
    claim = Claim(id="c", statement="s", lhs=x, rhs=x, variables=X, mutants=(Mutant("m", "2x", rhs=2 * x),))
    groups = group_by_set([Derivation(id="d", title="t", source="q1 P2", claims=(claim,))], [quiz])
    ((problem_set, (placement,)),) = groups.items()
    assert problem_set.heading == "Quiz 1 (2030-01-01)" and placement.label == "Question 2"
    assert (placement.number, placement.letter) == ("2", "")
    part = Derivation(id="e", title="t", source="q1 P2(b)", claims=(claim,))
    ((_, (_, placement)),) = group_by_set([part, Derivation(id="d", title="t", source="q1 P2", claims=(claim,))],
                                          [quiz]).items()
    assert (placement.label, placement.number, placement.letter) == ("Question 2(b)", "2", "(b)")


def test_a_source_is_read_once_into_citations():
    from checkers.model import Citation

    claim = Claim(id="c", statement="s", lhs=x, rhs=x, variables=X, mutants=(Mutant("m", "2x", rhs=2 * x),))
    derivation = Derivation(id="d", title="t", source="hw6-2021 P1, hw7-2024 P3, student-hw6 P4(b)", claims=(claim,))
    assert derivation.source == "hw6-2021 P1, hw7-2024 P3, student-hw6 P4(b)"  # printed as written
    assert derivation.citations == (Citation("hw6-2021", "P1", 1), Citation("hw7-2024", "P3", 3),
                                     Citation("student-hw6", "P4(b)", 4, "(b)", "(b)"))
    assert derivation.problem_sets == ("hw6-2021", "hw7-2024", "student-hw6")
    assert derivation.citation("student-hw6").label("Question") == "Question 4(b)"
    unnumbered = Derivation(id="e", title="t", source="quiz1-2020 bonus (ii)", claims=(claim,)).citation("quiz1-2020")
    assert (unnumbered.number, unnumbered.letter, unnumbered.label()) == (None, "(ii)", "bonus (ii)")


@pytest.mark.parametrize("source, says", [("hw6-2021 P1,", "has a part '' that cites no problem"),
                                          ("hw6-2021", "has a part 'hw6-2021' that cites no problem"),
                                          ("hw6-2021 P1, hw6-2021 P2", "cites hw6-2021 twice")])
def test_a_malformed_source_is_a_declaration_error_naming_the_derivation(source, says):
    claim = Claim(id="c", statement="s", lhs=x, rhs=x, variables=X, mutants=(Mutant("m", "2x", rhs=2 * x),))
    with pytest.raises(DeclarationError, match=f"derivation 'broken': source {source!r} {says}") as caught:
        Derivation(id="broken", title="t", source=source, claims=(claim,))
    assert isinstance(caught.value, ProofcheckError)


def test_a_missing_subcommand_module_is_an_error_not_a_silent_omission(monkeypatch, capsys):
    from checkers import cli

    monkeypatch.setattr(cli, "EXTENSIONS", (*cli.EXTENSIONS, "checkers.no_such_module"))
    assert cli.main(["list", "--json"]) == 2
    assert "without its module checkers.no_such_module" in capsys.readouterr().err
