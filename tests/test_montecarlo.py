"""The Monte Carlo helpers, and the promise that every Monte Carlo claim is sharp to 2%."""

import math

import pytest
import torch

from checkers import Claim, Derivation, Real, Variable, not_attempted
from checkers.model import Estimate, Sample
from checkers.montecarlo import (Moments, chunked_estimate, estimate, gauss_hermite_normal, normal_draws, pair_means,
                                 scale_target, segment_variance_estimate, sharpness, sharpness_mutants,
                                 variance_estimate)
from checkers.verify import ClaimChecker


def test_estimate_is_the_mean_and_s_over_root_n():
    values = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 7.0]], dtype=torch.float64)
    est = estimate(values, dim=0)
    torch.testing.assert_close(est.mean, torch.tensor([3.0, 5.0], dtype=torch.float64))
    torch.testing.assert_close(est.stderr, values.std(0) / math.sqrt(3))
    with pytest.raises(ValueError, match="at least 2 draws"):
        estimate(values[:1], dim=0)


def test_chunked_moments_equal_the_one_pass_figures_whatever_the_chunk():
    gen = torch.Generator().manual_seed(0)
    values = 1e4 + torch.randn(1000, 3, generator=gen, dtype=torch.float64)  # a large offset: no cancellation
    whole = estimate(values)
    for chunk in (1, 7, 256, 1000):
        est = chunked_estimate(lambda start, count: values[start:start + count], 1000, chunk)
        torch.testing.assert_close(est.mean, whole.mean, rtol=1e-13, atol=0)
        torch.testing.assert_close(est.stderr, whole.stderr, rtol=1e-9, atol=0)
    float32 = Moments()
    for part in values.to(torch.float32).split(100):
        float32.add(part)
    torch.testing.assert_close(float32.estimate().stderr.double(), whole.stderr, rtol=1e-3, atol=0)


def test_variance_estimate_padded_and_by_segments_agree_with_torch_var():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.rand(40, generator=gen, dtype=torch.float64), torch.rand(70, generator=gen, dtype=torch.float64)
    padded = torch.zeros(2, 70, dtype=torch.float64)
    padded[0, :40], padded[1] = a, b
    var, se = variance_estimate(padded, torch.tensor([40, 70]))
    torch.testing.assert_close(var, torch.stack([a.var(), b.var()]))
    rows = torch.cat([a, b]).reshape(-1, 2)  # 20 rows of instance 0, 35 of instance 1
    seg_var, seg_se = segment_variance_estimate(rows, torch.tensor([0] * 20 + [1] * 35), 2)
    torch.testing.assert_close(seg_var, var)
    torch.testing.assert_close(seg_se, se)
    # the delta-method standard error: for a uniform law m4 = 1.8 σ⁴, so se/var ≈ √(0.8/N)
    big = torch.rand(1, 200000, generator=gen, dtype=torch.float64)
    v, s = variance_estimate(big, torch.tensor([200000]))
    assert abs(float(s / v) - math.sqrt(0.8 / 200000)) < 0.02 * math.sqrt(0.8 / 200000)


def test_gauss_hermite_is_exact_for_gaussian_moments():
    nodes, weights = gauss_hermite_normal(3, 2)
    assert nodes.shape == (9, 2) and abs(float(weights.sum()) - 1) < 1e-14
    # E z1² z2² = 1, E z1⁴ = 3, E z1³ z2 = 0, E z1 = 0 (degree <= 5 per axis is exact with 3 points)
    for power, expected in (((2, 2), 1.0), ((4, 0), 3.0), ((3, 1), 0.0), ((1, 0), 0.0), ((0, 0), 1.0)):
        value = float((nodes[:, 0] ** power[0] * nodes[:, 1] ** power[1] * weights).sum())
        assert abs(value - expected) < 1e-12, (power, value)


def test_antithetic_draws_cancel_odd_parts():
    z = normal_draws(torch.Generator().manual_seed(2), 10, 3)
    torch.testing.assert_close(z[:5], -z[5:])
    odd = z[:, 0] ** 3 + z[:, 1]
    assert float(pair_means(odd).abs().max()) == 0.0
    with pytest.raises(ValueError, match="pairs"):
        normal_draws(torch.Generator(), 3, 1)


def _mean_claim(draws: int, instances: int = 64) -> Claim:
    """E[u + Z] = u for Z ~ N(0, 1): a Monte Carlo claim whose sharpness is set by the number of draws."""
    def numeric(sample):
        gen = sample.generator()
        est = chunked_estimate(lambda start, count: sample["u"] + torch.randn(count, sample.size, generator=gen,
                                                                             dtype=torch.float64), draws, 4096)
        return est, sample["u"]

    return Claim(id="mean", statement="E[u + Z] = u", relation="≈", variables=(Variable("u", Real(5.0, 10.0)),),
                 numeric=numeric, symbolic=not_attempted("Monte Carlo"), mutants=sharpness_mutants(numeric),
                 dtypes=(torch.float64,), instances=instances)


def test_sharpness_mutants_scale_the_target_and_are_caught_only_when_the_estimate_is_sharp():
    sharp, blunt = _mean_claim(draws=2 ** 14), _mean_claim(draws=64)
    derivation = Derivation("toy", "toy", "none P0", claims=(sharp,))
    assert [m.id for m in sharp.mutants] == ["target-x1.02", "target-x0.98"]
    result = ClaimChecker(derivation, sharp, seed=0).run(["cpu"])
    assert result.passed and all(m.caught for m in result.mutants), result.failures
    # 64 draws: standard error 1/8, 5 of them 0.6 > 2% of u <= 10: the engine must report both as surviving
    result = ClaimChecker(derivation, blunt, seed=0).run(["cpu"])
    assert result.numeric[0].passed and not any(m.caught for m in result.mutants)
    assert not result.passed


def test_scale_target_and_sharpness_margin():
    assert torch.equal(scale_target(torch.tensor([1.0, 2.0]), 1.02), torch.tensor([1.02, 2.04]))
    est = Estimate(torch.tensor([[1.0, 10.0]], dtype=torch.float64), torch.tensor([[1.0, 0.01]], dtype=torch.float64))
    target = torch.tensor([[1.0, 10.0]], dtype=torch.float64)
    # component 2: |10 − 10.2| / 0.01 − 5 = 15 standard errors beyond the bound
    assert abs(float(sharpness(est, target)) - 15.0) < 1e-9


def _monte_carlo_claims():
    from checkers.registry import all_derivations

    return [(d.id, c) for d in all_derivations() for c in d.claims if c.relation == "≈"]


def test_every_monte_carlo_claim_carries_the_two_sharpness_mutants():
    claims = _monte_carlo_claims()
    assert len(claims) >= 8
    missing = [f"{d}/{c.id}" for d, c in claims
               if not {"target-x1.02", "target-x0.98"} <= {m.id for m in c.mutants}]
    assert not missing, f"Monte Carlo claims without the ×1.02/×0.98 mutants: {missing}"


@pytest.mark.parametrize("claim_id", ["kl-gaussian/quadratic-form-expectation", "kaiming-variance/init-variance"])
def test_sharpness_mutants_of_real_claims_are_rejected_on_most_of_a_batch(claim_id):
    """Not a lucky instance: a 2% error is rejected on most instances of the first batch at seed 0."""
    derivation_id, claim_name = claim_id.split("/")
    claim = next(c for d, c in _monte_carlo_claims() if d == derivation_id and c.id == claim_name)
    from checkers.registry import all_derivations

    derivation = next(d for d in all_derivations() if d.id == derivation_id)
    checker = ClaimChecker(derivation, claim, seed=0)
    sample: Sample = checker.samples[-1]
    est, target = claim.numeric(sample)
    for factor in (1.02, 0.98):
        margins = sharpness(est, target, factor, z=claim.z)
        assert float((margins > 0).double().mean()) >= 0.5, (factor, margins)


def _claim(derivation_id: str, claim_id: str):
    from checkers.registry import all_derivations

    derivation = next(d for d in all_derivations() if d.id == derivation_id)
    return derivation, next(c for c in derivation.claims if c.id == claim_id)


@pytest.mark.parametrize("claim_id, mutant_id", [
    ("flow-mle/per-sample-decomposition", "true-normaliser"),
    ("flow-mle/expected-nll", "p-log-p-scaled"),
    ("vae-prior-scaling/vlb-depends-on-lambda", "reconstruction-sigma"),
])
def test_a_quantity_that_cancels_in_the_claim_is_still_checked(claim_id, mutant_id):
    """Each mutant corrupts only a quantity that cancels between the claim's sides; the check must still see it."""
    derivation, claim = _claim(*claim_id.split("/"))
    mutant = next(m for m in claim.mutants if m.id == mutant_id)
    checker = ClaimChecker(derivation, claim, seed=0)
    assert checker.mutant(mutant).caught
    # the corruption leaves the first component (the claim's own equation, where it cancels) unchanged
    sample = checker.samples[0]
    true_lhs, true_rhs = claim.numeric(sample)
    wrong_lhs, wrong_rhs = mutant.numeric(sample)
    mean = (lambda v: v.mean if isinstance(v, Estimate) else v)
    torch.testing.assert_close(mean(wrong_lhs)[..., 0] - mean(true_lhs)[..., 0],
                               wrong_rhs[..., 0] - true_rhs[..., 0], rtol=0, atol=1e-9)


def test_the_margin_ranking_reference_draws_its_own_samples():
    """geometric-gan/equilibrium: the reference is a second estimate, not the same numbers recomputed."""
    from proofs import geometric_gan

    derivation, claim = _claim("geometric-gan", "equilibrium")
    sample = ClaimChecker(derivation, claim, seed=0).samples[0]
    ours, two = claim.numeric(sample)
    theirs = geometric_gan.margin_ranking_objective(sample)
    assert not torch.allclose(ours.mean, theirs.mean, rtol=0, atol=1e-12)
    for est in (ours, theirs):
        assert bool(((est.mean - two).abs() <= 5 * est.stderr).all())
