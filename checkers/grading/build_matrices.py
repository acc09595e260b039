"""The formula builder's matrix forms: sub/superscripts (powers, transposes, inverses), explicit matrices, entries."""

from __future__ import annotations

import math

import sympy as sp
from lark import Tree
from sympy.matrices.exceptions import NonInvertibleMatrixError

from checkers.grading.build_values import (
    MAX_DIGITS, MAX_EXPONENT, MAX_MATRIX_ENTRIES, MAX_MATRIX_POWER, Transposed, apply, describe, describe_number,
    is_matrix, is_square, number_digits, scalarize, transpose,
)


class MatrixMixin:
    """Builder methods for scripts, explicit matrices and matrix entries."""

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
        if isinstance(value, Transposed):
            raise self.fail(f"`{self.snippet(tree)}`: ^T / \\top only makes sense as an exponent")
        return self.apply_scripts(value, rest, atom)

    def apply_scripts(self, value, scripts, base_tree):
        for s in scripts:
            if s.data == "prime":
                if not is_matrix(value):
                    raise self.fail(f"a prime on the scalar `{self.snippet(base_tree)}` reads in TeX as a derivative or "
                                    f"another name (f', x'), which this grader does not take; a prime transposes only "
                                    f"vectors and matrices")
                value = transpose(value)
            elif s.data == "superscript":
                (arg,) = self._children(s)
                value = self.power(value, arg, base_tree)
            else:
                raise self.fail(f"a subscript on `{self.snippet(base_tree)}` is not understood")
        return value

    def power(self, base, exp_tree, base_tree):
        exponent = self.node(exp_tree)
        if isinstance(exponent, Transposed):
            if not is_matrix(base):
                return 1 / base if exponent.inverse else base
            if exponent.inverse:
                return self.inverse(transpose(base), base_tree)
            return transpose(base)
        if is_matrix(exponent):
            raise self.fail(f"the exponent `{self.snippet(exp_tree)}` is {describe(exponent)}, not a number")
        if is_matrix(base):
            if not is_square(base):
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
            return apply(sp.exp, exponent)
        return self.power_scalar(base, exponent)

    def power_scalar(self, base, exponent):
        if exponent.is_Number:
            if abs(exponent) > MAX_EXPONENT:
                raise self.fail(f"the exponent {describe_number(exponent) if exponent.is_Rational else exponent} "
                                f"is too large to grade (exponents are limited to ±{MAX_EXPONENT})")
            # sympy computes integer powers of numbers (and of numeric coefficients) eagerly: bound the result first.
            numbers = [base] if base.is_Rational else [a for a in sp.preorder_traversal(base) if a.is_Rational]
            longest = max((a for a in numbers if a not in (0, 1, -1)), key=number_digits, default=None)
            if longest is not None and exponent.is_Rational and abs(exponent) > 1:
                # digits of c^k: floor(k log10 c) + 1, so more than MAX_DIGITS when k log10 c >= MAX_DIGITS
                size = max(math.log10(abs(longest.p)), math.log10(longest.q)) * abs(exponent)
                if size >= MAX_DIGITS:
                    raise self.fail(f"the number {describe_number(longest)}^{describe_number(exponent)} has "
                                    f"more than {MAX_DIGITS} digits; exact numbers in an answer are limited to "
                                    f"{MAX_DIGITS} digits")
        elif base.is_Number and exponent.is_number and not exponent.is_Number:
            pass  # 3^{\pi} and the like stay symbolic
        return apply(sp.Pow, base, exponent)

    def inverse(self, m, tree):
        if not is_square(m):
            raise self.fail(f"cannot invert {describe(m)} (`{self.snippet(tree)}`): only square matrices have inverses")
        if isinstance(m, sp.MatrixBase):  # an explicit matrix: inverted numerically, never symbolically here
            return sp.Inverse(m)
        try:
            return m.I
        except NonInvertibleMatrixError:
            raise self.fail(f"`{self.snippet(tree)}` is a zero matrix, which has no inverse") from None


    # -- explicit matrices and entries ------------------------------------------------------------
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
            if not is_square(m):
                raise self.fail(f"a vmatrix (determinant) must be square, not {describe(m)}")
            return sp.Determinant(m)
        return scalarize(m)


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
