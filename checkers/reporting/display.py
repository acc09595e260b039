"""Display forms: a formula as the problem set writes it (author's order, indexing), checked equal to the checked object.

A proof module may give an `Answer` or a `Step` a `display`: the same mathematics built unevaluated
(`evaluate=False`, `UnevaluatedExpr`), so that it prints as (x − b)ᵀΣ⁻¹(x − b) rather than in sympy's
canonical order (−bᵀ + xᵀ)Σ⁻¹(−b + x). The reports print the display form, in the order it was built
(`Shown`), and only after `check_display` has shown it equal to the object the claims check: nothing
printed is unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from checkers.errors import ReportError
from checkers.symbolic import simplifies_to_zero

__all__ = ["Named", "Shown", "check_display", "counted_from_one", "displayed"]


@dataclass(frozen=True)
class Shown:
    """An unevaluated display form in a `Formula`: printed term by term in the order it was built."""

    expr: sp.Basic


@dataclass(frozen=True)
class Named:
    """What a displayed formula is, in the problem's own words (LaTeX math, e.g. VLB_λ − VLB_1): printed first."""

    latex: str


def _pointwise(expr: sp.Basic, limits: tuple) -> sp.Basic | None:
    """A linear combination of integrals over `limits`, c₁∫f₁ + c₂∫f₂, as the integrand c₁f₁ + c₂f₂; None when
    `expr` is not such a combination (then integrands do not decide equality)."""
    integrals = list(expr.atoms(sp.Integral))
    if not integrals or any(i.limits != limits for i in integrals):
        return None
    names = [sp.Dummy() for _ in integrals]
    linear = sp.expand(expr.xreplace(dict(zip(integrals, names))))
    variables = {lim[0] for lim in limits}
    if any(sp.degree(linear, n) > 1 for n in names) or variables & linear.free_symbols:
        return None
    coefficients = [linear.coeff(n) for n in names]
    if any(set(c.free_symbols) & set(names) for c in coefficients) or linear.subs(dict.fromkeys(names, 0)) != 0:
        return None
    return sp.Add(*(c * i.function for c, i in zip(coefficients, integrals)))


def _equal(display: sp.Basic, checked: sp.Basic) -> bool:
    integrals = display.atoms(sp.Integral) | checked.atoms(sp.Integral)
    if integrals:  # integrals over one region: by linearity, equal integrands make equal integrals
        limits = next(iter(integrals)).limits
        left, right = _pointwise(display, limits), _pointwise(checked, limits)
        return left is not None and right is not None and _equal(left, right)
    if isinstance(display, sp.Sum) and isinstance(checked, sp.Sum) and display.limits == checked.limits:
        return _equal(display.function, checked.function)  # the same range: the summands must agree
    value = display.doit()
    if hasattr(value, "replace"):
        value = value.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0])
    if value == checked:
        return True
    if isinstance(checked, sp.MatrixExpr) or isinstance(value, sp.MatrixExpr):
        return simplifies_to_zero(sp.MatAdd(value, -checked).doit())
    return simplifies_to_zero(value - checked)


@lru_cache(maxsize=512)
def _shown_equal(display: sp.Basic, checked: sp.Basic) -> bool:
    """Whether sympy shows the two equal (once per pair: a derivation is printed in several documents)."""
    try:
        return _equal(display, checked)
    except (NotImplementedError, TypeError, ValueError, AttributeError):  # sympy could not compare them: not shown equal
        return False


def check_display(display: sp.Basic, checked: sp.Basic, where: str) -> None:
    """Raise ReportError unless the display form equals the checked expression (after evaluating it)."""
    if not _shown_equal(display, checked):
        raise ReportError(f"{where}: the display form {display} is not equal to the checked expression {checked}; "
                          f"fix the display (it must be the same mathematics, only written in the problem's order)")


def displayed(display: sp.Basic | None, checked: sp.Basic, where: str) -> sp.Basic | Shown:
    """What a report prints for `checked`: its display form once checked equal to it, else the object itself."""
    if display is None:
        return checked
    check_display(display, checked, where)
    return Shown(display)


def counted_from_one(expr: sp.Sum) -> sp.Sum:
    """A sum over positions counted from 0 as the problem sets write it, counted from 1.

    The checks index vectors from 0 (Σ_{j=0}^{d-1} v_j); the problem sets count entries from 1, as the reports
    already print matrix entries. A limit (j, 0, u) whose index appears in the body only as a whole index of
    an indexed object (v_j, D_{i,j}) reads the same counted from 1: (j, 1, u + 1). A j used only as a number
    (3^{j+1}, n_{L-j-1}) is reindexed exactly: the body at j − 1, over (j, 1, u + 1). A sum that uses j both
    ways is kept as it is.
    """
    body = expr.function
    limits = []
    changed = False
    for lim in expr.limits:
        if len(lim) != 3:
            limits.append(lim)
            continue
        var, low, high = lim
        if low == 0 and _only_as_index(body, var):
            limits.append((var, sp.S.One, high + 1))
            changed = True
        elif low == 0 and not _as_whole_index(body, var) and var in body.free_symbols:
            body = body.xreplace({var: var - 1})  # j counted as a number: the same sum, reindexed exactly
            limits.append((var, sp.S.One, high + 1))
            changed = True
        else:
            limits.append(lim)
    return type(expr)(body, *limits) if changed else expr


def _as_whole_index(body: sp.Basic, var: sp.Symbol) -> bool:
    return any(var in e.indices for e in body.atoms(sp.Indexed))


def _only_as_index(body: sp.Basic, var: sp.Symbol) -> bool:
    uses = [e for e in body.atoms(sp.Indexed) if var in e.free_symbols]
    if not uses or any(var in e.base.free_symbols or any(i != var and var in i.free_symbols for i in e.indices)
                       for e in uses):
        return False
    hidden = body.xreplace({e: sp.Dummy() for e in uses})
    return var not in hidden.free_symbols


def over_whole_space(expr: sp.Integral) -> sp.Integral:
    """∫_{−∞}^{∞} f(x) dx as the problem sets write an integral over all of x's space: ∫ f(x) dx.

    The checks integrate over the real line coordinate by coordinate; the problems' x lives in ℝⁿ and their
    integrals carry no limits (or ℝⁿ), so printing −∞ and ∞ would suggest a one-dimensional x.
    """
    limits = [(lim[0],) if len(lim) == 3 and lim[1] == -sp.oo and lim[2] == sp.oo else lim for lim in expr.limits]
    return sp.Integral(expr.function, *limits) if limits != list(expr.limits) else expr


def positive_first(terms: list) -> list:
    """Terms of a sum in sympy's order, with those written with a minus sign moved after the others (stable), as
    people write sums: x − b and μ₁ − μ₀, not −b + x and −μ₀ + μ₁. A sum of only negative terms keeps its order."""
    def negative(term) -> bool:
        if isinstance(term, sp.MatMul):
            first = term.args[0]
            return bool(first.is_Number and first.is_extended_negative)
        try:
            return bool(term.could_extract_minus_sign())
        except (AttributeError, TypeError):
            return False

    plus = [t for t in terms if not negative(t)]
    minus = [t for t in terms if negative(t)]
    return plus + minus if plus else list(terms)
