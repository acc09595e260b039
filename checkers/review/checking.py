r"""Reviewing a whole submission: every derivation link checked, every gradeable answer found and graded.

All reading, comparing and grading goes through the grader's own functions, run in its killable
workers (`checkers.grading.isolation.GradingPool`, one pool for the whole review; the jobs are in
`tasks.py`): each link is read by `steps.read_line_task`, each step compared by `steps.step_task`,
each answer graded by `grade_in_process` — every one under its own time limit and memory limit, so a
line that hangs, explodes or crashes costs only its own entry. Arithmetic chains are compared exactly here (`arithmetic.py`,
bounded by construction). A link is compared with the last readable link before it; after a wrong
link, the next one is also compared with the last correct link, to tell an isolated slip from an
error carried on. At most `max_lines` display lines are checked (the rest are reported as not
checked, with the cap), so a file with 10,000 displays costs what 500 do.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from checkers.errors import UsageError
from checkers.grading.wording import brief_value
from checkers.limits import DEFAULT_MEMORY_MB, DEFAULT_TIME_LIMIT
from checkers.review import arithmetic
from checkers.review.chains import EQUALS, Chain, Link, build_chains, relation_symbol
from checkers.review.document import Submission, read_submission
from checkers.review.locate import FOUND_BY_READING, Candidate, assign, candidates, decorated, name_like

MAX_LINES = 500  # display lines checked per submission; the rest are listed as not checked
MAX_LINK_CHARACTERS = 2000  # the grader's own limit on one answer (checkers.grading.parse.MAX_LENGTH)
SEVERITY = {"wrong": 3, "unread": 2, "follows": 1, "label": 0}


@dataclass(frozen=True)
class Reading:
    """A TA's reading of a place the scan garbled: the answer to `problem` at `line`, as LaTeX, with the other
    readings the scan allows (each graded and reported too)."""

    line: int
    problem: str
    reading: str
    alternatives: tuple[str, ...] = ()
    note: str = ""


@dataclass
class LinkResult:
    """What the review found for one link: its verdict, message, and the step evidence."""

    verdict: str  # label | start | follows | wrong | unread
    message: str
    problem: str | None = None
    compared_with: Link | None = None
    counterexample: dict | None = None
    internal_error: bool = False
    after_wrong: str | None = None  # "isolated slip" | "error carried on" | None


@dataclass
class _Work:
    """The state of one review while it runs."""

    submission: Submission
    set_id: str
    problems_by_number: dict[int, list]
    results: dict[int, LinkResult] = field(default_factory=dict)
    read: dict[tuple[str, str], dict] = field(default_factory=dict)  # (problem id, text) -> read_line_task doc


def set_problems(set_id: str) -> dict[int, list]:
    """The gradeable problems of `set_id` by problem number (UsageError naming the sets if it has none). The
    proof packages' static index says which problems those are, so only their modules are imported."""
    from checkers.grading.catalog import get_problem, read_index

    by_number: dict[int, list] = defaultdict(list)
    sets = set()
    entries, _ = read_index()
    for entry in entries:
        for tag in entry["source"].split(", "):
            name, _, number = tag.partition(" P")
            sets.add(name)
            m = re.match(r"\d+", number)
            if name == set_id and m:
                by_number[int(m.group())].append(get_problem(entry["id"]))
    if not by_number:
        raise UsageError(f"no gradeable problem belongs to the set {set_id!r}; the sets with gradeable problems are "
                         f"{', '.join(sorted(sets))}")
    return dict(sorted(by_number.items()))


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


class _GraderWorkers:
    """One pool of the grader's workers for the whole review, started on first use; every job names its problem
    (`checkers.review.tasks`), and each problem's instances are drawn before the workers fork (`warm`)."""

    def __init__(self, stack: ExitStack, time_limit: float, memory_mb: int, workers: int, problems: list[str]):
        self.stack, self.time_limit, self.memory_mb, self.workers = stack, time_limit, memory_mb, workers
        self.problems = problems
        self.pool = None

    def _pool(self):
        from checkers.grading.isolation import GradingPool
        from checkers.review.tasks import warm

        if self.pool is None:
            for problem_id in self.problems:
                warm(problem_id)
            pool = GradingPool(self.problems[0], workers=self.workers, time_limit=self.time_limit,
                               memory_mb=self.memory_mb)
            self.pool = self.stack.enter_context(pool)
        return self.pool

    def run(self, problem_id: str, tasks: list[tuple[object, object]], doing: str,
            stopped: Callable[[str], dict]) -> dict:
        """Run (key, (function of checkers.review.tasks, args, limit)) jobs about `problem_id`; {key: result JSON},
        where a job the pool stopped gets `stopped(message)`, the message saying what it was `doing`."""
        from checkers.grading.failures import stop_message
        from checkers.grading.isolation import Done, Task

        if not tasks:
            return {}
        jobs = [(key, Task(function, (problem_id, *args), limit)) for key, (function, args, limit) in tasks]
        return {key: outcome.value if isinstance(outcome, Done) else stopped(stop_message(outcome, doing))
                for key, outcome in self._pool().run(jobs)}

    def grade(self, problem_id: str, text: str) -> dict:
        from checkers.grading.result import invalid
        from checkers.review.tasks import grade_answer

        ((_, doc),) = self.run(problem_id, [(0, (grade_answer, (text,), self.time_limit))], "grading this answer",
                               lambda message: invalid(problem_id, text, message,
                                                       cause="worker stopped").to_json()).items()
        return doc


def _read_links(work: _Work, grader: _GraderWorkers, wanted: dict[str, set[str]], limit: float) -> None:
    """Read every (problem, link text) once, each in a worker under its own limits."""
    from checkers.review.tasks import read_link

    for problem_id, texts in wanted.items():
        todo = [t for t in sorted(texts) if (problem_id, t) not in work.read]
        got = grader.run(problem_id, [(t, (read_link, (t,), limit)) for t in todo], "reading this line",
                         lambda message: {"parsed": False, "message": message})
        for text, doc in got.items():
            work.read[(problem_id, text)] = doc


def _step_message(current: Link, previous: Link, doc: dict, dims: dict) -> str:
    cx = doc.get("counterexample")
    where_previous = f"line {previous.line}" if previous.line != current.line else "the link before it on this line"
    if not cx:
        return doc.get("message", "")
    instance = cx.get("instance", {})
    at = ", ".join(f"{k} = {instance[k]}" for k in dims if k in instance)
    at = f" at {at}" if at else ""
    return (f"does not follow from {where_previous} ({_short(previous.text, 40)}){at}: this gives "
            f"{brief_value(cx['line'])}, that gives {brief_value(cx['previous_line'])}")


def _check_arithmetic(chain: Chain, work: _Work) -> bool:
    """Check a chain of numbers exactly (after an optional label); False (nothing recorded) if some link is not
    arithmetic."""
    if any(id(link) in work.results for link in chain.links):  # over the cap, or too long: not taken apart here
        return False
    links = list(chain.links)
    label = None
    if len(links) > 1 and (links[0].prose or name_like(links[0].text)):
        try:
            arithmetic.value_of(links[0].text)
        except arithmetic.NotArithmetic:
            label = links.pop(0)
    values = []
    for link in links:
        try:
            values.append(arithmetic.value_of(link.text))
        except arithmetic.NotArithmetic:
            return False
    if label is not None:
        named = "a left side in words" if label.prose else _short(label.text, 40)
        work.results[id(label)] = LinkResult("label", f"{named} names the quantity (a label, not a link of the chain)")
    good, wrong_before = 0, None  # index of the last correct link; index of a wrong link just before
    for i, link in enumerate(links):
        if i == 0:
            work.results[id(link)] = LinkResult("start", f"= {arithmetic.show(values[0])} (exact arithmetic)")
            continue
        relation = link.relation or EQUALS
        if relation != EQUALS:
            work.results[id(link)] = LinkResult("unread", f"a {relation_symbol(relation)} step: only equalities are "
                                                          f"checked")
            wrong_before = None
            continue
        previous = links[i - 1]
        if values[i] == values[i - 1]:
            result = LinkResult("follows", f"exactly {arithmetic.show(values[i])}, as the link before "
                                           f"(exact arithmetic)", compared_with=previous)
            if wrong_before is not None:
                result.after_wrong = "error carried on"
                result.message += f"; it carries on the error of line {links[wrong_before].line}"
        elif wrong_before is not None and values[i] == values[good]:
            result = LinkResult("follows", f"exactly {arithmetic.show(values[i])}, as line {links[good].line}, the "
                                           f"last correct link, not the wrong one on line {previous.line}: the slip "
                                           f"there is isolated (exact arithmetic)", compared_with=links[good])
            result.after_wrong = "isolated slip"
        else:
            result = LinkResult("wrong", f"this is exactly {arithmetic.show(values[i])}, but the link before "
                                         f"({_short(previous.text, 40)}) is {arithmetic.show(values[i - 1])} "
                                         f"(exact arithmetic)", compared_with=previous,
                                counterexample={"line": str(values[i]), "previous_line": str(values[i - 1])})
        work.results[id(link)] = result
        if result.verdict == "wrong":
            wrong_before = i
        else:
            wrong_before = None
            good = i
    return True


def _chain_problem(chain: Chain, options: list, work: _Work) -> object | None:
    """The problem whose symbols read the most links of the chain (the first declared on a tie)."""
    if not options:
        return None
    best, best_count = options[0], -1
    for p in options:
        count = sum(1 for link in chain.links if work.read.get((p.id, link.text), {}).get("parsed"))
        if count > best_count:
            best, best_count = p, count
    return best


def _assess_links(chain: Chain, problem, work: _Work) -> list[tuple[Link, Link]]:
    """Statuses of the links that need no comparison (label, start, unread, unchecked relation); returns the
    (link, previous) pairs to compare."""
    pairs = []
    previous: Link | None = None
    for i, link in enumerate(chain.links):
        if id(link) in work.results:  # over the cap, or too long
            continue
        doc = work.read.get((problem.id, link.text), {"parsed": False, "message": "not read"})
        readable = bool(doc.get("parsed"))
        internal = bool(doc.get("internal_error"))
        if i == 0 and link.prose and len(chain.links) > 1:
            work.results[id(link)] = LinkResult("label", "a left side in words names the quantity (a label, not a "
                                                         "link of the chain)", problem.id)
            continue
        if i == 0 and len(chain.links) > 1 and name_like(link.text) and (not readable or decorated(link.text)):
            work.results[id(link)] = LinkResult("label", f"{_short(link.text, 40)} names the quantity (a label, not "
                                                         f"a link of the chain)", problem.id)
            continue
        if not readable:
            work.results[id(link)] = LinkResult("unread", f"cannot be read in the symbols of {problem.id}: "
                                                          f"{doc.get('message', '')}", problem.id,
                                                internal_error=internal)
            continue
        relation = link.relation
        if previous is None or relation is None:
            work.results[id(link)] = LinkResult("start", f"read in the symbols of {problem.id}; the first formula of "
                                                         f"its chain, nothing before it to compare with", problem.id)
        elif relation != EQUALS:
            work.results[id(link)] = LinkResult("unread", f"a {relation_symbol(relation)} step: only equalities are "
                                                          f"checked", problem.id)
        else:
            pairs.append((link, previous))
        previous = link
    return pairs


def _compare(work: _Work, grader: _GraderWorkers, pairs_by_problem: dict[str, list[tuple[Link, Link]]],
             limit: float) -> dict[tuple[int, int], dict]:
    """Compare each (link, previous) pair in its problem's pool; {(id(link), id(previous)): step doc}."""
    from checkers.review.tasks import compare_links

    out = {}
    for problem_id, pairs in pairs_by_problem.items():
        tasks, seen = [], set()
        for link, previous in pairs:
            key = (id(link), id(previous))
            if key in seen:
                continue
            seen.add(key)
            tasks.append((key, (compare_links, (link.line, link.text, previous.line, previous.text), 3 * limit)))
        out.update(grader.run(problem_id, tasks, "comparing these two lines",
                              lambda message: {"valid": False, "unchecked": True, "message": message}))
    return out


def _record_steps(chains_with_problem, work: _Work, steps: dict, grader: _GraderWorkers, limit: float) -> None:
    """Verdicts from the compared steps, then the slip-or-carried check for the link after each wrong one."""
    from checkers.grading.catalog import get_problem

    second: dict[str, list[tuple[Link, Link]]] = defaultdict(list)
    pending: list[tuple[Link, Link, Link, str]] = []  # (next link, wrong link, last correct link, problem)
    for chain, problem, pairs in chains_with_problem:
        dims = get_problem(problem.id).dim_ranges
        wrong_link: Link | None = None
        last_good: Link | None = None
        for link, previous in pairs:
            if previous is not wrong_link:
                last_good = previous
            doc = steps[(id(link), id(previous))]
            if doc.get("valid"):
                where = f"line {previous.line}" if previous.line != link.line else "the link before it"
                result = LinkResult("follows", f"equals {where} on the grader's random instances", problem.id,
                                    compared_with=previous)
            elif doc.get("counterexample"):
                result = LinkResult("wrong", _step_message(link, previous, doc, dims), problem.id,
                                    compared_with=previous, counterexample=doc["counterexample"])
            else:  # the comparison did not finish (a limit, shapes that differ, a checker bug): no verdict on the step
                result = LinkResult("unread", f"not compared: {doc.get('message', '')}", problem.id,
                                    compared_with=previous, internal_error=bool(doc.get("internal_error")))
            if wrong_link is not None and previous is wrong_link and last_good is not None:
                second[problem.id].append((link, last_good))
                pending.append((link, wrong_link, last_good, problem.id))
            work.results[id(link)] = result
            wrong_link = link if result.verdict == "wrong" else None
    if not pending:
        return
    again = _compare(work, grader, second, limit)
    for link, wrong, correct, _ in pending:
        doc = again.get((id(link), id(correct)), {})
        result = work.results[id(link)]
        where_correct = f"line {correct.line}" if correct.line != link.line else "an earlier link on this line"
        where_wrong = f"the wrong one on line {wrong.line}" if wrong.line != link.line else "the wrong link before it"
        if doc.get("valid") and result.verdict == "wrong":
            result.after_wrong = "isolated slip"
            result.verdict = "follows"
            result.message = f"follows {where_correct}, the last correct link, not {where_wrong}: the slip is isolated"
        elif result.verdict == "follows":
            result.after_wrong = "error carried on"
            result.message += f"; it carries on the error of line {wrong.line}"
        elif result.verdict == "wrong" and not doc.get("valid"):
            result.message += f" (nor does it follow {where_correct}, the last correct link)"


def review(submission: str | Path | Submission, set_id: str, *, readings: tuple[Reading, ...] = (),
           time_limit: float = DEFAULT_TIME_LIMIT, memory_mb: int = DEFAULT_MEMORY_MB, workers: int = 2, max_lines: int = MAX_LINES) -> dict:
    """The review of a submission against the gradeable problems of `set_id`: {"set", "file", "answers", "lines", ...}
    (see the README's `proofcheck review`). Never raises for what the submission contains."""
    from checkers.limits import check_limits

    check_limits(time_limit, memory_mb, workers)
    if not isinstance(submission, Submission):
        submission = read_submission(submission)
    by_number = set_problems(set_id)
    all_problems = {p.id: p for ps in by_number.values() for p in ps}
    for r in readings:
        if r.problem not in all_problems:
            raise UsageError(f"the reading at line {r.line} names {r.problem!r}, which is not a gradeable problem of "
                             f"{set_id} ({', '.join(all_problems)})")
    work = _Work(submission, set_id, by_number)
    chains = build_chains(submission)
    rows = [(d, row) for d in submission.displays for row in d.rows]
    checked_rows = {row.line for _, row in rows[:max_lines]}
    over_cap = len(rows) > max_lines
    for chain in chains:
        for link in chain.links:
            if over_cap and link.line not in checked_rows:
                work.results[id(link)] = LinkResult("unread", f"not checked: the submission has {len(rows):,} display "
                                                              f"lines and the review checks the first {max_lines:,}")
            elif max(link.length, len(link.text)) > MAX_LINK_CHARACTERS:
                work.results[id(link)] = LinkResult("unread", f"not read: {max(link.length, len(link.text)):,} "
                                                              f"characters, over the grader's limit of "
                                                              f"{MAX_LINK_CHARACTERS:,}")

    read_at = {r.line: all_problems[r.problem] for r in readings}

    def options(chain: Chain) -> list:
        """The problems whose symbols the chain may be in: a reading's problem where the TA placed one on its
        lines, else the gradeable problems of the problem it is in."""
        pinned = [read_at[link.line] for link in chain.links if link.line in read_at]
        if pinned:
            return pinned[:1]
        section = submission.sections[chain.section] if chain.section is not None else None
        return list(by_number.get(section.problem, ())) if section is not None else []

    limit = time_limit  # per link read and per answer graded; a comparison of two links gets three times it
    with ExitStack() as stack:
        used = {r.problem for r in readings} | {p.id for chain in chains for p in options(chain)}
        grader = _GraderWorkers(stack, time_limit, memory_mb, workers,
                                [p for p in all_problems if p in used] or [*all_problems])
        wanted: dict[str, set[str]] = defaultdict(set)
        symbolic_chains = []
        for chain in chains:
            if all(id(link) in work.results for link in chain.links):
                continue
            if _check_arithmetic(chain, work):
                continue
            opts = options(chain)
            if not opts:
                section = submission.sections[chain.section] if chain.section is not None else None
                why = (f"problem {section.problem} of {set_id} has no gradeable problem, so its symbols are unknown; "
                       f"left for the TA" if section is not None and section.problem is not None else
                       "outside every problem of the set (no heading such as “Problem 3” above it); "
                       "left for the TA")
                for link in chain.links:
                    work.results.setdefault(id(link), LinkResult("unread", why))
                continue
            symbolic_chains.append((chain, opts))
            for p in opts:
                wanted[p.id].update(link.text for link in chain.links if id(link) not in work.results)
        _read_links(work, grader, wanted, limit)
        chains_with_problem, pairs_by_problem = [], defaultdict(list)
        for chain, opts in symbolic_chains:
            problem = _chain_problem(chain, opts, work)
            pairs = _assess_links(chain, problem, work)
            chains_with_problem.append((chain, problem, pairs))
            pairs_by_problem[problem.id].extend(pairs)
        steps = _compare(work, grader, pairs_by_problem, limit)
        _record_steps(chains_with_problem, work, steps, grader, limit)
        answers = _answers(work, chains, grader, readings)
    return _document(work, chains, answers, over_cap, len(rows), max_lines)


def _answers(work: _Work, chains: list[Chain], grader: _GraderWorkers, readings: tuple[Reading, ...]) -> list[dict]:
    """One entry per gradeable problem of the set: its answer found (or read by the TA) and graded, or missing."""
    submission = work.submission
    labels = {id(link) for link, result in ((link, work.results.get(id(link))) for c in chains for link in c.links)
              if result is not None and result.verdict == "label"}
    graded: dict[tuple[str, str], dict] = {}

    def grade(problem_id: str, text: str) -> dict:
        if (problem_id, text) not in graded:
            doc = grader.grade(problem_id, text)
            graded[(problem_id, text)] = doc
        return graded[(problem_id, text)]

    found: dict[str, Candidate] = {}
    by_problem_number: dict[int, list[Chain]] = defaultdict(list)
    for chain in chains:
        section = submission.sections[chain.section] if chain.section is not None else None
        if section is not None and section.problem is not None:
            by_problem_number[section.problem].append(chain)
    for number, problems in work.problems_by_number.items():
        group = by_problem_number.get(number, [])
        found.update(assign(candidates(group, labels), problems,
                            lambda pid, text: grade(pid, text).get("verdict") == "correct"))
    pinned = {r.problem: r for r in readings}
    out = []
    for number, problems in work.problems_by_number.items():
        for p in problems:
            missing = f"no answer to {p.id} found in problem {number} of the submission"
            entry = {"problem": p.id, "set_problem": f"P{number}", "part": None, "line": None, "verdict": "missing",
                     "found_by": None, "message": missing, "explanation": missing, "answer": None, "stated": None,
                     "other_readings": []}
            reading = pinned.get(p.id)
            if reading is not None:
                doc = grade(p.id, reading.reading)
                section = submission.section_at(reading.line)
                entry.update(line=reading.line, found_by=FOUND_BY_READING, answer=reading.reading,
                             part=section.part if section else None, note=reading.note,
                             other_readings=[{"reading": alt, **_verdict_fields(grade(p.id, alt))}
                                             for alt in reading.alternatives])
                entry.update(_verdict_fields(doc))
            elif p.id in found:
                candidate = found[p.id]
                section = submission.sections[candidate.section] if candidate.section is not None else None
                entry.update(line=candidate.link.line, found_by=candidate.found_by, answer=candidate.link.text,
                             part=section.part if section else None, stated=candidate.label)
                entry.update(_verdict_fields(grade(p.id, candidate.link.text)))
            out.append(entry)
    return out


def _verdict_fields(doc: dict) -> dict:
    """What an answer's entry takes from the grader's JSON document: verdict, message, the explanation (the message
    without the verdict word, which the page shows beside it), feedback, counterexample, internal error."""
    from checkers.grading.result import GradeResult

    result = GradeResult.from_json(doc)
    fields = {"verdict": result.verdict, "message": result.message, "explanation": result.explanation()}
    for key in ("feedback", "counterexample", "internal_error"):
        if doc.get(key):
            fields[key] = doc[key]
    return fields


def _document(work: _Work, chains: list[Chain], answers: list[dict], over_cap: bool, total_rows: int,
              max_lines: int) -> dict:
    submission = work.submission
    by_line: dict[int, list[tuple[Link, LinkResult]]] = defaultdict(list)
    for chain in chains:
        for link in chain.links:
            by_line[link.line].append((link, work.results.get(id(link), LinkResult("unread", "not read"))))
    lines = []
    seen: set[int] = set()
    for display in submission.displays:
        for row in display.rows:
            if row.line in seen:
                continue
            seen.add(row.line)
            entries = by_line.get(row.line, [])
            lines.append(_line_entry(row.line, entries))
    lines.sort(key=lambda e: e["line"])
    internal = any(a.get("internal_error") for a in answers) or any(e.get("internal_error") for e in lines)
    doc = {"set": work.set_id, "file": submission.path, "answers": answers, "lines": lines,
           "problems": [{"problem": n, "gradeable": [p.id for p in ps]} for n, ps in work.problems_by_number.items()],
           "sections": [{"problem": s.problem, "part": s.part, "first_line": s.first_line, "last_line": s.last_line,
                         "heading": s.heading} for s in submission.sections],
           "notes": list(submission.notes)}
    if over_cap:
        doc["notes"].append(f"the submission has {total_rows:,} display lines; the first {max_lines:,} were checked")
    if internal:
        doc["internal_error"] = True
    return doc


def _line_entry(line: int, entries: list[tuple[Link, LinkResult]]) -> dict:
    """One display line: its worst link decides the verdict; every link is listed with its own."""
    links = []
    for link, result in entries:
        item = {"text": link.text, "verdict": result.verdict, "message": result.message}
        if result.problem:
            item["problem"] = result.problem
        if result.compared_with is not None:
            item["compared_with_line"] = result.compared_with.line
        if result.counterexample:
            item["counterexample"] = result.counterexample
        if result.after_wrong:
            item["after_wrong"] = result.after_wrong
        if link.boxed:
            item["boxed"] = True
        if result.internal_error:
            item["internal_error"] = True
        links.append(item)
    if not links:
        return {"line": line, "verdict": "unread", "message": "no formula on this line", "checked": 0, "links": []}
    compared = [(i, l) for i, l in enumerate(links) if l["verdict"] != "start"]
    checked = sum(1 for _, l in compared if l["verdict"] in ("follows", "wrong"))
    if compared:
        _, worst = max(compared, key=lambda il: SEVERITY[il[1]["verdict"]])
    else:
        worst = {"verdict": "follows", "message": links[0]["message"]}
    entry = {"line": line, "verdict": worst["verdict"], "message": worst["message"], "checked": checked,
             "links": links}
    for key in ("counterexample", "after_wrong", "problem", "compared_with_line"):
        if key in worst:
            entry[key] = worst[key]
    if any(l.get("internal_error") for l in links):
        entry["internal_error"] = True
    after = [l["after_wrong"] for l in links if l.get("after_wrong")]
    if after and "after_wrong" not in entry:
        entry["after_wrong"] = after[0]
    return entry
