"""The `proofcheck report` subcommand: build the solution reports (what `make reports` runs)."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["register"]


def cmd_report(args) -> int:
    from checkers.devices import resolve_devices
    from checkers.registry import all_derivations
    from checkers.render_text import progress_reporter
    from checkers.reporting.build import BuildOptions, build_reports
    from checkers.reporting.problem_sets import group_by_set

    formats = tuple(dict.fromkeys(args.format or ["pdf", "html"]))
    options = BuildOptions(out_dir=Path(args.out), sets=tuple(args.set or ()), formats=formats, seed=args.seed,
                           devices=tuple(resolve_devices(args.device)), instances=args.instances,
                           cache_dir=None if args.no_cache else Path(args.cache_dir),
                           key=not args.no_key, full=not args.key)
    derivations = all_derivations()
    groups = group_by_set(derivations)
    chosen = {p.derivation.id for s, ps in groups.items() if not options.sets or s.id in options.sets for p in ps}
    total = sum(len(d.claims) for d in derivations if d.id in chosen)
    with progress_reporter(total) as on_claim:
        outcome = build_reports(options, progress=on_claim)

    run = outcome.run
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for path in outcome.documents:
        print(f"wrote {path}")
    latex = ", ".join(outcome.latex_runs) or "none (unchanged)"
    n_reused = len(outcome.reused)
    source = (f"verified {len(run.derivations) - n_reused} derivations in {run.seconds:.1f} s, reused {n_reused} "
              f"unchanged")
    t = outcome.seconds
    print(f"{source}; LaTeX runs: {latex}; {t.get('total', 0):.1f} s (verify {t.get('verify', 0):.1f}, figures "
          f"{t.get('figures', 0):.1f}, render {t.get('render', 0):.1f}, latex {t.get('latex', 0):.1f})")
    if outcome.passed:
        n = sum(len(d.claims) for d in run.derivations)
        print(f"PASSED: {n} claims in {len(run.derivations)} derivations")
        return 0
    for d in run.derivations:
        for c in d.claims:
            for reason in c.failures:
                print(f"FAILED {d.id} / {c.id}: {reason}", file=sys.stderr)
    for error in outcome.figure_errors:
        print(f"FAILED {error}", file=sys.stderr)
    print("FAILED: some checks failed; the documents show them in red", file=sys.stderr)
    return 1


def register(subparsers) -> None:
    """Add `report` to the `proofcheck` command line."""
    p = subparsers.add_parser("report", help="verify, then build reports/<set>.pdf, reports/<set>.html and "
                                             "reports/index.html")
    p.add_argument("--set", action="append", metavar="ID", help="only this problem set (repeatable), e.g. hw6-2021")
    p.add_argument("--format", action="append", choices=("pdf", "html", "tex"),
                   help="output format (repeatable; default: pdf and html)")
    p.add_argument("--out", default="reports", metavar="DIR", help="output directory (default: reports)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--device", default="auto", help="auto (every device present), cpu, cuda or mps")
    p.add_argument("--instances", type=int, default=None, help="random instances per claim (default: per claim)")
    p.add_argument("--cache-dir", default=".cache/reports", metavar="DIR",
                   help="verification/figure cache and LaTeX build directory (default: .cache/reports)")
    p.add_argument("--no-cache", action="store_true", help="always re-run the verification")
    keys = p.add_mutually_exclusive_group()
    keys.add_argument("--key", action="store_true",
                      help="only the answer keys reports/<set>-key.{pdf,html} (by default they are written with the "
                           "full solutions)")
    keys.add_argument("--no-key", action="store_true", help="skip the answer keys")
    p.set_defaults(func=cmd_report)
