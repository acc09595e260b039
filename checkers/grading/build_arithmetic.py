"""The formula builder's arithmetic and names: sums, products, signs, numbers, symbols and indexed entries."""

from __future__ import annotations

from fractions import Fraction

import sympy as sp
from lark import Token, Tree

from checkers.errors import StudentInputError
from checkers.grading.build_values import (
    CommutingScalar, Transposed, add, commuting, describe, is_matrix, negate, scalarize, spelling_key, transpose,
)


class ArithmeticMixin:
    """Builder methods for + − × ÷, numbers and the names a problem declares."""

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
            total = add(total, term if op == "add" else negate(term))
        return total

    n_sub = n_add

    def multiply(self, a, b, tree_a, tree_b, dot: bool = False):
        if not is_matrix(a) and not is_matrix(b):
            return a * b
        if not is_matrix(a) or not is_matrix(b):
            return sp.MatMul(a, commuting(b)) if is_matrix(a) else sp.MatMul(commuting(a), b)
        if a.cols == b.rows:
            return scalarize(sp.MatMul(a, b))
        if dot and a.shape == b.shape and a.cols == 1:
            return CommutingScalar(sp.MatMul(transpose(a), b))
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
        if isinstance(v, Transposed):
            if sign == -1 and not v.inverse:
                return Transposed(inverse=True)
            raise self.fail(f"`{self.snippet(tree)}` is not an exponent this grader understands")
        return negate(v) if sign == -1 else v

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
        return Transposed(inverse=False)

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
                return Transposed(inverse=False)
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
