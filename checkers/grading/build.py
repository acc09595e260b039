r"""Parse tree -> sympy objects, by construction: every node becomes sp.Symbol, sp.MatrixSymbol, sp.Add, ...

Nothing here parses text with sympy (no sympify, parse_expr or parse_latex): names are looked up in
the problem's symbol table, numbers become exact rationals, and each operation checks shapes first,
so `\mu_0 + 1` or `\Sigma_1 (\mu_1 - \mu_0)^T` is refused with a message naming the student's own
text. A 1 x 1 product (a quadratic form) becomes a (commuting) `Scalar(...)` so it can stand in scalar
formulas.
Numbers and exponents are bounded so that sympy's eager arithmetic cannot blow up (2^{2^{2^{99}}}):
every exact number a formula produces has at most MAX_DIGITS digits (float64 reaches 1.8e308, so no
evaluable answer needs more), an integer power is refused before it is computed if its result would
be longer, and messages abbreviate any number longer than 30 digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import sympy as sp
from lark import Token, Tree
from sympy.matrices.exceptions import NonSquareMatrixError, ShapeError

from checkers.errors import StudentInputError
# The logistic sigmoid (checkers.functions): `\operatorname{sigmoid}(z)` always, and `\sigma(z)` in a problem that
# declares `Symbol(SIGMOID, r"\sigma")`; it prints as σ(z) and is unfolded only where sympy reasons.
from checkers.functions import SIGMOID
from checkers.grading.build_arithmetic import ArithmeticMixin
from checkers.grading.build_functions import FunctionMixin
from checkers.grading.build_matrices import MatrixMixin
from checkers.grading.build_sums import SumMixin
from checkers.grading.build_values import (
    MAX_DIGITS, MAX_EXPONENT, MAX_MATRIX_ENTRIES, MAX_MATRIX_POWER, MAX_SNIPPET, MAX_SUM_TERMS,
    CommutingScalar, Transposed, commuting, describe, describe_number, digits, is_function, is_matrix, is_too_long,
    spelling_key,
)
from checkers.grading.lexer import Vocabulary, abbreviate_numbers
from checkers.reductions import IndexedMax, IndexedMin

__all__ = [  # what other modules import from here (the mixins and values live in build_*.py)
    "MAX_DIGITS", "MAX_EXPONENT", "MAX_MATRIX_ENTRIES", "MAX_MATRIX_POWER", "MAX_SUM_TERMS", "SIGMOID", "Builder",
    "CommutingScalar", "SymbolTable", "build", "commuting", "describe", "describe_number", "digits",
    "family_ranges_from", "is_function", "is_matrix", "spelling_key",
]

_WITH_COEFFICIENT = (sp.Mul, sp.Add, sp.MatMul, sp.MatAdd)  # the sympy forms whose first argument is a number


@dataclass
class SymbolTable:
    """What names mean in one problem: spelling key -> sympy object (or expression), indexed families, dimensions."""

    entries: dict[str, sp.Basic]
    families: dict[str, sp.IndexedBase] = field(default_factory=dict)
    dimensions: frozenset[sp.Symbol] = frozenset()
    listing: str = ""  # "x, b, \Sigma, A, n" for messages
    sum_range: tuple[sp.Basic, sp.Basic] | None = None  # what `\sum_j` (no limits) runs over, e.g. (1, n)
    dimension_values: tuple[dict[sp.Symbol, sp.Integer], ...] = ()  # every checked combination, e.g. d = 1..5
    family_ranges: dict[sp.IndexedBase, tuple[sp.Basic, sp.Basic]] = field(default_factory=dict)  # x -> (1, n)

    def lookup(self, spelling: str) -> sp.Basic | None:
        return self.entries.get(spelling_key(spelling))

    @cached_property
    def vocabulary(self) -> Vocabulary:
        """The declared names as the lexer sees them: letters-only prefixes of the spellings, and functions."""
        words, functions = set(), set()
        for key, value in self.entries.items():
            word = _LETTERS.match(key)
            if word is None:
                continue
            (functions if is_function(value) else words).add(word.group())
        words.update(w.group() for w in map(_LETTERS.match, self.families) if w is not None)
        phrases = frozenset(key for key in self.entries if "(" in key)
        return Vocabulary(words=frozenset(words), functions=frozenset(functions), phrases=phrases)


_LETTERS = re.compile(r"[A-Za-z]+")


def family_ranges_from(expr: sp.Basic) -> dict[sp.IndexedBase, tuple[sp.Basic, sp.Basic]]:
    """The index range of each indexed family that `expr` sums over: Sum(x[i], (i, 1, n)) gives x -> (1, n).

    What a bare `\\sum_i x_i` (or `\\max_i`) in an answer runs over, when the problem declares no `sum_range`;
    a family summed over two different ranges gets none.
    """
    found: dict[sp.IndexedBase, set] = {}
    for node in sp.preorder_traversal(expr):
        if isinstance(node, (sp.Sum, IndexedMax, IndexedMin)):
            for var, low, high in node.limits:
                for e in node.function.atoms(sp.Indexed):
                    if len(e.indices) == 1 and e.indices[0] == var:
                        found.setdefault(e.base, set()).add((low, high))
    return {base: ranges.pop() for base, ranges in found.items() if len(ranges) == 1}



class Builder(ArithmeticMixin, MatrixMixin, FunctionMixin, SumMixin):
    """Builds one formula's sympy expression from its parse tree, in a problem's symbol table.

    `node` dispatches on the parse-tree rule to a method `n_<rule>`; the methods live in one mixin per topic.
    """

    def __init__(self, table: SymbolTable, text: str):
        self.table, self.text = table, text
        self.bound: dict[str, sp.Symbol] = {}
        self.matrix_roots = False  # set when Σ^{1/2} is written: check_final then looks for survivors

    # -- helpers -------------------------------------------------------------------------------
    def snippet(self, tree) -> str:
        meta = getattr(tree, "meta", None)
        if isinstance(tree, Token):
            return str(tree.value)
        if meta is None or getattr(meta, "empty", True):
            return "…"
        text = self.text[meta.start_pos:meta.end_pos].strip()
        return text if len(text) <= MAX_SNIPPET else f"{text[:MAX_SNIPPET // 2 - 1]}…{text[-(MAX_SNIPPET // 2 - 1):]}"

    def fail(self, message: str) -> StudentInputError:
        return StudentInputError(abbreviate_numbers(message))

    def too_long(self, v) -> StudentInputError:
        return self.fail(f"the number {describe_number(v)} has more than {MAX_DIGITS} digits; exact numbers in "
                         f"an answer are limited to {MAX_DIGITS} digits")

    def check_size(self, value) -> None:
        """Refuse an exact number longer than MAX_DIGITS, alone or as a coefficient/term of the result."""
        if isinstance(value, sp.Rational):
            if is_too_long(value):
                raise self.too_long(value)
        elif isinstance(value, _WITH_COEFFICIENT):  # sympy keeps the numeric coefficient / term first
            first = value.args[0]
            if isinstance(first, sp.Rational) and is_too_long(first):
                raise self.too_long(first)

    @staticmethod
    def _children(tree: Tree) -> list:
        """Subtrees and the NAME/NUMBER/FUNC tokens that carry meaning (punctuation dropped)."""
        return [c for c in tree.children if isinstance(c, Tree) or c.type in ("NAME", "NUMBER", "FUNC", "TOP")]

    # -- entry ---------------------------------------------------------------------------------
    def build(self, tree) -> sp.Basic:
        try:
            value = self.node(tree)
        except RecursionError:
            raise StudentInputError("the answer is nested too deeply to grade") from None
        if isinstance(value, Transposed):
            raise self.fail("a transpose sign on its own is not a formula")
        self.check_final(value)
        return value

    def check_final(self, value) -> None:
        """Refuse matrix roots that survived outside a determinant (only searched for if one was written)."""
        if not self.matrix_roots:
            return
        for node in sp.preorder_traversal(value):
            if isinstance(node, sp.MatPow) and not node.exp.is_Integer:
                raise self.fail(f"the matrix power {node} is only understood inside a determinant "
                                f"(det(Σ^{{1/2}}) = det(Σ)^{{1/2}}); write quadratic forms with Σ^{{-1}}")

    def node(self, tree):
        if isinstance(tree, Token):
            raise self.fail(f"unexpected {tree.value!r}")
        method = getattr(self, "n_" + tree.data, None)
        if method is None:
            raise self.fail(f"cannot read `{self.snippet(tree)}`")
        try:
            value = method(tree)
        except (ShapeError, NonSquareMatrixError) as exc:  # sympy's own shape checks, should ours miss one
            raise self.fail(f"`{self.snippet(tree)}`: {exc}") from None
        if value is sp.zoo or value is sp.nan or value is sp.oo or value is sp.S.NegativeInfinity:
            raise self.fail(f"`{self.snippet(tree)}` divides by zero or is infinite")
        if not isinstance(value, Transposed):
            self.check_size(value)
        return value

    def value(self, tree):
        """A node that must be a formula (not a bare transpose marker)."""
        v = self.node(tree)
        if isinstance(v, Transposed):
            raise self.fail(f"`{self.snippet(tree)}`: ^T / \\top only makes sense as an exponent")
        return v



def build(tree: Tree, table: SymbolTable, text: str) -> sp.Basic:
    """The sympy expression of a parsed formula in a problem's symbol table."""
    return Builder(table, text).build(tree)
