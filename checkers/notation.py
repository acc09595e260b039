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
