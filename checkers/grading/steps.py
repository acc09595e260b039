r"""Checking a student's multi-line derivation (an align* body) line by line, then its last line against the reference.

Lines are separated by `\\`; each line's formula is what follows its last top-level `=` (so
`D_{KL} &= \frac12(...)` contributes `\frac12(...)`), and a line without `=` continues the previous
one. `\label`, `\tag`, `\nonumber`, `\notag` and `\text{...}` remarks are dropped before parsing.
Each line is compared numerically with the line before it on the problem's instances: a step is
valid when both formulas agree on every instance; `first_invalid` is the first line that does not
equal its predecessor (or cannot be read). The last line is then graded against the reference.
Each line is read, and each step compared, under a time limit of its own (in a killable worker with
a memory limit as well, for `check_steps_isolated`): a hostile or broken line costs only its own
entry, and the report always lists every line.
"""

from __future__ import annotations

import re

from checkers.errors import StudentInputError
from checkers.grading.build import describe, is_matrix
from checkers.grading.catalog import get_problem
from checkers.grading.equivalence import compare, evaluate_on
from checkers.grading.failures import failure_message
from checkers.grading.grader import DEFAULT_TIME_LIMIT, brief_value, counterexample, grade_in_process, where_text
from checkers.grading.instances import instances_for
from checkers.grading.parse import MAX_LENGTH, parse_answer
from checkers.latex_groups import skip_group
from checkers.limits import DEFAULT_MEMORY_MB, time_limit

MAX_LINES = 60
_ENVIRONMENT = re.compile(r"\\(begin|end)\{(align\*?|aligned|equation\*?|eqnarray\*?|gather\*?|split)\}")
_MATRIX = re.compile(r"\\(begin|end)\{([A-Za-z]*matrix)\}")  # kept whole: its & and \\ are entries and rows
_DROP_WITH_ARGUMENT = ("label", "tag", "text", "intertext", "textrm", "mbox", "hbox", "textit", "textbf")
_FUNCTION_WORDS = {"tr", "Tr", "det", "log", "ln", "exp", "trace"}


def _drop_remarks(line: str) -> str:
    r"""Remove \label{..}, \tag{..}, \text{by linearity} and friends; keep \text{tr} (a function name)."""
    out, i = [], 0
    while i < len(line):
        m = re.match(r"\\([A-Za-z]+)\*?", line[i:])
        if m and m.group(1) in ("nonumber", "notag", "qquad", "quad"):
            i += m.end()
            out.append(" ")
            continue
        if m and m.group(1) in _DROP_WITH_ARGUMENT:
            end = skip_group(line, i + m.end())
            content = line[i + m.end():end].strip().strip("{}").strip()
            if m.group(1) in ("text", "textrm") and content in _FUNCTION_WORDS:
                out.append(line[i:end])
            else:
                out.append(" ")
            i = end
            continue
        out.append(line[i])
        i += 1
    return "".join(out)


def _split_top(text: str, sep: str) -> list[str]:
    """Split at `sep` outside braces, brackets, parentheses and matrix environments."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            m = _MATRIX.match(text, i)
            if m:
                depth += 1 if m.group(1) == "begin" else -1
                i = m.end()
                continue
            if text.startswith(sep, i) and depth == 0 and sep.startswith("\\"):
                parts.append(text[start:i])
                i += len(sep)
                start = i
                continue
            i += 2
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(text[start:])
    return parts


def _drop_alignment(line: str) -> str:
    """`&` and `\\\\` as spaces, except inside matrix environments, where they separate entries and rows."""
    out, depth, i = [], 0, 0
    while i < len(line):
        m = _MATRIX.match(line, i) if line[i] == "\\" else None
        if m:
            depth += 1 if m.group(1) == "begin" else -1
            out.append(m.group())
            i = m.end()
        elif depth == 0 and line.startswith("\\\\", i):
            out.append(" ")
            i += 2
        elif line[i] == "\\":  # a command or escaped symbol (\&, \{) stays whole
            out.append(line[i:i + 2])
            i += 2
        else:
            out.append(" " if depth == 0 and line[i] == "&" else line[i])
            i += 1
    return "".join(out)


def split_derivation(text: str) -> list[str]:
    """The formula of each derivation line, in order (continuation lines joined)."""
    text = _ENVIRONMENT.sub(" ", text)
    lines: list[str] = []
    for raw in _split_top(text, "\\\\"):
        # A break inside brackets (\left( ... \\ ... \right)) continues the same formula.
        raw = _drop_alignment(_drop_remarks(raw)).strip()
        if not raw:
            continue
        pieces = _split_top(raw, "=")
        if len(pieces) == 1 and lines:
            lines[-1] = f"{lines[-1]} {raw}"  # a continuation of the previous line's formula
            continue
        formula = pieces[-1].strip()
        lines.append(formula)
    if len(lines) > MAX_LINES:
        raise StudentInputError(f"the derivation has {len(lines)} lines; the limit is {MAX_LINES}")
    return lines


def _read(problem, text: str, limit: float):
    """(entry fields, (expr, values) or None) for one line, read under its own time limit; never raises."""
    try:
        with time_limit(limit, "reading this line"):
            expr = parse_answer(problem, text)
            values = evaluate_on(instances_for(problem).groups, expr)
        return {"parsed": True}, (expr, values)
    except Exception as exc:  # RecursionError, MemoryError, a checker bug: this line only, the others are still checked
        message, internal = failure_message(exc, "reading this line", limit)
        return {"parsed": False, "message": message, **({"internal_error": True} if internal else {})}, None


def _compare(problem, number: int, current, previous_number: int, previous, limit: float) -> dict:
    """The step from line `previous_number` to line `number` (both read), compared under the time limit."""
    step = {"line": number}
    if is_matrix(current[0]) != is_matrix(previous[0]) or (
            is_matrix(current[0]) and current[0].shape != previous[0].shape):
        step.update(valid=False, message=f"line {number} is {describe(current[0])} but line "
                                         f"{previous_number} is {describe(previous[0])}")
        return step
    instances = instances_for(problem)
    try:
        with time_limit(limit, "comparing two lines"):
            comparison = compare(current[0], current[1], previous[0], previous[1], instances)
            if comparison.passed:
                step.update(valid=True, message=f"equals line {previous_number} on {comparison.checked} random "
                                                f"instances")
                return step
            gi = comparison.failing_groups()[0]
            i = comparison.worst(gi)
            from checkers.grading.equivalence import as_plain
            from checkers.grading.result import json_safe

            cx = counterexample(instances, gi, i, as_plain(current[1][gi][i]), as_plain(previous[1][gi][i]))
    except Exception as exc:  # a limit, or a checker bug: this step is unchecked, the report goes on
        message, internal = failure_message(exc, f"comparing line {number} with line {previous_number}", limit)
        step.update(valid=False, message=message, **({"internal_error": True} if internal else {}))
        return step
    cx["line"], cx["previous_line"] = cx.pop("student"), cx.pop("reference")
    cx = json_safe(cx)
    step.update(valid=False, counterexample=cx,
                message=f"line {number} does not equal line {previous_number}: at {where_text(instances, cx)} it gives "
                        f"{brief_value(cx['line'])}, line {previous_number} gives {brief_value(cx['previous_line'])}")
    return step


def _unreadable_step(doc: dict, number: int, previous_number: int, current_ok: bool) -> dict:
    if not current_ok:
        return {"line": number, "valid": False,
                "message": f"line {number} cannot be read: {doc['lines'][number - 1]['message']}"}
    return {"line": number, "valid": False,
            "message": f"line {previous_number} cannot be read, so this step cannot be checked"}


def _split(problem, text: str) -> tuple[dict, list[str] | None]:
    doc: dict = {"problem": problem.id, "lines": [], "steps": [], "first_invalid": None}
    try:
        if len(text) > MAX_LENGTH * 10:
            raise StudentInputError(f"the derivation is {len(text)} characters long; the limit is {MAX_LENGTH * 10}")
        lines = split_derivation(text)
    except StudentInputError as exc:
        doc.update(final={"verdict": "invalid", "message": str(exc)}, verdict="invalid")
        return doc, None
    if not lines:
        doc.update(final={"verdict": "invalid", "message": "the derivation has no lines"}, verdict="invalid")
        return doc, None
    return doc, lines


def _steps(doc: dict, count: int, compare_step) -> None:
    """Fill doc["steps"] and first_invalid: each line against the last readable line before it."""
    readable = [entry.get("parsed", False) for entry in doc["lines"]]
    previous_number = 1
    for number in range(2, count + 1):
        if readable[number - 1] and readable[previous_number - 1]:
            step = compare_step(number, previous_number)
        else:
            step = _unreadable_step(doc, number, previous_number, readable[number - 1])
        if not step["valid"] and doc["first_invalid"] is None:
            doc["first_invalid"] = number
        doc["steps"].append(step)
        if readable[number - 1]:
            previous_number = number


def _finish(doc: dict, final: dict, count: int) -> dict:
    final["line"] = count
    doc["final"] = final
    doc["verdict"] = final["verdict"]
    if any(e.get("internal_error") for e in doc["lines"] + doc["steps"]) or final.get("internal_error"):
        doc["internal_error"] = True
    return doc


def check_steps_in_process(problem_id: str, text: str, *, limit: float = DEFAULT_TIME_LIMIT,
                           symbolic: bool = False) -> dict:
    """The JSON report of a derivation, checked in this process: each line read and each step compared under
    `limit` seconds of its own (SIGALRM), then the last line graded. Every line is reported."""
    problem = get_problem(problem_id)
    doc, lines = _split(problem, text)
    if lines is None:
        return doc
    parsed = []
    for number, line in enumerate(lines, start=1):
        entry, value = _read(problem, line, limit)
        doc["lines"].append({"line": number, "text": line, **entry})
        parsed.append(value)
    _steps(doc, len(lines), lambda n, p: _compare(problem, n, parsed[n - 1], p, parsed[p - 1], limit))
    final = grade_in_process(problem, lines[-1], limit=limit, symbolic=symbolic, explain=False).to_json()
    return _finish(doc, final, len(lines))


def read_line_task(problem_id: str, text: str, *, limit: float) -> dict:
    """Worker task: read one line (parse and evaluate) under `limit`."""
    entry, _ = _read(get_problem(problem_id), text, limit)
    return entry


def step_task(problem_id: str, number: int, text: str, previous_number: int, previous_text: str, *,
              limit: float) -> dict:
    """Worker task: one step, both lines read and compared, each part under a third of `limit`."""
    problem = get_problem(problem_id)
    part = limit / 3
    _, current = _read(problem, text, part)
    _, previous = _read(problem, previous_text, part)
    if current is None or previous is None:  # read once already; a second reading can only fail on time
        return {"line": number, "valid": False, "message": f"reading line {number} or line {previous_number} again "
                                                          f"ran past the time limit"}
    return _compare(problem, number, current, previous_number, previous, part)


def check_steps_isolated(problem_id: str, text: str, *, time_limit: float = DEFAULT_TIME_LIMIT,
                         memory_mb: int = DEFAULT_MEMORY_MB, workers: int | None = None) -> dict:
    """The JSON report of a derivation, every line and step checked in a killable worker under its own time
    and memory limit: a line that hangs, explodes or crashes costs only its own entry, never the report."""
    from checkers.grading.failures import stop_message
    from checkers.grading.isolation import Done, GradingPool, Task

    problem = get_problem(problem_id)
    doc, lines = _split(problem, text)
    if lines is None:
        return doc
    size = max(1, min(workers or 2, len(lines)))
    with GradingPool(problem, workers=size, time_limit=time_limit, memory_mb=memory_mb) as pool:
        entries = dict(pool.run((n, Task(read_line_task, (line,), time_limit)) for n, line in enumerate(lines, start=1)))
        for n, line in enumerate(lines, start=1):
            outcome = entries[n]
            entry = outcome.value if isinstance(outcome, Done) else \
                {"parsed": False, "message": stop_message(outcome, "reading this line")}
            doc["lines"].append({"line": n, "text": line, **entry})
        pairs = []
        _steps(doc, len(lines), lambda n, p: pairs.append((n, p)) or {"line": n, "valid": True, "pending": True})
        steps = dict(pool.run((n, Task(step_task, (n, lines[n - 1], p, lines[p - 1]), 3 * time_limit))
                              for n, p in pairs))
        doc["first_invalid"] = None
        for i, step in enumerate(doc["steps"]):
            if step.pop("pending", False):
                outcome = steps[step["line"]]
                got = outcome.value if isinstance(outcome, Done) else \
                    {"line": step["line"], "valid": False, "message": stop_message(outcome, "comparing these two lines")}
                doc["steps"][i] = step = got
            if not step["valid"] and doc["first_invalid"] is None:
                doc["first_invalid"] = step["line"]
        final = pool.grade(lines[-1])
    return _finish(doc, final, len(lines))
