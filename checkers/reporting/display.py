"""Display forms: a formula as the problem set writes it (author's order, indexing), checked equal to the checked object.

A proof module may give an `Answer` or a `Step` a `display`: the same mathematics built unevaluated
(`evaluate=False`, `UnevaluatedExpr`), so that it prints as (x − b)ᵀΣ⁻¹(x − b) rather than in sympy's
canonical order (−bᵀ + xᵀ)Σ⁻¹(−b + x). The reports print the display form, in the order it was built
(`Shown`), and only after `check_display` has shown it equal to the object the claims check: nothing
printed is unchecked.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from checkers.errors import ReportError

__all__ = ["Shown", "check_display", "displayed"]


@dataclass(frozen=True)
class Shown:
    """An unevaluated display form in a `Formula`: printed term by term in the order it was built."""

    expr: sp.Basic


def _zero(difference: sp.Basic) -> bool:
    if isinstance(difference, sp.MatrixExpr):
        difference = difference.doit()
        if getattr(difference, "is_ZeroMatrix", False) or difference == 0:
            return True
        difference = sp.expand(difference)
        return bool(getattr(difference, "is_ZeroMatrix", False) or difference == 0)
    return sp.simplify(difference) == 0


def _equal(display: sp.Basic, checked: sp.Basic) -> bool:
    value = display.doit()
    if hasattr(value, "replace"):
        value = value.replace(lambda e: isinstance(e, sp.UnevaluatedExpr), lambda e: e.args[0])
    if value == checked:
        return True
    if isinstance(checked, sp.MatrixExpr) or isinstance(value, sp.MatrixExpr):
        return _zero(sp.MatAdd(value, -checked).doit())
    return _zero(value - checked)


def check_display(display: sp.Basic, checked: sp.Basic, where: str) -> None:
    """Raise ReportError unless the display form equals the checked expression (after evaluating it)."""
    if not _equal(display, checked):
        raise ReportError(f"{where}: the display form {display} is not equal to the checked expression {checked}; "
                          f"fix the display (it must be the same mathematics, only written in the problem's order)")


def displayed(display: sp.Basic | None, checked: sp.Basic, where: str) -> sp.Basic | Shown:
    """What a report prints for `checked`: its display form once checked equal to it, else the object itself."""
    if display is None:
        return checked
    check_display(display, checked, where)
    return Shown(display)
