"""Benchmark of `proofcheck review`: a 60-line submission, end to end, against the 10 s bar.

The submission is tests/data/review/hw6.md (every hw6-2021 problem answered, 17 display lines, three
planted slips) padded with prose to 60 lines. Timed: the real command line,
`proofcheck review SUBMISSION --set hw6-2021 --json --out DIR`, in a subprocess (interpreter start,
imports, the grading pools, the page and the JSON included), median of `--runs` runs, with the load
average printed beside it (the machine is shared). The verdicts are checked against the planted slips
on every run, so a fast wrong review cannot pass. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "review"
LINES = 60
BAR_SECONDS = 10.0


_IN_PROCESS = """
import sys, time
import torch
from checkers.grading.catalog import read_index
from checkers.grading import isolation
from checkers.review import review
torch.set_num_threads(1)
started = time.perf_counter()
review(sys.argv[1], "hw6-2021")
print(time.perf_counter() - started)
"""


def _submission(folder: Path) -> Path:
    lines = (DATA / "hw6.md").read_text().rstrip("\n").split("\n")
    lines += [f"A remark in words, line {n}." for n in range(len(lines) + 1, LINES + 1)]
    path = folder / "hw6-60-lines.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    expected = json.loads((DATA / "hw6.expected.json").read_text())
    proofcheck = Path(sys.executable).parent / "proofcheck"
    with tempfile.TemporaryDirectory() as folder:
        path = _submission(Path(folder))
        assert len(path.read_text().split("\n")) - 1 == LINES
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            done = subprocess.run([str(proofcheck), "review", str(path), "--set", "hw6-2021", "--json", "--out",
                                   folder], capture_output=True, text=True, cwd=ROOT)
            times.append(time.perf_counter() - started)
            doc = json.loads(done.stdout)
            wrong = sorted(e["line"] for e in doc["lines"] if e["verdict"] == "wrong")
            answers = {a["problem"]: [a["line"], a["verdict"], a["found_by"]] for a in doc["answers"]}
            if done.returncode != 1 or wrong != expected["wrong_lines"] or answers != expected["answers"]:
                print(f"review gave other verdicts than the planted ones (exit {done.returncode}): {wrong} {answers}")
                return 1
        # The review alone, after the imports: what the command costs beyond starting Python, torch and sympy.
        timing = subprocess.run([sys.executable, "-c", _IN_PROCESS, str(path)], capture_output=True, text=True,
                                cwd=ROOT)
        in_process = float(timing.stdout.strip().split()[-1])
        started = time.perf_counter()  # the machine's state: one answer graded by the same interpreter and imports
        subprocess.run([str(proofcheck), "grade", "kl-gaussian", "d", "--no-symbolic"], capture_output=True, cwd=ROOT)
        one_answer = time.perf_counter() - started
    median = statistics.median(times)
    load = os.getloadavg()[0]
    print(f"for scale, on this machine now: `proofcheck grade kl-gaussian d --no-symbolic` takes {one_answer:.2f} s; "
          f"review() itself, after the imports, takes {in_process:.2f} s")
    print(f"proofcheck review, {LINES}-line submission (17 display lines, 5 answers): median {median:.2f} s over "
          f"{args.runs} runs (min {min(times):.2f} s, max {max(times):.2f} s); load average {load:.1f} on "
          f"{os.cpu_count()} cores; bar {BAR_SECONDS:g} s: {'met' if median < BAR_SECONDS else 'NOT met'}")
    return 0 if median < BAR_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
