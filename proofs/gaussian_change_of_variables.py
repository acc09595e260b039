r"""Density of a Gaussian after an affine change of variables: X = AY + b, Y ~ N(0, I).

# Main statements

* `density`: for invertible $A \in \mathbb{R}^{n\times n}$, $b \in \mathbb{R}^n$ and $\Sigma = AA^\top$,
  $p_X(x) = p_Y(A^{-1}(x-b))\,|\det A^{-1}| = (2\pi)^{-n/2} \det(\Sigma)^{-1/2}
  \exp(-\tfrac12 (x-b)^\top \Sigma^{-1} (x-b))$.
* `det-gram`: $\det(AA^\top) = \det(A)^2$.
* `inverse-gram`: $(AA^\top)^{-1} = A^{-\top}A^{-1}$.

# Notation

$\varphi(x) = A^{-1}(x - b)$ is the inverse map, so $Y = \varphi(X)$ and $\partial\varphi/\partial x = A^{-1}$.

# Implementation notes

* `det-gram` and `inverse-gram` are proved by sympy for general n (matrix-expression rules).
* `density` and its three steps are proved by sympy for general n with `identity()` (no explicit
  matrices): matrix-expression rules ($(AA^\top)^{-1} = A^{-\top}A^{-1}$, $\det(AA^\top) = \det(A)^2$,
  $\det A^{-1} = 1/\det A$) expand both sides, every remaining determinant and quadratic form of real
  matrices stands as a real symbol, and $\sqrt{\det(A)^2} = |\det A|$ is exact for a real determinant.
  Numerically checked for n = 1..5 on matrices of both determinant signs, so the absolute value in
  $|\det A|$ matters.
* Independent references: `torch.distributions.MultivariateNormal(b, Σ).log_prob`, and the
  change-of-variables formula with the Jacobian of φ computed by autograd (`torch.func.jacrev`).
* Half precision is not declared (the claims list float64 and float32 only), so it is neither run nor
  listed as skipped: torch has no float16 `linalg.inv`/`det` on the CPU.

# References

* hw6-2021 Problem 3 (change of variables formula for Gaussians).
* student-hw6 Problem 4 (the submitted solution drops the square root on det Σ: mutant `no-sqrt`).
"""

from __future__ import annotations

import torch
import sympy as sp

from checkers import (Answer, Claim, Derivation, Invertible, Misconception, Mutant, Part, Problem, Reference, Scalar,
                      Step, Symbol, Tolerance, Variable, Vector, identity, quadratic_form)

n = sp.Symbol("n", integer=True, positive=True)
A = sp.MatrixSymbol("A", n, n)
b = sp.MatrixSymbol("b", n, 1)
x = sp.MatrixSymbol("x", n, 1)
Sigma = sp.MatrixSymbol("Sigma", n, n)
half = sp.Rational(1, 2)

VARIABLES = (Variable("A", Invertible("n")), Variable("b", Vector("n")), Variable("x", Vector("n")))
DIMS = {"n": (1, 5)}


def gaussian_density(mean: sp.MatrixExpr, cov: sp.MatrixExpr) -> sp.Expr:
    """(2π)^{-n/2} det(cov)^{-1/2} exp(-½ (x-mean)^T cov^{-1} (x-mean))."""
    return (2 * sp.pi) ** (-n / 2) * sp.Determinant(cov) ** (-half) * sp.exp(-half * quadratic_form(x - mean, cov.I))


def standard_normal_density(y: sp.MatrixExpr) -> sp.Expr:
    """p_Y(y) = (2π)^{-n/2} exp(-½ ||y||²)."""
    return (2 * sp.pi) ** (-n / 2) * sp.exp(-half * Scalar(y.T * y))


CHANGE_OF_VARIABLES = standard_normal_density(A.I * (x - b)) * sp.Abs(sp.Determinant(A.I))
DENSITY = gaussian_density(b, Sigma)


def mvn_density(sample) -> torch.Tensor:
    """torch.distributions' multivariate normal density with mean b and covariance A A^T."""
    dist = torch.distributions.MultivariateNormal(sample["b"], covariance_matrix=sample["Sigma"])
    return dist.log_prob(sample["x"]).exp()


def autograd_change_of_variables(sample) -> torch.Tensor:
    """p_Y(φ(x)) |det ∂φ/∂x(x)| with the Jacobian of φ(x) = A^{-1}(x - b) taken by autograd."""
    a, bias, point = sample["A"], sample["b"], sample["x"]

    def phi(a1, b1, x1):
        return torch.linalg.solve(a1, x1 - b1)

    jac = torch.vmap(torch.func.jacrev(phi, argnums=2))(a, bias, point)
    y = phi(a, bias, point)
    dim = point.shape[-1]
    p_y = (2 * torch.pi) ** (-dim / 2) * torch.exp(-0.5 * (y * y).sum(-1))
    return p_y * torch.linalg.det(jac).abs()


density = Claim(
    id="density",
    statement="X = AY + b with Y ∼ N(0, I) and invertible A has the N(b, AAᵀ) density",
    lhs=CHANGE_OF_VARIABLES,
    rhs=DENSITY,
    variables=VARIABLES,
    dims=DIMS,
    definitions={Sigma: A * A.T},
    assumptions=("A invertible", "Σ = AAᵀ"),
    steps=(
        Step((2 * sp.pi) ** (-n / 2) * sp.exp(-half * quadratic_form(x - b, A.T.I * A.I)) / sp.Abs(sp.Determinant(A)),
             "change of variables with φ(x) = A⁻¹(x − b): ∂φ/∂x = A⁻¹, |det A⁻¹| = 1/|det A|, "
             "and ‖A⁻¹v‖² = vᵀA⁻ᵀA⁻¹v"),
        Step((2 * sp.pi) ** (-n / 2)
             * sp.exp(-half * Scalar(sp.MatMul((x - b).T, sp.Inverse(A * A.T), x - b, evaluate=False)))
             / sp.sqrt(sp.Determinant(A) ** 2),
             "A⁻ᵀA⁻¹ = (AAᵀ)⁻¹ and |det A| = √(det(A)²)"),
        Step(DENSITY, "det(A)² = det(A)det(Aᵀ) = det(AAᵀ) = det Σ, and (AAᵀ)⁻¹ = Σ⁻¹"),
    ),
    symbolic=identity(),
    references=(
        Reference("torch-mvn", "torch.distributions.MultivariateNormal(b, Σ).log_prob(x).exp()", mvn_density),
        Reference("autograd-jacobian", "p_Y(φ(x))·|det ∂φ/∂x| with the Jacobian from torch.func.jacrev",
                  autograd_change_of_variables, side="lhs"),
    ),
    mutants=(
        Mutant("no-sqrt", "det Σ without the square root (the student-hw6 mistake)",
               rhs=(2 * sp.pi) ** (-n / 2) / sp.Determinant(Sigma) * sp.exp(-half * quadratic_form(x - b, Sigma.I))),
        Mutant("sigma-not-inverted", "Σ instead of Σ⁻¹ in the exponent",
               rhs=gaussian_density(b, Sigma).subs(Sigma.I, Sigma)),
        Mutant("no-abs-det", "1/det A instead of 1/|det A| (negative for half the matrices)",
               rhs=(2 * sp.pi) ** (-n / 2) * sp.exp(-half * quadratic_form(x - b, Sigma.I)) / sp.Determinant(A)),
        Mutant("two-pi-to-the-n", "(2π)^{-n} instead of (2π)^{-n/2}",
               rhs=(2 * sp.pi) ** (-n) * sp.Determinant(Sigma) ** (-half) * sp.exp(-half * quadratic_form(x - b, Sigma.I))),
    ),
    dtypes=(torch.float64, torch.float32),
)


GRADEABLE_DENSITY = Problem(
    id="gaussian-density", title="Density of X = AY + b, Y ∼ N(0, I)", source="hw6-2021 P3", claim=density,
    statement=r"Give the density $p_X(x)$ of $X = AY + b$, $Y \sim \mathcal{N}(0, I_n)$, in terms of $x$, $b$ and "
              r"$\Sigma = AA^\top$.",
    symbols=(Symbol(x, "x"), Symbol(b, "b"), Symbol(Sigma, r"\Sigma", ("Sigma", "S")), Symbol(A, "A"), Symbol(n, "n")),
    tolerance=Tolerance(rtol=1e-7, atol=0.0, reason="a density is a product of positive factors (no cancellation) "
                        "and falls to 1e-12 in the tails, so only a relative test is meaningful"),
    misconceptions=(
        Misconception("one-dimensional-constant", "correct only for n = 1: (2π)^{-1/2} is the one-dimensional "
                      "constant; in ℝⁿ it is (2π)^{-n/2}", lambda ref: ref * (2 * sp.pi) ** ((n - 1) / 2)),
        Misconception("exponent-sign", "the exponent has the wrong sign: it is −½(x − b)ᵀΣ⁻¹(x − b)",
                      lambda ref: ref * sp.exp(quadratic_form(x - b, Sigma.I))),
        Misconception("exponent-no-half", "the factor ½ in the exponent is missing: exp(−½(x − b)ᵀΣ⁻¹(x − b))",
                      lambda ref: ref * sp.exp(-half * quadratic_form(x - b, Sigma.I))),
        Misconception("no-square-root", "the square root is missing: the constant is 1/√((2π)ⁿ det Σ), "
                      "not 1/((2π)ⁿ det Σ)", lambda ref: ref * (2 * sp.pi) ** (-n / 2) * sp.Determinant(Sigma) ** (-half)),
    ),
    mutant_feedback={
        "no-sqrt": "your answer is the reference without the square root: the constant has det(Σ)^{-1/2}, "
                   "not det(Σ)^{-1}",
        "sigma-not-inverted": "the exponent needs Σ⁻¹, not Σ: −½(x − b)ᵀΣ⁻¹(x − b)",
        "no-abs-det": "1/det A is negative for half of all matrices: the change of variables uses |det A|",
        "two-pi-to-the-n": "the constant is (2π)^{-n/2}: the square root on (2π)ⁿ is missing",
    },
)
GRADEABLE = (GRADEABLE_DENSITY,)

det_gram = Claim(
    id="det-gram",
    statement="det(AAᵀ) = det(A)²",
    lhs=sp.Determinant(A * A.T),
    rhs=sp.Determinant(A) ** 2,
    variables=VARIABLES[:1],
    dims=DIMS,
    symbolic=identity(),
    mutants=(Mutant("no-square", "det(A) instead of det(A)²", rhs=sp.Determinant(A)),
             Mutant("trace", "tr(A)² instead of det(A)²", rhs=sp.Trace(A) ** 2)),
    dtypes=(torch.float64, torch.float32),
)

inverse_gram = Claim(
    id="inverse-gram",
    statement="(AAᵀ)⁻¹ = A⁻ᵀA⁻¹",
    lhs=sp.Inverse(A * A.T),  # unevaluated: `.I` would print (AAᵀ)⁻¹ as (Aᵀ)⁻¹A⁻¹, the right-hand side
    rhs=A.T.I * A.I,
    variables=VARIABLES[:1],
    dims=DIMS,
    symbolic=identity(),
    mutants=(Mutant("order-swapped", "A⁻¹A⁻ᵀ: the factors in the wrong order (wrong for n ≥ 2)", rhs=A.I * A.T.I),),
    dtypes=(torch.float64, torch.float32),
)

STATEMENT = (r"Let $Y \sim \mathcal{N}(0, I)$ in $\mathbb{R}^n$, $X = AY + b$ with $A$ invertible and "
             r"$\Sigma = AA^\top$. Using $p_X(x) = p_Y(\varphi(x))\,|\det \tfrac{\partial\varphi}{\partial x}(x)|$ "
             r"for $Y = \varphi(X)$, show that $p_X(x) = ((2\pi)^n\det\Sigma)^{-1/2}"
             r"\exp(-\tfrac12 (x-b)^\top\Sigma^{-1}(x-b))$.")

DERIVATIONS = (
    Derivation(
        id="gaussian-change-of-variables",
        title="Density of an affine transform of a standard Gaussian",
        source="hw6-2021 P3, student-hw6 P4",
        statement=STATEMENT,
        claims=(density, det_gram, inverse_gram),
        parts=(
            Part(label="", question=STATEMENT,
                 answer=Answer(
                     formula=DENSITY, lhs=sp.Function("p_X")(x),
                     display=sp.Mul((2 * sp.pi) ** (-n / 2), sp.Determinant(Sigma) ** (-half), sp.exp(sp.Mul(
                         -half, Scalar(sp.MatMul(sp.Transpose(sp.MatAdd(x, -b, evaluate=False)), Sigma.I,
                                                 sp.MatAdd(x, -b, evaluate=False), evaluate=False)),
                         evaluate=False), evaluate=False), evaluate=False),
                     text=r"This is $p_Y(\varphi(x))\,|\det \frac{\partial\varphi}{\partial x}(x)|$ with "
                          r"$\varphi(x) = A^{-1}(x - b)$: $\frac{\partial\varphi}{\partial x} = A^{-1}$, "
                          r"$\|A^{-1}(x-b)\|^2 = (x-b)^\top (AA^\top)^{-1}(x-b) = (x-b)^\top\Sigma^{-1}(x-b)$, and "
                          r"$|\det A^{-1}| = 1/|\det A| = (\det\Sigma)^{-1/2}$ because $\det\Sigma = \det(A)^2$."),
                 claims=("density", "det-gram", "inverse-gram")),
        ),
    ),
)
