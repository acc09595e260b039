"""The sympy -> batched torch evaluator against direct torch computations."""

import pytest
import sympy as sp
import torch

from checkers.errors import UnsupportedExpression
from checkers.evaluate import evaluate
from checkers.notation import quadratic_form

n = sp.Symbol("n", integer=True, positive=True)
S = sp.MatrixSymbol("S", n, n)
x = sp.MatrixSymbol("x", n, 1)
t = sp.Symbol("t", positive=True)
gen = torch.Generator().manual_seed(0)
B, N = 7, 3
A = torch.randn(B, N, N, generator=gen, dtype=torch.float64)
SPD_VALUES = A @ A.mT + torch.eye(N, dtype=torch.float64)
X = torch.randn(B, N, generator=gen, dtype=torch.float64)


def test_gaussian_log_density_matches_torch_distributions():
    expr = -n / 2 * sp.log(2 * sp.pi) - sp.log(sp.Determinant(S)) / 2 - quadratic_form(x, S.I) / 2
    got = evaluate(expr, {"S": SPD_VALUES, "x": X}, {"n": N})
    want = torch.distributions.MultivariateNormal(torch.zeros(N, dtype=torch.float64), SPD_VALUES).log_prob(X)
    torch.testing.assert_close(got, want)


def test_matrix_valued_expression_keeps_its_shape():
    got = evaluate(S.T * S.I + 2 * sp.Identity(n), {"S": SPD_VALUES}, {"n": N})
    want = SPD_VALUES.mT @ torch.linalg.inv(SPD_VALUES) + 2 * torch.eye(N, dtype=torch.float64)
    torch.testing.assert_close(got, want)


def test_trace_and_scalar_times_matrix():
    got = evaluate(sp.Trace(3 * t * S), {"S": SPD_VALUES, "t": torch.full((B,), 0.5, dtype=torch.float64)}, {"n": N})
    torch.testing.assert_close(got, 1.5 * torch.diagonal(SPD_VALUES, dim1=-2, dim2=-1).sum(-1))


def test_sum_over_indexed_family_unrolls_with_integer_bounds():
    L, ell, w = sp.Symbol("L", integer=True, positive=True), sp.Symbol("ell", integer=True), sp.IndexedBase("w")
    expr = sp.Sum(1 / (3 ** (L - ell + 1) * w[ell - 1]), (ell, 1, L))
    widths = torch.tensor([[2.0, 5.0, 7.0]], dtype=torch.float64)
    got = evaluate(expr, {"w": widths}, {"L": 3})
    assert float(got) == pytest.approx(1 / (27 * 2) + 1 / (9 * 5) + 1 / (3 * 7))


def test_doubly_indexed_family_reads_rows_and_columns_and_refuses_out_of_range():
    rows, cols, i, j = sp.Symbol("r", integer=True, positive=True), sp.Symbol("c", integer=True, positive=True), \
        *sp.symbols("i j", integer=True)
    P = sp.IndexedBase("P")
    table = torch.rand(B, 2, 3, generator=gen, dtype=torch.float64)
    row_weighted = sp.Sum((i + 1) * P[i, j], (j, 0, cols - 1), (i, 0, rows - 1))
    got = evaluate(row_weighted, {"P": table}, {"r": 2, "c": 3})
    torch.testing.assert_close(got, table[:, 0].sum(1) + 2 * table[:, 1].sum(1))
    with pytest.raises(UnsupportedExpression, match=r"index \(2, 0\) out of range"):
        evaluate(P[2, 0], {"P": table})
    with pytest.raises(UnsupportedExpression, match="1 indices but P has 2 axes"):
        evaluate(P[0], {"P": table})


def test_log_of_negative_determinant_is_nan_not_a_silent_abs():
    m = torch.diag_embed(torch.tensor([[-1.0, 2.0]], dtype=torch.float64))
    got = evaluate(sp.log(sp.Determinant(sp.MatrixSymbol("M", 2, 2))), {"M": m})
    assert torch.isnan(got).all()


def test_unsupported_construct_names_itself():
    with pytest.raises(UnsupportedExpression, match="Integral"):
        evaluate(sp.Integral(t, (t, 0, 1)) + t, {"t": torch.ones(2, dtype=torch.float64)})


def test_matrix_forms_reach_their_own_handlers_not_their_scalar_bases():
    # MatMul, MatPow and Inverse subclass Mul and Pow: the most specific class in the MRO must win.
    S_inv = torch.linalg.inv(SPD_VALUES)
    cases = [
        (3 * S * S, 3 * SPD_VALUES @ SPD_VALUES),
        (sp.MatPow(S, 3), torch.linalg.matrix_power(SPD_VALUES, 3)),
        (sp.Inverse(S), S_inv),
        (sp.MatPow(S, -1), S_inv),
        (S.T * x, SPD_VALUES.mT @ X.unsqueeze(-1)),
    ]
    for expr, want in cases:
        torch.testing.assert_close(evaluate(expr, {"S": SPD_VALUES, "x": X}, {"n": N}), want, msg=str(expr))


def test_undefined_function_named_like_a_supported_one_is_refused():
    impostor = sp.Function("exp")(t)  # a user-named function, not sympy's exp
    assert not isinstance(impostor, sp.exp)
    with pytest.raises(UnsupportedExpression, match="exp"):
        evaluate(impostor, {"t": torch.zeros(3, dtype=torch.float64)})


def test_dtype_and_device_are_respected():
    got = evaluate(sp.exp(t), {"t": torch.zeros(3, dtype=torch.float64)}, dtype=torch.float32)
    assert got.dtype == torch.float32 and got.device.type == "cpu"


def test_rounding_weight_counts_every_partial_sum():
    from checkers.evaluate import rounding_sensitivity

    a, b, c = sp.symbols("a b c")
    ones = {k: torch.ones(1, dtype=torch.float64) for k in "abc"}
    # (a + b) rounds once (weight 2 = |a + b|); a + b + c rounds twice: |a + b| + |a + b + c| = 2 + 3.
    assert float(rounding_sensitivity(a + b, ones)) == pytest.approx(2.0)
    assert float(rounding_sensitivity(a + b + c, ones)) == pytest.approx(5.0)
