"""Bulk grading of a CSV of answers: checked paths and options, worker pool, keyed resumable journal, safe output CSV.

Input: a CSV with a header row and columns `id` and `answer` (standard quoting, so answers may hold
commas, quotes and newlines; read strictly, so a quote left open is an error naming its line, never a
cell that swallows the rest of the file), at most MAX_INPUT_BYTES (checked before it is read). A row
whose answer is over-long or not UTF-8, or whose cells do not match the header, is that row's `invalid`
verdict, naming its line; every other row is graded.
Every graded answer is appended at once to a journal next to the output (`OUT.partial.jsonl`: a header
line with the problem, the grader's options and version, then one JSON object per answer keyed by
row, id and a hash of the answer); a rerun of the same command skips what the journal holds, so an
interrupted run loses nothing, and a journal written for another problem, other options or another
grader version is refused (naming what differs) unless `restart`. When every answer is graded the
output CSV (`id,verdict,score,message,feedback,counterexample`, in input order; cells a spreadsheet
would run as formulas neutralised, control characters escaped) and the optional class analysis are
written atomically (checkers.output_files: a fresh mkstemp file renamed over the target, `-` for standard
output) and the journal is removed. Outputs that would overwrite the input or each other, or that are not
regular files, are refused before any work.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys
import time
from array import array
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from checkers.errors import UsageError
from checkers.grading.catalog import declaring_file, get_problem
from checkers.grading.grader import DEFAULT_TIME_LIMIT
from checkers.grading.isolation import DEFAULT_MEMORY_MB, Done, GradingPool, Task, check_limits
from checkers.grading.parse import MAX_LENGTH
from checkers.grading.problem import Problem
from checkers.grading.result import SCORES, dumps, escape_controls, invalid
from checkers.output_files import STDOUT, check_distinct, check_journal, check_target, open_journal, write_atomic

OUTPUT_COLUMNS = ("id", "verdict", "score", "message", "feedback", "counterexample")
MAX_INPUT_BYTES = 64 * 2 ** 20  # a class of 1,000 students writing 2,000 characters each is 2 MB
KEEP_CHARS = 200  # what is kept (and echoed) of an answer that is refused for its length
# Rows per run. The grading process keeps each row (its id, answer, line and hash: about 200 bytes besides the
# answer's text) and 9 bytes of ledger; results stay in the journal on disk. 100,000 rows of short answers peak at
# about 50 MB above the process's start-up size (measured by benchmarks/bulk_memory_bench.py).
MAX_ROWS = 100_000
VERDICT_CODES = {"correct": 1, "incorrect": 2, "invalid": 3}
VERDICTS_BY_CODE = {code: verdict for verdict, code in VERDICT_CODES.items()}
INTERNAL_FLAG, PRINT_FLAG = 4, 8
JOURNAL_FORMAT = "proofcheck-grade-journal/2"
# The modules whose code decides a verdict or its wording: a journal written by other versions of them is not reused.
GRADING_MODULES = ("build", "catalog", "equivalence", "feedback", "grader", "grammar", "instances", "lexer", "parse",
                   "problem", "result", "wording")
ENGINE_MODULES = ("evaluate", "kinds", "tolerances", "notation")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell starting with these as a formula
_SURROGATE = re.compile(r"[\udc80-\udcff]")
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(slots=True)
class Row:
    """One answer of the CSV (slots: about 200 bytes besides the answer's text, see MAX_ROWS)."""

    number: int  # 1-based data row (the header is row 0)
    id: str
    answer: str
    line: int = 0  # line of the file where the row starts
    digest: str = ""  # sha256 of the answer as read (the answer kept may be shortened)
    refused: str | None = None  # why the row is invalid before grading (over-long, not UTF-8)
    refused_cause: str = ""  # the kind of refusal, the same for every row refused the same way (see result.cause)

    def __post_init__(self):
        if not self.digest:
            self.digest = hashlib.sha256(self.answer.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def key(self) -> str:
        return f"{self.number}:{self.id}:{self.digest}"


@dataclass
class BulkSummary:
    """What a bulk run did: counts per verdict, answers graded now vs taken from the journal, timing."""

    total: int
    graded_now: int
    resumed: int
    counts: Counter
    seconds: float
    out: Path | str  # "-" for standard output
    restarts: int
    internal_errors: list[str] = field(default_factory=list)  # ids of answers that hit a grader bug
    analysis: Path | str | None = None
    analysis_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.graded_now / self.seconds if self.seconds > 0 else 0.0


class Ledger:
    """Where each row's result lies in the journal and what its verdict is: 9 bytes a row, not the result itself.

    `offsets[i]` is the byte offset of row i's line in the journal (-1 until it is graded); `flags[i]`
    holds its verdict code, whether it hit an internal error and whether the line carries a fingerprint.
    The results are read back from the journal, one at a time, when the outputs are written.
    """

    def __init__(self, count: int):
        self.offsets = array("q", [-1]) * count
        self.flags = bytearray(count)

    @staticmethod
    def flags_of(doc: dict, has_print: bool) -> int:
        return (VERDICT_CODES[doc["verdict"]] | (INTERNAL_FLAG if doc.get("internal_error") else 0)
                | (PRINT_FLAG if has_print else 0))

    def set(self, index: int, offset: int, flags: int) -> None:
        self.offsets[index], self.flags[index] = offset, flags

    def graded(self, index: int) -> bool:
        return self.offsets[index] >= 0

    def verdict(self, index: int) -> str:
        return VERDICTS_BY_CODE[self.flags[index] & 3]

    def internal(self, index: int) -> bool:
        return bool(self.flags[index] & INTERNAL_FLAG)

    def has_print(self, index: int) -> bool:
        return bool(self.flags[index] & PRINT_FLAG)


def escape_bytes(text: str) -> str:
    """Undecodable bytes (read as surrogates) written as \\xNN; any other lone surrogate as \\uNNNN."""
    text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def not_utf8(answer: str, where: str = "") -> str | None:
    """Why `answer` is refused if it holds bytes that are not UTF-8 (read as surrogates), else None."""
    bad = _LONE_SURROGATE.search(answer)
    if bad is None:
        return None
    code = ord(bad.group())
    what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"a lone surrogate U+{code:04X}"
    return f"{where}the answer is not UTF-8 text ({what} at character {bad.start() + 1}); save it as UTF-8"


def _check_input(path: Path) -> int:
    if not path.exists():
        raise UsageError(f"no such file: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a folder; --csv needs a CSV file with columns id,answer")
    size = path.stat().st_size
    if size > MAX_INPUT_BYTES:
        raise UsageError(f"{path} is {size:,} bytes; the limit is {MAX_INPUT_BYTES:,} bytes "
                         f"(split the class into several files)")
    return size


def _csv_error(path: Path, start: int, line: int, exc: csv.Error) -> UsageError:
    """The one-line error for a file the CSV reader gave up on: `start` is the line where the record it was reading
    begins, `line` where the reader stopped."""
    text = str(exc)
    if "unexpected end of data" in text:
        return UsageError(f"{path}: line {start}: a quote opened in this row is never closed, so the rest of the file "
                          f"would be read as one answer; close it (a quote inside an answer is written twice: \"\")")
    if "expected after" in text:
        return UsageError(f"{path}: line {line}: text after the closing quote of a cell; a cell that starts with a "
                          f"quote must end with one (a quote inside an answer is written twice: \"\")")
    return UsageError(f"{path} is not a readable CSV file: line {line}: {text}")


def read_answers(path: str | Path) -> list[Row]:
    """The rows of an `id,answer` CSV; UsageError naming the problem (and its line) if the file is not one.

    The size is checked before reading. The file is read strictly: a quote left open or text after a
    closing quote is an error naming the line (never a cell that swallows the rows after it). Rows
    whose answer is longer than the grader's limit, holds bytes that are not UTF-8, or whose number of
    cells differs from the header's (an unquoted comma, a missing answer) are kept with `refused` set:
    their verdict is `invalid`, naming the line.
    """
    path = Path(path)
    _check_input(path)
    csv.field_size_limit(max(csv.field_size_limit(), MAX_INPUT_BYTES + 1))  # our own caps apply per row below
    line = 1
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            reader = csv.reader(f, strict=True)
            header = next(reader, None)
            if header is None:
                raise UsageError(f"{path} is empty; expected a header row `id,answer`")
            names = [escape_bytes(h).strip().lower() for h in header]
            if "id" not in names or "answer" not in names:
                raise UsageError(f"{path} has columns {[escape_bytes(h) for h in header]}; expected a header row "
                                 f"with `id` and `answer`")
            i_id, i_answer = names.index("id"), names.index("answer")
            rows = []
            line = reader.line_num + 1
            for number, record in enumerate(reader, start=1):
                start, line = line, reader.line_num + 1
                if not record:
                    continue
                if len(rows) == MAX_ROWS:
                    raise UsageError(f"{path} has more than {MAX_ROWS:,} answers (line {start} is answer "
                                     f"{MAX_ROWS + 1:,}); the limit is {MAX_ROWS:,} rows a run, which bounds the "
                                     f"grader's memory (about 200 bytes a row besides the answers' text): split the "
                                     f"class into several files")
                get = lambda i: record[i] if i < len(record) else ""
                ident, answer = escape_bytes(get(i_id)), get(i_answer)
                row = Row(number, ident, answer, line=start)
                bad = _LONE_SURROGATE.search(answer)
                if len(record) > len(header):
                    row.refused = (f"line {start} has {len(record)} cells but the header has {len(header)}: an answer "
                                   f"that holds a comma must be in double quotes")
                    row.refused_cause = "row with more cells than the header"
                    row.answer = escape_bytes(",".join(record[i_answer:]))[:KEEP_CHARS]
                elif len(record) <= i_answer:
                    row.refused = f"line {start} has no answer (it has {len(record)} of the header's {len(header)} cells)"
                    row.refused_cause = "row without an answer"
                elif bad:
                    row.refused = not_utf8(answer, f"line {start}: ").replace("save it as", "save the file as")
                    row.refused_cause = "not UTF-8"
                    row.answer = escape_bytes(answer[:KEEP_CHARS])
                elif len(answer) > MAX_LENGTH:
                    row.refused = (f"line {start}: the answer is {len(answer)} characters long; the limit is "
                                   f"{MAX_LENGTH}")
                    row.refused_cause = "answer too long"
                    row.answer = answer[:KEEP_CHARS] + "…"
                rows.append(row)
            return rows
    except csv.Error as exc:  # `line` is where the record the reader gave up on starts
        raise _csv_error(path, line, reader.line_num, exc) from None


def journal_path(out: Path | str, csv_path: Path | None = None) -> Path:
    """The journal of a run writing `out` (next to it; for standard output, next to the default output of `csv_path`)."""
    if out == STDOUT:
        out = default_out(Path(csv_path))
    out = Path(out)
    return out.with_name(out.name + ".partial.jsonl")


def default_out(csv_path: Path) -> Path:
    return csv_path.with_name(csv_path.stem + "-graded.csv")


def check_paths(csv_path: Path, out: Path | str, analysis: Path | str | None = None) -> None:
    """UsageError before any work when a path is unusable: an output (or the journal) that is the input, another
    output, a folder, not a regular file (a device, a pipe: `-` is standard output), or in a missing or read-only
    folder; a leftover journal that is a link."""
    _check_input(csv_path)
    if out == STDOUT and analysis == STDOUT:
        raise UsageError("--out and --analysis cannot both be standard output (-); give one a file name")
    journal = journal_path(out, csv_path)
    outputs = [(o, Path(p)) for o, p in (("--out", out), ("--analysis", analysis)) if p is not None and p != STDOUT]
    outputs.append(("the journal", journal))
    check_distinct([("the input file", csv_path)], outputs)
    for option, path in outputs[:-1]:
        check_target(path, option, stdout_allowed=True)
    check_journal(journal)


def grader_version(problem: Problem) -> str:
    """proofcheck's version and a hash of the code that decides a verdict (grading modules, engine, the proof)."""
    from importlib import metadata

    try:
        version = metadata.version("proofcheck")
    except metadata.PackageNotFoundError:
        version = "0"
    digest = hashlib.sha256()
    here = Path(__file__).resolve().parent
    files = [here / f"{m}.py" for m in GRADING_MODULES] + [here.parent / f"{m}.py" for m in ENGINE_MODULES]
    declared = declaring_file(problem)
    if declared is not None:
        files.append(declared)
    for f in files:
        if f.exists():
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
    return f"{version}+{digest.hexdigest()[:12]}"


def journal_header(problem: Problem, options: dict) -> dict:
    return {"journal": JOURNAL_FORMAT, "problem": problem.id, "options": options, "grader": grader_version(problem)}


def _describe_options(name: str, value) -> str:
    return {"time_limit": f"time limit {value:g} s", "memory_mb": f"memory limit {value} MiB",
            "symbolic": f"symbolic confirmation {'on' if value else 'off'}"}.get(name, f"{name} {value}")


def _differences(found: dict, wanted: dict) -> list[str]:
    out = []
    if found.get("problem") != wanted["problem"]:
        out.append(f"problem {found.get('problem')} (now {wanted['problem']})")
    old = found.get("options", {})
    for name, value in wanted["options"].items():
        if old.get(name) != value:
            before = _describe_options(name, old[name]) if name in old else f"{name} unset"
            out.append(f"{before} (now {_describe_options(name, value).split(' ', 2)[-1]})")
    if found.get("grader") != wanted["grader"]:
        out.append(f"grader version {found.get('grader')} (now {wanted['grader']})")
    return out


def load_journal(path: Path, rows: list[Row], header: dict) -> dict[str, tuple[int, int]]:
    """Where the results already graded for these rows are: row key -> (byte offset of its journal line, ledger
    flags); UsageError if the journal is for another run. A torn last line from a crash is ignored."""
    wanted = {r.key for r in rows}
    done: dict[str, tuple[int, int]] = {}
    if not path.exists() or path.stat().st_size == 0:
        return done
    with open(path, "rb") as f:
        first = f.readline()
        try:
            found = json.loads(first)
        except (json.JSONDecodeError, UnicodeDecodeError):
            found = {}
        if not isinstance(found, dict) or found.get("journal") != JOURNAL_FORMAT:
            raise UsageError(f"{path} is the journal of an interrupted run by an older proofcheck (no record of its "
                             f"problem and options), so its grades cannot be trusted; add --restart to discard it")
        differences = _differences(found, header)
        if differences:
            raise UsageError(f"{path} is the journal of an interrupted run with {'; '.join(differences)}: rerun that "
                             f"command to finish it, or add --restart to discard it and start over")
        offset = len(first)
        for line in f:
            here, offset = offset, offset + len(line)
            try:
                entry = json.loads(line)
                key, doc = entry.get("key"), entry["result"]
                if key in wanted:
                    done[key] = (here, Ledger.flags_of(doc, entry.get("fingerprint") is not None))
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError):
                continue
    return done


def _journal_entries(journal: Path, ledger: Ledger, indices: Iterable[int]) -> Iterator[dict]:
    """The journal entries ({"key", "result", "fingerprint"?}) of these rows, read back one at a time."""
    with open(journal, "rb") as f:
        for i in indices:
            f.seek(ledger.offsets[i])
            yield json.loads(f.readline())


def _score_text(verdict: str) -> str:
    score = SCORES[verdict]
    return "" if score is None else f"{score:g}"


def safe_cell(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula (a leading ' on =, +, -, @, tab, CR) with control characters
    written as \\xNN (newlines kept)."""
    text = escape_controls(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def write_csv(path: Path | str, rows: list[Row], docs: Iterable[dict]) -> None:
    """The graded CSV (to standard output for `-`), written atomically; `docs` are the rows' results in order."""
    def write(f):
        w = csv.writer(f)
        w.writerow(OUTPUT_COLUMNS)
        for r, doc in zip(rows, docs, strict=True):
            w.writerow([safe_cell(r.id), doc["verdict"], _score_text(doc["verdict"]), safe_cell(doc["message"]),
                        safe_cell("; ".join(fb["message"] for fb in doc.get("feedback", []))),
                        safe_cell(dumps(doc["counterexample"], ensure_ascii=False)) if doc.get("counterexample")
                        else ""])

    if path == STDOUT:
        write(sys.stdout)
        sys.stdout.flush()
    else:
        write_atomic(Path(path), write)


def grade_csv(problem_id: str, csv_path: str | Path, out: str | Path | None = None, *,
              analysis: str | Path | None = None, workers: int | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
              memory_mb: int = DEFAULT_MEMORY_MB, symbolic: bool = False, restart: bool = False,
              progress: bool | None = None, on_result: Callable[[Row, dict], None] | None = None) -> BulkSummary:
    """Grade every answer of `csv_path`; resumable; returns the summary (files written when complete).

    `analysis`: also write the class analysis page (checkers.grading.analysis) to this path.
    """
    problem = get_problem(problem_id)
    check_limits(time_limit, memory_mb, workers)
    csv_path = Path(csv_path)
    out = STDOUT if out == STDOUT else Path(out) if out else default_out(csv_path)
    analysis = STDOUT if analysis == STDOUT else Path(analysis) if analysis else None
    check_paths(csv_path, out, analysis)
    rows = read_answers(csv_path)
    journal = journal_path(out, csv_path)
    options = {"time_limit": float(time_limit), "memory_mb": int(memory_mb), "symbolic": bool(symbolic)}
    header = journal_header(problem, options)
    if restart and journal.exists():
        journal.unlink()
    ledger = Ledger(len(rows))
    done = load_journal(journal, rows, header)
    for i, r in enumerate(rows):
        if r.key in done:
            ledger.set(i, *done[r.key])
    del done
    resumed = sum(1 for i in range(len(rows)) if ledger.graded(i))
    graded_now = len(rows) - resumed
    started = time.perf_counter()
    show = sys.stderr.isatty() if progress is None else progress
    restarts = 0
    with open_journal(journal) as log, _Progress(len(rows), resumed, show, problem.id) as bar:
        if log.tell() == 0:
            log.write((dumps(header) + "\n").encode("utf-8"))
        elif not _ends_with_newline(journal):  # a line torn by a crash: the next entry starts on a line of its own
            log.write(b"\n")
        log.flush()

        def record(index: int, doc: dict) -> None:
            fingerprint = doc.pop("fingerprint", None)
            entry = {"key": rows[index].key, "result": doc}
            if fingerprint is not None:
                entry["fingerprint"] = fingerprint
            offset = log.tell()
            log.write((dumps(entry) + "\n").encode("utf-8"))
            log.flush()
            ledger.set(index, offset, Ledger.flags_of(doc, fingerprint is not None))
            bar.advance(doc["verdict"])
            if on_result is not None:
                on_result(rows[index], doc)

        for i, r in enumerate(rows):
            if r.refused and not ledger.graded(i):  # refused here: no need to ship it to a worker
                record(i, invalid(problem.id, r.answer, r.refused, cause=r.refused_cause).to_json())
        if any(not ledger.graded(i) for i in range(len(rows))):
            with GradingPool(problem, workers=workers, time_limit=time_limit, memory_mb=memory_mb,
                             symbolic=symbolic, fingerprint=analysis is not None) as pool:
                for index, doc in pool.map((i, r.answer) for i, r in enumerate(rows) if not ledger.graded(i)):
                    record(index, doc)
                restarts = pool.restarts
        seconds = time.perf_counter() - started
        if analysis is not None:
            _fill_fingerprints(problem, rows, ledger, journal, log, workers=workers, time_limit=time_limit,
                               memory_mb=memory_mb)
    write_csv(out, rows, (entry["result"] for entry in _journal_entries(journal, ledger, range(len(rows)))))
    counts = Counter(ledger.verdict(i) for i in range(len(rows)))
    summary = BulkSummary(total=len(rows), graded_now=graded_now, resumed=resumed, counts=counts, seconds=seconds,
                          out=out, restarts=restarts,
                          internal_errors=[r.id for i, r in enumerate(rows) if ledger.internal(i)])
    if analysis is not None:
        began = time.perf_counter()
        from checkers.grading.analysis import write_class_analysis

        entries = ((rows[i], entry["result"], entry.get("fingerprint"))
                   for i, entry in enumerate(_journal_entries(journal, ledger, range(len(rows)))))
        write_class_analysis(problem.id, entries, analysis)
        summary.analysis, summary.analysis_seconds = analysis, time.perf_counter() - began
    journal.unlink(missing_ok=True)
    return summary


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, 2)
        return f.read(1) == b"\n"


def _fill_fingerprints(problem: Problem, rows: list[Row], ledger: Ledger, journal: Path, log, **pool_options) -> None:
    """Fingerprints for graded rows taken from a journal written without --analysis (evaluated in workers): each is
    appended to the journal as the row's entry, with its result."""
    from checkers.grading.analysis import fingerprint_task

    missing = [i for i in range(len(rows)) if not ledger.has_print(i) and ledger.verdict(i) != "invalid"]
    if not missing:
        return
    limit = pool_options.pop("time_limit")
    with GradingPool(problem, time_limit=limit, **pool_options) as pool:
        tasks = ((i, Task(fingerprint_task, (rows[i].answer,), limit)) for i in missing)
        for index, outcome in pool.run(tasks):
            if not isinstance(outcome, Done) or outcome.value["fingerprint"] is None:
                continue  # a stopped worker, or an answer that cannot be evaluated again: left out of the clusters
            doc = outcome.value
            (entry,) = _journal_entries(journal, ledger, [index])
            entry["fingerprint"] = doc["fingerprint"]
            offset = log.tell()
            log.write((dumps(entry) + "\n").encode("utf-8"))
            log.flush()
            ledger.set(index, offset, ledger.flags[index] | PRINT_FLAG)


class _Progress:
    """A rich progress bar on a terminal (refreshed from this thread only, so forking workers stays safe)."""

    def __init__(self, total: int, done: int, enabled: bool, label: str):
        self.total, self.done, self.enabled, self.label = total, done, enabled, label
        self.counts = Counter()
        self.last = 0.0

    def __enter__(self):
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[counts]}"), TimeRemainingColumn(), auto_refresh=False,
                                     transient=False)
            self.progress.start()
            self.task = self.progress.add_task(f"grading {self.label}", total=self.total, completed=self.done,
                                               counts="")
        return self

    def advance(self, verdict: str) -> None:
        self.counts[verdict] += 1
        if not self.enabled:
            return
        self.progress.advance(self.task)
        now = time.monotonic()
        if now - self.last > 0.1:
            self.last = now
            self._show()

    def _show(self) -> None:
        c = self.counts
        self.progress.update(self.task, counts=f"✓ {c['correct']}  ✗ {c['incorrect']}  ? {c['invalid']}")
        self.progress.refresh()

    def __exit__(self, *exc):
        if self.enabled:
            self._show()
            self.progress.stop()
