r"""Maximum and minimum over an index range (`\max_j x_j`, `\min_{i=1}^{n} f_i`): sympy objects with bound indices.

sympy's `Max` and `Min` take a fixed list of arguments, so `\max_{j=1}^{n} x_j` with a symbolic `n`
has no sympy form. `IndexedMax` and `IndexedMin` are to `Max`/`Min` what `Sum` is to `Add`: the body
and `(index, low, high)` limits, with the index bound (not free). `doit()` expands them into `Max`/`Min`
once the limits are numbers; `checkers.evaluate` evaluates them directly on a batch.
"""

from __future__ import annotations

import sympy as sp
from sympy.concrete.expr_with_limits import ExprWithLimits

MAX_EXPANDED_TERMS = 10_000


class IndexedExtremum(ExprWithLimits):
    """Common part of IndexedMax / IndexedMin: one (index, low, high) limit over a scalar body."""

    reduce = sp.Max  # overridden
    word = "max"

    @property
    def is_real(self):
        return self.function.is_real

    def doit(self, **hints):
        body = self.function.doit(**hints) if hints.get("deep", True) else self.function
        ((index, low, high),) = self.limits
        span = high - low
        if not span.is_Integer:
            return self.func(body, (index, low, high))
        if span < 0:
            raise ValueError(f"{self.word} over an empty range {low}..{high}")
        if span >= MAX_EXPANDED_TERMS:
            return self.func(body, (index, low, high))
        return self.reduce(*(body.xreplace({index: low + i}) for i in range(int(span) + 1)))

    def _latex(self, printer):
        ((index, low, high),) = self.limits
        return (rf"\{self.word}_{{{printer._print(index)} = {printer._print(low)}}}^{{{printer._print(high)}}} "
                rf"{printer._print(self.function)}")


class IndexedMax(IndexedExtremum):
    r"""max over index = low..high of body, e.g. IndexedMax(x[j], (j, 1, n)) is $\max_{j=1}^n x_j$."""

    reduce = sp.Max
    word = "max"


class IndexedMin(IndexedExtremum):
    r"""min over index = low..high of body, e.g. IndexedMin(Min(p[i], q[i]), (i, 1, m))."""

    reduce = sp.Min
    word = "min"
