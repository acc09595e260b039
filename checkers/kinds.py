"""Variable kinds and their batched random-instance generators (one tensor per variable, batch first).

Every generator draws on the CPU in float64 from an explicit `torch.Generator`, so an instance depends
only on (seed, dims, batch) and is identical whichever device later evaluates it. Shapes: scalars
(B,), vectors (B, n), matrices (B, n, m), probability vectors (B, n), densities on a grid (B, m).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

Dims = dict[str, int]


_SIZE_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_]\w*)|([-+*()]))")


def _size(spec: int | str, dims: Dims) -> int:
    """A shape entry: an int, a dimension name ("n"), or an arithmetic expression of them ("L + 1", "n_x*n_y")."""
    if isinstance(spec, int):
        return spec
    if spec in dims:
        return dims[spec]
    return _size_expression(spec, dims)


def _size_expression(spec: str, dims: Dims) -> int:
    """Evaluate + - * and brackets over integers and dimension names (a tiny recursive-descent reader, no eval)."""
    tokens, pos = [], 0
    while pos < len(spec.rstrip()):
        m = _SIZE_TOKEN.match(spec, pos)
        if m is None or m.end() == pos:
            raise ValueError(f"shape {spec!r}: cannot read it at position {pos + 1}; use integers, dimension names, "
                             f"+ - * and brackets")
        number, name, op = m.groups()
        if name is not None and name not in dims:
            raise ValueError(f"shape {spec!r}: unknown dimension {name!r} (known: {', '.join(sorted(dims))})")
        tokens.append(int(number) if number else dims[name] if name else op)
        pos = m.end()

    def expr(i):
        value, i = term(i)
        while i < len(tokens) and tokens[i] in ("+", "-"):
            rhs, j = term(i + 1)
            value, i = (value + rhs if tokens[i] == "+" else value - rhs), j
        return value, i

    def term(i):
        value, i = atom(i)
        while i < len(tokens) and tokens[i] == "*":
            rhs, i = atom(i + 1)
            value *= rhs
        return value, i

    def atom(i):
        if i < len(tokens) and tokens[i] == "(":
            value, i = expr(i + 1)
            if i >= len(tokens) or tokens[i] != ")":
                raise ValueError(f"shape {spec!r}: unbalanced brackets")
            return value, i + 1
        if i < len(tokens) and isinstance(tokens[i], int):
            return tokens[i], i + 1
        raise ValueError(f"shape {spec!r}: expected a number or a dimension name")

    value, end = expr(0)
    if end != len(tokens):
        raise ValueError(f"shape {spec!r}: unexpected {tokens[end]!r}")
    return value


@dataclass(frozen=True)
class Kind:
    """How to draw one variable; subclasses say which values are legal.

    Kinds compose instead of subclassing for every need: `kind.map(fn, description)` transforms the
    drawn tensor (append a column, index from 1), `OneOf(kinds)` draws each instance from one of
    several kinds, and every shape entry may be an expression of the dimensions ("L + 1").
    """

    description: str = field(init=False, default="")

    def draw(self, batch: int, dims: Dims, gen: torch.Generator) -> torch.Tensor:
        raise NotImplementedError

    def map(self, fn: Callable[..., torch.Tensor], description: str, *, with_dims: bool = False) -> Kind:
        """This kind with `fn` applied to every drawn batch; `description` says what the result is.

        With `with_dims=True`, `fn(values, dims)` also gets the dimensions (to reshape a flat table, say).
        """
        return Mapped(self, fn, description, with_dims)


@dataclass(frozen=True)
class Mapped(Kind):
    """`inner` drawn, then transformed by `fn` (built by `Kind.map`)."""

    inner: Kind = None
    fn: Callable[..., torch.Tensor] = None
    text: str = ""
    with_dims: bool = False

    @property
    def description(self) -> str:
        return self.text or f"{self.inner.description}, transformed"

    def draw(self, batch, dims, gen):
        values = self.inner.draw(batch, dims, gen)
        return self.fn(values, dims) if self.with_dims else self.fn(values)


@dataclass(frozen=True)
class Constant(Kind):
    """The same scalar for every instance (a grid spacing, a fixed hyperparameter); `text` names what it is."""

    value: float = 0.0
    text: str = ""

    @property
    def description(self) -> str:
        return self.text or f"the constant {self.value:g}"

    def draw(self, batch, dims, gen):
        return torch.full((batch,), float(self.value), dtype=torch.float64)


@dataclass(frozen=True)
class OneOf(Kind):
    """Each instance drawn from one of `options` (kinds, or numbers meaning `Constant`s), uniformly at random.

    Every option is drawn for the whole batch and each instance keeps one, so the options must give
    the same shape; e.g. `OneOf((1e-5, 1e-3, 1e-1))` for a hyperparameter spanning orders of magnitude.
    """

    options: tuple = ()

    def _kinds(self) -> tuple[Kind, ...]:
        return tuple(o if isinstance(o, Kind) else Constant(float(o)) for o in self.options)

    @property
    def description(self) -> str:
        return "one of: " + "; ".join(k.description for k in self._kinds())

    def draw(self, batch, dims, gen):
        kinds = self._kinds()
        drawn = torch.stack([k.draw(batch, dims, gen) for k in kinds])
        choice = torch.randint(len(kinds), (batch,), generator=gen)
        return drawn[choice, torch.arange(batch)]


def one_based(kind: Kind) -> Kind:
    """A vector kind stored with an unused NaN in column 0, so that x[j] is x_j for j = 1..n.

    An answer that reads x_0 (an off-by-one summation range) gets NaN, never a plausible number.
    """
    def shift(values: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.full_like(values[:, :1], float("nan")), values], dim=1)

    return kind.map(shift, f"{kind.description}, indexed from 1")


def append_value(kind: Kind, value: float) -> Kind:
    """A vector kind with one more entry, `value`, at the end (n_0..n_{L-1} from `kind`, then n_L = value)."""
    def extend(values: torch.Tensor) -> torch.Tensor:
        return torch.cat([values, torch.full_like(values[:, :1], value)], dim=1)

    return kind.map(extend, f"{kind.description}, then {value:g}")


@dataclass(frozen=True)
class Real(Kind):
    """A real scalar, uniform on [low, high]."""

    low: float = -3.0
    high: float = 3.0

    @property
    def description(self) -> str:
        return f"real in [{self.low}, {self.high}]"

    def draw(self, batch, dims, gen):
        return self.low + (self.high - self.low) * torch.rand(batch, generator=gen, dtype=torch.float64)


@dataclass(frozen=True)
class Integer(Kind):
    """An integer uniform on [low, high] (a width, a kernel size), stored as float64 like every sample value."""

    low: int = 1
    high: int = 8

    @property
    def description(self) -> str:
        return f"integer in [{self.low}, {self.high}]"

    def draw(self, batch, dims, gen):
        return torch.randint(self.low, self.high + 1, (batch,), generator=gen).to(torch.float64)


@dataclass(frozen=True)
class Positive(Kind):
    """A positive scalar, log-uniform on [low, high] so every order of magnitude is sampled."""

    low: float = 0.1
    high: float = 10.0

    @property
    def description(self) -> str:
        return f"positive in [{self.low}, {self.high}] (log-uniform)"

    def draw(self, batch, dims, gen):
        u = torch.rand(batch, generator=gen, dtype=torch.float64)
        return torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)


@dataclass(frozen=True)
class Vector(Kind):
    """A vector in R^dim with iid N(0, scale^2) entries."""

    dim: int | str = "n"
    scale: float = 1.0

    @property
    def description(self) -> str:
        return f"vector in R^{self.dim}"

    def draw(self, batch, dims, gen):
        return self.scale * torch.randn(batch, _size(self.dim, dims), generator=gen, dtype=torch.float64)


@dataclass(frozen=True)
class Matrix(Kind):
    """A general real rows x cols matrix with iid N(0, scale^2) entries."""

    rows: int | str = "n"
    cols: int | str = "n"
    scale: float = 1.0

    @property
    def description(self) -> str:
        return f"real {self.rows}x{self.cols} matrix"

    def draw(self, batch, dims, gen):
        shape = (batch, _size(self.rows, dims), _size(self.cols, dims))
        return self.scale * torch.randn(*shape, generator=gen, dtype=torch.float64)


def _orthogonal(batch: int, n: int, gen: torch.Generator) -> torch.Tensor:
    """Haar-distributed orthogonal matrices via QR with the sign fix of Mezzadri (2007)."""
    q, r = torch.linalg.qr(torch.randn(batch, n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)


@dataclass(frozen=True)
class Invertible(Kind):
    """An invertible n x n matrix U diag(s) V^T with singular values in [1/cond_sqrt, cond_sqrt].

    Half of every batch has negative determinant (one singular direction flipped), so formulas that
    forget the absolute value in |det A| are caught.
    """

    dim: int | str = "n"
    cond_sqrt: float = 2.0

    @property
    def description(self) -> str:
        return f"invertible {self.dim}x{self.dim} matrix (condition number <= {self.cond_sqrt ** 2:g}, both det signs)"

    def draw(self, batch, dims, gen):
        n = _size(self.dim, dims)
        u, v = _orthogonal(batch, n, gen), _orthogonal(batch, n, gen)
        log_c = math.log(self.cond_sqrt)
        s = torch.exp((2 * torch.rand(batch, n, generator=gen, dtype=torch.float64) - 1) * log_c)
        sign = torch.ones(batch, n, dtype=torch.float64)
        sign[::2, 0] = -1.0
        # det(U)det(V) is +-1 at random; fix the overall sign so even rows are negative, odd positive.
        a = u @ torch.diag_embed(s * sign) @ v.transpose(-1, -2)
        det_sign = torch.sign(torch.linalg.det(a))
        want = torch.where(torch.arange(batch) % 2 == 0, -1.0, 1.0).to(torch.float64)
        flip = (det_sign != want).to(torch.float64)
        a[:, 0, :] *= 1 - 2 * flip.unsqueeze(-1)
        return a


@dataclass(frozen=True)
class SPD(Kind):
    """A symmetric positive definite n x n matrix Q diag(lam) Q^T with eigenvalues in [low, high]."""

    dim: int | str = "n"
    low: float = 0.25
    high: float = 4.0

    @property
    def description(self) -> str:
        return f"symmetric positive definite {self.dim}x{self.dim} matrix (eigenvalues in [{self.low}, {self.high}])"

    def draw(self, batch, dims, gen):
        n = _size(self.dim, dims)
        q = _orthogonal(batch, n, gen)
        u = torch.rand(batch, n, generator=gen, dtype=torch.float64)
        lam = torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)
        m = q @ torch.diag_embed(lam) @ q.transpose(-1, -2)
        return (m + m.transpose(-1, -2)) / 2


@dataclass(frozen=True)
class ProbabilityVector(Kind):
    """A strictly positive probability vector of length dim (softmax of N(0, spread^2) logits)."""

    dim: int | str = "n"
    spread: float = 1.5

    @property
    def description(self) -> str:
        return f"probability vector of length {self.dim} (all entries > 0)"

    def draw(self, batch, dims, gen):
        logits = self.spread * torch.randn(batch, _size(self.dim, dims), generator=gen, dtype=torch.float64)
        return torch.softmax(logits, dim=-1)


GRID_HALF_WIDTH = 10.0


def density_grid(points: int) -> tuple[torch.Tensor, float]:
    """The grid on [-10, 10] that densities are tabulated on, and its spacing (for Riemann sums)."""
    x = torch.linspace(-GRID_HALF_WIDTH, GRID_HALF_WIDTH, points, dtype=torch.float64)
    return x, float(x[1] - x[0])


@dataclass(frozen=True)
class DensityOnGrid(Kind):
    """A probability density on R tabulated on `density_grid(points)`: a mixture of 1-3 Gaussians.

    Values are normalised so that the Riemann sum is exactly 1; the density at +-10 is below 1e-12
    because means lie in [-2.5, 2.5] and standard deviations in [0.3, 1] (7.5 standard deviations).
    """

    points: int = 801

    @property
    def description(self) -> str:
        return f"density on a {self.points}-point grid over [-10, 10] (Gaussian mixture)"

    def draw(self, batch, dims, gen):
        x, dx = density_grid(self.points)
        k = 3
        means = 5 * torch.rand(batch, k, 1, generator=gen, dtype=torch.float64) - 2.5
        stds = 0.3 + 0.7 * torch.rand(batch, k, 1, generator=gen, dtype=torch.float64)
        weights = torch.softmax(torch.randn(batch, k, 1, generator=gen, dtype=torch.float64) * 2, dim=1)
        comps = torch.exp(-0.5 * ((x - means) / stds) ** 2) / (stds * math.sqrt(2 * math.pi))
        density = (weights * comps).sum(dim=1)
        return density / (density.sum(dim=-1, keepdim=True) * dx)


@dataclass(frozen=True)
class Variable:
    """A named variable of a claim: the name its sympy symbol and its sample entry share."""

    name: str
    kind: Kind
    latex: str | None = None

    def draw(self, batch: int, dims: Dims, gen: torch.Generator) -> torch.Tensor:
        return self.kind.draw(batch, dims, gen)
