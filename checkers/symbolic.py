"""Symbolic checking with sympy: strategies that try to prove a claim or a step, and an honest record of the outcome.

A strategy returns a SymbolicResult whose status is `proved` (with its scope: `general`, or the
dimensions it was proved for), `failed` (sympy did not reach zero, found a non-zero difference, or ran
out of time), or `not attempted` (with the reason). Zero is recognised only by exact simplification;
sympy's numeric `equals` is never used as a proof.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import sympy as sp

from checkers.errors import SymbolicTimeout
from checkers.limits import time_limit
from checkers.notation import Scalar

DEFAULT_TIME_LIMIT = 30.0


@dataclass(frozen=True)
class SymbolicResult:
    """What sympy established about one claim or step."""

    status: str  # "proved" | "failed" | "not attempted"
    scope: str = ""  # "general", "n ∈ {1, 2, 3}", ...
    detail: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def _factor_radicands(e: sp.Basic) -> sp.Basic:
    """Factor the base of every fractional power, so sqrt(expanded square) becomes |factor|."""
    return e.replace(lambda z: z.is_Pow and z.exp.is_Rational and not z.exp.is_Integer,
                     lambda z: sp.factor(z.base) ** z.exp)


def _real_matrix_scalars(e: sp.Basic) -> sp.Basic:
    """Rewrite scalar functions of real square matrices into canonical real symbols.

    Sound rules only: matrix expressions are expanded with sympy's own rules ((AB)^-1 = B^-1 A^-1,
    det(AB) = det A det B, det A^-1 = 1/det A), det(M^T) = det M, and every remaining determinant or
    quadratic form of real matrices is a real number, so it may stand as a real symbol.
    """
    if not e.has(sp.Determinant, Scalar, sp.Trace):
        return e
    e = e.replace(lambda z: isinstance(z, Scalar), lambda z: Scalar(sp.expand(z.args[0].doit())))
    e = e.doit()
    e = e.replace(lambda z: isinstance(z, sp.Determinant) and isinstance(z.arg, sp.Transpose),
                  lambda z: sp.Determinant(z.arg.arg))
    atoms = sorted(e.atoms(sp.Determinant, Scalar), key=sp.default_sort_key)
    return e.xreplace({a: sp.Dummy(f"real{i}", real=True) for i, a in enumerate(atoms)})


def _simplifies_to_zero(diff: sp.Basic) -> bool:
    """True only when an exact rewrite sequence turns `diff` into 0 (or the zero matrix)."""
    if isinstance(diff, sp.MatrixBase):
        return all(_simplifies_to_zero(entry) for entry in diff)
    if isinstance(diff, sp.MatrixExpr):
        diff = diff.doit()
        if isinstance(diff, sp.ZeroMatrix):
            return True
        return sp.simplify(diff).is_ZeroMatrix is True
    if diff == 0:
        return True
    diff = _real_matrix_scalars(diff)
    for rewrite in (sp.expand, lambda e: sp.simplify(_factor_radicands(e)), lambda e: sp.simplify(sp.expand_log(e)),
                    lambda e: sp.simplify(sp.powsimp(sp.expand(e), force=False))):
        diff = rewrite(diff)
        if diff == 0:
            return True
    return False


@dataclass(frozen=True)
class Strategy:
    """How to attempt a symbolic proof of `lhs relation rhs`; subclasses implement `_attempt`."""

    time_limit: float = DEFAULT_TIME_LIMIT

    def prove(self, lhs: sp.Basic | None, rhs: sp.Basic | None, relation: str = "=") -> SymbolicResult:
        start = time.perf_counter()
        try:
            with time_limit(self.time_limit, "symbolic check"):
                result = self._attempt(lhs, rhs, relation)
        except SymbolicTimeout as exc:
            result = SymbolicResult("failed", detail=str(exc))
        except Exception as exc:  # noqa: BLE001 - sympy bugs (StopIteration in sum_combine, ...) included
            # sympy gave up with an exception: that is a proof not found, never a pass.
            result = SymbolicResult("failed", detail=f"sympy raised {type(exc).__name__}: {exc}")
        return SymbolicResult(result.status, result.scope, result.detail, time.perf_counter() - start)

    def _attempt(self, lhs, rhs, relation) -> SymbolicResult:
        raise NotImplementedError


@dataclass(frozen=True)
class Identity(Strategy):
    """Prove lhs - rhs = 0 for all values allowed by the symbols' sympy assumptions (or all dimensions)."""

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult("not attempted", detail=f"Identity proves equalities, not {relation!r}")
        if _simplifies_to_zero(lhs - rhs):
            return SymbolicResult("proved", "general", "lhs - rhs simplifies to 0")
        return SymbolicResult("failed", detail="sympy did not simplify lhs - rhs to 0")


Substitution = Callable[[int], dict[sp.Basic, sp.Basic]]


def explicit_entries(*matrices: sp.MatrixSymbol, symmetric: Sequence[str] = ()) -> Substitution:
    """A substitution replacing each n-sized MatrixSymbol by a matrix of fresh real symbols.

    Matrices named in `symmetric` get mirrored entries. Works for square (n x n) and column (n x 1)
    symbols whose sizes are expressions in the dimension symbol.
    """

    def substitute(n: int) -> dict[sp.Basic, sp.Basic]:
        out = {}
        for m in matrices:
            dim = next(iter(m.rows.free_symbols | m.cols.free_symbols))
            rows, cols = int(m.rows.subs(dim, n)), int(m.cols.subs(dim, n))

            def entry(i, j, name=m.name):
                if name in symmetric:
                    i, j = min(i, j), max(i, j)
                return sp.Symbol(f"{name}_{i}{j}", real=True)

            out[sp.MatrixSymbol(m.name, rows, cols)] = sp.ImmutableMatrix(rows, cols, entry)
        return out

    return substitute


@dataclass(frozen=True)
class ForDimensions(Strategy):
    """Prove the identity entrywise with explicit matrices, for each dimension in `values`."""

    dim: sp.Symbol = sp.Symbol("n")
    values: tuple[int, ...] = (1, 2, 3)
    substitution: Substitution | None = None

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult("not attempted", detail=f"ForDimensions proves equalities, not {relation!r}")
        proved = []
        for n in self.values:
            diff = (lhs - rhs).subs(self.dim, n)
            if self.substitution is not None:
                diff = diff.subs(self.substitution(n))
            diff = diff.doit()
            if isinstance(diff, sp.MatrixExpr) and not isinstance(diff, sp.MatrixBase):
                diff = diff.as_explicit()
            if not _simplifies_to_zero(diff):
                done = f"; proved for {self.dim} ∈ {{{', '.join(map(str, proved))}}}" if proved else ""
                return SymbolicResult("failed", detail=f"sympy did not reach 0 for {self.dim} = {n}{done}")
            proved.append(n)
        return SymbolicResult("proved", f"{self.dim} ∈ {{{', '.join(map(str, proved))}}}",
                              "entrywise with explicit symbolic matrices")


@dataclass(frozen=True)
class Facts(Strategy):
    """Prove a list of supporting facts, each a sympy expression that must simplify to 0 or to True.

    Used for claims sympy cannot state directly (inequalities, limits): e.g. log t <= t - 1 follows from
    f(t) = t - 1 - log t having f(1) = 0, f'(1) = 0 and f'' = 1/t^2 > 0 for t > 0.
    """

    facts: tuple[tuple[str, Callable[[], sp.Basic]], ...] = ()
    scope: str = "general"

    def _attempt(self, lhs, rhs, relation):
        for description, make in self.facts:
            value = make()
            if value is sp.true or value is True:
                continue
            if isinstance(value, sp.Basic) and not isinstance(value, sp.logic.boolalg.Boolean) and _simplifies_to_zero(value):
                continue
            simplified = sp.simplify(value)
            if simplified is sp.true or simplified == 0:
                continue
            return SymbolicResult("failed", detail=f"could not establish: {description} (sympy left {simplified})")
        return SymbolicResult("proved", self.scope, "; ".join(d for d, _ in self.facts))


@dataclass(frozen=True)
class NotAttempted(Strategy):
    """Record that no symbolic proof is attempted, and why (the numeric checks still run)."""

    reason: str = ""

    def _attempt(self, lhs, rhs, relation):
        return SymbolicResult("not attempted", detail=self.reason)


def identity(time_limit: float = DEFAULT_TIME_LIMIT) -> Identity:
    """Prove the identity in general (symbols' assumptions apply)."""
    return Identity(time_limit=time_limit)


def for_dimensions(dim: sp.Symbol, values: tuple[int, ...] = (1, 2, 3), substitution: Substitution | None = None,
                   time_limit: float = DEFAULT_TIME_LIMIT) -> ForDimensions:
    """Prove the identity entrywise for each dimension in `values`."""
    return ForDimensions(time_limit=time_limit, dim=dim, values=values, substitution=substitution)


def facts(*items: tuple[str, Callable[[], sp.Basic]], scope: str = "general",
          time_limit: float = DEFAULT_TIME_LIMIT) -> Facts:
    """Prove each (description, thunk) fact; thunks defer the sympy work into the time limit."""
    return Facts(time_limit=time_limit, facts=tuple(items), scope=scope)


def not_attempted(reason: str) -> NotAttempted:
    """No symbolic proof; `reason` says why."""
    return NotAttempted(reason=reason)
