"""The class analysis of a graded CSV: verdict counts, misconceptions ranked, clusters of equal wrong answers, a plot.

Clusters: every answer that was read is evaluated on the same instances as the reference (the
problem's instances, a fixed sample of PER_GROUP instances of each dimension and the first
PER_INSTANCE entries of each value), which gives each answer a vector of numbers, its fingerprint.
Wrong answers whose fingerprints agree (each number rounded to SIGNIFICANT digits, then clusters
whose vectors agree within the problem's tolerance merged; only the candidate pairs of the one entry
that separates the answers best are compared, so clustering is near linear: see `candidate_pairs`)
are the same function of the inputs,
however they are written: "37 answers equal 2 times the reference". A cluster is described by the
named misconception its members match when one does, else by the grader's generic diagnosis.
Fingerprints are computed in the grading workers (checkers.grading.isolation, `fingerprint=True`: the
grader returns the values it computed, `keep_values`), never from student text in this process. The page is one offline HTML file
(templates/class_analysis.html.j2, autoescaped, inline CSS, the plot as an embedded PNG).
"""

from __future__ import annotations

import base64
import io
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from checkers.grading.catalog import get_problem
from checkers.resources import templates_directory

PER_GROUP = 8  # instances of each dimension group in a fingerprint
PER_INSTANCE = 4  # entries of a vector or matrix value in a fingerprint
SIGNIFICANT = 8  # digits kept when fingerprints are bucketed
EXAMPLES = 3  # example answers shown per misconception, cluster or invalid reason
SHOWN_CHARS = 200  # an example answer is cut after this many characters
GENERIC = {"only-smallest-dimension", "undefined", "zero", "wrong-sign", "constant-factor", "constant-offset",
           "dimension-offset"}
TEMPLATES = templates_directory()


def sample(values) -> list[float]:
    """The fingerprint of values on the instances: PER_GROUP instances per group, PER_INSTANCE entries each."""
    out = []
    for v in values:
        flat = v.detach().reshape(v.shape[0], -1)[:PER_GROUP, :PER_INSTANCE]
        out.extend(float(x) for x in flat.flatten().tolist())
    return out


def fingerprint(problem_id: str, answer: str, *, limit: float, values: list | None = None) -> list[float] | None:
    """The answer's fingerprint (see `sample`), or None if it cannot be evaluated within `limit` seconds.

    Runs in a grading worker: `values` are the answer's values the grader returned with its result
    (grade_in_process(keep_values=True)); without them the answer is parsed by the grammar (never
    evaluated as code) and evaluated here.
    """
    from checkers.grading.equivalence import evaluate_on
    from checkers.grading.instances import instances_for
    from checkers.grading.parse import parse_answer
    from checkers.limits import time_limit

    problem = get_problem(problem_id)
    try:
        with time_limit(limit, "fingerprinting this answer"):
            if values is None:
                values = evaluate_on(instances_for(problem).groups, parse_answer(problem, answer))
            return sample(values)
    except Exception:  # an answer that cannot be evaluated again is left out of the clusters, nothing more
        return None


def fingerprint_task(problem_id: str, answer: str, *, limit: float) -> dict:
    """A worker's task (run as checkers.grading.isolation.Task(fingerprint_task, (answer,), limit)): {"fingerprint":
    [...] or None}."""
    return {"fingerprint": fingerprint(problem_id, answer, limit=limit)}


@dataclass
class Example:
    id: str
    answer: str
    message: str = ""


@dataclass
class Group:
    """A ranked entry of the page: a misconception, a cluster or an invalid reason, with examples."""

    label: str
    count: int
    examples: list[Example] = field(default_factory=list)
    kind: str = ""  # "named" or "generic" for misconceptions; the feedback id for clusters


@dataclass
class ClassAnalysis:
    problem: str
    title: str
    total: int
    counts: dict[str, int]
    misconceptions: list[Group]
    clusters: list[Group]
    unclustered: int  # wrong answers equal to no other wrong answer
    not_fingerprinted: int  # wrong answers that could not be evaluated again (left out of the clusters)
    invalid_reasons: list[Group]
    internal_errors: int
    plot_png: str = ""  # base64
    seconds: float = 0.0


def _short(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


KEYED_AT_ONCE = 4096  # fingerprints rounded per numpy call (bounds the temporary arrays)


def _rounded(prints: np.ndarray) -> np.ndarray:
    """Each number as a code equal for numbers equal to SIGNIFICANT digits (NaN, +inf, -inf each a code of its own)."""
    finite = np.isfinite(prints)
    x = np.where(finite, prints, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(np.where(x == 0, 1.0, x))))
        mantissa = np.round(x / 10.0 ** (exponent - SIGNIFICANT + 1))
    code = np.where(finite, mantissa * 1000 + exponent, np.where(np.isnan(prints), np.inf, np.sign(prints) * 1e300))
    return code + 0.0  # -0.0 becomes 0.0, so the bytes of equal codes are equal


def _keys(prints: np.ndarray) -> np.ndarray:
    """Bucket ids: rows equal after rounding each number to SIGNIFICANT digits (NaN and ±inf kept apart), numbered in
    order of first appearance; rounded a block of rows at a time and hashed, so memory stays near the input's."""
    ids: dict[bytes, int] = {}
    out = np.empty(len(prints), dtype=np.int64)
    for start in range(0, len(prints), KEYED_AT_ONCE):
        code = np.ascontiguousarray(_rounded(prints[start:start + KEYED_AT_ONCE]))
        for k, row in enumerate(code):
            out[start + k] = ids.setdefault(row.tobytes(), len(ids))
    return out


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Rows of `a` and `b` (same shape) equal within the tolerance in every entry: |a − b| ≤ atol + rtol·max(|a|, |b|)
    where both are finite, NaN with NaN, an infinity with the same infinity."""
    with np.errstate(invalid="ignore", over="ignore"):
        finite = np.isfinite(a) & np.isfinite(b)
        within = np.abs(a - b) <= atol + rtol * np.maximum(np.abs(a), np.abs(b))
        same = (np.isnan(a) & np.isnan(b)) | (np.isinf(a) & (a == b))
    return ((finite & within) | same).all(axis=1)


def _reach(values: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """How far above a finite `value` a value close to it can lie: if |x − y| ≤ atol + rtol·max(|x|, |y|) then
    |x − y| ≤ (atol + rtol·|x|) / (1 − rtol), from either side (a little slack for rounding)."""
    return (atol + rtol * np.abs(values)) / (1 - rtol) * (1 + 1e-6) + 1e-300


def _window_ends(sorted_values: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """For each position of a sorted finite column, one past the last position within its reach."""
    with np.errstate(over="ignore"):  # a reach past the largest float is infinite: the window runs to the end
        return np.searchsorted(sorted_values, sorted_values + _reach(sorted_values, rtol, atol), side="right")


def _partners_counted(column: np.ndarray, rtol: float, atol: float) -> int:
    """How many candidate pairs this column alone would give (pairs within reach, NaN with NaN, inf with inf)."""
    finite = np.sort(column[np.isfinite(column)])
    count = int((_window_ends(finite, rtol, atol) - np.arange(len(finite)) - 1).sum())
    for same in (np.isnan(column), column == np.inf, column == -np.inf):
        k = int(same.sum())
        count += k * (k - 1) // 2
    return count


def candidate_pairs(prints: np.ndarray, rtol: float, atol: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows (i, j) that may be close: close in the one entry (column) that leaves the fewest such pairs.

    Every pair that is close in all entries is close in that one, so no close pair is missed; the
    column is chosen by counting how many pairs each would give among COUNTED_ROWS evenly spaced rows
    (O(m log m) per column; the choice only affects speed, never the pairs found). Distinct
    answers differ on random instances, so the chosen column gives about as many pairs as there are
    answers (near linear); only answers that agree within the tolerance on every entry at once but
    are not equal in all of them would make it quadratic.
    """
    if not 0 <= rtol < 1:
        raise ValueError(f"rtol must be in [0, 1) (got {rtol})")
    n, width = prints.shape
    if n < 2 or width == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    sample = prints[np.linspace(0, n - 1, min(n, COUNTED_ROWS)).astype(np.int64)]  # evenly spaced rows
    counts = [_partners_counted(sample[:, c], rtol, atol) for c in range(width)]
    column = prints[:, int(np.argmin(counts))]
    lefts, rights = [], []
    finite = np.flatnonzero(np.isfinite(column))
    order = finite[np.argsort(column[finite], kind="stable")]
    values = column[order]
    per_position = _window_ends(values, rtol, atol) - np.arange(len(values)) - 1
    total = int(per_position.sum())
    if total:
        starts = np.repeat(np.arange(len(values)), per_position)
        offsets = np.arange(total) - np.repeat(np.cumsum(per_position) - per_position, per_position)
        lefts.append(order[starts])
        rights.append(order[starts + 1 + offsets])
    for same in (np.isnan(column), column == np.inf, column == -np.inf):
        members = np.flatnonzero(same)
        if len(members) > 1:
            i, j = np.triu_indices(len(members), 1)
            lefts.append(members[i])
            rights.append(members[j])
    if not lefts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(lefts), np.concatenate(rights)


COUNTED_ROWS = 4096  # rows on which the columns' candidate counts are compared
CHECKED_AT_ONCE = 1 << 16  # candidate pairs compared per numpy call (bounds the temporary arrays)


def cluster(prints: np.ndarray, rtol: float, atol: float) -> list[list[int]]:
    """Indices of rows that agree, largest group first: rows equal after rounding (buckets), then buckets joined when
    their first rows are close in every entry (`_close`). Near linear: buckets come from sorting, and only the
    candidate pairs of one column are compared (`candidate_pairs`)."""
    if len(prints) == 0:
        return []
    keys = _keys(prints)
    buckets: dict[int, list[int]] = defaultdict(list)
    for i, k in enumerate(keys.tolist()):
        buckets[k].append(i)
    groups = list(buckets.values())
    reps = prints[[g[0] for g in groups]]
    parent = list(range(len(groups)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    lefts, rights = candidate_pairs(reps, rtol, atol)
    for start in range(0, len(lefts), CHECKED_AT_ONCE):
        i, j = lefts[start:start + CHECKED_AT_ONCE], rights[start:start + CHECKED_AT_ONCE]
        close = _close(reps[i], reps[j], rtol, atol)
        for a, b in zip(i[close].tolist(), j[close].tolist()):
            parent[find(a)] = find(b)
    merged: dict[int, list[int]] = defaultdict(list)
    for gi, g in enumerate(groups):
        merged[find(gi)].extend(g)
    return sorted((sorted(g) for g in merged.values()), key=lambda g: (-len(g), g[0]))


def _describe(feedbacks: Iterable[tuple[tuple[str, str], ...]]) -> tuple[str, str]:
    """A cluster's description (from its members' feedback, (id, message) pairs): the named misconception its members
    match, else the generic diagnosis."""
    feedback = Counter()
    for pairs in feedbacks:
        for pair in pairs:
            feedback[pair] += 1
    named = [(n, k) for k, n in feedback.items() if k[0] not in GENERIC]
    generic = [(n, k) for k, n in feedback.items() if k[0] in GENERIC]
    if named:
        _, (fid, message) = max(named)
        return fid, f"the known mistake “{message}”"
    if generic:
        _, (fid, message) = max(generic)
        return fid, f"one another; the grader's diagnosis: {message}"
    return "", "one another (no known mistake or simple relation to the reference matches)"


def analyse(problem_id: str, entries: Iterable[tuple[object, dict, list | None]]) -> ClassAnalysis:
    """The analysis of graded rows: `entries` are (row with .id and .answer, result JSON, fingerprint or None).

    One pass over `entries` (a generator reading results back from a journal will do): what is kept per
    wrong answer is its row, its feedback (shared between answers that got the same) and its fingerprint.
    """
    began = time.perf_counter()
    problem = get_problem(problem_id)
    counts, total, internal_errors = Counter(), 0, 0
    mis: dict[tuple[str, str], Group] = {}
    reasons: dict[str, Group] = {}
    wrong: list[tuple[object, tuple, np.ndarray | None]] = []  # (row, feedback, fingerprint) of incorrect answers
    shared: dict[tuple, tuple] = {}
    for row, doc, fp in entries:
        total += 1
        verdict = doc["verdict"]
        counts[verdict] += 1
        internal_errors += bool(doc.get("internal_error"))
        if verdict == "incorrect":
            # Misconceptions: every feedback the grader gave an incorrect answer, named ones and generic diagnoses.
            feedback = tuple((fb["id"], fb["message"]) for fb in doc.get("feedback", []))
            feedback = shared.setdefault(feedback, feedback)
            for key in feedback:
                g = mis.setdefault(key, Group(key[1], 0, kind="generic" if key[0] in GENERIC else "named"))
                g.count += 1
                if len(g.examples) < EXAMPLES:
                    g.examples.append(Example(row.id, _short(row.answer)))
            wrong.append((row, feedback, None if fp is None else np.asarray(fp, dtype=np.float64)))
        elif verdict == "invalid":
            # Invalid answers by cause (the grader statement that refused them, or the limit they hit), each group
            # labelled with what its first answer was told.
            if doc.get("internal_error"):
                key = label = "internal error of the grader (a bug; please report it)"
            else:
                key, label = doc.get("cause") or doc["message"], doc["message"]
            g = reasons.setdefault(key, Group(label, 0))
            g.count += 1
            if len(g.examples) < EXAMPLES:
                g.examples.append(Example(row.id, _short(row.answer), _short(doc["message"])))
    misconceptions = sorted(mis.values(), key=lambda g: (g.kind != "named", -g.count, g.label))
    # Clusters of wrong answers equal to each other.
    lengths = Counter(len(fp) for _, _, fp in wrong if fp is not None)
    width = lengths.most_common(1)[0][0] if lengths else 0
    usable = [(row, feedback, fp) for row, feedback, fp in wrong if fp is not None and len(fp) == width]
    clusters, unclustered = [], 0
    if usable:
        prints = np.stack([fp for _, _, fp in usable])
        tol = problem.tolerance
        for members in cluster(prints, max(tol.rtol, 1e-9), tol.atol):
            if len(members) < 2:
                unclustered += 1
                continue
            fid, description = _describe(usable[i][1] for i in members)
            examples = [Example(usable[i][0].id, _short(usable[i][0].answer)) for i in members[:EXAMPLES]]
            clusters.append(Group(description, len(members), examples, kind=fid))
    analysis = ClassAnalysis(
        problem=problem.id, title=problem.title, total=total,
        counts={v: counts.get(v, 0) for v in ("correct", "incorrect", "invalid")},
        misconceptions=misconceptions, clusters=clusters, unclustered=unclustered,
        not_fingerprinted=len(wrong) - len(usable),
        invalid_reasons=sorted(reasons.values(), key=lambda g: (-g.count, g.label)),
        internal_errors=internal_errors)
    analysis.plot_png = plot(analysis)
    analysis.seconds = time.perf_counter() - began
    return analysis


def plot(analysis: ClassAnalysis) -> str:
    """A PNG (base64) with the verdict counts and the largest clusters of equal wrong answers."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2), dpi=100)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    verdicts = list(analysis.counts)
    left.bar(verdicts, [analysis.counts[v] for v in verdicts], color=["#2e7d32", "#c62828", "#757575"])
    left.set_title("verdicts")
    left.set_ylabel("answers")
    top = analysis.clusters[:8][::-1]
    if top:
        right.barh([f"#{len(top) - i}" for i in range(len(top))], [c.count for c in top], color="#c62828")
        right.set_title("largest clusters of equal wrong answers")
        right.set_xlabel("answers")
    else:
        right.text(0.5, 0.5, "no two wrong answers are equal", ha="center", va="center")
        right.set_axis_off()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _visible(value):
    """What the page shows of a value: text with control characters (NUL, ESC, ...) and bytes that were not UTF-8
    written as \\xNN, before autoescaping (HTML forbids them, and a raw ESC in a saved page reaches a terminal)."""
    if not isinstance(value, str):
        return value
    from checkers.grading.bulk import escape_bytes
    from checkers.grading.result import escape_controls

    return escape_controls(escape_bytes(value))


def render(analysis: ClassAnalysis) -> str:
    """The HTML page (templates/class_analysis.html.j2, autoescaped; every value through `_visible` first)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, finalize=_visible)
    return env.get_template("class_analysis.html.j2").render(a=analysis)


def write_class_analysis(problem_id: str, entries: Iterable[tuple[object, dict, list | None]],
                         path: str | Path) -> ClassAnalysis:
    """Analyse the graded rows and write the page to `path` atomically (`-`: standard output); returns the analysis."""
    from checkers.output_files import STDOUT, write_text_atomic

    analysis = analyse(problem_id, entries)
    page = render(analysis)
    if path == STDOUT:
        sys.stdout.write(page)
        sys.stdout.flush()
    else:
        write_text_atomic(Path(path), page)
    return analysis
