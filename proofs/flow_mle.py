r"""Maximum likelihood for a normalizing flow minimizes KL: E[L(θ)] = KL(p_true ‖ p_θ) + H(p_true).

# Main statements

For a flow $f_\theta$ with prior density $p_Z$, the model density (of $f_\theta^{-1}(Z)$) is
$p_\theta(x) = p_Z(f_\theta(x))\,|\det \frac{\partial f_\theta}{\partial x}(x)|$ and the loss is
$\mathcal{L}(\theta) = \frac1N\sum_{i} \ell_\theta(X_i)$ with $\ell_\theta(x) = -\log p_Z(f_\theta(x))
- \log|\det\frac{\partial f_\theta}{\partial x}(x)|$, $X_i \sim p_{\mathrm{true}}$ iid.

* `per-sample-decomposition`: $\ell_\theta(x) = \big[\log p_{\mathrm{true}}(x) - \log p_\theta(x)\big]
  + \big[-\log p_{\mathrm{true}}(x)\big]$ for every $x$.
* `expected-nll`: $\mathbb{E}[\mathcal{L}(\theta)] = \mathbb{E}[\ell_\theta(X_1)]
  = -\int p_{\mathrm{true}}\log p_\theta = D_{\mathrm{KL}}(p_{\mathrm{true}}\|p_\theta) + H(p_{\mathrm{true}})$.
* `coupling-log-det`: for the RealNVP flow used numerically, the log-determinant it accumulates
  ($\sum$ of its scale outputs) is $\log|\det\partial f_\theta/\partial x|$.
* `affine-gaussian`: for $p_{\mathrm{true}} = \mathcal{N}(m, s^2)$, $f_\theta(x) = (x - a)/c$ ($c > 0$) and
  $p_Z = \mathcal{N}(0, 1)$: $\mathbb{E}[\ell_\theta(X)] = \tfrac12\log 2\pi + \frac{s^2 + (m-a)^2}{2c^2} + \log c$,
  $D_{\mathrm{KL}} = \log\frac cs + \frac{s^2 + (m-a)^2}{2c^2} - \tfrac12$, $H = \tfrac12\log(2\pi e s^2)$, and the
  first is the sum of the other two.
* `gaussian-integrals`: those three closed forms are the integrals that define them.

# Notation

$p$ is $p_{\mathrm{true}}$; $J(x) = |\det\partial f_\theta/\partial x(x)| > 0$. In the symbolic statements $x$ is
one integration variable standing for a point of $\mathbb{R}^n$: every step is pointwise in $x$ or uses
only linearity of the integral, so the dimension plays no role.

# Implementation notes

* `per-sample-decomposition` and `expected-nll` are proved by sympy for arbitrary positive densities
  $p$, $p_Z$, arbitrary $f_\theta$ and $J$ (undefined functions): logarithms of products of positive
  factors split, and the integral is linear (`normalised_linearity` of `kl-nonnegative`, with no
  normalisation needed). $\mathbb{E}[\mathcal{L}] = \mathbb{E}[\ell_\theta(X_1)]$ because the $X_i$ are identically
  distributed; linearity assumes $p\log p$ and $p\log p_\theta$ integrable.
* Numerically the flow is a real 2-D RealNVP: two affine coupling layers (each coordinate in turn is
  scaled by $e^{s}$ and shifted by $t$, with $s = \tanh(\cdot)$ and $t$ read from a 1-8-2 tanh MLP of the
  other coordinate), with random weights drawn from each batch's seed. $p_{\mathrm{true}}$ is a mixture of
  three isotropic Gaussians with random weights, means and scales (closed-form log-density,
  cross-checked with `torch.distributions.MixtureSameFamily`). $\log p_\theta$ on the right-hand sides
  uses the Jacobian computed by autograd (`torch.autograd.grad`, one backward pass per output
  coordinate), not the flow's own log-determinant; `coupling-log-det` checks the two agree, with
  central finite differences as an independent reference.
* `per-sample-decomposition` is checked as three components so that no side cancels: the loss against
  the sum of the brackets (p_true cancels there: the identity holds for any p_true), and each bracket
  on its own, with p_true from this module's logsumexp on the left and from `MixtureSameFamily` on the
  right (the reference sums torch `Normal` densities instead); the `true-normaliser` mutant (p_true's
  normaliser off by 1.5, which cancels in the sum) must be rejected.
* `expected-nll` is checked as a statistical claim with three components, each within 5 of its own
  standard errors: Monte Carlo means over $2^{14}$ draws $X \sim p_{\mathrm{true}}$ per instance (32
  instances) of $\ell_\theta(X)$, $\ell_\theta(X) + \log p_{\mathrm{true}}(X)$ and $-\log p_{\mathrm{true}}(X)$, against
  $D_{\mathrm{KL}} + H$, $D_{\mathrm{KL}}$ and $H$ computed by deterministic quadrature on a 161 x 161 grid over
  $[-12, 12]^2$. KL and H are thus checked separately (the `p-log-p-scaled` mutant scales
  $\sum p\log p$ in both, which cancels in the sum), and the target scaled by 1.02 or 0.98 is rejected
  (`target-x1.02`, `target-x0.98`). The grid's error, measured against a 321 x 321 grid at seed 0, is
  1e-4, against standard errors of 5e-3 to 0.1 (mixture scales in [0.52, 1.73], means within about ±3,
  and a flow whose log-density varies on scales the grid resolves).
* `affine-gaussian` is proved by sympy in general ($s, c > 0$). `gaussian-integrals` is proved from the
  standard normal moments $\int z^k\varphi(z)\,dz$, $k = 0, 1, 2$, which sympy integrates; substituting
  $x = m + sz$ makes each integrand a quadratic polynomial in $z$. Both are checked numerically, against
  1-D quadrature, a Monte Carlo mean of the affine flow's loss, and
  `kl_divergence(Normal, Normal) + Normal.entropy()`.
* float16 is not run for the coupling flow (its tanh/exp chain and Jacobian in half precision say
  nothing about the identity) nor for the 1-D quadrature (log-densities of order 300 carry absolute
  rounding errors of order 0.1 in half precision); the closed-form identity `affine-gaussian` runs in
  float16 too.

# References

* final-2022 Problem 3 (normalizing flow MLE minimizes KL-divergence).
"""

from __future__ import annotations

import math
from functools import cache

import sympy as sp
import torch

from checkers import (Answer, Claim, Derivation, Estimate, Matrix, Misconception, Mutant, Part, Positive,
                      ProbabilityVector, Problem, Real, Reference, Step, Symbol, Tolerance, Variable, Vector,
                      chunked_estimate, facts, identity, normalised_linearity, per_batch, proved, sharpness_mutants)

# --- the general statement, with undefined functions -------------------------------------------------------------

x = sp.Symbol("x", real=True)
p_true = sp.Function("p_true", positive=True)
p_z = sp.Function("p_Z", positive=True)
flow = sp.Function("f_theta", real=True)
jac = sp.Function("J", positive=True)  # |det ∂f/∂x|
REALS = (x, -sp.oo, sp.oo)

P_THETA = p_z(flow(x)) * jac(x)
LOSS = -sp.log(p_z(flow(x))) - sp.log(jac(x))
KL_INTEGRAND = sp.log(p_true(x) / P_THETA)
ENTROPY_INTEGRAND = -sp.log(p_true(x))
KL = sp.Integral(p_true(x) * KL_INTEGRAND, REALS)
ENTROPY = sp.Integral(p_true(x) * ENTROPY_INTEGRAND, REALS)
SPLIT = normalised_linearity({}, "logs of products of positive factors split; linearity of ∫ (arbitrary p, p_Z, f_θ)")

# --- the RealNVP flow and the mixture ------------------------------------------------------------------------------

HIDDEN = 8
LAYERS = 2
W1_SCALE, WS_SCALE, WT_SCALE = 1.0, 0.5, 0.5


class CouplingFlow:
    """A 2-D RealNVP: layer k keeps coordinate c = k mod 2 and maps the other to x·exp(s(x_c)) + t(x_c)."""

    def __init__(self, gen: torch.Generator, dtype: torch.dtype, device):
        def draw(*shape, scale=1.0):
            return (scale * torch.randn(*shape, generator=gen, dtype=torch.float64)).to(device=device, dtype=dtype)

        self.params = [dict(w1=draw(HIDDEN, scale=W1_SCALE), b1=draw(HIDDEN, scale=0.5), ws=draw(HIDDEN, scale=WS_SCALE),
                            bs=draw((), scale=0.3), wt=draw(HIDDEN, scale=WT_SCALE), bt=draw((), scale=0.5))
                       for _ in range(LAYERS)]

    def scale_shift(self, layer: int, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        w = self.params[layer]
        hidden = torch.tanh(u.unsqueeze(-1) * w["w1"] + w["b1"])
        return torch.tanh(hidden @ w["ws"] + w["bs"]), hidden @ w["wt"] + w["bt"]

    def forward(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f_θ(x) and the accumulated log|det ∂f/∂x| = Σ of the scale outputs; points (..., 2)."""
        coords = [points[..., 0], points[..., 1]]
        log_det = torch.zeros_like(coords[0])
        for layer in range(LAYERS):
            keep = layer % 2
            s, t = self.scale_shift(layer, coords[keep])
            coords[1 - keep] = coords[1 - keep] * torch.exp(s) + t
            log_det = log_det + s
        return torch.stack(coords, dim=-1), log_det

    def loss(self, points: torch.Tensor, log_det_sign: float = 1.0) -> torch.Tensor:
        """ℓ_θ(x) = −log p_Z(f_θ(x)) − log|det ∂f/∂x| with p_Z = N(0, I_2)."""
        z, log_det = self.forward(points)
        return 0.5 * (z * z).sum(-1) + math.log(2 * math.pi) - log_det_sign * log_det

    def autograd_log_det(self, points: torch.Tensor) -> torch.Tensor:
        """log|det| of the 2 x 2 Jacobian built by autograd, one backward pass per output coordinate.

        Each output depends only on its own point, so the gradient of Σ_points z_i gives row i of every
        point's Jacobian at once.
        """
        with torch.enable_grad():
            inputs = points.detach().requires_grad_(True)
            z, _ = self.forward(inputs)
            rows = [torch.autograd.grad(z[..., row].sum(), inputs, retain_graph=row == 0)[0] for row in range(2)]
        det = rows[0][..., 0] * rows[1][..., 1] - rows[0][..., 1] * rows[1][..., 0]
        return torch.log(det.abs()).detach()

    def autograd_log_density(self, points: torch.Tensor) -> torch.Tensor:
        """log p_θ(x) = log p_Z(f_θ(x)) + log|det ∂f_θ/∂x(x)| with the autograd Jacobian."""
        z, _ = self.forward(points)
        return -0.5 * (z * z).sum(-1) - math.log(2 * math.pi) + self.autograd_log_det(points)


def flow_of(sample) -> CouplingFlow:
    """The batch's flow: weights drawn from the batch seed, at the sample's dtype and device."""
    return CouplingFlow(sample.generator(7), sample.dtype, sample.device)


def _mixture(sample) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights (B, 3), means (B, 3, 2) and scales (B, 3) of p_true."""
    return sample["weights"], sample["means"], 0.4 + 0.4 * torch.exp(sample["log_scales"])


def log_p_true(sample, points: torch.Tensor) -> torch.Tensor:
    """log of the isotropic Gaussian mixture at points (..., B, 2), by logsumexp over components."""
    weights, means, scales = _mixture(sample)
    diff = points.unsqueeze(-2) - means  # (..., B, 3, 2)
    comp = -0.5 * (diff * diff).sum(-1) / scales ** 2 - 2 * torch.log(scales) - math.log(2 * math.pi)
    return torch.logsumexp(comp + torch.log(weights), dim=-1)


def torch_mixture(sample) -> torch.distributions.Distribution:
    """The same p_true as torch.distributions.MixtureSameFamily of Independent Normals."""
    weights, means, scales = _mixture(sample)
    components = torch.distributions.Independent(
        torch.distributions.Normal(means, scales.unsqueeze(-1).expand_as(means)), 1)
    return torch.distributions.MixtureSameFamily(torch.distributions.Categorical(probs=weights), components)


MIXTURE = (Variable("weights", ProbabilityVector(3)), Variable("means", Matrix(3, 2)),
           Variable("log_scales", Vector(3, scale=0.4)))

# --- per sample ---------------------------------------------------------------------------------------------------


def _torch_log_true(sample, points: torch.Tensor) -> torch.Tensor:
    """log p_true from torch.distributions.MixtureSameFamily (independent of `log_p_true`)."""
    return torch_mixture(sample).log_prob(points)


def _per_sample(sample, combine=lambda kl_part, entropy_part: kl_part + entropy_part, reverse=False,
                log_true_shift: float = 0.0, log_true=None):
    """Both sides per point as 3-vectors, each side computed independently of the other.

    Left: (ℓ_θ(x) by the flow's own forward pass and log-determinant, log p_true(x) − log p_θ(x) and
    −log p_true(x) with this module's mixture log-density and the autograd Jacobian). Right: the
    claimed decomposition with p_true from `log_true` (default torch's MixtureSameFamily):
    (combine(KL part, entropy part), KL part, entropy part). p_true cancels only inside the first
    component (the identity holds for any p_true); the other two compare the two brackets
    themselves, so a wrong mixture normaliser on either side is seen. `log_true_shift` adds a constant
    to this module's log p_true (a wrong normaliser, for a mutant).
    """
    model = flow_of(sample)
    points = sample["x"]
    log_model = model.autograd_log_density(points)
    own_log_true = log_p_true(sample, points) + log_true_shift
    lhs = torch.stack([model.loss(points), own_log_true - log_model, -own_log_true], dim=-1)
    ref_log_true = (log_true or _torch_log_true)(sample, points)
    kl_part = (log_model - ref_log_true) if reverse else (ref_log_true - log_model)
    return lhs, torch.stack([combine(kl_part, -ref_log_true), kl_part, -ref_log_true], dim=-1)


def _log_true_by_densities(sample, points: torch.Tensor) -> torch.Tensor:
    """log Σ_k w_k Π_j φ((x_j − μ_kj)/s_k)/s_k, the mixture density summed from torch Normal densities (no logsumexp)."""
    weights, means, scales = _mixture(sample)
    normal = torch.distributions.Normal(means, scales.unsqueeze(-1).expand_as(means))
    return torch.log((weights * normal.log_prob(points.unsqueeze(-2)).sum(-1).exp()).sum(-1))


LOG_DENSITY_ROUNDINGS = 16


def _log_density_rounding(sample):
    """Rounding weights of both sides: LOG_DENSITY_ROUNDINGS·(|log p_true| + |log p_θ|) per instance, on every component."""
    lhs, _ = _per_sample(sample)
    weight = LOG_DENSITY_ROUNDINGS * (lhs[:, 2].abs() + (lhs[:, 1] + lhs[:, 2]).abs())  # |log p_true| + |log p_θ|
    return weight, weight


per_sample_decomposition = Claim(
    id="per-sample-decomposition",
    statement=r"$\ell_\theta(x) = [\log p_{\mathrm{true}}(x) - \log p_\theta(x)] + [-\log p_{\mathrm{true}}(x)]$ "
              r"for every $x$",
    lhs=LOSS,
    rhs=KL_INTEGRAND + ENTROPY_INTEGRAND,
    variables=(Variable("x", Vector(2, scale=2.0)),) + MIXTURE,
    assumptions=(r"$p_\theta(x) = p_Z(f_\theta(x))\,|\det \frac{\partial f_\theta}{\partial x}(x)|$ (change of "
                 r"variables)", r"$p_{\mathrm{true}}, p_Z > 0$"),
    symbolic=SPLIT,
    numeric=_per_sample,
    references=(Reference("summed-densities", "the right side's three components with p_true summed from torch "
                                              "Normal densities (log Σ_k w_k N(x; μ_k, s_k² I)), not logsumexp",
                          lambda s: _per_sample(s, log_true=_log_true_by_densities)[1]),),
    mutants=(
        Mutant("minus-entropy-term", "[log p_true − log p_θ] − [−log p_true]",
               numeric=lambda s: _per_sample(s, lambda kl_part, entropy_part: kl_part - entropy_part)),
        Mutant("reversed-log-ratio", "[log p_θ − log p_true] + [−log p_true]",
               numeric=lambda s: _per_sample(s, reverse=True)),
        Mutant("true-normaliser", "p_true's normaliser off by a factor 1.5 (log p_true + log 1.5): it cancels in "
                                  "the sum of the brackets and is seen only when each bracket is checked",
               numeric=lambda s: _per_sample(s, log_true_shift=math.log(1.5))),
    ),
    tolerances={torch.float32: Tolerance(1.3e-6, 1e-5, "the table's float32 allowance plus a counted rounding model: "
                                                       "each log-density (the mixture's logsumexp, the flow's "
                                                       "couplings and autograd log-determinant) rounds at most "
                                                       f"{LOG_DENSITY_ROUNDINGS} times relative to its own size, and the "
                                                       "KL bracket subtracts two of them (seed 35: 38.96 − 38.58)",
                                         rounding=_log_density_rounding)},
    dtypes=(torch.float64, torch.float32),
)

# --- in expectation -----------------------------------------------------------------------------------------------

MC_DRAWS = 2 ** 14  # per instance: the target scaled by 1.02 or 0.98 must be rejected
MC_CHUNK = 2 ** 12
GRID_HALF_WIDTH, GRID_POINTS = 12.0, 161


def draw_p_true(sample, count: int, gen: torch.Generator | None = None) -> torch.Tensor:
    """`count` draws from each instance's mixture: (count, B, 2), seeded from the batch (or from `gen`)."""
    gen = gen or sample.generator(11)
    weights, means, scales = _mixture(sample)
    u = torch.rand(count, sample.size, 1, generator=gen, dtype=torch.float64).to(sample.device, sample.dtype)
    component = (u > torch.cumsum(weights, -1)).sum(-1).clamp_max(2)  # (count, B) by the inverse CDF
    noise = torch.randn(count, sample.size, 2, generator=gen, dtype=torch.float64).to(sample.device, sample.dtype)
    rows = torch.arange(sample.size, device=sample.device)
    return means[rows, component] + scales[rows, component].unsqueeze(-1) * noise


@per_batch
def monte_carlo_loss(sample) -> Estimate:
    """Means over X ~ p_true of (ℓ_θ(X), ℓ_θ(X) + log p_true(X), −log p_true(X)), with standard errors.

    The expected training loss, and the two brackets of its decomposition estimated separately, so that
    the KL and the entropy are each checked against their own value. ℓ_θ comes from the flow's own
    forward pass and log-determinant (−log p_θ by change of variables, `per-sample-decomposition`);
    MC_DRAWS draws per instance, in chunks.
    """
    model, gen = flow_of(sample), sample.generator(11)

    def chunk(start: int, count: int) -> torch.Tensor:
        points = draw_p_true(sample, count, gen)
        loss, log_true = model.loss(points), log_p_true(sample, points)
        return torch.stack([loss, loss + log_true, -log_true], dim=-1)

    return chunked_estimate(chunk, MC_DRAWS, MC_CHUNK)


def _grid(sample) -> tuple[torch.Tensor, float]:
    axis = torch.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, GRID_POINTS, dtype=sample.dtype, device=sample.device)
    return torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1), float(axis[1] - axis[0]) ** 2


def _mixture_factors(sample, axis: torch.Tensor) -> list[torch.Tensor]:
    """The 1-D Gaussian factors of each isotropic component along the grid axis: two (B, 3, G) tensors."""
    _, means, scales = _mixture(sample)
    return [torch.exp(-0.5 * ((axis - means[..., c:c + 1]) / scales.unsqueeze(-1)) ** 2)
            / (math.sqrt(2 * math.pi) * scales.unsqueeze(-1)) for c in (0, 1)]


def kl_and_entropy(sample, entropy_sign: float = 1.0, reverse: bool = False,
                   p_log_p_scale: float = 1.0) -> torch.Tensor:
    """(D_KL(p_true ‖ p_θ) + H(p_true), D_KL, H) by quadrature on the grid (p_θ from the autograd Jacobian).

    With S = Σ p log p and C = Σ p log p_θ over the grid (times the cell area), KL = S − C and H = −S.
    p_true is separable per component, so C = Σ_k w_k a_kᵀ (log p_θ) b_k costs a matrix product.
    The keywords build wrong targets for mutants; `p_log_p_scale` scales S in both KL and H, which
    cancels in KL + H and is seen only in the separate components.
    """
    points, area = _grid(sample)
    log_model = flow_of(sample).autograd_log_density(points)  # (G, G), shared by the batch
    weights = sample["weights"]
    first, second = _mixture_factors(sample, points[:, 0, 0])
    density = torch.einsum("bk,bki,bkj->bij", weights, first, second)
    p_log_p = torch.xlogy(density, density).sum((-2, -1)) * area * p_log_p_scale
    entropy = -p_log_p
    if reverse:
        log_true = torch.log(density.clamp_min(torch.finfo(density.dtype).tiny))
        kl = (torch.exp(log_model) * (log_model - log_true)).sum((-2, -1)) * area
    else:
        cross = (weights * ((first @ log_model) * second).sum(-1)).sum(-1) * area
        kl = p_log_p - cross
    return torch.stack([kl + entropy_sign * entropy, kl, entropy], dim=-1)


def _quadrature_rounding(sample):
    """Rounding weights of (the Monte Carlo side: none, the quadrature): what `kl_and_entropy` can lose per instance.

    Each component (KL + H = −cross, KL = Σ p log p − cross, H = −Σ p log p) errs by at most
    u·(175·|cross| + 19·|H|) to first order: see the claim's tolerance. Computed on the float64 oracle.
    """
    target = kl_and_entropy(sample)
    cross, entropy = target[:, 0].abs(), target[:, 2].abs()
    return None, (GRID_POINTS + 8 + 2 + 4) * cross + (math.ceil(math.log2(GRID_POINTS ** 2)) + 4) * entropy


def _expected_nll(sample, **wrong):
    """(the Monte Carlo mean of ℓ_θ(X) over X ~ p_true with its standard error, D_KL + H by quadrature on a grid)."""
    return monte_carlo_loss(sample), kl_and_entropy(sample, **wrong)


expected_nll = Claim(
    id="expected-nll",
    statement=r"$\mathbb{E}[\mathcal{L}(\theta)] = \mathbb{E}[\ell_\theta(X)] = D_{\mathrm{KL}}(p_{\mathrm{true}} "
              r"\| p_\theta) + H(p_{\mathrm{true}})$",
    lhs=sp.Integral(p_true(x) * LOSS, REALS),
    rhs=KL + ENTROPY,
    relation="≈",
    variables=MIXTURE,
    assumptions=(r"$X_1, \dots, X_N \sim p_{\mathrm{true}}$ iid, so $\mathbb{E}[\mathcal{L}(\theta)] = "
                 r"\mathbb{E}[\ell_\theta(X_1)]$",
                 r"$p_\theta(x) = p_Z(f_\theta(x))\,|\det \frac{\partial f_\theta}{\partial x}(x)|$",
                 r"$p_{\mathrm{true}} \log p_{\mathrm{true}}$ and $p_{\mathrm{true}} \log p_\theta$ are integrable"),
    steps=(
        Step(-sp.Integral(p_true(x) * sp.log(P_THETA), REALS),
             r"$-\log p_Z(f_\theta(x)) - \log|\det \frac{\partial f_\theta}{\partial x}(x)| = -\log p_\theta(x)$ "
             r"(change of variables)", symbolic=SPLIT, numeric=False),
        Step(KL + ENTROPY, r"$-\log p_\theta = \log\frac{p_{\mathrm{true}}}{p_\theta} - \log p_{\mathrm{true}}$, "
                           r"integrated against $p_{\mathrm{true}}$ (linearity of the integral)", symbolic=SPLIT,
             numeric=False),
    ),
    symbolic=facts(("E[ℓ_θ(X)] = −∫ p log p_θ = ∫ p log(p/p_θ) + (−∫ p log p): the exact equality behind the "
                    "statistical check", lambda: proved(SPLIT, sp.Integral(p_true(x) * LOSS, REALS), KL + ENTROPY)),
                   derive=lambda lhs, rhs, relation: proved(SPLIT, lhs, rhs),
                   derivation="the claim's own sides are equal by the same rewrites (logs of products of positive "
                              "factors split, linearity of ∫), so the expectation the Monte Carlo check estimates is "
                              "exactly D_KL + H"),
    numeric=_expected_nll,
    mutants=(
        *sharpness_mutants(_expected_nll),
        Mutant("minus-entropy", "D_KL(p_true ‖ p_θ) − H(p_true)",
               numeric=lambda s: _expected_nll(s, entropy_sign=-1.0)),
        Mutant("reversed-kl", "D_KL(p_θ ‖ p_true) + H(p_true)", numeric=lambda s: _expected_nll(s, reverse=True)),
        Mutant("p-log-p-scaled", "Σ p log p scaled by 1.5 in both D_KL and H: the sum KL + H is unchanged, "
                                 "the separate KL and H are not", numeric=lambda s: _expected_nll(s, p_log_p_scale=1.5)),
    ),
    tolerances={torch.float32: Tolerance(1.3e-6, 1e-5, "the table's float32 allowance plus Higham's worst-case bound "
                                                       "for the quadrature on this instance: the cross term Σ p log p_θ "
                                                       "is a float32 matrix product (161-term dot products), a 161-term "
                                                       "and a 3-term sum, ≤ (161 + 8 + 2 + 4)u·Σ|terms|; Σ p log p a "
                                                       "cascade sum of 161² terms, ≤ (15 + 4)u·Σ|terms|; both sums' "
                                                       "terms have one sign (p log p ≤ 0, and log p_θ < 0 on the "
                                                       "grid), so Σ|terms| = |cross| and |H|",
                                         rounding=_quadrature_rounding)},
    dtypes=(torch.float64, torch.float32),
    instances=32,
)

# --- the flow's log-determinant -------------------------------------------------------------------------------------


def _log_dets(sample, which: str = "flow"):
    """(the Σ s the flow accumulates, log|det| of the autograd Jacobian)."""
    model = flow_of(sample)
    points = sample["x"]
    z, log_det = model.forward(points)
    wrong = {"flow": log_det, "first-layer": model.scale_shift(0, points[..., 0])[0], "negated": -log_det,
             "exp-sum": torch.exp(log_det)}
    return wrong[which], model.autograd_log_det(points)


def finite_difference_log_det(sample, step: float = 1e-5) -> torch.Tensor:
    """log|det| of the central-difference Jacobian of f_θ (float64)."""
    model = flow_of(sample)
    points = sample["x"]
    columns = []
    for coordinate in range(2):
        e = torch.zeros_like(points)
        e[..., coordinate] = step
        columns.append((model.forward(points + e)[0] - model.forward(points - e)[0]) / (2 * step))
    jacobian = torch.stack(columns, dim=-1)
    return torch.log(torch.linalg.det(jacobian).abs())


coupling_log_det = Claim(
    id="coupling-log-det",
    statement=r"the RealNVP flow's accumulated $\sum s$ equals $\log|\det \frac{\partial f_\theta}{\partial x}|$ "
              r"of the autograd Jacobian",
    variables=(Variable("x", Vector(2, scale=2.0)),),
    numeric=_log_dets,
    references=(Reference("finite-differences", "log|det| of the central-difference Jacobian (step 1e-5)",
                          finite_difference_log_det),),
    mutants=(
        Mutant("first-layer-only", "only the first coupling layer's s", numeric=lambda s: _log_dets(s, "first-layer")),
        Mutant("negated", "−Σ s (the inverse map's log-determinant)", numeric=lambda s: _log_dets(s, "negated")),
        Mutant("det-not-log", "exp(Σ s): the determinant, not its logarithm", numeric=lambda s: _log_dets(s, "exp-sum")),
    ),
    dtypes=(torch.float64, torch.float32),
)

# --- Gaussian data, affine flow: closed forms ---------------------------------------------------------------------

m, a = sp.symbols("m a", real=True)
s, c = sp.symbols("s c", positive=True)
z = sp.Symbol("z", real=True)
half = sp.Rational(1, 2)
EXPECTED_LOSS = half * sp.log(2 * sp.pi) + (s ** 2 + (m - a) ** 2) / (2 * c ** 2) + sp.log(c)
KL_GAUSS = sp.log(c / s) + (s ** 2 + (m - a) ** 2) / (2 * c ** 2) - half
ENTROPY_GAUSS = half * sp.log(2 * sp.pi * sp.E * s ** 2)
KL_REVERSED = sp.log(s / c) + (c ** 2 + (m - a) ** 2) / (2 * s ** 2) - half


def log_normal(point, mean, std):
    return -half * sp.log(2 * sp.pi) - sp.log(std) - (point - mean) ** 2 / (2 * std ** 2)


AFFINE_LOSS = -log_normal((x - a) / c, 0, 1) + sp.log(c)  # −log p_Z((x − a)/c) − log|1/c|
GAUSS_VARIABLES = (Variable("m", Real(-2, 2)), Variable("s", Positive(0.2, 5.0)), Variable("a", Real(-2, 2)),
                   Variable("c", Positive(0.2, 5.0)))


def normal_params(sample):
    return (torch.distributions.Normal(sample["m"], sample["s"]), torch.distributions.Normal(sample["a"], sample["c"]))


def torch_kl_plus_entropy(sample) -> torch.Tensor:
    """kl_divergence(Normal(m, s), Normal(a, c)) + Normal(m, s).entropy()."""
    data, model = normal_params(sample)
    return torch.distributions.kl_divergence(data, model) + data.entropy()


def monte_carlo_affine_loss(sample, draws: int = 2000) -> Estimate:
    """Mean of the affine flow's loss −log φ((X − a)/c) + log c over X ~ N(m, s²)."""
    noise = torch.randn(draws, 1, generator=sample.generator(5), dtype=torch.float64).to(sample.device)
    xs = sample["m"] + sample["s"] * noise
    zs = (xs - sample["a"]) / sample["c"]
    values = 0.5 * zs ** 2 + 0.5 * math.log(2 * math.pi) + torch.log(sample["c"])
    return Estimate(values.mean(0), values.std(0) / math.sqrt(draws))


affine_gaussian = Claim(
    id="affine-gaussian",
    statement=r"Gaussian data $\mathcal{N}(m, s^2)$, flow $z = (x - a)/c$, prior $\mathcal{N}(0, 1)$: "
              r"$\mathbb{E}[\ell_\theta] = D_{\mathrm{KL}}(\mathcal{N}(m, s^2) \| \mathcal{N}(a, c^2)) "
              r"+ H(\mathcal{N}(m, s^2))$",
    lhs=EXPECTED_LOSS,
    rhs=KL_GAUSS + ENTROPY_GAUSS,
    variables=GAUSS_VARIABLES,
    assumptions=(r"$s, c > 0$",),
    symbolic=identity(),
    references=(
        Reference("monte-carlo", "mean of the affine flow's loss over 2000 draws X ~ N(m, s²), within 5 standard errors",
                  monte_carlo_affine_loss, side="lhs"),
        Reference("torch-normal", "kl_divergence(Normal(m, s), Normal(a, c)) + Normal(m, s).entropy()",
                  torch_kl_plus_entropy),
    ),
    mutants=(
        Mutant("minus-entropy", "KL − H", rhs=KL_GAUSS - ENTROPY_GAUSS),
        Mutant("reversed-kl", "KL(N(a, c²) ‖ N(m, s²)) + H", rhs=KL_REVERSED + ENTROPY_GAUSS),
    ),
)


GRADEABLE = (
    Problem(
        id="flow-gaussian-loss", title="Expected loss of an affine flow on Gaussian data", source="final-2022 P3",
        claim=affine_gaussian,
        statement=r"Data $X \sim \mathcal{N}(m, s^2)$, flow $z = (x - a)/c$ with prior $\mathcal{N}(0, 1)$: give the "
                  r"expected loss $\mathbb{E}[-\log p_\theta(X)]$ in terms of $m, s, a, c$.",
        symbols=(Symbol(m, "m"), Symbol(s, "s"), Symbol(a, "a"), Symbol(c, "c")),
        instances_per_group=96,
        misconceptions=(
            Misconception("kl-only", "the expected negative log-likelihood is the KL divergence plus the data's "
                          "entropy ½ log(2πe s²), which does not depend on the flow", KL_GAUSS),
        ),
        mutant_feedback={
            "minus-entropy": "E[−log p_θ(X)] = D_KL(p ‖ p_θ) + H(p): the entropy is added, not subtracted",
            "reversed-kl": "the KL divergence is from the data N(m, s²) to the model N(a, c²), not the reverse",
        },
    ),
)


@cache
def standard_normal_moments() -> tuple[sp.Expr, ...]:
    """∫ z^k φ(z) dz for k = 0, 1, 2, integrated by sympy."""
    phi = sp.exp(-z ** 2 / 2) / sp.sqrt(2 * sp.pi)
    return tuple(sp.integrate(z ** power * phi, (z, -sp.oo, sp.oo)) for power in range(3))


def gaussian_expectation(integrand: sp.Expr) -> sp.Expr:
    """E[integrand(X)], X ~ N(m, s²), for integrands quadratic in x after splitting logs: x = m + s z, moments of z."""
    poly = sp.Poly(sp.expand(sp.expand_log(integrand.subs(x, m + s * z), force=False)), z)
    if poly.degree() > 2:
        raise ValueError(f"integrand of degree {poly.degree()} in z")
    moments = standard_normal_moments()
    return sum(coefficient * moments[powers[0]] for powers, coefficient in poly.terms())


def _closed_form_fact(integrand, closed):
    return lambda: sp.simplify(sp.expand_log(gaussian_expectation(integrand) - closed))


LOG_DATA = log_normal(x, m, s)
LOG_MODEL = log_normal(x, a, c)


def _quadrature(sample, points: int = 801, half_width: float = 12.0):
    """E[−log p_θ], KL and H for N(m, s²) by Riemann sums over x = m + s z, z on [−12, 12]."""
    zs = torch.linspace(-half_width, half_width, points, dtype=sample.dtype, device=sample.device)
    dz = float(zs[1] - zs[0])
    weight = torch.exp(-0.5 * zs ** 2) / math.sqrt(2 * math.pi) * dz
    xs = sample["m"].unsqueeze(-1) + sample["s"].unsqueeze(-1) * zs
    data, model = normal_params(sample)
    log_data = data.log_prob(xs.transpose(0, 1)).transpose(0, 1)
    log_model = model.log_prob(xs.transpose(0, 1)).transpose(0, 1)
    return torch.stack([(-log_model * weight).sum(-1), ((log_data - log_model) * weight).sum(-1),
                        (-log_data * weight).sum(-1)], dim=-1)


def _closed_forms(sample, expected=EXPECTED_LOSS, kl=KL_GAUSS, entropy=ENTROPY_GAUSS):
    """(the three closed forms, the three integrals by Riemann sums over x = m + s·z)."""
    return torch.stack([sample.evaluate(e) for e in (expected, kl, entropy)], dim=-1), _quadrature(sample)


gaussian_integrals = Claim(
    id="gaussian-integrals",
    statement=r"$\int \mathcal{N}(x; m, s^2)(-\log p_\theta(x))\,dx$, $\int \mathcal{N}(x; m, s^2) "
              r"\log\frac{\mathcal{N}(x; m, s^2)}{\mathcal{N}(x; a, c^2)}\,dx$ and $-\int \mathcal{N}(x; m, s^2) "
              r"\log \mathcal{N}(x; m, s^2)\,dx$ are the closed forms of affine-gaussian",
    variables=GAUSS_VARIABLES,
    assumptions=(r"$s, c > 0$",),
    tolerances={torch.float32: Tolerance(5e-5, 1e-5, "Riemann sums of 801 float32 terms: the summation error is "
                                                     "up to 801·u = 4.8e-5 relative to the sum")},
    dtypes=(torch.float64, torch.float32),
    symbolic=facts(
        ("∫ z^k φ(z) dz = 1, 0, 1 for k = 0, 1, 2 (sympy integrate)",
         lambda: sp.Add(*[abs(v - w) for v, w in zip(standard_normal_moments(), (1, 0, 1))])),
        ("E[ℓ_θ(X)] = ½ log 2π + (s² + (m − a)²)/(2c²) + log c", _closed_form_fact(AFFINE_LOSS, EXPECTED_LOSS)),
        ("E[log p_true(X) − log p_θ(X)] = log(c/s) + (s² + (m − a)²)/(2c²) − ½",
         _closed_form_fact(LOG_DATA - LOG_MODEL, KL_GAUSS)),
        ("E[−log p_true(X)] = ½ log(2πe s²)", _closed_form_fact(-LOG_DATA, ENTROPY_GAUSS)),
    ),
    numeric=_closed_forms,
    mutants=(
        Mutant("no-log-det", "E[ℓ_θ] without the log c of the flow's Jacobian",
               numeric=lambda s_: _closed_forms(s_, expected=EXPECTED_LOSS - sp.log(c))),
        Mutant("kl-without-half", "KL without the − ½", numeric=lambda s_: _closed_forms(s_, kl=KL_GAUSS + half)),
        Mutant("entropy-without-e", "H = ½ log(2π s²)", numeric=lambda s_: _closed_forms(s_, entropy=ENTROPY_GAUSS - half)),
    ),
)

DERIVATIONS = (
    Derivation(
        id="flow-mle",
        title="Normalizing-flow maximum likelihood minimizes the KL divergence",
        source="final-2022 P3",
        statement=r"$H(p_{\mathrm{true}}) = -\int p_{\mathrm{true}}\log p_{\mathrm{true}}$ is the entropy of a "
                  r"density $p_{\mathrm{true}}$. A flow $f_\theta\colon \mathbb{R}^n \to \mathbb{R}^n$ is "
                  r"trained on $X_1, \dots, X_N \sim p_{\mathrm{true}}$ iid by maximizing $-\mathcal{L}(\theta) "
                  r"= \frac1N\sum_i \log p_Z(f_\theta(X_i)) + \log|\frac{\partial f_\theta}{\partial x}(X_i)|$, "
                  r"with $p_Z$ the prior density; $p_\theta$ is the density of $f_\theta^{-1}(Z)$, $Z \sim p_Z$.",
        claims=(per_sample_decomposition, expected_nll, coupling_log_det, affine_gaussian, gaussian_integrals),
        parts=(
            Part(
                label="",
                question=r"Show that $\mathbb{E}[\mathcal{L}(\theta)] = D_{\mathrm{KL}}(p_{\mathrm{true}} \| "
                         r"p_\theta) + H(p_{\mathrm{true}})$.",
                answer=Answer(
                    formula=KL + ENTROPY,
                    lhs=expected_nll.lhs,
                    named=r"\mathbb{E}[\mathcal{L}(\theta)]",
                    display=sp.Add(KL, sp.Mul(-1, sp.Integral(p_true(x) * sp.log(p_true(x)), REALS), evaluate=False),
                                   evaluate=False),
                    text=r"The $X_i$ are identically distributed, so $\mathbb{E}[\mathcal{L}(\theta)] = "
                         r"\mathbb{E}_{X \sim p_{\mathrm{true}}}[-\log p_Z(f_\theta(X)) - \log|\det "
                         r"\frac{\partial f_\theta}{\partial x}(X)|]$. By the change of variables formula "
                         r"$p_\theta(x) = p_Z(f_\theta(x))\,|\det \frac{\partial f_\theta}{\partial x}(x)|$ "
                         r"(written $J(x)$ below), this is $-\int p_{\mathrm{true}} \log p_\theta = \int "
                         r"p_{\mathrm{true}} \log\frac{p_{\mathrm{true}}}{p_\theta} - \int p_{\mathrm{true}} "
                         r"\log p_{\mathrm{true}} = D_{\mathrm{KL}}(p_{\mathrm{true}} \| p_\theta) + "
                         r"H(p_{\mathrm{true}})$. Since $H(p_{\mathrm{true}})$ does not depend on $\theta$, "
                         r"minimizing $\mathbb{E}[\mathcal{L}(\theta)]$ minimizes the KL divergence.",
                    scope=r"proved by sympy for arbitrary positive densities $p_{\mathrm{true}}$, $p_Z$ and an "
                          r"arbitrary flow (pointwise identity, then linearity of the integral; $x$ stands for "
                          r"a point of $\mathbb{R}^n$); checked by Monte Carlo for a 2-D RealNVP flow and Gaussian "
                          r"mixtures, and in closed form for Gaussian data with an affine flow",
                ),
                claims=("per-sample-decomposition", "expected-nll", "coupling-log-det", "affine-gaussian",
                        "gaussian-integrals"),
            ),
        ),
    ),
)
