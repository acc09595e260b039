r"""VAE prior scaling: the VLB depends on the prior's scale λ, but a rescaled encoder and decoder undo it.

# Main statements

With $p_Z = \mathcal{N}(0, \lambda^2 I_d)$, $q(z|x) = \mathcal{N}(\mu, \Sigma)$ ($\Sigma$ diagonal, entries
$v_j > 0$) and $p(x|z) = \mathcal{N}(f(z), \sigma^2 I_n)$,
$\mathrm{VLB}_\lambda(\mu, \Sigma, f) = \mathbb{E}_{z\sim q}[\log p(x|z)] - KL(q \,\|\, p_Z)$.

* `kl-scaled-prior`: $KL(\mathcal{N}(\mu, \Sigma) \,\|\, \mathcal{N}(0, \lambda^2 I)) =
  \tfrac12\sum_j \big[(v_j + \mu_j^2)/\lambda^2 - 1 - \log(v_j/\lambda^2)\big]$.
* `kl-depends-on-lambda` (part a): $KL_\lambda - KL_1 = \tfrac12\sum_j\big[(v_j + \mu_j^2)(\lambda^{-2} - 1)
  + 2\log\lambda\big]$, which is not identically 0 (e.g. $\mu = 0$, $v = 1$, $\lambda = 2$: $\tfrac d2(2\log 2 -
  \tfrac34) \ne 0$), while the reconstruction term does not involve $\lambda$.
* `vlb-depends-on-lambda` (part a, with a decoder network): $\mathrm{VLB}_\lambda - \mathrm{VLB}_1$ is minus that
  difference.
* `kl-rescaling` (part b): $KL(\mathcal{N}(\lambda\mu, \lambda^2\Sigma) \,\|\, \mathcal{N}(0, \lambda^2 I)) =
  KL(\mathcal{N}(\mu, \Sigma) \,\|\, \mathcal{N}(0, I))$.
* `vlb-invariance` (part b): $\mathrm{VLB}_1(\mu, \Sigma, f) = \mathrm{VLB}_\lambda(\lambda\mu, \lambda^2\Sigma,
  f(\cdot/\lambda))$, exactly, draw by draw: with shared noise $\varepsilon$,
  $z' = \lambda\mu + \lambda\Sigma^{1/2}\varepsilon = \lambda z$ and $f(z'/\lambda) = f(z)$.

# Notation

`v` is the diagonal of $\Sigma$; `sigma` the decoder's fixed standard deviation; $f$ a random
one-hidden-layer network per instance (`theta`). The VLB's expectation is estimated with 64 draws of
$\varepsilon$ shared by both sides, so the two sides of `vlb-invariance` and `vlb-depends-on-lambda` are
equal as functions of the draws, not just in expectation. Because the reconstruction terms of
$\mathrm{VLB}_\lambda$ and $\mathrm{VLB}_1$ are then the same tensor and cancel in their difference,
`vlb-depends-on-lambda` also checks each VLB against an independent rebuild (`Normal.log_prob` on the
same draws, `kl_divergence`); its `reconstruction-sigma` mutant corrupts only the cancelling term.

# Implementation notes

* Symbolic: the 1-D KL with prior $\mathcal{N}(0, \lambda^2)$ from the Gaussian moments (sympy
  integration); the KL identities in λ as sympy sums for $d \in \{1, 2, 3\}$ (explicit symbolic entries,
  the claims `kl-depends-on-lambda` and `kl-rescaling`), and for every $d$ through their per-coordinate
  terms (in `vlb-depends-on-lambda` and `vlb-invariance`); the reconstruction integrands of
  `vlb-invariance` agree for an *undefined* decoder $f$ (d = n = 2), so the invariance does not depend
  on the network.
* Numeric: d = 1..4 latent and n = 1..5 observed dimensions, λ log-uniform in [0.2, 5], in float64 and
  float32; references use `torch.distributions` (`kl_divergence` of `Normal`s, `Normal.log_prob`).
  float16 is not run: the KL is a difference of nearly cancelling terms (absolute, not relative,
  half-precision error).

# References

* final-2022 Problem 5 (VAE prior scaling is unimportant), parts (a) and (b).
"""

from __future__ import annotations

import math

import sympy as sp
import torch
from torch.distributions import Independent, Normal, kl_divergence

from checkers import (Answer, Claim, Derivation, Misconception, Mutant, Part, Positive, Problem, Reference, Symbol,
                      Variable, Vector, facts, for_dimensions, one_based)
from proofs.vae_bernoulli import (DecoderParameters, PositiveVector, decoder, gauss_hermite, gaussian_expectation,
                                  log_ratio_separates, normal_log_density)

DRAWS = 64
DTYPES = (torch.float64, torch.float32)

d = sp.Symbol("d", integer=True, positive=True)
j = sp.Symbol("j", integer=True, nonnegative=True)
mu = sp.IndexedBase("mu", real=True)
v = sp.IndexedBase("v", positive=True)
lam = sp.Symbol("lambda", positive=True)


def kl_normal(mean, var, prior_var):
    """KL(N(mean, var) ‖ N(0, prior_var)) in one dimension, the closed form `kl-scaled-prior` proves."""
    return ((var + mean ** 2) / prior_var - 1 - sp.log(var / prior_var)) / 2


def kl_sum(mean, var, prior_var):
    return sp.Sum(kl_normal(mean, var, prior_var), (j, 0, d - 1))


KL_LAMBDA = kl_sum(mu[j], v[j], lam ** 2)
KL_ONE = kl_sum(mu[j], v[j], 1)
KL_RESCALED = kl_sum(lam * mu[j], lam ** 2 * v[j], lam ** 2)
DIFFERENCE = sp.Sum(((v[j] + mu[j] ** 2) * (lam ** -2 - 1) + 2 * sp.log(lam)) / 2, (j, 0, d - 1))

KL_VARIABLES = (Variable("mu", Vector("d"), latex=r"\mu"), Variable("v", PositiveVector("d", 0.1, 4.0), latex="v"),
                Variable("lambda", Positive(0.2, 5.0), latex=r"\lambda"))
DIMS = {"d": (1, 4)}
BY_DIMENSION = for_dimensions(d, (1, 2, 3))

_z, _m = sp.symbols("z m", real=True)
_s = sp.Symbol("s", positive=True)


def _one_dimensional_scaled_kl():
    expectation = gaussian_expectation(normal_log_density(_z, _m, _s) - normal_log_density(_z, 0, lam))
    return sp.expand(sp.expand_log(expectation - kl_normal(_m, _s ** 2, lam ** 2)))


def scaled_kl_sides(sample, forget_log: bool = False):
    """(E_q[log q − log p_Z] per coordinate by Gauss–Hermite with torch.distributions, the closed form)."""
    m, var, scale = sample["mu"], sample["v"], sample["lambda"].unsqueeze(-1)
    nodes, weights = gauss_hermite(1, nodes=40)
    z = m.unsqueeze(-1) + var.sqrt().unsqueeze(-1) * nodes[:, 0].to(m)
    integrand = (Normal(m.unsqueeze(-1), var.sqrt().unsqueeze(-1)).log_prob(z)
                 - Normal(0.0, scale.unsqueeze(-1)).log_prob(z))
    quadrature = (integrand * weights.to(m)).sum(-1).sum(-1)
    log_term = 0.0 if forget_log else torch.log(var / scale ** 2)
    closed = 0.5 * ((var + m ** 2) / scale ** 2 - 1 - log_term).sum(-1)
    return quadrature, closed


def torch_kl(mean: torch.Tensor, std: torch.Tensor, prior_std: torch.Tensor) -> torch.Tensor:
    """torch.distributions.kl_divergence of diagonal Gaussians, summed over the d coordinates."""
    q = Independent(Normal(mean, std), 1)
    p = Independent(Normal(torch.zeros_like(mean), prior_std.unsqueeze(-1).expand_as(mean)), 1)
    return kl_divergence(q, p)


kl_scaled_prior = Claim(
    id="kl-scaled-prior",
    statement=r"$D_{\mathrm{KL}}(\mathcal{N}(\mu, \Sigma) \| \mathcal{N}(0, \lambda^2 I)) = \mathbb{E}_q[\log q - "
              r"\log p_Z] = \frac12\sum_j [(v_j + \mu_j^2)/\lambda^2 - 1 - \log(v_j/\lambda^2)]$, where $v_j = "
              r"\Sigma_{jj}$",
    variables=KL_VARIABLES,
    dims=DIMS,
    numeric=scaled_kl_sides,
    symbolic=facts(("1-D: the expectation over z ~ N(m, s²) of log N(z; m, s²) − log N(z; 0, λ²), minus "
                    "½((s² + m²)/λ² − 1 − log(s²/λ²)), "
                    "expands to 0 (moments by sympy integration)", _one_dimensional_scaled_kl),
                   ("d-D: the densities factorise over coordinates, so log q − log p_Z is the sum of the 1-D "
                    "log-ratios (checked for d = 2) and the KL the sum of the 1-D KLs",
                    lambda: log_ratio_separates(lam)),
                   scope="general"),
    references=(Reference("torch-kl", "kl_divergence(Normal(μ, √v), Normal(0, λ)) summed over coordinates",
                          lambda s: torch_kl(s["mu"], s["v"].sqrt(), s["lambda"])),),
    mutants=(Mutant("no-log-ratio", "without the −log(v_j/λ²) term", numeric=lambda s: scaled_kl_sides(
        s, forget_log=True)),),
    dtypes=DTYPES,
    instances=400,
)

kl_depends_on_lambda = Claim(
    id="kl-depends-on-lambda",
    statement=r"$D_{\mathrm{KL}}(q \| \mathcal{N}(0, \lambda^2 I)) - D_{\mathrm{KL}}(q \| \mathcal{N}(0, I)) = "
              r"\frac12\sum_j [(v_j + \mu_j^2)(\lambda^{-2} - 1) + 2\log\lambda]$, not identically 0",
    lhs=KL_LAMBDA - KL_ONE,
    rhs=DIFFERENCE,
    variables=KL_VARIABLES,
    dims=DIMS,
    symbolic=BY_DIMENSION,
    references=(Reference("torch-kl", "difference of two torch.distributions.kl_divergence values",
                          lambda s: torch_kl(s["mu"], s["v"].sqrt(), s["lambda"])
                          - torch_kl(s["mu"], s["v"].sqrt(), torch.ones_like(s["lambda"])), side="lhs"),),
    mutants=(Mutant("independent-of-lambda", "0: the claim that λ does not matter", rhs=sp.Integer(0)),
             Mutant("no-log-lambda", "without the 2 log λ per coordinate",
                    rhs=sp.Sum((v[j] + mu[j] ** 2) * (lam ** -2 - 1) / 2, (j, 0, d - 1)))),
    dtypes=DTYPES,
    instances=400,
)


# Gradeable: the change of the KL term when the prior is scaled to N(0, λ²I), with 1-based sums as students
# write them; witness: the difference of two torch.distributions KL divergences.
_j1 = sp.Symbol("j", integer=True, positive=True)
_ANSWER = sp.Sum((v[_j1] + mu[_j1] ** 2) * (lam ** -2 - 1) / 2 + sp.log(lam), (_j1, 1, d))


def _torch_difference(sample) -> torch.Tensor:
    mean, std = sample["mu"][:, 1:], sample["v"][:, 1:].sqrt()
    return torch_kl(mean, std, sample["lambda"]) - torch_kl(mean, std, torch.ones_like(sample["lambda"]))


GRADEABLE = (
    Problem(
        id="vae-prior-scaling-kl", title="KL term under a scaled prior N(0, λ²I)", source="final-2022 P5",
        claim=kl_depends_on_lambda,
        statement=r"For $q = \mathcal{N}(\mu, \mathrm{diag}(v))$ in $\mathbb{R}^d$, give "
                  r"$D_{\mathrm{KL}}(q \,\|\, \mathcal{N}(0, \lambda^2 I)) - D_{\mathrm{KL}}(q \,\|\, \mathcal{N}(0, I))$.",
        symbols=(Symbol(mu, r"\mu_j", ("mu",)), Symbol(v, "v_j", ("v",)), Symbol(lam, r"\lambda", ("lambda", "lam")),
                 Symbol(d, "d")),
        answer=_ANSWER, witness=_torch_difference,
        variables=(Variable("mu", one_based(Vector("d"))), Variable("v", one_based(PositiveVector("d", 0.1, 4.0))),
                   Variable("lambda", Positive(0.2, 5.0))),
        misconceptions=(
            Misconception("independent-of-lambda", "the KL term does depend on λ (the decoder can absorb the "
                          "scale, the KL cannot): the difference is not 0", sp.Integer(0)),
            Misconception("no-log-lambda", "each coordinate's normaliser adds log λ: "
                          "½(v_j + μ_j²)(λ⁻² − 1) + log λ", sp.Sum((v[_j1] + mu[_j1] ** 2) * (lam ** -2 - 1) / 2,
                                                                 (_j1, 1, d))),
            Misconception("lambda-not-squared", "the prior's variance is λ², so the quadratic term scales with "
                          "λ⁻², not λ⁻¹", sp.Sum((v[_j1] + mu[_j1] ** 2) * (1 / lam - 1) / 2 + sp.log(lam),
                                                 (_j1, 1, d))),
        ),
    ),
)

kl_rescaling = Claim(
    id="kl-rescaling",
    statement=r"$D_{\mathrm{KL}}(\mathcal{N}(\lambda\mu, \lambda^2\Sigma) \| \mathcal{N}(0, \lambda^2 I)) = "
              r"D_{\mathrm{KL}}(\mathcal{N}(\mu, \Sigma) \| \mathcal{N}(0, I))$",
    lhs=KL_RESCALED,
    rhs=KL_ONE,
    variables=KL_VARIABLES,
    dims=DIMS,
    symbolic=BY_DIMENSION,
    references=(Reference("torch-kl", "kl_divergence(Normal(λμ, λ√v), Normal(0, λ))",
                          lambda s: torch_kl(s["lambda"].unsqueeze(-1) * s["mu"], s["lambda"].unsqueeze(-1) * s["v"].sqrt(),
                                             s["lambda"]), side="lhs"),),
    mutants=(Mutant("covariance-times-lambda", "Σ ↦ λΣ (instead of λ²Σ) gives the same KL",
                    rhs=kl_sum(lam * mu[j], lam * v[j], lam ** 2)),
             Mutant("prior-only", "only the prior rescaled: KL(N(μ, Σ) ‖ N(0, λ²I))", rhs=KL_LAMBDA)),
    dtypes=DTYPES,
    instances=400,
)


# --- the VLB with a decoder network and shared noise -----------------------------------------------------------------

VLB_VARIABLES = (Variable("x", Vector("n")), *KL_VARIABLES, Variable("sigma", Positive(0.3, 3.0), latex=r"\sigma"),
                 Variable("theta", DecoderParameters("d", "n"), latex=r"\theta"))
VLB_DIMS = {"d": (1, 4), "n": (1, 5)}


def vlb(sample, scale, mean, var, decoder_input_scale, eps, sigma_power: int = 2) -> torch.Tensor:
    """Monte Carlo VLB with the given draws ε (B, M, d): mean_m log N(x; f(z_m / c), σ²I) − KL(N(mean, var) ‖ N(0, scale²I)).

    The KL is the closed form of `kl-scaled-prior`; `decoder_input_scale` c is 1 for f and λ for f(·/λ).
    `sigma_power` 1 builds a wrong reconstruction term (σ in place of σ² in the exponent), for a mutant.
    """
    x, sigma = sample["x"], sample["sigma"]
    z = mean.unsqueeze(1) + var.sqrt().unsqueeze(1) * eps
    fz = decoder(sample["theta"], z / decoder_input_scale.reshape(-1, 1, 1), sample.dims["d"], sample.dims["n"])
    n = x.shape[-1]
    log_lik = (-((x.unsqueeze(1) - fz) ** 2).sum(-1) / (2 * sigma.unsqueeze(1) ** sigma_power)
               - n / 2 * torch.log(2 * math.pi * sigma.unsqueeze(1) ** 2))
    s2 = scale.unsqueeze(-1) ** 2
    kl = 0.5 * ((var + mean ** 2) / s2 - 1 - torch.log(var / s2)).sum(-1)
    return log_lik.mean(1) - kl


def shared_noise(sample) -> torch.Tensor:
    eps = torch.randn(sample.size, DRAWS, sample.dims["d"], generator=sample.generator(), dtype=torch.float64)
    return eps.to(sample["mu"])  # the sample's dtype and device


def invariance_sides(sample, var_power: int = 2, rescale_decoder: bool = True, rescale_mean: bool = True):
    """(VLB_1(μ, Σ, f), VLB_λ(λμ, λ²Σ, f(·/λ))) with the same draws; keywords build the wrong variants."""
    eps, lam_ = shared_noise(sample), sample["lambda"]
    one = torch.ones_like(lam_)
    c = lam_.unsqueeze(-1)
    original = vlb(sample, one, sample["mu"], sample["v"], one, eps)
    rescaled = vlb(sample, lam_, c * sample["mu"] if rescale_mean else sample["mu"], c ** var_power * sample["v"],
                   lam_ if rescale_decoder else one, eps)
    return original, rescaled


def torch_rescaled_vlb(sample) -> torch.Tensor:
    """VLB_λ(λμ, λ²Σ, f(·/λ)) with Normal(f(z'/λ), σ).log_prob and torch.distributions.kl_divergence."""
    eps, lam_ = shared_noise(sample), sample["lambda"]
    c = lam_.reshape(-1, 1)
    mean, std = c * sample["mu"], c * sample["v"].sqrt()
    z = mean.unsqueeze(1) + std.unsqueeze(1) * eps
    fz = decoder(sample["theta"], z / lam_.reshape(-1, 1, 1), sample.dims["d"], sample.dims["n"])
    log_lik = Independent(Normal(fz, sample["sigma"].reshape(-1, 1, 1).expand_as(fz)), 1).log_prob(
        sample["x"].unsqueeze(1).expand_as(fz))
    return log_lik.mean(1) - torch_kl(mean, std, lam_)


def _reconstruction_integrands_agree():
    """log N(x; f(z'/λ), σ²I) − log N(x; f(z), σ²I) for z = μ + s⊙ε, z' = λμ + λs⊙ε, undefined f, d = n = 2."""
    sigma = sp.Symbol("sigma", positive=True)
    f = [sp.Function(f"f{i}") for i in range(2)]
    m, e, x = sp.symbols("m0:2", real=True), sp.symbols("e0:2", real=True), sp.symbols("x0:2", real=True)
    s = sp.symbols("s0:2", positive=True)
    z = [m[k] + s[k] * e[k] for k in range(2)]
    z_rescaled = [lam * m[k] + lam * s[k] * e[k] for k in range(2)]

    def log_likelihood(args):
        return sum(-(x[i] - f[i](*args)) ** 2 / (2 * sigma ** 2) for i in range(2)) - sp.log(2 * sp.pi * sigma ** 2)

    return sp.simplify(log_likelihood([zk / lam for zk in z_rescaled]) - log_likelihood(z))


vlb_invariance = Claim(
    id="vlb-invariance",
    statement=r"the VLB with $\lambda = 1$ equals the VLB with $\lambda$, $\mu_\phi \mapsto \lambda\mu_\phi$, "
              r"$\Sigma_\phi \mapsto \lambda^2\Sigma_\phi$, $f_\theta(z) \mapsto f_\theta(z/\lambda)$, draw by draw "
              r"with shared noise",
    variables=VLB_VARIABLES,
    dims=VLB_DIMS,
    numeric=invariance_sides,
    symbolic=facts(
        ("reconstruction: with z' = λμ + λ√Σ ε, log N(x; f(z'/λ), σ²I) = log N(x; f(μ + √Σ ε), σ²I) for an "
         "undefined f (d = n = 2; the argument cancels coordinatewise for every d)", _reconstruction_integrands_agree),
        ("KL: the per-coordinate terms of KL(N(λμ, λ²Σ) ‖ N(0, λ²I)) and KL(N(μ, Σ) ‖ N(0, I)) agree, so the "
         "sums agree for every d", lambda: sp.expand(sp.expand_log(kl_normal(lam * _m, lam ** 2 * _s, lam ** 2)
                                                                  - kl_normal(_m, _s, 1)))),
        scope="reconstruction for any decoder (d = n = 2); KL for every d",
    ),
    references=(Reference("torch-distributions", "VLB_λ(λμ, λ²Σ, f(·/λ)) with Normal.log_prob and kl_divergence",
                          torch_rescaled_vlb),),
    mutants=(
        Mutant("covariance-times-lambda", "Σ ↦ λΣ", numeric=lambda s: invariance_sides(s, var_power=1)),
        Mutant("decoder-unchanged", "f(z) kept instead of f(z/λ)", numeric=lambda s: invariance_sides(
            s, rescale_decoder=False)),
        Mutant("mean-unchanged", "μ kept instead of λμ", numeric=lambda s: invariance_sides(s, rescale_mean=False)),
    ),
    dtypes=DTYPES,
    instances=400,
)


def torch_reconstruction(sample, mean: torch.Tensor, std: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """mean_m log p(x | z_m), z_m = mean + std ⊙ ε_m, with Independent(Normal(f(z_m), σ)).log_prob (torch.distributions)."""
    z = mean.unsqueeze(1) + std.unsqueeze(1) * eps
    fz = decoder(sample["theta"], z, sample.dims["d"], sample.dims["n"])
    log_lik = Independent(Normal(fz, sample["sigma"].reshape(-1, 1, 1).expand_as(fz)), 1).log_prob(
        sample["x"].unsqueeze(1).expand_as(fz))
    return log_lik.mean(1)


def lambda_difference_sides(sample, with_log: bool = True, sigma_power: int = 2):
    """Both sides as 3-vectors: (VLB_λ − VLB_1, VLB_λ, VLB_1) against (the claimed difference, and each VLB rebuilt).

    Left: this module's `vlb` with the same μ, Σ, f and draws for λ and for 1 (its reconstruction terms
    are the same tensor and cancel in the difference: the first component checks only the KL part).
    Right: −½ Σ_j [(v_j + μ_j²)(λ⁻² − 1) + 2 log λ], then each VLB from an independent implementation
    (reconstruction by `Normal.log_prob` on the same draws, KL by `kl_divergence`), so the
    reconstruction term is checked too. `sigma_power` 1 corrupts this module's reconstruction term in
    both VLBs (a mutant that cancels in the difference).
    """
    eps, lam_ = shared_noise(sample), sample["lambda"]
    one = torch.ones_like(lam_)
    with_lambda = vlb(sample, lam_, sample["mu"], sample["v"], one, eps, sigma_power)
    with_one = vlb(sample, one, sample["mu"], sample["v"], one, eps, sigma_power)
    per_coordinate = (sample["v"] + sample["mu"] ** 2) * (lam_.unsqueeze(-1) ** -2 - 1)
    if with_log:
        per_coordinate = per_coordinate + 2 * torch.log(lam_).unsqueeze(-1)
    std = sample["v"].sqrt()
    reconstruction = torch_reconstruction(sample, sample["mu"], std, eps)
    rhs = torch.stack([-0.5 * per_coordinate.sum(-1), reconstruction - torch_kl(sample["mu"], std, lam_),
                       reconstruction - torch_kl(sample["mu"], std, one)], dim=-1)
    return torch.stack([with_lambda - with_one, with_lambda, with_one], dim=-1), rhs


def _claimed_difference_zero(sample):
    lhs, rhs = lambda_difference_sides(sample)
    return lhs, torch.cat([torch.zeros_like(rhs[..., :1]), rhs[..., 1:]], dim=-1)


vlb_depends_on_lambda = Claim(
    id="vlb-depends-on-lambda",
    statement=r"$\mathrm{VLB}_\lambda - \mathrm{VLB}_1 = -\frac12\sum_j [(v_j + \mu_j^2)(\lambda^{-2} - 1) + "
              r"2\log\lambda]$ for the same encoder and decoder: the VLB changes with $\lambda$",
    variables=VLB_VARIABLES,
    dims=VLB_DIMS,
    numeric=lambda_difference_sides,
    symbolic=facts(
        ("the reconstruction term E_q log p(x|z) does not involve λ, so VLB_λ − VLB_1 = −(KL_λ − KL_1)",
         lambda: sp.diff(normal_log_density(_z, sp.Function("f")(_m), _s), lam)),
        ("KL_λ − KL_1 = ½ Σ_j [(v_j + μ_j²)(λ⁻² − 1) + 2 log λ]: the per-coordinate terms agree, so for every d",
         lambda: sp.expand(sp.expand_log(kl_normal(_m, _s, lam ** 2) - kl_normal(_m, _s, 1)
                                         - ((_s + _m ** 2) * (lam ** -2 - 1) + 2 * sp.log(lam)) / 2))),
        ("not identically 0: at μ = 0, v = 1, λ = 2 (d = 1) the difference is −(log 2 − 3/8) ≠ 0",
         lambda: sp.Ne(DIFFERENCE.subs(d, 1).doit().subs({mu[0]: 0, v[0]: 1, lam: 2}), 0)),
        scope="general",
    ),
    mutants=(Mutant("independent-of-lambda", "VLB_λ − VLB_1 = 0", numeric=_claimed_difference_zero),
             Mutant("no-log-lambda", "without the 2 log λ", numeric=lambda s: lambda_difference_sides(
                 s, with_log=False)),
             Mutant("reconstruction-sigma", "the reconstruction term with σ for σ² in the exponent, in both VLBs: "
                                            "it cancels in VLB_λ − VLB_1 and is seen only in each VLB",
                    numeric=lambda s: lambda_difference_sides(s, sigma_power=1))),
    dtypes=DTYPES,
    instances=400,
)

DERIVATIONS = (
    Derivation(
        id="vae-prior-scaling",
        title="VAE prior scaling is unimportant",
        source="final-2022 P5",
        statement=r"A VAE on $X^{(1)}, \dots, X^{(N)} \in \mathbb{R}^n$ has $p_Z = \mathcal{N}(0, \lambda^2 I)$, "
                  r"$q_\phi(z|x) = \mathcal{N}(\mu_\phi(x), \Sigma_\phi(x))$ with diagonal $\Sigma_\phi$, and "
                  r"$p_\theta(x|z) = \mathcal{N}(f_\theta(z), \sigma^2 I)$ with $\sigma > 0$ fixed.",
        claims=(kl_scaled_prior, kl_depends_on_lambda, vlb_depends_on_lambda, kl_rescaling, vlb_invariance),
        parts=(
            Part(
                label="(a)",
                question=r"Show that the variational lower bound (VLB) changes as a function of $\lambda > 0$.",
                answer=Answer(
                    formula=DIFFERENCE,
                    display=sp.Sum(sp.Add(sp.Mul(sp.Rational(1, 2), sp.Add(1 / lam ** 2, -1, evaluate=False),
                                                 sp.Add(v[j], mu[j] ** 2, evaluate=False), evaluate=False),
                                          sp.log(lam), evaluate=False), (j, 0, d - 1)),
                    named=r"\mathrm{VLB}_1 - \mathrm{VLB}_\lambda = D_{\mathrm{KL}}(q_\phi(\cdot|x) \| "
                          r"\mathcal{N}(0, \lambda^2 I)) - D_{\mathrm{KL}}(q_\phi(\cdot|x) \| \mathcal{N}(0, I))",
                    text=r"$\mathrm{VLB}_\lambda = \mathbb{E}_{z \sim q_\phi}[\log p_\theta(x|z)] - "
                         r"D_{\mathrm{KL}}(q_\phi(\cdot|x) \| \mathcal{N}(0, \lambda^2 I))$. The reconstruction "
                         r"term does not involve $\lambda$, so $\mathrm{VLB}_\lambda - \mathrm{VLB}_1$ is minus the "
                         r"difference of the KL terms above ($v_j = \Sigma_\phi(x)_{jj}$, $\mu = \mu_\phi(x)$). It "
                         r"is not identically 0: for $d = 1$, $\mu = 0$, $v = 1$, $\lambda = 2$ it is "
                         r"$-(\log 2 - \frac38) \ne 0$. So with the encoder and decoder fixed, the VLB changes "
                         r"with $\lambda$.",
                    scope=r"the KL difference proved by sympy for $d \in \{1, 2, 3\}$ with explicit entries and "
                          r"for every $d$ coordinate by coordinate; checked numerically for $d = 1, \dots, 4$, "
                          r"$\lambda \in [0.2, 5]$, with a decoder network",
                ),
                claims=("kl-scaled-prior", "kl-depends-on-lambda", "vlb-depends-on-lambda"),
            ),
            Part(
                label="(b)",
                question=r"Show that the VLB with $\lambda = 1$ is the same as the VLB with $\lambda > 0$, "
                         r"$\mu_\phi \mapsto \lambda\mu_\phi$, $\Sigma_\phi \mapsto \lambda^2\Sigma_\phi$ and "
                         r"$f_\theta(z) \mapsto f_\theta(z/\lambda)$.",
                answer=Answer(
                    formula=KL_ONE,
                    lhs=KL_RESCALED,
                    lhs_display=sp.Sum(sp.Mul(sp.Rational(1, 2), sp.Add(
                        sp.Mul(sp.Add(lam ** 2 * v[j], lam ** 2 * mu[j] ** 2, evaluate=False),
                               sp.Pow(lam ** 2, -1, evaluate=False), evaluate=False), -1,
                        -sp.log(sp.Mul(lam ** 2 * v[j], sp.Pow(lam ** 2, -1, evaluate=False), evaluate=False),
                                evaluate=False), evaluate=False), evaluate=False), (j, 0, d - 1)),
                    named=r"D_{\mathrm{KL}}(\mathcal{N}(\lambda\mu, \lambda^2\Sigma) \| \mathcal{N}(0, \lambda^2 I))",
                    display=sp.Sum(sp.Mul(sp.Rational(1, 2), sp.Add(v[j], mu[j] ** 2, -1, -sp.log(v[j]),
                                                                     evaluate=False), evaluate=False), (j, 0, d - 1)),
                    text=r"KL term: coordinate by coordinate, $\frac12[(\lambda^2 v_j + \lambda^2\mu_j^2)/\lambda^2 "
                         r"- 1 - \log(\lambda^2 v_j/\lambda^2)] = \frac12[v_j + \mu_j^2 - 1 - \log v_j]$, as shown "
                         r"above. Reconstruction term: write $z = \mu_\phi(x) + \Sigma_\phi(x)^{1/2}\varepsilon$ with "
                         r"$\varepsilon \sim \mathcal{N}(0, I)$; the rescaled encoder gives $z' = \lambda\mu_\phi(x) + "
                         r"\lambda\Sigma_\phi(x)^{1/2}\varepsilon = \lambda z$, and the rescaled decoder gives "
                         r"$f_\theta(z'/\lambda) = f_\theta(z)$, so $\log p_\theta(x|z)$ is the same for every "
                         r"$\varepsilon$ and so is its expectation. Both terms agree, so the two VLBs are equal.",
                    scope=r"the KL identity proved by sympy for $d \in \{1, 2, 3\}$ with explicit entries and for "
                          r"every $d$ coordinate by coordinate; the reconstruction identity for an arbitrary "
                          r"decoder with $d = n = 2$ (it holds coordinatewise for every $d$); checked numerically "
                          r"draw by draw for $d = 1, \dots, 4$, $n = 1, \dots, 5$",
                ),
                claims=("kl-rescaling", "vlb-invariance"),
            ),
        ),
    ),
)
