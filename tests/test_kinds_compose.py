"""Composed kinds: map, OneOf, Constant, one_based, append_value, and shapes written as dimension expressions."""

import pytest
import torch

from checkers.kinds import Constant, OneOf, Real, Vector, append_value, one_based, _size


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shapes_may_be_expressions_of_the_dimensions():
    dims = {"L": 3, "n_x": 2, "n_y": 4}
    assert _size("L", dims) == 3 and _size(5, dims) == 5
    assert _size("L + 1", dims) == 4 and _size("n_x*n_y", dims) == 8 and _size("2*(L - 1)", dims) == 4
    assert Vector("L + 1").draw(2, dims, _gen()).shape == (2, 4)
    for bad in ("L +", "L ** 2", "unknown + 1", "(L"):
        with pytest.raises(ValueError, match="shape"):
            _size(bad, dims)


def test_one_based_puts_nan_in_column_zero_and_keeps_the_draws():
    plain = Vector("n").draw(5, {"n": 3}, _gen())
    shifted = one_based(Vector("n")).draw(5, {"n": 3}, _gen())
    assert shifted.shape == (5, 4) and bool(torch.isnan(shifted[:, 0]).all())
    assert torch.equal(shifted[:, 1:], plain)
    assert "indexed from 1" in one_based(Vector("n")).description


def test_append_value_and_map_with_dimensions():
    widths = append_value(Vector("L"), 1.0).draw(3, {"L": 2}, _gen())
    assert widths.shape == (3, 3) and bool((widths[:, -1] == 1).all())
    table = Vector("rows * cols").map(lambda t, dims: t.reshape(t.shape[0], dims["rows"], dims["cols"]),
                                      "a table", with_dims=True)
    assert table.draw(2, {"rows": 2, "cols": 3}, _gen()).shape == (2, 2, 3) and table.description == "a table"


def test_one_of_draws_every_option_and_numbers_are_constants():
    values = OneOf((1e-5, 1e-3, 1e-1)).draw(300, {}, _gen())
    assert set(values.tolist()) == {1e-5, 1e-3, 1e-1}
    mixed = OneOf((Real(0.2, 3.0), Real(-3.0, -0.2))).draw(300, {}, _gen())
    assert bool((mixed > 0).any()) and bool((mixed < 0).any()) and bool((mixed.abs() >= 0.2).all())
    assert torch.equal(Constant(2.5).draw(4, {}, _gen()), torch.full((4,), 2.5, dtype=torch.float64))


def test_composed_kinds_are_reproducible_from_the_seed():
    kind = one_based(OneOf((Vector("n"), Vector("n", scale=10.0))))
    first, second = kind.draw(8, {"n": 3}, _gen(7)), kind.draw(8, {"n": 3}, _gen(7))
    assert first.shape == (8, 4) and torch.allclose(first, second, equal_nan=True)
