r"""The parser against sympy's own LaTeX test corpus: every formula is read as sympy's reader reads it, or refused.

sympy's `sympy/parsing/tests/test_latex.py` (in the installed sympy) pairs 185 LaTeX strings with the
expression sympy's LaTeX reader gives (GOOD_PAIRS). Every letter is declared as a scalar quantity,
except the names sympy applies as functions (f, h_θ), which are left undeclared. A string we read must
mean what sympy reads; a string we cannot be sure of is refused with a reason. A different reading is a
guess: there must be none. sympy's expected expressions are never built from the student text here
(they are Python objects in sympy's test module); our side goes through the grader's own parser.
"""

from __future__ import annotations

import random
import string

import pytest
import sympy as sp

from checkers.errors import StudentInputError
from checkers.grading.build import SymbolTable
from checkers.grading.parse import parse_formula

test_latex = pytest.importorskip("sympy.parsing.tests.test_latex")
GOOD_PAIRS = test_latex.GOOD_PAIRS


def _table(expected: sp.Basic) -> SymbolTable:
    functions = {type(f).__name__ for f in sp.sympify(expected).atoms(sp.core.function.AppliedUndef)}
    letters = [c for c in string.ascii_letters if c not in functions] + ["theta"]
    entries = {name: sp.Symbol(name) for name in letters}
    return SymbolTable(entries=entries, listing=", ".join(letters))


def _same(ours: sp.Basic, expected: sp.Basic) -> bool:
    """Equal as functions of their symbols: exact simplification, else agreement at random points."""
    expected = sp.sympify(expected).doit().xreplace({sp.Symbol("pi"): sp.pi})  # sympy's reader keeps \pi as a symbol named pi
    if not isinstance(expected, sp.Expr) or not isinstance(ours, sp.Expr):
        return False
    try:
        if sp.simplify(ours - expected) == 0:
            return True
    except Exception:  # noqa: BLE001 - undecided by sympy: the numeric test below decides
        pass
    names = sorted(ours.free_symbols | expected.free_symbols, key=str)
    rng = random.Random(0)
    for _ in range(3):
        point = {s: sp.Float(rng.uniform(0.5, 2.0)) for s in names}
        try:
            a, b = complex(sp.N(ours.xreplace(point))), complex(sp.N(expected.xreplace(point)))
        except (TypeError, ValueError):  # a derivative, a relation: not a number, so not what we read
            return False
        if abs(a - b) > 1e-9 * max(1.0, abs(b)):
            return False
    return True


def read(text: str, expected: sp.Basic):
    """Our reading of `text`, or None when it is refused."""
    try:
        return parse_formula(text, _table(expected))
    except StudentInputError:
        return None


# Formulas of our own in the same spirit: (text, what TeX means), or (text, None) where the reading is not sure.
x, y, a, b, n = sp.symbols("x y a b n")
OWN = [
    (r"\sin a \cos b", sp.sin(a) * sp.cos(b)),
    (r"\log n \cos x", sp.log(n) * sp.cos(x)),
    (r"\log \cos x", sp.log(sp.cos(x))),
    (r"\exp a \exp b", sp.exp(a) * sp.exp(b)),
    (r"\log 2 \pi x", sp.log(2 * sp.pi * x)),
    (r"\log x \cdot y", sp.log(x) * y),
    (r"x(1 - x)", x * (1 - x)),  # x is declared: a product
    (r"a'", None),
    (r"a' b", None),
    (r"\frac{d}{dx} y", None),
    (r"\frac{d y}{d x}", None),
    (r"\frac{d^2 y}{dx^2}", None),
    (r"\mathit{ab}", None),
    (r"\mathrm{xy}", None),
]


def test_sympys_latex_corpus_has_no_different_reading():
    outcome = {"equal": [], "refused": [], "different": []}
    for text, expected in GOOD_PAIRS:
        ours = read(text, expected)
        if ours is None:
            outcome["refused"].append(text)
        elif _same(ours, expected):
            outcome["equal"].append(text)
        else:
            outcome["different"].append((text, ours, expected))
    assert len(GOOD_PAIRS) == sum(map(len, outcome.values())) >= 180
    assert outcome["different"] == [], outcome["different"]
    assert len(outcome["equal"]) >= 70, len(outcome["equal"])  # most of what a student writes is read


@pytest.mark.parametrize("text, meaning", OWN)
def test_own_corpus_reads_as_tex_or_is_refused(text, meaning):
    ours = read(text, sp.Integer(0))
    if meaning is None:
        assert ours is None, (text, ours)
    else:
        assert ours is not None and _same(ours, meaning), (text, ours, meaning)


@pytest.mark.parametrize("text", [r"a'b+ab'", r"\sin a \cos b", r"\frac{d}{dt} x", r"\frac{d f(x)}{dx}",
                                  r"\mathit{test}"])
def test_the_readings_that_differed_from_sympys_are_gone(text):
    expected = dict(GOOD_PAIRS)[text]
    ours = read(text, expected)
    assert ours is None or _same(ours, expected), (text, ours, expected)
