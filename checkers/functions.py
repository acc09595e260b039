r"""Functions a proof module declares by name (the logistic sigmoid): printed as themselves, unfolded where sympy reasons.

`SIGMOID(z)` is a sympy function application that stays σ(z): the reports print σ(z)(1 − σ(z)), not
(1 − 1/(1 + e^{−z}))/(1 + e^{−z}), and the grader's "read as" says `σ(z)`. Where a definition is needed
it is unfolded: symbolic strategies prove claims about the unfolded expressions (`unfold`), and the
evaluator computes each function with its torch counterpart (`torch.sigmoid`, numerically stable).
A problem that declares `Symbol(SIGMOID, r"\sigma")` reads a student's `\sigma(z)` as this function;
`\operatorname{sigmoid}(z)` always is.
"""

from __future__ import annotations

from collections.abc import Callable

import sympy as sp
import torch

__all__ = ["DeclaredFunction", "SIGMOID", "sigmoid", "unfold"]


class DeclaredFunction(sp.Function):
    """A scalar function with a name, a sympy definition and a torch implementation (subclass per function)."""

    nargs = 1
    latex_name: str = ""  # how LaTeX writes it, e.g. r"\sigma"
    text_name: str = ""  # how plain text writes it, e.g. "σ"
    torch_function: Callable[[torch.Tensor], torch.Tensor]

    @classmethod
    def definition(cls, z: sp.Basic) -> sp.Basic:
        raise NotImplementedError

    def unfold(self) -> sp.Basic:
        """The definition applied to this application's (unfolded) argument."""
        return self.definition(unfold(self.args[0]))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_rewrite_as_exp(self, z, **kwargs):
        return self.definition(z)

    def _latex(self, printer, exp=None):
        text = rf"{self.latex_name}\left({printer._print(self.args[0])}\right)"
        return rf"{text}^{{{exp}}}" if exp is not None else text

    def _mathml_presentation(self, printer):
        row = printer.dom.createElement("mrow")
        name = printer.dom.createElement("mi")
        name.appendChild(printer.dom.createTextNode(self.text_name))
        row.appendChild(name)
        row.appendChild(printer._paren_comma_separated(*self.args))
        return row

    def _sympystr(self, printer):
        return f"{self.text_name}({printer._print(self.args[0])})"


class sigmoid(DeclaredFunction):  # noqa: N801 - named like sympy's functions (exp, tanh)
    """The logistic sigmoid σ(z) = 1/(1 + e^{−z}); σ′ = σ(1 − σ)."""

    latex_name = r"\sigma"
    text_name = "σ"
    torch_function = staticmethod(torch.sigmoid)

    @classmethod
    def definition(cls, z):
        return 1 / (1 + sp.exp(-z))

    def fdiff(self, argindex=1):
        return self * (1 - self)


SIGMOID = sigmoid


def unfold(expr):
    """`expr` with every declared function replaced by its definition (what sympy's simplification can reason with)."""
    if not isinstance(expr, sp.Basic) or not expr.has(DeclaredFunction):
        return expr
    return expr.replace(lambda e: isinstance(e, DeclaredFunction), lambda e: e.unfold())
