"""The `proofcheck grade` and `proofcheck check-steps` subcommands (registered by checkers.cli)."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from checkers.errors import UsageError
from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT

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
    """The answer (from standard input for '-', read only up to just past the grader's length limit).

    Bytes that are not UTF-8 (in the argument or on standard input) arrive as surrogates, never as a
    decoding error, so the answer can be refused for them (see `not_utf8`)."""
    if text != "-":
        return text
    from checkers.grading.parse import MAX_LENGTH

    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    return sys.stdin.read(MAX_LENGTH + 1)  # anything longer is refused as over-long without being read whole


def _printable(text: str) -> str:
    """`text` for the terminal: control characters and bytes that are not UTF-8 written as \\xNN."""
    from checkers.grading.bulk import escape_bytes
    from checkers.grading.result import escape_controls

    return escape_controls(escape_bytes(text))


def _print_problems() -> int:
    """The gradeable problems from the proof packages' static index (nothing heavy is imported while it is fresh)."""
    from checkers.grading.catalog import read_index

    entries, rebuilt = read_index()
    for p in entries:
        dims = ", ".join(f"{k} ∈ {{{', '.join(map(str, v))}}}" for k, v in p["dims"].items())
        print(f"{p['id']:20s} {p['title']} [{p['source']}]")
        facts = [f"symbols: {', '.join(p['symbols'])}"] if p["symbols"] else []
        facts += [dims] if dims else []
        facts += ["a number, compared exactly"] if p["exact"] else []
        print(f"{'':20s} {'; '.join(facts)}")
    if rebuilt:
        print(f"(the gradeable index of {', '.join(rebuilt)} was out of date: listed from the declarations)",
              file=sys.stderr)
    return 0


def _check_limits(args) -> None:
    from checkers.grading.isolation import check_limits

    check_limits(args.time_limit, args.memory_mb, getattr(args, "workers", None))


def _no_device_plugins() -> None:
    """Grading runs on the CPU: skip torch's scan of every installed package for out-of-tree device backends
    (entry points), about 0.4 s of each start-up. Set before torch is imported; an explicit setting wins."""
    os.environ.setdefault("TORCH_DEVICE_BACKEND_AUTOLOAD", "0")


def cmd_grade(args) -> int:
    _no_device_plugins()
    if args.list:
        return _print_problems()
    if not args.problem:
        raise UsageError("give a problem id (see `proofcheck grade --list`)")
    from checkers.grading.catalog import get_problem

    problem = get_problem(args.problem)
    _check_limits(args)
    if args.gradescope:
        raise UsageError("--gradescope was removed: Gradescope reads one results.json per student submission, not "
                         "one for the class; build an autograder with `proofcheck gradescope build --problems ID... "
                         "--out autograder.zip`")
    if args.csv:
        if args.answer is not None:
            raise UsageError("give either an ANSWER or --csv FILE, not both")
        return _grade_csv(problem.id, args)
    if args.out or args.analysis:
        raise UsageError("--out and --analysis go with --csv")
    if args.answer is None:
        raise UsageError("give an ANSWER (or - to read it from standard input), or --csv FILE")
    import torch

    torch.set_num_threads(1)  # answers are tiny batches; threads only make forking workers unsafe
    from checkers.grading.isolation import grade_isolated
    from checkers.grading.result import dumps

    from checkers.grading.parse import MAX_LENGTH
    from checkers.grading.result import invalid

    from checkers.grading.bulk import escape_bytes, not_utf8

    answer = _read_answer(args.answer)
    undecodable = not_utf8(answer)
    if args.answer == "-" and len(answer) > MAX_LENGTH:
        doc = invalid(problem.id, escape_bytes(answer[:200]) + "…", f"the answer on standard input is longer than "
                                                                    f"{MAX_LENGTH} characters; the limit is "
                                                                    f"{MAX_LENGTH}", cause="answer too long").to_json()
    elif undecodable:
        doc = invalid(problem.id, escape_bytes(answer), undecodable, cause="not UTF-8").to_json()
    else:
        doc = grade_isolated(problem.id, answer, time_limit=args.time_limit, memory_mb=args.memory_mb,
                             symbolic=not args.no_symbolic)
    if args.json:
        print(escape_bytes(dumps(doc, indent=2, ensure_ascii=False)))
    else:
        print(f"{problem.id}: {doc['verdict']}")
        print(f"  {_printable(doc['message'])}")
        for fb in doc.get("feedback", [])[1:]:
            print(f"  also: {_printable(fb['message'])}")
        if doc.get("read_as"):
            print(f"  read as: {_printable(doc['read_as'])}")
        if doc.get("counterexample"):
            inst = doc["counterexample"]["instance"]
            print("  instance: " + "; ".join(f"{k} = {v}" for k, v in inst.items()))
    _quick_exit()
    if doc.get("internal_error"):
        return INTERNAL
    return EXIT[doc["verdict"]]


class _Terminated(Exception):
    """SIGTERM or SIGHUP arrived during a bulk run: stop like Ctrl-C (the journal keeps what was graded)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise _Terminated(signum)


def _grade_csv(problem_id: str, args) -> int:
    import signal
    from pathlib import Path

    from checkers.grading.bulk import check_paths, default_out, grade_csv
    from checkers.output_files import STDOUT

    csv_path = Path(args.csv)
    check_paths(csv_path, args.out if args.out == STDOUT else Path(args.out) if args.out else default_out(csv_path),
                args.analysis if args.analysis == STDOUT else Path(args.analysis) if args.analysis else None)
    import torch

    torch.set_num_threads(1)  # answers are tiny batches; threads only make forking workers unsafe
    previous = {s: signal.signal(s, _raise_terminated) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        summary = grade_csv(problem_id, args.csv, args.out, analysis=args.analysis, workers=args.workers,
                            time_limit=args.time_limit, memory_mb=args.memory_mb, symbolic=args.symbolic,
                            restart=args.restart)
    except (KeyboardInterrupt, _Terminated) as exc:
        print("proofcheck: interrupted; the answers graded so far are kept, run the same command again to resume",
              file=sys.stderr)
        return 128 + exc.signum if isinstance(exc, _Terminated) else 130
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    c = summary.counts
    resumed = f", {summary.resumed} taken from an earlier run" if summary.resumed else ""
    report = sys.stderr if STDOUT in (summary.out, summary.analysis) else sys.stdout  # stdout carries a document
    print(f"{problem_id}: {summary.total} answers: {c['correct']} correct, {c['incorrect']} incorrect, "
          f"{c['invalid']} invalid{resumed}; {summary.graded_now} graded in {summary.seconds:.1f} s "
          f"({summary.rate:.0f} answers/s)", file=report)
    written = [str(p) for p in (summary.out, summary.analysis) if p is not None and p != STDOUT]
    if written:
        print(f"wrote {' and '.join(written)}" + (f" ({summary.analysis_seconds:.1f} s)"
                                                   if summary.analysis not in (None, STDOUT) else ""), file=report)
    _quick_exit()
    if summary.internal_errors:
        shown = ", ".join(summary.internal_errors[:10]) + (" ..." if len(summary.internal_errors) > 10 else "")
        print(f"proofcheck: {len(summary.internal_errors)} answers hit an internal error of the grader (a bug, not "
              f"the students' mistake; please report it); they are marked invalid: {shown}", file=sys.stderr)
        return INTERNAL
    return 0


def cmd_check_steps(args) -> int:
    _no_device_plugins()
    from checkers.grading import check_steps
    from checkers.grading.catalog import get_problem
    from checkers.grading.result import dumps, escape_controls
    from checkers.grading.steps import MAX_LENGTH

    problem = get_problem(args.problem)
    _check_limits(args)
    path = Path(args.file)
    try:
        if args.file == "-":
            text = sys.stdin.read(MAX_LENGTH * 10 * 4 + 1)
        else:
            if path.is_dir():
                raise UsageError(f"{path} is a folder; give the file that holds the derivation")
            if path.exists() and path.stat().st_size > MAX_LENGTH * 10 * 4:
                raise UsageError(f"{path} is {path.stat().st_size} bytes; a derivation may have at most "
                                 f"{MAX_LENGTH * 10} characters")
            text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text: {exc}") from None
    from checkers.grading.bulk import not_utf8

    undecodable = not_utf8(text)  # standard input read with surrogateescape (the C locale) lets raw bytes through
    if undecodable:
        where = "standard input" if args.file == "-" else str(path)
        raise UsageError(f"{where}: {undecodable.replace('the answer is', 'the derivation is')}")
    import torch

    torch.set_num_threads(1)
    doc = check_steps(problem.id, text, time_limit=args.time_limit, memory_mb=args.memory_mb)
    if args.json:
        print(dumps(doc, indent=2, ensure_ascii=False))
    else:
        for line in doc["lines"]:
            print(escape_controls(f"  line {line['line']}: {line['text']}" +
                                  ("" if line.get("parsed") else f"  [{line.get('message')}]")))
        for step in doc["steps"]:
            print(escape_controls(f"  step to line {step['line']}: {'valid' if step['valid'] else 'INVALID'}: "
                                  f"{step['message']}"))
        first = doc["first_invalid"]
        print(f"first invalid line: {first if first is not None else 'none'}")
        final = doc["final"]
        # a graded line's message starts with its verdict word; an invalid one's is the reason alone
        headline = f"invalid: {final['message']}" if final["verdict"] == "invalid" else final["message"]
        print(escape_controls(f"final line: {headline}"))
    _quick_exit()
    if doc.get("internal_error"):
        return INTERNAL
    if doc["verdict"] == "invalid":
        return 2
    return 0 if doc["first_invalid"] is None and doc["verdict"] == "correct" else 1


def cmd_gradescope(args) -> int:
    _no_device_plugins()
    from checkers.grading import gradescope

    if args.action == "build":
        out = gradescope.build(args.problems or [], args.out, points=args.points, time_limit=args.time_limit,
                               memory_mb=args.memory_mb, visibility=args.visibility)
        print(f"wrote {out} (upload it as the Gradescope autograder) and "
              f"{out.with_name(out.stem + '-' + gradescope.TEMPLATE)} (the answer sheet students fill in and submit)")
        return 0
    doc = gradescope.run(args.root)
    print(f"{doc['output']}")
    _quick_exit()
    return 0


def register(sub) -> None:
    """Add `grade` and `check-steps` to the proofcheck command line."""
    p = sub.add_parser("grade", help="grade a student's formula (or a CSV of them) against a checked claim",
                       description="Exit codes for one answer: 0 correct, 1 incorrect, 2 invalid or bad usage, "
                                   "3 grader bug. With --csv: 0 when every answer is graded, 3 when some answer hit "
                                   "a grader bug, 130 (143 on SIGTERM) if interrupted (rerun to resume).")
    p.add_argument("problem", nargs="?", metavar="PROBLEM", help="problem id (see --list)")
    p.add_argument("answer", nargs="?", metavar="ANSWER", help="the answer, LaTeX or plain text ('-' reads stdin)")
    p.add_argument("--list", action="store_true", help="list the gradeable problems and their symbols")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--csv", metavar="FILE", help="grade every row of a CSV with columns id,answer")
    p.add_argument("--out", metavar="FILE", help="output CSV (default: FILE-graded.csv next to the input; "
                                                  "- for standard output)")
    p.add_argument("--analysis", metavar="HTML", help="with --csv: also write the class analysis page (offline HTML; "
                                                       "- for standard output)")
    p.add_argument("--gradescope", metavar="FILE", help=argparse.SUPPRESS)  # removed: refused with a pointer
    p.add_argument("--restart", action="store_true", help="ignore the journal of an interrupted run")
    p.add_argument("--workers", type=int, default=None, help="grading processes (default: one per CPU)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"seconds per answer (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                   help=f"extra memory per worker in MiB (default {DEFAULT_MEMORY_MB})")
    p.add_argument("--symbolic", action="store_true", help="with --csv: also try a sympy confirmation (slower)")
    p.add_argument("--no-symbolic", action="store_true", help="one answer: skip the sympy confirmation")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("check-steps", help="check a multi-line derivation (align* body) line by line",
                       description="Exit codes: 0 every step valid and the last line correct, 1 otherwise, "
                                   "2 the last line is invalid or bad usage, 3 a checker bug on some line.")
    p.add_argument("problem", metavar="PROBLEM")
    p.add_argument("file", metavar="FILE", help="the derivation ('-' reads stdin)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"seconds per line (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                   help=f"extra memory per worker in MiB (default {DEFAULT_MEMORY_MB})")
    p.set_defaults(func=cmd_check_steps)

    p = sub.add_parser("gradescope", help="build a Gradescope autograder, or run it on one submission",
                       description="build: write the autograder zip (setup.sh, run_autograder, the answer sheet). "
                                   "run: grade the submission under ROOT (default $AUTOGRADER_ROOT or /autograder) "
                                   "and write ROOT/results/results.json; this is what run_autograder calls.")
    p.add_argument("action", choices=("build", "run"))
    p.add_argument("--problems", nargs="+", metavar="ID", help="build: the problems of the assignment")
    p.add_argument("--out", default="autograder.zip", help="build: the zip to write (default autograder.zip)")
    p.add_argument("--points", type=float, default=1.0, help="build: points per problem (default 1)")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"build: seconds per answer (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                   help=f"build: extra memory per answer in MiB (default {DEFAULT_MEMORY_MB})")
    p.add_argument("--visibility", default="visible", help="build: when students see the results: visible, "
                                                            "after_published, after_due_date or hidden")
    p.add_argument("--root", default=None, help="run: the folder laid out like /autograder")
    p.set_defaults(func=cmd_gradescope)
