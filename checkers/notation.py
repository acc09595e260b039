"""Sympy notation shared by proofs, the grader and the printers: 1x1 matrices as scalars, entries counted from 1."""

from __future__ import annotations

import sympy as sp


class Scalar(sp.Function):
    """The single entry of a 1 x 1 matrix expression, e.g. Scalar((x-b).T * Sigma.I * (x-b)).

    Sympy does not let a 1 x 1 MatrixExpr stand inside exp() or be added to scalars; indexing it with
    [0, 0] expands into an index Sum. This wrapper keeps the matrix form, prints as its argument, and
    collapses to the entry once the argument becomes an explicit matrix.
    """

    @classmethod
    def eval(cls, m):
        if isinstance(m, sp.MatrixBase) and m.shape == (1, 1):
            return m[0, 0]
        return None

    def _latex(self, printer, exp=None):
        inner = printer._print(self.args[0])
        return f"\\left({inner}\\right)^{{{exp}}}" if exp else inner

    def _sympystr(self, printer):
        return printer._print(self.args[0])


def quadratic_form(v: sp.MatrixExpr, m: sp.MatrixExpr) -> sp.Expr:
    """v^T M v as a scalar expression."""
    return Scalar(v.T * m * v)


def math_indices(element: sp.Basic) -> tuple[sp.Basic, ...]:
    """Where a matrix entry sits as mathematics writes it: counted from 1 (sympy counts from 0), and one index
    for an entry of a column or row vector, so `P[i - 1, j - 1]` is P_{i,j} and `x[k, 0]` is x_{k+1}."""
    rows, cols = element.parent.shape
    i, j = element.i + 1, element.j + 1
    if cols == 1:
        return (i,)
    if rows == 1:
        return (j,)
    return (i, j)


def indicator_condition(expr: sp.Basic) -> tuple[sp.Basic, str, sp.Basic] | None:
    """(a, relation, b) when `expr` is the indicator 1[a relation b] in the Heaviside form the grader reads
    `\\mathbb{1}[...]` into: H(v, 0) = 1[v > 0], H(v, 1) = 1[v >= 0], 1 − H negates, and |a − b| > 0 is a ≠ b.
    None for anything else (another value at 0 included: then it is not an indicator)."""
    negated = isinstance(expr, sp.Add) and len(expr.args) == 2 and sp.S.One in expr.args
    step = expr
    if negated:  # 1 − H: read the structure (Add(1, Mul(−1, H))) rather than build −(expr − 1) on every sum printed
        other = expr.args[1] if expr.args[0] == 1 else expr.args[0]
        if not (other.is_Mul and len(other.args) == 2 and other.args[0] == -1):
            return None
        step = other.args[1]
    if not isinstance(step, sp.Heaviside) or len(step.args) != 2 or step.args[1] not in (sp.S.Zero, sp.S.One):
        return None
    value, at_zero = step.args
    relation = ">" if at_zero == 0 else ">="
    if negated:
        relation = {">": "<=", ">=": "<"}[relation]
    if isinstance(value, sp.Abs) and relation in (">", "<="):
        value, relation = value.args[0], {">": "!=", "<=": "="}[relation]
    terms = sp.Add.make_args(value)
    left = [t for t in terms if not t.could_extract_minus_sign()]
    right = [-t for t in terms if t.could_extract_minus_sign()]
    return sp.Add(*left), relation, sp.Add(*right)
