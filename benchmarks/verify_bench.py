"""Benchmark of `proofcheck verify`: wall time of the core six derivations and of the whole suite on this CPU.

Reproducible: fixed seed 0, CPU only, one process. Prints seconds per derivation, the smallest number of
random instances any claim checked per dtype, and the totals. Run with `make bench`.
"""

from __future__ import annotations

import os
import platform
import sys
import time

import torch

from checkers.registry import all_derivations
from checkers.verify import verify

CORE = ("gaussian-change-of-variables", "kl-nonnegative", "kl-additivity", "kl-gaussian", "flow-mle", "tv-min",
        "hinge-gan", "log-sum-exp", "kaiming-variance")
BUDGET_CORE_S, BUDGET_ALL_S = 60.0, 120.0


def run(derivations) -> tuple[float, object]:
    start = time.perf_counter()
    result = verify(derivations, seed=0, devices=["cpu"])
    return time.perf_counter() - start, result


def main() -> int:
    print(f"verify benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    every = all_derivations()
    core = [d for d in every if d.id in CORE]
    rows = []
    for label, chosen, budget in (("core six", core, BUDGET_CORE_S), ("all derivations", every, BUDGET_ALL_S)):
        seconds, result = run(chosen)
        claims = [c for d in result.derivations for c in d.claims]
        checked = [r for c in claims for r in c.numeric if not r.skipped]
        min_instances = min((r.instances for r in checked), default=0)
        total_instances = sum(r.instances for r in checked)
        rows.append((label, len(chosen), len(claims), seconds, min_instances, total_instances, result.passed, budget))
        for d in result.derivations:
            print(f"  {d.id:34s} {sum(c.seconds for c in d.claims):6.2f} s  {len(d.claims)} claims  "
                  f"{'passed' if d.passed else 'FAILED'}")
    print()
    print(f"{'run':18s} {'derivations':>11s} {'claims':>6s} {'seconds':>8s} {'min inst/claim/dtype':>21s} "
          f"{'instances/s':>12s} {'budget':>7s}  result")
    failed = False
    for label, n_der, n_claims, seconds, min_inst, total, passed, budget in rows:
        within = seconds <= budget
        failed |= not passed
        print(f"{label:18s} {n_der:11d} {n_claims:6d} {seconds:8.1f} {min_inst:21d} {total / seconds:12.0f} "
              f"{budget:6.0f}s  {'passed' if passed else 'FAILED'}{'' if within else ' (over budget)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
