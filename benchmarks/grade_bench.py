r"""Benchmark of `proofcheck grade --csv`: 1,000 distinct kl-gaussian answers, and a naive sympy baseline.

The answers are generated from spelling variants of each term of the KL closed form (LaTeX and plain
text; commuted traces, log-det differences, flipped mean differences, distributed factors, ...) and
from known mistakes (swapped trace, inverted determinant ratio, −1 for −d, Σ₀ in the mean term,
missing ½, ...), so every answer has a truth label by construction. Ours: the real command line,
`proofcheck grade kl-gaussian --csv`, timed end to end in a subprocess (interpreter start, imports
and writing the output included), on the machine's cores. Baseline: `sympy.simplify(ref - answer) == 0`
on the same parsed expressions, with a per-answer time limit, run on a stratified sample (half correct)
with the same number of processes; an exception or a timeout counts as "not equal". For reference the
proof engine's own symbolic strategy (checkers.symbolic.identity) is run on the same sample. Prints a short table: answers/s,
the ratio, and each method's wrong verdicts against the truth labels. The same run with `--analysis`
(fingerprints evaluated in the workers, clusters, the plot, the page) gives the analysis overhead.
Run with `make bench`.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import multiprocessing as mp
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBLEM = "kl-gaussian"
COUNT = 1000
BASELINE_SAMPLE = 100
BASELINE_LIMIT = 2.0
ROOT = Path(__file__).resolve().parent.parent

# Each term: (correct spellings, wrong spellings with the mistake's name). {a}/{b} are the two
# Gaussians' subscripts, so a latex and a plain form can share one template.
LATEX = {
    "trace": ([r"\operatorname{tr}(\Sigma_1^{-1}\Sigma_0)", r"\mathrm{tr}(\Sigma_0\Sigma_1^{-1})",
               r"\text{tr}\left(\Sigma_1^{-1}\Sigma_0\right)", r"\mathrm{Tr}(\Sigma_{1}^{-1} \Sigma_{0})",
               r"\operatorname{tr}\Sigma_1^{-1}\Sigma_0", r"\operatorname{tr}\left(\Sigma_0 \Sigma_1^{-1}\right)",
               r"\mathrm{tr}\left[\Sigma_1^{-1}\Sigma_0\right]"],
              [(r"\operatorname{tr}(\Sigma_0^{-1}\Sigma_1)", "trace swapped"),
               (r"\mathrm{tr}(\Sigma_1\Sigma_0^{-1})", "trace swapped"),
               (r"\operatorname{tr}(\Sigma_1\Sigma_0)", "no inverse in the trace")]),
    "quad": ([r"(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_1-\mu_0)", r"(\mu_0-\mu_1)^T\Sigma_1^{-1}(\mu_0-\mu_1)",
              r"(\mu_1 - \mu_0)^{T} \Sigma_1^{-1} (\mu_1 - \mu_0)", r"(\mu_1-\mu_0)'\Sigma_1^{-1}(\mu_1-\mu_0)",
              r"\left(\mu_1-\mu_0\right)^{\top}\Sigma_{1}^{-1}\left(\mu_1-\mu_0\right)",
              r"(\mu_0 - \mu_1)^\top \Sigma_1^{-1} (\mu_0 - \mu_1)"],
             [(r"(\mu_1-\mu_0)^\top\Sigma_0^{-1}(\mu_1-\mu_0)", "Σ₀ in the mean term"),
              (r"(\mu_1-\mu_0)^\top\Sigma_1(\mu_1-\mu_0)", "no inverse in the mean term"),
              (r"(\mu_1-\mu_0)^\top\Sigma_1^{-1}(\mu_0-\mu_1)", "mean term with the wrong sign")]),
    "dim": (["d", r"d"], [("1", "−1 instead of −d"), ("", "−d missing")]),
    "logdet": ([r"\log\frac{\det\Sigma_1}{\det\Sigma_0}", r"\ln\frac{|\Sigma_1|}{|\Sigma_0|}",
                r"\log\det\Sigma_1 - \log\det\Sigma_0", r"\log|\Sigma_1| - \log|\Sigma_0|",
                r"\log\left(\frac{\det\Sigma_1}{\det\Sigma_0}\right)", r"-\log\frac{\det\Sigma_0}{\det\Sigma_1}",
                r"\log\det(\Sigma_0^{-1}\Sigma_1)", r"\ln\det\Sigma_1 - \ln\det\Sigma_0"],
               [(r"\log\frac{\det\Sigma_0}{\det\Sigma_1}", "determinant ratio inverted"),
                (r"\log\det\Sigma_0 - \log\det\Sigma_1", "determinant ratio inverted"),
                (r"\frac{\log\det\Sigma_1}{\log\det\Sigma_0}", "ratio of logs")]),
}
PLAIN = {
    "trace": (["tr(inv(S1)*S0)", "tr(S0*inv(S1))", "trace(inv(Sigma1)*Sigma0)", "tr(S1^-1*S0)"],
              [("tr(inv(S0)*S1)", "trace swapped"), ("tr(S1*inv(S0))", "trace swapped")]),
    "quad": (["(mu1-mu0)'*inv(S1)*(mu1-mu0)", "(mu0-mu1)'*inv(S1)*(mu0-mu1)", "(mu1 - mu0)' * S1^-1 * (mu1 - mu0)"],
             [("(mu1-mu0)'*inv(S0)*(mu1-mu0)", "Σ₀ in the mean term")]),
    "dim": (["d"], [("1", "−1 instead of −d")]),
    "logdet": (["log(det(S1)/det(S0))", "log(det(S1)) - log(det(S0))", "-log(det(S0)/det(S1))", "ln(det(S1)/det(S0))"],
               [("log(det(S0)/det(S1))", "determinant ratio inverted")]),
}


def _assemble(terms: dict[str, str], order: list[str], style: str, half: str, plain: bool) -> str:
    signed = []
    for name in order:
        t = terms[name]
        if not t:
            continue
        sign = "-" if name == "dim" else "+"
        if t.startswith("-"):
            sign, t = ("+" if sign == "-" else "-"), t[1:]
        if name == "logdet" and " - " in t:
            t = f"({t})" if plain or style == "distributed" else t
        signed.append((sign, t))
    if style == "distributed":
        pieces = []
        for sign, t in signed:
            if plain:
                pieces.append(f"{sign} {half}*({t})" if t != "d" else f"{sign} d/2")
            else:
                pieces.append(f"{sign} {half}{t}" if t != "d" else f"{sign} \\frac{{d}}{{2}}")
        body = " ".join(pieces)
        return body[2:] if body.startswith("+ ") else body
    body = " ".join(f"{s} {t}" for s, t in signed)
    body = body[2:] if body.startswith("+ ") else body
    if plain:
        return f"{half}*({body})"
    return f"{half}\\left({body}\\right)" if style == "left" else f"{half}({body})"


def generate(count: int = COUNT, seed: int = 0) -> list[tuple[str, bool, str]]:
    """`count` distinct (answer, is_correct, mistake) triples; about half correct."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out = []
    orders = list(itertools.permutations(["trace", "quad", "dim", "logdet"]))
    attempts = 0
    while len(out) < count:
        attempts += 1
        if attempts > 200 * count:
            raise RuntimeError("could not generate enough distinct answers")
        plain = rng.random() < 0.25
        table = PLAIN if plain else LATEX
        want_correct = len(out) % 2 == 0
        terms, mistakes = {}, []
        wrong_terms = set() if want_correct else set(rng.sample(sorted(table), rng.choice([1, 1, 2])))
        for name, (good, bad) in table.items():
            if name in wrong_terms:
                text, why = rng.choice(bad)
                terms[name] = text
                mistakes.append(why)
            else:
                terms[name] = rng.choice(good)
        halves = ["0.5", "1/2"] if plain else [r"\frac{1}{2}", r"\frac12", r"\tfrac{1}{2}", r"\dfrac{1}{2}", "0.5"]
        half = rng.choice(halves)
        if not want_correct and rng.random() < 0.2:
            half = rng.choice(["1", "2", "0.25"] if plain else ["", r"\frac{1}{4}", "2"])
            mistakes.append("wrong factor in front")
        style = rng.choice(["left", "paren", "distributed"] if not plain else ["paren", "distributed"])
        answer = _assemble(terms, list(rng.choice(orders)), style, half, plain)
        if rng.random() < 0.3:
            answer = answer.replace(" ", "")
        if answer in seen:
            continue
        seen.add(answer)
        out.append((answer, not mistakes, "; ".join(mistakes) or "correct"))
    return out


def _baseline_one(args: tuple[str, str]) -> tuple[bool | None, float]:
    """One baseline verdict under the time limit: True (shown equal), False, or None (timeout or sympy error).

    "simplify": sympy.simplify(ref - answer) == 0, with the 1 x 1 quadratic forms marked commutative in
    both expressions (without that, sympy refuses every quadratic form outright). "identity": the proof
    engine's own symbolic strategy, which first turns determinants and quadratic forms into real
    symbols and tries expand / simplify / expand_log / powsimp.
    """
    method, answer = args
    import sympy as sp

    from checkers.errors import SymbolicTimeout
    from checkers.grading.build import commuting
    from checkers.grading.catalog import get_problem
    from checkers.grading.parse import parse_answer
    from checkers.limits import time_limit
    from checkers.symbolic import identity

    problem = get_problem(PROBLEM)
    start = time.perf_counter()
    try:
        expr = parse_answer(problem, answer)
        if method == "identity":
            equal = identity(time_limit=BASELINE_LIMIT).prove(expr, problem.reference_expr).status == "proved"
        else:
            with time_limit(BASELINE_LIMIT, "baseline simplify"):
                equal = sp.simplify(commuting(problem.reference_expr) - expr) == 0
    except SymbolicTimeout:
        equal = None
    except Exception:  # sympy raises on many matrix-expression forms: the baseline cannot decide
        equal = None
    return equal, time.perf_counter() - start


def _baseline_init():
    import torch

    torch.set_num_threads(1)


def run_baseline(sample: list[tuple[str, bool, str]], workers: int, method: str = "simplify") -> dict:
    # Parse and import once before forking, as our grader's pool does.
    from checkers.grading.catalog import get_problem

    get_problem(PROBLEM).reference_expr
    _baseline_one((method, sample[0][0]))
    start = time.perf_counter()
    with mp.get_context("fork").Pool(workers, initializer=_baseline_init) as pool:
        outcomes = pool.map(_baseline_one, [(method, a) for a, _, _ in sample], chunksize=1)
    seconds = time.perf_counter() - start
    fn = sum(1 for (_, truth, _), (eq, _) in zip(sample, outcomes) if truth and eq is not True)
    fp = sum(1 for (_, truth, _), (eq, _) in zip(sample, outcomes) if not truth and eq is True)
    undecided = sum(1 for eq, _ in outcomes if eq is None)
    return {"method": method, "answers": len(sample), "seconds": seconds, "rate": len(sample) / seconds,
            "false_negatives": fn, "false_positives": fp, "undecided": undecided,
            "correct_in_sample": sum(t for _, t, _ in sample)}


def run_ours(answers: list[tuple[str, bool, str]], workers: int, tmp: Path, analysis: bool = False) -> dict:
    src, out = tmp / "answers.csv", tmp / "graded.csv"
    with open(src, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "answer"])
        for i, (a, _, _) in enumerate(answers):
            w.writerow([f"s{i:04d}", a])
    cmd = [sys.executable, "-m", "checkers", "grade", PROBLEM, "--csv", str(src), "--out", str(out), "--restart",
           "--workers", str(workers)] + (["--analysis", str(tmp / "class.html")] if analysis else [])
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)  # the command and its workers
    if proc.returncode != 0:
        raise RuntimeError(f"grading failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    with open(out, newline="", encoding="utf-8") as f:
        graded = {row["id"]: row for row in csv.DictReader(f)}
    fn = fp = invalid = 0
    wrong = []
    for i, (a, truth, why) in enumerate(answers):
        verdict = graded[f"s{i:04d}"]["verdict"]
        invalid += verdict == "invalid"
        if truth and verdict != "correct":
            fn += 1
            wrong.append((a, why, verdict, graded[f"s{i:04d}"]["message"]))
        if not truth and verdict == "correct":
            fp += 1
            wrong.append((a, why, verdict, graded[f"s{i:04d}"]["message"]))
    summary_line = proc.stdout.strip().splitlines()[0]
    inner = float(summary_line.split("(")[-1].split()[0])  # answers/s reported by the run itself
    page = float(proc.stdout.strip().splitlines()[1].split("(")[-1].split()[0]) if analysis else 0.0
    clusters = 0
    if analysis:
        html = (tmp / "class.html").read_text(encoding="utf-8")
        clusters = html.count('<tr class="cluster">')
    return {"answers": len(answers), "seconds": seconds, "rate": len(answers) / seconds, "inner_rate": inner, "cpu": cpu,
            "analysis_page_seconds": page, "clusters": clusters,
            "false_negatives": fn, "false_positives": fp, "invalid": invalid, "wrong": wrong,
            "correct": sum(t for _, t, _ in answers)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--baseline-sample", type=int, default=BASELINE_SAMPLE)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    answers = generate(args.count)
    rng = random.Random(1)
    correct = [x for x in answers if x[1]]
    wrong = [x for x in answers if not x[1]]
    k = args.baseline_sample // 2
    sample = rng.sample(correct, min(k, len(correct))) + rng.sample(wrong, min(k, len(wrong)))
    with tempfile.TemporaryDirectory() as tmp:
        ours = run_ours(answers, args.workers, Path(tmp))
    with tempfile.TemporaryDirectory() as tmp:
        analysed = run_ours(answers, args.workers, Path(tmp), analysis=True)
    base = run_baseline(sample, args.workers, "simplify")
    helped = run_baseline(sample, args.workers, "identity")
    ratio = ours["rate"] / base["rate"]
    load = os.getloadavg()[0]
    if args.json:
        print(json.dumps({"ours": {k: v for k, v in ours.items() if k != "wrong"},
                          "with_analysis": {k: v for k, v in analysed.items() if k != "wrong"}, "baseline": base,
                          "engine_identity": helped, "ratio": ratio, "load": load}))
        return 0
    print(f"grade benchmark: {PROBLEM}, {len(answers)} distinct answers ({ours['correct']} correct by construction), "
          f"{args.workers} worker processes, {os.cpu_count()} cores, load average {load:.1f} at the end")
    print(f"{'method':46s} {'answers':>7s} {'seconds':>8s} {'answers/s':>10s} {'false neg':>9s} {'false pos':>9s} "
          f"{'undecided':>9s}")
    print(f"{'proofcheck grade --csv (end to end)':46s} {ours['answers']:7d} {ours['seconds']:8.2f} {ours['rate']:10.1f} "
          f"{ours['false_negatives']:9d} {ours['false_positives']:9d} {ours['invalid']:9d}")
    print(f"{'  same run, after interpreter start-up':46s} {'':7s} {'':8s} {ours['inner_rate']:10.1f}")
    print(f"{'  CPU time of the command and its workers':46s} {'':7s} {ours['cpu']:8.2f}  (load-independent)")
    print(f"{'same with --analysis class.html (end to end)':46s} {analysed['answers']:7d} {analysed['seconds']:8.2f} "
          f"{analysed['rate']:10.1f}")
    print(f"{'  CPU time of the command and its workers':46s} {'':7s} {analysed['cpu']:8.2f}  (load-independent)")
    print(f"{'  of which building the page (clusters, plot)':46s} {'':7s} {analysed['analysis_page_seconds']:8.2f}  "
          f"({analysed['clusters']} clusters of equal wrong answers)")
    for label, b in (("simplify(ref - answer) == 0", base), ("proof engine's identity() strategy", helped)):
        print(f"{label + ' (sample)':46s} {b['answers']:7d} {b['seconds']:8.2f} {b['rate']:10.1f} "
              f"{b['false_negatives']:9d} {b['false_positives']:9d} {b['undecided']:9d}")
    print(f"throughput ratio, ours end to end / simplify baseline: {ratio:.1f}x. Baseline wrong verdicts on its sample "
          f"of {base['answers']} ({base['correct_in_sample']} correct): {base['false_negatives']} false negatives, "
          f"{base['false_positives']} false positives ({base['undecided']} answers where sympy raised or ran past "
          f"{BASELINE_LIMIT:g} s, counted as not equal)")
    print(f"analysis overhead: {analysed['seconds'] / ours['seconds']:.2f}x the wall time of grading alone, "
          f"{analysed['cpu'] / ours['cpu']:.2f}x its CPU time (the requirement is at most 2x)")
    for a, why, verdict, message in ours["wrong"][:10]:
        print(f"  ours wrong: {verdict} for [{why}] {a}: {message}")
    return 0 if ours["false_negatives"] == ours["false_positives"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
