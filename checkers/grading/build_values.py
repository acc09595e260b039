"""What the formula builder builds with: size limits, value descriptions, and shape-aware sympy operations."""

from __future__ import annotations

import math

import sympy as sp

from checkers.grading.lexer import abbreviate_number
from checkers.notation import Scalar


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


def number_digits(v) -> int:
    """Digits of the longer of numerator and denominator of a sympy Rational (0 for other numbers)."""
    if not v.is_Rational:
        return 0
    return max(digits(v.p), digits(v.q))


_SHORT_BITS = int(MAX_DIGITS / _LOG10_2) - 1  # an integer of at most this many bits has at most MAX_DIGITS digits


def is_too_long(v) -> bool:
    """Whether a sympy Rational has more than MAX_DIGITS digits (cheap bit-length test first)."""
    if v.p.bit_length() <= _SHORT_BITS and v.q.bit_length() <= _SHORT_BITS:
        return False
    return number_digits(v) > MAX_DIGITS


def describe_number(v) -> str:
    """A sympy Rational for a message, abbreviated past 30 digits."""
    if v.is_Integer:
        return abbreviate_number(str(v.p)) if digits(v.p) < 5000 else f"(a number of about {digits(v.p)} digits)"
    return f"{describe_number(sp.Integer(v.p))}/{describe_number(sp.Integer(v.q))}"


class Transposed:
    """Marker for an exponent that means transpose (`^T`, `^\\top`) or inverse transpose (`^{-T}`)."""

    def __init__(self, inverse: bool):
        self.inverse = inverse


def is_matrix(v) -> bool:
    """Whether a built value is a matrix expression (vectors included); everything else is a scalar."""
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


def scalarize(v):
    """A 1 x 1 matrix product (a quadratic form) becomes a scalar wrapper usable in scalar formulas."""
    if is_matrix(v) and v.rows == 1 and v.cols == 1:
        return CommutingScalar(v)
    return v


def add(a, b):
    """a + b; matrices are added without sympy's canonicalising doit() (slow, and not needed to evaluate)."""
    return sp.MatAdd(a, b) if is_matrix(a) else a + b


def transpose(v):
    """vᵀ without sympy's distributing doit(); scalars are their own transpose."""
    if not is_matrix(v):
        return v
    if isinstance(v, sp.MatrixSymbol):
        return v.T
    return sp.Transpose(v)


def negate(v):
    """-v; a matrix is negated as (-1)·v, unevaluated, like `add`."""
    return sp.MatMul(sp.Integer(-1), v) if is_matrix(v) else -v


def apply(func, *args):
    """func(*args), or its unevaluated form where sympy's automatic simplification cannot cope.

    Abs, log and powers try sign and power simplifications when they are built; on arguments holding
    matrix expressions (|‖μ₁ − μ₀‖²|) sympy can raise from inside them. The unevaluated form means the
    same and evaluates numerically the same.
    """
    try:
        return func(*args)
    except (NotImplementedError, TypeError, AttributeError, ValueError):  # ValueError: Max of "not comparable" sums
        return func(*args, evaluate=False)


def sqrt(x):
    """√x, built through `apply` (so a square root of a matrix-holding scalar does not raise)."""
    return apply(sp.Pow, x, sp.Rational(1, 2))


def is_square(v) -> bool:
    """Whether v is a square matrix (scalars are not)."""
    return is_matrix(v) and v.rows == v.cols
