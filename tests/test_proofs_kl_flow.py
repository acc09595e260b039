"""Machinery inside the KL and flow proof modules: the sum/integral strategy, the custom kinds, the flow, the figure."""

import math

import matplotlib
import pytest
import sympy as sp
import torch

from checkers import Sample
from proofs import flow_mle, kl_additivity, kl_gaussian, kl_nonnegative
from proofs.kl_nonnegative import normalised_linearity

matplotlib.use("Agg")


def test_normalised_linearity_uses_the_normalisation_it_is_given():
    lhs, rhs = kl_nonnegative.KL_DISCRETE, kl_nonnegative.GAP_SUM
    # KL = Σ p φ(q/p) holds only because Σp = Σq = 1: without that the strategy must not prove it.
    assert normalised_linearity({}).prove(lhs, rhs).status == "failed"
    result = kl_nonnegative.SIMPLEX.prove(lhs, rhs)
    assert (result.status, result.scope) == ("proved", "general")


def test_normalised_linearity_proves_additivity_and_rejects_the_product():
    strategy, a, b = kl_additivity.ON_SIMPLICES, kl_additivity.kl(*kl_additivity.FACTORS[0]), kl_additivity.kl(
        *kl_additivity.FACTORS[1])
    assert strategy.prove(kl_additivity.KL_TWO, a + b).status == "proved"
    assert strategy.prove(kl_additivity.KL_TWO, a * b).status == "failed"
    assert strategy.prove(kl_additivity.KL_TWO, a + b, ">=").status == "not attempted"


def test_floored_grid_densities_are_normalised_and_survive_half_precision():
    kind = kl_nonnegative.FlooredDensityOnGrid(801)
    values = kind.draw(64, {}, torch.Generator().manual_seed(3))
    _, dx = kl_nonnegative.density_grid(801)
    torch.testing.assert_close(values.sum(-1) * dx, torch.ones(64, dtype=torch.float64))
    assert bool((values.to(torch.float16) > 0).all()), "a grid value flushed to zero in float16"


def test_diagonal_covariances_are_diagonal_and_in_range():
    kind = kl_additivity.DiagonalSPD("d", 0.25, 4.0)
    cov = kind.draw(32, {"d": 4}, torch.Generator().manual_seed(1))
    diag = torch.diagonal(cov, dim1=-2, dim2=-1)
    assert torch.equal(cov, torch.diag_embed(diag))
    assert bool(((diag >= 0.25) & (diag <= 4.0)).all())


def _flow_sample(seed: int) -> Sample:
    return Sample(values={"x": torch.zeros(1, 2, dtype=torch.float64)}, dims={}, seed=seed, size=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_coupling_flow_density_integrates_to_one_only_with_the_right_log_det(seed):
    flow = flow_mle.flow_of(_flow_sample(seed))
    axis = torch.linspace(-20, 20, 401, dtype=torch.float64)
    points = torch.stack(torch.meshgrid(axis, axis, indexing="ij"), dim=-1)
    area = float(axis[1] - axis[0]) ** 2
    mass = float(torch.exp(-flow.loss(points)).sum() * area)
    assert abs(mass - 1) < 1e-4
    wrong = float(torch.exp(-flow.loss(points, log_det_sign=-1.0)).sum() * area)
    assert abs(wrong - 1) > 1e-2


def test_mixture_sampler_has_the_mixture_mean():
    gen = torch.Generator().manual_seed(5)
    values = {v.name: v.draw(4, {}, gen) for v in flow_mle.MIXTURE}
    sample = Sample(values=values, dims={}, seed=5, size=4)
    draws = flow_mle.draw_p_true(sample, 20000)  # (count, B, 2)
    weights, means, _ = flow_mle._mixture(sample)
    expected = (weights.unsqueeze(-1) * means).sum(1)
    stderr = draws.std(0) / math.sqrt(draws.shape[0])
    assert bool(((draws.mean(0) - expected).abs() <= 5 * stderr).all())


def test_monte_carlo_figure_band_ends_around_the_closed_form():
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        kl_gaussian.DERIVATIONS[0].figures[0].draw(ax)
        vertices = ax.collections[0].get_paths()[0].vertices
        last = vertices[vertices[:, 0] == vertices[:, 0].max(), 1]  # the band's two ends at the largest count
        exact = ax.lines[-1].get_ydata()[0]
        assert last.min() < exact < last.max()
        assert last.max() - last.min() < 0.1 * abs(exact)
        estimate = ax.lines[0].get_ydata()[-1]
        assert abs(estimate - exact) < 0.05 * abs(exact)
    finally:
        plt.close(fig)


def test_kl_gaussian_exports_the_grader_names():
    names = {v.name for v in kl_gaussian.closed_form.variables}
    assert names == {"mu_0", "mu_1", "Sigma_0", "Sigma_1"}
    assert kl_gaussian.closed_form.rhs == kl_gaussian.KL_CLOSED_FORM
    assert kl_gaussian.KL_CLOSED_FORM.free_symbols >= {kl_gaussian.d}
    assert isinstance(kl_gaussian.Sigma1, sp.MatrixSymbol) and kl_gaussian.Sigma1.shape == (kl_gaussian.d, kl_gaussian.d)
