r"""The VAE with a Bernoulli likelihood: an expectation-free training objective that estimates the negative VLB.

# Main statements

With $p_Z = \mathcal{N}(0, I_d)$, $q_\phi(z|x) = \mathcal{N}(\mu, \mathrm{diag}(\sigma^2))$ and
$p_\theta(x|z) = \mathcal{B}(f_\theta(z))$, the objective for one image $x \in \{0,1\}^n$ with one
reparameterized draw $z = \mu + \sigma \odot \varepsilon$, $\varepsilon \sim \mathcal{N}(0, I_d)$, is
$$\ell(\varepsilon) = -\sum_{i=1}^n \big[x_i \log f_\theta(z)_i + (1 - x_i)\log(1 - f_\theta(z)_i)\big]
 + \tfrac12\sum_{j=1}^d \big(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1\big),$$
which contains no expectation (it is `binary_cross_entropy_with_logits(..., reduction="sum")` plus the
closed-form KL), and can be backpropagated through $\mu, \sigma$ and $\theta$.

* `objective-formula`: that formula, as the sympy object printed in the answer, evaluated by the engine on
  $(x, f, \mu, \sigma)$ with $f = f_\theta(\mu + \sigma\odot\varepsilon)$, equals
  $-\log p_\theta(x|z) + KL(q \,\|\, p_Z)$ computed by `torch.distributions`.
* `kl-term`: $KL(\mathcal{N}(\mu, \mathrm{diag}\,\sigma^2) \,\|\, \mathcal{N}(0, I)) =
  \mathbb{E}_{z\sim q}[\log q(z) - \log p_Z(z)] = \tfrac12\sum_j(\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)$.
* `objective-is-unbiased`: $\mathbb{E}_\varepsilon[\ell(\varepsilon)] = -\mathrm{VLB}(x)
  = -\mathbb{E}_{z\sim q}[\log p_\theta(x|z) + \log p_Z(z) - \log q(z|x)]$: the Monte Carlo mean of
  $\ell$ over independent draws agrees with the negative VLB within 5 standard errors.
* `reconstruction-is-bce`: the reconstruction term at a draw equals PyTorch's
  `binary_cross_entropy_with_logits` and $-\sum_i$ `Bernoulli(logits).log_prob(x)`.

# Notation

$\mu, \sigma$ stand for the encoder's outputs $\mu_\phi(x)$, $\Sigma_\phi(x)^{1/2}$ at the image $x$ (the
statements hold pointwise in $x$, whatever the encoder). $f_\theta(z) = \mathrm{sigmoid}(W_2\tanh(W_1 z +
b_1) + b_2)$ is a random one-hidden-layer decoder per instance; its pre-sigmoid output is the logit.

# Implementation notes

* `kl-term` is proved by sympy: the first two moments of $\mathcal{N}(\mu, \sigma^2)$ by integration,
  then $\log q - \log p_Z$ is a quadratic polynomial in $z$ whose expectation is the closed form; the
  $d$-dimensional KL is the sum over coordinates because both densities factorise. Numerically it is
  checked against Gauss–Hermite quadrature of the defining expectation and against
  `torch.distributions.kl_divergence`.
* `objective-is-unbiased` is statistical: the right side, $-\mathrm{VLB}$, is computed from its
  definition (expectations over $q$) by Gauss–Hermite quadrature, 60 nodes for $d = 1$ and a 40 × 40
  tensor-product rule for $d = 2$, with `torch.distributions` densities (Bernoulli, Normal), so it does
  not use the closed-form KL; the left side averages 512 reparameterized draws. The decoder's hidden
  layer saturates more sharply the larger $\sigma \|W_1\|$ is, which slows the quadrature's convergence:
  with $\sigma \in [0.2, 1.5]$ and weights $0.7\,\mathcal{N}(0, 1/\text{fan-in})$, these rules agree with
  150 (d = 1) and 120 × 120 (d = 2) nodes to < 1e-4 on the drawn instances, far below the Monte Carlo
  standard errors (≈ 1e-2). Independent reference for the right side: a Monte Carlo estimate with
  inverse-CDF draws `Normal(μ, σ).icdf(U)` (no reparameterization code) and `torch.distributions`
  log-densities.
* No symbolic proof of `objective-is-unbiased`: $\mathbb{E}_\varepsilon$ of a neural network has no
  closed form; its content is linearity of expectation plus `kl-term`, both stated.
* Everything runs in float64 and float32; float16 is not run. The KL is a sum of terms that nearly
  cancel when $q \approx p_Z$ (its half-precision error is about $u(\mu^2 + \sigma^2 + |\log\sigma^2| + 1)$
  absolutely, not relatively); the quadratures sum up to 1600 terms; and the formula
  $\log(1 - f)$ with $f$ rounded to half precision loses every digit when $f \approx 1$, which is why
  the objective is implemented from the logits (`logsigmoid`, `binary_cross_entropy_with_logits`).

# References

* final-2022 Problem 4 (VAE with Bernoulli likelihood: the training objective without expectations).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import sympy as sp
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from checkers import (Answer, Claim, Derivation, Estimate, Kind, Misconception, Mutant, Part, Problem, Reference,
                      Sample, Symbol, Tolerance, Variable, Vector, facts, not_attempted, one_based, sharpness_mutants)

HIDDEN = 8
MC_DRAWS = 512
QUADRATURE_NODES = {1: 60, 2: 40}  # per latent dimension, for d = 1 and d = 2


@dataclass(frozen=True)
class BinaryImage(Kind):
    """An "image" in {0, 1}^dim with iid Bernoulli(1/2) pixels."""

    dim: str = "n"

    @property
    def description(self) -> str:
        return f"binary image in {{0, 1}}^{self.dim}"

    def draw(self, batch, dims, gen):
        return (torch.rand(batch, dims[self.dim], generator=gen, dtype=torch.float64) < 0.5).to(torch.float64)


@dataclass(frozen=True)
class PositiveVector(Kind):
    """A vector with entries log-uniform in [low, high]."""

    dim: str = "d"
    low: float = 0.3
    high: float = 3.0

    @property
    def description(self) -> str:
        return f"vector in [{self.low}, {self.high}]^{self.dim} (log-uniform entries)"

    def draw(self, batch, dims, gen):
        u = torch.rand(batch, dims[self.dim], generator=gen, dtype=torch.float64)
        return torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)


@dataclass(frozen=True)
class DecoderParameters(Kind):
    """Flat parameters of a decoder R^d → R^n with one tanh hidden layer: W1, b1, W2, b2 (fan-in scaled)."""

    latent: str = "d"
    output: str = "n"
    hidden: int = HIDDEN
    gain: float = 0.7

    @property
    def description(self) -> str:
        power = {"d": "ᵈ", "n": "ⁿ"}
        return (f"decoder from ℝ{power.get(self.latent, '^' + self.latent)} to ℝ{power.get(self.output, '^' + self.output)}"
                f" (one tanh hidden layer of width {self.hidden})")

    def draw(self, batch, dims, gen):
        d, n, h = dims[self.latent], dims[self.output], self.hidden
        parts = [torch.randn(batch, h * d, generator=gen, dtype=torch.float64) * self.gain / math.sqrt(d),
                 torch.randn(batch, h, generator=gen, dtype=torch.float64) * 0.5,
                 torch.randn(batch, n * h, generator=gen, dtype=torch.float64) * self.gain / math.sqrt(h),
                 torch.randn(batch, n, generator=gen, dtype=torch.float64) * 0.5]
        return torch.cat(parts, dim=1)


def decoder(theta: torch.Tensor, z: torch.Tensor, latent: int, output: int, hidden: int = HIDDEN) -> torch.Tensor:
    """The decoder's output (pre-sigmoid logits for the Bernoulli VAE) at z of shape (B, ..., d): (B, ..., n)."""
    batch = theta.shape[0]
    sizes = (hidden * latent, hidden, output * hidden, output)
    w1, b1, w2, b2 = torch.split(theta, sizes, dim=1)
    middle = z.shape[1:-1]
    flat = z.reshape(batch, -1, latent)  # (B, M, d): one batched matrix product per layer
    hid = torch.tanh(torch.bmm(flat, w1.reshape(batch, hidden, latent).transpose(1, 2)) + b1.unsqueeze(1))
    out = torch.bmm(hid, w2.reshape(batch, output, hidden).transpose(1, 2)) + b2.unsqueeze(1)
    return out.reshape(batch, *middle, output)


def gauss_hermite(latent: int, nodes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Nodes (N, d) and weights (N,) with Σ w g(node) ≈ E[g(ε)], ε ~ N(0, I_d) (tensor product of 1-D rules)."""
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    x, w = torch.from_numpy(x), torch.from_numpy(w / math.sqrt(2 * math.pi))
    grids = torch.meshgrid(*([x] * latent), indexing="ij")
    weights = torch.meshgrid(*([w] * latent), indexing="ij")
    points = torch.stack([g.reshape(-1) for g in grids], dim=-1)
    return points, torch.stack([g.reshape(-1) for g in weights], dim=-1).prod(-1)


# --- the closed-form KL -----------------------------------------------------------------------------------------------

d = sp.Symbol("d", integer=True, positive=True)
j = sp.Symbol("j", integer=True, nonnegative=True)
mu = sp.IndexedBase("mu", real=True)
sigma = sp.IndexedBase("sigma", positive=True)
KL_CLOSED_FORM = sp.Rational(1, 2) * sp.Sum(mu[j] ** 2 + sigma[j] ** 2 - sp.log(sigma[j] ** 2) - 1, (j, 0, d - 1))

_z, _m = sp.symbols("z m", real=True)
_s, _lam = sp.symbols("s lambda", positive=True)


def normal_density(z, mean, std):
    return sp.exp(-(z - mean) ** 2 / (2 * std ** 2)) / sp.sqrt(2 * sp.pi * std ** 2)


def normal_log_density(z, mean, std):
    return -(z - mean) ** 2 / (2 * std ** 2) - sp.log(2 * sp.pi * std ** 2) / 2


@cache
def gaussian_moments() -> tuple[sp.Expr, ...]:
    """E[1], E[z], E[z²] for z ~ N(m, s²), integrated by sympy."""
    density = normal_density(_z, _m, _s)
    return tuple(sp.simplify(sp.integrate(density * _z ** k, (_z, -sp.oo, sp.oo))) for k in range(3))


def gaussian_expectation(poly: sp.Expr) -> sp.Expr:
    """E_{z ~ N(m, s²)}[poly(z)] for a polynomial of degree <= 2 in z, from the moments sympy integrates."""
    moments = gaussian_moments()
    coeffs = sp.Poly(sp.expand(poly), _z).all_coeffs()[::-1]
    if len(coeffs) > 3:
        raise ValueError("gaussian_expectation handles degree <= 2")
    return sum(c * moments[k] for k, c in enumerate(coeffs))


def one_dimensional_kl(prior_std: sp.Expr = sp.Integer(1)) -> sp.Expr:
    """E_{z~N(m, s²)}[log N(z; m, s²) − log N(z; 0, prior_std²)] by the Gaussian moments."""
    return gaussian_expectation(normal_log_density(_z, _m, _s) - normal_log_density(_z, 0, prior_std))


KL_FACTS = (
    ("the moments of N(m, s²): ∫q = 1, ∫z q = m, ∫z² q = m² + s² (sympy integrate)",
     lambda: sp.Matrix([moment - value for moment, value in zip(gaussian_moments(), (1, _m, _m ** 2 + _s ** 2))])
     .applyfunc(sp.simplify) == sp.zeros(3, 1)),
    ("1-D: E_q[log q − log N(0, 1)] = ½(m² + s² − log s² − 1) (log q − log p is quadratic in z)",
     lambda: sp.expand(sp.expand_log(one_dimensional_kl() - (_m ** 2 + _s ** 2 - sp.log(_s ** 2) - 1) / 2,
                                     force=False))),
    ("d-D: both densities are products over coordinates, so log q − log p is the sum of the 1-D log-ratios "
     "(checked for d = 2) and, each term depending on one coordinate, its expectation is the sum of the 1-D KLs "
     "(the other coordinates integrate to ∫q = 1)", lambda: log_ratio_separates()),
)


def log_ratio_separates(prior_std: sp.Expr = sp.Integer(1)) -> sp.Expr:
    """log(q₁q₂) − log(p₁p₂) − Σ_k (log q_k − log p_k) for 2-D diagonal Gaussians q and N(0, prior_std² I): 0."""
    z1, z2, m1, m2 = sp.symbols("z1 z2 m1 m2", real=True)
    s1, s2 = sp.symbols("s1 s2", positive=True)
    joint_q = normal_density(z1, m1, s1) * normal_density(z2, m2, s2)
    joint_p = normal_density(z1, 0, prior_std) * normal_density(z2, 0, prior_std)
    separate = sum(normal_log_density(z, m, s) - normal_log_density(z, 0, prior_std)
                   for z, m, s in ((z1, m1, s1), (z2, m2, s2)))
    return sp.expand(sp.expand_log(sp.log(joint_q) - sp.log(joint_p)) - separate)


def kl_sides(sample, without_minus_one: bool = False, log_std: bool = False):
    """(E_q[log q − log p_Z] by Gauss–Hermite with torch.distributions log-densities, the closed form)."""
    m, s = sample["mu"], sample["sigma"]
    nodes, weights = gauss_hermite(1, nodes=40)
    eps = nodes[:, 0].to(m)
    z = m.unsqueeze(-1) + s.unsqueeze(-1) * eps  # (B, d, N): 1-D quadrature per coordinate
    integrand = Normal(m.unsqueeze(-1), s.unsqueeze(-1)).log_prob(z) - Normal(0.0, 1.0).log_prob(z)
    quadrature = (integrand * weights.to(m)).sum(-1).sum(-1)
    log_var = torch.log(s) if log_std else torch.log(s ** 2)
    closed = 0.5 * (m ** 2 + s ** 2 - log_var - (0.0 if without_minus_one else 1.0)).sum(-1)
    return quadrature, closed


def torch_kl(sample) -> torch.Tensor:
    q = Independent(Normal(sample["mu"], sample["sigma"]), 1)
    p = Independent(Normal(torch.zeros_like(sample["mu"]), torch.ones_like(sample["sigma"])), 1)
    return kl_divergence(q, p)


KL_VARIABLES = (Variable("mu", Vector("d"), latex=r"\mu"), Variable("sigma", PositiveVector("d"), latex=r"\sigma"))

kl_term = Claim(
    id="kl-term",
    statement=r"$D_{\mathrm{KL}}(\mathcal{N}(\mu, \mathrm{diag}\,\sigma^2) \| \mathcal{N}(0, I)) = "
              r"\mathbb{E}_q[\log q(z) - \log p_Z(z)] = \frac12\sum_j (\mu_j^2 + \sigma_j^2 - \log\sigma_j^2 - 1)$",
    variables=KL_VARIABLES,
    dims={"d": (1, 6)},
    numeric=kl_sides,
    symbolic=facts(*KL_FACTS, scope="general (1-D by sympy integration; d-D by factorisation)"),
    references=(Reference("torch-kl", "torch.distributions.kl_divergence(Independent(Normal(μ, σ)), "
                                      "Independent(Normal(0, 1)))", torch_kl),),
    mutants=(Mutant("no-minus-one", "½ Σ (μ² + σ² − log σ²): without the −1", numeric=lambda s: kl_sides(
                 s, without_minus_one=True)),
             Mutant("log-std", "log σ instead of log σ²", numeric=lambda s: kl_sides(s, log_std=True))),
    dtypes=(torch.float64, torch.float32),
    instances=400,
)


# --- the expectation-free objective ------------------------------------------------------------------------------------

def bernoulli_objective(sample, eps: torch.Tensor, *, kl_sign: float = 1.0, complement: bool = True,
                        std_power: float = 1.0) -> torch.Tensor:
    """ℓ(ε) per draw: (B, M) from ε (B, M, d). Keywords build the wrong variants used as mutants."""
    x, m, s = sample["x"], sample["mu"], sample["sigma"]
    dims = sample.dims
    z = m.unsqueeze(1) + (s ** std_power).unsqueeze(1) * eps
    logits = decoder(sample["theta"], z, dims["d"], dims["n"])
    xs = x.unsqueeze(1)
    # log f = logsigmoid(logit), log(1 − f) = logsigmoid(−logit): the stable forms of the formula
    recon = -(xs * F.logsigmoid(logits) + ((1 - xs) * F.logsigmoid(-logits) if complement else 0)).sum(-1)
    kl = 0.5 * (m ** 2 + s ** 2 - torch.log(s ** 2) - 1).sum(-1)
    return recon + kl_sign * kl.unsqueeze(1)


def negative_vlb_quadrature(sample) -> torch.Tensor:
    """−VLB = −E_q[log p(x|z) + log p_Z(z) − log q(z|x)] by Gauss–Hermite, with torch.distributions densities."""
    x, m, s = sample["x"], sample["mu"], sample["sigma"]
    dims = sample.dims
    nodes, weights = gauss_hermite(dims["d"], QUADRATURE_NODES[dims["d"]])
    nodes, weights = nodes.to(m), weights.to(m)
    z = m.unsqueeze(1) + s.unsqueeze(1) * nodes  # (B, N, d)
    logits = decoder(sample["theta"], z, dims["d"], dims["n"])
    log_lik = Independent(Bernoulli(logits=logits), 1).log_prob(x.unsqueeze(1).expand_as(logits))
    log_prior = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1).log_prob(z)
    log_q = Independent(Normal(m.unsqueeze(1), s.unsqueeze(1)), 1).log_prob(z)
    return -((log_lik + log_prior - log_q) * weights).sum(-1)


def _estimate(values: torch.Tensor) -> Estimate:
    return Estimate(values.mean(1), values.std(1) / math.sqrt(values.shape[1]))


def objective_sides(sample, **wrong):
    """(Monte Carlo mean of ℓ over 512 reparameterized draws with its standard error, −VLB by quadrature)."""
    eps = torch.randn(sample.size, MC_DRAWS, sample.dims["d"], generator=sample.generator(), dtype=torch.float64)
    return _estimate(bernoulli_objective(sample, eps.to(sample["mu"]), **wrong)), negative_vlb_quadrature(sample)


# The reference's own draws: with 512 it rejected the target scaled by 1.02 on 9 of 200 instances at seed 0 and
# on none at seed 16; four times the draws halve its standard errors, so a 2% error stands out at every seed.
REFERENCE_DRAWS = 4 * MC_DRAWS


def torch_monte_carlo_negative_vlb(sample) -> Estimate:
    """−VLB by Monte Carlo: z by inverse-CDF sampling, Normal(μ, σ).icdf(U), and torch.distributions log-densities."""
    x, m, s = sample["x"], sample["mu"], sample["sigma"]
    q = Independent(Normal(m, s), 1)
    u = torch.rand(sample.size, REFERENCE_DRAWS, sample.dims["d"], generator=sample.generator(offset=7),
                   dtype=torch.float64)
    z = Normal(m.unsqueeze(1), s.unsqueeze(1)).icdf(u.clamp(1e-12, 1 - 1e-12).to(m))  # (B, M, d)
    logits = decoder(sample["theta"], z, sample.dims["d"], sample.dims["n"])
    log_lik = Independent(Bernoulli(logits=logits), 1).log_prob(x.unsqueeze(1).expand_as(logits))
    log_prior = Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1).log_prob(z)
    log_q = q.log_prob(z.transpose(0, 1)).transpose(0, 1)
    return _estimate(-(log_lik + log_prior - log_q))


OBJECTIVE_VARIABLES = (Variable("x", BinaryImage("n")), Variable("mu", Vector("d"), latex=r"\mu"),
                       Variable("sigma", PositiveVector("d", 0.2, 1.5), latex=r"\sigma"),
                       Variable("theta", DecoderParameters("d", "n"), latex=r"\theta"))
OBJECTIVE_DIMS = {"d": (1, 2), "n": (2, 8)}

objective_is_unbiased = Claim(
    id="objective-is-unbiased",
    statement=r"$\mathbb{E}_\varepsilon[\ell(\varepsilon)] = -\mathrm{VLB}(x)$: the expectation-free objective "
              r"(reparameterized binary cross-entropy plus closed-form KL) is an unbiased estimate of the negative VLB",
    relation="≈",
    variables=OBJECTIVE_VARIABLES,
    dims=OBJECTIVE_DIMS,
    numeric=objective_sides,
    symbolic=not_attempted("E_ε of a neural network has no closed form; the content is linearity of expectation "
                           "(E_ε of the reconstruction term is −E_q log p(x|z) because z = μ + σ⊙ε ~ q) plus kl-term"),
    references=(Reference("torch-monte-carlo", "−VLB by Monte Carlo: inverse-CDF draws Normal(μ, σ).icdf(U) and "
                                               "torch.distributions log-densities", torch_monte_carlo_negative_vlb),),
    mutants=(
        *sharpness_mutants(objective_sides),
        Mutant("kl-sign", "reconstruction − KL (the VLB's sign convention mixed up)",
               numeric=lambda s: objective_sides(s, kl_sign=-1.0)),
        Mutant("no-complement", "drops (1 − x_i) log(1 − f_i): only the pixels equal to 1 are scored",
               numeric=lambda s: objective_sides(s, complement=False)),
        Mutant("variance-as-scale", "z = μ + σ² ⊙ ε: the variance used as the standard deviation",
               numeric=lambda s: objective_sides(s, std_power=2.0)),
    ),
    tolerances={torch.float32: Tolerance(1e-5, 1e-5, "the quadrature's 1600 float32 terms; the Monte Carlo "
                                                     "side is judged in standard errors")},
    dtypes=(torch.float64, torch.float32),
    instances=200,
)


def reconstruction_sides(sample, *, complement: bool = True):
    """(−Σ [x log f + (1−x) log(1−f)] at z = μ + σ⊙ε by the formula, F.binary_cross_entropy_with_logits)."""
    eps = torch.randn(sample.size, 1, sample.dims["d"], generator=sample.generator(), dtype=torch.float64)
    z = sample["mu"].unsqueeze(1) + sample["sigma"].unsqueeze(1) * eps.to(sample["mu"])
    logits = decoder(sample["theta"], z, sample.dims["d"], sample.dims["n"])[:, 0]
    x = sample["x"]
    f = torch.sigmoid(logits)
    ours = -(x * torch.log(f) + ((1 - x) * torch.log(1 - f) if complement else 0)).sum(-1)
    return ours, F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def bernoulli_log_prob_reference(sample) -> torch.Tensor:
    eps = torch.randn(sample.size, 1, sample.dims["d"], generator=sample.generator(), dtype=torch.float64)
    z = sample["mu"].unsqueeze(1) + sample["sigma"].unsqueeze(1) * eps.to(sample["mu"])
    logits = decoder(sample["theta"], z, sample.dims["d"], sample.dims["n"])[:, 0]
    return -Independent(Bernoulli(logits=logits), 1).log_prob(sample["x"])


reconstruction_is_bce = Claim(
    id="reconstruction-is-bce",
    statement=r"$-\sum_i [x_i \log f_\theta(z)_i + (1 - x_i) \log(1 - f_\theta(z)_i)]$ equals "
              r"\texttt{binary\_cross\_entropy\_with\_logits(logits, x, reduction='sum')} at "
              r"$z = \mu + \sigma\odot\varepsilon$",
    variables=OBJECTIVE_VARIABLES,
    dims=OBJECTIVE_DIMS,
    numeric=reconstruction_sides,
    symbolic=facts(
        ("1 − sigmoid(a) = sigmoid(−a), so log(1 − f) = log sigmoid(−logit)",
         lambda: sp.simplify(1 - 1 / (1 + sp.exp(-_m)) - 1 / (1 + sp.exp(_m)))),
        ("log sigmoid(a) = −log(1 + exp(−a)): the softplus form that binary_cross_entropy_with_logits evaluates",
         lambda: sp.expand_log(sp.log(1 / (1 + sp.exp(-_m)))) + sp.log(1 + sp.exp(-_m))),
        scope="general"),
    references=(Reference("torch-bernoulli", "−Independent(Bernoulli(logits)).log_prob(x)",
                          bernoulli_log_prob_reference),),
    mutants=(Mutant("no-complement", "without the (1 − x) log(1 − f) term",
                    numeric=lambda s: reconstruction_sides(s, complement=False)),),
    dtypes=(torch.float64, torch.float32),
    instances=400,
)

# --- the objective as one formula --------------------------------------------------------------------------------------

n_pixels = sp.Symbol("n", integer=True, positive=True)
pixel = sp.Symbol("i", integer=True, nonnegative=True)
x_img = sp.IndexedBase("x", real=True)
f_out = sp.IndexedBase("f", positive=True)  # f = f_θ(z) at z = μ + σ ⊙ ε, entries in (0, 1)
RECONSTRUCTION = -sp.Sum(x_img[pixel] * sp.log(f_out[pixel]) + (1 - x_img[pixel]) * sp.log(1 - f_out[pixel]),
                         (pixel, 0, n_pixels - 1))
OBJECTIVE = RECONSTRUCTION + KL_CLOSED_FORM
ELL = sp.Symbol("ell")


def objective_formula_sides(sample, formula=OBJECTIVE):
    """(the printed formula ℓ evaluated on (x, f, μ, σ) with f = f_θ(μ + σ⊙ε), −log p_θ(x|z) + KL by torch.distributions).

    One reparameterized draw ε per instance, seeded from the batch.
    """
    eps = torch.randn(sample.size, 1, sample.dims["d"], generator=sample.generator(3), dtype=torch.float64)
    z = sample["mu"].unsqueeze(1) + sample["sigma"].unsqueeze(1) * eps.to(sample["mu"])
    logits = decoder(sample["theta"], z, sample.dims["d"], sample.dims["n"])[:, 0]
    with_f = Sample({**sample.values, "f": torch.sigmoid(logits)}, sample.dims, sample.seed, sample.size)
    reference = (-Independent(Bernoulli(logits=logits), 1).log_prob(sample["x"])
                 + kl_divergence(Independent(Normal(sample["mu"], sample["sigma"]), 1),
                                 Independent(Normal(torch.zeros_like(sample["mu"]), torch.ones_like(sample["sigma"])), 1)))
    return with_f.evaluate(formula), reference


objective_formula = Claim(
    id="objective-formula",
    statement=r"for one image $x$ and one draw $\varepsilon$, the training objective "
              r"$\ell = -\sum_i [x_i \log f_i + (1 - x_i)\log(1 - f_i)] + \frac12\sum_j (\mu_j^2 + \sigma_j^2 - "
              r"\log\sigma_j^2 - 1)$ with $f = f_\theta(\mu + \sigma\odot\varepsilon)$ equals "
              r"$-\log p_\theta(x|z) + D_{\mathrm{KL}}(q_\phi(\cdot|x) \| p_Z)$ at $z = \mu + \sigma\odot\varepsilon$",
    variables=OBJECTIVE_VARIABLES,
    dims=OBJECTIVE_DIMS,
    numeric=objective_formula_sides,
    symbolic=not_attempted("the formula is the Bernoulli log-likelihood and kl-term written out; the numeric check "
                           "evaluates this very formula against torch.distributions"),
    references=(Reference("torch-bce", "F.binary_cross_entropy_with_logits(reduction='sum') + kl_divergence",
                          lambda s_: objective_formula_sides(s_)[1]),),
    mutants=(
        Mutant("no-complement", "without the (1 − x_i) log(1 − f_i) term",
               numeric=lambda s_: objective_formula_sides(s_, -sp.Sum(x_img[pixel] * sp.log(f_out[pixel]),
                                                                     (pixel, 0, n_pixels - 1)) + KL_CLOSED_FORM)),
        Mutant("kl-subtracted", "reconstruction − KL (the VLB's sign convention mixed up)",
               numeric=lambda s_: objective_formula_sides(s_, RECONSTRUCTION - KL_CLOSED_FORM)),
        Mutant("log-std", "log σ_j instead of log σ_j² in the KL",
               numeric=lambda s_: objective_formula_sides(
                   s_, RECONSTRUCTION + sp.Rational(1, 2) * sp.Sum(mu[j] ** 2 + sigma[j] ** 2 - sp.log(sigma[j]) - 1,
                                                                   (j, 0, d - 1)))),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=400,
)


# Gradeable: the reconstruction term and the whole objective with 1-based sums, as students write them, on
# x ∈ {0, 1}^n, decoder outputs f ∈ (0, 1)^n and encoder outputs μ, σ ∈ ℝ^d. Witnesses: torch's binary cross
# entropy and torch.distributions' KL divergence.
_i1, _j1 = sp.symbols("i j", integer=True, positive=True)
_RECONSTRUCTION_1 = -sp.Sum(x_img[_i1] * sp.log(f_out[_i1]) + (1 - x_img[_i1]) * sp.log(1 - f_out[_i1]),
                            (_i1, 1, n_pixels))
_KL_1 = sp.Rational(1, 2) * sp.Sum(mu[_j1] ** 2 + sigma[_j1] ** 2 - sp.log(sigma[_j1] ** 2) - 1, (_j1, 1, d))
_GRADING_VARIABLES = (
    Variable("x", one_based(BinaryImage("n"))),
    Variable("f", one_based(Vector("n", scale=2.0).map(torch.sigmoid, "decoder output in (0, 1)^n"))),
    Variable("mu", one_based(Vector("d"))), Variable("sigma", one_based(PositiveVector("d"))),
)
_VAE_SYMBOLS = (Symbol(x_img, "x_i", ("x",)), Symbol(f_out, "f_i", ("f",)), Symbol(n_pixels, "n"))


def _torch_reconstruction(sample) -> torch.Tensor:
    return F.binary_cross_entropy(sample["f"][:, 1:], sample["x"][:, 1:], reduction="none").sum(-1)


def _torch_objective(sample) -> torch.Tensor:
    posterior = Independent(Normal(sample["mu"][:, 1:], sample["sigma"][:, 1:]), 1)
    prior = Independent(Normal(torch.zeros_like(sample["mu"][:, 1:]), torch.ones_like(sample["sigma"][:, 1:])), 1)
    return _torch_reconstruction(sample) + kl_divergence(posterior, prior)


GRADEABLE = (
    Problem(
        id="vae-reconstruction", title="VAE with a Bernoulli decoder: the reconstruction term", source="final-2022 P4",
        claim=objective_formula,
        statement=r"Give $-\log p_\theta(x \mid z)$ for $x \in \{0, 1\}^n$ and $p_\theta(x \mid z) = "
                  r"\mathcal{B}(f)$, $f = f_\theta(z) \in (0, 1)^n$.",
        symbols=_VAE_SYMBOLS, answer=_RECONSTRUCTION_1, witness=_torch_reconstruction,
        variables=_GRADING_VARIABLES[:2], dims={"n": (2, 3, 4, 5, 6)},
        misconceptions=(
            Misconception("no-complement", "the pixels with x_i = 0 count too: each contributes "
                          "−log(1 − f_i), the Bernoulli probability of a 0",
                          -sp.Sum(x_img[_i1] * sp.log(f_out[_i1]), (_i1, 1, n_pixels))),
            Misconception("log-likelihood", "that is log p_θ(x | z); the term of the loss is its negative",
                          -_RECONSTRUCTION_1),
            Misconception("squared-error", "a Bernoulli decoder gives the binary cross entropy, not the squared error "
                          "of a Gaussian one", sp.Sum((x_img[_i1] - f_out[_i1]) ** 2, (_i1, 1, n_pixels))),
        ),
    ),
    Problem(
        id="vae-objective", title="VAE with a Bernoulli decoder: the expectation-free objective", source="final-2022 P4",
        claim=objective_formula,
        statement=r"Give the training objective for one image $x \in \{0, 1\}^n$ and one draw "
                  r"$z = \mu + \sigma \odot \varepsilon$: the reconstruction term with $f = f_\theta(z)$ plus "
                  r"$D_{\mathrm{KL}}(\mathcal{N}(\mu, \mathrm{diag}\,\sigma^2) \,\|\, \mathcal{N}(0, I_d))$.",
        symbols=(*_VAE_SYMBOLS, Symbol(mu, r"\mu_j", ("mu",)), Symbol(sigma, r"\sigma_j", ("sigma",)), Symbol(d, "d")),
        answer=_RECONSTRUCTION_1 + _KL_1, witness=_torch_objective, variables=_GRADING_VARIABLES,
        dims={"n": (2, 4, 6), "d": (1, 2, 3)},
        misconceptions=(
            Misconception("kl-subtracted", "the loss is the negative VLB: reconstruction term plus the KL, not minus",
                          _RECONSTRUCTION_1 - _KL_1),
            Misconception("log-std", "the KL has log σ_j² (the log-variance), not log σ_j",
                          _RECONSTRUCTION_1 + sp.Rational(1, 2) * sp.Sum(
                              mu[_j1] ** 2 + sigma[_j1] ** 2 - sp.log(sigma[_j1]) - 1, (_j1, 1, d))),
            Misconception("no-minus-one", "each coordinate's KL is ½(μ_j² + σ_j² − log σ_j² − 1): the −1 makes it "
                          "0 at μ = 0, σ = 1", _RECONSTRUCTION_1 + sp.Rational(1, 2) * sp.Sum(
                              mu[_j1] ** 2 + sigma[_j1] ** 2 - sp.log(sigma[_j1] ** 2), (_j1, 1, d))),
        ),
    ),
)

DERIVATIONS = (
    Derivation(
        id="vae-bernoulli",
        title="VAE with Bernoulli likelihood: the expectation-free training objective",
        source="final-2022 P4",
        statement=r"Binary images $X^{(1)}, \dots, X^{(N)} \in \{0,1\}^n$ are modelled by a VAE with $p_Z = "
                  r"\mathcal{N}(0, I)$, $q_\phi(z|x) = \mathcal{N}(\mu_\phi(x), \Sigma_\phi(x))$ with diagonal "
                  r"$\Sigma_\phi$, and $p_\theta(x|z) = \mathcal{B}(f_\theta(z))$, independent Bernoulli pixels "
                  r"with means $f_\theta(z) \in (0,1)^n$ (a network ending in a sigmoid).",
        claims=(objective_formula, kl_term, objective_is_unbiased, reconstruction_is_bce),
        parts=(
            Part(
                label="",
                question=r"Describe the training objective that we can directly implement and backpropagate on in "
                         r"PyTorch. (It may not contain any expectations.)",
                answer=Answer(
                    formula=OBJECTIVE,
                    lhs=ELL,
                    display=sp.Add(-sp.Sum(sp.Add(sp.Mul(x_img[pixel], sp.log(f_out[pixel]), evaluate=False),
                                                  sp.Mul(sp.Add(1, -x_img[pixel], evaluate=False),
                                                         sp.log(sp.Add(1, -f_out[pixel], evaluate=False)),
                                                         evaluate=False), evaluate=False),
                                           (pixel, 0, n_pixels - 1)),
                                   sp.Mul(sp.Rational(1, 2), sp.Sum(sp.Add(mu[j] ** 2, sigma[j] ** 2,
                                                                           -sp.log(sigma[j] ** 2), -1, evaluate=False),
                                                                    (j, 0, d - 1)), evaluate=False), evaluate=False),
                    text=r"Minimize over $\theta, \phi$ the average $\frac1N\sum_{k=1}^{N} \ell(X^{(k)})$, where "
                         r"for an image $x = X^{(k)}$ one draws $\varepsilon \sim \mathcal{N}(0, I_d)$ (a fresh "
                         r"draw at every step), sets $\mu = \mu_\phi(x)$, $\sigma_j^2 = \Sigma_\phi(x)_{jj}$, "
                         r"$z = \mu + \sigma \odot \varepsilon$ and $f = f_\theta(z)$, and $\ell$ is the formula "
                         r"above: the binary cross-entropy of the image against the decoder's probabilities, plus "
                         r"the closed-form KL divergence from $q_\phi(z|x)$ to $p_Z$. It contains no expectation; "
                         r"gradients reach $\phi$ through $z$ (reparameterization). Its expectation over "
                         r"$\varepsilon$ is the negative VLB. In PyTorch: "
                         r"\texttt{F.binary\_cross\_entropy\_with\_logits(logits, x, reduction='sum')} plus "
                         r"\texttt{0.5 * (mu.pow(2) + var - var.log() - 1).sum()}, with the decoder's pre-sigmoid "
                         r"output as the logits.",
                    scope=r"the formula is evaluated on random binary images ($n = 2, \dots, 8$ pixels, "
                          r"$d = 1, 2$) and decoders against torch.distributions; its KL term is proved by sympy "
                          r"for every $d$; that its mean over $\varepsilon$ is the negative VLB is checked by "
                          r"Monte Carlo against quadrature",
                ),
                claims=("objective-formula", "kl-term", "objective-is-unbiased", "reconstruction-is-bce"),
            ),
        ),
    ),
)
