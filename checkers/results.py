"""Result records of a verification run, their failure reports, and their JSON form."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from checkers.symbolic import SymbolicResult

# How every JSON document of ours carries a non-finite number: as one of these strings (strict JSON has no token
# for them; JavaScript's Number() and Python's float() read these spellings back).
NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _fmt(x: object) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    return str(x)


@dataclass(frozen=True)
class Failure:
    """Everything needed to understand and replay one failing instance."""

    what: str  # "claim", "step 2", "reference mvn-log-prob", ...
    device: str
    dtype: str
    seed: int  # the run's seed (hypothesis draws dims and batch seeds from it)
    batch_seed: int
    dims: dict[str, int]
    index: int
    instance: dict[str, object]
    lhs: object
    rhs: object
    abs_error: float
    rel_error: float
    rtol: float
    atol: float
    tolerance_reason: str
    replay: str

    def lines(self) -> list[str]:
        """The report, line by line; the first says what failed, where, and how to find the instance."""
        return [
            f"{self.what}: mismatch on {self.device} {self.dtype} (seed {self.seed}, batch seed {self.batch_seed}, "
            f"dims {self.dims or '{}'}, instance {self.index})",
            f"  lhs = {_fmt(self.lhs)}",
            f"  rhs = {_fmt(self.rhs)}",
            f"  |lhs - rhs| = {self.abs_error:.3g}, relative {self.rel_error:.3g}; "
            f"allowed atol {self.atol:g} + rtol {self.rtol:g} * |rhs| ({self.tolerance_reason})",
            "  instance: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in self.instance.items()),
            f"  replay: {self.replay}",
        ]

    def render(self) -> str:
        return "\n".join(self.lines())


@dataclass(frozen=True)
class ClaimFailure:
    """One reason a claim failed: what failed, a one-line headline, and the numeric failure behind it if any."""

    what: str  # "symbolic", "step 2", "cpu float32", "reference mvn-log-prob", "mutant no-cross", ...
    headline: str
    detail: Failure | None = None

    def lines(self) -> list[str]:
        return self.detail.lines() if self.detail else self.headline.splitlines() or [""]

    def render(self) -> str:
        return "\n".join(self.lines())


def _numeric_failure(what: str, result: NumericResult, fallback: str) -> ClaimFailure:
    if result.failure is None:
        return ClaimFailure(what, fallback)
    return ClaimFailure(what, result.failure.lines()[0], result.failure)


@dataclass(frozen=True)
class NumericResult:
    """One side-by-side comparison (claim, step, reference or mutant) on one device and dtype."""

    device: str
    dtype: str
    instances: int
    worst_abs_error: float
    worst_rel_error: float
    rtol: float
    atol: float
    passed: bool
    skipped: str = ""  # non-empty: why this device/dtype did not run
    failure: Failure | None = None
    seconds: float = 0.0
    # instances whose Monte Carlo estimate was degenerate (standard error 0 or infinite): not judged either way
    degenerate: int = 0


@dataclass(frozen=True)
class StepResult:
    index: int
    justification: str
    symbolic: SymbolicResult
    numeric: NumericResult | None  # float64 on cpu; None when the step has no numeric form

    @property
    def passed(self) -> bool:
        return self.symbolic.ok and (self.numeric is None or self.numeric.passed)


@dataclass(frozen=True)
class ReferenceResult:
    id: str
    description: str
    results: tuple[NumericResult, ...]  # float64 per device
    illustration: str = ""  # non-empty: why this reference is shown as an illustration, not counted as evidence
    # a Monte Carlo reference that is evidence: how it rejects its side scaled by 1.02 and 0.98 ("" when not one)
    sharpness: str = ""
    sharp: bool = True  # False: a Monte Carlo reference declared as evidence cannot reject a 2% error
    monte_carlo: bool = False  # computed by sampling (returns an Estimate): judged within z standard errors

    @property
    def passed(self) -> bool:
        return self.sharp and all(r.passed or r.skipped for r in self.results)


def dims_words(dims: dict[str, int]) -> str:
    """Dimensions as a reader reads them: "n = 8, L = 2" (empty for none)."""
    return ", ".join(f"{name} = {size}" for name, size in dims.items())


def rejection_text(dims: dict[str, int], batch_seed: int, rejected: int, instances: int,
                   worst_rel_error: float) -> str:
    """Where a batch rejects a mutant: "3/64 instances out of tolerance (n = 8, batch seed 7; worst ...)"."""
    where = ", ".join(filter(None, (dims_words(dims), f"batch seed {batch_seed}")))
    return (f"{rejected}/{instances} instances out of tolerance ({where}; "
            f"worst relative error {worst_rel_error:.3g})")


@dataclass(frozen=True)
class MutantResult:
    id: str
    description: str
    caught: bool
    evidence: str  # how it was rejected, or why it was not, in words (built from the fields below)
    # The first batch that rejected it (dims None: no batch did, or the mutant could not be evaluated).
    dims: dict[str, int] | None = None
    batch_seed: int | None = None
    rejected: int = 0  # instances of that batch out of tolerance
    instances: int = 0  # instances in that batch; when none rejected it, instances checked in all


@dataclass(frozen=True)
class ClaimResult:
    id: str
    statement: str
    relation: str
    symbolic: SymbolicResult
    steps: tuple[StepResult, ...]
    numeric: tuple[NumericResult, ...]
    references: tuple[ReferenceResult, ...]
    mutants: tuple[MutantResult, ...]
    seconds: float = 0.0

    @property
    def failure_records(self) -> list[ClaimFailure]:
        """Why this claim failed, one record per reason (empty when it passed)."""
        out = []
        if not self.symbolic.ok:
            out.append(ClaimFailure("symbolic", f"symbolic: {self.symbolic.detail}"))
        for s in self.steps:
            if not s.symbolic.ok:
                out.append(ClaimFailure(f"step {s.index} symbolic", f"step {s.index} symbolic: {s.symbolic.detail}"))
            if s.numeric is not None and not s.numeric.passed:
                out.append(_numeric_failure(f"step {s.index}", s.numeric, f"step {s.index}: numeric failure"))
        for r in self.numeric:
            if not r.passed and not r.skipped:
                out.append(_numeric_failure(f"{r.device} {r.dtype}", r,
                                            f"numeric failure on {r.device} {r.dtype}"))
        for ref in self.references:
            if not ref.sharp:
                out.append(ClaimFailure(
                    f"reference {ref.id}",
                    f"reference {ref.id} is a Monte Carlo estimate declared as evidence, but {ref.sharpness}: "
                    "draw more samples, or declare it Reference(..., illustration=reason)"))
            for r in ref.results:
                if not r.passed and not r.skipped:
                    out.append(_numeric_failure(f"reference {ref.id}", r, f"reference {ref.id} failed"))
        for m in self.mutants:
            if not m.caught:
                out.append(ClaimFailure(f"mutant {m.id}", f"mutant {m.id} ({m.description}) survived: {m.evidence}"))
        return out

    @property
    def failures(self) -> list[str]:
        """Human-readable reasons this claim failed (empty when it passed)."""
        return [f.render() for f in self.failure_records]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def ran_numeric(self) -> bool:
        return any(not r.skipped for r in self.numeric)


@dataclass(frozen=True)
class DerivationResult:
    id: str
    title: str
    source: str
    claims: tuple[ClaimResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.claims)


@dataclass(frozen=True)
class RunResult:
    derivations: tuple[DerivationResult, ...]
    seed: int
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]
    versions: dict[str, str]
    started: str
    seconds: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def passed(self) -> bool:
        return all(d.passed for d in self.derivations)


def _jsonable(obj):
    if dataclasses.is_dataclass(obj):
        out = {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
        for extra in ("passed", "ok"):
            if hasattr(type(obj), extra) and isinstance(getattr(type(obj), extra), property):
                out[extra] = getattr(obj, extra)
        if isinstance(obj, ClaimResult):
            out["failures"] = _jsonable(obj.failure_records)
        return out
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return NON_FINITE[str(float(obj))]
    return obj


def to_json(run: RunResult) -> dict:
    """The JSON document of `proofcheck verify --json`: top-level `passed` and `derivations`."""
    doc = _jsonable(run)
    return {"passed": run.passed, **{k: v for k, v in doc.items() if k != "passed"}}
