"""The review page: DIR/<name>-review.html, one offline file (inline CSS, no script, nothing fetched).

The page shows the submission as written, line by line, each display line marked in the margin
(✓ follows, ✗ wrong, · label, unread or not compared) with its message, each answer with its verdict,
and a score table per problem on top. The template (`templates/review.html.j2`) autoescapes every value:
the student's text is data, never markup.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from checkers.resources import templates_directory

MAX_SHOWN_LINES = 20000  # lines of the submission printed on the page; the rest are summarised
MAX_SHOWN_CHARACTERS = 400  # characters of one line printed; the rest are elided
MARKS = {"follows": "✓", "wrong": "✗", "unread": "·", "label": "·"}


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(templates_directory()), autoescape=True, trim_blocks=True,
                              lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def _mark(entry: dict) -> str:
    if entry["verdict"] == "follows" and not entry.get("checked"):
        return "·"  # read, but nothing before it to compare with
    return MARKS[entry["verdict"]]


def _score_rows(doc: dict) -> list[dict]:
    rows = []
    by_number: dict[str, list[dict]] = {}
    for answer in doc["answers"]:
        by_number.setdefault(answer["set_problem"], []).append(answer)
    for problem in doc["problems"]:
        answers = by_number.get(f"P{problem['problem']}", [])
        correct = sum(1 for a in answers if a["verdict"] == "correct")
        rows.append({"problem": f"P{problem['problem']}", "answers": answers, "correct": correct,
                     "total": len(answers)})
    return rows


def render_html(doc: dict, lines: list[str]) -> str:
    """The review page for `doc` (from checkers.review.review) over the submission's `lines`."""
    marks = {e["line"]: {**e, "mark": _mark(e)} for e in doc["lines"]}
    answers_at: dict[int, list[dict]] = {}
    for a in doc["answers"]:
        if a["line"] is not None:
            answers_at.setdefault(a["line"], []).append(a)
    shown = []
    for number, text in enumerate(lines[:MAX_SHOWN_LINES], start=1):
        if len(text) > MAX_SHOWN_CHARACTERS:
            text = text[:MAX_SHOWN_CHARACTERS] + f" … ({len(text) - MAX_SHOWN_CHARACTERS:,} more characters)"
        shown.append({"number": number, "text": text, "entry": marks.get(number),
                      "answers": answers_at.get(number, [])})
    gradeable = {f"P{p['problem']}" for p in doc["problems"]}
    for_ta = sorted({s["problem"] for s in doc["sections"] if s["problem"] is not None
                     and f"P{s['problem']}" not in gradeable})
    counts = {v: sum(1 for e in doc["lines"] if e["verdict"] == v) for v in ("follows", "wrong", "unread", "label")}
    return environment().get_template("review.html.j2").render(
        doc=doc, lines=shown, hidden=max(0, len(lines) - MAX_SHOWN_LINES), scores=_score_rows(doc), for_ta=for_ta,
        counts=counts, name=Path(doc["file"]).name, pdf=doc.get("pdf"))


def write_html(doc: dict, lines: list[str], out_dir: str | Path) -> Path:
    """Write DIR/<name>-review.html and return its path."""
    out_dir = Path(out_dir)
    path = out_dir / f"{Path(doc['file']).stem}-review.html"
    path.write_text(render_html(doc, lines), encoding="utf-8")
    return path
