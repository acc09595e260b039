r"""The derivative of the softplus function is the logistic sigmoid.

Main statement: $\frac{d}{dx} \log(1 + e^x) = \sigma(x) = \frac{1}{1 + e^{-x}}$ for every real $x$.

Implementation notes: sympy differentiates the left side (the chain rule gives eˣ/(1 + eˣ)) and proves
the one step to the sigmoid (the difference simplifies to zero); checked numerically on
random $x \in [-6, 6]$ in float64 and float32, against torch's autograd through
`torch.nn.functional.softplus` (an independent implementation), and against a mutant (the sigmoid's own
derivative) that the checker must reject.

References: hw1 P1.
"""

from __future__ import annotations

import sympy as sp
import torch
import torch.nn.functional as F

from checkers import (SIGMOID, Answer, Claim, Derivation, Misconception, Mutant, Part, Problem, Real, Reference,
                      Step, Symbol, Variable, identity)

x = sp.Symbol("x", real=True)


def autograd_softplus_derivative(sample) -> torch.Tensor:
    """d/dx softplus(x) by torch's autograd: an implementation independent of the formula."""
    xs = sample["x"].detach().clone().requires_grad_(True)
    (gradient,) = torch.autograd.grad(F.softplus(xs).sum(), xs)
    return gradient


derivative = Claim(
    id="derivative",
    statement="d/dx log(1 + eˣ) = σ(x)",
    lhs=sp.diff(sp.log(1 + sp.exp(x)), x),  # sympy differentiates: eˣ/(1 + eˣ)
    rhs=SIGMOID(x),
    variables=(Variable("x", Real(-6.0, 6.0)),),
    symbolic=identity(),
    steps=(Step(SIGMOID(x), "divide numerator and denominator by eˣ"),),
    references=(Reference("torch-autograd", "autograd through torch.nn.functional.softplus",
                          autograd_softplus_derivative, side="lhs"),),
    mutants=(Mutant("sigmoid-derivative", "σ(x)(1 − σ(x)): the sigmoid's derivative, not the sigmoid",
                    rhs=SIGMOID(x) * (1 - SIGMOID(x))),),
    dtypes=(torch.float64, torch.float32),
)

STATEMENT = r"Differentiate the softplus function $\log(1 + e^x)$ with respect to $x$."

DERIVATIONS = (
    Derivation(
        id="softplus-derivative",
        title="The derivative of softplus",
        source="hw1 P1",
        statement=STATEMENT,
        claims=(derivative,),
        parts=(Part(label="", question=STATEMENT,
                    answer=Answer(formula=SIGMOID(x), text=r"is the logistic sigmoid $\sigma(x) = 1/(1 + e^{-x})$.",
                                  scope="Proved by sympy for every real x; checked numerically against autograd."),
                    claims=("derivative",)),),
    ),
)

GRADEABLE = (
    Problem(
        id="softplus-derivative", title="The derivative of softplus", source="hw1 P1", claim=derivative,
        statement=r"Give $\frac{d}{dx}\log(1 + e^x)$.",
        symbols=(Symbol(x, "x"), Symbol(SIGMOID, r"\sigma", listed=False)),
        misconceptions=(
            Misconception("inner-derivative-forgotten", "the chain rule's inner derivative eˣ is missing: "
                          "d/dx log u = u′/u", 1 / (1 + sp.exp(x))),
        ),
    ),
)
