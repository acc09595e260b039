r"""The geometric GAN beyond the pointwise hinge bound: clipped discriminators, the generator's optimum, a worked family.

# Main statements

For densities $p = p_{\text{true}}$, $q = p_\theta$ and a discriminator $D$, the exam's inner objective is
$L(D) = \int p\,(1 - D)_+ + q\,(1 + D)_+$. (The pointwise bound $h(y) \ge 2\min(a, b)$, the optimal
discriminator and $\min_D L = 2\int\min(p, q) = 2 - 2D_{\mathrm{TV}}$ are `hinge-gan`; $D_{\mathrm{TV}} = 1 -
\int\min$ is `tv-min`.)

* `clipping` (part b): $L(\mathrm{clip}(D, -1, 1)) \le L(D)$ for every $D$: an infinitely powerful
  discriminator loses nothing by taking values in $[-1, 1]$.
* `linear-on-unit-interval` (part b): for $|D| \le 1$, $L(D) = 2 - \int (p - q)\,D$, a linear functional, so
  $\min_{|D| \le 1} L = 2 - \int|p - q|$ at $D = \operatorname{sign}(p - q)$ (the dual view of (b)).
* `overlap-at-most-one` (part c): $\int\min(p, q) \le 1$, with equality when $q = p$: $p_\theta = p_{\text{true}}$
  maximises (1).
* `equilibrium` (part c): a generator that reproduces $p_{\text{true}}$ exactly ($G(z) = Az + b$ for
  $p_{\text{true}} = \mathcal N(b, AA^\top)$) leaves every discriminator with values in $[-1, 1]$ at
  $L(D) = 2$, the largest value $\min_D J$ can take: the discriminator has nothing left to detect.
* `location-family` (part e, worked example): for $p_{\text{true}} = \mathcal N(0, 1)$ and the generator
  $G_\theta(z) = z + \theta$, $\int\min(p_{\text{true}}, p_\theta) = \operatorname{erfc}(|\theta|/(2\sqrt2))$ and
  $D_{\mathrm{TV}}(p_{\text{true}}, p_\theta) = \operatorname{erf}(|\theta|/(2\sqrt2))$: (1) is maximised exactly
  where the total variation is minimised, at $\theta = 0$.

# Notation

$(r)_+ = \max\{0, r\}$; $h(y) = a(1-y)_+ + b(1+y)_+$ with $a = p(x)$, $b = q(x)$. Grid densities are
tabulated on 401 points of $[-10, 10]$ with Riemann sums (the engine's `DensityOnGrid`).

# Implementation notes

* Symbolic: `clipping` by $h(1 + t) - h(1) = bt$ and $h(-1 - t) - h(-1) = at$ for $t \ge 0$ (so clipping
  lowers every term); `linear-on-unit-interval` by $h(y) = (a + b) + (b - a)y$ on $[-1, 1]$, with
  $y = (1 - s)/(1 + s)$, $s \ge 0$, covering $(-1, 1]$ and $y = -1$ separately, then $\int p = \int q = 1$;
  `overlap-at-most-one` by $\min(a, b) \le a$ in both orders; `location-family` by integrating the two
  Gaussian pieces on either side of the crossing point $\theta/2$ with $\Phi' = \varphi$ ($\theta > 0$; $\theta < 0$ by the
  reflection $x \mapsto -x$).
* Numeric: random grid densities and random discriminators (values up to ±6); `equilibrium` by Monte
  Carlo with real samples, $X = b + L\varepsilon$ with $LL^\top = AA^\top$ the Cholesky factor (a different
  square root than $A$) and $G(Z)$, $n = 1..3$, and a random
  MLP discriminator with values in $(-1, 1)$, $2^{14}$ draws of each per instance (32 instances);
  reference: the same objective through `torch.nn.functional.margin_ranking_loss` (margin 1), whose
  hinge is exactly $(1 \mp D)_+$, on its own fresh draws from `torch.distributions.MultivariateNormal`
  (so it shares only the discriminator with the check); `location-family` ($2^{14}$ draws per
  instance) by Monte Carlo of $\mathbb E_{X\sim p}[\min(1, q/p)]$ and, with real generator samples,
  $\mathbb E_{X\sim q}[(1 - p/q)_+] = \int (q - p)_+ = D_{\mathrm{TV}}$ (both integrands in [0, 1]), with $q$ from
  `TransformedDistribution(Normal(0, 1), AffineTransform(θ, 1))`, and a fine-grid reference. Both Monte
  Carlo claims are judged within 5 standard errors per component and carry the `target-x1.02` and
  `target-x0.98` mutants (the value scaled by 1.02 and 0.98), which must be rejected.

# References

* final-2022 Problem 6 (b), (c), (e).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import sympy as sp
import torch
import torch.nn.functional as F
from torch.distributions import Normal, TransformedDistribution
from torch.distributions.transforms import AffineTransform

from checkers import (Answer, Claim, DensityOnGrid, Derivation, Estimate, Invertible, Kind, Mutant, Part, Real,
                      Reference, Tolerance, Variable, Vector, density_grid, estimate, facts, not_attempted, per_batch,
                      sharpness_mutants)

GRID = 401
DX = density_grid(GRID)[1]
HALF_SUMS = Tolerance(1e-3, 4e-3, "float16 sums of 401 terms whose magnitudes add up to ∫p + ∫q = 2: the absolute "
                                  "error is ≈ 4u · 2 ≈ 4e-3 however small L(D) is (it nears 0 as D nears sign(p − q))")

a, b = sp.symbols("a b", nonnegative=True)
t, s, c = sp.symbols("t s c", nonnegative=True)
y = sp.Symbol("y", real=True)


def hinge(a_, b_, y_):
    return a_ * sp.Max(0, 1 - y_) + b_ * sp.Max(0, 1 + y_)


@dataclass(frozen=True)
class Discriminator(Kind):
    """A random smooth function on the density grid: offset plus 4 Gaussian bumps, values up to about ±6.

    With `bounded`, the same function squashed into (−1, 1) by tanh.
    """

    points: int = GRID
    bounded: bool = False

    @property
    def description(self) -> str:
        return f"random smooth function on the {self.points}-point grid" + (", values in (−1, 1)" if self.bounded else "")

    def draw(self, batch, dims, gen):
        x, _ = density_grid(self.points)
        amp = 6 * torch.rand(batch, 4, 1, generator=gen, dtype=torch.float64) - 3
        centre = 8 * torch.rand(batch, 4, 1, generator=gen, dtype=torch.float64) - 4
        width = 0.3 + 1.7 * torch.rand(batch, 4, 1, generator=gen, dtype=torch.float64)
        offset = 3 * torch.rand(batch, 1, generator=gen, dtype=torch.float64) - 1.5
        values = offset + (amp * torch.exp(-0.5 * ((x - centre) / width) ** 2)).sum(1)
        return torch.tanh(values) if self.bounded else values


GRID_VARIABLES = (Variable("p", DensityOnGrid(GRID), r"p_{\mathrm{true}}"), Variable("q", DensityOnGrid(GRID), r"p_\theta"))


def objective(p, q, disc) -> torch.Tensor:
    """L(D) = Σ (p (1 − D)_+ + q (1 + D)_+) Δx."""
    return (p * torch.relu(1 - disc) + q * torch.relu(1 + disc)).sum(-1) * DX


# --- (b) clipping and the linear form -------------------------------------------------------------------------------

def clipping_sides(sample, squash=lambda d: d.clamp(-1, 1)):
    """(L of the clipped discriminator, L of the discriminator), as Riemann sums on the grid."""
    p, q, disc = sample["p"], sample["q"], sample["D"]
    return objective(p, q, squash(disc)), objective(p, q, disc)


clipping = Claim(
    id="clipping",
    statement=r"$L(\mathrm{clip}(D, -1, 1)) \le L(D)$ for every discriminator $D$",
    relation="<=",
    variables=GRID_VARIABLES + (Variable("D", Discriminator()),),
    numeric=clipping_sides,
    symbolic=facts(
        ("y = 1 + t, t >= 0: h(y) − h(1) = b t >= 0", lambda: hinge(a, b, 1 + t) - hinge(a, b, 1) - b * t),
        ("y = −1 − t, t >= 0: h(y) − h(−1) = a t >= 0 (on [−1, 1] clipping changes nothing, so every term of "
         "L(clip D) − L(D) is <= 0)", lambda: hinge(a, b, -1 - t) - hinge(a, b, -1) - a * t),
        scope="pointwise lemmas for all a, b ≥ 0; integrals and grid sums alike follow by summing"),
    mutants=(
        Mutant("clip-to-half", "clipping to [−½, ½] never increases L", numeric=lambda s: clipping_sides(
            s, squash=lambda d: d.clamp(-0.5, 0.5))),
        Mutant("tanh-squash", "squashing by tanh never increases L", numeric=lambda s: clipping_sides(
            s, squash=torch.tanh)),
    ),
    instances=400,
)


def linear_sides(sample, sign: float = 1.0):
    """(L(D), 2 − ∫(p_true − p_θ)·D) for D with values in (−1, 1), as Riemann sums on the grid."""
    p, q, disc = sample["p"], sample["q"], sample["D"]
    return objective(p, q, disc), 2 - sign * ((p - q) * disc).sum(-1) * DX


linear_on_unit_interval = Claim(
    id="linear-on-unit-interval",
    statement=r"for $|D| \le 1$: $L(D) = 2 - \int (p_{\mathrm{true}} - p_\theta) D$, linear in $D$, so "
              r"$\min_{|D| \le 1} L = 2 - \int |p_{\mathrm{true}} - p_\theta|$",
    variables=GRID_VARIABLES + (Variable("D", Discriminator(bounded=True)),),
    numeric=linear_sides,
    symbolic=facts(
        ("y = (1 − s)/(1 + s), s >= 0 (all of (−1, 1]): h(y) = (a + b) + (b − a) y",
         lambda: sp.simplify(hinge(a, b, (1 - s) / (1 + s)) - (a + b) - (b - a) * (1 - s) / (1 + s))),
        ("y = −1: h(−1) = 2a = (a + b) − (b − a); summing, L(D) = ∫(p + q) − ∫(p − q) D = 2 − ∫(p − q) D "
         "since ∫p = ∫q = 1", lambda: hinge(a, b, -1) - 2 * a),
        scope="pointwise lemmas for all a, b ≥ 0; integrals and grid sums alike follow by summing"),
    mutants=(Mutant("sign-flipped", "L(D) = 2 + ∫(p − q) D", numeric=lambda s: linear_sides(s, sign=-1.0)),
             Mutant("half-weight", "L(D) = 2 − ½∫(p − q) D", numeric=lambda s: linear_sides(s, sign=0.5))),
    tolerances={torch.float16: HALF_SUMS},
    instances=400,
)


# --- (c) the generator's optimum ------------------------------------------------------------------------------------

def overlap_sides(sample, bound: float = 1.0, same: bool = False):
    """(∫min(p_true, p_θ) as a Riemann sum, the bound 1)."""
    p = sample["p"]
    q = p if same else sample["q"]
    return torch.minimum(p, q).sum(-1) * DX, torch.full_like(p[:, 0], bound)


overlap_at_most_one = Claim(
    id="overlap-at-most-one",
    statement=r"$\int\min\{p_{\mathrm{true}}, p_\theta\} \le \int p_{\mathrm{true}} = 1$, with equality at "
              r"$p_\theta = p_{\mathrm{true}}$: the generator's optimum",
    relation="<=",
    variables=GRID_VARIABLES,
    numeric=overlap_sides,
    symbolic=facts(
        ("b = a + c, c >= 0: min(a, b) = a", lambda: sp.Min(a, a + c) - a),
        ("a = b + c, c >= 0: min(a, b) = b = a − c <= a", lambda: sp.Min(b + c, b) - (b + c) + c),
        ("q = p: min(a, a) = a, so ∫min(p, p) = ∫p = 1", lambda: sp.Min(a, a) - a),
        scope="pointwise lemmas for all a, b ≥ 0; integrals and grid sums alike follow by summing"),
    references=(Reference("equality-at-p-true", "∫min(p_true, p_true) = 1 (the grid sum of p_true)",
                          lambda s: torch.minimum(s["p"], s["p"]).sum(-1) * DX,
                          tolerance=Tolerance(1e-7, 1e-7, "float64 sum")),),
    mutants=(Mutant("at-most-half", "∫min(p_true, p_θ) <= ½", numeric=lambda s: overlap_sides(s, bound=0.5)),
             Mutant("strictly-below-one", "∫min(p_true, p_θ) <= 1 − 10⁻³ even at p_θ = p_true",
                    numeric=lambda s: overlap_sides(s, bound=1 - 1e-3, same=True))),
    instances=400,
)

MC_DRAWS = 2 ** 14  # per instance: the value scaled by 1.02 or 0.98 must be rejected
REFERENCE_DRAWS = 2 ** 12
HIDDEN = 8


def _mlp_discriminator(sample, points: torch.Tensor) -> torch.Tensor:
    """tanh of a random one-hidden-layer network on (x, x²) features: values in (−1, 1). points: (B, M, n)."""
    gen = sample.generator(offset=3)
    batch, n = points.shape[0], points.shape[-1]
    w1 = torch.randn(batch, 2 * n, HIDDEN, generator=gen, dtype=torch.float64).to(points)
    b1 = torch.randn(batch, 1, HIDDEN, generator=gen, dtype=torch.float64).to(points)
    w2 = 2 * torch.randn(batch, HIDDEN, 1, generator=gen, dtype=torch.float64).to(points) / math.sqrt(HIDDEN)
    features = torch.cat((points, points ** 2 / 2), dim=-1)
    return torch.tanh(torch.bmm(torch.tanh(torch.bmm(features, w1) + b1), w2)).squeeze(-1)


def generator(sample, z: torch.Tensor, scale: float = 1.0, shift: bool = True, transpose: bool = False):
    """G(z) = A z + b; the keywords build wrong generators (2A, no shift, Aᵀ)."""
    matrix = sample["A"].transpose(1, 2) if transpose else sample["A"]
    out = scale * torch.bmm(z, matrix.transpose(1, 2))
    return out + sample["b"].unsqueeze(1) if shift else out


def _real_and_generated(sample, data_transposed: bool = False, **wrong):
    """MC_DRAWS samples of p_true = N(b, AAᵀ) (through the Cholesky factor of AAᵀ, not through A) and of G(Z).

    `data_transposed` draws the data from N(b, AᵀA) instead (a wrong sampler of p_true, for a mutant).
    """
    gen = sample.generator(offset=4)
    n = sample["b"].shape[-1]
    matrix, shift = sample["A"].to("cpu", torch.float64), sample["b"].to("cpu", torch.float64)
    if data_transposed:
        matrix = matrix.transpose(1, 2)
    factor = torch.linalg.cholesky(matrix @ matrix.transpose(1, 2))  # drawn on the CPU in float64, like the data
    eps = torch.randn(sample.size, MC_DRAWS, n, generator=gen, dtype=torch.float64)
    x = (shift.unsqueeze(1) + torch.bmm(eps, factor.transpose(1, 2))).to(sample["b"])
    z = torch.randn(sample.size, MC_DRAWS, n, generator=gen, dtype=torch.float64).to(sample["b"])
    return x, generator(sample, z, **wrong)


def equilibrium_sides(sample, **wrong):
    """(Monte Carlo L(D) with real samples X ~ p_true and G(Z), Z ~ N(0, I); the value 2)."""
    x, fake = _real_and_generated(sample, **wrong)
    terms = torch.relu(1 - _mlp_discriminator(sample, x)) + torch.relu(1 + _mlp_discriminator(sample, fake))
    return estimate(terms, dim=1), torch.full_like(sample["b"][:, 0], 2.0)


_equilibrium = per_batch(equilibrium_sides)  # the true variant, shared by the checks and the sharpness mutants


def margin_ranking_objective(sample) -> Estimate:
    """L(D) through F.margin_ranking_loss(D, 0, ±1, margin=1) = (1 ∓ D)_+, on samples of its own.

    Independent of `equilibrium_sides` but for the discriminator: REFERENCE_DRAWS fresh draws of
    p_true from torch.distributions.MultivariateNormal(b, AAᵀ) and of Z from MultivariateNormal(0, I)
    (torch's global generator seeded from the batch, forked and restored), G(Z) = AZ + b, and the
    hinge terms from F.margin_ranking_loss.
    """
    dtype, device = sample["b"].dtype, sample["b"].device
    matrix, shift = sample["A"].to("cpu", torch.float64), sample["b"].to("cpu", torch.float64)
    n = shift.shape[-1]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(sample.seed + 5)
        data = torch.distributions.MultivariateNormal(shift, covariance_matrix=matrix @ matrix.transpose(1, 2))
        x = data.sample((REFERENCE_DRAWS,)).transpose(0, 1)  # (B, M, n)
        noise = torch.distributions.MultivariateNormal(torch.zeros(n, dtype=torch.float64), torch.eye(n, dtype=torch.float64))
        z = noise.sample((sample.size, REFERENCE_DRAWS))
    fake = torch.bmm(z, matrix.transpose(1, 2)) + shift.unsqueeze(1)
    d_real = _mlp_discriminator(sample, x.to(device, dtype))
    d_fake = _mlp_discriminator(sample, fake.to(device, dtype))
    zeros = torch.zeros_like(d_real)
    real = F.margin_ranking_loss(d_real, zeros, torch.ones_like(d_real), margin=1.0, reduction="none")
    generated = F.margin_ranking_loss(d_fake, zeros, -torch.ones_like(d_fake), margin=1.0, reduction="none")
    return estimate(real + generated, dim=1)


equilibrium = Claim(
    id="equilibrium",
    statement=r"with $G(z) = Az + b$ and $p_{\mathrm{true}} = \mathcal{N}(b, AA^\top)$, $L(D) = 2$ for every $D$ "
              r"with values in $[-1, 1]$",
    relation="≈",
    variables=(Variable("A", Invertible("n")), Variable("b", Vector("n"))),
    dims={"n": (1, 3)},
    numeric=_equilibrium,
    symbolic=not_attempted("a Monte Carlo statement about real samples; its algebra is linear-on-unit-interval "
                           "(L(D) = 2 − ∫(p − p_θ)D = 2 when p_θ = p) and G(Z) ~ N(b, AAᵀ) is "
                           "gaussian-change-of-variables"),
    references=(Reference("margin-ranking-loss", f"F.margin_ranking_loss(D, 0, ±1, margin=1) on {REFERENCE_DRAWS} "
                                                 "fresh draws from torch.distributions.MultivariateNormal",
                          margin_ranking_objective),),
    mutants=(
        *sharpness_mutants(_equilibrium),
        Mutant("data-transposed", "p_true sampled as N(b, AᵀA): a wrong data sampler, the generator right",
               numeric=lambda s: equilibrium_sides(s, data_transposed=True)),
        Mutant("doubled-scale", "G(z) = 2Az + b", numeric=lambda s: equilibrium_sides(s, scale=2.0)),
        Mutant("no-shift", "G(z) = Az", numeric=lambda s: equilibrium_sides(s, shift=False)),
        Mutant("transposed", "G(z) = Aᵀz + b (covariance AᵀA instead of AAᵀ)",
               numeric=lambda s: equilibrium_sides(s, transpose=True)),
    ),
    dtypes=(torch.float64, torch.float32),
    instances=32,
)


# --- (e) the location family ----------------------------------------------------------------------------------------

theta = sp.Symbol("theta", positive=True)
x = sp.Symbol("x", real=True)
phi = sp.exp(-x ** 2 / 2) / sp.sqrt(2 * sp.pi)
phi_shifted = phi.subs(x, x - theta)
HALF = theta / 2
OVERLAP = sp.erfc(theta / (2 * sp.sqrt(2)))
TV_CLOSED = sp.erf(theta / (2 * sp.sqrt(2)))

PHI = (1 + sp.erf(x / sp.sqrt(2))) / 2  # the standard normal distribution function


def _between(cdf: sp.Expr, lower: sp.Expr, upper: sp.Expr) -> sp.Expr:
    """∫_lower^upper of cdf' by the fundamental theorem of calculus (erf(±∞) = ±1)."""
    return cdf.subs(x, upper) - cdf.subs(x, lower)


SHIFTED_PHI = PHI.subs(x, x - theta)
OVERLAP_BY_PIECES = _between(SHIFTED_PHI, -sp.oo, HALF) + _between(PHI, HALF, sp.oo)
TV_BY_PIECES = (_between(PHI - SHIFTED_PHI, -sp.oo, HALF) + _between(SHIFTED_PHI - PHI, HALF, sp.oo)) / 2

LOCATION_FACTS = (
    ("Φ(x) = (1 + erf(x/√2))/2 has Φ' = φ, so Gaussian integrals are differences of Φ",
     lambda: sp.simplify(sp.diff(PHI, x) - phi)),
    ("crossing: log φ(x) − log φ(x − θ) = θ(θ/2 − x), so φ(x − θ) <= φ(x) exactly for x <= θ/2 (θ > 0)",
     lambda: sp.expand(sp.expand_log(sp.log(phi) - sp.log(phi_shifted)) - theta * (HALF - x))),
    ("∫min = ∫ of φ(x − θ) over x < θ/2 plus ∫ of φ(x) over x > θ/2 = erfc(θ/(2√2))",
     lambda: sp.simplify((OVERLAP_BY_PIECES - OVERLAP).rewrite(sp.erf))),
    ("D_TV = ½[∫ of φ(x) − φ(x − θ) over x < θ/2 plus ∫ of φ(x − θ) − φ(x) over x > θ/2] = erf(θ/(2√2))",
     lambda: sp.simplify((TV_BY_PIECES - TV_CLOSED).rewrite(sp.erf))),
    ("θ < 0 by the reflection x ↦ −x; θ = 0 gives ∫min = 1, D_TV = 0; erfc decreases and erf increases in |θ|, "
     "so both optimise at θ = 0", lambda: sp.diff(OVERLAP, theta) < 0),
)

LOCATION_DRAWS = 2 ** 14


def location_sides(sample, wrong_scale: float = 2 * math.sqrt(2)):
    """(Monte Carlo means of min(1, q/p) over X ~ p and of max(0, 1 − p/q) over X ~ q, the closed forms erfc, erf).

    q is the density of the generator's output G_θ(Z) = Z + θ (TransformedDistribution), and the second
    estimate uses real generator samples; both integrands lie in [0, 1]. D_TV = ∫(q − p)_+ because p and
    q both integrate to 1.
    """
    th = sample["theta"]
    dtype = th.dtype
    true = Normal(torch.zeros((), dtype=dtype, device=th.device), torch.ones((), dtype=dtype, device=th.device))
    generated = TransformedDistribution(true, AffineTransform(loc=th.unsqueeze(-1), scale=torch.ones_like(th[0])))
    gen = sample.generator()
    real = torch.randn(sample.size, LOCATION_DRAWS, generator=gen, dtype=torch.float64).to(th)
    fake = th.unsqueeze(-1) + torch.randn(sample.size, LOCATION_DRAWS, generator=gen, dtype=torch.float64).to(th)
    overlap = torch.clamp(torch.exp(generated.log_prob(real) - true.log_prob(real)), max=1.0)
    excess = torch.relu(1 - torch.exp(true.log_prob(fake) - generated.log_prob(fake)))
    values = torch.stack((overlap, excess), dim=1)
    arg = th.abs() / wrong_scale
    return estimate(values, dim=-1), torch.stack((torch.special.erfc(arg), torch.special.erf(arg)), dim=1)


_location = per_batch(location_sides)  # the true variant, shared by the checks and the sharpness mutants


def location_on_grid(sample) -> torch.Tensor:
    """(Σ min(p, q) Δx, ½ Σ |p − q| Δx) on a 6001-point grid over [−15, 15] with torch.distributions densities."""
    grid = torch.linspace(-15, 15, 6001, dtype=sample.dtype, device=sample.device)
    step = float(grid[1] - grid[0])
    p = torch.exp(Normal(0.0, 1.0).log_prob(grid))
    q = torch.exp(Normal(sample["theta"].unsqueeze(-1), 1.0).log_prob(grid))
    return torch.stack((torch.minimum(p, q).sum(-1) * step, 0.5 * (p - q).abs().sum(-1) * step), dim=1)


location_family = Claim(
    id="location-family",
    statement=r"$p_{\mathrm{true}} = \mathcal{N}(0, 1)$, $G_\theta(z) = z + \theta$: "
              r"$\int\min\{p_{\mathrm{true}}, p_\theta\} = \mathrm{erfc}(|\theta|/(2\sqrt2))$ and "
              r"$D_{\mathrm{TV}}(p_{\mathrm{true}}, p_\theta) = \mathrm{erf}(|\theta|/(2\sqrt2))$; both are optimal at "
              r"$\theta = 0$",
    relation="≈",
    variables=(Variable("theta", Real(-4.0, 4.0), r"\theta"),),
    numeric=_location,
    symbolic=facts(*LOCATION_FACTS, scope="θ > 0 by integration; θ < 0 by symmetry"),
    references=(Reference("fine-grid", "Riemann sums on a 6001-point grid over [−15, 15]", location_on_grid,
                          tolerance=Tolerance(1e-5, 1e-5, "Riemann sum with spacing 5e-3; the kink of min at θ/2 "
                                                          "costs O(Δx²)")),),
    mutants=(*sharpness_mutants(_location),
             Mutant("no-sqrt-two", "erfc(|θ|/2), erf(|θ|/2)", numeric=lambda s: location_sides(s, wrong_scale=2.0))),
    dtypes=(torch.float64, torch.float32),
    instances=200,
)

DERIVATIONS = (
    Derivation(
        id="geometric-gan",
        title="Geometric GAN: clipped discriminators, the generator's optimum, and a worked location family",
        source="final-2022 P6(c)",
        statement=r"For the GAN trained by $\max_\theta \min_\phi \mathbb{E}_{X\sim p_{\mathrm{true}}}[(1 - "
                  r"D_\phi(X))_+] + \mathbb{E}_{Z\sim\mathcal{N}(0,I)}[(1 + D_\phi(G_\theta(Z)))_+]$, with "
                  r"$p_\theta$ the density of $G_\theta(Z)$, $L(D) = \int p_{\mathrm{true}}(1 - D)_+ + p_\theta(1 + D)_+$ is "
                  r"the inner objective of (b). This derivation adds to derivation hinge-gan: "
                  r"why the discriminator may be clipped to $[-1, 1]$, the generator's optimum (c), and a worked "
                  r"example of (e).",
        claims=(clipping, linear_on_unit_interval, overlap_at_most_one, equilibrium, location_family),
        parts=(
            Part(
                label="Extra to (b)",
                question=r"Not asked in the exam: with an infinitely powerful discriminator, why may $D$ be taken "
                         r"with values in $[-1, 1]$, and what is the minimum then?",
                answer=Answer(
                    text=r"Clipping $D$ to $[-1, 1]$ never increases $L$ (each hinge term is flat beyond $\pm 1$ "
                         r"in the direction that matters), so the minimum may be sought among $|D| \le 1$. There "
                         r"$L(D) = 2 - \int (p_{\mathrm{true}} - p_\theta) D$ is linear in $D$ and is smallest at "
                         r"$D = \mathrm{sign}(p_{\mathrm{true}} - p_\theta)$: $\min_D L = 2 - \int |p_{\mathrm{true}} "
                         r"- p_\theta| = 2\int\min\{p_{\mathrm{true}}, p_\theta\}$, as in (b) above.",
                    scope=r"the pointwise lemmas proved by sympy for all $a, b \ge 0$; checked numerically on "
                          r"random grid densities (401 points) and random discriminators",
                ),
                claims=("clipping", "linear-on-unit-interval"),
            ),
            Part(
                label="(c)",
                question=r"Further assume $G_\theta$ is infinitely powerful. Show that $p_\theta(x) = "
                         r"p_{\mathrm{true}}(x)$ attains the maximum.",
                answer=Answer(
                    text=r"For every $\theta$, $\min\{p_{\mathrm{true}}, p_\theta\} \le p_{\mathrm{true}}$ pointwise, "
                         r"so $\int\min\{p_{\mathrm{true}}, p_\theta\} \le \int p_{\mathrm{true}} = 1$. An "
                         r"infinitely powerful generator can produce $p_\theta = p_{\mathrm{true}}$, and then "
                         r"$\int\min\{p_{\mathrm{true}}, p_{\mathrm{true}}\} = 1$: the upper bound is attained, so "
                         r"$p_\theta = p_{\mathrm{true}}$ maximizes (1). At that point every discriminator with "
                         r"values in $[-1, 1]$ scores $L(D) = 2$: it has nothing left to detect.",
                    scope=r"the pointwise inequality proved by sympy; checked numerically on random grid densities, "
                          r"and by Monte Carlo for a Gaussian $p_{\mathrm{true}}$ reproduced by an affine generator "
                          r"($n = 1, 2, 3$)",
                ),
                claims=("overlap-at-most-one", "equilibrium"),
            ),
            Part(
                label="Extra to (e)",
                question=r"Not asked in the exam, a worked example of (e): $p_{\mathrm{true}} = \mathcal{N}(0, 1)$ and $G_\theta(z) = z + "
                         r"\theta$.",
                answer=Answer(
                    text=r"For $p_{\mathrm{true}} = \mathcal{N}(0, 1)$ and $G_\theta(z) = z + "
                         r"\theta$, $\int\min\{p_{\mathrm{true}}, p_\theta\} = \mathrm{erfc}(|\theta|/(2\sqrt2))$ and "
                         r"$D_{\mathrm{TV}}(p_{\mathrm{true}}, p_\theta) = \mathrm{erf}(|\theta|/(2\sqrt2)) = 1 - "
                         r"\mathrm{erfc}(|\theta|/(2\sqrt2))$: (1) is maximized exactly where the total variation "
                         r"is minimized, at $\theta = 0$.",
                    scope=r"proved by sympy for $\theta > 0$ (integrating the two Gaussian pieces on either side "
                          r"of $\theta/2$), $\theta < 0$ by symmetry; checked by Monte Carlo for "
                          r"$\theta \in [-4, 4]$",
                ),
                claims=("location-family",),
            ),
        ),
    ),
)
