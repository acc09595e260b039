"""The verification engine: draws instances with hypothesis, runs the symbolic, numeric, reference and mutant checks."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import math
import platform
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import sympy as sp
import torch

from checkers.devices import supports
from checkers.errors import UsageError
from checkers.functions import unfold
from checkers.limits import time_limit
from checkers.model import Claim, Derivation, Estimate, Sample, Value
from checkers.results import (ClaimResult, DerivationResult, Failure, MutantResult, NumericResult, ReferenceResult,
                              RunResult, StepResult, rejection_text)
from checkers.symbolic import SymbolicResult, not_attempted
from checkers.evaluate import rounding_sensitivity
from checkers.montecarlo import SHARPNESS_FACTORS, degenerate_components, scale_target
from checkers.sampling import draw_configs, draw_sample
from checkers.tolerances import (Discrepancy, Tolerance, compare, dtype_name, short_of, tolerance_for, unit_roundoff,
                                 violation)

MUTANT_TIME_LIMIT = 5.0
# Every batch is small (at most a few thousand instances of matrices up to 64 x 64), so torch's pool
# mostly spins: on this 2-core machine (shared, load 6-9) the whole suite took 60 CPU-seconds and 200 s
# wall with 1 thread, 202 CPU-seconds and 486 s wall with torch's default 2 (benchmarks/verify_bench.py
# --compare-threads, 2026-11-29). On a quiet 16-core machine 16 threads saved a quarter (31.6 s -> 24.2 s).
DEFAULT_THREADS = 1


@contextlib.contextmanager
def torch_threads(count: int | None):
    """Run the block with torch's intra-op pool at `count` threads (None: leave it as it is), then restore it."""
    if count is None:
        yield
        return
    if count < 1:
        raise UsageError(f"threads={count}: give a positive number of threads")
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def ieee_float32():
    """Run the block with float32 matrix products and convolutions in IEEE float32, then restore the settings.

    On CUDA, cuDNN convolutions (and, if enabled, matmuls) default to TF32, whose 10-bit mantissa errs
    by about 1e-3: a float32 check would then judge TF32 against float32's tolerance (seen on an H200:
    four conv/matmul claims failed by 1e-3 and pass in IEEE float32). float32 here means float32.
    """
    before = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision())
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = False, False
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before[:2]
        torch.set_float32_matmul_precision(before[2])


def _as_rows(value: torch.Tensor, batch: int) -> torch.Tensor:
    value = value.detach()
    if value.dim() == 0:
        value = value.expand(batch)
    return value.reshape(batch, -1).to("cpu", torch.float64)


def estimate_discrepancy(estimate: Estimate, target: Value, tol: Tolerance, z: float, batch: int) -> Discrepancy:
    """Per-instance error of a Monte Carlo estimate: each component k is allowed z·stderr_k of its own.

    A vector estimate (the variance of the weights and of the biases, E z and E z²) is judged
    component by component: |mean_k − target_k| <= z·stderr_k + atol + rtol·|target_k|, and an
    instance fails when any component does. (One component's large standard error never widens
    another's allowance.) NaN anywhere fails the instance.
    """
    mean, expected = _as_rows(estimate.mean, batch), _as_rows(target, batch)
    stderr = _as_rows(estimate.stderr, batch)
    mean, expected, stderr = torch.broadcast_tensors(mean, expected, stderr)
    # a component whose standard error is 0 or undefined cannot judge (checkers.montecarlo.degenerate_components)
    unjudged = degenerate_components(mean, stderr)
    error = (mean - expected).abs()
    error = torch.where(torch.isnan(error) | torch.isnan(stderr), torch.full_like(error, math.inf), error)
    allowed = z * stderr + tol.atol + tol.rtol * expected.abs()
    # relative to the target where it is not 0; a component whose target is 0 (E z = 0) counts its absolute error
    rel = torch.where(expected != 0, error / expected.abs(), error)
    zero = torch.zeros_like(error)
    excess = torch.where(unjudged, torch.full_like(error, -math.inf), error - allowed)
    return Discrepancy(torch.where(unjudged, zero, error).amax(dim=1), torch.where(unjudged, zero, rel).amax(dim=1),
                       excess.amax(dim=1), degenerate=unjudged.all(dim=1))


def _discrepancy(lhs: Value, rhs: Value, relation: str, tol: Tolerance, z: float, batch: int,
                 extra: torch.Tensor | None = None) -> Discrepancy:
    """Per-instance error of `lhs relation rhs`; an Estimate on the left is allowed z standard errors.

    `extra` widens the allowance per instance (the first-order rounding bound of low-precision runs).
    """
    if isinstance(lhs, Estimate):
        return estimate_discrepancy(lhs, rhs, tol, z, batch)
    lhs, rhs = _as_rows(lhs, batch), _as_rows(rhs, batch)
    if relation == "<=":
        return violation(lhs, rhs, tol, extra)
    if relation == ">=":
        return violation(rhs, lhs, tol, extra)
    return compare(lhs, rhs, tol, extra)


def _value_at(value: Value, index: int) -> object:
    if isinstance(value, Estimate):
        rows = value.mean.shape[0] if value.mean.dim() else 1
        mean, stderr = (t.detach().reshape(rows, -1)[index].to("cpu", torch.float64) for t in (value.mean, value.stderr))
        return {"mean": mean.tolist() if mean.numel() > 1 else float(mean.reshape(())),
                "stderr": stderr.tolist() if stderr.numel() > 1 else float(stderr.reshape(()))}
    row = value.detach().reshape(value.shape[0], -1)[index].to("cpu", torch.float64) if value.dim() else value
    return row.tolist() if row.numel() > 1 else float(row.reshape(()))


@dataclass
class _Worst:
    """Running aggregate of discrepancies over the batches of one comparison."""

    instances: int = 0
    abs_error: float = 0.0
    rel_error: float = 0.0
    excess: float = -math.inf
    failure_args: tuple | None = None
    degenerate: int = 0  # instances whose Monte Carlo estimate could not judge (montecarlo.degenerate_components)

    def add(self, d: Discrepancy, sample: Sample, lhs: Value, rhs: Value, new_instances: bool = True):
        if new_instances:
            self.instances += sample.size
            if d.degenerate is not None:
                self.degenerate += int(d.degenerate.sum())
        self.abs_error = max(self.abs_error, float(d.abs_error.max()))
        self.rel_error = max(self.rel_error, float(d.rel_error.max()))
        i = int(torch.argmax(d.excess))
        if float(d.excess[i]) > self.excess:
            self.excess = float(d.excess[i])
            self.failure_args = (sample, i, _value_at(lhs, i), _value_at(rhs, i), float(d.abs_error[i]),
                                 float(d.rel_error[i]))

    @property
    def passed(self) -> bool:
        return self.excess <= 0 and math.isfinite(self.abs_error)


class ClaimChecker:
    """Checks one claim of one derivation with one run seed."""

    def __init__(self, derivation: Derivation, claim: Claim, seed: int, instances: int | None = None):
        self.derivation, self.claim, self.seed = derivation, claim, seed
        self.configs = draw_configs(claim, seed)
        total = instances or claim.instances
        batch = math.ceil(total / len(self.configs))
        self.samples = [draw_sample(claim, c, batch) for c in self.configs]

    def replay(self, device: str, dtype: str) -> str:
        return (f"proofcheck verify {self.derivation.id}/{self.claim.id} --seed {self.seed} "
                f"--device {device} --dtype {dtype}")

    def _result(self, what: str, worst: _Worst, device: str, dtype: torch.dtype, tol: Tolerance,
                started: float) -> NumericResult:
        failure = None
        if not worst.passed and worst.failure_args is not None:
            sample, i, lhs, rhs, abs_err, rel_err = worst.failure_args
            failure = Failure(
                what=f"{self.derivation.id} / {self.claim.id} / {what}", device=device, dtype=dtype_name(dtype),
                seed=self.seed, batch_seed=sample.seed, dims=dict(sample.dims), index=i,
                instance=sample.instance(i), lhs=lhs, rhs=rhs, abs_error=abs_err, rel_error=rel_err,
                rtol=tol.rtol, atol=tol.atol, tolerance_reason=self._tolerance_reason(tol, dtype),
                replay=self.replay(device, dtype_name(dtype)))
        seconds = time.perf_counter() - started
        if worst.instances and worst.degenerate == worst.instances:
            return NumericResult(device, dtype_name(dtype), worst.instances, 0, 0, tol.rtol, tol.atol, False,
                                 skipped=f"estimate degenerate on all {worst.instances} instances (standard error 0 or "
                                         "infinite): this check cannot judge", degenerate=worst.degenerate,
                                 seconds=seconds)
        return NumericResult(device, dtype_name(dtype), worst.instances, worst.abs_error, worst.rel_error,
                             tol.rtol, tol.atol, worst.passed, failure=failure, seconds=seconds,
                             degenerate=worst.degenerate)

    def _tolerance_reason(self, tol: Tolerance, dtype: torch.dtype) -> str:
        if dtype != torch.float64 and (self.claim.numeric is None or tol.rounding is not None):
            return f"{tol.reason}; plus the first-order rounding bound u·Σ|∂f/∂v_i|·|v_i| of each side on this instance"
        return tol.reason

    def _oracle_sample(self, sample: Sample, device: str) -> Sample:
        return sample.to(torch.float64, device if supports(device, torch.float64) else "cpu")

    def _rounding_bounds(self, low: Sample, oracle: Sample, dtype: torch.dtype,
                         tol: Tolerance) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """u * (first-order rounding weight) of each side on this instance; None where the claim has no model.

        Low precision is judged against the float64 oracle with the dtype table's tolerance plus the
        error that rounding every operation to `dtype` can cause on this very instance, so a
        cancellation-prone but correct formula is not failed for its conditioning, while an error
        beyond what rounding explains still is. Formulas get the weight from their sympy tree; a
        numeric function, from its tolerance's `rounding` model (`checkers.rounding.running_error`).
        """
        claim = self.claim
        u = unit_roundoff(dtype)
        if claim.numeric is not None:
            if tol.rounding is None:
                return None, None
            return tuple(None if w is None else u * w.to("cpu") for w in tol.rounding(oracle))
        return tuple(u * rounding_sensitivity(side, low.values, low.dims, batch=low.size).to("cpu")
                     for side in (claim.lhs, claim.rhs))

    def numeric(self, device: str, dtype: torch.dtype) -> NumericResult:
        """Both sides at `dtype` on `device` against the float64 oracle on the same (rounded) instance."""
        claim, started = self.claim, time.perf_counter()
        tol = tolerance_for(dtype, claim.tolerances)
        if not supports(device, dtype):
            return NumericResult(device, dtype_name(dtype), 0, 0, 0, tol.rtol, tol.atol, True,
                                 skipped=f"{device} does not support {dtype_name(dtype)}")
        worst = _Worst()
        try:
            for sample in self.samples:
                low = sample.to(dtype, device)
                oracle = self._oracle_sample(low, device)
                lhs_o, rhs_o = claim.sides(oracle)
                if dtype == torch.float64:
                    worst.add(_discrepancy(lhs_o, rhs_o, claim.relation, tol, claim.z, sample.size), low, lhs_o, rhs_o)
                    continue
                lhs_d, rhs_d = claim.sides(low)
                lhs_bound, rhs_bound = self._rounding_bounds(low, oracle, dtype, tol)
                if claim.relation in ("<=", ">="):
                    both = None if lhs_bound is None or rhs_bound is None else lhs_bound + rhs_bound
                    worst.add(_discrepancy(lhs_d, rhs_d, claim.relation, tol, claim.z, sample.size, both),
                              low, lhs_d, rhs_d)
                    continue
                worst.add(_discrepancy(lhs_d, rhs_o, claim.relation, tol, claim.z, sample.size, lhs_bound),
                          low, lhs_d, rhs_o)
                if not isinstance(rhs_d, Estimate):
                    worst.add(_discrepancy(rhs_d, rhs_o, "=", tol, claim.z, sample.size, rhs_bound), low, rhs_d, rhs_o,
                              new_instances=False)
        except (RuntimeError, NotImplementedError) as exc:
            # A kernel torch lacks for a low precision ("addmm_impl_cpu_" not implemented for 'Half') is a skip;
            # float64 is the oracle every claim is judged by, so there it is an error, whatever it says.
            if dtype != torch.float64 and ("not implemented for" in str(exc) or "not supported" in str(exc).lower()):
                return NumericResult(device, dtype_name(dtype), 0, 0, 0, tol.rtol, tol.atol, True,
                                     skipped=f"torch cannot compute this in {dtype_name(dtype)} on {device}: "
                                             f"{str(exc).splitlines()[0]}")
            raise
        return self._result("numeric", worst, device, dtype, tol, started)

    def steps(self) -> list[StepResult]:
        """Each link of the chain lhs = s1 = s2 ... symbolically and numerically (float64, cpu)."""
        claim, out = self.claim, []
        previous = claim.lhs
        tol = tolerance_for(torch.float64, claim.tolerances)
        for index, step in enumerate(claim.steps, start=1):
            strategy = step.symbolic or claim.symbolic or not_attempted("no symbolic strategy declared")
            symbolic = strategy.prove(claim.expand_definitions(previous), claim.expand_definitions(step.expr),
                                      step.relation)
            numeric = None
            if step.numeric:
                started, worst = time.perf_counter(), _Worst()
                for sample in self.samples:
                    a, b = sample.evaluate(previous), sample.evaluate(step.expr)
                    worst.add(_discrepancy(a, b, step.relation, tol, claim.z, sample.size), sample, a, b)
                numeric = self._result(f"step {index}", worst, "cpu", torch.float64, tol, started)
            out.append(StepResult(index, step.justification, symbolic, numeric))
            previous = step.expr
        return out

    def reference(self, ref, devices: Sequence[str]) -> ReferenceResult:
        """The claim's side `ref.side` against an independent implementation, in float64 per device."""
        claim, results = self.claim, []
        tol = ref.tolerance or tolerance_for(torch.float64, claim.tolerances)
        rejected = dict.fromkeys(SHARPNESS_FACTORS, 0)  # instances on which a Monte Carlo reference rejects side·factor
        monte_carlo = False
        for device in devices:
            started, worst = time.perf_counter(), _Worst()
            if not supports(device, torch.float64):
                results.append(NumericResult(device, "float64", 0, 0, 0, tol.rtol, tol.atol, True,
                                             skipped=f"{device} does not support float64"))
                continue
            for sample in self.samples:
                s = sample.to(torch.float64, device)
                lhs, rhs = claim.sides(s)
                ours = lhs if ref.side == "lhs" else rhs
                theirs = ref.compute(s)
                if isinstance(theirs, Estimate):
                    monte_carlo = True
                    d = _discrepancy(theirs, ours, "=", tol, claim.z, s.size)
                    for factor in rejected:
                        wrong = _discrepancy(theirs, scale_target(ours, factor), "=", tol, claim.z, s.size)
                        rejected[factor] += int((wrong.excess > 0).sum())
                elif ref.relation == "<=":
                    d = short_of(_as_rows(theirs, s.size), _as_rows(ours, s.size), tol)
                else:
                    d = _discrepancy(ours, theirs, "=", tol, claim.z, s.size)
                worst.add(d, s, ours, theirs)
            results.append(self._result(f"reference {ref.id}", worst, device, torch.float64, tol, started))
        if not monte_carlo or ref.illustration:
            return ReferenceResult(ref.id, ref.description, tuple(results), illustration=ref.illustration,
                                   monte_carlo=monte_carlo)
        judged = sum(r.instances for r in results)
        sharpness = ", ".join(f"rejects the side ×{factor:g} on {count} of {judged} instances"
                              for factor, count in rejected.items())
        return ReferenceResult(ref.id, ref.description, tuple(results), sharpness=sharpness,
                               sharp=all(rejected.values()), monte_carlo=True)

    def mutant(self, mutant) -> MutantResult:
        """Caught when the float64 CPU check rejects an instance and sympy does not "prove" the mutant.

        A mutant that the symbolic strategy proves survives. If the numeric check rejects it, the proof
        exposed an unsound rewrite; if not, or if a mutant that no check rejects simplifies to the claim's
        right side, the mutant equals the claim (a mistake in the declaration, not in the checker).
        Symbolic attempts on mutants get a short time limit; running out is not a proof.
        """
        claim = self.claim
        tol = tolerance_for(torch.float64, claim.tolerances)
        proved = None
        if mutant.rhs is not None and claim.symbolic is not None:
            strategy = dataclasses.replace(claim.symbolic, time_limit=min(claim.symbolic.time_limit, MUTANT_TIME_LIMIT))
            verdict = strategy.prove(claim.expand_definitions(claim.lhs), claim.expand_definitions(mutant.rhs),
                                     claim.relation)
            if verdict.status == "proved":
                proved = verdict.detail
        for sample in self.samples:
            try:
                lhs, rhs = mutant.numeric(sample) if mutant.numeric else claim.sides(sample, rhs=mutant.rhs)
            except Exception as exc:  # a mutant that cannot even be evaluated is not "caught"
                return MutantResult(mutant.id, mutant.description, False, f"could not evaluate the mutant: {exc}")
            d = _discrepancy(lhs, rhs, claim.relation, tol, claim.z, sample.size)
            bad = ~(d.excess <= 0)  # NaN (a log of a negative number, say) is out of tolerance too
            if bool(bad.any()):
                i = int(torch.argmax(d.excess))
                located = dict(dims=dict(sample.dims), batch_seed=sample.seed, rejected=int(bad.sum()),
                               instances=sample.size)
                where = rejection_text(**located, worst_rel_error=float(d.rel_error[i]))
                if proved is not None:
                    return MutantResult(mutant.id, mutant.description, False,
                                        f"the symbolic strategy proved this wrong variant ({proved}) although "
                                        f"cpu float64 rejects it on {where}: unsound rewrite", **located)
                return MutantResult(mutant.id, mutant.description, True, f"rejected on cpu float64: {where}",
                                    **located)
        count = sum(s.size for s in self.samples)
        if proved is not None or _equals_claim(claim, mutant):
            how = f"proved by the claim's strategy ({proved})" if proved is not None else "it simplifies to the claim's right side"
            return MutantResult(mutant.id, mutant.description, False,
                                f"this mutant equals the claim: {how}, and every one of {count} instances agrees; "
                                f"a mutant must be a wrong variant, so change or remove it", instances=count)
        return MutantResult(mutant.id, mutant.description, False, f"every one of {count} instances passed",
                            instances=count)

    def run(self, devices: Sequence[str], dtypes: Sequence[torch.dtype] | None = None) -> ClaimResult:
        claim, started = self.claim, time.perf_counter()
        if claim.symbolic is None:
            symbolic = SymbolicResult("not attempted", detail="the claim declares no symbolic strategy")
        else:
            symbolic = claim.symbolic.prove(claim.expand_definitions(claim.lhs), claim.expand_definitions(claim.rhs),
                                            claim.relation)
        wanted = [d for d in claim.dtypes if dtypes is None or d in dtypes]
        numeric = tuple(self.numeric(dev, dt) for dev in devices for dt in wanted)
        references = tuple(self.reference(r, devices) for r in claim.references)
        mutants = tuple(self.mutant(m) for m in claim.mutants)
        return ClaimResult(claim.id, claim.statement, claim.relation, symbolic, tuple(self.steps()), numeric,
                           references, mutants, time.perf_counter() - started)


def instances_below_minimum(derivations: Iterable[Derivation], instances: int | None,
                            claim_ids: dict[str, set[str]] | None = None) -> list[tuple[str, int]]:
    """The selected claims ("derivation/claim", declared count) that `instances` would check on fewer instances.

    A claim's `instances` is the smallest count its checks were sized for (Monte Carlo claims: enough
    instances and draws to reject a target off by 2%); the command line refuses to go below it.
    """
    if instances is None:
        return []
    out = []
    for derivation in derivations:
        wanted = (claim_ids or {}).get(derivation.id)
        out.extend((f"{derivation.id}/{c.id}", c.instances) for c in derivation.claims
                   if (not wanted or c.id in wanted) and instances < c.instances)
    return out


def versions() -> dict[str, str]:
    """Library versions a result depends on (printed in every report)."""
    return {"python": platform.python_version(), "torch": torch.__version__, "sympy": sp.__version__}


ClaimCallback = Callable[[Derivation, Claim, ClaimResult], None]


def _equals_claim(claim, mutant) -> bool:
    """Whether a surviving mutant's right side is the claim's own, written the same or simplifying to it (quick)."""
    if mutant.rhs is None or claim.rhs is None:
        return False
    if mutant.rhs == claim.rhs:
        return True
    try:
        with time_limit(MUTANT_TIME_LIMIT, "checking whether a surviving mutant equals the claim"):
            difference = unfold(claim.expand_definitions(claim.rhs)) - unfold(claim.expand_definitions(mutant.rhs))
            return sp.simplify(difference) == 0
    except Exception:  # out of time, or sympy cannot subtract the two (shapes): not shown to be equal
        return False


def verify(derivations: Iterable[Derivation], *, seed: int = 0, devices: Sequence[str] = ("cpu",),
           dtypes: Sequence[torch.dtype] | None = None, claim_ids: dict[str, set[str]] | None = None,
           instances: int | None = None, on_claim: ClaimCallback | None = None,
           threads: int | None = DEFAULT_THREADS) -> RunResult:
    """Check every claim of every derivation; `claim_ids` restricts a derivation to some of its claims.

    `instances` overrides every claim's declared count (the command line refuses a count below a
    claim's declaration; the API allows it for quick tests, and each result states the count it ran).
    `threads` sets torch's intra-op threads for the run (None: torch's default).
    """
    with torch_threads(threads), ieee_float32():
        return _verify(derivations, seed, devices, dtypes, claim_ids, instances, on_claim)


def _verify(derivations, seed, devices, dtypes, claim_ids, instances, on_claim) -> RunResult:
    started_at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    started = time.perf_counter()
    results = []
    for derivation in derivations:
        wanted = (claim_ids or {}).get(derivation.id)
        claim_results = []
        for claim in derivation.claims:
            if wanted and claim.id not in wanted:
                continue
            result = ClaimChecker(derivation, claim, seed, instances).run(devices, dtypes)
            claim_results.append(result)
            if on_claim is not None:
                on_claim(derivation, claim, result)
        results.append(DerivationResult(derivation.id, derivation.title, derivation.source, tuple(claim_results)))
    all_dtypes = dtypes or sorted({d for der in results for c in der.claims for d in (r.dtype for r in c.numeric)})
    return RunResult(tuple(results), seed, tuple(devices),
                     tuple(dtype_name(d) if isinstance(d, torch.dtype) else d for d in all_dtypes),
                     versions(), started_at, time.perf_counter() - started)
