"""The tolerance table and the closeness measures every numeric check relies on."""

import torch

from checkers.tolerances import DEFAULT_TOLERANCES, Tolerance, compare, tolerance_for, violation


def test_table_matches_torch_testing_precisions():
    assert DEFAULT_TOLERANCES[torch.float64] == Tolerance(1e-7, 1e-7)
    assert (DEFAULT_TOLERANCES[torch.float32].rtol, DEFAULT_TOLERANCES[torch.float32].atol) == (1.3e-6, 1e-5)
    assert (DEFAULT_TOLERANCES[torch.float16].rtol, DEFAULT_TOLERANCES[torch.float16].atol) == (1e-3, 1e-5)
    assert (DEFAULT_TOLERANCES[torch.bfloat16].rtol, DEFAULT_TOLERANCES[torch.bfloat16].atol) == (1.6e-2, 1e-5)


def test_override_wins_and_keeps_its_reason():
    override = Tolerance(1e-3, 1e-3, reason="ill-conditioned")
    assert tolerance_for(torch.float32, {torch.float32: override}) is override
    assert tolerance_for(torch.float64, {torch.float32: override}) == DEFAULT_TOLERANCES[torch.float64]


def test_compare_reports_per_instance_worst_error():
    expected = torch.tensor([[1.0, 2.0], [10.0, 20.0]], dtype=torch.float64)
    actual = expected + torch.tensor([[0.0, 1e-9], [0.5, 0.0]], dtype=torch.float64)
    d = compare(actual, expected, Tolerance(1e-7, 1e-7))
    torch.testing.assert_close(d.abs_error, torch.tensor([1e-9, 0.5], dtype=torch.float64), rtol=1e-6, atol=0)
    assert (d.excess <= 0).tolist() == [True, False]
    assert abs(float(d.rel_error[1]) - 0.05) < 1e-12


def test_nan_is_a_failure_and_matching_infinities_are_not():
    expected = torch.tensor([1.0, float("inf")], dtype=torch.float64)
    actual = torch.tensor([float("nan"), float("inf")], dtype=torch.float64)
    d = compare(actual, expected, Tolerance(1e-7, 1e-7))
    assert d.excess[0] > 0 and d.excess[1] <= 0


def test_violation_measures_only_the_wrong_direction():
    small = torch.tensor([1.0, 3.0], dtype=torch.float64)
    large = torch.tensor([2.0, 2.0], dtype=torch.float64)
    d = violation(small, large, Tolerance(0.0, 0.0))
    assert d.abs_error.tolist() == [0.0, 1.0]
    assert (d.excess > 0).tolist() == [False, True]
