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

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

import sympy as sp
from lark import Token, Tree
from sympy.matrices.exceptions import NonInvertibleMatrixError, NonSquareMatrixError, ShapeError
from sympy.matrices.expressions.matexpr import MatrixElement

from checkers.errors import StudentInputError
from checkers.grading.lexer import Vocabulary, abbreviate_number, abbreviate_numbers
from checkers.notation import Scalar
from checkers.reductions import IndexedMax, IndexedMin

MAX_EXPONENT = 1000  # |p| for x^p with numeric p
MAX_DIGITS = 300  # digits of any exact number (numerator or denominator) a formula produces
MAX_MATRIX_POWER = 64
MAX_SUM_TERMS = 10_000
MAX_MATRIX_ENTRIES = 400
MAX_SNIPPET = 60  # characters of the student's text quoted in a message
_LOG10_2 = math.log10(2)


def spelling_key(spelling: str) -> str:
    r"""The form spellings are compared in: `\Sigma_{0}`, `\Sigma_0`, `Sigma0` -> `Sigma0`."""
    return spelling.replace("\\", "").replace("{", "").replace("}", "").replace("_", "").replace(" ", "")


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


def is_function(value) -> bool:
    """Whether a symbol-table entry is a function (a sympy Lambda or function class), applied as f(x)."""
    return isinstance(value, (sp.Lambda, sp.FunctionClass))


def digits(n: int) -> int:
    """The number of decimal digits of |n| (exact for the sizes that matter; never converts n to a string)."""
    n = abs(int(n))
    if n < 10 ** 18:
        return len(str(n))
    estimate = int(n.bit_length() * _LOG10_2)
    return estimate + 1 if n >= 10 ** estimate else estimate


def _number_digits(v) -> int:
    """Digits of the longer of numerator and denominator of a sympy Rational (0 for other numbers)."""
    if not v.is_Rational:
        return 0
    return max(digits(v.p), digits(v.q))


_WITH_COEFFICIENT = (sp.Mul, sp.Add, sp.MatMul, sp.MatAdd)
_SHORT_BITS = int(MAX_DIGITS / _LOG10_2) - 1  # an integer of at most this many bits has at most MAX_DIGITS digits


def _long(v) -> bool:
    """Whether a sympy Rational has more than MAX_DIGITS digits (cheap bit-length test first)."""
    if v.p.bit_length() <= _SHORT_BITS and v.q.bit_length() <= _SHORT_BITS:
        return False
    return _number_digits(v) > MAX_DIGITS


def describe_number(v) -> str:
    """A sympy Rational for a message, abbreviated past 30 digits."""
    if v.is_Integer:
        return abbreviate_number(str(v.p)) if digits(v.p) < 5000 else f"(a number of about {digits(v.p)} digits)"
    return f"{describe_number(sp.Integer(v.p))}/{describe_number(sp.Integer(v.q))}"


class _Transposed:
    """Marker for an exponent that means transpose (`^T`, `^\\top`) or inverse transpose (`^{-T}`)."""

    def __init__(self, inverse: bool):
        self.inverse = inverse


def is_matrix(v) -> bool:
    return isinstance(v, sp.MatrixExpr)


def describe(v) -> str:
    """'a scalar', 'a d×1 vector', 'a 1×d row vector', 'a d×d matrix'."""
    if not is_matrix(v):
        return "a scalar"
    rows, cols = v.shape
    if cols == 1:
        return f"a {rows}×1 vector"
    if rows == 1:
        return f"a 1×{cols} row vector"
    return f"a {rows}×{cols} matrix"


class CommutingScalar(Scalar):
    """notation.Scalar that sympy treats as commutative: what student formulas use for 1 x 1 products.

    notation.Scalar inherits non-commutativity from its matrix argument, and sympy refuses
    non-commutative scalar factors in matrix products and rewrites ((xᵀb) bᵀ, |‖(x−b)ᵀx(b−x)‖²|,
    Abs's sign simplification). The 1 x 1 entry is a real number, so it commutes; this subclass says
    so, and the evaluator and the symbolic strategies treat it like any Scalar.
    """

    is_commutative = True


def commuting(s):
    """`s` with every notation.Scalar(...) made a CommutingScalar (as student formulas have them)."""
    if s.is_commutative is not False:
        return s
    return s.replace(lambda e: type(e) is Scalar, lambda e: CommutingScalar(*e.args))


def _scalarize(v):
    """A 1 x 1 matrix product (a quadratic form) becomes a scalar wrapper usable in scalar formulas."""
    if is_matrix(v) and v.rows == 1 and v.cols == 1:
        return CommutingScalar(v)
    return v


def _add(a, b):
    """a + b; matrices are added without sympy's canonicalising doit() (slow, and not needed to evaluate)."""
    return sp.MatAdd(a, b) if is_matrix(a) else a + b


def _transpose(v):
    """vᵀ without sympy's distributing doit(); scalars are their own transpose."""
    if not is_matrix(v):
        return v
    if isinstance(v, sp.MatrixSymbol):
        return v.T
    return sp.Transpose(v)


def _neg(v):
    return sp.MatMul(sp.Integer(-1), v) if is_matrix(v) else -v


def _apply(func, *args):
    """func(*args), or its unevaluated form where sympy's automatic simplification cannot cope.

    Abs, log and powers try sign and power simplifications when they are built; on arguments holding
    matrix expressions (|‖μ₁ − μ₀‖²|) sympy can raise from inside them. The unevaluated form means the
    same and evaluates numerically the same.
    """
    try:
        return func(*args)
    except (NotImplementedError, TypeError, AttributeError, ValueError):  # ValueError: Max of "not comparable" sums
        return func(*args, evaluate=False)


def _sqrt(x):
    return _apply(sp.Pow, x, sp.Rational(1, 2))


def _square(v) -> bool:
    return is_matrix(v) and v.rows == v.cols


# The logistic sigmoid (checkers.functions): `\operatorname{sigmoid}(z)` always, and `\sigma(z)` in a problem that
# declares `Symbol(SIGMOID, r"\sigma")`; it prints as σ(z) and is unfolded only where sympy reasons.
from checkers.functions import SIGMOID  # noqa: E402 - kept here, where the grammar's functions are listed

# Functions the grammar knows by name; any other FUNC token is a function the problem declares.
_SCALAR_FUNCTIONS = {"tanh": "tanh", "sin": "sin", "cos": "cos", "sigmoid": "the sigmoid", "relu": "ReLU"}
_BUILTIN_FUNCTIONS = frozenset({"log", "exp", "sqrt", "det", "logdet", "tr", "inv", "max", "min", *_SCALAR_FUNCTIONS})


class Builder:
    """Builds one formula's sympy expression from its parse tree, in a problem's symbol table."""

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
            if _long(value):
                raise self.too_long(value)
        elif isinstance(value, _WITH_COEFFICIENT):  # sympy keeps the numeric coefficient / term first
            first = value.args[0]
            if isinstance(first, sp.Rational) and _long(first):
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
        if isinstance(value, _Transposed):
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
        if not isinstance(value, _Transposed):
            self.check_size(value)
        return value

    def value(self, tree):
        """A node that must be a formula (not a bare transpose marker)."""
        v = self.node(tree)
        if isinstance(v, _Transposed):
            raise self.fail(f"`{self.snippet(tree)}`: ^T / \\top only makes sense as an exponent")
        return v

    # -- arithmetic ----------------------------------------------------------------------------
    def _left_chain(self, tree, ops: tuple[str, ...]):
        """Flatten a left-recursive chain (a + b - c ...) without recursion: [(rule, operator, subtree), ...]."""
        items = []
        node = tree
        while isinstance(node, Tree) and node.data in ops:
            op = node.children[1] if len(node.children) == 3 else None
            items.append((node.data, str(op.value) if isinstance(op, Token) else "", node.children[-1]))
            node = node.children[0]
        items.append(("first", "", node))
        items.reverse()
        return items

    def n_add(self, tree):
        items = self._left_chain(tree, ("add", "sub"))
        total = self.value(items[0][2])
        for op, _, sub in items[1:]:
            term = self.value(sub)
            if is_matrix(total) != is_matrix(term) or (is_matrix(total) and total.shape != term.shape):
                word = "add" if op == "add" else "subtract"
                raise self.fail(f"cannot {word} {describe(term)} (`{self.snippet(sub)}`) and {describe(total)} "
                                f"(`{self.snippet(items[0][2]) if len(items) == 2 else self.snippet(tree)}`)")
            total = _add(total, term if op == "add" else _neg(term))
        return total

    n_sub = n_add

    def multiply(self, a, b, tree_a, tree_b, dot: bool = False):
        if not is_matrix(a) and not is_matrix(b):
            return a * b
        if not is_matrix(a) or not is_matrix(b):
            return sp.MatMul(a, commuting(b)) if is_matrix(a) else sp.MatMul(commuting(a), b)
        if a.cols == b.rows:
            return _scalarize(sp.MatMul(a, b))
        if dot and a.shape == b.shape and a.cols == 1:
            return CommutingScalar(sp.MatMul(_transpose(a), b))
        hint = " (did you forget a transpose?)" if a.cols == 1 and b.cols == 1 or a.rows == 1 and b.rows == 1 else ""
        raise self.fail(f"cannot multiply {describe(a)} (`{self.snippet(tree_a)}`) by {describe(b)} "
                        f"(`{self.snippet(tree_b)}`): the inner sizes {a.cols} and {b.rows} differ{hint}")

    def divide(self, a, b, tree_b):
        if is_matrix(b):
            raise self.fail(f"cannot divide by {describe(b)} (`{self.snippet(tree_b)}`); multiply by its inverse ^{{-1}}")
        if b is sp.S.Zero:
            raise self.fail(f"division by zero (`{self.snippet(tree_b)}`)")
        return self.multiply(a, self.power_scalar(b, sp.Integer(-1)), None, None)

    def n_mul(self, tree):
        items = self._left_chain(tree, ("mul", "div", "imul"))
        acc_tree = items[0][2]
        acc = self.value(acc_tree)
        for rule, op, sub in items[1:]:
            v = self.value(sub)
            if rule == "div":
                acc = self.divide(acc, v, sub)
            elif op == "\\times" and is_matrix(acc) and is_matrix(v) and acc.cols == 1 and v.cols == 1:
                raise self.fail(f"`{self.snippet(tree)}`: × between two vectors would be a cross product, which is not "
                                f"defined here; write a dot product as x^T y or x \\cdot y")
            else:
                acc = self.multiply(acc, v, acc_tree, sub, dot=op == "\\cdot")
            acc_tree = tree
        return acc

    n_div = n_imul = n_mul

    def n_neg(self, tree):
        sign = -1 if tree.data == "neg" else 1
        node = self._children(tree)[0]
        while isinstance(node, Tree) and node.data in ("neg", "pos"):
            sign = -sign if node.data == "neg" else sign
            node = self._children(node)[0]
        v = self.node(node)
        if isinstance(v, _Transposed):
            if sign == -1 and not v.inverse:
                return _Transposed(inverse=True)
            raise self.fail(f"`{self.snippet(tree)}` is not an exponent this grader understands")
        return _neg(v) if sign == -1 else v

    n_pos = n_neg

    # -- leaves --------------------------------------------------------------------------------
    def n_number(self, tree):
        (tok,) = self._children(tree)
        text = str(tok.value)
        if text.isdigit():
            return sp.Integer(int(text))
        f = Fraction(text)
        return sp.Rational(f.numerator, f.denominator)

    def n_group(self, tree):
        (inner,) = self._children(tree)
        return self.node(inner)

    def n_top(self, tree):
        return _Transposed(inverse=False)

    def n_name(self, tree):
        (tok,) = self._children(tree)
        return self.resolve(str(tok.value), None)

    def unknown(self, display: str) -> StudentInputError:
        return self.fail(f"unknown symbol {display}; this problem's symbols are {self.table.listing}")

    def resolve(self, name: str, sub) -> sp.Basic:
        """A name with an optional subscript subtree -> its sympy value (symbol, constant, indexed entry)."""
        if sub is None:
            key = spelling_key(name)
            if key in self.bound:
                return self.bound[key]
            found = self.table.lookup(name)
            if found is not None:
                return found
            if key in ("pi",):
                return sp.pi
            if key == "e":
                return sp.E
            if name in ("T",):
                return _Transposed(inverse=False)
            if not name.startswith("\\") and name.isalpha() and len(name) > 1:
                parts = [self.table.lookup(ch) for ch in name]
                if all(p is not None and not is_matrix(p) for p in parts):  # `xy` as x·y (scalars only)
                    return sp.Mul(*parts)
            if key in self.table.families:
                raise self.fail(f"{name} needs an index, e.g. {name}_k")
            raise self.unknown(name)
        vector = self.table.lookup(name)
        if isinstance(vector, sp.MatrixSymbol) and vector.cols != 1 and vector.rows != 1:
            entry = self.matrix_entry(vector, name, sub)  # before spellings: P_{ij} in a sum is an entry
            if entry is not None:
                return entry
        text = self.simple_text(sub)
        if text is not None:
            found = self.table.lookup(f"{name}_{text}")
            if found is not None:
                return found
        family = self.table.families.get(spelling_key(name))
        if family is not None:
            return self.indexed(family, name, sub)
        if isinstance(vector, sp.MatrixSymbol) and vector.cols == 1 and self.bound:
            index = self.index_value(sub, name)
            bound = set(self.bound.values())
            if index.free_symbols & bound and index.free_symbols <= bound | set(self.table.dimensions) and all(
                    a.is_Integer for a in index.atoms(sp.Number)):
                return self.entry(vector, name, index, sp.Integer(1), sub)  # x_j, j bound by a \sum: entry j from 1
        display = f"{name}_{text}" if text is not None and len(text) == 1 else f"{name}_{{{text or self.snippet(sub)}}}"
        raise self.unknown(display)

    def simple_text(self, sub) -> str | None:
        """'0' for `_0`, `_{0}`; 'k' for `_k`; None for `_{k-1}`."""
        node = sub
        while isinstance(node, Tree) and node.data == "group":
            node = self._children(node)[0]
        if isinstance(node, Tree) and node.data in ("number", "name"):
            return str(self._children(node)[0].value)
        return None

    def index_value(self, sub, name: str):
        index = self.value(sub)
        if is_matrix(index):
            raise self.fail(f"the index of {name} must be a whole number, not {describe(index)}")
        return index

    def indexed(self, family: sp.IndexedBase, name: str, sub) -> sp.Basic:
        index = self.value(sub)
        if is_matrix(index):
            raise self.fail(f"the index of {name} must be a whole number, not {describe(index)}")
        allowed = set(self.bound.values()) | set(self.table.dimensions)
        stray = [s for s in index.free_symbols if s not in allowed]
        if stray or any(not a.is_Integer for a in index.atoms(sp.Number)):
            raise self.fail(f"the index of {name}_{{{self.snippet(sub)}}} must be a whole-number expression of "
                            f"summation indices and {', '.join(sorted(str(d) for d in self.table.dimensions)) or 'integers'}")
        return family[index]

    # -- scripts -------------------------------------------------------------------------------
    def n_scripted(self, tree):
        atom, scripts = self._children(tree)
        scripts = self._children(scripts)
        subs = [s for s in scripts if s.data == "subscript"]
        rest = [s for s in scripts if s.data != "subscript"]
        inner = atom
        while isinstance(inner, Tree) and inner.data == "group" and isinstance(self._children(inner)[0], Tree) \
                and self._children(inner)[0].data == "name":
            inner = self._children(inner)[0]  # {x}_0 from \mathbf{x}_0
        if subs:
            if len(subs) > 1:
                raise self.fail(f"two subscripts on `{self.snippet(tree)}`")
            (sub_arg,) = self._children(subs[0])
            if isinstance(inner, Tree) and inner.data == "name":
                value = self.resolve(str(self._children(inner)[0].value), sub_arg)
            elif isinstance(inner, Tree) and inner.data == "norm" and self.simple_text(sub_arg) == "2":
                value = self.value(atom)  # \|v\|_2 is the Euclidean norm
            else:
                raise self.fail(f"a subscript on `{self.snippet(atom)}` is not understood")
        else:
            value = self.node(atom)
        if isinstance(value, _Transposed):
            raise self.fail(f"`{self.snippet(tree)}`: ^T / \\top only makes sense as an exponent")
        return self.apply_scripts(value, rest, atom)

    def apply_scripts(self, value, scripts, base_tree):
        for s in scripts:
            if s.data == "prime":
                if not is_matrix(value):
                    raise self.fail(f"a prime on the scalar `{self.snippet(base_tree)}` reads in TeX as a derivative or "
                                    f"another name (f', x'), which this grader does not take; a prime transposes only "
                                    f"vectors and matrices")
                value = _transpose(value)
            elif s.data == "superscript":
                (arg,) = self._children(s)
                value = self.power(value, arg, base_tree)
            else:
                raise self.fail(f"a subscript on `{self.snippet(base_tree)}` is not understood")
        return value

    def power(self, base, exp_tree, base_tree):
        exponent = self.node(exp_tree)
        if isinstance(exponent, _Transposed):
            if not is_matrix(base):
                return 1 / base if exponent.inverse else base
            if exponent.inverse:
                return self.inverse(_transpose(base), base_tree)
            return _transpose(base)
        if is_matrix(exponent):
            raise self.fail(f"the exponent `{self.snippet(exp_tree)}` is {describe(exponent)}, not a number")
        if is_matrix(base):
            if not _square(base):
                hint = " (for a vector v, write v^T v or \\|v\\|^2)" if 1 in base.shape else ""
                raise self.fail(f"cannot raise {describe(base)} (`{self.snippet(base_tree)}`) to a power{hint}")
            if exponent.is_Integer:
                k = int(exponent)
                if abs(k) > MAX_MATRIX_POWER:
                    raise self.fail(f"the matrix power {describe_number(exponent)} is too large to grade "
                                    f"(at most {MAX_MATRIX_POWER})")
                if k == -1:
                    return self.inverse(base, base_tree)
                if k == 0:
                    return sp.Identity(base.rows)
                return sp.MatPow(base, k) if k > 0 else sp.MatPow(self.inverse(base, base_tree), -k)
            if exponent.is_Rational:
                self.matrix_roots = True
                return sp.MatPow(base, exponent)  # only valid under det; check_final refuses it elsewhere
            raise self.fail(f"a matrix (`{self.snippet(base_tree)}`) can only be raised to a whole-number power")
        if base is sp.E:
            return _apply(sp.exp, exponent)
        return self.power_scalar(base, exponent)

    def power_scalar(self, base, exponent):
        if exponent.is_Number:
            if abs(exponent) > MAX_EXPONENT:
                raise self.fail(f"the exponent {describe_number(exponent) if exponent.is_Rational else exponent} "
                                f"is too large to grade (exponents are limited to ±{MAX_EXPONENT})")
            # sympy computes integer powers of numbers (and of numeric coefficients) eagerly: bound the result first.
            numbers = [base] if base.is_Rational else [a for a in sp.preorder_traversal(base) if a.is_Rational]
            longest = max((a for a in numbers if a not in (0, 1, -1)), key=_number_digits, default=None)
            if longest is not None and exponent.is_Rational and abs(exponent) > 1:
                # digits of c^k: floor(k log10 c) + 1, so more than MAX_DIGITS when k log10 c >= MAX_DIGITS
                size = max(math.log10(abs(longest.p)), math.log10(longest.q)) * abs(exponent)
                if size >= MAX_DIGITS:
                    raise self.fail(f"the number {describe_number(longest)}^{describe_number(exponent)} has "
                                    f"more than {MAX_DIGITS} digits; exact numbers in an answer are limited to "
                                    f"{MAX_DIGITS} digits")
        elif base.is_Number and exponent.is_number and not exponent.is_Number:
            pass  # 3^{\pi} and the like stay symbolic
        return _apply(sp.Pow, base, exponent)

    def inverse(self, m, tree):
        if not _square(m):
            raise self.fail(f"cannot invert {describe(m)} (`{self.snippet(tree)}`): only square matrices have inverses")
        if isinstance(m, sp.MatrixBase):  # an explicit matrix: inverted numerically, never symbolically here
            return sp.Inverse(m)
        try:
            return m.I
        except NonInvertibleMatrixError:
            raise self.fail(f"`{self.snippet(tree)}` is a zero matrix, which has no inverse") from None

    # -- functions and brackets ----------------------------------------------------------------
    def function(self, name: str, arg, arg_tree):
        if name in ("max", "min"):
            return self.extremum_of(name, arg, arg_tree)
        if name not in _BUILTIN_FUNCTIONS and not name.startswith("log_"):
            return self.declared_function(name, [arg], [arg_tree])
        if name in _SCALAR_FUNCTIONS or name.startswith("log_"):
            if is_matrix(arg):
                raise self.fail(f"{_SCALAR_FUNCTIONS.get(name, name)} of {describe(arg)} (`{self.snippet(arg_tree)}`) is not "
                                f"defined here; it applies to scalars")
            if name.startswith("log_"):
                base = sp.Integer(int(name[4:]))
                if base < 2:
                    raise self.fail(f"a logarithm to base {base} is not defined")
                if arg is sp.S.Zero:
                    raise self.fail("log of zero")
                return _apply(sp.log, arg) / sp.log(base)
            if name == "sigmoid":
                return SIGMOID(arg)
            if name == "relu":
                return _apply(sp.Max, sp.S.Zero, arg)
            return _apply({"tanh": sp.tanh, "sin": sp.sin, "cos": sp.cos}[name], arg)
        if name in ("log", "exp", "sqrt") and is_matrix(arg):
            if name == "sqrt" and _square(arg):
                self.matrix_roots = True
                return sp.MatPow(arg, sp.Rational(1, 2))
            hint = " (did you mean \\log\\det?)" if name == "log" and _square(arg) else ""
            raise self.fail(f"\\{name} of {describe(arg)} (`{self.snippet(arg_tree)}`) is not defined here{hint}")
        if name == "log":
            if arg is sp.S.Zero:
                raise self.fail("log of zero")
            return _apply(sp.log, arg)
        if name == "exp":
            return _apply(sp.exp, arg)
        if name == "sqrt":
            return _sqrt(arg)
        if name in ("det", "logdet"):
            if not is_matrix(arg):
                d = arg
            elif not _square(arg):
                raise self.fail(f"det of {describe(arg)} (`{self.snippet(arg_tree)}`): only square matrices have determinants")
            elif isinstance(arg, sp.MatPow) and not arg.exp.is_Integer:
                d = sp.Determinant(arg.base) ** arg.exp  # det(Σ^{1/2}) = det(Σ)^{1/2} for the principal root
            else:
                d = sp.Determinant(arg)
            return _apply(sp.log, d) if name == "logdet" else d
        if name == "tr":
            if not is_matrix(arg):
                return arg
            if not _square(arg):
                raise self.fail(f"trace of {describe(arg)} (`{self.snippet(arg_tree)}`): only square matrices have traces")
            return sp.Trace(arg)
        if name == "inv":
            return self.inverse(arg, arg_tree) if is_matrix(arg) else self.power_scalar(arg, sp.Integer(-1))
        raise self.fail(f"unknown function {name}")

    def extremum_of(self, name: str, arg, arg_tree):
        r"""`\max(v)` of a vector is the largest entry; of a scalar, the scalar itself."""
        if not is_matrix(arg):
            return arg
        if arg.cols != 1 and arg.rows != 1:
            raise self.fail(f"\\{name} of {describe(arg)} (`{self.snippet(arg_tree)}`): only the entries of a "
                            f"vector, or a list \\{name}(a, b), have a {name}imum")
        j = sp.Dummy("j", integer=True)
        entry = arg[j, 0] if arg.cols == 1 else arg[0, j]
        length = arg.rows if arg.cols == 1 else arg.cols
        return (IndexedMax if name == "max" else IndexedMin)(entry, (j, 0, length - 1))

    def declared_function(self, name: str, args: list, arg_trees: list):
        """A function the problem declares (e.g. σ as the sigmoid), applied to scalar arguments."""
        func = self.table.lookup(name)
        if not is_function(func):
            raise self.fail(f"unknown function {name}")
        for a, t in zip(args, arg_trees):
            if is_matrix(a):
                raise self.fail(f"{name} of {describe(a)} (`{self.snippet(t)}`) is not defined here; it applies "
                                f"to scalars")
        expected = getattr(func, "nargs", None)
        if expected is not None and len(args) not in expected:
            raise self.fail(f"{name} takes {', '.join(str(n) for n in sorted(expected))} argument(s), "
                            f"not {len(args)}")
        return func(*args)

    def n_apply(self, tree):
        func, arg_tree = self._children(tree)
        return self.function(str(func.value), self.value(arg_tree), arg_tree)

    def n_call(self, tree):
        kids = self._children(tree)
        func, arg_tree = kids[0], kids[1]
        name = str(func.value)
        if isinstance(arg_tree, Tree) and arg_tree.data == "arguments":
            arg_trees = self._children(arg_tree)
            args = [self.value(t) for t in arg_trees]
            if name in ("max", "min"):
                for a, t in zip(args, arg_trees):
                    if is_matrix(a):
                        raise self.fail(f"\\{name} of a list takes scalars; `{self.snippet(t)}` is {describe(a)}")
                value = _apply(sp.Max if name == "max" else sp.Min, *args)
            elif name in _BUILTIN_FUNCTIONS:
                raise self.fail(f"{name} takes one argument, not {len(args)}")
            else:
                value = self.declared_function(name, args, arg_trees)
        else:
            value = self.function(name, self.value(arg_tree), arg_tree)
        if len(kids) > 2:
            value = self.apply_scripts(value, self._children(kids[2]), tree)
        return value

    def n_matrix(self, tree):
        """An explicit matrix (pmatrix, bmatrix, ...; vmatrix is its determinant) of scalar entries."""
        env = str(tree.children[0].value)
        rows = [self._children(r) for r in self._children(tree.children[1])]
        if sum(len(r) for r in rows) > MAX_MATRIX_ENTRIES:
            raise self.fail(f"the matrix has more than {MAX_MATRIX_ENTRIES} entries")
        if len({len(r) for r in rows}) != 1:
            raise self.fail(f"the rows of the matrix have different lengths ({', '.join(str(len(r)) for r in rows)})")
        entries = []
        for r in rows:
            row = []
            for t in r:
                v = self.value(t)
                if is_matrix(v):
                    raise self.fail(f"matrix entries must be scalars; `{self.snippet(t)}` is {describe(v)}")
                row.append(v)
            entries.append(row)
        m = sp.ImmutableMatrix(entries)
        if env == "vmatrix":
            if not _square(m):
                raise self.fail(f"a vmatrix (determinant) must be square, not {describe(m)}")
            return sp.Determinant(m)
        return _scalarize(m)

    def n_frac(self, tree):
        num_tree, den_tree = self._children(tree)
        if self.looks_like_derivative(num_tree, den_tree):
            raise self.fail(f"`{self.snippet(tree)}` reads as a derivative d/dx, which this grader does not take; write "
                            f"the derivative out (if a quotient is meant, write it with brackets, d/(d \\cdot x))")
        return self.divide(self.value(num_tree), self.value(den_tree), den_tree)

    def looks_like_derivative(self, num_tree, den_tree) -> bool:
        r"""`\frac{d}{dt}`, `\frac{d f(x)}{dx}`, `\frac{d^2 y}{dx^2}`: a `d` on top and `d` juxtaposed with a name below."""
        def factors(t):
            while isinstance(t, Tree) and t.data == "group":
                t = self._children(t)[0]
            if isinstance(t, Tree) and t.data == "imul":
                return [f for kid in self._children(t) for f in factors(kid)]
            return [t]

        def name(t):
            while isinstance(t, Tree) and t.data == "scripted":
                t = self._children(t)[0]
            return str(self._children(t)[0].value) if isinstance(t, Tree) and t.data == "name" else None

        def d_word(word):  # `dx` typed as one undeclared word (d not a letter of this problem)
            return word is not None and len(word) > 1 and word[0] == "d" and word.isalnum() and \
                self.table.lookup(word) is None

        def is_d(t):  # d or d^2, not d_0 (another name)
            if isinstance(t, Tree) and t.data == "scripted":
                if any(s.data == "subscript" for s in self._children(self._children(t)[1])):
                    return False
            return name(t) == "d"

        top, bottom = factors(num_tree), factors(den_tree)
        return (is_d(top[0]) or d_word(name(top[0]))) and (
            (len(bottom) >= 2 and is_d(bottom[0]) and name(bottom[1]) is not None) or d_word(name(bottom[0])))

    def n_sqrt(self, tree):
        (arg_tree,) = self._children(tree)
        return self.function("sqrt", self.value(arg_tree), arg_tree)

    def n_root(self, tree):
        index_tree, arg_tree = self._children(tree)
        k = self.value(index_tree)
        if not (k.is_Integer and 1 <= k <= MAX_EXPONENT):
            raise self.fail(f"the root index `{self.snippet(index_tree)}` must be a small whole number")
        arg = self.value(arg_tree)
        if is_matrix(arg):
            raise self.fail(f"a root of {describe(arg)} (`{self.snippet(arg_tree)}`) is not supported")
        return _apply(sp.Pow, arg, sp.Rational(1, int(k)))

    def n_abs(self, tree):
        (inner,) = self._children(tree)
        v = self.value(inner)
        if not is_matrix(v):
            return _apply(sp.Abs, v)
        if _square(v):
            return sp.Determinant(v)  # |Σ| is the determinant
        raise self.fail(f"|…| of {describe(v)} (`{self.snippet(inner)}`): write \\|v\\| for the norm of a vector")

    def n_indicator(self, tree):
        r"""`\mathbb{1}[a = b]`: 1 where the condition holds, else 0, as Heaviside steps with H(0) = 0.

        a = b is 1 − H(|a − b|), a ≤ b is 1 − H(a − b), a < b is H(b − a); exact equality is what is meant
        (x_k = \max_j x_j holds exactly at the largest entry, which is one of the entries).
        """
        (condition,) = self._children(tree)
        left, op, right = condition.children
        a, b = self.value(left), self.value(right)
        for v, t in ((a, left), (b, right)):
            if is_matrix(v):
                raise self.fail(f"an indicator compares scalars, not {describe(v)} (`{self.snippet(t)}`)")
        kind = op.type
        if kind in ("GE", "GT"):
            a, b, kind = b, a, {"GE": "LE", "GT": "LT"}[kind]

        def step(v):
            return _apply(sp.Heaviside, v, sp.S.Zero)

        if kind == "EQ":
            return 1 - step(_apply(sp.Abs, a - b))
        if kind == "NE":
            return step(_apply(sp.Abs, a - b))
        if kind == "LE":
            return 1 - step(a - b)
        return step(b - a)  # LT

    def n_norm(self, tree):
        (inner,) = self._children(tree)
        v = self.value(inner)
        if not is_matrix(v):
            return _apply(sp.Abs, v)
        if v.cols == 1:
            return _sqrt(CommutingScalar(sp.MatMul(_transpose(v), v)))
        if v.rows == 1:
            return _sqrt(CommutingScalar(sp.MatMul(v, _transpose(v))))
        raise self.fail(f"\\|…\\| of {describe(v)} (`{self.snippet(inner)}`) is ambiguous; only vector norms are supported")

    # -- sums and extrema over an index ------------------------------------------------------------
    def n_sum(self, tree):
        if tree.data == "prod":
            raise self.fail("\\prod is not supported; write the product out or use a sum of logs")
        body, limits = self.indexed_body(tree, "sum")
        if is_matrix(body):
            raise self.fail(f"sums of {describe(body)} are not supported")
        return sp.Sum(body, *reversed(limits))  # sympy lists the innermost limit first; \sum_{i,j}: i outermost

    n_prod = n_sum

    def n_extremum(self, tree):
        r"""`\max_j x_j`, `\min_{i=1}^{n} ...`: the largest / smallest value of the body over the index range."""
        word = str(tree.children[0].value)
        body, limits = self.indexed_body(tree, word)
        if is_matrix(body):
            raise self.fail(f"\\{word} over an index takes scalars, not {describe(body)}")
        for limit in reversed(limits):
            body = (IndexedMax if word == "max" else IndexedMin)(body, limit)
        return body

    def indexed_body(self, tree, word: str):
        """(body, [(index, low, high), ...]) of a `\\sum` / `\\max` with its limits; the indices are bound in the body.

        `\\sum_j` and `\\sum_{i,j}` (no limits) run over the problem's declared range, else over the entries of
        the declared vector or matrix the body indexes (x_j: j = 1..n; P_{ij}: i over rows, j over columns).
        """
        limits, body_tree = self._children(tree)[-2], self._children(tree)[-1]
        kids = self._children(limits)
        if limits.data == "limits_index":
            names = self.index_names(kids[0])
            if names is None:
                raise self.fail(f"give the range, e.g. \\{word}_{{k=1}}^{{n}} (in `{self.snippet(tree)}`)")
            declared = self.table.sum_range  # a problem's own (trusted) numbers: sympify is safe here
            ranges = [None if declared is None else (sp.sympify(declared[0]), sp.sympify(declared[1]))] * len(names)
            trees = [limits] * len(names)
        else:
            if limits.data == "limits":
                name_tok, low_tree, high_tree = kids
            elif limits.data == "limits_between":  # \max_{1 \le j \le n}
                low_tree, name_tok, high_tree = kids
            else:
                high_tree, name_tok, low_tree = kids
            names = [str(name_tok.value)]
            ranges = [(self.value(low_tree), self.value(high_tree))]
            trees = [(low_tree, high_tree)]
        for name, rng, t in zip(names, ranges, trees):
            if rng is not None:
                self.check_range(rng, t, tree)
        keys = [spelling_key(name) for name in names]
        for name, key in zip(names, keys):
            if key in self.bound or self.table.lookup(name) is not None or keys.count(key) > 1:
                raise self.fail(f"the index {name} is already a symbol of this problem; use another letter")
        variables = [sp.Symbol(key, integer=True) for key in keys]
        self.bound.update(zip(keys, variables))
        try:
            body = self.value(body_tree)
        finally:
            for key in keys:
                del self.bound[key]
        out = []
        for name, var, rng in zip(names, variables, ranges):
            if rng is None:
                if is_matrix(body):  # refused by the caller
                    rng = (sp.Integer(1), sp.Integer(1))
                else:
                    rng = self.index_range(body, var, name, tree, word)
            out.append((var, *rng))
        return body, out

    def index_names(self, arg) -> list[str] | None:
        """['j'] for `_j`, `_{j}`; ['i', 'j'] for `_{i,j}` and `_{ij}`; None if the subscript is not index names."""
        node = arg
        while isinstance(node, Tree) and node.data == "group":
            node = self._children(node)[0]
        if isinstance(node, Tree) and node.data == "index_pair":
            names = [self.simple_text(k) for k in self._children(node)]
            return names if all(n is not None and n.isalpha() for n in names) else None
        text = self.simple_text(arg)
        if text is None or not text.isalpha():
            return None
        if len(text) == 2 and self.table.lookup(text) is None:
            return [text[0], text[1]]
        return [text]

    def check_range(self, rng, trees, tree) -> None:
        low, high = rng
        low_tree, high_tree = trees if isinstance(trees, tuple) else (trees, trees)
        allowed = set(self.bound.values()) | set(self.table.dimensions)
        for bound_value, t in ((low, low_tree), (high, high_tree)):
            if is_matrix(bound_value) or any(s not in allowed for s in bound_value.free_symbols) or any(
                    not a.is_Integer for a in bound_value.atoms(sp.Number)):
                raise self.fail(f"the summation limit `{self.snippet(t)}` must be a whole-number expression")
        for values in self.table.dimension_values or ({},):
            span = (high - low).xreplace(values)
            if span.is_Number and span > MAX_SUM_TERMS:
                where = ", ".join(f"{k} = {v}" for k, v in values.items())
                raise self.fail(f"the sum in `{self.snippet(tree)}` has more than {MAX_SUM_TERMS} terms"
                                + (f" at {where}" if where else ""))

    def index_range(self, body, var, name: str, tree, word: str):
        """Where `var` runs: 1 to the length of the declared vector (or matrix side) the body indexes with it, or
        the declared range of the family it indexes (x_i with x over 1..n)."""
        ranges = set()
        for e in body.atoms(MatrixElement):
            if var in e.i.free_symbols:
                ranges.add((sp.Integer(1), e.parent.rows))
            if var in e.j.free_symbols:
                ranges.add((sp.Integer(1), e.parent.cols))
        for e in body.atoms(sp.Indexed):
            if e.indices == (var,) and e.base in self.table.family_ranges:
                ranges.add(self.table.family_ranges[e.base])
        if len(ranges) != 1:
            raise self.fail(f"give the range, e.g. \\{word}_{{{name}=1}}^{{n}} (in `{self.snippet(tree)}`): "
                            f"the index {name} does not index one declared vector, matrix side or family")
        return ranges.pop()

    def matrix_entry(self, matrix, name: str, sub):
        r"""`P_{ij}`, `P_{i,j}`, `P_{i j}`: entry (i, j) of a declared matrix, counted from 1 (None if not two indices)."""
        node = sub
        while isinstance(node, Tree) and node.data == "group":
            node = self._children(node)[0]
        if isinstance(node, Tree) and node.data == "index_pair":
            pair = self._children(node)
        elif isinstance(node, Tree) and node.data == "imul" and len(self._children(node)) == 2:
            pair = self._children(node)
        else:
            text = self.simple_text(sub)
            if text is None or len(text) != 2:
                return None
            if not all(ch.isdigit() or ch in self.bound for ch in text):
                return None  # P_{ij} outside a sum over i and j: perhaps a spelling of P itself
            i, j = (sp.Integer(int(ch)) if ch.isdigit() else self.bound[ch] for ch in text)
            return self.entry(matrix, name, i, j, sub)
        i, j = (self.index_value(t, name) for t in pair)
        allowed = set(self.bound.values()) | set(self.table.dimensions)
        for index, t in ((i, pair[0]), (j, pair[1])):
            if any(s not in allowed for s in index.free_symbols) or any(not a.is_Integer for a in index.atoms(sp.Number)):
                raise self.fail(f"the index `{self.snippet(t)}` of {name} must be a whole-number expression of "
                                f"summation indices and dimensions")
        return self.entry(matrix, name, i, j, sub)

    def entry(self, matrix, name: str, i, j, sub):
        """Entry (i, j) of `matrix`, counted from 1; refused where sympy can tell it lies outside the matrix."""
        try:
            return matrix[i - 1, j - 1]
        except (IndexError, ValueError):  # sympy proves the index outside the shape (P_{1, n_y+1})
            rows, cols = matrix.shape
            where = f"{rows}×{cols}" if cols != 1 else f"{rows}-entry"
            index = self.snippet(sub)
            index = index if index.startswith("{") else f"{{{index}}}"
            raise self.fail(f"`{name}_{index}` is outside the {where} {name} (entries are counted from 1)") from None


def build(tree: Tree, table: SymbolTable, text: str) -> sp.Basic:
    """The sympy expression of a parsed formula in a problem's symbol table."""
    return Builder(table, text).build(tree)
