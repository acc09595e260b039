"""The `proofcheck grade` and `proofcheck check-steps` subcommands (registered by checkers.cli)."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

from checkers.errors import UsageError

EXIT = {"correct": 0, "incorrect": 1, "invalid": 2}
INTERNAL = 3


def _quick_exit() -> None:
    """Move every object out of the garbage collector's reach before the process ends.

    The command is done; without this the interpreter's final collections walk every torch and sympy
    object once more, about half a second of exit time per run.
    """
    sys.stdout.flush()
    gc.freeze()


def _read_answer(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def _print_problems() -> int:
    """The gradeable problems from the proof packages' static index (nothing heavy is imported while it is fresh)."""
    from checkers.grading.catalog import read_index

    entries, rebuilt = read_index()
    for p in entries:
        dims = ", ".join(f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in p["dims"].items())
        print(f"{p['id']:20s} {p['title']} [{p['source']}]")
        print(f"{'':20s} symbols: {', '.join(p['symbols'])}{'; ' + dims if dims else ''}"
              f"{'; exact number' if p['exact'] else ''}")
    if rebuilt:
        print(f"(the gradeable index of {', '.join(rebuilt)} was out of date and has been rebuilt)", file=sys.stderr)
    return 0


def _check_limits(args) -> None:
    from checkers.grading.isolation import check_limits

    check_limits(args.time_limit, args.memory_mb, getattr(args, "workers", None))


def cmd_grade(args) -> int:
    if args.list:
        return _print_problems()
    if not args.problem:
        raise UsageError("give a problem id (see `proofcheck grade --list`)")
    from checkers.grading.catalog import get_problem

    problem = get_problem(args.problem)
    if args.time_limit <= 0:
        raise UsageError(f"--time-limit must be positive (got {args.time_limit})")
    import torch

    torch.set_num_threads(1)  # answers are tiny batches; threads only make forking workers unsafe
    if args.csv:
        if args.answer is not None:
            raise UsageError("give either an ANSWER or --csv FILE, not both")
        return _grade_csv(problem.id, args)
    if args.out or args.gradescope:
        raise UsageError("--out and --gradescope go with --csv")
    if args.answer is None:
        raise UsageError("give an ANSWER (or - to read it from standard input), or --csv FILE")
    from checkers.grading.isolation import grade_isolated

    doc = grade_isolated(problem.id, _read_answer(args.answer), time_limit=args.time_limit, memory_mb=args.memory_mb,
                         symbolic=not args.no_symbolic)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print(f"{problem.id}: {doc['verdict']}")
        print(f"  {doc['message']}")
        for fb in doc.get("feedback", [])[1:]:
            print(f"  also: {fb['message']}")
        if doc.get("read_as"):
            print(f"  read as: {doc['read_as']}")
        if doc.get("counterexample"):
            inst = doc["counterexample"]["instance"]
            print("  instance: " + "; ".join(f"{k} = {v}" for k, v in inst.items()))
    _quick_exit()
    if doc.get("internal_error"):
        return INTERNAL
    return EXIT[doc["verdict"]]


def _grade_csv(problem_id: str, args) -> int:
    from checkers.grading.bulk import grade_csv

    try:
        summary = grade_csv(problem_id, args.csv, args.out, args.gradescope, workers=args.workers,
                            time_limit=args.time_limit, memory_mb=args.memory_mb, symbolic=args.symbolic,
                            restart=args.restart)
    except KeyboardInterrupt:
        print("proofcheck: interrupted; the answers graded so far are kept, run the same command again to resume",
              file=sys.stderr)
        return 130
    c = summary.counts
    resumed = f", {summary.resumed} taken from an earlier run" if summary.resumed else ""
    print(f"{problem_id}: {summary.total} answers: {c['correct']} correct, {c['incorrect']} incorrect, "
          f"{c['invalid']} invalid{resumed}; {summary.graded_now} graded in {summary.seconds:.1f} s "
          f"({summary.rate:.0f} answers/s)")
    print(f"wrote {summary.out}" + (f" and {summary.gradescope}" if summary.gradescope else ""))
    _quick_exit()
    return 0


def cmd_check_steps(args) -> int:
    from checkers.grading import check_steps
    from checkers.grading.catalog import get_problem

    problem = get_problem(args.problem)
    path = Path(args.file)
    try:
        text = sys.stdin.read() if args.file == "-" else path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text: {exc}") from None
    import torch

    torch.set_num_threads(1)
    doc = check_steps(problem.id, text, time_limit=args.time_limit)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        for line in doc["lines"]:
            print(f"  line {line['line']}: {line['text']}" + ("" if line.get("parsed") else f"  [{line.get('message')}]"))
        for step in doc["steps"]:
            print(f"  step to line {step['line']}: {'valid' if step['valid'] else 'INVALID'}: {step['message']}")
        first = doc["first_invalid"]
        print(f"first invalid line: {first if first is not None else 'none'}")
        final = doc["final"]
        message = final["message"]
        print(f"final line: {message if message.startswith(final['verdict']) else final['verdict'] + ': ' + message}")
    _quick_exit()
    if doc["verdict"] == "invalid":
        return 2
    return 0 if doc["first_invalid"] is None and doc["verdict"] == "correct" else 1


def register(sub) -> None:
    """Add `grade` and `check-steps` to the proofcheck command line."""
    p = sub.add_parser("grade", help="grade a student's formula (or a CSV of them) against a checked claim",
                       description="Exit codes for one answer: 0 correct, 1 incorrect, 2 invalid or bad usage, "
                                   "3 grader bug. With --csv: 0 when every answer is graded, 130 if interrupted "
                                   "(rerun to resume).")
    p.add_argument("problem", nargs="?", metavar="PROBLEM", help="problem id (see --list)")
    p.add_argument("answer", nargs="?", metavar="ANSWER", help="the answer, LaTeX or plain text ('-' reads stdin)")
    p.add_argument("--list", action="store_true", help="list the gradeable problems and their symbols")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--csv", metavar="FILE", help="grade every row of a CSV with columns id,answer")
    p.add_argument("--out", metavar="FILE", help="output CSV (default: FILE-graded.csv next to the input)")
    p.add_argument("--gradescope", metavar="FILE", help="also write a Gradescope results.json")
    p.add_argument("--restart", action="store_true", help="ignore the journal of an interrupted run")
    p.add_argument("--workers", type=int, default=None, help="grading processes (default: one per CPU)")
    p.add_argument("--time-limit", type=float, default=2.0, help="seconds per answer (default 2)")
    p.add_argument("--memory-mb", type=int, default=1024, help="extra memory per worker in MiB (default 1024)")
    p.add_argument("--symbolic", action="store_true", help="with --csv: also try a sympy confirmation (slower)")
    p.add_argument("--no-symbolic", action="store_true", help="one answer: skip the sympy confirmation")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("check-steps", help="check a multi-line derivation (align* body) line by line",
                       description="Exit codes: 0 every step valid and the last line correct, 1 otherwise, "
                                   "2 the last line is invalid or bad usage.")
    p.add_argument("problem", metavar="PROBLEM")
    p.add_argument("file", metavar="FILE", help="the derivation ('-' reads stdin)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--time-limit", type=float, default=2.0, help="seconds per line (default 2)")
    p.set_defaults(func=cmd_check_steps)
