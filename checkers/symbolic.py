"""Symbolic checking with sympy: strategies that try to prove a claim or a step, and an honest record of the outcome.

A strategy returns a SymbolicResult whose status (a `SymbolicStatus`) is `proved` (sympy reduced this
claim's own lhs − rhs, or its inequality, with definitions expanded, to a true statement, for the scope
printed: `general`, or the dimensions it was proved for), `supported by lemmas` (sympy proved supporting
facts, but did not derive the claim's own formula from them), `failed` (sympy did not reach zero, found a
non-zero difference, ran out of time or raised), or `not attempted` (with the reason). Zero is recognised
only by exact simplification; sympy's numeric `equals` is never used as a proof.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sympy as sp

from checkers.errors import SymbolicTimeout
from checkers.functions import unfold
from checkers.limits import time_limit
from checkers.notation import Scalar

DEFAULT_TIME_LIMIT = 30.0


class SymbolicStatus(StrEnum):
    """The outcome of a symbolic attempt; str-valued, so `status == "proved"` and JSON keep working."""

    PROVED = "proved"  # this claim's own lhs − rhs (or inequality) reduced to a true statement, for the scope
    SUPPORTED = "supported by lemmas"  # supporting facts proved; the claim's own formula not derived from them
    NOT_ATTEMPTED = "not attempted"
    FAILED = "failed"


LEMMAS_LEAD = "lemmas proved, the claim's own formula not derived from them"  # how `supported by lemmas` is explained


@dataclass(frozen=True)
class SymbolicResult:
    """What sympy established about one claim or step."""

    status: SymbolicStatus  # a plain string is converted (and an unknown one refused)
    scope: str = ""  # "general", "n ∈ {1, 2, 3}", ...
    detail: str = ""  # for people: how it was proved, or why not
    seconds: float = 0.0
    lemmas: tuple[str, ...] = ()  # the supporting facts a `facts(...)` strategy proved, one description each

    def __post_init__(self):
        object.__setattr__(self, "status", SymbolicStatus(self.status))

    @property
    def ok(self) -> bool:
        return self.status != SymbolicStatus.FAILED


def _factor_radicands(e: sp.Basic) -> sp.Basic:
    """Factor the base of every fractional power, so sqrt(expanded square) becomes |factor|."""
    return e.replace(lambda z: z.is_Pow and z.exp.is_Rational and not z.exp.is_Integer,
                     lambda z: sp.factor(z.base) ** z.exp)


def real_matrix_scalars(e: sp.Basic) -> sp.Basic:
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


# -- "is this zero": three tests, each the right one for its callers ------------------------------------------------
# All three are sound (True only when exact rewrites reach 0); they differ in what they may call and so in what
# they cost and can prove. A proof that fails one of them is not retried with another.

def simplifies_to_zero(diff: sp.Basic) -> bool:
    """True only when an exact rewrite sequence turns `diff` into 0 (or the zero matrix): expand, then sympy's
    `simplify` after factoring radicands, splitting logarithms, combining powers.

    The strongest of the three and the default (`identity`, `ForDimensions`, display forms in the reports). It
    may call `simplify` on anything, which is why strategies that keep symbolic sums use
    `zero_leaving_sums_unevaluated`, and why `ForSizes` (hundreds of explicit terms) uses `expands_to_zero`.
    """
    if isinstance(diff, sp.MatrixBase):
        return all(simplifies_to_zero(entry) for entry in diff)
    if isinstance(diff, sp.MatrixExpr):
        diff = diff.doit()
        if isinstance(diff, sp.ZeroMatrix):
            return True
        return sp.simplify(diff).is_ZeroMatrix is True
    if diff == 0:
        return True
    diff = real_matrix_scalars(diff)
    for rewrite in (sp.expand, lambda e: sp.simplify(_factor_radicands(e)), lambda e: sp.simplify(sp.expand_log(e)),
                    lambda e: sp.simplify(sp.powsimp(sp.expand(e), force=False))):
        diff = rewrite(diff)
        if diff == 0:
            return True
    return False


def zero_leaving_sums_unevaluated(e: sp.Basic) -> bool:
    """`e` expands to 0, or simplifies to 0 when it holds no symbolic Sum.

    Not `simplifies_to_zero`: `simplify` on an unevaluated Sum tries to evaluate it in closed form (slow, and it
    can rewrite a sum of a general number of terms into cases), so the strategies whose differences keep sums
    over a general number of terms (`CaseSplit`, `Termwise`, `IndexedDerivative`) only expand them.
    """
    e = sp.expand(e)
    return e == 0 or (not e.has(sp.Sum) and sp.simplify(e) == 0)


def expands_to_zero(diff: sp.Basic) -> bool:
    """Exact rewrites only, never `simplify`: expand, split logarithms of positive products, cancel rational
    coefficients.

    Not `simplifies_to_zero` nor `zero_leaving_sums_unevaluated`: `ForSizes` writes a claim out entry by entry
    for explicit sizes (hundreds of terms), where `simplify` costs minutes and these rewrites milliseconds.
    """
    for rewrite in (sp.expand, lambda e: sp.expand(sp.expand_log(e)), sp.cancel):
        diff = rewrite(diff)
        if diff == 0:
            return True
    return False


def outcome_of_exception(exc: BaseException) -> SymbolicResult:
    """A strategy that ran out of time or raised found no proof: `failed`, never `proved`."""
    if isinstance(exc, SymbolicTimeout):
        return SymbolicResult(SymbolicStatus.FAILED, detail=str(exc))
    return SymbolicResult(SymbolicStatus.FAILED, detail=f"sympy raised {type(exc).__name__}: {exc}")


def scope_of(dim: sp.Symbol | str, values: Sequence[int]) -> str:
    """The printed scope of a proof for the listed values of one dimension: "n ∈ {1, 2, 3}"."""
    return f"{dim} ∈ {{{', '.join(map(str, values))}}}"


@dataclass(frozen=True)
class Strategy:
    """How to attempt a symbolic proof of `lhs relation rhs`; subclasses implement `_attempt`."""

    time_limit: float = DEFAULT_TIME_LIMIT

    def prove(self, lhs: sp.Basic | None, rhs: sp.Basic | None, relation: str = "=") -> SymbolicResult:
        start = time.perf_counter()
        try:
            with time_limit(self.time_limit, "symbolic check"):
                result = self._attempt(unfold(lhs), unfold(rhs), relation)  # σ(z) as 1/(1 + e^{−z}), etc.
        except Exception as exc:  # noqa: BLE001 - sympy bugs (StopIteration in sum_combine, ...) included
            result = outcome_of_exception(exc)
        return dataclasses.replace(result, seconds=time.perf_counter() - start)

    def _attempt(self, lhs, rhs, relation) -> SymbolicResult:
        raise NotImplementedError


@dataclass(frozen=True)
class Identity(Strategy):
    """Prove lhs - rhs = 0 for all values allowed by the symbols' sympy assumptions (or all dimensions)."""

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(SymbolicStatus.NOT_ATTEMPTED, detail=f"Identity proves equalities, not {relation!r}")
        if simplifies_to_zero(lhs - rhs):
            return SymbolicResult(SymbolicStatus.PROVED, "general", "lhs - rhs simplifies to 0")
        return SymbolicResult(SymbolicStatus.FAILED, detail="sympy did not simplify lhs - rhs to 0")


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


def explicit_difference(lhs: sp.Basic, rhs: sp.Basic, dim: sp.Symbol, n: int,
                        substitution: Substitution | None = None) -> sp.Basic:
    """lhs − rhs at dim = n, matrix symbols replaced by `substitution(n)`, as an explicit (matrix of) expression."""
    diff = (lhs - rhs).subs(dim, n)
    if substitution is not None:
        diff = diff.subs(substitution(n))
    diff = diff.doit()
    if isinstance(diff, sp.MatrixExpr) and not isinstance(diff, sp.MatrixBase):
        diff = diff.as_explicit()
    return diff


@dataclass(frozen=True)
class ForDimensions(Strategy):
    """Prove the identity entrywise with explicit matrices, for each dimension in `values`.

    The scope printed is built from the dimensions actually proved, never from the ones declared.
    """

    dim: sp.Symbol = sp.Symbol("n")
    values: tuple[int, ...] = (1, 2, 3)
    substitution: Substitution | None = None

    def _attempt(self, lhs, rhs, relation):
        if relation != "=":
            return SymbolicResult(SymbolicStatus.NOT_ATTEMPTED,
                                  detail=f"ForDimensions proves equalities, not {relation!r}")
        proved: list[int] = []
        for n in self.values:
            if not simplifies_to_zero(explicit_difference(lhs, rhs, self.dim, n, self.substitution)):
                done = f"; proved for {scope_of(self.dim, proved)}" if proved else ""
                return SymbolicResult(SymbolicStatus.FAILED, detail=f"sympy did not reach 0 for {self.dim} = {n}{done}")
            proved.append(n)
        return SymbolicResult(SymbolicStatus.PROVED, scope_of(self.dim, proved),
                              "entrywise with explicit symbolic matrices")


def _established(value: object) -> tuple[bool, object]:
    """(True, _) when `value` is True, or an expression that simplifies to 0 or to True; else (False, what is left)."""
    if value is sp.true or value is True:
        return True, value
    if isinstance(value, sp.Basic) and not isinstance(value, sp.logic.boolalg.Boolean) and simplifies_to_zero(value):
        return True, value
    simplified = sp.simplify(value)
    return simplified is sp.true or simplified == 0, simplified


ClaimDerivation = Callable[[sp.Basic | None, sp.Basic | None, str], sp.Basic]  # (lhs, rhs, relation) -> 0 or True


def derivation_reads_the_claim(derive: ClaimDerivation, lhs, rhs, relation: str) -> bool:
    """True when `derive` refuses the claim with its right side moved by a free δ > 0 the wrong way.

    rhs − δ for "<=", rhs + δ for ">=" and "=" (lhs ± δ when the claim has no rhs): a false statement
    for every δ > 0, so a derivation that still succeeds does not depend on the claim's sides.
    """
    delta = sp.Dummy("delta", positive=True)
    shift = -delta if relation == "<=" else delta
    if rhs is None:
        moved_lhs, moved_rhs = lhs - shift, rhs
    else:
        moved_lhs, moved_rhs = lhs, rhs + shift
    try:
        still, _ = _established(derive(moved_lhs, moved_rhs, relation))
    except Exception:  # noqa: BLE001 - a derivation that cannot even run on the moved claim refuses it
        return True
    return not still


@dataclass(frozen=True)
class Facts(Strategy):
    """Prove a list of supporting facts, each a sympy expression that must simplify to 0 or to True.

    Used for claims sympy cannot state directly (inequalities, limits): e.g. log t <= t - 1 follows from
    f(t) = t - 1 - log t having f(1) = 0, f'(1) = 0 and f'' = 1/t^2 > 0 for t > 0.

    The facts alone never prove the claim: the result is `supported by lemmas`. Only when `derive` is
    given, and `derive(lhs, rhs, relation)` (a function of this claim's own sides, e.g. the claim's
    difference with a proved lemma substituted) also simplifies to 0 or True, is the claim `proved`.
    """

    facts: tuple[tuple[str, Callable[[], sp.Basic]], ...] = ()
    scope: str = "general"
    derive: ClaimDerivation | None = None
    derivation: str = ""  # what `derive` does, in words

    def _attempt(self, lhs, rhs, relation):
        for description, make in self.facts:
            ok, left = _established(make())
            if not ok:
                return SymbolicResult(SymbolicStatus.FAILED, detail=f"could not establish: {description} (sympy left {left})")
        lemmas = tuple(d for d, _ in self.facts)
        listed = "; ".join(lemmas)
        if self.derive is None:
            return SymbolicResult(SymbolicStatus.SUPPORTED, self.scope,
                                  f"{LEMMAS_LEAD}: {listed}",
                                  lemmas=lemmas)
        if lhs is None and rhs is None:
            return SymbolicResult(SymbolicStatus.FAILED, detail="derive= needs the claim's sympy sides; this claim has none")
        ok, left = _established(self.derive(lhs, rhs, relation))
        if not ok:
            return SymbolicResult(SymbolicStatus.FAILED,
                                  detail=f"the lemmas hold, but the claim's own formula does not follow "
                                         f"({self.derivation or 'derivation'}: sympy left {left})")
        if not derivation_reads_the_claim(self.derive, lhs, rhs, relation):
            return SymbolicResult(SymbolicStatus.FAILED,
                                  detail="the derivation also 'proves' the claim with its right side moved by a free "
                                         "δ > 0 (in the direction that makes it false): it does not read the claim")
        return SymbolicResult(SymbolicStatus.PROVED, self.scope,
                              f"{listed}; then {self.derivation or 'the claim derived from them'}", lemmas=lemmas)


@dataclass(frozen=True)
class NotAttempted(Strategy):
    """Record that no symbolic proof is attempted, and why (the numeric checks still run)."""

    reason: str = ""

    def _attempt(self, lhs, rhs, relation):
        return SymbolicResult(SymbolicStatus.NOT_ATTEMPTED, detail=self.reason)


def identity(time_limit: float = DEFAULT_TIME_LIMIT) -> Identity:
    """Prove the identity in general (symbols' assumptions apply)."""
    return Identity(time_limit=time_limit)


def for_dimensions(dim: sp.Symbol, values: tuple[int, ...] = (1, 2, 3), substitution: Substitution | None = None,
                   time_limit: float = DEFAULT_TIME_LIMIT) -> ForDimensions:
    """Prove the identity entrywise for each dimension in `values`."""
    return ForDimensions(time_limit=time_limit, dim=dim, values=values, substitution=substitution)


def facts(*items: tuple[str, Callable[[], sp.Basic]], scope: str = "general", derive: ClaimDerivation | None = None,
          derivation: str = "", time_limit: float = DEFAULT_TIME_LIMIT) -> Facts:
    """Prove each (description, thunk) fact; thunks defer the sympy work into the time limit.

    Without `derive` the outcome is at best `supported by lemmas`; with it, `proved` when
    `derive(lhs, rhs, relation)` of the claim's own sides also reduces to 0 or True.
    """
    return Facts(time_limit=time_limit, facts=tuple(items), scope=scope, derive=derive, derivation=derivation)


def not_attempted(reason: str) -> NotAttempted:
    """No symbolic proof; `reason` says why."""
    return NotAttempted(reason=reason)
