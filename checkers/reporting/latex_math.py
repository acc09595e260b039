"""Sympy expressions as LaTeX math, printed by `sp.latex`'s printer from the objects that were checked.

The printer is sympy's own with six changes of notation shared with the MathML output: multi-letter sub- and
superscripts are upright (p_true as p with subscript "true", as an <mi> of several letters shows), matrix entries
are counted from 1 (`checkers.notation.math_indices`), Heaviside steps that are indicators print as
𝟙[a = b] (`checkers.notation.indicator_condition`), determinants
print as det(A) rather than |A| (so |det A| reads unambiguously), traces as tr(A), and an exponential of anything but an atom as exp(...)
rather than e with a tall superscript. `Scalar` prints
through its own `_latex` method. The result is `Tex`: trusted math source, never escaped again.
"""

from __future__ import annotations

import re

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from checkers.notation import indicator_condition, math_indices
from checkers.reporting.display import counted_from_one, over_whole_space, positive_first
from checkers.reporting.latex_escape import Tex

__all__ = ["to_latex", "upright_word"]


def upright_word(script: str) -> str:
    """A name or script that is a word ("true", "out", "weight") in upright letters, as the MathML shows it (an <mi>
    of several letters is upright there); a letter, a number or a Greek letter (\\theta) is left as it is."""
    return rf"\mathrm{{{script}}}" if len(script) > 1 and script.isascii() and script.isalpha() else script


class _Printer(LatexPrinter):
    def _split_super_sub(self, name: str) -> tuple[str, list[str], list[str]]:
        """Multi-letter scripts upright: p_true as p_{\\mathrm{true}}, not the italic product of four letters."""
        base, supers, subs = super()._split_super_sub(name)
        return base, [upright_word(s) for s in supers], [upright_word(s) for s in subs]

    def _print_Symbol(self, expr, style="plain"):
        """A symbol named by a word (`weight`, `running_mean`) upright too, not as an italic product of letters;
        function names keep sympy's \\operatorname (this is symbols only)."""
        if expr in self._settings["symbol_names"] or style != "plain":
            return super()._print_Symbol(expr, style)
        base, supers, subs = self._split_super_sub(expr.name)
        return (upright_word(base) + ("^{%s}" % " ".join(supers) if supers else "")
                + ("_{%s}" % " ".join(subs) if subs else ""))

    def _function(self, name: str, arg) -> str:
        return rf"{name}\left({self._print(arg)}\right)"

    def _print_Determinant(self, expr):
        return self._function(r"\det", expr.arg)

    def _print_Trace(self, expr):
        return self._function(r"\operatorname{tr}", expr.arg)

    def _print_Transpose(self, expr):
        """Aᵀ as A^{\\top}, as the problem sets write it (sympy prints A^{T})."""
        out = super()._print_Transpose(expr)
        return out[: -len("^{T}")] + r"^{\top}" if out.endswith("^{T}") else out

    def _as_ordered_terms(self, expr, order=None):
        """sympy's order with the terms written with a minus moved last (`display.positive_first`); none: as built."""
        terms = super()._as_ordered_terms(expr, order=order)
        return terms if (order or self._settings.get("order")) == "none" else positive_first(list(terms))

    def _print_Sum(self, expr):
        """Sums over positions counted from 1, as the problem sets count them (`display.counted_from_one`)."""
        return super()._print_Sum(counted_from_one(expr))

    def _print_Identity(self, expr):
        """The identity matrix as I, as the problem sets write it (sympy prints a double-struck I)."""
        return "I"

    def _print_Integral(self, expr):
        """An integral over the whole line as ∫ f dx: the problems integrate over all of x's space."""
        return super()._print_Integral(over_whole_space(expr))

    def _print_MatrixElement(self, expr):
        """Entries counted from 1, one index for a vector: P_{i,j}, x_{k}."""
        parent = self.parenthesize(expr.parent, PRECEDENCE["Atom"], strict=True)
        return f"{{{parent}}}_{{{','.join(self._print(n) for n in math_indices(expr))}}}"

    def _indicator(self, expr) -> str | None:
        found = indicator_condition(expr)
        if found is None:
            return None
        left, relation, right = found
        return rf"\mathbb{{1}}\left[{self._print(left)} {_LATEX_RELATIONS[relation]} {self._print(right)}\right]"

    def _print_Add(self, expr, order=None):
        return self._indicator(expr) or super()._print_Add(expr, order)

    def _print_Heaviside(self, expr, exp=None):
        out = self._indicator(expr)
        if out is None:
            return super()._print_Heaviside(expr, exp)
        return rf"{out}^{{{exp}}}" if exp else out

    def _print_exp(self, expr, exp=None):
        """exp(x) as e^{x} for a plain symbol or number, else as \\exp(...) (no fraction in a superscript)."""
        arg = expr.args[0]
        if arg.is_Atom or (arg.is_Mul and len(arg.args) == 2 and all(a.is_Atom for a in arg.args)):
            return super()._print_ExpBase(expr, exp)
        out = self._function(r"\exp", arg)
        return rf"{out}^{{{exp}}}" if exp else out


_LATEX_RELATIONS = {"=": "=", "!=": r"\neq", "<": "<", "<=": r"\le", ">": ">", ">=": r"\ge"}
_EPSILON = re.compile(r"\\epsilon(?![A-Za-z])")


def to_latex(expr: sp.Basic, order: str | None = None, log_name: str = "log") -> Tex:
    """LaTeX math source (no surrounding $) for one sympy expression; the natural logarithm as the problem set
    writes it (`log_name` "ln": \\ln, as the quiz does).

    sympy spells the symbol `epsilon` \\epsilon (ϵ); the text and the MathML show ε, so LaTeX prints
    \\varepsilon, as the escaping table (`latex_escape`) spells ε.
    """
    settings = {**({"order": order} if order else {}), **({"ln_notation": True} if log_name == "ln" else {})}
    printer = _Printer(settings) if settings else _Printer()
    return Tex(_EPSILON.sub(r"\\varepsilon", printer.doprint(sp.sympify(expr))))
