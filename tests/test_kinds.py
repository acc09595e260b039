"""Instance generators: every kind draws what it promises, reproducibly."""

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from checkers.kinds import SPD, DensityOnGrid, Invertible, Positive, ProbabilityVector, density_grid

seeds = st.integers(0, 2**31 - 1)
dims = st.integers(1, 6)


@given(seeds, dims)
def test_spd_is_symmetric_positive_definite_with_declared_spectrum(seed, n):
    kind = SPD("n", low=0.25, high=4.0)
    m = kind.draw(64, {"n": n}, torch.Generator().manual_seed(seed))
    assert torch.equal(m, m.transpose(-1, -2))
    eig = torch.linalg.eigvalsh(m)
    assert eig.min() >= 0.25 - 1e-9 and eig.max() <= 4.0 + 1e-9


@given(seeds, dims)
def test_spd_fills_its_spectrum_and_is_not_diagonal(seed, n):
    # A generator returning near-identity (or unrotated diagonal) matrices satisfies the test above; not this one.
    low, high = 0.25, 4.0
    m = SPD("n", low=low, high=high).draw(256, {"n": n}, torch.Generator().manual_seed(seed))
    log_eig = torch.linalg.eigvalsh(m).log()
    eighth = math.log(high / low) / 8
    assert log_eig.min() < math.log(low) + eighth and log_eig.max() > math.log(high) - eighth
    assert float(log_eig.std()) > 0.25 * math.log(high / low) / math.sqrt(12)
    if n > 1:
        off = m - torch.diag_embed(torch.diagonal(m, dim1=-2, dim2=-1))
        assert float(off.abs().mean()) > 0.05 * float(m.abs().mean())


@given(seeds, dims)
def test_invertible_singular_values_fill_their_range(seed, n):
    a = Invertible("n", cond_sqrt=2.0).draw(256, {"n": n}, torch.Generator().manual_seed(seed))
    log_s = torch.linalg.svdvals(a).log()
    eighth = 2 * math.log(2.0) / 8
    assert log_s.min() < -math.log(2.0) + eighth and log_s.max() > math.log(2.0) - eighth
    if n > 1:
        off = a - torch.diag_embed(torch.diagonal(a, dim1=-2, dim2=-1))
        assert float(off.abs().mean()) > 0.05 * float(a.abs().mean())


@given(seeds, st.integers(2, 6))
def test_probability_vectors_are_not_all_near_uniform(seed, n):
    p = ProbabilityVector("n").draw(256, {"n": n}, torch.Generator().manual_seed(seed))
    assert float((p.amax(-1) - 1 / n).mean()) > 0.1 * (1 - 1 / n)


@given(seeds, dims)
def test_invertible_has_both_determinant_signs_and_bounded_condition(seed, n):
    kind = Invertible("n", cond_sqrt=2.0)
    a = kind.draw(64, {"n": n}, torch.Generator().manual_seed(seed))
    det = torch.linalg.det(a)
    assert (det[0::2] < 0).all() and (det[1::2] > 0).all()
    assert torch.linalg.cond(a).max() <= 4.0 + 1e-8


@given(seeds, dims)
def test_probability_vectors_are_strictly_positive_and_sum_to_one(seed, n):
    p = ProbabilityVector("n").draw(128, {"n": n}, torch.Generator().manual_seed(seed))
    assert (p > 0).all()
    assert torch.allclose(p.sum(-1), torch.ones(128, dtype=torch.float64))


@given(seeds)
def test_grid_densities_integrate_to_one(seed):
    kind = DensityOnGrid(401)
    p = kind.draw(16, {}, torch.Generator().manual_seed(seed))
    _, dx = density_grid(401)
    assert (p >= 0).all()
    assert torch.allclose(p.sum(-1) * dx, torch.ones(16, dtype=torch.float64))
    assert p[:, 0].max() < 1e-12 and p[:, -1].max() < 1e-12  # tails are negligible


@given(seeds)
def test_grid_densities_differ_in_centre_width_and_modes(seed):
    # Densities that all had mean 0 (or one width, or one mode) would pass the test above; not this one.
    x, dx = density_grid(401)
    p = DensityOnGrid(401).draw(256, {}, torch.Generator().manual_seed(seed))
    mean = (p * x).sum(-1) * dx
    std = ((p * (x - mean.unsqueeze(-1)) ** 2).sum(-1) * dx).sqrt()
    assert mean.min() < -1.0 and mean.max() > 1.0
    assert float(std.max() / std.min()) > 2.0
    peaks = ((p[:, 1:-1] > p[:, :-2]) & (p[:, 1:-1] > p[:, 2:]) & (p[:, 1:-1] > 1e-3)).sum(-1)
    assert (peaks == 1).any() and (peaks >= 2).any()


def test_positive_covers_its_orders_of_magnitude():
    x = Positive(1e-3, 1e3).draw(4000, {}, torch.Generator().manual_seed(0))
    assert x.min() >= 1e-3 and x.max() <= 1e3
    assert (x < 1e-2).any() and (x > 1e2).any()


def test_same_seed_same_instances():
    kind = Invertible("n")
    a = kind.draw(8, {"n": 3}, torch.Generator().manual_seed(7))
    b = kind.draw(8, {"n": 3}, torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
