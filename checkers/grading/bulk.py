"""Bulk grading of a CSV of answers: worker pool, resumable journal, output CSV and Gradescope results.json.

Input: a CSV with a header row and columns `id` and `answer` (standard quoting, so answers may hold
commas, quotes and newlines). Every graded answer is appended at once to a journal next to the output
(`OUT.partial.jsonl`, one JSON object per line, keyed by row, id and a hash of the answer); a rerun
of the same command skips what the journal already holds, so an interrupted run loses nothing.
When every answer is graded the output CSV (`id,verdict,score,message,feedback,counterexample`, in
input order) and the optional Gradescope file are written atomically and the journal is removed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from checkers.errors import UsageError
from checkers.grading.catalog import get_problem
from checkers.grading.grader import DEFAULT_TIME_LIMIT
from checkers.grading.isolation import DEFAULT_MEMORY_MB, GradingPool
from checkers.grading.parse import MAX_LENGTH
from checkers.grading.result import SCORES, invalid

OUTPUT_COLUMNS = ("id", "verdict", "score", "message", "feedback", "counterexample")


@dataclass
class Row:
    number: int  # 1-based data row (the header is row 0)
    id: str
    answer: str

    @property
    def key(self) -> str:
        digest = hashlib.sha256(self.answer.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"{self.number}:{self.id}:{digest}"


@dataclass
class BulkSummary:
    """What a bulk run did: counts per verdict, answers graded now vs taken from the journal, timing."""

    total: int
    graded_now: int
    resumed: int
    counts: Counter
    seconds: float
    out: Path
    gradescope: Path | None
    restarts: int

    @property
    def rate(self) -> float:
        return self.graded_now / self.seconds if self.seconds > 0 else 0.0


def read_answers(path: Path) -> list[Row]:
    """The rows of an `id,answer` CSV; UsageError naming the problem if the file is not one."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise UsageError(f"{path} is empty; expected a header row `id,answer`")
            names = [h.strip().lower() for h in header]
            if "id" not in names or "answer" not in names:
                raise UsageError(f"{path} has columns {header}; expected a header row with `id` and `answer`")
            i_id, i_answer = names.index("id"), names.index("answer")
            rows = []
            for number, record in enumerate(reader, start=1):
                if not record:
                    continue
                get = lambda i: record[i] if i < len(record) else ""
                rows.append(Row(number, get(i_id), get(i_answer)))
            return rows
    except FileNotFoundError:
        raise UsageError(f"no such file: {path}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"{path} is not a readable UTF-8 CSV file: {exc}") from None


def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


def load_journal(path: Path, rows: list[Row]) -> dict[str, dict]:
    """Results already graded for these rows (a torn last line from a crash is ignored)."""
    wanted = {r.key for r in rows}
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if entry.get("key") in wanted:
                done[entry["key"]] = entry["result"]
    return done


def _score_text(verdict: str) -> str:
    score = SCORES[verdict]
    return "" if score is None else f"{score:g}"


def _write_atomic(path: Path, write: Callable) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        write(f)
    os.replace(tmp, path)


def write_csv(path: Path, rows: list[Row], results: dict[str, dict]) -> None:
    def write(f):
        w = csv.writer(f)
        w.writerow(OUTPUT_COLUMNS)
        for r in rows:
            doc = results[r.key]
            w.writerow([r.id, doc["verdict"], _score_text(doc["verdict"]), doc["message"],
                        "; ".join(fb["message"] for fb in doc.get("feedback", [])),
                        json.dumps(doc["counterexample"]) if doc.get("counterexample") else ""])

    _write_atomic(path, write)


def gradescope_document(problem_id: str, rows: list[Row], results: dict[str, dict]) -> dict:
    """A Gradescope results.json: one test per answer (score 1 correct, 0 otherwise; invalid says 'not graded')."""
    tests = []
    counts = Counter()
    for r in rows:
        doc = results[r.key]
        counts[doc["verdict"]] += 1
        score = SCORES[doc["verdict"]] or 0.0
        output = doc["message"] if doc["verdict"] != "invalid" else f"not graded: {doc['message']}"
        tests.append({"name": f"{problem_id} / {r.id}", "number": str(r.number), "score": score, "max_score": 1.0,
                      "status": "passed" if doc["verdict"] == "correct" else "failed", "output": output,
                      "extra_data": {"id": r.id, "verdict": doc["verdict"]}})
    return {
        "score": float(sum(t["score"] for t in tests)),
        "output": f"{problem_id}: {len(rows)} answers, {counts['correct']} correct, {counts['incorrect']} incorrect, "
                  f"{counts['invalid']} invalid (not graded)",
        "visibility": "after_published",
        "tests": tests,
        "extra_data": {"problem": problem_id},
    }


def grade_csv(problem_id: str, csv_path: str | Path, out: str | Path | None = None,
              gradescope: str | Path | None = None, *, workers: int | None = None,
              time_limit: float = DEFAULT_TIME_LIMIT, memory_mb: int = DEFAULT_MEMORY_MB, symbolic: bool = False,
              restart: bool = False, progress: bool | None = None,
              on_result: Callable[[Row, dict], None] | None = None) -> BulkSummary:
    """Grade every answer of `csv_path`; resumable; returns the summary (files written when complete)."""
    problem = get_problem(problem_id)
    csv_path = Path(csv_path)
    out = Path(out) if out else csv_path.with_name(csv_path.stem + "-graded.csv")
    rows = read_answers(csv_path)
    journal = journal_path(out)
    if restart and journal.exists():
        journal.unlink()
    results = load_journal(journal, rows)
    resumed = len(results)
    todo = [r for r in rows if r.key not in results]
    started = time.perf_counter()
    by_key = {r.key: r for r in rows}
    show = sys.stderr.isatty() if progress is None else progress
    restarts = 0
    with open(journal, "a", encoding="utf-8") as log, _Progress(len(rows), resumed, show, problem.id) as bar:
        def record(key: str, doc: dict) -> None:
            results[key] = doc
            log.write(json.dumps({"key": key, "result": doc}) + "\n")
            log.flush()
            bar.advance(doc["verdict"])
            if on_result is not None:
                on_result(by_key[key], doc)

        short = []
        for r in todo:
            if len(r.answer) > MAX_LENGTH:  # refused here: no need to ship it to a worker
                record(r.key, invalid(problem.id, r.answer[:200] + "…", f"the answer is {len(r.answer)} characters "
                                      f"long; the limit is {MAX_LENGTH}").to_json())
            else:
                short.append(r)
        if short:
            with GradingPool(problem, workers=workers, time_limit=time_limit, memory_mb=memory_mb,
                             symbolic=symbolic) as pool:
                for key, doc in pool.map((r.key, r.answer) for r in short):
                    record(key, doc)
                restarts = pool.restarts
    seconds = time.perf_counter() - started
    write_csv(out, rows, results)
    gs_path = Path(gradescope) if gradescope else None
    if gs_path is not None:
        doc = gradescope_document(problem.id, rows, results)
        _write_atomic(gs_path, lambda f: json.dump(doc, f, indent=1))
    journal.unlink(missing_ok=True)
    counts = Counter(results[r.key]["verdict"] for r in rows)
    return BulkSummary(total=len(rows), graded_now=len(todo), resumed=resumed, counts=counts, seconds=seconds, out=out,
                       gradescope=gs_path, restarts=restarts)


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
