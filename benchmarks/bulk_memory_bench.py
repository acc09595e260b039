r"""Benchmark of the memory `proofcheck grade --csv` holds in its parent process, for large class files.

Each case runs `checkers.grading.bulk.grade_csv` in a fresh subprocess and reports that process's peak
resident set size (`ru_maxrss`), its resident size after the imports (the baseline every run pays), and
the difference per row. Grading itself is replaced by a pool that answers at once with a real result
(the kl-gaussian answer `d`, graded once by the real grader in a worker, with its fingerprint, the
answer field set to each row's own answer), so the whole parent pipeline runs for every row (reading,
journal, results, the output CSV, with `--analysis` the clusters and the page) in seconds instead of
the hours a million real gradings take; the workers' own memory is limited per answer by
`--memory-mb` and is not measured here. Cases: rows of `1,d` (4 bytes a row) filling 2 MiB, 16 MiB and
64 MiB, and a 64 MiB file of MAX_ROWS rows with long answers, with and without `--analysis`. A file over
the row cap is refused while it is read; the refusal's peak is reported too. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MIB = 2 ** 20


def _rss_now_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def child(csv_path: str, analysis: bool) -> None:
    """Run one bulk grading in this process with the instant pool; print one JSON line of measurements."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    import torch

    torch.set_num_threads(1)
    from checkers.errors import UsageError
    from checkers.grading import bulk
    from checkers.grading.isolation import GradingPool
    from instant_pool import instant_pool

    with GradingPool("kl-gaussian", workers=1, fingerprint=True) as pool:
        result = pool.grade("d")
    import checkers.grading.analysis  # noqa: F401  (imported before the baseline, as a real run with --analysis does)
    import matplotlib.figure  # noqa: F401

    bulk.GradingPool = instant_pool(result)  # every answer at once: the parent alone is measured
    baseline = _rss_now_kib()
    began = time.perf_counter()
    folder = Path(csv_path).parent
    try:
        summary = bulk.grade_csv("kl-gaussian", csv_path, folder / "out.csv",
                                 analysis=folder / "class.html" if analysis else None, workers=1, progress=False)
        outcome, rows = "graded", summary.total
    except UsageError as exc:
        outcome, rows = f"refused: {exc}", 0
    seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"baseline_kib": baseline, "peak_kib": peak, "rows": rows, "seconds": seconds,
                      "outcome": outcome}))


def _write_tiny_rows(path: Path, size: int) -> int:
    """`1,d` rows (ids 1, 2, ... would make the file larger; one id keeps 4 bytes a row) up to `size` bytes."""
    count = (size - len("id,answer\n")) // 4
    with open(path, "w") as f:
        f.write("id,answer\n")
        chunk = "1,d\n" * 65536
        left = count
        while left > 0:
            n = min(left, 65536)
            f.write(chunk if n == 65536 else "1,d\n" * n)
            left -= n
    return count


def _write_long_rows(path: Path, size: int, rows: int) -> int:
    """`rows` rows whose answers (distinct, about size/rows bytes each) fill `size` bytes."""
    width = size // rows - 12
    term = " + 0d"
    with open(path, "w") as f:
        f.write("id,answer\n")
        for i in range(rows):
            body = f"d + {i}" + term * ((width - 10) // len(term))
            f.write(f"s{i:07d},{body}\n")
    return rows


def run_case(label: str, path: Path, analysis: bool) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", str(path)] + (["--analysis"] if analysis else []),
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{label}: the child failed:\n{proc.stderr[-3000:]}")
    doc = json.loads(proc.stdout.strip().splitlines()[-1])
    doc["label"], doc["file_bytes"] = label, path.stat().st_size
    return doc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", metavar="CSV", help=argparse.SUPPRESS)
    parser.add_argument("--analysis", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tiny-mib", type=int, nargs="+", default=[2, 16, 64],
                        help="sizes in MiB of the files of `1,d` rows (default 2 16 64)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.analysis)
        return 0
    sys.path.insert(0, str(ROOT))
    from checkers.grading.bulk import MAX_INPUT_BYTES, MAX_ROWS

    results = []
    with tempfile.TemporaryDirectory(prefix="proofcheck-bulk-memory-") as tmp:
        tmp = Path(tmp)
        for mib in args.tiny_mib:
            folder = tmp / f"tiny{mib}"
            folder.mkdir()
            path = folder / "answers.csv"
            rows = _write_tiny_rows(path, mib * MIB)
            results.append(run_case(f"{mib} MiB of `1,d` ({rows:,} rows)", path, analysis=False))
        for analysis in (False, True):
            folder = tmp / f"long{int(analysis)}"
            folder.mkdir()
            path = folder / "answers.csv"
            rows = _write_long_rows(path, MAX_INPUT_BYTES - MIB, MAX_ROWS)
            results.append(run_case(f"{path.stat().st_size / MIB:.0f} MiB, {rows:,} rows (the cap), "
                                    f"{'with' if analysis else 'no'} --analysis", path, analysis))
    if args.json:
        print(json.dumps(results, indent=1))
        return 0
    print(f"bulk memory benchmark: peak RSS of the grading parent (instant pool), row cap {MAX_ROWS:,}, "
          f"size cap {MAX_INPUT_BYTES / MIB:.0f} MiB")
    print(f"{'case':52s} {'rows':>9s} {'base MiB':>9s} {'peak MiB':>9s} {'B/row':>7s} {'seconds':>8s}  outcome")
    for r in results:
        extra = (r["peak_kib"] - r["baseline_kib"]) * 1024
        per_row = f"{extra / r['rows']:7.0f}" if r["rows"] else f"{'':>7s}"
        outcome = r["outcome"] if len(r["outcome"]) < 90 else r["outcome"][:87] + "..."
        print(f"{r['label']:52s} {r['rows']:9,d} {r['baseline_kib'] / 1024:9.0f} {r['peak_kib'] / 1024:9.0f} "
              f"{per_row} {r['seconds']:8.1f}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
