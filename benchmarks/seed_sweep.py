"""Seed sweep: `proofcheck verify --seed s` for every seed of a range, then which claims failed at which seeds.

A claim that holds at seed 0 only is not checked: its tolerances or draw sizes were fitted to one
sample. `make seeds` runs this over seeds 0–19, each seed in a fresh process with one torch thread
(sequentially, so the figures are the process's own), and prints per seed the wall time and the
claims that failed, then per failing claim what failed (numeric dtypes, references, mutants) and the
command that replays it. Exit 1 when any seed failed.

    python benchmarks/seed_sweep.py                 # seeds 0-19
    python benchmarks/seed_sweep.py --seeds 5-9 --keep /tmp/sweep   # keep each seed's JSON document
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict


def parse_seeds(text: str) -> list[int]:
    """'0-19' -> [0, ..., 19]; '3,7,9' -> [3, 7, 9]."""
    seeds: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def what_failed(claim: dict) -> list[str]:
    """The parts of one claim's JSON result that failed, in words."""
    out = [f"numeric {n['device']} {n['dtype']}" for n in claim["numeric"] if not n["passed"]]
    for ref in claim["references"]:
        if any(not r["passed"] for r in ref["results"]):
            out.append(f"reference {ref['id']}")
    out += [f"mutant {m['id']} survived" for m in claim["mutants"] if not m["caught"]]
    out += [f"step {s['index']}" for s in claim.get("steps", ()) if s.get("numeric") and not s["numeric"]["passed"]]
    if claim["symbolic"]["status"] == "failed":
        out.append("symbolic")
    return out or ["(see the JSON document)"]


def run_seed(seed: int, threads: int) -> tuple[float, dict | None, str]:
    """One seed in a fresh process: (seconds, the JSON document or None, stderr tail)."""
    command = [sys.executable, "-m", "checkers", "verify", "--seed", str(seed), "--threads", str(threads), "--json"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
    seconds = time.perf_counter() - start
    try:
        return seconds, json.loads(done.stdout), done.stderr[-2000:]
    except json.JSONDecodeError:
        return seconds, None, (done.stderr or done.stdout)[-2000:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-19", help="seeds to run: '0-19' or '1,5,9' (default 0-19)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (default 1)")
    parser.add_argument("--keep", metavar="DIR", help="write each seed's JSON document to DIR/seed-<s>.json")
    args = parser.parse_args(argv)

    failures: dict[str, dict[int, list[str]]] = defaultdict(dict)
    broken: list[int] = []
    total = 0.0
    for seed in parse_seeds(args.seeds):
        seconds, document, stderr = run_seed(seed, args.threads)
        total += seconds
        if document is None:
            broken.append(seed)
            print(f"seed {seed:3d}  {seconds:7.1f} s  verify did not produce a result:\n{stderr}", flush=True)
            continue
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            with open(os.path.join(args.keep, f"seed-{seed}.json"), "w") as fh:
                json.dump(document, fh)
        failed = [(f"{d['id']}/{c['id']}", c) for d in document["derivations"] for c in d["claims"] if not c["passed"]]
        for name, claim in failed:
            failures[name][seed] = what_failed(claim)
        claims = sum(len(d["claims"]) for d in document["derivations"])
        verdict = "all passed" if not failed else "FAILED: " + ", ".join(name for name, _ in failed)
        print(f"seed {seed:3d}  {seconds:7.1f} s  {claims} claims  {verdict}", flush=True)

    print(f"\n{len(parse_seeds(args.seeds))} seeds in {total:.0f} s ({args.threads} torch thread(s) per run)")
    if not failures and not broken:
        print("every claim passed at every seed")
        return 0
    for name, by_seed in sorted(failures.items()):
        print(f"{name}: failed at seed(s) {', '.join(map(str, sorted(by_seed)))}")
        for seed, parts in sorted(by_seed.items()):
            print(f"    seed {seed}: {'; '.join(parts)}    replay: proofcheck verify {name} --seed {seed}")
    if broken:
        print(f"verify crashed or printed no JSON at seed(s) {', '.join(map(str, broken))}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
