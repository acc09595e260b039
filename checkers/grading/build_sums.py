r"""The formula builder's sums and extrema over an index: \sum, \max, \min with their ranges."""

from __future__ import annotations

import sympy as sp
from lark import Tree
from sympy.matrices.expressions.matexpr import MatrixElement

from checkers.grading.build_values import MAX_SUM_TERMS, describe, is_matrix, spelling_key
from checkers.reductions import IndexedMax, IndexedMin


class SumMixin:
    """Builder methods for indexed sums and extrema and their index ranges."""

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
