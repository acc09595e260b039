"""Benchmark of `proofcheck verify`: wall time of the core six derivations and of the whole suite on this CPU.

Reproducible: fixed seed 0, CPU only; each measurement runs in a fresh process (no warm caches, imports
included in `process s`). Prints seconds per derivation, the smallest number of random instances any
claim checked per dtype, and the totals. Run with `make bench`.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time

CORE = ("gaussian-change-of-variables", "kl-nonnegative", "kl-additivity", "kl-gaussian", "flow-mle", "tv-min",
        "hinge-gan", "log-sum-exp", "kaiming-variance")
BUDGETS_S = {"core six": 60.0, "all derivations": 120.0}


def measure(ids: list[str]) -> dict:
    """Run in this (fresh) process: verify `ids` (all when empty) and return the figures."""
    from checkers.registry import select
    from checkers.verify import verify

    derivations, _ = select(ids)
    start = time.perf_counter()
    result = verify(derivations, seed=0, devices=["cpu"])
    seconds = time.perf_counter() - start
    claims = [c for d in result.derivations for c in d.claims]
    checked = [r for c in claims for r in c.numeric if not r.skipped]
    return {
        "seconds": seconds,
        "claims": len(claims),
        "derivations": [(d.id, sum(c.seconds for c in d.claims), len(d.claims), d.passed) for d in result.derivations],
        "min_instances": min((r.instances for r in checked), default=0),
        "total_instances": sum(r.instances for r in checked),
        "mutants": sum(len(c.mutants) for c in claims),
        "caught": sum(m.caught for c in claims for m in c.mutants),
        "passed": result.passed,
    }


def main() -> int:
    import torch

    print(f"verify benchmark: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), seed 0, cpu")
    rows, failed = [], False
    for label, ids in (("core six", list(CORE)), ("all derivations", [])):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--measure", *ids], capture_output=True, text=True, check=True)
        process_s = time.perf_counter() - start
        figures = json.loads(out.stdout.splitlines()[-1])
        for deriv_id, seconds, n_claims, passed in figures["derivations"]:
            print(f"  [{label}] {deriv_id:30s} {seconds:6.2f} s  {n_claims} claims  {'passed' if passed else 'FAILED'}")
        rows.append((label, figures, process_s))
        failed |= not figures["passed"]
    print()
    print(f"{'run':16s} {'claims':>6s} {'verify s':>9s} {'process s':>10s} {'min inst/claim/dtype':>21s} "
          f"{'instances/s':>12s} {'mutants caught':>15s} {'budget':>7s}  result")
    for label, f, process_s in rows:
        over = "" if f["seconds"] <= BUDGETS_S[label] else " (over budget)"
        print(f"{label:16s} {f['claims']:6d} {f['seconds']:9.1f} {process_s:10.1f} {f['min_instances']:21d} "
              f"{f['total_instances'] / f['seconds']:12.0f} {f['caught']:>7d}/{f['mutants']:<7d} "
              f"{BUDGETS_S[label]:6.0f}s  {'passed' if f['passed'] else 'FAILED'}{over}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2:])))
        sys.exit(0)
    sys.exit(main())
