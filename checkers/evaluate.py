"""Batched torch evaluation of sympy expressions: scalars, vectors and matrices over many instances at once.

Internally every value is a (B, rows, cols) tensor (a scalar is 1 x 1), so scalar-matrix products,
quadratic forms (1 x 1 matrices) and traces compose without special cases. Symbols in `dims` are
Python integers (dimensions, depths) fixed for the whole batch. Only the constructs below are
translated; anything else raises UnsupportedExpression naming the construct.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from contextlib import contextmanager

import sympy as sp
import torch
from sympy.core.function import AppliedUndef
from sympy.matrices.expressions.matexpr import MatrixElement

from checkers.errors import UnsupportedExpression
from checkers.notation import Scalar
from checkers.functions import DeclaredFunction
from checkers.reductions import IndexedExtremum, IndexedMax


def _elementwise(torch_function):
    """A handler for a one-argument sympy function: `torch_function` applied to the evaluated argument."""
    def handler(self: _Evaluator, e: sp.Basic) -> torch.Tensor:
        return torch_function(self(e.args[0]))
    return handler


class _Evaluator:
    """Evaluates a sympy tree bottom-up; `node` dispatches on the node's class to a method `_eval_<ClassName>`."""

    _handlers: dict[type, object] = {}  # node type -> its handler (None: not translated), filled on first use

    def __init__(self, values: Mapping[str, torch.Tensor], dims: Mapping[str, int], batch: int,
                 dtype: torch.dtype, device: torch.device | str, perturb: bool = False, memo: dict | None = None):
        self.values, self.dims, self.batch = values, dims, batch
        self.dtype, self.device = dtype, device
        self.bound: dict[sp.Symbol, int] = {}
        self.perturb = perturb
        self.perturbations: list[torch.Tensor] = []
        self.memo = None if perturb else memo

    def __call__(self, e: sp.Basic) -> torch.Tensor:
        memo = self.memo if self.memo is not None and not self.bound else None  # bound indices vary: no reuse
        if memo is not None:
            hit = memo.get(e)
            if hit is not None:
                return hit
        out = self.node(e)
        exact_leaf = isinstance(e, (sp.Symbol, sp.MatrixSymbol, sp.Indexed, sp.Integer, Scalar, sp.Identity))
        out = out if exact_leaf else self.rounded(out)
        if memo is not None:
            memo[e] = out
        return out

    def rounded(self, out: torch.Tensor) -> torch.Tensor:
        """In perturbation mode, attach one relative rounding error per entry: value * (1 + delta), delta = 0."""
        if not self.perturb:
            return out
        delta = torch.zeros_like(out, requires_grad=True)
        self.perturbations.append(delta)
        return out * (1 + delta)

    def const(self, x: float) -> torch.Tensor:
        return torch.full((self.batch, 1, 1), x, dtype=self.dtype, device=self.device)

    def integer(self, e: sp.Basic) -> int:
        """Evaluate a dimension/index expression (e.g. `L - l + 1`) to a Python int."""
        e = sp.sympify(e)
        value = sp.sympify(e.xreplace({s: sp.Integer(self.bound[s]) if s in self.bound else
                                       (sp.Integer(self.dims[s.name]) if s.name in self.dims else s)
                                       for s in e.free_symbols}))
        if not value.is_Integer:
            raise UnsupportedExpression(f"index or dimension {e} does not evaluate to an integer (got {value})")
        return int(value)

    @contextmanager
    def index(self, var: sp.Symbol):
        """The body binds `self.bound[var]`; afterwards (on an error too) the outer binding of that name is back:
        an inner sum or extremum may reuse an outer one's index name, and shadows it."""
        outer = self.bound.get(var)
        try:
            yield
        finally:
            if outer is None:
                self.bound.pop(var, None)
            else:
                self.bound[var] = outer

    def sum(self, body: sp.Basic, limits: tuple) -> torch.Tensor:
        """Σ body over `limits` (innermost first, as sympy stores them); bounds may use outer variables."""
        if not limits:
            return self(body)
        var, lo, hi = limits[-1]
        lo_i, hi_i = self.integer(lo), self.integer(hi)
        out = self.const(0.0)
        with self.index(var):
            for i in range(lo_i, hi_i + 1):
                self.bound[var] = i
                out = out + self.sum(body, limits[:-1])
        return out

    def extremum(self, e: IndexedExtremum) -> torch.Tensor:
        """max / min of the body over its index ranges (an empty range is an error, as it is for max()).

        Nested extrema of one kind are one object with several limits (max_i max_j x_ij), innermost first,
        as sympy stores a Sum's; the outermost is bound first, so inner ranges may use outer indices.
        """
        op = torch.maximum if isinstance(e, IndexedMax) else torch.minimum
        return self._extremum(e, e.function, e.limits, op)

    def _extremum(self, e: IndexedExtremum, body: sp.Basic, limits: tuple, op) -> torch.Tensor:
        if not limits:
            return self(body)
        var, lo, hi = limits[-1]
        lo_i, hi_i = self.integer(lo), self.integer(hi)
        if hi_i < lo_i:
            raise UnsupportedExpression(f"{e.word} over an empty range {lo_i}..{hi_i} in {e}")
        out = None
        with self.index(var):
            for i in range(lo_i, hi_i + 1):
                self.bound[var] = i
                value = self._extremum(e, body, limits[:-1], op)
                out = value if out is None else op(out, value)
        return out

    def leaf(self, name: str, rows: int, cols: int) -> torch.Tensor:
        if name not in self.values:
            raise UnsupportedExpression(f"no value for symbol {name!r}; sample has {sorted(self.values)}")
        t = self.values[name].to(device=self.device, dtype=self.dtype)
        if t.dim() == 1:
            return t.reshape(-1, 1, 1)
        if t.dim() == 2:
            return t.unsqueeze(-1) if cols == 1 else t.unsqueeze(-2)
        return t

    def node(self, e: sp.Basic) -> torch.Tensor:
        """Evaluate one node with the handler of the most specific class in its MRO (`_eval_<ClassName>`)."""
        handler = self._handler(type(e))
        if handler is None:
            raise UnsupportedExpression(
                f"cannot evaluate {type(e).__name__} ({e}) numerically; give the claim its own numeric function"
            )
        return handler(self, e)

    @classmethod
    def _handler(cls, node_type: type):
        """The `_eval_<ClassName>` method for the first class of `node_type.__mro__` that has one (cached per type).

        Undefined functions (`Function("log")`) are classes named by the user: they never match a handler
        by name, so `f(x)` called "exp" is not evaluated as exp.
        """
        try:
            return cls._handlers[node_type]
        except KeyError:
            pass
        handler = None
        if not issubclass(node_type, AppliedUndef):
            for klass in node_type.__mro__:
                handler = getattr(cls, f"_eval_{klass.__name__}", None)
                if handler is not None:
                    break
        cls._handlers[node_type] = handler
        return handler

    # Leaves: symbols, constants, matrix symbols and the constant matrices.

    def _eval_Symbol(self, e: sp.Symbol) -> torch.Tensor:
        if e in self.bound:
            return self.const(float(self.bound[e]))
        if e.name in self.dims:
            return self.const(float(self.dims[e.name]))
        return self.leaf(e.name, 1, 1)

    def _eval_Number(self, e: sp.Number) -> torch.Tensor:
        if not e.is_real:
            raise UnsupportedExpression(f"non-real constant {e}")
        return self.const(float(e))

    _eval_Pi = _eval_Exp1 = _eval_Number  # the constants pi and e; other named constants are not translated

    def _eval_MatrixSymbol(self, e: sp.MatrixSymbol) -> torch.Tensor:
        return self.leaf(e.name, self.integer(e.rows), self.integer(e.cols))

    def _eval_Identity(self, e: sp.Identity) -> torch.Tensor:
        n = self.integer(e.rows)
        return torch.eye(n, dtype=self.dtype, device=self.device).expand(self.batch, n, n)

    def _eval_ZeroMatrix(self, e: sp.ZeroMatrix) -> torch.Tensor:
        return torch.zeros(self.batch, self.integer(e.rows), self.integer(e.cols), dtype=self.dtype, device=self.device)

    def _eval_OneMatrix(self, e: sp.OneMatrix) -> torch.Tensor:
        """A column of ones: P·1 is the row sums (marginals of a joint table)."""
        return torch.ones(self.batch, self.integer(e.rows), self.integer(e.cols), dtype=self.dtype, device=self.device)

    def _eval_MatrixBase(self, e: sp.MatrixBase) -> torch.Tensor:
        """An explicit matrix of scalar entries."""
        rows = [torch.cat([self(v).reshape(self.batch, 1, 1) for v in e.row(r)], dim=2) for r in range(e.rows)]
        return torch.cat(rows, dim=1)

    # Arithmetic. MatAdd, MatMul and MatPow subclass Add, Mul and Pow; the MRO picks their own handlers first.

    def _eval_Add(self, e: sp.Basic) -> torch.Tensor:
        """A k-term sum rounds k - 1 times: every partial sum carries its own rounding error."""
        out = self(e.args[0])
        for a in e.args[1:-1]:
            out = self.rounded(out + self(a))
        return out + self(e.args[-1]) if len(e.args) > 1 else out

    _eval_MatAdd = _eval_Add

    def _eval_MatMul(self, e: sp.MatMul) -> torch.Tensor:
        """Scalar factors commute: multiply them elementwise, chain the matrix factors with @."""
        out = self.const(1.0)
        matrices = [a for a in e.args if isinstance(a, sp.MatrixExpr)]
        for a in e.args:
            if not isinstance(a, sp.MatrixExpr):
                out = out * self(a)
        product = self(matrices[0])
        for a in matrices[1:]:
            product = product @ self(a)
        return out * product

    def _eval_MatPow(self, e: sp.MatPow) -> torch.Tensor:
        base, exp = e.args
        m = self(base)
        if exp == -1:
            return torch.linalg.inv(m)
        if exp.is_Integer:
            return torch.linalg.matrix_power(m, int(exp))
        raise UnsupportedExpression(f"matrix power with non-integer exponent: {e}")

    def _eval_Mul(self, e: sp.Mul) -> torch.Tensor:
        out = self(e.args[0])
        for a in e.args[1:-1]:
            out = self.rounded(out * self(a))
        return out * self(e.args[-1]) if len(e.args) > 1 else out

    def _eval_Pow(self, e: sp.Pow) -> torch.Tensor:
        base, exp = e.args
        if exp == sp.Rational(1, 2):
            return torch.sqrt(self(base))
        if exp == -1:
            return 1 / self(base)
        if exp.is_Integer:
            return self(base) ** int(exp)
        if base == sp.E:
            return torch.exp(self(exp))
        return self(base) ** self(exp)

    # Matrix operations.

    def _eval_Inverse(self, e: sp.Inverse) -> torch.Tensor:
        return torch.linalg.inv(self(e.arg))

    def _eval_Transpose(self, e: sp.Transpose) -> torch.Tensor:
        return self(e.arg).transpose(-1, -2)

    def _eval_Determinant(self, e: sp.Determinant) -> torch.Tensor:
        return torch.linalg.det(self(e.arg)).reshape(-1, 1, 1)

    def _eval_Trace(self, e: sp.Trace) -> torch.Tensor:
        return torch.diagonal(self(e.arg), dim1=-2, dim2=-1).sum(-1).reshape(-1, 1, 1)

    def _eval_MatrixElement(self, e: MatrixElement) -> torch.Tensor:
        parent = self(e.parent)
        i, j = self.integer(e.i), self.integer(e.j)
        if not (0 <= i < parent.shape[-2] and 0 <= j < parent.shape[-1]):  # no silent wrap-around
            raise UnsupportedExpression(f"index ({i}, {j}) out of range for {e.parent} of shape "
                                        f"{tuple(parent.shape[-2:])}")
        return parent[:, i, j].reshape(-1, 1, 1)

    # Indexed families, sums and extrema over index ranges.

    def _eval_Indexed(self, e: sp.Indexed) -> torch.Tensor:
        base = self.values[e.base.label.name].to(device=self.device, dtype=self.dtype)
        idx = tuple(self.integer(n) for n in e.indices)
        shape = tuple(base.shape[1:])
        if len(idx) != len(shape):
            raise UnsupportedExpression(f"{e} has {len(idx)} indices but {e.base} has {len(shape)} axes {shape}")
        if not all(0 <= n < size for n, size in zip(idx, shape)):  # no silent wrap-around
            raise UnsupportedExpression(f"index {idx if len(idx) > 1 else idx[0]} out of range for {e.base} "
                                        f"of shape {shape}")
        return base[(slice(None), *idx)].reshape(-1, 1, 1)

    def _eval_Sum(self, e: sp.Sum) -> torch.Tensor:
        """sympy flattens Sum(Sum(f, inner), outer) into Sum(f, inner, outer): bind the outermost limit first."""
        return self.sum(e.function, e.limits)

    def _eval_IndexedExtremum(self, e: IndexedExtremum) -> torch.Tensor:
        return self.extremum(e)

    def _eval_Max(self, e: sp.Max) -> torch.Tensor:
        return self._fold(torch.maximum, e.args)

    def _eval_Min(self, e: sp.Min) -> torch.Tensor:
        return self._fold(torch.minimum, e.args)

    def _fold(self, op, args: tuple) -> torch.Tensor:
        out = self(args[0])
        for a in args[1:]:
            out = op(out, self(a))
        return out

    # Scalar functions.

    def _eval_log(self, e: sp.log) -> torch.Tensor:
        (arg,) = e.args
        if isinstance(arg, sp.Determinant):
            # log det through slogdet: accurate in low precision; log of a negative det is NaN.
            sign, logabs = torch.linalg.slogdet(self(arg.arg))
            return torch.where(sign > 0, logabs, torch.full_like(logabs, math.nan)).reshape(-1, 1, 1)
        return torch.log(self(arg))

    _eval_exp, _eval_Abs, _eval_sign = _elementwise(torch.exp), _elementwise(torch.abs), _elementwise(torch.sign)
    _eval_tanh, _eval_sin, _eval_cos = _elementwise(torch.tanh), _elementwise(torch.sin), _elementwise(torch.cos)

    def _eval_Heaviside(self, e: sp.Heaviside) -> torch.Tensor:
        return (self(e.args[0]) > 0).to(self.dtype)

    def _eval_Scalar(self, e: Scalar) -> torch.Tensor:
        return self(e.args[0])

    def _eval_DeclaredFunction(self, e: DeclaredFunction) -> torch.Tensor:
        """σ(z) and the like: their torch counterpart."""
        return type(e).torch_function(self(e.args[0]))


def evaluate(expr: sp.Basic, values: Mapping[str, torch.Tensor], dims: Mapping[str, int] | None = None,
             *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu",
             batch: int | None = None, memo: dict | None = None) -> torch.Tensor:
    """Evaluate `expr` on a batch: returns (B,) for scalar expressions, (B, rows, cols) for matrices.

    `values` maps symbol names to tensors (scalars (B,), vectors (B, n), matrices (B, n, m), indexed
    families (B, K)); `dims` maps dimension symbols to ints. `memo` (a dict the caller keeps for this
    very batch, dtype and device) stores the value of every subexpression without bound indices, so
    expressions evaluated on the same batch share their common subtrees (the grader: many answers).
    """
    if batch is None:
        batch = next(iter(values.values())).shape[0] if values else 1
    ev = _Evaluator(values, dict(dims or {}), batch, dtype, device, memo=memo)
    out = ev(sp.sympify(expr))
    if isinstance(expr, sp.MatrixExpr) and expr.shape != (1, 1):
        return out
    return out.reshape(batch)


def rounding_sensitivity(expr: sp.Basic, values: Mapping[str, torch.Tensor], dims: Mapping[str, int] | None = None,
                         *, batch: int | None = None) -> torch.Tensor:
    """First-order rounding-error weight of evaluating `expr`, per instance, in float64.

    If every operation of the evaluation rounds its result with relative error at most u, the computed
    value differs from the exact one by at most u * sum_i |d out / d v_i| * |v_i| to first order (the
    running error bound of Higham, Accuracy and Stability of Numerical Algorithms, section 3.3), summed
    over every computed entry v_i. Autograd gives all the terms at once. For matrix-valued expressions
    the weight of the worst entry is returned. Linear-algebra kernels (inv, det) count as single
    operations, which is accurate for the well-conditioned matrices the generators draw.
    """
    if batch is None:
        batch = next(iter(values.values())).shape[0] if values else 1
    values64 = {k: v.detach().to(torch.float64) for k, v in values.items()}
    ev = _Evaluator(values64, dict(dims or {}), batch, torch.float64, next(iter(values64.values())).device
                    if values64 else "cpu", perturb=True)
    with torch.enable_grad():
        out = ev(sp.sympify(expr)).reshape(batch, -1)
        if not ev.perturbations:
            return torch.zeros(batch, dtype=torch.float64)
        weights = []
        for column in range(out.shape[1]):
            grads = torch.autograd.grad(out[:, column].sum(), ev.perturbations, retain_graph=True, allow_unused=True)
            total = torch.zeros(batch, dtype=torch.float64, device=out.device)
            for g in grads:
                if g is not None:
                    total = total + torch.nan_to_num(g.abs(), nan=float("inf")).reshape(g.shape[0], -1).sum(1)
            weights.append(total)
    return torch.stack(weights, dim=1).amax(dim=1)
