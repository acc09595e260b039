r"""The gradeable problems: each one's reference claim in proofs/, symbols and spellings, instances, known mistakes.

Every reference is the right-hand side of a claim the engine checks (`proofcheck verify`), imported
lazily, so a problem whose proof module is missing only fails when it is graded. Instances cover the
declared domain: every dimension in the listed range (so a formula right only for n = 1 is caught),
matrices of both determinant signs, SPD matrices with spread-out eigenvalues, and BN's ε over four
orders of magnitude. Misconceptions: each problem's own named mistakes first, then the checked
claim's mutants, with feedback worded for a student.
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp
import torch

from checkers.errors import UsageError
from checkers.grading.problem import Misconception, Problem, Symbol
from checkers.kinds import SPD, Invertible, Kind, Positive, Real, Variable, Vector
from checkers.notation import quadratic_form
from checkers.tolerances import Tolerance

half = sp.Rational(1, 2)


@dataclass(frozen=True)
class WithOutputWidth(Kind):
    """Widths n_0..n_{L-1} from `inner`, then n_L = 1 (the scalar output), shape (B, L + 1)."""

    inner: Kind = None

    @property
    def description(self) -> str:
        return f"{self.inner.description}, then n_L = 1"

    def draw(self, batch, dims, gen):
        widths = self.inner.draw(batch, dims, gen)
        return torch.cat([widths, torch.ones(batch, 1, dtype=widths.dtype)], dim=1)


@dataclass(frozen=True)
class OneBased(Kind):
    """A vector x_1..x_n from `inner`, stored with an unused NaN in column 0 so x[j] is x_j, shape (B, n + 1).

    An answer that reads x_0 or x_{n+1} (an off-by-one summation range) gets NaN or an index error,
    never a plausible number.
    """

    inner: Kind = None

    @property
    def description(self) -> str:
        return f"{self.inner.description}, indexed from 1"

    def draw(self, batch, dims, gen):
        values = self.inner.draw(batch, dims, gen)
        return torch.cat([torch.full((batch, 1), float("nan"), dtype=values.dtype), values], dim=1)


GAUSSIAN_DENSITY = Problem(
    id="gaussian-density",
    title="Density of X = AY + b, Y ~ N(0, I)",
    source="hw6-2021 P3",
    statement=r"Give the density $p_X(x)$ of $X = AY + b$, $Y \sim \mathcal{N}(0, I_n)$, in terms of $x$, $b$ and "
              r"$\Sigma = AA^\top$.",
    module="proofs.gaussian_change_of_variables",
    claim="density",
    symbols=(Symbol("x", "x"), Symbol("b", "b"), Symbol("Sigma", r"\Sigma", ("Sigma", "S")), Symbol("A", "A"),
             Symbol("n", "n")),
    variables=lambda m: (Variable("A", Invertible("n")), Variable("b", Vector("n")), Variable("x", Vector("n"))),
    definitions=lambda m: {m.Sigma: m.A * m.A.T},
    dims={"n": (1, 2, 3, 4, 5)},
    tolerance=Tolerance(rtol=1e-7, atol=0.0, reason="a density is a product of positive factors (no cancellation) "
                        "and falls to 1e-12 in the tails, so only a relative test is meaningful; float64 rounding "
                        "with condition numbers <= 16 stays below 1e-12 relative"),
    misconceptions=(
        Misconception("one-dimensional-constant",
                      "correct only for n = 1: (2π)^{-1/2} is the one-dimensional constant; in ℝⁿ it is (2π)^{-n/2}",
                      lambda m, ref: ref * (2 * sp.pi) ** ((m.n - 1) / 2)),
        Misconception("exponent-sign", "the exponent has the wrong sign: it is −½(x − b)ᵀΣ⁻¹(x − b)",
                      lambda m, ref: ref * sp.exp(quadratic_form(m.x - m.b, m.Sigma.I))),
        Misconception("exponent-no-half", "the factor ½ in the exponent is missing: exp(−½(x − b)ᵀΣ⁻¹(x − b))",
                      lambda m, ref: ref * sp.exp(-half * quadratic_form(m.x - m.b, m.Sigma.I))),
        Misconception("no-square-root", "the square root is missing: the constant is 1/√((2π)ⁿ det Σ), "
                      "not 1/((2π)ⁿ det Σ)",
                      lambda m, ref: ref * (2 * sp.pi) ** (-m.n / 2) * sp.Determinant(m.Sigma) ** (-half)),
    ),
    mutant_feedback={
        "no-sqrt": "your answer is the reference without the square root: the constant has det(Σ)^{-1/2}, "
                   "not det(Σ)^{-1}",
        "sigma-not-inverted": "the exponent needs Σ⁻¹, not Σ: −½(x − b)ᵀΣ⁻¹(x − b)",
        "no-abs-det": "1/det A is negative for half of all matrices: the change of variables uses |det A|",
        "two-pi-to-the-n": "the constant is (2π)^{-n/2}: the square root on (2π)ⁿ is missing",
    },
)


def _swap_gaussians(m, ref):
    return ref.xreplace({m.mu0: m.mu1, m.mu1: m.mu0, m.Sigma0: m.Sigma1, m.Sigma1: m.Sigma0})


KL_GAUSSIAN = Problem(
    id="kl-gaussian",
    title="KL divergence between two Gaussians",
    source="hw6-2021 P5",
    statement=r"Give $D_{\mathrm{KL}}(\mathcal{N}(\mu_0, \Sigma_0) \,\|\, \mathcal{N}(\mu_1, \Sigma_1))$ in "
              r"$\mathbb{R}^d$ in closed form.",
    module="proofs.kl_gaussian",
    claim="closed-form",
    symbols=(Symbol("mu0", r"\mu_0", ("mu0", "m0")), Symbol("mu1", r"\mu_1", ("mu1", "m1")),
             Symbol("Sigma0", r"\Sigma_0", ("Sigma0", "S0")), Symbol("Sigma1", r"\Sigma_1", ("Sigma1", "S1")),
             Symbol("d", "d")),
    variables=lambda m: (Variable("mu_0", Vector("d")), Variable("mu_1", Vector("d")), Variable("Sigma_0", SPD("d")),
                         Variable("Sigma_1", SPD("d"))),
    dims={"d": (1, 2, 3, 4, 5)},
    misconceptions=(
        Misconception("minus-one", "correct only for d = 1: tr(Σ₀⁻¹Σ₀) = tr(I_d) = d, so the constant term is −d, "
                      "not −1", lambda m, ref: ref + (m.d - 1) / 2),
        Misconception("reversed", "this is D_KL(N(μ₁, Σ₁) ‖ N(μ₀, Σ₀)): the two Gaussians have swapped roles",
                      _swap_gaussians),
        Misconception("quadratic-form-not-inverted", "the mean term needs Σ₁⁻¹, not Σ₁: (μ₁ − μ₀)ᵀΣ₁⁻¹(μ₁ − μ₀)",
                      lambda m, ref: ref + half * (quadratic_form(m.mu1 - m.mu0, m.Sigma1)
                                                   - quadratic_form(m.mu1 - m.mu0, m.Sigma1.I))),
    ),
    mutant_feedback={
        "trace-swapped": "the trace arguments are swapped: the trace term is tr(Σ₁⁻¹Σ₀), not tr(Σ₀⁻¹Σ₁)",
        "det-ratio-inverted": "the determinant ratio is upside down: the log term is log(det Σ₁ / det Σ₀)",
        "missing-minus-d": "the −d term is missing (it comes from tr(Σ₀⁻¹Σ₀) = d)",
        "missing-half": "the factor ½ in front is missing",
        "quadratic-form-sigma0": "the mean term uses Σ₁⁻¹ (the second Gaussian's covariance), not Σ₀⁻¹",
    },
)

KAIMING_VARIANCE = Problem(
    id="kaiming-variance",
    title="Output variance of a linear MLP under PyTorch's default initialisation",
    source="hw6-2021 P2",
    statement=r"Give $\operatorname{Var} y_L$ for the depth-$L$ network with $\sigma(z) = z$, widths "
              r"$n_0, \dots, n_{L-1}$, $n_L = 1$, and PyTorch's default nn.Linear initialisation.",
    module="proofs.kaiming_variance",
    claim="closed-form",
    symbols=(Symbol("L", "L"), Symbol("n", "n_k", ("n",), family=True)),
    variables=lambda m: (Variable("n", WithOutputWidth(m.Widths("L", 1, 64))),),
    dims={"L": (1, 2, 3, 4, 5, 6)},
    mutant_feedback={
        "exponent-off-by-one": "each layer multiplies the variance by 1/3, so layer ℓ contributes "
                               "1/(3^{L−ℓ+1} n_{ℓ−1}): one factor 1/3 is missing in every term",
        "no-bias": "the bias terms are missing: layer ℓ's bias adds variance 1/(3 n_{ℓ−1})",
        "no-input": "the input's contribution 3^{−L} is missing",
        "n-ell": "the weights of layer ℓ have fan-in n_{ℓ−1}: the term is 1/(3^{L−ℓ+1} n_{ℓ−1}), not n_ℓ",
    },
)

_BN_SYMBOLS = (
    Symbol("gamma", r"\gamma", ("gamma",)), Symbol("W", "W", ("w",)),
    Symbol("sigma2", r"\sigma^2", ("sigma2", "var")),
    Symbol("sigma2", r"\sigma", ("sigma", r"\sigma_B"), value=lambda m: sp.sqrt(m.sigma2), listed=False),
    Symbol("epsilon", r"\epsilon", (r"\varepsilon", "eps", "epsilon")),
    Symbol("beta", r"\beta", ("beta",)), Symbol("b", "b"), Symbol("mu", r"\mu", ("mu", r"\mu_B")),
)


def _bn_variables(m):
    return (Variable("gamma", Real(-2.0, 2.0)), Variable("W", Real(-3.0, 3.0)), Variable("sigma2", Positive(0.01, 10.0)),
            Variable("epsilon", Positive(1e-5, 1e-1)), Variable("beta", Real(-2.0, 2.0)), Variable("b", Real(-3.0, 3.0)),
            Variable("mu", Real(-3.0, 3.0)))


_NO_EPS = "ε is missing: batch norm divides by √(σ² + ε)"
_STD = "σ² is the running variance: divide by √(σ² + ε), not √(σ + ε)"

BN_FOLD_WEIGHT = Problem(
    id="bn-fold-weight",
    title="Folding eval-mode batch norm into the preceding layer: the weight",
    source="hw6-2021 P1",
    statement=r"Give the weight $W'$ of the layer that replaces $x \mapsto \gamma\frac{Wx + b - \mu}"
              r"{\sqrt{\sigma^2 + \epsilon}} + \beta$.",
    module="proofs.bn_fold",
    claim="bn-fold-weight",
    symbols=tuple(s for s in _BN_SYMBOLS if s.attr not in ("beta", "b", "mu")),
    variables=lambda m: tuple(v for v in _bn_variables(m) if v.name not in ("beta", "b", "mu")),
    instances_per_group=96,
    misconceptions=(
        Misconception("no-gamma", "γ is missing: the BN scale multiplies the folded weight",
                      lambda m, ref: ref.subs(m.gamma, 1)),
        Misconception("multiplied", "you multiplied by √(σ² + ε) instead of dividing by it",
                      lambda m, ref: ref * (m.sigma2 + m.epsilon)),
    ),
    mutant_feedback={
        "no-eps": _NO_EPS,
        "std-instead-of-var": _STD,
        "no-sqrt": "your answer is the reference without the square root: divide by the standard deviation "
                   "√(σ² + ε), not by the variance",
    },
)

BN_FOLD_BIAS = Problem(
    id="bn-fold-bias",
    title="Folding eval-mode batch norm into the preceding layer: the bias",
    source="hw6-2021 P1",
    statement=r"Give the bias $b'$ of the layer that replaces $x \mapsto \gamma\frac{Wx + b - \mu}"
              r"{\sqrt{\sigma^2 + \epsilon}} + \beta$.",
    module="proofs.bn_fold",
    claim="bn-fold-bias",
    symbols=tuple(s for s in _BN_SYMBOLS if s.attr != "W"),
    variables=lambda m: tuple(v for v in _bn_variables(m) if v.name != "W"),
    instances_per_group=96,
    misconceptions=(
        Misconception("no-beta", "β is missing: the BN shift is added to the folded bias",
                      lambda m, ref: ref.subs(m.beta, 0)),
        Misconception("unscaled", "b − μ must be scaled by γ/√(σ² + ε)",
                      lambda m, ref: m.beta + m.b - m.mu),
    ),
    mutant_feedback={
        "no-eps": _NO_EPS,
        "std-instead-of-var": _STD,
        "bias-without-mean": "the running mean μ is not subtracted: the bias is β + γ(b − μ)/√(σ² + ε)",
        "mean-unscaled": "μ must be scaled with b: the bias is β + γ(b − μ)/√(σ² + ε)",
    },
)

SOFTMAX_GRADIENT = Problem(
    id="softmax-gradient",
    title="Gradient of log-sum-exp: the softmax",
    source="hw7-2024 P1",
    statement=r"Give $\partial \nu_1 / \partial x_k$ for $\nu_1(x) = \log \sum_{j=1}^n e^{x_j}$.",
    module="proofs.log_sum_exp",
    claim="softmax-gradient",
    symbols=(Symbol("x", "x_j", ("x",), family=True), Symbol("k", "k"), Symbol("n", "n")),
    variables=lambda m: (Variable("x", OneBased(Vector("n", scale=2.0))),),
    dims={"n": (1, 2, 3, 4, 5), "k": (1, 2, 3, 4, 5)},
    dims_where=lambda dims: dims["k"] <= dims["n"],
    sum_range=lambda m: (sp.Integer(1), m.n),
    instances_per_group=8,
    misconceptions=(
        Misconception("wrong-component", "the numerator is e^{x_k}, the component you differentiate by",
                      lambda m, ref: ref.subs(m.x[m.k], m.x[1])),
        Misconception("log-of-softmax", "that is log μ_k; the derivative of log Σ e^{x_j} is μ_k itself",
                      lambda m, ref: sp.log(ref)),
    ),
    mutant_feedback={
        "unnormalised": "the normalising sum is missing: ∂/∂x_k log Σ_j e^{x_j} = e^{x_k} / Σ_j e^{x_j}",
        "sigmoid": "that is the logistic function of x_k; the gradient of log-sum-exp is the softmax "
                   "e^{x_k} / Σ_j e^{x_j}",
    },
)

PROBLEMS: dict[str, Problem] = {p.id: p for p in (GAUSSIAN_DENSITY, KL_GAUSSIAN, KAIMING_VARIANCE, BN_FOLD_WEIGHT,
                                                  BN_FOLD_BIAS, SOFTMAX_GRADIENT)}


def get_problem(problem_id: str) -> Problem:
    """The problem with this id, or UsageError listing the known ids."""
    try:
        return PROBLEMS[problem_id]
    except KeyError:
        raise UsageError(f"unknown problem {problem_id!r}; gradeable problems: {', '.join(PROBLEMS)}") from None
