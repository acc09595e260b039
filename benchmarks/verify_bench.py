"""Benchmark of `proofcheck verify`: wall time of the core derivations and of the whole suite, quiet and under load.

Reproducible: fixed seed 0, CPU only; each measurement runs in a fresh process (no warm caches, imports
included in `process s`). Prints seconds per derivation, the smallest number of random instances any
claim checked per dtype, mutants caught, and the totals; then the whole suite again while one
competing CPU-bound process runs (`yes > /dev/null`, started and killed here), with the slowdown
loaded / quiet, for verify's own thread count (checkers.verify.DEFAULT_THREADS) and, with
`--compare-threads`, for torch's default pool. Run with `make bench`.

On a shared machine the absolute figures move with whatever else runs; the CPU seconds the process
used (`cpu s`) move less than the wall time, and the ratio of a loaded to a quiet run is the figure
that matters for steadiness.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

CORE = ("gaussian-change-of-variables", "kl-nonnegative", "kl-additivity", "kl-gaussian", "flow-mle", "tv-min",
        "hinge-gan", "log-sum-exp", "kaiming-variance")
BUDGETS_S = {"core": 60.0, "all derivations": 60.0}
LOAD_BUDGET = 1.5  # loaded / quiet wall time of the whole suite


def measure(ids: list[str], threads: int | None) -> dict:
    """Run in this (fresh) process: verify `ids` (all when empty) with `threads` and return the figures."""
    from checkers.registry import select
    from checkers.verify import verify

    derivations, _ = select(ids)
    start = time.perf_counter()
    result = verify(derivations, seed=0, devices=["cpu"], threads=threads)
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


def _run(ids: list[str], threads: int | None) -> tuple[dict, float, float]:
    """Measure in a fresh process: (figures, process wall seconds, process CPU seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    argv = [sys.executable, __file__, "--measure", "--threads", "default" if threads is None else str(threads), *ids]
    out = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"the measurement {' '.join(argv[2:])} failed (exit {out.returncode}):\n{out.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(out.stdout.splitlines()[-1]), wall, cpu


def _loaded(ids: list[str], threads: int | None) -> tuple[dict, float, float]:
    """The same measurement while one CPU-bound process (`yes > /dev/null`) competes for the cores."""
    competitor = subprocess.Popen(["yes"], stdout=subprocess.DEVNULL)
    try:
        return _run(ids, threads)
    finally:
        competitor.kill()
        competitor.wait()


def main(argv: list[str] | None = None) -> int:
    import torch

    from checkers.verify import DEFAULT_THREADS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare-threads", action="store_true",
                        help="also measure with torch's default thread pool, quiet and loaded")
    parser.add_argument("--skip-core", action="store_true", help="only the whole suite, quiet and loaded")
    args = parser.parse_args(argv)

    print(f"verify benchmark: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
          f"(default pool {torch.get_num_threads()} threads; verify uses {DEFAULT_THREADS}), seed 0, cpu; "
          f"load average now {os.getloadavg()[0]:.2f}")
    rows, failed = [], False
    plans = [] if args.skip_core else [("core", list(CORE), DEFAULT_THREADS, False)]
    plans += [("all derivations", [], DEFAULT_THREADS, False), ("all derivations", [], DEFAULT_THREADS, True)]
    if args.compare_threads:
        plans += [("all derivations", [], None, False), ("all derivations", [], None, True)]
    for label, ids, threads, loaded in plans:
        figures, wall, cpu = (_loaded if loaded else _run)(ids, threads)
        if not loaded and threads == DEFAULT_THREADS:
            for deriv_id, seconds, n_claims, passed in figures["derivations"]:
                print(f"  [{label}] {deriv_id:30s} {seconds:6.2f} s  {n_claims} claims  {'passed' if passed else 'FAILED'}")
        rows.append((label, threads, loaded, figures, wall, cpu))
        failed |= not figures["passed"]
    print()
    print(f"{'run':16s} {'threads':>7s} {'load':>6s} {'claims':>6s} {'verify s':>9s} {'process s':>10s} {'cpu s':>7s} "
          f"{'min inst':>8s} {'mutants caught':>15s} {'budget':>7s}  result")
    for label, threads, loaded, f, wall, cpu in rows:
        over = "" if loaded or f["seconds"] <= BUDGETS_S[label] else " (over budget)"
        print(f"{label:16s} {threads or 'torch':>7} {'yes' if loaded else 'quiet':>6s} {f['claims']:6d} "
              f"{f['seconds']:9.1f} {wall:10.1f} {cpu:7.1f} {f['min_instances']:8d} {f['caught']:>7d}/{f['mutants']:<7d} "
              f"{'' if loaded else f'{BUDGETS_S[label]:.0f}s':>7s}  {'passed' if f['passed'] else 'FAILED'}{over}")
    print()
    for threads in dict.fromkeys(t for _, t, _, _, _, _ in rows):
        runs = {loaded: f["seconds"] for label, t, loaded, f, _, _ in rows if label == "all derivations" and t == threads}
        if False in runs and True in runs:
            ratio = runs[True] / runs[False]
            verdict = "within" if ratio <= LOAD_BUDGET else "OVER"
            print(f"slowdown under one competing CPU-bound process, {threads or 'torch default'} thread(s): "
                  f"{runs[True]:.1f} s / {runs[False]:.1f} s = {ratio:.2f}x ({verdict} the {LOAD_BUDGET}x budget)")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        threads_arg, ids = sys.argv[3], sys.argv[4:]
        print(json.dumps(measure(ids, None if threads_arg == "default" else int(threads_arg))))
        sys.exit(0)
    sys.exit(main())
