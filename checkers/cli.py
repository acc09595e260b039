"""The `proofcheck` command line: list and verify here, the other subcommands registered from their modules."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from checkers.errors import ProofcheckError, UsageError

DTYPE_NAMES = ("float64", "float32", "float16", "bfloat16")  # checkers.tolerances.DTYPES_BY_NAME, without torch

EXTENSIONS = ("checkers.reporting.cli", "checkers.grading.cli", "checkers.serve.cli", "checkers.review.cli", "checkers.init")

DEFAULT_THREADS = 1  # checkers.verify.DEFAULT_THREADS, without importing torch to build the parser


def _parse_dtypes(names: list[str] | None):
    if not names:
        return None
    from checkers.tolerances import DTYPES_BY_NAME

    unknown = [n for n in names if n not in DTYPES_BY_NAME]
    if unknown:
        raise UsageError(f"unknown dtype {unknown[0]!r}; choose from {', '.join(DTYPES_BY_NAME)}")
    return [DTYPES_BY_NAME[n] for n in names]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (got {value})")
    return value


def cmd_list(args) -> int:
    from rich.console import Console
    from rich.table import Column, Table

    from checkers.registry import all_derivations

    derivations = all_derivations()
    if args.json:
        print(json.dumps([{"id": d.id, "title": d.title, "source": d.source, "claims": [c.id for c in d.claims]}
                          for d in derivations], indent=2))
        return 0
    table = Table("title", "source", "claims")
    table.columns.insert(0, Column("id", no_wrap=True))
    for d in derivations:
        table.add_row(d.id, d.title, d.source, str(len(d.claims)))
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(table)
    return 0


def cmd_verify(args) -> int:
    from checkers.devices import resolve_devices
    from checkers.registry import select
    from checkers.render_text import print_run, progress_reporter
    from checkers.results import to_json
    from checkers.verify import instances_below_minimum, verify

    devices = resolve_devices(args.device)
    dtypes = _parse_dtypes(args.dtype)
    derivations, claim_ids = select(args.ids)
    below = instances_below_minimum(derivations, args.instances, claim_ids)
    if below:
        listed = ", ".join(f"{name} ({count})" for name, count in below[:5]) + (" ..." if len(below) > 5 else "")
        raise UsageError(f"--instances {args.instances} is below the declared minimum of {len(below)} selected "
                         f"claim(s): {listed}; give at least {max(c for _, c in below)} or leave --instances out")
    total = sum(len(claim_ids.get(d.id) or d.claims) for d in derivations)
    with progress_reporter(total, enabled=not args.json) as on_claim:
        run = verify(derivations, seed=args.seed, devices=devices, dtypes=dtypes, claim_ids=claim_ids,
                     instances=args.instances, on_claim=on_claim, threads=args.threads)
    if args.json:
        print(json.dumps(to_json(run), indent=2))
    else:
        print_run(run)
    return 0 if run.passed else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="proofcheck", description="Machine-checked derivations of deep-learning mathematics.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("list", help="derivation ids, titles and problem-set references")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verify", help="check derivations symbolically, numerically, against references and mutants")
    p.add_argument("ids", nargs="*", metavar="ID[/CLAIM]", help="derivations (or single claims) to check; default all")
    p.add_argument("--device", default="auto", help="auto (every device present), cpu, cuda or mps")
    p.add_argument("--dtype", action="append", metavar="DTYPE",
                   help=f"restrict to these dtypes (repeatable): {', '.join(DTYPE_NAMES)}")
    p.add_argument("--seed", type=int, default=0, help="run seed; every failure prints the seed that replays it")
    p.add_argument("--instances", type=int, default=None, help="random instances per claim per dtype (default and minimum: the count each claim declares, 4 to 1000)")
    p.add_argument("--threads", type=_positive_int, default=DEFAULT_THREADS,
                   help=f"torch intra-op threads (default {DEFAULT_THREADS}: the batches are small, and more threads "
                        "only fight other processes for the cores)")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.set_defaults(func=cmd_verify)

    for register in _extensions():
        register(sub)
    return parser


def _extensions():
    """The subcommands living in other modules (report, grade, check-steps, serve, init, gradescope).

    Every one ships with proofcheck: a missing module is a broken install, an error here, never a
    subcommand silently left out of `--help`.
    """
    import importlib

    out = []
    for module_name in EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name and module_name.startswith(exc.name):
                raise ProofcheckError(f"proofcheck is installed without its module {module_name} ({exc}); "
                                      "reinstall it (`pip install --force-reinstall proofcheck`, or "
                                      "`pip install -e .` in a checkout)") from None
            raise
        out.append(module.register)
    return out


def _stdout_closed() -> bool:
    """Whether standard output is a pipe (or socket) whose reader has gone away."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(event & (select.POLLERR | select.POLLHUP) for _, event in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no file descriptor (captured output) or no poll: not a pipe
        return False


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ProofcheckError as exc:  # a subcommand's module is missing: the install is broken
        print(f"proofcheck: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors already
        return int(exc.code or 0)
    try:
        code = args.func(args)
        sys.stdout.flush()  # inside the try: a reader that left (`| head`) is seen here, not at interpreter exit
        return code
    except BrokenPipeError:
        if not _stdout_closed():
            raise  # a pipe of our own (a worker's) broke: a bug, reported below as one
        # The reader of our output left: stop quietly as other command-line tools do (128 + SIGPIPE), and point
        # stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except UsageError as exc:
        print(f"proofcheck: error: {exc}", file=sys.stderr)
        return 2
    except ProofcheckError as exc:
        print(f"proofcheck: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("proofcheck: interrupted", file=sys.stderr)
        return 130
    except Exception:  # an escaping exception is our bug, never the user's mistake
        import traceback

        traceback.print_exc()
        print("proofcheck: internal error (a bug in proofcheck, not in your input); please report it with the "
              "command line above", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
