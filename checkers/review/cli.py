"""The `proofcheck review` subcommand (registered by checkers.cli): a whole submission, answers and lines.

Exit codes: 0 every gradeable answer correct and no line wrong; 1 some answer incorrect, invalid or
missing, or some line wrong; 2 bad usage (unknown set, unreadable file, bad readings file); 3 a
checker bug on some line or answer (the page and the JSON are still written, the entries say which).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from checkers.errors import UsageError
from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INTERNAL = 0, 1, 3
MAX_READINGS_BYTES = 1 * 2 ** 20


def load_readings(path: str):
    """The TA's readings of garbled places: a JSON list of {"line", "problem", "reading", "alternatives", "note"}."""
    from checkers.review.checking import Reading

    file = Path(path)
    try:
        if file.stat().st_size > MAX_READINGS_BYTES:
            raise UsageError(f"--readings {path!r} is larger than {MAX_READINGS_BYTES:,} bytes")
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read --readings {path!r}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--readings {path!r} is not UTF-8 JSON: {exc}") from None
    if not isinstance(data, list):
        raise UsageError(f"--readings {path!r} must hold a JSON list of readings (got {type(data).__name__})")
    readings = []
    for i, item in enumerate(data):
        if not (isinstance(item, dict) and isinstance(item.get("line"), int) and isinstance(item.get("problem"), str)
                and isinstance(item.get("reading"), str)):
            raise UsageError(f"--readings {path!r}, entry {i}: give \"line\" (a number), \"problem\" and \"reading\" "
                             f"(got {str(item)[:80]})")
        alternatives = item.get("alternatives", [])
        if not (isinstance(alternatives, list) and all(isinstance(a, str) for a in alternatives)):
            raise UsageError(f"--readings {path!r}, entry {i}: \"alternatives\" must be a list of strings")
        readings.append(Reading(item["line"], item["problem"], item["reading"], tuple(alternatives),
                                str(item.get("note", ""))))
    return tuple(readings)


def exit_code(doc: dict) -> int:
    if doc.get("internal_error"):
        return EXIT_INTERNAL
    if any(a["verdict"] != "correct" for a in doc["answers"]) or any(e["verdict"] == "wrong" for e in doc["lines"]):
        return EXIT_FINDINGS
    return EXIT_CLEAN


def _summary(doc: dict, page: Path | None) -> str:
    out = []
    for a in doc["answers"]:
        where = f"line {a['line']}" if a["line"] is not None else "not found"
        out.append(f"{a['set_problem']:4s} {a['problem']:24s} {a['verdict']:10s} {where} ({a['found_by'] or '—'})")
    for e in doc["lines"]:
        if e["verdict"] == "wrong" or e.get("after_wrong"):
            out.append(f"line {e['line']}: {e['verdict']}: {e['message']}")
    counts = {v: sum(1 for e in doc["lines"] if e["verdict"] == v) for v in ("follows", "wrong", "unread", "label")}
    out.append(f"{len(doc['lines'])} display lines: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    out += [f"note: {n}" for n in doc["notes"]]
    if doc.get("pdf"):
        out.append(doc["pdf"]["message"])
    if page is not None:
        out.append(f"wrote {page}")
    return "\n".join(out)


def cmd_review(args) -> int:
    os.environ.setdefault("TORCH_DEVICE_BACKEND_AUTOLOAD", "0")  # grading runs on the CPU (see grading.cli)
    from checkers.grading.result import dumps
    from checkers.limits import check_limits
    from checkers.review.checking import review
    from checkers.review.document import read_submission
    from checkers.review.render import write_html

    check_limits(args.time_limit, args.memory_mb, args.workers)
    import torch

    torch.set_num_threads(1)  # the instances are tiny batches; threads only make forking workers unsafe
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None and not out_dir.is_dir():
        raise UsageError(f"--out {args.out!r} is not an existing folder")
    readings = load_readings(args.readings) if args.readings else ()
    submission = read_submission(args.submission)
    doc = review(submission, args.set, readings=readings, time_limit=args.time_limit, memory_mb=args.memory_mb,
                 workers=args.workers, max_lines=args.max_lines)
    pdf = None
    if out_dir is not None and not args.no_pdf and Path(args.submission).suffix.lower() in (".tex", ".ltx"):
        from checkers.review.pdf import build_pdf

        pdf = build_pdf(Path(args.submission), out_dir)
        doc["pdf"] = {"file": pdf.path.name if pdf.path else None, "message": pdf.message}
    page = write_html(doc, submission.lines, out_dir) if out_dir is not None else None
    if args.json:
        print(dumps(doc, indent=1))
    else:
        print(_summary(doc, page))
    sys.stdout.flush()
    return exit_code(doc)


def register(sub) -> None:
    """Add `review` to the proofcheck command line."""
    from checkers.review.checking import MAX_LINES

    p = sub.add_parser("review", help="review a whole submission: find and grade every answer, check every line",
                       description=__doc__.split("\n\n", 1)[1].replace("\n", " "))
    p.add_argument("submission", metavar="SUBMISSION", help="a .tex file, or Markdown with $/$$ math")
    p.add_argument("--set", required=True, metavar="SET", help="the problem set (e.g. hw6-2021)")
    p.add_argument("--out", metavar="DIR", help="write DIR/<name>-review.html")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--no-pdf", action="store_true",
                   help="with --out and a .tex file: do not typeset it (by default DIR/<name>.pdf is built with shell "
                        "escape off and no file outside its folder readable)")
    p.add_argument("--readings", metavar="FILE",
                   help="a JSON list of {line, problem, reading, alternatives, note}: the TA's readings of places a "
                        "scan garbled, graded as the answer to that problem")
    p.add_argument("--time-limit", type=float, default=DEFAULT_TIME_LIMIT,
                   help=f"seconds per line read or answer graded (default {DEFAULT_TIME_LIMIT:g})")
    p.add_argument("--memory-mb", type=int, default=DEFAULT_MEMORY_MB,
                   help=f"extra memory per worker in MiB (default {DEFAULT_MEMORY_MB})")
    p.add_argument("--workers", type=int, default=2, help="grading processes per problem (default 2)")
    p.add_argument("--max-lines", type=int, default=MAX_LINES,
                   help=f"display lines checked (default {MAX_LINES}); the rest are listed as not checked")
    p.set_defaults(func=cmd_review)
