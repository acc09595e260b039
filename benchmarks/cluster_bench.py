r"""Benchmark of the class analysis' clustering of wrong answers (checkers.grading.analysis.cluster), up to 100k answers.

Fingerprints are the real ones: the kl-gaussian reference is evaluated once on the problem's
fingerprint instances (checkers.grading.analysis.fingerprint), and each distinct wrong answer is a
function of it that differs on every instance (c·REF, REF + c, REF + c·REF², for distinct c in
[0.5, 1.5], the family drawn with a printed seed), as distinct formulas do. One answer in ten is a second spelling of an earlier
one (its values moved by a few ulps, as a different evaluation order moves them), so clusters exist
and must be found. Times `cluster` for 5k to 100k answers, the whole `analyse` (clusters, ranking,
plot) for 100k, and the previous all-pairs merge (kept here as the baseline, quadratic) for 5k and
10k. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
KL = (r"\frac{1}{2}\left(\operatorname{tr}(\Sigma_1^{-1}\Sigma_0) + (\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0) - d"
      r" + \log\frac{\det\Sigma_1}{\det\Sigma_0}\right)")
SEED = 0


def fingerprints(count: int, seed: int = SEED) -> tuple[np.ndarray, int]:
    """`count` fingerprints of wrong answers: distinct formulas and, one in ten, a second spelling of an earlier one.
    Returns them and the number of distinct formulas."""
    from checkers.grading.analysis import fingerprint

    ref = np.asarray(fingerprint("kl-gaussian", KL, limit=60.0), dtype=np.float64)
    rng = np.random.default_rng(seed)
    distinct = count - count // 10
    spacing = 1.0 / distinct  # distinct constants at least 1e-5 apart (100k answers): far beyond the tolerance
    c = 0.5 + (np.arange(distinct)[:, None] + rng.uniform(0.0, 0.25, size=(distinct, 1))) * spacing
    family = rng.integers(0, 3, size=(distinct, 1))
    prints = np.where(family == 0, c * ref, np.where(family == 1, ref + c, ref + c * ref ** 2))
    copies = prints[rng.integers(0, distinct, size=count - distinct)]
    copies = copies * (1 + rng.integers(-4, 5, size=copies.shape) * np.finfo(np.float64).eps)
    out = np.concatenate([prints, copies])
    return out[rng.permutation(count)], distinct


def pairwise_baseline(prints: np.ndarray, rtol: float, atol: float) -> int:
    """The previous merge: buckets, then every bucket compared with every earlier one (quadratic); returns the count
    of groups."""
    from checkers.grading.analysis import _keys

    keys = _keys(prints)
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(keys.tolist()):
        buckets[k].append(i)
    groups = list(buckets.values())
    reps = np.stack([prints[g[0]] for g in groups])
    parent = list(range(len(groups)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    with np.errstate(invalid="ignore"):
        for i in range(1, len(groups)):
            close = (np.abs(reps[:i] - reps[i]) <= atol + rtol * np.abs(reps[i])) | (
                np.isnan(reps[:i]) & np.isnan(reps[i])) | (np.isinf(reps[:i]) & (reps[:i] == reps[i]))
            for j in np.flatnonzero(close.all(axis=1)).tolist():
                parent[find(i)] = find(j)
    return len({find(i) for i in range(len(groups))})


class _Row:
    def __init__(self, ident: str, answer: str):
        self.id, self.answer = ident, answer


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[5_000, 10_000, 20_000, 50_000, 100_000])
    parser.add_argument("--baseline-sizes", type=int, nargs="*", default=[5_000, 10_000])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from checkers.grading.analysis import analyse, cluster
    from checkers.grading.catalog import get_problem

    tol = get_problem("kl-gaussian").tolerance
    rtol, atol = max(tol.rtol, 1e-9), tol.atol
    results = []
    methods = (("cluster (candidate pairs)", lambda p: len(cluster(p, rtol, atol)), args.sizes),
               ("previous all-pairs merge (baseline)", lambda p: pairwise_baseline(p, rtol, atol), args.baseline_sizes))
    for method, count_groups, sizes in methods:
        for n in sizes:
            prints, distinct = fingerprints(n)
            began = time.perf_counter()
            groups = count_groups(prints)
            seconds = time.perf_counter() - began
            results.append({"method": method, "answers": n, "width": prints.shape[1], "distinct_formulas": distinct,
                            "groups": groups, "seconds": seconds})
    n = max(args.sizes)
    prints, distinct = fingerprints(n)
    doc = {"verdict": "incorrect", "message": "your answer differs from the reference",
           "feedback": [{"id": "constant-factor", "message": "your answer is c times the reference"}]}
    entries = [(_Row(f"s{i}", f"answer {i}"), doc, prints[i]) for i in range(n)]
    began = time.perf_counter()
    analysis = analyse("kl-gaussian", entries)
    seconds = time.perf_counter() - began
    results.append({"method": "analyse (clusters, ranking, plot)", "answers": n, "width": prints.shape[1],
                    "distinct_formulas": distinct, "groups": len(analysis.clusters) + analysis.unclustered,
                    "seconds": seconds})
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"cluster benchmark: kl-gaussian fingerprints (seed {SEED}), rtol {rtol:g}, atol {atol:g}")
    print(f"{'method':38s} {'answers':>8s} {'width':>6s} {'formulas':>9s} {'groups':>8s} {'seconds':>8s}")
    for r in results:
        print(f"{r['method']:38s} {r['answers']:8d} {r['width']:6d} {r['distinct_formulas']:9d} {r['groups']:8d} "
              f"{r['seconds']:8.2f}")
    bad = [r for r in results if r["groups"] != r["distinct_formulas"]]
    for r in bad:
        print(f"  {r['method']} at {r['answers']}: {r['groups']} groups for {r['distinct_formulas']} formulas")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
